"""Drafting metastatic sites, their sides and how each was confirmed: the kinds of wording the eleventh round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one  # noqa: E402

from fhir_adapter.draft.rules import shipped_rules  # noqa: E402

# -- confirmation: imaging that showed the site before a sample called it a metastasis ------------------------------


def test_a_scan_told_after_the_metastasis_it_confirms_in_the_same_telling(terminology):
    # Another order: the metastasis is named first, the scan that showed its organ after, in a sentence of its own.
    text = (
        "Metastasis of a lobular breast cancer to the pancreas was diagnosed in a woman of 61 by fine-needle"
        " aspiration. Magnetic resonance imaging had revealed a 2 cm mass in the pancreas."
    )
    case = one(text, terminology)
    assert (
        "MRI" in met(case, "pancreas")["confirmed_by"]
        or "magnetic resonance imaging" in met(case, "pancreas")["confirmed_by"]
    )


def test_a_scan_that_showed_nothing_in_the_organ_confirms_nothing(terminology):
    # The scan is told showing the organ, but what it showed there is nothing, or nothing but its outline.
    for scan in (
        "A CT scan showed only that the liver was slightly enlarged.",
        "Neither CT nor MRI showed why the liver had grown.",
        "Computed tomography showed no lesion in the liver.",
    ):
        text = (
            "A woman of 70 with a past lobular carcinoma of the left breast had jaundice. "
            + scan
            + " A biopsy of"
            " the liver found metastatic lobular carcinoma."
        )
        liver = met(one(text, terminology), "liver")
        assert liver["confirmed_by"] == ["biopsy"] or "CT" not in liver["confirmed_by"], scan


def test_a_scan_that_showed_another_organ_first_confirms_that_organ_only(terminology):
    # The scan found a mass in the breast, then the liver: the liver's finding is told after another site.
    text = (
        "A woman of 49 had back pain. PET-CT showed a mass in the left breast and a lesion of the liver. Biopsy of"
        " the liver found metastatic ductal carcinoma."
    )
    liver = met(one(text, terminology), "liver")
    assert "PET-CT" not in liver.get("confirmed_by", [])


def test_a_test_name_broken_over_two_lines_is_still_the_test():
    # A line break inside 'magnetic resonance imaging' or 'computed tomography' does not hide the test.
    confirmation = shipped_rules().confirmation
    assert confirmation.search("then computed\ntomography of the chest").group(1) == "computed\ntomography"
    assert confirmation.search("magnetic resonance\n  imaging showed").group(1).startswith("magnetic")


def test_a_scan_of_the_region_that_showed_the_organ_is_its_imaging(terminology):
    # The test names the region it imaged, then the organ it showed; a later sample calls the organ metastatic.
    text = (
        "Eight years after a mastectomy for a ductal carcinoma, a woman of 63 became hoarse. Magnetic resonance"
        " imaging of the neck demonstrated an enlarged, irregular thyroid. Fine-needle aspiration of the thyroid"
        " found carcinoma cells of breast origin, a metastasis."
    )
    thyroid = met(one(text, terminology), "thyroid")
    assert "MRI" in thyroid["confirmed_by"]
