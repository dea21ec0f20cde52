"""The case file model: an oncology case as a case report gives it, validated once at the edge."""

from __future__ import annotations

import calendar
import re
import types
import typing
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

# FHIR R4 `date` (https://hl7.org/fhir/R4/datatypes.html#date): YYYY, YYYY-MM or YYYY-MM-DD.
DATE_RE = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
)
LOCAL_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_AGE = 130


def _coerce_date(value: object) -> object:
    # YAML reads an unquoted `2019` as an int; a year is what the author meant.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _number_as_text(value: object) -> object:
    # YAML and JSON read `id: 12345` as a number; an id is text that happens to be digits.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _check_date(value: str) -> str:
    if not DATE_RE.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2019, 2019-03, 2019-03-14)"
        )
    if len(value) == 10:
        year, month, day = (int(p) for p in value.split("-"))
        if day > calendar.monthrange(year, month)[1]:
            raise ValueError(f"'{value}' is not a day of the calendar")
    return value


PartialDate = Annotated[
    str,
    BeforeValidator(_coerce_date),
    AfterValidator(_check_date),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": "^" + DATE_RE.pattern + "$"},
                {"type": "integer", "minimum": 1000, "maximum": 9999},
            ],
            "description": "A date as precise as the source gives it: YYYY, YYYY-MM or YYYY-MM-DD.",
        }
    ),
]
Age = Annotated[
    float,
    Field(ge=0, le=MAX_AGE, description="Age in years, as the source gives it."),
]
LocalId = Annotated[
    str,
    Field(pattern=LOCAL_ID_RE, description="A short name used to refer to this item within the case."),
]
Text = Annotated[str, Field(min_length=1)]
Laterality = Literal["left", "right", "bilateral"]


def _one_or_many(value: object) -> object:
    if isinstance(value, str):
        return [value]
    return value


TermList = Annotated[list[Text], BeforeValidator(_one_or_many)]
RefList = Annotated[list[LocalId], BeforeValidator(_one_or_many)]


def _literal_values(annotation: object) -> frozenset[str] | None:
    """The values of a Literal field (through Optional and Annotated), or None for other fields."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return frozenset(v for v in typing.get_args(annotation) if isinstance(v, str))
    if origin in (typing.Annotated, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _literal_values(arg)
            if found:
                return found
    return None


_ENUMS: dict[type, dict[str, frozenset[str]]] = {}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _enumerations_in_any_case(cls, data: object) -> object:
        # Terms are matched in any case, so enumerations are too: `sex: Female`, `laterality: Right`.
        # A value that is no member in any case is left as written, for the error message.
        if not isinstance(data, dict):
            return data
        enums = _ENUMS.get(cls)
        if enums is None:
            enums = {
                name: values
                for name, info in cls.model_fields.items()
                if (values := _literal_values(info.annotation))
            }
            _ENUMS[cls] = enums
        out = data
        for name, values in enums.items():
            value = data.get(name)
            if isinstance(value, str) and value not in values and value.strip().lower() in values:
                if out is data:
                    out = dict(data)
                out[name] = value.strip().lower()
        return out


class Source(_Model):
    """Where the case was published."""

    citation: Text | None = Field(None, description="Authors, title, journal and year.")
    doi: Annotated[str, Field(pattern=r"^10\.\d{4,9}/\S+$")] | None = Field(
        None, description="The DOI, without the https://doi.org/ prefix."
    )
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = Field(
        None, description="A web page of the publication."
    )
    pmid: Annotated[str, Field(pattern=r"^\d{1,9}$")] | None = Field(None, description="The PubMed id.")


class CaseInfo(_Model):
    """The case's identity and provenance."""

    id: Annotated[
        str,
        BeforeValidator(_number_as_text),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": LOCAL_ID_RE}, {"type": "integer", "minimum": 0}]}
        ),
    ] = Field(
        pattern=LOCAL_ID_RE,
        description="A stable id for the case, unique in your collection; it names every resource made"
        " from it. A number (12345) is read as text.",
    )
    id_system: Annotated[str, Field(pattern=r"^(urn:|https?://)\S+$")] | None = Field(
        None,
        description="The identifier system (a URI) your registry uses for case ids.",
    )
    source: Source | None = Field(None, description="Where the case was published.")
    summary: Text | None = Field(None, description="A short summary of the case, in free text.")


