"""Drafting metastatic sites, their sides, how each was confirmed and their histology: the kinds of wording the
twelfth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one, sites  # noqa: E402

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


# -- sites: a site in the plural the maps hold only in the singular; 'both' of one site in a list --------------------


def test_a_site_told_in_the_latin_plural_is_the_site_of_the_map(terminology):
    # 'axillae' is no term of the maps; 'axilla' is. A plural names the same site, and 'both' makes it bilateral.
    text = (
        "A man of 71 noticed a lump under his right nipple. Staging found secondary deposits in both axillae,"
        " the left supraclavicular fossa and the liver."
    )
    case = one(text, terminology)
    assert sites(case).get("axilla") == "bilateral"
    assert "liver" in sites(case)


def test_both_before_a_site_in_a_list_is_that_site_s_side_only(terminology):
    # 'both' belongs to the plural right after it; the next site in the list, after 'and', is another one.
    text = (
        "In a woman of 66 with an invasive ductal carcinoma of the left breast, positron emission tomography"
        " showed metastatic disease in both orbits and in the lungs."
    )
    case = one(text, terminology)
    assert sites(case).get("orbit") == "bilateral"
    assert "lung" in sites(case)
    assert sites(case)["lung"] is None


# -- sites: a prosthesis is no implant of tumour -----------------------------------------------------------------------


def test_implants_put_in_at_an_operation_are_no_metastasis(terminology):
    text = (
        "A 58-year-old woman had a lobular carcinoma of the right breast. She underwent mastectomy and"
        " dissection of the right axilla, and silicone implants were inserted at the same time. The nodes were"
        " free of tumour."
    )
    assert "axilla" not in sites(one(text, terminology))


def test_tumour_implants_on_a_lining_are_still_metastases(terminology):
    text = (
        "A woman of 50 with a past lobular cancer of the breast had a swollen abdomen. Laparoscopy found tumour"
        " implants scattered over the peritoneum, and their biopsy showed metastatic lobular carcinoma."
    )
    assert "peritoneum" in sites(one(text, terminology))


# -- roles: a discussion that goes on telling the case ----------------------------------------------------------------


def test_a_discussion_paragraph_that_goes_on_with_the_case_is_the_story(terminology):
    # The case is told under 'Discussion': one sentence names the patient, the ones after it tell her tests in the
    # past tense with no word of her. They are her story; a present-tense sentence after them is not.
    text = (
        "Metastatic lobular carcinoma in the stomach: a report\n\n"
        "Case\n\n"
        "A woman of 69, treated for a cancer of the left breast in 2015, complained of early satiety.\n\n"
        "Discussion\n\n"
        "She was sent for gastroscopy because she was losing weight. Endoscopy found a thickened, rigid gastric wall."
        " Biopsies of the stomach were taken and showed a metastatic lobular carcinoma of the breast. Such"
        " metastases are easily taken for a primary gastric cancer."
    )
    case = one(text, terminology)
    stomach = met(case, "stomach")
    assert "biopsy" in stomach["confirmed_by"]
    assert stomach.get("histology") == "lobular carcinoma" or "lobular" in stomach.get("histology", "")


# -- histology and side: a negation in a relative clause ends at the main clause's verb -------------------------------


@pytest.mark.parametrize(
    "opening",
    [
        "A 52-year-old woman, who had never had a screening mammogram, was diagnosed with",
        "A woman of 52 who had no relevant family history presented with",
    ],
)
def test_a_negation_in_the_clause_before_the_diagnosis_does_not_reach_it(terminology, opening):
    text = opening + (
        " a lobular carcinoma of the left breast. Four years later a scan showed metastases in the liver."
    )
    (primary,) = one(text, terminology)["primary_cancers"]
    assert primary.get("laterality") == "left"
    assert "lobular" in primary.get("histology", "")


# -- sites: a negation before a clause of time does not reach the site the clause tells ------------------------------


@pytest.mark.parametrize(
    ("course", "site"),
    [
        (
            "She had no evidence of disease before a metastasis was found in the sternum.",
            "sternum",
        ),
        ("For six years there was no sign of relapse, until a metastasis grew in the left orbit.", "orbit"),
    ],
)
def test_a_negation_before_a_clause_of_time_does_not_reach_its_site(terminology, course, site):
    text = "A woman of 47 had a mastectomy for a ductal carcinoma of the right breast. " + course
    assert site in sites(one(text, terminology))


# -- markers: a verb of expression before a pair of receptors, and 'overexpress' ---------------------------------------


@pytest.mark.parametrize(
    ("said", "er", "her2"),
    [
        (
            "Its cells expressed both estrogen and progesterone receptors but did not overexpress HER2.",
            "positive",
            "negative",
        ),  # fmt: skip
        (
            "On immunostaining the carcinoma failed to express the oestrogen and progesterone receptors and"
            " overexpressed HER-2.",
            "negative",
            "positive",
        ),  # fmt: skip
    ],
)
def test_a_verb_of_expression_gives_a_pair_of_receptors_and_her2_their_results(terminology, said, er, her2):
    text = "A woman of 44 underwent lumpectomy for a ductal carcinoma of the left breast. " + said
    (primary,) = one(text, terminology)["primary_cancers"]
    assert primary["receptors"]["er"] == er
    assert primary["receptors"]["pr"] == er
    assert primary["receptors"]["her2"] == her2
