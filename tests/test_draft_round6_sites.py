"""Drafting metastatic sites, how each was shown, and the markers of each tumour: the kinds of wording the sixth
round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one  # noqa: E402

# -- how a metastasis was shown, told in a later sentence -------------------------------------------


def test_a_result_that_names_the_lesion_only_as_the_nodule_tells_how_it_was_shown(terminology):
    # The site has its metastasis word in its own sentence; the biopsy and its histology come two
    # sentences later and speak of 'the nodule' only.
    text = (
        "A woman of 61 had been treated for a ductal carcinoma of the left breast. Seven years later a"
        " metastatic nodule was noticed in the right parotid gland. She was seen again by her surgeon."
        " A biopsy of the nodule was examined histologically and showed a carcinoma of breast origin."
    )
    case = one(text, terminology)
    assert set(met(case, "parotid").get("confirmed_by", [])) >= {"biopsy"}


def test_a_metastatic_result_with_no_site_confirms_the_lesion_told_before_it(terminology):
    # The first sentence about the lesion gives no metastasis word; the result two sentences on does,
    # and names no site: it makes the lesion a metastasis and tells how that was shown.
    text = (
        "A woman of 70 had had a mastectomy for a lobular carcinoma of the breast. Ten years later she"
        " noticed a firm swelling of the parotid gland. It grew slowly over two months. An incisional"
        " biopsy was examined histologically and showed a metastasis of the breast cancer."
    )
    case = one(text, terminology)
    assert {"biopsy", "histopathology"} <= set(met(case, "parotid").get("confirmed_by", []))
