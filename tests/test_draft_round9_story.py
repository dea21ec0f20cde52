"""Drafting times, treatments and the course of the disease: the kinds of wording the ninth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import meds, met, one, procedures  # noqa: E402

# -- a year that ends a span is not when a treatment began --------------------------------------------------


def test_a_year_a_drug_was_taken_until_is_not_its_start(terminology):
    # Letrozole is told with the year it was stopped ('up to 2012'); the year letrozole began is not given.
    text = (
        "A woman of 58 was treated in 2006 for a ductal carcinoma of the left breast. Letrozole followed the"
        " operation, and she stayed on letrozole up to 2012. In 2015 a CT showed metastases in the liver."
    )
    case = one(text, terminology)
    assert meds(case)["letrozole"].get("date") != "2012"


def test_a_drug_given_till_the_end_of_a_year_is_not_dated_that_year(terminology):
    # 'till the end of 2010' closes the course of anastrozole; the text never says when it began.
    text = (
        "Breast cancer was found in a woman of 49 and treated with a lumpectomy. She took anastrozole till the"
        " end of 2010. In March 2014 a CT showed metastases in the liver."
    )
    case = one(text, terminology)
    assert meds(case)["anastrozole"].get("date") != "2010"


# -- an interval counted from a metastasis the text names ---------------------------------------------------


def test_an_interval_after_a_named_metastasis_is_counted_from_that_metastasis(terminology):
    # The brain metastases came a year and a half after the liver ones, not after the breast cancer.
    text = (
        "In 2011 a woman of 47 had a lumpectomy for a ductal carcinoma of the right breast. Three years on, a CT"
        " found metastases in the liver, and she was given capecitabine. Eighteen months after the hepatic"
        " metastases were detected, she developed headaches and an MRI showed metastases in the brain."
    )
    case = one(text, terminology)
    assert met(case, "brain").get("relative") == {"to": "liver", "after": "18 months"}
    assert "relative" not in met(case, "liver") or met(case, "liver")["relative"].get("to") != "liver"


# -- a class word that heads the list of drugs it was made of --------------------------------------------------


def test_a_class_followed_by_its_drugs_is_no_course_of_its_own(terminology):
    # 'chemotherapy with ...' names the drugs that follow, an antibody first and the cytotoxic drug last; it is not
    # a further treatment.
    text = (
        "A woman of 63 had a right mastectomy for a HER2-positive ductal carcinoma of the breast. She was then"
        " given chemotherapy with pertuzumab, trastuzumab and paclitaxel. Four years later a CT showed metastases"
        " in the lungs."
    )
    names = set(meds(one(text, terminology)))
    assert {"pertuzumab", "trastuzumab", "paclitaxel"} <= names
    assert "chemotherapy" not in names


def test_a_class_given_with_drugs_of_another_kind_stays_a_course(terminology):
    # The chemotherapy's own drugs are not named; trastuzumab, given with it, is not of its kind.
    text = (
        "A 51-year-old woman with a HER2-positive carcinoma of the left breast had a lumpectomy and was given"
        " chemotherapy with trastuzumab. Two years later metastases were found in the liver."
    )
    names = set(meds(one(text, terminology)))
    assert {"chemotherapy", "trastuzumab"} <= names


# -- a radiotherapy named by what it was aimed at ------------------------------------------------------------


def test_irradiation_of_the_whole_brain_is_whole_brain_radiotherapy(terminology):
    # The map's term puts the target first ('whole-brain radiotherapy'); the text puts it after the treatment.
    text = (
        "A 57-year-old woman with a lobular carcinoma of the left breast developed headaches, and an MRI showed"
        " several metastases in the brain. She received irradiation of the whole brain, 30 Gy in ten fractions."
    )
    names = procedures(one(text, terminology))
    assert "whole-brain radiotherapy" in names
    assert "irradiation" not in names and "radiotherapy" not in names


# -- a spread told in a clause hung off the cancer an interval dates -----------------------------------------


def test_a_spread_told_in_a_which_clause_takes_no_time_from_the_diagnosis(terminology):
    # 'Eight years before' dates when the cancer was found; when it reached the liver and the bones is not told.
    text = (
        "A woman of 60 came with a lump in the skin of her scalp. Eight years before she had been treated for a"
        " carcinoma of the left breast, which had metastasised to the liver and the bones. The scalp lump was"
        " excised and was a metastasis of the breast cancer."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("relative", {}).get("before") == "8 years"
    assert "relative" not in met(case, "liver")
    assert "relative" not in met(case, "bone")


# -- a sentence that moves the story on before the clause of its metastasis ----------------------------------


def test_a_metastasis_after_then_in_an_earlier_clause_takes_no_older_interval(terminology):
    # 'Three weeks later' timed the rash; the lung metastases come after the sentence says the story moved on
    # ('subsequently ..., yet ...'), and no interval of their own is given.
    text = (
        "A 70-year-old woman had a lumpectomy for a ductal carcinoma of the right breast in the past. She noticed"
        " red nodules on the skin of her chest. Three weeks later the nodules had grown and a biopsy showed a"
        " skin metastasis. The nodules were treated with radiotherapy. She subsequently received letrozole,"
        " yet metastases appeared in her lungs, and she died a year later."
    )
    case = one(text, terminology)
    assert met(case, "lung").get("relative", {}).get("after") != "3 weeks"


# -- a death told with a bound, not a time ------------------------------------------------------------------


def test_a_death_within_a_bound_keeps_the_words_and_no_exact_interval(terminology):
    # 'within three weeks after' gives a bound; counting '3 weeks after' the diagnosis would state more than the text.
    text = (
        "A 72-year-old woman was found to have a carcinoma of the left breast with metastases throughout the"
        " liver. She declined treatment, and she died within three weeks after the diagnosis."
    )
    vital = one(text, terminology)["patient"]["vital_status"]
    assert vital.get("deceased") is True
    assert "relative" not in vital
    assert "three weeks" in vital.get("timing", "")


def test_a_death_less_than_a_year_later_is_not_a_year_later(terminology):
    text = (
        "A woman of 58 had bone metastases of a lobular breast carcinoma treated with zoledronic acid. Her"
        " disease progressed and she died less than a year after the bone metastases were found."
    )
    vital = one(text, terminology)["patient"]["vital_status"]
    assert "relative" not in vital


# -- a status that lasted until a time the story goes past ---------------------------------------------------


def test_a_status_that_lasted_until_the_presentation_is_not_the_status_now(terminology):
    # 'no evidence of disease up to the visit at which ...' ended when the metastasis was found.
    text = (
        "Nine years after a lumpectomy for a ductal carcinoma of the right breast, a woman of 69 was seen for"
        " back pain. She had remained without evidence of disease up to that visit. An MRI showed metastases"
        " in the lumbar spine."
    )
    case = one(text, terminology)
    assert not [s for s in case.get("disease_status", []) if s["status"] == "complete response"]


def test_a_status_that_lasts_until_the_last_follow_up_is_the_status_now(terminology):
    text = (
        "A woman of 50 had a metastasis of a breast carcinoma in the right orbit, treated with radiotherapy and"
        " letrozole. She stayed free of disease until her last follow-up in 2021."
    )
    case = one(text, terminology)
    statuses = [s["status"] for s in case.get("disease_status", [])]
    responses = [m.get("response") for m in case.get("medications", [])] + [
        p.get("response") for p in case.get("procedures", [])
    ]
    assert "complete response" in statuses + responses


# -- a regimen's abbreviation in parentheses after the drugs it stands for ------------------------------------


def test_a_regimen_named_in_parentheses_after_its_drugs_is_not_a_further_course(terminology):
    text = (
        "A 45-year-old woman had a lumpectomy for a ductal carcinoma of the right breast and then six cycles of"
        " cyclophosphamide, epirubicin and fluorouracil (CEF). Five years later metastases were found in her liver."
    )
    names = set(meds(one(text, terminology)))
    assert {"cyclophosphamide", "epirubicin", "fluorouracil"} <= names
    assert not names & {"CEF", "FEC"}


# -- a lesion said to have gone after a course, found by a test ------------------------------------------------


def test_an_effusion_a_scan_shows_gone_after_a_course_is_that_courses_complete_response(terminology):
    # The status is said of one lesion (the pleural effusion) after the drug course is named, and reported as what
    # a scan showed; it is the course's response, not a status of the whole disease.
    text = (
        "A woman of 66 with a ductal carcinoma of the left breast developed a malignant pleural effusion. She was"
        " given paclitaxel every week, and after four months an ultrasound revealed that the effusion had"
        " completely disappeared."
    )
    case = one(text, terminology)
    assert meds(case)["paclitaxel"].get("response") == "complete response"
    assert not [s for s in case.get("disease_status", []) if s["status"] == "complete response"]


# -- a course said to have failed ------------------------------------------------------------------------------


def test_a_failed_endocrine_course_is_the_progression_of_every_drug_given_in_it(terminology):
    # 'the endocrine therapy failed' points back at the course that was of that kind: ribociclib was given in it
    # together with letrozole, so both progressed; capecitabine, started after, did not.
    text = (
        "A woman of 64 was found to have bone metastases of a lobular carcinoma of the right breast. She was"
        " started on ribociclib with letrozole. A year on, the endocrine therapy had failed, so capecitabine was"
        " given."
    )
    drugs = meds(one(text, terminology))
    assert drugs["ribociclib"].get("response") == "progressive"
    assert drugs["letrozole"].get("response") == "progressive"
    assert "response" not in drugs["capecitabine"]


def test_failure_of_the_chemotherapy_is_the_progression_of_its_drugs_only(terminology):
    text = (
        "A 48-year-old woman had liver metastases of a ductal breast carcinoma. She took tamoxifen and received"
        " docetaxel. After failure of the chemotherapy, she was given eribulin."
    )
    drugs = meds(one(text, terminology))
    assert drugs["docetaxel"].get("response") == "progressive"
    assert "response" not in drugs["tamoxifen"]


# -- an origin named where the patient is introduced --------------------------------------------------------------


@pytest.mark.parametrize(
    ("introduced", "origin"),
    [("a 71-year-old Euro-Brazilian man", "Euro-Brazilian"), ("A 38-year-old black woman", "black"),
     ("An 80-year-old Sri Lankan woman", "Sri Lankan")],
)  # fmt: skip
def test_an_origin_between_the_age_and_the_noun_is_the_patients_ethnicity(terminology, introduced, origin):
    # Words no list of ours holds, in the one place a report puts an origin: after the age, before 'woman'/'man'.
    text = f"{introduced} came with nodules of the scalp. A biopsy showed metastases of a ductal breast carcinoma."
    assert one(text, terminology)["patient"].get("ethnicity") == origin


def test_a_creed_between_the_age_and_the_noun_is_no_origin(terminology):
    text = (
        "A 64-year-old Methodist woman had scalp nodules. A biopsy showed metastases of a breast carcinoma."
    )
    assert "ethnicity" not in one(text, terminology)["patient"]


def test_a_word_at_the_head_of_a_sentence_is_no_origin(terminology):
    text = (
        "Scalp nodules were found in a 71-year-old woman. A biopsy showed metastases of a breast carcinoma."
    )
    assert "ethnicity" not in one(text, terminology)["patient"]


# -- a treatment told over moves the story past the date that opened it ------------------------------------------


def test_a_metastasis_told_after_a_course_was_completed_takes_no_date_from_before_it(terminology):
    # 2016 is when the cancer was found and the course began; the liver metastases came after the course was over,
    # at a time the text does not give.
    text = (
        "In 2016 a woman of 52 was found to have a ductal carcinoma of the right breast and was treated with a"
        " lumpectomy and letrozole. Once the endocrine therapy had been completed, she felt well for a while."
        " An ultrasound showed metastases in the liver."
    )
    case = one(text, terminology)
    assert met(case, "liver").get("date") != "2016"


# -- a biopsy that 'proved' what a lesion was is a biopsy done ------------------------------------------------


def test_a_biopsy_that_proved_the_lesion_malignant_is_a_biopsy_done(terminology):
    text = (
        "A 59-year-old woman had a lump in the left parotid gland, and a biopsy proved the lump to be a"
        " metastasis of a ductal carcinoma of the left breast."
    )
    assert "biopsy" in procedures(one(text, terminology))


def test_biopsy_proven_as_an_adjective_is_no_biopsy_of_its_own(terminology):
    text = "A woman of 61 had biopsy proven metastases of a breast carcinoma in the liver, treated with capecitabine."
    assert "biopsy" not in procedures(one(text, terminology))


# -- one radiotherapy told in the summary and again in the case ----------------------------------------------------


def test_a_radiotherapy_to_one_site_told_twice_is_one_course(terminology):
    text = (
        "We report a woman of 72 with a metastasis of a lobular breast carcinoma in the left orbit, treated with"
        " radiotherapy to the orbit.\n\nCase report\n\nA 72-year-old woman had double vision. MRI showed a mass in"
        " the left orbit, and a biopsy showed a metastasis of a lobular carcinoma of the breast. She received"
        " radiotherapy to the orbit."
    )
    assert procedures(one(text, terminology)).count("radiotherapy") == 1


# -- nodes said to be free of tumour ----------------------------------------------------------------------------


def test_axillary_nodes_said_to_be_negative_are_none_positive(terminology):
    text = (
        "Ten years earlier a woman of 66 had had a quadrantectomy with axillary lymph node dissection for a ductal"
        " carcinoma of the left breast; all the axillary nodes were negative. She now had metastases in the liver."
    )
    dissection = next(p for p in one(text, terminology)["procedures"] if "lymph node" in p["name"])
    assert dissection.get("nodes_positive") == 0


def test_a_metastasis_after_the_story_moved_on_takes_no_age_from_the_presentation(terminology):
    # 58 is her age when the breast cancer was found in 2009; the lung metastases came after the course was over.
    text = (
        "A woman of 58 was found in 2009 to have a ductal carcinoma of the left breast, and she was treated with"
        " a mastectomy and tamoxifen. After the tamoxifen course was completed she stayed well. A CT showed"
        " metastases in both lungs."
    )
    lung = met(one(text, terminology), "lung")
    assert "age" not in lung and lung.get("date") != "2009"


# -- a drug told with the interval before the presentation -------------------------------------------------------


def test_a_drug_started_months_before_the_presentation_is_timed_before_it(terminology):
    # The drugs' clause gives how long before the visit they were begun; an operation there would be timed so too.
    text = (
        "A 61-year-old woman with a HER2-positive carcinoma of the left breast was admitted with pain in the"
        " abdomen. Four months before this visit she had been put on pertuzumab. A CT showed metastases in the"
        " stomach."
    )
    drug = meds(one(text, terminology))["pertuzumab"]
    assert drug.get("relative", {}).get("before") == "4 months"


def test_a_class_word_told_with_an_operation_years_before_is_not_timed(terminology):
    text = (
        "A woman of 70 came with a nodule of the eyelid. Twelve years earlier she had been treated with a"
        " mastectomy and chemotherapy for a ductal carcinoma of the right breast. A biopsy showed a metastasis of"
        " the breast cancer."
    )
    drug = meds(one(text, terminology)).get("chemotherapy", {})
    assert "relative" not in drug


def test_an_interval_after_a_metastasis_named_by_its_organ_counts_from_the_finer_site(terminology):
    # The first metastasis is drafted in the cerebellum; the later sentence names it by its organ ('the brain
    # metastasis'), and the interval counts from it.
    text = (
        "A 44-year-old woman with a carcinoma of the right breast had a metastasis in the cerebellum, which was"
        " removed. Five months after the brain metastasis was found, an MRI showed metastases in the leptomeninges."
    )
    case = one(text, terminology)
    assert met(case, "leptomeninges").get("relative") == {"to": "cerebellum", "after": "5 months"}


# -- routes the maps name that the parser did not read ---------------------------------------------------------


def test_a_drug_given_intrathecally_has_the_intrathecal_route(terminology):
    text = (
        "A woman of 49 with a HER2-positive carcinoma of the left breast developed metastases in the"
        " leptomeninges. Methotrexate was then given intrathecally twice a week."
    )
    assert meds(one(text, terminology))["methotrexate"].get("route") == "intrathecal"


# -- a status word used as a verb with its object ----------------------------------------------------------------


def test_a_drug_that_improved_the_outlook_tells_no_disease_status(terminology):
    text = (
        "A woman of 57 had metastases of a breast carcinoma in the liver and was given capecitabine. In her"
        " case capecitabine improved the overall survival, in our view."
    )
    case = one(text, terminology)
    assert not [s for s in case.get("disease_status", []) if s["status"] == "responding"]
    assert "response" not in meds(case)["capecitabine"]


# -- a death with its interval put first ----------------------------------------------------------------------------


def test_a_death_told_after_a_fronted_interval_is_counted_from_the_metastasis_before(terminology):
    text = (
        "A 67-year-old woman had a mastectomy for a lobular carcinoma of the right breast in 2012. In 2019 an"
        " MRI showed metastases in the cerebellum. Three months later the patient died."
    )
    vital = one(text, terminology)["patient"]["vital_status"]
    assert vital.get("relative") == {"to": "cerebellum", "after": "3 months"}


def test_a_fronted_interval_with_no_metastasis_before_keeps_its_words(terminology):
    text = (
        "A woman of 80 was found to have a carcinoma of the left breast with spread to the bones and the liver."
        " She chose palliative care. Some weeks passed. Two months later she died at home."
    )
    vital = one(text, terminology)["patient"]["vital_status"]
    assert "relative" not in vital and vital.get("timing") == "Two months later"


# -- a class with its setting that sums up the drugs before it ------------------------------------------------------


def test_a_class_with_its_setting_told_after_its_drugs_gives_them_that_setting(terminology):
    text = (
        "A woman of 47 had a lumpectomy for a ductal carcinoma of the left breast. She took letrozole for two"
        " years and then exemestane for three, five years of adjuvant hormonal therapy in all. Later, metastases"
        " were found in her liver."
    )
    drugs = meds(one(text, terminology))
    assert drugs["letrozole"].get("intent") == "adjuvant"
    assert drugs["exemestane"].get("intent") == "adjuvant"


def test_a_class_of_another_kind_gives_no_setting_to_the_drugs_before_it(terminology):
    text = (
        "A woman of 47 had a lumpectomy for a ductal carcinoma of the left breast and took tamoxifen. Palliative"
        " chemotherapy was started when metastases were found in her liver."
    )
    assert "intent" not in meds(one(text, terminology))["tamoxifen"]


# -- the metastasis the patient presented with is the first told, not the first drafted --------------------


def test_an_interval_before_the_presentation_counts_from_the_metastasis_told_first(terminology):
    # The skin of the chest is told first and the spine last; the skin's region is worked out after the
    # spine was drafted, so the order of drafting must not decide which one the presentation was.
    text = (
        "A woman of 81 came with a painful eruption of small red nodules in a band over the right side of her"
        " chest and back, first taken for shingles. A skin biopsy showed a carcinoma of breast origin. Eight"
        " years earlier she had had a lumpectomy for a lobular carcinoma of the right breast. A bone scan then"
        " showed metastases in the spine, and she died five months later."
    )
    case = one(text, terminology)
    lumpectomy = next(p for p in case["procedures"] if p["name"] == "lumpectomy")
    first = met(case, "skin of chest")
    assert lumpectomy["relative"] == {"to": first["id"], "before": "8 years"}
