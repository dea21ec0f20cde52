"""Metastases: each site with a metastasis cue, its side, how it was confirmed, what it was taken for, and when."""

from __future__ import annotations

import re

from ...terminology import fold
from .. import values
from .place import SIDE_AFTER, SIDE_BEFORE, SIDE_IN, CaseDraft, Evidence

_FOLLOW_UP = re.compile(r"\bfollow[- ]up\b[\w\s()-]*$", re.I)


def read_metastases(b: CaseDraft) -> None:
    for m in b.mentions:
        if m.label != "SITE" or (b.is_breast(m) and "contralateral" not in m.text.lower()):
            continue
        text = b.sent_text(m.sentence)
        body = b.terminology.lookup("body_sites", m.target.term)
        organ = body is not None and body.kind in ("organ", "bone", "lymph-node")
        cue = (b.rules.plain_cue if organ else b.rules.metastasis_cue).search(text)
        if cue is None:
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a site ConText reads as negated or hypothetical", m.start, m.end)
            continue
        site = m.target.term
        key = fold(site).replace(" ", "-")
        met = b.mets.get(key)
        if met is None:
            met = {"id": key, "site": site, "_sentences": set(), "_uncertain": True}
            b.mets[key] = met
            b.evidence.append(Evidence(met, "site", site, m.start, m.end, m.sentence,
                                          "site-with-metastasis-cue", 0.8))  # fmt: skip
        met["_sentences"].add(m.sentence)
        if not m.uncertain:
            met["_uncertain"] = False
        side = SIDE_IN.match(m.text) or SIDE_BEFORE.search(b.text[max(0, m.start - 12) : m.start])
        after = SIDE_AFTER.match(b.text[m.end : m.end + 40])
        if side and side.group(1).lower() in ("left", "right"):
            b.put(met, "laterality", side.group(1).lower(), m.start - 12, m.end, "side-word", 0.7)
        elif after:
            # 'a scalp mass at the left temporal region': the side of a region named after it.
            b.put(met, "laterality", after.group(1).lower(), m.start, m.end + after.end(), "side-after", 0.6)
    for met in b.mets.values():
        # The sentence after one that names a metastasis tells how it was confirmed when it names
        # no other site: 'A scalp mass was seen. Excisional biopsy showed adenocarcinoma.'
        follow = {i + 1 for i in met["_sentences"] if i + 1 < len(b.sentences)}
        follow = {i for i in follow if not b.in_sentence(i, "SITE")}
        for i in sorted(met["_sentences"] | follow):
            text = b.sent_text(i)
            s0 = b.sentences[i][0]
            for c in b.rules.confirmation.finditer(text):
                if _FOLLOW_UP.search(text[max(0, c.start() - 60) : c.start()]):
                    continue  # follow-up imaging tells the response, not how it was confirmed
                term = b.evidence_term(c.group(1))
                if term and term not in met.setdefault("confirmed_by", []):
                    met["confirmed_by"].append(term)
                    b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), i,
                                                  "confirmation-word", 0.7))  # fmt: skip
            if i not in met["_sentences"]:
                continue  # a following sentence tells only how it was confirmed
            primary_date_here = "date" in b.primary and b.sent_of(b.ev_start(b.primary, "date")) == i
            d = values.dates(text)
            if d and not primary_date_here and not values.between(text):
                b.put(met, "date", d[0].value, s0 + d[0].start, s0 + d[0].end, "date-in-sentence", 0.7)
            b.relative_time(met, i)
        if not met.get("confirmed_by"):
            met.pop("confirmed_by", None)
        if met["_uncertain"]:
            first = min(met["_sentences"])
            b.put(met, "certainty", "provisional", *b.sentences[first], "context-uncertain", 0.5)
    for m in b.rules.misdiagnosis.finditer(b.text):
        i = b.sent_of(m.start())
        keys = b.met_keys_in(i) or list(b.mets)[:1]
        if keys:
            b.put(b.mets[keys[0]], "misdiagnosis", m.group(1).strip(), m.start(1), m.end(1),
                     "misdiagnosis-pattern", 0.8)  # fmt: skip
        else:
            b.add_review(m.group(0), "a misdiagnosis with no metastasis to put it on", m.start(), m.end())
    if b.presenting_age:
        age, s, e, _ = b.presenting_age
        for met in b.mets.values():
            if not any(k in met for k in ("date", "relative")):
                b.put(met, "age", age, s, e, "presenting-age", 0.6)
