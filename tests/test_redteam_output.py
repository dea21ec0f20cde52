"""Attacks on what the output pages show and where they are written: odd case ids, odd characters in text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fhir_adapter.export.pages import write_server_summaries
from fhir_adapter.export.sources import PatientFhir
from fhir_adapter.summary import write_summaries

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def patient_bundle(case_id: str) -> dict:
    """A collection Bundle of one Patient, named by `case_id` as a bundle from elsewhere may be."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"value": case_id},
        "entry": [{"resource": {"resourceType": "Patient", "id": "p1", "gender": "female"}}],
    }


def test_case_ids_that_become_one_file_name_get_a_page_each_and_never_replace_the_index(
    terminology, tmp_path
):
    # 'a/b', 'a b' and 'a_b' are one name once a file name's characters are replaced, and a case
    # file may call its case 'index'; each case must keep its own page and the index its file.
    inputs = tmp_path / "in"
    inputs.mkdir()
    ids = ["a/b", "a b", "a_b", "A_B"]
    for n, case_id in enumerate(ids):
        (inputs / f"b{n}.json").write_text(json.dumps(patient_bundle(case_id)))
    case = yaml.safe_load((EXAMPLES / "yu-2024-case-1.yaml").read_text())
    case["case"]["id"] = "index"
    (inputs / "index-case.yaml").write_text(yaml.safe_dump(case))
    out = tmp_path / "out"
    run = write_summaries([str(inputs)], out, terminology)
    assert not run.errors and not run.skipped
    names = [p.name for p in run.pages]
    assert len(names) == 5 and len({n.lower() for n in names}) == 5, names
    assert "index.html" not in names and run.index == out / "index.html"
    index = run.index.read_text()
    assert "<h1>Case summaries</h1>" in index
    links = dict(re.findall(r'data-case="([^"]*)"><td><a href="([^"]*)"', index))
    assert sorted(links) == sorted([*ids, "index"]) and len(set(links.values())) == 5
    for case_id, href in links.items():
        page = (out / href).read_text()
        assert f"<h1>Case {case_id}</h1>" in page
    # An id that needs no change keeps its plain name.
    assert links["a_b"] == "a_b.html"


def test_two_patients_of_a_server_with_one_identifier_get_a_page_each(terminology, tmp_path):
    # A server may hold two patients with one identifier value (or one that names no file): the
    # second page must not be written over the first while the index lists both.
    patients = [
        PatientFhir(
            f"server Patient/{n}",
            [
                {
                    "resourceType": "Patient",
                    "id": str(n),
                    "identifier": [{"system": "urn:example", "value": "../case 7"}],
                }
            ],
        )
        for n in (1, 2)
    ]
    run = write_server_summaries(patients, tmp_path, terminology)
    assert len({p.name for p in run.pages}) == 2
    hrefs = re.findall(r'<td><a href="([^"]*)"', run.index.read_text())
    assert sorted(hrefs) == sorted(p.name for p in run.pages)
    assert all(p.parent == tmp_path for p in run.pages)


RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: lays out what follows right to left, until a PDF or a block ends


def odd_text_case(tmp_path: Path) -> Path:
    """The Yu 2024 example with control characters in the citation, a note and a term."""
    case = yaml.safe_load((EXAMPLES / "yu-2024-case-1.yaml").read_text())
    case["case"]["source"]["citation"] = f"Yu J, et al. {RLO}Case report. Front Oncol. 2024."
    case["primary_cancers"][0]["note"] = "Recurrence\x00 at the\x07 original site\u2066."
    path = tmp_path / "odd.yaml"
    path.write_text(yaml.safe_dump(case, allow_unicode=True), encoding="utf-8")
    return path


def test_hidden_characters_of_a_case_are_shown_never_obeyed_on_its_page(terminology, tmp_path):
    run = write_summaries([str(odd_text_case(tmp_path))], tmp_path / "out", terminology)
    assert not run.errors
    page = run.pages[0].read_text(encoding="utf-8")
    # No character that reorders or hides text reaches the page; each shows as its escape.
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069]", page)
    assert "Yu J, et al. \\u202eCase report." in page
    assert "Recurrence\\x00 at the\\x07 original site\\u2066." in page


def test_an_override_in_a_citation_does_not_turn_the_doi_link_around(browser, terminology, tmp_path):
    run = write_summaries([str(odd_text_case(tmp_path))], tmp_path / "out", terminology)
    visit = browser.open(run.pages[0])
    try:
        # Where the words after the override and the DOI link are drawn: read left to right, the
        # link comes after the citation, as in the file.
        left_of = browser.evaluate(
            visit,
            """(() => {
              const p = document.querySelector('p.source');
              const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
              let node; while ((node = walker.nextNode()) && !node.data.includes('Case report')) {}
              const range = document.createRange();
              const at = node.data.indexOf('Case report');
              range.setStart(node, at); range.setEnd(node, at + 'Case report'.length);
              return [range.getBoundingClientRect().left, p.querySelector('a').getBoundingClientRect().left];
            })()""",
        )
        words, link = left_of
        assert words < link, left_of
    finally:
        browser.close_page(visit)


