"""Drafting the story of a case (deaths, treatments and their details, when things happened): the kinds of wording
the fifteenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import meds, one  # noqa: E402

# -- a death told with its calendar date keeps the date ------------------------------------------------------------

_DEATH_STORY = (
    "A woman of 61 had a lobular carcinoma of the left breast removed in 2014. Four years later a scan showed"
    " deposits in the liver, and she was given capecitabine. {death}"
)


@pytest.mark.parametrize(
    ("death", "date"),
    [
        ("Her condition worsened and she passed away in November 2019.", "2019-11"),
        ("She died of hepatic failure on 14 January 2020.", "2020-01-14"),
        ("In October 2019, she died at home.", "2019-10"),
        ("The patient died in hospital in 2020.", "2020"),
    ],
)
def test_a_death_told_with_its_calendar_date_keeps_the_date(terminology, death, date):
    # A death word followed by 'in <month> <year>' (or with the date put first in its clause) was drafted as a death
    # with no time at all: the date went to no item.
    vs = one(_DEATH_STORY.format(death=death), terminology)["patient"]["vital_status"]
    assert vs["deceased"] is True
    assert str(vs.get("date")) == date


def test_a_date_of_another_clause_is_not_the_date_of_death(terminology):
    # Only a date next to the death word in its own clause dates it: a date told for the treatment is not.
    text = _DEATH_STORY.format(death="She was given paclitaxel in March 2019, and died soon after.")
    vs = one(text, terminology)["patient"]["vital_status"]
    assert vs["deceased"] is True
    assert "date" not in vs


def test_a_dated_death_told_after_an_undated_one_keeps_its_date(terminology):
    # The opening paragraph said the patient died within weeks; the story's own 'died in <month> <year>' came later
    # and its date was dropped because the death was already drafted from the first word.
    text = (
        "Adrenal deposits of breast cancer\n\n"
        "We report a woman whose disease spread fast; she died within weeks of the diagnosis.\n\n"
        "A woman of 70 had a ductal carcinoma of the right breast. A scan showed a mass in the left adrenal gland,"
        " and a biopsy confirmed a metastasis. She died in June 2016."
    )
    vs = one(text, terminology)["patient"]["vital_status"]
    assert str(vs.get("date")) == "2016-06"


# -- a bare 'N later' after a first sign of the disease is not counted from the cancer's diagnosis -------------------


@pytest.mark.parametrize(
    "story",
    [
        # the breast told in the interval's own sentence
        "A man of 66 noticed a hard swelling in his left armpit. Two months later his doctor felt a lump in his left"
        " breast, and a scan showed deposits in the liver. A biopsy found an invasive ductal carcinoma.",
        # the breast told only after the interval
        "A woman of 58 complained of pain in the right hip. Three weeks later the pain spread to the lower back and"
        " a scan showed lesions in the lumbar spine. A biopsy of the spine found metastatic lobular carcinoma of the"
        " breast.",
    ],
)
def test_a_bare_later_after_a_first_sign_is_not_timed_from_the_primary(terminology, story):
    # The interval of 'N later' was counted from the breast cancer, which the story had not yet told: it counts
    # from the first sign just told, so a relative time to the primary was wrong.
    case = one(story, terminology)
    assert case.get("metastases")
    assert all("relative" not in m for m in case["metastases"])


def test_a_bare_later_after_the_told_primary_is_still_timed_from_it(terminology):
    text = (
        "A woman of 49 was found to have a ductal carcinoma of the left breast. Two years later a scan showed"
        " metastases in the liver."
    )
    (liver,) = one(text, terminology)["metastases"]
    assert liver["relative"] == {"to": "breast", "after": "2 years"}


# -- fine-needle cytology is the map's fine needle aspiration -------------------------------------------------------


def test_fine_needle_cytology_is_drafted_as_a_fine_needle_aspiration(terminology):
    # 'Fine-needle cytology', a usual name of the same sampling, was not a term of the map's entry, so the sampling
    # was not drafted at all.
    text = (
        "A woman of 64 had a mastectomy for a lobular carcinoma of the right breast in 2012. In 2016 a firm nodule"
        " grew in the right lobe of the thyroid; the malignant cells that fine-needle cytology drew from it were"
        " those of the breast cancer."
    )
    concepts = [
        terminology.lookup("procedures", p["name"]) for p in one(text, terminology).get("procedures", [])
    ]
    assert "Fine needle aspiration" in [c.text for c in concepts if c is not None]


# -- the breasts told as removed are a mastectomy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("In 2011 both breasts were removed, and docetaxel followed.", "bilateral mastectomy"),
        ("She underwent chemotherapy and had her breasts removed in 2011.", "bilateral mastectomy"),
        ("Her right breast was removed in 2011, and docetaxel followed.", "mastectomy"),
    ],
)
def test_the_breasts_told_as_removed_are_a_mastectomy(terminology, said, name):
    # A retelling that says the breast was taken out, with no operation's name, drafted no operation at all.
    text = (
        "A woman of 44 learnt in 2010 that she had a ductal carcinoma of the right breast. "
        + said
        + " Four years later a scan showed metastases in the liver."
    )
    assert name in [p["name"] for p in one(text, terminology).get("procedures", [])]


def test_a_tumour_of_the_breast_removed_is_not_a_mastectomy(terminology):
    text = (
        "A woman of 51 had a ductal carcinoma of her left breast removed in 2009. Three years later a scan showed"
        " metastases in the lungs."
    )
    assert not any("mastectomy" in p["name"] for p in one(text, terminology).get("procedures", []))


# -- a brand name in brackets does not break a list of drugs -----------------------------------------------------


def test_a_brand_in_brackets_does_not_break_the_list_of_drugs(terminology):
    # 'docetaxel (Taxotere)' read the brand as a drug of its own standing between two others, so the drugs after the
    # brackets lost the cycles and the intent the list's head was given.
    text = (
        "A woman of 47 had a lumpectomy for a ductal carcinoma of the right breast in 2015; after it she had four"
        " cycles of adjuvant therapy with docetaxel (Taxotere), cyclophosphamide and trastuzumab. Five years later a"
        " scan showed metastases in the lungs."
    )
    drugs = meds(one(text, terminology))
    for name in ("docetaxel", "cyclophosphamide", "trastuzumab"):
        assert drugs[name].get("intent") == "adjuvant", name
        assert drugs[name].get("cycles") == 4, name


# -- a metastasis found weeks after the presentation keeps the presenting age -------------------------------------


def test_a_metastasis_found_weeks_after_the_presentation_keeps_its_age(terminology):
    # The presentation gave the age; the metastasis was found in an episode opened by 'three weeks later', which
    # was not the presentation's, so it had no age at all although the patient was the same age.
    text = (
        "A 64-year-old woman was seen for a dry cough. Three weeks later she coughed blood, and a scan showed"
        " nodules in both lungs. A biopsy of one nodule found a metastatic lobular carcinoma of the breast."
    )
    (lung,) = one(text, terminology)["metastases"]
    assert lung.get("age") == 64


def test_a_metastasis_found_years_after_the_presentation_does_not_take_its_age(terminology):
    text = (
        "A 64-year-old woman was seen for a lump in the left breast, a ductal carcinoma. Three years later a scan"
        " showed metastases in both lungs."
    )
    (lung,) = one(text, terminology)["metastases"]
    assert lung.get("age") != 64


# -- the other breast, told as spared or as reached by the spread, is no side of the primary ------------------------


@pytest.mark.parametrize(
    "other",
    [
        "No further primary tumour was seen, in the left breast or elsewhere.",
        "Two years later the disease spread to her left breast and to the skin of the chest.",
    ],
)
def test_the_other_breast_spared_or_reached_later_is_no_side_of_the_primary(terminology, other):
    # Any second side named with a breast made the primary 'bilateral': a breast in which nothing was found (the
    # negation several words and a comma before it) and a breast the disease later reached were counted as sides.
    text = "A woman of 57 was treated in 2016 for a ductal carcinoma of the right breast. " + other
    assert one(text, terminology)["primary_cancers"][0].get("laterality") == "right"


def test_both_breasts_with_cancer_stay_bilateral(terminology):
    text = "A woman of 57 was treated in 2016 for a ductal carcinoma of the right breast and another of the left breast."
    assert one(text, terminology)["primary_cancers"][0].get("laterality") == "bilateral"


# -- no sign of relapse, or of local recurrence, is no evidence of disease ---------------------------------------


@pytest.mark.parametrize(
    "said",
    [
        "Four years on she remains well, and her last scans showed no sign of relapse.",
        "At her last visit there was no evidence of local recurrence and no new lesion.",
    ],
)
def test_no_sign_of_relapse_is_no_evidence_of_disease(terminology, said):
    # The status words knew 'no sign of recurrence' but not 'relapse', nor a recurrence qualified as local.
    text = (
        "A woman of 60 had a mastectomy for a ductal carcinoma of the left breast in 2012, and in 2015 a solitary"
        " metastasis in the liver was resected. " + said
    )
    statuses = [s["status"] for s in one(text, terminology).get("disease_status", [])]
    assert statuses == ["complete response"]  # (no evidence of disease, as case files write it)
