"""Seeded synthetic oncology cases shaped like examples/: realistic terms from mappings/ plus some unmapped ones."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import yaml

from fhir_adapter.terminology import Terminology, load_terminology

CHUNK = 1000  # case files per subdirectory, so no directory listing grows with N

# Terms a registry export might hold that mappings/ does not code: they map to text with a warning.
UNMAPPED = {
    "primary_cancers": ["thyroid", "endometrium", "pancreas"],
    "histology": ["apocrine carcinoma", "secretory carcinoma"],
    "secondary_cancers": ["orbit", "spleen", "eyelid"],
    "procedures": ["oophorectomy", "stereotactic radiosurgery", "port placement"],
    "medications": ["sacituzumab govitecan", "alpelisib", "megestrol"],
    "results": ["weakly positive", "2+"],
    "status": ["mixed response", "not assessed"],
    "evidence": ["PET-CT review", "patient report"],
    "misdiagnosis": ["sebaceous cyst", "lipoma", "dermatitis", "osteoarthritis"],
}
ETHNICITIES = ["Chinese", "Japanese", "Hispanic", "White", "Black", "South Asian"]
NATIONALITIES = ["Chinese", "Korean", "Mexican", "Nigerian", "German", "Brazilian"]
STAGES = ["I", "IIA", "IIB", "IIIA", "IIIC", "IV", "pT2N1M0", "T4bN2M1"]
NOTES = [
    "Found on routine follow-up.",
    "Reported in the discussion section of the paper.",
    "Details as given in the abstract.",
]


def _terms(terminology: Terminology, domain: str, kind: str | None = None, coded: bool = False) -> list[str]:
    """The first term of each entry in a domain (optionally of one kind, or only coded ones)."""
    seen: dict[int, str] = {}
    for concept in terminology.domains[domain].values():
        if kind is not None and concept.kind != kind:
            continue
        if coded and not concept.codings:
            continue
        seen.setdefault(id(concept), concept.terms[0])
    return list(seen.values())


_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def _side_as_its_words(item: dict[str, Any], *fields: str) -> None:
    """An item's laterality as a side its words name ('right breast'): case files refuse the two
    disagreeing. Only the laterality changes, so the random draws, and every other case, stay as they were."""
    for name in fields:
        said = {m.lower() for m in _SIDE.findall(str(item.get(name) or ""))}
        if len(said) == 1 and "laterality" in item:
            item["laterality"] = said.pop()


class CaseGenerator:
    """Makes case dicts like examples/*.yaml: 1 patient, 1-2 primaries, 1-4 metastases, 1-3 procedures,
    2-5 medications, 0-2 disease statuses, partial dates or ages, receptors, bilateral primaries now
    and then, and about one term in eight outside the maps."""

    def __init__(self, seed: int = 1, terminology: Terminology | None = None):
        self.rng = random.Random(seed)
        t = terminology or load_terminology()
        self.primary_sites = _terms(t, "primary_cancers")
        self.breast_sites = [s for s in self.primary_sites if "breast" in s]
        self.body_sites = _terms(t, "body_sites", kind="breast")
        self.histology = _terms(t, "histology")
        self.secondary = _terms(t, "secondary_cancers")
        self.procedures = _terms(t, "procedures")
        self.medications = _terms(t, "medications")
        self.results = _terms(t, "observations", kind="result")
        self.status = _terms(t, "observations", kind="status-value")
        self.evidence = _terms(t, "observations", kind="evidence")

    def _pick(self, terms: list[str], unmapped: str, p_unmapped: float = 0.12) -> str:
        if self.rng.random() < p_unmapped:
            return self.rng.choice(UNMAPPED[unmapped])
        return self.rng.choice(terms)

    def _when(self, year: int, age: float | None) -> dict[str, Any]:
        """A date as precise as a report gives it (year, month or day), else an age, else nothing."""
        r = self.rng.random()
        if r < 0.3:
            return {"date": str(year)}
        if r < 0.55:
            return {"date": f"{year}-{self.rng.randint(1, 12):02d}"}
        if r < 0.8:
            return {"date": f"{year}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"}
        if r < 0.95 and age is not None:
            return {"age": age}
        return {}

    def case(self, index: int) -> dict[str, Any]:
        rng = self.rng
        sex = "female" if rng.random() < 0.92 else "male"
        # Diagnoses up to 2015: every later event (up to 8 years on) is then in the past, as a
        # case file's dates must be.
        dx_year = rng.randint(1990, 2015)
        dx_age = rng.randint(28, 80)
        case: dict[str, Any] = {
            "case": {"id": f"synth-{index:06d}", "summary": f"Synthetic case {index} for benchmarks."},
        }
        if rng.random() < 0.3:
            case["case"]["source"] = {"doi": f"10.5555/synth.{index}", "pmid": str(30000000 + index)}
        patient: dict[str, Any] = {"sex": sex}
        if rng.random() < 0.5:
            patient["age_at_diagnosis"] = dx_age
        if rng.random() < 0.5:
            patient["ethnicity"] = rng.choice(ETHNICITIES)
        if rng.random() < 0.3:
            patient["nationality"] = rng.choice(NATIONALITIES)
        if rng.random() < 0.4:
            deceased = rng.random() < 0.6
            vital: dict[str, Any] = {"deceased": deceased}
            if deceased and rng.random() < 0.5:
                vital["date"] = str(dx_year + 8)
            patient["vital_status"] = vital
        case["patient"] = patient

        primaries = []
        for n in range(1 if rng.random() < 0.75 else 2):
            site = self._pick(
                self.breast_sites if rng.random() < 0.8 else self.primary_sites, "primary_cancers"
            )
            p: dict[str, Any] = {"id": f"p{n + 1}", "site": site}
            if rng.random() < 0.3:
                p["site_detail"] = rng.choice(self.body_sites)
            r = rng.random()
            if r < 0.1:
                p["laterality"] = "bilateral"
            elif r < 0.8:
                p["laterality"] = rng.choice(["left", "right"])
            if rng.random() < 0.8:
                p["histology"] = self._pick(self.histology, "histology")
            if rng.random() < 0.6:
                p["receptors"] = {
                    k: self._pick(self.results + ["low"], "results")
                    for k in ("er", "pr", "her2")
                    if rng.random() < 0.85
                }
            if rng.random() < 0.5:
                p["stage"] = rng.choice(STAGES)
            when = self._when(dx_year, dx_age)
            p.update(when)
            if rng.random() < 0.15:
                p["clinical_status"] = rng.choice(["recurrence", "remission", "relapse"])
            if rng.random() < 0.2:
                p["note"] = rng.choice(NOTES)
            _side_as_its_words(p, "site", "site_detail")
            primaries.append(p)
        case["primary_cancers"] = primaries

        metastases = []
        for n in range(rng.randint(1, 4)):
            primary = rng.choice(primaries)
            m: dict[str, Any] = {"id": f"m{n + 1}", "site": self._pick(self.secondary, "secondary_cancers")}
            if len(primaries) > 1 or rng.random() < 0.5:
                m["primary"] = primary["id"]
            if primary.get("laterality") == "bilateral" and rng.random() < 0.5:
                m["primary_side"] = rng.choice(["left", "right"])
            if rng.random() < 0.2:
                m["laterality"] = rng.choice(["left", "right"])
            # Never before the primary's diagnosis: a later year, or an older age.
            m.update(self._when(dx_year + rng.randint(1, 6), dx_age + rng.randint(1, 6)))
            if rng.random() < 0.7:
                m["confirmed_by"] = [self._pick(self.evidence, "evidence") for _ in range(rng.randint(1, 2))]
            if rng.random() < 0.15:
                m["misdiagnosis"] = rng.choice(UNMAPPED["misdiagnosis"])
            if rng.random() < 0.1:
                m["clinical_status"] = "remission"
            metastases.append(m)
        case["metastases"] = metastases
        cancer_ids = [p["id"] for p in primaries] + [m["id"] for m in metastases]

        procedures = []
        for n in range(rng.randint(1, 3)):
            proc: dict[str, Any] = {"name": self._pick(self.procedures, "procedures")}
            if rng.random() < 0.5:
                proc["id"] = f"proc{n + 1}"
            proc.update(self._when(dx_year + rng.randint(0, 3), dx_age + rng.randint(0, 3)))
            if rng.random() < 0.4:
                proc["body_site"] = rng.choice(self.body_sites)
                if rng.random() < 0.5:
                    proc["laterality"] = rng.choice(["left", "right"])
            if rng.random() < 0.6:
                proc["treats"] = rng.sample(cancer_ids, rng.randint(1, min(2, len(cancer_ids))))
            if rng.random() < 0.1:
                proc["status"] = rng.choice(["in-progress", "not-done", "stopped"])
            if rng.random() < 0.1:
                proc["note"] = rng.choice(NOTES)
            _side_as_its_words(proc, "name", "body_site")
            procedures.append(proc)
        case["procedures"] = procedures

        medications = []
        for _n in range(rng.randint(2, 5)):
            med: dict[str, Any] = {"name": self._pick(self.medications, "medications")}
            start = dx_year + rng.randint(0, 4)
            r = rng.random()
            if r < 0.4:
                med["date"] = str(start)
                if rng.random() < 0.5:
                    med["end_date"] = str(start + rng.randint(0, 3))
            elif r < 0.6:
                med["age"] = dx_age + rng.randint(0, 4)
            if rng.random() < 0.6:
                med["treats"] = rng.sample(cancer_ids, rng.randint(1, min(3, len(cancer_ids))))
            if rng.random() < 0.2:
                med["status"] = rng.choice(["active", "stopped"])
            medications.append(med)
        case["medications"] = medications

        statuses = []
        for _n in range(rng.choice([0, 1, 1, 2])):
            ds: dict[str, Any] = {"status": self._pick(self.status, "status")}
            ds.update(self._when(dx_year + rng.randint(2, 8), dx_age + rng.randint(2, 8)))
            if len(primaries) > 1 or rng.random() < 0.3:
                ds["about"] = rng.choice(cancer_ids)
            if rng.random() < 0.6:
                ds["evidence"] = [self._pick(self.evidence, "evidence") for _ in range(rng.randint(1, 2))]
            statuses.append(ds)
        if statuses:
            case["disease_status"] = statuses
        return case


def write_cases(root: Path, count: int, *, seed: int = 1, fmt: str = "json") -> Path:
    """Write `count` case files under root/cNNNNN/ (CHUNK per directory); return root."""
    gen = CaseGenerator(seed)
    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        chunk = root / f"c{index // CHUNK:05d}"
        if index % CHUNK == 0:
            chunk.mkdir(exist_ok=True)
        case = gen.case(index)
        if fmt == "yaml":
            text = yaml.safe_dump(case, sort_keys=False, allow_unicode=True)
            (chunk / f"case-{index:06d}.yaml").write_text(text, encoding="utf-8")
        else:
            (chunk / f"case-{index:06d}.json").write_text(json.dumps(case, indent=2), encoding="utf-8")
    return root


def write_ndjson(path: Path, count: int, *, seed: int = 1) -> Path:
    """Write the same `count` cases as write_cases, one JSON document a line, into one file."""
    gen = CaseGenerator(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            out.write(json.dumps(gen.case(index)) + "\n")
    return path
