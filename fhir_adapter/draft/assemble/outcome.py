"""The outcome: disease statuses, and whether the patient died and when."""

from __future__ import annotations

import re
from typing import Any

from .place import INTERVAL, CaseDraft, Evidence, interval_text


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
        if re.search(
            r"\b(?:vision|sight|acuity|pain|symptoms?|headaches?|quality of life|eye felt|appetite|function)\b",
            head,
            re.I,
        ):
            continue  # 'her vision was stable': the eye's function, not the disease
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
                b.put(vs, "relative", {"to": to, "after": interval_text(iv.group(1), iv.group(2))},
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