def test_a_report_name_or_text_with_line_breaks_and_controls_still_drafts_valid_yaml(tmp_path):
    pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")
    from fhir_adapter.cli import main

    # A file name may hold a line break; PDF text layers hold control characters. Neither may
    # end a YAML comment early (injecting a key) or make the file one YAML refuses.
    name = tmp_path / "report\npatient: {sex: male}\n#.txt"
    name.write_text(
        "A 54-year-old woman had invasive ductal \x01carcinoma of the left breast.\x07"
        f" She developed {RLO}metastases to the liver.\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["draft", str(name), "-o", f"{out}/", "--html"])
    assert result.exit_code == 0, result.output
    (draft,) = out.glob("*.yaml")
    text = draft.read_text(encoding="utf-8")
    case = yaml.safe_load(text)
    assert case["patient"]["sex"] == "female"
    assert "from report\\npatient: {sex: male}\\n#, rules backend." in text
    assert "\\x01carcinoma" in text
    (review,) = out.glob("*.review.html")
    assert not re.search("[\x01\x07\u202e]", review.read_text(encoding="utf-8"))


def test_review_marks_stay_on_their_words_past_astral_characters_combining_marks_and_crlf(browser, tmp_path):
    pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")
    from fhir_adapter.cli import main

    # Characters JavaScript counts as two (an emoji, a mathematical letter), accents written as a
    # letter and a combining mark, and Windows line ends, all before and between the facts.
    report = tmp_path / "odd.txt"
    report.write_bytes(
        "Re\u0301sume\u0301 \U0001fa7a \U0001d4d0.\r\n"
        "A 54-year-old woman \U0001f469\u200d\u2695\ufe0f had invasive ductal carcinoma of the left breast.\r\n"
        "Cafe\u0301 \U0001f600 note. She developed metastases to the liver and bone.\r\n".encode()
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["draft", str(report), "-o", f"{out}/", "--html"])
    assert result.exit_code == 0, result.output
    facts = json.loads((out / "odd.evidence.json").read_text(encoding="utf-8"))["cases"][0]["facts"]
    assert any(f["text"] == "liver" for f in facts) and any("ductal" in f["text"] for f in facts)
    visit = browser.open(out / "odd.review.html", width=1400, height=900)
    try:
        for n, fact in enumerate(facts):
            if fact["end"] <= fact["start"]:
                continue
            marked = browser.evaluate(
                visit,
                f"[...document.querySelectorAll('mark')].filter(m => m.dataset.refs.split(' ').includes('ev-{n}'))"
                ".map(m => m.textContent).join('')",
            )
            assert marked == fact["text"], (fact["path"], marked, fact["text"])
        # The text reads as the report does, nothing doubled or lost at the marks.
        shown = browser.evaluate(
            visit,
            "(() => { const t = document.querySelector('#text').cloneNode(true);"
            " t.querySelectorAll('.role-tag').forEach(e => e.remove()); return t.textContent; })()",
        )
        assert shown == report.read_text(encoding="utf-8")
    finally:
        browser.close_page(visit)


def test_extensions_the_reader_does_not_know_are_listed_never_dropped(tmp_path):
    from fhir_adapter.cli import main

    # A server or another tool adds extensions to what we wrote; a modifier extension may change
    # what a resource means. Each must be named beside the case, not dropped without a word.
    bundle = json.loads((EXAMPLES / "yu-2024-case-1.bundle.json").read_text())
    conditions = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    primary = conditions[0]
    primary["extension"] = [
        *primary.get("extension", []),
        {"url": "http://example.org/fhir/StructureDefinition/entered-by", "valueString": "clerk 7"},
    ]
    primary["modifierExtension"] = [
        {"url": "http://example.org/fhir/StructureDefinition/refuted", "valueBoolean": True}
    ]
    primary["code"]["extension"] = [{"url": "http://example.org/fhir/StructureDefinition/local-code-note"}]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    out = tmp_path / "case.yaml"
    result = CliRunner().invoke(main, ["export", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    listed = out.read_text()
    ref = f"Condition/{primary['id']}"
    for element in (
        "extension[http://example.org/fhir/StructureDefinition/entered-by]: has no place",
        "modifierExtension[http://example.org/fhir/StructureDefinition/refuted]: a modifier extension",
        "code.extension[http://example.org/fhir/StructureDefinition/local-code-note]: has no place",
    ):
        assert f"{ref} {element}" in listed and f"{ref} {element}" in result.output, element
    # The extensions the mapping writes (here histology) are read, not listed.
    assert any("histology" in e["url"] for e in primary["extension"])
    assert "StructureDefinition/mcode" not in "".join(
        line for line in listed.splitlines() if line.startswith("#")
    )


def foreign_primary(**onset) -> dict:
    """Another tool's Bundle: a Patient and an mCODE primary cancer of the left breast, timed by `onset`."""
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "meta": {
            "profile": ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"]
        },
        "code": {"text": "breast cancer"},
        "bodySite": [{"coding": [{"system": "http://snomed.info/sct", "code": "80248007"}]}],
        "subject": {"reference": "Patient/p1"},
        "recordedDate": "2019-03",
        **onset,
    }
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"http://x.example/{r['resourceType']}/{r['id']}", "resource": r}
            for r in (patient, condition)
        ],
    }


