"""Resources other tools wrote: read into the case as far as the case model lets them go.

A resource without fhir-adapter's role identifier is recognised by its mCODE profile
(meta.profile), else by a code the maps know for its kind (a Condition coded as a primary
cancer, an Observation coded as a tumour marker test): never by its id or its words. Codes go
back to the case file's terms through the maps, by system and code; a code the maps do not know
keeps its text or display as the term. Whatever has no place in the case model (a resource, an
element, a second value where the case holds one) is listed with the reason.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

from ..mapping.common import (
    EXT_CONDITION_RELATED,
    EXT_EVIDENCE_TYPE,
    EXT_HISTOLOGY,
    EXT_LATERALITY,
    EXT_PROCEDURE_INTENT,
    EXT_RELATED_CONDITION,
    EXT_TERMINATION_REASON,
    EXT_US_CORE_RACE,
    MCODE,
    PROFILE_DISEASE_STATUS,
    PROFILE_ECOG,
    PROFILE_PRIMARY,
    PROFILE_RADIOTHERAPY,
    PROFILE_SECONDARY,
    PROFILE_SURGICAL,
    PROFILE_TNM_M,
    PROFILE_TNM_N,
    PROFILE_TNM_STAGE_GROUP,
    PROFILE_TNM_T,
    PROFILE_TUMOR_MARKER,
)
from ..mapping.procedure import EXT_RT_DOSE, EXT_RT_MODALITY, EXT_RT_MODALITY_TECHNIQUE, EXT_RT_TECHNIQUE
from ..terminology import Concept, Terminology, fold
from .common import Json, ReadContext, extensions, label, number

SNOMED = "http://snomed.info/sct"
EXT_US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
PROFILE_MEDICATION_REQUEST = MCODE + "mcode-cancer-related-medication-request"
PROFILE_MEDICATION_ADMINISTRATION = MCODE + "mcode-cancer-related-medication-administration"
# LOINC 97509-4, the code mCODE CancerDiseaseStatus fixes (observations.yaml, 'disease status').
DISEASE_STATUS_TERM = "disease status"
# The markers the case file holds in `receptors` (mapping/observation.py writes them there).
RECEPTOR_TERMS = {"er": "ER", "pr": "PR", "her2": "HER2"}
# A SNOMED CT display's semantic tag, "(disorder)": not part of the term.
_SEMANTIC_TAG = re.compile(r"\s+\([a-z][a-z /-]*\)$")
# Patient elements the case format has no place for (it holds no name, birth date or contact).
_PATIENT_ELEMENTS = (
    "name",
    "birthDate",
    "address",
    "telecom",
    "contact",
    "communication",
    "maritalStatus",
    "multipleBirthBoolean",
    "multipleBirthInteger",
    "photo",
    "generalPractitioner",
    "managingOrganization",
    "link",
)
_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
# Status values of the other tools' medication resources, as the case file's medication status.
_MEDICATION_STATUS = {
    "MedicationStatement": {
        "active": "active",
        "completed": "completed",
        "stopped": "stopped",
        "on-hold": "on-hold",
        "intended": "intended",
        "not-taken": "not-taken",
        "unknown": "unknown",
    },
    "MedicationRequest": {
        "active": "active",
        "completed": "completed",
        "stopped": "stopped",
        "on-hold": "on-hold",
        "unknown": "unknown",
        # R4 CodeSystem medicationrequest-status: 'cancelled' is a prescription withdrawn before any
        # administration, 'draft' one not yet actionable (work in progress, awaiting sign-off).
        "cancelled": "not-taken",
        "draft": "intended",
    },
    "MedicationAdministration": {
        "in-progress": "active",
        "completed": "completed",
        "stopped": "stopped",
        "on-hold": "on-hold",
        "not-done": "not-taken",
        "unknown": "unknown",
    },
}
_PROCEDURE_STATUS = {"completed", "in-progress", "not-done", "stopped", "unknown", "preparation"}
_CLINICAL_STATUS = {"active", "recurrence", "relapse", "remission", "resolved", "inactive"}
_CERTAINTY = {"confirmed", "provisional", "differential", "unconfirmed"}


@dataclass(frozen=True)
class Term:
    """A coded element as a case-file term: from the maps (`concept`), or its own words."""

    words: str
    concept: Concept | None = None
    when: tuple[tuple[str, str], ...] = ()  # the variant's qualifiers (laterality) the code carries

    @property
    def element(self) -> str:
        return "coding (maps)" if self.concept is not None else "text"


Reverse = dict[str, dict[tuple[str, str], list[tuple[Concept, tuple]]]]
# The reverse index of each loaded Terminology, kept while it lives (the maps do not change once
# loaded, and every case read asks it again).
_REVERSE: dict[int, Reverse] = {}


def _reverse(terminology: Terminology) -> Reverse:
    """Per domain, (system, code) -> the entries (and variant qualifiers) that give it, in map order."""
    cached = _REVERSE.get(id(terminology))
    if cached is not None:
        return cached
    out: Reverse = {}
    for domain, concepts in terminology.domains.items():
        index: dict[tuple[str, str], list[tuple[Concept, tuple]]] = {}
        seen: set[int] = set()
        for concept in concepts.values():
            if id(concept) in seen:
                continue
            seen.add(id(concept))
            for coding in concept.codings:
                index.setdefault((coding.system, coding.code), []).append((concept, ()))
            for variant in concept.variants:
                for coding in variant.codings:
                    index.setdefault((coding.system, coding.code), []).append((concept, variant.when))
        out[domain] = index
    key = id(terminology)
    _REVERSE[key] = out
    weakref.finalize(terminology, _REVERSE.pop, key, None)
    return out


def _display(coding: Json) -> str | None:
    display = coding.get("display")
    if not isinstance(display, str) or not display.strip():
        return None
    if coding.get("system") == SNOMED:
        display = _SEMANTIC_TAG.sub("", display)
    return display.strip()


def term(ctx: ReadContext, domains: tuple[str, ...], concept: Json | None) -> Term | None:
    """The case-file term of a CodeableConcept: the map entry its system and code name, else its words.

    Where several entries share a code, the one whose own words are the coding's display wins,
    else the first in map order. A code the maps do not know keeps the concept's text (or the
    coding's display); a bare unknown code gives no term.
    """
    if not isinstance(concept, dict):
        return None
    index = _reverse(ctx.terminology)
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    for coding in codings:
        key = (str(coding.get("system", "")), str(coding.get("code", "")))
        for domain in domains:
            found = index.get(domain, {}).get(key)
            if not found:
                continue
            shown = fold(_display(coding) or "")
            best = next(
                ((c, w) for c, w in found if shown and shown in {fold(t) for t in (*c.terms, c.text or "")}),
                found[0],
            )
            return Term(best[0].terms[0], best[0], best[1])
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return Term(concept["text"].strip())
    for coding in codings:
        shown = _display(coding)
        if shown:
            return Term(shown)
    return None


def _profiles(resource: Json) -> list[str]:
    return [str(p).split("|")[0] for p in (resource.get("meta") or {}).get("profile") or []]


def _has_profile(resource: Json, *profiles: str) -> bool:
    return any(p in profiles for p in _profiles(resource))


def _in_domain(ctx: ReadContext, concept: Json | None, domain: str, kinds: tuple[str, ...] = ()) -> bool:
    """True if a code of the concept is one the maps give in `domain` (of one of `kinds`, if named)."""
    index = _reverse(ctx.terminology).get(domain, {})
    for coding in (concept or {}).get("coding") or []:
        if isinstance(coding, dict):
            for found, _ in index.get((str(coding.get("system", "")), str(coding.get("code", ""))), []):
                if not kinds or found.kind in kinds:
                    return True
    return False


def _date(value: object) -> str | None:
    """A FHIR date or dateTime as a case-file partial date (the day at most; a time is not kept)."""
    if not isinstance(value, str):
        return None
    found = _DATE.match(value)
    return found.group(0) if found else None


@dataclass
class _Reading:
    """What the foreign resources of one patient gave so far: case items, by the resource they came from."""

    data: Json
    cancers: dict[str, str] = field(default_factory=dict)  # Condition id -> case item id
    primaries: dict[str, Json] = field(default_factory=dict)  # Condition id -> primary item
    used: set[int] = field(default_factory=set)  # read into a field, or listed with the reason

    def cannot(self, ctx: ReadContext, resource: Json, element: str, why: str) -> None:
        """List a resource that cannot be placed, with the reason; it is not listed again."""
        ctx.not_placed(resource, element, why)
        self.used.add(id(resource))

    def new_id(self, stem: str, items: list[Json]) -> str:
        """The id an appended item gets: the one its position gives, unless another item took it."""
        taken = {str(i.get("id")) for i in items if i.get("id")}
        n = len(items) + 1
        while f"{stem}-{n}" in taken:
            n += 1
        return f"{stem}-{n}"


def read_foreign(
    ctx: ReadContext,
    data: Json,
    resources: list[Json],
    patient: Json,
    *,
    ours: bool = False,
    cancers: dict[str, str] | None = None,
) -> None:
    """Read what the maps and the case model allow from resources without our role identifiers.

    `ours` says whether the Patient came with resources fhir-adapter wrote; its elements are then
    ours too and not listed again. `cancers` gives the case item id of each Condition already read
    (by its resource id), for what other tools say of them.
    """
    reading = _Reading(data, cancers=dict(cancers or {}))
    if not ours:
        _patient(ctx, patient, data["patient"])
    kinds = []
    for resource in resources:
        void = _void(resource)
        if void is not None:
            reading.cannot(ctx, resource, void[0], void[1])
        kinds.append((resource, None if void else _kind(ctx, resource)))
    for resource, kind in kinds:
        if kind == "primary":
            _primary(ctx, reading, resource)
    for resource, kind in kinds:
        if kind == "metastasis":
            _metastasis(ctx, reading, resource)
    stage_members = {
        id(ctx.index.get(m))
        for r, kind in kinds
        if kind == "stage-group"
        for m in r.get("hasMember") or []
        if ctx.index.get(m) is not None
    }
    for resource, kind in kinds:
        if kind == "stage-group":
            _stage_group(ctx, reading, resource)
        elif kind == "marker":
            _marker(ctx, reading, resource)
        elif kind == "disease-status":
            _disease_status(ctx, reading, resource)
        elif kind == "ecog":
            _ecog(ctx, reading, resource)
    for resource, kind in kinds:
        if kind == "procedure":
            _procedure(ctx, reading, resource)
        elif kind == "medication":
            _medication(ctx, reading, resource)
    for resource, kind in kinds:
        if id(resource) in reading.used:
            continue
        if kind == "stage-category" and id(resource) in stage_members:
            continue  # read, or listed, with its stage group
        if kind == "stage-category":
            ctx.not_placed(
                resource, "", "a T, N or M category that no stage group read here names (hasMember)"
            )
            continue
        if resource.get("resourceType") == "Condition" and isinstance(resource.get("code"), dict):
            # Named by its code's words: a cancer the maps do not know is told from a comorbidity.
            ctx.not_placed(
                resource,
                "",
                f"{_what(resource)} '{_words(resource['code'])}' has no place in the case format"
                " (no mCODE cancer profile, and no code of mappings/primary_cancers.yaml or"
                " secondary_cancers.yaml)",
            )
            continue
        ctx.not_placed(resource, "", f"{_what(resource)} has no place in the case format")
    _unread_elements(ctx, [patient] if not ours else [], resources, reading.used)


# What the readers above look at in each resource type to place it (or list with a reason when
# they cannot); an element read into a field (a note, a method) counts when the evidence names it.
# Every other element of a resource they read is listed by _unread_elements.
_STRUCTURE = frozenset(
    {"resourceType", "id", "meta", "text", "language", "implicitRules", "extension", "modifierExtension"}
    # Who recorded, asked for or did it, and at which visit: references to people and encounters,
    # whose own resources are listed whole; the case holds no people.
    | {"asserter", "recorder", "performer", "requester", "informationSource", "encounter"}
)
_READ_ELEMENTS: dict[str, frozenset[str]] = {
    "Patient": frozenset({"gender", "deceasedBoolean", "deceasedDateTime", "identifier", "active"}),
    "Condition": frozenset(
        {
            "subject",
            "code",
            "bodySite",
            "category",
            "clinicalStatus",
            "verificationStatus",
            "onsetDateTime",
            "onsetPeriod",
            "onsetAge",
            "recordedDate",
            "stage",
        }
    ),
    "Observation": frozenset(
        {
            "subject",
            "code",
            "category",
            "status",
            "focus",
            "valueCodeableConcept",
            "valueQuantity",
            "valueInteger",
            "effectiveDateTime",
            "hasMember",
        }
    ),
    "Procedure": frozenset(
        {
            "subject",
            "code",
            "category",
            "status",
            "bodySite",
            "reasonReference",
            "performedDateTime",
            "performedPeriod",
        }
    ),
}
_READ_ELEMENTS |= {
    rtype: frozenset(
        {
            "subject",
            "medicationCodeableConcept",
            "medicationReference",
            "status",
            "statusReason",
            "category",
            "intent",
            "reasonReference",
            "effectiveDateTime",
            "effectivePeriod",
            "dosageInstruction",
            "dosage",
        }
    )
    for rtype in _MEDICATION_STATUS
}


def _unread_elements(ctx: ReadContext, patients: list[Json], resources: list[Json], used: set[int]) -> None:
    """List each element of another tool's resources that no reader took and none listed yet.

    A resource listed whole is not gone through again; an element a reader listed with its reason
    is not listed twice; `contained` resources count as read when each one was (`used`). Primitive extensions (`_date`) are list_unknown_extensions' to list.
    """
    named: dict[str, set[str]] = {}
    for evidence in ctx.evidence.values():
        element = re.split(r"[ .\[]", str(evidence.get("element")), maxsplit=1)[0]
        named.setdefault(str(evidence.get("resource")), set()).add(element)
    for line in ctx.unplaced:
        where = line.split(": ", 1)[0]
        who, _, element = where.partition(" ")
        named.setdefault(who, set()).add(re.split(r"[.\[]", element, maxsplit=1)[0])
    for resource in [*patients, *resources]:
        rtype = str(resource.get("resourceType"))
        known = _READ_ELEMENTS.get(rtype)
        listed = named.get(label(resource), set())
        if known is None or "" in listed:
            continue  # a kind no reader takes is listed whole
        for element in resource:
            if element.startswith("_") or element in _STRUCTURE or element in known or element in listed:
                continue
            if element == "contained" and all(id(c) in used for c in resource[element] or []):
                continue  # each one read (a Medication its medicationReference names)
            ctx.not_placed(resource, element, "has no place in the case format")


def _void(resource: Json) -> tuple[str, str] | None:
    """(element, why) when a resource says it holds no fact: entered in error, refuted, cancelled.

    FHIR status codes with this meaning (R4 value sets): every resource's 'entered-in-error'; a
    Condition's verificationStatus 'refuted' and 'entered-in-error' (condition-ver-status); an
    Observation's 'cancelled' (observation-status). Reading such a resource would put a cancer,
    a result or a treatment in the case that the record itself withdraws.
    """
    status = resource.get("status")
    if status == "entered-in-error" or (
        resource.get("resourceType") == "Observation" and status == "cancelled"
    ):
        return "status", f"'{status}': the resource holds no fact, and is not read"
    if resource.get("resourceType") == "Condition":
        concept = resource.get("verificationStatus")
        codes = {c.get("code") for c in (concept or {}).get("coding") or [] if isinstance(c, dict)}
        for code in ("refuted", "entered-in-error"):
            if code in codes:
                return (
                    "verificationStatus",
                    f"'{code}': the condition is not one the patient has, and is not read",
                )
    return None


def _kind(ctx: ReadContext, resource: Json) -> str | None:
    """What a foreign resource is, by its profile, else by a code the maps know for its type."""
    rtype = resource.get("resourceType")
    code = resource.get("code")
    if rtype == "Condition":
        if _has_profile(resource, PROFILE_PRIMARY) or _in_domain(ctx, code, "primary_cancers"):
            return "primary"
        if _has_profile(resource, PROFILE_SECONDARY) or _in_domain(ctx, code, "secondary_cancers"):
            return "metastasis"
    elif rtype == "Observation":
        if _has_profile(resource, PROFILE_TNM_STAGE_GROUP) or _in_domain(
            ctx, code, "staging", ("stage-test",)
        ):
            letter = _stage_letter(ctx, resource)
            return "stage-group" if letter is None else "stage-category"
        if _has_profile(resource, PROFILE_TNM_T, PROFILE_TNM_N, PROFILE_TNM_M):
            return "stage-category"
        if _has_profile(resource, PROFILE_DISEASE_STATUS) or _is(
            ctx, code, "observations", DISEASE_STATUS_TERM
        ):
            return "disease-status"
        if _has_profile(resource, PROFILE_TUMOR_MARKER) or _in_domain(ctx, code, "observations", ("test",)):
            return "marker"
        if _has_profile(resource, PROFILE_ECOG) or _in_domain(ctx, code, "findings", ("ecog-test",)):
            return "ecog"
    elif rtype == "Procedure":
        if _has_profile(resource, PROFILE_SURGICAL, PROFILE_RADIOTHERAPY) or _in_domain(
            ctx, code, "procedures"
        ):
            return "procedure"
    elif rtype in _MEDICATION_STATUS:
        concept = resource.get("medicationCodeableConcept") or _medication_code(ctx, resource)
        if _has_profile(resource, PROFILE_MEDICATION_REQUEST, PROFILE_MEDICATION_ADMINISTRATION) or (
            _in_domain(ctx, concept, "medications") or _in_domain(ctx, concept, "regimens")
        ):
            return "medication"
    return None


def _is(ctx: ReadContext, concept: Json | None, domain: str, term_: str) -> bool:
    found = term(ctx, (domain,), concept)
    wanted = ctx.terminology.lookup(domain, term_)
    return found is not None and wanted is not None and found.concept is wanted


def _what(resource: Json) -> str:
    """How a listing names a resource's kind: its profile's name, else its type."""
    names = [p.rsplit("/", 1)[-1] for p in _profiles(resource)]
    return (
        f"{resource.get('resourceType')} ({', '.join(names)})" if names else str(resource.get("resourceType"))
    )


def _patient(ctx: ReadContext, patient: Json, out: Json) -> None:
    """What read_patient leaves of another tool's Patient: ethnicity, and the elements with no place."""
    for ext in extensions(patient, EXT_US_CORE_ETHNICITY):
        words = next(
            (p.get("valueString") for p in ext.get("extension") or [] if p.get("url") == "text"),
            None,
        )
        if not isinstance(words, str):
            continue
        if "ethnicity" in out:
            ctx.not_placed(
                patient,
                "extension[us-core-ethnicity]",
                f"'{words}': the case holds one ethnicity or race, '{out['ethnicity']}'",
            )
        else:
            out["ethnicity"] = ctx.found(
                "patient.ethnicity", patient, "extension[us-core-ethnicity].text", words
            )
    known = {
        EXT_US_CORE_RACE,
        EXT_US_CORE_ETHNICITY,
        "http://hl7.org/fhir/StructureDefinition/patient-nationality",
    }
    for ext in patient.get("extension") or []:
        url = ext.get("url") if isinstance(ext, dict) else None
        if url not in known:
            ctx.not_placed(patient, f"extension[{url}]", "has no place in the case format")
    for element in _PATIENT_ELEMENTS:
        if patient.get(element) not in (None, [], ""):
            ctx.not_placed(
                patient, element, "has no place in the case format (it holds no identifying details)"
            )
    if patient.get("identifier"):
        ctx.not_placed(patient, "identifier", f"only the case id is kept ({ctx.case_id})")


