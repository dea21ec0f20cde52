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
import decimal
import re
import sqlite3
import unicodedata
from collections import ChainMap, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from .casefile import (
    DEFAULT_LIMITS,
    Limits,
    _parse_dotted,
    check_limits,
    dotted,
    one_line,
    parse_case,
    read_line,
    wide_encoding,
)
from .convert import ConvertOptions, Outcome, convert_case_with
from .errors import AdapterError, InvalidCaseError
from .terminology import Concept, Terminology

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
LIST_SEP = ";"
Path_ = tuple[str | int, ...]
Row = tuple[str, str, Any]  # (source name, path, doc with .convert(terminology, options))


@dataclass(frozen=True)
class TableOptions:
    """How tables are read: the bounds of one case (--limit), and a column map for headers that differ."""

    # tables.ColumnMap from --columns (typed loosely: no reader imports another); the framework's
    # layout has fixed columns and ignores it.
    columns: Any = None
    limits: Limits = DEFAULT_LIMITS


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the column as a spreadsheet shows it."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def cell_text(value: Any, number_format: str | None = None) -> str | None:
    """A cell as the text the case format expects; None for an empty cell.

    `number_format` is the cell's format in a workbook: a date is given only as precisely as the
    cell shows it, and a percentage as the number the cell shows, with its sign ("65%", not 0.65).
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return _date_as_shown(value, number_format)
    if number_format and isinstance(value, int | float) and "%" in _format_code(number_format):
        # A spreadsheet stores 65% as 0.65; the report's figure is the one the cell shows.
        shown = (decimal.Decimal(repr(value)) * 100).normalize()
        return f"{shown:f}%"
    if number_format and isinstance(value, int | float):
        shown = _fixed_decimals(value, number_format)
        if shown is not None:
            return shown
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if number_format and isinstance(value, int) and value >= 0 and _ZEROS.fullmatch(number_format):
        # '000123' typed as a number and shown with the format 000000: an id keeps its zeros.
        return str(value).zfill(len(number_format))
    return str(value)


_ZEROS = re.compile(r"0+")
_DECIMALS = re.compile(r"[#,]*(0*)\.(0+)")


def _fixed_decimals(value: float, number_format: str) -> str | None:
    """A number as a format with fixed decimals shows it ('0.00' shows 1.1 as 1.10), when that is
    the same number; None for any other format, or a number the format rounds (45.5 shown as 46).

    The shown digits are what the user typed and sees: `1.10` read as 1.1 was another case id,
    and `2.0` another grade. The thousands separator is left out: it is display, not the value.
    """
    found = _DECIMALS.fullmatch(_format_code(number_format))
    if found is None:
        return None
    zeros, decimals = len(found.group(1)), len(found.group(2))
    width = zeros + decimals + 1 if zeros > 1 else 0  # '000.00' keeps the leading zeros of 1.1: 001.10
    shown = f"{value:0{width}.{decimals}f}"
    return shown if float(shown) == value else None


# Spreadsheets keep 15 significant digits; a whole number past them was cut when it was typed.
EXACT_DIGITS = 10**15
_FORMAT_LITERAL = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_MINUTES = re.compile(r"h+[^a-z]*m+|m+[^a-z]*s")


def _format_code(number_format: str) -> str:
    """The first section of a number format, lower case, without its literal text and [brackets]."""
    return _FORMAT_LITERAL.sub("", number_format.split(";", 1)[0]).lower()


def _date_as_shown(day: dt.date, number_format: str | None) -> str:
    """A date cell as precisely as its format shows it: a cell shown as 'Mar-19' holds 2019-03-01,
    and its day is the spreadsheet's, not the report's. Without a format, the whole date."""
    code = _MINUTES.sub("", _format_code(number_format)) if number_format else "d"
    shows = {part for part in "ymd" if part in code}
    if not shows or ("d" in shows and "y" in shows and "m" in shows):
        return day.isoformat()
    if "y" not in shows:
        # A format without the year ('d-mmm', what a spreadsheet gives '1-Mar' typed into it):
        # the year the cell holds was not typed. ISO 8601 writes a day of no year as --MM-DD.
        return f"--{day.month:02d}-{day.day:02d}" if "d" in shows else f"--{day.month:02d}"
    if "m" in shows:
        return day.isoformat()[:7]
    return f"{day.year:04d}"


@dataclass
class Table:
    """One table: a CSV/TSV file or a sheet of a workbook; rows as lists of cell texts."""

    file: str
    sheet: str | None = None
    # The open workbook of a sheet: opening one reads its whole shared-strings table, so it is
    # opened once per file, not once per sheet or pass.
    book: Any = field(default=None, repr=False, compare=False)
    limits: Limits = field(default=DEFAULT_LIMITS, repr=False, compare=False)
    # What a person looking at the workbook does not see (a hidden sheet, hidden rows), said once
    # as a warning; known once the sheet's rows have been read (its header is enough).
    unseen: str | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.file if self.sheet is None else f"{self.file}, sheet '{one_line(self.sheet)}'"

    def rows(self) -> Iterator[NumberedRow]:
        """(row number, cells or why the row cannot be read) for every row, the header being row 1."""
        if self.sheet is None:
            yield from _csv_rows(self)
        else:
            yield from _sheet_rows(self)


class TableError(Exception):
    """A table that cannot be read at all (not text, not a workbook, no header)."""


class EmptyTable(TableError):
    """A table with no cell at all: no header, and nothing that could be lost."""


@dataclass(frozen=True)
class RowError:
    """A row that cannot be read whole: why (sentences naming row and column), and the cells read
    before the problem, so a reader can still tell which case the row belongs to."""

    message: str
    cells: list[str | None] | None = None


Cells = list[str | None]
NumberedRow = tuple[int, Cells | RowError]


class _LineTooLong(Exception):
    """A physical line, or a record of several, over the size limit of one case."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


