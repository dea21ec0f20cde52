"""Drafting metastatic sites, how each was shown, and the markers of each tumour: the kinds of wording the ninth
round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one, sites  # noqa: E402

# -- a skin metastasis told by the region its lesions lie on ------------------------------------------------------


def test_the_region_nearest_the_skin_metastasis_names_its_skin(terminology):
    # The lesions are first placed coarsely (the flank), then, on examination, on one side of the chest; the
    # skin biopsy comes after. The skin is that of the chest, on its side, and the biopsy shows it.
    text = (
        "A man of 70 came with clustered pink nodules that had grown over four months on his flank. On examination"
        " the nodules followed a band across the upper part of the left side of his chest. A punch biopsy of the"
        " skin found metastatic ductal carcinoma, and a mass was then found in his left breast."
    )
    case = one(text, terminology)
    assert sites(case).get("skin of chest") == "left"
    assert "skin" not in sites(case)
    assert "biopsy" in met(case, "skin of chest").get("confirmed_by", [])


def test_one_side_binding_two_regions_gives_the_skin_of_each(terminology):
    # 'the right half of the back and the chest': one band, on one side, over two regions the maps name
    text = (
        "A woman of 66 had a band of small firm papules over the right half of her back and chest. The papules"
        " were biopsied and proved to be cutaneous metastases of her lobular breast carcinoma."
    )
    found = sites(one(text, terminology))
    assert found.get("skin of back") == "right"
    assert found.get("skin of chest") == "right"


def test_lesions_in_separate_places_stay_skin(terminology):
    # The nodules lie on the neck, and separately on both legs: skin in several places, named coarsely.
    text = (
        "A woman of 59 had firm nodules on the left side of the neck, on both legs and on the abdomen. A biopsy"
        " showed skin metastases of breast cancer."
    )
    found = sites(one(text, terminology))
    assert "skin" in found
    assert "skin of neck" not in found


def test_a_region_the_lesion_only_reaches_towards_is_not_its_site(terminology):
    # The rash covers the breast and spreads 'towards the neck': the neck is no place the lesion is on.
    text = (
        "A woman of 64 had a red rash over her right breast that later spread up towards the neck. A punch biopsy"
        " of the skin found metastatic carcinoma."
    )
    found = sites(one(text, terminology))
    assert "skin of neck" not in found
    assert found.get("skin of breast") == "right"
