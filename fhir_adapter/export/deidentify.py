"""De-identification of case files for sharing, with HIPAA Safe Harbor's list as the baseline.

What is done to a case (README, "Reading FHIR back", says the same):

- The case id becomes a pseudonym: HMAC-SHA256 of the identifier system and the id, keyed with
  a secret the user gives (from the environment or a file; it is never written anywhere). The
  same secret gives the same pseudonym, so a later export lines up with an earlier one. The
  identifier system and every item id are left out (items are named by position).
- Every date moves by one offset per patient, a whole number of years (1 to 40 years earlier,
  from the same HMAC; never later, which could put a date in the future): a year stays a year, a month a month, and every interval between
  two dates of the patient is kept (29 February in a year without one becomes 28 February).
  `dates="year"` also cuts every date to its year, as Safe Harbor itself asks.
- An age over 89 becomes 90 ("90 or older"), and a relative time from or to an item over 89 is
  replaced by that item's own (moved) date: an interval added to a younger age would tell it.
- The source (citation, DOI, URL, PMID, publication date) is left out, unless the user says the
  source is public: then it is kept as published, which lets a reader find the report.
- Free text is scanned for what Safe Harbor lists (names with titles, places, dates, years,
  ages over 89, phone and fax numbers, e-mail and web addresses, IP addresses, record, account,
  licence and other numbers): a field where something is found is removed (a field the case
  needs keeps '[removed]'), or, with `free_text="flag"`, kept and listed. `free_text="drop"`
  removes every narrative field (NOTE_FIELDS), found or not; term fields are scanned as with "remove".

Not removed: sex, ethnicity and nationality as written (no Safe Harbor category, though rare
values identify), clinical terms (sites, histology, drugs: they are scanned like other text),
intervals and counts. The scan finds patterns, not meaning: a name without a title, or a place
without a word like 'Hospital', is not found, unless the resources the case was read from give it
as the patient's (identifying_strings: names, identifiers, telecoms, addresses of the Patient,
its contacts and RelatedPersons). Review the list it gives.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..case import Case
from ..errors import ConfigError
from ..ids import DEFAULT_ID_SYSTEM
from ..mapping.common import MappingContext
from ..mapping.condition import diagnosis_when
from ..mapping.timing import when_of
from ..terminology import Terminology

Json = dict[str, Any]
MIN_KEY_LENGTH = 16
OLDEST = 89  # Safe Harbor: ages over 89 are one group
GROUPED_AGE = 90
MAX_OFFSET_YEARS = 40

FreeText = Literal["remove", "flag", "drop"]
Dates = Literal["shift", "year"]

# Narrative fields: words anyone may type, telling no term the maps code; scanned (and, with
# free_text="drop", removed). Term fields (a site, a histology, a drug) and a stage's own words are
# scanned with every other text, not dropped: the case would lose what it is about.
NOTE_FIELDS = frozenset(
    {"note", "timing", "outcome", "cause", "summary", "specimen", "misdiagnosis", "status_reason"}
)
# Fields the case model needs: a finding there leaves '[removed]' instead of dropping the field.
REQUIRED_WORDS = frozenset({"site", "name", "status", "gene", "result"})
# Fields that hold no free words: enumerations, ids, references, dates, intervals, numbers.
NOT_TEXT = frozenset(
    {
        "id",
        "id_system",
        "sex",
        "laterality",
        "kind",
        "certainty",
        "clinical_status",
        "type",
        "primary",
        "primary_side",
        "about",
        "treats",
        "to",
        "after",
        "before",
        "date",
        "end_date",
        "last_known",
        "between",
        "published",
        "doi",
        "url",
        "pmid",
        "follow_up",
        "suspected",
        "occult",
        "deceased",
    }
)

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
SCANS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("e-mail address", re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")),
    ("web address", re.compile(r"\b(https?://|www\.)\S+", re.I)),
    ("IP address", re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")),
    ("date", re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")),
    (
        "date",
        re.compile(
            rf"\b(\d{{1,2}}(st|nd|rd|th)? )?({_MONTHS})\.?,? (\d{{1,2}}(st|nd|rd|th)?,? )?\d{{2,4}}\b", re.I
        ),
    ),
    ("year", re.compile(r"\b(1[89]|20)\d{2}\b")),
    ("age over 89", re.compile(r"\b(9\d|1[0-3]\d)(\.\d+)?[- ]?(years?|yrs?|y)[- ]?(old|of age)?\b", re.I)),
    ("age over 89", re.compile(r"\b(aged?|age of) (9\d|1[0-3]\d)\b", re.I)),
    (
        "phone or fax number",
        re.compile(r"(\+\d{1,3}[ -]?)?(\(\d{2,4}\)[ -]?)?\d{3,4}[ -]\d{3,4}([ -]\d{2,4})?\b"),
    ),
    ("social security number", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    (
        "record or account number",
        re.compile(
            r"\b(MRN|medical record|record (no|number)|patient (id|number)|hospital (no|number)|account"
            r"|SSN|social security|health plan|insurance|policy (no|number)|licen[cs]e|certificate"
            r"|serial (no|number)|device (id|number)|plate)\b",
            re.I,
        ),
    ),
    ("long number", re.compile(r"\b\d{5,}\b")),
    ("name with a title", re.compile(r"\b(Dr|Mr|Mrs|Ms|Miss|Prof|Professor|Sr|Sister|Nurse)\.? [A-Z][a-z]+")),
    (
        "place",
        re.compile(
            r"\b([A-Z][\w'-]+ ){1,4}(Hospital|Clinic|(Medical|Health|Cancer) Cent(er|re)|Infirmary|Institute"
            r"|University|College|County|Street|Avenue|Road|Lane|Boulevard)\b"
            r"|\b(Hospital|University|Clinic) of [A-Z][\w'-]+",
        ),
    ),
    (
        "street address",
        re.compile(r"\b\d+ [A-Z][a-z]+ (St|Street|Ave|Avenue|Rd|Road|Ln|Lane|Blvd|Drive|Dr)\b"),
    ),
)


@dataclass(frozen=True)
class DeidSettings:
    """How to de-identify: the secret, whether the source is public, what to do with free text and dates."""

    key: bytes
    public_source: bool = False
    free_text: FreeText = "remove"
    dates: Dates = "shift"

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"the de-identification key is {len(self.key)} bytes; give at least {MIN_KEY_LENGTH}"
                " (a random string kept secret: the same key gives the same pseudonyms)"
            )


def deid_settings(
    key: str | None,
    *,
    deidentify: bool = True,
    key_file: str | None = None,
    public_source: bool = False,
    free_text: FreeText = "remove",
    dates: Dates = "shift",
) -> DeidSettings | None:
    """Settings from the user's secret (read from the environment or `key_file` by the caller); None when not asked."""
    if not deidentify:
        if key_file or public_source or free_text != "remove" or dates != "shift":
            raise ConfigError("--key-file, --public-source, --free-text and --dates go with --deidentify")
        return None
    if not key:
        raise ConfigError(
            "--deidentify needs a secret key: set FHIR_ADAPTER_DEID_KEY or give --key-file FILE"
        )
    return DeidSettings(key.encode("utf-8"), public_source, free_text, dates)


