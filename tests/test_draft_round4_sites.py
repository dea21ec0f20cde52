"""Drafting metastatic sites, their sides and the markers of each tumour: the kinds of wording the fourth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one, sites  # noqa: E402

from fhir_adapter.draft.roles import BACKGROUND, DIFFERENTIAL, PATIENT, sentence_roles  # noqa: E402
from fhir_adapter.draft.rules import shipped_rules  # noqa: E402

# -- verbs of spread ---------------------------------------------------------------------------------


def test_a_verb_of_spread_names_every_site_it_reached(terminology):
    case = one(
        "A 61-year-old woman had a ductal carcinoma of the left breast removed. Six years later her breast"
        " cancer had reached the liver, the spleen and the neck.",
        terminology,
    )
    assert sites(case) == {"liver": None, "spleen": None, "neck": None}


def test_a_verb_of_spread_of_the_breast_tumour_into_its_neighbours_is_its_own_extent(terminology):
    case = one(
        "A woman of 60 had a carcinoma of the right breast that had reached the skin and the chest wall. Two years"
        " later her cancer reached the liver.",
        terminology,
    )
    assert sites(case) == {"liver": None}


def test_the_breast_a_metastasis_is_of_does_not_stop_its_cue(terminology):
    # 'metastases of breast cancer in the adrenal gland': the breast there is where the metastasis came from
    case = one(
        "A woman of 58 had a carcinoma of the right breast treated. Later a biopsy showed metastases of breast"
        " cancer in the adrenal gland.",
        terminology,
    )
    assert "adrenal gland" in sites(case)


# -- a result that names no site points back at the lesion the story told ----------------------------


def test_a_result_that_names_no_site_points_at_the_lesion_told_sentences_before(terminology):
    case = one(
        "A 50-year-old woman had been treated for a carcinoma of the left breast five years before. She now came"
        " with a firm ulcer of the hard palate, opening into the nasal cavity. It had grown for two months."
        " She had no fever. A punch biopsy was taken. Its histology showed that the tumour had come from the"
        " breast.",
        terminology,
    )
    assert sites(case) == {"hard palate": None}


def test_a_sample_positive_for_a_breast_stain_is_a_metastasis(terminology):
    case = one(
        "A 66-year-old woman had been treated for a lobular carcinoma of the right breast. Ten years later she"
        " had an adenocarcinoma in the duodenum. Biopsies of the duodenum were positive for the oestrogen and"
        " the progesterone receptor.",
        terminology,
    )
    assert "duodenum" in sites(case)
    assert markers(met(case, "duodenum")) == {"ER": "positive", "PR": "positive"}
    assert "receptors" not in case["primary_cancers"][0]


def test_a_stain_its_organ_may_carry_itself_makes_no_metastasis(terminology):
    case = one(
        "A 66-year-old woman had been treated for a carcinoma of the right breast. A biopsy of the endometrium"
        " was positive for the oestrogen receptor.",
        terminology,
    )
    assert "endometrium" not in sites(case)


def test_alternatives_weighed_are_a_differential():
    text = (
        "A woman of 45 had an ulcer of the palate. "
        "A metastasis, a salivary gland tumour and a lymphoma were all considered. "
        "A biopsy was taken."
    )
    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", text)]
    assert sentence_roles(text, sentences, shipped_rules()) == [PATIENT, DIFFERENTIAL, PATIENT]


# -- an overview sentence tells the case in advance ---------------------------------------------------


def test_a_site_named_in_the_overview_is_timed_where_the_story_tells_it(terminology):
    case = one(
        "We report a woman whose breast cancer spread to the bladder. At 52 she had a mastectomy for a ductal"
        " carcinoma of the left breast. Four years after the mastectomy she passed blood in her urine, and"
        " cystoscopy found a mass in the bladder.",
        terminology,
    )
    bladder = met(case, "urinary bladder")
    assert bladder.get("relative", {}).get("after") == "4 years"


# -- sites the rules did not name ---------------------------------------------------------------------


def test_the_thymus_is_the_mediastinal_mass_told_before(terminology):
    case = one(
        "A 70-year-old woman had been treated for a carcinoma of the left breast. CT found a mass in the anterior"
        " mediastinum. It was resected, and histology showed a metastasis of breast cancer in the thymus.",
        terminology,
    )
    assert sites(case) == {"thymus": None}


def test_the_uterine_cervix_is_a_site_of_the_maps(terminology):
    case = one(
        "A woman of 49 with a carcinoma of the right breast later had a metastasis in the uterine cervix.",
        terminology,
    )
    assert sites(case) == {"cervix uteri": None}


# -- sides --------------------------------------------------------------------------------------------


def test_a_site_told_again_with_the_takes_the_side_told_before(terminology):
    case = one(
        "A 64-year-old woman had had a carcinoma of the left breast. A small nodule was found in the right lung and"
        " removed. Histology showed a metastasis of breast cancer in the lung.",
        terminology,
    )
    assert sites(case) == {"lung": "right"}


def test_the_other_eye_makes_a_metastasis_bilateral(terminology):
    case = one(
        "A 47-year-old woman with a carcinoma of the right breast had blurred sight in her left eye. The fundus"
        " showed a choroidal metastasis, and the choroid of the other eye was involved too.",
        terminology,
    )
    assert sites(case) == {"choroid": "bilateral"}


# -- which tumour a stain panel was measured on -------------------------------------------------------


def test_a_panel_under_an_anaphoric_header_is_on_the_sample_told_before(terminology):
    case = one(
        "A woman of 60 had a ductal carcinoma of the left breast. Immunohistochemistry of the breast tumour:\n"
        "ER: positive\nHER2: overexpressed, amplified by FISH\n"
        "Two years later her breast cancer had reached the spleen. A needle biopsy of the spleen was taken."
        " Its immunohistochemistry:\nER: negative\nAR: diffuse, strong positive\n",
        terminology,
    )
    primary = case["primary_cancers"][0]
    assert primary["receptors"] == {"er": "positive", "her2": "positive"}
    assert markers(met(case, "spleen")) == {"ER": "negative", "androgen receptor": "positive"}


def test_a_panel_after_a_sentence_naming_no_sample_is_on_the_lesion_first_told(terminology):
    case = one(
        "A 71-year-old woman had been treated for a carcinoma of the left breast. CT found a mass in the right"
        " adrenal gland. At surgery a nodule of the liver was removed as well. Histology showed metastases of"
        " breast cancer in the adrenal gland and in the liver. The final report read:\n"
        "estrogen receptor: strongly positive\nHER2: negative\n",
        terminology,
    )
    adrenal = met(case, "adrenal gland")
    assert markers(adrenal) == {"ER": "positive", "HER2": "negative"}
    assert not met(case, "liver").get("markers")


def test_a_percentage_said_with_of(terminology):
    case = one(
        "A woman of 55 had a metastasis of breast cancer in the liver; a biopsy of the liver showed a Ki-67 of"
        " 25%.",
        terminology,
    )
    assert markers(met(case, "liver")) == {"Ki-67": 25}


# -- the skin of a region ---------------------------------------------------------------------------


def test_a_skin_metastasis_is_the_skin_of_the_region_its_lump_was_told_on(terminology):
    case = one(
        "A woman of 80 noticed a firm lump on the left side of her upper back. She had had a carcinoma of the right"
        " breast nine years before. The lump was removed, and histology showed a skin metastasis of her breast"
        " cancer.",
        terminology,
    )
    assert sites(case) == {"skin of back": "left"}


def test_skin_lesions_told_on_several_regions_stay_skin(terminology):
    case = one(
        "A woman of 80 had had a carcinoma of the right breast. She now had red nodules on her chest and her arms,"
        " and a biopsy showed skin metastases of her breast cancer.",
        terminology,
    )
    assert sites(case) == {"skin": None}


def test_lumps_in_the_skin_of_a_region_and_the_receptors_after_a_colon(terminology):
    case = one(
        "A woman of 84 had three lumps in the skin of her left arm. Twelve years before, a carcinoma of the right"
        " breast was diagnosed: stage 2, HER2 positive. One nodule was excised, and histology showed a cutaneous"
        " metastasis of the breast cancer.",
        terminology,
    )
    assert sites(case) == {"skin of upper limb": "left"}
    assert case["primary_cancers"][0]["receptors"] == {"her2": "positive"}


def test_receptors_after_a_colon_of_a_metastatic_breast_carcinoma_are_the_samples(terminology):
    case = one(
        "A woman of 70 had been treated for a carcinoma of the left breast. CT showed a mass in the pancreas."
        " A needle biopsy of that mass found a metastatic breast carcinoma: ER positive, HER2 negative.",
        terminology,
    )
    assert markers(met(case, "pancreas")) == {"ER": "positive", "HER2": "negative"}
    assert "receptors" not in case["primary_cancers"][0]


def test_a_node_of_a_part_of_the_mediastinum_keeps_its_side(terminology):
    case = one(
        "A woman of 55 had had a mastectomy for a carcinoma of the right breast. PET showed uptake in one lymph node"
        " of the left upper mediastinum. The node was removed, and histology showed a metastasis of the breast"
        " cancer.",
        terminology,
    )
    assert sites(case) == {"mediastinal lymph node": "left"}


def test_oedema_of_an_organ_beside_a_tumour_is_no_site(terminology):
    case = one(
        "A woman of 60 with a past carcinoma of the left breast had a metastasis in the skull base, with oedema of"
        " the brain beside it.",
        terminology,
    )
    assert sites(case) == {"skull base": None}


def test_the_region_an_image_was_taken_of_is_no_site(terminology):
    case = one(
        "A woman of 51 with a carcinoma of the right breast had a mass in the left lower eyelid. CT of the orbit"
        " showed a malignant tumour of the eyelid, and a biopsy showed a metastatic carcinoma.",
        terminology,
    )
    assert sites(case) == {"lower eyelid": "left"}
    assert "CT" in met(case, "lower eyelid")["confirmed_by"]


def test_an_image_of_the_orbit_showing_all_four_lids_involved(terminology):
    case = one(
        "A woman of 47 had been treated for breast cancer. All four of her eyelids had swollen over six weeks."
        " Orbital CT showed soft tissue infiltrating all four lids. A biopsy of one lid showed metastatic breast"
        " carcinoma.",
        terminology,
    )
    assert sites(case) == {"skin of eyelid": "bilateral"}


# -- the organ a result was sampled from, when the words of the site are not a site's -------------------


def test_the_organ_an_endoscopy_looked_into(terminology):
    case = one(
        "A woman of 66 had been treated for a carcinoma of the left breast eight years before. She had urgency of"
        " urine. At cystoscopy a red patch was biopsied, and the biopsy showed an adenocarcinoma consistent with a"
        " breast primary.",
        terminology,
    )
    assert sites(case) == {"urinary bladder": None}


def test_the_organ_a_sampling_procedure_is_named_by(terminology):
    case = one(
        "A woman of 52 with a lobular carcinoma of the right breast bled from the vagina. The endometrial curettings"
        " held cells consistent with a lobular carcinoma of the breast. A bone marrow aspirate was involved by metastatic breast"
        " carcinoma as well.",
        terminology,
    )
    assert sites(case) == {"endometrium": None, "bone marrow": None}


def test_the_same_morphology_as_the_breast_tumour_is_a_breast_origin(terminology):
    case = one(
        "A woman of 76 had had a carcinoma of the right breast treated eight years before. An ulcer opened in the"
        " hard palate. A biopsy of the palatal ulcer gave an adenocarcinoma that had the same morphology as the"
        " breast tumour.",
        terminology,
    )
    assert sites(case) == {"hard palate": None}


def test_a_denied_cue_makes_no_metastasis(terminology):
    case = one(
        "A woman of 90 had a skin metastasis of her breast cancer on the scalp. A bone scan and an ultrasound of"
        " the liver found no other metastases.",
        terminology,
    )
    assert "liver" not in sites(case)


def test_the_appendix_and_a_lumbo_aortic_node_are_sites(terminology):
    case = one(
        "A woman of 60 with a lobular carcinoma of the left breast had a laparotomy; it found carcinoma metastatic"
        " to the appendix and to a lumbo-aortic lymph node.",
        terminology,
    )
    assert sites(case) == {"appendix": None, "lumbo-aortic lymph node": None}


def test_a_sentence_calling_a_pattern_unusual_is_background():
    text = (
        "A woman of 48 had a tumour in the mediastinum. A metastasis there before one in the lung is unusual."
    )
    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", text)]
    assert sentence_roles(text, sentences, shipped_rules()) == [PATIENT, BACKGROUND]


# -- receptors said in other shapes -------------------------------------------------------------------


def test_allred_scores_give_each_receptor_its_score_and_result(terminology):
    case = one(
        "A woman of 30 had a ductal carcinoma of the right breast, hormone receptor positive, Allred score ER 7,"
        " PR 2; HER2 negative.",
        terminology,
    )
    primary = case["primary_cancers"][0]
    assert primary["receptors"] == {"er": "positive", "pr": "negative", "her2": "negative"}
    assert {m["name"]: m.get("allred") for m in primary.get("markers", []) if "allred" in m} == {
        "ER": 7,
        "PR": 2,
    }


def test_a_result_shared_by_both_receptors_named_after_it(terminology):
    case = one(
        "A woman of 47 had an invasive ductal carcinoma of the left breast, positive for the estrogen receptor and"
        " negative for both the progesterone receptor and HER2.",
        terminology,
    )
    assert case["primary_cancers"][0]["receptors"] == {"er": "positive", "pr": "negative", "her2": "negative"}


def test_a_complaint_in_an_earlier_clause_does_not_hide_the_site(terminology):
    case = one(
        "A woman of 45 had a carcinoma of the right breast removed. Three years later she developed headaches and"
        " MRI revealed multiple brain metastases.",
        terminology,
    )
    assert sites(case) == {"brain": None}


def test_a_swelling_a_result_is_traced_back_to_is_the_lesion(terminology):
    case = one(
        "A woman of 62 came with a painless swelling of the left parotid gland. She had had a mastectomy for a"
        " lobular carcinoma of the right breast seven years earlier. A fine-needle aspiration was done. Its"
        " cytology showed a metastatic carcinoma consistent with a breast primary.",
        terminology,
    )
    assert sites(case) == {"parotid gland": "left"}


def test_stains_of_the_sample_taken_in_the_sentence_before(terminology):
    case = one(
        "A woman of 52 had been treated for a carcinoma of the right breast. CT showed a mass in the liver. A needle"
        " biopsy of the liver lesion was taken. Immunohistochemistry showed the tumour cells to be positive for CK7,"
        " GATA3 and ER, and negative for CK20.",
        terminology,
    )
    assert sites(case) == {"liver": None}
    assert markers(met(case, "liver")) == {
        "CK7": "positive",
        "GATA3": "positive",
        "ER": "positive",
        "CK20": "negative",
    }
    assert "receptors" not in case["primary_cancers"][0]


def test_a_lytic_lesion_of_a_bone_is_a_metastasis(terminology):
    case = one(
        "A woman of 55 with a carcinoma of the left breast had metastases in both adrenal glands and a lytic lesion"
        " of the right humerus.",
        terminology,
    )
    assert sites(case) == {"adrenal gland": "bilateral", "humerus": "right"}


def test_malignant_cells_in_the_fluid_of_a_serous_cavity(terminology):
    case = one(
        "A woman of 66 with a carcinoma of the left breast had a pleural effusion; cytology of the pleural fluid"
        " showed malignant cells of breast origin.",
        terminology,
    )
    assert sites(case) == {"pleura": None}


def test_stains_of_a_later_clause_are_of_the_sample_an_earlier_clause_took(terminology):
    case = one(
        "A woman of 50 had a carcinoma of the left breast. Years later a nodule of the scalp was excised; the tumour"
        " cells were positive for GATA-3 and mammaglobin but negative for CK20.",
        terminology,
    )
    assert markers(met(case, "scalp")) == {"GATA3": "positive", "mammaglobin": "positive", "CK20": "negative"}
    assert not case["primary_cancers"][0].get("markers")


def test_both_of_two_things_after_a_comma_is_no_side(terminology):
    case = one(
        "A woman of 61 with a carcinoma of the right breast had a mass in the liver and nodules in the skin of the"
        " chest, both proven to be metastases on biopsy.",
        terminology,
    )
    assert sites(case) == {"liver": None, "skin of chest": None}


def test_both_biopsies_point_at_the_two_samples_told_before(terminology):
    case = one(
        "A woman of 68 had a carcinoma of the right breast. Years later she bled from the cervix, and an aspiration"
        " biopsy of the cervix was taken. A mass was then found in the lung, and a needle biopsy of the lung was"
        " taken. Both biopsies showed metastatic breast carcinoma.",
        terminology,
    )
    assert sites(case) == {"cervix uteri": None, "lung": None}


def test_both_lesions_point_at_the_two_lesions_told_before(terminology):
    case = one(
        "A woman of 64 had been treated for a carcinoma of the left breast. CT found a nodule in the right kidney and"
        " a mass in the pancreas. Both lesions were biopsied and showed metastatic lobular carcinoma.",
        terminology,
    )
    assert sites(case) == {"kidney": "right", "pancreas": None}


def test_some_of_a_series_and_comparisons_are_general():
    text = (
        "A woman of 59 had a metastasis in the left orbit. "
        "In a series of forty women, nine had metastases to the ovary. "
        "Metastases to the uterus were found in two of them. "
        "Choroidal metastases are more common than orbital ones."
    )
    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", text)]
    roles = sentence_roles(text, sentences, shipped_rules())
    assert roles[0] == PATIENT and PATIENT not in roles[1:]


def test_a_proliferation_index_said_as_a_bound(terminology):
    case = one(
        "A woman of 60 had a carcinoma of the left breast. Immunohistochemistry of the breast tumour:\n"
        "ER: positive\nMIB-1 index: below 5%\n",
        terminology,
    )
    assert markers(case["primary_cancers"][0]) == {"Ki-67": "below 5%"}


def test_a_result_of_the_breast_sample_points_at_no_other_organ(terminology):
    for text in (
        "A woman of 50 came with a lump in the left breast. CT showed a lesion in the liver. A core biopsy of the"
        " breast lump confirmed breast carcinoma.",
        "A woman of 50 came with a lump in the left breast. CT showed a lesion in the liver. A core biopsy confirmed"
        " an invasive ductal breast carcinoma.",
    ):
        assert sites(one(text, terminology)) == {}
