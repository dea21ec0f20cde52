"""What every mapper shares: the mapping context, profile URLs, and CodeableConcept/date/age helpers."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..case import Case
from ..errors import MappingError
from ..frozen import FrozenDict, freeze
from ..ids import DEFAULT_ID_SYSTEM, resource_uuid, urn
from ..terminology import Concept, Terminology

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILE_CANCER_PATIENT = MCODE + "mcode-cancer-patient"
PROFILE_PRIMARY = MCODE + "mcode-primary-cancer-condition"
PROFILE_SECONDARY = MCODE + "mcode-secondary-cancer-condition"
PROFILE_SURGICAL = MCODE + "mcode-cancer-related-surgical-procedure"
PROFILE_TUMOR_MARKER = MCODE + "mcode-tumor-marker-test"
PROFILE_DISEASE_STATUS = MCODE + "mcode-cancer-disease-status"
PROFILE_TNM_STAGE_GROUP = MCODE + "mcode-tnm-stage-group"
PROFILE_TNM_T = MCODE + "mcode-tnm-primary-tumor-category"
PROFILE_TNM_N = MCODE + "mcode-tnm-regional-nodes-category"
PROFILE_TNM_M = MCODE + "mcode-tnm-distant-metastases-category"
PROFILE_RADIOTHERAPY = MCODE + "mcode-radiotherapy-course-summary"
PROFILE_ECOG = MCODE + "mcode-ecog-performance-status"
PROFILE_HISTOLOGIC_GRADE = MCODE + "mcode-histologic-grade"
PROFILE_TUMOR_SIZE = MCODE + "mcode-tumor-size"
PROFILE_TUMOR = MCODE + "mcode-tumor"
PROFILE_COMORBIDITIES = MCODE + "mcode-comorbidities"

EXT_HISTOLOGY = MCODE + "mcode-histology-morphology-behavior"
EXT_LATERALITY = MCODE + "mcode-laterality-qualifier"
EXT_RELATED_CONDITION = MCODE + "mcode-related-condition"
EXT_EVIDENCE_TYPE = MCODE + "mcode-cancer-disease-status-evidence-type"
EXT_PROCEDURE_INTENT = MCODE + "mcode-procedure-intent"
EXT_TERMINATION_REASON = MCODE + "mcode-treatment-termination-reason"
EXT_CONDITION_RELATED = "http://hl7.org/fhir/StructureDefinition/condition-related"
EXT_DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
EXT_NATIONALITY = "http://hl7.org/fhir/StructureDefinition/patient-nationality"
EXT_US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"

Json = dict[str, Any]

# Term lookups of each loaded Terminology, kept while it lives. A lookup is a pure function of
# the maps, which are not changed once loaded, and a batch asks the same few hundred terms
# again and again. Per process, like the Terminology itself.
_LOOKUPS: dict[int, dict[tuple[str, str], Concept | None]] = {}
MAX_LOOKUPS = 4096  # terms remembered per terminology; the common ones come early
# The CodeableConcepts of each loaded Terminology's coded terms, built once and shared, frozen
# (frozen.py), by every resource that codes the term: by (entry, codings asked for, text), and
# the bodySite concepts, by (site, side, detail).
_CONCEPTS: dict[int, dict[tuple, tuple[object, Json]]] = {}


def _memo_of(store: dict[int, dict], terminology: Terminology) -> dict:
    """The memo `store` keeps for one loaded Terminology, dropped with the Terminology."""
    key = id(terminology)
    memo = store.get(key)
    if memo is None:
        memo = store[key] = {}
        weakref.finalize(terminology, store.pop, key, None)
    return memo


@dataclass(frozen=True)
class Uncoded:
    """A term the output carries as text only: which map, which term, where in the case file, why."""

    map_file: str
    term: str
    field: str
    reason: str  # "not in the map" | "no verified code"

    def message(self) -> str:
        if self.reason == "not in the map":
            return (
                f"{self.field}: '{self.term}' is not in {self.map_file}; it is kept as text only."
                " Add it there with a verified code to code it"
            )
        return (
            f"{self.field}: '{self.term}' is in {self.map_file} but has no verified code;"
            " it is kept as text only"
        )


@dataclass
class MappingContext:
    """Everything a mapper needs beyond the case: terminology, settings, and what it noticed."""

    case: Case
    terminology: Terminology
    strict: bool = False
    id_system: str = DEFAULT_ID_SYSTEM
    warnings: list[str] = field(default_factory=list)
    uncoded: list[Uncoded] = field(default_factory=list)
    # Per-case values several mappers ask for (ids of roles, the primary sides), worked out once.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    _lookups: dict[tuple[str, str], Concept | None] = field(init=False, repr=False, compare=False)
    _concepts: dict[tuple, tuple[object, Json]] = field(init=False, repr=False, compare=False)
    # Asked for dozens of times a case: worked out once.
    case_id: str = field(init=False, repr=False, compare=False)
    system: str = field(
        init=False, repr=False, compare=False
    )  # of the case id: the case file's, else the run's
    _uids: dict[str, str] = field(init=False, repr=False, compare=False)
    _files: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lookups = _memo_of(_LOOKUPS, self.terminology)
        self._concepts = _memo_of(_CONCEPTS, self.terminology)
        self.case_id = self.case.case.id
        self.system = self.case.case.id_system or self.id_system
        self._uids = {}
        self._files = {}

    def uid(self, role: str) -> str:
        uid = self._uids.get(role)
        if uid is None:
            uid = self._uids[role] = resource_uuid(self.case_id, role, self.system)
        return uid

    def roles(self) -> dict[str, str]:
        """Resource id -> the role it was made for, for every id the case's mappers asked for."""
        return {uid: role for role, uid in self._uids.items()}

    def warn(self, message: str) -> None:
        """A fact the output cannot carry as stated: a warning, or an error under --strict."""
        if self.strict:
            raise MappingError(f"case '{self.case_id}': {message} (--strict)")
        self.warnings.append(message)

    def text_only(self, domain: str, term: str, field_path: str, reason: str) -> None:
        """Record a term kept as text (a warning, or an error under --strict)."""
        map_file = self._files.get(domain)
        if map_file is None:
            map_file = self._files[domain] = self.terminology.file_of(domain)
        item = Uncoded(map_file, term, field_path, reason)
        if self.strict:
            raise MappingError(f"case '{self.case_id}': {item.message()} (--strict)")
        self.uncoded.append(item)

    def lookup(self, domain: str, term: str) -> Concept | None:
        """Terminology.lookup, remembered for the life of the terminology."""
        key = (domain, term)
        try:
            return self._lookups[key]
        except KeyError:
            pass
        found = self.terminology.lookup(domain, term)
        if len(self._lookups) < MAX_LOOKUPS:
            self._lookups[key] = found
        return found

    def require(self, domain: str, term: str) -> Concept:
        """Terminology.require, through the same memo."""
        found = self.lookup(domain, term)
        if found is None or not found.codings:
            return self.terminology.require(domain, term)  # raises, naming the map
        return found

    def coded(self, found: Concept, text: str | None) -> Json:
        """The CodeableConcept of an entry's own codings, with `text` if given.

        Made once per terminology and shared, frozen (frozen.py): copy it to change it.
        """
        key = ("own", id(found), text)
        shared = self._concepts.get(key)
        if shared is not None and shared[0] is found:
            return shared[1]
        return self._share(key, found, found.codings, text)

    def _share(self, key: tuple, found: Concept, codings: Any, text: str | None) -> Json:
        cc: Json = {"coding": [c.as_fhir() for c in codings]}
        if text is not None:
            cc["text"] = text
        cc = freeze(cc)
        if len(self._concepts) < MAX_LOOKUPS:
            # Kept with its entry: the key holds the entry's id, which is its own while it lives.
            self._concepts[key] = (found, cc)
        return cc

    def with_text(self, cc: Json, text: str) -> Json:
        """A CodeableConcept as `cc` with another text: shared, frozen, when `cc` is shared."""
        if type(cc) is not FrozenDict:
            return {**cc, "text": text}
        key = ("text", id(cc), text)
        shared = self._concepts.get(key)
        if shared is not None and shared[0] is cc:
            return shared[1]
        out = freeze({**cc, "text": text})
        if len(self._concepts) < MAX_LOOKUPS:
            self._concepts[key] = (cc, out)  # kept with cc, whose id is in the key
        return out

    def ref(self, role: str) -> Json:
        """A Reference to the resource playing `role`, by its urn:uuid fullUrl."""
        return {"reference": urn(self.uid(role))}

    def fixed(self, term: str) -> Json:
        """The CodeableConcept of a code FHIR, US Core or mCODE fixes (from mappings/fhir.yaml)."""
        return self.coded(self.require("fhir", term), None)

    def fixed_concept(self, domain: str, term: str) -> Json:
        """The CodeableConcept of an entry fhir-adapter relies on (a missing code is a broken map)."""
        concept = self.require(domain, term)
        return self.coded(concept, concept.text or term)

    def fixed_coding(self, term: str) -> Json:
        return self.require("fhir", term).codings[0].as_fhir()

    def concept(
        self,
        domain: str,
        term: str,
        field_path: str,
        *,
        qualifiers: dict[str, str | None] | None = None,
        kind: str | None = None,
    ) -> Json:
        """A CodeableConcept for a free-text term: coded from mappings/, or text only with a warning."""
        found = self.lookup(domain, term)
        if found is not None and kind is not None and found.kind not in _kinds(kind):
            found = None
        return self.concept_of(found, domain, term, field_path, qualifiers=qualifiers)

    def concept_of(
        self,
        found: Concept | None,
        domain: str,
        term: str,
        field_path: str,
        *,
        qualifiers: dict[str, str | None] | None = None,
    ) -> Json:
        """The CodeableConcept of a looked-up entry; text only, recorded as such, when it has no code."""
        if found is None:
            self.text_only(domain, term, field_path, "not in the map")
            return {"text": term}
        # The codings are the entry's and those of each variant the qualifiers select (as
        # Concept.codings_for has it): the variants selected, not every qualifier, name the concept.
        context = qualifiers or {}
        chosen = tuple(
            i for i, variant in enumerate(found.variants) if all(context.get(k) == v for k, v in variant.when)
        )
        key = ("for", id(found), term, chosen)
        shared = self._concepts.get(key)
        if shared is not None and shared[0] is found:
            return shared[1]
        codings = found.codings_for(qualifiers or {})
        if not codings:
            self.text_only(domain, term, field_path, "no verified code")
            return {"text": term}
        return self._share(key, found, codings, term)

    def site_concept(self, domain: str, site: str, kind: str | None = None) -> Concept | None:
        """The entry of `domain` for a site, or for its nearest coarser site in body_sites.yaml.

        A precise site (frontal scalp) codes its condition from the first ancestor the domain knows
        (scalp, then skin); the precise words still go into bodySite.
        """
        key = ("site", domain, site, kind)
        if key in self.memo:
            return self.memo[key]
        found = self.lookup(domain, site)
        if found is None or (kind is not None and found.kind not in _kinds(kind)):
            found = None
            for ancestor in self.terminology.ancestors("body_sites", site)[1:] or []:
                for term in ancestor.terms:
                    candidate = self.lookup(domain, term)
                    if candidate is not None and (kind is None or candidate.kind in _kinds(kind)):
                        found = candidate
                        break
                if found is not None:
                    break
        self.memo[key] = found
        return found

    def coded_or_none(self, domain: str, term: str, kind: str | None = None) -> Json | None:
        """A CodeableConcept when the term has a verified code, else None (for required bindings)."""
        found = self.lookup(domain, term)
        if found is None or not found.codings or (kind is not None and found.kind not in _kinds(kind)):
            return None
        return self.coded(found, term)

    def absent(self, reason: str = "unknown") -> Json:
        """The data-absent-reason extension, for an element a profile wants that the source does not give."""
        return {"url": EXT_DATA_ABSENT, "valueCode": self.fixed_coding(f"absent {reason}")["code"]}

    def quantity(self, value: float, unit_term: str, *, unit: str | None = None) -> Json:
        """A Quantity in a UCUM unit of fhir.yaml; `unit` overrides the unit's display as the label."""
        coding = self.fixed_coding(unit_term)
        number: int | float = int(value) if float(value).is_integer() else value
        return {
            "value": number,
            "unit": unit or coding["display"],
            "system": coding["system"],
            "code": coding["code"],
        }

    def age(self, years: float) -> Json:
        """An Age in years (UCUM 'a')."""
        return self.quantity(years, "unit year")