_SEP_LINE = re.compile(rb"(?:\xef\xbb\xbf)?sep=([,;\t|])\r?\n?")


class _NotUtf8(Exception):
    """A physical line whose bytes are not UTF-8: its row fails, and the lines after it are read."""

    def __init__(self, raw: bytes, start: int, number: int):
        super().__init__(number)
        self.raw, self.start, self.number = raw, start, number


class _Lines:
    """The lines of a CSV file for csv.reader, decoded, none read past the size limit of one case.

    Remembers the lines of the record being parsed and takes lines back, so that after a row that
    cannot be read (an unbalanced quote that swallowed the rows below it) the lines after its first
    are parsed again as rows of their own.
    """

    def __init__(self, fh, path: str, limit: int, cr_ends: bool = False):
        self.fh = fh
        self.readline = (lambda size: read_line(fh, size)) if cr_ends else fh.readline
        self.path = path
        self.limit = limit
        self.number = 0  # physical lines read
        # (line number, text, or the error of a line over the limit) of the record being parsed
        self.record: list[tuple[int, str | _LineTooLong | _NotUtf8]] = []
        self.size = 0
        self.back: deque[tuple[int, str | _LineTooLong | _NotUtf8]] = deque()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        item = self.back.popleft() if self.back else self._read()
        self.record.append(item)
        text = item[1]
        if isinstance(text, _LineTooLong | _NotUtf8):
            raise text
        self.size += len(text)
        if self.size > self.limit:
            raise _LineTooLong(self.size)
        return text

    def _read(self) -> tuple[int, str | _LineTooLong | _NotUtf8]:
        raw = self.readline(self.limit + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        if len(raw) > self.limit and not raw.endswith((b"\n", b"\r")):
            size = len(raw)
            while raw and not raw.endswith((b"\n", b"\r")):  # skip the rest of the line, unread
                raw = self.readline(1 << 20)
                size += len(raw)
            return self.number, _LineTooLong(size)
        try:
            return self.number, raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            # Only this line's row fails: the lines of plain ASCII around it read the same in any
            # encoding, and the rows after it were once left unread and uncounted.
            return self.number, _NotUtf8(raw, exc.start, self.number)

    def start_record(self) -> None:
        self.record = []
        self.size = 0

    def first(self) -> str:
        text = self.record[0][1] if self.record else ""
        return text if isinstance(text, str) else ""

    def reread_after_first(self) -> None:
        """Take back the lines of the current record after its first, to be parsed as rows again."""
        self.back.extendleft(reversed(self.record[1:]))


def _quote_problem(line: str, delimiter: str) -> tuple[int, str] | None:
    """The cell of a line where a quoted cell goes wrong, and how: never closed, or text after it."""
    index, i, n = 0, 0, len(line)
    while i <= n:
        if i < n and line[i] == '"':
            i += 1
            while True:
                end = line.find('"', i)
                if end < 0:
                    return index, "never closed"
                if line.startswith('""', end):
                    i = end + 2
                    continue
                i = end + 1
                break
            if i < n and line[i] not in (delimiter, "\r", "\n"):
                return index, "followed by more text"
        nxt = line.find(delimiter, i)
        if nxt < 0:
            return None
        index += 1
        i = nxt + 1
    return None


def _csv_rows(table: Table) -> Iterator[NumberedRow]:
    """The rows of a CSV/TSV file, each checked; a row that cannot be read is a RowError of its own.

    csv.reader in strict mode, so a quote in the wrong place is an error rather than a cell that
    swallows the rows after it; those rows are then read again on their own and converted.
    """
    path, limits = table.file, table.limits
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file: {exc.strerror}") from None
    with fh:
        first = read_line(fh, min(limits.file_size, 1 << 20))
        # `sep=;` on a line of its own tells a spreadsheet program the delimiter, and it shows the
        # line after as row 1; read as the header, it made a table of one column named 'sep='.
        hint = _SEP_LINE.fullmatch(first)
        if hint is None:
            fh.seek(0)
        # A file whose header ends in a CR alone was saved with CR line ends (older Mac programs);
        # in a file of LF or CRLF lines a CR alone is a stray inside a cell, and its row an error.
        cr_ends = first.endswith(b"\r")
        if first.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
            # A workbook named .csv was 'line 1: the file is not UTF-8 text (byte 0x85)'.
            what = (
                "a zip archive (an .xlsx or .ods workbook)"
                if first[:1] == b"P"
                else "an old Office file (.xls)"
            )
            raise TableError(
                f"{path}: this is {what}, not CSV text; name an .xlsx workbook .xlsx, or save the table"
                " from a spreadsheet program as CSV UTF-8"
            )
        encoding = wide_encoding(first)
        if encoding is not None:
            raise TableError(f"{path}: the file is {encoding} text; save it as CSV UTF-8")
        if hint is not None:
            delimiter = hint.group(1).decode()
        elif path.lower().endswith(".tsv"):
            delimiter = "\t"
        else:
            # Spreadsheet programs in many locales save CSV with ';' between cells, and a table
            # saved as tab-separated text is often named .csv.
            counts = {d: first.count(d.encode()) for d in (",", ";", "\t")}
            delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
        # csv's own cap on a cell (128 kB by default) would end the table at the first long cell;
        # a row is bounded by the size limit of one case instead, and each cell by the string limit.
        if csv.field_size_limit() <= limits.file_size:
            csv.field_size_limit(limits.file_size + 1)
        lines = _Lines(fh, path, limits.file_size, cr_ends)
        if hint is not None:
            lines.number = 1  # the lines after it keep their numbers in the file
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        head: Cells | None = None
        number = 0
        while True:
            lines.start_record()
            try:
                raw = next(reader)
                if '="' in "".join(raw):
                    raw = [_excel_text(c) for c in raw]
                # csv gives every cell as a str: cell_text's stripping, without its type checks.
                row: Cells | RowError = [c.strip() or None for c in raw]
            except StopIteration:
                return
            except csv.Error as exc:
                row = _unreadable(table, number + 1, lines, delimiter, head, str(exc))
            except _NotUtf8 as exc:
                row = _not_utf8(table, number + 1, lines, delimiter, head, exc)
            except _LineTooLong as exc:
                row = RowError(
                    f"{row_name(table, number + 1)}: the row is {exc.size:,} bytes or more, over the limit"
                    f" of {limits.file_size:,} for one case (is a quote never closed?); if it is right,"
                    " raise the limit with --limit file-size=N"
                )
                lines.reread_after_first()
            number += 1
            if isinstance(row, list):
                if len(lines.record) > 2 and head is not None:
                    row = _swallowed(table, number, row, lines, delimiter, head) or row
                if isinstance(row, list):
                    row = check_row(table, number, row, head)
            if head is None and isinstance(row, list) and any(c is not None for c in row):
                head = row
            yield number, row


# Exports meant for a spreadsheet write a text that must keep its leading zeros as a formula
# whose value is that text (`="0123"`, a quote inside it doubled); the spreadsheet shows 0123.
_EXCEL_TEXT = re.compile(r'\s*="((?:[^"]|"")*)"\s*')


def _excel_text(cell: str) -> str:
    """A CSV cell as a spreadsheet shows it: the text of a `="..."` cell, any other cell as it is."""
    found = _EXCEL_TEXT.fullmatch(cell)
    return cell if found is None else found.group(1).replace('""', '"')


def _unreadable(
    table: Table, number: int, lines: _Lines, delimiter: str, head: Cells | None, problem: str
) -> RowError:
    """A row csv cannot read (a quote never closed, text after a closing quote): its error, and
    the lines after its first taken back to be read as rows."""
    first = lines.first()
    found = _quote_problem(first, delimiter)
    cells = _cells_of_line(first, delimiter)
    lines.reread_after_first()
    if "new-line character" in problem:
        return RowError(
            f"{row_name(table, number)}: a carriage return (CR) inside a cell that is not quoted; save the"
            " table again as CSV (a line break in a cell must be inside quotes)",
            cells,
        )
    if found is None:
        return RowError(f"{row_name(table, number)}: not a readable CSV row ({problem})", cells)
    index, how = found
    fix = (
        "add the closing quote"
        if how == "never closed"
        else 'quote the whole cell, writing a quote inside it twice ("")'
    )
    return RowError(
        f"{row_name(table, number)}, {column_label(head, index)}: a quoted cell {how}; {fix}."
        " The rows after it are read on their own",
        cells[:index] if cells is not None else None,
    )


def _not_utf8(
    table: Table, number: int, lines: _Lines, delimiter: str, head: Cells | None, exc: _NotUtf8
) -> RowError:
    """A row with a line that is not UTF-8: its error, naming the cell and the byte, with the cells
    before that cell (a linked row's case_id tells the case it fails)."""
    text = "".join(t for _, t in lines.record if isinstance(t, str)) + exc.raw.decode("utf-8", "replace")
    cells = _cells_of_line(text.rstrip("\r\n"), delimiter) or []
    index = next((i for i, c in enumerate(cells) if c is not None and "\ufffd" in c), None)
    where = (
        row_name(table, number)
        if index is None
        else f"{row_name(table, number)}, {column_label(head, index)}"
    )
    if number == 1 or head is None:
        # The header itself: no row can be read without it.
        raise TableError(
            f"{table.file}, line {exc.number}: the file is not UTF-8 text (byte 0x{exc.raw[exc.start]:02x});"
            " save it as CSV UTF-8"
        )
    return RowError(
        f"{where}: the text is not UTF-8 (byte 0x{exc.raw[exc.start]:02x} on line {exc.number}), as a"
        " spreadsheet program writes plain CSV in a local encoding; save the table as CSV UTF-8",
        cells[:index] if index is not None else None,
    )


def _cells_of_line(line: str, delimiter: str) -> Cells | None:
    """The cells of one line read on its own, leniently; None if even that fails."""
    try:
        return [cell_text(c) for c in next(csv.reader([line], delimiter=delimiter), [])]
    except csv.Error:
        return None


def _swallowed(
    table: Table, number: int, row: Cells, lines: _Lines, delimiter: str, head: Cells
) -> RowError | None:
    """A cell that runs over several lines is an error when the lines it took in whole (all but its
    first and last) are shaped like rows, with as many cells as the header: a quote that opened and
    closed in the wrong places. (Its last line holds the rest of its own row, so it may look like one.)"""
    width = len(head)
    if width < 3:
        return None
    taken = [text for _, text in lines.record[1:-1] if isinstance(text, str)]
    shaped = sum(1 for text in taken if len(_cells_of_line(text, delimiter) or ()) >= width)
    if not shaped:
        return None
    index = next((i for i, c in enumerate(row) if c and "\n" in c), 0)
    lines.reread_after_first()
    return RowError(
        f"{row_name(table, number)}, {column_label(head, index)}: a quoted cell runs over"
        f" {len(lines.record)} lines and takes in {shaped} that are shaped like rows; is a quote not"
        ' closed where it should be? (a quote inside a quoted cell is written twice, ""). The rows after'
        " it are read on their own",
        row[:index],
    )


def column_label(head: Cells | None, index: int) -> str:
    """A column as messages name it: its header and letter, or the letter alone."""
    name = head[index] if head is not None and index < len(head) else None
    return f"column '{one_line(name)}' ({column_letter(index)})" if name else f"column {column_letter(index)}"


def check_row(table: Table, number: int, cells: Cells, head: Cells | None) -> Cells | RowError:
    """The cells of a row, or why the row is refused: a NUL byte, a cell or row over a limit."""
    limits = table.limits
    filled = [c for c in cells if c is not None]
    # The common case in a few C-level passes: nothing too long, no NUL.
    if (
        len(cells) <= limits.items
        and max(map(len, filled), default=0) <= limits.string
        and "\x00" not in "".join(filled)
    ):
        return cells
    problems = []
    if len(cells) > limits.items:
        problems.append(
            f"{row_name(table, number)}: {len(cells):,} cells in one row, more than the limit of"
            f" {limits.items:,}; if it is right, raise the limit with --limit items=N"
        )
        cells = cells[: limits.items]
    for index, cell in enumerate(cells):
        if cell is None:
            continue
        if len(cell) > limits.string:
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: a cell of {len(cell):,} characters,"
                f" longer than the limit of {limits.string:,}; if it is right, raise the limit with"
                " --limit string=N"
            )
        elif "\x00" in cell:
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: a NUL byte (0x00) in the cell;"
                " a table is plain text: remove it"
            )
    if not problems:
        return cells
    return RowError("\n".join(aggregate(problems, row_name(table, number))), cells)


