"""The run engine: one batch from its inputs to its sinks and the server, told as a stream of events.

The command line, the library (`convert_many`, `push_many`) and Spark share it, so a run behaves
the same whoever starts it: the same duplicate-id check, the same tally of terms kept as text, the
same error files, report and exit code. The engine decides; whoever drives it only renders the
events (`Converted`, `Failed`, `Skipped`, `Notice`, `Posted`) and the closing `Finished`.

With posting, each bundle goes to the outbox as soon as it is converted and is sent a window at a
time, so memory stays flat however long the run is.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from .batch import Result, SeenIds, convert_stream, duplicate_error, source_at
from .casefile import DEFAULT_LIMITS
from .client import ClientSettings, FhirClient
from .convert import ConvertOptions
from .errors import EXIT_CONFIG, EXIT_OK, EXIT_VERIFY, AdapterError, ConfigError, redact_url
from .inputs import CASE_SUFFIXES, input_places, iter_sources, kind_of  # the reader registry
from .mapping.common import DEFAULT_ID_SYSTEM
from .push import Item, Outbox, PushResult, outbox_key, send_all
from .reportfile import ReportFile
from .sinks import NullSink, Sink, make_sink, refuse_overwriting_file
from .tables import TABLE_SUFFIXES, TableOptions, load_column_map
from .tally import TermTally
from .terminology import Terminology, load_terminology
from .writer import dumps, write_atomic

log = logging.getLogger(__name__)

STDIN = "-"


# ---------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class Converted:
    """A case converted and written to its sink (and queued for the server when posting)."""

    source: str
    case_id: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failed:
    """A case that could not be converted (nothing was written for it); `message` may span lines."""

    source: str
    message: str
    exit_code: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A file met in a directory that is no case file (once per file), and what it is."""

    file: str
    what: str


@dataclass(frozen=True)
class Notice:
    """A message about the run rather than one case: level is `warning`, `note` or `error`."""

    level: Literal["warning", "note", "error"]
    message: str


@dataclass(frozen=True)
class Posted:
    """The server's answer for one bundle (sent, rejected, unavailable or invalid)."""

    result: PushResult


@dataclass
class PushSummary:
    """What one run sent: counts by status, how many stored copies differed, the outbox."""

    server: str  # as it may be shown: credentials in the URL redacted
    outbox: str
    counts: dict[str, int] = field(
        default_factory=lambda: {"sent": 0, "rejected": 0, "unavailable": 0, "misplaced": 0, "invalid": 0}
    )
    differing: int = 0
    exit_codes: list[int] = field(default_factory=list)
    resume: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        if self.counts["sent"] < self.total:  # the first failure's code, as README "Exit codes" says
            return self.exit_codes[0] if self.exit_codes else 1
        return EXIT_VERIFY if self.differing else EXIT_OK

    def lines(self) -> list[str]:
        """The closing lines a person reads."""
        if self.total == 0:
            return (
                [f"nothing to send: no bundle waits in {Path(self.outbox) / 'pending'}"]
                if self.resume
                else []
            )
        out = [f"{self.counts['sent']} of {self.total} bundle(s) sent to {self.server}."]
        # An invalid bundle never waits in pending/ (it is not queued, or was set aside as damaged).
        invalid = self.counts.get("invalid", 0)
        rejected = self.counts.get("rejected", 0)
        waiting = self.total - self.counts["sent"] - invalid - rejected
        resume = f"fhir-adapter push --resume --outbox {self.outbox} --server {self.server}"
        if waiting:
            out.append(
                f"{waiting} not sent; they wait in {Path(self.outbox) / 'pending'}. Send them again with: {resume}"
            )
        if rejected:
            # Sent again as they are, the server would refuse them again: the fix comes first.
            out.append(
                f"{rejected} rejected by the server; they wait in {Path(self.outbox) / 'pending'}."
                " Fix what the lines above name and push the corrected case (its bundle replaces the"
                f" waiting one); where the fault was the server's settings, send them again with: {resume}"
            )
        if invalid:
            out.append(f"{invalid} invalid, not queued: fix or convert again what the lines above name.")
        return out


