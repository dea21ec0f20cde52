"""Scoring a draft against a hand-written gold case file, fact by fact (for the benchmark and its tests).

A fact is a small tuple (kind, ...) read from a case-file dict; names are compared through the
terminology maps, so 'IDC' and 'invasive ductal carcinoma', or 'lungs' and 'lung', are one fact.
Where a fact sits (on the primary or on a metastasis) is not compared, only what it says.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..mapping.staging import parse_stage
from ..terminology import Terminology, fold

_GRADE = re.compile(r"^(poorly|moderately|well)[- ]differentiated\s+")
KINDS = (
    "sex", "age", "ethnicity", "primary_site", "laterality", "histology", "stage", "marker",
    "metastasis", "confirmed_by", "misdiagnosis", "timing", "procedure", "procedure_detail",
    "medication", "medication_detail", "disease_status", "vital_status", "germline", "other",
)  # fmt: skip


def _canon(terminology: Terminology, domains: tuple[str, ...], term: str) -> str:
    for domain in domains:
        concept = terminology.lookup(domain, term)
        if concept is not None:
            return fold(concept.terms[0])
    return fold(term)


def facts_of(case: dict[str, Any], terminology: Terminology) -> Counter:
    """The facts a case-file dict states, counted (two radiotherapy courses are two facts)."""
    out: Counter = Counter()

    def site(t: str) -> str:
        return _canon(terminology, ("secondary_cancers", "body_sites", "primary_cancers"), t)

    def proc(t: str) -> str:
        return _canon(terminology, ("procedures",), t)

    def drug(t: str) -> str:
        return _canon(terminology, ("medications",), t)

    def obs(t: str) -> str:
        return _canon(terminology, ("observations",), t)

    def hist(t: str) -> str:
        return _canon(terminology, ("histology",), _GRADE.sub("", fold(t)))

    keys: dict[str, str] = {}
    for i, p in enumerate(case.get("primary_cancers", [])):
        keys[p.get("id") or f"primary-{i + 1}"] = site(p["site"])
    for i, m in enumerate(case.get("metastases", [])):
        keys[m.get("id") or f"metastasis-{i + 1}"] = site(m["site"])
    for i, p in enumerate(case.get("procedures", [])):
        keys[p.get("id") or f"procedure-{i + 1}"] = proc(p["name"])
    for i, m in enumerate(case.get("medications", [])):
        keys[m.get("id") or f"medication-{i + 1}"] = drug(m["name"])

    def timing(what: str, item: dict[str, Any]) -> None:
        for key in ("date", "between", "timing"):
            if item.get(key) is not None:
                value = item[key]
                out[
                    (
                        "timing",
                        what,
                        key,
                        tuple(str(v) for v in value) if isinstance(value, list) else str(value),
                    )
                ] += 1
        rel = item.get("relative")
        if rel:
            direction = "after" if rel.get("after") else "before"
            out[
                ("timing", what, "relative", keys.get(rel["to"], rel["to"]), direction, rel.get(direction))
            ] += 1
        if item.get("age") is not None:
            out[("age", float(item["age"]))] += 1

    def markers(item: dict[str, Any]) -> None:
        for name, value in (item.get("receptors") or {}).items():
            out[("marker", name.upper(), fold(str(value)))] += 1
        for mk in item.get("markers", []):
            name = fold(mk["name"]).upper().replace(" ", "")
            name = {"ESTROGENRECEPTOR": "ER", "PROGESTERONERECEPTOR": "PR"}.get(name, name)
            if mk.get("result"):
                out[("marker", name, fold(mk["result"]))] += 1
            if mk.get("percent") is not None:
                out[("marker", name, f"{float(mk['percent']):g}%")] += 1

    patient = case.get("patient", {})
    if patient.get("sex") not in (None, "unknown"):
        out[("sex", patient["sex"])] += 1
    for key in ("ethnicity", "nationality"):
        if patient.get(key):
            out[("ethnicity", fold(patient[key]))] += 1
    if patient.get("age_at_diagnosis") is not None:
        out[("age", float(patient["age_at_diagnosis"]))] += 1
    for g in patient.get("germline", []):
        out[("germline", g["gene"].upper(), fold(g["result"]))] += 1
    for key in ("menopausal_status", "ecog"):
        if patient.get(key) is not None:
            out[("other", key, str(patient[key]))] += 1
    vs = patient.get("vital_status")
    if vs:
        out[("vital_status", bool(vs.get("deceased")))] += 1
        timing("death", vs)
    for p in case.get("primary_cancers", []):
        what = site(p["site"])
        out[("primary_site", what)] += 1
        if p.get("laterality"):
            out[("laterality", "primary", p["laterality"])] += 1
        if p.get("histology"):
            out[("histology", hist(p["histology"]))] += 1
        if p.get("stage"):
            s = parse_stage(p["stage"])
            out[("stage", s.group, s.t, s.n, s.m)] += 1
        for key in ("clinical_status", "certainty"):
            if p.get(key):
                out[("other", "primary", key, p[key])] += 1
        markers(p)
        timing(what, p)
    for m in case.get("metastases", []):
        what = site(m["site"])
        out[("metastasis", what)] += 1
        if m.get("laterality"):
            out[("laterality", what, m["laterality"])] += 1
        if m.get("histology"):
            out[("histology", hist(m["histology"]))] += 1
        for term in m.get("confirmed_by", []):
            out[("confirmed_by", what, obs(term))] += 1
        if m.get("misdiagnosis"):
            out[("misdiagnosis", what)] += 1
        markers(m)
        timing(what, m)
    for p in case.get("procedures", []):
        what = proc(p["name"])
        out[("procedure", what)] += 1
        for key in ("body_site", "intent", "dose_gy", "fractions", "nodes_examined", "nodes_positive"):
            if p.get(key) is not None:
                value = (
                    site(p[key])
                    if key == "body_site"
                    else fold(str(p[key]))
                    if key == "intent"
                    else float(p[key])
                )
                out[("procedure_detail", what, key, value)] += 1
        if p.get("status", "completed") != "completed":
            out[("procedure_detail", what, "status", p["status"])] += 1
        timing(what, p)
    for m in case.get("medications", []):
        what = drug(m["name"])
        out[("medication", what)] += 1
        for key in ("intent", "line", "cycles", "dose", "route", "frequency", "response"):
            if m.get(key) is not None:
                value = obs(m[key]) if key == "response" else fold(str(m[key]))
                out[("medication_detail", what, key, value)] += 1
        if m.get("status", "unknown") != "unknown":
            out[("medication_detail", what, "status", m["status"])] += 1
        timing(what, m)
    for d in case.get("disease_status", []):
        out[("disease_status", obs(d["status"]))] += 1
    for fact in out:
        if fact[0] == "age":
            out[fact] = 1  # an age is one fact however many items it times
    return out


@dataclass
class Tally:
    """True positives, false positives and false negatives per fact kind."""

    tp: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)
    misses: list[tuple[str, str, tuple]] = field(default_factory=list)

    def add(self, name: str, drafted: Counter, gold: Counter) -> None:
        for fact in set(drafted) | set(gold):
            kind = fact[0]
            hit = min(drafted[fact], gold[fact])
            self.tp[kind] += hit
            self.fp[kind] += drafted[fact] - hit
            self.fn[kind] += gold[fact] - hit
            if drafted[fact] > hit:
                self.misses.append((name, "extra", fact))
            if gold[fact] > hit:
                self.misses.append((name, "missed", fact))

    def row(self, kind: str | None = None) -> tuple[int, int, int, float | None, float | None]:
        if kind is None:
            tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        else:
            tp, fp, fn = self.tp[kind], self.fp[kind], self.fn[kind]
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        return tp, fp, fn, precision, recall
