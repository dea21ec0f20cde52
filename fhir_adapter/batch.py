"""Batch conversion: stream case files from files, directories and globs, on one or N cores."""

from __future__ import annotations

import logging
import os
import select
import signal
import sqlite3
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_context
from pathlib import Path

from .casefile import DEFAULT_LIMITS, Limits, read_limited
from .convert import ConvertOptions, convert_bytes
from .errors import EXIT_INVALID_CASE, ConfigError, InvalidCaseError
from .inputs import CASE_SUFFIXES as CASE_SUFFIXES  # re-exported: the listing lives in inputs.py
from .inputs import STDIN as STDIN
from .inputs import Source, iter_sources
from .sheets import TableOptions
from .sinks import ndjson_lines
from .terminology import Terminology, load_terminology
from .writer import dumps

log = logging.getLogger(__name__)

WINDOW = 512  # cases in flight at once: bounds memory however long the run


@dataclass
class Result:
    """What the conversion of one case produced, already serialised (cheap to pass between processes)."""

    source: str
    case_id: str | None = None
    bundle_json: bytes | None = None
    resources: list[tuple[str, bytes]] = field(default_factory=list)  # (resourceType, one NDJSON line)
    origins: dict[str, str] = field(default_factory=dict)  # resource id -> case-file field
    warnings: list[str] = field(default_factory=list)
    # Terms kept as text only: (map file, term, case-file field, reason); tallied across the run.
    uncoded: list[tuple[str, str, str, str]] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    skipped: str | None = None  # a file met in a directory that is no case file, and what it is

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None


def convert_source(source: Source, terminology: Terminology, options: ConvertOptions, ndjson: bool) -> Result:
    """Convert one source into a serialised Result; never raises for a bad case.

    A fault of fhir-adapter's own that one case sets off (an exception no AdapterError, even
    MemoryError) fails that case alone, named as such, and the run goes on.
    """
    try:
        return _convert_source(source, terminology, options, ndjson)
    except Exception as exc:  # noqa: BLE001 - one case's fault must not end everyone's run
        return Result(source.name, error=internal_error(source.name, exc), exit_code=EXIT_INVALID_CASE)


