"""Drafting metastatic sites, their sides and the markers of each tumour: the kinds of wording the fifth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these
tests in the shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one, sites  # noqa: E402

from fhir_adapter.draft import draft_text  # noqa: E402
from fhir_adapter.draft.rules import shipped_rules  # noqa: E402
from fhir_adapter.draft.text import split_cases  # noqa: E402

# -- cases told in turn without labels --------------------------------------------------------------


def test_cases_opened_by_ordinal_sentences_are_drafted_apart(terminology):
    text = (
        "We report two women whose breast cancer spread to the bowel.\n\n"
        "The first patient, aged 58, had a ductal carcinoma of the left breast; five years later a metastasis"
        " was found in the liver.\n\n"
        "The second patient, aged 66, had a lobular carcinoma of the right breast, and three years later a"
        " metastasis was found in the spleen."
    )
    first, second = draft_text(text, terminology=terminology)
    assert first.label == "The first patient" and second.label == "The second patient"
    assert sites(first.case) == {"liver": None}
    assert sites(second.case) == {"spleen": None}


def test_an_ordinal_that_does_not_open_the_next_case_starts_none():
    rules = shipped_rules()
    # A labelled second case whose first sentence also counts it: one start, not two.
    text = "Case 1. A woman of 50. Case 2. The second woman, aged 70, had a cough."
    assert [s.label for s in split_cases(text, rules)] == ["Case 1", "Case 2"]
    # 'the second case' inside a sentence, and no first: one case.
    assert (
        len(
            split_cases(
                "A woman of 50. This is the second case of its kind. The second case was ours.", rules
            )
        )
        == 1
    )


# -- a side told once, away from the sentence that names the metastasis -----------------------------


def test_a_side_told_later_with_the_organ_is_the_metastasis_side(terminology):
    case = one(
        "A woman of 59 had a ductal carcinoma of the right breast removed. Her cancer had metastasized to the"
        " kidney. Three years after the mastectomy a scan showed a mass of 3 cm in her left kidney, which was"
        " removed.",
        terminology,
    )
    assert sites(case) == {"kidney": "left"}


def test_a_side_is_not_taken_when_the_story_names_the_organ_on_both_sides(terminology):
    case = one(
        "A woman of 59 had a ductal carcinoma of the right breast removed. Her cancer had metastasized to the"
        " kidney. A scan showed a cyst in her left kidney and a mass of 3 cm in her right kidney.",
        terminology,
    )
    assert sites(case).get("kidney") in (None, "bilateral")


# -- stains: 'stained for' lists that repeat their preposition, and 'the tumour' told just before ---------


def markers_of(item: dict) -> dict[str, str | None]:
    return {m["name"]: m.get("result") for m in item.get("markers", [])}


def test_stained_for_a_list_that_repeats_for_reads_each_marker_positive_on_the_lesion_named_before(
    terminology,
):
    case = one(
        "A woman of 70 had been treated for a carcinoma of the left breast. An MRI found a mass in the"
        " parotid gland. On histology the tumour was made of glands, and its cells stained for mammaglobin,"
        " for the oestrogen receptor and for GATA3.",
        terminology,
    )
    (met,) = case["metastases"]
    assert met["site"] == "parotid gland"
    assert markers_of(met) == {"mammaglobin": "positive", "ER": "positive", "GATA3": "positive"}
    assert not case["primary_cancers"][0].get("markers") and not case["primary_cancers"][0].get("receptors")


def test_a_variable_stain_keeps_its_word(terminology):
    case = one(
        "A woman of 62 who had had a breast cancer was found to have a metastasis in the spleen. A biopsy of"
        " the spleen showed carcinoma cells that were positive for GATA3 and only variably positive for"
        " mammaglobin.",
        terminology,
    )
    assert markers_of(met_of(case, "spleen")) == {"GATA3": "positive", "mammaglobin": "variably positive"}


def met_of(case: dict, site: str) -> dict:
    return next(m for m in case.get("metastases", []) if m["site"] == site)


def test_the_lacrimal_gland_takes_the_side_of_the_eye_told_just_before(terminology):
    case = one(
        "A woman of 58 treated for breast cancer years before found that her right eye was pushed forward."
        " CT showed that its lacrimal gland was enlarged. A biopsy of the lacrimal gland found a metastasis of"
        " the breast cancer.",
        terminology,
    )
    assert sites(case) == {"lacrimal gland": "right"}


def test_both_before_a_plural_not_ending_in_s_gives_both_sides(terminology):
    case = one(
        "A woman of 49 who had had a lobular carcinoma of the breast had pelvic pain. Ultrasound showed"
        " metastases in both adnexa, and there was ascites.",
        terminology,
    )
    assert sites(case) == {"adnexa": "bilateral"}


def test_a_group_of_lymph_nodes_said_without_lymph_is_that_group(terminology):
    case = one(
        "A woman of 57 had been treated for a carcinoma of the left breast. CT showed metastases in the liver"
        " and in the para-aortic nodes.",
        terminology,
    )
    assert sites(case) == {"liver": None, "para-aortic lymph node": None}


def test_both_before_one_site_does_not_reach_past_a_comma_to_the_next(terminology):
    case = one(
        "A woman of 49 who had had a lobular carcinoma of the breast had pelvic pain. Ultrasound showed"
        " metastases in both adnexa, and the para-aortic nodes were enlarged by metastases.",
        terminology,
    )
    assert sites(case) == {"adnexa": "bilateral", "para-aortic lymph node": None}


def test_a_site_said_to_be_involved_is_a_metastasis_unless_denied(terminology):
    case = one(
        "A woman of 63 had had a ductal carcinoma of the right breast. Two years later CT showed that the"
        " peritoneum was involved, and the spleen was not involved.",
        terminology,
    )
    assert sites(case) == {"peritoneum": None}


def test_a_receptor_with_a_bare_score_reads_0_as_negative_and_3_or_more_as_positive(terminology):
    case = one(
        "A woman of 66 had had a ductal carcinoma of the left breast. Two years later a biopsy of the liver"
        " found metastases; on the liver biopsy ER was 9, PR 0 and HER2 negative.",
        terminology,
    )
    liver = next(m for m in case["metastases"] if m["site"] == "liver")
    assert markers_of(liver) == {"ER": "positive", "PR": "negative", "HER2": "negative"}


def test_a_marker_said_as_a_modifier_of_the_breast_tumour_is_the_primary_s(terminology):
    case = one(
        "We saw a woman of 52 with a HER2-positive breast carcinoma whose cancer had spread to the right"
        " orbit.",
        terminology,
    )
    assert case["primary_cancers"][0].get("receptors", {}).get("her2") == "positive"
    assert not case["metastases"][0].get("markers")


def test_the_stains_of_a_metastasis_of_a_typed_breast_cancer_are_the_metastasis_s(terminology):
    case = one(
        "A woman of 70 had had a mastectomy for breast cancer. Years later a mass was found in the spleen."
        " Histology showed a metastasis of an ER-positive, HER2-negative breast cancer.",
        terminology,
    )
    spleen = next(m for m in case["metastases"] if m["site"] == "spleen")
    assert markers_of(spleen) == {"ER": "positive", "HER2": "negative"}
    assert not case["primary_cancers"][0].get("receptors")


def test_a_vertebra_named_by_its_level_is_that_region_s_vertebra(terminology):
    case = one(
        "A woman of 60 had had a T2N0 ductal carcinoma of the left breast removed. Four years later MRI"
        " showed a metastasis at the level of T10 and a deposit in the L3 vertebra.",
        terminology,
    )
    assert sites(case) == {"T10 vertebra": None, "L3 vertebra": None}


def test_a_metastasis_in_the_scar_of_the_breast_operation_is_on_the_cancer_s_side(terminology):
    case = one(
        "A woman of 68 had a carcinoma of the right breast treated by mastectomy. Three years later red"
        " nodules grew in the skin over the surgical scar, and a biopsy showed metastatic carcinoma.",
        terminology,
    )
    assert sites(case) == {"skin": "right"}
