"""The mCODE Extraction Framework's CSV layout: tables keyed by mrn, read as cases.

The column lists are those of the framework's CSV templates (its docs/*.csv and the header lists
its CSV extractors check). Coded columns arrive with codes and systems; they are used as given,
and a warning says where our terminology maps code the same term differently. Columns the case
format has no place for are named in a warning, never dropped silently.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .casefile import one_line
from .convert import ConvertOptions, Outcome
from .mapping.observation import RECEPTORS as MARKERS
from .sheets import (
    ErrorDoc,
    ReadWith,
    Row,
    RowError,
    RowIndex,
    Table,
    TableCase,
    TableError,
    TableOptions,
    Tables,
    blank_headers,
    column_letter,
    header,
    header_again,
    headless_problem,
    put,
    row_name,
)
from .terminology import Coding, Concept, Terminology, code_shape, fold

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
# The framework writes disease-status codes that SNOMED CT has not yet published (USCRS-...) in
# this system (its CSVCancerDiseaseStatusExtractor).
SNOMED_REQUESTED = "http://hl7.org/fhir/us/mcode/CodeSystem/snomed-requested-cs"
# The framework's own alias for ICD-10-CM (its conditionUtils systemLookup).
SYSTEM_ALIASES = {"urn:oid:2.16.840.1.113883.6.90": ICD10CM}

# Each table of the framework: (every column, the required ones), lower case as the framework
# matches them. Source: mcode-extraction-framework src/helpers/schemas/csv.js and docs/*.csv.
# fmt: off
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patient-mrns": (
        ("mrn",),
        ("mrn",),
    ),
    "patient": (
        ("mrn", "familyname", "givenname", "gender", "birthsex", "dateofbirth", "race", "ethnicity", "language",
         "addressline", "city", "state", "zip"),
        ("mrn",),
    ),
    "condition": (
        ("mrn", "conditionid", "codesystem", "code", "displayname", "category", "dateofdiagnosis",
         "clinicalstatus", "verificationstatus", "bodysite", "laterality", "histology"),
        ("mrn", "conditionid", "codesystem", "code", "category"),
    ),
    "procedure": (
        ("mrn", "procedureid", "conditionid", "status", "code", "codesystem", "displayname", "reasoncode",
         "reasoncodesystem", "reasondisplayname", "effectivedate", "bodysite", "laterality", "treatmentintent"),
        ("mrn", "procedureid", "status", "code", "codesystem", "effectivedate"),
    ),
    "cancer-related-medication-administration": (
        ("mrn", "medicationid", "code", "codesystem", "displaytext", "startdate", "enddate",
         "treatmentreasoncode", "treatmentreasoncodesystem", "treatmentreasondisplaytext", "treatmentintent",
         "status"),
        ("mrn", "code", "codesystem", "status"),
    ),
    "cancer-related-medication-request": (
        ("mrn", "requestid", "code", "codesystem", "displaytext", "treatmentreasoncode",
         "treatmentreasoncodesystem", "treatmentreasondisplaytext", "procedureintent", "status", "intent",
         "authoredon", "requesterid", "dosageroute", "asneededcode", "doseratetype", "dosequantityvalue",
         "dosequantityunit", "timingcode", "timingevent"),
        ("mrn", "code", "codesystem", "status", "intent", "requesterid"),
    ),
    "staging": (
        ("mrn", "conditionid", "stagegroup", "t", "n", "m", "type", "stagingsystem", "stagingcodesystem",
         "effectivedate"),
        ("mrn", "conditionid", "stagegroup", "type", "effectivedate"),
    ),
    "cancer-disease-status": (
        ("mrn", "conditionid", "diseasestatuscode", "diseasestatustext", "dateofobservation", "evidence",
         "observationstatus", "daterecorded"),
        ("mrn", "conditionid", "diseasestatuscode", "dateofobservation"),
    ),
    "observation": (
        ("mrn", "observationid", "status", "code", "codesystem", "displayname", "value", "valuecodesystem",
         "effectivedate", "bodysite", "laterality"),
        ("mrn", "observationid", "status", "code", "codesystem", "value", "effectivedate"),
    ),
    # Tables of the framework the case format has no place for (yet): recognised and refused.
    "adverse-event": (
        ("mrn", "adverseeventid", "adverseeventcode", "adverseeventcodesystem", "adverseeventdisplaytext",
         "suspectedcauseid", "suspectedcausetype", "seriousness", "seriousnesscodesystem",
         "seriousnessdisplaytext", "category", "categorycodesystem", "categorydisplaytext", "severity",
         "actuality", "studyid", "effectivedate", "recordeddate", "adverseeventcodeversion", "adverseeventtext",
         "grade", "expectation", "resolveddate", "seriousnessoutcome", "actor", "functioncode"),
        ("mrn", "adverseeventcode", "effectivedate"),
    ),
    "clinical-trial-information": (
        ("mrn", "trialsubjectid", "enrollmentstatus", "trialresearchid", "trialstatus", "trialresearchsystem",
         "startdate", "enddate"),
        ("mrn", "trialsubjectid", "enrollmentstatus", "trialresearchid", "trialstatus"),
    ),
    "treatment-plan-change": (
        ("mrn", "reasoncode", "reasondisplaytext", "changed", "dateofcareplan", "daterecorded"),
        ("mrn", "changed", "dateofcareplan"),
    ),
    "encounter": (
        ("mrn", "encounterid", "status", "classcode", "classsystem", "typecode", "typesystem", "startdate",
         "enddate"),
        ("mrn", "encounterid", "status", "classcode", "classsystem"),
    ),
    "appointment": (
        ("mrn", "appointmentid", "status", "servicecategory", "servicetype", "appointmenttype", "specialty",
         "start", "end", "cancelationcode", "description"),
        ("mrn", "appointmentid", "status"),
    ),
}
# fmt: on
UNSUPPORTED = (
    "adverse-event",
    "clinical-trial-information",
    "treatment-plan-change",
    "encounter",
    "appointment",
)
DRIVERS = ("patient-mrns", "patient")

# Patient columns a case file never holds: it describes a published or de-identified case.
IDENTIFYING = ("familyname", "givenname", "dateofbirth", "addressline", "city", "state", "zip")

# ICD-10-CM codes of mCODE SecondaryCancerDisorderVS: C77-C79, C7B and C80.0 (the value set's
# ICD-10-CM part, as expanded in mcode-extraction-framework
# src/helpers/valueSets/ValueSet-mcode-secondary-cancer-disorder-vs.json).
_ICD_SECONDARY = re.compile(r"^(C7[789]|C7B|C80\.0)")

# FHIR MedicationAdministration / MedicationRequest status -> the case format's medication status.
ADMINISTRATION_STATUS = {"in-progress": "active", "not-done": "not-taken"}
REQUEST_STATUS = {"cancelled": "not-taken", "draft": "intended"}


def column_key(header: str) -> str:
    """A column's name as the framework's tables are matched: in lower case (as the framework
    matches them), and without the spaces, `_` and `-` an export may put between its words
    (`condition_id`, `Date of Diagnosis`), which left a whole table unread as the framework's."""
    return re.sub(r"[\s_-]+", "", header.strip().lower())


