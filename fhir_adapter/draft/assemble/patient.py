"""The patient: age at presentation, sex, ethnicity, germline results, menopausal status, ECOG, death."""

from __future__ import annotations

import re

from .. import values
from .place import CaseDraft, Evidence


def read_patient(b: CaseDraft) -> None:
    for i in range(len(b.sentences)):
        found = values.ages(b.sent_text(i))
        if found:
            s0 = b.sentences[i][0]
            f = found[0]
            b.presenting_age = (f.value, s0 + f.start, s0 + f.end, i)
            break
    for sex in ("female", "male"):
        words = "|".join(re.escape(w) for w in b.rules[sex])
        m = re.search(rf"\b({words})\b", b.text, re.I)
        if m and "sex" not in b.patient:
            # The first sex word of the text decides: 'she' before 'his' is a woman.
            other = "male" if sex == "female" else "female"
            ow = "|".join(re.escape(w) for w in b.rules[other])
            o = re.search(rf"\b({ow})\b", b.text, re.I)
            if o is None or m.start() < o.start():
                b.put(b.patient, "sex", sex, m.start(), m.end(), "sex-word")
    if "sex" not in b.patient:
        b.patient["sex"] = "unknown"
        b.add_review("sex", "no word in the text says the patient's sex; set to unknown", 0, 0)
    m = b.rules.ethnicity.search(b.text)
    if m:
        b.put(b.patient, "ethnicity", m.group(1), m.start(), m.end(), "ethnicity-word", 0.8)
    for f in values.germline(b.text):
        gene, result = f.value
        item = {"gene": gene, "result": result}
        b.patient.setdefault("germline", []).append(item)
        b.evidence.append(
            Evidence(item, "result", result, f.start, f.end, b.sent_of(f.start), "germline-pattern", 0.8)
        )
        b.evidence.append(Evidence(item, "gene", gene, f.start, f.end, b.sent_of(f.start),
                                      "germline-pattern", 0.8))  # fmt: skip
    f = values.menopausal(b.text)
    if f:
        b.put(b.patient, "menopausal_status", f.value, f.start, f.end, "menopausal-pattern")
    f = values.ecog(b.text)
    if f:
        b.put(b.patient, "ecog", f.value, f.start, f.end, "ecog-pattern")
    for m in b.mentions:
        if m.label == "DEATH":
            if m.negated or m.hypothetical:
                b.add_review(m.text, "a death word that ConText reads as negated or hypothetical",
                                m.start, m.end)  # fmt: skip
                continue
            vs = b.patient.setdefault("vital_status", {})
            b.put(vs, "deceased", True, m.start, m.end, "death-word")
