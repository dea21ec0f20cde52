"""Reads a FHIR Bundle into what a case summary shows: header facts, events, sites, markers and resources."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from typing import Any

from ..export.common import case_identity
from ..terminology import Concept, Terminology

Json = dict[str, Any]

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
EXT_LATERALITY_SUFFIX = "laterality-qualifier"
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
AGE_AT_DIAGNOSIS = "423493009"  # SNOMED CT Age at diagnosis (observable entity)
DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)")
FIELD_RE = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_0-9]+(?:\[\d+\])?)*):")


# --- when something happened -------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A time as the bundle states it: calendar dates, ages in years, words, or nothing.

    Calendar times keep their precision: `start` and `end` are the first and last day the stated
    values can mean (a year is the whole year). Ages are in years, `age_low` to `age_high`, where
    an age of 45 stated in whole years means from the 45th birthday to the day before the 46th.
    """

    kind: str  # "date", "age", "text" or "none"
    label: str = ""
    start: str | None = None  # YYYY-MM-DD
    end: str | None = None
    open_end: bool = False  # a period with a start and no end
    age_low: float | None = None
    age_high: float | None = None


NO_TIME = When("none", "time not stated")


def _day_bounds(value: str) -> tuple[str, str]:
    value = value[:10]
    parts = value.split("-")
    if len(parts) == 3:
        return value, value
    if len(parts) == 2:
        year, month = int(parts[0]), int(parts[1])
        return f"{value}-01", f"{value}-{calendar.monthrange(year, month)[1]:02d}"
    return f"{value}-01-01", f"{value}-12-31"


_UNIT_YEARS = {"a": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25}


def _age_years(quantity: Json) -> tuple[float, float] | None:
    """An Age as a range of years; a whole number of years covers the year that follows it."""
    value = quantity.get("value")
    if value is None:
        return None
    code = quantity.get("code") or {"years": "a", "months": "mo", "weeks": "wk", "days": "d"}.get(
        str(quantity.get("unit", "a")).lower(), "a"
    )
    scale = _UNIT_YEARS.get(code, 1.0)
    low = float(value) * scale
    whole = float(value) == int(value)
    return low, (float(value) + 1) * scale if whole else low


def _fmt_age(value: float) -> str:
    return f"{value:g}"


def when_of(resource: Json, stem: str) -> When:
    """The time of `<stem>[x]` (onset, performed, effective, deceased, occurrence ...)."""
    for key in (f"{stem}DateTime", stem):  # authoredOn, recordedDate ... are plain dateTimes
        if isinstance(resource.get(key), str):
            value = resource[key]
            start, end = _day_bounds(value)
            return When("date", value[:10], start, end)
    if f"{stem}Period" in resource:
        period = resource[f"{stem}Period"]
        first, last = period.get("start"), period.get("end")
        if first is None and last is None:
            return NO_TIME
        start = _day_bounds(first)[0] if first else _day_bounds(last)[0]
        end = _day_bounds(last)[1] if last else _day_bounds(first)[1]
        if first and last and first[:10] == last[:10]:
            label = first[:10]
        else:
            label = f"{first[:10] if first else '?'} – {last[:10] if last else 'no end stated'}"
        return When("date", label, start, end, open_end=last is None)
    if f"{stem}Age" in resource:
        years = _age_years(resource[f"{stem}Age"])
        if years:
            return When(
                "age", f"age {_fmt_age(resource[f'{stem}Age']['value'])}", age_low=years[0], age_high=years[1]
            )
    if f"{stem}Range" in resource:
        rng = resource[f"{stem}Range"]
        low = _age_years(rng["low"]) if rng.get("low") else None
        high = _age_years(rng["high"]) if rng.get("high") else None
        if low or high:
            lo = low[0] if low else high[0]
            hi = high[1] if high else low[1]
            text = f"age {_fmt_age(rng['low']['value']) if low else '?'}–{_fmt_age(rng['high']['value']) if high else '?'}"
            return When("age", text, age_low=lo, age_high=hi, open_end=high is None)
    if f"{stem}String" in resource:
        return When("text", str(resource[f"{stem}String"]))
    if f"{stem}Boolean" in resource and resource[f"{stem}Boolean"] is True:
        return NO_TIME
    return NO_TIME


