"""Conditions: mCODE PrimaryCancerCondition, SecondaryCancerCondition, and a refuted first diagnosis."""

from __future__ import annotations

from dataclasses import dataclass

from ..case import Metastasis, PrimaryCancer
from .common import (
    EXT_CONDITION_RELATED,
    EXT_HISTOLOGY,
    PROFILE_PRIMARY,
    PROFILE_SECONDARY,
    Json,
    MappingContext,
    body_site,
    notes,
    profile,
    put_age_or_date,
)
from .patient import PATIENT_ROLE


@dataclass(frozen=True)
class PrimarySide:
    """One Condition's worth of a primary cancer: a bilateral primary gives one per side."""

    key: str
    index: int
    primary: PrimaryCancer
    side: str | None

    @property
    def role(self) -> str:
        return f"primary/{self.key}" + (f"/{self.side}" if self.side else "")


def primary_sides(ctx: MappingContext) -> list[PrimarySide]:
    """Every primary Condition the case gives, bilateral ones split into left and right."""
    out = ctx.memo.get("primary_sides")
    if out is not None:
        return out
    out = ctx.memo["primary_sides"] = []
    for index, (key, primary) in enumerate(ctx.case.primary_keys()):
        if primary.laterality == "bilateral":
            out.extend(PrimarySide(key, index, primary, side) for side in ("left", "right"))
        else:
            out.append(PrimarySide(key, index, primary, primary.laterality))
    return out


def cancer_roles(ctx: MappingContext, key: str) -> list[str]:
    """The roles of the Conditions a cancer id (primary or metastasis) stands for."""
    roles = ctx.memo.get(("roles", key))
    if roles is None:
        roles = [s.role for s in primary_sides(ctx) if s.key == key] or [f"metastasis/{key}"]
        ctx.memo[("roles", key)] = roles
    return list(roles)


def _clinical_status(ctx: MappingContext, status: str) -> Json:
    return ctx.fixed(f"clinical {status}")


def to_primary_cancer_condition(ctx: MappingContext, side: PrimarySide) -> Json:
    """A PrimaryCancerCondition for one primary tumour (one side of a bilateral one)."""
    p = side.primary
    path = f"primary_cancers[{side.index}]"
    resource: Json = {"resourceType": "Condition", "id": ctx.uid(side.role), "meta": profile(PROFILE_PRIMARY)}
    if p.histology:
        resource["extension"] = [
            {
                "url": EXT_HISTOLOGY,
                "valueCodeableConcept": ctx.concept("histology", p.histology, f"{path}.histology"),
            }
        ]
    # Condition: clinicalStatus and verificationStatus, required bindings (con-3 wants
    # clinicalStatus on a problem-list item).
    resource["clinicalStatus"] = _clinical_status(ctx, p.clinical_status)
    resource["verificationStatus"] = ctx.fixed("verification confirmed")
    # US Core Condition Problems and Health Concerns: category 1..*, slice us-core.
    resource["category"] = [ctx.fixed("category problem list item")]
    qualifiers = {"laterality": side.side or "unspecified", "sex": ctx.case.patient.sex}
    resource["code"] = ctx.concept("primary_cancers", p.site, f"{path}.site", qualifiers=qualifiers)
    resource["bodySite"] = [body_site(ctx, p.site_detail or p.site, side.side, f"{path}.site")]
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    put_age_or_date(resource, ctx, "onset", p.date, ctx.case.diagnosis_age(p))
    if p.stage:
        # Stated stage as text: a stage group code needs the staging system, which reports rarely give.
        resource["stage"] = [{"summary": {"text": p.stage}}]
    side_note = (
        "One of two Conditions for a bilateral primary cancer (left and right)."
        if p.laterality == "bilateral"
        else None
    )
    note = notes(side_note, p.note)
    if note:
        resource["note"] = note
    return resource


def _related_primary(ctx: MappingContext, met: Metastasis) -> tuple[str | None, str | None]:
    """The role of the primary Condition a metastasis came from, or a note saying why there is none."""
    key = met.primary or ctx.case.first_primary_key()
    sides = [s for s in primary_sides(ctx) if s.key == key]
    if len(sides) == 1:
        return sides[0].role, None
    if met.primary_side:
        return next(s.role for s in sides if s.side == met.primary_side), None
    return None, (
        f"Metastasis of the bilateral primary cancer '{key}'; the source does not say from which side,"
        " so no single related primary condition is given."
    )


def to_secondary_cancer_condition(ctx: MappingContext, index: int, key: str, met: Metastasis) -> Json:
    """A SecondaryCancerCondition for one metastatic site, linked to its primary."""
    path = f"metastases[{index}]"
    resource: Json = {
        "resourceType": "Condition",
        "id": ctx.uid(f"metastasis/{key}"),
        "meta": profile(PROFILE_SECONDARY),
    }
    related, why_not = _related_primary(ctx, met)
    if related:
        # mCODE SecondaryCancerCondition: relatedPrimaryCancerCondition via core condition-related.
        resource["extension"] = [{"url": EXT_CONDITION_RELATED, "valueReference": ctx.ref(related)}]
    resource["clinicalStatus"] = _clinical_status(ctx, met.clinical_status)
    resource["verificationStatus"] = ctx.fixed("verification confirmed")
    resource["category"] = [ctx.fixed("category problem list item")]
    qualifiers = {"laterality": met.laterality or "unspecified", "sex": ctx.case.patient.sex}
    resource["code"] = ctx.concept("secondary_cancers", met.site, f"{path}.site", qualifiers=qualifiers)
    side = met.laterality if met.laterality != "bilateral" else "bilateral"
    resource["bodySite"] = [body_site(ctx, met.site, side, f"{path}.site")]
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    put_age_or_date(resource, ctx, "onset", met.date, met.age)
    evidence, uncoded = [], []
    for term in met.confirmed_by:
        # Condition.evidence.code has a required binding in mCODE: only coded methods go there.
        coded = ctx.coded_or_none("observations", term, kind="evidence")
        if coded:
            evidence.append({"code": [coded]})
        else:
            uncoded.append(term)
    if evidence:
        resource["evidence"] = evidence
    misdiagnosis = f"First diagnosed as: {met.misdiagnosis} (a misdiagnosis)." if met.misdiagnosis else None
    confirmed = f"Confirmed by: {', '.join(uncoded)}." if uncoded else None
    note = notes(why_not, misdiagnosis, confirmed, met.note)
    if note:
        resource["note"] = note
    return resource


def to_refuted_condition(ctx: MappingContext, index: int, key: str, met: Metastasis) -> Json:
    """The benign diagnosis a metastasis was first mistaken for, recorded as refuted."""
    assert met.misdiagnosis is not None
    resource: Json = {
        "resourceType": "Condition",
        "id": ctx.uid(f"metastasis/{key}/misdiagnosis"),
        # Condition con-5: a refuted condition carries no clinicalStatus.
        "verificationStatus": ctx.fixed("verification refuted"),
        "category": [ctx.fixed("category problem list item")],
        "code": {"text": met.misdiagnosis},
        "bodySite": [body_site(ctx, met.site, met.laterality, f"metastases[{index}].site")],
        "subject": ctx.ref(PATIENT_ROLE),
        "note": notes(f"Initial diagnosis, later refuted: the lesion was a metastasis ({met.site})."),
    }
    return resource
