"""A hypothesis strategy of valid case files: every field of the case model, terms from the maps or made up."""

from __future__ import annotations

import string
from functools import cache
from typing import Any

from hypothesis import strategies as st

from fhir_adapter.case import Case
from fhir_adapter.terminology import load_terminology

Json = dict[str, Any]

# Words of the kind a registrar types: letters, digits, spaces and punctuation, no control characters.
_ALPHABET = string.ascii_letters + string.digits + " -,.;:()/'%+éü"
free_text = st.text(_ALPHABET, min_size=1, max_size=40).map(str.strip).filter(bool)
notes = st.one_of(free_text, st.lists(free_text, min_size=2, max_size=3).map("\n".join))
local_id = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True).filter(
    # an id of the form the position gives another item (procedure-2) would share that item's resources
    lambda s: not s.rsplit("-", 1)[-1].isdigit()
)
year = st.integers(1950, 2030)
partial_date = st.one_of(
    year.map(str),
    st.builds(lambda y, m: f"{y}-{m:02d}", year, st.integers(1, 12)),
    st.builds(lambda y, m, d: f"{y}-{m:02d}-{d:02d}", year, st.integers(1, 12), st.integers(1, 28)),
)
age = st.one_of(st.integers(1, 100), st.floats(0.1, 100, allow_nan=False).map(lambda a: round(a, 2)))
interval = st.builds(
    lambda n, unit, plural: f"{n} {unit}{'s' if plural else ''}",
    st.integers(1, 30),
    st.sampled_from(["year", "month", "week", "day"]),
    st.booleans(),
)


@cache
def _terms(domain: str, kind: str | None = None) -> tuple[str, ...]:
    terminology = load_terminology()
    concepts = set(terminology.domains.get(domain, {}).values())
    return tuple(sorted({t for c in concepts if kind is None or c.kind == kind for t in c.terms}))


def term(domain: str, kind: str | None = None) -> st.SearchStrategy[str]:
    """A term the maps know (coded or not), or words they do not."""
    known = _terms(domain, kind)
    return st.one_of(st.sampled_from(known), free_text) if known else free_text


def optional(strategy: st.SearchStrategy, p_absent: float = 0.5) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy) if p_absent else strategy


@st.composite
def time_fields(draw, keys: list[str], *, allow_relative: bool = True) -> Json:
    """date, age, between, relative and timing, each present or not."""
    out: Json = {}
    if draw(st.booleans()):
        out["date"] = draw(partial_date)
    if draw(st.booleans()):
        out["age"] = draw(age)
    if draw(st.integers(0, 4)) == 0:
        a, b = sorted([draw(partial_date), draw(partial_date)], key=lambda d: (d[:4], d))
        if a[:4] < b[:4] or a == b:
            out["between"] = [a, b]
    if allow_relative and keys and draw(st.integers(0, 2)) == 0:
        out["relative"] = {
            "to": draw(st.sampled_from(keys)),
            draw(st.sampled_from(["after", "before"])): draw(interval),
        }
    if draw(st.integers(0, 3)) == 0:
        out["timing"] = draw(free_text)
    return out


def _drop_none(d: Json) -> Json:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


@st.composite
def marker(draw, keys: list[str]) -> Json:
    out = {
        "name": draw(term("observations", "test")),
        "result": draw(optional(term("observations", "result"))),
        "percent": draw(
            optional(st.one_of(st.integers(0, 100), st.floats(0, 100).map(lambda x: round(x, 1))))
        ),
        "allred": draw(optional(st.integers(0, 8), 0.7)),
        "h_score": draw(optional(st.integers(0, 300), 0.8)),
        "method": draw(optional(st.sampled_from(["IHC", "FISH", "ISH", "immunohistochemistry"]) | free_text)),
        "specimen": draw(optional(free_text, 0.7)),
        "note": draw(optional(notes, 0.8)),
    }
    if all(out[k] is None for k in ("result", "percent", "allred", "h_score")):
        out["result"] = draw(term("observations", "result"))
    if draw(st.integers(0, 2)) == 0:
        out.update(draw(time_fields(keys)))
    return _drop_none(out)


