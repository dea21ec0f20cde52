"""Reads a YAML or JSON case file into a Case, turning every problem into a message with file and line.

Input is hostile until read: every case file is held to `Limits` (size, nesting, list length,
string length, number size, values after YAML aliases), a key given twice is an error naming both
lines, and bytes that are not UTF-8 text are refused, so no file can hang a batch or lose a value.
"""

from __future__ import annotations

import codecs
import difflib
import errno
import json
import math
import os
import re
import stat
import types
import typing
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import orjson
import yaml
from pydantic import BaseModel, ValidationError

from .case import Case
from .errors import ConfigError, InvalidCaseError
from .yamlkeys import DuplicateKey as _DuplicateKey
from .yamlkeys import NoDuplicateKeys as _NoDuplicateKeys

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    """Bounds on one case file, so no input can make a run hang or exhaust memory.

    A real case file is a few kilobytes, five levels deep, with short strings; the defaults are
    far above that. Each can be raised with `--limit NAME=VALUE` (NAME as below, with - for _).
    """

    file_size: int = 4 * 1024 * 1024  # bytes in one case file (or one NDJSON line)
    depth: int = 32  # levels of nested mappings and lists
    items: int = 10_000  # entries in one list or mapping
    string: int = 100_000  # characters in one string
    number: float = 1e15  # largest magnitude of a number (ages and sizes are small)
    nodes: int = 100_000  # values in the whole file, each YAML alias counted as a copy of its anchor

    def with_overrides(self, specs: Iterable[str]) -> Limits:
        """These limits with `NAME=VALUE` overrides applied; ConfigError for a bad one."""
        names = {f.name for f in fields(self)}
        changes: dict[str, int | float] = {}
        for spec in specs:
            name, sep, value = spec.partition("=")
            key = name.strip().lower().replace("-", "_")
            if not sep or key not in names:
                raise ConfigError(
                    f"--limit {spec}: expected NAME=VALUE with NAME one of "
                    + ", ".join(n.replace("_", "-") for n in sorted(names))
                )
            try:
                number = _parse_size(value) if key == "file_size" else float(value)
            except ValueError:
                raise ConfigError(f"--limit {spec}: {value!r} is not a number") from None
            if not number > 0 or math.isinf(number):
                raise ConfigError(f"--limit {spec}: a limit is a positive finite number")
            changes[key] = number if key == "number" else int(number)
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def _parse_size(value: str) -> float:
    """`4MB`, `512k`, `100000` -> bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*", value)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(value)
    return float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def _raise_hint(limit: str) -> str:
    return f"; if the file is right, raise the limit with --limit {limit}=N"


class _CaseLoader(_NoDuplicateKeys, yaml.SafeLoader):
    """A SafeLoader that leaves dates as the strings the author wrote (2019-03 must stay partial)."""


# The same loader over libyaml's parser when PyYAML was built with it: the data is the same
# (constructor and resolver are the Python ones), an order of magnitude faster to parse.
_FastCaseLoader: type = _CaseLoader
if hasattr(yaml, "CSafeLoader"):
    _FastCaseLoader = type("_FastCaseLoader", (_NoDuplicateKeys, yaml.CSafeLoader), {})

# Plain scalars are typed by the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules, under which
# `0123` is octal 83, `12:30` is sexagesimal 750, `1_000` is 1000 and `no` is False: case ids derive
# every resource id, so such a reading makes two cases collide. Narrowed to the scalars YAML 1.1
# types the same way, so that anything PyYAML writes (drafts, exports) reads back as written: a
# number is decimal with no leading zero (`0123`, `0o17`, `0x1F` stay text: an id or a code keeps
# its zero), an exponent has a dot and a sign (`1.5e+3`; `1e3` stays text), booleans are true and
# false only. Dates stay the strings the author wrote (2019-03 must stay partial).
_DIGITS = "0123456789"
_CORE_SCHEMA = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", list("-+" + _DIGITS)),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+." + _DIGITS),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),  # merge keys keep working (<<: *anchor)
)


def _core_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    out: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, firsts in _CORE_SCHEMA:
        for first in firsts:
            out.setdefault(first, []).append((tag, re.compile(pattern)))
    return out


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """`!!int` as a decimal number: never octal (0123), binary, hexadecimal or sexagesimal (1:30)."""
    return int(loader.construct_scalar(node))


def _decimal_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    """`!!float` without sexagesimal (1:30) or underscores; .inf and .nan as YAML writes them."""
    value = str(loader.construct_scalar(node))
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    found = special.get(value.lower())
    return found if found is not None else float(value)


for _loader in {_CaseLoader, _FastCaseLoader}:
    _loader.yaml_implicit_resolvers = _core_resolvers()
    _loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)
    _loader.add_constructor("tag:yaml.org,2002:float", _decimal_float)

# What a parser or constructor raises on input it cannot make data of: all of it is the input's
# fault (an int of 5,000 digits, a key that cannot be hashed, nesting past the stack).
# (PyYAML's constructor raises AttributeError for `!!timestamp` on a value that is not one.)
_PARSE_FAILURES = (
    yaml.YAMLError,
    ValueError,
    TypeError,
    OverflowError,
    RecursionError,
    AttributeError,
    KeyError,
    IndexError,
)


# YAML ends a line at NEL (U+0085) and the Unicode line and paragraph separators (U+2028, U+2029)
# too, which text pasted from a PDF or a word processor carries; editors and `grep -n` do not, so
# every line YAML counts after one would be named one line too far down.
_YAML_ONLY_BREAKS = re.compile("[\x85\u2028\u2029]")
_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _line_table(text: str) -> list[int] | None:
    """The file's line (from 1) of each line YAML counts (from 0), or None where the two agree."""
    if not _YAML_ONLY_BREAKS.search(text):
        return None
    table, line = [1], 1
    for found in _YAML_BREAKS.finditer(text):
        if found.group() not in ("\x85", "\u2028", "\u2029"):
            line += 1
        table.append(line)
    return table


