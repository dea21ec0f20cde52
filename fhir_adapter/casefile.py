"""Reads a YAML or JSON case file into a Case, turning every problem into a message with file and line."""

from __future__ import annotations

import difflib
import json
import types
import typing
from pathlib import Path

import orjson
import yaml
from pydantic import BaseModel, ValidationError

from .case import Case
from .errors import InvalidCaseError

Path_ = tuple[str | int, ...]


class _CaseLoader(yaml.SafeLoader):
    """A SafeLoader that leaves dates as the strings the author wrote (2019-03 must stay partial)."""


# The same loader over libyaml's parser when PyYAML was built with it: the data is the same
# (constructor and resolver are the Python ones), an order of magnitude faster to parse.
_FastCaseLoader: type = getattr(yaml, "CSafeLoader", _CaseLoader)
if _FastCaseLoader is not _CaseLoader:
    _FastCaseLoader = type("_FastCaseLoader", (_FastCaseLoader,), {})

for _loader in {_CaseLoader, _FastCaseLoader}:
    _loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _positions(node: yaml.Node, path: Path_ = (), out: dict[Path_, int] | None = None) -> dict[Path_, int]:
    """Map each path in a composed YAML document to its 1-based line."""
    if out is None:
        out = {}
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            out[(*path, key)] = key_node.start_mark.line + 1
            _positions(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _positions(item, (*path, i), out)
    return out


def _lines_of(text: str) -> dict[Path_, int]:
    """The line of each path in a YAML or JSON text (JSON is YAML); empty when it will not compose."""
    try:
        node = yaml.compose(text, Loader=_FastCaseLoader)
    except yaml.YAMLError:
        return {}
    return _positions(node) if node is not None else {}


class CaseFile:
    """A case file's parsed data and where each field is, for messages.

    Positions cost more than parsing, and only a case that fails validation needs them, so
    they are worked out from the text on first use.
    """

    def __init__(self, name: str, data: object, lines: dict[Path_, int] | None = None, text: str = ""):
        self.name = name
        self.data = data
        self._lines = lines
        self._text = text

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


def read_case_text(name: str, raw: bytes) -> CaseFile:
    """Parse the bytes of a case file; raise InvalidCaseError naming the file and line."""
    if not raw.strip():
        raise InvalidCaseError(
            f"{name}: the file is empty; a case file needs at least case, patient and primary_cancers",
            file=name,
        )
    if b"\x00" in raw[:8192]:
        raise InvalidCaseError(f"{name}: this is a binary file, not a YAML or JSON case file", file=name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidCaseError(
            f"{name}:{line}: the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            file=name,
        ) from None

    if name.lower().endswith(".json"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            # json accepts a little more (NaN, huge integers) and words its errors with a line.
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidCaseError(
                    f"{name}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})", file=name
                ) from None
        return CaseFile(name, data, text=text)

    try:
        data = yaml.load(text, Loader=_FastCaseLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError:
        data = None  # the pure-Python parser below words the error as users have seen it
    else:
        if data is not None:
            return CaseFile(name, data, text=text)
    # Errors and empty documents: compose with the Python parser for its marks and messages.
    try:
        node = yaml.compose(text, Loader=_CaseLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = exc.problem or "invalid YAML"
        raise InvalidCaseError(
            f"{name}{line}: invalid YAML: {what}"
            + (f" ({exc.context})" if exc.context else "")
            + "; check indentation and quoting around that line",
            file=name,
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidCaseError(f"{name}: invalid YAML: {exc}", file=name) from None
    if node is None:
        raise InvalidCaseError(
            f"{name}: the file holds no data; a case file needs at least case, patient and primary_cancers",
            file=name,
        )
    data = _CaseLoader(text).get_single_data()
    return CaseFile(name, data, text=text)


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


def _describe(error: dict) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"'{value}' is not allowed; expected {expected}"
    if kind in ("less_than_equal", "greater_than_equal"):
        return f"{value} is out of range: {error['msg'].lower()} (ages are in years)"
    if kind == "string_pattern_mismatch":
        return f"'{value}' has the wrong form (expected to match {error['ctx']['pattern']})"
    msg = error["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        shown = json.dumps(value, default=str) if not isinstance(value, dict | list) else type(value).__name__
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


def load_case(path: Path | str, *, display_name: str | None = None) -> Case:
    """Read, parse and validate one case file."""
    path = Path(path)
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidCaseError(f"{name}: cannot read the file: {exc.strerror}", file=name) from None
    return parse_case(read_case_text(name, raw))
