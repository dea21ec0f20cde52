"""Batch conversion: stream case files from files, directories and globs, on one or N cores."""

from __future__ import annotations

import glob
import hashlib
import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing import get_context
from pathlib import Path

import orjson

from .convert import ConvertOptions, convert_bytes
from .errors import EXIT_INVALID_CASE, InvalidCaseError
from .tables import TABLE_SUFFIXES, TableOptions, table_sources
from .terminology import Terminology, load_terminology
from .writer import dumps

CASE_SUFFIXES = (".yaml", ".yml", ".json")
WINDOW = 512  # cases in flight at once: bounds memory however long the run


@dataclass(frozen=True)
class Source:
    """One case to convert: a file, or one line of an NDJSON file of cases."""

    name: str
    path: str
    line: int | None = None  # 1-based line in an NDJSON file
    raw: bytes | None = None
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
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def iter_sources(inputs: Iterable[str], tables: TableOptions | None = None) -> Iterator[Source]:
    """Expand files, directories (recursively) and globs into case sources, lazily and in a stable order."""
    for item in inputs:
        if any(ch in item for ch in "*?[") and not os.path.exists(item):
            matches = sorted(glob.iglob(item, recursive=True))
            if not matches:
                yield Source(item, item)  # reported as unreadable: the pattern matched nothing
            for match in matches:
                yield from _expand(match, tables)
        else:
            yield from _expand(item, tables)


def _tables(path: str, tables: TableOptions | None) -> Iterator[Source]:
    """One source per case of a spreadsheet (a row, or a row and its linked rows)."""
    for name, file, doc in table_sources(path, tables):
        yield Source(name, file, doc=doc)


def _expand(item: str, tables: TableOptions | None = None) -> Iterator[Source]:
    if os.path.isdir(item):
        for root, dirs, files in os.walk(item):
            dirs.sort()
            for name in sorted(files):
                if (
                    name.endswith(CASE_SUFFIXES)
                    and not name.endswith(".bundle.json")
                    and not name.startswith(".")
                ):
                    path = os.path.join(root, name)
                    yield Source(path, path)
                elif name.endswith(".ndjson"):
                    yield from _ndjson(os.path.join(root, name))
    elif item.endswith(".ndjson"):
        yield from _ndjson(item)
    elif item.lower().endswith(TABLE_SUFFIXES) and os.path.isfile(item):
        # Spreadsheets are read when named (or globbed), not found in directories: a folder of
        # case files often holds other tables, and examples/ holds its cases as tables too.
        yield from _tables(item, tables)
    else:
        yield Source(item, item)


def _ndjson(path: str) -> Iterator[Source]:
    """One case per line; each line is converted (and fails) on its own."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError:
        yield Source(path, path)
        return
    with fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                yield Source(f"{path}:{number}", path, number, line)


def convert_source(source: Source, terminology: Terminology, options: ConvertOptions, ndjson: bool) -> Result:
    """Convert one source into a serialised Result; never raises for a bad case."""
    name = source.name if source.line is None else f"{source.name}.json"
    if source.doc is not None:
        outcome = source.doc.convert(terminology, options)  # type: ignore[attr-defined]
    else:
        raw = source.raw
        if raw is None:
            try:
                raw = Path(source.path).read_bytes()
            except OSError as exc:
                return Result(
                    source.name,
                    error=f"{source.name}: cannot read the file: {exc.strerror}",
                    exit_code=EXIT_INVALID_CASE,
                )
        outcome = convert_bytes(name, raw, terminology, options)
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
    result = Result(
        source.name,
        case_id=outcome.conversion.case_id,
        warnings=outcome.warnings,
        origins=outcome.conversion.origins,
    )
    if ndjson:
        result.resources = [
            (e["resource"]["resourceType"], orjson.dumps(e["resource"]) + b"\n") for e in bundle["entry"]
        ]
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


def source_at(inputs: Iterable[str], ordinal: int, tables: TableOptions | None = None) -> str:
    """The name of the source at a position of a run (walks the inputs again)."""
    return next(islice(iter_sources(inputs, tables), ordinal, None)).name


def duplicate_error(result: Result, first: str) -> Result:
    """The result for a case whose id an earlier case of the same run already used."""
    message = (
        f"{result.source}: case id '{result.case_id}' is already used by {first} in this run;"
        " give each case its own case.id"
    )
    return Result(
        result.source, warnings=result.warnings, error=message, exit_code=InvalidCaseError.exit_code
    )
