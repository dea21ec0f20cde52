"""The command line: a thin click layer over the library. Data to stdout or -o, messages to stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import orjson

from . import __version__
from .convert import ConvertOptions, Outcome, convert_file, dumps
from .errors import AdapterError, ConfigError, InvalidCaseError
from .mapping.common import DEFAULT_ID_SYSTEM
from .terminology import load_terminology
from .writer import write_atomic


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


def _report(outcome: Outcome, quiet: bool) -> None:
    if not quiet:
        for warning in outcome.warnings:
            click.echo(f"warning: {outcome.source}: {warning}", err=True)
    if outcome.error is not None:
        for line in str(outcome.error).splitlines():
            click.echo(f"Error: {line}", err=True)


@main.command()
@click.argument("cases", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="A file (one case) or a directory (one <case-id>.json per case). Default: stdout.",
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
@click.option("-q", "--quiet", is_flag=True, help="Do not print warnings.")
def convert(cases, output, bundle_type, strict, mappings, id_system, quiet):
    """Convert case files (YAML or JSON) into FHIR R4 Bundles, one per case.

    With one case and no -o, the bundle is written to stdout as JSON; with several, one bundle
    per line (NDJSON). A case that fails is reported on stderr and nothing is written for it;
    the others are still converted, and the exit code says that some failed.

    \b
    Example:
      fhir-adapter convert examples/yu-2024-case-1.yaml -o out/
    """
    terminology = _load_terminology(mappings)
    options = ConvertOptions(bundle_type=bundle_type, strict=strict, id_system=id_system)
    out_dir: Path | None = None
    out_file: Path | None = None
    if output:
        target = Path(output)
        if target.is_dir() or output.endswith(os.sep) or len(cases) > 1:
            out_dir = target
            if target.exists() and not target.is_dir():
                _fail(ConfigError(f"-o {output}: several cases need a directory, and this is a file"))
            out_dir.mkdir(parents=True, exist_ok=True)
        else:
            out_file = target

    seen: dict[str, str] = {}
    failed: list[Outcome] = []
    for source in cases:
        outcome = convert_file(source, terminology, options)
        if outcome.ok:
            assert outcome.conversion is not None
            case_id = outcome.conversion.case_id
            if case_id in seen:
                outcome = Outcome(
                    source,
                    error=InvalidCaseError(
                        f"{source}: case id '{case_id}' is already used by {seen[case_id]} in this run;"
                        " give each case its own case.id",
                        file=source,
                    ),
                    warnings=outcome.warnings,
                )
            else:
                seen[case_id] = source
        _report(outcome, quiet)
        if not outcome.ok:
            failed.append(outcome)
            continue
        bundle = outcome.conversion.bundle  # type: ignore[union-attr]
        if out_dir is not None:
            write_atomic(out_dir / f"{outcome.conversion.case_id}.json", dumps(bundle))  # type: ignore[union-attr]
        elif out_file is not None:
            write_atomic(out_file, dumps(bundle))
        elif len(cases) == 1:
            sys.stdout.buffer.write(dumps(bundle))
        else:
            sys.stdout.buffer.write(dumps_line(bundle))
        sys.stdout.flush()

    if failed:
        click.echo(f"{len(failed)} of {len(cases)} case(s) failed.", err=True)
        sys.exit(failed[0].error.exit_code)  # type: ignore[union-attr]


def dumps_line(obj: object) -> bytes:
    """One compact JSON document per line."""
    return orjson.dumps(obj) + b"\n"


if __name__ == "__main__":  # pragma: no cover
    main()
