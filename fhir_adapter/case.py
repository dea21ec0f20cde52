"""The case file model: an oncology case as a case report gives it, validated once at the edge."""

from __future__ import annotations

import calendar
import datetime
import re
import time
import typing
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
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
        hint = ""
        if value.isdigit() and len(value) == 5:
            # Spreadsheets count days from 1900 (43525 is 2019-03-01); a cell formatted as a number shows it.
            hint = "; a number like this is a spreadsheet's day number: format the cell as a date"
        elif DATE_RE.fullmatch(unicodedata.normalize("NFKC", value)):
            # Full-width digits or dashes (２０１９－０３), as an East Asian input method types them.
            hint = f"; it is written in full-width characters: write {unicodedata.normalize('NFKC', value)}"
        raise ValueError(
            f"'{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2019, 2019-03, 2019-03-14){hint}"
        )
    # Days 1-28 are in every month; only a later one needs the calendar.
    if len(value) == 10 and value[8:] > "28":
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


def _not_a_boolean(value: object) -> object:
    # pydantic reads true as 1 and false as 0 where a number goes: `percent: true` became 1 %.
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number; write the number the source gives")
    return value


# A number field refuses true and false (pydantic's lax mode would read them as 1 and 0).
NotBool = BeforeValidator(_not_a_boolean)

Age = Annotated[
    float,
    # FHIR Age (age-1): the value SHALL be positive; an infant's age is a fraction of a year.
    Field(gt=0, le=MAX_AGE, description="Age in years, as the source gives it (0.5 for six months)."),
    NotBool,
]
INTERVAL_RE = r"^([0-9]+(\.[0-9]+)?) ?(year|month|week|day)s?$"
Interval = Annotated[
    str,
    Field(
        pattern=INTERVAL_RE,
        description="A length of time as a number and a unit: '2 years', '8 months', '3 weeks', '10 days'.",
    ),
]
LocalId = Annotated[
    str,
    Field(pattern=LOCAL_ID_RE, description="A short name used to refer to this item within the case."),
]
Text = Annotated[str, Field(min_length=1)]


def _any_case(literal: object) -> object:
    """A Literal matched in any case, as terms are (`sex: Female`, `laterality: Right`).

    A value that is no member in any case is left as written, for the error message. It is a
    validator of the field, called only where the field is given, not one of every model.
    """
    members = frozenset(typing.get_args(literal))

    def lower(value: object) -> object:
        if isinstance(value, str) and value not in members and value.strip().lower() in members:
            return value.strip().lower()
        return value

    return Annotated[literal, BeforeValidator(lower)]


Laterality = _any_case(Literal["left", "right", "bilateral"])
_SIDE_WORD = re.compile(r"\b(left|right)\b", re.IGNORECASE)
TumourSize = Annotated[
    list[Annotated[float, Field(gt=0, le=1000), NotBool]], Field(min_length=1, max_length=3)
]
Certainty = _any_case(Literal["confirmed", "provisional", "differential", "unconfirmed"])
ClinicalStatus = _any_case(Literal["active", "recurrence", "relapse", "remission", "resolved", "inactive"])
Sex = _any_case(Literal["female", "male", "other", "unknown"])
StagingType = _any_case(Literal["clinical", "pathological"])
MetastasisKind = _any_case(Literal["metastasis", "local-recurrence"])
Side = _any_case(Literal["left", "right"])
ProcedureStatus = _any_case(
    Literal["completed", "in-progress", "not-done", "stopped", "unknown", "preparation"]
)
MedicationStatus = _any_case(
    Literal["active", "completed", "stopped", "on-hold", "intended", "not-taken", "unknown"]
)


