"""Drafting treatments, their details, times and ages: the kinds of wording the eleventh round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import meds, met, one  # noqa: E402

# -- a line said of a course, before the drugs that make it up ----------------------------------------------


def test_a_line_said_of_a_course_reaches_every_drug_of_its_list(terminology):
    # 'second-line' qualifies the regimen; the regimen is the three drugs named after 'of'.
    text = (
        "A woman of 61 had a mastectomy for a ductal carcinoma of the right breast in 2014. In 2019 a CT found"
        " metastases in the liver. She was put on a second-line regimen of paclitaxel, bevacizumab and"
        " gemcitabine, and the liver lesions shrank."
    )
    drafted = meds(one(text, terminology))
    assert drafted["paclitaxel"].get("line") == 2
    assert drafted["gemcitabine"].get("line") == 2


def test_a_line_with_a_class_and_its_drugs_reaches_the_drugs(terminology):
    # 'first-line chemotherapy with X plus Y': the class names its drugs after 'with'.
    text = (
        "Metastases in the lungs were found in a woman of 55, six years after a lumpectomy for a cancer of the"
        " left breast. First-line chemotherapy with docetaxel plus capecitabine was started."
    )
    drafted = meds(one(text, terminology))
    assert drafted["docetaxel"].get("line") == 1
    assert drafted["capecitabine"].get("line") == 1


def test_a_drug_after_a_failed_line_is_not_in_that_line(terminology):
    # The words between the line and the second drug tell an outcome, not a list: capecitabine is no
    # first-line drug here.
    text = (
        "A woman of 50 had metastases in the liver from a cancer of the right breast. First-line treatment with"
        " paclitaxel failed after four months, so capecitabine was given."
    )
    drafted = meds(one(text, terminology))
    assert drafted["paclitaxel"].get("line") == 1
    assert drafted["capecitabine"].get("line") is None


def test_ixabepilone_is_read_as_a_drug(terminology):
    text = (
        "Bone metastases of a lobular carcinoma of the breast progressed in a woman of 63 despite letrozole."
        " Ixabepilone was then given every three weeks."
    )
    assert "ixabepilone" in meds(one(text, terminology))


# -- an age told as what the patient 'was' ---------------------------------------------------------------


@pytest.mark.parametrize(
    "opening",
    [
        "The patient was 47 when she felt a lump in her left breast.",
        "She was 47, and she felt a lump in her left breast.",
        "She felt a lump in her left breast. She was 47.",
    ],
)
def test_an_age_told_as_what_she_was(terminology, opening):
    text = (
        opening
        + " A biopsy showed an invasive ductal carcinoma. Two years later an MRI found a metastasis in"
        " the cerebellum."
    )
    case = one(text, terminology)
    ages = {case["primary_cancers"][0].get("age"), met(case, "cerebellum").get("age")}
    assert 47 in ages


def test_a_size_or_a_stay_told_with_was_is_no_age(terminology):
    text = (
        "A woman had a mastectomy for a cancer of the left breast. The tumour was 25 mm across. Her stay was 12"
        " days. Three years later a CT found metastases in the liver."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") is None
    assert met(case, "liver").get("age") is None


# -- an interval counted from the end of a treatment --------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "Eighteen months after her adjuvant chemotherapy had been completed,",
        "Eighteen months after all treatment stopped,",
        "Eighteen months after she had become disease-free,",
    ],
)
def test_an_interval_from_the_end_of_treatment_is_no_time_after_the_diagnosis(terminology, when):
    # The case file has no item for the day treatment ended, so the liver metastases get no relative time
    # counted from the breast cancer.
    text = (
        "A woman of 44 had a lumpectomy for a ductal carcinoma of the left breast, followed by adjuvant"
        " chemotherapy and radiotherapy. " + when + " a CT showed metastases in the liver."
    )
    case = one(text, terminology)
    assert "relative" not in met(case, "liver")


def test_an_interval_from_an_operation_keeps_its_time(terminology):
    text = (
        "A woman of 44 had a lumpectomy for a ductal carcinoma of the left breast, followed by adjuvant"
        " chemotherapy. Eighteen months after the lumpectomy a CT showed metastases in the liver."
    )
    case = one(text, terminology)
    assert met(case, "liver").get("relative", {}).get("after") == "18 months"


# -- a breast cancer the metastasis revealed is as old as the presentation ----------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Ulceration of the caecum as the first sign of a metastatic breast cancer",
        "A caecal ulcer: the presenting finding of a lobular breast carcinoma",
    ],
)
def test_a_primary_revealed_by_its_metastasis_has_the_presenting_age(terminology, title):
    # The title says the metastasis revealed the cancer; the story finds the cancer only through it.
    text = (
        title + "\n\nA 71-year-old woman was sent to us with four weeks of fatigue and weight loss. Her"
        " mammograms had been normal for years. Colonoscopy showed an ulcer in the caecum, and its histology"
        " pointed to a lobular carcinoma of breast origin."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 71


def test_a_primary_treated_years_before_keeps_no_presenting_age(terminology):
    # No cue says the metastasis revealed the cancer, and the cancer has its own time: no age is lent to it.
    text = (
        "A 58-year-old woman came with a painful swelling of the left mandible. Nine years earlier she had had a"
        " mastectomy for a ductal carcinoma of the right breast. A biopsy of the mandible showed a metastasis of"
        " that cancer."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") != 58


# -- a cancer that is not the patient's past one does not make the primary historical ------------------------


def test_a_relative_s_cancer_leaves_the_primary_of_the_presentation(terminology):
    # The aunt's breast cancer is family history, not the patient's own cancer treated in the past.
    text = (
        "A woman aged 62 came with vomiting and weight loss. Her sister had had ovarian cancer and her aunt"
        " breast cancer. Gastroscopy found a thickened wall of the stomach, and its biopsy showed a metastatic"
        " lobular carcinoma of the breast."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 62


def test_what_a_biopsy_was_first_read_as_is_no_past_cancer(terminology):
    # 'had been interpreted as a ... carcinoma' is the stomach lesion misread, not an earlier cancer.
    text = (
        "A man aged 62 underwent a partial gastrectomy since an endoscopic biopsy had been interpreted as a poorly"
        " differentiated carcinoma. In the resected stomach and in an omental nodule the pathologists found a"
        " metastatic lobular carcinoma of the breast."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 62


# -- the age told in the sentence that presents the breast cancer is the primary's ----------------------------


@pytest.mark.parametrize(
    "opening",
    [
        "A woman of 47 came to the clinic because of a hard lump in her left breast.",
        "A 47-year-old woman presented with a locally advanced cancer of the left breast.",
    ],
)
def test_the_age_of_the_sentence_presenting_the_cancer_is_the_primary_s(terminology, opening):
    # The last sentence tells the cancer as treated before the metastases: the age is still the one told with it.
    text = (
        opening + " A core biopsy showed an invasive ductal carcinoma, and she had a mastectomy followed by"
        " chemotherapy. Metastases were found in the liver six months after her breast cancer had been operated on."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 47


def test_an_age_with_a_past_breast_cancer_is_not_the_primary_s(terminology):
    # The cancer is history here; the age is the one at which she came with the new complaint.
    text = (
        "A 47-year-old woman with a history of breast cancer presented with headaches. An MRI found a metastasis"
        " in the cerebellum."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") is None


# -- the date of the operation that treated the cancer, told after a line that names the cancer alone ------


@pytest.mark.parametrize(
    "history",
    [
        "She had had a lobular carcinoma of the left breast, for which she underwent a mastectomy in 1998.",
        "In 1998 she had a mastectomy for a lobular carcinoma of the left breast.",
    ],
)
def test_the_operation_s_year_dates_the_primary_after_a_first_naming(terminology, history):
    # The title and the opening name the breast cancer with no time; the year comes with its operation.
    text = (
        "Breast cancer metastatic to the ileum\n\nA woman of 70 with a past breast cancer came with colicky pain. "
        + history
        + " In 2010 a CT showed a thickened loop of the ileum, and its resection found a metastasis of that"
        " cancer."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("date") == "1998"


def test_a_metastatic_histology_s_year_is_not_the_primary_s(terminology):
    # 'found a metastatic lobular carcinoma' in 2012 dates the ileal metastasis; the breast cancer was operated
    # on in 1998.
    text = (
        "A woman of 70 with a past breast cancer came with colicky pain. She had had a lobular carcinoma of the"
        " left breast, for which she underwent a mastectomy in 1998. In 2012 a CT showed a thickened loop of the"
        " ileum, and its resection found a metastatic lobular carcinoma."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("date") == "1998"
