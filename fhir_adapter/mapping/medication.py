"""MedicationStatement: what the patient received. mCODE 4.0.0 has no profile for it, so none is claimed.

A regimen (CMF, AC-T) becomes one MedicationStatement per drug, each saying which regimen it
belongs to; a therapy class (chemotherapy) stays one statement with its words as text.
"""

from __future__ import annotations

import re

from ..case import Medication, date_before
from .common import EXT_PROCEDURE_INTENT, Json, MappingContext, notes, number_text
from .patient import PATIENT_ROLE
from .procedure import termination_extension, treated_roles
from .timing import put_when, when_of

_DOSE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/0-9%]+)\s*$")


def statement_drugs(ctx: MappingContext, key: str, med: Medication) -> list[tuple[str, str, str | None]]:
    """(role, drug, regimen name) of each statement one medication entry gives."""
    regimen = ctx.lookup("regimens", med.name)
    if regimen is None or not regimen.components:
        return [(f"medication/{key}", med.name, None)]
    # The regimen as the case names it: the map files ddAC-T under AC-T, but dose-dense is a fact.
    return [(f"medication/{key}/{n}", drug, med.name) for n, drug in enumerate(regimen.components)]


def to_medication_statements(ctx: MappingContext, index: int, key: str, med: Medication) -> list[Json]:
    """The statements for one medication entry: one, or one per drug of a regimen."""
    return [
        _statement(ctx, index, role, med, drug, regimen)
        for role, drug, regimen in statement_drugs(ctx, key, med)
    ]


def _statement(
    ctx: MappingContext, index: int, role: str, med: Medication, drug: str, regimen: str | None
) -> Json:
    path = f"medications[{index}]"
    resource: Json = {"resourceType": "MedicationStatement", "id": ctx.uid(role)}
    extensions = termination_extension(
        ctx, med.status_reason if med.status == "stopped" else None, f"{path}.status_reason"
    )
    if med.intent:
        # mCODE procedure-intent is defined for MedicationRequest/Administration and, by its
        # DomainResource context, usable here; the binding is extensible, so text is allowed.
        extensions.append(
            {
                "url": EXT_PROCEDURE_INTENT,
                "valueCodeableConcept": ctx.concept("treatment", med.intent, f"{path}.intent", kind="intent"),
            }
        )
    if extensions:
        resource["extension"] = extensions
    resource["status"] = med.status
    if med.status_reason:
        resource["statusReason"] = [{"text": med.status_reason}]
    resource["medicationCodeableConcept"] = ctx.concept(
        "medications", drug, f"{path}.name" + (f" ({regimen})" if regimen else "")
    )
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    when = when_of(ctx, med)
    leftover: list[str] = []
    if med.end_date:
        start = when.date
        if start and date_before(med.end_date, start):
            # FHIR Period (per-1): start <= end. A stated start the case refuses; this one was worked
            # out from a relative time, so the period keeps only the stated end, the relation stays
            # in the note, and the contradiction is said.
            ctx.warn(
                f"{path}.end_date: {med.end_date} is before the start of the treatment worked out from"
                f" {path}.relative ({start}); the period keeps only the end. Check both"
            )
            start = None
        period = {"start": start, "end": med.end_date} if start else {"end": med.end_date}
        resource["effectivePeriod"] = period
        if when.period is not None:
            leftover.append(f"Between {when.period[0]} and {when.period[1]}.")
        if when.age is not None:
            leftover.append(f"Started at age {number_text(when.age)}.")
        leftover.extend(when.note_lines())
    else:
        # MedicationStatement.effective[x] has no Age or string: those become note lines.
        leftover = put_when(resource, ctx, "effective", when, age=False, string=False)
        leftover = ["Started at" + line[2:] if line.startswith("At age ") else line for line in leftover]
    reasons = treated_roles(ctx, med.treats)
    if reasons:
        resource["reasonReference"] = [ctx.ref(role) for role in reasons]
    dosage = _dosage(ctx, med, path)
    if dosage:
        resource["dosage"] = [dosage]
    part = f"Part of the {regimen} regimen." if regimen else None
    line = f"Line of therapy: {med.line}." if med.line else None
    cycles = f"Cycles: {med.cycles}." if med.cycles else None
    note = notes(part, line, cycles, *leftover, med.note)
    if note:
        resource["note"] = note
    return resource


def _dosage(ctx: MappingContext, med: Medication, path: str) -> Json:
    """Dosage from what is stated: the words always, a route and a dose quantity where coded."""
    words = [w for w in (med.dose, med.route, med.frequency) if w]
    if med.cycles:
        words.append(f"{med.cycles} cycles")
    if not words:
        return {}
    dosage: Json = {"text": ", ".join(words)}
    if med.frequency:
        dosage["timing"] = {"code": {"text": med.frequency}}
    if med.route:
        dosage["route"] = ctx.concept("treatment", med.route, f"{path}.route", kind="route")
    if med.dose:
        match = _DOSE.match(med.dose)
        unit = ctx.coded_or_none("treatment", match.group(2), kind="unit") if match else None
        if match and unit:
            coding = unit["coding"][0]
            value = float(match.group(1))
            dosage["doseAndRate"] = [
                {
                    "doseQuantity": {
                        "value": int(value) if value.is_integer() else value,
                        "unit": match.group(2),
                        "system": coding["system"],
                        "code": coding["code"],
                    }
                }
            ]
    return dosage