def _body_site(ctx: ReadContext, resource: Json, path: str, item: Json, field_name: str) -> None:
    """A site and its side from bodySite: the map's term (a sided site split into site and side)."""
    sites = [s for s in resource.get("bodySite") or [] if isinstance(s, dict)]
    if not sites:
        return
    site = sites[0]
    found = term(ctx, ("body_sites",), site)
    if found is not None:
        words = found.words
        concept = found.concept
        if concept is not None and concept.parent:
            for side in ("left", "right"):
                if fold(words) == fold(f"{side} {concept.parent}"):
                    words = concept.parent
                    item["laterality"] = ctx.found(f"{path}.laterality", resource, "bodySite.coding", side)
        item[field_name] = ctx.found(f"{path}.{field_name}", resource, f"bodySite.{found.element}", words)
    for ext in extensions(site, EXT_LATERALITY):
        side = term(ctx, ("laterality",), ext.get("valueCodeableConcept"))
        if side is not None and fold(side.words) in ("left", "right", "bilateral"):
            item["laterality"] = ctx.found(
                f"{path}.laterality", resource, "bodySite.extension[laterality]", fold(side.words)
            )
        elif side is not None:
            ctx.not_placed(resource, "bodySite.extension[laterality]", f"'{side.words}' is no side")
    for extra in sites[1:]:
        ctx.not_placed(resource, "bodySite", f"a second site, '{_words(extra)}': the case holds one")


