"""Drafting treatments, their details, ages and the case's course: the kinds of wording the thirteenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import meds, one, procedures  # noqa: E402

# -- a therapy class whose own clause goes on to name its drugs -------------------------------------------------------


@pytest.mark.parametrize(
    "told",
    [
        "Preoperative chemotherapy was begun at once, with weekly paclitaxel and carboplatin.",
        "Adjuvant chemotherapy began in March 2019 with six courses of docetaxel and carboplatin.",
        "Palliative chemotherapy was then given using capecitabine.",
    ],
)
def test_a_class_whose_clause_names_its_drugs_gives_them_its_aim_and_is_no_course_of_its_own(
    terminology, told
):
    text = (
        "A woman of 52 had an invasive ductal carcinoma of the left breast with a metastasis in the liver. "
        + told
        + " A CT scan a year later showed no new lesion."
    )
    drugs = meds(one(text, terminology))
    assert "chemotherapy" not in drugs
    aims = {name: drug.get("intent") for name, drug in drugs.items()}
    assert set(aims.values()) == {{"Pre": "neoadjuvant", "Adj": "adjuvant", "Pal": "palliative"}[told[:3]]}


def test_a_class_whose_clause_moves_on_before_the_drug_stays_a_course(terminology):
    # 'then' ends the class's clause: the drug after it is a course of its own, and the class is kept.
    text = (
        "A woman of 60 had a lobular carcinoma of the right breast. Adjuvant chemotherapy was given, and she"
        " then received letrozole for five years."
    )
    drugs = meds(one(text, terminology))
    assert drugs["chemotherapy"].get("intent") == "adjuvant"
    assert "letrozole" in drugs


# -- ages: an age at presentation belongs to what the patient presented with -------------------------------------------


def test_a_primary_dated_before_the_presentation_does_not_take_the_age_it_gives(terminology):
    # The breast cancer has its own year; the age is told with a later date, when the metastasis was found.
    text = (
        "An invasive ductal carcinoma of the right breast was removed by lumpectomy in 2015. In March 2020, at the"
        " age of 58, she returned with a painful swelling of the left parotid gland, and a biopsy showed"
        " metastatic breast carcinoma."
    )
    case = one(text, terminology)
    (primary,) = case["primary_cancers"]
    assert "age" not in primary
    assert [m.get("age") for m in case["metastases"]] == [58]


def test_a_metastasis_the_age_sentence_tells_as_coming_later_does_not_take_the_age(terminology):
    text = (
        "At 61, a man had a ductal carcinoma of the left breast removed by mastectomy, which three years"
        " afterwards spread to the liver. A biopsy of the liver confirmed metastatic breast carcinoma."
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 61
    assert all("age" not in m for m in case["metastases"])


def test_a_metastasis_told_only_before_the_patient_came_with_her_breast_lump_does_not_take_the_age(
    terminology,
):
    # The title and the abstract name the adrenal metastasis; the story opens with the breast lump she came with
    # and stops before the metastasis is reached.
    text = (
        "An adrenal metastasis of a lobular breast carcinoma\n\n"
        "Abstract\n\n"
        "We describe a lobular carcinoma of the breast that recurred in the right adrenal gland.\n\n"
        "Case presentation\n\n"
        "A 64-year-old woman attended the clinic since a painless lump in her right breast had been growing for two"
        " months. A core biopsy showed an invasive lobular carcinoma.\n"
    )
    case = one(text, terminology)
    assert case["primary_cancers"][0].get("age") == 64
    assert all("age" not in m for m in case["metastases"])


# -- procedures known by a head noun and the part it is done on --------------------------------------------------------


@pytest.mark.parametrize(
    "told, name",
    [
        (
            "As fluid gathered again within days, the surgeons opened a pericardial window.",
            "pericardial window",
        ),
        ("She underwent surgical pericardial drainage the same night.", "surgical pericardial drainage"),
        (
            "An urgent surgical decompression relieved the pressure on her spinal cord.",
            "surgical decompression",
        ),
    ],
)
def test_a_window_a_drainage_or_a_decompression_named_with_its_part_is_a_procedure(terminology, told, name):
    text = (
        "A woman of 66 with a ductal carcinoma of the right breast, treated by mastectomy in 2012, was admitted"
        " with metastases in the pericardium and the thoracic spine. " + told
    )
    assert name in procedures(one(text, terminology))


# -- where a biopsy was taken: the breast cancer its own clause reports ------------------------------------------------


@pytest.mark.parametrize(
    "told",
    [
        # the sentence before is about the breast; the biopsy's clause reports the cancer and names no organ
        "Mammography found a spiculated mass in her left breast. A core needle biopsy then revealed an invasive"
        " lobular carcinoma, grade 2.",
        # the scalp was told before; the biopsy's clause reports a cancer of the breast
        "She had noticed a hard nodule on her scalp. The biopsy gave a poorly differentiated carcinoma of the left"
        " breast, and staging followed.",
    ],
)
def test_a_biopsy_whose_clause_reports_the_breast_cancer_was_taken_from_the_breast(terminology, told):
    text = "A woman of 47 came to the clinic. " + told
    (biopsy,) = [p for p in one(text, terminology)["procedures"] if "biopsy" in p["name"]]
    assert biopsy.get("body_site") == "breast"


def test_a_biopsy_reporting_a_metastasis_consistent_with_a_breast_primary_keeps_the_lesion_it_sampled(
    terminology,
):
    text = (
        "A woman of 70 treated for breast cancer in 2010 had a mass in the bladder. At cystoscopy the mass was"
        " biopsied, and the biopsy showed an adenocarcinoma consistent with a breast primary."
    )
    biopsies = [p for p in one(text, terminology)["procedures"] if "biops" in p["name"]]
    assert all(p.get("body_site") != "breast" for p in biopsies)


# -- a response told in a relative clause of the course ----------------------------------------------------------------


def test_a_course_the_tumour_answered_poorly_in_a_relative_clause_has_a_poor_response(terminology):
    # The course is told looking back ('had had'), and its response in a relative clause after it.
    text = (
        "A woman of 58 with a carcinoma of the right breast came with a swollen left eyelid. Half a year before, for"
        " metastases in the liver, she had been given paclitaxel, to which the disease had responded only poorly."
    )
    case = one(text, terminology)
    assert meds(case)["paclitaxel"].get("response") == "poor response"
    assert not case.get("disease_status")


def test_folinic_acid_given_with_fluorouracil_is_read_as_leucovorin(terminology):
    text = (
        "A man of 67 had a ductal carcinoma of the left breast with metastases in the liver. Palliative"
        " chemotherapy was started, consisting of 5-fluorouracil with folinic acid every two weeks."
    )
    drugs = meds(one(text, terminology))
    assert drugs["leucovorin"].get("intent") == "palliative"


@pytest.mark.parametrize(
    "words, ethnicity", [("Chinese-Canadian", "Chinese Canadian"), ("Asian American", "Asian American")]
)
def test_an_ethnicity_followed_by_a_country_word_is_named_with_it(terminology, words, ethnicity):
    text = f"A {words} woman of 59 had an invasive ductal carcinoma of the right breast with metastases in the bones."
    assert one(text, terminology)["patient"]["ethnicity"] == ethnicity


# -- what a death is counted from --------------------------------------------------------------------------------------


def test_a_death_counted_from_a_named_metastasis_is_timed_from_it(terminology):
    text = (
        "A woman of 62 had a lobular carcinoma of the left breast removed in 2009. In 2016 a scan found metastases"
        " in the liver, and a biopsy confirmed them. Despite chemotherapy she died eight months after the diagnosis"
        " of her liver metastases."
    )
    vs = one(text, terminology)["patient"]["vital_status"]
    assert vs.get("relative") == {"to": "liver", "after": "8 months"}


# -- an aim told as the heading of the treatments a colon lists --------------------------------------------------------


def test_treatments_listed_after_an_aim_and_a_colon_take_that_aim(terminology):
    text = (
        "A woman of 71 with a ductal carcinoma of the right breast had metastases in the pleura and the liver. The"
        " team agreed on palliative care: a talc pleurodesis was done and capecitabine was started."
    )
    case = one(text, terminology)
    (pleurodesis,) = [p for p in case["procedures"] if "pleurodesis" in p["name"]]
    assert pleurodesis.get("intent") == "palliative"
    assert meds(case)["capecitabine"].get("intent") == "palliative"


@pytest.mark.parametrize("word, site", [("pericardiocentesis", "pericardium"), ("pleurodesis", "pleura")])
def test_a_puncture_or_a_fusion_is_done_on_the_part_its_stem_names(terminology, word, site):
    text = (
        "A woman of 64 with a lobular carcinoma of the left breast was breathless from malignant effusions. An"
        f" urgent {word} gave her relief."
    )
    (done,) = [p for p in one(text, terminology)["procedures"] if p["name"] == word]
    assert done.get("body_site") == site


def test_a_paracentesis_is_no_puncture_of_a_part_named_para(terminology):
    text = (
        "A woman of 64 with a lobular carcinoma of the left breast had ascites from peritoneal metastases. A"
        " paracentesis drained four litres."
    )
    assert all(p.get("body_site") != "parotid gland" for p in one(text, terminology).get("procedures", []))
