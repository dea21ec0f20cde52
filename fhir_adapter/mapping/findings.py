"""What a report says of the patient beyond the Patient resource: performance status, menopausal
status, comorbidities, germline results, and death or last follow-up."""

from __future__ import annotations

from .common import PROFILE_ECOG, Json, MappingContext, notes, profile
from .condition import clinical_status
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


def patient_findings(ctx: MappingContext) -> list[tuple[str, Json]]:
    """Every patient-level fact of the case as a resource, with the case-file field it came from."""
    patient = ctx.case.patient
    out: list[tuple[str, Json]] = []
    if patient.age_at_diagnosis is not None:
        # The first primary's onset shows this age, but it also times every other primary that
        # gives no time of its own: a fact of its own, not only a default. No verified code: text.
        out.append(
            (
                "patient.age_at_diagnosis",
                {
                    "resourceType": "Observation",
                    "id": ctx.uid("patient/age-at-diagnosis"),
                    "status": "final",
                    "code": {"text": "Age at first diagnosis of cancer"},
                    "subject": ctx.ref(PATIENT_ROLE),
                    "valueQuantity": ctx.age(patient.age_at_diagnosis),
                },
            )
        )
    if patient.ecog is not None:
        obs = _observation(ctx, "patient/ecog", ctx.fixed("ecog performance status score"), "survey")
        obs["meta"] = profile(PROFILE_ECOG)
        obs["valueInteger"] = patient.ecog
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
            "clinicalStatus": clinical_status(ctx, None),
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
        # Patient.deceased[x] holds the fact and a date; everything else said of the death (its
        # age, a range, the report's words, its cause, the last follow-up before it) goes here.
        after = [
            f"Last known alive: {vital.last_known}." if vital.last_known else None,
            f"Follow-up: {vital.follow_up}." if vital.follow_up else None,
        ]
        if when.age is None and not when.texts and not vital.cause and when.period is None and not any(after):
            return []
        code = ctx.concept("findings", "age at death", path, kind="age-at-death")
        obs = _observation(ctx, "patient/death", code, "exam")
        placed = When(when.date, None, when.period)
        leftover = put_when(obs, ctx, "effective", placed, age=False, string=False)
        if when.age is not None:
            obs["valueQuantity"] = ctx.age(when.age)
            lines = when.note_lines()
        else:
            words = "; ".join(when.texts)
            obs["valueString"] = words or "Age at death not stated"
            lines = []
        cause = f"Cause of death: {vital.cause}." if vital.cause else None
        obs["note"] = notes("The patient died.", *leftover, *lines, cause, *after)
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
        return When(vital.last_known, when.age, when.period, list(when.texts), when.timing)
    return when
