"""Procedure: mCODE CancerRelatedSurgicalProcedure for surgery and the biopsies its value set holds,
RadiotherapyCourseSummary for radiotherapy, and the lymph-node counts a dissection gives."""

from __future__ import annotations

from ..case import Procedure
from ..terminology import fold
from .common import (
    EXT_LATERALITY,
    EXT_PROCEDURE_INTENT,
    EXT_TERMINATION_REASON,
    MCODE,
    PROFILE_RADIOTHERAPY,
    PROFILE_SURGICAL,
    Json,
    MappingContext,
    body_site,
    notes,
    number_text,
    profile,
)
from .condition import cancer_roles
from .patient import PATIENT_ROLE
from .timing import put_when, when_of

SURGICAL_KINDS = {"surgery", "biopsy"}
# CancerRelatedSurgicalProcedure binds Procedure.code to this value set (descendants of 387713003
# 'Surgical procedure'): a needle, core or skin biopsy is not in it.
SURGICAL_VALUE_SET = "mcode-cancer-related-surgical-procedure-vs"
PROFILE_RADIOTHERAPY_VOLUME = MCODE + "mcode-radiotherapy-volume"
RT_LOCATION_VS = "mcode-radiotherapy-treatment-location-vs"
EXT_RT_SESSIONS = MCODE + "mcode-radiotherapy-sessions"
EXT_RT_MODALITY_TECHNIQUE = MCODE + "mcode-radiotherapy-modality-and-technique"
EXT_RT_MODALITY = MCODE + "mcode-radiotherapy-modality"
EXT_RT_TECHNIQUE = MCODE + "mcode-radiotherapy-technique"
EXT_RT_DOSE = MCODE + "mcode-radiotherapy-dose-delivered-to-volume"


def treated_roles(ctx: MappingContext, treats: list[str]) -> list[str]:
    """The Conditions a procedure or medication treated, as the case file names them.

    Nothing is assumed: a treatment that names no cancer has no reasonReference, even when the
    case has a single primary (the report may describe treatment of something else).
    """
    return [role for key in treats for role in cancer_roles(ctx, key)]


def _say_other_side(ctx: MappingContext, path: str, proc: Procedure) -> None:
    """Warn of a one-sided procedure on the organ of a primary it treats, on that primary's other side.

    A right mastectomy said to treat a left breast cancer: one of the two sides is wrong, or the
    procedure treated something else. A procedure elsewhere (the orbit of a metastasis) is not asked.
    """
    if proc.laterality not in ("left", "right") or not proc.treats:
        return
    primaries = dict(ctx.case.primary_keys())
    treated = [primaries.get(k) for k in proc.treats]
    if any(p is None for p in treated):
        return  # it treats a metastasis too, which may lie on either side
    other = [p for p in treated if p.laterality in ("left", "right") and p.laterality != proc.laterality]
    if len(other) != len(treated):
        return
    if proc.body_site and any(fold(proc.body_site) != fold(p.site) for p in other):
        return
    ctx.warn(
        f"{path}.laterality: '{proc.laterality}', but the primary it treats"
        f" ({', '.join(proc.treats)}) is on the {other[0].laterality}; both are written as stated."
        " Correct the side, or what it treats"
    )


def intent_extension(ctx: MappingContext, intent: str | None, path: str) -> list[Json]:
    """mCODE procedure-intent (extensible binding): coded where the map has it, else text."""
    if not intent:
        return []
    return [
        {
            "url": EXT_PROCEDURE_INTENT,
            "valueCodeableConcept": ctx.concept("treatment", intent, path, kind="intent"),
        }
    ]


