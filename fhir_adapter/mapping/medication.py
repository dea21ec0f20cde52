"""MedicationStatement: what the patient received. mCODE 4.0.0 has no profile for it, so none is claimed."""

from __future__ import annotations

from ..case import Medication
from .common import Json, MappingContext, notes
from .patient import PATIENT_ROLE
from .procedure import treated_roles


def to_medication_statement(ctx: MappingContext, index: int, key: str, med: Medication) -> Json:
    """A MedicationStatement for a named drug, or for a therapy class as text."""
    path = f"medications[{index}]"
    resource: Json = {
        "resourceType": "MedicationStatement",
        "id": ctx.uid(f"medication/{key}"),
        "status": med.status,
        "medicationCodeableConcept": ctx.concept("medications", med.name, f"{path}.name"),
        "subject": ctx.ref(PATIENT_ROLE),
    }
    if med.date and med.end_date:
        resource["effectivePeriod"] = {"start": med.date, "end": med.end_date}
    elif med.date:
        resource["effectiveDateTime"] = med.date
    elif med.end_date:
        resource["effectivePeriod"] = {"end": med.end_date}
    reasons = treated_roles(ctx, med.treats)
    if reasons:
        resource["reasonReference"] = [ctx.ref(role) for role in reasons]
    # MedicationStatement.effective[x] has no Age; an age at start is kept as a note.
    started = f"Started at age {med.age:g}." if med.age is not None else None
    note = notes(started, med.note)
    if note:
        resource["note"] = note
    return resource
