"""Case files as export writes them: YAML (or JSON) in the case format, an evidence sidecar, what was left out."""

from __future__ import annotations

import json
from typing import Any

from ..casefile import case_yaml, tidy_numbers
from ..errors import printable
from .read import CaseReading

EVIDENCE_FORMAT = "fhir-adapter export evidence 1"


TIME_FIELDS = ("date", "age", "between", "end_date", "relative", "timing")


def _ordered(value: Any) -> Any:
    """Each item as a person reads it: its id first, its time and note last (the data is the same)."""
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    if not isinstance(value, dict):
        return value
    first = [k for k in ("id", "name", "site") if k in value]
    last = [k for k in (*TIME_FIELDS, "note") if k in value and k not in first]
    middle = [k for k in value if k not in first and k not in last]
    return {k: _ordered(value[k]) for k in (*first, *middle, *last)}


def _comment(text: str) -> str:
    """Text for a comment: one line, each character YAML refuses or that hides others as its escape."""
    return printable(" ".join(str(text).split()))


def case_text(reading: CaseReading, *, fmt: str = "yaml", header: list[str] | None = None) -> str:
    """The case file: YAML with a header and the left-out list as comments, or plain JSON."""
    data = _ordered(tidy_numbers(reading.case))
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    lines = [f"# {_comment(h)}" for h in header or []]
    body = case_yaml(data)
    lines.append(body.rstrip("\n"))
    if reading.unplaced:
        lines.append("")
        lines.append("# Not read into the case (the case format has no place for it):")
        lines.extend(f"#   - {_comment(u)}" for u in reading.unplaced)
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(tidy_numbers(value), ensure_ascii=False)


def evidence_json(reading: CaseReading) -> str:
    """Where each field came from: {field: {"sentence", "start", "end", "resource", "element", "value"}}.

    The sentence names the resource and element and quotes the value, with `start`/`end`
    marking the value in it: the form `fhir-adapter summary` shows beside each resource.
    """
    out = {}
    for path, found in reading.evidence.items():
        value = _shown(found["value"])
        prefix = f"{found['resource']} {found['element']}: "
        out[path] = {
            "sentence": prefix + value,
            "start": len(prefix),
            "end": len(prefix) + len(value),
            "resource": found["resource"],
            "element": found["element"],
            "value": tidy_numbers(found["value"]),
        }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