@dataclass
class Deidentified:
    """A de-identified case and what was done to it (nothing in it names the original case)."""

    case: Json
    offset_years: int
    removed: list[str] = field(default_factory=list)  # field: why
    flagged: list[str] = field(default_factory=list)
    grouped_ages: int = 0


def _mac(settings: DeidSettings, purpose: str, system: str, case_id: str) -> bytes:
    message = "\x00".join((purpose, system, case_id)).encode()
    return hmac.new(settings.key, message, hashlib.sha256).digest()


def pseudonym(settings: DeidSettings, system: str, case_id: str) -> str:
    """The stable pseudonym of a case id: 'p-' and 20 hex digits of its keyed HMAC."""
    return "p-" + _mac(settings, "case-id", system, case_id).hex()[:20]


def offset_years(settings: DeidSettings, system: str, case_id: str) -> int:
    """The patient's date offset: 1 to 40 years earlier, the same for every date of the patient.

    Never later: a later date could be in the future, which no case file may hold.
    """
    value = int.from_bytes(_mac(settings, "date-offset", system, case_id)[:8], "big")
    return -(1 + value % MAX_OFFSET_YEARS)


def shift_date(value: str, years: int, *, year_only: bool = False) -> str:
    """A date moved by whole years at its own precision (29 February to 28 February where needed)."""
    year = int(value[:4]) + years
    if year_only or len(value) == 4:
        return f"{year:04d}"
    if len(value) == 7:
        return f"{year:04d}{value[4:]}"
    month, day = int(value[5:7]), int(value[8:10])
    day = min(day, calendar.monthrange(year, month)[1])
    return f"{year:04d}-{month:02d}-{day:02d}"


def scan(text: str, known: re.Pattern[str] | None = None) -> list[str]:
    """What the free-text scan finds in a text: a category per finding, in order, each once.

    `known` (from `known_pattern`) finds what the patient's own resources say identifies them.
    """
    found = []
    if known is not None and known.search(text):
        found.append(KNOWN)
    for category, pattern in SCANS:
        if pattern.search(text) and category not in found:
            found.append(category)
    return found


