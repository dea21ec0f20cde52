"""The export front door: FHIR from files or a server, read back into case files, optionally de-identified.

`ExportRun` does the whole of `fhir-adapter export`: it picks the source, reads each patient's
resources into a case, de-identifies it if asked, writes it (a directory, one file, or text for
the caller to print) and says what happened in lines the caller shows. The CLI only renders them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..case import Case
from ..client import ClientSettings, FhirClient
from ..errors import AdapterError, ConfigError, InvalidCaseError
from ..ids import DEFAULT_ID_SYSTEM
from ..terminology import Terminology
from ..writer import ensure_dir, write_atomic
from .common import Json
from .deidentify import Deidentified, DeidSettings, deidentify, identifying_strings
from .read import CaseReading, read_case
from .sources import PatientFhir, SourceProblem, read_paths, read_server
from .write import case_text, evidence_json

CASE_SUFFIXES = (".yaml", ".yml", ".json")
DEBUG, INFO, WARNING, ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR


@dataclass(frozen=True)
class ExportOptions:
    """How each case is read and written; frozen and passed down."""

    id_system: str | None = None  # the identifier system of case ids; None: the one the resources use
    deidentify: DeidSettings | None = None
    fmt: str = "yaml"
    evidence: bool = False  # write <case>.evidence.json beside each case file


@dataclass(frozen=True)
class ExportRequest:
    """One export: where the FHIR comes from, where the case files go, how they are written."""

    inputs: tuple[str, ...] = ()  # Bundle and NDJSON files, directories of them
    patients: tuple[str, ...] = ()  # Patient ids on `server`
    all_patients: bool = False  # every Patient on `server` with an identifier in the id system
    server: ClientSettings | None = None
    output: str | None = None  # a directory, a .yaml/.yml/.json file, or None / "-": the caller prints
    page_size: int = 50
    options: ExportOptions = field(default_factory=ExportOptions)

    @property
    def to_dir(self) -> bool:
        return self.output not in (None, "-") and not self.output.endswith(CASE_SUFFIXES)

    @property
    def to_stdout(self) -> bool:
        return self.output in (None, "-")


def check_request(request: ExportRequest) -> None:
    """ConfigError for a request that cannot be carried out as given, before anything is read."""
    from_server = bool(request.patients or request.all_patients)
    if from_server == bool(request.inputs):
        raise ConfigError("name Bundle or NDJSON files, or --patient ID / --all-patients with --server")
    if request.patients and request.all_patients:
        raise ConfigError("--patient and --all-patients exclude each other")
    if from_server and request.server is None:
        raise ConfigError("reading patients from a server needs --server URL")
    if request.options.fmt not in ("yaml", "json"):
        raise ConfigError(f"no case-file format {request.options.fmt!r}: yaml or json")
    if request.options.evidence and not request.to_dir:
        raise ConfigError("--evidence writes a file beside each case file: give -o DIR")
    if request.options.deidentify is not None and request.options.evidence:
        raise ConfigError(
            "--evidence names the resources each field came from, whose ids derive from the real case id;"
            " it cannot go with --deidentify"
        )


@dataclass
class Exported:
    """One patient read back: its case (de-identified if asked), or why it could not be; what to say about it.

    `lines` are (level, text): logging.ERROR and WARNING, INFO (a note, shown unless quiet) and
    DEBUG (shown when verbose). `stdout` is the case-file text when the output is stdout.
    """

    source: str
    reading: CaseReading | None = None
    deidentified: Deidentified | None = None
    error: AdapterError | None = None
    written: list[Path] = field(default_factory=list)
    lines: list[tuple[int, str]] = field(default_factory=list)
    stdout: str | None = None

    @property
    def case(self) -> Json:
        assert self.reading is not None
        return self.deidentified.case if self.deidentified is not None else self.reading.case

    @property
    def case_id(self) -> str:
        return str(self.case["case"]["id"])

    def text(self, options: ExportOptions) -> str:
        """The case file, with a header saying where it came from (not for a de-identified case)."""
        assert self.reading is not None
        if self.deidentified is not None:
            shown = CaseReading(self.deidentified.case)
            done = self.deidentified
            header = ["Case file made by `fhir-adapter export --deidentify`."]
            header += [f"Removed {line}" for line in done.removed]
            header += [f"Check {line}" for line in done.flagged]
            return case_text(shown, fmt=options.fmt, header=header)
        header = [f"Case file read back by `fhir-adapter export` from {self.reading.source}."]
        return case_text(self.reading, fmt=options.fmt, header=header)


def export_cases(
    patients: Iterable[PatientFhir | SourceProblem], terminology: Terminology, options: ExportOptions
) -> Iterator[Exported]:
    """Each patient's resources read back into a case file (lazily, one patient at a time)."""
    for item in patients:
        if isinstance(item, SourceProblem):
            yield Exported(item.source, error=item.error)
            continue
        try:
            reading = read_case(
                item.resources,
                terminology,
                system=options.id_system,
                source=item.source,
                full_urls=item.full_urls,
            )
            deidentified = None
            if options.deidentify is not None:
                deidentified = deidentify(
                    Case.model_validate(reading.case),
                    terminology,
                    options.deidentify,
                    system=options.id_system,
                    known=identifying_strings(item.resources),
                )
        except AdapterError as exc:
            yield Exported(item.source, error=exc)
            continue
        yield Exported(item.source, reading, deidentified)