@st.composite
def staging(draw, keys: list[str]) -> Json:
    out = {
        "type": draw(optional(st.sampled_from(["clinical", "pathological"]))),
        "system": draw(optional(term("staging", "staging-system"), 0.6)),
        "group": draw(
            optional(st.sampled_from(["0", "I", "IA", "IIA", "IIB", "IIIA", "IIIC", "IV", "IIIZ"]))
        ),
        "t": draw(optional(st.sampled_from(["cT1", "pT2", "T3", "cT4b", "ypT1c", "TX"]))),
        "n": draw(optional(st.sampled_from(["cN0", "pN1a", "N2", "cN3"]))),
        "m": draw(optional(st.sampled_from(["cM0", "cM1", "M0", "pM1"]))),
        "suspected": draw(st.booleans()),
        "text": draw(optional(free_text | st.sampled_from(["stage IIA", "stage IIIZ", "T2N1"]))),
    }
    if not any(out[k] for k in ("group", "t", "n", "m", "text")):
        out["text"] = draw(free_text)
    if draw(st.integers(0, 3)) == 0:
        out.update(draw(time_fields(keys)))
    return _drop_none(out)


@st.composite
def primary(draw, keys: list[str], key: str | None) -> Json:
    out = {
        "id": key,
        "site": draw(term("primary_cancers") | term("body_sites", "breast")),
        "site_detail": draw(optional(term("body_sites"), 0.7)),
        "laterality": draw(optional(st.sampled_from(["left", "right", "bilateral"]))),
        "histology": draw(optional(term("histology"))),
        "receptors": _drop_none(
            {k: draw(optional(term("observations", "result"))) for k in ("er", "pr", "her2")}
        )
        if draw(st.booleans())
        else None,
        "markers": draw(st.lists(marker(keys), max_size=2)),
        "stage": draw(
            optional(
                st.sampled_from(["IIA", "pT2N1M0", "stage IIIA", "cT4bN3M0", "de novo stage IV"]) | free_text
            )
        ),
        "staging": draw(st.lists(staging(keys), max_size=2)) if draw(st.integers(0, 3)) == 0 else [],
        "grade": draw(optional(st.sampled_from(["G3", "grade 2", "poorly differentiated"]) | free_text, 0.7)),
        "size_mm": draw(
            optional(
                st.lists(
                    st.integers(1, 200) | st.floats(0.5, 200).map(lambda x: round(x, 1)),
                    min_size=1,
                    max_size=3,
                ),
                0.7,
            )
        ),
        "certainty": draw(
            optional(st.sampled_from(["confirmed", "provisional", "differential", "unconfirmed"]))
        ),
        "occult": draw(st.booleans()),
        "clinical_status": draw(
            optional(
                st.sampled_from(["active", "recurrence", "relapse", "remission", "resolved", "inactive"])
            )
        ),
        "note": draw(optional(notes, 0.7)),
    }
    out.update(draw(time_fields(keys)))
    return _drop_none(out)


@st.composite
def metastasis(
    draw, keys: list[str], key: str | None, primaries: list[Json], primary_keys: list[str]
) -> Json:
    which = draw(st.sampled_from(range(len(primaries))))
    out = {
        "id": key,
        "site": draw(term("secondary_cancers") | term("body_sites")),
        "site_detail": draw(optional(term("body_sites"), 0.7)),
        "kind": draw(st.sampled_from(["metastasis", "metastasis", "local-recurrence"])),
        "laterality": draw(optional(st.sampled_from(["left", "right", "bilateral"]))),
        "primary": primary_keys[which] if len(primaries) > 1 or draw(st.booleans()) else None,
        "primary_side": draw(optional(st.sampled_from(["left", "right"]))),
        "confirmed_by": draw(st.lists(term("observations", "evidence"), max_size=3)),
        "histology": draw(optional(term("histology"), 0.7)),
        "markers": draw(st.lists(marker(keys), max_size=2)),
        "size_mm": draw(optional(st.lists(st.integers(1, 100), min_size=1, max_size=2), 0.8)),
        "misdiagnosis": draw(optional(term("conditions", "benign"), 0.7)),
        "certainty": draw(
            optional(st.sampled_from(["confirmed", "provisional", "differential", "unconfirmed"]))
        ),
        "clinical_status": draw(optional(st.sampled_from(["active", "recurrence", "remission"]))),
        "note": draw(optional(notes, 0.7)),
    }
    out.update(draw(time_fields(keys)))
    return _drop_none(out)


