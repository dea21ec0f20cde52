"""A draft the case format refuses never reaches the file: the refused fact goes to the review list."""

from fhir_adapter.case import Case
from fhir_adapter.draft.fit import fit_to_case_model


def _case(**extra):
    case = {
        "case": {"id": "fit"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"site": "breast", "date": "2019-07"}],
        "metastases": [{"site": "lung"}, {"site": "liver"}],
    }
    case.update(extra)
    return case


def test_a_metastasis_dated_before_its_primary_leaves_for_review_with_its_evidence():
    case = _case()
    case["metastases"][0]["date"] = "2019-05"
    evidence = [
        {"path": "metastases[0].date", "value": "2019-05"},
        {"path": "metastases[0].site", "value": "lung"},
        {"path": "primary_cancers[0].date", "value": "2019-07"},
    ]
    review = []
    fit_to_case_model(case, review, evidence)
    Case.model_validate(case)
    assert "date" not in case["metastases"][0] and case["primary_cancers"][0]["date"] == "2019-07"
    assert review == [
        {
            "fact": "metastases[0].date: '2019-05'",
            "why": "the case format refuses it: 2019-05 is before the diagnosis of its primary (2019-07);"
            " check both dates",
        }
    ]
    assert [e["path"] for e in evidence] == ["metastases[0].site", "primary_cancers[0].date"]


def test_an_item_taken_out_renumbers_the_evidence_of_the_items_after_it():
    case = _case()
    case["metastases"].insert(0, {"site": "bone", "laterality": "sideways"})
    evidence = [
        {"path": "metastases[0].site", "value": "bone"},
        {"path": "metastases[1].site", "value": "lung"},
        {"path": "metastases[2].site", "value": "liver"},
    ]
    review = []
    fit_to_case_model(case, review, evidence)
    Case.model_validate(case)
    assert len(review) == 1 and review[0]["fact"].startswith("metastases[0].laterality")
    assert [e["path"] for e in evidence] == [
        "metastases[0].site",
        "metastases[1].site",
        "metastases[2].site",
    ]
    case = _case()
    case["metastases"].insert(0, {"site": "bone", "relative": {"to": "nothing-here", "after": "2 years"}})
    evidence = [{"path": "metastases[0].site"}, {"path": "metastases[0].relative"}]
    review = []
    fit_to_case_model(case, review, evidence)
    Case.model_validate(case)
    assert case["metastases"][0] == {"site": "bone"}  # the time relative to nothing left, the site stayed
    assert "no item has id 'nothing-here'" in review[0]["why"]
    assert evidence == [{"path": "metastases[0].site"}]


def test_a_valid_draft_is_left_as_it_is():
    case, review, evidence = _case(), [], [{"path": "metastases[0].site"}]
    fit_to_case_model(case, review, evidence)
    assert case == _case() and review == [] and evidence == [{"path": "metastases[0].site"}]


def test_the_case_the_patient_and_the_primaries_as_a_whole_are_never_taken_out():
    case = _case()
    del case["primary_cancers"]
    review = []
    fit_to_case_model(case, review, [])
    assert "patient" in case and "case" in case and review == []
