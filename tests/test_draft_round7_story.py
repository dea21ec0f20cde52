"""Drafting the story's other facts (treatments, stages, deaths): the kinds the seventh round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, procedures  # noqa: E402

# -- a word that begins like a TNM category is no stage ------------------------------------------------


def test_a_word_starting_with_tis_gives_no_stage(terminology):
    # 'Tissue' starts with the letters of the category Tis; only the category standing alone is a stage
    case = one(
        "A woman of 40 broke her left femur without a fall. Tissue taken at the operation showed metastatic"
        " ductal carcinoma of the breast.",
        terminology,
    )
    assert "stage" not in case["primary_cancers"][0]


def test_the_category_tis_standing_alone_is_still_a_stage(terminology):
    case = one(
        "A woman of 52 had a ductal carcinoma in situ of the right breast, staged Tis N0 M0. Six years later a"
        " metastasis appeared in the liver.",
        terminology,
    )
    assert case["primary_cancers"][0]["stage"].startswith("Tis")


# -- an operation named after a surgeon, whatever its head noun ------------------------------------------


def test_an_eponymous_resection_keeps_its_eponym(terminology):
    # 'Hartmann's resection' is one named operation, not a bare 'resection'
    case = one(
        "A woman of 70 had been treated for a lobular carcinoma of the breast. A metastasis narrowed her sigmoid"
        " colon, and the surgeons performed a Hartmann's resection.",
        terminology,
    )
    assert "hartmann's resection" in procedures(case)
    assert "resection" not in procedures(case)


# -- a biopsy taken through an operation is one procedure --------------------------------------------------


def test_a_biopsy_taken_through_an_operation_is_that_operation(terminology):
    # the biopsy and the orbitotomy it was taken through are one procedure, not a bare biopsy beside it
    case = one(
        "A woman of 80 had double vision. A mass was seen in the right orbit; a sample of it was biopsied by way"
        " of an open lateral orbitotomy, and it proved to be metastatic breast carcinoma.",
        terminology,
    )
    assert procedures(case) == ["lateral orbitotomy with biopsy"]


def test_an_operation_with_a_biopsy_of_the_mass_stays_two_acts(terminology):
    # 'with biopsy of the mass' names a second act of the operation, and is drafted as two procedures
    case = one(
        "A woman of 66 had a lump in the left orbit. She underwent an anterior orbitotomy with biopsy of the"
        " lump, which showed a carcinoma of breast origin.",
        terminology,
    )
    assert sorted(procedures(case)) == ["anterior orbitotomy", "biopsy"]


def test_a_biopsy_and_a_later_operation_stay_two(terminology):
    # a biopsy told on its own, then an operation: two procedures
    case = one(
        "A woman of 62 had a mass in the liver. A biopsy showed breast carcinoma. A month later she underwent a"
        " partial hepatectomy.",
        terminology,
    )
    assert sorted(procedures(case)) == ["biopsy", "partial hepatectomy"]


# -- a drug named as what caused a finding adds no course ---------------------------------------------------


def test_a_drug_named_as_the_cause_of_a_finding_is_no_new_course(terminology):
    case = one(
        "A woman of 57 had taken tamoxifen for five years after a mastectomy for breast cancer. Two years later"
        " ultrasound found polyps of the endometrium, first put down to a tamoxifen effect, and a biopsy showed"
        " metastatic lobular carcinoma.",
        terminology,
    )
    assert [m["name"] for m in case.get("medications", [])].count("tamoxifen") == 1


# -- a planned course that the story then says went on ---------------------------------------------------


def test_a_planned_course_the_patient_then_went_on_with_is_given(terminology):
    # 'went on with' keeps a course going: the plan told before was carried out, one course and not a plan
    case = one(
        "A man of 64 had a choroidal metastasis of breast cancer. Chemotherapy was proposed. The lesion was"
        " irradiated. Four months later a second lesion appeared in the other eye, and he went on with"
        " chemotherapy.",
        terminology,
    )
    chemo = [m for m in case["medications"] if m["name"] == "chemotherapy"]
    assert len(chemo) == 1 and chemo[0].get("status") != "intended"


# -- survival told as how long the patient lived: a death ---------------------------------------------------


def test_living_a_stated_time_after_an_event_is_a_death_then(terminology):
    case = one(
        "A woman of 49 had a metastasis of breast cancer in the stomach, shown by an endoscopic biopsy. After the"
        " biopsy she survived for only three months.",
        terminology,
    )
    vs = case["patient"].get("vital_status", {})
    assert vs.get("deceased") is True
    assert vs.get("relative") == {"to": "biopsy", "after": "3 months"}


def test_living_on_without_disease_is_no_death(terminology):
    case = one(
        "A woman of 49 had a metastasis of breast cancer in the stomach, removed by a gastrectomy. She has lived"
        " for three years since the operation and is free of disease.",
        terminology,
    )
    assert "vital_status" not in case["patient"]


# -- an interval times its own event, not what the story tells after it moved on ----------------------------


def test_a_metastasis_found_then_after_an_interval_is_not_timed_by_it(terminology):
    case = one(
        "A woman of 55 had a lumpectomy for a ductal carcinoma of the breast. A year after the lumpectomy a"
        " metastasis was found in the liver, and capecitabine was given. Metastases were then found in her"
        " brain as well.",
        terminology,
    )
    by_site = {m["site"]: m for m in case["metastases"]}
    assert by_site["liver"].get("relative") == {"to": "lumpectomy", "after": "1 year"}
    assert "relative" not in by_site["brain"]


def test_the_next_test_of_a_work_up_keeps_the_time_of_its_visit(terminology):
    # 'a scan then showed': the work-up of the visit the interval timed, not a later time
    case = one(
        "A woman of 60 had a mastectomy for a ductal carcinoma of the breast. Four years after the mastectomy she"
        " came with pain in the back. A radiograph was normal. Magnetic resonance imaging then showed a"
        " metastasis in the liver.",
        terminology,
    )
    by_site = {m["site"]: m for m in case["metastases"]}
    assert by_site["liver"].get("relative") == {"to": "mastectomy", "after": "4 years"}


# -- an occult primary told as a search that failed --------------------------------------------------------


def test_a_search_that_failed_to_find_the_primary_makes_it_occult(terminology):
    case = one(
        "A man of 70 had a mass in the right parotid gland, and its biopsy showed metastatic carcinoma of breast"
        " type. Mammography and an MRI of both breasts did not reveal a primary tumour.",
        terminology,
    )
    assert case["primary_cancers"][0].get("occult") is True


def test_a_primary_found_after_a_search_is_not_occult(terminology):
    case = one(
        "A man of 70 had a mass in the right parotid gland, and its biopsy showed metastatic carcinoma of breast"
        " type. An MRI of both breasts then showed the primary tumour in the left breast.",
        terminology,
    )
    assert "occult" not in case["primary_cancers"][0]


# -- a stain result told after the histology does not deny it -------------------------------------------------


def test_a_carcinoma_negative_for_the_receptors_is_still_the_histology(terminology):
    case = one(
        "A woman of 58 had a mucinous carcinoma of the left breast that was negative for oestrogen receptors."
        " Three years later a metastasis was found in the stomach.",
        terminology,
    )
    assert case["primary_cancers"][0].get("histology") == "mucinous carcinoma"


# -- a cancer named by its histological type ------------------------------------------------------------------


def test_a_cancer_named_by_its_type_gives_the_histology(terminology):
    # the type word, the organ and 'cancer': the histology is the type's carcinoma
    case = one(
        "In 2003 a man of 66 underwent a mastectomy for a ductal breast cancer. Six years later a metastasis was"
        " found in his sternum.",
        terminology,
    )
    # (the rules read a bare 'ductal carcinoma' as the invasive one, as they do when it is written out)
    assert case["primary_cancers"][0].get("histology", "").endswith("ductal carcinoma")


def test_cancers_named_by_their_type_in_the_plural_give_the_histology(terminology):
    case = one(
        "A woman of 63 had been operated on for mucinous cancers of both breasts. Four years later a metastasis"
        " was found in her liver.",
        terminology,
    )
    assert case["primary_cancers"][0].get("histology") == "mucinous carcinoma"


# -- a drug the treatment was changed to takes the date of its clause ------------------------------------------


def test_a_drug_switched_to_takes_the_date_its_sentence_gives(terminology):
    case = one(
        "A woman of 52 had a mastectomy for a ductal carcinoma of the breast in 2009. In March 2015 the disease"
        " spread to the liver, and her therapy was switched to capecitabine.",
        terminology,
    )
    assert case["medications"][0]["name"] == "capecitabine"
    assert case["medications"][0].get("date") == "2015-03"


# -- a past primary told with its operation and its year ------------------------------------------------------


def test_a_past_primary_takes_the_date_of_its_operation(terminology):
    case = one(
        "We report a woman of 70 who had undergone a lumpectomy for a lobular breast cancer in 2004. In 2011 a"
        " metastasis appeared in her stomach.",
        terminology,
    )
    primary = case["primary_cancers"][0]
    assert primary.get("date") == "2004"
    assert "age" not in primary


def test_metastases_the_patient_went_on_to_have_are_not_dated_by_the_diagnosis(terminology):
    case = one(
        "In 2012 a woman of 44 was found to have a ductal carcinoma of the right breast. She had a mastectomy and"
        " chemotherapy. Despite this, she went on to develop metastases in the liver and in the lungs.",
        terminology,
    )
    assert all("date" not in m for m in case["metastases"])
    assert case["primary_cancers"][0].get("date") == "2012"


def test_a_primary_dated_by_its_operation_before_a_later_date_takes_no_age(terminology):
    # the age told with a primary treated in 2001 and a metastasis in 2006 is the later time's
    case = one(
        "We report a man of 72 who had a radical mastectomy for a ductal breast cancer in 2001. In 2006 a"
        " metastasis was found in his mandible.",
        terminology,
    )
    primary = case["primary_cancers"][0]
    assert primary.get("date") == "2001"
    assert "age" not in primary


# -- a choice told with 'rather than' denies only the phrase it heads ----------------------------------------------


def test_what_was_chosen_instead_of_an_operation_is_given(terminology):
    case = one(
        "A woman of 66 had a metastasis of breast cancer in the stomach. Her doctors preferred radiotherapy"
        " rather than a gastrectomy, and capecitabine was given.",
        terminology,
    )
    drug = next(m for m in case["medications"] if m["name"] == "capecitabine")
    assert drug.get("status") != "not-taken"
    assert "gastrectomy" not in [p["name"] for p in case.get("procedures", []) if p.get("status") is None]


# -- a refusal told after the offer ---------------------------------------------------------------------------


def test_an_operation_offered_and_then_refused_is_not_done(terminology):
    case = one(
        "A woman of 57 had a carcinoma of the right breast. Her surgeon recommended a lumpectomy, which she"
        " declined. Two years later a metastasis was found in her mandible.",
        terminology,
    )
    surgery = next(p for p in case["procedures"] if p["name"] == "lumpectomy")
    assert surgery.get("status") == "not-done"


def test_a_treatment_given_before_a_refusal_of_more_is_given(terminology):
    case = one(
        "A woman of 57 had a carcinoma of the right breast. She was given tamoxifen, but she refused any further"
        " treatment. Two years later a metastasis was found in her mandible.",
        terminology,
    )
    assert case["medications"][0].get("status") is None


# -- a generic histology said to be of a type -------------------------------------------------------------------


def test_an_adenocarcinoma_said_to_be_of_a_type_is_that_type(terminology):
    case = one(
        "A man of 70 had a swelling of the left mandible. A biopsy of the mandible found a metastatic"
        " adenocarcinoma whose cells were of lobular type, from the breast.",
        terminology,
    )
    assert case["primary_cancers"][0].get("histology") == "invasive lobular carcinoma"
    assert case["metastases"][0].get("histology") in (None, "adenocarcinoma")


# -- a primary cannot be dated after its own metastasis ------------------------------------------------------------


def test_a_visit_date_told_with_the_cancer_is_not_its_diagnosis_when_a_metastasis_came_before(terminology):
    # the draft must convert: a metastasis dated before its primary is refused by the case model
    case = one(
        "In October 2019 a woman of 61 with breast cancer came to the eye clinic with blurred vision. In June"
        " 2019 metastases had been found in her liver. An examination showed a metastasis in the left choroid.",
        terminology,
    )
    assert case["primary_cancers"][0].get("date") != "2019-10"