def _kinds(kind: str) -> tuple[str, ...]:
    """A kind argument may name several kinds, separated by '|'."""
    return tuple(kind.split("|"))


def profile(url: str) -> Json:
    return {"profile": [url]}


def laterality_extension(ctx: MappingContext, side: str | None, field_path: str) -> list[Json]:
    """The mCODE laterality-qualifier extension (required binding, so only a coded side is emitted)."""
    if side is None:
        return []
    coded = ctx.coded_or_none("laterality", side)
    if coded is None:
        ctx.warnings.append(
            f"{field_path}: laterality '{side}' has no verified code in"
            f" {ctx.terminology.file_of('laterality')}; it is left out of the output"
        )
        return []
    return [{"url": EXT_LATERALITY, "valueCodeableConcept": coded}]


def body_site(
    ctx: MappingContext,
    site: str,
    side: str | None,
    field_path: str,
    detail: str | None = None,
    value_set: str | None = None,
) -> Json:
    """A bodySite CodeableConcept with its laterality qualifier.

    A precise site with no code of its own (frontal scalp) carries the code of its nearest coded
    parent (scalp) beside its own words in `text`: the words say exactly where, the code lets a
    query by code find it. A `detail` (site_detail) the map does not know at all carries the code
    of `site` the same way, with a warning; a site the map does not know stays text, with a
    warning. `field_path` is the path of `site`; the detail's is its sibling `site_detail`.

    The concept depends on the site, side and detail alone (the path only words the warnings):
    one made without a warning is made once per terminology and shared, frozen (frozen.py).
    """
    key = ("body site", site, side, detail, value_set)
    shared = ctx._concepts.get(key)
    if shared is not None:
        return shared[1]
    noted = len(ctx.warnings), len(ctx.uncoded)
    fit = site_in_value_set(ctx, site, value_set) if value_set and not detail else None
    if fit is not None:
        # The element's value set has a coarser site that holds this one (right breast -> breast):
        # an extensible binding wants that code, with the side as its qualifier and the words as text.
        cc = ctx.coded(fit, site)
        ext = laterality_extension(
            ctx, side or _side_in_words(ctx, site), field_path.rsplit(".", 1)[0] + ".laterality"
        )
        cc = {"extension": ext, **cc} if ext else cc
    else:
        cc = _body_site(ctx, site, side, field_path, detail)
    if (len(ctx.warnings), len(ctx.uncoded)) == noted and len(ctx._concepts) < MAX_LOOKUPS:
        cc = freeze(cc)
        ctx._concepts[key] = (None, cc)
    return cc


