"""Drafting metastatic sites and their sides: the kinds of wording the tenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one, sites  # noqa: E402

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
