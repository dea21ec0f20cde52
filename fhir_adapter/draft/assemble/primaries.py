"""The primary cancer: site, side, stage, diagnosis date and age, receptor shorthand, histology, time before a metastasis."""

from __future__ import annotations

import re

from ...terminology import fold
from .. import values
from .place import DIAGNOSED, LATER, SIDE_BEFORE, SIDE_IN, CaseDraft, Evidence

_GENERIC_HISTOLOGY = {"carcinoma", "adenocarcinoma"}
_GRADE = re.compile(r"\b((?:poorly|moderately|well)[- ]differentiated)\s+$", re.I)


def read_primary(b: CaseDraft) -> bool:
    p = b.primary
    cands = [m for m in b.mentions if m.label == "PRIMARY" or (m.label == "SITE" and b.is_breast(m))]
    hist = [m for m in b.mentions if m.label == "HISTOLOGY" and not m.negated]
    if not cands and not hist:
        return False
    site_m = next((m for m in cands if not m.negated), cands[0] if cands else None)
    if site_m is not None:
        concept = site_m.target.concept
        site = "breast" if b.is_breast(site_m) else (concept.terms[0] if concept else site_m.target.term)
        b.put(p, "id", fold(site).replace(" ", "-"), site_m.start, site_m.end, "primary-term")
        b.put(p, "site", site, site_m.start, site_m.end, "primary-term")
    else:
        implied = {fold(k): v for k, v in b.rules["implied_site"].items()}
        h = next((m for m in hist if fold(m.target.term) in implied), None)
        if h is None:
            b.add_review(
                hist[0].text, "a histology but no primary site was named", hist[0].start, hist[0].end
            )
            return False
        site = implied[fold(h.target.term)]
        b.put(p, "id", fold(site).replace(" ", "-"), h.start, h.end, "site-implied-by-histology", 0.6)
        b.put(p, "site", site, h.start, h.end, "site-implied-by-histology", 0.6)
        b.add_review(f"site: {site}", f"not named; implied by the histology '{h.text}'", h.start, h.end)
    for m in cands:
        side = SIDE_IN.match(m.text)
        before = SIDE_BEFORE.search(b.text[max(0, m.start - 20) : m.start])
        word = side.group(1) if side else before.group(1) if before else None
        if word:
            side_value = "bilateral" if word.lower() in ("both", "bilateral") else word.lower()
            b.put(p, "laterality", side_value, m.start - (0 if side else 20), m.end, "side-word")
            break
    uncertain = [m for m in cands if m.uncertain]
    if cands and len(uncertain) == len(cands):
        b.put(p, "certainty", "provisional", uncertain[0].start, uncertain[0].end, "context-uncertain", 0.6)
    historical = any(m.historical for m in cands + hist)
    for i in sorted({m.sentence for m in cands + hist}):
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        st = values.stage(text)
        if st:
            b.put(p, "stage", st.value, s0 + st.start, s0 + st.end, "stage-pattern")
        if DIAGNOSED.search(text):
            for d in values.dates(text):
                b.put(p, "date", d.value, s0 + d.start, s0 + d.end, "diagnosis-date", 0.8)
                break
    list(_shorthand(b))
    if b.presenting_age and not historical and "relative" not in p:
        age, s, e, _ = b.presenting_age
        b.put(p, "age", age, s, e, "presenting-age", 0.6)
    if b.rules.local_recurrence.search(b.text):
        m = b.rules.local_recurrence.search(b.text)
        b.put(p, "clinical_status", "recurrence", m.start(), m.end(), "local-recurrence")
    return True


def _shorthand(b: CaseDraft):
    for rule in b.rules["receptor_shorthand"]:
        for m in re.finditer(rule["pattern"], b.text, re.I):
            if "note" in rule:
                note = rule["note"].replace("{1}", m.group(1))
                b.put(b.primary, "note", note, m.start(), m.end(), "receptor-shorthand", 0.8)
            elif "marker" in rule:
                item = {"name": rule["marker"], "result": rule["result"]}
                b.primary.setdefault("markers", []).append(item)
                b.evidence.append(
                    Evidence(
                        item,
                        "name",
                        item["name"],
                        m.start(),
                        m.end(),
                        b.sent_of(m.start()),
                        "receptor-shorthand",
                        0.8,
                    )
                )
                b.evidence.append(Evidence(item, "result", item["result"], m.start(), m.end(),
                                              b.sent_of(m.start()), "receptor-shorthand", 0.8))  # fmt: skip
            else:
                rec = b.primary.setdefault("receptors", {})
                for key in ("er", "pr", "her2"):
                    b.put(rec, key, rule[key], m.start(), m.end(), "receptor-shorthand", 0.8)
            yield m


def read_histology(b: CaseDraft) -> None:
    for m in b.mentions:
        if m.label != "HISTOLOGY":
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a histology ConText reads as negated or hypothetical", m.start, m.end)
            continue
        grade = _GRADE.search(b.text[max(0, m.start - 30) : m.start])
        term = m.target.term
        concept = m.target.concept
        if concept is not None and not m.text.isupper() and fold(m.text) in {fold(t) for t in concept.terms}:
            term = fold(m.text)  # a synonym of the map is kept as the report writes it
        written = f"{grade.group(1).lower()} {term}" if grade else term
        start = m.start - (len(grade.group(0)) if grade else 0)
        generic = fold(m.target.term) in _GENERIC_HISTOLOGY
        said_metastatic = re.search(
            r"\bmetasta\w*\s+(?:\w+\s+){0,2}$", b.text[max(0, start - 30) : start], re.I
        )
        mets_here = []
        if generic or said_metastatic:
            for back in (0, 1, 2) if generic else (0,):
                keys = b.met_keys_in(m.sentence - back) if m.sentence - back >= 0 else []
                if keys:
                    mets_here = [b.mets[k] for k in keys]
                    break
        for met in mets_here:
            b.put(met, "histology", written, start, m.end, "histology-with-metastasis", 0.7)
        if (not generic or not mets_here) and b.primary:
            b.put(b.primary, "histology", written, start, m.end, "histology-term",
                     0.9 if not generic else 0.6)  # fmt: skip


def primary_before(b: CaseDraft) -> None:
    """'diagnosed 10 years ago': the primary timed before the first metastasis."""
    if not b.mets or not b.primary:
        return
    first = next(iter(b.mets.values()))
    for i in range(len(b.sentences)):
        text = b.sent_text(i)
        for m in LATER.finditer(text):
            if m.group(3).lower() in ("before", "ago") and DIAGNOSED.search(text[: m.start()]):
                n = values.number(m.group(1))
                interval = f"{n:g} {m.group(2).lower()}{'s' if n != 1 else ''}"
                s0 = b.sentences[i][0]
                if "date" not in b.primary:
                    b.primary.pop("age", None)
                    b.put(b.primary, "relative", {"to": first["id"], "before": interval},
                             s0 + m.start(), s0 + m.end(), "interval-before-diagnosis", 0.7)  # fmt: skip
                return
