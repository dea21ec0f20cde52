"""The command line: a thin click layer over the library. Data to stdout or -o, messages to stderr."""

from __future__ import annotations

import glob
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import orjson
from tqdm import tqdm

from . import __version__
from .batch import CASE_SUFFIXES, SeenIds, convert_stream, duplicate_error, iter_sources, source_at
from .client import ClientSettings, FhirClient, RetryPolicy
from .convert import ConvertOptions
from .errors import EXIT_VERIFY, AdapterError, ConfigError
from .mapping.common import DEFAULT_ID_SYSTEM
from .push import Item, Outbox, describe, outbox_key, send_all, verify_item
from .schema import schema_bytes
from .sinks import make_sink
from .tables import TABLE_SUFFIXES, TableOptions, load_column_map, write_template
from .terminology import load_terminology
from .writer import dumps, write_atomic


def _fail(exc: AdapterError) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(exc.exit_code)


def _load_terminology(mappings: str | None):
    try:
        return load_terminology(mappings)
    except AdapterError as exc:
        _fail(exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fhir-adapter")
def main() -> None:
    """Convert oncology case files into mCODE-aligned FHIR R4 bundles and push them to a FHIR server."""


DEFAULT_SERVER = "https://hapi.fhir.org/baseR4"
# Public test servers: anything posted there can be read by anyone on the internet.
PUBLIC_SERVERS = ("hapi.fhir.org", "server.fire.ly", "r4.smarthealthit.org", "launch.smarthealthit.org")


def server_options(func):
    """The options every command that talks to a server shares."""
    options = [
        click.option(
            "--server",
            envvar="FHIR_ADAPTER_SERVER",
            default=DEFAULT_SERVER,
            show_default=True,
            help="FHIR R4 base URL. [env: FHIR_ADAPTER_SERVER]",
        ),
        click.option(
            "--allow-public-server",
            is_flag=True,
            help="Allow posting to a public test server, whose data anyone can read.",
        ),
        click.option(
            "--token-file",
            type=click.Path(dir_okay=False),
            help="A file holding a bearer token (or set FHIR_ADAPTER_TOKEN).",
        ),
        click.option(
            "--basic-auth-file",
            type=click.Path(dir_okay=False),
            help="A file holding user:password for HTTP basic auth (or set FHIR_ADAPTER_BASIC_AUTH).",
        ),
        click.option(
            "--ca-bundle",
            type=click.Path(dir_okay=False, exists=True),
            help="A PEM file of CA certificates to trust (for a private CA). TLS is always verified.",
        ),
        click.option(
            "--timeout",
            type=float,
            default=120.0,
            show_default=True,
            help="Read timeout per request, seconds.",
        ),
        click.option(
            "--max-time",
            type=float,
            default=300.0,
            show_default=True,
            help="Give up on a bundle after this many seconds of retries.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 32),
            default=1,
            show_default=True,
            help="Bundles sent at once.",
        ),
        click.option(
            "--outbox",
            type=click.Path(file_okay=False),
            envvar="FHIR_ADAPTER_OUTBOX",
            default="fhir-adapter-outbox",
            show_default=True,
            help="Where bundles wait until the server accepts them. [env: FHIR_ADAPTER_OUTBOX]",
        ),
        click.option(
            "--report", type=click.Path(dir_okay=False), help="Write a JSON report of the run here."
        ),
        click.option(
            "--verify", "verify_after", is_flag=True, help="Read every resource back and report differences."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _read_secret(path: str | None, env: str, what: str) -> str | None:
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{path}: the {what} file is empty")
        return value
    return os.environ.get(env) or None


def client_settings(server, allow_public_server, token_file, basic_auth_file, ca_bundle, timeout, max_time):
    """Frozen client settings from flags, then environment, then defaults."""
    from urllib.parse import urlparse

    parsed = urlparse(server)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"--server {server}: not an http(s) URL; give the FHIR base, e.g. http://127.0.0.1:8080/fhir"
        )
    host = (parsed.hostname or "").lower()
    if any(host == p or host.endswith("." + p) for p in PUBLIC_SERVERS) and not allow_public_server:
        raise ConfigError(
            f"{server} is a public test server: anything posted there can be read by anyone."
            " Case data, even de-identified, should not go there by accident. Pass"
            " --allow-public-server to post anyway, or --server URL for your own server"
        )
    token = _read_secret(token_file, "FHIR_ADAPTER_TOKEN", "token")
    basic = _read_secret(basic_auth_file, "FHIR_ADAPTER_BASIC_AUTH", "basic auth")
    basic_pair = None
    if basic:
        if ":" not in basic:
            raise ConfigError("basic auth must be given as user:password")
        user, password = basic.split(":", 1)
        basic_pair = (user, password)
    return ClientSettings(
        base_url=server,
        token=token,
        basic_auth=basic_pair,
        verify=ca_bundle or True,
        read_timeout=timeout,
        retry=RetryPolicy(total_timeout=max_time),
    )


def _run_push(items, opts) -> None:
    """Send items through the outbox, print a line per case, write the report, exit accordingly."""
    settings = client_settings(**{k: opts[k] for k in _SETTINGS_KEYS})
    client = FhirClient(settings)
    outbox = Outbox(Path(opts["outbox"]))
    counts = {"sent": 0, "rejected": 0, "unavailable": 0, "invalid": 0}
    reports: list[dict] = []
    exit_codes: list[int] = []
    differing = 0
    progress = tqdm(unit=" bundles", file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)
    try:
        for result in send_all(client, outbox, items, workers=opts["workers"], verify=opts["verify_after"]):
            progress.update(1)
            counts[result.status] += 1
            if result.error is not None:
                exit_codes.append(result.error.exit_code)
            differing += bool(result.differences)
            progress.write(describe(result), file=sys.stderr)
            for diff in result.differences:
                progress.write(f"  differs: {diff}", file=sys.stderr)
            if opts["report"]:
                reports.append(result.as_report())
    finally:
        progress.close()
    total = sum(counts.values())
    if opts["report"]:
        report = {"server": settings.base_url, "summary": counts, "cases": reports}
        write_atomic(Path(opts["report"]), dumps(report))
    if total == 0:
        raise ConfigError("nothing to send: the inputs held no bundles and the outbox is empty")
    click.echo(f"{counts['sent']} of {total} bundle(s) sent to {settings.base_url}.", err=True)
    if counts["sent"] < total:
        click.echo(
            f"{total - counts['sent']} not sent; they wait in {outbox.pending}. Send them again with:"
            f" fhir-adapter push --resume --outbox {opts['outbox']} --server {settings.base_url}",
            err=True,
        )
        sys.exit(max(exit_codes) if exit_codes else 1)
    if differing:
        sys.exit(EXIT_VERIFY)


@main.command()
@click.argument("cases", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="A file (one case) or a directory (one <case-id>.json per case, or NDJSON files). Default: stdout.",
)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["bundle", "ndjson"]),
    default="bundle",
    show_default=True,
    help="bundle: one Bundle per case. ndjson: one resource per line, one file per resource type"
    " (FHIR Bulk Data, for $import); needs -o DIR.",
)
@click.option(
    "--type",
    "bundle_type",
    type=click.Choice(["transaction", "collection"]),
    default="transaction",
    show_default=True,
    help="transaction to post to a server; collection for files meant for reading.",
)
@click.option("--strict", is_flag=True, help="Treat a term with no code in the maps as an error.")
@click.option(
    "--mappings",
    type=click.Path(file_okay=False),
    envvar="FHIR_ADAPTER_MAPPINGS",
    help="A directory of terminology maps to use instead of the shipped ones. [env: FHIR_ADAPTER_MAPPINGS]",
)
@click.option(
    "--id-system",
    envvar="FHIR_ADAPTER_ID_SYSTEM",
    default=DEFAULT_ID_SYSTEM,
    show_default=True,
    help="Identifier system (URI) for case ids, unless a case file sets case.id_system. [env: FHIR_ADAPTER_ID_SYSTEM]",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Convert on this many cores.",
)
@click.option(
    "--errors-to",
    type=click.Path(file_okay=False),
    help="Write one file per failed case, with its messages, into this directory.",
)
@click.option(
    "--full-validation",
    is_flag=True,
    default=None,
    help="Validate every resource with fhir.resources in full, not once per resource shape (slower, same verdicts).",
)
@click.option(
    "--columns",
    type=click.Path(dir_okay=False),
    help="A column map (YAML) for spreadsheets whose headers differ: header -> field, values, date_format.",
)
@click.option("-q", "--quiet", is_flag=True, help="No warnings and no progress bar.")
@click.option("--post", is_flag=True, help="Send each bundle to the FHIR server (see push).")
@server_options
def convert(
    cases,
    output,
    out_format,
    bundle_type,
    strict,
    mappings,
    id_system,
    jobs,
    errors_to,
    full_validation,
    columns,
    quiet,
    post,
    **server_opts,
):
    """Convert case files (YAML, JSON, NDJSON with one case per line, or spreadsheets) into FHIR R4 Bundles.

    CASES may be files, directories (searched recursively) and globs. With one case file and
    no -o, the bundle goes to stdout as JSON; with several, one bundle per line (NDJSON). A case
    that fails is reported on stderr (and in --errors-to) and nothing is written for it; the
    others are still converted, and the exit code says that some failed. With --post the bundles
    are sent to --server as well. Spreadsheets (.csv, .tsv, .xlsx) give one case per row; see
    `fhir-adapter template` for their columns and --columns for headers that differ.

    \b
    Examples:
      fhir-adapter convert examples/yu-2024-case-1.yaml
      fhir-adapter convert examples/ -o out/
      fhir-adapter convert 'registry/**/*.json' --format ndjson -o bulk/ --jobs 4 --errors-to errors/
      fhir-adapter convert examples/*.yaml --post --server http://127.0.0.1:8080/fhir
      fhir-adapter convert registry.xlsx --columns registry-columns.yaml -o out/
    """
    try:
        if post and bundle_type != "transaction":
            raise ConfigError("--post sends transaction bundles; leave out --type collection")
        if out_format == "ndjson" and not output:
            raise ConfigError(
                "--format ndjson writes one file per resource type: give a directory with -o DIR"
            )
        if out_format == "ndjson" and post:
            raise ConfigError("--post sends bundles; use --format bundle with --post")
        if post:
            # Check the server settings before converting anything.
            client_settings(**{k: server_opts[k] for k in _SETTINGS_KEYS})
        tables = TableOptions(columns=load_column_map(columns) if columns else None)
    except AdapterError as exc:
        _fail(exc)
    terminology = _load_terminology(mappings)
    options = ConvertOptions(
        bundle_type=bundle_type, strict=strict, id_system=id_system, full_validation=full_validation or None
    )
    single = (
        len(cases) == 1
        and os.path.isfile(cases[0])
        and not cases[0].lower().endswith((".ndjson", *TABLE_SUFFIXES))
    )
    try:
        sink = make_sink(output, out_format, single)
    except AdapterError as exc:
        _fail(exc)
    errors_dir = Path(errors_to) if errors_to else None
    if errors_dir is not None:
        errors_dir.mkdir(parents=True, exist_ok=True)

    seen = SeenIds()
    to_post: list[Item] = []
    stats = {"total": 0, "failed": 0, "warnings": 0}
    first_exit = 0
    started = time.monotonic()
    show_progress = not quiet and sys.stderr.isatty()
    progress = tqdm(unit=" cases", file=sys.stderr, disable=not show_progress, dynamic_ncols=True)
    results = convert_stream(
        iter_sources(cases, tables),
        terminology,
        options,
        ndjson=out_format == "ndjson",
        jobs=jobs,
        mappings=mappings,
    )
    try:
        for result in results:
            stats["total"] += 1
            progress.update(1)
            if result.ok:
                earlier = seen.add(result.case_id, stats["total"] - 1)
                if earlier is not None:
                    result = duplicate_error(result, source_at(cases, earlier, tables))
            if not quiet:
                for warning in result.warnings:
                    progress.write(f"warning: {result.source}: {warning}", file=sys.stderr)
            stats["warnings"] += len(result.warnings)
            if not result.ok:
                stats["failed"] += 1
                first_exit = first_exit or result.exit_code
                for line in result.error.splitlines():
                    progress.write(f"Error: {line}", file=sys.stderr)
                if errors_dir is not None:
                    write_error_file(errors_dir, result)
                continue
            sink.write(result)
            if post:
                bundle = orjson.loads(result.bundle_json)
                to_post.append(
                    Item(outbox_key(bundle, result.case_id), result.source, bundle, result.origins)
                )
    finally:
        progress.close()
        sink.close()
    elapsed = time.monotonic() - started
    if stats["total"] == 0:
        _fail(
            ConfigError(
                f"no case files found in {' '.join(cases)}"
                f" (looked for {', '.join(CASE_SUFFIXES)}, .ndjson; spreadsheets"
                f" ({', '.join(TABLE_SUFFIXES)}) are read when named, e.g. {cases[0].rstrip('/')}/*.csv)"
            )
        )
    if stats["total"] > 1 or stats["failed"]:
        rate = stats["total"] / elapsed if elapsed > 0 else 0.0
        click.echo(
            f"{stats['total'] - stats['failed']} of {stats['total']} case(s) converted in {elapsed:.1f}s"
            f" ({rate:.0f}/s); {stats['failed']} failed, {stats['warnings']} warning(s).",
            err=True,
        )
    if post and to_post:
        try:
            _run_push(to_post, server_opts)
        except AdapterError as exc:
            _fail(exc)
    if first_exit:
        sys.exit(first_exit)