def _words(concept: Json) -> str:
    return concept.get("text") or next(
        (_display(c) or str(c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict)), "?"
    )


def _condition_common(ctx: ReadContext, condition: Json, path: str, item: Json) -> None:
    """Histology, statuses and the date, as primaries and metastases share them."""
    for ext in extensions(condition, EXT_HISTOLOGY):
        found = term(ctx, ("histology",), ext.get("valueCodeableConcept"))
        if found is not None:
            item["histology"] = ctx.found(
                f"{path}.histology", condition, f"extension[histology].{found.element}", found.words
            )
    for element, name, allowed in (
        ("clinicalStatus", "clinical_status", _CLINICAL_STATUS),
        ("verificationStatus", "certainty", _CERTAINTY),
    ):
        codes = [
            c.get("code") for c in (condition.get(element) or {}).get("coding") or [] if isinstance(c, dict)
        ]
        if codes and codes[0] in allowed:
            item[name] = ctx.found(f"{path}.{name}", condition, element, codes[0])
        elif codes:
            ctx.not_placed(condition, element, f"'{codes[0]}' is not a value of the case's {name}")
    _onset(ctx, condition, path, item)
    _notes(ctx, condition, path, item)


def _notes(ctx: ReadContext, resource: Json, path: str, item: Json) -> None:
    """The resource's note texts as the item's note, after what the item's note holds already."""
    texts = [
        n["text"].strip()
        for n in resource.get("note") or []
        if isinstance(n, dict) and isinstance(n.get("text"), str) and n["text"].strip()
    ]
    if texts:
        item["note"] = ctx.found(
            f"{path}.note", resource, "note", "\n".join([*item.get("note", "").splitlines(), *texts])
        )