SHOWN = 10  # problems of one row or one header shown in full; the rest are counted


def aggregate(problems: list[str], where: str) -> list[str]:
    """At most SHOWN messages, then one line (naming `where`) saying how many more there are."""
    if len(problems) <= SHOWN:
        return problems
    return [*problems[:SHOWN], f"{where}: and {len(problems) - SHOWN:,} more like these"]


# A workbook is a zip archive of XML; a spreadsheet program's XML packs about 5 to 30 to 1 (a sheet
# of 100,000 rows of one repeated value, 14 to 1). Parts that unpack to more than UNPACKED_FLOOR at
# more than PACK_RATIO to 1 are a zip bomb: 800 KB holding an 800 MB sheet ran for over ten minutes.
PACK_RATIO = 100
UNPACKED_FLOOR = 100 * 1024 * 1024


def check_workbook_file(path: str) -> None:
    """Raise TableError when the file named .xlsx is no workbook openpyxl can read, saying what it
    is instead (an .xls, a password-protected workbook, an .ods, a CSV renamed) or that it is a zip bomb.

    openpyxl's own errors ('File is not a zip file', 'no item named [Content_Types].xml') said
    neither what the file was nor what to do with it.
    """
    import zipfile

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file: {exc.strerror}") from None
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError(
            f"{path}: this is an old Office file (.xls) or a password-protected workbook (Excel keeps an"
            " encrypted .xlsx in that format), not an .xlsx workbook; save it from a spreadsheet program"
            " as .xlsx without a password, or as CSV UTF-8"
        )
    if not head.startswith(b"PK"):
        what = "a CSV or other text" if b"\x00" not in head and _is_text(head) else "no zip archive"
        raise TableError(
            f"{path}: this is {what}, not an .xlsx workbook (an .xlsx file is a zip archive); if it"
            " is a CSV, name it .csv, or save the table from a spreadsheet program as .xlsx"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            names = {part.filename for part in parts}
            if "mimetype" in names and "[Content_Types].xml" not in names:
                kind = archive.read("mimetype")[:100].decode("ascii", "replace")
                if "opendocument" in kind:
                    raise TableError(
                        f"{path}: this is an OpenDocument file ({kind}), not an .xlsx workbook; save it"
                        " from the spreadsheet program as .xlsx or as CSV UTF-8"
                    )
    except zipfile.BadZipFile as exc:
        raise TableError(f"{path}: not an Excel .xlsx workbook (a broken zip archive: {exc})") from None
    unpacked = sum(part.file_size for part in parts)
    packed = sum(part.compress_size for part in parts)
    if unpacked > UNPACKED_FLOOR and unpacked > PACK_RATIO * max(packed, 1):
        raise TableError(
            f"{path}: the workbook unpacks to {unpacked:,} bytes from {packed:,}, more than {PACK_RATIO}"
            " to 1, which no spreadsheet program writes (a zip bomb); save the workbook again from a"
            " spreadsheet program"
        )


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # cut inside a character at the end of the head
    return True


def open_workbook(path: str):
    # openpyxl in read-only mode streams a sheet's XML row by row, so memory stays flat.
    import openpyxl

    check_workbook_file(path)
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file: {exc.strerror}") from None
    except Exception as exc:  # zipfile, XML and openpyxl errors all mean the same to a person
        raise TableError(f"{path}: not an Excel .xlsx workbook ({type(exc).__name__}: {exc})") from None


# The last row of a worksheet in Excel; a file that claims rows past it was not written by a
# spreadsheet program, and read-only openpyxl would yield every empty row up to its number.
EXCEL_ROWS = 1_048_576


def _sheet_rows(table: Table) -> Iterator[NumberedRow]:
    own = table.book is None
    wb = open_workbook(table.file) if own else table.book
    formulas = None
    try:
        sheet = wb[table.sheet]
        # A workbook stores its used range (<dimension ref="A1:C2"/>) and read-only openpyxl trusts
        # it; some writers leave it stale, which would cut rows and columns off silently.
        sheet.reset_dimensions()
        scan = _scan(sheet)
        table.unseen = _unseen(table, sheet, scan)
        formulas = _written_rows(table) if scan.formulas else None
        merged = _Merged(scan.merges) if scan.merges else None
        head: Cells | None = None
        try:
            for number, cells in enumerate(sheet.iter_rows(min_row=1), start=1):
                if number > EXCEL_ROWS:
                    raise TableError(
                        f"{table.label}: rows past {EXCEL_ROWS:,}, the last row of an Excel sheet;"
                        " save the workbook again from a spreadsheet program, or split it"
                    )
                written = next(formulas, ()) if formulas is not None else ()
                if not cells:
                    continue  # a row the sheet skips (openpyxl yields every one up to the next it has)
                row = _sheet_row(table, number, cells, written, head, merged)
                if head is None and isinstance(row, list) and any(c is not None for c in row):
                    head = row
                    if scan.hidden_columns:
                        table.unseen = _unseen(table, sheet, scan, head)
                yield number, row
        except TableError:
            raise
        except Exception as exc:  # the XML of a sheet is parsed as it streams: a broken one shows here
            raise TableError(
                f"{table.label}: the sheet cannot be read ({type(exc).__name__}: {exc})"
            ) from None
    finally:
        if formulas is not None:
            formulas.close()
        if own:
            wb.close()


def _sheet_row(
    table: Table, number: int, cells: tuple, written: tuple, head: Cells | None, merged: _Merged | None = None
) -> Cells | RowError:
    """The texts of a row of cells, or why the row is refused: a cell holding a spreadsheet error
    (#N/A, #REF!) or a formula never computed is no fact of the case, and an empty cell would hide it."""
    texts: Cells = []
    problems = []
    for index, cell in enumerate(cells):
        value = cell.value
        if cell.data_type == "e":
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: the cell holds the spreadsheet"
                f" error {one_line(str(value))}, not a value; correct the formula or type the value"
            )
            texts.append(None)
            continue
        if value is None and index < len(written) and _is_formula(written[index]):
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: the formula"
                f" {one_line(_formula_text(written[index]))} has no computed value saved in the workbook"
                " (a program wrote it without calculating it); open the workbook in a spreadsheet"
                " program and save it again, or type the value"
            )
        if isinstance(value, float) and abs(value) >= EXACT_DIGITS and value.is_integer():
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: the number {value:.15g} has more"
                " digits than a spreadsheet keeps (15), so its last ones were lost when it was typed;"
                " format the column as text and type it again"
            )
        if isinstance(value, dt.time | dt.timedelta):
            # The case format holds no time of day or duration cell; a spreadsheet makes one of
            # text typed like it (a ratio '2:1' became 02:01:00), so what it shows is not what was typed.
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: a time ({value}), which a"
                " spreadsheet makes of what is typed like one ('2:1', '12:30'); the case format has no"
                " time of day: format the column as text and type it again"
            )
            texts.append(None)
            continue
        fmt = cell.number_format if isinstance(value, int | float | dt.date) else None
        text = cell_text(value, fmt)
        if isinstance(value, dt.date) and text is not None and text.startswith("--"):
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: a day and month with no year"
                f" ({text[2:]}); a spreadsheet makes a date of what is typed like one ('1-Mar', 'SEPT2',"
                " '1/2') and adds a year of its own: format the column as text and type it again"
            )
        texts.append(text)
    if merged is not None:
        # A value shown across merged cells is read in the first cell only; the rows below (or
        # the columns beside) it would lose it without a word.
        for index, where, value in merged.covered(number, texts):
            problems.append(
                f"{row_name(table, number)}, {column_label(head, index)}: in the merged cells {where},"
                f" which show {_quote_cell(value)} but hold it in their first cell only; unmerge them"
                " and give the value in each row"
            )
    row = check_row(table, number, texts, head)
    if not problems:
        return row
    if isinstance(row, RowError):
        problems.append(row.message)
    return RowError("\n".join(aggregate(problems, row_name(table, number))), texts)