def file_stem(case_id: str) -> str:
    """A file name for a case: its id, with anything a file name should not hold replaced."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._") or "case"


def write_case(exported: Exported, directory: Path, options: ExportOptions, taken: dict[str, str]) -> None:
    """Write one case file (and its evidence) into `directory`; a case id met twice is an error."""
    stem = file_stem(exported.case_id)
    if stem in taken:
        raise InvalidCaseError(
            f"{exported.source}: case {exported.case_id} was already written from {taken[stem]};"
            " not written again",
        )
    taken[stem] = exported.source
    suffix = ".json" if options.fmt == "json" else ".yaml"
    path = directory / f"{stem}{suffix}"
    write_atomic(path, exported.text(options).encode("utf-8"))
    exported.written.append(path)
    if options.evidence and exported.reading is not None and exported.deidentified is None:
        sidecar = directory / f"{stem}.evidence.json"
        write_atomic(sidecar, evidence_json(exported.reading).encode("utf-8"))
        exported.written.append(sidecar)


def _say_about(item: Exported) -> None:
    """What the user is told about one case: its warnings, what was left out, removed or to be checked."""
    assert item.reading is not None
    name, reading = item.case_id, item.reading
    say = item.lines.append
    if item.deidentified is None:
        for line in reading.warnings:
            say((WARNING, f"warning: {line}"))
        for line in reading.unplaced:
            say((INFO, f"note: {name}: not read into the case: {line}"))
        say((DEBUG, f"{name}: read from {item.source}"))
        return
    # A de-identified case's messages name no source and quote no element: they could identify
    # (a warning names the file read and the Patient's resource id, which may be the real case id).
    if reading.warnings:
        say(
            (
                WARNING,
                f"warning: {name}: {len(reading.warnings)} warning(s) not shown, as they name the resources"
                " read; export without --deidentify to see them",
            )
        )
    if reading.unplaced:
        say((INFO, f"note: {name}: {len(reading.unplaced)} element(s) have no place in the case format"))
    for line in item.deidentified.removed:
        say((INFO, f"note: {name}: removed {line}"))
    for line in item.deidentified.flagged:
        say((INFO, f"note: {name}: check {line}"))


class ExportRun:
    """An export under way: iterate it for each patient read (and written); then `closing` and `exit_code`.

    Raises ConfigError for a request that cannot be carried out, and at the end when no patient
    was found at all.
    """

    def __init__(self, request: ExportRequest, terminology: Terminology):
        check_request(request)
        self.request = request
        self.terminology = terminology
        self.written = 0
        self.failures: list[AdapterError] = []

    def _sources(self) -> Iterator[PatientFhir | SourceProblem]:
        request = self.request
        if request.inputs:
            return read_paths(request.inputs)
        assert request.server is not None
        return read_server(
            FhirClient(request.server),
            patient_ids=list(request.patients) or None,
            system=request.options.id_system or DEFAULT_ID_SYSTEM,
            page_size=request.page_size,
        )

    def __iter__(self) -> Iterator[Exported]:
        request, options = self.request, self.request.options
        taken: dict[str, str] = {}
        single: Exported | None = None  # -o FILE: written once the run shows it is one case
        if request.to_dir:
            ensure_dir(Path(request.output))
        for item in export_cases(self._sources(), self.terminology, options):
            if item.error is not None:
                self.failures.append(item.error)
                item.lines.extend((ERROR, f"Error: {line}") for line in str(item.error).splitlines())
                yield item
                continue
            _say_about(item)
            if request.to_dir:
                write_case(item, Path(request.output), options, taken)
            elif request.to_stdout:
                separator = "---\n" if self.written and options.fmt == "yaml" else ""
                item.stdout = separator + item.text(options)
            elif single is not None:
                raise ConfigError(f"{request.output}: more than one case does not fit one file; give -o DIR")
            else:
                single = item
            self.written += 1
            yield item
        if single is not None:
            path = Path(request.output)
            write_atomic(path, single.text(options).encode("utf-8"))
            single.written.append(path)
        if not self.written and not self.failures:
            raise ConfigError("no patient found to read")

    def closing(self) -> list[str]:
        """The lines after the run: how many cases went where (for a directory)."""
        if self.request.to_dir:
            return [f"{self.written} case file(s) written to {self.request.output}."]
        return []

    @property
    def exit_code(self) -> int:
        if self.failures:
            return self.failures[0].exit_code
        return 0