# --- codes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRow:
    """One CodeableConcept of a resource: where it sits and what it says."""

    path: str
    text: str
    codings: tuple[tuple[str, str, str], ...]  # (system, code, display)

    @property
    def text_only(self) -> bool:
        return not self.codings


def _is_concept(value: Any) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    keys = set(value) - {"extension", "id"}
    return bool(keys) and keys <= {"coding", "text"}


def code_rows(resource: Json) -> list[CodeRow]:
    """Every CodeableConcept anywhere in a resource, in document order."""
    out: list[CodeRow] = []

    def walk(value: Any, path: str) -> None:
        if _is_concept(value):
            codings = tuple(
                (c.get("system", ""), c.get("code", ""), c.get("display", ""))
                for c in value.get("coding", [])
            )
            out.append(CodeRow(path, value.get("text", ""), codings))
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "note":  # an Annotation ({text}) is not a CodeableConcept
                    walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk({k: v for k, v in resource.items() if k not in ("meta", "text")}, "")
    return out


def concept_text(cc: Json | None) -> str:
    """What a person would call a CodeableConcept: its text, else its first display, else its code."""
    if not cc:
        return ""
    if cc.get("text"):
        return str(cc["text"])
    for coding in cc.get("coding", []):
        if coding.get("display"):
            return str(coding["display"])
    for coding in cc.get("coding", []):
        if coding.get("code"):
            return str(coding["code"])
    return ""


def coding_codes(cc: Json | None) -> set[str]:
    return {c.get("code", "") for c in (cc or {}).get("coding", [])}


# --- what kind of resource ---------------------------------------------------------------------


def profiles(resource: Json) -> list[str]:
    return list(resource.get("meta", {}).get("profile", []))


def _profile_has(resource: Json, *words: str) -> bool:
    return any(w in p.lower() for p in profiles(resource) for w in words)


def _category_codes(resource: Json) -> set[str]:
    out: set[str] = set()
    for cat in resource.get("category", []):
        out |= coding_codes(cat)
    return out


def _verification(resource: Json) -> str:
    codes = coding_codes(resource.get("verificationStatus"))
    return next(iter(codes)) if codes else ""


def classify(resource: Json, index: SiteIndex | None = None) -> str:
    """The role a resource plays in a case summary; "other" for anything this page does not know.

    The profile decides first; without one, the kind the terminology maps give its code
    (a disease-status or marker test code, a radiotherapy procedure).
    """
    rtype = resource.get("resourceType", "")
    kinds = index.kinds(resource.get("code") or {}) if index else set()
    if rtype == "Patient":
        return "patient"
    if rtype == "Condition":
        verification = _verification(resource)
        if verification in ("refuted", "entered-in-error"):
            return "refuted"
        if _profile_has(resource, "secondary-cancer"):
            return "metastasis"
        if _profile_has(resource, "primary-cancer"):
            return "primary"
        return "condition"
    if rtype == "Procedure":
        if _profile_has(resource, "radiotherapy") or "radiotherapy" in kinds:
            return "radiotherapy"
        return "procedure"
    if rtype in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
        return "medication"
    if rtype == "Observation":
        if _profile_has(resource, "disease-status") or "disease-status" in kinds:
            return "disease-status"
        if _profile_has(resource, "tnm", "stage", "staging"):
            return "staging"
        if (
            _profile_has(resource, "tumor-marker")
            or "laboratory" in _category_codes(resource)
            or "test" in kinds
        ):
            return "marker"
        return "observation"
    return "other"