def _file_line(yaml_line: int, table: list[int] | None) -> int:
    """A line as YAML counts it (from 0), as the file's line (from 1)."""
    return table[yaml_line] if table is not None and yaml_line < len(table) else yaml_line + 1


def _positions(node: yaml.Node, table: list[int] | None = None) -> dict[Path_, int]:
    """Map each path in a composed YAML document to its 1-based line.

    Each node is entered once, so an anchor used by many aliases costs nothing more: the
    positions of its content are those of the anchor.
    """
    out: dict[Path_, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, Path_]] = [(node, ())]
    while stack:
        current, path = stack.pop()
        out.setdefault(path, _file_line(current.start_mark.line, table))
        if id(current) in entered:
            continue
        entered.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                out.setdefault((*path, key), _file_line(key_node.start_mark.line, table))
                stack.append((value_node, (*path, key)))
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                stack.append((item, (*path, i)))
    return out


def _lines_of(text: str) -> dict[Path_, int]:
    """The line of each path in a YAML or JSON text (JSON is YAML); empty when it will not compose."""
    try:
        node = yaml.compose(text, Loader=_FastCaseLoader)
    except _PARSE_FAILURES:
        return {}
    return _positions(node, _line_table(text)) if node is not None else {}


# A comment begins at a '#' after a space, so `name: FOLFOX #2` is the value 'FOLFOX' and a
# comment: the rest of the words are dropped. Comments are written '# like this'; a '#' followed
# at once by a word or number is more likely part of the value.
_COMMENT_AT_ONCE = re.compile(r"[ \t]#[^\s#]")


def comment_notes(text: str, most: int = 10) -> list[str]:
    """Warnings for plain values that a comment cut short (`site: breast #2`), at most `most`."""
    if not _COMMENT_AT_ONCE.search(text):
        return []
    try:
        root = yaml.compose(text, Loader=_CaseLoader)
    except _PARSE_FAILURES:
        return []
    lines = _YAML_BREAKS.split(text)  # as YAML counts lines, which its marks use
    table = _line_table(text)
    notes: list[str] = []
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())] if root is not None else []
    seen: set[int] = set()
    while stack and len(notes) < most:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(
                (v, (*path, k.value if isinstance(k, yaml.ScalarNode) else "?"))
                for k, v in reversed(node.value)
            )
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(node.value))))
        elif isinstance(node, yaml.ScalarNode) and node.style is None and path:
            mark = node.end_mark
            rest = lines[mark.line][mark.column :] if mark.line < len(lines) else ""
            if _COMMENT_AT_ONCE.match(rest):
                comment = one_line(rest.strip())
                if len(comment) > 40:
                    comment = comment[:37] + "..."
                notes.append(
                    f"{dotted(path)} (line {_file_line(mark.line, table)}): the value is {_quote(node.value)}:"
                    f" YAML reads ' #' as the start of a comment, so '{comment}' is not part of it; if it is,"
                    " put the whole value in quotes"
                )
    return notes


