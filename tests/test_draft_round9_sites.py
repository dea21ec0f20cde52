"""Drafting metastatic sites, how each was shown, and the markers of each tumour: the kinds of wording the ninth
round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one, sites  # noqa: E402

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
    shown = met(case, "skin of chest").get("confirmed_by", [])
    assert "biopsy" in shown
    assert "clinical examination" not in shown  # the examination placed a lesion the biopsy then showed


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


# -- a site named at a finer precision than the organ: a part of it the rules know, with the organ as its parent ---


def test_a_chamber_of_the_heart_is_the_site_and_its_side_word_is_its_name(terminology):
    # 'right atrium' names the chamber; 'right' is no side of a paired organ. The heart told later is the same one.
    text = (
        "Four years after treatment for a ductal carcinoma of the left breast, a woman of 58 became breathless."
        " Echocardiography found a mobile mass in the right atrium, which was excised; it proved to be a"
        " metastasis of her breast carcinoma, and no other tumour of the heart was seen."
    )
    found = sites(one(text, terminology))
    assert "right atrium" in found and found["right atrium"] is None
    assert "heart" not in found


def test_the_ridge_of_the_jaw_is_the_site_and_the_jaw_it_reaches_is_no_second_one(terminology):
    text = (
        "A woman of 71 had a painful swelling of the left upper alveolus that had loosened two teeth and reached"
        " into the maxilla. A biopsy of the swelling showed metastatic lobular carcinoma of the breast."
    )
    found = sites(one(text, terminology))
    assert found.get("upper alveolus") == "left"
    assert "maxilla" not in found


def test_the_body_of_the_uterus_is_the_site(terminology):
    text = (
        "A woman of 50 had a lobular carcinoma of the right breast. Two years later her uterus was removed for"
        " bleeding, and pathology found metastases of the lobular carcinoma in the uterine body."
    )
    found = sites(one(text, terminology))
    assert "body of uterus" in found
    assert "uterus" not in found


# -- a general sentence that goes on from another through a pronoun ---------------------------------------------


def test_a_sentence_going_on_from_a_general_one_through_its_pronoun_is_general(terminology):
    # 'Its deposits ...' carries on about breast cancer in general, in a paragraph that also introduces the patient.
    text = (
        "Carcinoma of the breast may recur after many years. Its deposits are found mainly in the skeleton, the"
        " lungs and the liver. We describe a woman whose stomach was the first place it spread to.\n\n"
        "A woman of 74 had lost weight for months. Gastroscopy and biopsy showed a metastasis of lobular breast"
        " carcinoma in the stomach."
    )
    found = sites(one(text, terminology))
    assert "stomach" in found
    assert not {"bone", "lung", "liver"} & set(found)


def test_a_pronoun_after_the_patients_sentence_stays_hers(terminology):
    text = (
        "A woman of 61 had a firm nodule on the scalp. It was excised, and it proved to be a metastasis of her"
        " ductal breast carcinoma."
    )
    assert "scalp" in sites(one(text, terminology))


# -- a sample named by its site before the sampling word, and the bone of a pelvic metastasis -----------------


def test_stains_after_a_sample_named_site_first_are_that_metastasis(terminology):
    # 'the liver biopsy' names its site before the sampling word; the stains of the next sentence were done on it.
    text = (
        "Eleven years after a mastectomy for a lobular carcinoma of the left breast, a woman of 69 had a CT that"
        " showed several metastases in the liver. The liver core biopsy showed nests of a poorly cohesive"
        " carcinoma. The tumour cells were positive for GATA3 and negative for CDX2."
    )
    case = one(text, terminology)
    liver = met(case, "liver")
    assert markers(liver) == {"GATA3": "positive", "CDX2": "negative"}
    assert not case["primary_cancers"][0].get("markers")


def test_the_bone_told_after_a_pelvic_metastasis_is_that_one(terminology):
    text = (
        "A woman of 77 treated for breast cancer in 2009 had pain in the left hip. MRI showed a metastasis filling"
        " the left half of the pelvis. A biopsy of the bone confirmed metastatic breast carcinoma."
    )
    found = sites(one(text, terminology))
    assert "pelvic bone" in found
    assert "lung" not in found


# -- the side of the organs removed is not the side of the metastasis found in one of them --------------------


def test_one_ovary_named_by_the_pathology_is_the_side_not_both_removed(terminology):
    text = (
        "A woman of 52 treated for a lobular carcinoma of the right breast bled heavily, and a hysterectomy with"
        " removal of both ovaries was done. The pathologist found a metastatic carcinoma of breast origin. It"
        " had spread through the uterine body and into the right ovary."
    )
    assert sites(one(text, terminology)).get("ovary") == "right"


def test_metastases_told_in_both_ovaries_stay_bilateral(terminology):
    text = (
        "A woman of 52 treated for a lobular carcinoma of the right breast had metastases in both ovaries. The"
        " right ovary was the larger."
    )
    assert sites(one(text, terminology)).get("ovary") == "bilateral"


# -- a serous cavity's fluid called malignant -----------------------------------------------------------------


def test_a_malignant_effusion_of_the_pericardium_is_its_metastasis(terminology):
    text = (
        "Three years after a lumpectomy for breast cancer a woman of 58 became short of breath; echocardiography found a large"
        " malignant pericardial effusion, which was drained."
    )
    assert "pericardium" in sites(one(text, terminology))


def test_an_effusion_not_called_malignant_is_no_metastasis(terminology):
    text = (
        "Three years after a lumpectomy for breast cancer a woman of 58 became short of breath; echocardiography found a small"
        " pericardial effusion, which was drained. Cytology of the fluid found no tumour cells."
    )
    assert "pericardium" not in sites(one(text, terminology))


def test_cancer_cells_in_the_fluid_of_a_cavity_are_a_metastasis_of_its_lining(terminology):
    # The peritoneum is named only through its fluid: 'the ascitic fluid' held malignant cells.
    text = (
        "Nine years after a mastectomy for lobular breast cancer, a woman of 63 had a swollen abdomen. A tap of"
        " the ascitic fluid was sent for cytology, which found clusters of malignant cells positive for GATA3."
    )
    peritoneum = met(one(text, terminology), "peritoneum")
    assert "cytology" in peritoneum.get("confirmed_by", [])


def test_a_fluid_whose_cytology_found_no_cancer_cells_is_no_metastasis(terminology):
    text = (
        "Nine years after a mastectomy for lobular breast cancer, a woman of 63 had a swollen abdomen. Cytology of"
        " the ascitic fluid found no malignant cells."
    )
    assert "peritoneum" not in sites(one(text, terminology))


# -- what a reader is told to keep in mind is no fact of the case ---------------------------------------------


def test_a_site_in_a_sentence_telling_the_reader_what_to_keep_in_mind_is_not_the_patients(terminology):
    text = (
        "A woman of 67 treated for a ductal carcinoma of the left breast had a painless nodule of the scalp; its"
        " excision showed a metastasis of the breast carcinoma. Although the nodule looked like a cyst, a"
        " spread to the lungs has to be borne in mind."
    )
    found = sites(one(text, terminology))
    assert "scalp" in found
    assert "lung" not in found


# -- modifiers coordinated before the head noun they share ------------------------------------------------------


def test_modifiers_that_share_a_head_noun_each_name_a_site(terminology):
    # 'the maxillary and frontal sinuses': the maxillary sinus too, and the CT shows both.
    text = (
        "A woman of 57 treated for breast cancer had a blocked nose. CT showed metastases filling the maxillary"
        " and frontal sinuses."
    )
    case = one(text, terminology)
    assert {"maxillary sinus", "frontal sinus"} <= set(sites(case))
    assert "CT" in met(case, "maxillary sinus").get("confirmed_by", [])


def test_a_modifier_already_a_site_of_its_own_is_not_joined_to_the_next_head(terminology):
    text = (
        "A woman of 57 treated for cancer of the left breast and a goitre had metastases in the lung and the"
        " frontal sinus."
    )
    found = sites(one(text, terminology))
    assert "frontal sinus" in found and "lung" in found


# -- a site word inside the name of a tumour type ---------------------------------------------------------------


def test_a_site_naming_the_tumour_type_a_sample_was_read_as_is_no_lesion_site(terminology):
    # The first sample was read as a 'parotid adenoma'; the result after it is of the lesion told before, in the
    # skin of the cheek, not of the parotid, named only inside that tumour type's name.
    text = (
        "A woman of 62 treated for breast cancer had a firm lump in the skin of her right cheek. A first needle"
        " sample was read as a pleomorphic parotid adenoma. A second biopsy showed a metastasis of her breast"
        " cancer."
    )
    found = sites(one(text, terminology))
    assert "parotid" not in {s.split()[0] for s in found}


# -- a site told as the first sign that the cancer had spread --------------------------------------------------


def test_a_site_that_was_the_first_sign_the_cancer_had_spread_is_a_metastasis(terminology):
    text = (
        "A woman of 70 had had a lumpectomy for a lobular breast carcinoma nine years before. A thickened, rigid"
        " colon was the first and only sign that her cancer had spread."
    )
    assert "colon" in sites(one(text, terminology))


# -- the spinal cord, and the level that places a lesion in it ------------------------------------------------


def test_a_metastasis_in_the_cord_at_a_vertebral_level_is_of_the_cord_not_the_vertebra(terminology):
    text = (
        "A woman of 49 treated for a HER2-positive breast cancer lost strength in both legs. MRI showed an"
        " intramedullary metastasis of the spinal cord at the level of T9."
    )
    found = sites(one(text, terminology))
    assert "spinal cord" in found
    assert "T9 vertebra" not in found


def test_a_vertebral_metastasis_compressing_the_cord_is_no_metastasis_of_the_cord(terminology):
    text = (
        "A woman of 49 treated for breast cancer lost strength in both legs. MRI showed a metastasis of the T9"
        " vertebra compressing the spinal cord."
    )
    found = sites(one(text, terminology))
    assert "T9 vertebra" in found
    assert "spinal cord" not in found


# -- 'HER-2' is no pronoun ----------------------------------------------------------------------------------------


def test_a_general_sentence_naming_her_2_is_not_the_patients(terminology):
    # 'HER-2' must not read as 'her': the background sentence about HER-2 positive cancers stays general.
    text = (
        "Background\n\nSince HER-2 targeted drugs control disease outside the skull, more women with HER-2 positive"
        " cancers now develop metastases in the brain.\n\nCase presentation\n\nA woman of 51 treated for breast"
        " cancer had metastases in the liver."
    )
    found = sites(one(text, terminology))
    assert "liver" in found
    assert "brain" not in found


def test_echocardiography_that_found_a_cardiac_metastasis_is_imaging(terminology):
    text = (
        "A woman of 60 treated for breast cancer had palpitations. Transthoracic echocardiography showed a mass in"
        " the right ventricle, and its excision proved a metastasis of her breast carcinoma."
    )
    assert "imaging" in met(one(text, terminology), "right ventricle").get("confirmed_by", [])
