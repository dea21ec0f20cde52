"""Scoring a draft against a hand-written gold case file, fact by fact (for the benchmark and its tests).

A fact is a small tuple (kind, ...) read from a case-file dict; names are compared through the
terminology maps and the drafting rules' aliases, so 'IDC' and 'invasive ductal carcinoma', or
'lungs' and 'lung', are one fact. Facts are counted in field families, the rows the benchmark
reports. Where it matters, a fact carries what it is about:

- a metastatic site carries its side, so a site drafted with the wrong side (or none, when the
  text gives one) is wrong;
- a marker carries the tumour it was measured on (the primary, or which metastasis);
- an age carries what it dates (the primary's diagnosis, or the metastases found at presentation);
- a treatment carries whether it was given, only planned, or refused, so a planned or refused
  treatment drafted as given is wrong.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..mapping.staging import parse_stage
from ..terminology import Terminology, fold
from .rules import Rules, shipped_rules

_GRADE = re.compile(r"^(poorly|moderately|well)[- ]differentiated\s+")
_RECEPTORS = {"ER", "PR", "HER2"}
# The field families, in the order the benchmark prints them, with what each row means.
FAMILIES = {
    "metastatic sites": "each metastatic site with its side",
    "side of a metastasis": "the side of each metastasis that has one",
    "age": "each age with what it dates (diagnosis of the primary, or metastases at presentation)",
    "histology": "histology of the primary and of each metastasis",
    "ER/PR/HER2": "each receptor value with the tumour it was measured on",
    "other markers": "each other marker value (result or percentage) with its tumour",
    "death": "death and its timing",
    "disease status": "each disease status",
    "calendar dates": "each date or range of years of a clinical event",
    "citation": "the DOI and PMID shown in the text",
    "patient": "sex, ethnicity, germline results, menopausal status, ECOG",
    "primary": "the primary's site, side, certainty, status and stage",
    "relative times": "each time given relative to another item (which came first, which later, how long between)",
    "confirmation": "how each metastasis was confirmed, and what it was first taken for",
    "treatments": "each treatment with whether it was given, planned or refused",
    "treatment details": "intent, line, cycles, dose, route, frequency, response, site, radiotherapy dose, nodes",
}
# How a metastasis was confirmed, compared by kind: a punch biopsy and a biopsy are both a biopsy.
_EVIDENCE_KIND = {
    "imaging": "imaging", "pet/ct": "imaging", "ct": "imaging", "mri": "imaging",
    "ultrasonography": "imaging", "bone scan": "imaging", "x-ray": "imaging", "mammography": "imaging",
    "biopsy": "biopsy", "punch biopsy": "biopsy", "excisional biopsy": "biopsy",
    "incisional biopsy": "biopsy", "core needle biopsy": "biopsy", "fine-needle aspiration": "biopsy",
    "histopathology": "pathology", "immunohistochemistry": "pathology", "cytology": "pathology",
    "clinical examination": "examination", "dermoscopy": "examination",
}  # fmt: skip
_EVIDENCE_KIND = {fold(k): v for k, v in _EVIDENCE_KIND.items()}  # as the maps' terms are compared: folded
# Rows that restate part of another row, left out of the "all fields" total.
DERIVED = {"side of a metastasis"}
_GIVEN = {"intended": "planned", "preparation": "planned", "not-taken": "refused", "not-done": "refused"}


@dataclass
class _Canon:
    terminology: Terminology
    aliases: dict[str, str]

    def term(self, domains: tuple[str, ...], term: str) -> str:
        key = fold(term)
        key = self.aliases.get(key, key)
        for domain in domains:
            concept = self.terminology.lookup(domain, key)
            if concept is not None:
                return fold(concept.terms[0])
        return key

    def site(self, t: str) -> str:
        return self.term(("secondary_cancers", "body_sites", "primary_cancers"), t)

    def proc(self, t: str) -> str:
        return self.term(("procedures",), t)

    def drug(self, t: str) -> str:
        return self.term(("medications",), t)

    def obs(self, t: str) -> str:
        return self.term(("observations",), t)

    def hist(self, t: str) -> str:
        return self.term(("histology",), _GRADE.sub("", fold(t)))

    def marker(self, t: str) -> str:
        name = self.obs(t).upper().replace(" ", "")
        return {"ESTROGENRECEPTOR": "ER", "PROGESTERONERECEPTOR": "PR", "HER2IHC": "HER2"}.get(name, name)


def _canon(terminology: Terminology, rules: Rules | None) -> _Canon:
    rules = rules or shipped_rules()
    return _Canon(terminology, {fold(k): fold(v) for k, v in rules["aliases"].items()})


def _without_intent(name_of: Any, kind: str, name: str) -> tuple[str, str | None]:
    """A treatment's name, and the intent its name carries: 'palliative radiotherapy' is radiotherapy
    with a palliative intent."""
    what = name_of(name)
    intent = re.match(r"^(palliative|adjuvant|neoadjuvant|curative) (.+)$", what)
    if intent and (name_of(intent.group(2)) != intent.group(2) or kind == "procedure"):
        return name_of(intent.group(2)), intent.group(1)
    return what, None


def facts_of(case: dict[str, Any], terminology: Terminology, rules: Rules | None = None) -> Counter:
    """The facts a case-file dict states, counted (two radiotherapy courses are two facts)."""
    c = _canon(terminology, rules)
    out: Counter = Counter()
    keys: dict[str, str] = {}
    for i, p in enumerate(case.get("primary_cancers", [])):
        keys[p.get("id") or f"primary-{i + 1}"] = c.site(p["site"])
    for i, m in enumerate(case.get("metastases", [])):
        keys[m.get("id") or f"metastasis-{i + 1}"] = c.site(m["site"])
    for i, p in enumerate(case.get("procedures", [])):
        keys[p.get("id") or f"procedure-{i + 1}"] = _without_intent(c.proc, "procedure", p["name"])[0]
    for i, m in enumerate(case.get("medications", [])):
        keys[m.get("id") or f"medication-{i + 1}"] = _without_intent(c.drug, "medication", m["name"])[0]

    def timing(what: str, item: dict[str, Any], anchor: str | None = None) -> None:
        for key in ("date", "between"):
            value = item.get(key)
            if value is not None:
                value = tuple(str(v) for v in value) if isinstance(value, list) else str(value)
                out[("calendar dates", what, value)] += 1
        rel = item.get("relative")
        if rel:
            # 'the orbit 14 years after the breast' and 'the breast 14 years before the orbit' are one fact
            other = keys.get(rel["to"], rel["to"])
            if rel.get("after"):
                out[("relative times", other, what, rel["after"])] += 1
            else:
                out[("relative times", what, other, rel.get("before"))] += 1
        if item.get("age") is not None and anchor:
            out[("age", float(item["age"]), anchor)] += 1

    def markers(item: dict[str, Any], target: str) -> None:
        for name, value in (item.get("receptors") or {}).items():
            out[("ER/PR/HER2", name.upper(), fold(str(value)), target)] += 1
        for mk in item.get("markers", []):
            name = c.marker(mk["name"])
            family = "ER/PR/HER2" if name in _RECEPTORS else "other markers"
            if mk.get("result"):
                out[(family, name, fold(mk["result"]), target)] += 1
            for key in ("percent", "allred", "h_score"):
                if mk.get(key) is not None:
                    out[(family, name, f"{key} {float(mk[key]):g}", target)] += 1

    source = (case.get("case") or {}).get("source") or {}
    for key in ("doi", "pmid"):
        if source.get(key):
            out[("citation", key, str(source[key]).strip().lower())] += 1
    patient = case.get("patient", {})
    if patient.get("sex") not in (None, "unknown"):
        out[("patient", "sex", patient["sex"])] += 1
    for key in ("ethnicity", "nationality"):
        if patient.get(key):
            out[("patient", "ethnicity", fold(patient[key]))] += 1
    if patient.get("age_at_diagnosis") is not None:
        out[("age", float(patient["age_at_diagnosis"]), "primary")] += 1
    for g in patient.get("germline", []):
        out[("patient", "germline", g["gene"].upper(), fold(g["result"]))] += 1
    for key in ("menopausal_status", "ecog"):
        if patient.get(key) is not None:
            out[("patient", key, str(patient[key]))] += 1
    vs = patient.get("vital_status")
    if vs:
        out[("death", bool(vs.get("deceased")))] += 1
        for key in ("date", "relative"):
            if vs.get(key):
                rel = vs[key]
                if isinstance(rel, dict):
                    direction = "after" if rel.get("after") else "before"
                    rel = (keys.get(rel["to"], rel["to"]), direction, rel.get(direction))
                out[("death", key, str(rel))] += 1
        if vs.get("age") is not None:
            out[("death", "age", float(vs["age"]))] += 1
    for p in case.get("primary_cancers", []):
        what = c.site(p["site"])
        out[("primary", "site", what)] += 1
        if p.get("laterality"):
            out[("primary", "side", what, p["laterality"])] += 1
        if p.get("histology"):
            out[("histology", c.hist(p["histology"]), "primary")] += 1
        if p.get("stage"):
            s = parse_stage(p["stage"])
            out[("primary", "stage", s.group, s.t, s.n, s.m)] += 1
        for key in ("clinical_status", "certainty"):
            if p.get(key):
                out[("primary", key, p[key])] += 1
        if p.get("occult"):
            out[("primary", "occult")] += 1
        markers(p, "primary")
        timing(what, p, "primary")
    for m in case.get("metastases", []):
        what = c.site(m["site"])
        out[("metastatic sites", what, m.get("laterality"))] += 1
        if m.get("laterality"):
            out[("side of a metastasis", what, m["laterality"])] += 1
        if m.get("histology"):
            out[("histology", c.hist(m["histology"]), what)] += 1
        for term in {_EVIDENCE_KIND.get(c.obs(t), c.obs(t)) for t in m.get("confirmed_by", [])}:
            out[("confirmation", what, term)] += 1
        if m.get("misdiagnosis"):
            out[("confirmation", what, "misdiagnosis")] += 1
        markers(m, what)
        timing(what, m, "metastasis")
    for kind, items, name_of in (
        ("procedure", case.get("procedures", []), c.proc),
        ("medication", case.get("medications", []), c.drug),
    ):
        for p in items:
            what, intent = _without_intent(name_of, kind, p["name"])
            if intent and not p.get("intent"):
                p = {**p, "intent": intent}
            out[("treatments", kind, what, _GIVEN.get(p.get("status", ""), "given"))] += 1
            for key in ("body_site", "intent", "dose_gy", "fractions", "nodes_examined", "nodes_positive",
                        "line", "cycles", "dose", "route", "frequency", "response"):  # fmt: skip
                if p.get(key) is None:
                    continue
                value = p[key]
                if key == "body_site":
                    value = c.site(value)
                elif key == "response":
                    value = c.obs(value)
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    value = float(value)
                else:
                    value = fold(str(value))
                out[("treatment details", what, key, value)] += 1
            timing(what, p)
    for d in case.get("disease_status", []):
        out[("disease status", c.obs(d["status"]))] += 1
    for fact in out:
        if fact[0] == "age":
            out[fact] = 1  # an age is one fact however many metastases it dates
    return out


@dataclass
class Tally:
    """True positives, false positives and false negatives per field family."""

    tp: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)
    misses: list[tuple[str, str, tuple]] = field(default_factory=list)

    def add(self, name: str, drafted: Counter, gold: Counter) -> None:
        for fact in set(drafted) | set(gold):
            family = fact[0]
            hit = min(drafted[fact], gold[fact])
            self.tp[family] += hit
            self.fp[family] += drafted[fact] - hit
            self.fn[family] += gold[fact] - hit
            if drafted[fact] > hit:
                self.misses.append((name, "extra", fact))
            if gold[fact] > hit:
                self.misses.append((name, "missed", fact))

    def row(self, family: str | None = None) -> tuple[int, int, int, float | None, float | None]:
        if family is None:
            tp, fp, fn = (
                sum(v for k, v in c.items() if k not in DERIVED) for c in (self.tp, self.fp, self.fn)
            )
        else:
            tp, fp, fn = self.tp[family], self.fp[family], self.fn[family]
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        return tp, fp, fn, precision, recall