def _quote_cell(value: str) -> str:
    return "'" + one_line(value if len(value) <= 40 else value[:37] + "...") + "'"


def _is_formula(value: Any) -> bool:
    return (isinstance(value, str) and value.startswith("=")) or hasattr(value, "text")


def _formula_text(value: Any) -> str:
    text = value if isinstance(value, str) else str(getattr(value, "text", value))
    return text if len(text) <= 60 else text[:57] + "..."


# A formula in a sheet's XML: <f>, <f t="shared" .../>, or with a namespace prefix (<x:f>).
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
# A merged range: <mergeCell ref="B2:B4"/>.
_MERGE_TAG = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\s+ref="\$?([A-Z]{1,3})\$?([0-9]{1,7}):\$?([A-Z]{1,3})\$?([0-9]{1,7})"'
)


# A row's tag: <row r="3" hidden="1" ...>; hidden may be written "1" or "true".
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*>")
_ROW_NUMBER = re.compile(rb'\sr="([0-9]{1,7})"')
_ROW_HIDDEN = re.compile(rb'\shidden="(?:1|true)"')
_COL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?col\s[^>]*>")
_COL_SPAN = re.compile(rb'\smin="([0-9]{1,5})"\s+max="([0-9]{1,5})"')


def _column_index(letters: bytes) -> int:
    index = 0
    for c in letters:
        index = index * 26 + c - 64
    return index - 1


