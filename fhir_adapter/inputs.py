"""Inputs: which reader a path needs, decided in one place, and the sources every reader yields.

A path is a directory (walked for case files and NDJSON), an NDJSON file of cases (one per line),
a table (.csv, .tsv, .xlsx) or a case file (YAML, JSON). A table is then offered to the table
layouts in the order of TABLE_LAYOUTS, and the first that recognises its headers reads it:
the mCODE Extraction Framework's tables (mef.py), linked tables (a cases table with one table per
list, tables.py), or one flat table (tables.py). The readers never import one another; each only
reads cells through sheets.py and yields (name, path, doc) rows.
"""

from __future__ import annotations

import glob
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from . import mef, tables
from .casefile import DEFAULT_LIMITS, Limits, read_line, wide_encoding
from .sheets import (
    TABLE_SUFFIXES,
    ErrorDoc,
    ReadWith,
    Row,
    TableError,
    TableOptions,
    Tables,
    open_tables,
    open_workbook,
)

CASE_SUFFIXES = (".yaml", ".yml", ".json")
# NDJSON, also known as JSON Lines (.jsonl). Suffixes match in any case: CASE-1.YAML is a case file.
NDJSON_SUFFIX = (".ndjson", ".jsonl")
STDIN = "-"


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


@dataclass(frozen=True)
class TableLayout:
    """A layout of tables: its name, and its reader (None when the tables are not in this layout)."""

    name: str
    read: Callable[[Tables, TableOptions], Iterator[Row] | None]


# In this order: the framework's tables are recognised by their own column lists, so they are
# tried first; a table that is neither theirs nor linked is read as one flat table.
TABLE_LAYOUTS: tuple[TableLayout, ...] = (
    TableLayout("mCODE Extraction Framework tables", mef.mef_sources),
    TableLayout("linked tables", tables.linked_sources),
    TableLayout("flat table", tables.flat_sources),
)


class InputPlaces:
    """Where a run's inputs are: the directories it walks and the files it is given (globs
    expanded), each as its resolved directory and name, so that an output can be refused before
    it overwrites one of them. The files are listed again on each call, never held."""

    def __init__(self, inputs: Iterable[str]):
        self.inputs = tuple(i for i in inputs if i != STDIN)
        self.walked = tuple(path for path, is_dir in self._named() if is_dir)

    def _named(self) -> Iterator[tuple[str, bool]]:
        for item in self.inputs:
            if any(ch in item for ch in "*?[") and not os.path.exists(item):
                matches: Iterable[str] = sorted(glob.iglob(item, recursive=True))
            else:
                matches = (item,)
            for match in matches:
                is_dir = os.path.isdir(match)
                yield (os.path.realpath(match) if is_dir else located(match)), is_dir

    def files(self) -> Iterator[str]:
        """The files named, as located()."""
        return (path for path, is_dir in self._named() if not is_dir)

    def walked_into(self, path: str) -> str | None:
        """The walked input directory that `path` (resolved) is, or lies inside, if any."""
        return next((d for d in self.walked if path == d or path.startswith(d.rstrip(os.sep) + os.sep)), None)

    def walks_to(self, path: str) -> str | None:
        """The walked input directory in which the file at `path` (as located()) would be read as a
        case file, if any."""
        return self.walked_into(path) if is_case_name(os.path.basename(path)) else None


@lru_cache(maxsize=1024)
def _real_directory(directory: str) -> str:
    return os.path.realpath(directory or ".")


def located(path: str) -> str:
    """A file's place: its directory resolved (symlinks, ..), its own name kept. Writing a file
    there (through a temporary file and a rename) replaces that name, whatever it links to."""
    directory, name = os.path.split(path)
    return os.path.join(_real_directory(directory), name)


def input_places(inputs: Iterable[str]) -> InputPlaces:
    """The places `iter_sources(inputs)` reads, without reading them."""
    return InputPlaces(inputs)


