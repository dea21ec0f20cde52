"""The patient read back: Patient, and the patient-level Observations and Conditions of mapping/findings.py."""

from __future__ import annotations

import re

from ..mapping.common import EXT_NATIONALITY, EXT_US_CORE_RACE
from .common import Json, Lines, ReadContext, day_of, extensions, number, text_of
from .timing import BETWEEN, Time, read_time, split_words

NOT_STATED = "Time of death not stated"
_FOLLOW_UP = re.compile(r"Alive at last follow-up(?: after (.+) of follow-up)?", re.DOTALL)


def read_patient(ctx: ReadContext, patient: Json) -> Json:
    """sex, ethnicity, nationality and whether the patient died, from the Patient resource."""
    out: Json = {}
    if isinstance(patient.get("gender"), str):
        out["sex"] = ctx.found("patient.sex", patient, "gender", patient["gender"])
    for race in extensions(patient, EXT_US_CORE_RACE):
        for part in race.get("extension") or []:
            if part.get("url") == "text" and isinstance(part.get("valueString"), str):
                out["ethnicity"] = ctx.found(
                    "patient.ethnicity", patient, "extension[us-core-race].text", part["valueString"]
                )
    for nationality in extensions(patient, EXT_NATIONALITY):
        for part in nationality.get("extension") or []:
            if part.get("url") == "code" and text_of(part.get("valueCodeableConcept")):
                out["nationality"] = ctx.found(
                    "patient.nationality",
                    patient,
                    "extension[patient-nationality].code.text",
                    text_of(part["valueCodeableConcept"]),
                )
    if isinstance(patient.get("deceasedBoolean"), bool):
        vital = {"deceased": patient["deceasedBoolean"]}
        ctx.found("patient.vital_status.deceased", patient, "deceasedBoolean", vital["deceased"])
        out["vital_status"] = vital
    elif isinstance(patient.get("deceasedDateTime"), str):
        # A dateTime another tool wrote (with a time and zone) gives its date; anything else is
        # kept as written, for the case model to refuse by name.
        died = day_of(patient["deceasedDateTime"]) or patient["deceasedDateTime"]
        out["vital_status"] = {"deceased": True, "date": died}
        ctx.found("patient.vital_status.deceased", patient, "deceasedDateTime", True)
        ctx.found("patient.vital_status.date", patient, "deceasedDateTime", died)
    return out


def read_death(ctx: ReadContext, obs: Json, vital: Json, anchors: dict[str, str]) -> None:
    """What the death Observation adds to vital_status: age, range, words, cause, last follow-up."""
    path = "patient.vital_status"
    lines = Lines(obs)
    lines.exact("The patient died.")
    between = lines.match(BETWEEN)
    period = obs.get("effectivePeriod")
    if isinstance(period, dict) and period.get("start") and period.get("end"):
        vital["between"] = ctx.found(
            f"{path}.between", obs, "effectivePeriod", [period["start"], period["end"]]
        )
    if between:
        vital["between"] = ctx.found(f"{path}.between", obs, "note", [between.group(1), between.group(2)])
    if isinstance(obs.get("effectiveDateTime"), str):
        vital["date"] = ctx.found(f"{path}.date", obs, "effectiveDateTime", obs["effectiveDateTime"])
    quantity = obs.get("valueQuantity")
    if isinstance(quantity, dict):
        vital["age"] = ctx.found(f"{path}.age", obs, "valueQuantity.value", number(quantity.get("value")))
        time = read_time({}, "effective", lines, anchors)
        words = time.fields()
    else:
        words = {}
        text = obs.get("valueString")
        if isinstance(text, str) and text != NOT_STATED:
            relative, timing = split_words(text, anchors)
            words = Time(relative=relative, timing=timing).fields()
    for name, value in words.items():
        vital[name] = ctx.found(f"{path}.{name}", obs, "note" if quantity else "valueString", value)
    cause = lines.prefixed("Cause of death: ")
    if cause is not None:
        vital["cause"] = ctx.found(f"{path}.cause", obs, "note", cause)
    last = lines.prefixed("Last known alive: ")
    if last is not None:
        vital["last_known"] = ctx.found(f"{path}.last_known", obs, "note", last)
    follow_up = lines.prefixed("Follow-up: ")
    if follow_up is not None:
        vital["follow_up"] = ctx.found(f"{path}.follow_up", obs, "note", follow_up)
    for line in lines.rest():
        ctx.not_placed(obs, "note", f"'{line}' has no place in vital_status")