def site_in_value_set(ctx: MappingContext, site: str, value_set: str) -> Concept | None:
    """The nearest coarser entry of a body site whose codes body_sites.yaml lists in `value_set`,
    when the site's own entry does not (right breast -> breast); else None."""
    chain = ctx.terminology.ancestors("body_sites", site)
    if not chain or value_set in chain[0].value_sets:
        return None
    return next((c for c in chain[1:] if value_set in c.value_sets), None)


def side_given_by_words(ctx: MappingContext, site: str, value_set: str) -> str | None:
    """The side a bodySite bound to `value_set` states for a site the value set holds only by a coarser
    site ('left breast' as breast): the one side the site's own words name, as its laterality qualifier."""
    if site_in_value_set(ctx, site, value_set) is None:
        return None
    return _side_in_words(ctx, site)


def _side_in_words(ctx: MappingContext, words: str) -> str | None:
    """The one side a site's own words name ('right breast' -> 'right'), by the laterality map."""
    sides = {
        w for w in re.findall(r"[a-z]+", words.lower()) if ctx.coded_or_none("laterality", w) is not None
    }
    return sides.pop() if len(sides) == 1 else None


def _body_site(ctx: MappingContext, site: str, side: str | None, field_path: str, detail: str | None) -> Json:
    words = detail or site
    chain = ctx.terminology.ancestors("body_sites", words)
    if detail and not chain:
        chain = ctx.terminology.ancestors("body_sites", site)
        coded = next((c for c in chain if c.codings), None)
        detail_path = field_path.rsplit(".", 1)[0] + ".site_detail"
        if coded is not None:
            ctx.warnings.append(
                f"{detail_path}: '{detail}' is not in {ctx.terminology.file_of('body_sites')};"
                f" bodySite carries the code of '{site}' with these words as text. Add it there"
                " (with parent: the site it lies in) to code it precisely"
            )
            cc = ctx.coded(coded, detail)
        else:
            cc = ctx.concept("body_sites", detail, detail_path)
    elif chain and not chain[0].codings and (coded := next((c for c in chain if c.codings), None)):
        cc = ctx.coded(coded, words)
    else:
        cc = ctx.concept("body_sites", words, field_path)
    ext = laterality_extension(ctx, side, field_path.rsplit(".", 1)[0] + ".laterality")
    if ext:
        cc = {"extension": ext, **cc}
    return cc


def number_text(value: float) -> str:
    """A number in words without loss: 30, 1.8 (never 30.0, nor 45.1235 for 45.123456)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def notes(*texts: str | None) -> list[Json]:
    return [{"text": t} for t in texts if t]
