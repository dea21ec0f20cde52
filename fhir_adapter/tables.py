"""Spreadsheets as input: CSV, TSV and Excel tables whose rows become the same case data a YAML file gives.

Two layouts, both with columns derived from the case format's JSON Schema, so a field added to the
case model gets a column without a change here:

- flat: one row per case. Case and patient fields by their own name (``sex``, ``ethnicity``),
  the first primary's fields by theirs (``laterality``, ``histology``, ``er``), any field by its
  dotted path (``patient.vital_status.deceased``, ``metastases[1].age``), and ``;``-separated
  lists with one item per part (``metastasis_sites``, ``metastases.site``, ``medications``).
- linked: a ``cases`` table (the flat columns) plus one table per list of the case format
  (``primaries``/``primary_cancers``, ``metastases``, ``procedures``, ``medications``,
  ``disease_status``, ...), joined by ``case_id``: files beside ``cases.csv``, or sheets of a
  workbook with a ``cases`` sheet.

Every row goes through the same validation (casefile.parse_case) and conversion as a case file;
messages name the file, sheet, row and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from collections import ChainMap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .casefile import dotted, parse_case
from .convert import ConvertOptions, Outcome, convert_case_with
from .errors import AdapterError, ConfigError, InvalidCaseError
from .schema import case_json_schema
from .terminology import Concept, Terminology

TABLE_SUFFIXES = (".csv", ".tsv", ".xlsx")
LIST_SEP = ";"
ROOT = "cases"
# Other names a table of a list is known by.
TABLE_ALIASES = {"primaries": "primary_cancers", "primary_cancer": "primary_cancers"}
# Columns the issue and README name; they win over names derived from the schema.
EXPLICIT = {
    "case_id": ("case", "id"),
    "age": ("patient", "age_at_diagnosis"),
    "primary_site": ("primary_cancers", 0, "site"),
    "metastasis_sites": ("metastases", "*", "site"),
    "procedures": ("procedures", "*", "name"),
    "medications": ("medications", "*", "name"),
}
# Leaf names too vague to stand alone in a flat row: they need their prefix (primary_date, ...).
VAGUE = {"id", "date", "age", "note", "status", "name", "end_date"}

Path_ = tuple[str | int, ...]


# --- The columns, from the JSON Schema -------------------------------------------------------


@dataclass(frozen=True)
class Field_:
    """A scalar field of the case format, or a list of scalars (one `;`-separated cell)."""

    path: tuple[str, ...]
    is_list: bool
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Layout:
    """What the case format's schema offers to tables: root fields and, per list, its item fields."""

    root: tuple[Field_, ...]
    tables: dict[str, tuple[Field_, ...]]
    # Lists of objects inside a list item (none today): tables cannot express them.
    unsupported: tuple[str, ...] = ()

    @property
    def first_table(self) -> str:
        return next(iter(self.tables))


def _deref(schema: dict, node: dict) -> dict:
    """Follow $ref and drop the null member of an optional field; keep the outer description."""
    while True:
        if "$ref" in node:
            target = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        members = node.get("anyOf")
        if members:
            real = [m for m in members if m.get("type") != "null"]
            if len(real) == 1 and len(real) < len(members):
                node = {**real[0], **{k: v for k, v in node.items() if k != "anyOf"}}
                continue
        return node


def _is_object(node: dict) -> bool:
    return node.get("type") == "object" or "properties" in node


def _walk(
    schema: dict, node: dict, prefix: tuple[str, ...], out: list[Field_], lists: list, needed: bool = True
) -> None:
    """Collect the scalar fields under `node`; `needed`: whether the object itself is required."""
    required = set(node.get("required", ())) if needed else set()
    for name, sub in node.get("properties", {}).items():
        sub = _deref(schema, sub)
        path = (*prefix, name)
        if _is_object(sub):
            _walk(schema, sub, path, out, lists, name in required)
        elif sub.get("type") == "array":
            items = _deref(schema, sub.get("items", {}))
            if _is_object(items):
                lists.append((path, items))
            else:
                out.append(Field_(path, True, sub.get("description", ""), name in required))
        else:
            out.append(Field_(path, False, sub.get("description", ""), name in required))