@dataclass
class _SheetScan:
    """What the rows of a read-only sheet do not tell: whether it holds formulas, and its merged
    ranges (first row, first column, last row, last column; rows from 1, columns from 0)."""

    formulas: bool = False
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    # Hidden rows: the first SHOWN runs of them ([first, last]), and how many rows lie past those.
    hidden: list[list[int]] = field(default_factory=list)
    hidden_more: int = 0
    last_row: int = 0  # the last <row> tag seen, so a tag in two chunks' overlap counts once
    hidden_columns: set[tuple[int, int]] = field(default_factory=set)  # (first, last), from 0

    def add_row_tag(self, tag: bytes) -> None:
        number = _ROW_NUMBER.search(tag)
        if number is None or int(number.group(1)) <= self.last_row:
            return
        self.last_row = row = int(number.group(1))
        if _ROW_HIDDEN.search(tag) is None:
            return
        if self.hidden and self.hidden[-1][1] == row - 1:
            self.hidden[-1][1] = row
        elif len(self.hidden) < SHOWN:
            self.hidden.append([row, row])
        else:
            self.hidden_more += 1


def _scan(sheet: Any) -> _SheetScan:
    """The sheet's XML read through once, not parsed; an empty scan if it cannot be read (the
    streaming read reports that)."""
    found = _SheetScan()
    merges: set[tuple[int, int, int, int]] = set()
    try:
        with sheet._get_source() as src:  # openpyxl's read-only sheet reads its XML from here
            tail = b""
            while chunk := src.read(1 << 20):
                text = tail + chunk
                found.formulas = found.formulas or _FORMULA_TAG.search(text) is not None
                if b"hidden" in text:
                    for tag in _ROW_TAG.findall(text):
                        found.add_row_tag(tag)
                    for tag in _COL_TAG.findall(text):
                        span = _COL_SPAN.search(tag)
                        if span is not None and _ROW_HIDDEN.search(tag) is not None:
                            found.hidden_columns.add((int(span.group(1)) - 1, int(span.group(2)) - 1))
                if b"mergeCell" in text:
                    for c1, r1, c2, r2 in _MERGE_TAG.findall(text):
                        merges.add((int(r1), _column_index(c1), int(r2), _column_index(c2)))
                tail = chunk[-256:]
    except Exception:
        return _SheetScan()
    found.merges = sorted(merges)
    return found


