"""Drafting metastatic sites, their sides, how each was confirmed and their histology: the kinds of wording the
twelfth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one  # noqa: E402

# -- confirmation: the telling of a lesion goes on past a symptom and past the organ that holds it -------------------


def test_a_symptom_between_the_lesion_and_its_tests_does_not_end_its_telling(terminology):
    # The lesion's sentence, then what the patient felt, then the scan and the operation with its pathology. The
    # scan's sentence names the organ that holds the lesion (the brain), which the body-site map says holds it.
    text = (
        "A man of 63, whose right breast had been removed for cancer four years before, was found to have a tumour"
        " of the left parietal lobe. He had two seizures and his speech became slurred. Magnetic resonance imaging"
        " showed a ring-enhancing mass which displaced the brain around it. He had a craniotomy to take it out,"
        " and on histology it was a metastatic ductal carcinoma."
    )
    lobe = met(one(text, terminology), "parietal lobe")
    assert "MRI" in lobe["confirmed_by"]
    assert "histopathology" in lobe["confirmed_by"]


def test_a_new_time_or_a_first_reading_between_them_ends_the_telling(terminology):
    # The sentence after the lesions opens a new episode and tells what another lesion was taken for: the biopsy
    # told next is of that lesion, not of the ones told before.
    text = (
        "A woman of 48 with a ductal carcinoma of the left breast had metastases in the liver and the lungs."
        " Three years later a swelling of her gum was thought to be an abscess. A biopsy showed that it was"
        " metastatic breast carcinoma."
    )
    case = one(text, terminology)
    for site in ("liver", "lung"):
        assert "biopsy" not in met(case, site).get("confirmed_by", [])


def test_a_later_scan_of_the_lesion_tells_its_response_not_how_it_was_found(terminology):
    # 'showed a smaller lesion' after the treatment is the response; the lesion was confirmed by its biopsy alone.
    text = (
        "A 55-year-old woman treated for a lobular carcinoma of the right breast had a metastasis in the sternum,"
        " proven by needle biopsy. She felt less pain after radiotherapy. Follow-up computed tomography showed a"
        " smaller lesion."
    )
    sternum = met(one(text, terminology), "sternum")
    assert "CT" not in sternum["confirmed_by"]


def test_a_mass_a_scan_found_in_another_organ_is_not_the_metastasis_seen_again(terminology):
    # The skin metastasis is told first; the scan after it found a mass in the breast, which is the primary's.
    text = (
        "A woman of 70 had red plaques on the skin of her left breast, and a punch biopsy of one of them showed"
        " metastatic carcinoma. An ultrasound of the left breast then revealed a spiculated mass of 12 mm."
    )
    skin = met(one(text, terminology), "skin of breast")
    assert "ultrasonography" not in skin["confirmed_by"]
