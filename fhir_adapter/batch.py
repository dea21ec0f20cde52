"""Batch conversion: stream case files from files, directories and globs, on one or N cores."""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_context

from .casefile import DEFAULT_LIMITS, Limits, read_limited
from .convert import ConvertOptions, convert_bytes
from .errors import EXIT_INVALID_CASE, InvalidCaseError
from .sinks import ndjson_lines
from .tables import TABLE_SUFFIXES, TableOptions, table_sources
from .terminology import Terminology, load_terminology
from .writer import dumps

CASE_SUFFIXES = (".yaml", ".yml", ".json")
WINDOW = 512  # cases in flight at once: bounds memory however long the run


@dataclass(frozen=True)
class Source:
    """One case to convert: a file, or one line of an NDJSON file of cases, or why it cannot be read."""

    name: str
    path: str
    line: int | None = None  # 1-based line in an NDJSON file
    raw: bytes | None = None
    error: str | None = None  # found while listing the inputs (a symlink loop, an unreadable directory)
    listed: bool = False  # met while walking a directory, not named by the user
    doc: object | None = None  # a case already read (a table row), with .convert(terminology, options)


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


STDIN = "-"


def iter_sources(
    inputs: Iterable[str],
    limits: Limits = DEFAULT_LIMITS,
    empty: list[str] | None = None,
    tables: TableOptions | None = None,
) -> Iterator[Source]:
    """Expand files, directories (recursively), globs and - (stdin) into case sources, lazily.

    The order is stable. Nothing is skipped without a word: an unreadable directory, a symlink
    loop or an NDJSON line over the size limit each become a source that fails with its reason.
    Inputs that give no source at all (a glob that matches nothing, a directory with no case
    file) are appended to `empty`, so the caller can say so.
    """
    for item in inputs:
        count = 0
        if item == STDIN:
            count += 1
            yield Source("<stdin>", STDIN, raw=sys.stdin.buffer.read(limits.file_size + 1))
        elif any(ch in item for ch in "*?[") and not os.path.exists(item):
            for match in sorted(glob.iglob(item, recursive=True)):
                for source in _expand(match, limits, tables):
                    count += 1
                    yield source
        else:
            for source in _expand(item, limits, tables):
                count += 1
                yield source
        if count == 0 and empty is not None:
            empty.append(item)


def _is_case_name(name: str) -> bool:
    return name.endswith(CASE_SUFFIXES) and not name.endswith(".bundle.json") and not name.startswith(".")


def _tables(path: str, tables: TableOptions | None) -> Iterator[Source]:
    """One source per case of a spreadsheet (a row, or a row and its linked rows)."""
    for name, file, doc in table_sources(path, tables):
        yield Source(name, file, doc=doc)


def _expand(item: str, limits: Limits, tables: TableOptions | None = None) -> Iterator[Source]:
    if os.path.isdir(item):
        yield from _walk(item, limits, ())
    elif item.endswith(".ndjson"):
        yield from _ndjson(item, limits)
    elif item.lower().endswith(TABLE_SUFFIXES) and os.path.isfile(item):
        # Spreadsheets are read when named (or globbed), not found in directories: a folder of
        # case files often holds other tables, and examples/ holds its cases as tables too.
        yield from _tables(item, tables)
    else:
        yield Source(item, item)


def _walk(directory: str, limits: Limits, ancestors: tuple[tuple[int, int], ...]) -> Iterator[Source]:
    """The case files under a directory, in name order, following symlinks but never round a loop."""
    try:
        info = os.stat(directory)
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        yield Source(directory, directory, error=f"{directory}: cannot read the directory: {exc.strerror}")
        return
    here = (*ancestors, (info.st_dev, info.st_ino))
    subdirs = []
    for entry in entries:  # files first, then each subdirectory, as os.walk would
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            subdirs.append(entry)
        elif _is_case_name(entry.name):
            yield Source(entry.path, entry.path, listed=True)
        elif entry.name.endswith(".ndjson"):
            yield from _ndjson(entry.path, limits, listed=True)
    for entry in subdirs:
        try:
            target = os.stat(entry.path)
        except OSError as exc:
            yield Source(entry.path, entry.path, error=f"{entry.path}: cannot read: {exc.strerror}")
            continue
        if (target.st_dev, target.st_ino) in here:
            yield Source(
                entry.path,
                entry.path,
                error=f"{entry.path}: a symlink loop (it leads back to {os.path.realpath(entry.path)},"
                " which holds it); not followed",
            )
            continue
        yield from _walk(entry.path, limits, here)


