"""Medications read back from their MedicationStatements (one per drug of a regimen)."""

from __future__ import annotations

import re

from ..mapping.common import EXT_PROCEDURE_INTENT
from .common import Json, Lines, ReadContext, text_of
from .procedure import treated
from .timing import read_time

_REGIMEN = re.compile(r"Part of the (.+) regimen\.", re.DOTALL)
_LINE = re.compile(r"Line of therapy: ([0-9]+)\.")
_CYCLES = re.compile(r"Cycles: ([0-9]+)\.")


def read_medication(
    ctx: ReadContext,
    key: str,
    statements: list[Json],
    path: str,
    anchors: dict[str, str],
    cancer_of: dict[str, tuple[str, str | None]],
    bilateral: set[str],
) -> Json:
    """A medication entry from its statements: a drug, a therapy class, or a regimen of several drugs."""
    statement = statements[0]
    item: Json = {"id": key}
    lines = Lines(statement)
    regimen = lines.match(_REGIMEN)
    if regimen and len(statements) >= 1 and _is_regimen(statements):
        item["name"] = ctx.found(f"{path}.name", statement, "note", regimen.group(1))
    else:
        if regimen:
            lines.items.insert(0, regimen.group(0))
        item["name"] = ctx.found(
            f"{path}.name",
            statement,
            "medicationCodeableConcept.text",
            text_of(statement.get("medicationCodeableConcept")),
        )
    if isinstance(statement.get("status"), str):
        item["status"] = ctx.found(f"{path}.status", statement, "status", statement["status"])
    reasons = statement.get("statusReason") or []
    if reasons and text_of(reasons[0]):
        item["status_reason"] = ctx.found(
            f"{path}.status_reason", statement, "statusReason.text", text_of(reasons[0])
        )
    for ext in statement.get("extension") or []:
        if ext.get("url") == EXT_PROCEDURE_INTENT:
            item["intent"] = ctx.found(
                f"{path}.intent",
                statement,
                "extension[procedure-intent]",
                text_of(ext.get("valueCodeableConcept")),
            )
    treats = treated(statement.get("reasonReference") or [], ctx, cancer_of, bilateral)
    if treats:
        item["treats"] = ctx.found(f"{path}.treats", statement, "reasonReference", treats)
    line = lines.match(_LINE)
    if line:
        item["line"] = ctx.found(f"{path}.line", statement, "note", int(line.group(1)))
    cycles = lines.match(_CYCLES)
    if cycles:
        item["cycles"] = ctx.found(f"{path}.cycles", statement, "note", int(cycles.group(1)))
    _dosage(ctx, statement, path, item)
    period = statement.get("effectivePeriod")
    if isinstance(period, dict) and period.get("end"):
        # A stated end: the Period runs from the start (if known) to it; the rest is in note lines.
        item["end_date"] = ctx.found(f"{path}.end_date", statement, "effectivePeriod.end", period["end"])
        if period.get("start"):
            item["date"] = ctx.found(f"{path}.date", statement, "effectivePeriod.start", period["start"])
        time = read_time({}, "effective", lines, anchors, age_prefix="Started at age")
    else:
        time = read_time(statement, "effective", lines, anchors, age_prefix="Started at age")
    for name, value in time.fields().items():
        item[name] = ctx.found(f"{path}.{name}", statement, "effective", value)
    rest = lines.rest()
    if rest:
        item["note"] = ctx.found(f"{path}.note", statement, "note", "\n".join(rest))
    return item


def _is_regimen(statements: list[Json]) -> bool:
    """A regimen's statements each say which regimen they are part of."""
    return all(any(_REGIMEN.fullmatch(n.get("text", "")) for n in s.get("note") or []) for s in statements)


def _dosage(ctx: ReadContext, statement: Json, path: str, item: Json) -> None:
    """Route, frequency and cycles from their own elements; the dose is what the text has besides."""
    dosage = (statement.get("dosage") or [None])[0]
    if not isinstance(dosage, dict):
        return
    route = text_of(dosage.get("route"))
    frequency = text_of((dosage.get("timing") or {}).get("code"))
    if route:
        item["route"] = ctx.found(f"{path}.route", statement, "dosage.route.text", route)
    if frequency:
        item["frequency"] = ctx.found(f"{path}.frequency", statement, "dosage.timing.code.text", frequency)
    text = dosage.get("text") or ""
    tail = [w for w in (route, frequency) if w]
    if item.get("cycles"):
        tail.append(f"{item['cycles']} cycles")
    suffix = ", ".join(tail)
    if text == suffix:
        return
    if suffix and text.endswith(", " + suffix):
        text = text[: -len(suffix) - 2]
    item["dose"] = ctx.found(f"{path}.dose", statement, "dosage.text", text)
