"""Treatments: procedures (with site, intent, dose, nodes) and drugs (with intent, line, cycles, dose, response)."""

from __future__ import annotations

import re
from typing import Any

from ...terminology import fold
from .. import values
from .place import CaseDraft

_CLASS_GAP = re.compile(
    r"^[\s,:(]*(?:(?:was|were|is)\s+)?(?:started|given|treated|initiated|consisting|including|comprising)?"
    r"\s*(?:with|of|using|:)?\s*$",
    re.I,
)


def read_procedures(b: CaseDraft) -> None:
    for m in b.mentions:
        if m.label != "PROCEDURE":
            continue
        if m.negated:
            b.add_review(m.text, "a procedure ConText reads as negated", m.start, m.end)
            continue
        concept = m.target.concept
        name = fold(m.text)
        if concept is not None and (m.text.isupper() or name not in {fold(t) for t in concept.terms}):
            # An abbreviation or an added spelling: written as the map term it stands for.
            aliases = {fold(k): v for k, v in b.rules["aliases"].items()}
            name = aliases.get(name, concept.terms[0]) if not m.text.isupper() else concept.terms[0]
        elif concept is None:
            name = m.target.term
        if any(p["_concept"] == m.target.term and p["_sentence"] == m.sentence for p in b.procedures):
            continue  # one procedure named twice in a sentence: 'radiation therapy (RT)'
        item: dict[str, Any] = {"_concept": m.target.term, "_sentence": m.sentence,
                                "_kind": concept.kind if concept else "surgery"}  # fmt: skip
        base = fold(name).replace(" ", "-")
        ids = {p["id"] for p in b.procedures}
        pid = (
            base
            if base not in ids
            else f"{base}-{sum(1 for p in b.procedures if p['id'].startswith(base)) + 1}"
        )
        item["id"] = pid
        b.put(item, "name", name, m.start, m.end, "procedure-term")
        if m.hypothetical:
            b.put(item, "status", "preparation", m.start, m.end, "context-hypothetical", 0.6)
        intent = b.intent(m)
        if intent:
            b.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        site = b.site_for(m)
        if (
            site is not None
            and item["_kind"] in ("biopsy", "surgery", "radiotherapy")
            and not b.is_breast(site)
            and "breast" not in m.text.lower()
        ):
            b.put(item, "body_site", site.target.term, site.start, site.end, "site-in-sentence", 0.6)
            key = fold(site.target.term).replace(" ", "-")
            if key in b.mets and item["_kind"] != "biopsy":
                item["treats"] = [key]
        elif site is not None and item["_kind"] == "biopsy" and b.is_breast(site):
            b.put(item, "body_site", "breast", site.start, site.end, "site-in-sentence", 0.6)
        if item["_kind"] == "radiotherapy":
            gy, fr = values.radiotherapy_dose(text)
            if gy:
                b.put(item, "dose_gy", gy.value, s0 + gy.start, s0 + gy.end, "dose-pattern")
            if fr:
                b.put(item, "fractions", fr.value, s0 + fr.start, s0 + fr.end, "fractions-pattern")
        if "axillary" in fold(m.target.term) or "dissection" in fold(m.target.term):
            for j in (m.sentence, m.sentence + 1):
                if j < len(b.sentences):
                    n = values.nodes(b.sent_text(j))
                    if n:
                        sj = b.sentences[j][0]
                        b.put(
                            item,
                            "nodes_positive",
                            n.value[0],
                            sj + n.start,
                            sj + n.end,
                            "nodes-pattern",
                            0.8,
                        )
                        b.put(
                            item,
                            "nodes_examined",
                            n.value[1],
                            sj + n.start,
                            sj + n.end,
                            "nodes-pattern",
                            0.8,
                        )
                        break
        b.when(item, m.sentence)
        b.procedures.append(item)


def read_medications(b: CaseDraft) -> None:
    drugs = [m for m in b.mentions if m.label == "DRUG"]
    for k, m in enumerate(drugs):
        concept = m.target.concept
        if m.negated:
            b.add_review(m.text, "a drug ConText reads as negated", m.start, m.end)
            continue
        nxt = drugs[k + 1] if k + 1 < len(drugs) else None
        if concept is not None and not concept.codings and nxt is not None and nxt.sentence == m.sentence:
            gap = b.text[m.end : nxt.start]
            kin = (
                nxt.target.concept is not None
                and nxt.target.concept.kind in (concept.kind, None)
                or concept.kind == "other"
            )
            if kin and _CLASS_GAP.match(gap):
                continue  # a class named with its drug: 'hormonal therapy fulvestrant', '... with letrozole'
        name = m.target.term
        intent = b.intent(m)
        line = None
        lm = re.search(r"\b(\w+)[- ]line\s*$", b.text[max(0, m.start - 20) : m.start], re.I)
        if lm and lm.group(1).lower() in b.rules["lines"]:
            line = b.rules["lines"][lm.group(1).lower()]
        same = [
            x
            for x in b.meds
            if x["name"] == name
            and (x.get("intent") == (intent[0] if intent else None) or not intent)
            and x.get("line") == line
        ]
        if same:
            item = same[0]
        else:
            item = {"_sentence": m.sentence}
            b.put(item, "name", name, m.start, m.end, "drug-term")
            b.meds.append(item)
        if intent:
            b.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
        if line:
            b.put(item, "line", line, m.start - 20, m.end, "line-word", 0.8)
        if m.hypothetical:
            refused = re.search(r"\b(refused|declined)\b", b.sent_text(m.sentence), re.I)
            b.put(item, "status", "not-taken" if refused else "intended", m.start, m.end,
                     "context-hypothetical", 0.6)  # fmt: skip
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        for word in sorted(b.rules["responses"], key=len, reverse=True):
            pos = text.lower().find(word)
            if pos >= 0 and word != "positive response":
                b.put(item, "response", re.sub(r"^good ", "", word), s0 + pos, s0 + pos + len(word),
                         "response-words", 0.6)  # fmt: skip
                for st in b.in_sentence(m.sentence, "STATUS"):
                    if st.start <= s0 + pos + len(word) and st.end >= s0 + pos:
                        b.used_status.add(st.start)
                break
        one_drug = len(b.in_sentence(m.sentence, "DRUG")) == 1
        if one_drug:
            for key, f in (("cycles", values.cycles(text)), ("dose", values.dose(text)),
                           ("frequency", values.frequency(text)), ("route", values.route(text))):  # fmt: skip
                if f:
                    b.put(item, key, f.value, s0 + f.start, s0 + f.end, f"{key}-pattern", 0.7)
        b.when(item, m.sentence)
