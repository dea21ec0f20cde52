"""Drafting metastatic sites, how each was shown, and the markers of each tumour: the kinds of wording the seventh
round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one  # noqa: E402

# -- a metastasis's organ named again takes the story back to it ----------------------------------------


def test_an_organ_named_again_without_a_cue_is_what_the_next_sample_is_of(terminology):
    # The ovary is a metastasis first; the liver comes next; then the ovary is told again by name with no
    # metastasis word, and the stains of the sample that follows are the ovary's, not the liver's.
    text = (
        "A woman of 62 with a lobular carcinoma of the breast had an MRI that showed a metastatic mass of the"
        " ovary. CT then found two metastases in the liver as well. On ultrasound the ovary"
        " was enlarged and solid. At laparoscopy the surgeon took a biopsy, and its cells were positive for"
        " GATA3."
    )
    case = one(text, terminology)
    assert "GATA3" in markers(met(case, "ovary"))
    assert "GATA3" not in markers(met(case, "liver"))
    assert "biopsy" in met(case, "ovary").get("confirmed_by", [])
    assert "biopsy" not in met(case, "liver").get("confirmed_by", [])