@lru_cache(maxsize=1)
def layout() -> Layout:
    """The columns tables can have, derived from the case format's JSON Schema."""
    schema = case_json_schema()
    root: list[Field_] = []
    lists: list = []
    _walk(schema, schema, (), root, lists)
    tables: dict[str, tuple[Field_, ...]] = {}
    unsupported = []
    for path, items in lists:
        if len(path) != 1:
            unsupported.append(".".join(path))
            continue
        fields: list[Field_] = []
        nested: list = []
        _walk(schema, items, (), fields, nested)
        unsupported.extend(f"{path[0]}.{'.'.join(p)}" for p, _ in nested)
        tables[path[0]] = tuple(fields)
    return Layout(tuple(root), tables, tuple(unsupported))


@dataclass(frozen=True)
class Target:
    """Where a column's values go: a path into the case data ('*' = one list item per part)."""

    path: Path_
    is_list: bool


def _norm(header: str) -> str:
    return re.sub(r"\s+", "_", header.strip().lower())


@lru_cache(maxsize=1)
def flat_names() -> dict[str, Target]:
    """Short column names of the flat layout (and the cases table): explicit, then unique leaf names."""
    lay = layout()
    first = lay.first_table
    names: dict[str, Target] = {n: Target(p, False) for n, p in EXPLICIT.items()}
    candidates: dict[str, list[Target]] = {}
    for f in lay.root:
        candidates.setdefault(f.path[-1], []).append(Target(f.path, f.is_list))
    for f in lay.tables[first]:
        target = Target((first, 0, *f.path), f.is_list)
        candidates.setdefault(f.path[-1], []).append(target)
        # Every field of the first primary also as primary_<path>.
        names.setdefault("primary_" + "_".join(f.path), target)
    explicit_paths = set(EXPLICIT.values())
    for leaf, targets in candidates.items():
        if len(targets) == 1 and leaf not in VAGUE and targets[0].path not in explicit_paths:
            names.setdefault(leaf, targets[0])
    return names


def _item_names(table: str) -> dict[str, Target]:
    """Column names of a linked table: dotted item paths, and unique leaf names (er, pr, her2)."""
    fields = layout().tables[table]
    names = {".".join(f.path): Target(f.path, f.is_list) for f in fields}
    leaves: dict[str, list[Field_]] = {}
    for f in fields:
        leaves.setdefault(f.path[-1], []).append(f)
    for leaf, fs in leaves.items():
        if len(fs) == 1:
            names.setdefault(leaf, Target(fs[0].path, fs[0].is_list))
    return names


def table_name(name: str) -> str | None:
    """The list of the case format a table (file stem or sheet) holds, or None."""
    key = _norm(name).replace("-", "_")
    key = TABLE_ALIASES.get(key, key)
    return key if key in layout().tables else None


_INDEXED = re.compile(r"^([a-z_]+)(?:\[(\d+)\])?\.(.+)$")


def resolve_root(header: str) -> Target | None:
    """The target of a column of a flat table (or the cases table of a linked layout)."""
    key = _norm(header)
    found = flat_names().get(key)
    if found is not None:
        return found
    lay = layout()
    for f in lay.root:
        if key == ".".join(f.path):
            return Target(f.path, f.is_list)
    match = _INDEXED.match(key)
    if match:
        table = table_name(match.group(1))
        if table is not None:
            sub = _item_names(table).get(match.group(3))
            if sub is not None:
                if match.group(2) is not None:
                    return Target((table, int(match.group(2)), *sub.path), sub.is_list)
                if not sub.is_list:
                    return Target((table, "*", *sub.path), False)
    return None


def _nested_list(header: str, item_table: str | None) -> str | None:
    """The list of objects inside a list item a header names (layout().unsupported), if any."""
    key = _norm(header)
    for path in layout().unsupported:
        table, _, rest = path.partition(".")
        head = rest.split(".")[0]
        if item_table == table and key.split(".")[0].split("[")[0] == head:
            return path
        if item_table is None and re.sub(r"\[\d+\]", "", key).startswith(f"{table}.{head}"):
            return path
    return None