def classify(headers: dict[str, list[str | None]]) -> dict[str, str]:
    """The framework table each header is (by its columns), for the tables that are one.

    A header is a framework table when it has mrn and the required columns of a kind. Columns the
    kind does not have are allowed (each named once in a warning, see unknown_columns) as long as
    the kind's own columns outnumber them, so that a table of another layout is never taken for one.
    """
    out = {}
    for name, head in headers.items():
        cols = {column_key(h) for h in head if h}
        if "mrn" not in cols:
            continue
        fits = []
        for kind, (every, required) in KINDS.items():
            known = cols & set(every)
            if set(required) <= cols and (
                known == cols or len(known) > len(cols - known) > 0 and len(every) > 1
            ):
                fits.append(kind)
        if fits:
            # The kind whose columns the header covers best (patient-mrns only for a bare mrn list).
            out[name] = max(fits, key=lambda k: len(cols & set(KINDS[k][0])) / len(KINDS[k][0]))
    return out


def _has_mrn(head: list[str | None]) -> bool:
    return any(h and column_key(h) == "mrn" for h in head)


def fits_none(label: str, head: list[str | None], leave_out: str) -> str:
    """Why a table keyed by mrn is none of the framework's tables: the one it comes closest to,
    and the required columns it lacks (with the column it has that may be meant)."""
    cols = {column_key(h): h for h in head if h}
    kind = max(KINDS, key=lambda k: (len(cols.keys() & set(KINDS[k][0])), -len(KINDS[k][0])))
    every, required = KINDS[kind]
    unknown = [h for c, h in cols.items() if c not in every]
    lacks = []
    for column in required:
        if column not in cols:
            close = difflib.get_close_matches(column, [column_key(h) for h in unknown], n=1, cutoff=0.6)
            meant = next((h for h in unknown if close and column_key(h) == close[0]), None)
            lacks.append(f"'{column}'" + (f" (is '{one_line(meant)}' it?)" if meant else ""))
    why = (
        f"the {kind} table needs {', '.join(lacks)}"
        if lacks
        else f"it has more columns the {kind} table does not have ({len(unknown)}) than columns it has"
    )
    return (
        f"{label}: a table keyed by mrn, but none of the mCODE Extraction Framework's tables: {why};"
        f" none of its rows was read: name its columns as the framework does, or {leave_out} if it holds"
        " no rows of these patients"
    )


def unknown_columns(table: Table, head: list[str | None], kind: str) -> str | None:
    """One warning naming the columns of a framework table that its kind does not have, or None."""
    every = set(KINDS[kind][0])
    unknown = [
        f"'{one_line(h)}' ({column_letter(i)})"
        for i, h in enumerate(head)
        if h and column_key(h) not in every
    ]
    if not unknown:
        return None
    shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else "")
    what = "is not a column" if len(unknown) == 1 else "are not columns"
    return (
        f"{table.label}: column{'s' if len(unknown) > 1 else ''} {shown} {what} of the mCODE Extraction"
        f" Framework's {kind} table; {'it is' if len(unknown) == 1 else 'they are'} not read"
    )


# The column that identifies a row of a table, where the table has one.
ROW_IDS = {
    "condition": "conditionid",
    "procedure": "procedureid",
    "cancer-related-medication-administration": "medicationid",
    "cancer-related-medication-request": "requestid",
    "observation": "observationid",
}

