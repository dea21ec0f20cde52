"""Drafting treatments, their details, times and ages: the kinds of wording the twelfth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import meds, one  # noqa: E402

# -- a response told as a change of the lesion, in a clause after the course ------------------------------------


@pytest.mark.parametrize(
    "change",
    ["regressed", "shrank", "got smaller", "decreased in size", "was reduced in size"],
)
def test_a_lesion_that_changed_after_its_course_is_the_course_response(terminology, change):
    # The verb family of a lesion growing smaller, said of the lesion in the clause after the drug.
    text = (
        "A woman of 47 with a carcinoma of the left breast had a deposit in the right choroid. Tamoxifen was"
        f" begun as her first treatment for it, and within three months the choroidal deposit {change}."
    )
    assert meds(one(text, terminology))["tamoxifen"].get("response") == "responding"


def test_a_lesion_change_dated_by_the_courses_first_dose_is_its_response(terminology):
    # No drug in the sentence of the change: 'after the first dose' points back at the course just told.
    text = (
        "A man of 66 had a carcinoma of the right breast that had spread to nodes in the left axilla. He was"
        " given trastuzumab alone. Eight months after the first dose a CT showed that the axillary nodes had"
        " become smaller."
    )
    drafted = one(text, terminology)
    assert meds(drafted)["trastuzumab"].get("response") == "responding"
    assert not drafted.get("disease_status")


def test_a_change_argued_from_is_no_status(terminology):
    # 'That X regressed suggests ...' restates a fact to argue from it; it is not a status of its own.
    text = (
        "A woman of 58 with a lobular carcinoma of the breast had a deposit in the iris. She was given"
        " letrozole. That the deposit in the iris regressed while she took it suggests that such drugs may"
        " spare the eye radiotherapy."
    )
    assert not one(text, terminology).get("disease_status")


# -- a response that is the object of a verb whose subject is the treatment ------------------------------------


def test_a_course_that_brought_a_remission_has_it_as_its_response(terminology):
    # The drugs are the subject, the status is the object: every drug of the subject takes it, not the case.
    text = (
        "Liver metastases were found in a woman of 39, four years after a mastectomy for a cancer of the right"
        " breast. Docetaxel (Taxotere), combined with pertuzumab and trastuzumab, achieved a complete remission"
        " within a year."
    )
    drafted = one(text, terminology)
    for name in ("docetaxel", "pertuzumab", "trastuzumab"):
        assert meds(drafted)[name].get("response") == "complete response", name
    assert not drafted.get("disease_status")


def test_a_patient_who_achieved_a_remission_after_a_course_keeps_it_as_the_case_status(terminology):
    # The person is the subject: the status is the case's, dated by the course.
    text = (
        "Lung metastases were found in a woman of 52, three years after a lumpectomy for a cancer of the left"
        " breast. After paclitaxel she achieved a complete remission."
    )
    drafted = one(text, terminology)
    assert meds(drafted)["paclitaxel"].get("response") is None
    assert [s["status"] for s in drafted.get("disease_status", [])] == ["complete response"]


# -- the age at presentation, and a cancer treated before it -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "age", "site"),
    [
        (
            "A woman of 71, treated before for a carcinoma of the left breast (stage IIB), developed headaches from"
            " a mass in the left cerebellum.",
            71,
            "cerebellum",
        ),
        (
            "We describe a man of 66, treated for breast cancer, who came back with jaundice from a mass in the"
            " pancreas.",
            66,
            "pancreas",
        ),
    ],
)
def test_a_cancer_the_patient_was_treated_for_keeps_no_age_at_presentation(terminology, text, age, site):
    # The phrase about the patient tells the breast cancer treated before the now: the age the patient presented
    # at is the metastasis's, not the primary's.
    drafted = one(text, terminology)
    assert drafted["primary_cancers"][0].get("age") is None
    assert [(m["site"], m.get("age")) for m in drafted["metastases"]] == [(site, age)]


def test_a_cancer_treated_after_the_presentation_keeps_the_age(terminology):
    # 'was treated for' in a later sentence of the story tells what was done for the cancer found now.
    text = (
        "A woman of 49 presented with a hard lump in her right breast. She was treated for the cancer with a"
        " mastectomy and then with docetaxel."
    )
    assert one(text, terminology)["primary_cancers"][0].get("age") == 49


# -- procedures known by the shape of their word ------------------------------------------------------------------


def test_puncture_fusion_and_repair_words_are_procedures(terminology):
    # '-centesis', '-desis' and '-plasty' name procedures as '-ectomy' and '-otomy' do; no list of them is needed.
    text = (
        "A woman of 62 with a lobular carcinoma of the left breast had fluid around the heart and in the left"
        " chest from metastases. Her pericardial fluid was let out by pericardiocentesis, the chest was treated"
        " with talc pleurodesis, and a collapsed T11 vertebra was cemented by vertebroplasty."
    )
    names = {p["name"] for p in one(text, terminology).get("procedures", [])}
    assert {"pericardiocentesis", "pleurodesis", "vertebroplasty"} <= names


# -- the disease's course told in the sentence after a course begins ---------------------------------------------


def test_the_disease_worsening_right_after_a_course_begins_is_its_response(terminology):
    # The status has the disease as its subject and no time of its own: it is what the drugs just started did.
    text = (
        "Bone metastases of a ductal carcinoma of the right breast were found in a woman of 64. Capecitabine was"
        " begun together with denosumab. Sadly her disease worsened."
    )
    drafted = one(text, terminology)
    assert meds(drafted)["capecitabine"].get("response") == "progressive"
    assert not drafted.get("disease_status")


def test_a_status_with_a_time_of_its_own_after_a_course_stays_the_case_status(terminology):
    text = (
        "Bone metastases of a ductal carcinoma of the right breast were found in a woman of 64. Capecitabine was"
        " begun. Two years later her disease worsened."
    )
    drafted = one(text, terminology)
    assert meds(drafted)["capecitabine"].get("response") is None
    assert [s["status"] for s in drafted.get("disease_status", [])] == ["progressive"]


# -- an aim told by a purpose, by the operation it follows, or by a participle -----------------------------------


def test_an_operation_done_to_relieve_what_the_disease_caused_is_palliative(terminology):
    text = (
        "A woman of 77 with a lobular carcinoma of the right breast had a deposit narrowing the sigmoid colon."
        " A defunctioning colostomy was fashioned in order to ease her obstruction."
    )
    drafted = one(text, terminology)["procedures"]
    assert [(p["name"], p.get("intent")) for p in drafted] == [("defunctioning colostomy", "palliative")]


def test_treatment_that_failed_to_control_the_disease_has_no_aim_from_that(terminology):
    # 'failed to control' tells what the treatment did not do, not what it was given for.
    text = (
        "A woman of 58 with a cancer of the left breast had lung metastases, which radiotherapy failed to"
        " control."
    )
    assert [p.get("intent") for p in one(text, terminology)["procedures"]] == [None]


def test_a_drug_given_after_the_operation_on_the_primary_is_adjuvant(terminology):
    # 'after the operation' ends the clause rather than opening the sentence.
    text = (
        "A woman of 45 had a lumpectomy for a ductal carcinoma of the left breast. Six cycles of docetaxel"
        " were administered following her surgery."
    )
    assert meds(one(text, terminology))["docetaxel"].get("intent") == "adjuvant"


def test_a_drug_given_as_adjuvant_in_a_participle_takes_that_aim(terminology):
    # 'letrozole, given as adjuvant therapy': the participle stands without 'was'.
    text = (
        "Ovarian metastases were found in a woman of 52 treated in 2015 for a carcinoma of the right breast with"
        " a mastectomy and letrozole given as adjuvant therapy."
    )
    assert meds(one(text, terminology))["letrozole"].get("intent") == "adjuvant"


# -- a course named again where the report sums up its case ------------------------------------------------------


def test_a_course_named_again_when_the_case_is_summed_up_is_not_a_second_course(terminology):
    text = (
        "A woman of 44 had liver metastases from a carcinoma of the left breast. She was given eribulin, and"
        " the liver lesions shrank.\n\nDiscussion\n\nLiver metastases are common in breast cancer. Our patient"
        " had a lumpectomy first and was later treated with eribulin and chemotherapy for her liver disease, and"
        " capecitabine followed."
    )
    drafted = one(text, terminology)
    names = [x["name"] for x in drafted.get("medications", [])]
    assert names.count("eribulin") == 1
    assert "chemotherapy" not in names
    assert "capecitabine" in names  # a course the summing-up tells for the first time stays


# -- a biopsy dated with the cancer it sampled ---------------------------------------------------------------------


def test_a_biopsy_told_with_a_dated_finding_takes_its_date(terminology):
    # The date belongs to the finding of the cancer; the biopsy that sampled it was done then too.
    text = (
        "The patient was a woman of 59. In May 2010 a screening mammogram showed a mass in her left breast; a"
        " biopsy found a ductal carcinoma. In 2016 metastases were found in her liver."
    )
    drafted = one(text, terminology)
    assert drafted["primary_cancers"][0].get("date") == "2010-05"
    assert [(p["name"], p.get("date")) for p in drafted["procedures"]] == [("biopsy", "2010-05")]
