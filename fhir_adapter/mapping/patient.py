"""Patient, claiming mCODE CancerPatient."""

from __future__ import annotations

from .common import (
    EXT_DATA_ABSENT,
    EXT_NATIONALITY,
    EXT_US_CORE_RACE,
    PROFILE_CANCER_PATIENT,
    Json,
    MappingContext,
    profile,
)
from .timing import when_of

PATIENT_ROLE = "patient"


def to_cancer_patient(ctx: MappingContext) -> Json:
    """The case's patient: identified by the case id, anonymous, never a birth date."""
    case = ctx.case
    patient = case.patient
    resource: Json = {
        "resourceType": "Patient",
        "id": ctx.uid(PATIENT_ROLE),
        "meta": profile(PROFILE_CANCER_PATIENT),
    }
    extensions: list[Json] = []
    if patient.ethnicity:
        # US Core race: the `text` part (1..1) carries the wording of the report; no OMB code is
        # inferred from it.
        extensions.append(
            {"url": EXT_US_CORE_RACE, "extension": [{"url": "text", "valueString": patient.ethnicity}]}
        )
    if patient.nationality:
        extensions.append(
            {
                "url": EXT_NATIONALITY,
                "extension": [{"url": "code", "valueCodeableConcept": {"text": patient.nationality}}],
            }
        )
    if extensions:
        resource["extension"] = extensions
    # mCODE CancerPatient (US Core Patient): identifier 1..* with system and value.
    resource["identifier"] = [{"system": ctx.system, "value": case.case.id}]
    # US Core Patient: name 1..*; us-core-6 allows a data-absent-reason in place of a name.
    resource["name"] = [
        {"extension": [{"url": EXT_DATA_ABSENT, "valueCode": ctx.fixed_coding("absent masked")["code"]}]}
    ]
    # US Core Patient: gender 1..1, required binding administrative-gender.
    resource["gender"] = patient.sex
    vital = patient.vital_status
    if vital is not None:
        # An age at death, an interval or a cause have no place on R4 Patient: findings.py
        # gives them an Observation of their own.
        date = when_of(ctx, vital).date if vital.deceased else None
        if date:
            resource["deceasedDateTime"] = date
        else:
            resource["deceasedBoolean"] = vital.deceased
    return resource