def to_procedure(ctx: MappingContext, index: int, key: str, proc: Procedure) -> list[Json]:
    """A Procedure, with the BodyStructure a radiotherapy dose was delivered to, when stated."""
    path = f"procedures[{index}]"
    concept = ctx.lookup("procedures", proc.name)
    kind = concept.kind if concept is not None else None
    radiotherapy = kind == "radiotherapy"
    qualifiers = {"laterality": proc.laterality or "unspecified"}
    code = ctx.concept_of(concept, "procedures", proc.name, f"{path}.name", qualifiers=qualifiers)
    reasons = treated_roles(ctx, proc.treats)
    _say_other_side(ctx, path, proc)
    resource: Json = {"resourceType": "Procedure", "id": ctx.uid(f"procedure/{key}")}
    extra: list[Json] = []
    extensions = intent_extension(ctx, proc.intent, f"{path}.intent")
    rt_lines: list[str] = []
    if radiotherapy:
        # mCODE RadiotherapyCourseSummary: code pattern SNOMED 1217123003 (radiotherapy course).
        resource["meta"] = profile(PROFILE_RADIOTHERAPY)
        code = ctx.with_text(ctx.fixed("radiotherapy course of treatment"), proc.name)
        extensions += _radiotherapy_extensions(ctx, proc, path, key, extra, rt_lines)
    elif _radiotherapy_words(proc):
        # Radiotherapy details on a procedure the map does not know as radiotherapy: no
        # RadiotherapyCourseSummary to hold them, so they are kept in words.
        rt_lines = _radiotherapy_words(proc)
        ctx.warnings.append(
            f"{path}: '{proc.name}' is not a radiotherapy in {ctx.terminology.file_of('procedures')};"
            " its dose, fractions, modality and technique are kept in a note"
        )
    if not radiotherapy and kind in SURGICAL_KINDS and reasons and SURGICAL_VALUE_SET in concept.value_sets:
        # mcode-reason-required: the surgical profile is claimed only with a reason to give, and
        # only for a code of its value set; other biopsies are plain Procedures.
        resource["meta"] = profile(PROFILE_SURGICAL)
    if extensions:
        resource["extension"] = extensions
    resource["status"] = proc.status
    resource["code"] = code
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    when = when_of(ctx, proc)
    if radiotherapy:
        # RadiotherapyCourseSummary allows performedPeriod only: a start date is the course's start.
        leftover = put_when(resource, ctx, "performed", when, age=False, string=False)
        if "performedDateTime" in resource:
            resource["performedPeriod"] = {"start": resource.pop("performedDateTime")}
    else:
        leftover = put_when(resource, ctx, "performed", when)
    if proc.status in ("completed", "in-progress") and not any(k.startswith("performed") for k in resource):
        # US Core us-core-7: performed[x] SHALL be present when completed; the source gives no time.
        if radiotherapy:
            resource["performedPeriod"] = {"extension": [ctx.absent("unknown")]}
        else:
            resource["_performedDateTime"] = {"extension": [ctx.absent("unknown")]}
    if reasons:
        resource["reasonReference"] = [ctx.ref(role) for role in reasons]
    side_note = None
    if proc.body_site:
        # RadiotherapyCourseSummary: bodySite bound (extensible) to RadiotherapyTreatmentLocationVS.
        where = RT_LOCATION_VS if radiotherapy else None
        resource["bodySite"] = [
            body_site(ctx, proc.body_site, proc.laterality, f"{path}.body_site", value_set=where)
        ]
    elif proc.laterality and not _code_has_side(ctx, concept, qualifiers):
        # No site to qualify and no side-specific code: the side is kept in words, not dropped.
        side_note = f"Side: {proc.laterality}."
    if proc.outcome:
        resource["outcome"] = {"text": proc.outcome}
    nodes = _node_counts(proc)
    note = notes(side_note, nodes, *rt_lines, *leftover, proc.note)
    if note:
        resource["note"] = note
    return [resource, *extra]


def _radiotherapy_words(proc: Procedure) -> list[str]:
    """Dose, fractions, modality and technique as note lines."""
    return [
        line
        for line in (
            f"Dose: {number_text(proc.dose_gy)} Gy." if proc.dose_gy is not None else None,
            f"Fractions: {proc.fractions}." if proc.fractions is not None else None,
            f"Modality: {proc.modality}." if proc.modality else None,
            f"Technique: {proc.technique}." if proc.technique else None,
        )
        if line
    ]


def _code_has_side(ctx: MappingContext, concept, qualifiers: dict[str, str | None]) -> bool:
    """True if the procedure's code itself says the side (a left-mastectomy concept)."""
    if concept is None:
        return False
    return len(concept.codings_for(qualifiers)) > len(concept.codings)


