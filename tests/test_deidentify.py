"""De-identification (export --deidentify): every identifier and every kind of date the case format has."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fhir_adapter.case import Case
from fhir_adapter.cli import main
from fhir_adapter.errors import ConfigError
from fhir_adapter.export.deidentify import (
    DeidSettings,
    deid_settings,
    deidentify,
    offset_years,
    pseudonym,
    scan,
    shift_date,
)

KEY = b"a secret of twenty bytes"
SETTINGS = DeidSettings(KEY)

CASE = {
    "case": {
        "id": "smith-2019-case-3",
        "id_system": "https://registry.example.org/cases",
        "source": {
            "citation": "Smith A. A case of scalp metastasis. J Case Rep. 2019;1:1.",
            "doi": "10.1234/jcr.2019.1",
            "url": "https://journal.example.org/smith-2019",
            "pmid": "12345678",
            "published": "2019-05",
        },
        "summary": "A woman treated at Springfield General Hospital.",
    },
    "patient": {
        "sex": "female",
        "age_at_diagnosis": 52,
        "ethnicity": "Chinese",
        "vital_status": {"deceased": False, "last_known": "2018-11-30", "follow_up": "2 years"},
        "germline": [{"gene": "BRCA1", "result": "negative", "note": "Tested on 3 March 2015."}],
    },
    "primary_cancers": [
        {
            "id": "breast",
            "site": "breast",
            "laterality": "left",
            "date": "2015-03-02",
            "note": "Left breast.",
        },
        {"id": "second", "site": "breast", "laterality": "right", "date": "2016"},
    ],
    "metastases": [
        {"id": "scalp", "site": "scalp", "primary": "breast", "date": "2016-02-29"},
        {"site": "bone", "primary": "second", "between": ["2017-01", "2017-06"]},
        {"site": "liver", "primary": "breast", "relative": {"to": "scalp", "after": "3 months"}},
    ],
    "procedures": [
        {"id": "mastectomy", "name": "mastectomy", "treats": ["breast"], "date": "2015-04-10"},
    ],
    "medications": [
        {
            "id": "tam",
            "name": "tamoxifen",
            "treats": ["breast", "scalp"],
            "date": "2015-05",
            "end_date": "2017-05",
        },
    ],
    "disease_status": [{"id": "last", "status": "stable", "about": "breast", "date": "2018-11"}],
}


def dump(data) -> str:
    return json.dumps(data, sort_keys=True)


@pytest.fixture
def done(terminology):
    return deidentify(Case.model_validate(CASE), terminology, SETTINGS)


def test_the_case_id_becomes_a_stable_keyed_pseudonym(done, terminology):
    again = deidentify(Case.model_validate(CASE), terminology, SETTINGS)
    other = deidentify(Case.model_validate(CASE), terminology, DeidSettings(b"another secret, also long"))
    system = CASE["case"]["id_system"]
    assert (
        done.case["case"]["id"]
        == again.case["case"]["id"]
        == pseudonym(SETTINGS, system, "smith-2019-case-3")
    )
    assert done.case["case"]["id"].startswith("p-")
    assert other.case["case"]["id"] != done.case["case"]["id"]
    assert "smith" not in dump(done.case)
    assert "id_system" not in done.case["case"]
    assert "registry.example.org" not in dump(done.case)


def test_item_ids_become_positions_and_every_reference_follows(done):
    data = done.case
    lists = ("primary_cancers", "metastases", "procedures", "medications", "disease_status")
    assert all("id" not in item for name in lists for item in data[name])
    assert [m["primary"] for m in data["metastases"]] == ["primary-1", "primary-2", "primary-1"]
    assert data["procedures"][0]["treats"] == ["primary-1"]
    assert data["medications"][0]["treats"] == ["primary-1", "metastasis-1"]
    assert data["disease_status"][0]["about"] == "primary-1"
    assert data["metastases"][2]["relative"]["to"] == "metastasis-1"
    Case.model_validate(data)  # the references resolve


def test_every_kind_of_date_moves_by_the_same_whole_years(done):
    years = offset_years(SETTINGS, CASE["case"]["id_system"], "smith-2019-case-3")
    assert 1 <= -years <= 40
    data = done.case
    assert done.offset_years == years
    assert data["primary_cancers"][0]["date"] == f"{2015 + years}-03-02"  # a day
    assert data["primary_cancers"][1]["date"] == f"{2016 + years}"  # a year stays a year
    assert data["metastases"][1]["between"] == [f"{2017 + years}-01", f"{2017 + years}-06"]  # months
    assert data["medications"][0]["date"] == f"{2015 + years}-05"
    assert data["medications"][0]["end_date"] == f"{2017 + years}-05"
    assert data["patient"]["vital_status"]["last_known"] == f"{2018 + years}-11-30"
    assert data["disease_status"][0]["date"] == f"{2018 + years}-11"
    assert data["procedures"][0]["date"] == f"{2015 + years}-04-10"
    # Intervals and relative times are kept as they are.
    assert data["patient"]["vital_status"]["follow_up"] == "2 years"
    assert data["metastases"][2]["relative"] == {"to": "metastasis-1", "after": "3 months"}


def test_29_february_moves_to_28_february_in_a_year_without_one():
    assert shift_date("2016-02-29", -1) == "2015-02-28"
    assert shift_date("2016-02-29", -4) == "2012-02-29"
    assert shift_date("2016-02", -1) == "2015-02"
    assert shift_date("2016", -3) == "2013"
    assert shift_date("2016-07-14", -2, year_only=True) == "2014"


def test_dates_year_keeps_only_the_moved_year(terminology):
    done = deidentify(Case.model_validate(CASE), terminology, DeidSettings(KEY, dates="year"))
    dates = []

    def walk(node):
        if isinstance(node, dict):
            for name, value in node.items():
                if name in ("date", "end_date", "last_known"):
                    dates.append(value)
                elif name == "between":
                    dates.extend(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(done.case)
    assert len(dates) == 10
    assert all(len(d) == 4 for d in dates)


def test_the_source_is_left_out_unless_public(done, terminology):
    assert "source" not in done.case["case"]
    assert any(line.startswith("case.source") for line in done.removed)
    for value in ("12345678", "10.1234", "journal.example.org", "Smith A."):
        assert value not in dump(done.case)
    public = deidentify(Case.model_validate(CASE), terminology, DeidSettings(KEY, public_source=True))
    assert public.case["case"]["source"] == CASE["case"]["source"]  # as published, date too


def test_ages_over_89_are_grouped_and_a_relative_time_from_them_gives_way(terminology):
    data = {
        "case": {"id": "old"},
        "patient": {"sex": "male", "age_at_diagnosis": 93},
        "primary_cancers": [{"id": "p", "site": "prostate", "age": 93}],
        "metastases": [
            {"site": "bone", "primary": "p", "relative": {"to": "p", "after": "2 years"}},
        ],
    }
    done = deidentify(Case.model_validate(data), terminology, SETTINGS)
    out = done.case
    assert out["patient"]["age_at_diagnosis"] == 90
    assert out["primary_cancers"][0]["age"] == 90
    # 93 + 2 years would tell the age: the relative time is replaced by the grouped age.
    assert "relative" not in out["metastases"][0]
    assert out["metastases"][0]["age"] == 90
    assert done.grouped_ages == 3
    assert "93" not in dump(out) and "95" not in dump(out)
    young = {
        "case": data["case"],
        "patient": {"sex": "male", "age_at_diagnosis": 89},
        "primary_cancers": [{"site": "lung"}],
    }
    kept = deidentify(Case.model_validate(young), terminology, SETTINGS).case
    assert kept["patient"]["age_at_diagnosis"] == 89  # 89 is not over 89


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Seen by Dr. Jones.", "name with a title"),
        ("Treated at Springfield General Hospital.", "place"),
        ("Admitted on 12/03/2015.", "date"),
        ("Admitted on 3 March 2015.", "date"),
        ("Diagnosed in 2015.", "year"),
        ("A 94-year-old man.", "age over 89"),
        ("Call 555 123 4567.", "phone or fax number"),
        ("Mail her at jane.doe@example.org.", "e-mail address"),
        ("See www.example.org/case.", "web address"),
        ("Logged from 10.0.0.12.", "IP address"),
        ("Her MRN is on file.", "record or account number"),
        ("SSN 123-45-6789.", "social security number"),
        ("Lives at 12 Elm Street.", "street address"),
        ("Sample 1234567.", "long number"),
    ],
)
def test_the_free_text_scan_finds_each_safe_harbor_kind(text, category):
    assert category in scan(text)


def test_clinical_words_pass_the_scan():
    assert scan("Invasive ductal carcinoma, ER positive, HER2 negative; grade 2; 3 of 12 nodes.") == []


def test_free_text_with_a_finding_is_removed_flagged_or_all_dropped(terminology):
    case = Case.model_validate(CASE)
    removed = deidentify(case, terminology, DeidSettings(KEY)).case
    assert "summary" not in removed["case"]  # names a hospital
    assert "note" not in removed["patient"]["germline"][0]  # a date
    assert removed["primary_cancers"][0]["note"] == "Left breast."  # nothing found: kept
    flagged = deidentify(case, terminology, DeidSettings(KEY, free_text="flag"))
    assert flagged.case["case"]["summary"] == CASE["case"]["summary"]
    assert "case.summary: place" in flagged.flagged
    dropped = deidentify(case, terminology, DeidSettings(KEY, free_text="drop")).case
    assert "note" not in dropped["primary_cancers"][0]


def test_a_needed_field_with_a_finding_keeps_a_marker(terminology):
    data = {
        "case": {"id": "x"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"site": "breast"}],
        "procedures": [{"name": "excision by Dr. Jones", "date": "2015"}],
    }
    done = deidentify(Case.model_validate(data), terminology, SETTINGS)
    assert done.case["procedures"][0]["name"] == "[removed]"
    assert "procedures[0].name: name with a title" in done.removed


def test_a_short_or_missing_key_is_refused():
    with pytest.raises(ConfigError, match="at least 16"):
        DeidSettings(b"short")
    with pytest.raises(ConfigError, match="FHIR_ADAPTER_DEID_KEY"):
        deid_settings(None)
    with pytest.raises(ConfigError, match="go with --deidentify"):
        deid_settings(None, deidentify=False, public_source=True)
    assert deid_settings(None, deidentify=False) is None


def test_cli_deidentify_writes_no_identifier_and_never_the_key(tmp_path, terminology):
    from fhir_adapter.bundle import build_bundle

    bundle = tmp_path / "case.json"
    bundle.write_text(json.dumps(build_bundle(Case.model_validate(CASE), terminology).bundle))
    key = "the key: do-not-print-me-123"
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(bundle), "--deidentify"], env={"FHIR_ADAPTER_DEID_KEY": key})
    assert result.exit_code == 0, result.stderr
    for secret in (key, "smith", "registry.example.org", "Springfield", "12345678", "2015-03-02"):
        assert secret not in result.stdout and secret not in result.stderr
    assert "# Removed case.source" in result.stdout
    Case.model_validate(__import__("yaml").safe_load(result.stdout))

    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    by_file = runner.invoke(main, ["export", str(bundle), "--deidentify", "--key-file", str(key_file)])
    assert by_file.exit_code == 0, by_file.stderr
    assert by_file.stdout == result.stdout  # the same key, the same pseudonyms and dates

    missing = runner.invoke(main, ["export", str(bundle), "--deidentify"], env={"FHIR_ADAPTER_DEID_KEY": ""})
    assert missing.exit_code != 0
    assert "Error: --deidentify needs a secret key" in missing.stderr
    evidence = runner.invoke(
        main,
        ["export", str(bundle), "--deidentify", "--evidence", "-o", str(tmp_path / "out")],
        env={"FHIR_ADAPTER_DEID_KEY": key},
    )
    assert evidence.exit_code != 0 and "cannot go with --deidentify" in evidence.stderr


def test_drop_removes_every_narrative_field_a_case_can_hold(terminology):
    # What a patient was first taken to have and why a drug was stopped are told in anyone's words,
    # like a note: --free-text drop removes them whether or not the scan finds anything in them.
    data = {
        "case": {"id": "x"},
        "patient": {"sex": "female"},
        "primary_cancers": [{"id": "p", "site": "breast"}],
        "metastases": [{"site": "scalp", "primary": "p", "misdiagnosis": "a cyst the family noticed"}],
        "medications": [{"name": "tamoxifen", "status": "stopped", "status_reason": "she moved away"}],
    }
    dropped = deidentify(Case.model_validate(data), terminology, DeidSettings(KEY, free_text="drop"))
    assert "misdiagnosis" not in dropped.case["metastases"][0]
    assert "status_reason" not in dropped.case["medications"][0]
    assert dropped.case["metastases"][0]["site"] == "scalp"  # a term field stays
    assert "metastases[0].misdiagnosis: free text (every narrative field is removed)" in dropped.removed