def _ndjson(path: str, limits: Limits, listed: bool = False) -> Iterator[Source]:
    """One case per line; each line is converted (and fails) on its own, and none is read past the limit."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            yield Source(path, path, error=f"{path}: not a regular file; give an NDJSON file of cases")
            return
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError:
        yield Source(path, path)  # reported by the reader with its reason
        return
    with fh:
        number = 0
        while True:
            line = fh.readline(limits.file_size + 1)
            if not line:
                return
            number += 1
            if len(line) > limits.file_size and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):  # skip the rest of the long line
                    line = fh.readline(1 << 20)
                yield Source(
                    f"{path}:{number}",
                    path,
                    number,
                    error=f"{path}:{number}: the line is longer than the limit of {limits.file_size:,} bytes"
                    " for one case; raise it with --limit file-size=N if it is right",
                )
                continue
            if line.strip():
                yield Source(f"{path}:{number}", path, number, line, listed=listed)


def convert_source(source: Source, terminology: Terminology, options: ConvertOptions, ndjson: bool) -> Result:
    """Convert one source into a serialised Result; never raises for a bad case."""
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


def _init_worker(mappings: str | None, options: ConvertOptions, ndjson: bool) -> None:
    _worker["terminology"] = load_terminology(mappings)
    _worker["options"] = options
    _worker["ndjson"] = ndjson


def _convert_in_worker(source: Source) -> Result:
    return convert_source(source, _worker["terminology"], _worker["options"], _worker["ndjson"])


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
    ctx = get_context("forkserver" if os.name != "nt" else "spawn")
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(mappings, options, ndjson)) as pool:
        while True:
            window = list(islice(sources, WINDOW))
            if not window:
                break
            yield from pool.imap(_convert_in_worker, window, chunksize=max(1, len(window) // (jobs * 4)))


class SeenIds:
    """The case ids met so far in a run, in about 10 bytes each, to refuse an id used twice.

    A fixed 1 MiB Bloom filter answers "new" for almost every id at once; only when it says
    "maybe" is the array of 64-bit digests searched. The run's sources are not kept: the first
    file with an id is found again by its position when a duplicate turns up.
    """

    BITS = 1 << 23

    def __init__(self) -> None:
        self.bloom = bytearray(self.BITS // 8)
        self.digests = array("Q")
        self.ordinals = array("Q")

    @staticmethod
    def _digest(case_id: str) -> int:
        return int.from_bytes(hashlib.blake2b(case_id.encode(), digest_size=8).digest(), "little")

    def add(self, case_id: str, ordinal: int) -> int | None:
        """Record an id seen at source position `ordinal`; return the earlier position if it was seen."""
        digest = self._digest(case_id)
        bits = [(digest >> shift) % self.BITS for shift in (0, 21, 42)]
        maybe = all(self.bloom[b >> 3] & (1 << (b & 7)) for b in bits)
        if maybe and digest in self.digests:
            return self.ordinals[self.digests.index(digest)]
        for b in bits:
            self.bloom[b >> 3] |= 1 << (b & 7)
        self.digests.append(digest)
        self.ordinals.append(ordinal)
        return None


def source_at(
    inputs: Iterable[str], ordinal: int, limits: Limits = DEFAULT_LIMITS, tables: TableOptions | None = None
) -> str:
    """The name of the source at a position of a run (walks the inputs again)."""
    return next(islice(iter_sources(inputs, limits, tables=tables), ordinal, None)).name


def duplicate_error(result: Result, first: str) -> Result:
    """The result for a case whose id an earlier case of the same run already used."""
    message = (
        f"{result.source}: case id '{result.case_id}' is already used by {first} in this run;"
        " give each case its own case.id"
    )
    return Result(
        result.source, warnings=result.warnings, error=message, exit_code=InvalidCaseError.exit_code
    )
