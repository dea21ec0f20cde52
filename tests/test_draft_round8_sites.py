"""Drafting metastatic sites, how each was shown, and the markers of each tumour: the kinds of wording the eighth
round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one  # noqa: E402

# -- a lesion told at its site before a later sentence calls it a metastasis --------------------------------


def test_a_lesion_told_at_its_site_before_it_is_called_a_metastasis_is_that_metastasis(terminology):
    # The lump is told first with its site and side but no metastasis word; two sentences on, the pathology calls
    # it a metastasis of that site. Its first sentence gives the imaging that found it.
    text = (
        "Eight years after a lumpectomy for a ductal carcinoma of the left breast, a woman of 61 noticed a"
        " firm lump low on her right side, and an ultrasound showed a solid mass of 2.1 cm in the right chest"
        " wall. The lump was cut out under local anaesthesia. Its pathology was read as a chest wall metastasis"
        " of the earlier breast cancer."
    )
    wall = met(one(text, terminology), "chest wall")
    assert wall.get("laterality") == "right"
    assert "ultrasonography" in wall.get("confirmed_by", [])


def test_a_lesion_of_another_site_told_before_is_not_joined_to_the_metastasis(terminology):
    # The sentence before tells a cyst of the kidney and the breast tumour: neither is the metastasis of the
    # liver named after it, and the kidney does not become one.
    text = (
        "A woman of 55 with a ductal carcinoma of the right breast had a CT that showed a simple cyst of the left"
        " kidney. A year later MRI showed metastases in the liver."
    )
    case = one(text, terminology)
    assert "ultrasonography" not in met(case, "liver").get("confirmed_by", [])
    assert not [m for m in case.get("metastases", []) if m["site"] == "kidney"]


# -- stains of 'the removed lump' reach back over the sentence of its removal --------------------------------


def test_stains_of_the_tumour_go_on_the_metastasis_told_before_its_removal(terminology):
    # The metastasis is told; the next sentence only removes 'it'; the stains of 'the tumour' after that are the
    # metastasis's, not the breast cancer's.
    text = (
        "A woman of 66 was treated for a lobular carcinoma of the left breast with a mastectomy. Three years"
        " later a metastatic nodule appeared in the skin of her back. It was excised with a margin and sent"
        " for histology. Staining showed the tumour to be GATA3 positive, CK20 negative and ER positive (80%)."
    )
    case = one(text, terminology)
    found = markers(met(case, "skin of back"))
    assert {"GATA3", "CK20", "ER"} <= set(found)
    assert not case["primary_cancers"][0].get("markers")


def test_stains_of_the_tumour_after_it_was_removed_as_something_else_are_the_metastasis(terminology):
    # The stomach lesion is told, then removed as what it was taken for (the sentence names no site of the
    # metastasis); the stains of 'the tumour' that follow are the stomach's, not the breast cancer's.
    text = (
        "Two years after her mastectomy for a carcinoma of the right breast, endoscopy found an ulcer in the"
        " gastric body of a woman of 70, and biopsies showed signet ring cells. It was resected by the surgeons"
        " as an early gastric cancer. On immunohistochemistry, though, the tumour was positive for mammaglobin"
        " and negative for CDX2. The final diagnosis was a metastasis of the breast carcinoma to the stomach."
    )
    case = one(text, terminology)
    stomach = met(case, "stomach")
    assert {"mammaglobin", "CDX2"} <= set(markers(stomach))
    assert not case["primary_cancers"][0].get("markers")


def test_stains_of_the_tumour_after_a_sentence_about_the_breast_stay_with_the_breast(terminology):
    # The sentence between names the breast tumour itself: 'the tumour' of the stain sentence is the primary, not
    # the liver metastasis told two sentences before.
    text = (
        "A woman of 49 had metastases in the liver at presentation. A core biopsy was then taken from the mass in"
        " her left breast. The tumour was positive for GATA3."
    )
    case = one(text, terminology)
    assert "GATA3" not in markers(met(case, "liver"))


# -- a side told on a word the maps do not hold, in a sentence of the metastasis alone -------------------------


def test_the_side_of_a_region_word_in_the_metastasis_sentence_is_its_side(terminology):
    # 'posterior pole' is no site of the maps; the sentence names only the choroid and one side, so that side is
    # the choroid's.
    text = (
        "A man of 71 with a carcinoma of the breast complained of a shadow across his sight. At the right"
        " posterior pole a pale, raised choroidal metastasis of 4 mm was seen on examination."
    )
    assert met(one(text, terminology), "choroid").get("laterality") == "right"


@pytest.mark.parametrize(
    "sentence",
    [
        # the side belongs to an operation told in the same sentence
        "She had a right mastectomy, and a choroidal metastasis was found on examination the same month.",
        # the side is said after another noun, of that noun
        "A choroidal metastasis was found, and a vein on the left was swollen.",
    ],
)
def test_a_side_of_something_else_in_the_sentence_is_not_the_metastasis_side(terminology, sentence):
    text = "A woman of 58 had a lobular carcinoma of the breast. " + sentence
    assert "laterality" not in met(one(text, terminology), "choroid")


# -- the ways an eye's fundus is said to be examined ---------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Indirect ophthalmoscopy of her left eye found a creamy choroidal metastasis.",
        "An ophthalmic examination then found a metastasis in the choroid.",
        "The fundus of each eye held a flat yellow choroidal metastasis.",
        "In the left fundus a choroidal metastasis lifted the retina.",
    ],
)
def test_an_examination_of_the_fundus_confirms_a_choroidal_metastasis(terminology, sentence):
    text = (
        "A woman of 60 had a ductal carcinoma of the right breast. Two years later her sight blurred. "
        + sentence
    )
    assert "clinical examination" in met(one(text, terminology), "choroid").get("confirmed_by", [])


def test_fluorescein_angiography_is_imaging_of_the_choroid(terminology):
    text = (
        "A woman of 60 had a ductal carcinoma of the right breast. Fluorescein angiography showed a choroidal"
        " metastasis with pinpoint leaks."
    )
    assert "imaging" in met(one(text, terminology), "choroid").get("confirmed_by", [])


def test_the_pathologist_reading_the_sample_confirms_the_metastasis(terminology):
    # The pathology is told as what 'the pathologist' found, with no word 'pathology' or 'histology'.
    text = (
        "A woman of 57 with a lobular carcinoma of the left breast was found to have a metastasis in the rectum."
        " The pathologist described single files of small cells in the rectal wall."
    )
    assert "histopathology" in met(one(text, terminology), "rectum").get("confirmed_by", [])


# -- a sample that names the site it was taken from confirms that site only ----------------------------------


def test_a_biopsy_of_one_site_does_not_confirm_another_metastasis_of_its_sentence(terminology):
    # The sentence names two metastases; the biopsy was taken from the supraclavicular node, so it does not
    # confirm the brain metastases named in the same sentence as what the biopsy explained.
    text = (
        "A woman of 44 had a ductal carcinoma of the right breast. MRI showed brain metastases. Needle biopsy of a"
        " supraclavicular lymph node gave adenocarcinoma, which was taken to be the source of her brain"
        " metastases."
    )
    case = one(text, terminology)
    assert "biopsy" not in met(case, "brain").get("confirmed_by", [])
    assert "biopsy" in met(case, "supraclavicular lymph node").get("confirmed_by", [])


def test_biopsies_listed_from_two_sites_confirm_both(terminology):
    text = (
        "A woman of 70 had a lobular carcinoma of the left breast. At laparotomy, biopsies from the omentum and"
        " from the liver were taken, and both held metastatic lobular carcinoma."
    )
    case = one(text, terminology)
    assert "biopsy" in met(case, "liver").get("confirmed_by", [])
    assert "biopsy" in met(case, "omentum").get("confirmed_by", [])


# -- a fluid's cytology tells of the metastasis of the lining it bathes ----------------------------------------


def test_cytology_of_the_spinal_fluid_confirms_the_leptomeningeal_metastasis_and_carries_its_stains(
    terminology,
):
    # The fluid sentence names no site the maps hold; the cerebrospinal fluid is the leptomeninges'.
    text = (
        "A woman of 51 with a lobular carcinoma of the left breast developed headaches, and MRI suggested"
        " leptomeningeal metastases. At lumbar puncture her CSF held clusters of atypical cells on cytology,"
        " and these cells were positive for GATA3."
    )
    lepto = met(one(text, terminology), "leptomeninges")
    assert "cytology" in lepto.get("confirmed_by", [])
    assert markers(lepto).get("GATA3") == "positive"


def test_ascitic_fluid_with_no_malignant_cells_does_not_confirm_the_peritoneal_metastasis(terminology):
    text = (
        "A woman of 64 with a ductal carcinoma of the right breast had peritoneal metastases on CT. Cytology of"
        " the ascitic fluid showed no malignant cells."
    )
    assert "cytology" not in met(one(text, terminology), "peritoneum").get("confirmed_by", [])


# -- 'expressed' gives each marker after it a positive result --------------------------------------------------


def test_markers_a_tumour_expressed_are_positive(terminology):
    text = (
        "A woman of 59 had a lobular carcinoma of the right breast. Two years on, a core biopsy of a liver"
        " metastasis was taken, and its cells strongly expressed CK7 and mammaglobin."
    )
    liver = markers(met(one(text, terminology), "liver"))
    assert liver.get("CK7") == "positive"
    assert liver.get("mammaglobin") == "positive"


def test_a_marker_told_twice_with_the_same_result_is_listed_once(terminology):
    # Aspiration cytology and then the resected tissue both show the same receptor: one finding, told twice.
    text = (
        "A woman of 66 had a lobular carcinoma of the left breast. Aspiration of a thyroid metastasis gave cells"
        " positive for GATA3. After thyroidectomy the metastasis was again positive for GATA3."
    )
    thyroid = met(one(text, terminology), "thyroid")
    assert [m["name"] for m in thyroid.get("markers", [])].count("GATA3") == 1


# -- stains told of two tumours at once go on each -------------------------------------------------------------


def test_stains_of_the_primary_and_a_metastasis_named_together_go_on_both(terminology):
    text = (
        "A woman of 47 was found to have a carcinoma of the right breast and metastases in the liver. The core"
        " biopsies of the breast mass and of the liver lesion were both negative for the oestrogen receptor"
        " and positive for GATA3."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("receptors", {}).get("er") == "negative"
    liver = markers(met(case, "liver"))
    assert liver.get("ER") == "negative"
    assert liver.get("GATA3") == "positive"
    assert "GATA3" in markers(case["primary_cancers"][0])


def test_stains_of_one_tumour_with_a_site_named_elsewhere_in_the_sentence_stay_on_it(terminology):
    # The breast is named, but in a comparison after the stains: the stains are the liver's alone.
    text = (
        "A woman of 47 had a carcinoma of the right breast treated years before. A biopsy of a liver"
        " metastasis showed cells positive for GATA3, unlike the breast tumour."
    )
    case = one(text, terminology)
    assert markers(met(case, "liver")).get("GATA3") == "positive"
    assert "GATA3" not in markers(case["primary_cancers"][0])


def test_results_said_as_a_list_of_modifiers_of_the_breast_cancer_are_its_receptors(terminology):
    # 'PR-negative' stands between 'HER2-positive' and the noun it qualifies; the sentence also names metastases.
    text = (
        "We treated a woman of 63 whose HER2-positive, PR-negative breast cancer had spread to the liver and"
        " the lungs."
    )
    receptors = one(text, terminology)["primary_cancers"][0].get("receptors", {})
    assert receptors.get("her2") == "positive"
    assert receptors.get("pr") == "negative"


# -- 'its cells' point back to the tumour the sentence before told last ------------------------------------------


def test_stains_of_its_cells_belong_to_the_tumour_the_sentence_before_told(terminology):
    # The breast cancer is told in a sentence looking back (a mastectomy years before); the stain sentence names
    # no tumour, only 'their cells'.
    text = (
        "A woman of 61 came in with abdominal pain and was found to have metastases in the peritoneum. Five"
        " years before, she had had a mastectomy for a lobular carcinoma of the right breast. Its tumour"
        " cells had been negative for HER2."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("receptors", {}).get("her2") == "negative"
    assert "HER2" not in markers(met(case, "peritoneum"))


def test_stains_of_its_cells_after_a_sampled_metastasis_are_the_metastasis(terminology):
    text = (
        "A woman of 61 had a lobular carcinoma of the right breast. A year later CT showed a metastasis in"
        " the liver. Its cells were positive for GATA3."
    )
    case = one(text, terminology)
    assert markers(met(case, "liver")).get("GATA3") == "positive"


# -- a coarser site told in the region that holds the metastasis gives its side --------------------------------


def test_nodes_told_in_both_armpits_give_the_axillary_metastasis_its_side(terminology):
    # The sentence before the biopsy says 'lymph nodes in both axillae'; the biopsied node is the axillary
    # metastasis, told without a side.
    text = (
        "A woman of 40 had a lobular carcinoma of the right breast. Ultrasound showed swollen lymph nodes in"
        " both axillae. A core biopsy of an axillary lymph node showed metastatic carcinoma."
    )
    assert met(one(text, terminology), "axillary lymph node").get("laterality") == "bilateral"


def test_nodes_told_in_another_region_give_no_side(terminology):
    text = (
        "A woman of 40 had a lobular carcinoma of the breast. Ultrasound showed swollen lymph nodes in the left"
        " groin. A core biopsy of an axillary lymph node showed metastatic carcinoma."
    )
    assert "laterality" not in met(one(text, terminology), "axillary lymph node")


def test_the_central_nervous_system_told_after_a_brain_metastasis_is_the_same_metastasis(terminology):
    text = (
        "A woman of 45 with a ductal carcinoma of the left breast was found to have a metastasis in the"
        " cerebellum. Despite radiotherapy, metastatic disease of the central nervous system kept growing."
    )
    sites = [m["site"] for m in one(text, terminology).get("metastases", [])]
    assert sites == ["cerebellum"]


def test_markers_a_tumour_did_not_express_are_negative(terminology):
    text = (
        "A woman of 59 had a lobular carcinoma of the right breast. Years later a biopsy of a liver metastasis"
        " showed cells that did not express CK20 or CDX2."
    )
    liver = markers(met(one(text, terminology), "liver"))
    assert liver.get("CK20") == "negative"
    assert liver.get("CDX2") == "negative"


def test_hormone_receptors_a_metastasis_no_longer_expressed_are_both_negative(terminology):
    text = (
        "A woman of 50 had a hormone receptor-positive carcinoma of the left breast. Six years later a lung"
        " metastasis was resected; it no longer expressed the hormone receptors."
    )
    lung = markers(met(one(text, terminology), "lung"))
    assert lung.get("ER") == "negative"
    assert lung.get("PR") == "negative"


# -- more ways a report says what a lesion was first taken for ---------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "The thickened wall of the colon passed for a colitis until a biopsy showed metastatic carcinoma.",
        "Bloody stools led her doctors to suspect a colitis, but a colon biopsy showed metastatic carcinoma.",
    ],
)
def test_what_a_colonic_metastasis_passed_for_is_its_misdiagnosis(terminology, sentence):
    text = "A woman of 66 had a lobular carcinoma of the right breast. " + sentence
    assert met(one(text, terminology), "colon").get("misdiagnosis") == "colitis"


# -- the sample taken in one sentence, its result in the next ------------------------------------------------------


def test_a_biopsy_whose_result_the_next_sentence_gives_confirms_the_metastasis_that_sentence_names(
    terminology,
):
    # The biopsy is taken in one sentence; the next opens on 'It' (the sample) and names the metastasis, comparing
    # it with the earlier breast tumour.
    text = (
        "A woman of 62 had had a lobular carcinoma of the left breast. At laparotomy the surgeon found the wall"
        " of the colon thickened and took a biopsy. It revealed the same staining pattern as the original"
        " breast tumour, so a colonic metastasis of the breast cancer was diagnosed."
    )
    confirmed = met(one(text, terminology), "colon").get("confirmed_by", [])
    assert "biopsy" in confirmed


def test_a_biopsy_of_another_site_the_sentence_before_does_not_confirm_the_metastasis(terminology):
    text = (
        "A woman of 62 had had a lobular carcinoma of the left breast. A biopsy of the right breast was taken."
        " It showed a benign fibroadenoma, and CT then showed a metastasis in the liver."
    )
    assert "biopsy" not in met(one(text, terminology), "liver").get("confirmed_by", [])


# -- the sentence after a metastasis goes on about it through its organ and 'its ...' ---------------------------


def test_imaging_of_the_organ_holding_the_metastasis_told_next_confirms_it(terminology):
    # The next sentence names the eye (which holds the choroid) and the lesion only as 'its height'.
    text = (
        "A woman of 70 had a ductal carcinoma of the left breast. Examination found a flat pale choroidal"
        " metastasis in her left eye. On sonography of the eye its height was 2 mm."
    )
    assert "ultrasonography" in met(one(text, terminology), "choroid").get("confirmed_by", [])