def _int_to_str(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _one_or_many(value: object) -> object:
    if isinstance(value, str):
        return [value]
    return value


TermList = Annotated[list[Text], BeforeValidator(_one_or_many)]
RefList = Annotated[list[LocalId], BeforeValidator(_one_or_many)]


def _zero(interval: str) -> bool:
    """Whether an interval ('0 days', '2 years') is no time at all."""
    return float(re.match(r"[0-9.]+", interval).group()) == 0  # type: ignore[union-attr]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RelativeTime(_Model):
    """An event placed relative to another, as reports do ("two years after the diagnosis")."""

    to: LocalId = Field(
        description="Id of the item it is timed from: a primary, metastasis, procedure, medication or status."
    )
    after: Interval | None = Field(None, description="How long after that item, e.g. '2 years'.")
    before: Interval | None = Field(None, description="How long before that item, e.g. '12 years'.")

    @model_validator(mode="after")
    def _one_direction(self) -> RelativeTime:
        if (self.after is None) == (self.before is None):
            raise ValueError("give exactly one of 'after' or 'before', e.g. {to: breast, after: 2 years}")
        return self


class _Timed(_Model):
    """When something happened, in every form a report may give it; nothing more precise is invented."""

    date: PartialDate | None = Field(None, description="When it happened: YYYY, YYYY-MM or YYYY-MM-DD.")
    age: Age | None = Field(None, description="The patient's age when it happened, in years.")
    between: Annotated[list[PartialDate], Field(min_length=2, max_length=2)] | None = Field(
        None, description="A range the report gives instead of a date: [2017, 2022]."
    )
    relative: RelativeTime | None = Field(
        None, description="When it happened relative to another item of the case."
    )
    timing: Text | None = Field(
        None, description="The report's own words for when it happened ('a 5-year history'), kept as text."
    )

    @model_validator(mode="after")
    def _range_in_order(self):
        if self.between is not None and date_before(self.between[1], self.between[0]):
            raise ValueError(
                f"between: {self.between[0]} is after {self.between[1]}; give [earliest, latest]"
            )
        return self


class Source(_Model):
    """Where the case was published."""

    citation: Text | None = Field(None, description="Authors, title, journal and year.")
    doi: Annotated[str, Field(pattern=r"^10\.\d{4,9}/\S+$")] | None = Field(
        None, description="The DOI, without the https://doi.org/ prefix."
    )
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = Field(
        None, description="A web address of the publication."
    )
    pmid: Annotated[str, BeforeValidator(_int_to_str), Field(pattern=r"^\d{1,9}$")] | None = Field(
        None, description="The PubMed id."
    )
    published: PartialDate | None = Field(
        None,
        description="When the source was published; it dates the Provenance of every resource made from it.",
    )


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


class VitalStatus(_Timed):
    """Whether the patient died, and when if known (date, age, or relative to another event)."""

    deceased: bool = Field(description="True if the report says the patient died.")
    cause: Text | None = Field(None, description="The cause of death, in the report's words.")
    last_known: PartialDate | None = Field(
        None, description="For a living patient: when they were last known to be alive."
    )
    follow_up: Interval | None = Field(
        None, description="Length of follow-up the report gives, e.g. '12 months'."
    )


class GermlineResult(_Model):
    """A germline test the report gives (BRCA1, BRCA2, ...)."""

    gene: Text = Field(description="The gene tested, e.g. BRCA1.")
    result: Text = Field(description="e.g. pathogenic variant detected, negative.")
    note: Text | None = Field(None, description="Anything else the report says of it, kept as a note.")


class PatientInfo(_Model):
    """The patient as the report describes them; there is never a name or a birth date."""

    sex: Sex = Field(description="Administrative sex.")
    age_at_diagnosis: Age | None = Field(
        None, description="Age at first diagnosis of cancer, used when a primary gives no date or age."
    )
    ethnicity: Text | None = Field(None, description="Ethnicity or race, in the report's words.")
    nationality: Text | None = Field(None, description="Nationality, in the report's words.")
    menopausal_status: Text | None = Field(
        None, description="premenopausal, perimenopausal or postmenopausal."
    )
    ecog: Annotated[int, Field(ge=0, le=5), NotBool] | None = Field(
        None, description="ECOG performance status, 0 to 5."
    )
    comorbidities: TermList = Field(
        default_factory=list, description="Other conditions named, e.g. diabetes."
    )
    germline: list[GermlineResult] = Field(default_factory=list, description="Germline test results stated.")
    vital_status: VitalStatus | None = Field(None, description="Whether the patient died, and when.")


class Receptors(_Model):
    """Hormone receptor and HER2 status as reported (positive, negative, equivocal, low, ...)."""

    er: Text | None = Field(None, description="Oestrogen receptor result.")
    pr: Text | None = Field(None, description="Progesterone receptor result.")
    her2: Text | None = Field(None, description="HER2 result (positive, negative, 2+, ...).")


class Marker(_Timed):
    """A tumour marker or immunohistochemical stain, with the values the report gives."""

    name: Text = Field(description="The marker: ER, PR, HER2, Ki-67, GATA3, CK7, mammaglobin, ...")
    result: Text | None = Field(
        None,
        description="positive, negative, weakly positive, equivocal; for HER2 also 0, 1+, 2+, 3+, amplified.",
    )
    percent: Annotated[float, Field(ge=0, le=100), NotBool] | None = Field(
        None, description="Percentage of stained cells (Ki-67 30, ER 90)."
    )
    allred: Annotated[int, Field(ge=0, le=8), NotBool] | None = Field(
        None, description="Allred score, 0 to 8."
    )
    h_score: Annotated[int, Field(ge=0, le=300), NotBool] | None = Field(
        None, description="H-score, 0 to 300."
    )
    method: Text | None = Field(None, description="How it was measured: IHC, FISH, ISH, ...")
    specimen: Text | None = Field(None, description="What was tested, e.g. punch biopsy of the scalp lesion.")
    note: Text | None = Field(None, description="Anything else the report says of it, kept as a note.")

    @model_validator(mode="after")
    def _has_value(self) -> Marker:
        if self.result is None and self.percent is None and self.allred is None and self.h_score is None:
            raise ValueError(f"marker '{self.name}': give a result, percent, allred or h_score")
        return self


class Staging(_Timed):
    """A stage as stated: TNM categories and/or a stage group, clinical or pathological."""

    type: StagingType | None = Field(
        None, description="Clinical (c) or pathological (p, yp); taken from the T/N/M prefixes when left out."
    )
    system: Text | None = Field(None, description="The staging system, e.g. AJCC 8th edition.")
    group: Text | None = Field(None, description="Stage group, e.g. IIIA or stage IV.")
    t: Text | None = Field(None, description="T category with its prefix, e.g. cT4b.")
    n: Text | None = Field(None, description="N category, e.g. cN3.")
    m: Text | None = Field(None, description="M category, e.g. cM0.")
    suspected: bool = Field(False, description="True when the report says the stage was suspected only.")
    text: Text | None = Field(None, description="The stage in the report's words.")

    @model_validator(mode="after")
    def _has_value(self) -> Staging:
        if not any((self.group, self.t, self.n, self.m, self.text)):
            raise ValueError("a staging gives at least one of group, t, n, m or text")
        return self


class PrimaryCancer(_Timed):
    """A primary tumour; its date or age is that of the diagnosis."""

    id: LocalId | None = None
    site: Text = Field(
        description="Anatomic site, e.g. breast, or a quadrant such as upper outer quadrant of breast."
    )
    site_detail: Text | None = Field(
        None, description="A more precise location for bodySite, e.g. upper outer quadrant of breast."
    )
    laterality: Laterality | None = Field(None, description="left, right or bilateral.")
    histology: Text | None = Field(None, description="e.g. invasive ductal carcinoma")
    receptors: Receptors | None = Field(
        None, description="ER, PR and HER2 in short; other markers go in markers."
    )
    markers: list[Marker] = Field(
        default_factory=list, description="Other markers and values (Ki-67 30%, ...)."
    )
    stage: Text | None = Field(
        None, description="Stage as stated, e.g. IIA, pT2N1M0 or 'stage IIIA'; read into TNM where it parses."
    )
    staging: list[Staging] = Field(default_factory=list, description="Stages given field by field.")
    grade: Text | None = Field(
        None, description="Histologic grade as stated: G3, grade 2, poorly differentiated."
    )
    size_mm: TumourSize | None = Field(
        None, description="Tumour size in mm, largest dimension first: [30, 10]."
    )
    certainty: Certainty | None = Field(None, description="How sure the diagnosis is, if the report says.")
    occult: bool = Field(
        False, description="True for an occult primary: found by its metastases, never seen."
    )
    clinical_status: ClinicalStatus | None = Field(None, description="Left out when the report does not say.")
    note: Text | None = Field(None, description="Anything else the report says of it, kept as a note.")


class Metastasis(_Timed):
    """A metastatic site (or a local recurrence); its date or age is when it was found."""

    id: LocalId | None = None
    site: Text = Field(
        description="Where it is: scalp, bone, liver, or a precise site such as frontal scalp."
    )
    site_detail: Text | None = Field(
        None, description="A more precise location for bodySite when `site` is the coarse one."
    )
    kind: MetastasisKind = Field(
        "metastasis", description="local-recurrence for a return of the cancer at its original site."
    )
    laterality: Laterality | None = Field(None, description="left, right or bilateral.")
    primary: LocalId | None = Field(
        None, description="Id of the primary cancer it came from; may be left out when there is one."
    )
    primary_side: Side | None = Field(
        None, description="For a bilateral primary, the side this metastasis came from, if the report says."
    )
    confirmed_by: TermList = Field(default_factory=list, description="e.g. biopsy, imaging")
    histology: Text | None = Field(None, description="Histology of the metastasis, if the report gives it.")
    markers: list[Marker] = Field(default_factory=list, description="Markers measured on this metastasis.")
    size_mm: TumourSize | None = Field(None, description="Lesion size in mm, largest dimension first: [20].")
    misdiagnosis: Text | None = Field(None, description="What it was first taken for, if the report says.")
    certainty: Certainty | None = Field(None, description="How sure the diagnosis is, if the report says.")
    clinical_status: ClinicalStatus | None = Field(None, description="Left out when the report does not say.")
    note: Text | None = Field(None, description="Anything else the report says of it, kept as a note.")


class Procedure(_Timed):
    """A procedure: surgery, biopsy, radiotherapy, ..."""

    id: LocalId | None = None
    name: Text = Field(description="e.g. modified radical mastectomy, excision of scalp lesion, radiotherapy")
    body_site: Text | None = Field(None, description="Where it was done, e.g. scalp.")
    laterality: Laterality | None = Field(None, description="left, right or bilateral.")
    treats: RefList = Field(default_factory=list, description="Ids of the cancers it treated.")
    status: ProcedureStatus = Field(
        "completed", description="A procedure a report describes was done, unless it says otherwise."
    )
    intent: Text | None = Field(None, description="curative, palliative, adjuvant, neoadjuvant, ...")
    dose_gy: Annotated[float, Field(gt=0, le=200), NotBool] | None = Field(
        None, description="Radiotherapy dose, Gy."
    )
    fractions: Annotated[int, Field(ge=1, le=100), NotBool] | None = Field(
        None, description="Radiotherapy fractions."
    )
    modality: Text | None = Field(None, description="Radiotherapy modality, e.g. photons, electrons.")
    technique: Text | None = Field(None, description="Radiotherapy technique, e.g. IMRT, SBRT.")
    nodes_examined: Annotated[int, Field(ge=0, le=200), NotBool] | None = Field(
        None, description="Lymph nodes examined (13 of '13/13 positive')."
    )
    nodes_positive: Annotated[int, Field(ge=0, le=200), NotBool] | None = Field(
        None, description="Nodes with cancer."
    )
    outcome: Text | None = Field(None, description="What came of it, in the report's words.")
    note: Text | None = Field(None, description="Anything else the report says of it, kept as a note.")


class Medication(_Timed):
    """A drug, a regimen (CMF, AC-T) or only a therapy class when that is all the report says."""

    id: LocalId | None = None
    name: Text = Field(description="A drug (tamoxifen), a regimen (CMF) or a class (chemotherapy).")
    end_date: PartialDate | None = Field(None, description="When it ended.")
    status: MedicationStatus = Field("unknown", description="Left as unknown when the report does not say.")
    status_reason: Text | None = Field(
        None, description="Why it was stopped or changed: toxicity, progression."
    )
    treats: RefList = Field(default_factory=list, description="Ids of the cancers it treated.")
    intent: Text | None = Field(None, description="curative, palliative, adjuvant, neoadjuvant, ...")
    line: Annotated[int, Field(ge=1, le=20), NotBool] | None = Field(
        None, description="Line of therapy: 2 for second-line."
    )
    cycles: Annotated[int, Field(ge=1, le=200), NotBool] | None = Field(
        None, description="Number of cycles given."
    )
    dose: Text | None = Field(None, description="Dose as stated, e.g. '500 mg' or '100 mg/m2'.")
    route: Text | None = Field(None, description="oral, intravenous, subcutaneous, ...")
    frequency: Text | None = Field(None, description="As stated, e.g. twice daily, every 3 weeks.")
    response: Text | None = Field(
        None, description="The disease's response to it: responding, stable, progressive, no response."
    )
    note: Text | None = Field(None, description="Anything else the report says of it, kept as a note.")


class DiseaseStatus(_Timed):
    """The state of the disease at a point in time."""

    id: LocalId | None = None
    status: Text = Field(
        description="stable, progressive, responding, remission, no evidence of disease, undetermined"
    )
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

    @model_validator(mode="after")
    def _references_and_chronology(self) -> Case:
        problems: list[str] = []
        # Named by the item, not the list: a file's line, a table's row, is then the second one's.
        for field in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
            first: dict[str, int] = {}
            for i, item in enumerate(getattr(self, field)):
                if item.id is not None and first.setdefault(item.id, i) != i:
                    problems.append(
                        f"{field}[{i}].id: '{item.id}' is used twice (first by {field}[{first[item.id]}]);"
                        " give each item its own id"
                    )
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
        problems.extend(self._sides())
        items = self.timed_items()
        problems.extend(self._relative_times(items))
        problems.extend(self._chronology(items))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _sides(self) -> list[str]:
        """A laterality the item's own words contradict ('left breast' said to be right).

        Both sides went into the output: the site's code named one, the laterality and the codes
        chosen by it the other. One of the two is wrong, and only a person can tell which.
        """
        problems = []
        fields = {
            "primary_cancers": ("site", "site_detail"),
            "metastases": ("site", "site_detail"),
            "procedures": ("name", "body_site"),
        }
        for field, items in (
            ("primary_cancers", self.primary_cancers),
            ("metastases", self.metastases),
            ("procedures", self.procedures),
        ):
            for i, item in enumerate(items):
                if item.laterality is None:
                    continue
                for name in fields[field]:
                    words = getattr(item, name)
                    said = {m.lower() for m in _SIDE_WORD.findall(words or "")}
                    if len(said) != 1:
                        continue  # no side named, or both (a bilateral site)
                    (side,) = said
                    if side != item.laterality:
                        problems.append(
                            f"{field}[{i}].laterality: '{item.laterality}', but its {name} '{words}'"
                            f" names the {side} side; correct the one that is wrong"
                        )
        return problems

    def timed_items(self) -> list[tuple[str, str, _Timed]]:
        """Every item that can be timed: (field path, key others refer to it by, item)."""
        out: list[tuple[str, str, _Timed]] = []
        for field, keyed in (
            ("primary_cancers", self.primary_keys()),
            ("metastases", self.metastasis_keys()),
            ("procedures", [(p.id or f"procedure-{i + 1}", p) for i, p in enumerate(self.procedures)]),
            ("medications", [(m.id or f"medication-{i + 1}", m) for i, m in enumerate(self.medications)]),
            (
                "disease_status",
                [(d.id or f"disease-status-{i + 1}", d) for i, d in enumerate(self.disease_status)],
            ),
        ):
            out.extend((f"{field}[{i}]", key, item) for i, (key, item) in enumerate(keyed))
        return out

    def _relative_times(self, items: list[tuple[str, str, _Timed]]) -> list[str]:
        problems = []
        keys = {key for _, key, _ in items}
        vs = self.patient.vital_status
        timed = [*items, *([("patient.vital_status", "death", vs)] if vs else [])]
        for path, key, item in timed:
            rel = item.relative
            if rel is None:
                continue
            if rel.to not in keys:
                problems.append(
                    f"{path}.relative.to: no item has id '{rel.to}' (ids: {', '.join(sorted(keys))})"
                )
            elif rel.to == key:
                problems.append(f"{path}.relative.to: an item cannot be timed from itself")
        for path, loop, contradiction in self.relative_loops(items):
            if contradiction:
                problems.append(
                    f"{path}.relative: the relative times form a loop that contradicts itself"
                    f" ({loop_words(loop)}); check them, and give one of them a date or an age"
                )
        return problems

    def relative_loops(
        self, items: list[tuple[str, str, _Timed]] | None = None
    ) -> list[tuple[str, list[tuple[str, RelativeTime]], bool]]:
        """Loops of relative times (a after b after a): (path of the first, its links, contradictory).

        A loop times nothing: each of its items waits for another. It is harmless when it states
        one relation twice (b 2 years before s, s 2 years after b), and a contradiction when its
        intervals do not add up to nothing (b 1 year after s, s 2 years after b).
        """
        vs = self.patient.vital_status
        lists = (
            self.primary_cancers,
            self.metastases,
            self.procedures,
            self.medications,
            self.disease_status,
        )
        stated = sum(1 for items_ in lists for item in items_ if item.relative is not None)
        if stated + (1 if vs is not None and vs.relative is not None else 0) < 2:
            return []  # a loop needs two items (one timed from itself is reported on its own)
        timed = [*(self.timed_items() if items is None else items)]
        if vs is not None:
            timed.append(("patient.vital_status", "death", vs))
        relative = {key: item.relative for _, key, item in timed if item.relative is not None}
        path_of = {key: path for path, key, _ in timed}
        out = []
        seen: set[str] = set()
        for start in relative:
            chain = [start]
            while chain[-1] in relative and relative[chain[-1]].to not in chain:
                chain.append(relative[chain[-1]].to)
            if chain[-1] not in relative:
                continue
            first = relative[chain[-1]].to
            loop = chain[chain.index(first) :]
            if len(loop) < 2 or first in seen:
                continue  # an item timed from itself is reported on its own
            seen.update(loop)
            links = [(key, relative[key]) for key in loop]
            out.append((path_of[first], links, _contradicts(links)))
        return out

    def _future(self, items: list[tuple[str, str, _Timed]], today: str) -> list[str]:
        """Every date the case states that lies after today, in case-file order.

        Only a planned treatment may lie ahead; a diagnosis dated 2099 is a typing error. A
        partial date is in the future when its first day is: compare at its precision. A path
        is put into words only for a date in the future.
        """
        problems: list[str] = []
        for path, _, item in items:
            planned = isinstance(item, (Procedure, Medication)) and item.status in ("intended", "preparation")
            if not planned:
                _say_future(problems, path, item, today)
            if isinstance(item, (PrimaryCancer, Metastasis)):
                for i, marker in enumerate(item.markers):
                    if marker.date or marker.between:
                        _say_future(problems, f"{path}.markers[{i}]", marker, today)
                if isinstance(item, PrimaryCancer):
                    for i, staging in enumerate(item.staging):
                        if staging.date or staging.between:
                            _say_future(problems, f"{path}.staging[{i}]", staging, today)
            elif isinstance(item, Medication) and item.end_date and not planned:
                _say_future_date(problems, f"{path}.end_date", item.end_date, today)
        vs = self.patient.vital_status
        if vs is not None:
            _say_future(problems, "patient.vital_status", vs, today)
            if vs.last_known:
                _say_future_date(problems, "patient.vital_status.last_known", vs.last_known, today)
        if self.case.source is not None and self.case.source.published:
            _say_future_date(problems, "case.source.published", self.case.source.published, today)
        return problems

    def _chronology(self, items: list[tuple[str, str, _Timed]]) -> list[str]:
        problems = self._future(items, _today())
        for i, med in enumerate(self.medications):
            # Every start the item states: its date and the first bound of its 'between'.
            starts = [s for s in (med.date, med.between[0] if med.between else None) if s]
            start = next((s for s in starts if med.end_date and date_before(med.end_date, s)), None)
            if start is not None:
                # FHIR Period (per-1): start <= end; one of the two dates is wrong.
                problems.append(
                    f"medications[{i}].end_date: {med.end_date} is before the start of the treatment"
                    f" ({start}); check both dates"
                )
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
            rel = met.relative
            if rel is not None and rel.before is not None and rel.to == key and not _zero(rel.before):
                # What a date or an age before the primary's is refused for, a relative time is too.
                problems.append(
                    f"metastases[{i}].relative: found {rel.before} before the diagnosis of its primary"
                    f" '{key}'; the diagnosis dates the cancer's first finding, so time the metastasis"
                    " after it, or date the primary from the metastasis"
                )
        vs = self.patient.vital_status
        if vs and vs.deceased:
            problems.extend(self._after_death(vs, items))
        if vs and not vs.deceased and (vs.age is not None or vs.date is not None):
            problems.append("patient.vital_status: an age or date of death is given but deceased is false")
        if vs and not vs.deceased and vs.cause is not None:
            # A living patient's record has no place for it: it was dropped without a word.
            problems.append(
                f"patient.vital_status.cause: a cause of death ('{vs.cause}') is given but deceased is false;"
                " correct the one that is wrong"
            )
        return problems

    def _after_death(self, vs: VitalStatus, items: list[tuple[str, str, _Timed]]) -> list[str]:
        """What the case dates after the death: a registry refuses it (one of the two is wrong)."""
        problems = []
        if vs.date is None and vs.age is None and vs.relative is None:
            return problems
        for path, key, item in items:
            if isinstance(item, (Procedure, Medication)) and item.status in ("intended", "preparation"):
                continue
            what = "diagnosis" if path.startswith(("primary_cancers", "metastases")) else "date"
            start = item.date or (item.between[0] if item.between else None)
            if vs.date and start and date_before(vs.date, start):
                problems.append(
                    f"patient.vital_status.date: {vs.date} is before the {what} of {path} ({start});"
                    " check both dates"
                )
            # A medication's 'between' is written as the same Period as a date and an end_date, so
            # its second bound is an end too: judged alike, both readings of one bundle stand or fall.
            end = None
            if isinstance(item, Medication):
                end = item.end_date or (item.between[1] if item.between else None)
            if vs.date and end and date_before(vs.date, end):
                problems.append(
                    f"patient.vital_status.date: {vs.date} is before the end of {path} ({end});"
                    " check both dates"
                )
            if vs.age is not None and item.age is not None and item.age > vs.age:
                problems.append(f"{path}.age: {item.age:g} is after the age at death ({vs.age:g})")
            rel = vs.relative
            if rel is not None and rel.before is not None and rel.to == key and what == "diagnosis":
                problems.append(
                    f"patient.vital_status.relative: death {rel.before} before the diagnosis of"
                    f" {path}; a death comes after every diagnosis"
                )
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


_TODAY: list = [None, ""]  # (minute it was asked in, today's date): the clock is read once a minute


def _today() -> str:
    """Today's date, YYYY-MM-DD, as the local clock has it (at most a minute late at midnight)."""
    minute = int(time.time()) // 60
    if _TODAY[0] != minute:
        _TODAY[0], _TODAY[1] = minute, datetime.date.today().isoformat()
    return _TODAY[1]


_MONTHS = {"year": 12, "month": 1}
_DAYS = {"week": 7, "day": 1}


def _contradicts(links: list[tuple[str, RelativeTime]]) -> bool:
    """True when the intervals of a loop cannot add up to nothing (in months, or in days)."""
    months = days = 0.0
    for _, rel in links:
        text = rel.after if rel.after is not None else rel.before
        match = re.fullmatch(INTERVAL_RE, text)
        assert match is not None  # the model checked the pattern
        amount = float(match.group(1)) * (1 if rel.after is not None else -1)
        unit = match.group(3)
        if unit in _MONTHS:
            months += amount * _MONTHS[unit]
        else:
            days += amount * _DAYS[unit]
    if months and days:
        return False  # a month is no fixed number of days: it cannot be told
    return abs(months) > 1e-9 or abs(days) > 1e-9


def loop_words(links: list[tuple[str, RelativeTime]]) -> str:
    """A loop of relative times in words: 'b 1 year after s, s 2 years after b'."""
    parts = [
        f"{key} {rel.after} after {rel.to}"
        if rel.after is not None
        else f"{key} {rel.before} before {rel.to}"
        for key, rel in links
    ]
    return ", ".join(parts)


def _say_future(problems: list[str], path: str, item: _Timed, today: str) -> None:
    """The item's date and the bounds of its 'between' that lie after today, as Case._future says them."""
    if item.date:
        _say_future_date(problems, f"{path}.date", item.date, today)
    if item.between:
        for i, value in enumerate(item.between):
            if value > today[: len(value)]:
                problems.append(f"{path}.between[{i}]: {value} is in the future; check the date")


def _say_future_date(problems: list[str], path: str, value: str, today: str) -> None:
    if value > today[: len(value)]:
        problems.append(f"{path}: {value} is in the future; check the date")


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
    # As date_bounds(a)[1] < date_bounds(b)[0], without the calendar: the 31st sorts after every
    # day of its month, as the true last day does, and before the next month's first.
    last = a if len(a) == 10 else a + ("-31" if len(a) == 7 else "-12-31")
    first = b if len(b) == 10 else b + ("-01" if len(b) == 7 else "-01-01")
    return last < first
