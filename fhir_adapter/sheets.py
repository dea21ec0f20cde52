"""Tables as rows: CSV, TSV and .xlsx sheets read as rows of cell texts, and the case documents
table readers build from rows.

Every table reader (tables.py for the case format's own layouts, mef.py for the mCODE Extraction
Framework's) reads cells through this module and assembles a case as a TableCase, so messages
name the file, sheet, row and column the same way whatever the layout. No reader imports another;
inputs.py decides which one a path needs.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import ChainMap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .casefile import DEFAULT_LIMITS, Limits, _parse_dotted, dotted, parse_case
from .convert import ConvertOptions, Outcome, convert_case_with
from .errors import AdapterError, InvalidCaseError
from .terminology import Concept, Terminology

if TYPE_CHECKING:
    from .tables import ColumnMap

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
LIST_SEP = ";"
Path_ = tuple[str | int, ...]
Row = tuple[str, str, Any]  # (source name, path, doc with .convert(terminology, options))


@dataclass(frozen=True)
class TableOptions:
    """How tables are read: the bounds of one case (--limit), and a column map for headers that differ."""

    columns: ColumnMap | None = None  # tables.py's --columns map; the framework's layout has fixed columns
    limits: Limits = DEFAULT_LIMITS


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the column as a spreadsheet shows it."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def cell_text(value: Any) -> str | None:
    """A cell as the text the case format expects; None for an empty cell."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Table:
    """One table: a CSV/TSV file or a sheet of a workbook; rows as lists of cell texts."""

    file: str
    sheet: str | None = None
    # The open workbook of a sheet: opening one reads its whole shared-strings table, so it is
    # opened once per file, not once per sheet or pass.
    book: Any = field(default=None, repr=False, compare=False)
    limits: Limits = field(default=DEFAULT_LIMITS, repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.file if self.sheet is None else f"{self.file}, sheet '{self.sheet}'"

    def rows(self) -> Iterator[tuple[int, list[str | None]]]:
        """(row number, cells) for every row, the header being row 1; lazily."""
        if self.sheet is None:
            yield from _csv_rows(self.file)
        else:
            yield from _sheet_rows(self)


class TableError(Exception):
    """A table that cannot be read at all (not text, not a workbook, no header)."""


def _decoded_lines(fh, path: str) -> Iterator[str]:
    """The lines of a binary file as text, so a byte that is not UTF-8 is named by its line."""
    for number, line in enumerate(fh, start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise TableError(
                f"{path}, line {number}: the file is not UTF-8 text (byte 0x{line[exc.start]:02x});"
                " save it as CSV UTF-8"
            ) from None


def _csv_rows(path: str) -> Iterator[tuple[int, list[str | None]]]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file: {exc.strerror}") from None
    number = 0
    with fh:
        first = fh.readline()
        fh.seek(0)
        if path.lower().endswith(".tsv"):
            delimiter = "\t"
        else:
            # Spreadsheet programs in many locales save CSV with ';' between cells.
            delimiter = ";" if first.count(b";") > first.count(b",") else ","
        try:
            for number, row in enumerate(csv.reader(_decoded_lines(fh, path), delimiter=delimiter), start=1):
                yield number, [cell_text(c) for c in row]
        except csv.Error as exc:
            raise TableError(f"{path}, row {number + 1}: not a readable CSV row ({exc})") from None


def open_workbook(path: str):
    # openpyxl in read-only mode streams a sheet's XML row by row, so memory stays flat.
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file: {exc.strerror}") from None
    except Exception as exc:  # zipfile, XML and openpyxl errors all mean the same to a person
        raise TableError(f"{path}: not an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None


def _sheet_rows(table: Table) -> Iterator[tuple[int, list[str | None]]]:
    own = table.book is None
    wb = open_workbook(table.file) if own else table.book
    try:
        for number, row in enumerate(wb[table.sheet].iter_rows(min_row=1, values_only=True), start=1):
            yield number, [cell_text(c) for c in row]
    finally:
        if own:
            wb.close()


def header(table: Table) -> tuple[list[str | None], Iterator[tuple[int, list[str | None]]]]:
    rows = table.rows()
    for _, cells in rows:
        if any(c is not None for c in cells):
            return cells, rows
    raise TableError(
        f"{table.label}: the table is empty; its first row names the columns (see fhir-adapter template)"
    )


@dataclass
class Tables:
    """What one table path offers its readers: a CSV/TSV file, or the sheets of a workbook, with headers.

    Sheets whose name starts with _ and empty sheets are left out (Sheet2 of a new workbook holds
    nothing to lose).
    """

    path: str
    tables: dict[str, Table]  # by sheet name; a CSV file is one table under its path
    headers: dict[str, list[str | None]]
    workbook: bool

    @property
    def only(self) -> Table:
        return next(iter(self.tables.values()))


def open_tables(path: str, book: Any, limits: Limits) -> Tables:
    """The tables of a CSV/TSV file, or of an open workbook; TableError if none has a header."""
    if book is None:
        table = Table(path, limits=limits)
        return Tables(path, {path: table}, {path: header(table)[0]}, workbook=False)
    found = Tables(path, {}, {}, workbook=True)
    for sheet in book.sheetnames:
        if sheet.startswith("_"):
            continue
        table = Table(path, sheet, book, limits)
        try:
            found.headers[sheet] = header(table)[0]
        except TableError:
            continue
        found.tables[sheet] = table
    if not found.tables:
        raise TableError(f"{path}: every sheet is empty; the first row of a sheet names its columns")
    return found


# --- Rows into case data ---------------------------------------------------------------------


def row_name(table: Table, number: int) -> str:
    """A row as messages name it: the table (file, sheet) and the row number."""
    return f"{table.label}, row {number}"


def put(data: dict, path: Path_, value: Any) -> None:
    node: Any = data
    for part, nxt in zip(path, path[1:], strict=False):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            node = node.setdefault(part, [] if isinstance(nxt, int) else {})
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append({})
        node[last] = value
    else:
        node[last] = value


@dataclass
class TableCase:
    """A case assembled from table rows: data as a case file would give it, and where each part came from.

    Quacks like casefile.CaseFile (name, data, where) so validation messages name columns.
    """

    name: str
    data: dict = field(default_factory=dict)
    # path -> (location, has a column); a row-level location lacks one.
    places: dict[Path_, tuple[str, bool]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Codings the source gives with its terms (mef.py), by terminology domain and folded term.
    given: dict[str, dict[str, Concept]] = field(default_factory=dict)

    def column_of(self, path: Path_) -> str:
        """The column of the case's own row that would give `path` (a layout names it better)."""
        return dotted(path)

    def where(self, path: Path_) -> str:
        """Where a field of the data came from: the row and column (or the column it would need)."""
        for end in range(len(path), -1, -1):
            place = self.places.get(tuple(path[:end]))
            if place is None:
                continue
            location, has_column = place
            if has_column or end == len(path):
                return location
            if end == 0:  # the case's own row
                return f"{location}, column '{self.column_of(tuple(path))}'"
            # the row of a linked table that holds this list item
            return f"{location}, column '{'.'.join(str(p) for p in path[end:])}'"
        return self.name

    def convert(self, terminology: Terminology, options: ConvertOptions) -> Outcome:
        """Validate and convert like a case file; never raises for a bad case."""
        warnings = list(self.warnings)
        try:
            if self.problems:
                raise InvalidCaseError("\n".join(self.problems), file=self.name, problems=self.problems)
            case = parse_case(self)  # type: ignore[arg-type] - a CaseFile by its duck
            if self.given:
                terminology = with_given_codings(terminology, self.given)
            conversion = convert_case_with(case, terminology, options)
        except AdapterError as exc:
            return Outcome(self.name, error=exc, warnings=warnings)
        warnings.extend(self._locate(w) for w in conversion.warnings)
        return Outcome(self.name, conversion=conversion, warnings=warnings)

    def _locate(self, warning: str) -> str:
        """A mapper warning starts with a field path; say the column instead where one is known."""
        head, sep, rest = warning.partition(": ")
        if not sep or " " in head:
            return warning
        place = self.where(_parse_dotted(head))
        return f"{place}: {head}: {rest}" if place != self.name else warning


def with_given_codings(terminology: Terminology, given: dict[str, dict[str, Concept]]) -> Terminology:
    """The terminology with the codings a source gave for its own terms in front of the maps'."""
    domains = dict(terminology.domains)
    for domain, entries in given.items():
        domains[domain] = ChainMap(entries, terminology.domains.get(domain, {}))  # type: ignore[assignment]
    return Terminology(source=terminology.source, domains=domains, files=terminology.files)


@dataclass
class ErrorDoc:
    """A table that fails as a whole (a bad header, an unreadable file): one error for all its rows."""

    name: str
    message: str

    def convert(self, terminology: Terminology, options: ConvertOptions) -> Outcome:
        return Outcome(self.name, error=InvalidCaseError(self.message, file=self.name))