class VitalStatus(_Model):
    """Whether the patient died, and when if known."""

    deceased: bool = Field(description="true if the report says the patient died, else false.")
    date: PartialDate | None = None
    age: Age | None = None


class PatientInfo(_Model):
    """The patient as the report describes them; there is never a name or a birth date."""

    sex: Literal["female", "male", "other", "unknown"] = Field(
        description="Administrative sex as the report gives it (FHIR gender). Any case is accepted."
    )
    age_at_diagnosis: Age | None = Field(
        None, description="Age at first diagnosis of cancer, used when a primary gives no date or age."
    )
    ethnicity: Text | None = Field(None, description="Ethnicity or race, in the report's words.")
    nationality: Text | None = Field(None, description="Nationality, in the report's words.")
    vital_status: VitalStatus | None = Field(None, description="Whether the patient died, and when.")


class Receptors(_Model):
    """Hormone receptor and HER2 status as reported (positive, negative, equivocal, low, ...)."""

    er: Text | None = Field(None, description="Estrogen receptor status, e.g. positive, negative.")
    pr: Text | None = Field(None, description="Progesterone receptor status, e.g. positive, negative.")
    her2: Text | None = Field(None, description="HER2 status, e.g. positive, negative, equivocal, low.")


class PrimaryCancer(_Model):
    """A primary tumour."""

    id: LocalId | None = None
    site: Text = Field(
        description="Anatomic site, e.g. breast, or a quadrant such as upper outer quadrant of breast."
    )
    site_detail: Text | None = Field(
        None, description="A more precise location for bodySite, e.g. upper outer quadrant of breast."
    )
    laterality: Laterality | None = Field(
        None,
        description="Side of a paired organ; bilateral gives one Condition per side."
        + " Any case is accepted.",
    )
    histology: Text | None = Field(None, description="e.g. invasive ductal carcinoma")
    receptors: Receptors | None = Field(None, description="ER, PR and HER2 status, as reported.")
    stage: Text | None = Field(None, description="Stage as stated, e.g. IIA or pT2N1M0.")
    date: PartialDate | None = Field(None, description="Date of diagnosis.")
    age: Age | None = Field(None, description="Age at diagnosis.")
    clinical_status: Literal["active", "recurrence", "relapse", "remission", "resolved", "inactive"] = Field(
        "active", description="The condition's clinical status as the report gives it. Any case is accepted."
    )
    note: Text | None = Field(None, description="Free text, kept in the resource's note.")


class Metastasis(_Model):
    """A metastatic site."""

    id: LocalId | None = None
    site: Text = Field(description="As precise as the report gives it: scalp, bone, vertebra, liver, ...")
    laterality: Laterality | None = Field(
        None, description="Side of the metastatic site, if it is paired. Any case is accepted."
    )
    primary: LocalId | None = Field(
        None, description="Id of the primary cancer it came from; may be left out when there is one."
    )
    primary_side: Literal["left", "right"] | None = Field(
        None, description="For a bilateral primary, the side this metastasis came from, if the report says."
    )
    date: PartialDate | None = Field(None, description="When it was found.")
    age: Age | None = Field(None, description="Age when it was found.")
    confirmed_by: TermList = Field(default_factory=list, description="e.g. biopsy, imaging")
    misdiagnosis: Text | None = Field(None, description="What it was first taken for, if the report says.")
    clinical_status: Literal["active", "recurrence", "relapse", "remission", "resolved", "inactive"] = Field(
        "active", description="The condition's clinical status as the report gives it. Any case is accepted."
    )
    note: Text | None = Field(None, description="Free text, kept in the resource's note.")


