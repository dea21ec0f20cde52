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
messages name the file, sheet, row and column. Cells are read by sheets.py; which layout a table
is (these two, or the mCODE Extraction Framework's in mef.py) is decided in inputs.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .casefile import dotted, one_line
from .errors import ConfigError
from .schema import case_json_schema
from .sheets import (
    LIST_SEP,
    SHOWN,
    ErrorDoc,
    Path_,
    ReadWith,
    Row,
    RowError,
    RowIndex,
    Table,
    TableCase,
    TableError,
    TableOptions,
    Tables,
    aggregate,
    blank_headers,
    column_letter,
    header,
    header_again,
    header_below,
    headless_problem,
    node_at,
    put,
    row_name,
)
from .sheets import TABLE_SUFFIXES as TABLE_SUFFIXES  # re-exported for the CLI

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


def _key_twice(node: yaml.Node | None) -> tuple[yaml.Node, yaml.Node] | None:
    """The first key given twice in one mapping of a composed YAML tree, with its first place: a
    `field:`, a translation in `values:` or `columns:` given twice lost one of the two without a word."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key, _ in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return seen[key.value], key
                    seen[key.value] = key
            stack.extend(value for _, value in reversed(current.value))  # in the file's order
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))
    return None


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

    twice = _key_twice(root)
    if twice is not None:
        first, second = (k.start_mark.line + 1 for k in twice)
        lines = f"lines {first} and {second}" if first != second else f"line {first}, twice"
        raise fail(
            twice[1],
            f"'{one_line(str(twice[1].value))}' is given twice in one mapping ({lines}); one of the two would"
            " be lost without a word: keep one",
        )

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


@dataclass(frozen=True)
class Column:
    """A column of a table, resolved: its header, letter, target, and the column-map rule if any."""

    index: int
    header: str
    target: Target | None  # None: left out by the column map
    rule: ColumnRule | None = None
    # Worked out once per table, not once per cell: how messages name the column, and whether
    # a cell's text goes to its path as it is (one value, no rule, no parts).
    shown: str = field(init=False, repr=False, compare=False)
    plain: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shown", f"column '{one_line(self.header)}' ({column_letter(self.index)})")
        target = self.target
        plain = target is not None and self.rule is None and not target.is_list and "*" not in target.path
        # A plain value inside a list item (metastases[0].site) that a list column may give too.
        plain = plain and target is not None and not any(isinstance(p, int) for p in target.path)
        object.__setattr__(self, "plain", plain)

    def label(self) -> str:
        return self.shown


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
        shown = one_line(raw)
        if rule is not None and rule.target is None:
            out.append(Column(index, raw, None, rule))
            continue
        assert name is not None
        if item_table is not None and _norm(name) == "case_id":
            if key_index is not None:
                # The last one joined the rows, and the first was never read.
                problems.append(
                    f"{table.label}: columns '{one_line(header[key_index] or '')}' ({column_letter(key_index)})"
                    f" and '{shown}' ({letter}) both give case_id; give it in one column"
                )
                continue
            key_index = index
            continue
        target = resolve_root(name) if item_table is None else resolve_item(item_table, name)
        via = f" (mapped by {rule.where})" if rule else ""
        nested = _nested_list(name, item_table)
        if target is None and nested:
            problems.append(
                f"{table.label}: column '{shown}' ({letter}){via}: {nested} is a list of items inside a list"
                " item, which tables cannot give yet; give those cases as case files"
            )
            continue
        if target is None:
            names = flat_names() if item_table is None else _item_names(item_table)
            # Close matches are looked for only in what is shown (a header may have 10,000 columns).
            close = suggest(name, names) if len(problems) < SHOWN else ""
            problems.append(
                f"{table.label}: column '{shown}' ({letter}){via} is not a field of the case format"
                f"{close}; rename it, map it with --columns, or see fhir-adapter template"
            )
            continue
        past = next((p for p in target.path if isinstance(p, int) and p >= table.limits.items), None)
        if past is not None:
            # Checked here, before a row makes a list that long item by item.
            problems.append(
                f"{table.label}: column '{shown}' ({letter}){via}: index {past:,} of {target.path[0]} is past"
                f" the limit of {table.limits.items:,} items in one list; if it is right, raise the limit"
                " with --limit items=N"
            )
            continue
        key = repr(target.path)
        if key in seen:
            problems.append(
                f"{table.label}: columns {seen[key]} and '{shown}' ({letter}) both give {dotted(target.path)}"
            )
            continue
        seen[key] = f"'{shown}' ({letter})"
        out.append(Column(index, raw, target, rule))
    missing = None
    if item_table is not None and key_index is None:
        missing = f"{table.label}: no case_id column; each row of a linked table names its case in case_id"
    if item_table is None and not any(c.target and c.target.path == ("case", "id") for c in out):
        missing = f"{table.label}: no case_id column; every row needs the id of its case"
    if missing is not None:
        below = header_below(table, "case_id")
        if below is not None:
            # Titles or notes above the header: said first, as every other problem follows from it.
            problems.insert(
                0,
                f"{table.label}: the header is read from row {below[0]}, but {below[1]} reads case_id: if"
                " the header is there, delete the rows above it (a title or a note) and convert again",
            )
        problems.append(missing)
    if problems:
        raise TableError("\n".join(aggregate(problems, table.label)))
    return out, key_index


def _parts(text: str) -> list[str | None]:
    """The parts of a ;-separated cell in their positions; an empty part is an absent value (None)."""
    return [p.strip() or None for p in text.split(LIST_SEP)]


class FormatCase(TableCase):
    """A case from the case format's own layouts: rows whose columns are fields of the case format."""

    def column_of(self, path: Path_) -> str:
        return root_column_of(path)

    def add_row(self, prefix: Path_, location: str, columns: list[Column], cells: list[str | None]) -> None:
        """Put one row's cells into the data under `prefix` (() for a case row, (table, i) for an item)."""
        self.places.setdefault(prefix, (location, False))
        width = len(cells)
        node = None  # the dict at `prefix`, made when the row's first plain value goes in
        for col in columns:
            text = cells[col.index] if col.index < width else None
            if text is None or col.target is None:
                continue
            place = f"{location}, {col.shown}"
            target = col.target
            if col.plain:
                if node is None:
                    node = node_at(self.data, prefix)
                if len(target.path) == 1:
                    node[target.path[0]] = text
                else:
                    put(node, target.path, text)
                self.places[prefix + target.path] = (place, True)
                continue
            parts = _parts(text) if target.is_list or "*" in target.path else [text]
            if col.rule is not None:
                try:
                    parts = [None if p is None else self._apply(col.rule, p) for p in parts]
                except ValueError as exc:
                    self.problems.append(f"{place}: {exc}")
                    continue
            if "*" in target.path:
                # The i-th part goes to the i-th item, so an empty part keeps the items after it
                # in step with the other columns' parts (a dose stays with its drug).
                star = target.path.index("*")
                for i, part in enumerate(parts):
                    path = (*prefix, *target.path[:star], i, *target.path[star + 1 :])
                    if part is None:
                        if len(parts) > 1:
                            self.places.setdefault(
                                path, (f"{place}, part {i + 1} of {len(parts)} (empty)", True)
                            )
                        continue
                    if self._given_twice(path, place):
                        continue
                    put(self.data, path, part)
                    self.places[path] = (place, True)
            else:
                path = (*prefix, *target.path)
                if self._given_twice(path, place):
                    continue
                if target.is_list:
                    put(self.data, path, [p for p in parts if p is not None])
                else:
                    put(self.data, path, parts[0])
                self.places[path] = (place, True)

    def _given_twice(self, path: Path_, place: str) -> bool:
        """Whether another column of the row already gave the value at `path` (metastasis_sites and
        metastases[0].site both give the first metastasis's site); a problem if so, as one value
        replacing the other would lose it."""
        earlier = self.places.get(path)
        if earlier is None or not earlier[1] or _get(self.data, path) is None:
            return False
        self.problems.append(
            f"{place}: {dotted(path)} is given here and in {earlier[0]}; give it in one column"
        )
        return True

    @staticmethod
    def _apply(rule: ColumnRule, value: str) -> str:
        value = rule.translate(value)
        if rule.date_format and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            try:
                parsed = dt.datetime.strptime(value, rule.date_format)
            except ValueError:
                raise ValueError(
                    f"'{one_line(value)}' does not match the date format '{rule.date_format}' given in {rule.where}"
                ) from None
            return parsed.date().isoformat()[: {1: 4, 2: 7, 3: 10}[_date_precision(rule.date_format)]]
        return value


# --- Layouts ---------------------------------------------------------------------------------


def _rows_of(table: Table, item_table: str | None, options: TableOptions):
    """The columns of a table and its case_id column, then its rows as (number, cells, problem or
    None); empty rows left out."""
    head, rows = header(table)
    columns, key_index = resolve_columns(table, head, item_table, options.columns)
    yield columns, key_index
    blank = blank_headers(head)
    for number, cells in rows:
        if isinstance(cells, RowError):
            yield number, cells.cells or [], cells.message
            continue
        if not any(c is not None for c in cells):
            continue
        again = header_again(table, number, cells, head)
        if again is not None:
            yield number, [], again  # no case of its own, and none to join: its cells are the header's
            continue
        yield number, cells, headless_problem(table, number, cells, head, blank)


def _keyed(part: int, key_index: int | None, rows) -> Iterator[tuple[str, int, int, list]]:
    for number, cells, problem in rows:
        key = cells[key_index] if key_index is not None and key_index < len(cells) else None
        yield key or "", part, number, [number, cells, problem]


def _case_rows(
    root: Table, children: list[tuple[str, Table]], options: TableOptions, notes: list[str] | None = None
) -> Iterator[Row]:
    """The cases of a cases table, each with its rows of the linked tables (none for a flat table).

    The cases table streams; the linked tables are indexed on disk by case_id first (their headers
    all checked before any row is read), so memory stays flat however many cases and rows.
    `notes` are warnings about the tables, said once, with the first case.
    """
    root_rows = _rows_of(root, None, options)
    root_columns, _ = next(root_rows)
    notes = [*(notes or ()), *([root.unseen] if root.unseen else [])]
    if not children:
        for number, cells, problem in root_rows:
            row, doc = _case_of(root, root_columns, number, cells, problem)
            doc.warnings.extend(notes)
            notes = []
            yield row
        return
    linked = []
    for list_name, table in children:
        rows = _rows_of(table, list_name, options)
        columns, key_index = next(rows)
        linked.append((list_name, table, columns, key_index, rows))
        if table.unseen:  # known once its header is read
            notes.append(table.unseen)
    index = RowIndex()
    try:
        for part, (_, _, _, key_index, rows) in enumerate(linked):
            index.add(_keyed(part, key_index, rows))
        index.ready()
        for number, cells, problem in root_rows:
            row, doc = _case_of(root, root_columns, number, cells, problem)
            doc.warnings.extend(notes)
            notes = []
            case_id = doc.data.get("case", {}).get("id")
            if isinstance(case_id, str):
                rows = index.take(case_id, row_name(root, number))
                if rows is None:
                    # Its rows of the linked tables went to the first: without them this row would fail
                    # for a field it lacks, or give a second, poorer case of the same id.
                    place = doc.places.get(("case", "id"), (row_name(root, number), True))[0]
                    doc.problems.append(
                        f"{place}: case_id '{one_line(case_id)}' is given twice in {root.label}, first in"
                        f" {index.taken_by(case_id)}; the rows of the linked tables went with the first:"
                        " give each case one row"
                    )
                _attach(doc, rows, linked, options)
            yield row
        for case_id, part, (number, _, problem) in index.left():
            table = linked[part][1]
            name = row_name(table, number)
            if not case_id:
                message = problem or f"{name}: case_id is empty; name the case this row belongs to"
            else:
                message = f"{name}: case_id '{one_line(case_id)}' is not in {root.label}; add the case there or fix the id"
                near = index.near(case_id)
                if near is not None:
                    # Joined as written: an id differing in case, spaces or a number's zeros may name another case.
                    message += f" (it has '{one_line(near)}')"
                if problem:
                    message = f"{problem}\n{message}"
            yield name, table.file, ErrorDoc(name, message)
    finally:
        index.close()


def _case_of(root: Table, columns: list[Column], number: int, cells: list, problem: str | None):
    name = row_name(root, number)
    doc = FormatCase(name)
    if problem:
        doc.problems.append(problem)
    doc.add_row((), name, columns, cells)
    return (name, root.file, doc), doc


def _attach(doc: FormatCase, rows, linked: list, options: TableOptions) -> None:
    """Put a case's rows of the linked tables into its data, each list item where its row says."""
    if rows is None:
        return  # a case id given twice: the second is refused as a duplicate by the run
    counts: dict[str, int] = {}
    both: set[str] = set()
    limit = options.limits.items
    seen: dict[tuple, str] = {}  # a row's cells (case_id included) -> where they were first
    for part, (number, cells, problem) in rows:
        list_name, table, columns = linked[part][:3]
        if list_name in both:
            continue
        key = (part, tuple(c for c in cells if c is not None))
        if problem is None and key in seen:
            # Two items all the same are two facts only if the report told it twice; a copied row
            # is the likelier, and only a person can tell. Both are read, and it is said.
            doc.warnings.append(
                f"{row_name(table, number)}: repeats {seen[key]} cell for cell; both are read, as two"
                f" {list_name}; delete one if it is a copy"
            )
        elif problem is None and len(seen) < limit:
            seen[key] = row_name(table, number)
        i = counts.get(list_name, 0)
        if i == 0 and list_name in doc.data:
            first = next(
                (loc for p, (loc, col) in doc.places.items() if p[:1] == (list_name,) and col), doc.name
            )
            doc.problems.append(
                f"{first}: {list_name} is given both in this row and in {table.label}; use one or the other"
            )
            both.add(list_name)
            continue
        counts[list_name] = i + 1
        if i == limit:
            doc.problems.append(
                f"{row_name(table, number)}: more than {limit:,} rows of {list_name} for one case; if it is"
                " right, raise the limit with --limit items=N"
            )
        if i >= limit:
            continue
        if problem:
            doc.problems.append(problem)
        doc.add_row((list_name, i), row_name(table, number), columns, cells)


def _linked_siblings(path: Path) -> tuple[Path | None, list[tuple[str, Path]], list[str]]:
    """For a file of a linked layout: its cases file, the linked tables beside it, and what is not
    read of the files beside it named like them: one named as no table of the layout
    (`metastasis.csv`), or as a table of a set with no cases table (`medications.csv` beside
    `registry.cases.csv`)."""
    suffix = path.suffix.lower()
    stem = path.stem
    prefix = _prefix(stem)
    if prefix is None or (prefix and not prefix.endswith((".", "-", "_"))):
        return None, [], []
    root = path.with_name(prefix + ROOT + suffix)
    if not root.exists():
        return None, [], []
    children, strays = [], []
    known = ", ".join(["cases", *TABLE_ALIASES, *layout().tables])
    for sibling in sorted(path.parent.iterdir()):
        if sibling.suffix.lower() != suffix or sibling == root:
            continue
        ours = sibling.stem.startswith(prefix)
        name = table_name(sibling.stem[len(prefix) :]) if ours else None
        if name is not None:
            children.append((name, sibling))
            continue
        other = _prefix(sibling.stem)
        if other is None:
            if ours:
                strays.append(
                    f"{sibling}: beside {root}, but its name is none of the linked tables ({known}); it was"
                    " not read: rename it if it holds rows of these cases"
                )
        elif not sibling.with_name(other + ROOT + suffix).exists():
            # Named as a linked table, but of a set with no cases table: no cases table reads it.
            table = sibling.stem[len(other) :]
            strays.append(
                f"{sibling}: beside {root}, named as a linked table but with no {other + ROOT + suffix} to"
                f" read it; it was not read: rename it {prefix + table + suffix} if it holds rows of these cases"
            )
    return root, children, strays


def _prefix(stem: str) -> str | None:
    """The part of a file's stem before its table's name (`registry.` of registry.cases), or None."""
    lowered = stem.lower()
    if lowered.endswith(ROOT):
        return stem[: len(stem) - len(ROOT)]
    for part in sorted([*layout().tables, *TABLE_ALIASES], key=len, reverse=True):
        if lowered.endswith(part.replace("_", "")) or lowered.endswith(part):
            cut = part if lowered.endswith(part) else part.replace("_", "")
            return stem[: len(stem) - len(cut)]
    return None


def linked_sources(found: Tables, options: TableOptions) -> Iterator[Row] | None:
    """The linked layout: a cases table with the tables of its lists (None: not this layout).

    A CSV file of the layout other than the cases table gives nothing: it is read with that table.
    """
    if found.workbook:
        by_name = {_norm(s): s for s in found.tables}
        if ROOT not in by_name:
            return None
        children, unknown = [], []
        for s, table in found.tables.items():
            if s == by_name[ROOT]:
                continue
            name = table_name(s)
            (children.append((name, table)) if name else unknown.append(s))
        if unknown:
            known = ", ".join(["cases", *TABLE_ALIASES, *layout().tables])
            raise TableError(
                f"{found.path}: sheet(s) {', '.join(repr(u) for u in unknown)} are not tables fhir-adapter"
                f" reads ({known}); rename them, or start their names with _ to leave them out"
            )
        _one_table_each([(n, t.label) for n, t in children])
        return _case_rows(found.tables[by_name[ROOT]], children, options)
    p = Path(found.path)
    root, children, strays = _linked_siblings(p)
    if root is None:
        return None
    if root != p:
        return iter([(str(p), str(p), ReadWith(str(root)))])  # a linked table: read with its cases table
    _one_table_each([(n, str(c)) for n, c in children])
    tables = [(n, Table(str(c), limits=options.limits)) for n, c in children]
    return _case_rows(found.only, tables, options, strays)


def _one_table_each(children: list[tuple[str, str]]) -> None:
    """Refuse two files or sheets that are one linked table (disease_status.csv and
    disease-status.csv, primaries and primary_cancers): both were read, every row of a copy a
    second item of its case."""
    first: dict[str, str] = {}
    for name, label in children:
        if name in first:
            raise TableError(
                f"{first[name]} and {label} are both the {name} table; keep one (a copy's rows would be"
                " read twice)"
            )
        first[name] = label


def flat_sources(found: Tables, options: TableOptions) -> Iterator[Row]:
    """The flat layout: one case per row of one table."""
    if len(found.tables) != 1:
        raise TableError(
            f"{found.path}: {len(found.tables)} sheets and none is called 'cases'; name the sheet of cases"
            " 'cases' (linked tables beside it), or keep one sheet"
        )
    return _case_rows(found.only, [], options)


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
