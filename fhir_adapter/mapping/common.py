"""What every mapper shares: the mapping context, profile URLs, and CodeableConcept/date/age helpers."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from ..case import Case
from ..errors import MappingError
from ..ids import resource_uuid, urn
from ..terminology import Concept, Terminology

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILE_CANCER_PATIENT = MCODE + "mcode-cancer-patient"
PROFILE_PRIMARY = MCODE + "mcode-primary-cancer-condition"
PROFILE_SECONDARY = MCODE + "mcode-secondary-cancer-condition"
PROFILE_SURGICAL = MCODE + "mcode-cancer-related-surgical-procedure"
PROFILE_TUMOR_MARKER = MCODE + "mcode-tumor-marker-test"
PROFILE_DISEASE_STATUS = MCODE + "mcode-cancer-disease-status"

EXT_HISTOLOGY = MCODE + "mcode-histology-morphology-behavior"
EXT_LATERALITY = MCODE + "mcode-laterality-qualifier"
EXT_RELATED_CONDITION = MCODE + "mcode-related-condition"
EXT_EVIDENCE_TYPE = MCODE + "mcode-cancer-disease-status-evidence-type"
EXT_CONDITION_RELATED = "http://hl7.org/fhir/StructureDefinition/condition-related"
EXT_DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
EXT_NATIONALITY = "http://hl7.org/fhir/StructureDefinition/patient-nationality"
EXT_US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"

DEFAULT_ID_SYSTEM = "urn:fhir-adapter:case-id"

Json = dict[str, Any]

# Term lookups of each loaded Terminology, kept while it lives. A lookup is a pure function of
# the maps, which are not changed once loaded, and a batch asks the same few hundred terms
# again and again. Per process, like the Terminology itself.
_LOOKUPS: dict[int, dict[tuple[str, str], Concept | None]] = {}
MAX_LOOKUPS = 4096  # terms remembered per terminology; the common ones come early


def _lookups_of(terminology: Terminology) -> dict[tuple[str, str], Concept | None]:
    memo = _LOOKUPS.get(id(terminology))
    if memo is None:
        key = id(terminology)
        memo = _LOOKUPS[key] = {}
        weakref.finalize(terminology, _LOOKUPS.pop, key, None)
    return memo


@dataclass
class MappingContext:
    """Everything a mapper needs beyond the case: terminology, settings, and what it noticed."""

    case: Case
    terminology: Terminology
    strict: bool = False
    id_system: str = DEFAULT_ID_SYSTEM
    warnings: list[str] = field(default_factory=list)
    # Per-case values several mappers ask for (ids of roles, the primary sides), worked out once.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    _lookups: dict[tuple[str, str], Concept | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lookups = _lookups_of(self.terminology)

    @property
    def case_id(self) -> str:
        return self.case.case.id

    def uid(self, role: str) -> str:
        key = ("uid", role)
        uid = self.memo.get(key)
        if uid is None:
            uid = self.memo[key] = resource_uuid(self.case_id, role)
        return uid

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

    def ref(self, role: str) -> Json:
        """A Reference to the resource playing `role`, by its urn:uuid fullUrl."""
        return {"reference": urn(self.uid(role))}

    def fixed(self, term: str) -> Json:
        """The CodeableConcept of a code FHIR, US Core or mCODE fixes (from mappings/fhir.yaml)."""
        concept = self.require("fhir", term)
        return {"coding": [c.as_fhir() for c in concept.codings]}

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
        if found is not None and kind is not None and found.kind != kind:
            found = None
        if found is None:
            message = (
                f"{field_path}: '{term}' is not in {self.terminology.file_of(domain)};"
                " it is kept as text only. Add it there with a verified code to code it"
            )
            if self.strict:
                raise MappingError(f"case '{self.case_id}': {message} (--strict)")
            self.warnings.append(message)
            return {"text": term}
        codings = found.codings_for(qualifiers or {})
        cc: Json = {}
        if codings:
            cc["coding"] = [c.as_fhir() for c in codings]
        cc["text"] = term
        return cc

    def coded_or_none(self, domain: str, term: str, kind: str | None = None) -> Json | None:
        """A CodeableConcept when the term has a verified code, else None (for required bindings)."""
        found = self.lookup(domain, term)
        if found is None or not found.codings or (kind is not None and found.kind != kind):
            return None
        return {"coding": [c.as_fhir() for c in found.codings], "text": term}

    def age(self, years: float) -> Json:
        """An Age in years (UCUM 'a')."""
        unit = self.fixed_coding("unit year")
        value: int | float = int(years) if float(years).is_integer() else years
        return {"value": value, "unit": unit["display"], "system": unit["system"], "code": unit["code"]}


def profile(url: str) -> Json:
    return {"profile": [url]}


def put_age_or_date(
    resource: Json, ctx: MappingContext, stem: str, date: str | None, age: float | None
) -> None:
    """Set `<stem>DateTime` from a (partial) date, else `<stem>Age` where FHIR allows an Age there."""
    if date is not None:
        resource[f"{stem}DateTime"] = date
    elif age is not None:
        resource[f"{stem}Age"] = ctx.age(age)


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


def body_site(ctx: MappingContext, site: str, side: str | None, field_path: str) -> Json:
    """A bodySite CodeableConcept with its laterality qualifier."""
    cc = ctx.concept("body_sites", site, field_path)
    ext = laterality_extension(ctx, side, field_path.rsplit(".", 1)[0] + ".laterality")
    if ext:
        cc = {"extension": ext, **cc}
    return cc


def notes(*texts: str | None) -> list[Json]:
    return [{"text": t} for t in texts if t]