def _onset(ctx: ReadContext, condition: Json, path: str, item: Json) -> None:
    """The item's date or age from onset[x]; recordedDate (when it was written down) only without one.

    An onset the case cannot hold (words, a range, an age in months) is listed, not replaced by
    the recorded date, which is not when the disease began.
    """
    _when(ctx, condition, path, item, ("onsetDateTime",))
    period = condition.get("onsetPeriod")
    if "date" not in item and isinstance(period, dict):
        start = _date(period.get("start"))
        if start:
            item["date"] = ctx.found(f"{path}.date", condition, "onsetPeriod.start", start)
    age = condition.get("onsetAge")
    if "date" not in item and isinstance(age, dict):
        years = number(age.get("value"))
        if age.get("code") == "a" and years is not None:
            item["age"] = ctx.found(f"{path}.age", condition, "onsetAge", years)
    if "date" in item or "age" in item:
        return
    onsets = [element for element in condition if element.startswith("onset")]
    if onsets:
        ctx.not_placed(
            condition,
            onsets[0],
            "no onset date, nor an age in years, the case can hold (recordedDate not used)",
        )
    else:
        _when(ctx, condition, path, item, ("recordedDate",))


def _when(ctx: ReadContext, resource: Json, path: str, item: Json, elements: tuple[str, ...]) -> None:
    """The first of `elements` that holds a date, as the item's date."""
    for element in elements:
        day = _date(resource.get(element))
        if day:
            item["date"] = ctx.found(f"{path}.date", resource, element, day)
            return


