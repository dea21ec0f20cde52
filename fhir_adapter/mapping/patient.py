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
    resource["identifier"] = [{"system": case.case.id_system or ctx.id_system, "value": case.case.id}]
    # US Core Patient: name 1..*; us-core-6 allows a data-absent-reason in place of a name.
    resource["name"] = [
        {"extension": [{"url": EXT_DATA_ABSENT, "valueCode": ctx.fixed_coding("absent masked")["code"]}]}
    ]
    # US Core Patient: gender 1..1, required binding administrative-gender.
    resource["gender"] = patient.sex
    vital = patient.vital_status
    if vital is not None:
        if vital.deceased and vital.date:
            resource["deceasedDateTime"] = vital.date
        else:
            resource["deceasedBoolean"] = vital.deceased
        if vital.age is not None:
            ctx.warnings.append(
                "patient.vital_status.age: FHIR R4 Patient has no element for an age at death;"
                f" the age ({vital.age:g}) is kept in the case file only"
            )
    return resource