class Procedure(_Model):
    """A procedure: surgery, biopsy, radiotherapy, ..."""

    id: LocalId | None = None
    name: Text = Field(description="e.g. modified radical mastectomy, excision of scalp lesion, radiotherapy")
    date: PartialDate | None = None
    age: Age | None = None
    body_site: Text | None = Field(None, description="Where it was done, e.g. scalp, breast, axilla.")
    laterality: Laterality | None = Field(
        None, description="Side of the body site, if it is paired. Any case is accepted."
    )
    treats: RefList = Field(default_factory=list, description="Ids of the cancers it treated.")
    status: Literal["completed", "in-progress", "not-done", "stopped", "unknown"] = Field(
        "completed",
        description="Whether it was done, is under way, was stopped or not done. Any case is accepted.",
    )
    note: Text | None = Field(None, description="Free text, kept in the resource's note.")


class Medication(_Model):
    """A drug, or only a therapy class when that is all the report says."""

    id: LocalId | None = None
    name: Text = Field(description="A drug (tamoxifen) or a class (chemotherapy, hormonal therapy).")
    date: PartialDate | None = Field(None, description="When it started.")
    end_date: PartialDate | None = None
    age: Age | None = Field(None, description="Age when it started.")
    status: Literal["active", "completed", "stopped", "intended", "not-taken", "unknown"] = Field(
        "completed",
        description="Whether the drug is taken, was finished, stopped, intended or not taken. Any case is accepted.",
    )
    treats: RefList = Field(default_factory=list, description="Ids of the cancers it treated.")
    note: Text | None = Field(None, description="Free text, kept in the resource's note.")


class DiseaseStatus(_Model):
    """The state of the disease at a point in time."""

    id: LocalId | None = None
    status: Text = Field(description="stable, progressive, responding, remission, undetermined")
    date: PartialDate | None = None
    age: Age | None = None
    about: LocalId | None = Field(
        None, description="Id of the cancer assessed; may be left out when there is one primary."
    )
    evidence: TermList = Field(default_factory=list, description="e.g. imaging, clinical examination")
    note: Text | None = Field(None, description="Free text, kept in the resource's note.")


