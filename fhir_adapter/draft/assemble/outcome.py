"""The outcome: disease statuses, and whether the patient died and when."""

from __future__ import annotations

import re
from typing import Any

from .place import INTERVAL, CaseDraft, Evidence, interval_of


def read_status(b: CaseDraft) -> None:
    """Each disease status the story states, with the evidence words of its sentence."""
    for m in b.mentions:
        if m.label != "STATUS" or m.start in b.used_status:
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a disease status ConText reads as negated or hypothetical", m.start, m.end)
            continue
        status = m.target.term
        if any(s["status"] == status for s in b.statuses):
            continue
        head = b.text[b.clause_start(m.start) : m.start]
        head = re.split(r"[,;]|\band\b|\bbut\b", head)[-1]
        if _SYMPTOM_SUBJECT.search(head):
            continue  # 'her vision was stable': the eye's function, not the disease
        to = _RESPONDED_TO.match(b.text[m.end : m.end + 30]) if re.search(r"respon", m.text, re.I) else None
        if to and not any(
            x.label in ("DRUG", "PROCEDURE") and x.start >= m.end + to.end() - 1
            for x in b.in_sentence(m.sentence)
            if x.start < m.end + 60
        ):
            continue  # 'difficulty swallowing that did not respond to a proton pump inhibitor': no cancer treatment
        treated = _treatment_of(b, m)
        if treated is not None:
            item, drug = treated
            b.put(item, "response", status, m.start, m.end, "status-of-treatment", 0.6)
            continue  # 'gone into remission with chemotherapy': that treatment's response
        if b.flashback_at(m.start) and not b.in_sentence(m.sentence, "DEATH"):
            b.add_review(m.text, "a disease status of the past history, not of the case now", m.start, m.end)
            continue
        item: dict[str, Any] = {}
        b.put(item, "status", status, m.start, m.end, "status-term", 0.7)
        if b.primary.get("id"):
            item["about"] = b.primary["id"]
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        for c in b.rules.confirmation.finditer(text):
            term = b.evidence_term(c.group(1))
            if term and term not in item.setdefault("evidence", []):
                item["evidence"].append(term)
                b.evidence.append(Evidence(item, "evidence", term, s0 + c.start(), s0 + c.end(),
                                           m.sentence, "confirmation-word", 0.6))  # fmt: skip
        if not item.get("evidence"):
            item.pop("evidence", None)
        b.statuses.append(item)


_SYMPTOM_SUBJECT = re.compile(
    r"\b(?:vision|sight|acuity|pain|symptoms?|headaches?|quality of life|eye felt|appetite|function|swallowing|"
    r"dysphagia|dyspepsia|cough|breathing|dyspn\w*|nausea|vomiting|diarrh\w*|jaundice|fatigue|bleeding|mobility)\b",
    re.I,
)
# 'did not respond to a proton pump inhibitor': a response to something named, not to 'treatment' in general
_RESPONDED_TO = re.compile(
    r"^\s*(?:well\s+|poorly\s+)?to\s+(?!(?:the\s+|her\s+|his\s+|any\s+)?(?:treatment|therapy)\b)", re.I
)
# 'remission with chemotherapy', 'responded well to letrozole', 'regressed after radiotherapy'
_LINKS_TREATMENT = re.compile(
    r"^\s*(?:\w+\s+){0,2}?(?:with|to|after|following|on|under|from)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,2}?$",
    re.I,
)


def _treatment_of(b: CaseDraft, m) -> tuple[dict[str, Any], Any] | None:
    """The treatment a status word is said of in its own clause ('remission with chemotherapy'), if any.

    'After chemotherapy her disease stabilized' tells the disease's status after it, not a response of its own.
    """
    for x in b.in_sentence(m.sentence):
        if x.label not in ("DRUG", "PROCEDURE"):
            continue
        gap = b.text[m.end : x.start]
        if not (x.start >= m.end and x.start - m.end <= 40 and _LINKS_TREATMENT.match(gap)):
            continue
        if re.search(r"\b(?:year|month|week|day)s?\s+(?:after|following)\b", gap, re.I):
            continue  # 'free of disease 15 years after a pancreatectomy': a time, not a response
        items = b.meds if x.label == "DRUG" else b.procedures
        for item in items:
            ev = b.ev_of(item, "name")
            if ev is not None and ev.start == x.start:
                return item, x
    return None


def read_new_disease(b: CaseDraft) -> None:
    """New metastases later in the story ('new small choroidal metastases then appeared'): the disease progressed."""
    if any(s["status"] == "progressive" for s in b.statuses):
        return
    pattern = re.compile(b.rules["new_disease"], re.I)
    first = b.story()[0] if b.story() else 0
    for i in b.story():
        if i == first or b.flashback[i]:
            continue
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for m in pattern.finditer(text):
            if re.search(
                r"\b(?:no|without|nor|free of)\s+(?:\w+\s+){0,2}$",
                text[max(0, m.start() - 25) : m.start()],
                re.I,
            ):
                continue  # 'no new lesions': nothing new
            item: dict[str, Any] = {}
            b.put(item, "status", "progressive", s0 + m.start(), s0 + m.end(), "new-disease", 0.6)
            if b.primary.get("id"):
                item["about"] = b.primary["id"]
            b.statuses.append(item)
            return


def read_death(b: CaseDraft) -> None:
    """Death: a death word of the story that is not negated, planned or refused; its time when the text gives it."""
    for m in b.mentions:
        if m.label != "DEATH":
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a death word that ConText reads as negated or hypothetical", m.start, m.end)
            continue
        vs = b.patient.setdefault("vital_status", {})
        if not b.put(vs, "deceased", True, m.start, m.end, "death-word"):
            continue
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        for iv in INTERVAL.finditer(text[m.start - s0 :]):
            how = iv.group(3).lower()
            if how in ("before", "earlier", "ago", "previously") or how.startswith("prior"):
                continue
            base = m.start
            words = how + text[m.start - s0 + iv.end() : m.start - s0 + iv.end() + 60]
            if how == "later" and not re.match(r"^later\s+(?:than|after)", words):
                words = "after " + _previous_event(b, m)
            to = b.anchor_for(words, m.sentence)
            if to:
                b.put(vs, "relative", {"to": to, "after": interval_of(iv)},
                      base + iv.start(), base + iv.end(), "interval-of-death", 0.7)  # fmt: skip
            break


def _previous_event(b: CaseDraft, m) -> str:
    """What 'died three weeks later' counts from: the procedure its sentence or the one before names."""
    for i in (m.sentence, m.sentence - 1):
        if i < 0:
            continue
        text = b.sent_text(i).lower()
        if re.search(r"\bprocedure\b", text):
            return "the procedure"
        if re.search(r"\b(?:operation|surgery|biops\w*|excision|resection)\b", text):
            return "the biopsy" if "biops" in text else "the operation"
    return "diagnosis"
