"""Observations: mCODE TumorMarkerTest, HistologicGrade and CancerDiseaseStatus, and tumour size."""

from __future__ import annotations

from dataclasses import dataclass

from ..case import DiseaseStatus, Marker
from ..ids import urn
from ..terminology import fold
from .common import (
    EXT_EVIDENCE_TYPE,
    EXT_RELATED_CONDITION,
    PROFILE_DISEASE_STATUS,
    PROFILE_HISTOLOGIC_GRADE,
    PROFILE_TUMOR,
    PROFILE_TUMOR_MARKER,
    PROFILE_TUMOR_SIZE,
    Json,
    MappingContext,
    notes,
    profile,
)
from .condition import PrimarySide, cancer_roles, evidence_codes
from .patient import PATIENT_ROLE
from .timing import put_when, when_of

# The receptors shorthand (receptors: {er: positive}) as marker names of observations.yaml.
RECEPTORS = (("er", "estrogen receptor"), ("pr", "progesterone receptor"), ("her2", "her2"))


@dataclass(frozen=True)
class MarkerOn:
    """A marker with the cancer it was measured on (a primary, or a named metastasis)."""

    path: str  # case-file path of the marker
    role: str  # the role whose id names the Observation
    cancer_role: str  # "primary/KEY" or "metastasis/KEY": where its Specimen's id derives from
    marker: Marker
    focus_roles: list[str]
    condition_codes: list[Json]  # the code of each Condition it was measured on (two if bilateral)
    body_site: Json | None


def markers_of(
    ctx: MappingContext, base: str, key: str, path: str, item, codes: list[Json], site: Json | None
) -> list[MarkerOn]:
    """Every marker stated for a primary (receptors shorthand included) or a metastasis.

    `base` is the role of the cancer ("primary/KEY" or "metastasis/KEY") the Observation ids
    derive from; `codes` the Condition codes of the cancer (both sides of a bilateral primary).
    A marker has the time it states, or none: the time the cancer was diagnosed or found is
    not the time a marker was measured.
    """
    out = []
    focus = cancer_roles(ctx, key)
    receptors = getattr(item, "receptors", None)
    if receptors is not None:
        for field_name, term in RECEPTORS:
            result = getattr(receptors, field_name)
            if result is not None:
                marker = Marker(name=term, result=result)
                out.append(
                    MarkerOn(
                        f"{path}.receptors.{field_name}",
                        f"{base}/marker/{field_name}",
                        base,
                        marker,
                        focus,
                        codes,
                        site,
                    )
                )
    for i, marker in enumerate(item.markers):
        out.append(MarkerOn(f"{path}.markers[{i}]", f"{base}/markers/{i}", base, marker, focus, codes, site))
    if len(out) > 1:
        _say_opposite_results(ctx, out)
    return out


# The entries of observations.yaml whose codes say a marker is there, and the one whose codes say
# it is not; a result coded by the input (a framework table) is read by its codes as one coded by
# the maps, and an overlay that codes these terms otherwise is followed.
_POLARITY_TERMS = (("positive", True), ("weakly positive", True), ("negative", False))


def _polarity(ctx: MappingContext, system: str, code: str) -> bool | None:
    """True for a result code that says the marker is there, False for one that says it is not."""
    for term, polarity in _POLARITY_TERMS:
        entry = ctx.lookup("observations", term)
        if entry is not None and any(c.system == system and c.code == code for c in entry.codings):
            return polarity
    return None


def _say_opposite_results(ctx: MappingContext, markers: list[MarkerOn]) -> None:
    """Warn of one marker found both present and absent on one cancer, nothing telling the two apart.

    Both Observations are written, as stated; the warning says the case contradicts itself, so the
    choice is a person's. A marker stated again at another time, on another specimen or by another
    method (ER positive at diagnosis, negative on the metastasis biopsy) is no contradiction.
    """
    seen: dict[tuple, tuple[MarkerOn, bool]] = {}
    for on in markers:
        m = on.marker
        if m.result is None:
            continue
        result = ctx.lookup("observations", m.result)
        said = {_polarity(ctx, c.system, c.code) for c in result.codings} - {None} if result else set()
        if len(said) != 1:
            continue
        (polarity,) = said
        name = ctx.lookup("observations", m.name)
        what = name.text if name is not None and name.text else fold(m.name)
        when = (m.date, m.age, tuple(m.between or ()), m.relative, m.timing)
        key = (what, when, fold(m.specimen) if m.specimen else None)
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = (on, polarity)
            continue
        other, other_polarity = earlier
        methods = (other.marker.method, m.method)
        if other_polarity != polarity and (None in methods or fold(methods[0]) == fold(methods[1])):
            ctx.warn(
                f"{other.path} and {on.path}: {m.name} is '{other.marker.result}' and '{m.result}' on one"
                " cancer, with no other time, specimen or method to tell them apart; both are written"
                " as stated. Correct the one that is wrong, or give each its date or specimen"
            )


def _effective_lab(ctx: MappingContext, when) -> tuple[Json, list[str]]:
    """effective[x] for a US Core lab result: us-core-1 wants a dateTime to the day at least."""
    resource: Json = {}
    leftover = put_when(resource, ctx, "effective", when, age=False, string=False, full_dates_only=True)
    return resource, leftover


