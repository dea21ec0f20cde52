"""The command line: a thin click layer over the library. Data to stdout or -o, messages to stderr."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from tqdm import tqdm

from . import __version__, engine
from .api import check_server, server_settings
from .bulk import BulkSettings, bulk_import
from .bulk import describe as describe_import
from .bundlefiles import iter_bundles
from .casefile import DEFAULT_LIMITS
from .client import FhirClient
from .convert import ConvertOptions
from .errors import (
    EXIT_VERIFY,
    AdapterError,
    ConfigError,
    printable_lines,
)
from .fieldref import field_reference
from .mapping.common import DEFAULT_ID_SYSTEM
from .push import Item, Outbox, describe, verify_item
from .schema import schema_bytes
from .tables import write_template
from .terminology import describe_match, load_terminology
from .withdraw import describe as describe_withdrawal
from .withdraw import mark_replaces, withdraw_case
from .writer import dumps, ensure_dir, write_atomic

_log = logging.getLogger("fhir_adapter.cli")


def _say(text: str, level: int = logging.INFO) -> None:
    """A message on stderr (and in the log file). Control characters a server or a file put in it
    are escaped, so no answer can colour the terminal, move the cursor or fake a line of output."""
    text = printable_lines(text)
    click.echo(text, err=True)
    _log.log(level, "%s", text)


def _fail(exc: AdapterError) -> None:
    _say(f"Error: {exc}", logging.ERROR)
    sys.exit(exc.exit_code)


def _load_terminology(mappings: str | None):
    try:
        return load_terminology(mappings)
    except AdapterError as exc:
        _fail(exc)


EXIT_CODES = """\b
Exit codes:
  0  done (also: push --resume with nothing waiting)
  1  interrupted (Ctrl-C); nothing half-written is left
  2  bad command line (unknown option, missing argument)
  3  one or more case files were invalid, a report draft cannot read as
     plain text, or a bundle push/verify cannot send or read (not a
     transaction, an entry not PUT Type/id)
  4  a terminology map is broken, or --strict met an unmapped term
  5  the server rejected a bundle (4xx but 408/429), or a $import job failed
  6  no whole, valid answer: unreachable, past --timeout/--max-time,
     broken off, 5xx or 429 at every retry, or not what FHIR allows
  7  settings that cannot work (credentials over plain http, a public
     server without consent, an outbox that is a link), or inputs with no
     case file in them (a glob that matches nothing, an empty directory)
  8  verify / --verify found stored resources that differ from what was sent
  9  an output or outbox file could not be written (a full disk, no permission)
"""

COMPLETION = """\b
Shell completion (bash; zsh and fish likewise with zsh_source, fish_source):
  eval "$(_FHIR_ADAPTER_COMPLETE=bash_source fhir-adapter)"
"""


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES + "\n" + COMPLETION,
)
@click.version_option(__version__, prog_name="fhir-adapter")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False),
    envvar="FHIR_ADAPTER_LOG_FILE",
    help="Also write every message, with a timestamp, and the library's detail to this file"
    " (appended). [env: FHIR_ADAPTER_LOG_FILE]",
)
def main(log_file: str | None) -> None:
    """Convert oncology case files into mCODE-aligned FHIR R4 bundles and push them to a FHIR server.

    \b
    Start with:
      fhir-adapter convert examples/yu-2024-case-1.yaml
      fhir-adapter COMMAND --help
    """
    _setup_logging(log_file)


class _NotRendered(logging.Filter):
    """On stderr, the library's own records only: the lines the CLI renders are already there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != _log.name


_stderr_handler = logging.StreamHandler()
_stderr_handler.addFilter(_NotRendered())
_stderr_handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
_stderr_handler.setLevel(logging.WARNING)


def _setup_logging(log_file: str | None) -> None:
    """The library logs under `fhir_adapter`; stderr shows warnings (-v: detail), the log file everything."""
    root = logging.getLogger("fhir_adapter")
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler is not _stderr_handler:
            handler.close()
    _stderr_handler.setStream(sys.stderr)
    _stderr_handler.setLevel(logging.WARNING)
    root.addHandler(_stderr_handler)
    if log_file:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8", delay=False)
        except OSError as exc:
            _fail(ConfigError(f"--log-file {log_file}: cannot open the file: {exc.strerror}"))
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        )
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
    _level_to_handlers()


def _level_to_handlers() -> None:
    """The library's logger lets through only what some handler shows: a record nobody shows is never made."""
    root = logging.getLogger("fhir_adapter")
    root.setLevel(min((h.level for h in root.handlers), default=logging.WARNING) or logging.DEBUG)


DEFAULT_SERVER = "https://hapi.fhir.org/baseR4"


def verbosity_options(func):
    """-v/--verbose and -q/--quiet, shared by every command."""
    func = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="Only errors and the closing summary: no warnings, notes, progress or per-item lines.",
    )(func)
    return click.option("-v", "--verbose", is_flag=True, help="Say more: a line per case or resource.")(func)


def _verbosity(verbose: bool, quiet: bool) -> int:
    """-1 quiet, 0 normal, 1 verbose."""
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet exclude each other")
    # The library's own records on stderr: -q errors only, -v its detail too.
    _stderr_handler.setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)
    _level_to_handlers()
    return 1 if verbose else -1 if quiet else 0


