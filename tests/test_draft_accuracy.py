"""Drafting the kinds of wording that went wrong on unseen reports: each test names the kind and its root fix.

The texts are short sentences written for these tests in the shape case reports use; none is
taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from fhir_adapter.draft import draft_text  # noqa: E402
from fhir_adapter.draft.roles import BACKGROUND, DIFFERENTIAL, LITERATURE, PATIENT, sentence_roles  # noqa: E402
from fhir_adapter.draft.rules import shipped_rules  # noqa: E402


def one(text: str, terminology) -> dict:
    (draft,) = draft_text(text, terminology=terminology)
    return draft.case


def sites(case: dict) -> dict[str, str | None]:
    return {m["site"]: m.get("laterality") for m in case.get("metastases", [])}


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
    assert sites(case) == {"skin": None}


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
