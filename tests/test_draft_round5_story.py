"""Drafting treatments and their times: the kinds of wording the fifth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import meds, one, procedures  # noqa: E402

from fhir_adapter.draft import draft_text  # noqa: E402

# -- a surgical word named with how much and by which way ---------------------------------------------


def test_a_surgical_word_keeps_how_much_and_the_approach(terminology):
    """'a radical abdominal hysterectomy' was drafted as 'hysterectomy': the qualifier ('radical') was read
    only when the next word was a qualifier too, so an approach adjective between them cut the name short."""
    case = one(
        "A 58-year-old woman had breast cancer treated years before. A mass of the uterus was found, and she "
        "underwent a radical abdominal hysterectomy. Pathology showed metastatic lobular carcinoma of the breast.",
        terminology,
    )
    assert "radical abdominal hysterectomy" in procedures(case)
    assert "hysterectomy" not in procedures(case)


# -- a keywords line is not the patient's story --------------------------------------------------------


def test_a_keywords_line_names_no_treatment(terminology):
    """'Keywords: ...; colon resection.' was drafted as a resection the patient had: index terms of the paper
    are read as a section that opens the background, not as the case."""
    case = one(
        "Abstract. A 70-year-old woman had a colonic metastasis of lobular breast carcinoma.\n\n"
        "Keywords: breast cancer; colon metastasis; colon resection.\n\n"
        "Case report\n\nA 70-year-old woman had a mastectomy for a lobular carcinoma of the left breast. "
        "Colonoscopy later showed a mass in the sigmoid colon, and a biopsy confirmed metastatic lobular carcinoma.",
        terminology,
    )
    assert "resection" not in procedures(case)


def test_axillary_node_clearance_is_an_axillary_dissection(terminology):
    """'axillary lymph node clearance' was not read at all (only 'axillary clearance' was)."""
    case = one(
        "A 52-year-old woman with cancer of the left breast underwent a mastectomy and axillary lymph node "
        "clearance. Three years later a liver metastasis was found.",
        terminology,
    )
    assert "axillary lymph node dissection" in procedures(case)


# -- one surgery told twice -------------------------------------------------------------------------


def test_a_surgery_retold_in_the_case_is_one_surgery(terminology):
    """A summary told 'a gastrectomy in March 2015' and the case 'treated earlier with a gastrectomy': two
    gastrectomies were drafted. A named surgery told again, with no other date or site, is the same one."""
    case = one(
        "Summary. A 66-year-old woman had a cholecystectomy in March 2015 for a gallbladder metastasis of "
        "breast cancer, and adjuvant letrozole was started.\n\n"
        "Case report\n\nA 66-year-old woman had an invasive ductal carcinoma of the right breast. A gallbladder "
        "mass was found on ultrasonography, and it was removed by cholecystectomy. Histology showed a "
        "metastasis of the breast carcinoma.",
        terminology,
    )
    assert procedures(case).count("cholecystectomy") == 1
    (chole,) = [p for p in case["procedures"] if p["name"] == "cholecystectomy"]
    assert chole.get("date") == "2015-03"


def test_surgeries_with_different_dates_stay_two(terminology):
    """The merge of a retold surgery never joins two tellings with different dates."""
    case = one(
        "A 60-year-old woman had a metastasis of breast cancer in the liver, removed by hepatectomy in May 2012. "
        "A second liver metastasis was removed by hepatectomy in June 2016.",
        terminology,
    )
    assert procedures(case).count("hepatectomy") == 2


def test_a_dated_surgery_is_not_also_timed_before_the_metastasis(terminology):
    """A mastectomy with its own year was also given 'twenty years before' the metastasis from the case's
    retelling: a treatment with a calendar date is timed by it."""
    case = one(
        "Summary. A 65-year-old woman had a mastectomy for cancer of the right breast in 1992.\n\n"
        "Case report\n\nA 65-year-old woman was found to have a solitary liver metastasis. Her breast cancer had "
        "been treated twenty years earlier with a mastectomy.",
        terminology,
    )
    (mast,) = [p for p in case["procedures"] if p["name"] == "mastectomy"]
    assert mast.get("date") == "1992"
    assert "relative" not in mast


# -- a word of surgery that names no new operation ----------------------------------------------------


def test_a_surgery_department_is_no_operation(terminology):
    """'referred to the breast surgery clinic' was drafted as a surgery: a field of care named before 'clinic',
    'ward', 'department' or 'team' is where the patient went, not what was done."""
    case = one(
        "A 59-year-old woman was referred to the breast surgery clinic with a lump of the left breast. "
        "A core needle biopsy showed an invasive ductal carcinoma, and she had a lumpectomy.",
        terminology,
    )
    assert "surgery" not in procedures(case)
    assert "lumpectomy" in procedures(case)


def test_after_surgery_refers_to_the_named_operation(terminology):
    """'the stage after surgery was pT2' after 'a quadrantectomy followed' was drafted as a second surgery: a bare
    'surgery' after 'after', 'before' or 'following', once a surgery is told, is that surgery."""
    case = one(
        "A 49-year-old woman had neoadjuvant chemotherapy for a carcinoma of the right breast, and a "
        "quadrantectomy followed; the stage after surgery was ypT1c ypN0. Two years later a lung metastasis was found.",
        terminology,
    )
    assert "surgery" not in procedures(case)
    assert "quadrantectomy" in procedures(case)


# -- cases told by ordinals ---------------------------------------------------------------------------


def test_paragraphs_opening_with_ordinals_are_cases(terminology):
    """'The first patient ...' / 'The second patient ...' was drafted as one case holding both women's
    treatments: a paragraph opening with an ordinal patient or case starts a case, like 'Case 2:'."""
    drafts = draft_text(
        "We report two women whose breast cancer spread to the stomach.\n\n"
        "The first patient, aged 61, had a gastrectomy for a gastric mass; it was metastatic lobular carcinoma.\n\n"
        "The second patient, aged 70, had been treated with a mastectomy and tamoxifen. Endoscopic biopsy of the "
        "stomach showed metastatic lobular carcinoma.",
        terminology=terminology,
    )
    assert len(drafts) == 2
    first, second = (d.case for d in drafts)
    assert "mastectomy" not in procedures(first)
    assert "mastectomy" in procedures(second)
    assert [m["name"] for m in second.get("medications", [])] == ["tamoxifen"]


def test_an_ordinal_inside_a_sentence_starts_no_case(terminology):
    """'This is the first case ...' and 'the second case reported' inside sentences split nothing."""
    drafts = draft_text(
        "A 55-year-old woman had a metastasis of breast cancer in the spleen, removed by splenectomy. "
        "This is the first case of its kind in our hospital, and the second case reported in the country.",
        terminology=terminology,
    )
    assert len(drafts) == 1


# -- an intent word before a list of treatments ------------------------------------------------------


def test_an_intent_word_goes_to_every_item_of_its_list(terminology):
    """'adjuvant epirubicin, radiotherapy and three years of letrozole' gave 'adjuvant' to epirubicin only: an
    intent before a list of drugs and radiotherapy is the intent of each item the list joins."""
    case = one(
        "A 47-year-old woman had a lumpectomy for a carcinoma of the left breast, then adjuvant epirubicin, "
        "radiotherapy and three years of letrozole. Six years later a metastasis was found in the ovary.",
        terminology,
    )
    assert meds(case)["epirubicin"]["intent"] == "adjuvant"
    assert meds(case)["letrozole"].get("intent") == "adjuvant"
    (rt,) = [p for p in case["procedures"] if p["name"] == "radiotherapy"]
    assert rt.get("intent") == "adjuvant"


def test_a_list_ends_at_a_surgery_or_other_words(terminology):
    """The carried intent stops at a surgery ('neoadjuvant docetaxel and a mastectomy') and at words that are no
    list ('adjuvant tamoxifen and, at relapse, exemestane')."""
    case = one(
        "A 52-year-old woman with breast cancer had neoadjuvant docetaxel and a mastectomy. She took adjuvant "
        "tamoxifen and, "
        "at relapse, exemestane.",
        terminology,
    )
    (mast,) = [p for p in case["procedures"] if p["name"] == "mastectomy"]
    assert "intent" not in mast
    assert "intent" not in meds(case)["exemestane"]


def test_cycles_before_a_list_of_drugs_are_each_drugs(terminology):
    """'six cycles of palliative carboplatin, gemcitabine and bevacizumab, then weekly eribulin' gave six cycles
    to carboplatin only: the cycles told before the head of a list of drugs are every listed drug's, not the
    next course's."""
    case = one(
        "A 61-year-old woman with metastatic breast cancer received six cycles of palliative carboplatin, "
        "gemcitabine and bevacizumab, then weekly eribulin.",
        terminology,
    )
    assert meds(case)["carboplatin"]["cycles"] == 6
    assert meds(case)["gemcitabine"].get("cycles") == 6
    assert meds(case)["bevacizumab"].get("cycles") == 6
    assert "cycles" not in meds(case)["eribulin"]


