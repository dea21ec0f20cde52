"""Conditions read back: primary cancers, metastases and local recurrences, and refuted first diagnoses."""

from __future__ import annotations

import re

from ..mapping.common import EXT_CONDITION_RELATED, EXT_HISTOLOGY, EXT_LATERALITY, PROFILE_SECONDARY
from .common import Json, Lines, ReadContext, extensions, text_of
from .timing import read_time

BILATERAL_NOTE = "One of two Conditions for a bilateral primary cancer (left and right)."
OCCULT_NOTE = "Occult primary: found through its metastases; the primary tumour itself was not seen."
_NO_SIDE = re.compile(
    r"Metastasis of the bilateral primary cancer '(.+)'; the source does not say from which side,"
    r" so no single related primary condition is given\."
)
_MISDIAGNOSIS = re.compile(r"First diagnosed as: (.+) \(a misdiagnosis\)\.", re.DOTALL)


def status_code(concept: Json | None) -> str | None:
    """The code of a coded status (clinicalStatus, verificationStatus); None for a data-absent-reason."""
    for coding in (concept or {}).get("coding") or []:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return coding["code"]
    return None


def body_site(ctx: ReadContext, resource: Json, path: str, item: Json, *, detail: bool = True) -> None:
    """site_detail (the words of bodySite) and laterality (its mCODE qualifier)."""
    sites = resource.get("bodySite") or []
    if not sites or not isinstance(sites[0], dict):
        return
    site = sites[0]
    words = text_of(site)
    if detail and words:
        item["site_detail"] = ctx.found(f"{path}.site_detail", resource, "bodySite.text", words)
    for ext in extensions(site, EXT_LATERALITY):
        side = text_of(ext.get("valueCodeableConcept"))
        if side:
            item["laterality"] = ctx.found(
                f"{path}.laterality", resource, "bodySite.extension[laterality]", side
            )


def _statuses(ctx: ReadContext, resource: Json, path: str, item: Json) -> None:
    clinical = status_code(resource.get("clinicalStatus"))
    if clinical:
        item["clinical_status"] = ctx.found(f"{path}.clinical_status", resource, "clinicalStatus", clinical)
    certainty = status_code(resource.get("verificationStatus"))
    if certainty:
        item["certainty"] = ctx.found(f"{path}.certainty", resource, "verificationStatus", certainty)


def _histology(ctx: ReadContext, resource: Json, path: str, item: Json) -> None:
    for ext in extensions(resource, EXT_HISTOLOGY):
        words = text_of(ext.get("valueCodeableConcept"))
        if words:
            item["histology"] = ctx.found(f"{path}.histology", resource, "extension[histology]", words)


def read_primary(
    ctx: ReadContext, key: str, condition: Json, side: str | None, path: str, anchors: dict[str, str]
) -> Json:
    """A primary cancer from its Condition (the left one of a bilateral primary)."""
    item: Json = {"id": key}
    item["site"] = ctx.found(f"{path}.site", condition, "code.text", text_of(condition.get("code")))
    body_site(ctx, condition, path, item)
    lines = Lines(condition)
    if lines.exact(BILATERAL_NOTE):
        item["laterality"] = ctx.found(f"{path}.laterality", condition, "note", "bilateral")
    elif side and "laterality" not in item:
        item["laterality"] = ctx.found(f"{path}.laterality", condition, "identifier", side)
    _histology(ctx, condition, path, item)
    _statuses(ctx, condition, path, item)
    if lines.exact(OCCULT_NOTE):
        item["occult"] = ctx.found(f"{path}.occult", condition, "note", True)
    for name, value in read_time(condition, "onset", lines, anchors).fields().items():
        item[name] = ctx.found(f"{path}.{name}", condition, "onset", value)
    stage = (condition.get("stage") or [{}])[0]
    summary = text_of(stage.get("summary")) if isinstance(stage, dict) else None
    if summary:
        item["stage"] = ctx.found(f"{path}.stage", condition, "stage.summary.text", summary)
    rest = lines.rest()
    if rest:
        item["note"] = ctx.found(f"{path}.note", condition, "note", "\n".join(rest))
    return item


def read_metastasis(
    ctx: ReadContext,
    key: str,
    condition: Json,
    path: str,
    anchors: dict[str, str],
    primary_of: dict[str, tuple[str, str | None]],
    bilateral: set[str],
) -> Json:
    """A metastasis (or a local recurrence) from its Condition.

    `primary_of` gives the primary key and side of each primary Condition's id.
    """
    item: Json = {"id": key}
    recurrence = PROFILE_SECONDARY not in ((condition.get("meta") or {}).get("profile") or [])
    lines = Lines(condition)
    if recurrence:
        item["kind"] = ctx.found(f"{path}.kind", condition, "code", "local-recurrence")
    body_site(ctx, condition, path, item)
    site_line = lines.prefixed("Site: ") if recurrence else None
    if site_line is not None:
        item["site"] = ctx.found(f"{path}.site", condition, "note", site_line)
    elif recurrence:
        item["site"] = ctx.found(f"{path}.site", condition, "bodySite.text", item.get("site_detail"))
    else:
        item["site"] = ctx.found(f"{path}.site", condition, "code.text", text_of(condition.get("code")))
    for ext in extensions(condition, EXT_CONDITION_RELATED):
        target = ctx.index.get(ext.get("valueReference"))
        found = primary_of.get(str((target or {}).get("id")))
        if found:
            item["primary"] = ctx.found(
                f"{path}.primary", condition, "extension[condition-related]", found[0]
            )
            if found[0] in bilateral and found[1]:
                item["primary_side"] = ctx.found(
                    f"{path}.primary_side", condition, "extension[condition-related]", found[1]
                )
    no_side = lines.match(_NO_SIDE)
    if no_side:
        item["primary"] = ctx.found(f"{path}.primary", condition, "note", no_side.group(1))
    _histology(ctx, condition, path, item)
    _statuses(ctx, condition, path, item)
    misdiagnosis = lines.match(_MISDIAGNOSIS)
    if misdiagnosis:
        item["misdiagnosis"] = ctx.found(f"{path}.misdiagnosis", condition, "note", misdiagnosis.group(1))
    methods = [text_of((e.get("code") or [{}])[0]) for e in condition.get("evidence") or []]
    methods += lines.all_prefixed("Confirmed by: ")
    if methods:
        item["confirmed_by"] = ctx.found(f"{path}.confirmed_by", condition, "evidence", methods)
    for name, value in read_time(condition, "onset", lines, anchors).fields().items():
        item[name] = ctx.found(f"{path}.{name}", condition, "onset", value)
    rest = lines.rest()
    if rest:
        item["note"] = ctx.found(f"{path}.note", condition, "note", "\n".join(rest))
    return item


def read_misdiagnosis(ctx: ReadContext, condition: Json, path: str, item: Json) -> None:
    """The refuted Condition of a metastasis' misdiagnosis: its words, when the note did not give them."""
    words = text_of(condition.get("code"))
    if words:
        item["misdiagnosis"] = ctx.found(f"{path}.misdiagnosis", condition, "code.text", words)
