"""The human field reference of case files (docs/case-format.md), made by walking the JSON Schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .schema import case_json_schema

Node = dict[str, Any]
# Patterns longer than this are left to the description (a date's regex helps nobody).
_SHORT_PATTERN = 40


def _ref_name(node: Node) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _branches(node: Node) -> list[Node]:
    """The non-null alternatives of a field (an optional field is `X or null`)."""
    if "anyOf" in node:
        return [b for b in node["anyOf"] if b.get("type") != "null"]
    return [node]


def _anchor(name: str) -> str:
    return name.lower()


def type_text(node: Node) -> str:
    """A field's type in words: text, number 0-130, one of `a`, `b`, list of X, a link to a section."""
    parts = []
    for branch in _branches(node):
        name = _ref_name(branch)
        if name is not None:
            parts.append(f"[{name}](#{_anchor(name)})")
        elif "anyOf" in branch:
            parts.append(type_text(branch))
        elif "enum" in branch:
            parts.append("one of " + ", ".join(f"`{v}`" for v in branch["enum"]))
        elif branch.get("type") == "array":
            least = f" (at least {branch['minItems']})" if branch.get("minItems") else ""
            parts.append(f"list of {type_text(branch.get('items', {}))}{least}")
        elif branch.get("type") in ("number", "integer"):
            low, high = branch.get("minimum"), branch.get("maximum")
            span = f" {low}–{high}" if low is not None and high is not None else ""
            parts.append(f"{branch['type']}{span}")
        elif branch.get("type") == "string":
            pattern = branch.get("pattern")
            if pattern and len(pattern) <= _SHORT_PATTERN:
                parts.append(f"text matching `{pattern}`")
            elif pattern:
                parts.append("text (form: see description)")
            else:
                parts.append("text")
        elif branch.get("type") == "boolean":
            parts.append("`true` or `false`")
        else:
            parts.append(str(branch.get("type", "any")))
    return " or ".join(parts)


def description_of(node: Node) -> str:
    """A field's description, with that of its type when the type has its own (a date, an age)."""
    texts = [node.get("description")]
    for branch in _branches(node):
        texts.append(branch.get("description"))
        for inner in branch.get("anyOf", []):
            texts.append(inner.get("description"))
    seen: list[str] = []
    for text in texts:
        if text and text not in seen:
            seen.append(" ".join(text.split()))
    return " ".join(seen)


def _refs(node: Any) -> Iterator[str]:
    """Every $defs name a node refers to, in document order."""
    if isinstance(node, dict):
        name = _ref_name(node)
        if name is not None:
            yield name
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(path: str, name: str | None, model: Node) -> list[str]:
    title = f"`{path}`" if path else "The top level"
    lines = [f'<a id="{_anchor(name)}"></a>' if name else "", f"## {title}", ""]
    if model.get("description"):
        lines += [model["description"], ""]
    required = set(model.get("required", []))
    lines += ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for field, node in model.get("properties", {}).items():
        default = node.get("default")
        shown = "" if default is None or default == [] else f"`{default}`"
        lines.append(
            f"| `{field}` | {_cell(type_text(node))} | {'yes' if field in required else ''}"
            f" | {shown} | {_cell(description_of(node))} |"
        )
    return [*lines, ""]


def field_reference(schema: Node | None = None) -> str:
    """Markdown describing every field of the case-file schema, one section per object."""
    schema = schema or case_json_schema()
    defs = schema.get("$defs", {})
    out = [
        "<!-- Generated from the case-file JSON Schema by `fhir-adapter schema --format markdown`;"
        " do not edit by hand. -->",
        "",
        f"# {schema.get('title', 'Case file')}: field reference",
        "",
        "Every field of a case file (YAML or JSON). A field that is not required may be left out.",
        "Terms (sites, histologies, drugs, ...) are matched case-insensitively against the",
        "terminology maps; `fhir-adapter mappings search TERM` shows what a term is coded as.",
        'Values listed as "one of" may be written in any case (`Female`, `Right`).',
        "",
    ]
    done: set[str] = set()

    def walk(path: str, name: str | None, model: Node) -> None:
        out.extend(_section(path, name, model))
        for field, node in model.get("properties", {}).items():
            for ref in _refs(node):
                if ref in done or ref not in defs:
                    continue
                done.add(ref)
                is_list = any(b.get("type") == "array" for b in _branches(node))
                child = f"{path}.{field}" if path else field
                walk(child + ("[]" if is_list else ""), ref, defs[ref])

    walk("", None, schema)
    return "\n".join(out).rstrip() + "\n"


def undescribed_fields(schema: Node | None = None) -> list[str]:
    """The dotted paths of schema properties that have no description anywhere."""
    schema = schema or case_json_schema()
    missing = []
    for owner, model in [("(top level)", schema), *schema.get("$defs", {}).items()]:
        for field, node in model.get("properties", {}).items():
            if not description_of(node):
                missing.append(f"{owner}.{field}")
    return missing