def test_a_surgery_named_again_more_precisely_is_one_surgery(terminology):
    """A summary's 'a mastectomy' and the case's 'a Halsted radical mastectomy of the right breast' were two
    surgeries: the same head named more precisely is the same surgery, under its precise name."""
    case = one(
        "Summary. We report a woman whose breast cancer reached the spleen 15 years after a mastectomy.\n\n"
        "Case report\n\nA 70-year-old woman had undergone a radical mastectomy of the right breast for a ductal "
        "carcinoma. Fifteen years later a splenic metastasis was found and removed by splenectomy.",
        terminology,
    )
    names = procedures(case)
    assert "radical mastectomy" in names
    assert "mastectomy" not in names


def test_a_drugs_own_class_word_is_no_treatment_of_its_own(terminology):
    """'docetaxel chemotherapy combined with pertuzumab' gave a 'chemotherapy' beside docetaxel: a class word
    right after a drug of its kind is that drug's, even when a drug is joined to it by 'combined with'."""
    case = one(
        "A 50-year-old woman with metastatic breast cancer was treated with docetaxel chemotherapy combined "
        "with pertuzumab.",
        terminology,
    )
    assert "chemotherapy" not in meds(case)
    assert {"docetaxel", "pertuzumab"} <= set(meds(case))


