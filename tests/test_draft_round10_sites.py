"""Drafting metastatic sites and their sides: the kinds of wording the tenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import markers, met, one, sites  # noqa: E402

from fhir_adapter.draft import draft_text  # noqa: E402
from fhir_adapter.draft.roles import PATIENT, TITLE  # noqa: E402

# -- a report's title: its own sentence, read as a title -----------------------------------------------------------


def test_a_title_with_no_full_stop_is_a_sentence_of_its_own(terminology):
    # The title ends with no full stop; a blank line ends it. It is not run into the first sentence of the story.
    text = (
        "Skin deposits from a lobular carcinoma of the breast in an older woman\n\n"
        "An 81-year-old woman was seen for a red patch over the right side of her chest. She had had a lobular"
        " carcinoma of the right breast nine years before."
    )
    draft = draft_text(text, terminology=terminology)[0]
    first, second = draft.sentences[:2]
    assert text[first[0] : first[1]].strip().endswith("older woman")
    assert text[second[0] : second[1]].startswith("An 81-year-old")
    assert draft.roles[0] == TITLE
    assert draft.roles[1] == PATIENT


def test_the_site_a_title_calls_metastatic_is_the_storys_telling_of_it(terminology):
    # The story tells the liver lesion with no metastasis word of its own; the title says what it was.
    text = (
        "Late liver secondaries of a ductal breast carcinoma\n\n"
        "A 64-year-old woman treated for a ductal carcinoma of the left breast eleven years earlier had a raised"
        " alkaline phosphatase. Ultrasound found a solitary 3 cm lesion of the liver, and it was resected."
    )
    case = one(text, terminology)
    assert "liver" in sites(case)
    assert met(case, "liver").get("confirmed_by")


def test_a_site_only_the_title_names_is_drafted_for_review(terminology):
    # The text read is the title and the opening of the story, which never names the orbit again.
    text = (
        "Breast carcinoma first showing itself as an orbital metastasis in a man\n\n"
        "A man of 70 noticed that his left eye had been pushed forward over two months, with double vision."
    )
    drafts = draft_text(text, terminology=terminology)
    assert "orbit" in sites(drafts[0].case)
    assert any("title" in r["why"] for r in drafts[0].review)


def test_a_title_names_only_the_site_beside_its_metastasis_word(terminology):
    # 'haemorrhage into the brain from a dural metastasis': the metastasis is of the dura, the brain only bled.
    text = (
        "Haemorrhage into the brain from a dural metastasis of breast cancer\n\n"
        "A woman of 50 with a breast cancer treated two years earlier suddenly lost the strength of her left arm."
    )
    assert "brain" not in sites(one(text, terminology))


# -- nodes told with where they lie ---------------------------------------------------------------------------------


def test_nodes_found_above_the_collarbone_are_supraclavicular_with_their_side(terminology):
    # Not 'lymph node' and not the clavicle: nodes above the clavicle are supraclavicular, on that side.
    text = (
        "A woman of 58 had a ductal breast cancer removed in 2015. In 2018 enlarged lymph nodes containing"
        " metastatic carcinoma were found above the right clavicle."
    )
    found = sites(one(text, terminology))
    assert found.get("supraclavicular lymph node") == "right"
    assert "clavicle" not in found
    assert "lymph node" not in found


def test_a_list_of_node_places_gives_one_regional_site_each(terminology):
    # One head ('nodal metastases'), several places; a place the maps do not name stays nodes, not its organ.
    text = (
        "A man of 66 had a HER2-positive breast cancer. PET showed lymph node metastases in the mediastinum, in"
        " the neck and at the hilum of the liver."
    )
    found = sites(one(text, terminology))
    assert "mediastinal lymph node" in found
    assert "cervical lymph node" in found
    assert "liver" not in found


def test_nodes_in_both_axillae_and_in_the_neck_keep_each_place(terminology):
    # 'and in the neck' is a second place, not a region called 'in'.
    text = (
        "A woman of 44 with a lobular breast cancer had a CT that showed metastatic lymph nodes in both axillae"
        " and in the neck."
    )
    found = sites(one(text, terminology))
    assert found.get("axillary lymph node") == "bilateral"
    assert "inguinal lymph node" not in found


# -- a metastasis of a lining told as its inflammation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "site"),
    [
        ("carcinomatous pericarditis", "pericardium"),
        ("carcinomatous pleuritis", "pleura"),
        ("carcinomatous peritonitis", "peritoneum"),
    ],
)
def test_a_lining_inflamed_by_the_cancer_is_its_metastasis(terminology, words, site):
    text = (
        "Eight years after a mastectomy for breast cancer, a woman of 61 grew short of breath. Fluid was drained,"
        f" and its cytology showed {words}."
    )
    case = one(text, terminology)
    assert site in sites(case)
    assert "cytology" in met(case, site).get("confirmed_by", [])


# -- a coarse site told after a regional one ------------------------------------------------------------------------


def test_the_lymph_nodes_told_after_a_regional_node_are_that_node(terminology):
    # The regional nodes are nodes: 'the lymph nodes' after 'a node in her right axilla' points back at it.
    text = (
        "A woman of 65 felt a hard lymph node in her right axilla. A needle biopsy of the node showed metastatic"
        " carcinoma. No tumour could be seen in either breast, and an occult breast cancer that had reached the"
        " lymph nodes was diagnosed."
    )
    found = sites(one(text, terminology))
    assert found.get("axillary lymph node") == "right"
    assert "lymph node" not in found


# -- how a metastasis was shown, told after the site is named again -------------------------------------------------


def test_pathology_after_the_site_is_told_again_confirms_it(terminology):
    # The bone is named a metastasis, told again by its own word when it is removed, and only then examined.
    text = (
        "A woman of 62 treated for breast cancer ten years earlier came with a growing lump of the left rib cage."
        " CT found a single destructive metastasis in the seventh rib and nothing elsewhere. Two weeks later the"
        " rib was removed en bloc. Under the microscope the specimen held a ductal carcinoma."
    )
    case = one(text, terminology)
    assert "rib" in sites(case)
    assert "histopathology" in met(case, "rib").get("confirmed_by", [])


def test_stains_of_the_tumour_after_its_site_is_removed_are_the_metastasis(terminology):
    # 'the tumour' after the sentence that removes the rib is the rib's metastasis, not the breast cancer.
    text = (
        "A woman of 62 treated for breast cancer ten years earlier came with a growing lump of the left rib cage."
        " CT found a single destructive metastasis in the seventh rib and nothing elsewhere. Two weeks later the"
        " rib was removed en bloc. Under the microscope the tumour was a ductal carcinoma, positive for GATA3 and"
        " negative for TTF-1."
    )
    case = one(text, terminology)
    assert markers(met(case, "rib")).get("GATA3") == "positive"
    assert "GATA3" not in markers(case["primary_cancers"][0])


# -- a cancer that came back at a site --------------------------------------------------------------------------


def test_a_cancer_that_came_back_at_sites_names_its_metastases(terminology):
    text = (
        "A woman of 49 had a mastectomy for a HER2-positive breast cancer. Four years on, the disease relapsed"
        " in the left lung, and two years after that in the liver."
    )
    found = sites(one(text, terminology))
    assert found.get("lung") == "left"
    assert "liver" in found


def test_sites_given_as_alternatives_are_not_each_a_metastasis(terminology):
    # 'in the pleura or the liver': one of them, the sentence does not say which
    text = (
        "A woman of 71 was treated for breast cancer. Years later the disease returned in the pleura or the"
        " liver; the report does not say which."
    )
    assert "liver" not in sites(one(text, terminology))


# -- 'both' of two parts of one site is no side ----------------------------------------------------------------------


def test_both_parts_of_one_site_give_it_no_side(terminology):
    text = (
        "A woman of 51 with breast cancer had a swelling of the gingiva on both its inner and its outer side. A"
        " biopsy showed metastatic carcinoma."
    )
    assert sites(one(text, terminology)) == {"gingiva": None}


def test_both_eyes_before_another_site_stay_bilateral(terminology):
    text = "A woman of 51 with breast cancer had metastases in the choroid of both eyes and in the liver."
    found = sites(one(text, terminology))
    assert found.get("choroid") == "bilateral"
    assert "liver" in found


def test_a_title_of_skin_metastases_places_them_on_the_region_the_story_opens_with(terminology):
    # The title says the lesions are skin metastases; the story places them on one side of the back in its first
    # sentence and shows the cancer in the skin only many sentences later.
    text = (
        "Skin metastases of a breast carcinoma taken for a fungal infection\n\n"
        "A woman of 69 had a spreading red rash over the right side of her back. She thought it itched less at night."
        " Her doctor prescribed an antifungal cream. She used it for two months. The rash kept growing. She had"
        " no fever. Her weight was steady. Nine years earlier she had been treated for a carcinoma of the right"
        " breast. A punch biopsy of the rash showed carcinoma cells in the dermis."
    )
    found = sites(one(text, terminology))
    assert found.get("skin of back") == "right"
    assert "skin" not in found


# -- a paragraph under a 'Differential diagnosis' line ----------------------------------------------------------------


def test_the_paragraph_under_a_differential_heading_adds_no_site(terminology):
    text = (
        "A woman of 66 treated for breast cancer came with a mass of the right maxillary sinus. A biopsy of the"
        " mass showed metastatic ductal carcinoma.\n\n"
        "Differential diagnosis\n\n"
        "A destructive nasal cavity mass in an older patient brings to mind a lymphoma, a fungal infection and a"
        " metastasis; here the history settled it.\n\n"
        "Treatment\n\n"
        "She was given docetaxel."
    )
    found = sites(one(text, terminology))
    assert "maxillary sinus" in found
    assert "nasal cavity" not in found


def test_an_organ_named_in_what_the_lesion_was_taken_for_is_no_site(terminology):
    # 'it looked like a primary tumour of the nasal cavity': the nasal cavity is the misdiagnosis's organ
    text = (
        "A woman of 58 had a mastectomy for breast cancer in 2010. In 2015 a metastasis was found in her left"
        " maxilla; on CT it resembled a primary tumour of the nasal cavity, and only a biopsy showed where it had"
        " come from."
    )
    found = sites(one(text, terminology))
    assert found.get("maxilla") == "left"
    assert "nasal cavity" not in found


def test_a_story_with_its_own_metastasis_takes_no_other_site_from_the_title(terminology):
    # The title names the region coarsely in other words; the story names the metastasis itself.
    text = (
        "Breast cancer metastatic to the paranasal sinuses: a case report\n\n"
        "A woman of 63 treated for breast cancer seven years earlier had a metastasis in the right mandible."
    )
    found = sites(one(text, terminology))
    assert "mandible" in found
    assert "paranasal sinus" not in found


def test_a_midline_organ_takes_no_side_from_where_a_finding_lies_on_it(terminology):
    # 'on the left side of the pericardium' places a finding; the pericardium itself has no side.
    text = (
        "A woman of 47 with breast cancer had a malignant pericardial effusion from a metastasis. A month later"
        " echocardiography showed a loculated collection on the left side of the pericardium."
    )
    assert sites(one(text, terminology)) == {"pericardium": None}


def test_stains_with_an_occult_primary_are_of_the_metastasis(terminology):
    # No tumour was found in the breast, so what was stained is the resected metastasis, though the sentence
    # names the breast as where it came from.
    text = (
        "A man of 70 had an obstructed bowel, and a segment of it was resected. Mammography and MRI found no"
        " tumour in either breast, and an occult breast cancer was diagnosed. The metastasis in the small bowel"
        " was of a lobular carcinoma of the breast, positive for GATA3 and negative for CDX2."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("occult") is True
    assert markers(met(case, "small bowel")).get("GATA3") == "positive"
    assert "GATA3" not in markers(case["primary_cancers"][0])


def test_a_patch_on_a_region_places_a_skin_metastasis(terminology):
    text = (
        "A woman of 74 had a flat violet patch on the left side of her abdomen. A punch biopsy of the skin showed"
        " metastatic lobular carcinoma of the breast."
    )
    assert sites(one(text, terminology)).get("skin of abdomen") == "left"


def test_the_breast_cancer_named_after_a_rash_is_no_second_region(terminology):
    # 'cutaneous deposits of her breast carcinoma' names where they came from, not a second place of the rash
    text = (
        "Two years after a mastectomy, a woman of 66 noticed a violet rash spreading over the right breast, and a"
        " biopsy of the affected skin showed cutaneous deposits of the breast carcinoma."
    )
    assert sites(one(text, terminology)).get("skin of breast") == "right"


def test_a_result_for_the_next_markers_is_not_the_score_before_it(terminology):
    # 'HER2 3+, negative for ER and PR': 'negative' is the receptors', not HER2's reading of its 3+
    text = (
        "A woman of 50 had breast cancer. A biopsy of the liver lesion showed metastatic carcinoma, HER2 3+,"
        " negative for the oestrogen receptor and for the progesterone receptor."
    )
    liver = met(one(text, terminology), "liver")
    assert [m.get("result") for m in liver.get("markers", []) if m["name"] == "HER2"] == ["3+"]
    assert markers(liver).get("ER") == "negative"
