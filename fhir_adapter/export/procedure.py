"""Procedures read back: surgery, biopsy and radiotherapy, with their dose, nodes, side and intent."""

from __future__ import annotations

import re

from ..mapping.common import EXT_PROCEDURE_INTENT, PROFILE_RADIOTHERAPY
from ..mapping.procedure import EXT_RT_DOSE, EXT_RT_MODALITY, EXT_RT_MODALITY_TECHNIQUE, EXT_RT_TECHNIQUE
from .common import Json, Lines, ReadContext, codes_of, extensions, number, text_of
from .condition import body_site
from .timing import read_time

_NODES = (
    (re.compile(r"Lymph nodes: ([0-9]+) of ([0-9]+) positive\."), ("nodes_positive", "nodes_examined")),
    (re.compile(r"Lymph nodes positive: ([0-9]+)\."), ("nodes_positive",)),
    (re.compile(r"Lymph nodes examined: ([0-9]+)\."), ("nodes_examined",)),
)
_DOSE = re.compile(r"Dose: ([0-9.e+-]+) Gy\.")
_FRACTIONS = re.compile(r"Fractions: ([0-9]+)\.")


def treated(
    reasons: list[Json], ctx: ReadContext, cancer_of: dict[str, tuple[str, str | None]], bilateral: set[str]
) -> list[str]:
    """The case-file ids a treatment's reasonReferences name: the two sides of a bilateral primary are one."""
    keys: list[str] = []
    pending_side: tuple[str, str] | None = None
    for reason in reasons:
        target = ctx.index.get(reason)
        found = cancer_of.get(str((target or {}).get("id")))
        if found is None:
            continue
        key, side = found
        if key in bilateral and side == "right" and pending_side == (key, "left"):
            pending_side = None
            continue  # the second side of the primary just named
        keys.append(key)
        pending_side = (key, side) if key in bilateral and side == "left" else None
    return keys


def _side_from_code(ctx: ReadContext, name: str, code: Json) -> str | None:
    """The side a procedure's code itself states (a left-mastectomy concept), found through the map."""
    concept = ctx.terminology.lookup("procedures", name)
    if concept is None or not concept.variants:
        return None
    codes = codes_of(code)
    for side in ("left", "right", "bilateral"):
        with_side = {(c.system, c.code) for c in concept.codings_for({"laterality": side})}
        if with_side != {(c.system, c.code) for c in concept.codings} and with_side == codes:
            return side
    return None


def read_procedure(
    ctx: ReadContext,
    key: str,
    procedure: Json,
    path: str,
    anchors: dict[str, str],
    cancer_of: dict[str, tuple[str, str | None]],
    bilateral: set[str],
) -> Json:
    """A procedure from its Procedure resource (the radiotherapy volume BodyStructure adds nothing)."""
    item: Json = {"id": key}
    radiotherapy = PROFILE_RADIOTHERAPY in ((procedure.get("meta") or {}).get("profile") or [])
    item["name"] = ctx.found(f"{path}.name", procedure, "code.text", text_of(procedure.get("code")))
    if isinstance(procedure.get("status"), str):
        item["status"] = ctx.found(f"{path}.status", procedure, "status", procedure["status"])
    body_site(ctx, procedure, path, item, detail=False)
    sites = procedure.get("bodySite") or []
    if sites and text_of(sites[0]):
        item["body_site"] = ctx.found(f"{path}.body_site", procedure, "bodySite.text", text_of(sites[0]))
    for ext in extensions(procedure, EXT_PROCEDURE_INTENT):
        item["intent"] = ctx.found(
            f"{path}.intent",
            procedure,
            "extension[procedure-intent]",
            text_of(ext.get("valueCodeableConcept")),
        )
    for ext in extensions(procedure, EXT_RT_MODALITY_TECHNIQUE):
        for part in ext.get("extension") or []:
            words = text_of(part.get("valueCodeableConcept"))
            if part.get("url") == EXT_RT_MODALITY and words:
                item["modality"] = ctx.found(
                    f"{path}.modality", procedure, "extension[radiotherapy-modality]", words
                )
            if part.get("url") == EXT_RT_TECHNIQUE and words:
                item["technique"] = ctx.found(
                    f"{path}.technique", procedure, "extension[radiotherapy-technique]", words
                )
    for ext in extensions(procedure, EXT_RT_DOSE):
        for part in ext.get("extension") or []:
            if part.get("url") == "totalDoseDelivered" and isinstance(part.get("valueQuantity"), dict):
                cgy = number(part["valueQuantity"].get("value"))
                if cgy is not None:
                    item["dose_gy"] = ctx.found(
                        f"{path}.dose_gy", procedure, "extension[dose].totalDoseDelivered", number(cgy / 100)
                    )
            if part.get("url") == "fractionsDelivered" and isinstance(part.get("valueUnsignedInt"), int):
                item["fractions"] = ctx.found(
                    f"{path}.fractions",
                    procedure,
                    "extension[dose].fractionsDelivered",
                    part["valueUnsignedInt"],
                )
    treats = treated(procedure.get("reasonReference") or [], ctx, cancer_of, bilateral)
    if treats:
        item["treats"] = ctx.found(f"{path}.treats", procedure, "reasonReference", treats)
    if text_of(procedure.get("outcome")):
        item["outcome"] = ctx.found(
            f"{path}.outcome", procedure, "outcome.text", text_of(procedure["outcome"])
        )
    lines = Lines(procedure)
    side = lines.prefixed("Side: ")
    if side is not None:
        item["laterality"] = ctx.found(f"{path}.laterality", procedure, "note", side)
    elif "laterality" not in item and item["name"]:
        from_code = _side_from_code(ctx, item["name"], procedure.get("code") or {})
        if from_code:
            item["laterality"] = ctx.found(f"{path}.laterality", procedure, "code", from_code)
    for pattern, names in _NODES:
        found = lines.match(pattern)
        if found:
            for i, name in enumerate(names):
                item[name] = ctx.found(f"{path}.{name}", procedure, "note", int(found.group(i + 1)))
            break
    dose = lines.match(_DOSE)
    if dose:
        item["dose_gy"] = ctx.found(f"{path}.dose_gy", procedure, "note", number(float(dose.group(1))))
    fractions = lines.match(_FRACTIONS)
    if fractions:
        item["fractions"] = ctx.found(f"{path}.fractions", procedure, "note", int(fractions.group(1)))
    modality = lines.prefixed("Modality: ")
    if modality is not None:
        item["modality"] = ctx.found(f"{path}.modality", procedure, "note", modality)
    technique = lines.prefixed("Technique: ")
    if technique is not None:
        item["technique"] = ctx.found(f"{path}.technique", procedure, "note", technique)
    for name, value in (
        read_time(procedure, "performed", lines, anchors, radiotherapy=radiotherapy).fields().items()
    ):
        item[name] = ctx.found(f"{path}.{name}", procedure, "performed", value)
    rest = lines.rest()
    if rest:
        item["note"] = ctx.found(f"{path}.note", procedure, "note", "\n".join(rest))
    return item