# -- statuses that are not the disease's now ----------------------------------------------------------


def statuses(case: dict) -> list[str]:
    return [s["status"] for s in case.get("disease_status", [])]


def test_a_symptom_that_worsened_is_no_progression(terminology):
    """'her swelling had worsened' was drafted as progressive disease: a symptom or complication that
    worsens says nothing of the cancer's course."""
    case = one(
        "A 64-year-old woman treated for breast cancer came because the swelling of her left leg had worsened. "
        "CT showed a metastasis in the left iliac bone.",
        terminology,
    )
    assert "progressive" not in statuses(case)


def test_a_remission_with_its_span_before_a_metastasis_is_past(terminology):
    """'She remained in remission for twelve years. She then had ...' was drafted as the case's status: a status
    told with how long it lasted, before a metastasis told after it, was the interval before the recurrence."""
    case = one(
        "A 58-year-old woman had a mastectomy for breast cancer. She remained in complete remission for twelve "
        "years. She then presented with a metastasis in the stomach.",
        terminology,
    )
    assert "complete response" not in statuses(case)


def test_a_remission_that_has_lasted_is_the_status_now(terminology):
    """'She has remained in complete remission for two years' after the metastasis was treated is the status now."""
    case = one(
        "A 58-year-old woman with breast cancer had a metastasis in the stomach, treated with letrozole and "
        "radiotherapy. At the last visit she has remained in complete remission for two years.",
        terminology,
    )
    assert "complete response" in statuses(case)


# -- the time of a death ----------------------------------------------------------------------------


def test_died_later_after_a_metastasis_is_not_counted_from_the_diagnosis(terminology):
    """'Brain metastases appeared a year later. She died five months later.' was timed five months after the
    breast cancer's diagnosis: with no procedure told just before, 'later' keeps its words, not an anchor."""
    case = one(
        "A 44-year-old woman had a carcinoma of the left breast with metastases in the liver. Brain metastases "
        "appeared a year later. She died five months later.",
        terminology,
    )
    vs = case["patient"]["vital_status"]
    assert vs["deceased"] is True
    assert "relative" not in vs
    assert vs.get("timing") == "five months later"


def test_died_later_after_an_operation_is_counted_from_it(terminology):
    """'She had a craniotomy ... She died three weeks later.' stays counted from the operation."""
    case = one(
        "A 44-year-old woman with breast cancer had a brain metastasis removed by craniotomy. "
        "She died three weeks later.",
        terminology,
    )
    rel = case["patient"]["vital_status"].get("relative", {})
    assert rel.get("after") == "3 weeks"
    (crani,) = [p for p in case["procedures"] if p["name"] == "craniotomy"]
    assert rel.get("to") == crani["id"]


def test_died_later_after_a_course_that_followed_an_operation_has_no_anchor(terminology):
    """'After a gastrectomy she received docetaxel. She died seven months later.': the operation is not the last
    event before the death, so 'later' is not counted from it."""
    case = one(
        "A 44-year-old woman with breast cancer had a gastric metastasis. After a gastrectomy she received "
        "docetaxel. She died seven months later.",
        terminology,
    )
    assert "relative" not in case["patient"]["vital_status"]


def test_the_tumour_and_something_else_removed_is_the_lesion_told_before(terminology):
    """'... a metastasis in the jejunum. The tumour and the adjacent mesentery were resected.' left the resection without
    a site: a subject naming the lesion with something else beside it is still that lesion."""
    case = one(
        "A 66-year-old woman with a history of lobular breast cancer had a bowel obstruction. At laparotomy a "
        "metastatic tumour of 2 cm was found in the jejunum. The tumour and the adjacent mesentery were resected.",
        terminology,
    )
    (res,) = [p for p in case["procedures"] if p["name"] == "resection"]
    assert res.get("body_site") == "jejunum"