@dataclass
class RunSummary:
    """The whole run: counts, the terms kept as text, the push, and the exit code it deserves."""

    cases: int = 0
    failed: int = 0
    warnings: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # file -> what it is
    empty: list[str] = field(default_factory=list)  # inputs that held no case file
    elapsed: float = 0.0
    text_only: list[str] = field(default_factory=list)  # one line per distinct term
    text_only_report: list[dict] = field(default_factory=list)
    text_only_beyond: str | None = None  # what the listed terms leave out, when they are not all
    text_only_not_listed: dict[str, int] | None = None  # the same as numbers, for the report
    first_failure: int = 0  # the exit code of the first case that failed
    failures: list[Failed] = field(default_factory=list)
    push: PushSummary | None = None

    @property
    def converted(self) -> int:
        return self.cases - self.failed

    @property
    def exit_code(self) -> int:
        """A push that left bundles behind, then differences read back, then the first failed case,
        then an input with no case in it."""
        if self.push is not None and self.push.exit_code:
            return self.push.exit_code
        if self.first_failure:
            return self.first_failure
        return EXIT_CONFIG if self.empty else EXIT_OK

    def report_head(self) -> dict[str, Any]:
        """What `--report` writes about the run (a posting run's report adds each bundle's answer)."""
        more = {"text_only_not_listed": self.text_only_not_listed} if self.text_only_not_listed else {}
        if self.push is None:
            return {
                "summary": {"cases": self.cases, "failed": self.failed},
                "text_only": self.text_only_report,
                **more,
            }
        return {
            "server": self.push.server,
            "summary": self.push.counts,
            "text_only": self.text_only_report,
            **more,
        }

    def text_only_lines(self) -> list[str]:
        """The warning about terms kept as text, one line per distinct term (none when every term was coded).

        One line per term, not per case: 10,000 cases that all say "chemotherapy" give one line.
        """
        if not self.text_only:
            return []
        head = (
            f"warning: {len(self.text_only)} term(s) kept as text only (no verified code); add codes to"
            " the maps to code them:"
        )
        tail = [f"  {self.text_only_beyond}"] if self.text_only_beyond else []
        return [head, *(f"  {line}" for line in self.text_only), *tail]

    def line(self) -> str | None:
        """The closing line of a batch (None for a single clean case, which needs none)."""
        if not (self.cases > 1 or self.failed or self.skipped):
            return None
        rate = self.cases / self.elapsed if self.elapsed > 0 else 0.0
        note = f", {len(self.skipped)} file(s) skipped" if self.skipped else ""
        return (
            f"{self.converted} of {self.cases} case(s) converted in {self.elapsed:.1f}s ({rate:.0f}/s);"
            f" {self.failed} failed, {self.warnings} warning(s){note}."
        )


@dataclass(frozen=True)
class Finished:
    """The last event of a run."""

    summary: RunSummary


Event = Converted | Failed | Skipped | Notice | Posted | Finished


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class PostSettings:
    """Where and how converted bundles are sent."""

    client: ClientSettings
    outbox: str = "fhir-adapter-outbox"
    workers: int = 1
    verify: bool = False
    window: int = 256  # bundles spooled and sent together; bounds what a run holds in memory
    allow_outbox_symlink: bool = False  # an outbox that is a symbolic link is refused unless asked


@dataclass(frozen=True)
class RunSettings:
    """One conversion run: its inputs, how cases are converted, and where they go.

    `output` is as `convert -o` takes it: a file, a directory, `-` for stdout, or None for stdout
    (nothing with posting, or with `write_stdout=False`).
    """

    inputs: tuple[str, ...]
    output: str | None = None
    out_format: Literal["bundle", "ndjson"] = "bundle"
    convert: ConvertOptions = ConvertOptions()
    jobs: int = 1
    mappings: str | None = None  # an overlay directory, loaded again by each worker process
    errors_to: str | None = None
    columns: str | None = None  # a column map for spreadsheets
    report: str | None = None
    post: PostSettings | None = None
    write_stdout: bool = True  # None as output means stdout (the CLI) or nothing (the library)

    def check(self) -> None:
        """Refuse settings that cannot work, before anything is read or written."""
        if self.post is not None and self.convert.bundle_type != "transaction":
            raise ConfigError("--post sends transaction bundles; leave out --type collection")
        if self.out_format == "ndjson" and not self.output:
            raise ConfigError(
                "--format ndjson writes one file per resource type: give a directory with -o DIR"
            )
        if self.out_format == "ndjson" and self.post is not None:
            raise ConfigError("--post sends bundles; use --format bundle with --post")
        if self.inputs.count(STDIN) > 1:
            raise ConfigError("- (stdin) can be given once")

    @property
    def single(self) -> bool:
        """One case file (or stdin) named alone: its bundle is written as one pretty document."""
        if len(self.inputs) != 1:
            return False
        item = self.inputs[0]
        return item == STDIN or (os.path.isfile(item) and kind_of(item) == "case file")