KNOWN = "a name, identifier, contact or address the Patient's resources give"
# Kinds whose names, identifiers, telecoms and addresses are the patient's or a relative's.
PERSONS = frozenset({"Patient", "RelatedPerson", "Person"})


def identifying_strings(resources: list[Json]) -> list[str]:
    """What the resources themselves say identifies the patient, to be looked for in every text.

    The pattern scan cannot know a name without a title; the Patient resource (its contacts, and
    a RelatedPerson, also contained ones) can: each word of a name, and each identifier value,
    telecom value, address line, city, postal code and birth date, is removed wherever a text of
    the case holds it. A state or country is not looked for (Safe Harbor keeps the state, and a
    two-letter code would match clinical words).
    """
    found: set[str] = set()

    def person(node: Json) -> None:
        for name in _listed(node.get("name")):
            parts = [name.get("text"), name.get("family"), *_strings(name.get("given"))]
            for part in parts:
                if isinstance(part, str):
                    found.update(w for w in re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", part) if len(w) > 1)
        for telecom in _listed(node.get("telecom")):
            found.update(_strings(telecom.get("value")))
        for address in _listed(node.get("address")):
            found.update(_strings(address.get("line")))
            for key in ("text", "city", "district", "postalCode"):
                found.update(_strings(address.get(key)))
        for identifier in _listed(node.get("identifier")):
            # A value of one or two characters (a test server's Patient "42") would take every
            # "42" of the texts with it and identifies no one.
            found.update(v for v in _strings(identifier.get("value")) if len(v.strip()) > 2)
        found.update(_strings(node.get("birthDate")))

    stack = [r for r in resources if isinstance(r, dict)]
    while stack:
        resource = stack.pop()
        stack.extend(r for r in _listed(resource.get("contained")))
        if resource.get("resourceType") in PERSONS:
            person(resource)
            for contact in _listed(resource.get("contact")):
                person(contact)
    return sorted(s.strip() for s in found if len(s.strip()) > 1)


def known_pattern(strings: list[str]) -> re.Pattern[str] | None:
    """One pattern finding any of the strings as whole words, in any case; None for none."""
    if not strings:
        return None
    words = sorted({s.casefold() for s in strings}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.I)


def _listed(value: Any) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def deidentify(
    case: Case,
    terminology: Terminology,
    settings: DeidSettings,
    *,
    system: str | None = None,
    known: list[str] | None = None,
) -> Deidentified:
    """The case with names, identifiers, dates, old ages, the source and identifying text dealt with.

    `known`: strings that identify the patient (identifying_strings of the resources the case was
    read from), removed from every text wherever they stand.
    """
    system = case.case.id_system or system or DEFAULT_ID_SYSTEM
    years = offset_years(settings, system, case.case.id)
    data = case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    out = Deidentified(data, years)
    _old_ages_and_their_relations(data, case, terminology, out)
    _ids(data, case, settings, system)
    _dates(data, years, settings.dates == "year")
    _source(data, settings, out)
    _free_text(data, settings, out, known_pattern(known or []))
    out.case = Case.model_validate(data).model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return out


def _ids(data: Json, case: Case, settings: DeidSettings, system: str) -> None:
    """A pseudonym for the case id; no identifier system; items named by position, references with them."""
    info = data["case"]
    info["id"] = pseudonym(settings, system, case.case.id)
    info.pop("id_system", None)
    renamed: dict[str, dict[str, str]] = {}
    for field_name, stem in (
        ("primary_cancers", "primary"),
        ("metastases", "metastasis"),
        ("procedures", "procedure"),
        ("medications", "medication"),
        ("disease_status", "disease-status"),
    ):
        items = getattr(case, field_name)
        renamed[field_name] = {
            (item.id or f"{stem}-{i + 1}"): f"{stem}-{i + 1}" for i, item in reversed(list(enumerate(items)))
        }
        for item in data.get(field_name) or []:
            item.pop("id", None)
    primaries, metastases = renamed["primary_cancers"], renamed["metastases"]

    def cancer(key: str) -> str:
        return primaries.get(key) or metastases[key]

    def anchor(key: str) -> str:
        for field_name in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
            if key in renamed[field_name]:
                return renamed[field_name][key]
        return key

    for item in data.get("metastases") or []:
        if "primary" in item:
            item["primary"] = primaries[item["primary"]]
    for field_name in ("procedures", "medications"):
        for item in data.get(field_name) or []:
            if "treats" in item:
                item["treats"] = [cancer(k) for k in item["treats"]]
    for item in data.get("disease_status") or []:
        if "about" in item:
            item["about"] = cancer(item["about"])
    for timed in _timed_dicts(data):
        if "relative" in timed:
            timed["relative"]["to"] = anchor(timed["relative"]["to"])


def _timed_dicts(data: Json):
    vital = data["patient"].get("vital_status")
    if vital:
        yield vital
    for field_name in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
        for item in data.get(field_name) or []:
            yield item
            yield from item.get("markers") or []
            yield from item.get("staging") or []


def _dates(data: Json, years: int, year_only: bool) -> None:
    def move(node: Any) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                if name in ("date", "end_date", "last_known") and isinstance(value, str):
                    node[name] = shift_date(value, years, year_only=year_only)
                elif name == "between" and isinstance(value, list):
                    node[name] = [shift_date(v, years, year_only=year_only) for v in value]
                elif name != "source":
                    move(value)
        elif isinstance(node, list):
            for value in node:
                move(value)

    move(data)


def _old_ages_and_their_relations(
    data: Json, case: Case, terminology: Terminology, out: Deidentified
) -> None:
    """Ages over 89 become 90; a relative time from or to an item over 89 gives way to the item's own date."""
    ctx = MappingContext(case=case, terminology=terminology)
    resolved: dict[int, tuple[Json, Any, Any]] = {}  # id(dict) -> (dict, model, resolved When)
    models = []
    vital = case.patient.vital_status
    if vital is not None:
        models.append((data["patient"]["vital_status"], vital))
    for field_name in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
        for i, (item_data, item) in enumerate(
            zip(data.get(field_name) or [], getattr(case, field_name), strict=True)
        ):
            models.append((item_data, item))
            for sub in ("markers", "staging"):
                models.extend(zip(item_data.get(sub) or [], getattr(item, sub, []), strict=True))
            if field_name == "primary_cancers":
                resolved[id(item_data)] = (item_data, item, diagnosis_when(ctx, i, item))
    for item_data, item in models:
        if id(item_data) not in resolved:
            resolved[id(item_data)] = (item_data, item, when_of(ctx, item))
    keys: dict[str, Any] = {}
    for _, key, item in case.timed_items():
        keys.setdefault(key, item)  # as relative times resolve: the first item of that id
    old = {id(item) for _, item, when in resolved.values() if when.age is not None and when.age > OLDEST}
    for item_data, item, when in resolved.values():
        anchor = keys.get(item_data["relative"]["to"]) if "relative" in item_data else None
        if "relative" in item_data and (id(item) in old or (anchor is not None and id(anchor) in old)):
            del item_data["relative"]
            if when.date is not None:
                item_data.setdefault("date", when.date)
            if when.age is not None:
                item_data.setdefault("age", when.age)
    patient = data["patient"]
    for holder in [patient, *(d for d, _, _ in resolved.values())]:
        for name in ("age", "age_at_diagnosis"):
            if isinstance(holder.get(name), (int, float)) and holder[name] > OLDEST:
                holder[name] = GROUPED_AGE
                out.grouped_ages += 1


def _source(data: Json, settings: DeidSettings, out: Deidentified) -> None:
    if "source" in data["case"] and not settings.public_source:
        del data["case"]["source"]
        out.removed.append(
            "case.source: the publication names the patient's report (kept with --public-source)"
        )


def _free_text(data: Json, settings: DeidSettings, out: Deidentified, known: re.Pattern[str] | None) -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name in list(node):
                value = node[name]
                where = f"{path}.{name}" if path else name
                if name in NOT_TEXT or name == "source":
                    continue
                if isinstance(value, str):
                    _one(node, name, value, where)
                elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                    for i, text in enumerate(value):
                        found = scan(text, known)
                        if found:
                            _finding(f"{where}[{i}]", found)
                            if settings.free_text != "flag":
                                value[i] = "[removed]"
                else:
                    walk(value, where)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    def _finding(where: str, found: list[str]) -> None:
        line = f"{where}: {', '.join(found)}"
        (out.flagged if settings.free_text == "flag" else out.removed).append(line)

    def _one(node: Json, name: str, value: str, where: str) -> None:
        if settings.free_text == "drop" and name in NOTE_FIELDS:
            del node[name]
            out.removed.append(f"{where}: free text (every narrative field is removed)")
            return
        found = scan(value, known)
        if not found:
            return
        _finding(where, found)
        if settings.free_text == "flag":
            return
        if name in REQUIRED_WORDS:
            node[name] = "[removed]"
        else:
            del node[name]

    walk(data, "")