# --- Reading the tables ----------------------------------------------------------------------


@dataclass
class MefRow:
    """A row of a framework table: where it is, its values, each column's label by name, and why it
    could not be read whole (None for a good row)."""

    location: str
    values: dict[str, str]
    columns: dict[str, str]
    problem: str | None = None

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def place(self, name: str) -> str:
        label = self.columns.get(name)
        return f"{self.location}, {label}" if label else f"{self.location}, column '{name}'"


@dataclass
class _Reader:
    """One framework table being read: its kind, column names by position and their labels."""

    table: Table
    kind: str
    names: list[tuple[int, str]]
    labels: dict[str, str]
    rows: Iterator
    warning: str | None
    head: list[str | None]
    blank: list[int]  # the columns with no header, whose values no field can take

    def row(self, number: int, cells: list[str | None], problem: str | None) -> MefRow:
        values = {n: cells[i] for i, n in self.names if i < len(cells) and cells[i] is not None}
        if problem is None:
            problem = headless_problem(self.table, number, cells, self.head, self.blank)
        return MefRow(row_name(self.table, number), values, self.labels, problem)

    def mrn(self, cells: list[str | None]) -> str:
        index = next((i for i, n in self.names if n == "mrn"), None)
        return (cells[index] if index is not None and index < len(cells) else None) or ""


def _open(table: Table, kind: str) -> _Reader:
    head, rows = header(table)
    names = [(i, column_key(h)) for i, h in enumerate(head) if h]
    labels: dict[str, str] = {}
    for i, n in names:
        label = f"column '{one_line(head[i] or '')}' ({column_letter(i)})"
        if n in labels:
            # Read by name, the second column's cell replaced the first's in every row (a code
            # given twice, the other breast's): the table is refused once, as a case-format header is.
            raise TableError(
                f"{table.label}: {labels[n]} and {label} are one column of the mCODE Extraction"
                f" Framework's {kind} table; keep one"
            )
        labels[n] = label
    return _Reader(
        table, kind, names, labels, rows, unknown_columns(table, head, kind), head, blank_headers(head)
    )


def _cells(reader: _Reader) -> Iterator[tuple[int, list[str | None], str | None]]:
    """(row number, cells, problem) of every row with a cell."""
    for number, cells in reader.rows:
        problem = None
        if isinstance(cells, RowError):
            problem, cells = cells.message, cells.cells or []
        elif not any(c is not None for c in cells):
            continue
        else:
            problem = header_again(reader.table, number, cells, reader.head)
            if problem is not None:
                cells = []  # no patient of its own, and none to join: its cells are the header's
        yield number, cells, problem


def _group(
    tables: dict[str, Table],
    kinds: dict[str, str],
    options: TableOptions,
    unread: tuple[list[Row], list[str]] = ([], []),
) -> Iterator[Row]:
    """The patients of the framework's tables; `unread`: errors about tables keyed by mrn that fit
    none of them, yielded first, and warnings about other tables not read, said with the first patient."""
    yield from unread[0]
    label = next(iter(tables.values())).file
    driver_name = next((n for k in DRIVERS for n, kk in kinds.items() if kk == k), None)
    if driver_name is None:
        names = ", ".join(one_line(n) for n in sorted(kinds))
        if any(t.sheet is not None for t in tables.values()):
            names = f"{label}: sheet(s) {names}"  # sheets: the message names their workbook first
        yield (
            label,
            label,
            ErrorDoc(
                label,
                f"{names}: mCODE Extraction Framework tables keyed by mrn, but no patient table (mrn, gender, ...)"
                " or patient-mrns list beside them; add one to say which patients to convert",
            ),
        )
        return
    readers: list[_Reader] = []
    for name, kind in kinds.items():
        if kind in UNSUPPORTED:
            t = tables[name]
            yield (
                t.label,
                t.file,
                ErrorDoc(
                    t.label,
                    f"{t.label}: the mCODE Extraction Framework's {kind} table is not converted: the case format"
                    " has no place for it yet; leave it out of the input",
                ),
            )
            continue
        if name != driver_name:
            readers.append(_open(tables[name], kind))
    driver = _open(tables[driver_name], kinds[driver_name])
    # Said once, with the first case: a column the framework does not have is not read.
    notes = [*unread[1], *(r.warning for r in (driver, *readers) if r.warning)]
    notes += [r.table.unseen for r in (driver, *readers) if r.table.unseen]  # hidden sheets and rows
    index = RowIndex()
    try:
        for part, reader in enumerate(readers):
            index.add(
                (reader.mrn(cells), part, number, [number, cells, problem])
                for number, cells, problem in _cells(reader)
            )
        index.ready()
        for part, (number, cells, problem) in index.take("") or ():
            row = readers[part].row(number, cells, problem)
            yield row.location, label, ErrorDoc(row.location, problem or f"{row.place('mrn')}: mrn is empty")
        limit = options.limits.items
        for number, cells, problem in _cells(driver):
            row = driver.row(number, cells, problem)
            mrn = row.get("mrn") or ""
            found = index.take(mrn) if mrn else iter(())
            doc = MefCase(row.location, mrn, driver.kind, row, duplicate=found is None)
            for part, (n, c, p) in found or ():
                reader = readers[part]
                rows = doc.rows.setdefault(reader.kind, [])
                if len(rows) < limit:
                    rows.append(reader.row(n, c, p))
                elif len(rows) == limit:
                    rows.append(reader.row(n, c, p))  # kept only to say where the limit was passed
                    doc.problems.append(
                        f"{rows[-1].location}: more than {limit:,} rows of the {reader.kind} table for mrn"
                        f" '{one_line(mrn)}'; if it is right, raise the limit with --limit items=N"
                    )
            if notes:
                doc.notes, notes = notes, []
            yield row.location, label, doc
        for mrn, part, (number, cells, problem) in index.left():
            row = readers[part].row(number, cells, problem)
            message = f"{row.place('mrn')}: mrn '{one_line(mrn)}' is not in the patient table"
            near = index.near(mrn)
            if near is not None:
                # Matched as written: an id differing in case, spaces or a number's zeros may be another patient.
                message += f"; it has '{one_line(near)}': write the mrn as the patient table does"
            yield row.location, label, ErrorDoc(row.location, f"{problem}\n{message}" if problem else message)
    finally:
        index.close()