# ---------------------------------------------------------------------------------------------
# Conversion runs


def run(settings: RunSettings, terminology: Terminology | None = None) -> Iterator[Event]:
    """Convert every case of the inputs, write each to its sink (and send it), telling each step.

    Settings that cannot work raise ConfigError before the first event; an output that cannot be
    written (a full disk) raises OutputError and ends the run. A bad case never raises: it is a
    `Failed` event, and the run goes on.
    """
    settings.check()
    tables = TableOptions(columns=load_column_map(settings.columns) if settings.columns else None)
    terminology = terminology or load_terminology(settings.mappings)
    sink = _sink(settings)
    errors_dir = Path(settings.errors_to) if settings.errors_to else None
    if errors_dir is not None:
        try:
            errors_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--errors-to {errors_dir}: cannot make the directory: {exc.strerror}"
            ) from None
    log.info(
        "run started: %d input(s), format %s, %d job(s), terminology %s",
        len(settings.inputs),
        settings.out_format,
        settings.jobs,
        terminology.source,
    )
    limits = settings.convert.limits
    ledger = Ledger(first_of=lambda ordinal: source_at(settings.inputs, ordinal, limits, tables))
    summary = ledger.summary
    started = time.monotonic()
    results = convert_stream(
        iter_sources(settings.inputs, limits, summary.empty, tables=tables),
        terminology,
        settings.convert,
        ndjson=settings.out_format == "ndjson",
        jobs=settings.jobs,
        mappings=settings.mappings,
    )
    side: deque[Event] = deque()  # conversion events met while the push pulls bundles
    error_names: set[str] = set()  # the --errors-to files written in this run

    def converted() -> Iterator[Item | None]:
        """Convert, write and tell; yield each good case as a bundle to send (when posting), or
        None after each result (when not), so the caller passes its events on as they happen."""
        for ordinal, result in enumerate(results):
            item = record(ordinal, result)
            if item is not None or settings.post is None:
                yield item

    def record(ordinal: int, result: Result) -> Item | None:
        result = ledger.check_id(result, ordinal)
        event = ledger.add(result, ordinal)
        if event is None:
            return None
        if isinstance(event, Skipped):
            side.append(event)
            return None
        if isinstance(event, Failed):
            if errors_dir is not None:
                write_error_file(errors_dir, result, error_names)
            sink.fail(result)
            side.append(event)
            return None
        sink.write(result)
        if errors_dir is not None:
            clear_error_file(errors_dir, result.source, error_names)
        side.append(event)
        if settings.post is None:
            return None
        bundle = orjson.loads(result.bundle_json)
        return Item(outbox_key(bundle, result.case_id), result.source, bundle, result.origins)

    # A posting run reports every case's answer, spooled as the run goes; a conversion run only counts.
    report = ReportFile(Path(settings.report)) if settings.report and settings.post is not None else None
    try:
        if settings.post is None:
            for _ in converted():
                yield from _drain(side)  # one case's events at a time: memory stays flat
            yield from _drain(side)
        else:
            summary.push = PushSummary(redact_url(settings.post.client.base_url), settings.post.outbox)
            items = _warn_on_default_system(converted(), side)
            for result in _send(items, settings.post, stream=True):
                yield from _drain(side)
                _count_push(summary.push, result)
                if report is not None:
                    report.add(result.as_report())
                yield Posted(result)
            yield from _drain(side)
    except BaseException:
        # An output that cannot be written, Ctrl-C, or a caller that stopped listening: the sink
        # keeps its partial files partial, and no report claims a finished run.
        if report is not None:
            report.discard()
        sink.close()
        raise
    sink.close()
    ledger.close(time.monotonic() - started)
    for item in summary.empty:
        yield Notice("error", _empty_message(item))
    if report is not None:
        report.close(summary.report_head())
    elif settings.report:
        write_atomic(Path(settings.report), dumps(summary.report_head()))
    log.info(
        "run finished: %d of %d case(s) converted in %.1fs, %d failed",
        summary.converted,
        summary.cases,
        summary.elapsed,
        summary.failed,
    )
    if summary.cases == 0 and not summary.empty:
        note = f"; skipped {len(summary.skipped)} file(s) that are not case files" if summary.skipped else ""
        raise ConfigError(f"no case files found in {' '.join(settings.inputs)}{note}")
    yield Finished(summary)