# Lanes of the timeline, top to bottom, and what each is called on the page.
LANES = (
    ("primary", "Diagnosis"),
    ("condition", "Conditions"),
    ("refuted", "Refuted"),
    ("metastasis", "Metastases"),
    ("procedure", "Procedures"),
    ("radiotherapy", "Radiotherapy"),
    ("medication", "Drugs"),
    ("marker", "Markers"),
    ("staging", "Staging"),
    ("observation", "Observations"),
    ("disease-status", "Disease status"),
    ("death", "Death"),
)
LANE_NAMES = dict(LANES)

# Where each kind of resource keeps its time.
_TIME_STEMS = {
    "Condition": ("onset",),
    "Procedure": ("performed",),
    "MedicationStatement": ("effective",),
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effective",),
    "Observation": ("effective",),
}


@dataclass
class Event:
    """One thing on the timeline."""

    lane: str
    label: str
    when: When
    resource_id: str
    detail: str = ""


@dataclass
class Site:
    """A place on the body map: a primary tumour, a metastasis or a refuted diagnosis."""

    role: str  # "primary", "metastasis", "refuted", "procedure", "condition"
    label: str  # the site as the bundle names it
    region: str | None  # a region of the body map, None when it cannot be placed
    side: str | None  # "left", "right", "bilateral", "midline" or None (not stated)
    resource_id: str
    condition: str = ""  # what is at the site (the Condition's code text)


@dataclass
class Marker:
    """A tumour marker, staging or other result shown as a badge."""

    name: str
    value: str
    where: str
    when: str
    resource_id: str
    kind: str = "marker"
    group: str = ""  # what the index filters it by: the test as the maps name it (ER = estrogen receptor)


@dataclass
class ResourceRow:
    """A row of the resource table."""

    resource_type: str
    resource_id: str
    role: str
    profiles: list[str]
    codes: list[CodeRow]
    origin: str | None
    warnings: list[str] = field(default_factory=list)
    evidence: list[tuple[str, Json]] = field(default_factory=list)


@dataclass
class CaseSummary:
    """Everything a case page shows."""

    case_id: str
    source_name: str
    sex: str = ""
    age_at_diagnosis: str = ""
    ethnicity: str = ""
    vital_status: str = "not stated"
    deceased_when: When = NO_TIME
    disease_status: str = "not stated"
    citation: str = ""
    doi: str = ""
    url: str = ""
    summary_text: str = ""
    events: list[Event] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    resources: list[ResourceRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # conversion warnings no resource claimed
    evidence: dict[str, Json] = field(default_factory=dict)


# --- body sites --------------------------------------------------------------------------------


class SiteIndex:
    """Looks codes up in the shipped maps (code -> entry), for the names and kinds they give."""

    DOMAINS = ("body_sites", "laterality", "observations", "procedures")

    def __init__(self, terminology: Terminology | None):
        self.by_code: dict[tuple[str, str], Concept] = {}
        self.terminology = terminology
        if terminology is None:
            return
        for domain in self.DOMAINS:
            for concept in terminology.domains.get(domain, {}).values():
                for coding in concept.codings:
                    self.by_code.setdefault((coding.system, coding.code), concept)

    def kinds(self, cc: Json) -> set[str]:
        """The map kinds (test, disease-status, radiotherapy ...) of a code, or of its text when uncoded."""
        out = set()
        for coding in cc.get("coding", []):
            concept = self.by_code.get((coding.get("system", ""), coding.get("code", "")))
            if concept is not None and concept.kind:
                out.add(concept.kind)
        if not out and cc.get("text") and self.terminology is not None:
            for domain in ("observations", "procedures"):
                concept = self.terminology.lookup(domain, cc["text"])
                if concept is not None and concept.kind:
                    out.add(concept.kind)
        return out

    def test_name(self, cc: Json) -> str:
        """The name of the test a code or its words stand for in the maps ('ER' -> 'Estrogen receptor')."""
        concept = None
        for coding in cc.get("coding", []):
            concept = self.by_code.get((coding.get("system", ""), coding.get("code", "")))
            if concept is not None:
                break
        if concept is None and cc.get("text") and self.terminology is not None:
            concept = self.terminology.lookup("observations", cc["text"])
        name = (concept.text or concept.terms[0]) if concept is not None else concept_text(cc)
        # 'Estrogen receptor (% of cells)' is an ER result too.
        return re.sub(r"\s*\([^)]*\)$", "", name)

    def names(self, cc: Json) -> list[str]:
        """Every name a CodeableConcept goes by: text, displays, and the map entry's text and terms."""
        out = [cc.get("text", "")]
        for coding in cc.get("coding", []):
            out.append(coding.get("display", ""))
            concept = self.by_code.get((coding.get("system", ""), coding.get("code", "")))
            if concept is not None:
                out.append(concept.text or "")
                out.extend(concept.terms)
        return [n.lower() for n in out if n]


# Regions of the body map, most specific first; each matches words in a site's names.
REGION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scalp", ("scalp",)),
    ("eyelid", ("eyelid", "palpebra")),
    ("orbit", ("orbit",)),
    ("skull", ("skull", "cranium", "calvari")),
    ("brain", ("brain", "cerebr", "cerebell", "intracranial")),
    ("axillary-node", ("axillary lymph", "axillary node")),
    ("supraclavicular-node", ("supraclavicular",)),
    ("mediastinal-node", ("mediastin",)),
    ("lymph-node", ("lymph node", "lymph nodes", "lymphatic", "nodal")),
    ("axilla", ("axilla", "armpit")),
    ("chest-wall", ("chest wall", "thoracic wall")),
    ("breast", ("breast", "nipple", "areola", "mammary")),
    ("pleura", ("pleura",)),
    ("lung", ("lung", "pulmonary")),
    ("liver", ("liver", "hepat")),
    ("adrenal", ("adrenal",)),
    ("ovary", ("ovary", "ovarian")),
    ("peritoneum", ("peritone", "omentum")),
    ("bone-marrow", ("bone marrow", "marrow")),
    ("spine", ("spine", "spinal", "vertebra", "sacrum")),
    ("rib", ("rib", "ribs")),
    ("pelvis", ("pelvis", "pelvic", "ilium", "iliac")),
    ("femur", ("femur", "femoral")),
    ("bone", ("bone", "osseous", "skelet")),
    ("skin", ("skin", "cutaneous", "dermis", "subcutaneous")),
)


