"""What a report says of the patient beyond the Patient resource: performance status, menopausal
status, comorbidities, germline results, and death or last follow-up."""

from __future__ import annotations

from .common import PROFILE_ECOG, Json, MappingContext, notes, profile
from .patient import PATIENT_ROLE
from .timing import When, put_when, when_of


def _observation(ctx: MappingContext, role: str, code: Json, category: str) -> Json:
    return {
        "resourceType": "Observation",
        "id": ctx.uid(role),
        "status": "final",
        "category": [ctx.fixed(f"category {category}")],
        "code": code,
        "subject": ctx.ref(PATIENT_ROLE),
    }


def age_at_diagnosis(ctx: MappingContext, role: str, years: float, focus: list[str]) -> Json:
    """The age at diagnosis a case states beside a date: Condition.onset[x] holds the date, this the age."""
    code = ctx.fixed_concept("findings", "age at diagnosis")
    obs = _observation(ctx, role, code, "exam")
    obs["focus"] = [ctx.ref(r) for r in focus]
    obs["valueQuantity"] = ctx.age(years)
    return obs


def patient_findings(ctx: MappingContext) -> list[tuple[str, Json]]:
    """Every patient-level fact of the case as a resource, with the case-file field it came from."""
    patient = ctx.case.patient
    out: list[tuple[str, Json]] = []
    if patient.ecog is not None:
        obs = _observation(ctx, "patient/ecog", ctx.fixed("ecog performance status score"), "survey")
        obs["meta"] = profile(PROFILE_ECOG)
        obs["valueInteger"] = patient.ecog
        # ECOGPerformanceStatus: interpretation bound (required) to LOINC answer list LL529-9.
        grade = ctx.coded_or_none("findings", f"ECOG {patient.ecog}", kind="ecog-value")
        if grade is not None:
            obs["interpretation"] = [{"coding": grade["coding"]}]
        out.append(("patient.ecog", obs))
    if patient.menopausal_status:
        code = ctx.concept(
            "findings", "menopausal status", "patient.menopausal_status", kind="menopausal-test"
        )
        obs = _observation(ctx, "patient/menopausal-status", code, "exam")
        obs["valueCodeableConcept"] = ctx.concept(
            "findings", patient.menopausal_status, "patient.menopausal_status", kind="menopausal-status"
        )
        out.append(("patient.menopausal_status", obs))
    for i, term in enumerate(patient.comorbidities):
        path = f"patient.comorbidities[{i}]"
        condition: Json = {
            "resourceType": "Condition",
            "id": ctx.uid(f"patient/comorbidity/{i}"),
            "category": [ctx.fixed("category problem list item")],
            "code": ctx.concept("conditions", term, path, kind="comorbidity"),
            "subject": ctx.ref(PATIENT_ROLE),
            "note": notes("A comorbidity the report names."),
        }
        out.append((path, condition))
    for i, g in enumerate(patient.germline):
        path = f"patient.germline[{i}]"
        code = ctx.concept("findings", g.gene, f"{path}.gene", kind="germline-test")
        obs = _observation(ctx, f"patient/germline/{i}", code, "laboratory")
        obs["valueCodeableConcept"] = ctx.concept(
            "findings", g.result, f"{path}.result", kind="germline-result"
        )
        note = notes(g.note)
        if note:
            obs["note"] = note
        out.append((path, obs))
    vital = patient.vital_status
    if vital is not None:
        out.extend(_vital(ctx, vital))
    return out


def _vital(ctx: MappingContext, vital) -> list[tuple[str, Json]]:
    """Death (age, interval, cause) or last follow-up, as an Observation the Patient cannot hold."""
    when = when_of(ctx, vital)
    path = "patient.vital_status"
    if vital.deceased:
        if when.age is None and not when.texts and not vital.cause:
            return []
        lines = [f"{t[0].upper()}{t[1:]}." for t in when.texts]
        if when.age is not None:
            # An age at death: LOINC 39016-1 with the age as its value.
            code = ctx.concept("findings", "age at death", path, kind="age-at-death")
            obs = _observation(ctx, "patient/death", code, "exam")
            obs["valueQuantity"] = ctx.age(when.age)
        else:
            # No age: what the report says of when (an interval after the diagnosis) is the value
            # of a Death Observation; no 'age at death' code claims it.
            obs = _observation(ctx, "patient/death", {"text": "Death"}, "exam")
            obs["valueString"] = "; ".join(t[:-1] for t in lines) if lines else "Time of death not stated"
            lines = []
        if when.date:
            obs["effectiveDateTime"] = when.date
        cause = f"Cause of death: {vital.cause}." if vital.cause else None
        obs["note"] = notes("The patient died.", *lines, cause)
        return [(path, obs)]
    if vital.last_known is None and vital.follow_up is None and when.empty:
        return []
    code = {"text": "Last follow-up"}
    obs = _observation(ctx, "patient/follow-up", code, "exam")
    leftover = put_when(obs, ctx, "effective", _last_known(when, vital), age=False, string=False)
    words = ["Alive at last follow-up"]
    if vital.follow_up:
        words.append(f"after {vital.follow_up} of follow-up")
    obs["valueString"] = " ".join(words)
    note = notes(*leftover)
    if note:
        obs["note"] = note
    return [(path, obs)]


def _last_known(when: When, vital) -> When:
    """When the patient was last known alive: the stated day, else the vital status's own time."""
    if vital.last_known is not None:
        return When(vital.last_known, when.age, when.period, list(when.texts))
    return when