def _primary(ctx: ReadContext, reading: _Reading, condition: Json) -> None:
    primaries = reading.data.setdefault("primary_cancers", [])
    path = f"primary_cancers[{len(primaries)}]"
    item: Json = {"id": reading.new_id("primary", primaries)}
    coded = term(ctx, ("primary_cancers",), condition.get("code"))
    _body_site(ctx, condition, path, item, "site")
    if "site" not in item:
        if coded is None:
            reading.cannot(
                ctx, condition, "code", "no site: neither bodySite nor a code the maps know gives one"
            )
            return
        item["site"] = ctx.found(f"{path}.site", condition, f"code.{coded.element}", coded.words)
    side = dict(coded.when).get("laterality") if coded is not None else None
    if side in ("left", "right", "bilateral") and "laterality" not in item:
        item["laterality"] = ctx.found(f"{path}.laterality", condition, "code (maps)", side)
    _condition_common(ctx, condition, path, item)
    primaries.append(item)
    reading.used.add(id(condition))
    reading.cancers[str(condition.get("id"))] = item["id"]
    reading.primaries[str(condition.get("id"))] = item
    for stage in condition.get("stage") or []:
        assessed = [a for a in (ctx.index.get(r) for r in (stage or {}).get("assessment") or []) if a]
        summary = term(ctx, ("staging",), (stage or {}).get("summary"))
        if summary is None:
            continue
        if not assessed:
            stagings = item.setdefault("staging", [])
            where = f"{path}.staging[{len(stagings)}].group"
            stagings.append({"group": ctx.found(where, condition, "stage.summary", summary.words)})
            continue
        groups = {t.words for a in assessed if (t := term(ctx, ("staging",), a.get("valueCodeableConcept")))}
        if summary.words not in groups:
            ctx.not_placed(
                condition,
                "stage.summary",
                f"'{summary.words}': the stage is read from the Observation stage.assessment names"
                f" ({', '.join(sorted(groups)) or 'no group'})",
            )


def _metastasis(ctx: ReadContext, reading: _Reading, condition: Json) -> None:
    metastases = reading.data.setdefault("metastases", [])
    path = f"metastases[{len(metastases)}]"
    item: Json = {"id": reading.new_id("metastasis", metastases)}
    _body_site(ctx, condition, path, item, "site")
    if "site" not in item:
        coded = term(ctx, ("secondary_cancers",), condition.get("code"))
        if coded is None:
            reading.cannot(
                ctx, condition, "code", "no site: neither bodySite nor a code the maps know gives one"
            )
            return
        item["site"] = ctx.found(f"{path}.site", condition, f"code.{coded.element}", coded.words)
    for url in (EXT_RELATED_CONDITION, EXT_CONDITION_RELATED):
        for ext in extensions(condition, url):
            target = ctx.index.get(ext.get("valueReference"))
            key = reading.cancers.get(str((target or {}).get("id")))
            if key is not None:
                item["primary"] = ctx.found(f"{path}.primary", condition, "extension[related-condition]", key)
            else:
                ctx.not_placed(condition, "extension[related-condition]", "names no primary cancer read here")
    _condition_common(ctx, condition, path, item)
    metastases.append(item)
    reading.used.add(id(condition))
    reading.cancers[str(condition.get("id"))] = item["id"]


def _focus(ctx: ReadContext, reading: _Reading, resource: Json) -> tuple[str | None, str]:
    """The case item a resource is about (its focus), and how that was found; None if it cannot be told."""
    for element in ("focus", "reasonReference"):
        for ref in resource.get(element) or []:
            target = ctx.index.get(ref)
            key = reading.cancers.get(str((target or {}).get("id")))
            if key is not None:
                return key, element
    if not resource.get("focus") and len(reading.data.get("primary_cancers") or []) == 1:
        only = reading.data["primary_cancers"][0]
        return only.get("id") or "primary-1", "subject (the patient's one primary cancer)"
    return None, "focus"


def _primary_item(reading: _Reading, key: str | None) -> Json | None:
    return next((p for p in reading.data.get("primary_cancers") or [] if p.get("id") == key), None)


def _stage_letter(ctx: ReadContext, obs: Json) -> str | None:
    """t, n or m for a TNM category Observation (by profile or by the map's kind); None for a group."""
    for profile, letter in ((PROFILE_TNM_T, "t"), (PROFILE_TNM_N, "n"), (PROFILE_TNM_M, "m")):
        if _has_profile(obs, profile):
            return letter
    found = term(ctx, ("staging",), obs.get("code"))
    words = fold(found.words) if found is not None and found.concept is not None else ""
    for letter in ("t", "n", "m"):
        if re.search(rf"\b[cpy]*{letter} (category|stage)", words):
            return letter
    return None