def region_of(names: list[str]) -> str | None:
    """The body-map region that a site's names point at, or None."""
    for region, words in REGION_WORDS:
        for name in names:
            padded = f" {re.sub(r'[^a-z]+', ' ', name)} "
            if any(f" {w}" in padded for w in words):
                return region
    return None


_SIDES = ("bilateral", "left", "right", "midline")


def _side_from_names(names: list[str]) -> str | None:
    for side in _SIDES:
        if any(re.search(rf"\b{side}\b", n) for n in names):
            return side
    if any(re.search(r"\bboth\b|\bright and left\b", n) for n in names):
        return "bilateral"
    return None


def side_of(cc: Json, index: SiteIndex, resource: Json) -> str | None:
    """left/right/bilateral/midline from the laterality extension, else from a pre-coordinated site."""
    exts = list(cc.get("extension", [])) + list(resource.get("extension", []))
    for ext in exts:
        if str(ext.get("url", "")).endswith(EXT_LATERALITY_SUFFIX):
            side = _side_from_names(index.names(ext.get("valueCodeableConcept", {})))
            if side:
                return side
    return _side_from_names(index.names(cc))


# --- reading a bundle --------------------------------------------------------------------------


def _ref_id(reference: str) -> str:
    """The resource id a reference points at (urn:uuid:<id> or Type/<id>)."""
    return reference.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _note_text(resource: Json) -> str:
    return " ".join(n.get("text", "") for n in resource.get("note", []) if n.get("text"))