def internal_error(name: str, exc: BaseException) -> str:
    """The message for a case whose conversion raised what no bad input should: the exception and
    the line of fhir-adapter it came from, so that the fault can be reported and found."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        parts = Path(frame.filename).parts
        if "fhir_adapter" in parts:
            where = f" at {'/'.join(parts[parts.index('fhir_adapter') :])}:{frame.lineno}"
            break
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return (
        f"{name}: fhir-adapter failed on this case with an internal error ({what}{where}); the fault is"
        " fhir-adapter's, not necessarily the case's: please report it with this message. The other"
        " cases of the run are not affected"
    )


def _convert_source(
    source: Source, terminology: Terminology, options: ConvertOptions, ndjson: bool
) -> Result:
    if source.error is not None:
        return Result(source.name, error=source.error, exit_code=EXIT_INVALID_CASE)
    name = source.name if source.line is None else f"{source.name}.json"
    if source.doc is not None:
        outcome = source.doc.convert(terminology, options)  # type: ignore[attr-defined]
    else:
        raw = source.raw
        if raw is None:
            try:
                raw = read_limited(source.path, source.name, options.limits)
            except InvalidCaseError as exc:
                return Result(source.name, error=str(exc), exit_code=exc.exit_code)
        outcome = convert_bytes(name, raw, terminology, options, skip_non_cases=source.listed)
    if outcome.skipped is not None:
        return Result(source.path, skipped=outcome.skipped)  # the file, not the NDJSON line
    if outcome.conversion is None:
        assert outcome.error is not None
        message = str(outcome.error)
        if source.line is not None:
            # The case is line N of the NDJSON file: its own line 1 is that line.
            message = message.replace(f"{name}:1:", f"{source.name}:").replace(name, source.name)
        return Result(
            source.name, warnings=outcome.warnings, error=message, exit_code=outcome.error.exit_code
        )
    bundle = outcome.conversion.bundle
    uncoded = outcome.conversion.uncoded
    text_only = {u.message() for u in uncoded}
    result = Result(
        source.name,
        case_id=outcome.conversion.case_id,
        # A table row's warnings lead with its cell; the text-only ones are tallied instead.
        warnings=[w for w in outcome.warnings if not any(w.endswith(m) for m in text_only)],
        uncoded=[(u.map_file, u.term, u.field, u.reason) for u in uncoded],
        origins=outcome.conversion.origins,
    )
    if ndjson:
        result.resources = ndjson_lines(bundle)
    else:
        result.bundle_json = dumps(bundle)
    return result


# Worker state, set once per process by _init_worker.
_worker: dict = {}


def _init_worker(run_pid: int, mappings: str | None, options: ConvertOptions, ndjson: bool) -> None:
    _end_with(run_pid)
    # Ctrl-C reaches the whole process group: the run's process stops the run and its workers;
    # a worker's own KeyboardInterrupt would only add tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker["terminology"] = load_terminology(mappings)
    _worker["options"] = options
    _worker["ndjson"] = ndjson


def _end_with(run_pid: int) -> None:
    """End this worker when the run's process ends, however it ends.

    A run killed by SIGTERM or kill -9 gets no chance to stop its workers, and they would wait
    for work forever (each holds its own queue open), keeping the run's stderr open too, so a
    pipe such as `convert ... 2>&1 | tee log` would never end. A thread waits for the run's
    process to end (a pidfd on Linux, a check each second elsewhere) and ends the worker. Not on
    Windows, where os.kill(pid, 0) would end the run's process instead of asking after it.
    """
    if os.name == "nt":
        return

    def watch() -> None:
        try:
            pidfd = os.pidfd_open(run_pid)
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None:
            poller = select.poll()  # not select(): a worker's descriptors may number past 1024
            poller.register(pidfd, select.POLLIN)
            poller.poll()  # readable once the process has ended
        else:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(run_pid, 0)
                except ProcessLookupError:
                    break
        os._exit(1)

    threading.Thread(target=watch, name="end-with-run", daemon=True).start()


def _ready() -> None:
    """A first task: its answer says the workers have started."""


def _convert_in_worker(sources: list[Source]) -> list[Result]:
    return [convert_source(s, _worker["terminology"], _worker["options"], _worker["ndjson"]) for s in sources]


def worker_died(source: Source) -> Result:
    """The result for a case whose worker process ended without an answer (killed, out of memory)."""
    return Result(
        source.name,
        error=(
            f"{source.name}: the process converting this case ended without an answer (killed, or"
            " out of memory); nothing was written for it. Convert it alone (--jobs 1) to see whether"
            " it needs more memory than the machine has"
        ),
        exit_code=EXIT_INVALID_CASE,
    )


class _Workers:
    """A pool of converting processes that survives the death of one.

    When a worker dies (kill -9, the kernel's out-of-memory killer) every case it held would be
    lost, and a multiprocessing.Pool would wait for them forever. Here the pool is started again,
    each unanswered case is converted alone, and a case that ends its worker again is reported as
    failed; every other case of the run is converted as if nothing had happened.
    """

    def __init__(self, jobs: int, mappings: str | None, options: ConvertOptions, ndjson: bool):
        self.jobs = jobs
        self.initargs = (os.getpid(), mappings, options, ndjson)
        self.ctx = get_context("forkserver" if os.name != "nt" else "spawn")
        self.pool = self._start()
        self.broken = False

    def _start(self) -> ProcessPoolExecutor:
        """A pool whose workers have started; ConfigError when they end as they start."""
        pool = ProcessPoolExecutor(
            self.jobs, mp_context=self.ctx, initializer=_init_worker, initargs=self.initargs
        )
        try:
            pool.submit(_ready).result()
        except BrokenProcessPool:
            pool.shutdown(wait=True, cancel_futures=True)
            # Else every case would fail as if its worker had been killed, or (multiprocessing.Pool)
            # the run would wait forever.
            raise ConfigError(
                "--jobs: the worker processes end as they start, before converting anything."
                ' From a script, call convert_many(..., jobs=N) under `if __name__ == "__main__":`'
                " (each worker imports the script again), or use one job"
            ) from None
        return pool

    def convert(self, window: list[Source]) -> Iterator[Result]:
        """The window's results in its order."""
        size = max(1, len(window) // (self.jobs * 4))
        chunks = [window[i : i + size] for i in range(0, len(window), size)]
        futures = [self._submit(chunk) for chunk in chunks]
        for i, chunk in enumerate(chunks):
            if _lost(futures[i]):
                # A worker died: this chunk's cases go one by one to a new pool, to find the one
                # that ends its worker; the later chunks the old pool lost go to the new pool.
                self.broken = True
                results = [self._alone(source) for source in chunk]
                futures[i + 1 :] = [
                    self._submit(later) if _lost(future) else future
                    for later, future in zip(chunks[i + 1 :], futures[i + 1 :], strict=True)
                ]
            elif futures[i].exception() is not None:
                # An answer that could not come back (one that cannot be pickled): find whose.
                results = [self._alone(source) for source in chunk]
            else:
                results = futures[i].result()
            yield from results

    def _submit(self, chunk: list[Source]) -> Future:
        if not self.broken:
            try:
                return self.pool.submit(_convert_in_worker, chunk)
            except BrokenProcessPool:
                pass  # a worker died since the last answer
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self._start()
        self.broken = False
        return self.pool.submit(_convert_in_worker, chunk)

    def _alone(self, source: Source) -> Result:
        """One case alone in a sound pool: a pool that breaks now broke for this case."""
        future = self._submit([source])
        exc = future.exception()
        if exc is None:
            return future.result()[0]
        if not isinstance(exc, BrokenProcessPool):
            if not isinstance(exc, Exception):
                raise exc  # Ctrl-C in the worker: the run stops
            return Result(source.name, error=internal_error(source.name, exc), exit_code=EXIT_INVALID_CASE)
        log.warning("the worker converting %s ended without an answer", source.name)
        self.broken = True
        return worker_died(source)

    def close(self, *, stop: bool = False) -> None:
        """Let the workers finish and end; with `stop` (Ctrl-C, a consumer that stopped listening),
        end them at once: a case that never ends would otherwise hold the run open."""
        if stop:
            terminate = getattr(self.pool, "terminate_workers", None)  # Python 3.14+
            if terminate is not None:
                terminate()
            else:
                for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                    process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _lost(future: Future) -> bool:
    """Whether a chunk's answer was lost with its worker (waits for the answer)."""
    return isinstance(future.exception(), BrokenProcessPool)


def convert_stream(
    sources: Iterable[Source],
    terminology: Terminology,
    options: ConvertOptions,
    *,
    ndjson: bool = False,
    jobs: int = 1,
    mappings: str | None = None,
) -> Iterator[Result]:
    """Convert sources in input order; with jobs > 1 on that many processes, a window at a time."""
    sources = iter(sources)
    if jobs <= 1:
        for source in sources:
            yield convert_source(source, terminology, options, ndjson)
        return
    workers = _Workers(jobs, mappings, options, ndjson)
    try:
        while True:
            window = list(islice(sources, WINDOW))
            if not window:
                break
            yield from workers.convert(window)
    except BaseException:
        # Ctrl-C, a full disk, or a consumer that stopped: the cases in flight are dropped.
        workers.close(stop=True)
        raise
    workers.close()


class SeenIds:
    """The case ids met so far in a run, to refuse an id used twice, kept on disk.

    Each id is kept whole, with the position of its source, in a private temporary SQLite table
    keyed by the id (deleted when closed; SQLite's page cache of about 2 MB is all it holds in
    memory), so memory stays flat, each id costs the same few microseconds at a million cases as
    at a thousand, and no two ids can be taken for one (a digest could collide). The run's sources are not kept: the first file with an id
    is found again by its position when a duplicate turns up.
    """

    def __init__(self) -> None:
        # "" opens a private temporary database on disk; no journal and no sync: nothing outlives it.
        self.db = sqlite3.connect("", isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("BEGIN")  # one transaction for the whole run, never committed
        # Keyed by the id in lower case (ids are ASCII): ids that differ only in case name the same
        # file (<id>.json, in -o and the outbox) on a file system that ignores case, as on macOS
        # and Windows, where one bundle would replace the other.
        self.db.execute(
            "CREATE TABLE seen (folded TEXT PRIMARY KEY, id TEXT NOT NULL, ordinal INTEGER NOT NULL) WITHOUT ROWID"
        )
        self.last_id: str | None = None

    def add(self, case_id: str, ordinal: int) -> int | None:
        """Record an id seen at source position `ordinal`; return the earlier position if it (or the
        same id in another case) was seen, and keep the earlier spelling in `last_id`."""
        folded = case_id.lower()
        if self.db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (folded, case_id, ordinal)
        ).rowcount:
            return None
        ordinal, self.last_id = self.db.execute(
            "SELECT ordinal, id FROM seen WHERE folded = ?", (folded,)
        ).fetchone()
        return ordinal

    def close(self) -> None:
        self.db.close()


def source_at(
    inputs: Iterable[str], ordinal: int, limits: Limits = DEFAULT_LIMITS, tables: TableOptions | None = None
) -> str:
    """The name of the source at a position of a run (walks the inputs again)."""
    return next(islice(iter_sources(inputs, limits, tables=tables), ordinal, None)).name


def duplicate_error(result: Result, first: str, first_id: str | None = None) -> Result:
    """The result for a case whose id an earlier case of the same run already used (`first_id`:
    as that case spelled it, when only the case of its letters differs)."""
    if first_id is not None and first_id != result.case_id:
        message = (
            f"{result.source}: case id '{result.case_id}' differs only in the case of its letters from"
            f" '{first_id}' of {first} in this run; on a file system that ignores case (macOS,"
            " Windows) their bundle files are one file; give each case an id of its own"
        )
    else:
        message = (
            f"{result.source}: case id '{result.case_id}' is already used by {first} in this run;"
            " give each case its own case.id"
        )
    return Result(
        result.source, warnings=result.warnings, error=message, exit_code=InvalidCaseError.exit_code
    )