def _stage_group(ctx: ReadContext, reading: _Reading, group: Json) -> None:
    key, _ = _focus(ctx, reading, group)
    for primary_id, primary in reading.primaries.items():
        condition = ctx.index.get(f"Condition/{primary_id}") or {}
        for stage in condition.get("stage") or []:
            if any(ctx.index.get(a) is group for a in (stage or {}).get("assessment") or []):
                key = primary["id"]
    item_of = _primary_item(reading, key)
    if item_of is None:
        reading.cannot(ctx, group, "focus", "names no primary cancer read here; the stage cannot be placed")
        return
    stagings = item_of.setdefault("staging", [])
    path = f"primary_cancers[{reading.data['primary_cancers'].index(item_of)}].staging[{len(stagings)}]"
    item: Json = {}
    kind = term(ctx, ("staging",), group.get("code"))
    first = fold(kind.words).split(" ", 1)[0] if kind is not None else ""
    if first in ("clinical", "pathological", "pathologic"):
        item["type"] = ctx.found(
            f"{path}.type", group, "code", "clinical" if first == "clinical" else "pathological"
        )
    method = term(ctx, ("staging",), group.get("method"))
    if method is not None:
        item["system"] = ctx.found(f"{path}.system", group, f"method.{method.element}", method.words)
    value = term(ctx, ("staging",), group.get("valueCodeableConcept"))
    if value is not None:
        item["group"] = ctx.found(
            f"{path}.group", group, f"valueCodeableConcept.{value.element}", value.words
        )
    for ref in group.get("hasMember") or []:
        member = ctx.index.get(ref)
        letter = _stage_letter(ctx, member) if member is not None else None
        if member is None:
            ctx.not_placed(group, "hasMember", f"{ref.get('reference')} is not among the resources read")
            continue
        if letter is None:
            ctx.not_placed(group, "hasMember", f"{ref.get('reference')} is no T, N or M category")
            continue
        words = term(ctx, ("staging",), member.get("valueCodeableConcept"))
        if words is None or letter in item:
            ctx.not_placed(member, "valueCodeableConcept", "no category the staging can hold")
            continue
        item[letter] = ctx.found(
            f"{path}.{letter}", member, f"valueCodeableConcept.{words.element}", words.words
        )
        reading.used.add(id(member))
    if not any(item.get(k) for k in ("group", "t", "n", "m")):
        reading.cannot(ctx, group, "valueCodeableConcept", "no stage group or category to read")
        if not stagings:
            item_of.pop("staging")
        return
    _when(ctx, group, path, item, ("effectiveDateTime",))
    if group.get("status") == "preliminary":
        item["suspected"] = ctx.found(f"{path}.suspected", group, "status", True)
    stagings.append(item)
    reading.used.add(id(group))


def _marker(ctx: ReadContext, reading: _Reading, obs: Json) -> None:
    """A tumour marker test: ER, PR and HER2 into `receptors`, any other into `markers`."""
    key, _ = _focus(ctx, reading, obs)
    target, where = _cancer_item(reading, key)
    if target is None:
        reading.cannot(ctx, obs, "focus", "names no cancer read here; the marker cannot be placed")
        return
    name = term(ctx, ("observations",), obs.get("code"))
    if name is None:
        reading.cannot(ctx, obs, "code", "no marker name")
        return
    result = term(ctx, ("observations",), obs.get("valueCodeableConcept"))
    value_element = "valueCodeableConcept"
    if result is None and isinstance(obs.get("valueString"), str) and obs["valueString"].strip():
        result, value_element = Term(obs["valueString"].strip()), "valueString"  # text stays text
    quantity = obs.get("valueQuantity") if isinstance(obs.get("valueQuantity"), dict) else None
    receptor = next(
        (
            field_name
            for field_name, words in RECEPTOR_TERMS.items()
            if name.concept is not None and name.concept is ctx.terminology.lookup("observations", words)
        ),
        None,
    )
    if receptor is not None and result is not None and where.startswith("primary"):
        receptors = target.setdefault("receptors", {})
        if receptor in receptors:
            reading.cannot(ctx, obs, value_element, f"a second {receptor.upper()} result: the case holds one")
            return
        receptors[receptor] = ctx.found(
            f"{where}.receptors.{receptor}", obs, f"{value_element}.{result.element}", result.words
        )
    else:
        markers = target.setdefault("markers", [])
        path = f"{where}.markers[{len(markers)}]"
        item: Json = {"name": ctx.found(f"{path}.name", obs, f"code.{name.element}", name.words)}
        if result is not None:
            item["result"] = ctx.found(
                f"{path}.result", obs, f"{value_element}.{result.element}", result.words
            )
        elif (
            quantity is not None and quantity.get("code") == "%" and number(quantity.get("value")) is not None
        ):
            item["percent"] = ctx.found(f"{path}.percent", obs, "valueQuantity", number(quantity["value"]))
        elif quantity is not None and number(quantity.get("value")) is not None:
            unit = quantity.get("unit") or quantity.get("code") or ""
            shown = f"{number(quantity['value'])} {unit}".strip()
            item["result"] = ctx.found(f"{path}.result", obs, "valueQuantity", shown)
        elif isinstance(obs.get("valueInteger"), int) and not isinstance(obs["valueInteger"], bool):
            item["result"] = ctx.found(f"{path}.result", obs, "valueInteger", str(obs["valueInteger"]))
        else:
            reading.cannot(ctx, obs, "value[x]", "no result the case can hold")
            if not markers:
                target.pop("markers")
            return
        if isinstance(obs.get("method"), dict):
            item["method"] = ctx.found(f"{path}.method", obs, "method", _words(obs["method"]))
        _when(ctx, obs, path, item, ("effectiveDateTime",))
        _notes(ctx, obs, path, item)
        markers.append(item)
    reading.used.add(id(obs))


def _cancer_item(reading: _Reading, key: str | None) -> tuple[Json | None, str]:
    """The primary or metastasis item with this id, and its path in the case file."""
    for field_name in ("primary_cancers", "metastases"):
        for n, item in enumerate(reading.data.get(field_name) or []):
            if key is not None and item.get("id") == key:
                return item, f"{field_name}[{n}]"
    return None, ""


def _disease_status(ctx: ReadContext, reading: _Reading, obs: Json) -> None:
    statuses = reading.data.get("disease_status", [])
    path = f"disease_status[{len(statuses)}]"
    value = term(ctx, ("observations",), obs.get("valueCodeableConcept"))
    if value is None:
        reading.cannot(ctx, obs, "valueCodeableConcept", "no status to read")
        return
    item: Json = {"id": reading.new_id("disease-status", statuses)}
    item["status"] = ctx.found(f"{path}.status", obs, f"valueCodeableConcept.{value.element}", value.words)
    key, how = _focus(ctx, reading, obs)
    if key is not None:
        item["about"] = ctx.found(f"{path}.about", obs, how, key)
    evidence = []
    for ext in extensions(obs, EXT_EVIDENCE_TYPE):
        found = term(ctx, ("observations",), ext.get("valueCodeableConcept"))
        if found is not None:
            evidence.append(found.words)
    if evidence:
        item["evidence"] = ctx.found(f"{path}.evidence", obs, "extension[evidence-type]", evidence)
    _when(ctx, obs, path, item, ("effectiveDateTime",))
    _notes(ctx, obs, path, item)
    reading.data.setdefault("disease_status", statuses).append(item)
    reading.used.add(id(obs))


