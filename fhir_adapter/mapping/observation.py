"""Observations: mCODE TumorMarkerTest (ER, PR, HER2) and CancerDiseaseStatus."""

from __future__ import annotations

from ..case import DiseaseStatus
from .common import (
    EXT_EVIDENCE_TYPE,
    EXT_RELATED_CONDITION,
    PROFILE_DISEASE_STATUS,
    PROFILE_TUMOR_MARKER,
    Json,
    MappingContext,
    notes,
    profile,
)
from .condition import PrimarySide, cancer_roles
from .patient import PATIENT_ROLE

MARKERS = (("er", "estrogen receptor"), ("pr", "progesterone receptor"), ("her2", "her2"))


def _effective_lab(date: str | None) -> Json:
    """effective[x] for a US Core lab result: us-core-1 wants a dateTime to the day at least."""
    if date is None:
        return {}
    if len(date) >= 10:
        return {"effectiveDateTime": date}
    # A partial date as a Period whose start and end are that year or month: the whole of it.
    return {"effectivePeriod": {"start": date, "end": date}}


def to_tumor_marker_tests(ctx: MappingContext, side: PrimarySide, primary_code: Json) -> list[Json]:
    """One TumorMarkerTest per receptor the case reports for a primary (once for a bilateral one)."""
    p = side.primary
    if p.receptors is None or side.side == "right" and p.laterality == "bilateral":
        return []
    base_role = f"primary/{side.key}"
    out = []
    for field, test_term in MARKERS:
        result = getattr(p.receptors, field)
        if result is None:
            continue
        path = f"primary_cancers[{side.index}].receptors.{field}"
        resource: Json = {
            "resourceType": "Observation",
            "id": ctx.uid(f"{base_role}/marker/{field}"),
            "meta": profile(PROFILE_TUMOR_MARKER),
            # mCODE TumorMarkerTest: relatedCondition is a CodeableConcept (the condition's code).
            "extension": [{"url": EXT_RELATED_CONDITION, "valueCodeableConcept": primary_code}],
            "status": "final",
            # US Core Laboratory Result Observation: category 1..*, slice us-core = laboratory.
            "category": [ctx.fixed("category laboratory")],
            "code": ctx.concept("observations", test_term, path, kind="test"),
            "subject": ctx.ref(PATIENT_ROLE),
            "focus": [ctx.ref(role) for role in cancer_roles(ctx, side.key)],
            **_effective_lab(p.date),
            # TumorMarkerTest: value[x] 1..1.
            "valueCodeableConcept": ctx.concept("observations", result, path, kind="result"),
        }
        out.append(resource)
    return out


def to_cancer_disease_status(ctx: MappingContext, index: int, key: str, ds: DiseaseStatus) -> Json:
    """A CancerDiseaseStatus: the state of the cancer at a point in time."""
    path = f"disease_status[{index}]"
    about = ds.about or ctx.case.first_primary_key()
    resource: Json = {
        "resourceType": "Observation",
        "id": ctx.uid(f"disease-status/{key}"),
        "meta": profile(PROFILE_DISEASE_STATUS),
    }
    evidence, uncoded = [], []
    for term in ds.evidence:
        # The evidence-type extension has a required binding: only coded evidence goes there.
        coded = ctx.coded_or_none("observations", term, kind="evidence")
        if coded:
            evidence.append({"url": EXT_EVIDENCE_TYPE, "valueCodeableConcept": coded})
        else:
            uncoded.append(term)
    if evidence:
        resource["extension"] = evidence
    resource["status"] = "final"
    # mCODE CancerDiseaseStatus: code fixed to LOINC 97509-4.
    resource["code"] = {
        "coding": [c.as_fhir() for c in ctx.require("observations", "disease status").codings]
    }
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    resource["focus"] = [ctx.ref(role) for role in cancer_roles(ctx, about)]
    if ds.date:
        resource["effectiveDateTime"] = ds.date
    resource["valueCodeableConcept"] = ctx.concept(
        "observations", ds.status, f"{path}.status", kind="status-value"
    )
    at_age = f"Assessed at age {ds.age:g}." if ds.age is not None else None
    by = f"Evidence: {', '.join(uncoded)}." if uncoded else None
    note = notes(at_age, by, ds.note)
    if note:
        resource["note"] = note
    return resource