def read_follow_up(ctx: ReadContext, obs: Json, vital: Json, anchors: dict[str, str]) -> None:
    """A living patient's last follow-up: when, and how long the follow-up was."""
    path = "patient.vital_status"
    lines = Lines(obs)
    time = read_time(obs, "effective", lines, anchors)
    fields = time.fields()
    # The stated day of last follow-up is the element; a vital status's date is only a death's.
    if "date" in fields:
        vital["last_known"] = ctx.found(f"{path}.last_known", obs, "effectiveDateTime", fields.pop("date"))
    fields.pop("age", None)  # a living patient's age can only have come from a relative time
    for name, value in fields.items():
        vital[name] = ctx.found(f"{path}.{name}", obs, "effective", value)
    found = _FOLLOW_UP.fullmatch(str(obs.get("valueString", "")))
    if found and found.group(1):
        vital["follow_up"] = ctx.found(f"{path}.follow_up", obs, "valueString", found.group(1))
    for line in lines.rest():
        ctx.not_placed(obs, "note", f"'{line}' has no place in vital_status")


def read_findings(
    ctx: ReadContext, findings: dict[str, Json], patient: Json, anchors: dict[str, str]
) -> None:
    """Age at diagnosis, ECOG, menopausal status, comorbidities, germline results, death, follow-up."""
    age = findings.get("age-at-diagnosis")
    if age is not None and isinstance(age.get("valueQuantity"), dict):
        patient["age_at_diagnosis"] = ctx.found(
            "patient.age_at_diagnosis", age, "valueQuantity.value", number(age["valueQuantity"].get("value"))
        )
    ecog = findings.get("ecog")
    if ecog is not None and isinstance(ecog.get("valueInteger"), int):
        patient["ecog"] = ctx.found("patient.ecog", ecog, "valueInteger", ecog["valueInteger"])
    menopausal = findings.get("menopausal-status")
    if menopausal is not None and text_of(menopausal.get("valueCodeableConcept")):
        patient["menopausal_status"] = ctx.found(
            "patient.menopausal_status",
            menopausal,
            "valueCodeableConcept.text",
            text_of(menopausal["valueCodeableConcept"]),
        )
    comorbidities = []
    for _, condition in sorted(_numbered(findings, "comorbidity"), key=lambda x: x[0]):
        term = text_of(condition.get("code"))
        if term:
            comorbidities.append(
                ctx.found(f"patient.comorbidities[{len(comorbidities)}]", condition, "code.text", term)
            )
    if comorbidities:
        patient["comorbidities"] = comorbidities
    germline = []
    for _, obs in sorted(_numbered(findings, "germline"), key=lambda x: x[0]):
        path = f"patient.germline[{len(germline)}]"
        result = {
            "gene": ctx.found(f"{path}.gene", obs, "code.text", text_of(obs.get("code"))),
            "result": ctx.found(
                f"{path}.result", obs, "valueCodeableConcept.text", text_of(obs.get("valueCodeableConcept"))
            ),
        }
        rest = Lines(obs).rest()
        if rest:
            result["note"] = ctx.found(f"{path}.note", obs, "note", "\n".join(rest))
        germline.append(result)
    if germline:
        patient["germline"] = germline
    death = findings.get("death")
    follow_up = findings.get("follow-up")
    if death is not None:
        vital = patient.setdefault("vital_status", {"deceased": True})
        read_death(ctx, death, vital, anchors)
    if follow_up is not None:
        vital = patient.setdefault("vital_status", {"deceased": False})
        read_follow_up(ctx, follow_up, vital, anchors)


def _numbered(findings: dict[str, Json], kind: str) -> list[tuple[int, Json]]:
    out = []
    for name, resource in findings.items():
        head, _, index = name.partition("/")
        if head == kind and index.isdigit():
            out.append((int(index), resource))
    return out