@st.composite
def procedure(draw, keys: list[str], key: str | None, cancers: list[str]) -> Json:
    out = {
        "id": key,
        "name": draw(term("procedures")),
        "body_site": draw(optional(term("body_sites"))),
        "laterality": draw(optional(st.sampled_from(["left", "right", "bilateral"]))),
        "treats": draw(st.lists(st.sampled_from(cancers), max_size=2)),
        "status": draw(
            optional(
                st.sampled_from(["completed", "in-progress", "not-done", "stopped", "unknown", "preparation"])
            )
        ),
        "intent": draw(optional(term("treatment", "intent"), 0.7)),
        "dose_gy": draw(optional(st.floats(0.5, 80).map(lambda x: round(x, 3)) | st.integers(1, 80), 0.7)),
        "fractions": draw(optional(st.integers(1, 40), 0.7)),
        "modality": draw(optional(term("treatment", "radiotherapy-modality"), 0.8)),
        "technique": draw(optional(term("treatment", "radiotherapy-technique"), 0.8)),
        "nodes_examined": draw(optional(st.integers(0, 40), 0.8)),
        "nodes_positive": draw(optional(st.integers(0, 40), 0.8)),
        "outcome": draw(optional(free_text, 0.8)),
        "note": draw(optional(notes, 0.7)),
    }
    out.update(draw(time_fields(keys)))
    return _drop_none(out)


@st.composite
def medication(draw, keys: list[str], key: str | None, cancers: list[str]) -> Json:
    out = {
        "id": key,
        "name": draw(term("medications") | term("regimens")),
        "end_date": draw(optional(partial_date, 0.7)),
        "status": draw(
            optional(
                st.sampled_from(
                    ["active", "completed", "stopped", "on-hold", "intended", "not-taken", "unknown"]
                )
            )
        ),
        "status_reason": draw(optional(term("treatment", "termination-reason"), 0.7)),
        "treats": draw(st.lists(st.sampled_from(cancers), max_size=2)),
        "intent": draw(optional(term("treatment", "intent"), 0.7)),
        "line": draw(optional(st.integers(1, 5), 0.7)),
        "cycles": draw(optional(st.integers(1, 12), 0.7)),
        "dose": draw(optional(st.sampled_from(["500 mg", "100 mg/m2", "2 g", "20mg"]) | free_text, 0.7)),
        "route": draw(optional(term("treatment", "route"), 0.7)),
        "frequency": draw(optional(free_text, 0.7)),
        "response": draw(optional(term("observations", "status-value"), 0.7)),
        "note": draw(optional(notes, 0.7)),
    }
    out.update(draw(time_fields(keys)))
    return _drop_none(out)


@st.composite
def disease_status(draw, keys: list[str], key: str | None, cancers: list[str]) -> Json:
    out = {
        "id": key,
        "status": draw(term("observations", "status-value")),
        "about": draw(optional(st.sampled_from(cancers))),
        "evidence": draw(st.lists(term("observations", "evidence"), max_size=3)),
        "note": draw(optional(notes, 0.7)),
    }
    out.update(draw(time_fields(keys)))
    return _drop_none(out)


def _keys(draw, n: int, taken: set[str]) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        key = draw(optional(local_id))
        if key is not None and key in taken:
            key = None
        if key is not None:
            taken.add(key)
        out.append(key)
    return out