def connection_options(func):
    """How to reach a server: for every command that talks to one."""
    options = [
        click.option(
            "--server",
            envvar="FHIR_ADAPTER_SERVER",
            default=DEFAULT_SERVER,
            show_default=True,
            help="FHIR R4 base URL. [env: FHIR_ADAPTER_SERVER]",
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
            help="Give up on a bundle after this many seconds, retries included, however slowly the server answers.",
        ),
        click.option(
            "--allow-plain-http-auth",
            is_flag=True,
            help="Allow sending a token or password over plain http to another machine than this one.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def server_options(func):
    """What sending adds: consent for public servers, parallel sends, the outbox, report, read-back."""
    options = [
        click.option(
            "--allow-public-server",
            is_flag=True,
            help="Allow posting to a public test server, whose data anyone can read.",
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
            "--allow-outbox-symlink",
            is_flag=True,
            help="Accept an --outbox that is a symbolic link (by default refused: it may point anywhere).",
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
    return connection_options(func)


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


def client_settings(
    server,
    allow_public_server,
    token_file,
    basic_auth_file,
    ca_bundle,
    timeout,
    max_time,
    allow_plain_http_auth=False,
):
    """Frozen client settings from flags, then environment, then defaults."""
    check_server(server, allow_public_server)  # before reading any secret (server_settings checks too)
    token = _read_secret(token_file, "FHIR_ADAPTER_TOKEN", "token")
    basic = _read_secret(basic_auth_file, "FHIR_ADAPTER_BASIC_AUTH", "basic auth")
    basic_pair = None
    if basic:
        if ":" not in basic:
            raise ConfigError("basic auth must be given as user:password")
        user, password = basic.split(":", 1)
        basic_pair = (user, password)
    return server_settings(
        server,
        token=token,
        basic_auth=basic_pair,
        ca_bundle=ca_bundle,
        allow_public_server=allow_public_server,
        allow_plain_http_auth=allow_plain_http_auth,
        timeout=timeout,
        max_time=max_time,
    )


class Renderer:
    """Turns the engine's events into lines on stderr (and the log file), with a progress bar."""

    def __init__(self, verbosity: int, unit: str, counted: tuple[type, ...] = (engine.Posted,)):
        self.verbosity = verbosity
        # The events the bar counts: a convert --post run tells each case twice (Converted, then
        # Posted), and its bar counts cases.
        self.counted = counted
        show = verbosity >= 0 and sys.stderr.isatty()
        self.progress = tqdm(unit=unit, file=sys.stderr, disable=not show, dynamic_ncols=True)

    def say(self, line: str, level: int = logging.INFO) -> None:
        # Control characters a server or a file put in a message are escaped (see _say).
        line = printable_lines(line)
        self.progress.write(line, file=sys.stderr)
        _log.log(level, "%s", line)

    def event(self, event: engine.Event) -> None:
        v = self.verbosity
        if isinstance(event, self.counted):
            self.progress.update(1)
        if isinstance(event, engine.Skipped):
            if v >= 0:
                self.say(f"note: {event.file}: skipped, {event.what}, not a case file")
        elif isinstance(event, engine.Converted):
            if v >= 0:
                for warning in event.warnings:
                    self.say(f"warning: {event.source}: {warning}", logging.WARNING)
            if v > 0:
                self.say(f"converted: {event.source} -> case {event.case_id}")
        elif isinstance(event, engine.Failed):
            if v >= 0:
                for warning in event.warnings:
                    self.say(f"warning: {event.source}: {warning}", logging.WARNING)
            for line in event.message.splitlines():
                self.say(f"Error: {line}", logging.ERROR)
        elif isinstance(event, engine.Notice):
            if event.level == "error":
                self.say(f"Error: {event.message}", logging.ERROR)
            elif v >= 0:
                self.say(f"{event.level}: {event.message}", logging.WARNING)
        elif isinstance(event, engine.Posted):
            self._posted(event.result)

    def _posted(self, result) -> None:
        if self.verbosity >= 0 or result.status != "sent" or result.differences:
            self.say(describe(result), logging.INFO if result.status == "sent" else logging.ERROR)
        if self.verbosity > 0 and result.result is not None:
            for e in result.result.entries:
                version = f" version {e.version}" if e.version else ""
                self.say(f"  {e.resource_type}/{e.id}: {e.status_text}{version}")
        for diff in result.differences:
            self.say(f"  differs: {diff}", logging.ERROR)

    def close(self) -> None:
        self.progress.close()


def _post_settings(opts) -> engine.PostSettings:
    return engine.PostSettings(
        client=client_settings(**{k: opts[k] for k in _SETTINGS_KEYS}),
        outbox=opts["outbox"],
        workers=opts["workers"],
        verify=opts["verify_after"],
        allow_outbox_symlink=opts.get("allow_outbox_symlink", False),
    )


def _render_push_summary(summary: engine.RunSummary, verbosity: int) -> None:
    push_summary = summary.push
    assert push_summary is not None
    for n, line in enumerate(push_summary.lines()):
        if push_summary.total == 0 and verbosity < 0:
            break
        _say(line, logging.INFO if n == 0 else logging.ERROR)


def _run_push(items, opts, verbosity: int = 0, resume: bool = False) -> None:
    """Send items through the outbox, print a line per case, write the report, exit accordingly."""
    renderer = Renderer(verbosity, " bundles")
    summary = None
    try:
        for event in engine.push_run(items, _post_settings(opts), report=opts["report"], resume=resume):
            if isinstance(event, engine.Finished):
                summary = event.summary
            else:
                renderer.event(event)
    finally:
        renderer.close()
    assert summary is not None
    _render_push_summary(summary, verbosity)
    sys.exit(summary.exit_code)


@main.command(epilog=EXIT_CODES, short_help="Convert case files into FHIR R4 Bundles.")
@click.argument("cases", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True),
    help="A file (one case), a directory (one <case-id>.json per case, or NDJSON files), or - for"
    " stdout. Default: stdout, or nothing with --post.",
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
    help="A directory of terminology maps laid over the shipped ones: a <domain>.yaml there adds"
    " its entries to that map (see: fhir-adapter mappings search). [env: FHIR_ADAPTER_MAPPINGS]",
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
    help="Validate every resource with fhir.resources' own model_validate instead of the compiled check (slower, same verdicts).",
)
@verbosity_options
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=VALUE",
    help="Raise a bound on each case file: file-size (default 4MB), depth (32), items (10000 per list),"
    " string (100000 characters), number (1e15), nodes (100000 values). Repeatable.",
)
@click.option(
    "--columns",
    type=click.Path(dir_okay=False),
    help="A column map (YAML) for spreadsheets whose headers differ: header -> field, values, date_format.",
)
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
    verbose,
    limits,
    columns,
    quiet,
    post,
    **server_opts,
):
    """Convert case files (YAML, JSON, NDJSON with one case per line, or spreadsheets) into FHIR R4 Bundles.

    CASES may be files, directories (searched recursively), globs, or - for one case on stdin.
    In a directory, JSON Schemas and FHIR resources (earlier outputs) are skipped with a note.
    With one case file and no -o, the bundle goes to stdout as JSON; with several, one bundle
    per line (NDJSON). A case that fails is reported on stderr (and in --errors-to) and nothing
    is written for it; the others are still converted, and the exit code says that some failed.
    With --post the bundles are sent to --server, and written only where -o says.
    Spreadsheets (.csv, .tsv, .xlsx) give one case per row; see `fhir-adapter template` for
    their columns and --columns for headers that differ.

    \b
    Examples:
      fhir-adapter convert examples/yu-2024-case-1.yaml
      fhir-adapter convert examples/ -o out/
      cat case.yaml | fhir-adapter convert - -o -
      fhir-adapter convert 'registry/**/*.json' --format ndjson -o bulk/ --jobs 4 --errors-to errors/
      fhir-adapter convert examples/*.yaml --post --server http://127.0.0.1:8080/fhir
      fhir-adapter convert registry.xlsx --columns registry-columns.yaml -o out/
    """
    verbosity = _verbosity(verbose, quiet)
    try:
        settings = engine.RunSettings(
            inputs=tuple(cases),
            output=output,
            out_format=out_format,
            convert=ConvertOptions(
                bundle_type=bundle_type,
                strict=strict,
                id_system=id_system,
                full_validation=full_validation or None,
                limits=DEFAULT_LIMITS.with_overrides(limits),
            ),
            jobs=jobs,
            mappings=mappings,
            errors_to=errors_to,
            columns=columns,
            report=server_opts["report"],
            # The server settings are checked before anything is converted.
            post=_post_settings(server_opts) if post else None,
        )
        settings.check()
    except AdapterError as exc:
        _fail(exc)
    terminology = _load_terminology(mappings)
    if verbosity > 0:
        _say(f"terminology: {terminology.source}")
    renderer = Renderer(verbosity, " cases", (engine.Converted, engine.Failed))
    summary = None
    try:
        for event in engine.run(settings, terminology):
            if isinstance(event, engine.Finished):
                summary = event.summary
            else:
                renderer.event(event)
    except AdapterError as exc:  # an output that cannot be written (a full disk): stop, say so
        renderer.close()
        _fail(exc)
    finally:
        renderer.close()
    assert summary is not None
    for line in [] if quiet else summary.text_only_lines():
        _say(line, logging.WARNING)
    if (line := summary.line()) is not None:
        _say(line)
    if summary.push is not None and summary.push.total:
        _render_push_summary(summary, verbosity)
    sys.exit(summary.exit_code)


_SETTINGS_KEYS = (
    "server",
    "allow_public_server",
    "token_file",
    "basic_auth_file",
    "ca_bundle",
    "timeout",
    "max_time",
    "allow_plain_http_auth",
)


@main.command(epilog=EXIT_CODES, short_help="Send transaction Bundles to a FHIR server.")
@click.argument("bundles", nargs=-1)
@click.option("--resume", is_flag=True, help="Also send every bundle still waiting in the outbox.")
@click.option(
    "--prune",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Afterwards, delete the copies in the outbox's sent/ older than DAYS days (0: all).",
)
@click.option(
    "--bulk",
    is_flag=True,
    help="Import one directory of NDJSON (convert --format ndjson) with the server's Bulk Data $import.",
)
@click.option(
    "--files-url",
    help="With --bulk: a base URL where the server can already fetch the directory's files."
    " Default: serve them from 127.0.0.1 while the import runs.",
)
@click.option(
    "--files-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="With --bulk: the port of the local file server on 127.0.0.1 (default: any free port).",
)
@click.option(
    "--poll-max-wait",
    type=float,
    default=30.0,
    show_default=True,
    help="With --bulk: the longest pause between two status requests, seconds.",
)
@click.option(
    "--bulk-timeout",
    type=float,
    default=3600.0,
    show_default=True,
    help="With --bulk: give up waiting for the import after this many seconds.",
)
@click.option(
    "--replaces",
    metavar="OLD_ID",
    help="The one bundle's case had this case id before (renamed): its resources are deleted in the"
    " same transaction.",
)
@verbosity_options
@server_options
def push(
    bundles,
    resume,
    prune,
    bulk,
    replaces,
    files_url,
    files_port,
    poll_max_wait,
    bulk_timeout,
    verbose,
    quiet,
    **server_opts,
):
    """Send transaction Bundles (files, directories, globs, or - for stdin) to a FHIR server.

    Each bundle waits in the outbox until the server accepts it; one that failed stays there
    with its error, and `push --resume` sends what is still waiting (nothing waiting is not an
    error). Posting the same bundle again creates no duplicates: every entry is a PUT to an id
    fixed by the case. With --bulk, one directory of NDJSON files goes to the server's $import
    instead, and the command waits for the server to report what it imported; then what the
    server holds with a case's tag that the directory no longer has is deleted, as for a bundle.

    \b
    Examples:
      fhir-adapter push out/*.json --server http://127.0.0.1:8080/fhir --report report.json
      fhir-adapter push --resume --server http://127.0.0.1:8080/fhir
      fhir-adapter push --bulk bulk/ --server http://127.0.0.1:8080/fhir
      fhir-adapter push out/case-7.json --replaces case-07 --server http://127.0.0.1:8080/fhir
    """
    verbosity = _verbosity(verbose, quiet)
    if replaces is not None and (bulk or resume or len(bundles) != 1):
        raise click.UsageError("--replaces OLD_ID goes with one bundle file (and no --bulk or --resume)")
    if bulk:
        settings = BulkSettings(
            files_url=files_url, port=files_port, max_poll_wait=poll_max_wait, timeout=bulk_timeout
        )
        try:
            if len(bundles) != 1 or resume or server_opts["verify_after"]:
                raise ConfigError(
                    "push --bulk takes one directory of NDJSON files (and no --resume or --verify)"
                )
            client = FhirClient(client_settings(**{k: server_opts[k] for k in _SETTINGS_KEYS}))
            outbox = Outbox(Path(server_opts["outbox"]), allow_symlink=server_opts["allow_outbox_symlink"])
            result = bulk_import(client, Path(bundles[0]), settings, progress=_say, outbox=outbox)
            for line in describe_import(result):
                _say(line)
            if server_opts["report"]:
                write_atomic(Path(server_opts["report"]), dumps(result.as_report()))
        except AdapterError as exc:
            _fail(exc)
        if not result.ok:
            sys.exit(result.exit_code)
        return
    outbox = Outbox(Path(server_opts["outbox"]), allow_symlink=server_opts["allow_outbox_symlink"])
    if prune is not None and not bundles and not resume:
        try:
            _prune(outbox, prune)
        except AdapterError as exc:
            _fail(exc)
        return
    if not bundles and not resume:
        raise click.UsageError("nothing to send: name bundle files or directories, or use --resume")
    given = None
    if replaces is not None:
        try:
            # Read once (stdin cannot be read twice); a rename is of one case.
            given = [item for item in iter_bundles(bundles)]
            if len(given) != 1:
                raise ConfigError(
                    f"--replaces {replaces}: {bundles[0]} holds {len(given)} bundles; name one case"
                )
            given[0].bundle = mark_replaces(given[0].bundle, replaces)
        except AdapterError as exc:
            _fail(exc)
    queued: set[str] = set()

    def items() -> Iterator[Item]:
        for item in given if given is not None else iter_bundles(bundles):
            queued.add(item.key)
            yield item
        if resume:
            # What is still pending now was not sent by this run, nor by any before it.
            yield from (i for i in outbox.waiting() if i.key not in queued)

    try:
        if prune is None:
            _run_push(items(), server_opts, verbosity, resume=resume)
        else:
            try:
                _run_push(items(), server_opts, verbosity, resume=resume)
            finally:
                _prune(outbox, prune)
    except AdapterError as exc:
        _fail(exc)


@main.command(epilog=EXIT_CODES, short_help="Delete a case's resources from a FHIR server.")
@click.argument("case_ids", nargs=-1, required=True)
@click.option(
    "--system",
    default=DEFAULT_ID_SYSTEM,
    show_default=True,
    help="The identifier system of the case ids (as in the case file's case.system).",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@verbosity_options
@server_options
def withdraw(case_ids, system, dry_run, verbose, quiet, **server_opts):
    """Delete from a server every resource of each case named (all carrying the case's tag).

    Each case's resources go in one transaction; a bundle of the case still waiting in the outbox
    is set aside so `push --resume` cannot send it back. Running it again deletes nothing more.

    \b
    Examples:
      fhir-adapter withdraw case-07 --dry-run --server http://127.0.0.1:8080/fhir
      fhir-adapter withdraw case-07 --server http://127.0.0.1:8080/fhir
    """
    _verbosity(verbose, quiet)
    try:
        client = FhirClient(client_settings(**{k: server_opts[k] for k in _SETTINGS_KEYS}))
        outbox = Outbox(Path(server_opts["outbox"]), allow_symlink=server_opts["allow_outbox_symlink"])
        for case_id in case_ids:
            for line in describe_withdrawal(withdraw_case(client, outbox, case_id, system, dry_run=dry_run)):
                _say(line)
    except AdapterError as exc:
        _fail(exc)


def _prune(outbox: Outbox, days: float) -> None:
    removed = outbox.prune(days)
    click.echo(f"{removed} sent bundle(s) older than {days:g} day(s) deleted from {outbox.sent}.", err=True)


@main.command(epilog=EXIT_CODES, short_help="Read sent Bundles back and report differences.")
@click.argument("bundles", nargs=-1)
@click.option(
    "--patient",
    metavar="ID",
    help="Compare one case file (or Bundle) with what the server holds for this Patient, field by field"
    " in case-file terms, both read through the same mapping.",
)
@verbosity_options
@connection_options
def verify(bundles, patient, verbose, quiet, **server_opts):
    """Read back every resource of sent Bundles and report where the server's copy differs.

    What the server assigns (meta.versionId, meta.lastUpdated, meta.source) is ignored;
    references by urn:uuid are compared as the Type/id the server resolved them to. Only reads:
    nothing is posted, so a public server needs no consent here.

    With --patient ID, one case file (or Bundle) is compared with the case the server's resources
    for that Patient give when read back, field by field (case-file paths, normal form).

    \b
    Examples:
      fhir-adapter verify out/*.json --server http://127.0.0.1:8080/fhir
      fhir-adapter verify case.yaml --patient 42 --server http://127.0.0.1:8080/fhir
    """
    verbosity = _verbosity(verbose, quiet)
    if not bundles:
        raise click.UsageError("nothing to verify: name the bundle files or directories that were sent")
    if patient is not None:
        from .export.compare import verify_patient

        if len(bundles) != 1:
            raise click.UsageError("verify --patient compares one case file (or Bundle) with one patient")
        try:
            diffs = verify_patient(bundles[0], _read_settings(server_opts), patient, _load_terminology(None))
        except AdapterError as exc:
            _fail(exc)
        if diffs or verbosity >= 0:
            _say(
                f"{bundles[0]}: {'matches' if not diffs else f'{len(diffs)} difference(s)'} Patient/{patient}"
            )
        for diff in diffs:
            _say(f"  differs: {diff}")
        sys.exit(EXIT_VERIFY if diffs else 0)
    try:
        settings = client_settings(
            allow_public_server=True,
            **{k: server_opts[k] for k in _SETTINGS_KEYS if k != "allow_public_server"},
        )
        client = FhirClient(settings)
        total = 0
        for item in iter_bundles(bundles):
            diffs = verify_item(client, item)
            total += len(diffs)
            if diffs or verbosity >= 0:
                entries = len(item.bundle.get("entry") or [])
                verdict = "matches" if not diffs else f"{len(diffs)} difference(s)"
                detail = f" ({entries} resource(s) read back)" if verbosity > 0 else ""
                _say(f"{item.key}: {verdict}{detail}")
            for diff in diffs:
                _say(f"  differs: {diff}")
    except AdapterError as exc:
        _fail(exc)
    if total:
        sys.exit(EXIT_VERIFY)


@main.command(epilog=EXIT_CODES, short_help="Read FHIR back into case files (optionally de-identified).")
@click.argument("inputs", nargs=-1)
@click.option(
    "-o", "--output", help="A directory (a file per case), a .yaml/.json file, or - (stdout, default)."
)
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option(
    "--evidence", is_flag=True, help="<case>.evidence.json beside each case: where each field came from."
)
@click.option("--patient", "patients", multiple=True, metavar="ID", help="A Patient on --server; repeatable.")
@click.option(
    "--all-patients", is_flag=True, help="Every Patient on --server with an id in --id-system, paged."
)
@click.option(
    "--id-system", metavar="URI", help=f"Case ids' system. Default: the resources' ({DEFAULT_ID_SYSTEM})."
)
@click.option(
    "--page-size", type=click.IntRange(1, 1000), default=50, show_default=True, help="Patients a page."
)
@click.option(
    "--mappings", type=click.Path(file_okay=False), envvar="FHIR_ADAPTER_MAPPINGS", help="Maps laid over."
)
@click.option(
    "--deidentify", is_flag=True, help="Pseudonyms, shifted dates, no source (README: Reading FHIR back)."
)
@click.option(
    "--key-file", type=click.Path(dir_okay=False), help="The pseudonyms' secret (or FHIR_ADAPTER_DEID_KEY)."
)
@click.option(
    "--public-source", is_flag=True, help="With --deidentify: the source is public; keep the citation."
)
@click.option(
    "--free-text", type=click.Choice(["remove", "flag", "drop"]), default="remove", show_default=True
)
@click.option("--dates", type=click.Choice(["shift", "year"]), default="shift", show_default=True)
@verbosity_options
@connection_options
def export(inputs, output, fmt, evidence, patients, all_patients, id_system, page_size, mappings, **opts):
    """Read FHIR back into case files: Bundles, NDJSON (Bulk Data output, ours or another tool's), or a server.

    INPUTS are Bundle files, NDJSON files and directories of them; with --patient ID or
    --all-patients the patients come from --server (Patient/ID/$everything). One case file per
    patient; what the case format has no place for is listed, never dropped without a word.
    --deidentify: --free-text remove (a text where the scan finds a possible identifier), flag
    (only list it) or drop (every narrative field); --dates year keeps only the (shifted) year.

    \b
    Examples:
      fhir-adapter export out/yu-2024-case-1.json
      fhir-adapter export bulk/ -o cases/ --evidence
      fhir-adapter export --server http://127.0.0.1:8080/fhir --all-patients -o cases/
      FHIR_ADAPTER_DEID_KEY=... fhir-adapter export bulk/ -o shared/ --deidentify
    """
    from .export.deidentify import deid_settings
    from .export.run import ExportOptions, ExportRequest, ExportRun

    verbosity = _verbosity(opts.pop("verbose"), opts.pop("quiet"))
    shown = {-1: logging.ERROR, 0: logging.INFO, 1: logging.DEBUG}[verbosity]
    deid = {k: opts.pop(k) for k in ("deidentify", "key_file", "public_source", "free_text", "dates")}
    terminology = _load_terminology(mappings)
    try:
        secret = None
        if deid["deidentify"]:
            secret = _read_secret(deid["key_file"], "FHIR_ADAPTER_DEID_KEY", "de-identification key")
        options = ExportOptions(id_system, deid_settings(secret, **deid), fmt, evidence)
        server = _read_settings(opts) if patients or all_patients else None
        run = ExportRun(
            ExportRequest(inputs, patients, all_patients, server, output, page_size, options), terminology
        )
        for item in run:
            for level, line in item.lines:
                if level >= shown:
                    _say(line, max(level, logging.INFO))
            if item.stdout is not None:
                sys.stdout.write(item.stdout)
    except AdapterError as exc:
        _fail(exc)
    for line in run.closing() if verbosity >= 0 else ():
        _say(line)
    sys.exit(run.exit_code)


def _read_settings(server_opts):
    """Client settings for a command that only reads: a public server needs no consent."""
    keys = [k for k in _SETTINGS_KEYS if k != "allow_public_server"]
    return client_settings(allow_public_server=True, **{k: server_opts[k] for k in keys if k in server_opts})


VALIDATE_EXIT_CODES = """\b
Exit codes:
  0  no errors (warnings may remain)
  2  bad command line (unknown option, missing argument)
  3  one or more resources break their profiles, or a file is not FHIR JSON
  7  no validator to run (see --engine), or an input that names no file
"""


@main.command(epilog=VALIDATE_EXIT_CODES, short_help="Check Bundles and NDJSON against the mCODE profiles.")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a line per finding. json: one object with every finding (file, resource, severity,"
    " FHIRPath, message).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "hapi", "node"]),
    default="auto",
    show_default=True,
    help="hapi: HAPI FHIR's validator (Java 17). node: the Node checker, which skips terminology"
    " bindings. auto: hapi where it is installed, else node.",
)
@click.option(
    "--validator-home",
    type=click.Path(file_okay=False),
    envvar="FHIR_ADAPTER_HAPI_VALIDATOR",
    help="Where the HAPI validator is installed (target/hapi-validator.jar, packages/*.tgz); default:"
    " tools/hapi-validator of this checkout. [env: FHIR_ADAPTER_HAPI_VALIDATOR]",
)
@verbosity_options
def validate(files, out_format, engine, validator_home, verbose, quiet):
    """Check FHIR Bundles, resources and NDJSON files against the mCODE 4.0.0 profiles.

    FILES may be files (a Bundle or resource per .json file, one resource per line of an
    .ndjson file), directories (searched recursively) or globs. HAPI FHIR's own validator
    checks every resource against R4 and the profiles it claims, terminology bindings
    included, offline; a check that needs what is not available offline (US Core, SNOMED CT
    content) is a warning that says so. Errors are listed; -v lists warnings too.

    \b
    Examples:
      fhir-adapter validate examples/*.bundle.json
      fhir-adapter validate bulk/ --format json > findings.json
    Install the HAPI validator once (Java 17, Maven, npm):
      bash tools/hapi-validator/install.sh
    """
    import time

    from .errors import EXIT_INVALID_CASE
    from .profiles import Tally, finding_line, open_validator

    verbosity = _verbosity(verbose, quiet)
    tally = Tally(keep_findings=out_format == "json")
    try:
        with open_validator(engine, Path(validator_home) if validator_home else None) as validator:
            if verbosity >= 0:
                click.echo(f"checking with {validator.label}", err=True)
                if validator.note:
                    click.echo(f"note: {validator.note}", err=True)
            started = time.monotonic()
            for checked in validator.check(files, information=verbosity > 0):
                tally.add(checked)
                if out_format == "text":
                    for f in checked.findings:
                        if f.is_error or verbosity > 0:
                            click.echo(finding_line(f))
            elapsed = time.monotonic() - started
    except AdapterError as exc:
        _fail(exc)
    if out_format == "json":
        sys.stdout.buffer.write(dumps(tally.report(validator)))
    click.echo(tally.line(validator, elapsed), err=True)
    if tally.errors:
        sys.exit(EXIT_INVALID_CASE)


@main.command(epilog=EXIT_CODES, short_help="Print the JSON Schema of case files.")
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="json: the JSON Schema. markdown: the field reference made from it (docs/case-format.md).",
)
@verbosity_options
def schema(out_format, verbose, quiet):
    """Print the JSON Schema of case files (for editors and other checkers), or its field reference.

    \b
    Examples:
      fhir-adapter schema > case.schema.json
      fhir-adapter schema --format markdown > docs/case-format.md
    """
    verbosity = _verbosity(verbose, quiet)
    if out_format == "markdown":
        sys.stdout.buffer.write(field_reference().encode())
    else:
        sys.stdout.buffer.write(schema_bytes())
    if verbosity > 0:
        click.echo(
            "The same schema ships as fhir_adapter/case.schema.json; the field reference is docs/case-format.md.",
            err=True,
        )


@main.command(epilog=EXIT_CODES, short_help="Draft a case file from a case report's text.")
@click.argument("reports", nargs=-1)
@click.option(
    "-o", "--output", "out", metavar="CASE.yaml|DIR/",
    help="Write the draft to CASE.yaml (with CASE.evidence.json beside it), or one file per case into DIR/."
    " Default: stdout, with the evidence as comments only.",
)  # fmt: skip
@click.option("--check", is_flag=True, help="Convert each draft and report what would stay text only.")
@click.option(
    "--html",
    is_flag=True,
    help="Also write CASE.review.html beside each draft: the text with each fact's words marked and linked"
    " to its field, the review list, and what convert keeps as text only (needs -o).",
)
@click.option(
    "--mappings",
    "overlay",
    type=click.Path(file_okay=False),
    envvar="FHIR_ADAPTER_MAPPINGS",
    help="A directory of maps laid over the shipped ones; their terms are found too. [env: FHIR_ADAPTER_MAPPINGS]",
)
@click.option(
    "--llm-url",
    metavar="URL",
    envvar="FHIR_ADAPTER_LLM_URL",
    help="An OpenAI-compatible chat completions URL to draft with instead of the rules; every fact it"
    " returns must be found back in the text or goes to review. [env: FHIR_ADAPTER_LLM_URL]",
)
@click.option(
    "--llm-model",
    envvar="FHIR_ADAPTER_LLM_MODEL",
    help="Model name to ask for. [env: FHIR_ADAPTER_LLM_MODEL]",
)
@click.option(
    "--llm-key-file",
    type=click.Path(dir_okay=False),
    help="File holding the endpoint's API key (else FHIR_ADAPTER_LLM_KEY; never on the command line).",
)
@click.option(
    "--allow-plain-http-auth",
    is_flag=True,
    help="Allow sending the LLM key over plain http to another machine than this one.",
)
@verbosity_options
def draft(
    reports,
    out,
    check,
    html,
    overlay,
    llm_url,
    llm_model,
    llm_key_file,
    allow_plain_http_auth,
    verbose,
    quiet,
):
    """Draft case files from case reports' text (REPORTS are text files; - or none for stdin).

    Each fact is read by rules (spaCy and medspaCy, driven by the terminology maps) and tied to
    the sentence it came from: a comment above each item, and with -o the CASE.evidence.json
    sidecar (field path, character offsets, rule, confidence). What was seen but not placed is
    listed under '# review:' at the end. A text of several cases ("Case 1: ... Case 2: ...") gives
    one draft per case. Review every draft before use.

    \b
    Examples:
      fhir-adapter draft report.txt -o case.yaml --check
      fhir-adapter draft reports/*.txt -o drafts/ --html
      pbpaste | fhir-adapter draft - > case.yaml
    """
    from .draft.llm import LlmSettings
    from .draft.run import DraftOptions, run

    verbosity = _verbosity(verbose, quiet)
    terminology = _load_terminology(overlay)
    try:
        llm = None
        if llm_url:
            key = _read_secret(llm_key_file, "FHIR_ADAPTER_LLM_KEY", "LLM key")
            llm = LlmSettings(
                url=llm_url, key=key, model=llm_model, allow_plain_http_auth=allow_plain_http_auth
            )
        code = run(
            list(reports),
            DraftOptions(out=out, check=check, llm=llm, html=html),
            terminology,
            _say,
            verbosity,
        )
    except AdapterError as exc:
        _fail(exc)
    sys.exit(code)


@main.group(short_help="Look up terms and codes in the terminology maps.")
def mappings() -> None:
    """Look up the terminology maps: the shipped ones, with an overlay directory if given.

    \b
    Example:
      fhir-adapter mappings search 'upper outer quadrant'
    """


@mappings.command("search", epilog=EXIT_CODES, short_help="Find a term or a code in the maps.")
@click.argument("term")
@click.option("--domain", help="Search one map only (body_sites, histology, procedures, ...).")
@click.option(
    "--mappings",
    "overlay",
    type=click.Path(file_okay=False),
    envvar="FHIR_ADAPTER_MAPPINGS",
    help="A directory of maps laid over the shipped ones, as convert uses it. [env: FHIR_ADAPTER_MAPPINGS]",
)
@verbosity_options
def mappings_search(term, domain, overlay, verbose, quiet):
    """Find the map entries whose terms contain TERM, or whose code is TERM, and print their codes.

    Matching is case-insensitive and treats spaces, '-' and '_' alike; with no match, close
    spellings are shown. Each hit names the file that defines it: to add or change a term,
    put a file of the same name in a directory and pass it with --mappings.

    \b
    Examples:
      fhir-adapter mappings search scalp
      fhir-adapter mappings search 'ductal carcinoma' --domain histology -v
      fhir-adapter mappings search 372137005
    """
    verbosity = _verbosity(verbose, quiet)
    terminology = _load_terminology(overlay)
    if domain is not None and domain not in terminology.domains:
        _fail(ConfigError(f"--domain {domain}: no such map; maps: {', '.join(sorted(terminology.domains))}"))
    matches = terminology.search(term, domain)
    for match in matches:
        click.echo("\n".join(describe_match(match, verbose=verbosity > 0)))
    if not matches and verbosity >= 0:
        where = f"the {domain} map" if domain else "any map"
        click.echo(f"no entry of {where} matches '{term}'", err=True)


@main.command(epilog=EXIT_CODES, short_help="Write HTML case summaries: timeline, body map, markers.")
@click.argument("inputs", nargs=-1)
@click.option(
    "--patient",
    "patients",
    multiple=True,
    metavar="ID",
    help="Summarise what --server holds for this Patient (its resource id) instead of files; repeatable.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory for the pages: one <case-id>.html per case, and index.html.",
)
@click.option(
    "--mappings",
    type=click.Path(file_okay=False),
    envvar="FHIR_ADAPTER_MAPPINGS",
    help="A directory of terminology maps to use instead of the shipped ones. [env: FHIR_ADAPTER_MAPPINGS]",
)
@click.option("--open", "open_after", is_flag=True, help="Open the index (or the one page) in a web browser.")
@verbosity_options
@connection_options
def summary(inputs, patients, output, mappings, open_after, verbose, quiet, **server_opts):
    """Write a self-contained HTML summary of each case: timeline, body map, markers, every resource.

    INPUTS are case files (converted here, with their warnings; a case.evidence.json beside a
    case file adds the sentence each fact came from), Bundle JSON files, directories and globs.
    Each page fetches nothing and runs no scripts, so it can be mailed or archived as it is.

    With --patient, the page shows what --server holds for that patient, read back through
    Patient/ID/$everything (any mCODE patient, not only ours).

    \b
    Examples:
      fhir-adapter summary examples/yu-2024-case-2.yaml -o summaries/ --open
      fhir-adapter summary examples/ out/*.json -o summaries/
      fhir-adapter summary --server http://127.0.0.1:8080/fhir --patient 42 -o summaries/
    """
    import webbrowser

    from .summary import write_summaries

    verbosity = _verbosity(verbose, quiet)
    terminology = _load_terminology(mappings)
    if bool(inputs) == bool(patients):
        raise click.UsageError("name case or bundle files, or --patient ID with --server (not both)")
    try:
        if patients:
            from .export.pages import summarise_server

            run = summarise_server(_read_settings(server_opts), list(patients), Path(output), terminology)
        else:
            run = write_summaries(inputs, Path(output), terminology)
    except AdapterError as exc:
        _fail(exc)
    for note in run.skipped if verbosity >= 0 else ():
        _say(f"note: {note}")
    for source, exc in run.errors:
        for line in str(exc).splitlines():
            _say(f"Error: {line if line.startswith(source) else f'{source}: {line}'}")
    if not run.pages and not run.errors:
        _fail(ConfigError(f"no case or bundle files found in {' '.join(inputs)}"))
    if run.pages:
        click.echo(f"{len(run.pages)} case page(s) and index.html written to {output}.", err=True)
    if open_after and run.pages:
        webbrowser.open((run.pages[0] if len(run.pages) == 1 else run.index).resolve().as_uri())
    if run.errors:
        sys.exit(run.errors[0][1].exit_code)


@main.command(epilog=EXIT_CODES, short_help="Write a spreadsheet template of the case format.")
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
@verbosity_options
def template(fmt, layout, output, verbose, quiet):
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
    try:
        if len(files) > 1:
            ensure_dir(target)
            for name, data in files.items():
                write_atomic(target / name, data)
            if _verbosity(verbose, quiet) >= 0:
                _say(f"{len(files)} tables written to {target}/")
        else:
            write_atomic(target, next(iter(files.values())))
    except AdapterError as exc:  # a full disk, a read-only filesystem, no permission: exit 9
        _fail(exc)


if __name__ == "__main__":  # pragma: no cover
    main()