def write_error_file(directory: Path, result) -> None:
    """One file per failed case: its messages, then its warnings."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", result.source).strip("._") or "case"
    lines = [f"source: {result.source}", "errors:", *(f"  {line}" for line in result.error.splitlines())]
    if result.warnings:
        lines += ["warnings:", *(f"  {w}" for w in result.warnings)]
    write_atomic(directory / f"{name}.error.txt", ("\n".join(lines) + "\n").encode())


_SETTINGS_KEYS = (
    "server",
    "allow_public_server",
    "token_file",
    "basic_auth_file",
    "ca_bundle",
    "timeout",
    "max_time",
)


def iter_bundles(paths) -> Iterator[Item]:
    """Bundles from files, directories (their *.json, recursively), globs, or - for stdin; lazily."""
    for path in paths:
        if path == "-":
            yield from _bundles_in("<stdin>", sys.stdin.buffer.read())
            continue
        if os.path.isdir(path):
            files = sorted(str(p) for p in Path(path).rglob("*.json") if not p.name.startswith("."))
        elif any(ch in path for ch in "*?[") and not os.path.exists(path):
            files = sorted(glob.glob(path, recursive=True))
            if not files:
                raise ConfigError(f"{path}: no file matches")
        else:
            files = [path]
        for name in files:
            try:
                raw = Path(name).read_bytes()
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read the file: {exc.strerror}") from None
            yield from _bundles_in(name, raw)


def _bundles_in(name: str, raw: bytes) -> list[Item]:
    try:
        docs = [orjson.loads(raw)] if raw.strip() else []
    except orjson.JSONDecodeError:
        # NDJSON: one bundle per line, as convert writes several cases to stdout.
        try:
            docs = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{name}: not a JSON Bundle or NDJSON of Bundles ({exc})") from None
    if not docs:
        raise ConfigError(f"{name}: the file is empty")
    items = []
    for n, bundle in enumerate(docs):
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise ConfigError(f"{name}: document {n + 1} is not a FHIR Bundle")
        items.append(Item(outbox_key(bundle, Path(name).stem), name, bundle))
    return items


@main.command()
@click.argument("bundles", nargs=-1)
@click.option("--resume", is_flag=True, help="Also send every bundle still waiting in the outbox.")
@server_options
def push(bundles, resume, **server_opts):
    """Send transaction Bundles (files, or - for stdin) to a FHIR server.

    Each bundle waits in the outbox until the server accepts it; one that failed stays there
    with its error, and `push --resume` sends what is still waiting. Posting the same bundle
    again creates no duplicates: every entry is a PUT to an id fixed by the case.

    \b
    Examples:
      fhir-adapter push out/*.json --server http://127.0.0.1:8080/fhir --report report.json
      fhir-adapter push --resume --server http://127.0.0.1:8080/fhir
    """
    if not bundles and not resume:
        _fail(ConfigError("nothing to send: name bundle files or directories, or use --resume"))
    outbox = Outbox(Path(server_opts["outbox"]))
    queued: set[str] = set()

    def items() -> Iterator[Item]:
        for item in iter_bundles(bundles):
            queued.add(item.key)
            yield item
        if resume:
            # What is still pending now was not sent by this run, nor by any before it.
            yield from (i for i in outbox.waiting() if i.key not in queued)

    try:
        _run_push(items(), server_opts)
    except AdapterError as exc:
        _fail(exc)


@main.command()
@click.argument("bundles", nargs=-1, required=True)
@server_options
def verify(bundles, **server_opts):
    """Read back every resource of sent Bundles and report where the server's copy differs.

    What the server assigns (meta.versionId, meta.lastUpdated, meta.source) is ignored;
    references by urn:uuid are compared as the Type/id the server resolved them to.

    \b
    Example:
      fhir-adapter verify out/*.json --server http://127.0.0.1:8080/fhir
    """
    try:
        items = list(iter_bundles(bundles))
        settings = client_settings(**{k: server_opts[k] for k in _SETTINGS_KEYS})
        client = FhirClient(settings)
        total = 0
        for item in items:
            diffs = verify_item(client, item)
            total += len(diffs)
            click.echo(f"{item.key}: {'matches' if not diffs else f'{len(diffs)} difference(s)'}", err=True)
            for diff in diffs:
                click.echo(f"  differs: {diff}", err=True)
    except AdapterError as exc:
        _fail(exc)
    if total:
        sys.exit(EXIT_VERIFY)


@main.command()
def schema():
    """Print the JSON Schema of case files (for editors and other checkers).

    \b
    Example:
      fhir-adapter schema > case.schema.json
    """
    sys.stdout.buffer.write(schema_bytes())


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True, help="File type."
)
@click.option(
    "--layout",
    type=click.Choice(["flat", "linked"]),
    default="flat",
    show_default=True,
    help="flat: one row per case. linked: a cases table and one table per list, joined by case_id.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="The file to write (a directory for linked CSV tables). Default: stdout for one CSV table.",
)
def template(fmt, layout, output):
    """Write an empty spreadsheet template: a header row from the case format's schema and an example row.

    \b
    Examples:
      fhir-adapter template > cases.csv
      fhir-adapter template --format xlsx --layout linked -o cases.xlsx
      fhir-adapter template --layout linked -o tables/
    """
    files = write_template(fmt, layout == "linked")
    if output is None:
        if len(files) > 1 or fmt == "xlsx":
            _fail(
                ConfigError("this template is more than one CSV table or a workbook: give -o FILE or -o DIR")
            )
        sys.stdout.buffer.write(next(iter(files.values())))
        return
    target = Path(output)
    if len(files) > 1 and target.suffix.lower() in (".csv", ".tsv", ".xlsx"):
        _fail(ConfigError(f"{output}: linked CSV tables are several files; give -o DIR"))
    if len(files) > 1:
        target.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_atomic(target / name, data)
        click.echo(f"{len(files)} tables written to {target}/", err=True)
    else:
        write_atomic(target, next(iter(files.values())))


if __name__ == "__main__":  # pragma: no cover
    main()
