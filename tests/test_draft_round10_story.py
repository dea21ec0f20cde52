"""Drafting the patient's story: treatments and their details, ages, times and outcomes, the kinds of wording the
tenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one  # noqa: E402

# -- the age of a patient introduced with several words before the noun, or in an apposition -------------------


@pytest.mark.parametrize(
    "opening",
    [
        "History of the patient: A formerly fit Korean woman of 61 had been treated",
        "Presentation of the case: A previously well Thai woman of 61 had been treated",
    ],
)
def test_the_age_of_a_patient_introduced_with_her_past_is_her_age_now(terminology, opening):
    # The woman is introduced with her age and her past cancer in one sentence; the age is hers now, when the
    # metastasis is found, not when the breast was treated.
    text = (
        f"{opening} for a lobular carcinoma of the left breast nine years before. A mass then grew in her liver,"
        " and a needle biopsy of it showed a metastatic lobular carcinoma."
    )
    case = one(text, terminology)
    assert met(case, "liver").get("age") == 61
    assert "age" not in case["primary_cancers"][0]