def mef_sources(found: Tables, options: TableOptions) -> Iterator[Row] | None:
    """The framework's layout: its tables keyed by mrn, one case per patient (None: not this layout).

    In a workbook, the sheets that are framework tables. For a CSV file, the framework's CSV
    files beside it, read once: from the patient table (or patient-mrns list), so naming another
    of them, or all of them by a glob, gives each patient once.
    """
    kinds = classify(found.headers)
    if found.workbook:
        if not kinds:
            return None
        # The other sheets, said: one keyed by mrn holds rows of patients, and fails; others are told.
        errors, notes = [], []
        for sheet, head in found.headers.items():
            if sheet in kinds:
                continue
            t = found.tables[sheet]
            if _has_mrn(head):
                errors.append(
                    (t.label, t.file, ErrorDoc(t.label, fits_none(t.label, head, "start its name with _")))
                )
            else:
                notes.append(
                    f"{t.label}: no mrn column, so none of the mCODE Extraction Framework's tables; it was not"
                    " read: start its name with _ to leave it out without a word"
                )
        return _group({s: found.tables[s] for s in kinds}, kinds, options, (errors, notes))
    if not kinds and not _has_mrn(found.headers[found.path]):
        return None
    path = Path(found.path)
    tables, kinds, misses = {}, {}, {}
    suffix = path.suffix.lower()  # in any case, as linked tables: Procedure.CSV beside patient.csv
    for sibling in sorted(path.parent.iterdir()):
        if sibling.suffix.lower() != suffix or not sibling.is_file():
            continue
        table = Table(str(sibling), limits=options.limits)
        try:
            head = header(table)[0]
        except TableError:
            continue
        fits = classify({str(sibling): head})
        if fits:
            tables[str(sibling)] = table
            kinds.update(fits)
        elif _has_mrn(head):
            misses[str(sibling)] = head  # keyed by mrn, but no framework table: its rows would be lost
    driver = next((n for k in DRIVERS for n, kk in kinds.items() if kk == k), None)
    if str(path) in misses and driver is None:
        return None  # no framework tables here: read as the case format's
    if driver is not None and driver != str(path):
        return iter([(str(path), str(path), ReadWith(driver))])  # read with the patient table
    errors = [
        (n, n, ErrorDoc(n, fits_none(n, head, "move it out of this folder"))) for n, head in misses.items()
    ]
    return _group(tables, kinds, options, (errors, []))


# --- Codes of the systems the framework writes -------------------------------------------------


def code_shape_problem(system: str, code: str) -> str | None:
    """Why `code` cannot be a code of `system` (None when it can, or the system is not one checked)."""
    shape = code_shape(system, code)
    if shape is None:
        return None
    name, words = shape
    plain = unicodedata.normalize("NFKC", code).translate(_DASHES)
    if plain != code and code_shape(system, plain) is None:
        # A word processor's en dash, or full-width digits: the code reads right and is not.
        odd = ", ".join(sorted({f"U+{ord(c):04X}" for c in code if not c.isascii()}))
        return f"'{one_line(code)}' is no {name} code: it holds characters that only look like its own ({odd}); write {plain}"
    return (
        f"'{one_line(code)}' is no {name} code ({name} codes are {words}); check the code and its code"
        " system column"
    )


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


# --- Rows into a case ------------------------------------------------------------------------

_REVERSE: dict[int, dict[tuple[str, str, str], Concept]] = {}


def _reverse(terminology: Terminology) -> dict[tuple[str, str, str], Concept]:
    """(domain, system, code) -> the map entry with that coding, per loaded terminology."""
    found = _REVERSE.get(id(terminology))
    if found is None:
        found = _REVERSE[id(terminology)] = {}
        weakref.finalize(terminology, _REVERSE.pop, id(terminology), None)
        for domain, index in terminology.domains.items():
            for concept in index.values():
                codings = [*concept.codings, *(c for v in concept.variants for c in v.codings)]
                for coding in codings:
                    found.setdefault((domain, coding.system, coding.code), concept)
    return found


