"""Drafting the story's other facts (treatments and their details, times, ages): the kinds the sixth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, procedures  # noqa: E402


def _procedure(case: dict, name: str) -> dict:
    return next(p for p in case.get("procedures", []) if p["name"] == name)


# -- one operation told twice: a generic word and the operation's own name -------------------------------


def test_an_operation_for_the_breast_cancer_done_by_a_named_surgery_is_that_surgery(terminology):
    # 'operated on ... by a lumpectomy': the lumpectomy is how the operation was done, one procedure
    case = one(
        "A woman of 61 presented with a swelling of the left orbit. Four years earlier she had been operated on"
        " for a carcinoma of the right breast by lumpectomy. A biopsy of the orbital mass showed metastatic"
        " breast carcinoma.",
        terminology,
    )
    assert "surgery" not in procedures(case)
    assert "lumpectomy" in procedures(case)


def test_a_generic_operation_on_the_breast_and_the_named_one_told_later_are_one(terminology):
    # the story names the operation generically first and precisely later
    case = one(
        "A woman of 48 had been operated on for a carcinoma of the left breast in March 2009. A metastasis in"
        " the liver was found in 2014. The breast operation had been a modified radical mastectomy.",
        terminology,
    )
    assert procedures(case).count("modified radical mastectomy") == 1
    assert "surgery" not in procedures(case)


def test_two_operations_listed_in_one_sentence_stay_two(terminology):
    # a list of operations, each with its own object: not one operation told twice
    case = one(
        "A woman of 55 had breast cancer in both breasts. She underwent a mastectomy of the left breast and an"
        " excision of a lump of the right breast. Two years later a metastasis appeared in the lung.",
        terminology,
    )
    assert "excision" in procedures(case)


def test_a_resection_of_the_bowel_is_the_named_colectomy_of_the_story(terminology):
    # 'the colonic resection' told before 'a left hemicolectomy': one operation on the colon
    case = one(
        "An 70-year-old woman had a lobular carcinoma of the breast. A metastasis to the colon was found by"
        " colonoscopy, and a year before the colonic resection her bones had been involved. She underwent a"
        " left hemicolectomy.",
        terminology,
    )
    assert "resection" not in procedures(case)
    assert any("hemicolectomy" in name for name in procedures(case))


def test_the_resected_part_retells_the_resection(terminology):
    # 'the resected segment' is the segment of a resection already told, not a second one
    case = one(
        "A woman of 66 with a history of breast cancer had an obstruction of the small bowel. She underwent a"
        " resection of the ileum. In the resected segment a metastatic lobular carcinoma was found.",
        terminology,
    )
    assert procedures(case).count("resection") == 1


def test_an_interval_counted_from_an_operation_does_not_time_it(terminology):
    # 'three years before the gastric resection': the resection is the anchor, not what the interval times
    case = one(
        "A woman of 59 had a carcinoma of the right breast treated in 2001. Three years before the gastric"
        " resection she had had a metastasis in the spine. She underwent a gastrectomy for a metastasis to the"
        " stomach.",
        terminology,
    )
    for p in case.get("procedures", []):
        assert "relative" not in p or p["relative"].get("before") != "3 years", p


# -- where an operation was done -----------------------------------------------------------------------


def test_what_an_operation_found_is_where_it_was_done(terminology):
    # 'at operation the tumour was seen to arise from the dura mater': a generic operation, on the dura
    case = one(
        "A woman of 60 had been treated for breast cancer. Imaging showed a tumour of the skull base. At"
        " operation the tumour was seen to arise from the dura mater, and histology showed a metastasis of"
        " breast carcinoma.",
        terminology,
    )
    sites = [p.get("body_site") for p in case.get("procedures", []) if p["name"] == "surgery"]
    assert "cerebral meninges" in sites or "dura mater" in sites, case.get("procedures")


def test_a_mastectomy_specimen_with_nodes_does_not_put_the_mastectomy_on_the_nodes(terminology):
    # the nodes of a mastectomy specimen are regional: the mastectomy is not a procedure on a lymph node
    case = one(
        "A woman of 50 had a lesion of the spleen. Three years earlier she had a modified radical mastectomy;"
        " histopathology showed a ductal carcinoma with carcinoma in two of the lymph nodes.",
        terminology,
    )
    assert _procedure(case, "modified radical mastectomy").get("body_site") is None


def test_radiotherapy_for_a_cancer_of_the_breast_is_not_aimed_at_the_breast_by_those_words(terminology):
    # 'chemoradiation for carcinoma of the breast': the disease treated, not the field irradiated
    case = one(
        "A woman of 57 came with double vision, two years after surgery and radiotherapy for carcinoma of the"
        " breast. A biopsy of the orbit showed metastatic carcinoma.",
        terminology,
    )
    assert _procedure(case, "radiotherapy").get("body_site") is None


# -- ages and intervals -------------------------------------------------------------------------------


def test_an_age_after_a_headings_label_is_the_age_of_the_presentation(terminology):
    # 'Case presentation: A woman of 58 had been treated ... years earlier': her age now, at the presentation
    case = one(
        "Case presentation: A woman of 58 had been treated for a carcinoma of the breast six years earlier. She"
        " now had pain in the right hip, and a biopsy of the femur showed metastatic breast carcinoma.",
        terminology,
    )
    assert [m.get("age") for m in case["metastases"]] == [58]


def test_an_age_in_the_reports_own_we_describe_sentence_is_the_age_now(terminology):
    case = one(
        "We describe a woman of 47 whose breast cancer had been treated four years before. She now had a"
        " painless nodule of the scalp, and its excision showed metastatic ductal carcinoma.",
        terminology,
    )
    assert [m.get("age") for m in case["metastases"]] == [47]


def test_an_interval_and_a_half_is_counted_in_halves(terminology):
    case = one(
        "A woman of 50 had a ductal carcinoma of the left breast removed. Three and a half years later a"
        " metastasis was found in the liver.",
        terminology,
    )
    (liver,) = case["metastases"]
    assert liver["relative"]["after"] == "3.5 years"


def test_a_bare_later_counts_from_the_metastasis_the_sentence_before_told(terminology):
    # 'Two months later ...' right after a sentence that told the lung metastasis: counted from the lung one
    case = one(
        "A woman of 61 with a history of breast cancer presented with a metastasis in the lung. Two months"
        " later metastases appeared in the brain.",
        terminology,
    )
    brain = next(m for m in case["metastases"] if m["site"] == "brain")
    assert brain["relative"] == {"to": "lung", "after": "2 months"}


def test_a_bare_later_does_not_count_from_a_site_named_as_another_intervals_anchor(terminology):
    # the sentence before tells the diagnosis, timed 'four years before the orbital lesion': its event is the
    # diagnosis, so 'Two years later' does not count from the orbit
    case = one(
        "A woman of 52 came with a lesion of the left orbit. Breast cancer had been diagnosed four years"
        " before the orbital lesion appeared, and she had a mastectomy. Two years later a metastasis was found"
        " in the liver.",
        terminology,
    )
    liver = next(m for m in case["metastases"] if m["site"] == "liver")
    assert liver.get("relative", {}).get("to") != "orbit"


# -- a course told again, kept on, or started beside a plan ---------------------------------------------


def _meds(case: dict) -> list[dict]:
    return case.get("medications", [])


def test_a_drug_the_patient_stayed_on_is_the_course_already_told(terminology):
    case = one(
        "A woman of 58 with breast cancer had a metastasis in the liver in May 2012, and she was started on"
        " letrozole. In 2015 she was still well, and she remained on letrozole until 2017.",
        terminology,
    )
    assert [m["name"] for m in _meds(case)] == ["letrozole"]


def test_a_drug_said_to_be_continued_is_the_course_already_told(terminology):
    case = one(
        "A woman of 66 had had a mastectomy in 2012 and had taken exemestane since then. In March 2019 a"
        " nodule of the scalp was found to be a metastasis of her breast cancer, and it was excised."
        " Exemestane was continued.",
        terminology,
    )
    assert [m["name"] for m in _meds(case)] == ["exemestane"]


def test_a_planned_course_the_patient_later_stayed_on_was_given(terminology):
    case = one(
        "A woman of 49 had a metastasis of breast cancer in the choroid. Chemotherapy was planned. Two months"
        " later new lesions appeared in the other eye, and she stayed on chemotherapy.",
        terminology,
    )
    assert [(m["name"], m.get("status")) for m in _meds(case)] == [("chemotherapy", None)]


def test_a_response_told_beside_the_drug_kept_on_is_that_drugs_response(terminology):
    # 'The disease responded partially, and she stayed on X': X's response, not a status of its own
    case = one(
        "A woman of 62 with breast cancer had metastases in the lung, and she was started on anastrozole. The"
        " disease responded partially, and she stayed on anastrozole for three years.",
        terminology,
    )
    (drug,) = _meds(case)
    assert drug.get("response") is not None
    assert not case.get("disease_status")


def test_a_drug_started_beside_a_planned_treatment_is_given(terminology):
    # the plan belongs to the other clause: 'She started letrozole, and radiotherapy to the hip was planned'
    case = one(
        "A woman of 70 had a metastasis of breast cancer in the right hip. She started letrozole, and"
        " radiotherapy to the hip was planned.",
        terminology,
    )
    assert [(m["name"], m.get("status")) for m in _meds(case)] == [("letrozole", None)]
    radiotherapy = next(p for p in case["procedures"] if p["name"] == "radiotherapy")
    assert radiotherapy.get("status") == "preparation"


# -- histology of which tumour ------------------------------------------------------------------------


def _met_histology(case: dict) -> dict[str, str | None]:
    return {m["site"]: m.get("histology") for m in case.get("metastases", [])}


def test_a_histology_named_of_the_breast_is_the_primarys_not_the_biopsied_sites(terminology):
    case = one(
        "A woman of 45 had a mass in the right orbit. Biopsies were taken from the orbit and from the right"
        " breast, and histology showed a lobular carcinoma of the breast.",
        terminology,
    )
    assert case["primary_cancers"][0].get("histology") == "lobular carcinoma"
    assert _met_histology(case).get("orbit") is None


def test_the_histology_of_a_mastectomy_specimen_with_its_nodes_is_the_primarys(terminology):
    case = one(
        "A woman of 63 had a metastasis in the liver. Three years earlier she had had a modified radical"
        " mastectomy; histopathology showed a lobular carcinoma, with carcinoma in four of the lymph nodes.",
        terminology,
    )
    assert case["primary_cancers"][0].get("histology") == "lobular carcinoma"
    assert all(h is None for site, h in _met_histology(case).items() if "lymph node" in site)


def test_a_histology_told_with_a_count_of_examined_nodes_is_the_primarys(terminology):
    case = one(
        "A woman of 39 had a lump in the left breast, and she had a mastectomy. On histopathology the tumour"
        " was a ductal carcinoma, and two of the 14 axillary lymph nodes examined contained carcinoma. A year"
        " later a metastasis was found in the liver.",
        terminology,
    )
    assert all(h is None for site, h in _met_histology(case).items() if "lymph node" in site)


# -- details of a course told with others ---------------------------------------------------------------


def test_cycles_of_a_chemotherapy_class_are_not_a_hormonal_drug_told_in_the_next_clause(terminology):
    case = one(
        "A woman of 57 had a metastasis of breast cancer in the spleen. She had received four cycles of chemotherapy with"
        " epirubicin and cyclophosphamide and was taking letrozole.",
        terminology,
    )
    meds = {m["name"]: m for m in _meds(case)}
    assert meds["letrozole"].get("cycles") is None
    assert meds["epirubicin"].get("cycles") == 4


def test_the_nodes_of_a_radical_mastectomy_told_in_the_next_sentence_are_its_own(terminology):
    case = one(
        "A woman of 41 had a lump in the right breast. In May 2010 she underwent a right modified radical"
        " mastectomy. On histopathology the tumour was a ductal carcinoma, and three of the 17 axillary lymph"
        " nodes examined held carcinoma. A metastasis in the liver was found in 2013.",
        terminology,
    )
    mastectomy = _procedure(case, "modified radical mastectomy")
    assert (mastectomy.get("nodes_positive"), mastectomy.get("nodes_examined")) == (3, 17)


def test_the_nodes_go_to_the_axillary_dissection_named_with_the_mastectomy(terminology):
    case = one(
        "A woman of 41 had a lump in the right breast. She underwent a modified radical mastectomy with"
        " axillary dissection, and 2 of the 12 axillary lymph nodes held carcinoma. A metastasis in the liver"
        " was found in 2013.",
        terminology,
    )
    assert _procedure(case, "modified radical mastectomy").get("nodes_positive") is None


def test_an_intent_before_radiotherapy_heading_a_list_is_the_intent_of_the_drugs_listed_with_it(terminology):
    # 'adjuvant radiotherapy, chemotherapy and hormonal therapy': one adjective over the coordinated list
    case = one(
        "A woman of 52 had a lumpectomy for a carcinoma of the left breast, and then received adjuvant"
        " radiotherapy, chemotherapy and hormonal therapy. Four years later a metastasis appeared in the liver.",
        terminology,
    )
    assert {m["name"]: m.get("intent") for m in _meds(case)} == {
        "chemotherapy": "adjuvant",
        "hormonal therapy": "adjuvant",
    }


# -- a status said of something other than the disease ---------------------------------------------------


def test_a_performance_score_that_improved_is_no_response_of_the_disease(terminology):
    case = one(
        "A woman of 60 with breast cancer had a metastasis in the spine. She was given radiotherapy, after"
        " which her performance score improved.",
        terminology,
    )
    assert not case.get("disease_status")


def test_an_organ_failure_that_progressed_is_no_progression_of_the_cancer(terminology):
    case = one(
        "A woman of 68 with breast cancer had metastases in the liver. Her liver failure progressed over two"
        " weeks, and she died.",
        terminology,
    )
    assert not case.get("disease_status")


def test_a_lesion_that_did_not_change_over_the_follow_up_is_stable_disease(terminology):
    case = one(
        "A woman of 70 had a metastasis of breast cancer in the skin of the scalp. Over three years of"
        " follow-up the scalp lesion did not change.",
        terminology,
    )
    assert [s["status"] for s in case.get("disease_status", [])] == ["stable"]


def test_a_disease_well_controlled_is_stable_but_vision_that_did_not_change_is_not(terminology):
    case = one(
        "A woman of 55 had a metastasis of breast cancer in the choroid, treated with radiotherapy. A year later"
        " her disease is well controlled.",
        terminology,
    )
    assert [s["status"] for s in case.get("disease_status", [])] == ["stable"]
    case = one(
        "A woman of 55 had a metastasis of breast cancer in the choroid. Her vision did not change.",
        terminology,
    )
    assert not case.get("disease_status")


def test_one_operation_told_in_the_summary_and_again_in_the_story_is_one(terminology):
    case = one(
        "We report a breast cancer that first showed itself as a mass of the left orbit and was treated with"
        " surgery. A woman of 50 had double vision for two months. MRI showed a mass in the left orbit. She had"
        " an operation, and histology showed a metastatic lobular carcinoma.",
        terminology,
    )
    assert procedures(case).count("surgery") == 1


def test_a_second_operation_is_not_the_first_told_again(terminology):
    case = one(
        "A woman of 50 with breast cancer had a mass of the left orbit. She had an operation, and histology"
        " showed a metastatic lobular carcinoma. The mass grew back, and she had a second operation.",
        terminology,
    )
    assert procedures(case).count("surgery") == 2


def test_a_biopsy_of_it_is_of_the_site_the_clause_before_named(terminology):
    case = one(
        "A woman of 66 had nodules in the skin of her back. A punch biopsy of the skin showed metastatic"
        " carcinoma. Ultrasound of the right breast found an irregular mass; a biopsy of it showed a ductal"
        " carcinoma.",
        terminology,
    )
    biopsies = {p["name"]: p.get("body_site") for p in case["procedures"]}
    assert biopsies == {"punch biopsy": "skin", "biopsy": "breast"}


def test_a_retold_biopsy_named_precisely_is_the_one_of_that_name(terminology):
    # 'The punch biopsy of the skin' told again after a punch biopsy and another biopsy: the punch biopsy,
    # and the other biopsy keeps its name
    case = one(
        "A woman of 66 had nodules in the skin of her back. A punch biopsy of the skin showed metastatic"
        " carcinoma. A biopsy of the right breast showed a ductal carcinoma. The punch biopsy of the skin was"
        " then stained for GATA3.",
        terminology,
    )
    assert sorted(procedures(case)) == ["biopsy", "punch biopsy"]


def test_biopsies_taken_from_two_sites_are_two_biopsies(terminology):
    case = one(
        "A woman of 58 had a mass in the right orbit and a lump in the left breast. Biopsies were taken from"
        " the orbit and from the left breast, and both showed a lobular carcinoma.",
        terminology,
    )
    assert sorted(p.get("body_site") for p in case["procedures"] if p["name"] == "biopsy") == [
        "breast",
        "orbit",
    ]


def test_a_time_phrase_put_before_its_clause_times_the_operation_of_that_clause(terminology):
    # 'Ten years before, she had had a mastectomy ...': the fronted phrase is the clause's time
    case = one(
        "A woman of 70 came with a nodule of the scalp. Ten years before, she had had a mastectomy for a"
        " ductal carcinoma of the left breast. A biopsy of the nodule showed a metastasis of the breast cancer.",
        terminology,
    )
    mastectomy = _procedure(case, "mastectomy")
    assert mastectomy.get("relative", {}).get("before") == "10 years", mastectomy


def test_a_treatment_the_patient_was_advised_to_seek_is_intended(terminology):
    case = one(
        "A woman of 45 with breast cancer had a metastasis in the brain. She went home with the advice to see"
        " her oncologist for systemic chemotherapy.",
        terminology,
    )
    assert [(m["name"], m.get("status")) for m in _meds(case)] == [("chemotherapy", "intended")]


def test_a_negation_ends_before_a_new_predicate_joined_by_and(terminology):
    # 'she has no evidence of disease and is taking letrozole': the letrozole is not negated
    case = one(
        "A woman of 61 had a carcinoma of the right breast and a metastasis in the lung. Three years later she"
        " has no evidence of disease and is taking letrozole.",
        terminology,
    )
    assert [m["name"] for m in _meds(case)] == ["letrozole"]


def test_a_radiotherapys_own_intent_is_not_carried_through_a_class_to_the_drug_it_names(terminology):
    # 'palliative radiotherapy and hormonal therapy with exemestane': two steps from the word; left unsaid.
    # 'adjuvant chemotherapy, radiotherapy and hormonal therapy with anastrozole': the list's own head
    case = one(
        "A woman of 66 with breast cancer had metastases in the bones. She was given palliative radiotherapy"
        " and hormonal therapy with exemestane.",
        terminology,
    )
    assert {m["name"]: m.get("intent") for m in _meds(case)} == {"exemestane": None}
    case = one(
        "A woman of 48 had a lumpectomy for a carcinoma of the right breast. She then had adjuvant"
        " chemotherapy, radiotherapy and hormonal therapy with anastrozole. Six years later a metastasis was"
        " found in the liver.",
        terminology,
    )
    assert {m["name"]: m.get("intent") for m in _meds(case)}.get("anastrozole") == "adjuvant"


# -- the patient ------------------------------------------------------------------------------------


def test_a_woman_past_the_menopause_is_postmenopausal(terminology):
    case = one(
        "We report a woman past the menopause who found a lump in her right breast; a metastasis was found in"
        " the ovary.",
        terminology,
    )
    assert case["patient"].get("menopausal_status") == "postmenopausal"


def test_menopause_told_as_a_time_is_a_status_only_before_or_after_it():
    from fhir_adapter.draft import values

    assert values.menopausal("two years before her menopause").value == "premenopausal"
    assert values.menopausal("hot flushes at the menopause") is None


def test_an_occult_primary_looked_for_and_not_found_leaves_the_known_primary_known(terminology):
    case = one(
        "A woman of 52 had a ductal carcinoma of the left breast and enlarged nodes in the right axilla, which"
        " held metastatic carcinoma. No occult primary was found in the right breast or elsewhere.",
        terminology,
    )
    assert not case["primary_cancers"][0].get("occult")


def test_positive_nodes_told_without_a_total_are_the_operations_positive_nodes(terminology):
    case = one(
        "A woman of 56 had a metastasis in the spleen. Four years earlier she had had a modified radical"
        " mastectomy; histopathology showed a ductal carcinoma, with carcinoma in five of the lymph nodes.",
        terminology,
    )
    mastectomy = _procedure(case, "modified radical mastectomy")
    assert (mastectomy.get("nodes_positive"), mastectomy.get("nodes_examined")) == (5, None)


def test_a_cancer_treated_in_the_pluperfect_takes_no_age_of_the_presentation(terminology):
    # 'We report a woman of 47 ... She had first been treated with a mastectomy for a ductal carcinoma':
    # the age is the presentation's; the cancer was treated before it
    case = one(
        "We report a woman of 47 in whom a metastasis of breast cancer was found in the stomach. She had first"
        " been treated with a mastectomy and chemotherapy for a ductal carcinoma of the left breast.",
        terminology,
    )
    assert case["primary_cancers"][0].get("age") is None
    assert [m.get("age") for m in case["metastases"]] == [47]


def test_a_metastasis_found_during_her_follow_up_is_not_at_the_diagnosis(terminology):
    # 'A woman of 64 was diagnosed with ... During her follow-up a nodule was found in the liver': the age
    # is the diagnosis's, and the liver metastasis came later, at an age not told
    case = one(
        "A woman of 64 was diagnosed with a lobular carcinoma of the breast and given adjuvant chemotherapy."
        " During her follow-up a nodule was found in the liver, and a biopsy showed a metastasis of the"
        " lobular carcinoma.",
        terminology,
    )
    assert [m.get("age") for m in case["metastases"]] == [None]


def test_a_drug_started_in_the_sentence_of_a_dated_progression_has_that_date(terminology):
    case = one(
        "A woman of 50 had a ductal carcinoma of the right breast treated in 2004. In March 2011 the disease"
        " progressed, with new lesions in the lungs, and she was started on letrozole.",
        terminology,
    )
    assert [(m["name"], m.get("date")) for m in _meds(case)] == [("letrozole", "2011-03")]