def _sink(settings: RunSettings) -> Sink:
    """The sink of the run's output. An output (or --report) that could overwrite an input of the
    run is refused here, before anything is read or written."""
    places = input_places(settings.inputs)
    if settings.report:
        refuse_overwriting_file("--report", settings.report, places)
    if settings.output is None and not settings.write_stdout:
        return NullSink()
    return make_sink(
        settings.output, settings.out_format, settings.single, post=settings.post is not None, inputs=places
    )


class Ledger:
    """The accounting of one run, or of one Spark partition: counts, failures, warnings, the terms
    kept as text, and the case ids already used.

    `first_of(ordinal)` names the source at a position of the run, for the message about a case id
    used twice (`check_id`); without it no duplicate check is made (a Spark partition sees only
    part of the run, so Spark checks ids over the whole input instead).
    """

    def __init__(self, first_of: Callable[[int], str] | None = None):
        self.summary = RunSummary()
        self.tally = TermTally()
        self.first_of = first_of
        self.seen = SeenIds() if first_of is not None else None
        self.failure_order: list[int] = []  # each failure's position in the run, to merge parts in order

    def check_id(self, result: Result, ordinal: int) -> Result:
        """The result, or the failure it becomes when an earlier case of the run used its case id.

        Called before `add`, so that what is written for the case (its error document) is what is
        counted. Without `first_of` every result passes.
        """
        if result.ok and self.seen is not None and self.first_of is not None:
            earlier = self.seen.add(result.case_id, ordinal)
            if earlier is not None:
                return duplicate_error(result, self.first_of(earlier), self.seen.last_id)
        return result

    def add(self, result: Result, ordinal: int = 0) -> Converted | Failed | Skipped | None:
        """Count one result and say what it was; None for a file already skipped."""
        summary = self.summary
        if result.skipped is not None:
            if result.source in summary.skipped:
                return None
            summary.skipped[result.source] = result.skipped
            log.debug("skipped %s: %s", result.source, result.skipped)
            return Skipped(result.source, result.skipped)
        summary.cases += 1
        summary.warnings += len(result.warnings) + len(result.uncoded)
        if not result.ok:
            summary.failed += 1
            summary.first_failure = summary.first_failure or result.exit_code
            event = Failed(
                result.source, result.error or "not converted", result.exit_code, tuple(result.warnings)
            )
            summary.failures.append(event)
            self.failure_order.append(ordinal)
            log.debug("failed %s", result.source)
            return event
        self.tally.add(result.case_id or result.source, result.uncoded, ordinal)
        log.debug("converted %s -> case %s", result.source, result.case_id)
        return Converted(result.source, result.case_id, tuple(result.warnings))

    def merge(self, other: Ledger) -> None:
        """Add another ledger (another part of the run's) to this one.

        Failures and the tally keep the run's order by the positions `add` was given, whatever
        order the parts are merged in; without positions, a merged part counts as coming later.
        """
        mine, theirs = self.summary, other.summary
        mine.cases += theirs.cases
        mine.failed += theirs.failed
        mine.warnings += theirs.warnings
        failures = list(
            heapq.merge(
                zip(self.failure_order, mine.failures, strict=True),
                zip(other.failure_order, theirs.failures, strict=True),
                key=lambda pair: pair[0],
            )
        )
        self.failure_order = [order for order, _ in failures]
        mine.failures = [failure for _, failure in failures]
        mine.first_failure = next((f.exit_code for f in mine.failures if f.exit_code), 0)
        for file, what in theirs.skipped.items():
            mine.skipped.setdefault(file, what)
        self.tally.merge(other.tally)

    def close(self, elapsed: float) -> RunSummary:
        """The summary, with the time taken and the terms kept as text; the ids seen are let go."""
        if self.seen is not None:
            self.seen.close()
            self.seen = None
        self.summary.elapsed = elapsed
        self.summary.text_only = self.tally.lines()
        self.summary.text_only_report = self.tally.report()
        self.summary.text_only_beyond = self.tally.beyond_line()
        if self.tally.beyond_count:
            self.summary.text_only_not_listed = {
                "distinct_terms_estimated": self.tally.beyond_terms,
                "times": self.tally.beyond_count,
            }
        return self.summary

    def to_json(self) -> bytes:
        """The ledger as JSON, to carry a partition's accounting to the driver."""
        s = self.summary
        return orjson.dumps(
            {
                "cases": s.cases,
                "failed": s.failed,
                "warnings": s.warnings,
                "first_failure": s.first_failure,
                "failures": [[f.source, f.message, f.exit_code, list(f.warnings)] for f in s.failures],
                "failure_order": self.failure_order,
                "skipped": s.skipped,
                "tally": self.tally.dump(),
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Ledger:
        raw = orjson.loads(data)
        ledger = cls()
        s = ledger.summary
        s.cases, s.failed, s.warnings = raw["cases"], raw["failed"], raw["warnings"]
        s.first_failure = raw["first_failure"]
        s.failures = [Failed(src, msg, code, tuple(w)) for src, msg, code, w in raw["failures"]]
        ledger.failure_order = raw["failure_order"]
        s.skipped = dict(raw["skipped"])
        ledger.tally = TermTally.load(raw["tally"])
        return ledger


def _drain(side: deque) -> Iterator[Event]:
    while side:
        yield side.popleft()


def _empty_message(item: str) -> str:
    """A glob that matches nothing and a directory with no case file are the same mistake. A file
    that gives no case is a table of no rows or an NDJSON file of blank lines."""
    if os.path.isfile(item):
        what = "a table with a header and no rows" if kind_of(item) == "table" else "every line is blank"
        return f"{item}: no case in it: {what}"
    what = "no file matches" if not os.path.exists(item) else "no case file in it"
    hint = (
        f"; spreadsheets ({', '.join(TABLE_SUFFIXES)}) are read when named, e.g. {item.rstrip('/')}/*.csv"
        if os.path.isdir(item)
        else ""
    )
    return f"{item}: {what} (looked for {', '.join(CASE_SUFFIXES)}, .ndjson{hint})"


def write_error_file(directory: Path, result: Result, used: set[str] | None = None) -> None:
    """One file per failed case: its messages, then its warnings.

    `used` holds the names written earlier in the run. Sources whose names differ only in what a
    file name cannot hold (`a/x.yaml` and `a_x.yaml`, `café` and `cafê`) or in the
    case of their letters (one file on macOS and Windows) get a number, `-2`, instead of one
    replacing the other's errors.
    """
    name = _error_file_name(result.source)
    if used is not None:
        base, number = name, 1
        while name.casefold() in used:
            number += 1
            name = f"{base}-{number}"
        used.add(name.casefold())
    lines = [
        f"source: {result.source}",
        "errors:",
        *(f"  {line}" for line in (result.error or "").splitlines()),
    ]
    if result.warnings:
        lines += ["warnings:", *(f"  {w}" for w in result.warnings)]
    write_atomic(directory / f"{name}.error.txt", ("\n".join(lines) + "\n").encode())


def _error_file_name(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("._") or "case"


def clear_error_file(directory: Path, source: str, used: set[str]) -> None:
    """Remove the error file an earlier run left for a source that converts now.

    Error files of other sources stay (runs over parts of a collection may share a directory),
    but one that says a case failed beside that case's new bundle would be a lie. A name this run
    already wrote (another source that failed under the same name) is left alone.
    """
    name = _error_file_name(source)
    if name.casefold() in used:
        return
    try:
        (directory / f"{name}.error.txt").unlink()
    except FileNotFoundError:
        return
    log.info("removed %s: %s converts now", directory / f"{name}.error.txt", source)


# ---------------------------------------------------------------------------------------------
# Push runs


def _warn_on_default_system(items: Iterable[Item], side: deque) -> Iterator[Item]:
    """Pass items through; say once if a bundle names its case by the default identifier system.

    Resource ids derive from the system and the case id, so two collections that both number
    their cases case-1 under the default system overwrite each other on a shared server.
    """
    warned = False
    for item in items:
        identifier = item.bundle.get("identifier")
        system = identifier.get("system") if isinstance(identifier, dict) else None
        if not warned and system == DEFAULT_ID_SYSTEM:
            side.append(
                Notice(
                    "warning",
                    f"{item.source}: the case ids use the default identifier system ({DEFAULT_ID_SYSTEM});"
                    " on a server shared with other collections, set your registry's own with"
                    " convert --id-system URI (or case.id_system) so that equal case ids from elsewhere"
                    " cannot overwrite these",
                )
            )
            warned = True
        yield item


def _send(items: Iterable[Item], post: PostSettings, *, stream: bool) -> Iterator[PushResult]:
    client = FhirClient(post.client)
    outbox = Outbox(Path(post.outbox), allow_symlink=post.allow_outbox_symlink)
    yield from send_all(
        client, outbox, items, workers=post.workers, verify=post.verify, window=post.window, stream=stream
    )


def _count_push(push: PushSummary, result: PushResult) -> None:
    push.counts[result.status] = push.counts.get(result.status, 0) + 1
    if result.error is not None:
        push.exit_codes.append(result.error.exit_code)
    push.differing += bool(result.differences)
    log.debug("%s: %s", result.key, result.status)


def push_run(
    items: Iterable[Item],
    post: PostSettings,
    *,
    report: str | None = None,
    resume: bool = False,
    text_only: list[dict] | None = None,
) -> Iterator[Notice | Posted | Finished]:
    """Send bundles through the outbox, telling each answer; `Finished` carries the push summary.

    Every bundle is in the outbox's pending/ before the first is sent. With nothing to send,
    `resume` makes that a quiet success; without it, ConfigError.
    """
    side: deque = deque()
    summary = RunSummary(push=PushSummary(redact_url(post.client.base_url), post.outbox, resume=resume))
    assert summary.push is not None
    started = time.monotonic()
    reportfile = ReportFile(Path(report)) if report else None
    try:
        for result in _send(_warn_on_default_system(items, side), post, stream=False):
            yield from _drain(side)
            _count_push(summary.push, result)
            if reportfile is not None:
                reportfile.add(result.as_report())
            yield Posted(result)
        yield from _drain(side)
    except BaseException:
        if reportfile is not None:
            reportfile.discard()
        raise
    summary.elapsed = time.monotonic() - started
    if reportfile is not None:
        head: dict[str, Any] = {"server": summary.push.server, "summary": summary.push.counts}
        if text_only is not None:
            head["text_only"] = text_only
        reportfile.close(head)
    if summary.push.total == 0 and not resume:
        raise ConfigError("nothing to send: the inputs held no bundles and the outbox is empty")
    log.info("push finished: %s", summary.push.counts)
    yield Finished(summary)


# ---------------------------------------------------------------------------------------------
# The library's door


def convert_many(
    inputs: Sequence[str] | str,
    *,
    output: str | None = None,
    out_format: Literal["bundle", "ndjson"] = "bundle",
    options: ConvertOptions | None = None,
    terminology: Terminology | None = None,
    mappings: str | None = None,
    jobs: int = 1,
    errors_to: str | None = None,
    columns: str | None = None,
    report: str | None = None,
    post: PostSettings | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunSummary:
    """Convert case files, directories, globs, NDJSON and spreadsheets as `fhir-adapter convert` does.

    The same run as the command line: duplicate case ids refused, failed cases reported (and
    written to `errors_to`), terms kept as text tallied, bundles written to `output` (a directory,
    a file for one case, `-` for stdout; None writes nothing) and sent when `post` is given.
    Returns the RunSummary (its `failures` list every failed case, `exit_code` what the CLI would
    exit with); `on_event` sees every event as it happens. Settings that cannot work and outputs
    that cannot be written raise the AdapterError family.

        >>> summary = convert_many(["examples/"], output="out/")  # doctest: +SKIP
        >>> summary.converted, summary.failed  # doctest: +SKIP
        (7, 0)
    """
    if isinstance(inputs, str):
        inputs = [inputs]
    settings = RunSettings(
        inputs=tuple(inputs),
        output=output,
        out_format=out_format,
        convert=options or ConvertOptions(limits=DEFAULT_LIMITS),
        jobs=jobs,
        mappings=mappings,
        errors_to=errors_to,
        columns=columns,
        report=report,
        post=post,
        write_stdout=False,
    )
    for event in run(settings, terminology):
        if on_event is not None:
            on_event(event)
        if isinstance(event, Finished):
            return event.summary
    raise AdapterError("the run ended without a summary")  # pragma: no cover - run() always finishes