def _ecog(ctx: ReadContext, reading: _Reading, obs: Json) -> None:
    patient = reading.data["patient"]
    score = obs.get("valueInteger")
    element = "valueInteger"
    if not isinstance(score, int):
        found = term(ctx, ("findings",), obs.get("valueCodeableConcept"))
        digits = re.fullmatch(r"ECOG ([0-5])", found.words) if found and found.concept is not None else None
        score = int(digits.group(1)) if digits else None
        element = "valueCodeableConcept (maps)"
    if not isinstance(score, int) or not 0 <= score <= 5 or "ecog" in patient:
        reading.cannot(ctx, obs, "value[x]", "no ECOG score the case can hold (it holds one, 0 to 5)")
        return
    patient["ecog"] = ctx.found("patient.ecog", obs, element, score)
    reading.used.add(id(obs))


def _treats(ctx: ReadContext, reading: _Reading, resource: Json, path: str, item: Json) -> None:
    keys = []
    for ref in resource.get("reasonReference") or []:
        key = reading.cancers.get(str((ctx.index.get(ref) or {}).get("id")))
        if key is None:
            ctx.not_placed(resource, "reasonReference", f"{ref.get('reference')} is no cancer read here")
        elif key not in keys:
            keys.append(key)
    if keys:
        item["treats"] = ctx.found(f"{path}.treats", resource, "reasonReference", keys)
    for reason in resource.get("reasonCode") or []:
        ctx.not_placed(resource, "reasonCode", f"'{_words(reason)}': a reason is read only as a reference")


def _intent(ctx: ReadContext, resource: Json, path: str, item: Json) -> None:
    for ext in extensions(resource, EXT_PROCEDURE_INTENT):
        found = term(ctx, ("treatment",), ext.get("valueCodeableConcept"))
        if found is not None:
            item["intent"] = ctx.found(
                f"{path}.intent", resource, f"extension[procedure-intent].{found.element}", found.words
            )


def _procedure(ctx: ReadContext, reading: _Reading, procedure: Json) -> None:
    procedures = reading.data.get("procedures", [])
    path = f"procedures[{len(procedures)}]"
    name = term(ctx, ("procedures",), procedure.get("code"))
    if name is None:
        reading.cannot(ctx, procedure, "code", "no procedure name")
        return
    item: Json = {"id": reading.new_id("procedure", procedures)}
    item["name"] = ctx.found(f"{path}.name", procedure, f"code.{name.element}", name.words)
    side = dict(name.when).get("laterality")
    if side in ("left", "right", "bilateral"):
        item["laterality"] = ctx.found(f"{path}.laterality", procedure, "code (maps)", side)
    if procedure.get("status") in _PROCEDURE_STATUS:
        item["status"] = ctx.found(f"{path}.status", procedure, "status", procedure["status"])
    elif procedure.get("status"):
        ctx.not_placed(procedure, "status", f"'{procedure['status']}' is not a procedure status of the case")
    _body_site(ctx, procedure, path, item, "body_site")
    _intent(ctx, procedure, path, item)
    _treats(ctx, reading, procedure, path, item)
    _when(ctx, procedure, path, item, ("performedDateTime",))
    period = procedure.get("performedPeriod")
    if isinstance(period, dict):
        start = _date(period.get("start"))
        if start:
            item["date"] = ctx.found(f"{path}.date", procedure, "performedPeriod.start", start)
        if period.get("end"):
            ctx.not_placed(
                procedure, "performedPeriod.end", f"{period['end']}: a procedure has no end date in the case"
            )
    _radiotherapy(ctx, procedure, path, item)
    if isinstance(procedure.get("outcome"), dict):
        item["outcome"] = ctx.found(f"{path}.outcome", procedure, "outcome", _words(procedure["outcome"]))
    _notes(ctx, procedure, path, item)
    reading.data.setdefault("procedures", procedures).append(item)
    reading.used.add(id(procedure))


def _radiotherapy(ctx: ReadContext, procedure: Json, path: str, item: Json) -> None:
    """Modality, technique, dose and fractions of a RadiotherapyCourseSummary: the first of each."""
    for ext in extensions(procedure, EXT_RT_MODALITY_TECHNIQUE):
        for part in ext.get("extension") or []:
            name = {EXT_RT_MODALITY: "modality", EXT_RT_TECHNIQUE: "technique"}.get(part.get("url"))
            found = term(ctx, ("treatment", "procedures"), part.get("valueCodeableConcept"))
            if name is None or found is None:
                continue
            if name in item:
                ctx.not_placed(
                    procedure,
                    f"extension[radiotherapy-{name}]",
                    f"'{found.words}': the case holds one {name}",
                )
            else:
                item[name] = ctx.found(
                    f"{path}.{name}", procedure, f"extension[radiotherapy-{name}]", found.words
                )
    for n, ext in enumerate(extensions(procedure, EXT_RT_DOSE)):
        parts = {p.get("url"): p for p in ext.get("extension") or []}
        if n > 0:
            ctx.not_placed(
                procedure, "extension[dose-delivered-to-volume]", "a second volume's dose: the case holds one"
            )
            continue
        dose = (parts.get("totalDoseDelivered") or {}).get("valueQuantity") or {}
        if dose.get("code") == "cGy" and number(dose.get("value")):
            item["dose_gy"] = ctx.found(
                f"{path}.dose_gy",
                procedure,
                "extension[dose].totalDoseDelivered",
                number(dose["value"] / 100),
            )
        fractions = (parts.get("fractionsDelivered") or {}).get("valueUnsignedInt")
        if isinstance(fractions, int) and fractions >= 1:
            item["fractions"] = ctx.found(
                f"{path}.fractions", procedure, "extension[dose].fractionsDelivered", fractions
            )
        if "volume" in parts:
            ctx.not_placed(
                procedure, "extension[dose].volume", "the treated volume has no place beside body_site"
            )
    for ext in procedure.get("extension") or []:
        if ext.get("url") not in (EXT_RT_MODALITY_TECHNIQUE, EXT_RT_DOSE, EXT_PROCEDURE_INTENT):
            ctx.not_placed(procedure, f"extension[{ext.get('url')}]", "has no place in a procedure")


