"""Stages read back from the TNM stage group Observation and its T, N and M members."""

from __future__ import annotations

from .common import Json, Lines, ReadContext, text_of
from .timing import read_time

SUSPECTED_NOTE = "Suspected stage, as the report states it."


def read_staging(
    ctx: ReadContext, group: Json, members: dict[str, Json], path: str, anchors: dict[str, str]
) -> Json:
    """One stage given field by field (`staging[i]`), from its group Observation and members."""
    item: Json = {}
    code = text_of(group.get("code")) or ""
    kind = code.split(" ", 1)[0]
    if kind in ("clinical", "pathological"):
        item["type"] = ctx.found(f"{path}.type", group, "code.text", kind)
    if text_of(group.get("method")):
        item["system"] = ctx.found(f"{path}.system", group, "method.text", text_of(group["method"]))
    value = group.get("valueCodeableConcept") or {}
    words = text_of(value)
    if words and words.startswith("stage ") and value.get("coding"):
        # A coded value is a stage group's ('stage IIIA').
        item["group"] = ctx.found(f"{path}.group", group, "valueCodeableConcept", words[len("stage ") :])
    elif words and members:
        # An uncoded value beside T, N or M categories is the group's, as stated (words alone
        # give no value beside categories).
        item["group"] = ctx.found(f"{path}.group", group, "valueCodeableConcept.text", words)
    elif words:
        item["text"] = ctx.found(f"{path}.text", group, "valueCodeableConcept.text", words)
    for letter in ("t", "n", "m"):
        member = members.get(letter)
        if member is not None and text_of(member.get("valueCodeableConcept")):
            item[letter] = ctx.found(
                f"{path}.{letter}",
                member,
                "valueCodeableConcept.text",
                text_of(member["valueCodeableConcept"]),
            )
    if group.get("status") == "preliminary":
        item["suspected"] = ctx.found(f"{path}.suspected", group, "status", True)
    lines = Lines(group)
    lines.exact(SUSPECTED_NOTE)
    for name, value_ in read_time(group, "effective", lines, anchors).fields().items():
        item[name] = ctx.found(f"{path}.{name}", group, "effective", value_)
    stated = lines.prefixed("Stage as stated: ")
    if stated is not None:
        item["text"] = ctx.found(f"{path}.text", group, "note", stated)
    for line in lines.rest():
        ctx.not_placed(group, "note", f"'{line}' has no place in a staging")
    return item
