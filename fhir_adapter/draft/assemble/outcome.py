"""The outcome: disease statuses and the timing of death."""

from __future__ import annotations

from typing import Any

from .. import values
from .place import LATER, CaseDraft, Evidence


def read_status(b: CaseDraft) -> None:
    for m in b.mentions:
        if m.label != "STATUS" or m.start in b.used_status:
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a disease status ConText reads as negated or hypothetical", m.start, m.end)
            continue
        status = m.target.term
        if any(s["status"] == status for s in b.statuses):
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


def death_timing(b: CaseDraft) -> None:
    vs = b.patient.get("vital_status")
    if not vs:
        return
    for ev in b.evidence:
        if ev.item is vs:
            i = ev.sentence
            m = LATER.search(b.sent_text(i))
            if m and "diagnos" in m.group(3).lower() and b.primary.get("id"):
                n = values.number(m.group(1))
                s0 = b.sentences[i][0]
                b.put(vs, "relative", {"to": b.primary["id"], "after": f"{n:g} {m.group(2).lower()}s"
                         if n != 1 else f"1 {m.group(2).lower()}"}, s0 + m.start(), s0 + m.end(),
                         "interval-after-diagnosis", 0.7)  # fmt: skip
            break
