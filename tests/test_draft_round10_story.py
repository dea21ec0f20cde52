"""Drafting the patient's story: treatments and their details, ages, times and outcomes, the kinds of wording the
tenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import met, one  # noqa: E402


def _names(case: dict) -> list[str]:
    return [m["name"] for m in case.get("medications", [])]


# -- the age of a patient introduced with several words before the noun, or in an apposition -------------------


@pytest.mark.parametrize(
    "opening",
    [
        "History of the patient: A formerly fit Korean woman of 61 had been treated",
        "Presentation of the case: A previously well Thai woman of 61 had been treated",
    ],
)
def test_the_age_of_a_patient_introduced_with_her_past_is_her_age_now(terminology, opening):
    # The woman is introduced with her age and her past cancer in one sentence; the age is hers now, when the
    # metastasis is found, not when the breast was treated.
    text = (
        f"{opening} for a lobular carcinoma of the left breast nine years before. A mass then grew in her liver,"
        " and a needle biopsy of it showed a metastatic lobular carcinoma."
    )
    case = one(text, terminology)
    assert met(case, "liver").get("age") == 61
    assert "age" not in case["primary_cancers"][0]


# -- a drug named in the title or in the report's retelling of its case, and again in the story ----------------


def test_a_drug_named_in_the_title_and_in_the_story_is_one_course(terminology):
    # The title names the drugs and the outcome; the story tells the same course with its line. One course each,
    # with the line the story gives and no setting taken from the title's neighbouring words.
    text = (
        "Eribulin and trastuzumab held a HER2-positive breast cancer in the adrenal gland in check\n\n"
        "A woman of 48 was treated for a HER2-positive carcinoma of the right breast with a mastectomy and adjuvant"
        " chemotherapy. Four years later a metastasis was found in her left adrenal gland. In the third line she"
        " received eribulin and trastuzumab, and the adrenal mass has not grown since."
    )
    case = one(text, terminology)
    assert _names(case).count("eribulin") == 1
    assert _names(case).count("trastuzumab") == 1
    eribulin = next(m for m in case["medications"] if m["name"] == "eribulin")
    assert eribulin.get("line") == 3
    assert "intent" not in eribulin


def test_a_drug_named_where_the_report_retells_its_case_is_the_course_the_story_tells(terminology):
    text = (
        "Here we describe a man whose breast cancer spread to the liver and was kept in check by letrozole for"
        " years.\n\nA man of 66 had a mastectomy for a lobular carcinoma of the left breast. Two years later"
        " several metastases were found in his liver, and he was given letrozole."
    )
    case = one(text, terminology)
    assert _names(case).count("letrozole") == 1


# -- a drug named as the course that ends, or as the start a time is counted from ------------------------------


@pytest.mark.parametrize(
    "change",
    [
        "Because the nodes grew again, trastuzumab was then stopped and lapatinib was begun",
        "Because the nodes grew again, the doctors switched from trastuzumab to lapatinib",
    ],
)
def test_a_drug_named_as_the_course_that_gives_way_is_not_a_second_course(terminology, change):
    text = (
        "A woman of 70 had a HER2-positive carcinoma of the left breast with metastases in her neck nodes, and she"
        f" was treated with trastuzumab. Half a year later the nodes had shrunk. {change}. Twenty months after"
        " lapatinib had been started, no new lesion had appeared."
    )
    case = one(text, terminology)
    assert _names(case).count("trastuzumab") == 1
    assert _names(case).count("lapatinib") == 1


def test_a_retold_drug_given_another_way_in_the_story_stays_a_course_of_its_own(terminology):
    # The retelling names the oral course; the story adds the same drug by another route. Two courses.
    text = (
        "We report a woman who took oral capecitabine for six years before her breast cancer reached the"
        " meninges.\n\nA woman of 55 had a carcinoma of the right breast. Six years later metastases were found"
        " in the meninges, and intrathecal capecitabine was tried."
    )
    case = one(text, terminology)
    assert _names(case).count("capecitabine") == 2


def test_a_status_in_the_title_is_read_where_the_story_tells_it(terminology):
    # The title names the response and the drug; the story tells both. The response is the drug's, not a status
    # of the case taken from the title.
    text = (
        "Complete response of a breast cancer in the stomach to letrozole\n\n"
        "A woman of 74 had been treated for a lobular carcinoma of the left breast. Eight years later a biopsy of"
        " her stomach found a metastasis of it. She was given letrozole, and under it the gastric lesion went into"
        " complete response."
    )
    case = one(text, terminology)
    assert _names(case) == ["letrozole"]
    assert case["medications"][0].get("response") == "complete response"
    assert not case.get("disease_status")


# -- a route told by where the drug was put ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("put", "route"),
    [
        ("cisplatin was then instilled into her pleural cavity", "intrapleural"),
        ("cisplatin was given intrapericardially", "intrapericardial"),
        ("cisplatin was injected directly into the pericardial space", "intrapericardial"),
    ],
)
def test_a_drug_put_into_a_body_cavity_has_that_route(terminology, put, route):
    text = (
        "A woman of 59 with a ductal carcinoma of the left breast treated four years before came with a"
        f" malignant effusion from metastases of the pleura. After the fluid had been removed, {put}."
    )
    case = one(text, terminology)
    drug = next(m for m in case["medications"] if m["name"] == "cisplatin")
    assert drug.get("route") == route


# -- a status assessed under a course told in the clause before it ---------------------------------------------


def test_a_status_judged_under_the_regimen_she_went_home_on_is_that_regimen_s_response(terminology):
    text = (
        "A woman of 61 had a carcinoma of the left breast removed six years before. Metastases were then found"
        " in her liver. She was discharged on a combination of capecitabine and docetaxel, and at the next"
        " assessment her disease was considered stable when the response was reviewed."
    )
    case = one(text, terminology)
    drugs = {m["name"]: m for m in case["medications"]}
    assert drugs["capecitabine"].get("response") == "stable"
    assert drugs["docetaxel"].get("response") == "stable"
    assert not case.get("disease_status")


# -- a term split by the wrapping of a paragraph's lines ---------------------------------------------------------


def test_a_procedure_whose_words_a_line_wrap_splits_is_read_whole(terminology):
    # The report's lines are wrapped at a fixed width; the wrap falls inside the name of the operation.
    text = (
        "Eleven years before she came to us, this woman of 70 had been treated for a ductal carcinoma of her right"
        " breast with a modified radical\nmastectomy followed by radiotherapy. She now came with a mass in the"
        " left lobe of her liver, and a biopsy showed a metastasis of the breast carcinoma."
    )
    case = one(text, terminology)
    names = [p["name"] for p in case["procedures"]]
    assert "modified radical mastectomy" in names
    assert "mastectomy" not in names


def test_a_table_row_is_not_joined_to_the_next(terminology):
    # A short line of a table ends where it ends, even when the next row begins in lower case.
    text = (
        "A woman of 52 had a carcinoma of the left breast.\nWhen | What\n2015 | modified radical\n"
        "mastectomy done\nlater | letrozole\nIn 2020 a biopsy of a mass in her liver showed a metastasis of it."
    )
    case = one(text, terminology)
    assert [p["name"] for p in case["procedures"]].count("modified radical mastectomy") == 0


# -- the age the primary was operated on, told after the case's opening ----------------------------------------


def test_the_age_at_the_breast_operation_is_the_primary_s_age(terminology):
    # The opening names the metastasis and the breast cancer; the next sentence tells her age now and the age at
    # which the breast was operated on. The primary takes the age of its operation, the metastasis her age now.
    text = (
        "This is a report of a single breast cancer metastasis in the spleen. Now 71, the woman had undergone a"
        " lumpectomy of her left breast for a lobular carcinoma at the age of 58. A mass in her spleen was found"
        " on a scan this year, and the removed spleen held a metastasis of the lobular carcinoma."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 58


# -- an occult primary is diagnosed when its metastasis is -----------------------------------------------------


def test_an_occult_primary_takes_the_age_of_the_presentation_that_showed_it(terminology):
    text = (
        "A man of 68 noticed a hard lump under his right arm. Its excision showed a lymph node metastasis of an"
        " adenocarcinoma, positive for the oestrogen receptor and for GATA3. Imaging of both breasts found no"
        " tumour, and an occult breast cancer was diagnosed."
    )
    case = one(text, terminology)
    primary = case["primary_cancers"][0]
    assert primary.get("occult") is True
    assert primary.get("age") == 68


# -- radiotherapy named by its target with another word of the treatment ---------------------------------------


def test_irradiation_of_the_whole_brain_is_whole_brain_radiotherapy(terminology):
    text = (
        "A woman of 47 with a HER2-positive carcinoma of the left breast developed metastases in her brain two"
        " years after her mastectomy. She was given radiation to the whole brain, 30 Gy in ten fractions."
    )
    case = one(text, terminology)
    names = [p["name"] for p in case["procedures"]]
    assert "whole-brain radiotherapy" in names
    assert "radiotherapy" not in names


# -- a course given before the operation on the breast ---------------------------------------------------------


def test_a_course_given_ahead_of_the_breast_operation_is_neoadjuvant(terminology):
    text = (
        "A woman of 44 had a carcinoma of the right breast. Ahead of her mastectomy she received four cycles of"
        " docetaxel. Five years later a metastasis was found in her right adrenal gland."
    )
    case = one(text, terminology)
    drug = next(m for m in case["medications"] if m["name"] == "docetaxel")
    assert drug.get("intent") == "neoadjuvant"


def test_a_course_before_an_operation_on_a_metastasis_is_not_neoadjuvant(terminology):
    text = (
        "A woman of 44 had a mastectomy for a carcinoma of the right breast. Five years later a metastasis was"
        " found in her liver; before the operation on her liver she received docetaxel."
    )
    case = one(text, terminology)
    drug = next(m for m in case["medications"] if m["name"] == "docetaxel")
    assert drug.get("intent") != "neoadjuvant"


def test_an_operation_the_report_retells_is_the_one_its_story_tells(terminology):
    text = (
        "We describe a man whose liver metastasis of breast cancer was resected.\n\nA man of 63 had been treated"
        " for a ductal carcinoma of the left breast six years before. A single metastasis was then found in his"
        " liver, and it was resected. After the operation he was given capecitabine."
    )
    case = one(text, terminology)
    assert [p["name"] for p in case["procedures"]].count("resection") == 1
    drug = next(m for m in case["medications"] if m["name"] == "capecitabine")
    assert drug.get("intent") == "adjuvant"


def test_a_course_some_years_after_the_operation_has_no_intent_from_it(terminology):
    text = (
        "A woman of 50 had a mastectomy for a carcinoma of the right breast. Three years after the operation she"
        " was given capecitabine for a metastasis in her liver."
    )
    case = one(text, terminology)
    drug = next(m for m in case["medications"] if m["name"] == "capecitabine")
    assert "intent" not in drug


# -- the side of the primary is not the side of a breast where nothing was found ---------------------------------


def test_a_breast_found_clear_gives_the_primary_no_second_side(terminology):
    text = (
        "A woman of 52 had a ductal carcinoma of the left breast. Imaging showed no suspicious mass in the right"
        " breast, and she had a mastectomy. Four years later a metastasis was found in her liver."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("laterality") == "left"