def _unseen(table: Table, sheet: Any, scan: _SheetScan, head: Cells | None = None) -> str | None:
    """The warning that a sheet, or rows or named columns of it, are hidden in the workbook (a
    registrar may hide withdrawn patients or data so): they are read like any other, and it is said.
    Columns are named once the header is known; hidden columns with no header (templates hide the
    unused ones) are not."""
    said = []
    if getattr(sheet, "sheet_state", "visible") != "visible":
        said.append("the sheet is hidden in the workbook")
    if head is not None and scan.hidden_columns:
        named = sorted(
            {
                i
                for a, b in scan.hidden_columns
                for i in range(a, min(b, len(head) - 1) + 1)
                if head[i] is not None
            }
        )
        if named:
            shown = ", ".join(column_label(head, i).removeprefix("column ") for i in named[:SHOWN])
            more = f" and {len(named) - SHOWN:,} more" if len(named) > SHOWN else ""
            said.append(
                f"{'column' if len(named) == 1 else 'columns'} {shown}{more} {'is' if len(named) == 1 else 'are'} hidden"
            )
    if scan.hidden:
        runs = [str(a) if a == b else f"{a}-{b}" for a, b in scan.hidden]
        count = sum(b - a + 1 for a, b in scan.hidden) + scan.hidden_more
        rows = ", ".join(runs) + (f" and {scan.hidden_more:,} more" if scan.hidden_more else "")
        said.append(f"{'row' if count == 1 else 'rows'} {rows} {'is' if count == 1 else 'are'} hidden")
    if not said:
        return None
    return (
        f"{table.label}: {' and '.join(said)}; every row is converted all the same: delete the rows"
        " that are not to be converted"
        if not any(part.startswith("column") for part in said)
        else f"{table.label}: {' and '.join(said)}; every row and column is converted all the same:"
        " delete what is not to be converted"
    )