class CaseFile:
    """A case file's parsed data and where each field is, for messages.

    Positions cost more than parsing, and only a case that fails validation needs them, so
    they are worked out from the text on first use. `notes` are warnings about the text itself.
    """

    def __init__(self, name: str, data: object, lines: dict[Path_, int] | None = None, text: str = ""):
        self.name = name
        self.data = data
        self._lines = lines
        self._text = text
        self.notes: list[str] = []

    @property
    def lines(self) -> dict[Path_, int]:
        if self._lines is None:
            self._lines = _lines_of(self._text)
        return self._lines

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def where(self, path: Path_) -> str:
        line = self.line_of(path)
        return f"{self.name}:{line}" if line else self.name


# --- limits on the data -------------------------------------------------------------------------

_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _count_within(data: object, limits: Limits) -> int | None:
    """The number of mapping keys in `data` if it keeps every limit but file size, else None.

    The fast check every case passes through; `_violation` finds and words a failure. Only
    mappings and lists go on the stack: the values in them (most of a case) are checked where
    they stand, and counted against the node budget with their container.
    """
    max_depth, max_items, max_string, max_number = limits.depth, limits.items, limits.string, limits.number
    budget = limits.nodes - 1  # data itself is a node
    if budget < 0:
        return None
    keys = 0
    stack: list[tuple[object, int]] = []
    push = stack.append
    values: Iterable[object] = (data,)
    depth = 0
    while True:
        for value in values:
            kind = type(value)
            if kind is str:
                if len(value) > max_string:  # type: ignore[arg-type]
                    return None
            elif kind is dict or kind is list:
                push((value, depth + 1))
            elif kind is int or kind is float:
                if not -max_number <= value <= max_number:  # type: ignore[operator]  # also False for NaN
                    return None
            elif kind is not bool and value is not None:
                return None
        if not stack:
            return keys
        container, depth = stack.pop()
        if depth > max_depth or len(container) > max_items:  # type: ignore[arg-type]
            return None
        budget -= len(container)  # type: ignore[arg-type]
        if budget < 0:
            return None
        if type(container) is dict:
            keys += len(container)
            for key in container:
                if type(key) is not str or len(key) > max_string:
                    return None
            values = container.values()
        else:
            values = container  # type: ignore[assignment]