def _value_text(resource: Json) -> str:
    if "valueCodeableConcept" in resource:
        return concept_text(resource["valueCodeableConcept"])
    if "valueQuantity" in resource:
        q = resource["valueQuantity"]
        unit = q.get("unit") or q.get("code") or ""
        return f"{q.get('comparator', '')}{q.get('value', '')}{' ' + unit if unit and unit != '1' else ''}".strip()
    if "valueString" in resource:
        return str(resource["valueString"])
    if "valueBoolean" in resource:
        return "yes" if resource["valueBoolean"] else "no"
    if "valueInteger" in resource:
        return str(resource["valueInteger"])
    if "valueRatio" in resource:
        r = resource["valueRatio"]
        return f"{r.get('numerator', {}).get('value', '?')}:{r.get('denominator', {}).get('value', '?')}"
    if "valueRange" in resource:
        r = resource["valueRange"]
        return f"{r.get('low', {}).get('value', '?')}–{r.get('high', {}).get('value', '?')}"
    components = [
        f"{concept_text(c.get('code'))} {_value_text(c)}".strip() for c in resource.get("component", [])
    ]
    return "; ".join(c for c in components if c)


def _warning_field(warning: str) -> str | None:
    match = FIELD_RE.match(warning)
    return match.group(1) if match else None


def _under(path: str, origin: str) -> bool:
    return path == origin or path.startswith(origin + ".") or path.startswith(origin + "[")


def _claims(origin: str, origins: dict[str, str]) -> str | None:
    """The resource origin that best owns a case-file field path (the longest that contains it)."""
    best = None
    for candidate in set(origins.values()):
        if _under(origin, candidate) and (best is None or len(candidate) > len(best)):
            best = candidate
    return best


def _latest(statuses: list[tuple[When, str]]) -> str:
    """The last stated status: the latest by date, else by age, else the last in the bundle."""
    for kind, key in (("date", lambda w: w.end), ("age", lambda w: w.age_high)):
        timed = [(key(w), i, v) for i, (w, v) in enumerate(statuses) if w.kind == kind]
        if timed:
            return max(timed)[2]
    return statuses[-1][1]