@st.composite
def case_data(draw) -> Json:
    """The data of a case file that Case.model_validate accepts."""
    taken: set[str] = set()
    n_primary = draw(st.integers(1, 2))
    primary_ids = _keys(draw, n_primary, taken)
    primary_keys = [k or f"primary-{i + 1}" for i, k in enumerate(primary_ids)]
    met_ids = _keys(draw, draw(st.integers(0, 3)), taken)
    met_keys = [k or f"metastasis-{i + 1}" for i, k in enumerate(met_ids)]
    proc_ids = _keys(draw, draw(st.integers(0, 2)), taken)
    med_ids = _keys(draw, draw(st.integers(0, 3)), taken)
    status_ids = _keys(draw, draw(st.integers(0, 2)), taken)
    keys = [
        *primary_keys,
        *met_keys,
        *[k or f"procedure-{i + 1}" for i, k in enumerate(proc_ids)],
        *[k or f"medication-{i + 1}" for i, k in enumerate(med_ids)],
        *[k or f"disease-status-{i + 1}" for i, k in enumerate(status_ids)],
    ]
    cancers = primary_keys + met_keys
    primaries = [draw(primary(keys, k)) for k in primary_ids]
    source = _drop_none(
        {
            "citation": draw(optional(free_text)),
            "doi": draw(optional(st.from_regex(r"10\.[0-9]{4,6}/[a-z0-9.]{1,12}", fullmatch=True))),
            "url": draw(
                optional(st.sampled_from(["https://journal.example.org/a/1", "https://doi.org/10.1000/x1"]))
            ),
            "pmid": draw(optional(st.integers(1, 99999999).map(str))),
            "published": draw(optional(partial_date)),
        }
    )
    vital = None
    if draw(st.booleans()):
        deceased = draw(st.booleans())
        vital = {"deceased": deceased}
        fields = draw(time_fields(keys))
        if not deceased:
            fields.pop("date", None)
            fields.pop("age", None)
        vital.update(fields)
        vital.update(
            _drop_none(
                {
                    "cause": draw(optional(free_text, 0.7)),
                    "last_known": draw(optional(partial_date, 0.7)),
                    "follow_up": draw(optional(interval, 0.7)),
                }
            )
        )
    patient = _drop_none(
        {
            "sex": draw(st.sampled_from(["female", "male", "other", "unknown"])),
            "age_at_diagnosis": draw(optional(age)),
            "ethnicity": draw(optional(free_text, 0.7)),
            "nationality": draw(optional(free_text, 0.8)),
            "menopausal_status": draw(optional(term("findings", "menopausal-status"), 0.7)),
            "ecog": draw(optional(st.integers(0, 5), 0.7)),
            "comorbidities": draw(st.lists(term("conditions", "comorbidity"), max_size=2)),
            "germline": [
                _drop_none(
                    {
                        "gene": draw(term("findings", "germline-test")),
                        "result": draw(term("findings", "germline-result")),
                        "note": draw(optional(free_text, 0.7)),
                    }
                )
                for _ in range(draw(st.integers(0, 2)))
            ],
            "vital_status": vital,
        }
    )
    data = {
        "case": _drop_none(
            {
                "id": draw(local_id),
                "id_system": draw(
                    optional(st.sampled_from(["https://registry.example.org/cases", "urn:oid:1.2.3.4"]), 0.7)
                ),
                "source": source or None,
                "summary": draw(optional(notes, 0.6)),
            }
        ),
        "patient": patient,
        "primary_cancers": primaries,
        "metastases": [draw(metastasis(keys, k, primaries, primary_keys)) for k in met_ids],
        "procedures": [draw(procedure(keys, k, cancers)) for k in proc_ids],
        "medications": [draw(medication(keys, k, cancers)) for k in med_ids],
        "disease_status": [draw(disease_status(keys, k, cancers)) for k in status_ids],
    }
    return {k: v for k, v in data.items() if v or k in ("case", "patient", "primary_cancers")}


def valid_case(data: Json) -> Case | None:
    """The case, or None when the drawn data breaks a rule of the model (a date before its primary's)."""
    try:
        return Case.model_validate(data)
    except ValueError:
        return None