def test_an_onset_the_case_cannot_hold_is_listed_not_replaced_by_the_recorded_date(terminology):
    from fhir_adapter.export.read import read_case

    # recordedDate is when the condition was written down, not when it began: an onset given as an
    # age must come back as that age, and one given in words must be listed, never become 2019-03.
    def read(**onset):
        resources = [e["resource"] for e in foreign_primary(**onset)["entry"]]
        reading = read_case(resources, terminology, source="b.json")
        return reading.case["primary_cancers"][0], reading.unplaced

    aged, _ = read(onsetAge={"value": 45, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"})
    assert aged.get("age") == 45 and "date" not in aged
    worded, unplaced = read(onsetString="in her forties")
    assert "date" not in worded and "age" not in worded
    assert any("Condition/c1 onsetString" in line for line in unplaced), unplaced
    recorded, _ = read()
    assert recorded.get("date") == "2019-03"


def test_a_source_link_the_case_cannot_hold_costs_that_link_not_the_case(terminology):
    from fhir_adapter.export.read import read_case

    # A server may hold a publication link that is no http(s) URL, or a DOI written in words; the
    # case file has no place for them, so they are listed, and every other fact still comes back.
    bundle = json.loads((EXAMPLES / "yu-2024-case-1.bundle.json").read_text())
    (document,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"
    ]
    document["content"][-1]["attachment"]["url"] = "javascript:alert(1)"
    doi = next(i for i in document["identifier"] if i["system"] == "https://doi.org")
    doi["value"] = "doi is 10.3389/fonc.2024.1382415"
    resources = [e["resource"] for e in bundle["entry"]]
    reading = read_case(resources, terminology, source="b.json")
    expected = yaml.safe_load((EXAMPLES / "yu-2024-case-1.yaml").read_text())
    assert "url" not in reading.case["case"]["source"] and "doi" not in reading.case["case"]["source"]
    assert reading.case["case"]["source"]["citation"].startswith("Yu J")
    assert [m["site"] for m in reading.case["metastases"]] == [m["site"] for m in expected["metastases"]]
    ref = f"DocumentReference/{document['id']}"
    assert any(
        line.startswith(f"{ref} content[1].attachment.url: 'javascript:alert(1)' cannot be")
        for line in reading.unplaced
    ), reading.unplaced
    assert any(line.startswith(f"{ref} identifier[doi]: 'doi is 10.3389") for line in reading.unplaced)
    assert "case.source.url" not in reading.evidence and "case.source.doi" not in reading.evidence


def test_values_that_disagree_still_fail_the_case_naming_both(terminology):
    from fhir_adapter.errors import InvalidCaseError
    from fhir_adapter.export.read import read_case

    # Only a single value the case cannot hold is left out; two values that contradict each other
    # (a death before the diagnosis) are the reader's to settle, so the case fails, naming them.
    bundle = json.loads((EXAMPLES / "abdulraheem-2023-scalp.bundle.json").read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    (patient,) = [r for r in resources if r["resourceType"] == "Patient"]
    patient["deceasedDateTime"] = "1901"
    with pytest.raises(
        InvalidCaseError, match=r"vital_status.date: 1901 is before the diagnosis of metastases\[0\]"
    ):
        read_case(resources, terminology, source="b.json")


def test_index_filters_never_merge_sites_or_markers_whose_names_share_a_slug():
    from fhir_adapter.summary.extract import CaseSummary, Marker, Site
    from fhir_adapter.summary.render import render_index

    # Site names in another script all slug to 'x', and a name may slug to a body-map region's key
    # ('Bone!' beside the region bone): each must keep a filter of its own. Names that differ
    # only in case or spacing (Ki-67, ki 67) stay one filter.
    def case(case_id: str, site: str, marker: str, region: str | None = None) -> CaseSummary:
        summary = CaseSummary(case_id, "test")
        summary.sites = [Site("metastasis", site, region, None, f"{case_id}-m")]
        summary.markers = [Marker(marker, "positive", "", "", f"{case_id}-k")]
        return summary

    items = [
        ("a.html", case("a", "肝臓", "Ki-67")),
        ("b.html", case("b", "骨", "ki 67")),
        ("c.html", case("c", "Bone!", "抗原A")),
        ("d.html", case("d", "liver", "抗原B", region="liver")),
    ]
    html = render_index(items)
    filters = dict(re.findall(r'<input type="radio" name="(?:m|k)" id="([^"]+)"> ([^<]+)</label>', html))
    sites = {name: key for key, name in filters.items() if key.startswith("m-")}
    markers = {name: key for key, name in filters.items() if key.startswith("k-")}
    assert set(sites) == {"肝臓", "骨", "Bone!", "Liver"} and len(set(sites.values())) == 4, filters
    assert sites["Liver"] == "m-liver"
    assert len(markers) == 3 and len(set(markers.values())) == 3, filters
    classes = dict(re.findall(r'<tr class="case ([^"]*)" data-case="([^"]*)"', html))
    rows = {case_id: set(names.split()) for names, case_id in classes.items()}
    assert sites["肝臓"] in rows["a"] and sites["肝臓"] not in rows["b"]
    assert sites["Bone!"] in rows["c"] and sites["Bone!"] not in rows["b"]
    ki67 = next(key for name, key in markers.items() if name.lower().startswith("ki"))
    assert ki67 in rows["a"] and ki67 in rows["b"]


def test_a_listed_value_with_control_characters_leaves_the_exported_case_file_valid_yaml(tmp_path):
    from fhir_adapter.cli import main

    # What export lists quotes the server's words; a control character in them (as PDF text
    # layers carry) must not make a case file YAML refuses, nor a bidi override hide the line.
    bundle = json.loads((EXAMPLES / "yu-2024-case-1.bundle.json").read_text())
    (document,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference"
    ]
    document["content"][-1]["attachment"]["url"] = "see\x01 the \u202ejournal"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    out = tmp_path / "case.yaml"
    result = CliRunner().invoke(main, ["export", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["case"]["id"] == "yu-2024-case-1"
    assert "'see\\x01 the \\u202ejournal' cannot be the case's case.source.url" in text


def test_a_bundle_that_dates_a_metastasis_after_the_death_says_so_on_the_page(terminology):
    from fhir_adapter.summary.extract import summarise
    from fhir_adapter.summary.render import render_page

    # A case file with a death before a diagnosis is refused; a bundle from elsewhere may hold one.
    # The page draws both as stated, and says they disagree rather than leave the reader to spot it.
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"value": "late"},
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "deceasedDateTime": "2001-01"}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "m",
                    "meta": {
                        "profile": [
                            "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"
                        ]
                    },
                    "code": {"text": "metastasis to liver"},
                    "bodySite": [{"text": "liver"}],
                    "subject": {"reference": "Patient/p"},
                    "onsetDateTime": "2005-03",
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "same-month",
                    "code": {"text": "metastasis to bone"},
                    "subject": {"reference": "Patient/p"},
                    "onsetDateTime": "2001",
                }
            },
        ],
    }
    summary = summarise(bundle, source_name="late.json", terminology=terminology)
    late = [w for w in summary.warnings if "after the death" in w]
    assert len(late) == 1 and "2005" in late[0] and "2001" in late[0], summary.warnings
    assert late[0] in render_page(summary)