def summarise(
    bundle: Json,
    *,
    source_name: str,
    terminology: Terminology | None = None,
    warnings: list[str] | None = None,
    origins: dict[str, str] | None = None,
    evidence: dict[str, Json] | None = None,
    case_source: Json | None = None,
) -> CaseSummary:
    """Read a Bundle (and, for a case file, its warnings, field origins and evidence) into a CaseSummary."""
    resources = [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    by_id = {r.get("id", ""): r for r in resources}
    origins = origins or {}
    warnings = list(warnings or [])
    evidence = dict(evidence or {})
    index = SiteIndex(terminology)
    case_id = str(bundle.get("identifier", {}).get("value") or bundle.get("id") or source_name)
    out = CaseSummary(case_id=case_id, source_name=source_name, evidence=evidence)

    def site_text(rid: str) -> str:
        """Where a Condition is, with its side: 'breast (left)'."""
        target = by_id.get(rid)
        if target is None:
            return ""
        sites = []
        for cc in target.get("bodySite", []):
            text = concept_text(cc)
            side = side_of(cc, index, target)
            if text and side and side not in text.lower():
                text += f" ({side})"
            sites.append(text)
        return ", ".join(s for s in sites if s) or concept_text(target.get("code"))

    roles: dict[str, str] = {}
    statuses: list[tuple[When, str]] = []
    for resource in resources:
        rid = resource.get("id", "")
        role = classify(resource, index)
        roles[rid] = role
        rtype = resource.get("resourceType", "")
        if role == "patient":
            out.sex = str(resource.get("gender", ""))
            # The case id export gives the case file: the identifier our resources' roles extend,
            # else the first that can be a case id (the last one was taken: a social security
            # number after the record number named the page).
            identity = case_identity(resource, resources, None)
            if identity is not None and not bundle.get("identifier"):
                out.case_id = identity[1]
            # US Core race and ethnicity, each as its text part: both shown, and no other extension
            # that happens to have a "text" part (the last such one used to replace the others).
            said = [
                str(sub["valueString"])
                for ext in resource.get("extension", [])
                if ext.get("url") in (US_CORE_RACE, US_CORE_ETHNICITY)
                for sub in ext.get("extension", [])
                if sub.get("url") == "text" and sub.get("valueString")
            ]
            out.ethnicity = "; ".join(dict.fromkeys(said))
            if resource.get("deceasedBoolean") is True or "deceasedDateTime" in resource:
                out.vital_status = "deceased"
                out.deceased_when = when_of(resource, "deceased")
                out.events.append(Event("death", "Death", out.deceased_when, rid))
            elif resource.get("deceasedBoolean") is False:
                out.vital_status = "alive at last report"
            continue
        if role in ("primary", "metastasis", "refuted", "condition"):
            what = concept_text(resource.get("code"))
            when = when_of(resource, "onset")
            if role == "primary" and when.kind == "age" and not out.age_at_diagnosis:
                out.age_at_diagnosis = (
                    _fmt_age(resource["onsetAge"]["value"]) if "onsetAge" in resource else when.label
                )
            for cc in resource.get("bodySite", []) or [{}]:
                if not cc:
                    continue
                names = index.names(cc)
                # A precise site the map does not place (inferior rectus muscle) is drawn at the
                # region its condition is coded for (secondary neoplasm of orbit); the label keeps
                # the precise words.
                region = region_of(names) or region_of(index.names(resource.get("code") or {}))
                out.sites.append(
                    Site(role, concept_text(cc), region, side_of(cc, index, resource), rid, what)
                )
            histology = ""
            for ext in resource.get("extension", []):
                if "histology" in str(ext.get("url", "")):
                    histology = concept_text(ext.get("valueCodeableConcept"))
            sites = ", ".join(concept_text(cc) for cc in resource.get("bodySite", []))
            side = next((s.side for s in out.sites if s.resource_id == rid and s.side), None)
            label = {
                "primary": f"Primary: {sites or what}",
                "metastasis": f"Metastasis: {sites or what}",
                "refuted": f"Refuted: {what}",
                "condition": what,
            }[role]
            if side and side not in label.lower():
                label += f" ({side})"
            status = concept_text(resource.get("clinicalStatus"))
            detail = "; ".join(
                x for x in (what if role != "refuted" else "", histology, status, _note_text(resource)) if x
            )
            out.events.append(Event(role, label, when, rid, detail))
            continue
        if role in ("procedure", "radiotherapy"):
            name = concept_text(resource.get("code"))
            sites = ", ".join(concept_text(cc) for cc in resource.get("bodySite", []))
            for cc in resource.get("bodySite", []):
                out.sites.append(
                    Site(
                        role,
                        concept_text(cc),
                        region_of(index.names(cc)),
                        side_of(cc, index, resource),
                        rid,
                        name,
                    )
                )
            detail = "; ".join(x for x in (sites, resource.get("status", ""), _note_text(resource)) if x)
            out.events.append(Event(role, name or rtype, when_of(resource, "performed"), rid, detail))
            continue
        if role == "medication":
            name = concept_text(resource.get("medicationCodeableConcept"))
            if not name and "medicationReference" in resource:
                name = concept_text(
                    by_id.get(_ref_id(resource["medicationReference"].get("reference", "")), {}).get("code")
                )
            stem = _TIME_STEMS.get(rtype, ("effective",))[0]
            when = when_of(resource, stem)
            detail = "; ".join(x for x in (resource.get("status", ""), _note_text(resource)) if x)
            out.events.append(Event(role, name or rtype, when, rid, detail))
            continue
        if role in ("disease-status", "marker", "staging", "observation"):
            name = concept_text(resource.get("code"))
            value = _value_text(resource)
            when = when_of(resource, "effective")
            where = ", ".join(
                t
                for t in (site_text(_ref_id(f.get("reference", ""))) for f in resource.get("focus", []))
                if t
            )
            if not where:
                for ext in resource.get("extension", []):
                    if "related-condition" in str(ext.get("url", "")):
                        where = concept_text(ext.get("valueCodeableConcept"))
            specimen = resource.get("specimen", {}).get("reference")
            if specimen:
                target = by_id.get(_ref_id(specimen), {})
                parts = [
                    concept_text(target.get("type")),
                    concept_text(target.get("collection", {}).get("bodySite")),
                ]
                where = ", ".join(p for p in [*parts, where] if p)
            if AGE_AT_DIAGNOSIS in coding_codes(resource.get("code")) and "valueQuantity" in resource:
                # An age stated beside a date of diagnosis (Condition.onset holds the date).
                out.age_at_diagnosis = out.age_at_diagnosis or _fmt_age(resource["valueQuantity"]["value"])
            if role == "disease-status":
                statuses.append((when, value))
                label = f"Disease status: {value}"
            else:
                group = index.test_name(resource.get("code") or {}) if role == "marker" else name
                out.markers.append(
                    Marker(name, value, where, when.label if when.kind != "none" else "", rid, role, group)
                )
                label = f"{name}: {value}" if value else name
            detail = "; ".join(x for x in (f"about {where}" if where else "", _note_text(resource)) if x)
            out.events.append(Event(role, label, when, rid, detail))
            continue
    if statuses:
        out.disease_status = _latest(statuses) or out.disease_status
    for resource in resources:
        rid = resource.get("id", "")
        for ident in resource.get("identifier", []) + resource.get("relatesTo", []):
            found = DOI_RE.search(str(ident.get("value", "")))
            if found and not out.doi:
                out.doi = found.group(1)
        for content in resource.get("content", []):
            attachment = content.get("attachment", {})
            if attachment.get("title") and not out.citation:
                out.citation = attachment["title"]
            found = DOI_RE.search(str(attachment.get("url", "")))
            if found and not out.doi:
                out.doi = found.group(1)
    if case_source:
        out.citation = out.citation or case_source.get("citation") or ""
        out.doi = out.doi or case_source.get("doi") or ""
        out.url = case_source.get("url") or ""
        out.summary_text = case_source.get("summary") or ""

    # The table: every resource, with the warnings and evidence of the case-file fields it came from.
    rows: dict[str, ResourceRow] = {}
    for resource in resources:
        rid = resource.get("id", "")
        rows[rid] = ResourceRow(
            resource.get("resourceType", "?"),
            rid,
            roles.get(rid, "other"),
            profiles(resource),
            code_rows(resource),
            origins.get(rid),
        )
    by_origin: dict[str, list[ResourceRow]] = {}
    for row in rows.values():
        if row.origin:
            by_origin.setdefault(row.origin, []).append(row)
    for warning in warnings:
        path = _warning_field(warning)
        owner = _claims(path, origins) if path else None
        if owner:
            for row in by_origin[owner]:
                row.warnings.append(warning)
        else:
            out.warnings.append(warning)
    for path, item in evidence.items():
        owner = _claims(path, origins)
        for row in by_origin.get(owner or "", []):
            row.evidence.append((path, item))
    out.resources = list(rows.values())
    out.warnings.extend(_after_death(out))
    return out


def _after_death(summary: CaseSummary) -> list[str]:
    """A sentence for each event the bundle times surely after the death, which a page must not hide.

    A case file cannot say so (it is refused), but a bundle from elsewhere can; the page draws
    both times as stated and says that they disagree. Partial times count as their widest range.
    """
    death = summary.deceased_when
    if death.kind not in ("date", "age"):
        return []
    out = []
    for event in summary.events:
        when = event.when
        if event.lane == "death" or when.kind != death.kind:
            continue
        later = (
            when.start is not None and death.end is not None and when.start > death.end
            if death.kind == "date"
            else when.age_low is not None and death.age_high is not None and when.age_low >= death.age_high
        )
        if later:
            out.append(f"{event.label} ({when.label}) is timed after the death ({death.label}); check both")
    return out


def evidence_for(summary: CaseSummary, resource_id: str) -> list[tuple[str, Json]]:
    """The evidence sentences of the case-file fields a resource came from."""
    for row in summary.resources:
        if row.resource_id == resource_id:
            return row.evidence
    return []