@dataclass(frozen=True)
class GivenCoding(Coding):
    """A coding as the input gives it; a missing display stays missing."""

    def as_fhir(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass
class MefCase:
    """One patient of framework tables: the driver row and every row keyed by its mrn."""

    name: str
    mrn: str
    driver_kind: str
    driver: MefRow
    rows: dict[str, list[MefRow]] = field(default_factory=dict)
    duplicate: bool = False
    problems: list[str] = field(default_factory=list)  # found while grouping its rows
    notes: list[str] = field(default_factory=list)  # warnings about its tables, said with the first case

    def convert(self, terminology: Terminology, options: ConvertOptions) -> Outcome:
        return _Builder(self, terminology).build().convert(terminology, options)


class _Builder:
    """Turns one MefCase into a TableCase against a terminology (for reverse lookups)."""

    def __init__(self, case: MefCase, terminology: Terminology):
        self.case = case
        self.term = terminology
        self.rev = _reverse(terminology)
        self.doc = TableCase(case.name)
        self.not_carried: list[str] = []

    # helpers

    def put(self, path: tuple, value, row: MefRow, column: str) -> None:
        put(self.doc.data, path, value)
        self.doc.places[path] = (row.place(column), True)

    def given(
        self, domain: str, term: str, coding: GivenCoding, row: MefRow, column: str, text: str | None = None
    ) -> str:
        """Register the coding the input gives for `term`; warn where our maps code its text otherwise."""
        said = text or term
        wrong = code_shape_problem(coding.system, coding.code)
        if wrong:
            self.doc.problems.append(f"{row.place(column)}: {wrong}")
        mine = self.term.lookup(domain, said)
        if mine is not None:
            ours = [*mine.codings, *(c for v in mine.variants for c in v.codings)]
            if ours and not any(c.system == coding.system and c.code == coding.code for c in ours):
                listed = ", ".join(f"{c.code} ({c.system})" for c in ours[:3])
                self.doc.warnings.append(
                    f"{row.place(column)}: {one_line(coding.code)} ({one_line(coding.system)}) is given for '{one_line(said)}';"
                    f" {self.term.file_of(domain)} codes it {listed}; the given code is used"
                )
        known = self.rev.get((domain, coding.system, coding.code))
        display = coding.display
        if not display and known is not None:
            same = [*known.codings, *(c for v in known.variants for c in v.codings)]
            display = next(c.display for c in same if (c.system, c.code) == (coding.system, coding.code))
        kind = known.kind if known else (mine.kind if mine else None)
        self.doc.given.setdefault(domain, {})[fold(term)] = Concept(
            domain, (term,), None, kind, (GivenCoding(coding.system, coding.code, display, row.location),)
        )
        return term

    def coded_term(
        self, domain: str, row: MefRow, code_col: str, system: str | None, text_col: str | None
    ) -> str | None:
        """The term for a coded cell: our map's term for the code, else its text, else the code.

        The framework's text column is the display of the code, so it becomes the coding's display.
        """
        code = row.get(code_col)
        if code is None:
            return None
        system = SYSTEM_ALIASES.get(system or "", system or "")
        if not system:
            self.doc.problems.append(
                f"{row.place(code_col)}: the code '{one_line(code)}' comes without its code system"
            )
            return None
        text = row.get(text_col) if text_col else None
        known = self.rev.get((domain, system, code))
        term = known.terms[0] if known else (text or code)
        return self.given(
            domain, term, GivenCoding(system, code, text or "", row.location), row, code_col, text
        )

    def side(self, row: MefRow, column: str) -> str | None:
        code = row.get(column)
        if code is None:
            return None
        known = self.rev.get(("laterality", SNOMED, code))
        for term in known.terms if known else ():
            if term in ("left", "right", "bilateral"):
                return term
        self.not_carried.append(f"{row.place(column)} ('{one_line(code)}': not a laterality our maps code)")
        return None

    def date(self, value: str | None) -> str | None:
        if value and re.match(r"^\d{4}-\d{2}-\d{2}T", value):
            return value[:10]  # the case format keeps the day
        return value

    def skip(self, row: MefRow, *names: str) -> None:
        for name in names:
            if row.get(name) is not None:
                self.not_carried.append(row.place(name))

    # tables

    def build(self):
        case, doc = self.case, self.doc
        driver = case.driver
        doc.places[()] = (driver.location, False)
        self.put(("case", "id"), case.mrn, driver, "mrn")
        if case.duplicate:
            doc.problems.append(f"{driver.place('mrn')}: mrn '{one_line(case.mrn)}' is listed twice")
        doc.warnings.extend(case.notes)
        # A row that could not be read whole fails its patient: converting without it would lose it.
        for row in (driver, *(r for rows in case.rows.values() for r in rows)):
            if row.problem:
                doc.problems.append(row.problem)
        doc.problems.extend(case.problems)
        self.repeated_rows()
        patients = ([driver] if case.driver_kind == "patient" else []) + case.rows.get("patient", [])
        if len(patients) > 1:
            doc.problems.append(
                f"{patients[1].location}: a second patient row for mrn '{one_line(case.mrn)}' (first: {patients[0].location})"
            )
        if patients:
            p = patients[0]
            doc.places[("patient",)] = (p.location, False)
            self.put(("patient", "sex"), p.get("gender"), p, "gender")
            if p.get("gender") is None:
                doc.data["patient"].pop("sex")
            present = [p.columns[c].split("'")[1] for c in IDENTIFYING if p.get(c) is not None]
            if present:
                doc.warnings.append(
                    f"{p.location}: {', '.join(present)} left out: a case file holds no names, birth dates or addresses"
                )
            self.skip(p, "birthsex", "race", "ethnicity", "language")
        else:
            doc.problems.append(
                f"{driver.location}: no row for mrn '{one_line(case.mrn)}' in the patient table; its gender is needed"
            )
        conditions = self.conditions()
        self.procedures()
        self.medications()
        self.staging(conditions)
        self.disease_status()
        self.observations()
        if self.not_carried:
            doc.warnings.append(
                "not carried (the case format has no place for them yet): " + "; ".join(self.not_carried)
            )
        return doc

    def repeated_rows(self) -> None:
        """A row given twice is one fact, said and read once; an id given again with other values is an error.

        A copied row (an export run twice, a paste) would otherwise be two procedures or markers, or
        a case refused for an id used twice with no table row named.
        """
        for kind, rows in self.case.rows.items():
            if kind == "patient":
                continue  # a second patient row is an error of its own
            id_column = ROW_IDS.get(kind)
            kept: list[MefRow] = []
            by_values: dict[tuple, MefRow] = {}
            by_id: dict[str, MefRow] = {}
            for row in rows:
                values = tuple(sorted(row.values.items()))
                first = by_values.get(values)
                if first is not None:
                    self.doc.warnings.append(
                        f"{row.location}: repeats {first.location} cell for cell; read once"
                    )
                    continue
                by_values[values] = row
                ident = row.get(id_column) if id_column else None
                other = by_id.get(ident) if ident else None
                if other is not None:
                    differ = sorted(n for n in {*row.values, *other.values} if row.get(n) != other.get(n))
                    self.doc.problems.append(
                        f"{row.place(id_column)}: {one_line(ident)} is given again with other values"
                        f" ({', '.join(other.columns.get(n, n) for n in differ)}) than in"
                        f" {other.location}; keep the row that is right"
                    )
                    continue
                if ident:
                    by_id[ident] = row
                kept.append(row)
            rows[:] = kept

    def conditions(self) -> dict[str, tuple[str, int]]:
        """Primary and secondary cancers; returns condition id -> (list, index)."""
        out: dict[str, tuple[str, int]] = {}
        by_code: dict[tuple[str, str], str] = {}
        counts = {"primary_cancers": 0, "metastases": 0}
        for row in self.case.rows.get("condition", []):
            system = SYSTEM_ALIASES.get(row.get("codesystem") or "", row.get("codesystem") or "")
            codes = [c.strip() for c in (row.get("code") or "").split("|") if c.strip()]
            if not codes or not system:
                self.doc.problems.append(f"{row.place('code')}: a condition needs code and codeSystem")
                continue
            where = self._which(system, codes[0], row)
            i = counts[where]
            counts[where] += 1
            prefix = (where, i)
            self.doc.places[prefix] = (row.location, False)
            display = row.get("displayname")
            domain = "primary_cancers" if where == "primary_cancers" else "secondary_cancers"
            known = self.rev.get((domain, system, codes[0]))
            # Our term for a code we know: its body site and the rest of the maps follow from it.
            term = known.terms[0] if known else (display or codes[0])
            coding = GivenCoding(system, codes[0], display or "", row.location)
            self.given(domain, term, coding, row, "code", display)
            if len(codes) > 1:
                entry = self.doc.given[domain][fold(term)]
                more = tuple(GivenCoding(system, c, "", row.location) for c in codes[1:])
                self.doc.given[domain][fold(term)] = Concept(
                    domain, entry.terms, None, entry.kind, entry.codings + more
                )
            self.put((*prefix, "site"), term, row, "code")
            if row.get("conditionid"):
                self.put((*prefix, "id"), row.get("conditionid"), row, "conditionid")
                out[row.get("conditionid")] = (where, i)
                for c in codes:
                    by_code.setdefault((system, c), row.get("conditionid"))
            body = row.get("bodysite")
            if body:
                first = body.split("|")[0].strip()
                known_site = self.rev.get(("body_sites", SNOMED, first))
                body_term = known_site.terms[0] if known_site else first
                if where == "primary_cancers":
                    self.given(
                        "body_sites", body_term, GivenCoding(SNOMED, first, "", row.location), row, "bodysite"
                    )
                    self.put((*prefix, "site_detail"), body_term, row, "bodysite")
                else:
                    # A metastasis's site names both its code and its body site.
                    self.given(
                        "body_sites", term, GivenCoding(SNOMED, first, "", row.location), row, "bodysite"
                    )
                if "|" in body:
                    self.not_carried.append(f"{row.place('bodysite')} (body sites after the first)")
            side = self.side(row, "laterality")
            if side:
                self.put((*prefix, "laterality"), side, row, "laterality")
            if row.get("histology"):
                if where == "primary_cancers":
                    term_h = self.coded_term("histology", row, "histology", SNOMED, None)
                    self.put((*prefix, "histology"), term_h, row, "histology")
                else:
                    self.skip(row, "histology")
            if row.get("dateofdiagnosis"):
                self.put((*prefix, "date"), self.date(row.get("dateofdiagnosis")), row, "dateofdiagnosis")
            if row.get("clinicalstatus"):
                self.put((*prefix, "clinical_status"), row.get("clinicalstatus"), row, "clinicalstatus")
            status = row.get("verificationstatus")
            if status and status != "confirmed":
                self.doc.problems.append(
                    f"{row.place('verificationstatus')}: '{one_line(status)}' cannot be carried: fhir-adapter records"
                    " confirmed cancers; leave it empty or write confirmed"
                )
            if row.get("category") not in (None, "problem-list-item"):
                self.not_carried.append(row.place("category"))
        self.by_code = by_code
        return out

    def _which(self, system: str, code: str, row: MefRow) -> str:
        if ("secondary_cancers", system, code) in self.rev:
            return "metastases"
        if ("primary_cancers", system, code) in self.rev:
            return "primary_cancers"
        if system == ICD10CM:
            return "metastases" if _ICD_SECONDARY.match(code) else "primary_cancers"
        text = (row.get("displayname") or "").lower()
        if "secondary" in text or "metasta" in text:
            return "metastases"
        if not any(w in text for w in ("primary", "malignant", "carcinoma", "cancer")):
            self.doc.warnings.append(
                f"{row.place('code')}: cannot tell whether {code} ({system}) is a primary or a secondary"
                " cancer; it is taken as a primary"
            )
        return "primary_cancers"

    def _treats(self, row: MefRow, id_col: str | None, code_col: str, system_col: str) -> list[str]:
        if id_col and row.get(id_col):
            return [row.get(id_col)]
        code = row.get(code_col)
        if code:
            system = SYSTEM_ALIASES.get(row.get(system_col) or "", row.get(system_col) or "")
            found = self.by_code.get((system, code))
            if found:
                return [found]
            self.not_carried.append(f"{row.place(code_col)} (no condition of this patient has that code)")
        return []

    def procedures(self) -> None:
        for i, row in enumerate(self.case.rows.get("procedure", [])):
            prefix = ("procedures", i)
            self.doc.places[prefix] = (row.location, False)
            name = self.coded_term("procedures", row, "code", row.get("codesystem"), "displayname")
            if name:
                self.put((*prefix, "name"), name, row, "code")
            if row.get("procedureid"):
                self.put((*prefix, "id"), row.get("procedureid"), row, "procedureid")
            if row.get("status"):
                self.put((*prefix, "status"), row.get("status"), row, "status")
            if row.get("effectivedate"):
                self.put((*prefix, "date"), self.date(row.get("effectivedate")), row, "effectivedate")
            body = row.get("bodysite")
            if body:
                term = self.coded_term("body_sites", row, "bodysite", SNOMED, None)
                self.put((*prefix, "body_site"), term, row, "bodysite")
            side = self.side(row, "laterality")
            if side:
                self.put((*prefix, "laterality"), side, row, "laterality")
            treats = self._treats(row, "conditionid", "reasoncode", "reasoncodesystem")
            if treats:
                self.put(
                    (*prefix, "treats"),
                    treats,
                    row,
                    "conditionid" if row.get("conditionid") else "reasoncode",
                )
            self.skip(row, "treatmentintent")

    def medications(self) -> None:
        rows = [
            (r, "administration") for r in self.case.rows.get("cancer-related-medication-administration", [])
        ]
        rows += [(r, "request") for r in self.case.rows.get("cancer-related-medication-request", [])]
        for i, (row, kind) in enumerate(rows):
            prefix = ("medications", i)
            self.doc.places[prefix] = (row.location, False)
            name = self.coded_term("medications", row, "code", row.get("codesystem"), "displaytext")
            if name:
                self.put((*prefix, "name"), name, row, "code")
            ident = row.get("medicationid") or row.get("requestid")
            if ident:
                self.put(
                    (*prefix, "id"), ident, row, "medicationid" if row.get("medicationid") else "requestid"
                )
            status = row.get("status")
            if status:
                table = ADMINISTRATION_STATUS if kind == "administration" else REQUEST_STATUS
                self.put((*prefix, "status"), table.get(status, status), row, "status")
            if row.get("startdate"):
                self.put((*prefix, "date"), self.date(row.get("startdate")), row, "startdate")
            if row.get("enddate"):
                self.put((*prefix, "end_date"), self.date(row.get("enddate")), row, "enddate")
            treats = self._treats(row, None, "treatmentreasoncode", "treatmentreasoncodesystem")
            if treats:
                self.put((*prefix, "treats"), treats, row, "treatmentreasoncode")
            self.skip(
                row,
                "treatmentintent",
                "procedureintent",
                "intent",
                "authoredon",
                "requesterid",
                "dosageroute",
                "asneededcode",
                "doseratetype",
                "dosequantityvalue",
                "dosequantityunit",
                "timingcode",
                "timingevent",
            )

    def staging(self, conditions) -> None:
        # Each row is a staging of its own, field by field, with its date: a clinical and a
        # pathological staging of one cancer are two, and joined as one text neither was read.
        counts: dict[tuple[str, int], int] = {}
        for row in self.case.rows.get("staging", []):
            target = conditions.get(row.get("conditionid") or "")
            if target is None or target[0] != "primary_cancers":
                self.doc.problems.append(
                    f"{row.place('conditionid')}: '{one_line(row.get('conditionid') or '')}' is no primary cancer of this"
                    " patient in the condition table"
                )
                continue
            k = counts.get(target, 0)
            counts[target] = k + 1
            prefix = (*target, "staging", k)
            self.doc.places[prefix] = (row.location, False)
            for column, field_ in (("stagegroup", "group"), ("t", "t"), ("n", "n"), ("m", "m")):
                if row.get(column):
                    self.put((*prefix, field_), row.get(column), row, column)
            kind = row.get("type")
            if kind:
                # The framework writes Clinical or Pathologic; the case format's words are these.
                word = {"clinical": "clinical", "pathologic": "pathological", "pathological": "pathological"}
                self.put((*prefix, "type"), word.get(kind.strip().lower(), kind), row, "type")
            if row.get("effectivedate"):
                self.put((*prefix, "date"), self.date(row.get("effectivedate")), row, "effectivedate")
            self.skip(row, "stagingsystem", "stagingcodesystem")

    def disease_status(self) -> None:
        for i, row in enumerate(self.case.rows.get("cancer-disease-status", [])):
            prefix = ("disease_status", i)
            self.doc.places[prefix] = (row.location, False)
            code = row.get("diseasestatuscode")
            if code:
                system = SNOMED_REQUESTED if code.startswith("USCRS") else SNOMED
                known = self.rev.get(("observations", system, code))
                term = row.get("diseasestatustext") or (known.terms[0] if known else code)
                self.given(
                    "observations",
                    term,
                    GivenCoding(system, code, "", row.location),
                    row,
                    "diseasestatuscode",
                )
                concept = self.doc.given["observations"][fold(term)]
                self.doc.given["observations"][fold(term)] = Concept(
                    "observations", concept.terms, None, "status-value", concept.codings
                )
                self.put((*prefix, "status"), term, row, "diseasestatuscode")
            if row.get("conditionid"):
                self.put((*prefix, "about"), row.get("conditionid"), row, "conditionid")
            if row.get("dateofobservation"):
                self.put((*prefix, "date"), self.date(row.get("dateofobservation")), row, "dateofobservation")
            evidence = []
            for ev in (row.get("evidence") or "").split("|"):
                ev = ev.strip()
                if not ev:
                    continue
                known = self.rev.get(("observations", SNOMED, ev))
                term = known.terms[0] if known else ev
                self.given("observations", term, GivenCoding(SNOMED, ev, "", row.location), row, "evidence")
                concept = self.doc.given["observations"][fold(term)]
                self.doc.given["observations"][fold(term)] = Concept(
                    "observations", concept.terms, None, "evidence", concept.codings
                )
                evidence.append(term)
            if evidence:
                self.put((*prefix, "evidence"), evidence, row, "evidence")
            if row.get("observationstatus") not in (None, "final"):
                self.not_carried.append(row.place("observationstatus"))
            self.skip(row, "daterecorded")

    def observations(self) -> None:
        # Each row is a marker of its own, with its date: two rows of one test (ER at diagnosis, ER
        # on a later biopsy) are two facts, and the receptors shorthand holds only one of each.
        primaries = self.doc.data.get("primary_cancers", [])
        count = 0
        for row in self.case.rows.get("observation", []):
            system = row.get("codesystem") or ""
            test = self.rev.get(("observations", system, row.get("code") or ""))
            field_ = None
            for name, term in MARKERS:
                if test is not None and fold(term) in {fold(t) for t in test.terms}:
                    field_ = name
            if field_ is None:
                # A code that cannot be of its system (85337–4 with an en dash for LOINC's hyphen) is
                # a mistyped code, not an observation of another kind: it was left out as one.
                wrong = code_shape_problem(system, row.get("code") or "")
                if wrong:
                    self.doc.problems.append(f"{row.place('code')}: {wrong}")
                    continue
                self.not_carried.append(f"{row.location} (observation {row.get('code')} of {system})")
                continue
            if len(primaries) != 1:
                self.not_carried.append(
                    f"{row.location} ({field_} for a patient with {len(primaries)} primary cancers: which one?)"
                )
                continue
            value = row.get("value")
            value_system = row.get("valuecodesystem")
            if value and value_system:
                known = self.rev.get(("observations", value_system, value))
                term = known.terms[0] if known else value
                self.given(
                    "observations", term, GivenCoding(value_system, value, "", row.location), row, "value"
                )
                concept = self.doc.given["observations"][fold(term)]
                self.doc.given["observations"][fold(term)] = Concept(
                    "observations", concept.terms, None, "result", concept.codings
                )
                value = term
            prefix = ("primary_cancers", 0, "markers", count)
            count += 1
            self.doc.places[prefix] = (row.location, False)
            self.put((*prefix, "name"), dict(MARKERS)[field_], row, "code")
            if value is not None:
                self.put((*prefix, "result"), value, row, "value")
            if row.get("effectivedate"):
                self.put((*prefix, "date"), self.date(row.get("effectivedate")), row, "effectivedate")
            self.skip(row, "bodysite", "laterality")