def _violation(data: object, limits: Limits) -> tuple[Path_, str]:
    """The first place where `data` breaks a limit, and a sentence saying how."""
    budget = limits.nodes
    stack: list[tuple[object, Path_]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        budget -= 1
        if budget < 0:
            # Where the count ran out says little (aliases repeat one anchor); name the top field.
            return path[:1], (
                f"the file holds more than {limits.nodes:,} values"
                " (YAML aliases count as copies of their anchor)" + _raise_hint("nodes")
            )
        depth = len(path) + 1
        if isinstance(value, str):
            if len(value) > limits.string:
                return path, (
                    f"a string of {len(value):,} characters, longer than the limit of {limits.string:,}"
                    + _raise_hint("string")
                )
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                return path, f"{value} is not a number a case file can hold; write a finite number"
            if not -limits.number <= value <= limits.number:
                shown = (
                    f"{value:.3g}"
                    if isinstance(value, float)
                    else f"a number of {len(str(abs(value)))} digits"
                )
                # A record number or code of many digits is text: quoting it is the fix, not the limit.
                text = "; if it is an id or a code, put it in quotes" if isinstance(value, int) else ""
                return path, f"{shown} is larger than the limit of {limits.number:g}{text}" + _raise_hint(
                    "number"
                )
        elif isinstance(value, dict | list):
            if depth > limits.depth:
                return path, f"nested more than {limits.depth} levels deep" + _raise_hint("depth")
            if len(value) > limits.items:
                return path, (
                    f"{len(value):,} entries in one {'mapping' if isinstance(value, dict) else 'list'},"
                    f" more than the limit of {limits.items:,}" + _raise_hint("items")
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        return path, f"the key {key!r} is not text; write keys as names"
                    if len(key) > limits.string:
                        return path, f"a key of {len(key):,} characters" + _raise_hint("string")
                    stack.append((item, (*path, key)))
            else:
                stack.extend((item, (*path, i)) for i, item in enumerate(value))
        else:
            return path, (
                f"a value of type {type(value).__name__} (from a YAML tag) is not plain data;"
                " write it as text or a number"
            )
    raise AssertionError("_violation called on data within the limits")  # pragma: no cover


def check_limits(case_file: CaseFile, limits: Limits) -> int:
    """Raise InvalidCaseError where the data breaks a limit; return its number of mapping keys.

    `case_file` is anything with name, data and where(path): a table's case document too.
    """
    keys = _count_within(case_file.data, limits)
    if keys is not None:
        return keys
    path, problem = _violation(case_file.data, limits)
    where = case_file.where(path)
    field = f" {dotted(path)}:" if path else ""
    raise InvalidCaseError(one_line(f"{where}:{field} {problem}"), file=case_file.name)


# --- reading ------------------------------------------------------------------------------------

# Byte order marks of text a UTF-8 reader cannot read (UTF-32 first: its little-endian mark starts
# with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# Every JSON key is a string followed by a colon; this counts them and any string value that
# happens to end like one, so it never undercounts the keys written in the text.
_KEY_END = re.compile(r'"\s*:')
_LONG_DIGITS = re.compile(r"[0-9]{4000,}")


def wide_encoding(raw: bytes) -> str | None:
    """'UTF-32' or 'UTF-16' when the bytes start with that encoding's byte order mark, or are that
    encoding without one, else None.

    Programs that save UTF-16 without a mark (a 'Unicode' export, PowerShell's redirection) give
    every ASCII character a NUL beside it; such a file was 'a binary file' as a case file, and as a
    CSV one error per cell ('a NUL byte in the cell'), neither saying to save it as UTF-8.
    """
    marked = next((encoding for bom, encoding in _BOMS if raw.startswith(bom)), None)
    return marked or _unmarked_wide(raw[:4096])


def _unmarked_wide(head: bytes) -> str | None:
    """'UTF-32' or 'UTF-16' for text in that encoding with no byte order mark, judged by where its
    NULs fall: text of ASCII letters has them in the same places of every 2 or 4 bytes, which no
    UTF-8 text (where a NUL is an error) and no binary file does line after line."""
    if len(head) < 4 or b"\x00" not in head:
        return None
    for encoding, width in (("UTF-32", 4), ("UTF-16", 2)):
        size = len(head) - len(head) % width
        if size < 2 * width:
            continue
        for nul_places, codec in zip(_NUL_PLACES[width], _CODECS[width], strict=True):
            shares = [head[at:size:width].count(0) / (size // width) for at in range(width)]
            if all((s >= 0.5) if at in nul_places else (s < 0.05) for at, s in enumerate(shares)):
                # and it reads as text: a zip's header ('PK\x03\x04\x14\x00...') has NULs in
                # places too, but read as UTF-16 gives control characters
                text = head[:size].decode(codec, "replace")
                shown = sum(c.isprintable() or c in "\t\r\n" for c in text)
                if shown >= 0.95 * len(text):
                    return encoding
    return None


# The byte places within each 2 or 4 bytes that are NUL for text of ASCII letters: big- and
# little-endian.
_NUL_PLACES = {4: ((0, 1, 2), (1, 2, 3)), 2: ((0,), (1,))}
_CODECS = {4: ("utf-32-be", "utf-32-le"), 2: ("utf-16-be", "utf-16-le")}


def read_limited(path: str | Path, name: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a case file, refusing what is not a regular file or is larger than the limit.

    A FIFO or a device (`/dev/zero` behind a symlink) would block or never end, so only regular
    files are opened, and no more than the limit is read even if the file grows meanwhile.
    """
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidCaseError(f"{name}: is a directory, not a case file", file=name)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidCaseError(
                f"{name}: not a regular file (a device, pipe or socket); give a case file", file=name
            )
        if info.st_size > limits.file_size:
            raise InvalidCaseError(_too_big(name, info.st_size, limits), file=name)
        with open(path, "rb") as fh:
            # A buffer the size of the file, not of the limit (4 MB allocated and shrunk per file),
            # and reading on to the limit in case the file grew since stat.
            raw = fh.read(info.st_size + 1)
            if len(raw) > info.st_size:
                raw += fh.read(limits.file_size + 1 - len(raw))
    except OSError as exc:
        problem = exc.strerror or str(exc)
        if exc.errno == errno.ELOOP:
            problem = "a symlink loop (the link leads back to itself)"
        raise InvalidCaseError(f"{name}: cannot read the file: {problem}", file=name) from None
    if len(raw) > limits.file_size:
        raise InvalidCaseError(_too_big(name, len(raw), limits), file=name)
    return raw


def read_line(fh: typing.BinaryIO, size: int) -> bytes:
    """The next line of a binary file, at most `size` bytes, ended by LF, CRLF or a CR alone.

    readline() ends lines at LF only, so a file saved with CR line ends (older Mac programs, some
    exports mixing them) read as one long line: its lines were one row, or one NDJSON case, each
    other's "extra data". A CR alone ends a line, as it does for csv and for editors.
    """
    raw = fh.readline(size)
    cr = raw.find(b"\r")
    while cr >= 0:
        after = raw[cr + 1 : cr + 2]
        if after != b"\n":
            if after:  # a CR inside what readline gave: the line ends there, the rest is read again
                fh.seek(cr + 1 - len(raw), os.SEEK_CUR)
                return raw[: cr + 1]
            return raw  # the CR ends what was read (at the end of the file or the size)
        cr = raw.find(b"\r", cr + 2)
    return raw


def _too_big(name: str, size: int, limits: Limits) -> str:
    return (
        f"{name}: the file is {size:,} bytes, more than the limit of {limits.file_size:,} for one case"
        + _raise_hint("file-size")
    )


# The first bytes of the files spreadsheet programs save (an .ods or .xlsx is a zip archive, an
# .xls an OLE compound file).
_OFFICE_FILES = (
    (b"PK\x03\x04", "a zip archive (a spreadsheet such as .ods or .xlsx, or another office file)"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.xls, .doc)"),
)


def read_case_text(name: str, raw: bytes, limits: Limits = DEFAULT_LIMITS) -> CaseFile:
    """Parse the bytes of a case file; raise InvalidCaseError naming the file and line."""
    if len(raw) > limits.file_size:
        raise InvalidCaseError(_too_big(name, len(raw), limits), file=name)
    if not raw.strip():
        raise InvalidCaseError(
            f"{name}: the file is empty; a case file needs at least case, patient and primary_cancers",
            file=name,
        )
    encoding = wide_encoding(raw)
    if encoding is not None:
        raise InvalidCaseError(
            f"{name}: the file is {encoding} text; save it as UTF-8 (a UTF-8 byte order mark is fine)",
            file=name,
        )
    if raw.startswith(b"%PDF-"):
        raise InvalidCaseError(f"{name}: this is a PDF, not a YAML or JSON case file", file=name)
    nul = raw.find(b"\x00")
    if nul >= 0:
        if raw[:8192].count(b"\x00") > 1:
            office = next((what for magic, what in _OFFICE_FILES if raw.startswith(magic)), None)
            if office is not None:
                # A workbook in a format the table reader does not take (.xls, .ods) came here as a
                # case file, and 'a binary file' did not say what to do with it.
                raise InvalidCaseError(
                    f"{name}: this is {office}, not a YAML or JSON case file; tables are read from .csv,"
                    " .tsv and .xlsx files: save a spreadsheet as one of those",
                    file=name,
                )
            raise InvalidCaseError(f"{name}: this is a binary file, not a YAML or JSON case file", file=name)
        line = raw[:nul].count(b"\n") + 1
        raise InvalidCaseError(
            f"{name}:{line}: a NUL byte (0x00) in the text; a case file is plain UTF-8 text", file=name
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidCaseError(
            f"{name}:{line}: the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            file=name,
        ) from None

    if name.lower().endswith(".json"):
        case_file = CaseFile(name, _load_json(name, text), text=text)
        _check_surrogates(case_file)
        keys = check_limits(case_file, limits)
        # Every key written needs a colon: as many colons as keys read means none was lost.
        if text.count(":") > keys and len(_KEY_END.findall(text)) > keys:
            _check_json_duplicates(name, text)
        return case_file
    case_file = CaseFile(name, _load_yaml(name, text), text=text)
    _check_surrogates(case_file)
    check_limits(case_file, limits)
    case_file.notes = comment_notes(text)
    return case_file


# An escape of half a UTF-16 pair (\ud800) with no other half: text decoded from UTF-8 holds no
# such character, so only an escape in a JSON or double-quoted YAML string can make one.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _check_surrogates(case_file: CaseFile) -> None:
    """Raise InvalidCaseError naming the line of an escape that gives half a character.

    The value failed later as 'unable to parse raw data as a unicode string', with no line (the
    parser that finds lines refuses such an escape) and no fix.
    """
    escape = _LONE_SURROGATE.search(case_file._text)
    if escape is None or not _holds_surrogate(case_file.data):
        return
    line = case_file._text.count("\n", 0, escape.start()) + 1
    raise InvalidCaseError(
        f"{case_file.name}:{line}: the escape {escape.group()} is half of a character (a lone UTF-16"
        " surrogate), which no text can hold; write the character itself, or both halves of its escape",
        file=case_file.name,
    )


def _holds_surrogate(data: object) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if any("\ud800" <= c <= "\udfff" for c in value):
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _load_json(name: str, text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            line = text[: exc.pos].count("\n") + 1
            raise InvalidCaseError(
                f"{name}:{line}: nested more than 1,024 levels deep; a case file is a few levels deep",
                file=name,
            ) from None
    # json accepts a little more (1e999, huge integers, NaN) and words its errors with a line;
    # what it accepts beyond orjson is then held to the limits like any other value.
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidCaseError(
            f"{name}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})", file=name
        ) from None
    except _PARSE_FAILURES as exc:
        raise _unreadable(name, text, "JSON", exc) from None


def _unreadable(name: str, text: str, what: str, exc: BaseException) -> InvalidCaseError:
    """An error from a parser that gave no position, worded for a person."""
    digits = _LONG_DIGITS.search(text) if isinstance(exc, ValueError) else None
    if digits is not None:
        # Python refuses to read an integer of thousands of digits; no case needs one.
        line = text[: digits.start()].count("\n") + 1
        return InvalidCaseError(
            f"{name}:{line}: a number of {len(digits.group()):,} digits; numbers in a case file are ages"
            " and sizes",
            file=name,
        )
    if isinstance(exc, RecursionError):
        return InvalidCaseError(f"{name}: invalid {what}: nested too deeply to read", file=name)
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return InvalidCaseError(f"{name}: invalid {what}: {detail}", file=name)


def _check_json_duplicates(name: str, text: str) -> None:
    """Raise InvalidCaseError if a JSON object names a key twice, with both lines where YAML can tell."""
    duplicate: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and not duplicate:
                duplicate.append(key)
            seen.add(key)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    if not duplicate:
        return
    try:
        yaml.load(text, Loader=_FastCaseLoader)  # noqa: S506 - a SafeLoader; JSON is YAML
    except _DuplicateKey as exc:
        raise InvalidCaseError(_duplicate_message(name, exc, text), file=name) from None
    except _PARSE_FAILURES:
        pass
    raise InvalidCaseError(_duplicate_message(name, _DuplicateKey(duplicate[0], None, None), text), file=name)


def _duplicate_message(name: str, exc: _DuplicateKey, text: str) -> str:
    if exc.first is not None and exc.second is not None:
        table = _line_table(text)
        exc.first, exc.second = _file_line(exc.first - 1, table), _file_line(exc.second - 1, table)
    if exc.first is None or exc.second is None:
        return (
            f"{name}: the key {exc.key!r} appears twice in one object; the second would silently"
            " replace the first: keep one"
        )
    lines = f"lines {exc.first} and {exc.second}" if exc.first != exc.second else f"line {exc.first}, twice"
    return (
        f"{name}:{exc.second}: the key {exc.key!r} appears twice in one mapping ({lines}); the second"
        " would silently replace the first: keep one"
    )


def _several_cases(text: str, exc: yaml.MarkedYAMLError) -> str | None:
    """What to say of a text holding several cases (YAML documents, or NDJSON lines), if it does.

    PyYAML words both as a grammar problem ('expected a single document', 'expected <document
    start>'), and 'check indentation and quoting' sent the user looking for a typo.
    """
    one_case = "a case file holds one case: give each case a file of its own"
    if "expected a single document" in str(exc.context or ""):
        return f"a second YAML document starts here (after a '---' line); {one_case}"
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
        return (
            f"{len(lines)} lines of one JSON object each (NDJSON); {one_case}, or save them as a .ndjson file"
        )
    return None


def _load_yaml(name: str, text: str) -> object:
    try:
        data = yaml.load(text, Loader=_FastCaseLoader)  # noqa: S506 - a SafeLoader
    except _DuplicateKey as exc:
        raise InvalidCaseError(_duplicate_message(name, exc, text), file=name) from None
    except _PARSE_FAILURES:
        data = None  # the pure-Python parser below words the error as users have seen it
    else:
        if data is not None:
            return data
    # Errors and empty documents: compose with the Python parser for its marks and messages.
    try:
        node = yaml.compose(text, Loader=_CaseLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{_file_line(mark.line, _line_table(text))}" if mark else ""
        several = _several_cases(text, exc)
        if several:
            raise InvalidCaseError(f"{name}{line}: {several}", file=name) from None
        what = exc.problem or "invalid YAML"
        fix = "check indentation and quoting around that line"
        if "'\\t'" in what and "cannot start any token" in what:
            # An editor's tab key: 'check indentation' did not say the tab itself is the fault.
            fix = "YAML indents with spaces, never tabs: replace the tab with spaces"
        raise InvalidCaseError(
            f"{name}{line}: invalid YAML: {what}" + (f" ({exc.context})" if exc.context else "") + f"; {fix}",
            file=name,
        ) from None
    except _PARSE_FAILURES as exc:
        raise _unreadable(name, text, "YAML", exc) from None
    if node is None:
        raise InvalidCaseError(
            f"{name}: the file holds no data; a case file needs at least case, patient and primary_cancers",
            file=name,
        )
    try:
        return _CaseLoader(text).get_single_data()
    except _DuplicateKey as exc:
        raise InvalidCaseError(_duplicate_message(name, exc, text), file=name) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{_file_line(mark.line, _line_table(text))}" if mark else ""
        raise InvalidCaseError(f"{name}{line}: invalid YAML: {exc.problem or exc}", file=name) from None
    except (AttributeError, KeyError, IndexError):
        raise InvalidCaseError(
            f"{name}: invalid YAML: a value does not match its explicit tag (such as !!timestamp);"
            " remove the tag or correct the value",
            file=name,
        ) from None
    except _PARSE_FAILURES as exc:
        raise _unreadable(name, text, "YAML", exc) from None


def _model_at(path: Path_) -> type[BaseModel] | None:
    """The pydantic model class that sits at a path inside Case, if any."""
    model: type[BaseModel] | None = Case
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _unwrap_model(field.annotation)
    return model


def _unwrap_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap_model(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def dotted(path: Path_) -> str:
    """`('primary_cancers', 0, 'site')` -> `primary_cancers[0].site`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# What str.splitlines breaks on: a key or value holding one must not break a message in two.
_LINE_BREAKS = {
    c: f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
    for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
}
_LINE_BREAKS.update({"\n": "\\n", "\r": "\\r"})
# Characters that show as nothing (zero-width space, soft hyphen, byte order mark, direction
# marks): a column 'case_id' followed by one reads exactly as case_id, so a message shows them.
# So are the spaces that are no space (no-break, narrow, figure, ideographic, ...): an id
# 'c\u00a01' refused for its form read 'c 1', as if the space a user typed were the fault.
_LINE_BREAKS.update(
    {
        c: f"\\u{ord(c):04x}"
        for c in "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
    }
)
_ONE_LINE = str.maketrans(_LINE_BREAKS)


def one_line(text: str) -> str:
    """`text` with line breaks and invisible characters written as escapes, so a message stays on its
    line and shows what is there."""
    return text.translate(_ONE_LINE)


_WORD = re.compile(r"[^\W\d_]{2,}")
# Scripts with letters drawn like Latin ones (Cyrillic а е о р с у х, Greek ο ν, full-width ａ).
_LOOK_ALIKE_SCRIPTS = {"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "FULLWIDTH"}


def look_alikes(text: str) -> list[str]:
    """The letters of another script inside words of Latin letters (`d\u0443ct\u0430l`), each as
    'у (U+0443 CYRILLIC SMALL LETTER U)'.

    A Cyrillic or Greek letter can look exactly like a Latin one, so a term holding one reads as
    a term the maps know and is kept as text; without the letters named, nobody can see why.
    """
    found: dict[str, None] = {}
    if text.isascii():
        return []
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        scripts = {c: unicodedata.name(c, "?").split(" ")[0] for c in word}
        if "LATIN" in scripts.values():
            for c, script in scripts.items():
                if script in _LOOK_ALIKE_SCRIPTS:
                    found[f"{c} (U+{ord(c):04X} {unicodedata.name(c)})"] = None
    return list(found)


def _quote(value: object) -> str:
    """A value as a message shows it: quoted, on one line, cut short if long."""
    text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return "'" + one_line(text) + "'"


_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NUMBER_AND_WORDS = re.compile(
    r"(-?[0-9]+(?:\.[0-9]+)?)\s*(?:years?|yrs?|y|yo|y\.o\.|years old|mm|cm)\.?", re.I
)


# Quotes a word processor makes of typed ones; YAML and JSON take them as part of the value.
_CURLY = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb"


def _curly_hint(value: object) -> str:
    """The fix for a value wrapped in typographic quotes ('“female”'), which read as part of it."""
    if isinstance(value, str) and len(value) > 1 and value[0] in _CURLY and value[-1] in _CURLY:
        return f"; its quotes {value[0]} {value[-1]} are typographic ones, part of the value: write {value[1:-1]!r} with straight quotes or none"
    return ""


def _describe(error: dict) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{_quote(value)} is not allowed; expected {expected}{_curly_hint(value)}"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        last = error.get("loc", ())[-1:]
        ages = " (ages are in years)" if last and "age" in str(last[0]).split("_") else ""
        return f"{value} is out of range: {error['msg'].lower()}{ages}"
    if kind == "string_pattern_mismatch":
        return f"{_quote(value)} has the wrong form (expected to match {error['ctx']['pattern']}){_curly_hint(value)}"
    msg = error["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        shown = json.dumps(value, default=str) if not isinstance(value, dict | list) else type(value).__name__
        if kind == "float_parsing" and isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value.strip()):
            # A semicolon CSV from a locale that writes 45,5; the number is not guessed from it.
            return (
                f"{msg} (got {shown}); write the decimal point as a point: {value.strip().replace(',', '.')}"
            )
        if kind == "float_parsing" and isinstance(value, str):
            # Full-width digits (４５, typed with an East Asian input method) or a unit after the
            # number ('45 years'): the number is not guessed, the fix is said.
            plain = unicodedata.normalize("NFKC", value).strip()
            if plain != value.strip() and _NUMBER.fullmatch(plain):
                return f"{msg} (got {shown}); it is written in full-width digits: write {plain}"
            unit = _NUMBER_AND_WORDS.fullmatch(plain)
            if unit is not None:
                ages = " in years" if "age" in str(error.get("loc", ("",))[-1]).split("_") else ""
                return f"{msg} (got {shown}); write the number alone{ages}: {unit.group(1)}"
        if kind == "string_type" and isinstance(value, bool | int | float):
            # `id: 1.10` reaches the model as 1.1: the message cannot show what was written, so it
            # says where the value changed and how to keep it as written.
            return (
                f"{msg} (got {shown}); YAML and JSON read an unquoted number, true or false as that"
                " value, not as the text written: put the value in quotes"
            )
        return f"{msg} (got {shown})"
    return msg


def validation_messages(case_file: CaseFile, exc: ValidationError) -> list[str]:
    """One sentence per pydantic error: file:line: field.path: what is wrong and how to fix it."""
    messages = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # Union members show up as an extra loc part; keep the path the user wrote.
        loc = tuple(p for p in loc if p not in ("str", "int", "list[str]"))
        if error["type"] == "value_error" and not loc:
            # The case-level checks report one problem per line, each starting with its field.
            for problem in error["msg"].removeprefix("Value error, ").splitlines():
                field = problem.split(":", 1)[0]
                messages.append(f"{case_file.where(_parse_dotted(field))}: {problem}")
            continue
        if error["type"] == "extra_forbidden":
            field = loc[-1]
            model = _model_at(loc[:-1])
            hint = ""
            if model is not None:
                close = difflib.get_close_matches(str(field), list(model.model_fields), n=1, cutoff=0.6)
                hint = (
                    f"; did you mean '{close[0]}'?"
                    if close
                    else f"; allowed here: {', '.join(model.model_fields)}"
                )
            messages.append(f"{case_file.where(loc)}: {dotted(loc)}: unknown field{hint}")
            continue
        where = case_file.where(loc)
        messages.append(f"{where}: {dotted(loc) or '(top level)'}: {_describe(error)}")

    # A value or key quoted in a message may hold a line break; a message stays on its line.
    messages = [one_line(m) for m in messages]

    def line_key(message: str) -> int:
        head = message.split(": ", 1)[0]
        tail = head.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    return sorted(messages, key=line_key)


def _parse_dotted(field: str) -> Path_:
    path: list[str | int] = []
    for part in field.replace("]", "").split("."):
        name, *indexes = part.split("[")
        if name:
            path.append(name)
        path.extend(int(i) for i in indexes if i.isdigit())
    return tuple(path)


def parse_case(case_file: CaseFile) -> Case:
    """Validate parsed data as a Case; raise InvalidCaseError with one message per problem."""
    if not isinstance(case_file.data, dict):
        kind = type(case_file.data).__name__
        raise InvalidCaseError(
            f"{case_file.where(())}: the top level is a {kind}; a case file is a mapping with case, patient and primary_cancers",
            file=case_file.name,
        )
    try:
        return Case.model_validate(case_file.data)
    except ValidationError as exc:
        messages = validation_messages(case_file, exc)
        raise InvalidCaseError("\n".join(messages), file=case_file.name, problems=messages) from None


def load_case(path: Path | str, *, display_name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Case:
    """Read, parse and validate one case file."""
    name = display_name or str(path)
    return parse_case(read_case_text(name, read_limited(path, name, limits), limits))


# -- writing ---------------------------------------------------------------------------------------


def tidy_numbers(value: typing.Any) -> typing.Any:
    """Whole floats as ints (age 45, not 45.0), recursively: how a case file writes its numbers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: tidy_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tidy_numbers(v) for v in value]
    return value


class _CaseDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, but a string holding a YAML 1.1 line break other than \n (NEL, U+2028,
    U+2029) is written double-quoted, with escapes: plain or single-quoted, PyYAML folds it and
    reads it back as a space."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(ch in value for ch in "\x85\u2028\u2029"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_CaseDumper.add_representer(str, _string)


def case_yaml(value: typing.Any) -> str:
    """YAML as draft and export write case files: keys in their order, Unicode as is, lines of 100."""
    return yaml.dump(
        tidy_numbers(value),
        Dumper=_CaseDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