def kind_of(path: str) -> str:
    """Which reader a path named on the command line needs: directory, ndjson, table or case file."""
    if os.path.isdir(path):
        return "directory"
    if path.lower().endswith(NDJSON_SUFFIX):
        return "ndjson"
    if path.lower().endswith(TABLE_SUFFIXES) and os.path.isfile(path):
        return "table"
    return "case file"


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
    options = replace(tables or TableOptions(), limits=limits)
    inputs = list(inputs)  # a table another table reads is looked for among them (_read_with)
    given: set[tuple[int, int]] | None = None  # the files the inputs name, found once a run
    for item in inputs:
        count = 0
        if item == STDIN:
            count += 1
            yield Source("<stdin>", STDIN, raw=sys.stdin.buffer.read(limits.file_size + 1))
        else:
            for match in _matches(item):
                for source in _expand(match, options):
                    count += 1
                    if isinstance(source.doc, ReadWith):
                        if given is None:
                            given = _files_named(inputs)
                        source = _read_with(source, source.doc, given)
                        if source is None:
                            continue
                    yield source
        if count == 0 and empty is not None:
            empty.append(item)


def _matches(item: str) -> list[str]:
    """The paths an input names: the files a glob matches, or itself."""
    if any(ch in item for ch in "*?[") and not os.path.exists(item):
        return sorted(glob.iglob(item, recursive=True))
    return [item]


def _files_named(inputs: list[str]) -> set[tuple[int, int]]:
    """The files the inputs name (globs expanded), as (device, inode): looked up once a run, not
    once for each linked table, which expanded every glob again."""
    found = set()
    for item in inputs:
        for match in _matches(item) if item != STDIN else ():
            try:
                info = os.stat(match)
            except OSError:
                continue
            found.add((info.st_dev, info.st_ino))
    return found


def _read_with(source: Source, read_with: ReadWith, given: set[tuple[int, int]]) -> Source | None:
    """A table that another table reads (primaries.csv, by cases.csv): nothing of its own when that
    table is an input too (`given`: the files the inputs name), else an error naming it, as its
    rows would not be read."""
    try:
        info = os.stat(read_with.root)
    except OSError:
        info = None
    if info is not None and (info.st_dev, info.st_ino) in given:
        return None
    return Source(
        source.name,
        source.path,
        error=f"{source.path}: its rows are read with {read_with.root}, which is not among the inputs;"
        f" name {read_with.root} (it reads the tables beside it)",
    )


def is_case_name(name: str) -> bool:
    """Whether a file met in a directory is read as a case file."""
    lowered = name.lower()
    return (
        lowered.endswith(CASE_SUFFIXES) and not lowered.endswith(".bundle.json") and not name.startswith(".")
    )


def _expand(item: str, options: TableOptions) -> Iterator[Source]:
    kind = kind_of(item)
    if kind == "directory":
        yield from _walk(item, options.limits, ())
    elif kind == "ndjson":
        yield from _ndjson(item, options.limits)
    elif kind == "table":
        # Spreadsheets are read when named (or globbed), not found in directories: a folder of
        # case files often holds other tables, and examples/ holds its cases as tables too.
        for name, file, doc in table_sources(item, options):
            yield Source(name, file, doc=doc)
    else:
        yield Source(item, item)


def table_sources(path: str, options: TableOptions | None = None) -> Iterator[Row]:
    """Every case a table file holds, as (name, path, doc); a file that cannot be read is one error."""
    options = options or TableOptions()
    try:
        yield from _table_sources(path, options)
    except TableError as exc:
        yield path, path, ErrorDoc(path, str(exc))


def _table_sources(path: str, options: TableOptions) -> Iterator[Row]:
    # A workbook is opened once for all its sheets: opening one reads its shared strings whole.
    book = open_workbook(path) if path.lower().endswith(".xlsx") else None
    try:
        found = open_tables(path, book, options.limits)
        for layout in TABLE_LAYOUTS:
            rows = layout.read(found, options)
            if rows is not None:
                yield from rows
                return
    finally:
        if book is not None:
            book.close()


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
        elif is_case_name(entry.name):
            yield Source(entry.path, entry.path, listed=True)
        elif entry.name.lower().endswith(NDJSON_SUFFIX):
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
            line = read_line(fh, limits.file_size + 1)
            if not line:
                return
            number += 1
            if number == 1 and wide_encoding(line):
                # Read line by line, UTF-16 would be split inside its characters: one error per file.
                yield Source(
                    path,
                    path,
                    error=f"{path}: the file is UTF-16 or UTF-32 text; save it as UTF-8 (one case per line)",
                )
                return
            if len(line) > limits.file_size and not line.endswith((b"\n", b"\r")):
                while line and not line.endswith((b"\n", b"\r")):  # skip the rest of the long line
                    line = read_line(fh, 1 << 20)
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