def resolve_item(table: str, header: str) -> Target | None:
    """The target of a column of a linked table, within one list item."""
    return _item_names(table).get(_norm(header))


def root_column_of(path: Path_) -> str:
    """The column name that feeds a path of the case data in a flat row."""
    lay = layout()
    if len(path) == 1 and path[0] in lay.tables:
        path = (path[0], 0)
    if len(path) == 2 and path[0] in lay.tables and isinstance(path[1], int):
        # A list item with nothing in it: the columns it needs.
        need = [f for f in lay.tables[str(path[0])] if f.required]
        return "', '".join(root_column_of((*path, *f.path)) for f in need)
    under = [f for f in lay.root if f.path[: len(path)] == path and len(f.path) > len(path)]
    if under:
        # An object none of whose columns is filled: the columns it needs.
        need = [f for f in under if f.required] or under[:1]
        return "', '".join(root_column_of(f.path) for f in need)
    names = [n for n, t in flat_names().items() if t.path == path]
    if names:
        explicit = [n for n in names if n in EXPLICIT]
        return explicit[0] if explicit else min(names, key=len)
    if len(path) >= 3 and isinstance(path[1], int):
        return f"{path[0]}[{path[1]}]." + ".".join(str(p) for p in path[2:])
    return ".".join(str(p) for p in path)


