"""Observations read back: tumour markers (and their Specimens), grade, size and disease status."""

from __future__ import annotations

from ..mapping.common import EXT_EVIDENCE_TYPE
from ..mapping.observation import PERCENT_SUFFIX
from .common import Json, Lines, ReadContext, extensions, number, text_of
from .timing import read_time

_SCORES = (("Allred score", "allred"), ("H-score", "h_score"))
PERCENT_LABEL = "Percentage of cells stained"


def read_marker(ctx: ReadContext, obs: Json, path: str, anchors: dict[str, str]) -> Json:
    """A marker: name, result, percentage, scores, method, specimen, time and note."""
    item: Json = {}
    name = text_of(obs.get("code")) or ""
    quantity = obs.get("valueQuantity") if isinstance(obs.get("valueQuantity"), dict) else None
    score = obs.get("valueInteger")
    if score is None and quantity is not None and quantity.get("code") == "1":
        score = number(quantity.get("value"))  # a score is a Quantity of UCUM '1' named by its unit
    if score is not None:
        # A score alone is the value (an integer in older output), and the code's text says which.
        for label, field_name in _SCORES:
            if name.endswith(f" ({label})"):
                name = name[: -len(label) - 3]
                where = "valueInteger" if "valueInteger" in obs else "valueQuantity"
                item[field_name] = ctx.found(f"{path}.{field_name}", obs, where, score)
                quantity = None
    if quantity is not None and name.endswith(PERCENT_SUFFIX):
        name = name[: -len(PERCENT_SUFFIX)]  # a percentage with no test of its own: the name as text
    item = {"name": ctx.found(f"{path}.name", obs, "code.text", name), **item}
    if text_of(obs.get("valueCodeableConcept")):
        item["result"] = ctx.found(
            f"{path}.result", obs, "valueCodeableConcept.text", text_of(obs["valueCodeableConcept"])
        )
    if quantity is not None:
        item["percent"] = ctx.found(f"{path}.percent", obs, "valueQuantity", number(quantity.get("value")))
    for component in obs.get("component") or []:
        label = text_of(component.get("code"))
        if label == PERCENT_LABEL and isinstance(component.get("valueQuantity"), dict):
            value = number(component["valueQuantity"].get("value"))
            item["percent"] = ctx.found(f"{path}.percent", obs, "component.valueQuantity", value)
        for score_label, field_name in _SCORES:
            if label == score_label and "valueInteger" in component:
                item[field_name] = ctx.found(
                    f"{path}.{field_name}", obs, "component.valueInteger", component["valueInteger"]
                )
    if text_of(obs.get("method")):
        item["method"] = ctx.found(f"{path}.method", obs, "method.text", text_of(obs["method"]))
    specimen = ctx.index.get(obs.get("specimen"))
    if specimen is not None and text_of(specimen.get("type")):
        item["specimen"] = ctx.found(f"{path}.specimen", specimen, "type.text", text_of(specimen["type"]))
    lines = Lines(obs)
    for name_, value in read_time(obs, "effective", lines, anchors, full_dates_only=True).fields().items():
        item[name_] = ctx.found(f"{path}.{name_}", obs, "effective", value)
    rest = lines.rest()
    if rest:
        item["note"] = ctx.found(f"{path}.note", obs, "note", "\n".join(rest))
    return item


def read_grade(ctx: ReadContext, obs: Json, path: str) -> str | None:
    return ctx.found(
        f"{path}.grade", obs, "valueCodeableConcept.text", text_of(obs.get("valueCodeableConcept"))
    )


def read_size(ctx: ReadContext, obs: Json, path: str) -> list[float | int]:
    """Tumour size in mm: the longest dimension, then the others, as the components give them."""
    sizes = [number((c.get("valueQuantity") or {}).get("value")) for c in obs.get("component") or []]
    return ctx.found(f"{path}.size_mm", obs, "component.valueQuantity", [s for s in sizes if s is not None])


def read_disease_status(
    ctx: ReadContext, obs: Json, key: str, path: str, anchors: dict[str, str], about: str | None
) -> Json:
    """A disease status: its value, the cancer assessed, its evidence, time and note."""
    item: Json = {"id": key}
    item["status"] = ctx.found(
        f"{path}.status", obs, "valueCodeableConcept.text", text_of(obs.get("valueCodeableConcept"))
    )
    if about is not None:
        item["about"] = ctx.found(f"{path}.about", obs, "focus", about)
    lines = Lines(obs)
    time = read_time(obs, "effective", lines, anchors)
    evidence = [text_of(e.get("valueCodeableConcept")) for e in extensions(obs, EXT_EVIDENCE_TYPE)]
    evidence += lines.all_prefixed("Evidence: ")
    if evidence:
        item["evidence"] = ctx.found(f"{path}.evidence", obs, "extension[evidence-type]", evidence)
    for name, value in time.fields().items():
        item[name] = ctx.found(f"{path}.{name}", obs, "effective", value)
    rest = lines.rest()
    if rest:
        item["note"] = ctx.found(f"{path}.note", obs, "note", "\n".join(rest))
    return item