class Case(_Model):
    """One oncology case."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        title="fhir-adapter case file",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    case: CaseInfo = Field(description="The case's id, where it was published, and a summary.")
    patient: PatientInfo = Field(description="The patient: sex, age at diagnosis, ethnicity, vital status.")
    primary_cancers: list[PrimaryCancer] = Field(
        min_length=1, description="Each primary tumour; at least one."
    )
    metastases: list[Metastasis] = Field(default_factory=list, description="Each metastatic site.")
    procedures: list[Procedure] = Field(
        default_factory=list, description="Surgery, biopsies, radiotherapy and other procedures."
    )
    medications: list[Medication] = Field(
        default_factory=list, description="Drugs, or therapy classes when the report names no drug."
    )
    disease_status: list[DiseaseStatus] = Field(
        default_factory=list, description="Assessments of the disease at points in time."
    )

    @field_validator("primary_cancers", "metastases", "procedures", "medications", "disease_status")
    @classmethod
    def _ids_unique_in_list(cls, items: list) -> list:
        seen: set[str] = set()
        for item in items:
            if item.id is not None:
                if item.id in seen:
                    raise ValueError(f"id '{item.id}' is used twice")
                seen.add(item.id)
        return items

    @model_validator(mode="after")
    def _references_and_chronology(self) -> Case:
        problems: list[str] = []
        primaries = dict(self.primary_keys())
        cancers = {**primaries, **dict(self.metastasis_keys())}
        for i, met in enumerate(self.metastases):
            if met.primary is not None and met.primary not in primaries:
                problems.append(
                    f"metastases[{i}].primary: no primary cancer has id '{met.primary}'"
                    f" (ids: {', '.join(primaries)})"
                )
            if met.primary is None and len(primaries) > 1:
                problems.append(
                    f"metastases[{i}].primary: the case has {len(primaries)} primary cancers;"
                    f" name the one this metastasis came from ({', '.join(primaries)})"
                )
        for field, items, attr in (
            ("procedures", self.procedures, "treats"),
            ("medications", self.medications, "treats"),
        ):
            for i, item in enumerate(items):
                for ref in getattr(item, attr):
                    if ref not in cancers:
                        problems.append(
                            f"{field}[{i}].{attr}: no cancer has id '{ref}' (ids: {', '.join(cancers)})"
                        )
        for i, ds in enumerate(self.disease_status):
            if ds.about is not None and ds.about not in cancers:
                problems.append(
                    f"disease_status[{i}].about: no cancer has id '{ds.about}' (ids: {', '.join(cancers)})"
                )
        problems.extend(self._chronology())
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _chronology(self) -> list[str]:
        problems = []
        primaries = dict(self.primary_keys())
        for i, met in enumerate(self.metastases):
            key = met.primary or self.first_primary_key()
            primary = primaries.get(key)
            if primary is None:
                continue
            p_date, p_age = primary.date, self.diagnosis_age(primary)
            if met.date and p_date and date_before(met.date, p_date):
                problems.append(
                    f"metastases[{i}].date: {met.date} is before the diagnosis of its primary"
                    f" ({p_date}); check both dates"
                )
            if met.age is not None and p_age is not None and met.age < p_age:
                problems.append(
                    f"metastases[{i}].age: {met.age:g} is younger than the age at diagnosis of its"
                    f" primary ({p_age:g}); check both ages"
                )
        vs = self.patient.vital_status
        if vs and vs.age is not None:
            for field, items in (("primary_cancers", self.primary_cancers), ("metastases", self.metastases)):
                for i, item in enumerate(items):
                    if item.age is not None and item.age > vs.age:
                        problems.append(
                            f"{field}[{i}].age: {item.age:g} is after the age at death ({vs.age:g})"
                        )
        if vs and not vs.deceased and (vs.age is not None or vs.date is not None):
            problems.append("patient.vital_status: an age or date of death is given but deceased is false")
        return problems

    def primary_keys(self) -> list[tuple[str, PrimaryCancer]]:
        """Each primary cancer with its id (given, or primary-N)."""
        return [(p.id or f"primary-{i + 1}", p) for i, p in enumerate(self.primary_cancers)]

    def first_primary_key(self) -> str:
        """The id of the first primary: what a metastasis, treatment or status means when it names none."""
        return self.primary_keys()[0][0]

    def metastasis_keys(self) -> list[tuple[str, Metastasis]]:
        """Each metastasis with its id (given, or metastasis-N)."""
        return [(m.id or f"metastasis-{i + 1}", m) for i, m in enumerate(self.metastases)]

    def diagnosis_age(self, primary: PrimaryCancer) -> float | None:
        """The age at diagnosis of a primary, falling back on the patient's age at diagnosis."""
        if primary.age is not None:
            return primary.age
        if primary.date is None:
            return self.patient.age_at_diagnosis
        return None


def date_bounds(value: str) -> tuple[str, str]:
    """The first and last day a partial date can mean, as YYYY-MM-DD strings."""
    parts = value.split("-")
    if len(parts) == 3:
        return value, value
    if len(parts) == 2:
        year, month = int(parts[0]), int(parts[1])
        last = calendar.monthrange(year, month)[1]
        return f"{value}-01", f"{value}-{last:02d}"
    return f"{value}-01-01", f"{value}-12-31"


def date_before(a: str, b: str) -> bool:
    """True only if every day `a` can mean is before every day `b` can mean."""
    return date_bounds(a)[1] < date_bounds(b)[0]
