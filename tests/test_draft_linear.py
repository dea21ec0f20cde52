"""Drafting time grows with the text, not with how often an item is told.

Two steps compared every telling of an item with the text before it: a drug named again searched all
the text since its first naming for 'then', 'again', 'followed by' (so a drug named a hundred times
searched the text a hundred times over), and each sentence walked back to its paragraph's start. Both
now search the text once and look up each span. These tests hold the lookups to the searches they
replace; `python benchmarks/bench_draft.py` prints the times (a short story told again and again in one
paragraph drafts at a constant cost per character).
"""

from __future__ import annotations

import random
import re

from fhir_adapter.draft import draft_text
from fhir_adapter.draft.assemble.place import CaseDraft
from fhir_adapter.draft.rules import shipped_rules
from fhir_adapter.terminology import load_terminology

_WORDS = re.compile(r"\b(?:then|followed by|again|second)\b", re.I)


def _draft_of(text: str) -> CaseDraft:
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\. )|(?<=\n\n))\S", text)]
    sentences = [(s, (starts[k + 1] if k + 1 < len(starts) else len(text))) for k, s in enumerate(starts)]
    sentences = [(s, e - 1 if text[e - 1 : e] == " " else e) for s, e in sentences]
    return CaseDraft(
        source=text,
        text=text,
        sentences=sentences,
        roles=["patient"] * len(sentences),
        mentions=[],
        rules=shipped_rules(),
        terminology=load_terminology(),
        case_id="x",
    )


def _text(seed: int) -> str:
    rng = random.Random(seed)
    words = [
        "she",
        "was",
        "then",
        "given",
        "tamoxifen",
        "followed",
        "by",
        "letrozole",
        "again",
        "a",
        "second",
    ]
    sentences = [
        " ".join(rng.choice(words) for _ in range(rng.randint(2, 9))).capitalize() + "." for _ in range(80)
    ]
    out = []
    for s in sentences:
        out.append(s)
        out.append("\n\n" if rng.random() < 0.2 else " ")
    return "".join(out).strip()


def test_found_between_agrees_with_searching_the_span():
    for seed in range(5):
        text = _text(seed)
        b = _draft_of(text)
        rng = random.Random(seed)
        for _ in range(400):
            start = rng.randrange(len(text))
            end = rng.randrange(start, len(text) + 1)
            expected = any(m.start() >= start and m.end() <= end for m in _WORDS.finditer(text))
            assert b.found_between(_WORDS, start, end) is expected, (seed, start, end)


def test_paragraph_start_agrees_with_walking_back():
    for seed in range(5):
        text = _text(seed)
        b = _draft_of(text)
        for i in range(len(b.sentences)):
            j = i
            while j > 0 and not re.search(r"\n\s*\n", text[b.sentences[j - 1][1] : b.sentences[j][0]]):
                j -= 1
            assert b.paragraph_start(i) == j, (seed, i)


def test_a_drug_named_again_and_again_keeps_its_courses():
    # 'then' between two namings of one drug makes two courses; a naming with nothing between is the same
    # course: the same answer as searching the text between them each time
    story = (
        "A woman of 61 had a cancer of the right breast with a metastasis in the liver. She was given"
        " tamoxifen. Tamoxifen was continued. She was then given tamoxifen once more after a pause."
    )
    [draft] = draft_text(story, terminology=load_terminology())
    names = [m["name"].lower() for m in draft.case.get("medications", [])]
    assert names.count("tamoxifen") == 2, draft.case.get("medications")
