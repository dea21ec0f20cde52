"""Case summaries without a browser: what is read from a bundle, and what the page and the CLI write."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.summary import evidence_path, summaries_from, write_summaries
from fhir_adapter.summary.extract import region_of, summarise, when_of
from fhir_adapter.summary.render import render_page

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCT = "http://snomed.info/sct"
LATERALITY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier"
PRIMARY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"
SECONDARY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"


def bundle_of(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "identifier": {"value": "test-case"},
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def test_a_year_is_the_whole_year_and_a_month_the_whole_month():
    year = when_of({"onsetDateTime": "2019"}, "onset")
    assert (year.kind, year.start, year.end, year.label) == ("date", "2019-01-01", "2019-12-31", "2019")
    month = when_of({"onsetDateTime": "2020-02"}, "onset")
    assert (month.start, month.end) == ("2020-02-01", "2020-02-29")
    day = when_of({"performedDateTime": "2021-03-14"}, "performed")
    assert day.start == day.end == "2021-03-14"


def test_periods_keep_an_open_end_open():
    closed = when_of({"effectivePeriod": {"start": "2019-03", "end": "2020"}}, "effective")
    assert (closed.start, closed.end, closed.open_end) == ("2019-03-01", "2020-12-31", False)
    open_ = when_of({"effectivePeriod": {"start": "2019-05-02"}}, "effective")
    assert open_.open_end and "no end stated" in open_.label


def test_ages_span_the_year_of_life_and_words_stay_words():
    age = when_of(
        {"onsetAge": {"value": 45, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"}},
        "onset",
    )
    assert (age.kind, age.age_low, age.age_high, age.label) == ("age", 45.0, 46.0, "age 45")
    months = when_of({"onsetAge": {"value": 18, "code": "mo"}}, "onset")
    assert months.age_low == pytest.approx(1.5) and months.age_high == pytest.approx(19 / 12)
    words = when_of({"onsetString": "two years after the mastectomy"}, "onset")
    assert (words.kind, words.label) == ("text", "two years after the mastectomy")
    assert when_of({}, "onset").kind == "none"
    assert when_of({"authoredOn": "2020-07-01T09:30:00Z"}, "authoredOn").label == "2020-07-01"


@pytest.mark.parametrize(
    ("names", "region"),
    [
        (["scalp structure (body structure)"], "scalp"),
        (["skull"], "skull"),
        (["brain structure"], "brain"),
        (["orbit"], "orbit"),
        (["eyelid"], "eyelid"),
        (["lung structure"], "lung"),
        (["pleura"], "pleura"),
        (["liver structure"], "liver"),
        (["bone structure of spine"], "spine"),
        (["thoracic vertebra"], "spine"),
        (["pelvis"], "pelvis"),
        (["femur"], "femur"),
        (["chest wall structure"], "chest-wall"),
        (["left breast structure"], "breast"),
        (["upper outer quadrant of breast"], "breast"),
        (["axillary region structure"], "axilla"),
        (["axillary lymph node structure"], "axillary-node"),
        (["skin structure"], "skin"),
        (["adrenal gland"], "adrenal"),
        (["ovary"], "ovary"),
        (["bone structure"], "bone"),
        (["an unheard-of place"], None),
    ],
)
def test_site_names_find_their_region(names, region):
    assert region_of(names) == region


def test_sides_come_from_the_laterality_extension_or_a_precoordinated_code(terminology):
    left_ext = {
        "url": LATERALITY,
        "valueCodeableConcept": {
            "coding": [{"system": SCT, "code": "7771000", "display": "Left (qualifier value)"}]
        },
    }
    bundle = bundle_of(
        {
            "resourceType": "Condition",
            "id": "p1",
            "meta": {"profile": [PRIMARY]},
            "code": {"text": "breast cancer"},
            "bodySite": [{"extension": [left_ext], "coding": [{"system": SCT, "code": "76752008"}]}],
        },
        {
            "resourceType": "Condition",
            "id": "m1",
            "meta": {"profile": [SECONDARY]},
            "code": {"text": "metastasis"},
            # A pre-coordinated right breast, with no display: the map names it.
            "bodySite": [{"coding": [{"system": SCT, "code": "73056007"}]}],
        },
        {
            "resourceType": "Condition",
            "id": "m2",
            "meta": {"profile": [SECONDARY]},
            "code": {"text": "metastasis"},
            "bodySite": [{"text": "lung"}],
        },
    )
    s = summarise(bundle, source_name="t", terminology=terminology)
    assert [(x.resource_id, x.region, x.side) for x in s.sites] == [
        ("p1", "breast", "left"),
        ("m1", "breast", "right"),
        ("m2", "lung", None),
    ]


def test_unknown_resources_reach_the_table_and_new_kinds_the_timeline(terminology):
    bundle = bundle_of(
        {"resourceType": "Patient", "id": "pt", "gender": "female", "deceasedDateTime": "2022-06"},
        {"resourceType": "Specimen", "id": "sp", "type": {"text": "core biopsy"}},
        {
            "resourceType": "Observation",
            "id": "ki67",
            "meta": {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]},
            "code": {"text": "Ki-67"},
            "valueQuantity": {"value": 30, "unit": "%"},
            "specimen": {"reference": "urn:uuid:sp"},
            "effectiveDateTime": "2021-02",
        },
        {
            "resourceType": "Procedure",
            "id": "rt",
            "meta": {
                "profile": [
                    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-radiotherapy-course-summary"
                ]
            },
            "code": {"text": "radiotherapy course"},
            "performedPeriod": {"start": "2021-03", "end": "2021-04"},
        },
        {
            "resourceType": "Condition",
            "id": "prov",
            "verificationStatus": {"coding": [{"code": "provisional"}]},
            "code": {"text": "suspected lung nodule"},
            "onsetString": "a few months later",
        },
    )
    s = summarise(bundle, source_name="t", terminology=terminology)
    assert [r.resource_id for r in s.resources] == ["pt", "sp", "ki67", "rt", "prov"]
    assert next(r for r in s.resources if r.resource_id == "sp").role == "other"
    lanes = {e.resource_id: (e.lane, e.when.kind) for e in s.events}
    assert lanes == {
        "pt": ("death", "date"),
        "ki67": ("marker", "date"),
        "rt": ("radiotherapy", "date"),
        "prov": ("condition", "text"),
    }
    (marker,) = s.markers
    assert (marker.name, marker.value, marker.where) == ("Ki-67", "30 %", "core biopsy")
    assert s.vital_status == "deceased" and s.deceased_when.label == "2022-06"


def test_text_only_terms_carry_the_warning_of_their_field(terminology):
    bundle = bundle_of(
        {
            "resourceType": "MedicationStatement",
            "id": "med",
            "medicationCodeableConcept": {"text": "herbal tea"},
        }
    )
    warning = "medications[0].name: 'herbal tea' has no code in medications.yaml; it stays text"
    s = summarise(
        bundle,
        source_name="t",
        terminology=terminology,
        warnings=[warning, "a warning about no field"],
        origins={"med": "medications[0]"},
    )
    (row,) = s.resources
    assert [c.text for c in row.codes if c.text_only] == ["herbal tea"]
    assert row.warnings == [warning]
    assert s.warnings == ["a warning about no field"]
    page = render_page(s)
    assert "herbal tea" in page and "has no code in medications.yaml" in page


def test_every_example_page_is_self_contained(terminology, tmp_path):
    run = write_summaries([str(EXAMPLES)], tmp_path, terminology)
    assert not run.errors and not run.skipped
    # One page per example case file, named by its case id.
    ids = sorted(yaml.safe_load(p.read_text())["case"]["id"] for p in EXAMPLES.glob("*.yaml"))
    assert sorted(p.name for p in run.pages) == [f"{case_id}.html" for case_id in ids]
    for path in [*run.pages, run.index]:
        html = path.read_text()
        assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in html
        assert "<script" not in html
        assert not re.search(r"\b(src|srcset|action|poster|data)\s*=", html)
        assert not re.search(r"<link\b", html)
        assert not re.search(r"url\((?!['\"]?data:)", html)
        assert not re.search(r"@import", html)
        # Links are for reading (the publication, the other pages), never something loaded.
        for href in re.findall(r'href="([^"]+)"', html):
            assert href.startswith("https://doi.org/") or href.endswith(".html"), href


def test_a_bundle_file_gives_the_same_sites_as_its_case_file(terminology):
    from_case = {
        s.summary.case_id: s.summary
        for s in summaries_from([str(EXAMPLES / "yu-2024-case-2.yaml")], terminology)
    }
    from_bundle = {
        s.summary.case_id: s.summary
        for s in summaries_from([str(EXAMPLES / "yu-2024-case-2.bundle.json")], terminology)
    }
    sites = lambda s: [(x.role, x.region, x.side) for x in s.sites]  # noqa: E731
    assert (
        sites(from_case["yu-2024-case-2"])
        == sites(from_bundle["yu-2024-case-2"])
        == [
            ("primary", "breast", "left"),
            ("primary", "breast", "right"),
            ("metastasis", "scalp", None),
            ("metastasis", "bone", None),
        ]
    )
    # Only the case file knows its publication's summary.
    assert from_case["yu-2024-case-2"].summary_text and not from_bundle["yu-2024-case-2"].summary_text
    assert from_case["yu-2024-case-2"].doi == "10.3389/fonc.2024.1382415"


def write_evidence_case(tmp_path: Path) -> Path:
    """A copy of an example with a hand-made evidence sidecar, as a draft made from text would have."""
    case = tmp_path / "draft.yaml"
    case.write_text((EXAMPLES / "scalp-nodule-misdiagnosis.yaml").read_text())
    sentence = "A rapidly growing scalp nodule was first diagnosed as a benign lesion."
    evidence_path(str(case)).write_text(
        json.dumps(
            {
                "metastases[0].site": {"sentence": sentence, "start": 18, "end": 23},
                "metastases[0].misdiagnosis": {"sentence": sentence, "start": 56, "end": 69},
                "procedures[0].name": {"sentence": "The nodule was excised.", "start": 0, "end": 99},
            }
        )
    )
    return case


def test_evidence_sentences_show_beside_their_facts(terminology, tmp_path):
    case = write_evidence_case(tmp_path)
    run = write_summaries([str(case)], tmp_path / "out", terminology)
    html = run.pages[0].read_text()
    assert "A rapidly growing <mark>scalp</mark> nodule" in html
    assert "first diagnosed as a <mark>benign lesion</mark>." in html
    # Offsets that do not fit the sentence: the sentence is shown whole, nothing marked.
    assert '<q class="evidence" title="procedures[0].name">The nodule was excised.</q>' in html
    # On hover: the SVG marks' titles carry the sentence too.
    assert re.search(r"<title>[^<]*Evidence: “A rapidly growing scalp nodule", html)


def test_a_broken_evidence_file_is_an_error_naming_it(terminology, tmp_path):
    case = write_evidence_case(tmp_path)
    evidence_path(str(case)).write_text('{"metastases[0].site": "just a string"}')
    (loaded,) = summaries_from([str(case)], terminology)
    assert loaded.error is not None and "draft.evidence.json" in str(loaded.error)


def test_cli_writes_pages_and_index_and_reports_bad_cases(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("case: {id: broken}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["summary", str(EXAMPLES / "yu-2024-case-1.yaml"), str(bad), "-o", str(out)]
    )
    assert result.exit_code == 3
    assert f"Error: {bad}:1: patient: required field is missing" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "yu-2024-case-1.html"]
    assert "yu-2024-case-1.html" in (out / "index.html").read_text()


def test_cli_open_opens_the_one_page(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = CliRunner().invoke(
        main, ["summary", str(EXAMPLES / "yu-2024-case-2.bundle.json"), "-o", str(tmp_path), "--open"]
    )
    assert result.exit_code == 0, result.output
    assert opened == [(tmp_path / "yu-2024-case-2.html").resolve().as_uri()]


def test_cli_says_when_there_is_nothing_to_summarise(tmp_path):
    result = CliRunner().invoke(main, ["summary", str(tmp_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 7
    assert result.output.strip() == f"Error: no case or bundle files found in {tmp_path}"


def test_without_a_profile_the_maps_say_what_a_code_is(terminology):
    bundle = bundle_of(
        {
            "resourceType": "Observation",
            "id": "ds",
            "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]},
            "valueCodeableConcept": {"text": "stable"},
        },
        {
            "resourceType": "Observation",
            "id": "ki67",
            "code": {"text": "Ki67"},
            "valueQuantity": {"value": 12, "unit": "%"},
        },
        {"resourceType": "Observation", "id": "bp", "code": {"text": "blood pressure"}},
        {"resourceType": "Procedure", "id": "rt", "code": {"text": "radiotherapy"}},
        {"resourceType": "Procedure", "id": "cut", "code": {"text": "excision of scalp lesion"}},
    )
    s = summarise(bundle, source_name="t", terminology=terminology)
    assert {e.resource_id: e.lane for e in s.events} == {
        "ds": "disease-status",
        "ki67": "marker",
        "bp": "observation",
        "rt": "radiotherapy",
        "cut": "procedure",
    }
    assert s.disease_status == "stable"


def test_the_last_known_disease_status_is_the_latest_by_date(terminology):
    profile = {"profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status"]}

    def status(rid: str, value: str, **time) -> dict:
        return {
            "resourceType": "Observation",
            "id": rid,
            "meta": profile,
            "valueCodeableConcept": {"text": value},
            **time,
        }

    dated = bundle_of(
        status("a", "progressive", effectiveDateTime="2021-05"),
        status("b", "stable", effectiveDateTime="2020"),
        status("c", "responding"),
    )
    assert summarise(dated, source_name="t", terminology=terminology).disease_status == "progressive"
    undated = bundle_of(status("a", "stable"), status("b", "progressive"))
    assert summarise(undated, source_name="t", terminology=terminology).disease_status == "progressive"


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def test_a_damaged_bundle_is_an_error_naming_the_file_never_a_crash(terminology, tmp_path):
    import copy
    import random

    from fhir_adapter.errors import InvalidCaseError

    original = json.loads((EXAMPLES / "scalp-nodule-misdiagnosis.bundle.json").read_text())
    places = list(_paths(original))[1:]
    rng = random.Random(10)  # seeded: the same 300 damaged bundles every run
    target = tmp_path / "damaged.json"
    outcomes = {"summarised": 0, "refused": 0}
    for _ in range(300):
        bundle = copy.deepcopy(original)
        *parents, last = rng.choice(places)
        node = bundle
        for key in parents:
            node = node[key]
        replacement = rng.choice([None, "x", 3, [], {}, "delete"])
        if replacement == "delete":
            del node[last]
        else:
            node[last] = replacement
        target.write_text(json.dumps(bundle))
        for loaded in summaries_from([str(target)], terminology):
            if loaded.error is None:
                render_page(loaded.summary)
                outcomes["summarised"] += 1
            else:
                assert isinstance(loaded.error, InvalidCaseError)
                assert str(loaded.error).startswith(str(target)), loaded.error
                outcomes["refused"] += 1
    assert outcomes["summarised"] > 30 and outcomes["refused"] > 30, outcomes


def test_the_readme_shows_a_summary_screenshot():
    readme = (EXAMPLES.parent / "README.md").read_text()
    (shot,) = re.findall(r"!\[[^\]]*\]\((docs/summary-[^)]+\.png)\)", readme)
    data = (EXAMPLES.parent / shot).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280 and height > 800
    # The example it shows is one the browser tests open.
    assert (EXAMPLES / (shot.removeprefix("docs/summary-").removesuffix(".png") + ".yaml")).is_file()


def test_the_index_offers_a_filter_for_each_marker(terminology):
    from fhir_adapter.summary.render import render_index

    marker = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"

    def case(case_id: str, test: str) -> dict:
        bundle = bundle_of(
            {"resourceType": "Observation", "id": "o", "meta": {"profile": [marker]}, "code": {"text": test}}
        )
        bundle["identifier"]["value"] = case_id
        return summarise(bundle, source_name=case_id, terminology=terminology)

    html = render_index([("a.html", case("a", "HER2")), ("b.html", case("b", "Ki-67"))])
    assert 'id="k-her2"' in html and 'id="k-ki-67"' in html
    assert "body:has(#k-her2:checked) tr.case:not(.k-her2) { display: none; }" in html
    assert re.search(r'<tr class="case k-her2" data-case="a">', html)


def summary_of_case(terminology, data: dict):
    from fhir_adapter.bundle import build_bundle
    from fhir_adapter.case import Case

    conversion = build_bundle(Case.model_validate(data), terminology, bundle_type="collection")
    return summarise(conversion.bundle, source_name="x", terminology=terminology)


def test_markers_of_a_bilateral_primary_say_both_sides(terminology):
    data = {
        "case": {"id": "bi"},
        "patient": {"sex": "female"},
        "primary_cancers": [
            {"site": "breast", "laterality": "bilateral", "receptors": {"er": "positive"}, "stage": "cT2N0M0"}
        ],
    }
    s = summary_of_case(terminology, data)
    er = next(m for m in s.markers if m.name == "estrogen receptor")
    assert er.where == "breast (left), breast (right)"
    t = next(m for m in s.markers if m.name == "clinical primary tumor category")
    assert t.where == "breast (left), breast (right)"
    assert "measured on: breast (left), breast (right)" in render_page(s)


def test_the_index_has_one_filter_per_test_however_it_is_named(terminology):
    from fhir_adapter.summary.render import render_index

    def case(case_id: str, name: str, **marker) -> tuple[str, object]:
        data = {
            "case": {"id": case_id},
            "patient": {"sex": "female"},
            "primary_cancers": [{"site": "breast", "markers": [{"name": name, **marker}]}],
        }
        return f"{case_id}.html", summary_of_case(terminology, data)

    items = [
        case("a", "ER", result="positive"),
        case("b", "estrogen receptor", result="negative"),
        case("c", "oestrogen receptor", percent=80),  # ER % of cells: an ER result too
        case("d", "GATA3", result="positive"),  # text only: its own name
    ]
    html = render_index(items)
    assert re.findall(r'<input type="radio" name="k" id="k-([a-z0-9-]+)">', html) == [
        "estrogen-receptor",
        "gata3",
    ]
    for case_id in "abc":
        assert re.search(rf'<tr class="case k-estrogen-receptor" data-case="{case_id}">', html)


def test_an_age_at_diagnosis_beside_a_date_shows_on_the_page_and_index(terminology):
    from fhir_adapter.summary.render import render_index

    data = {
        "case": {"id": "aged"},
        "patient": {"sex": "female", "age_at_diagnosis": 45},
        "primary_cancers": [{"site": "breast", "date": "2015-06"}],
    }
    s = summary_of_case(terminology, data)
    assert s.age_at_diagnosis == "45"
    assert "<dt>Age at diagnosis</dt><dd>45</dd>" in render_page(s)
    assert "<td>45</td>" in render_index([("aged.html", s)])
