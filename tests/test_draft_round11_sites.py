"""Drafting metastatic sites, their sides and how each was confirmed: the kinds of wording the eleventh round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one, sites  # noqa: E402

from fhir_adapter.draft import draft_text  # noqa: E402
from fhir_adapter.draft.roles import PATIENT  # noqa: E402
from fhir_adapter.draft.rules import shipped_rules  # noqa: E402

# -- confirmation: imaging that showed the site before a sample called it a metastasis ------------------------------


def test_a_scan_that_showed_the_organ_before_its_biopsy_is_how_it_was_seen(terminology):
    # The scan's sentence names the organ with no metastasis word; the next one samples it and names the metastasis.
    text = (
        "A 57-year-old woman, treated for a ductal carcinoma of the right breast six years earlier, lost weight."
        " An ultrasound of the abdomen disclosed three hypoechoic nodules in the liver. Needle biopsy of one of them"
        " gave metastatic carcinoma of breast origin in the liver."
    )
    liver = met(one(text, terminology), "liver")
    assert "ultrasonography" in liver["confirmed_by"]
    assert "biopsy" in liver["confirmed_by"]


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


# -- sentence roles: 'one of them' counts what the story just told ---------------------------------------------------


def test_a_count_of_them_after_a_story_sentence_is_still_the_story(terminology):
    # 'two of them' after the sentence telling the lesions counts the lesions, not the patients of a series.
    text = (
        "A woman of 52 with a past ductal carcinoma of the left breast had a cough. Chest CT found four nodules in"
        " the right lung. Two of them were removed by wedge resection and held metastatic breast carcinoma."
    )
    drafts = draft_text(text, terminology=terminology)
    assert drafts[0].roles[2] == PATIENT
    assert sites(drafts[0].case).get("lung") == "right"


def test_a_count_of_them_after_a_sentence_about_patients_stays_general(terminology):
    # After a sentence about the women of a series, 'three of them' counts those women: background.
    text = (
        "A woman of 60 had a lobular carcinoma of the right breast and then a mass in the stomach. Earlier series"
        " described eleven women with gastric spread of lobular cancer. Three of them had metastases in the ovary."
    )
    drafts = draft_text(text, terminology=terminology)
    assert drafts[0].roles[2] != PATIENT
    assert "ovary" not in sites(drafts[0].case)


def test_samples_none_of_which_held_cancer_confirm_nothing(terminology):
    # The first samples held no cancer; only the later resection showed the metastasis.
    text = (
        "A 66-year-old woman treated for a lobular breast cancer had vomiting. Endoscopic biopsies were taken from"
        " the stomach, but none of these contained tumour cells. A gastrectomy was done, and histology found"
        " metastatic lobular carcinoma in the stomach wall."
    )
    stomach = met(one(text, terminology), "stomach")
    assert "biopsy" not in stomach.get("confirmed_by", [])


def test_a_scan_of_the_region_that_showed_the_organ_is_its_imaging(terminology):
    # The test names the region it imaged, then the organ it showed; a later sample calls the organ metastatic.
    text = (
        "Eight years after a mastectomy for a ductal carcinoma, a woman of 63 became hoarse. Magnetic resonance"
        " imaging of the neck demonstrated an enlarged, irregular thyroid. Fine-needle aspiration of the thyroid"
        " found carcinoma cells of breast origin, a metastasis."
    )
    thyroid = met(one(text, terminology), "thyroid")
    assert "MRI" in thyroid["confirmed_by"]


# -- regional nodes: each place of a list, and a side said as the side of the region ---------------------------------


def test_nodes_in_one_place_then_another_each_give_a_site(terminology):
    # The nodes' first place makes the axillary site; the list goes on with a place of its own preposition.
    text = (
        "A 47-year-old woman had a carcinoma of the right breast. Staging found it had reached lymph nodes in the"
        " right axilla and in the neck, as well as the liver."
    )
    found = sites(one(text, terminology))
    assert found.get("axillary lymph node") == "right"
    assert "cervical lymph node" in found
    assert "neck" not in found


def test_nodes_on_one_side_of_a_region_take_that_side(terminology):
    # 'on the right side of the neck': the region is the neck, the side is the right.
    text = (
        "A man of 71 with a carcinoma of the left breast was found, a year on, to have metastases in lymph nodes"
        " of the left axilla and on the right side of the neck."
    )
    found = sites(one(text, terminology))
    assert found.get("cervical lymph node") == "right"


def test_a_neck_node_takes_the_side_the_neck_was_given_just_before(terminology):
    # The neck holds its nodes: the side told of a lump in the neck is the node's, sampled in the next sentence.
    text = (
        "A woman of 58, eight years after a mastectomy for breast cancer, felt a firm lump in the left side of her"
        " neck. Excision of this cervical lymph node showed metastatic ductal carcinoma."
    )
    found = sites(one(text, terminology))
    assert found.get("cervical lymph node") == "left"


# -- a side given to the lesion the next sentence samples ------------------------------------------------------------


def test_the_side_of_the_lesion_told_before_its_sample_is_the_metastasis_side(terminology):
    # The scan tells a sided lesion with no organ; the next sentence samples the organ and finds the metastasis.
    text = (
        "Five years after treatment of a lobular carcinoma, a 69-year-old woman grew short of breath. Chest CT"
        " revealed a right-sided effusion. Thoracoscopic biopsy of the pleura found metastatic lobular carcinoma."
    )
    pleura = met(one(text, terminology), "pleura")
    assert pleura.get("laterality") == "right"
    assert "CT" in pleura["confirmed_by"]


def test_a_lesion_side_given_beside_another_site_is_not_the_metastasis_side(terminology):
    # The sentence before names a mass of the left breast: its side is the breast's, not the pleura's.
    text = (
        "A woman of 50 was seen with a hard mass in her left breast and an effusion. Biopsy of the pleura showed"
        " metastatic ductal carcinoma."
    )
    pleura = met(one(text, terminology), "pleura")
    assert "laterality" not in pleura


def test_a_sentence_giving_two_sides_gives_the_metastasis_neither(terminology):
    text = (
        "A woman of 73, treated for breast cancer, had breathlessness. Radiographs showed a small effusion on the"
        " right side and a nodule on the left. Biopsy of the pleura found carcinoma of breast origin."
    )
    pleura = met(one(text, terminology), "pleura")
    assert "laterality" not in pleura


# -- stains: negative verbs, a list that goes on with its preposition, and the tumour a description goes on about ----


def test_stains_a_tumour_did_not_take_or_lacked_are_negative(terminology):
    # The verbs of a stain said with a negation: 'did not stain for', 'failed to react with', 'lacked'.
    for said in ("did not stain for", "failed to react with", "lacked"):
        text = (
            "A woman of 61 with a past ductal carcinoma of the breast had a 2 cm lesion of the liver, resected as"
            f" a metastasis. Its cells were positive for GATA3 and {said} HER2 and CK20."
        )
        liver = met(one(text, terminology), "liver")
        assert markers(liver).get("HER2") == "negative", said
        assert markers(liver).get("CK20") == "negative", said
        assert markers(liver).get("GATA3") == "positive", said


def test_a_stain_list_that_goes_on_with_its_preposition_keeps_its_result(terminology):
    # 'reacted with A, strongly and diffusely, and with B': B is positive too.
    text = (
        "A 55-year-old woman treated for lobular breast cancer had a mass of the stomach, removed as a metastasis."
        " Its cells reacted with GATA3, strongly and diffusely, and with mammaglobin."
    )
    stomach = met(one(text, terminology), "stomach")
    assert markers(stomach).get("mammaglobin") == "positive"


def test_stains_of_the_tumour_after_a_description_of_it_are_the_metastasis(terminology):
    # A sentence describing 'the tumour' names no site; the stains after it are of the metastasis told before it.
    text = (
        "A 63-year-old woman had a metastasis of a lobular breast carcinoma in the ovary. The tumour was built of"
        " small cells in cords. The tumour cells were positive for GATA3 and negative for CK20."
    )
    case = one(text, terminology)
    assert markers(met(case, "ovary")).get("GATA3") == "positive"
    primary = case["primary_cancers"][0]
    assert "GATA3" not in markers(primary)


# -- the right diagnosis is no misdiagnosis ---------------------------------------------------------------------------


def test_a_lesion_diagnosed_as_a_cancer_of_the_breast_was_not_misdiagnosed(terminology):
    # 'diagnosed it as ... of the breast' is the final diagnosis: the metastasis's histology, not what it was taken for.
    text = (
        "A 74-year-old woman, treated for breast cancer in the past, had a nodule of the eyelid that was excised."
        " Under the microscope the pathologist diagnosed it as an invasive ductal carcinoma of the breast."
    )
    eyelid = next(m for m in one(text, terminology)["metastases"] if "eyelid" in m["site"])
    assert "misdiagnosis" not in eyelid


def test_pathological_examination_confirms_and_a_pathological_fracture_does_not():
    # 'pathological' names the test only before a word of examining or finding; a pathological fracture is a break.
    confirmation = shipped_rules().confirmation
    assert [m.group(1) for m in confirmation.finditer("the rib went for pathological analysis")] == [
        "pathological"
    ]
    assert [m.group(1) for m in confirmation.finditer("metastasis was pathologically proven")] == [
        "pathologically"
    ]
    assert not list(confirmation.finditer("she had a pathological fracture of the humerus"))


def test_a_sample_sent_for_pathological_examination_confirms_its_metastasis(terminology):
    text = (
        "A woman of 52 with a past carcinoma of the right breast had a nodule of the scalp. It was excised and sent"
        " for pathologic examination, which found a metastasis of the breast carcinoma."
    )
    assert "histopathology" in met(one(text, terminology), "scalp")["confirmed_by"]


# -- a title's receptor of the breast cancer -------------------------------------------------------------------------


def test_a_receptor_the_title_says_of_the_breast_cancer_is_the_primarys(terminology):
    # Only the title tells the HER2 status; the story never gives it again.
    text = (
        "Late spread to the ovary of an ER-positive lobular carcinoma of the breast\n\n"
        "A 58-year-old woman, seven years after a left mastectomy, had a pelvic mass. Oophorectomy showed"
        " metastatic lobular carcinoma in the ovary."
    )
    primary = one(text, terminology)["primary_cancers"][0]
    assert primary.get("receptors", {}).get("er") == "positive"


def test_a_receptor_the_title_says_of_the_metastasis_is_not_the_primarys(terminology):
    text = (
        "HER2-positive brain metastases years after a breast carcinoma\n\n"
        "A woman of 49, treated for a carcinoma of the right breast in the past, had seizures. MRI showed three"
        " metastases in the brain."
    )
    primary = one(text, terminology)["primary_cancers"][0]
    assert "her2" not in primary.get("receptors", {})


def test_the_storys_receptor_wins_over_the_titles(terminology):
    text = (
        "A HER2-positive breast cancer spreading to the stomach\n\n"
        "A woman of 66 had a carcinoma of the left breast, negative for HER2 on repeat testing. Gastroscopy and"
        " biopsy found metastatic breast carcinoma in the stomach."
    )
    primary = one(text, terminology)["primary_cancers"][0]
    assert primary["receptors"]["her2"] == "negative"


# -- confirmation by the resection of the metastasis ----------------------------------------------------------------


def test_a_metastasis_its_own_sentence_tells_resected_was_shown_by_the_resection(terminology):
    text = (
        "A 70-year-old woman with a past lobular carcinoma of the breast had bowel obstruction. A metastasis in"
        " the jejunum was found at laparotomy and resected with a short segment of bowel."
    )
    found = one(text, terminology)["metastases"]
    assert any("resection" in m.get("confirmed_by", []) for m in found)


def test_a_resection_not_done_or_of_another_organ_confirms_nothing(terminology):
    for said in (
        "A metastasis in the liver was found but was not resected.",
        "A metastasis in the liver was found, and the colon was resected for a stricture.",
    ):
        text = "A 70-year-old woman had a ductal carcinoma of the breast in the past. " + said
        liver = met(one(text, terminology), "liver")
        assert "resection" not in liver.get("confirmed_by", []), said


# -- a breast cancer found in the sample of another organ's lesion ---------------------------------------------------


def test_a_breast_carcinoma_found_in_the_fracture_of_a_bone_makes_the_bone_a_metastasis(terminology):
    # The sample is named as 'the fracture'; its result names the breast as the cancer's origin, with no metastasis word.
    text = (
        "A 61-year-old man fell and fractured his humerus; pathology of the fracture revealed a poorly differentiated"
        " carcinoma of the breast."
    )
    assert "humerus" in sites(one(text, terminology))


def test_a_breast_carcinoma_found_in_a_sample_of_the_breast_is_the_primary(terminology):
    text = "A woman of 50 had a mass in her left breast, and a biopsy of the mass showed a carcinoma of the breast."
    assert not one(text, terminology).get("metastases")