# The text of a percentage's test code where the marker has no percentage test of its own.
PERCENT_SUFFIX = " (% of cells)"


def _percent_test(ctx: MappingContext, name: str, text: str) -> Json | None:
    """The code of a marker's percentage of stained cells (its entry's `percent`), else None."""
    test = ctx.lookup("observations", name)
    if test is None or test.kind != "test" or test.percent is None:
        return None
    found = ctx.lookup("observations", test.percent)
    return ctx.coded(found, text) if found is not None and found.codings else None


def to_tumor_marker_test(ctx: MappingContext, on: MarkerOn) -> list[Json]:
    """A TumorMarkerTest (and the Specimen it was measured on, when the case names one)."""
    m = on.marker
    path = on.path
    resource: Json = {
        "resourceType": "Observation",
        "id": ctx.uid(on.role),
        "meta": profile(PROFILE_TUMOR_MARKER),
        # mCODE TumorMarkerTest: relatedCondition 0..*, a CodeableConcept (the condition's code);
        # both sides of a bilateral primary, as its focus names both Conditions.
        "extension": [
            {"url": EXT_RELATED_CONDITION, "valueCodeableConcept": cc} for cc in on.condition_codes
        ],
        "status": "final",
        # US Core Laboratory Result Observation: category 1..*, slice us-core = laboratory.
        "category": [ctx.fixed("category laboratory")],
        "code": ctx.concept("observations", m.name, f"{path}.name", kind="test"),
        "subject": ctx.ref(PATIENT_ROLE),
        "focus": [ctx.ref(role) for role in on.focus_roles],
    }
    stated = m.date or m.age or m.between or m.relative or m.timing
    effective, leftover = _effective_lab(ctx, when_of(ctx, m)) if stated else ({}, [])
    resource.update(effective)
    percent = ctx.quantity(m.percent, "unit percent") if m.percent is not None else None
    # TumorMarkerTest: value[x] 1..1. A stated result is the value; a percentage or score given
    # beside it goes into a component, so no number is lost.
    components = []
    if m.result is not None:
        resource["valueCodeableConcept"] = ctx.concept(
            "observations", m.result, f"{path}.result", kind="result"
        )
        if percent is not None:
            code = _percent_test(ctx, m.name, "Percentage of cells stained") or {
                "text": "Percentage of cells stained"
            }
            components.append({"code": code, "valueQuantity": percent})
    elif percent is not None:
        resource["valueQuantity"] = percent
        # A percentage goes under the test of the percentage of stained cells (ER -> 85329-1), never
        # under a presence or interpretation code; a marker with no such test keeps its name as text.
        name = resource["code"].get("text", m.name)
        resource["code"] = _percent_test(ctx, m.name, name) or (
            resource["code"] if not resource["code"].get("coding") else {"text": name + PERCENT_SUFFIX}
        )
    for label, score in (("Allred score", m.allred), ("H-score", m.h_score)):
        if score is None:
            continue
        if not any(k in resource for k in ("valueCodeableConcept", "valueQuantity")):
            # TumorMarkerTest: value[x] is Quantity, CodeableConcept, string or Ratio (no integer);
            # a score is a Quantity of UCUM "1" named by its unit, as mCODE's Oncotype DX example.
            resource["valueQuantity"] = ctx.quantity(score, "unit one", unit=label)
            # The marker's codes name presence or intensity tests (LOINC scale Ord), not a score,
            # and no code for the score is verified (observations.yaml): the test stays text.
            resource["code"] = {"text": f"{resource['code'].get('text', m.name)} ({label})"}
        else:
            components.append({"code": {"text": label}, "valueInteger": score})
    if on.body_site is not None:
        resource["bodySite"] = on.body_site
    if m.method:
        resource["method"] = ctx.concept("observations", m.method, f"{path}.method", kind="method")
    out = [resource]
    if m.specimen:
        # One Specimen per specimen the case names: the markers of one punch biopsy share it.
        specimen_role = f"{on.cancer_role}/specimen/{fold(m.specimen)}"
        resource["specimen"] = ctx.ref(specimen_role)
        made = ctx.memo.setdefault("specimens", set())
        if specimen_role not in made:
            made.add(specimen_role)
            specimen: Json = {
                "resourceType": "Specimen",
                "id": ctx.uid(specimen_role),
                "type": {"text": m.specimen},
                "subject": ctx.ref(PATIENT_ROLE),
            }
            if on.body_site is not None:
                specimen["collection"] = {"bodySite": on.body_site}
            out.append(specimen)
    if components:
        resource["component"] = components
    note = notes(*leftover, m.note)
    if note:
        resource["note"] = note
    return out