class _Merged:
    """The cells of a sheet that merged ranges cover: empty as read, though the sheet shows the
    value of the range's first cell across them."""

    def __init__(self, merges: list[tuple[int, int, int, int]]):
        self.waiting = deque(merges)  # by first row
        self.active: list[tuple[int, int, int, int]] = []
        self.anchors: dict[tuple[int, int], str | None] = {}

    def covered(self, number: int, texts: Cells) -> list[tuple[int, str, str]]:
        """(column index, the range, its value) of each cell of row `number` a range with a value covers."""
        while self.waiting and self.waiting[0][0] <= number:
            self.active.append(self.waiting.popleft())
        self.active = [m for m in self.active if m[2] >= number]
        out = []
        for r1, c1, r2, c2 in self.active:
            if number == r1:
                self.anchors[(r1, c1)] = texts[c1] if c1 < len(texts) else None
            value = self.anchors.get((r1, c1))
            if value is None:
                continue
            where = f"{column_letter(c1)}{r1}:{column_letter(c2)}{r2}"
            for index in range(c1, c2 + 1):
                if (number, index) != (r1, c1):
                    out.append((index, where, value))
        return out


def _written_rows(table: Table) -> Iterator[tuple]:
    import openpyxl

    book = openpyxl.load_workbook(table.file, read_only=True, data_only=False)
    try:
        sheet = book[table.sheet]
        sheet.reset_dimensions()
        yield from sheet.iter_rows(min_row=1, values_only=True)
    finally:
        book.close()


def header(table: Table) -> tuple[Cells, Iterator[NumberedRow]]:
    """The header (the first row with a cell) and the rows after it; TableError if there is none."""
    rows = table.rows()
    for _, cells in rows:
        if isinstance(cells, RowError):
            raise TableError(cells.message)
        if any(c is not None for c in cells):
            return cells, rows
    raise EmptyTable(
        f"{table.label}: the table is empty; its first row names the columns (see fhir-adapter template)"
    )


HEADER_LOOKED_FOR = 20  # rows below a header without its key column searched for the real header


def header_below(table: Table, key: str) -> tuple[int, str] | None:
    """The row read as the header, and where in the HEADER_LOOKED_FOR rows after it a cell reads
    `key` (case_id): a title or a note above the header (an export's 'Registry extract, June 2024')
    was read as the header, and the message named its words as unknown columns and no more."""
    head_row = None
    try:
        for number, cells in table.rows():
            if isinstance(cells, RowError):
                continue
            if head_row is None:
                if any(c is not None for c in cells):
                    head_row = number
                continue
            if number > head_row + HEADER_LOOKED_FOR:
                return None
            for index, cell in enumerate(cells):
                if cell is not None and cell.strip().lower().replace(" ", "_") == key:
                    return head_row, f"row {number}, column {column_letter(index)}"
    except TableError:
        return None
    return None


@dataclass(frozen=True)
class ReadWith:
    """The one row a table gives when another table reads it (a linked table, read with its cases
    table; a framework table, with its patient table): it holds no case of its own; `root` is
    the table that reads it, which the run must be given too."""

    root: str


# Unicode's hyphens and dashes and the minus sign, which a word processor puts for '-'.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


def loose_key(key: str) -> str:
    """A key as a person reads it: no spaces, case folded, Unicode composed, no invisible
    characters (a zero-width space, a soft hyphen, a direction mark) and every dash a hyphen; a
    number as a spreadsheet may have rewritten it (`0123`, `123.0`) without its leading zeros and `.0`."""
    text = unicodedata.normalize("NFKC", "".join(key.split())).casefold()
    if not text.isascii():
        text = "".join(c for c in text if unicodedata.category(c) != "Cf").translate(_DASHES)
    if re.fullmatch(r"\d+(\.0+)?", text):
        text = text.split(".")[0].lstrip("0") or "0"
    return text


