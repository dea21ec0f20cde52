"""The patient: sex, ethnicity, germline results, menopausal status, ECOG (ages are read with the story's time)."""

from __future__ import annotations

import re

from .. import values
from .place import CaseDraft, Evidence

_NOT_A_QUALIFIER = {"a", "an", "the", "this", "our", "one", "her", "his", "she", "he", "case", "patient", "of",
                    "and", "old", "aged", "year", "years", "was", "is", "female", "male", "woman", "man"}  # fmt: skip


def read_patient(b: CaseDraft) -> None:
    """Sex, ethnicity, germline results, menopausal status and ECOG from the patient's story."""
    story = b.story()
    words = {sex: re.compile(r"\b(" + "|".join(re.escape(w) for w in b.rules[sex]) + r")\b", re.I)
             for sex in ("female", "male")}  # fmt: skip
    first: dict[str, tuple[int, int]] = {}
    for i in story:
        s0 = b.sentences[i][0]
        for sex, pattern in words.items():
            m = pattern.search(b.sent_text(i))
            if m and sex not in first:
                first[sex] = (s0 + m.start(), s0 + m.end())
        if first:
            break
    if first:
        # The first sex word of the story decides: 'she' before 'his' is a woman.
        sex = min(first, key=lambda k: first[k][0])
        b.put(b.patient, "sex", sex, *first[sex], "sex-word")
    else:
        b.patient["sex"] = "unknown"
        b.add_review("sex", "no word in the text says the patient's sex; set to unknown", 0, 0)
    for i in story:
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        m = b.rules.ethnicity.search(text)
        if m and "ethnicity" not in b.patient:
            start, value = m.start(), m.group(1)
            qualifier = re.search(r"\b([A-Z][a-z]{1,12})[- ]$", text[max(0, m.start() - 14) : m.start()])
            if qualifier and qualifier.group(1).lower() not in _NOT_A_QUALIFIER:
                # 'a Han Chinese man', 'a South Asian woman': the qualifier is part of the name
                start = m.start() - len(qualifier.group(0))
                value = f"{qualifier.group(1)} {value}"
            b.put(b.patient, "ethnicity", value, s0 + start, s0 + m.end(), "ethnicity-word", 0.8)
        for f in values.germline(text):
            gene, result = f.value
            if any(g["gene"] == gene for g in b.patient.get("germline", [])):
                continue
            item = {"gene": gene, "result": result}
            b.patient.setdefault("germline", []).append(item)
            for key in ("gene", "result"):
                b.evidence.append(
                    Evidence(item, key, item[key], s0 + f.start, s0 + f.end, i, "germline-pattern", 0.8)
                )
        f = values.menopausal(text)
        if f:
            b.put(b.patient, "menopausal_status", f.value, s0 + f.start, s0 + f.end, "menopausal-pattern")
        f = values.ecog(text)
        if f:
            b.put(b.patient, "ecog", f.value, s0 + f.start, s0 + f.end, "ecog-pattern")
