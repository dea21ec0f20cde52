"""Drafting the kinds of wording that went wrong on unseen reports: each test names the kind and its root fix.

The texts are short sentences written for these tests in the shape case reports use; none is
taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, sites  # noqa: E402

from fhir_adapter.case import Case  # noqa: E402
from fhir_adapter.draft.roles import BACKGROUND, DIFFERENTIAL, LITERATURE, PATIENT, sentence_roles  # noqa: E402
from fhir_adapter.draft.rules import shipped_rules  # noqa: E402

# -- the patient's story, not background, literature or differential ---------------------------


def test_general_sentences_give_no_metastases(terminology):
    case = one(
        "Invasive ductal carcinoma tends to metastasize to bone, brain, lungs and liver, while lobular carcinoma"
        " also reaches the peritoneum and the gastrointestinal tract. A 55-year-old woman with carcinoma of the"
        " right breast presented with a metastasis to the left lower eyelid.",
        terminology,
    )
    assert sites(case) == {"lower eyelid": "left"}


def test_roles_of_sentences():
    text = (
        "Background: Breast cancer usually spreads to the lungs, liver and bones. "
        "Case presentation: A 57-year-old woman presented with diplopia. "
        "Imaging showed a lesion in the sphenoid sinus. "
        "Discussion: Similar cases have been reported in the literature. "
        "The differential diagnosis included lymphoma and melanoma. "
        "In our patient the lesion shrank after radiotherapy."
    )
    import re

    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", text)]
    roles = sentence_roles(text, sentences, shipped_rules())
    assert roles == [BACKGROUND, PATIENT, PATIENT, LITERATURE, DIFFERENTIAL, PATIENT]


def test_a_background_mean_age_is_not_the_age(terminology):
    case = one(
        "Patients with lobular carcinoma are older, with a reported mean age of 57 years. A 70-year-old woman"
        " was found to have lobular carcinoma of the left breast with metastases to the rectum.",
        terminology,
    )
    assert case["primary_cancers"][0]["age"] == 70
    assert case["metastases"][0]["age"] == 70


def test_plural_women_is_not_the_patient_sex(terminology):
    case = one(
        "Breast cancer is rare in men and common in women. A 66-year-old man had carcinoma of the left breast.",
        terminology,
    )
    assert case["patient"]["sex"] == "male"


# -- the scope of negation ---------------------------------------------------------------------------


def test_a_refusal_does_not_reach_a_later_death(terminology):
    case = one(
        "A woman had metastatic breast cancer in the bones. She refused further workup and treatment and"
        " eventually passed away.",
        terminology,
    )
    assert case["patient"]["vital_status"]["deceased"] is True


def test_no_response_and_death(terminology):
    case = one(
        "A woman had breast cancer with liver metastases. She did not respond to therapy and died.",
        terminology,
    )
    assert case["patient"]["vital_status"]["deceased"] is True
    assert case["disease_status"][0]["status"] == "progressive"


def test_a_negation_does_not_cross_into_the_next_clause(terminology):
    case = one(
        "A woman had breast cancer. The lesion could not be removed and there were metastases in the bones.",
        terminology,
    )
    assert "bone" in sites(case)


# -- sides, in every position ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "site", "side"),
    [
        ("Imaging showed a lesion in the right sphenoid sinus.", "sphenoid sinus", "right"),
        ("There was a metastasis in the left choroid.", "choroid", "left"),
        ("MRI showed metastases in both orbits.", "orbit", "bilateral"),
        ("A PET-CT scan showed a scalp mass in the left temporal region.", "scalp", "left"),
        ("A CT scan showed metastatic choroidal tumours in both eyes.", "choroid", "bilateral"),
        ("On fundus examination the right eye had a choroidal mass.", "choroid", "right"),
    ],
)
def test_sides_in_every_position(terminology, sentence, site, side):
    case = one("A woman had breast cancer. " + sentence, terminology)
    assert sites(case).get(site) == side, sites(case)


def test_a_side_of_two_things_is_no_side(terminology):
    case = one(
        "A woman had four skin lesions on the trunk. Both a skin lesion and the breast mass were biopsied.",
        terminology,
    )
    # the lesions were told on one region the maps name, so the skin is that region's (with no side)
    assert sites(case) == {"skin of trunk": None}


# -- sites the maps or the old rules missed ----------------------------------------------------------


def test_a_metastatic_femoral_fracture_and_a_rectal_mass(terminology):
    case = one(
        "A woman with breast cancer presented with a metastatic femoral fracture and a rectal mass, both"
        " shown to be metastases on biopsy.",
        terminology,
    )
    assert {"femur", "rectum"} <= set(sites(case))


def test_a_list_shares_its_metastasis_word(terminology):
    case = one(
        "She has breast cancer with biopsy-proven metastases in the left axillary lymph nodes, the gastric"
        " mucosa, the peritoneum, a rectal mass and the bone.",
        terminology,
    )
    assert set(sites(case)) == {"axillary lymph node", "stomach", "peritoneum", "rectum", "bone"}


def test_a_site_named_as_underlying_tissue_is_no_metastasis(terminology):
    case = one(
        "A woman had breast cancer. Excision of the scalp mass showed a metastatic deposit infiltrating the"
        " fascia and the underlying bone marrow.",
        terminology,
    )
    assert set(sites(case)) == {"scalp"}


# -- markers: lists, Unicode minus, and the tumour they were measured on ----------------------------------


def test_a_marker_list_shares_its_result(terminology):
    case = one(
        "A woman had breast cancer. Biopsy of the right upper eyelid mass was done. The cells showed positive"
        " immunoreactivity to pancytokeratin, estrogen receptor, progesterone receptor and HER-2.",
        terminology,
    )
    markers = {m["name"]: m["result"] for m in case["metastases"][0]["markers"]}
    assert markers == {"pancytokeratin": "positive", "ER": "positive", "PR": "positive", "HER2": "positive"}
    assert "receptors" not in case["primary_cancers"][0]  # measured on the eyelid, not the primary


def test_a_unicode_minus_is_a_negative_result(terminology):
    case = one("A woman had breast cancer of the left breast (ER: +, PR: −, mammaglobin: −).", terminology)
    p = case["primary_cancers"][0]
    assert p["receptors"]["pr"] == "negative"
    assert {"name": "mammaglobin", "result": "negative"} in p["markers"]


def test_two_lists_with_their_own_results(terminology):
    case = one(
        "A woman had a scalp mass from an occult breast primary. Biopsy of the scalp mass was done. The tumour"
        " was positive for CK7 and estrogen receptor, and PR and HER2 were both weakly positive; CK20 and"
        " vimentin were all negative.",
        terminology,
    )
    markers = {m["name"]: m["result"] for m in case["metastases"][0]["markers"]}
    assert markers == {"CK7": "positive", "ER": "positive", "PR": "weakly positive", "HER2": "weakly positive",
                       "CK20": "negative", "vimentin": "negative"}  # fmt: skip


def test_receptors_of_the_primary_stay_on_the_primary(terminology):
    case = one(
        "A woman had invasive ductal carcinoma of the left breast (ER positive, PR positive, HER2 negative)"
        " with metastases to the liver.",
        terminology,
    )
    assert case["primary_cancers"][0]["receptors"] == {"er": "positive", "pr": "positive", "her2": "negative"}
    assert "markers" not in case["metastases"][0]


# -- histology wording -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wording", "histology"),
    [
        ("infiltrative ductal carcinoma", "invasive ductal carcinoma"),
        ("lobular cancer", "invasive lobular carcinoma"),
        ("lobular breast carcinoma", "invasive lobular carcinoma"),
    ],
)
def test_histology_wording(terminology, wording, histology):
    case = one(f"A woman was treated for {wording} of the breast.", terminology)
    assert case["primary_cancers"][0]["histology"] == histology


# -- citation and time anchors -------------------------------------------------------------------------


def test_the_doi_and_pmid_reach_the_source_and_their_years_are_no_dates(terminology):
    case = one(
        "Int J Surg Case Rep. 2011;2(8):301-5. doi: 10.1016/j.ijscr.2011.06.010. PMID: 22096760.\n\n"
        "A 70-year-old woman was diagnosed with breast cancer with bone metastases.",
        terminology,
    )
    assert case["case"]["source"] == {"doi": "10.1016/j.ijscr.2011.06.010", "pmid": "22096760"}
    assert "date" not in case["primary_cancers"][0]
    assert "date" not in case["metastases"][0]


def test_the_age_at_presentation_is_not_put_on_an_earlier_diagnosis(terminology):
    case = one(
        "A 57-year-old woman, treated for invasive ductal carcinoma of the breast 12 years before, presented"
        " with a lesion in the left sphenoid sinus.",
        terminology,
    )
    primary = case["primary_cancers"][0]
    assert "age" not in primary
    assert primary["relative"] == {"to": "sphenoid-sinus", "before": "12 years"}
    assert case["metastases"][0]["age"] == 57


def test_the_age_when_the_report_was_written_dates_nothing(terminology):
    case = one(
        "In August 2015 a woman, 59 years old at the time of this report, was diagnosed with invasive ductal"
        " carcinoma of the right breast.",
        terminology,
    )
    assert case["primary_cancers"][0] == {**case["primary_cancers"][0], "date": "2015-08"}
    assert "age" not in case["primary_cancers"][0]


def test_a_later_episode_takes_its_own_time(terminology):
    case = one(
        "Our patient was 31 years old when she was diagnosed with breast cancer. Two years later metastases"
        " appeared in her bones. Later she developed a mass in the right orbit.",
        terminology,
    )
    assert case["primary_cancers"][0]["age"] == 31
    mets = {m["site"]: m for m in case["metastases"]}
    assert mets["bone"]["relative"] == {"to": "breast", "after": "2 years"}
    assert "age" not in mets["bone"] and "age" not in mets["orbit"]


# -- treatments: planned and refused are not given -------------------------------------------------------


def test_planned_and_refused_treatments(terminology):
    case = one(
        "A woman had breast cancer with liver metastases. Palliative chemotherapy was proposed. She declined"
        " radiotherapy.",
        terminology,
    )
    assert case["medications"][0]["status"] == "intended"
    assert case["procedures"][0]["status"] == "not-done"


# -- the second round: kinds of failure seen on the second held-out set (now dev-3) ------------------------


def test_a_landmark_beside_the_mass_is_no_site(terminology):
    case = one(
        "A 60-year-old woman with breast cancer had a choroidal mass beneath the retina of the right eye."
        " Ultrasound showed a tumour that lifts the retina.",
        terminology,
    )
    assert sites(case) == {"choroid": "right"}


def test_an_organs_own_cancer_is_no_metastasis_in_it(terminology):
    case = one(
        "A 59-year-old woman treated for breast cancer came with an adnexal mass, and ovarian cancer was"
        " suspected. She had also had a renal cell carcinoma removed. The mass proved to be a metastasis"
        " of her lobular breast cancer.",
        terminology,
    )
    assert sites(case) == {"adnexa": None}
    assert case["metastases"][0]["misdiagnosis"] == "ovarian cancer"


def test_a_misdiagnosis_goes_on_the_organ_it_names(terminology):
    case = one(
        "A 31-year-old woman with breast cancer had a tumour of the left ovary and enlarged lymph nodes. With a"
        " working diagnosis of a primary ovarian neoplasm she had surgery. Pathology showed adenocarcinoma"
        " metastatic from the breast in the left ovary and in the para-aortic lymph nodes.",
        terminology,
    )
    mets = {m["site"]: m for m in case["metastases"]}
    assert mets["ovary"]["misdiagnosis"] == "primary ovarian neoplasm"
    assert "misdiagnosis" not in mets["para-aortic lymph node"]


def test_the_axilla_holds_the_axillary_node(terminology):
    case = one(
        "A 72-year-old man came with an enlarging mass in the armpit. Axillary dissection found metastatic"
        " carcinoma in the axillary lymph nodes, and no tumour was found in the breast.",
        terminology,
    )
    assert sites(case) == {"axillary lymph node": None}


def test_a_full_date_and_nodes_of_the_dissection(terminology):
    case = one(
        "A man had carcinoma of the left breast. On 11 April 2006 he underwent a modified radical mastectomy"
        " with axillary dissection. Infiltrating ductal carcinoma was found in 2 of the 15 axillary lymph nodes.",
        terminology,
    )
    mrm = next(p for p in case["procedures"] if p["name"] == "modified radical mastectomy")
    assert mrm["date"] == "2006-04-11"
    alnd = next(p for p in case["procedures"] if "dissection" in p["name"])
    assert (alnd["nodes_positive"], alnd["nodes_examined"]) == (2, 15)


def test_a_negation_ends_where_a_new_subject_begins(terminology):
    case = one(
        "A woman had breast cancer with a metastasis in the sacroiliac bone. After ablation she had no bone"
        " pain, and the sacroiliac lesion was stable.",
        terminology,
    )
    assert [s["status"] for s in case["disease_status"]] == ["stable"]


def test_an_interval_of_another_item_does_not_time_the_primary(terminology):
    case = one(
        "A 69-year-old man came after a fall. He had had a lump in his right breast for six years, which nobody"
        " had diagnosed when he was treated for a femur fracture eight months earlier. The fracture proved to be"
        " pathological, through a bone metastasis of his breast carcinoma.",
        terminology,
    )
    assert "relative" not in case["primary_cancers"][0]


def test_a_cancer_being_treated_was_diagnosed_before(terminology):
    case = one(
        "A 56-year-old woman who was being treated with zoledronic acid for metastatic breast cancer came with"
        " pain in the right hip, and she had an operation.",
        terminology,
    )
    assert "age" not in case["primary_cancers"][0]
    assert [p["name"] for p in case["procedures"]] == ["surgery"]


def test_a_treatment_site_is_linked_only_through_its_own_phrase(terminology):
    case = one(
        "A 34-year-old woman had disturbed vision three years after a mastectomy for breast cancer, and a"
        " choroidal metastasis was diagnosed.",
        terminology,
    )
    assert "body_site" not in case["procedures"][0]


def test_markers_in_brackets_and_scores_as_plus_signs(terminology):
    case = one(
        "Metastatic carcinoma was found in the axillary lymph nodes of a man with occult breast cancer. On"
        " immunohistochemistry the estrogen receptor (ER) and progesterone receptor (PR) were negative,"
        " HER-2 (+++), P53 (+++), nm23 (++) and PCNA (+++).",
        terminology,
    )
    node = case["metastases"][0]
    got = {mk["name"]: mk["result"] for mk in node["markers"]}
    assert got == {"ER": "negative", "PR": "negative", "HER2": "3+", "p53": "3+", "nm23": "2+", "PCNA": "3+"}


def test_a_histology_found_in_a_metastatic_site(terminology):
    case = one(
        "A man had occult breast cancer. Metastases were found in the axillary lymph nodes: 2 of the 15"
        " axillary lymph nodes held infiltrating ductal carcinoma.",
        terminology,
    )
    assert case["metastases"][0]["histology"] == "infiltrating ductal carcinoma"


def test_a_breast_adenocarcinoma_is_a_histology(terminology):
    case = one(
        "A pregnant woman had a pathological fracture of the left femur. A biopsy of the femoral lesion showed"
        " metastasis of a breast adenocarcinoma.",
        terminology,
    )
    assert case["primary_cancers"][0]["histology"] == "adenocarcinoma"
    assert case["metastases"][0]["histology"] == "adenocarcinoma"


def test_a_status_said_of_a_treatment_is_its_response(terminology):
    case = one(
        "A 64-year-old woman had been diagnosed with lobular breast cancer and had gone into remission with"
        " chemotherapy. For six months she had had difficulty swallowing that did not respond to a proton pump"
        " inhibitor. Biopsies showed a gastric metastasis.",
        terminology,
    )
    assert case["medications"] == [{"name": "chemotherapy", "response": "complete response"}]
    assert "disease_status" not in case


def test_a_past_status_is_not_the_status_now_and_new_metastases_progress(terminology):
    case = one(
        "A man had been treated for breast cancer and had been in remission for three years. He now had a"
        " choroidal metastasis, treated with plaque radiotherapy. Six months later it had shrunk. New small"
        " choroidal metastases then appeared in both eyes.",
        terminology,
    )
    assert [s["status"] for s in case["disease_status"]] == ["responding", "progressive"]


def test_no_residual_disease_is_a_status(terminology):
    case = one(
        "A 72-year-old man had occult breast cancer with axillary metastases. Twenty-nine months after the"
        " diagnosis he is alive, with no residual or metastatic disease.",
        terminology,
    )
    assert [s["status"] for s in case["disease_status"]] == ["complete response"]  # the map term of NED


def test_the_male_breast_is_said_in_general(terminology):
    case = one(
        "Breast cancer is rare in men; because the male breast has little tissue, the tumour reaches the skin"
        " early. A 69-year-old man had a pathological fracture through a bone metastasis of breast carcinoma.",
        terminology,
    )
    assert sites(case) == {"bone": None}


# -- the second round, on dev-4: reports written to tune on, after a first blind measurement ---------------


def test_surgical_words_by_their_shape_and_hyphenated_terms(terminology):
    case = one(
        "A woman had breast cancer and a lesion in the tail of her pancreas, sampled by fine-needle aspiration."
        " She had a distal pancreatectomy with splenectomy, and later an anterior orbitotomy.",
        terminology,
    )
    names = [p["name"] for p in case["procedures"]]
    assert names == ["fine needle aspiration", "distal pancreatectomy", "splenectomy", "anterior orbitotomy"]
    assert case["metastases"][0]["confirmed_by"] == ["fine-needle aspiration"]


def test_a_biopsy_that_confirmed_is_a_procedure_and_links_through_the_mass(terminology):
    case = one(
        "A woman had a lesion of the small bowel. A needle biopsy of the mass in her right breast confirmed"
        " invasive lobular carcinoma, estrogen and progesterone receptor positive.",
        terminology,
    )
    assert case["procedures"][0]["body_site"] == "breast"
    assert case["primary_cancers"][0]["receptors"] == {"er": "positive", "pr": "positive"}


def test_parts_of_the_colon_keep_their_precision_and_a_coarse_mention_points_back(terminology):
    case = one(
        "A woman of 68 had lobular carcinoma of the right breast. Biopsies of the transverse colon showed atypical"
        " cells. CK7 positivity in the colon points to a metastasis of the lobular carcinoma.",
        terminology,
    )
    assert sites(case) == {"transverse colon": None}


def test_a_site_sampled_by_a_biopsy_that_shows_a_metastasis(terminology):
    case = one(
        "A lady of 75 with breast cancer had a blocked nose. Endoscopic biopsies were taken from sinuses that"
        " looked normal; they showed metastatic breast cancer.",
        terminology,
    )
    assert sites(case) == {"paranasal sinus": None}


def test_spread_along_a_site_and_the_cue_inside_a_site(terminology):
    case = one(
        "A woman whose breast cancer spread diffusely along the walls of the trachea had a cough. She also had"
        " peritoneal carcinomatosis.",
        terminology,
    )
    assert set(sites(case)) == {"trachea", "peritoneum"}


def test_with_no_ends_at_had_and_a_treatment_for_a_misdiagnosis(terminology):
    case = one(
        "A woman of 61 with no known cancer had a large orbital mass compressing the eye. It was treated first as"
        " orbital cellulitis. Biopsy of the mass showed metastatic breast carcinoma, and the eye was eviscerated.",
        terminology,
    )
    assert sites(case) == {"orbit": None}
    assert case["metastases"][0]["misdiagnosis"] == "orbital cellulitis"


def test_a_layer_of_tissue_is_no_site_of_its_own(terminology):
    case = one(
        "A woman of 73 with a past breast carcinoma had nodules of the eyelids. A biopsy of an eyelid nodule showed"
        " a tumour in the dermis. The cells stained positive for carcinoembryonic antigen.",
        terminology,
    )
    assert sites(case) == {"skin of eyelid": None}
    assert case["metastases"][0]["markers"] == [{"name": "CEA", "result": "positive"}]


def test_the_subjects_age_is_now_though_the_clause_looks_back(terminology):
    case = one(
        "A woman of 68 had been diagnosed six years earlier with lobular carcinoma of the right breast; she now"
        " had peritoneal carcinomatosis.",
        terminology,
    )
    assert case["metastases"][0]["age"] == 68 and "age" not in case["primary_cancers"][0]


def test_a_suspected_metastasis_is_no_misdiagnosis_and_free_of_disease_negates_nothing_after(terminology):
    case = one(
        "In September 2003 a woman of 49 had a tumour of the left breast and several masses in the pancreas;"
        " metastases from the breast were suspected. She remains free of disease after a distal pancreatectomy.",
        terminology,
    )
    assert "misdiagnosis" not in case["metastases"][0]
    assert [p["name"] for p in case["procedures"]] == ["distal pancreatectomy"]


def test_compound_numbers_and_intervals(terminology):
    case = one(
        "A woman had surgery for cancer of the right breast. Twenty-four months later a lesion appeared in the"
        " pancreas. She died one year and two months after the operation.",
        terminology,
    )
    assert case["metastases"][0]["relative"]["after"] == "24 months"
    assert case["patient"]["vital_status"]["relative"]["after"] == "14 months"


def test_an_intent_word_stays_with_its_own_item_of_a_list(terminology):
    case = one(
        "A woman was treated for ductal carcinoma of the right breast with neoadjuvant therapy, surgery and"
        " adjuvant radiotherapy.",
        terminology,
    )
    by = {p["name"]: p for p in case["procedures"]}
    assert "intent" not in by["surgery"] and by["radiotherapy"]["intent"] == "adjuvant"


def test_triple_positive_and_the_breast_as_origin(terminology):
    case = one(
        "A woman had a triple positive ductal adenocarcinoma of the left breast and a mass in the pancreas."
        " Immunohistochemistry of the pancreatic mass pointed to the breast as the lesion's origin.",
        terminology,
    )
    assert case["primary_cancers"][0]["receptors"] == {"er": "positive", "pr": "positive", "her2": "positive"}
    assert case["metastases"][0]["confirmed_by"] == ["histopathology"]


def test_lesions_with_nouns_of_their_own_are_no_list(terminology):
    case = one(
        "A woman of 70 had breast cancer. Endoscopy found an ulcer in the rectum and a raised lesion in the"
        " descending colon, and a biopsy showed metastatic lobular carcinoma.",
        terminology,
    )
    assert sites(case) == {"descending colon": None}


def test_a_time_after_a_treatment_is_no_response_to_it(terminology):
    case = one(
        "A woman had breast cancer with metastases in the pancreas. She remains free of disease 15 years after"
        " a distal pancreatectomy.",
        terminology,
    )
    assert "response" not in case["procedures"][0]
    assert [s["status"] for s in case["disease_status"]] == ["complete response"]


def test_a_treatment_site_is_not_linked_across_and(terminology):
    case = one(
        "A man of 57 with carcinoma of the left breast had a mastectomy and dissection of the axilla.",
        terminology,
    )
    mastectomy = next(p for p in case["procedures"] if p["name"] == "mastectomy")
    assert "body_site" not in mastectomy


def test_where_a_treatment_was_from_its_subject_or_the_sentences_lesion(terminology):
    case = one(
        "A man had breast cancer. The choroidal metastasis was treated with plaque radiotherapy. The left femur"
        " broke and was fixed with an internal fixator. Radiographs showed a fracture of the right humerus, and"
        " she had an operation. A lesion of the sacroiliac region was treated by radiofrequency thermoablation.",
        terminology,
    )
    by = {p["name"]: p.get("body_site") for p in case["procedures"]}
    assert by == {
        "plaque radiotherapy": "choroid",
        "internal fixation": None,
        "surgery": "humerus",
        "radiofrequency thermoablation": "sacroiliac",
    }


def test_verbs_of_procedures_and_a_qualified_ethnicity(terminology):
    case = one(
        "A 72-year-old Han Chinese man had carcinoma of the left breast. On 11 April 2006 he underwent a"
        " mastectomy with dissection of the axilla. A stage 1 tumour. The eye was eviscerated.",
        terminology,
    )
    assert case["patient"]["ethnicity"] == "Han Chinese"
    assert [(p["name"], p.get("date")) for p in case["procedures"]] == [
        ("mastectomy", "2006-04-11"),
        ("axillary lymph node dissection", "2006-04-11"),
        ("evisceration", None),
    ]
    assert case["primary_cancers"][0]["stage"] == "stage 1"


def test_the_fracture_told_before_is_the_precise_site(terminology):
    case = one(
        "A 69-year-old man came after a fall. He had had a lump in his right breast, which nobody had diagnosed"
        " when he was treated for a femur fracture eight months earlier. The fracture proved to be pathological,"
        " through a bone metastasis of his breast carcinoma.",
        terminology,
    )
    assert sites(case) == {"femur": None}
    assert case["metastases"][0]["age"] == 69


def test_a_suspected_metastasis_said_later_not_to_be_one(terminology):
    case = one(
        "A 54-year-old woman with a history of breast cancer had a mass of the choroid in her left eye that was"
        " suspicious for a metastasis. The diagnosis was a focal scleral nodule, not a metastasis.",
        terminology,
    )
    assert "metastases" not in case


def test_times_told_in_their_own_clause(terminology):
    case = one(
        "He said he had been treated for breast cancer five years earlier; he had had a mastectomy. He now had a"
        " choroidal metastasis. We report a woman whose breast cancer and liver metastases were found together,"
        " who remains free of disease 15 years after an operation.",
        terminology,
    )
    assert case["primary_cancers"][0]["relative"] == {"to": "choroid", "before": "5 years"}
    liver = next(m for m in case["metastases"] if m["site"] == "liver")
    assert "relative" not in liver


def test_what_the_breast_tumour_reaches_is_no_metastasis(terminology):
    case = one(
        "A 51-year-old woman had a metastasis in the left lower eyelid. Examination found a hard lump in the right"
        " breast, fixed to the chest wall beneath and to the skin over it. A mammogram showed a spiculated mass in"
        " the right breast with retraction of the skin next to it. Pathology showed adenocarcinoma metastatic from"
        " the breast in the left ovary.",
        terminology,
    )
    assert sites(case) == {"lower eyelid": "left", "ovary": "left"}


def test_a_search_for_the_primary_is_the_case_not_the_literature(terminology):
    case = one(
        "We report a woman of 42 who had been losing sight in her left eye. The fundus showed a choroidal mass."
        " The search for a primary tumour found a carcinoma of the left breast.",
        terminology,
    )
    assert case["primary_cancers"][0]["laterality"] == "left"
    text = "A Medline search found one earlier case. Our patient had a choroidal metastasis of breast cancer."
    import re

    sentences = [(m.start(), m.end()) for m in re.finditer(r"[^.]+\.", text)]
    assert sentence_roles(text, sentences, shipped_rules())[0] == LITERATURE


# -- the third round: kinds of failure seen on held-out-2 (now dev-5) --------------------------------------


def test_a_summary_heading_opens_no_discussion_and_a_woman_told_in_the_past_is_the_patient(terminology):
    text = (
        "Summary\n\nBladder metastases of breast cancer are rare.\n\nA postmenopausal woman had been treated for"
        " an invasive ductal carcinoma of the left breast. At cystoscopy a nodule of the bladder was biopsied and"
        " showed a metastatic carcinoma."
    )
    rules = shipped_rules()
    case = one(text, terminology)
    assert case["primary_cancers"][0]["histology"] == "invasive ductal carcinoma"
    assert case["primary_cancers"][0]["laterality"] == "left"
    assert case["patient"]["menopausal_status"] == "postmenopausal"
    assert "urinary bladder" in sites(case)
    # a general sentence about 'a woman' in the present is still background
    general = "A woman with breast cancer may develop bone metastases."
    assert sentence_roles(general, [(0, len(general))], rules) == [BACKGROUND]


def test_a_metastatic_result_with_no_site_points_at_the_organ_told_just_before(terminology):
    case = one(
        "A woman of 70 had been treated for breast cancer. Imaging showed the wall of the bladder thickened."
        " A biopsy showed a metastatic carcinoma of breast origin.",
        terminology,
    )
    assert sites(case) == {"urinary bladder": None}
    case = one(
        "A woman of 70 had breast cancer. CT showed the wall of the bladder thickened, with nothing invading it,"
        " and a biopsy showed a metastatic carcinoma of breast origin.",
        terminology,
    )
    assert sites(case) == {"urinary bladder": None}
    # the sentence before names two organs: which one was sampled is not told
    case = one(
        "A woman of 70 had breast cancer. CT showed a thickened bladder wall and a nodule of the liver."
        " A biopsy showed a metastatic carcinoma of breast origin.",
        terminology,
    )
    assert "urinary bladder" not in sites(case)


def test_a_spread_cue_split_from_its_sites_by_a_clause(terminology):
    case = one(
        "A woman of 78 had breast cancer that had already spread when it was diagnosed, to the bones and to the"
        " pleura.",
        terminology,
    )
    assert set(sites(case)) == {"bone", "pleura"}


def test_stains_listed_one_per_line_under_their_sample(terminology):
    case = one(
        "A woman of 62 had a metastasis in the left upper eyelid, and a mammogram then showed a carcinoma of"
        " the right breast. Immunohistochemistry of the eyelid biopsy:\n\nGATA3: positive\nER: positive\n"
        "HER-2: negative\n",
        terminology,
    )
    met = case["metastases"][0]
    assert met["site"] == "upper eyelid"
    assert {m["name"]: m["result"] for m in met["markers"]} == {
        "GATA3": "positive",
        "ER": "positive",
        "HER2": "negative",
    }
    assert "receptors" not in case["primary_cancers"][0]


def test_a_head_noun_and_the_region_it_is_of_name_one_site(terminology):
    case = one(
        "A woman of 90 with a past carcinoma of the left breast had metastatic nodules in the skin of her right"
        " arm and of her trunk.",
        terminology,
    )
    assert sites(case) == {"skin of upper limb": "right", "skin of trunk": None}
    case = one(
        "A woman of 70 had a left mastectomy for breast cancer. A needle aspiration of the nodes at stations 4R"
        " and 7 of the mediastinum confirmed metastatic breast carcinoma.",
        terminology,
    )
    assert sites(case) == {"mediastinal lymph node": None}
    case = one("A woman of 60 with breast cancer had a metastatic mass in the mediastinum.", terminology)
    assert sites(case) == {"mediastinum": None}


def test_the_hard_palate_and_the_skull_base_are_sites_of_their_own(terminology):
    case = one(
        "A woman of 76 with breast cancer had metastases infiltrating the orbit and the base of the skull, and a"
        " metastatic ulcer of the hard palate.",
        terminology,
    )
    assert set(sites(case)) == {"orbit", "skull base", "hard palate"}


def test_a_sentence_citing_the_literature_is_not_the_patients_for_the_diagnosis_is(terminology):
    text = "Reviews find the kidney as the leading source, and survival after the diagnosis is short."
    assert sentence_roles(text, [(0, len(text))], shipped_rules()) == [LITERATURE]
    text = "The diagnosis was a metastasis of breast carcinoma."
    assert sentence_roles(text, [(0, len(text))], shipped_rules()) == [PATIENT]


def test_procedures_by_their_head_noun_and_treatments_judged_inappropriate(terminology):
    case = one(
        "A woman of 80 with a past carcinoma of the left breast had a metastasis of the sigmoid colon and"
        " underwent a Hartmann's procedure. A bone marrow aspirate showed metastatic carcinoma. Further surgery"
        " was judged inappropriate.",
        terminology,
    )
    given = [p["name"] for p in case["procedures"] if p.get("status") is None]
    assert "hartmann's procedure" in [n.lower() for n in given]
    Case.model_validate(case)  # an id made of a name with an apostrophe is still an id
    assert "bone marrow aspiration" in given
    assert "surgery" not in given


def test_a_primary_first_told_some_months_later_is_timed_from_the_presenting_metastasis(terminology):
    case = one(
        "A woman of 46 had pain around her left eye, put down to an orbital pseudotumour. Three months later she"
        " noticed changes in her breasts. Work-up showed an invasive lobular carcinoma of both breasts, with a"
        " metastasis in the left orbit, which a biopsy confirmed.",
        terminology,
    )
    assert case["primary_cancers"][0]["relative"] == {"to": "orbit", "after": "3 months"}
    orbit = case["metastases"][0]
    assert orbit["site"] == "orbit" and "relative" not in orbit and orbit["age"] == 46


def test_a_result_shared_by_the_estrogen_and_progesterone_receptors_after_the(terminology):
    case = one(
        "A woman of 60 had an invasive ductal carcinoma of the left breast, positive for the estrogen and"
        " progesterone receptors and negative for HER2.",
        terminology,
    )
    assert case["primary_cancers"][0]["receptors"] == {"er": "positive", "pr": "positive", "her2": "negative"}
