"""Drafting metastatic sites, their sides, how each was confirmed, their markers and their histology, and splitting
a report into its cases: the kinds of wording the fourteenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, sites  # noqa: E402

from fhir_adapter.draft import draft_text  # noqa: E402
from fhir_adapter.draft.rules import shipped_rules  # noqa: E402
from fhir_adapter.draft.text import split_cases  # noqa: E402

# -- a case headed by a line of its own starts a case --------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Case 1", "Case 2"),
        ("CASE NO. 1", "CASE NO. 2"),
        ("Case report 1", "Case report 2"),
        ("Patient #1", "Patient #2"),
        ("Case I", "Case II"),
    ],
)
def test_numbered_case_headings_on_lines_of_their_own_split_the_report(first, second):
    # Only labels followed by ':', '.' or ')' started a case, so a report whose cases stand under headings
    # ('Case 1' alone on its line, then the story) was drafted as one case and lost every fact of the second.
    text = (
        "Two women with gastric deposits of breast cancer\n\n"
        f"{first}\n\nA woman of 60 had a lobular carcinoma of the left breast.\n\n"
        f"  {second}  \nAnother woman, 71, had a ductal carcinoma of the right breast.\n"
    )
    segs = split_cases(text, shipped_rules())
    assert len(segs) == 2 and segs[0].start == 0
    assert text[segs[1].start :].lstrip().startswith(second)
    assert segs[1].label == second


def test_a_case_number_ending_a_wrapped_line_of_prose_starts_no_case():
    # A heading must stand alone on its line: a wrapped sentence that happens to end in 'case 2' is prose.
    text = (
        "A woman of 60 had a lobular carcinoma of the left breast; unlike case\n1 of our earlier series, and\n"
        "like the woman described as case\n2 there, she had bone metastases.\n"
    )
    assert len(split_cases(text, shipped_rules())) == 1
    text = "Case\nA woman of 60.\nWe compare her with patient 2\nof the series by others.\n"
    assert len(split_cases(text, shipped_rules())) == 1


def test_two_cases_under_headings_give_two_drafts_each_with_its_own_site(terminology):
    text = (
        "Breast cancer spreading to the stomach and to the ovary\n\n"
        "Case 1\n"
        "A woman of 58 was treated for an invasive lobular carcinoma of the right breast. Four years later\n"
        "gastroscopy found a thickened stomach wall, and biopsies showed metastatic lobular carcinoma.\n\n"
        "Case 2\n"
        "A woman of 47 had an invasive ductal carcinoma of the left breast. Two years afterwards an ovarian\n"
        "mass was removed, and pathology found a metastasis of the breast carcinoma in the ovary.\n"
    )
    drafts = draft_text(text, terminology=terminology)
    assert [d.label for d in drafts] == ["Case 1", "Case 2"]
    assert "stomach" in sites(drafts[0].case) and "stomach" not in sites(drafts[1].case)
    assert "ovary" in sites(drafts[1].case) and "ovary" not in sites(drafts[0].case)


# -- a test that lists its findings confirms each metastasis of the list ------------------------------------------


def _confirmed(case: dict) -> dict[str, list[str]]:
    return {m["site"]: m.get("confirmed_by", []) for m in case.get("metastases", [])}


def test_imaging_that_found_the_breast_tumour_first_still_confirms_the_metastases_it_lists(terminology):
    # The imaging word's clause was judged by its first finding alone: one in the breast made the whole test
    # 'imaging of something else', and the liver and lung deposits it listed after lost their confirmation.
    text = (
        "At 52 a woman felt a hard lump in her left breast. A staging scan by computed tomography found a"
        " spiculated mass in that breast, enlarged nodes in the left axilla, deposits in the liver and the lungs."
    )
    confirmed = _confirmed(one(text, terminology))
    assert "CT" in confirmed["liver"] and "CT" in confirmed["lung"]


@pytest.mark.parametrize(
    "text",
    [
        # an item that says there is no lesion
        "A woman of 64 had a lobular breast carcinoma. CT showed a mass in the left breast and a normal liver, and"
        " metastases in the liver were found only at laparoscopy.",
        # the organ named again in a clause of its own, with its own verb
        "A woman of 64 had a lobular breast carcinoma. CT showed a mass in the left breast and a fatty liver, yet a"
        " laparoscopy found metastases in the liver.",
    ],
)
def test_a_finding_list_ends_where_a_clause_of_its_own_begins(terminology, text):
    # Only an item that names a lesion, or shares the lesion noun of the item before, is a finding of the test.
    assert "CT" not in _confirmed(one(text, terminology)).get("liver", [])


def test_findings_end_where_another_test_starts_its_own(terminology):
    text = (
        "A woman of 47 had a ductal carcinoma of the right breast. PET-CT showed suspicious foci in the right"
        " breast, and a needle biopsy of the liver then found metastatic carcinoma."
    )
    assert _confirmed(one(text, terminology))["liver"] == ["biopsy"]


# -- a literature word said of the case's own examination keeps its sentence in the story -------------------------


@pytest.mark.parametrize(
    "result",
    [
        "In the specimen the pathologist reported an infiltrating lobular breast carcinoma.",
        "Immunohistochemical studies found a mucinous breast carcinoma.",
        "A review of the histology slides found an infiltrating lobular breast carcinoma.",
    ],
)
def test_a_pathology_result_told_with_reported_or_study_is_the_case_s_own(terminology, result):
    # 'reported', 'study', 'review' and 'series' were read as words of the literature wherever they stood, so a
    # story sentence giving the specimen's result became a literature sentence and its confirmation was lost.
    text = (
        "A woman of 70 with an earlier breast cancer had a narrowing of the jejunum, and the narrowed loop was"
        f" resected at laparotomy. {result}"
    )
    (draft,) = draft_text(text, terminology=terminology)
    assert draft.roles[-1] == "patient"
    assert "histopathology" in _confirmed(draft.case)["jejunum"]


def test_the_same_words_of_other_patients_stay_literature(terminology):
    text = (
        "A woman of 70 with an earlier breast cancer had a narrowing of the jejunum, and the narrowed loop was"
        " resected at laparotomy. Lobular breast carcinoma in the small bowel has been reported in a few series."
    )
    (draft,) = draft_text(text, terminology=terminology)
    assert draft.roles[-1] == "literature"


def test_a_test_word_far_before_reported_does_not_make_the_literature_the_case_s(terminology):
    text = (
        "A woman of 70 with an earlier breast cancer had a narrowing of the jejunum, and the narrowed loop was"
        " resected at laparotomy. Small bowel deposits proven by biopsy have been reported before."
    )
    (draft,) = draft_text(text, terminology=terminology)
    assert draft.roles[-1] == "literature"


# -- a test named by its record ('an echocardiogram', 'a sonogram', 'a mammogram') is the test ---------------------


def test_an_echocardiogram_of_the_effusion_confirms_the_pericardial_metastasis(terminology):
    # Only 'echocardiography' (and 'sonography', 'mammography') were test words; a report that names the record
    # of the test instead lost the imaging that found the lesion.
    text = (
        "Short of breath, a woman of 58 treated for a ductal carcinoma of the left breast was seen at once. Her"
        " echocardiogram found a large pericardial effusion, and cytology of the drained fluid showed malignant"
        " cells."
    )
    assert "imaging" in _confirmed(one(text, terminology))["pericardium"]


def test_a_sonogram_of_the_liver_confirms_its_metastases(terminology):
    text = (
        "A woman of 58 had a ductal carcinoma of the left breast. On an abdominal sonogram two masses were seen in"
        " the liver, and a biopsy of one confirmed metastases."
    )
    assert "ultrasonography" in _confirmed(one(text, terminology))["liver"]


def test_a_mammogram_confirms_no_metastasis_outside_the_breast(terminology):
    # Now that 'a mammogram' is a test word, a sentence that tells a liver biopsy and a mammogram together must not
    # give the liver deposit a confirmation by a test that images the breasts only.
    text = (
        "A woman of 66 with a ductal carcinoma of the left breast had a biopsy of a liver mass that showed a"
        " metastasis, and she had a mammogram the same week."
    )
    assert _confirmed(one(text, terminology))["liver"] == ["biopsy"]


# -- a malignant phyllodes tumour is a histology of the maps ---------------------------------------------------------


def test_a_malignant_phyllodes_tumour_is_the_histology_of_the_breast_primary(terminology):
    # The maps held carcinomas only, so a breast primary told as a malignant phyllodes tumour had no histology.
    text = (
        "A woman of 47 had a malignant phyllodes tumour removed from her right breast by mastectomy. Two years later"
        " CT showed several nodules in both lungs, and a wedge biopsy showed metastases of the phyllodes tumour."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0]["histology"] == "malignant phyllodes tumour"
    assert terminology.lookup("histology", "malignant phyllodes tumor").codings[0].code == "87913009"


# -- 'the tumour' after a primary told with its nodes is the primary ------------------------------------------------


def _receptors(case: dict) -> tuple[dict, dict[str, list]]:
    primary = case["primary_cancers"][0].get("receptors", {})
    return primary, {m["site"]: m.get("markers", []) for m in case.get("metastases", [])}


@pytest.mark.parametrize(
    "first",
    [
        "A woman of 52 was diagnosed in 2010 with an invasive ductal carcinoma of the left breast with involvement"
        " of the axillary lymph nodes.",
        "Her breast cancer was found in 2001: a ductal carcinoma, with cancer in the regional lymph nodes.",
    ],
)
def test_the_tumour_after_a_primary_told_with_its_nodes_is_the_primary(terminology, first):
    # The stains of 'the tumour' went to the metastasis the sentence before named last, though that sentence named
    # the nodes only as the primary's own spread.
    text = f"{first} The tumour was positive for the oestrogen receptor and negative for HER2. Years later the liver was found to hold metastases."
    primary, mets = _receptors(one(text, terminology))
    assert primary.get("er") == "positive" and primary.get("her2") == "negative"
    assert not any(mets.values())


def test_the_tumour_after_a_node_with_a_finding_of_its_own_is_the_node(terminology):
    text = (
        "A woman of 52 had a ductal carcinoma of the left breast treated in 2010, and in 2015 a biopsy of an"
        " enlarged axillary lymph node showed a metastasis. The tumour was positive for the oestrogen receptor."
    )
    primary, mets = _receptors(one(text, terminology))
    assert "er" not in primary and mets["axillary lymph node"] == [{"name": "ER", "result": "positive"}]


# -- 'each' and 'either' before a paired organ say both sides ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "site"),
    [
        (
            "Years after a mastectomy for breast cancer, scans of a woman of 50 showed a metastasis in each ovary.",
            "ovary",
        ),
        (
            "A woman of 61 with a lobular breast cancer had metastatic deposits in either adrenal gland.",
            "adrenal gland",
        ),
        (
            "A man of 75 with a breast carcinoma had a firm mass in each submandibular gland; biopsies of the two"
            " masses found metastatic carcinoma.",
            "submandibular gland",
        ),
    ],
)
def test_each_or_either_before_a_paired_organ_is_both_sides(terminology, text, site):
    # Only 'both', 'bilateral' and plural nouns gave both sides; 'each ovary' was drafted with no side.
    assert sites(one(text, terminology)).get(site) == "bilateral"


# -- what a metastasis was taken for is cut at a whole stop word, not inside a word ------------------------------------


@pytest.mark.parametrize(
    ("said", "taken_for"),
    [
        ("at first mistaken for an orbital inflammation", "orbital inflammation"),
        ("which was first thought to be a hernia", "hernia"),
        ("at first taken for an inflamed orbital fat pad", "inflamed orbital fat pad"),
    ],
)
def test_the_misdiagnosis_is_not_cut_inside_a_word(terminology, said, taken_for):
    # The words that end the wrong diagnosis (' or', ' in', ' he', ...) were matched as the start of any word, so
    # 'orbital inflammation' was cut to 'orbital'; a diagnosis that holds no such start stays whole as before.
    text = (
        f"A woman of 63 treated for a lobular carcinoma of the right breast had a swelling of the orbit, {said}."
        " A biopsy of the orbit showed metastatic lobular carcinoma."
    )
    assert one(text, terminology)["metastases"][0].get("misdiagnosis") == taken_for