def test_a_very_long_word_wraps_on_the_pages_never_widens_them(browser, terminology, tmp_path):
    pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")
    from fhir_adapter.cli import main

    # A run of characters with no space (a PDF's text without its spaces, a pasted token) must
    # wrap: the summary and the review page stay as wide as the window, the text beside the fields.
    case = yaml.safe_load((EXAMPLES / "yu-2024-case-1.yaml").read_text())
    case["case"]["source"]["citation"] = "Yu J. " + "x" * 3000
    case["primary_cancers"][0]["note"] = "note " + "n" * 3000
    case["metastases"][0]["site"] = "scalp" + "y" * 400
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(case))
    run = write_summaries([str(path)], tmp_path / "pages", terminology)
    report = tmp_path / "rep.txt"
    report.write_text(
        "A 54-year-old woman had invasive ductal carcinoma of the left breast. "
        + "z" * 3000
        + " She developed metastases to the liver.\n"
    )
    result = CliRunner().invoke(main, ["draft", str(report), "-o", f"{tmp_path / 'drafts'}/", "--html"])
    assert result.exit_code == 0, result.output
    for page in (run.pages[0], tmp_path / "drafts" / "rep.review.html"):
        visit = browser.open(page, width=1280, height=900)
        try:
            assert browser.evaluate(visit, "document.documentElement.scrollWidth") <= 1280, page.name
        finally:
            browser.close_page(visit)