def _node_counts(proc: Procedure) -> str | None:
    if proc.nodes_examined is None and proc.nodes_positive is None:
        return None
    if proc.nodes_examined is not None and proc.nodes_positive is not None:
        return f"Lymph nodes: {proc.nodes_positive} of {proc.nodes_examined} positive."
    if proc.nodes_positive is not None:
        return f"Lymph nodes positive: {proc.nodes_positive}."
    return f"Lymph nodes examined: {proc.nodes_examined}."


def _radiotherapy_extensions(
    ctx: MappingContext, proc: Procedure, path: str, key: str, extra: list[Json], lines: list[str]
) -> list[Json]:
    """The RadiotherapyCourseSummary extensions; what their required bindings refuse goes to `lines`."""
    out: list[Json] = []
    if proc.technique and not proc.modality:
        # The technique extension sits inside the modality one: without a modality, words only.
        lines.append(f"Technique: {proc.technique}.")
    if proc.modality:
        # The modality extension's binding is required: a modality without a verified code
        # stays out of the extension and is recorded as text only.
        modality = ctx.coded_or_none("treatment", proc.modality, kind="radiotherapy-modality")
        technique = (
            ctx.coded_or_none("treatment", proc.technique, kind="radiotherapy-technique")
            if proc.technique
            else None
        )
        if modality is None:
            ctx.text_only("treatment", proc.modality, f"{path}.modality", "not in the map")
            lines.append(f"Modality: {proc.modality}.")
        else:
            parts = [{"url": EXT_RT_MODALITY, "valueCodeableConcept": modality}]
            if technique is not None:
                parts.append({"url": EXT_RT_TECHNIQUE, "valueCodeableConcept": technique})
            out.append({"extension": parts, "url": EXT_RT_MODALITY_TECHNIQUE})
        if proc.technique and (technique is None or modality is None):
            if technique is None:
                ctx.text_only("treatment", proc.technique, f"{path}.technique", "not in the map")
            lines.append(f"Technique: {proc.technique}.")
    if proc.dose_gy is not None or proc.fractions is not None:
        # Dose delivered to volume: the volume (a BodyStructure) is 1..1, so one is made for the
        # treated site; the dose pattern is UCUM cGy.
        volume_role = f"procedure/{key}/volume"
        volume: Json = {
            "resourceType": "BodyStructure",
            "id": ctx.uid(volume_role),
            "meta": profile(PROFILE_RADIOTHERAPY_VOLUME),
            "description": f"Treated volume: {proc.body_site or 'site not stated'}",
            "patient": ctx.ref(PATIENT_ROLE),
        }
        if proc.body_site:
            # RadiotherapyVolume: location bound (extensible) to RadiotherapyTreatmentLocationVS and
            # locationQualifier to its qualifier value set, which holds the laterality qualifiers.
            site = body_site(
                ctx, proc.body_site, proc.laterality, f"{path}.body_site", value_set=RT_LOCATION_VS
            )
            side = [
                e["valueCodeableConcept"] for e in site.get("extension", ()) if e["url"] == EXT_LATERALITY
            ]
            volume["location"] = {k: v for k, v in site.items() if k != "extension"}
            if side:
                volume["locationQualifier"] = side
        extra.append(volume)
        parts = [{"url": "volume", "valueReference": ctx.ref(volume_role)}]
        if proc.dose_gy is not None:
            dose = ctx.quantity(round(proc.dose_gy * 100, 2), "unit centigray")
            parts.append({"url": "totalDoseDelivered", "valueQuantity": dose})
        if proc.fractions is not None:
            parts.append({"url": "fractionsDelivered", "valueUnsignedInt": proc.fractions})
        out.append({"extension": parts, "url": EXT_RT_DOSE})
    return out


def termination_extension(ctx: MappingContext, reason: str | None, path: str) -> list[Json]:
    """mCODE treatment-termination-reason, for a stopped treatment with a stated reason."""
    if not reason:
        return []
    cc = ctx.concept("treatment", reason, path, kind="termination-reason")
    return [{"url": EXT_TERMINATION_REASON, "valueCodeableConcept": cc}]