def to_cancer_disease_status(
    ctx: MappingContext,
    index: int,
    key: str,
    ds: DiseaseStatus,
    *,
    part_of: list[str] | None = None,
    path: str | None = None,
) -> Json:
    """A CancerDiseaseStatus: the state of the cancer at a point in time."""
    path = path or f"disease_status[{index}]"
    about = ds.about or ctx.case.first_primary_key()
    resource: Json = {
        "resourceType": "Observation",
        "id": ctx.uid(f"disease-status/{key}"),
        "meta": profile(PROFILE_DISEASE_STATUS),
    }
    # The evidence-type extension has a required binding: only coded evidence goes there.
    coded, uncoded = evidence_codes(ctx, ds.evidence, f"{path}.evidence")
    if coded:
        resource["extension"] = [{"url": EXT_EVIDENCE_TYPE, "valueCodeableConcept": cc} for cc in coded]
    resource["status"] = "final"
    # mCODE CancerDiseaseStatus: code fixed to LOINC 97509-4.
    resource["code"] = ctx.coded(ctx.require("observations", "disease status"), None)
    if part_of is not None:
        # A response to one treatment: the assessment is part of that MedicationStatement or Procedure.
        resource["partOf"] = [ctx.ref(role) for role in part_of]
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    resource["focus"] = [ctx.ref(role) for role in cancer_roles(ctx, about)]
    when = when_of(ctx, ds)
    leftover = put_when(resource, ctx, "effective", when, age=False, string=False)
    resource["valueCodeableConcept"] = ctx.concept(
        "observations", ds.status, f"{path}.status", kind="status-value"
    )
    by = [f"Evidence: {term}." for term in uncoded]  # one line per term: a term may hold a comma
    note = notes(*leftover, *by, ds.note)
    if note:
        resource["note"] = note
    return resource


def to_histologic_grade(ctx: MappingContext, side: PrimarySide, when) -> Json | None:
    """mCODE HistologicGrade for a stated grade; the value is coded where the maps have it."""
    p = side.primary
    if not p.grade:
        return None
    path = f"primary_cancers[{side.index}].grade"
    resource: Json = {
        "resourceType": "Observation",
        "id": ctx.uid(f"primary/{side.key}/grade"),
        "meta": profile(PROFILE_HISTOLOGIC_GRADE),
        "status": "final",
        # HistologicGrade (US Core lab): category us-core = laboratory; code pattern NCIt C18000.
        "category": [ctx.fixed("category laboratory")],
        "code": ctx.fixed("histologic grade"),
        "subject": ctx.ref(PATIENT_ROLE),
        "focus": [ctx.ref(role) for role in cancer_roles(ctx, side.key)],
    }
    effective, leftover = _effective_lab(ctx, when) if when is not None else ({}, [])
    resource.update(effective)
    # HistologicGrade: value[x] 1..1, extensible binding: text where no verified code exists.
    resource["valueCodeableConcept"] = ctx.concept("observations", p.grade, path, kind="grade")
    note = notes(*leftover)
    if note:
        resource["note"] = note
    return resource


def to_tumor_size(
    ctx: MappingContext, role: str, path: str, sizes: list[float], focus_key: str, site: Json | None
) -> list[Json]:
    """mCODE TumorSize, in millimetres as stated, with the mCODE Tumor it measures.

    TumorSize needs a focus or a specimen (must-have-focus-or-specimen-invariant), and its focus
    is Reference(Tumor), a BodyStructure: a Condition there is refused by HAPI FHIR's validator.
    So the tumour is a BodyStructure of its own, at the cancer's body site (`site`, the
    Condition's bodySite), naming the Condition in mcode-related-condition.
    """

    def quantity(value: float) -> Json:
        return ctx.quantity(value, "unit millimeter", unit="mm")

    tumour_role = f"{role}/tumor"
    tumour: Json = {
        "resourceType": "BodyStructure",
        "id": ctx.uid(tumour_role),
        "meta": profile(PROFILE_TUMOR),
        "extension": [
            {"url": EXT_RELATED_CONDITION, "valueReference": ctx.ref(cancer_roles(ctx, focus_key)[0])}
        ],
        # mCODE Tumor: identifier 1..* (BodyStructureIdentifier: type pattern BodyStructure, value
        # 1..1), location 1..1. The identifier is a deterministic URN of its own (not the fullUrl,
        # which readers turn into Type/id wherever it appears).
        "identifier": [
            {
                "type": ctx.fixed("identifier body structure"),
                "system": "urn:ietf:rfc:3986",
                "value": urn(ctx.uid(f"{tumour_role}/identifier")),
            }
        ],
        "location": site or {"text": "site not stated"},
        "patient": ctx.ref(PATIENT_ROLE),
    }
    components = [{"code": ctx.fixed("tumor longest dimension"), "valueQuantity": quantity(sizes[0])}]
    components += [
        {"code": ctx.fixed("tumor other dimension"), "valueQuantity": quantity(v)} for v in sizes[1:]
    ]
    size = {
        "resourceType": "Observation",
        "id": ctx.uid(role),
        "meta": profile(PROFILE_TUMOR_SIZE),
        "status": "final",
        "category": [ctx.fixed("category laboratory")],
        "code": ctx.fixed("tumor size"),
        "subject": ctx.ref(PATIENT_ROLE),
        # TumorSize: focus 0..1, Reference(Tumor).
        "focus": [ctx.ref(tumour_role)],
        "component": components,
    }
    return [tumour, size]