def _medication_code(ctx: ReadContext, resource: Json) -> Json | None:
    """A medicationReference's Medication code, when the Medication is among the resources."""
    medication = _referenced_medication(ctx, resource)
    return medication.get("code") if medication is not None else None


def _referenced_medication(ctx: ReadContext, resource: Json) -> Json | None:
    """The Medication a medicationReference names: among the resources, or contained in this one.

    '#med1' names a resource of this one's `contained` (FHIR R4 References: a local reference);
    order systems often send the drug that way.
    """
    reference = resource.get("medicationReference")
    local = reference.get("reference") if isinstance(reference, dict) else None
    if isinstance(local, str) and local.startswith("#"):
        return next(
            (
                c
                for c in resource.get("contained") or []
                if isinstance(c, dict) and c.get("resourceType") == "Medication" and c.get("id") == local[1:]
            ),
            None,
        )
    return ctx.index.get(reference)


def _medication(ctx: ReadContext, reading: _Reading, resource: Json) -> None:
    """A MedicationRequest, MedicationAdministration or MedicationStatement as one medication entry."""
    rtype = str(resource.get("resourceType"))
    medications = reading.data.get("medications", [])
    path = f"medications[{len(medications)}]"
    concept = resource.get("medicationCodeableConcept") or _medication_code(ctx, resource)
    name = term(ctx, ("medications", "regimens"), concept)
    if name is None:
        reading.cannot(ctx, resource, "medication[x]", "no drug name")
        return
    item: Json = {"id": reading.new_id("medication", medications)}
    item["name"] = ctx.found(f"{path}.name", resource, f"medication.{name.element}", name.words)
    medication = _referenced_medication(ctx, resource)
    if medication is not None:
        reading.used.add(id(medication))  # its code is the name
    status = _MEDICATION_STATUS[rtype].get(str(resource.get("status")))
    if status is not None:
        item["status"] = ctx.found(f"{path}.status", resource, "status", status)
    elif resource.get("status"):
        ctx.not_placed(resource, "status", f"'{resource['status']}' is not a medication status of the case")
    reasons = [r for r in resource.get("statusReason") or [] if isinstance(r, dict)]
    if isinstance(resource.get("statusReason"), dict):
        reasons = [resource["statusReason"]]
    for ext in extensions(resource, EXT_TERMINATION_REASON):
        reasons.append(ext.get("valueCodeableConcept") or {})
    if reasons:
        item["status_reason"] = ctx.found(
            f"{path}.status_reason", resource, "statusReason", _words(reasons[0])
        )
    _intent(ctx, resource, path, item)
    _treats(ctx, reading, resource, path, item)
    _medication_time(ctx, resource, path, item)
    _dosage(ctx, resource, path, item)
    _notes(ctx, resource, path, item)
    reading.data.setdefault("medications", medications).append(item)
    reading.used.add(id(resource))


def _medication_time(ctx: ReadContext, resource: Json, path: str, item: Json) -> None:
    """Start and end: the effective time given, or (for an order) the period its dosage is to run."""
    period = resource.get("effectivePeriod")
    element = "effectivePeriod"
    if resource.get("resourceType") == "MedicationRequest":
        dosage = next(iter(resource.get("dosageInstruction") or []), {}) or {}
        period = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
        element = "dosageInstruction.timing.repeat.boundsPeriod"
    _when(ctx, resource, path, item, ("effectiveDateTime",))
    if isinstance(resource.get("authoredOn"), str):
        ctx.not_placed(
            resource,
            "authoredOn",
            f"{resource['authoredOn']}: when it was ordered; the case holds when it ran",
        )
    if isinstance(period, dict):
        start, end = _date(period.get("start")), _date(period.get("end"))
        if start:
            item["date"] = ctx.found(f"{path}.date", resource, f"{element}.start", start)
        if end:
            item["end_date"] = ctx.found(f"{path}.end_date", resource, f"{element}.end", end)


def _dosage(ctx: ReadContext, resource: Json, path: str, item: Json) -> None:
    """Dose (a quantity, else the dosage's words) and route, from the first dosage given."""
    dosages = resource.get("dosageInstruction") or resource.get("dosage") or []
    if isinstance(dosages, dict):
        dosages = [dosages]  # MedicationAdministration.dosage is one
    if not dosages or not isinstance(dosages[0], dict):
        return
    dosage = dosages[0]
    element = "dosageInstruction" if "dosageInstruction" in resource else "dosage"
    quantity = dosage.get("dose")
    if not isinstance(quantity, dict):
        quantity = next(iter(dosage.get("doseAndRate") or []), {}).get("doseQuantity")
    if isinstance(quantity, dict) and number(quantity.get("value")) is not None:
        unit = quantity.get("unit") or quantity.get("code") or ""
        shown = f"{number(quantity['value'])} {unit}".strip()
        item["dose"] = ctx.found(f"{path}.dose", resource, f"{element}.dose", shown)
    if isinstance(dosage.get("text"), str) and dosage["text"].strip():
        words = f"Dosage: {dosage['text'].strip()}"
        item["note"] = ctx.found(f"{path}.note", resource, f"{element}.text", words)
    route = term(ctx, ("treatment",), dosage.get("route"))
    if route is not None:
        item["route"] = ctx.found(f"{path}.route", resource, f"{element}.route.{route.element}", route.words)
    for extra in dosages[1:]:
        ctx.not_placed(resource, element, f"a second dosage, '{extra.get('text', '?')}': the case holds one")