def suggest(header: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(_norm(header), list(names), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- Column maps (--columns) -----------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRule:
    """One column of a registry export: the field it feeds, value translations, its date format."""

    header: str
    target: str | None  # None: deliberately left out
    values: tuple[tuple[str, str], ...] = ()
    date_format: str | None = None
    where: str = ""  # file:line of the rule, for messages

    def translate(self, value: str) -> str:
        for raw, new in self.values:
            if value == raw:
                return new
        folded = value.strip().lower()
        for raw, new in self.values:
            if raw.strip().lower() == folded:
                return new
        return value


@dataclass(frozen=True)
class ColumnMap:
    """A --columns file: headers that differ from fhir-adapter's, and what they mean."""

    file: str
    rules: tuple[ColumnRule, ...] = ()

    def rule(self, header: str) -> ColumnRule | None:
        key = _norm(header)
        return next((r for r in self.rules if _norm(r.header) == key), None)


def _date_precision(fmt: str) -> int:
    if "%d" in fmt or "%j" in fmt:
        return 3
    if any(d in fmt for d in ("%m", "%b", "%B")):
        return 2
    return 1


def _known_target(target: str) -> bool:
    if resolve_root(target) is not None or _norm(target) == "case_id":
        return True
    return any(resolve_item(t, target) is not None for t in layout().tables)


def load_column_map(path: str | Path) -> ColumnMap:
    """Read and check a --columns file; a problem is a ConfigError naming its line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the column map: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: the column map is not UTF-8 text") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(f"{name}:{mark.line + 1 if mark else '?'}: invalid YAML: {exc.problem}") from None

    def fail(node: yaml.Node | None, problem: str) -> ConfigError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return ConfigError(f"{name}{line}: {problem}")

    if not isinstance(root, yaml.MappingNode):
        raise fail(
            root,
            "a column map is a mapping with 'columns:' (header: field, or header: {field, values, date_format})",
        )
    columns_node = None
    for key, value in root.value:
        if key.value != "columns":
            raise fail(key, f"unknown key '{key.value}'; a column map has only 'columns'")
        columns_node = value
    if not isinstance(columns_node, yaml.MappingNode) or not columns_node.value:
        raise fail(columns_node or root, "'columns' must map each header of your table to a case field")
    rules = []
    seen: dict[str, int] = {}
    for key, value in columns_node.value:
        header = str(key.value).strip()
        line = key.start_mark.line + 1
        where = f"{name}:{line}"
        if not header:
            raise fail(key, "an empty header")
        if _norm(header) in seen:
            raise fail(key, f"header '{header}' is already mapped on line {seen[_norm(header)]}")
        seen[_norm(header)] = line
        target: str | None
        values: list[tuple[str, str]] = []
        date_format = None
        if isinstance(value, yaml.ScalarNode):
            target = None if value.tag.endswith(":null") else str(value.value).strip()
        elif isinstance(value, yaml.MappingNode):
            target, ignored = None, False
            for k, v in value.value:
                if k.value == "field":
                    target = None if v.tag.endswith(":null") else str(v.value).strip()
                elif k.value == "ignore":
                    ignored = v.value.lower() in ("true", "yes")
                elif k.value == "values":
                    if not isinstance(v, yaml.MappingNode):
                        raise fail(
                            v,
                            "'values' maps a value of the table to a value of the case format, e.g. {'1': left}",
                        )
                    for vk, vv in v.value:
                        if not (isinstance(vk, yaml.ScalarNode) and isinstance(vv, yaml.ScalarNode)):
                            raise fail(vk, "each translation is one value to one value")
                        values.append((str(vk.value), str(vv.value)))
                elif k.value == "date_format":
                    date_format = str(v.value)
                    sample = dt.date(2019, 3, 14)
                    try:
                        ok = dt.datetime.strptime(sample.strftime(date_format), date_format).year == 2019
                    except ValueError:
                        ok = False
                    if "%" not in date_format or not ok or "%Y" not in date_format:
                        raise fail(
                            v,
                            f"date_format '{date_format}' is not a strptime format with a 4-digit year (e.g. '%d/%m/%Y')",
                        )
                else:
                    raise fail(
                        k, f"unknown key '{k.value}'; a column takes field, values, date_format, ignore"
                    )
            if ignored:
                target = None
            elif target is None:
                raise fail(value, f"header '{header}' names no 'field' (write ignore: true to leave it out)")
        else:
            raise fail(value, f"header '{header}': give a field name or a mapping with 'field'")
        if target is not None and not _known_target(target):
            close = suggest(target, [*flat_names(), *(n for t in layout().tables for n in _item_names(t))])
            raise fail(
                value, f"'{target}' is not a column fhir-adapter knows (see fhir-adapter template){close}"
            )
        rules.append(ColumnRule(header, target, tuple(values), date_format, where))
    return ColumnMap(name, tuple(rules))


# --- Reading cells ---------------------------------------------------------------------------


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


def _open_workbook(path: str):
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
    wb = _open_workbook(table.file) if own else table.book
    try:
        for number, row in enumerate(wb[table.sheet].iter_rows(min_row=1, values_only=True), start=1):
            yield number, [cell_text(c) for c in row]
    finally:
        if own:
            wb.close()


def _header(table: Table) -> tuple[list[str | None], Iterator[tuple[int, list[str | None]]]]:
    rows = table.rows()
    for _, cells in rows:
        if any(c is not None for c in cells):
            return cells, rows
    raise TableError(
        f"{table.label}: the table is empty; its first row names the columns (see fhir-adapter template)"
    )


# --- Rows into case data ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a table, resolved: its header, letter, target, and the column-map rule if any."""

    index: int
    header: str
    target: Target | None  # None: left out by the column map
    rule: ColumnRule | None = None

    def label(self) -> str:
        return f"column '{self.header}' ({column_letter(self.index)})"


def resolve_columns(
    table: Table, header: list[str | None], item_table: str | None, columns: ColumnMap | None
) -> tuple[list[Column], int | None]:
    """The columns of a table and the index of its case_id column; TableError for a bad header."""
    out: list[Column] = []
    problems = []
    seen: dict[str, str] = {}
    key_index = None
    for index, raw in enumerate(header):
        if raw is None:
            continue
        rule = columns.rule(raw) if columns else None
        name = raw if rule is None else rule.target
        letter = column_letter(index)
        if rule is not None and rule.target is None:
            out.append(Column(index, raw, None, rule))
            continue
        assert name is not None
        if item_table is not None and _norm(name) == "case_id":
            key_index = index
            continue
        target = resolve_root(name) if item_table is None else resolve_item(item_table, name)
        via = f" (mapped by {rule.where})" if rule else ""
        nested = _nested_list(name, item_table)
        if target is None and nested:
            problems.append(
                f"{table.label}: column '{raw}' ({letter}){via}: {nested} is a list of items inside a list"
                " item, which tables cannot give yet; give those cases as case files"
            )
            continue
        if target is None:
            names = flat_names() if item_table is None else _item_names(item_table)
            problems.append(
                f"{table.label}: column '{raw}' ({letter}){via} is not a field of the case format"
                f"{suggest(name, names)}; rename it, map it with --columns, or see fhir-adapter template"
            )
            continue
        key = repr(target.path)
        if key in seen:
            problems.append(
                f"{table.label}: columns {seen[key]} and '{raw}' ({letter}) both give {dotted(target.path)}"
            )
            continue
        seen[key] = f"'{raw}' ({letter})"
        out.append(Column(index, raw, target, rule))
    if item_table is not None and key_index is None:
        problems.append(
            f"{table.label}: no case_id column; each row of a linked table names its case in case_id"
        )
    if item_table is None and not any(c.target and c.target.path == ("case", "id") for c in out):
        problems.append(f"{table.label}: no case_id column; every row needs the id of its case")
    if problems:
        raise TableError("\n".join(problems))
    return out, key_index


def _put(data: dict, path: Path_, value: Any) -> None:
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


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(LIST_SEP) if p.strip()]


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
                return f"{location}, column '{root_column_of(tuple(path))}'"
            # the row of a linked table that holds this list item
            return f"{location}, column '{'.'.join(str(p) for p in path[end:])}'"
        return self.name

    def add_row(self, prefix: Path_, location: str, columns: list[Column], cells: list[str | None]) -> None:
        """Put one row's cells into the data under `prefix` (() for a case row, (table, i) for an item)."""
        self.places.setdefault(prefix, (location, False))
        for col in columns:
            text = cells[col.index] if col.index < len(cells) else None
            if text is None or col.target is None:
                continue
            place = f"{location}, {col.label()}"
            target = col.target
            parts = _split(text) if target.is_list or "*" in target.path else [text]
            if col.rule is not None:
                try:
                    parts = [self._apply(col.rule, p) for p in parts]
                except ValueError as exc:
                    self.problems.append(f"{place}: {exc}")
                    continue
            if "*" in target.path:
                star = target.path.index("*")
                for i, part in enumerate(parts):
                    path = (*prefix, *target.path[:star], i, *target.path[star + 1 :])
                    _put(self.data, path, part)
                    self.places[path] = (place, True)
            else:
                path = (*prefix, *target.path)
                _put(self.data, path, parts if target.is_list else parts[0] if parts else None)
                self.places[path] = (place, True)

    @staticmethod
    def _apply(rule: ColumnRule, value: str) -> str:
        value = rule.translate(value)
        if rule.date_format and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            try:
                parsed = dt.datetime.strptime(value, rule.date_format)
            except ValueError:
                raise ValueError(
                    f"'{value}' does not match the date format '{rule.date_format}' given in {rule.where}"
                ) from None
            return parsed.date().isoformat()[: {1: 4, 2: 7, 3: 10}[_date_precision(rule.date_format)]]
        return value

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
        from .casefile import _parse_dotted

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


# --- Layouts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableOptions:
    """How tables are read: an optional column map for headers that differ."""

    columns: ColumnMap | None = None


Row = tuple[str, str, object]  # (source name, path, doc with .convert)


def _row_name(table: Table, number: int) -> str:
    return f"{table.label}, row {number}"


def _rows_of(table: Table, item_table: str | None, options: TableOptions):
    header, rows = _header(table)
    columns, key_index = resolve_columns(table, header, item_table, options.columns)
    width = len(header)
    for number, cells in rows:
        if not any(c is not None for c in cells):
            continue
        extra = [i for i in range(width, len(cells)) if cells[i] is not None]
        yield number, cells, columns, key_index, extra


def _extra_problem(table: Table, number: int, extra: list[int]) -> str:
    letters = ", ".join(column_letter(i) for i in extra)
    return f"{_row_name(table, number)}: cells in column(s) {letters} have no header; name the column or clear them"


def _load_items(table: Table, item_table: str, options: TableOptions) -> dict[str, list]:
    """A linked table's rows by case id (linked tables are joined in memory; the cases table streams)."""
    by_case: dict[str, list] = {}
    for number, cells, columns, key_index, extra in _rows_of(table, item_table, options):
        case_id = cells[key_index] if key_index is not None and key_index < len(cells) else None
        by_case.setdefault(case_id or "", []).append((number, cells, columns, extra))
    return by_case


def _case_rows(root: Table, children: list[tuple[str, Table]], options: TableOptions) -> Iterator[Row]:
    items: dict[str, dict[str, list]] = {}
    for name, table in children:
        items.setdefault(name, {})
        for case_id, rows in _load_items(table, name, options).items():
            items[name].setdefault(case_id, []).extend((table, *r) for r in rows)
    seen: set[str] = set()
    for number, cells, columns, _, extra in _rows_of(root, None, options):
        name = _row_name(root, number)
        doc = TableCase(name)
        if extra:
            doc.problems.append(_extra_problem(root, number, extra))
        doc.add_row((), name, columns, cells)
        case_id = doc.data.get("case", {}).get("id")
        if isinstance(case_id, str) and items:
            # Kept only for a linked layout (whose tables are in memory anyway), so a flat table streams.
            seen.add(case_id)
            for list_name, by_case in items.items():
                rows = by_case.pop(case_id, [])
                if rows and list_name in doc.data:
                    first = next(
                        (loc for p, (loc, col) in doc.places.items() if p[:1] == (list_name,) and col), name
                    )
                    doc.problems.append(
                        f"{first}: {list_name} is given both in this row and in {rows[0][0].label}; use one or the other"
                    )
                    continue
                for i, (table, n, item_cells, item_columns, item_extra) in enumerate(rows):
                    if item_extra:
                        doc.problems.append(_extra_problem(table, n, item_extra))
                    doc.add_row((list_name, i), _row_name(table, n), item_columns, item_cells)
        yield name, root.file, doc
    for by_case in items.values():
        for case_id, rows in by_case.items():
            for table, n, *_ in rows:
                name = _row_name(table, n)
                if not case_id:
                    message = f"{name}: case_id is empty; name the case this row belongs to"
                elif case_id in seen:
                    message = f"{name}: case '{case_id}' was already converted (its rows in {table.label} must not repeat)"
                else:
                    message = f"{name}: case_id '{case_id}' is not in {root.label}; add the case there or fix the id"
                yield name, table.file, ErrorDoc(name, message)


def _linked_siblings(path: Path) -> tuple[Path | None, list[tuple[str, Path]]]:
    """For a file of a linked layout: its cases file and the linked tables beside it."""
    suffix = path.suffix.lower()
    stem = path.stem
    lowered = stem.lower()
    prefix = None
    if lowered.endswith(ROOT):
        prefix = stem[: len(stem) - len(ROOT)]
    else:
        for part in sorted([*layout().tables, *TABLE_ALIASES], key=len, reverse=True):
            if lowered.endswith(part.replace("_", "")) or lowered.endswith(part):
                cut = part if lowered.endswith(part) else part.replace("_", "")
                prefix = stem[: len(stem) - len(cut)]
                break
    if prefix is None or (prefix and not prefix.endswith((".", "-", "_"))):
        return None, []
    root = path.with_name(prefix + ROOT + suffix)
    if not root.exists():
        return None, []
    children = []
    for sibling in sorted(path.parent.iterdir()):
        if sibling.suffix.lower() != suffix or not sibling.stem.startswith(prefix) or sibling == root:
            continue
        name = table_name(sibling.stem[len(prefix) :])
        if name is not None:
            children.append((name, sibling))
    return root, children


def table_sources(path: str, options: TableOptions | None = None) -> Iterator[Row]:
    """Every case a table file holds, as (name, path, doc); a file that cannot be read is one error."""
    options = options or TableOptions()
    try:
        yield from _table_sources(path, options)
    except TableError as exc:
        yield path, path, ErrorDoc(path, str(exc))


def _workbook_sources(path: str, book, options: TableOptions) -> Iterator[Row]:
    """The cases of a workbook: framework sheets, a cases sheet with linked ones, or one sheet."""
    from . import mef

    headers = {}
    for s in book.sheetnames:
        if s.startswith("_"):
            continue
        try:
            headers[s] = _header(Table(path, s, book))[0]
        except TableError:
            continue  # an empty sheet (Sheet2 of a new workbook) holds nothing to lose
    if not headers:
        raise TableError(f"{path}: every sheet is empty; the first row of a sheet names its columns")
    sheets = list(headers)
    tables = {s: Table(path, s, book) for s in sheets}
    by_name = {_norm(s): s for s in sheets}
    kinds = mef.classify(headers)
    if kinds:
        yield from mef.mef_sources(path, {s: tables[s] for s in kinds}, kinds)
        return
    if ROOT in by_name:
        children, unknown = [], []
        for s in sheets:
            if s == by_name[ROOT]:
                continue
            name = table_name(s)
            (children.append((name, tables[s])) if name else unknown.append(s))
        if unknown:
            known = ", ".join(["cases", *TABLE_ALIASES, *layout().tables])
            raise TableError(
                f"{path}: sheet(s) {', '.join(repr(u) for u in unknown)} are not tables fhir-adapter reads"
                f" ({known}); rename them, or start their names with _ to leave them out"
            )
        yield from _case_rows(tables[by_name[ROOT]], children, options)
        return
    if len(sheets) != 1:
        raise TableError(
            f"{path}: {len(sheets)} sheets and none is called 'cases'; name the sheet of cases 'cases'"
            " (linked tables beside it), or keep one sheet"
        )
    yield from _case_rows(tables[sheets[0]], [], options)


def _table_sources(path: str, options: TableOptions) -> Iterator[Row]:
    from . import mef

    if path.lower().endswith(".xlsx"):
        book = _open_workbook(path)
        try:
            yield from _workbook_sources(path, book, options)
        finally:
            book.close()
        return
    p = Path(path)
    header = _header(Table(path))[0]
    if mef.classify({p.name: header}):
        yield from mef.mef_csv_sources(p)
        return
    root, children = _linked_siblings(p)
    if root is not None and root != p:
        return  # a linked table: read with its cases table
    yield from _case_rows(Table(path), [(n, Table(str(c))) for n, c in children], options)


# --- Templates -------------------------------------------------------------------------------

# The template's example row: a case as a short published report gives it.
EXAMPLE_CASE: dict = {
    "case": {"id": "example-1", "summary": "A 40-year-old woman with breast cancer and scalp metastasis."},
    "patient": {"sex": "female", "age_at_diagnosis": 40},
    "primary_cancers": [
        {
            "id": "breast",
            "site": "breast",
            "laterality": "left",
            "histology": "invasive ductal carcinoma",
            "receptors": {"er": "positive", "pr": "positive", "her2": "negative"},
        }
    ],
    "metastases": [{"site": "scalp", "age": 42, "confirmed_by": ["biopsy"]}],
    "procedures": [
        {"name": "excision of scalp lesion", "body_site": "scalp", "age": 42, "treats": ["breast"]}
    ],
    "medications": [{"name": "tamoxifen", "treats": ["breast"]}],
}


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return None
            data = data[part]
        else:
            if not isinstance(data, dict):
                return None
            data = data.get(part)
    return data


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return LIST_SEP.join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flat_columns() -> list[tuple[str, Field_]]:
    """The columns of the flat template, in schema order, with what each field means."""
    lay = layout()
    first = lay.first_table
    out = []
    for f in lay.root:
        out.append((root_column_of(f.path), f))
    for f in lay.tables[first]:
        out.append((root_column_of((first, 0, *f.path)), f))
    for name, path in EXPLICIT.items():
        if "*" in path:
            out.append((name, next(f for f in lay.tables[str(path[0])] if f.path == path[2:])))
    return out


def item_columns(table: str) -> list[tuple[str, Field_]]:
    """The columns of a linked table: case_id, then the item's fields."""
    case_id = Field_(("case_id",), False, "The id of the case this row belongs to.", True)
    return [("case_id", case_id), *((".".join(f.path), f) for f in layout().tables[table])]


def flatten(data: dict, linked: bool = False) -> tuple[dict[str, str], dict[str, list[dict[str, str]]]]:
    """A case's data as a row of the cases table and, when linked, rows of the linked tables."""
    row: dict[str, str] = {}
    lay = layout()
    for f in lay.root:
        value = _get(data, f.path)
        if value is not None:
            row[root_column_of(f.path)] = _text(value)
    children: dict[str, list[dict[str, str]]] = {}
    case_id = _text(_get(data, ("case", "id")))
    for table, fields in lay.tables.items():
        items = data.get(table) or []
        if linked:
            children[table] = [
                {"case_id": case_id}
                | {
                    ".".join(f.path): _text(_get(item, f.path))
                    for f in fields
                    if _get(item, f.path) is not None
                }
                for item in items
            ]
            continue
        for i, item in enumerate(items):
            for f in fields:
                value = _get(item, f.path)
                if value is not None:
                    row[root_column_of((table, i, *f.path))] = _text(value)
    return row, children


def template_tables(linked: bool) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Header and example rows of each table of a template (one table, or cases plus linked ones)."""
    row, children = flatten(EXAMPLE_CASE, linked)
    if linked:
        lay = layout()
        columns = [root_column_of(f.path) for f in lay.root]
        out = {ROOT: (columns, [[row.get(c, "") for c in columns]])}
        for table in lay.tables:
            names = [n for n, _ in item_columns(table)]
            rows = [[r.get(n, "") for n in names] for r in children.get(table, [])]
            out[table] = (names, rows)
        return out
    columns = [n for n, _ in flat_columns()]
    # The example's list items beyond the first primary go in the ;-separated columns.
    example = {c: row.get(c, "") for c in columns}
    for name, path in EXPLICIT.items():
        if "*" in path:
            example[name] = LIST_SEP.join(
                _text(_get(i, path[2:])) for i in EXAMPLE_CASE.get(str(path[0]), [])
            )
    return {ROOT: (columns, [[example[c] for c in columns]])}


def field_notes(linked: bool) -> list[list[str]]:
    """Column, table and meaning of every template column (the _fields sheet of a workbook)."""
    out = [["table", "column", "field", "required", "description"]]
    lay = layout()
    if linked:
        for f in lay.root:
            out.append(
                [ROOT, root_column_of(f.path), ".".join(f.path), "yes" if f.required else "", f.description]
            )
        for table in lay.tables:
            for name, f in item_columns(table):
                out.append(
                    [table, name, f"{table}[].{'.'.join(f.path)}", "yes" if f.required else "", f.description]
                )
    else:
        for name, f in flat_columns():
            out.append([ROOT, name, ".".join(f.path), "yes" if f.required else "", f.description])
    for path in lay.unsupported:
        out.append(["", "", path, "", "A list inside list items: not available in tables; use a case file."])
    return out


def write_template(fmt: str, linked: bool) -> dict[str, bytes]:
    """The template files: {file name: bytes}. xlsx gives one workbook; csv one file per table."""
    tables = template_tables(linked)
    if fmt == "xlsx":
        import io

        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        for name, (header, rows) in tables.items():
            ws = wb.create_sheet(name)
            ws.append(header)
            for r in rows:
                ws.append(r)
        notes = wb.create_sheet("_fields")
        for r in field_notes(linked):
            notes.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        return {"cases.xlsx": buf.getvalue()}
    out = {}
    import io

    for name, (header, rows) in tables.items():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        file = "cases.csv" if name == ROOT else f"{name}.csv"
        out[file] = buf.getvalue().encode()
    return out
