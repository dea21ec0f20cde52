"""Drafting the story's treatments, their details and the case's status: the kinds the eighth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, procedures  # noqa: E402


def _meds(case: dict, name: str) -> list[dict]:
    return [m for m in case.get("medications", []) if m["name"] == name]


def _statuses(case: dict) -> list[str]:
    return [s["status"] for s in case.get("disease_status", [])]


# -- a response belongs to the drugs told before it, not to a course begun after it ---------------------


def test_a_response_is_not_given_to_the_course_started_after_it(terminology):
    case = one(
        "A woman of 47 had a HER2-positive carcinoma of the right breast. Preoperative paclitaxel with"
        " trastuzumab ended in a complete response, and she was then given pertuzumab for a year."
        " Two years later a metastasis was found in the cerebellum.",
        terminology,
    )
    assert _meds(case, "paclitaxel")[0].get("response") == "complete response"
    assert _meds(case, "pertuzumab")[0].get("response") is None


def test_a_pathological_complete_response_keeps_its_name(terminology):
    case = one(
        "A woman of 39 had a ductal carcinoma of the left breast. After six cycles of docetaxel the resected"
        " breast showed a pathological complete response. Three years on, a metastasis appeared in the liver.",
        terminology,
    )
    assert _meds(case, "docetaxel")[0]["response"] == "pathological complete response"


# -- a setting named after the drugs: 'as maintenance' ------------------------------------------------------


def test_a_setting_told_after_the_drugs_is_their_intent(terminology):
    case = one(
        "A woman of 55 had a carcinoma of the left breast that had spread to the liver. Once the chemotherapy"
        " was over she was kept on pertuzumab and trastuzumab as maintenance.",
        terminology,
    )
    assert {m.get("intent") for m in _meds(case, "pertuzumab") + _meds(case, "trastuzumab")} == {
        "maintenance"
    }


def test_drugs_given_with_one_another_share_the_setting_told_before_the_first(terminology):
    # two named drugs joined by 'together with' are one course with one setting
    case = one(
        "A woman of 44 had a carcinoma of the right breast. She was given adjuvant epirubicin together with"
        " cyclophosphamide, and eight years later a metastasis was found in the stomach.",
        terminology,
    )
    assert _meds(case, "cyclophosphamide")[0].get("intent") == "adjuvant"


def test_a_class_with_its_drug_does_not_pass_its_setting_on_through_with(terminology):
    case = one(
        "A woman of 61 had a carcinoma of the left breast with metastases in the bones. She was given palliative"
        " chemotherapy together with zoledronic acid.",
        terminology,
    )
    assert _meds(case, "zoledronic acid")[0].get("intent") is None


# -- a status word that is no status of the disease ----------------------------------------------------------


def test_microsatellite_stable_is_a_marker_not_a_stable_disease(terminology):
    case = one(
        "A woman of 62 had a lobular carcinoma of the left breast. A metastasis in the colon was resected; the"
        " tumour was MSI stable and its mismatch repair proteins were kept.",
        terminology,
    )
    assert "stable" not in _statuses(case)


def test_her_condition_getting_worse_is_no_progressive_disease(terminology):
    case = one(
        "A woman of 58 with a carcinoma of the breast was found to have a metastasis in the leptomeninges."
        " Over the following weeks her clinical condition worsened and she needed help to walk.",
        terminology,
    )
    assert "progressive" not in _statuses(case)


def test_a_response_conceded_before_new_metastases_is_no_status_of_the_case(terminology):
    case = one(
        "A woman of 51 had a carcinoma of the left breast treated with surgery and chemotherapy. Though her"
        " disease had gone into remission, metastases were found in the brain a year later.",
        terminology,
    )
    assert "complete response" not in _statuses(case)


def test_no_disease_elsewhere_beside_a_new_metastasis_is_no_remission(terminology):
    case = one(
        "A woman of 60 had a carcinoma of the right breast. Eighteen months later a metastasis developed in"
        " the choroid of the left eye, and there was no evidence of disease anywhere else.",
        terminology,
    )
    assert "complete response" not in _statuses(case)


# -- a lesion's response while a drug is given is that drug's response --------------------------------------


def test_a_lesion_responding_on_the_course_its_sentence_names_is_the_courses_response(terminology):
    case = one(
        "A woman of 66 had a carcinoma of the left breast with a metastasis in the liver. She was started on"
        " anastrozole. After four months of endocrine therapy, the liver metastasis had responded well.",
        terminology,
    )
    assert _meds(case, "anastrozole")[0].get("response") == "responding"
    assert "responding" not in _statuses(case)


def test_a_class_word_stands_for_the_course_told_before_it(terminology):
    case = one(
        "A woman of 49 had a carcinoma of the right breast that spread to the lungs. She received capecitabine"
        " and docetaxel. Two years into the chemotherapy, both lung nodules were still in complete remission.",
        terminology,
    )
    assert _meds(case, "capecitabine")[0].get("response") == "complete response"
    assert _meds(case, "docetaxel")[0].get("response") == "complete response"


def test_the_course_pointed_back_at_takes_a_lesions_response(terminology):
    case = one(
        "A woman of 53 had a carcinoma of the left breast with metastases in the liver. She was put on"
        " letrozole with ribociclib. Eleven months after the combined treatment began, the hepatic deposits were in"
        " complete remission.",
        terminology,
    )
    assert _meds(case, "ribociclib")[0].get("response") == "complete response"
    assert "complete response" not in _statuses(case)


def test_a_lesion_regressing_with_no_treatment_named_stays_the_cases_status(terminology):
    case = one(
        "A man of 70 with a carcinoma of the left breast was on tamoxifen when a metastasis was found in his"
        " choroid. The eye was watched. At the next visit, a year later, the choroidal lesion was in complete"
        " remission.",
        terminology,
    )
    assert "complete response" in _statuses(case)


def test_the_disease_as_a_whole_responding_stays_the_cases_status(terminology):
    case = one(
        "A woman of 66 had a carcinoma of the left breast with a metastasis in the liver. She was started on"
        " anastrozole. When she was seen again after four months, her disease was in complete remission.",
        terminology,
    )
    assert "complete response" in _statuses(case)


# -- a negation does not reach over ', and we performed' into the operation --------------------------------


def test_a_denial_before_and_we_performed_does_not_deny_the_operation(terminology):
    case = one(
        "A woman of 64 with a past carcinoma of the right breast vomited after every meal. A stent did not"
        " open the narrowed duodenum, and we performed a gastrojejunostomy.",
        terminology,
    )
    assert "gastrojejunostomy" in procedures(case)


# -- an operation named by its head noun and what it joins or where it goes --------------------------------


def test_a_bypass_is_named_with_what_it_joins(terminology):
    case = one(
        "A woman of 72 had a lobular carcinoma of the left breast. Years later a metastasis blocked her ileum,"
        " so the surgeons made an ileocolic bypass.",
        terminology,
    )
    assert "ileocolic bypass" in procedures(case)


def test_a_dissection_named_by_two_qualifiers_is_an_operation(terminology):
    case = one(
        "A woman of 48 had a ductal carcinoma of the right breast. A small lesion of the stomach was taken out by"
        " endoscopic submucosal dissection, and it proved to be a metastasis of the breast cancer.",
        terminology,
    )
    assert "endoscopic submucosal dissection" in procedures(case)


def test_a_disease_called_a_dissection_is_no_operation(terminology):
    case = one(
        "A woman of 75 had a carcinoma of the left breast and a metastasis in the liver. She died of an aortic"
        " dissection.",
        terminology,
    )
    assert not any("dissection" in p for p in procedures(case))


# -- a bare 'operation' before the story names it is that operation ------------------------------------------


def test_an_operation_asked_for_and_then_named_is_one_operation(terminology):
    case = one(
        "A woman of 45 had a carcinoma of the right breast with a metastasis in the liver. After chemotherapy"
        " she wanted an operation. Her scans were clear, and a right mastectomy was done.",
        terminology,
    )
    assert procedures(case) == ["mastectomy"]


def test_a_summary_pointing_at_the_operation_adds_none(terminology):
    case = one(
        "We report a breast cancer that came back in the bones two years after its operation.\n\n"
        "A woman of 50 underwent a left lumpectomy for a ductal carcinoma. Two years later metastases were"
        " found in the spine.",
        terminology,
    )
    assert "surgery" not in procedures(case)


def test_an_operation_told_long_before_another_stays_its_own(terminology):
    case = one(
        "A woman of 62 had an operation on her right breast in 2001 for a ductal carcinoma. In 2015 she was well."
        " In 2016 she noticed a lump. In 2017 a metastasis was found in the orbit. In 2018 an orbital"
        " exenteration was done.",
        terminology,
    )
    assert len(procedures(case)) == 2


def test_an_operation_of_the_past_history_is_not_the_operation_told_next(terminology):
    case = one(
        "A woman of 66 had earlier been treated for a carcinoma of the left breast with chemotherapy, surgery and"
        " radiotherapy. A CT scan now showed a mass in the stomach. She underwent a distal gastrectomy.",
        terminology,
    )
    assert {"surgery", "distal gastrectomy"} <= set(procedures(case))


# -- a route said in words, and an age said bare for the diagnosis told later ---------------------------------


def test_a_drug_taken_by_mouth_is_given_orally(terminology):
    case = one(
        "A man of 70 had a carcinoma of the left breast. After the operation he took anastrozole by mouth, 1 mg"
        " each day. Four years later a metastasis appeared in the liver.",
        terminology,
    )
    assert _meds(case, "anastrozole")[0].get("route") == "oral"


def test_the_age_a_later_sentence_gives_for_the_first_diagnosis_dates_the_primary(terminology):
    case = one(
        "A woman of 63 with a breast cancer treated years before came with a cough.\n\nAt 57 the patient had been"
        " diagnosed with a ductal carcinoma of the left breast. A CT scan now showed metastases in both lungs.",
        terminology,
    )
    assert case["primary_cancers"][0].get("age") == 57


def test_an_age_told_for_a_recurrence_does_not_date_the_primary(terminology):
    case = one(
        "A woman of 63 with a breast cancer treated years before came with a cough.\n\nAt 60 the woman was"
        " diagnosed with a recurrence of her breast cancer in the chest wall. A CT scan now showed metastases in"
        " both lungs.",
        terminology,
    )
    assert case["primary_cancers"][0].get("age") != 60


# -- the aim said as the treatment's predicate; a class named as a drug's role ---------------------------------


def test_an_aim_said_of_the_treatment_reaches_the_treatments_its_sentence_lists(terminology):
    case = one(
        "A woman of 57 with a carcinoma of the right breast had metastases in the meninges. Her care from then on"
        " was purely palliative, with capecitabine and radiotherapy to the spine.",
        terminology,
    )
    assert _meds(case, "capecitabine")[0].get("intent") == "palliative"
    assert [p.get("intent") for p in case["procedures"] if p["name"] == "radiotherapy"] == ["palliative"]


def test_a_class_named_as_a_drugs_role_is_no_treatment_of_its_own(terminology):
    case = one(
        "A woman of 74 had a carcinoma of the left breast that spread to the orbit. Ribociclib, a kinase"
        " inhibitor, was begun as the second line of palliative endocrine therapy.",
        terminology,
    )
    names = [m["name"] for m in case["medications"]]
    assert names == ["ribociclib"]
    assert case["medications"][0].get("intent") == "palliative"


# -- a drug named as what a lesion answered is the course the story tells ----------------------------------------


def test_a_drug_a_summary_says_the_lesion_answered_is_the_course_told_later(terminology):
    case = one(
        "We report a woman whose orbital metastasis responded promptly to letrozole.\n\nA woman of 71 had a"
        " lobular carcinoma of the right breast. Years later a metastasis was found in the right orbit. She was"
        " started on letrozole, 2.5 mg a day by mouth.",
        terminology,
    )
    given = _meds(case, "letrozole")
    assert len(given) == 1
    assert given[0].get("response") == "responding"
    assert given[0].get("route") == "oral"