class RowIndex:
    """Rows of the tables a join reads by key (case_id, mrn), kept on disk, so that joining a
    million cases holds one case's rows in memory at a time, whatever order the tables are in.

    A private temporary SQLite database (deleted when closed; its pages spill to the temporary
    directory past SQLite's small page cache): the rows are appended as they are read, indexed
    once, then looked up case by case. A key is taken once; the rows no case took are left over.
    """

    def __init__(self) -> None:
        # "" opens a private temporary database on disk; no journal and no sync: nothing outlives it.
        self.db = sqlite3.connect("", isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("BEGIN")  # one transaction for the whole join, never committed
        self.db.execute("CREATE TABLE row (key TEXT NOT NULL, part INTEGER, seq INTEGER, data BLOB)")
        # The keys taken, in order, with who took them and their loose form (near), kept on disk
        # too: a dict of them grew by about 150 MB a million cases.
        self.db.execute("CREATE TABLE taken (key TEXT NOT NULL UNIQUE, by TEXT, loose TEXT)")
        self.db.execute("CREATE INDEX taken_by_loose ON taken (loose)")

    def add(self, rows: Iterable[tuple[str, int, int, object]]) -> None:
        """Append rows as (key, part: which table, seq: the row's place in it, data: JSON-able)."""
        self.db.executemany(
            "INSERT INTO row VALUES (?, ?, ?, ?)", ((k, p, n, orjson.dumps(d)) for k, p, n, d in rows)
        )

    def ready(self) -> None:
        """Index the rows by key; call once, after the last add."""
        self.db.execute("CREATE INDEX row_by_key ON row (key, part, seq)")

    def take(self, key: str, by: str = "") -> Iterator[tuple[int, Any]] | None:
        """The rows of a key in table and row order, as (part, data); None if the key was taken before
        (`by`: who takes it, for taken_by)."""
        if (
            self.db.execute(
                "INSERT OR IGNORE INTO taken VALUES (?, ?, ?)", (key, by, loose_key(key))
            ).rowcount
            == 0
        ):
            return None
        cursor = self.db.execute("SELECT part, data FROM row WHERE key = ? ORDER BY part, seq", (key,))
        return ((part, orjson.loads(data)) for part, data in cursor)

    def taken_by(self, key: str) -> str:
        """Who took a key first (the `by` of its take), or ""."""
        found = self.db.execute("SELECT by FROM taken WHERE key = ?", (key,)).fetchone()
        return found[0] if found else ""

    def near(self, key: str) -> str | None:
        """The first key taken that `key` differs from only as a person would not see (loose_key)."""
        found = self.db.execute(
            "SELECT key FROM taken WHERE loose = ? AND key != ? ORDER BY rowid LIMIT 1", (loose_key(key), key)
        ).fetchone()
        return found[0] if found else None

    def left(self) -> Iterator[tuple[str, int, Any]]:
        """The rows no key took, as (key, part, data), in table and row order."""
        cursor = self.db.execute(
            "SELECT key, part, data FROM row WHERE key NOT IN (SELECT key FROM taken) ORDER BY part, seq"
        )
        return ((key, part, orjson.loads(data)) for key, part, data in cursor)

    def close(self) -> None:
        self.db.close()


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
        except EmptyTable:
            continue  # a blank sheet holds nothing; a header that cannot be read fails the workbook
        found.tables[sheet] = table
    if not found.tables:
        raise TableError(f"{path}: every sheet is empty; the first row of a sheet names its columns")
    return found


# --- Rows into case data ---------------------------------------------------------------------


def row_name(table: Table, number: int) -> str:
    """A row as messages name it: the table (file, sheet) and the row number."""
    return f"{table.label}, row {number}"


def blank_headers(head: Cells) -> list[int]:
    """The columns of a header that have no name (an empty header cell)."""
    return [i for i, name in enumerate(head) if name is None]


def _trimmed(cells: Cells) -> Cells:
    end = len(cells)
    while end and cells[end - 1] is None:
        end -= 1
    return cells[:end]


def header_again(table: Table, number: int, cells: Cells, head: Cells) -> str | None:
    """Why a row that repeats the header cell for cell is refused, or None for any other row.

    Tables joined end to end (`cat a.csv b.csv`) repeat the header among the rows. Read as a row,
    it failed for its cells ('sex' is not allowed, case_id 'case_id' is not in cases.csv, 'code' is
    no SNOMED CT code), which sent people looking for a patient that is not there.
    """
    if cells and cells[0] == head[0] and _trimmed(cells) == _trimmed(head):
        return (
            f"{row_name(table, number)}: the row repeats the header (were two tables joined into one?);"
            " delete it"
        )
    return None


def headless_problem(table: Table, number: int, cells: Cells, head: Cells, blank: list[int]) -> str | None:
    """Why a row fails for holding a value in a column with no header (`blank`, from
    blank_headers, or past the header's last cell), or None. No reader can tell which field
    such a value is, so reading the row without it would lose it without a word."""
    width = len(head)
    extra = [i for i in blank if i < len(cells) and cells[i] is not None]
    extra += [i for i in range(width, len(cells)) if cells[i] is not None]
    if not extra:
        return None
    letters = ", ".join(column_letter(i) for i in extra[:10])
    if len(extra) > 10:
        letters += f" and {len(extra) - 10:,} more"
    return f"{row_name(table, number)}: cells in column(s) {letters} have no header; name the column or clear them"


def node_at(data: dict, path: Path_) -> dict:
    """The dict at a path of the data (() is the data itself), made as put() would make it."""
    return _walk(data, path, len(path))


def put(data: dict, path: Path_, value: Any) -> None:
    """Set the value at a path of the data, making the dicts and lists (of dicts) on the way."""
    node = _walk(data, path, len(path) - 1)
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append({})
    node[last] = value


def _walk(data: dict, path: Path_, depth_to: int) -> Any:
    """The node at path[:depth_to], making each missing step a list when the next part is an index."""
    node: Any = data
    for depth in range(depth_to):
        part = path[depth]
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            child = node.get(part)
            if child is None:
                child = node[part] = [] if depth + 1 < len(path) and isinstance(path[depth + 1], int) else {}
            node = child
    return node


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
            # The same bounds as a case file (list length, string length, values, ...).
            check_limits(self, options.limits)  # type: ignore[arg-type] - a CaseFile by its duck
            case = parse_case(self)  # type: ignore[arg-type] - a CaseFile by its duck
            if self.given:
                terminology = with_given_codings(terminology, self.given)
            conversion = convert_case_with(case, terminology, options)
        except AdapterError as exc:
            return Outcome(self.name, error=exc, warnings=warnings)
        warnings.extend(self._locate(w) for w in conversion.warnings)
        return Outcome(self.name, conversion=conversion, warnings=warnings)

    def _locate(self, warning: str) -> str:
        """A mapper warning starts with a field path, or two joined by 'and' (a contradiction);
        say the row and column of each first where one is known, the path kept after them."""
        head, sep, rest = warning.partition(": ")
        paths = head.split(" and ")
        if not sep or any(not p or " " in p for p in paths):
            return warning
        places = list(dict.fromkeys(self.where(_parse_dotted(p)) for p in paths))
        if places == [self.name]:
            return warning
        return f"{' and '.join(places)}: {head}: {rest}"


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
