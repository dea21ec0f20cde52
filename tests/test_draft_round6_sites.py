"""Drafting metastatic sites, how each was shown, and the markers of each tumour: the kinds of wording the sixth
round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one, sites  # noqa: E402

from fhir_adapter.draft import draft_text  # noqa: E402

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
    assert set(met(case, "parotid gland").get("confirmed_by", [])) >= {"biopsy"}


def test_a_metastatic_result_with_no_site_confirms_the_lesion_told_before_it(terminology):
    # The first sentence about the lesion gives no metastasis word; the result two sentences on does,
    # and names no site: it makes the lesion a metastasis and tells how that was shown.
    text = (
        "A woman of 70 had had a mastectomy for a lobular carcinoma of the breast. Ten years later she"
        " noticed a firm swelling of the parotid gland. It grew slowly over two months. An incisional"
        " biopsy was examined histologically and showed a metastasis of the breast cancer."
    )
    case = one(text, terminology)
    assert {"biopsy", "histopathology"} <= set(met(case, "parotid gland").get("confirmed_by", []))


# -- a vertebra named by its level --------------------------------------------------------------------


def test_a_vertebra_named_by_the_part_of_it_and_its_level_is_a_site(terminology):
    # 'the body of L1': the part of a vertebra says that L1 is the vertebra, not an invasion grade
    text = (
        "A woman of 48 with a ductal carcinoma of the right breast had back pain. MRI showed a metastatic"
        " collapse of the body of L1."
    )
    assert "L1 vertebra" in sites(one(text, terminology))


def test_a_bare_lower_lumbar_level_is_a_vertebra_but_an_invasion_grade_is_not(terminology):
    text = (
        "A woman of 55 had a ductal carcinoma of the left breast, pT2 N1 L1 V0. Four years later a bone scan"
        " showed metastases at L3 and in the pelvis."
    )
    (draft,) = draft_text(text, terminology=terminology)
    said = [e["text"] for e in draft.evidence if e["path"].endswith(".site") and e["value"] == "L3 vertebra"]
    assert said == ["L3"]  # the L1 of the staging line is no vertebra


# -- where a symptom travels ---------------------------------------------------------------------------


def test_the_place_a_pain_spreads_to_is_no_metastasis(terminology):
    text = (
        "A woman of 66 had a lobular carcinoma of the left breast. A year later she had neck pain that"
        " spread to the top of her right hip, and CT showed metastases in the liver."
    )
    assert sites(one(text, terminology)) == {"liver": None}


def test_a_cancer_that_spread_to_a_site_is_still_a_metastasis(terminology):
    text = "A woman of 66 had a lobular carcinoma of the left breast, which spread to the right femur."
    assert sites(one(text, terminology)) == {"femur": "right"}


# -- a section labelled with the test that shows what it tells ---------------------------------------------


def test_metastases_told_under_an_imaging_label_were_shown_by_that_imaging(terminology):
    # A radiology case: each paragraph opens on the test's name alone, then tells its findings.
    text = (
        "History. A woman of 59 had a ductal carcinoma of the right breast treated four years before.\n\n"
        "MRI of the abdomen. Several metastases are scattered through the liver. The spleen is normal.\n\n"
        "Biopsy and ultrasound. A core of the largest liver lesion held carcinoma cells."
    )
    case = one(text, terminology)
    assert "MRI" in met(case, "liver").get("confirmed_by", [])


def test_a_paragraph_that_opens_on_a_full_sentence_about_a_test_labels_nothing(terminology):
    text = (
        "A woman of 59 had a ductal carcinoma of the right breast treated four years before.\n\n"
        "MRI of the abdomen was normal. A year later she had metastases in the liver."
    )
    case = one(text, terminology)
    assert "MRI" not in met(case, "liver").get("confirmed_by", [])


# -- nodes named by the region they are in ---------------------------------------------------------------


def test_nodes_in_a_region_are_that_regions_nodes_with_its_side(terminology):
    text = (
        "A woman of 52 had a ductal carcinoma of the right breast and metastatic lymph nodes in the left"
        " axilla."
    )
    assert sites(one(text, terminology)) == {"axillary lymph node": "left"}


# -- a result of 'the hormone receptors' ---------------------------------------------------------------------


def test_a_metastasis_negative_for_both_hormone_receptors_is_negative_for_each(terminology):
    text = (
        "A woman of 47 had a ductal carcinoma of the left breast. A year later a metastasis was found in the"
        " liver; its biopsy was negative for both hormone receptors and positive for HER2."
    )
    liver = met(one(text, terminology), "liver")
    assert markers(liver) == {"ER": "negative", "PR": "negative", "HER2": "positive"}


def test_positive_for_hormone_receptors_names_neither_receptor(terminology):
    text = "A woman of 47 had a ductal carcinoma of the left breast, positive for hormone receptors."
    case = one(text, terminology)
    assert "receptors" not in case["primary_cancers"][0]


# -- the gum ------------------------------------------------------------------------------------------------


def test_the_gum_is_a_site_at_the_precision_told(terminology):
    text = (
        "A woman of 58 had had a lobular carcinoma of the right breast removed. Three years later a nodule"
        " grew on her lower gingiva, and a biopsy showed a metastasis of the breast cancer."
    )
    assert sites(one(text, terminology)) == {"lower gingiva": None}
    text = (
        "A woman of 58 had had a lobular carcinoma of the right breast removed. Three years later the gingival"
        " lesion that had spread over the bone beneath it was excised; histology showed metastatic carcinoma."
    )
    assert sites(one(text, terminology)) == {"gingiva": None}


# -- the tumour a stain sentence is about ---------------------------------------------------------------------


def test_it_after_a_cancer_that_had_spread_is_the_cancer_not_where_it_spread(terminology):
    # The site is the object of the primary's spread; the next sentence's 'it' is still the primary.
    text = (
        "A woman of 49 was found in 2015 to have a breast cancer that had already spread to the liver. It was"
        " positive for the oestrogen receptor and negative for HER2."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("receptors") == {"er": "positive", "her2": "negative"}
    assert "markers" not in met(case, "liver")


def test_a_sample_of_the_site_where_the_cancer_spread_keeps_its_markers(terminology):
    text = (
        "A woman of 49 had a biopsy of a breast cancer that had spread to the liver. The liver biopsy was"
        " positive for the oestrogen receptor."
    )
    case = one(text, terminology)
    assert markers(met(case, "liver")) == {"ER": "positive"}


def test_breast_stains_on_tissue_whose_histology_was_told_just_before_make_it_a_metastasis(terminology):
    # No biopsy is named: the sentence before the stains examined the organ's tissue.
    text = (
        "A woman of 77 had been treated for a lobular carcinoma of the breast years before. Colonoscopy found"
        " the wall of the colon thickened. Histology of the colonic tissue showed scattered malignant cells."
        " On immunohistochemistry the cells were positive for the oestrogen receptor and for GATA3."
    )
    case = one(text, terminology)
    assert markers(met(case, "colon")) == {"ER": "positive", "GATA3": "positive"}


def test_negative_for_all_three_receptors_is_each_receptor_negative(terminology):
    text = (
        "A woman of 39 had a ductal carcinoma of the left breast; it was negative for all three receptors."
        " Two years later metastases were found in the liver."
    )
    primary = one(text, terminology)["primary_cancers"][0]
    assert primary.get("receptors") == {"er": "negative", "pr": "negative", "her2": "negative"}


# -- a side told of a part of the organ --------------------------------------------------------------------


def test_the_side_of_a_part_of_an_organ_is_the_organs_side(terminology):
    text = (
        "A woman of 60 had a lobular carcinoma of the right breast. Five years later a metastasis was found"
        " in the thyroid. Ultrasound showed that the left lobe of the thyroid was enlarged."
    )
    assert sites(one(text, terminology)) == {"thyroid": "left"}


def test_a_numbered_cytokeratin_is_that_cytokeratin(terminology):
    text = (
        "A woman of 62 had a ductal carcinoma of the left breast. Four years later a biopsy of a nodule of the"
        " thyroid showed a metastasis; its cells were positive for cytokeratin 19 and for the oestrogen"
        " receptor."
    )
    assert markers(met(one(text, terminology), "thyroid")) == {"CK19": "positive", "ER": "positive"}


def test_a_metastasis_whose_stains_a_sentence_tells_was_shown_by_that_sentences_test(terminology):
    text = (
        "A woman of 52 had a ductal carcinoma of the left breast. Three years later a metastasis was found in"
        " the liver and biopsied. She was referred to the oncology unit and began treatment. On"
        " immunohistochemistry its cells had been positive for GATA3."
    )
    liver = met(one(text, terminology), "liver")
    assert markers(liver) == {"GATA3": "positive"}
    assert "histopathology" in liver.get("confirmed_by", [])


def test_imaging_that_guided_a_needle_did_not_show_the_metastasis(terminology):
    text = (
        "A woman of 57 had a ductal carcinoma of the right breast. Two years later a core biopsy of a nodule"
        " of the liver, taken under ultrasound guidance, showed a metastasis."
    )
    liver = met(one(text, terminology), "liver")
    assert "ultrasonography" not in liver.get("confirmed_by", [])
    assert "biopsy" in liver.get("confirmed_by", [])


def test_under_the_microscope_is_histology(terminology):
    text = (
        "A woman of 71 had been treated for a ductal carcinoma of the left breast. MRI showed a tumour of the"
        " right lacrimal gland, which was removed. Under the microscope this metastasis grew in cords."
    )
    gland = met(one(text, terminology), "lacrimal gland")
    assert "histopathology" in gland.get("confirmed_by", [])


# -- the breast tumour's own extent ---------------------------------------------------------------------------


def test_the_skin_tethered_to_the_breast_tumour_is_no_metastasis(terminology):
    text = (
        "A woman of 66 had an ulcerated carcinoma of the right breast, with the skin puckered over the tumour."
        " CT showed metastases in the liver."
    )
    assert sites(one(text, terminology)) == {"liver": None}


def test_a_metastasis_word_still_makes_the_skin_a_site_after_the_breast(terminology):
    text = "A woman of 66 had a carcinoma of the right breast, with metastases in the skin."
    assert "skin" in sites(one(text, terminology))


def test_sinuses_named_in_the_plural_keep_their_precision(terminology):
    text = (
        "A woman of 63 had a lobular carcinoma of the left breast. CT showed a mass that had invaded the"
        " maxillary sinuses, and a biopsy showed a metastasis."
    )
    assert sites(one(text, terminology)) == {"maxillary sinus": None}


def test_a_metastasis_that_invaded_the_sphenoid_bone_is_of_that_bone(terminology):
    text = (
        "A woman of 55 had a ductal carcinoma of the right breast. Histology showed a metastasis that had"
        " invaded the sphenoid bone."
    )
    assert sites(one(text, terminology)) == {"sphenoid bone": None}


# -- a side told of the region a site is of ------------------------------------------------------------------


def test_a_site_of_a_region_takes_the_side_told_of_that_region_before(terminology):
    text = (
        "A woman of 61 had been treated for a ductal carcinoma of the left breast. MRI showed a mass in the"
        " right posterior cranial fossa. At surgery it arose from the dura mater of the posterior cranial"
        " fossa, and histology showed a metastasis."
    )
    case = one(text, terminology)
    assert [m.get("laterality") for m in case["metastases"]] == ["right"]


def test_a_rash_over_the_breast_makes_a_skin_metastasis_the_skin_of_that_breast(terminology):
    # A rash is a lesion of the skin; 'a lump in the breast' would be the breast tumour itself.
    text = (
        "A woman of 68 had a red rash over her right breast for two months. A punch biopsy of the skin showed"
        " metastatic carcinoma, and a biopsy of a mass in the right breast showed a ductal carcinoma."
    )
    assert sites(one(text, terminology)) == {"skin of breast": "right"}


def test_a_mass_that_reached_a_size_has_not_spread(terminology):
    text = (
        "A woman of 54 had had a carcinoma of the breast removed. In the abdomen a mass reached 6 cm below the"
        " costal margin. CT showed a metastasis in the spleen."
    )
    assert sites(one(text, terminology)) == {"spleen": None}


# -- nodes counted in the breast specimen -----------------------------------------------------------------------


def test_nodes_counted_at_the_breast_operation_are_the_primarys_stage_not_a_metastasis(terminology):
    text = (
        "A woman of 50 had a mastectomy for a ductal carcinoma of the left breast; two of the 11 axillary lymph"
        " nodes removed held carcinoma. Three years later a biopsy showed a metastasis in the liver."
    )
    assert sites(one(text, terminology)) == {"liver": None}


def test_counted_nodes_called_metastases_or_found_with_no_tumour_in_the_breast_are_sites(terminology):
    text = (
        "A woman of 50 had a mastectomy for a ductal carcinoma of the left breast; two of the 11 axillary lymph"
        " nodes removed held metastases."
    )
    assert "axillary lymph node" in sites(one(text, terminology))
    text = (
        "A man of 60 had a mastectomy for a mass of the left breast. No tumour was found in the breast, but two"
        " of the 11 axillary lymph nodes held ductal carcinoma."
    )
    assert "axillary lymph node" in sites(one(text, terminology))


def test_a_cancer_that_spread_over_an_organ_reached_it(terminology):
    text = (
        "A woman of 70 had pain in the abdomen, caused by metastases of a lobular carcinoma of the breast that"
        " had spread widely over the peritoneum."
    )
    assert sites(one(text, terminology)) == {"peritoneum": None}


def test_anatomy_placed_by_the_lesion_is_its_landmark(terminology):
    text = (
        "A woman of 64 had a ductal carcinoma of the left breast. Two years later a metastatic mass grew in"
        " the parotid, and the skin over it and the bone beneath it were spread with tumour."
    )
    assert sites(one(text, terminology)) == {"parotid gland": None}


# -- metastases counted, then placed one by one -------------------------------------------------------------


def test_metastases_counted_then_placed_after_a_colon_are_each_a_site(terminology):
    text = (
        "A woman of 51 with a ductal carcinoma of the right breast was found to have two metastases: one in"
        " the liver and one in the spleen."
    )
    assert sites(one(text, terminology)) == {"liver": None, "spleen": None}


def test_new_lesions_of_an_organ_whose_lesion_may_be_anything_are_metastases(terminology):
    text = (
        "A woman of 56 had a ductal carcinoma of the right breast with metastases to the bones. A year later"
        " the disease progressed, with new lesions in the lungs."
    )
    assert set(sites(one(text, terminology))) == {"bone", "lung"}


def test_a_sampling_with_no_site_before_the_result_tells_how_the_metastasis_was_shown(terminology):
    text = (
        "A woman of 45 had an ulcer of the soft palate. Three years earlier a lumpectomy had removed a ductal"
        " carcinoma of her left breast. An incisional biopsy was taken. Histology showed that the tumour came"
        " from the breast."
    )
    palate = met(one(text, terminology), "soft palate")
    assert {"biopsy", "histopathology"} <= set(palate.get("confirmed_by", []))


def test_a_test_of_the_organ_named_coarsely_confirms_the_metastasis_of_its_part(terminology):
    text = (
        "A woman of 55 had a ductal carcinoma of the right breast. MRI showed a metastasis in the left frontal"
        " lobe, which was resected. Immunohistochemistry of the brain tumour confirmed a metastasis of the"
        " breast cancer."
    )
    lobe = met(one(text, terminology), "frontal lobe")
    assert "histopathology" in lobe.get("confirmed_by", [])


def test_clinical_and_radiographic_examination_and_fine_needle_cytology_are_ways_a_site_was_shown(
    terminology,
):
    text = (
        "A woman of 40 had a mastectomy for a ductal carcinoma of the right breast. On clinical and"
        " radiographic examination a metastatic mass of the mandible had destroyed its cortex."
    )
    jaw = met(one(text, terminology), "mandible")
    assert {"clinical examination", "x-ray"} <= set(jaw.get("confirmed_by", []))
    text = (
        "A woman of 40 had a mastectomy for a ductal carcinoma of the right breast. Fine-needle cytology of a"
        " nodule of the thyroid showed metastatic carcinoma."
    )
    assert "fine-needle aspiration" in met(one(text, terminology), "thyroid").get("confirmed_by", [])


def test_lesions_that_appeared_in_an_organ_after_the_cancer_are_metastases(terminology):
    text = (
        "A woman of 54 had a mastectomy for a ductal carcinoma of the right breast. After two years of"
        " follow-up, lesions appeared in both lungs and in the bones."
    )
    assert sites(one(text, terminology)) == {"lung": "bilateral", "bone": None}


def test_the_labia_majora_and_the_pericardium_said_as_an_adjective_are_sites(terminology):
    text = (
        "A woman of 60 had a lobular carcinoma of the left breast. Later, metastases were found in the labia"
        " majora and resected."
    )
    assert sites(one(text, terminology)) == {"labia majora": None}
    text = (
        "A woman of 60 had a lobular carcinoma of the left breast. Later, CT showed a pericardial metastasis."
    )
    assert sites(one(text, terminology)) == {"pericardium": None}


def test_the_lesion_seen_on_imaging_then_placed_by_the_operation_was_shown_by_that_imaging(terminology):
    # The imaging sentence names only a region; the next one says where 'the tumour' arose.
    text = (
        "A woman of 58 had been treated for a ductal carcinoma of the left breast. Neuroimaging showed a large"
        " tumour near the right orbit. At operation the tumour was seen to arise from the lacrimal gland, and"
        " histology showed a metastasis."
    )
    gland = met(one(text, terminology), "lacrimal gland")
    assert "imaging" in gland.get("confirmed_by", [])


def test_a_complaint_mistaken_for_another_is_no_misdiagnosis_of_a_metastasis_told_later(terminology):
    text = (
        "A woman of 50 had had back pain for three months. Her doctor first treated it as muscular back pain."
        " Then a cancer of the right breast was found, with metastases in the liver."
    )
    liver = met(one(text, terminology), "liver")
    assert "misdiagnosis" not in liver


def test_a_test_whose_result_was_normal_after_an_aside_confirmed_nothing(terminology):
    text = (
        "A woman of 56 had a ductal carcinoma of the left breast. Imaging of the liver, repeated several times,"
        " was normal, but a biopsy of the liver showed metastatic carcinoma."
    )
    liver = met(one(text, terminology), "liver")
    assert "imaging" not in liver.get("confirmed_by", [])
    assert "biopsy" in liver.get("confirmed_by", [])


def test_the_omentum_is_a_site(terminology):
    text = (
        "A woman of 66 had a lobular carcinoma of the left breast. Five years later CT showed omental"
        " metastases and ascites."
    )
    assert sites(one(text, terminology)) == {"omentum": None}
