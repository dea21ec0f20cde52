"""Case summary pages opened in headless Chromium: DOM, requests, left and right, print, and a screenshot."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from test_summary import write_evidence_case  # noqa: E402

from fhir_adapter.summary import write_summaries  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# page name -> the golden bundle it must show: every example case file.
CASES = {
    f"{yaml.safe_load(p.read_text())['case']['id']}.html": f"{p.stem}.bundle.json"
    for p in sorted(EXAMPLES.glob("*.yaml"))
}
# What each example's body map must mark, read off the case files by hand: (role, region, side).
EXPECTED_SITES = {
    "abdulraheem-2023-scalp.html": [
        ("primary", "breast", ""),
        ("metastasis", "scalp", ""),
        ("metastasis", "lung", ""),
        ("metastasis", "bone", ""),
        ("metastasis", "liver", ""),
        ("metastasis", "brain", ""),
        ("procedure", "scalp", ""),
    ],
    "alizadeh-2018-scalp.html": [("primary", "breast", ""), ("metastasis", "scalp", "")],
    "bjms-eyelid-masquerade.html": [
        ("primary", "breast", "right"),
        ("metastasis", "eyelid", "left"),
        ("refuted", "eyelid", "left"),
        ("procedure", "eyelid", "left"),
    ],
    "coutinho-2018-orbit.html": [
        ("primary", "breast", ""),
        ("metastasis", "orbit", "left"),
        ("procedure", "orbit", "left"),
        ("procedure", "breast", ""),
    ],
    "framarino-2019-orbit.html": [
        ("primary", "breast", "right"),
        ("metastasis", "orbit", ""),
        ("radiotherapy", "orbit", ""),
    ],
    "scalp-nodule-56f.html": [
        ("primary", "breast", ""),
        ("metastasis", "scalp", ""),
        ("refuted", "scalp", ""),
        ("procedure", "scalp", ""),
    ],
    "yu-2024-case-1.html": [
        ("primary", "breast", ""),
        ("metastasis", "scalp", ""),
        ("metastasis", "bone", ""),
    ],
    "yu-2024-case-2.html": [
        ("primary", "breast", "left"),
        ("primary", "breast", "right"),
        ("metastasis", "scalp", ""),
        ("metastasis", "bone", ""),
    ],
}
# The fills of the marks (summary.css): primary, metastasis, procedure.
ROLE_RGB = {"primary": (0xB2, 0x18, 0x2B), "metastasis": (0xE0, 0x82, 0x14), "procedure": (0x21, 0x66, 0xAC)}
TIMED = ("Condition", "Procedure", "MedicationStatement", "Observation")


@pytest.fixture(scope="session")
def pages(tmp_path_factory, terminology) -> Path:
    out = tmp_path_factory.mktemp("summaries")
    run = write_summaries([str(EXAMPLES)], out, terminology)
    assert not run.errors
    assert sorted(p.name for p in run.pages) == sorted(CASES)
    return out


def query(browser, visit, selector: str, js: str) -> list:
    return browser.evaluate(visit, f"[...document.querySelectorAll({json.dumps(selector)})].map(e => {js})")


@pytest.mark.parametrize("page", sorted(CASES))
def test_example_page_in_chromium(browser, pages, page):
    visit = browser.open(pages / page)
    try:
        check_page(browser, visit, page)
    finally:
        browser.close_page(visit)


def check_page(browser, visit, page):
    bundle = json.loads((EXAMPLES / CASES[page]).read_text())
    resources = [e["resource"] for e in bundle["entry"]]

    # Nothing but the page itself was requested, and nothing complained (a CSP violation would).
    browser.collect(visit)
    assert visit.requests == [visit.url]
    assert visit.log == []
    assert browser.evaluate(visit, "document.scripts.length") == 0

    # Every resource is in the table; every condition, procedure, drug and observation is on the timeline.
    table_ids = query(browser, visit, "table.resources tr[data-resource]", "e.dataset.resource")
    assert table_ids == [r["id"] for r in resources]
    event_ids = set(query(browser, visit, ".timeline-panel .event", "e.dataset.resource"))
    timed = {r["id"] for r in resources if r["resourceType"] in TIMED}
    assert timed <= event_ids
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    deaths = query(browser, visit, ".timeline-panel .event.lane-death", "e.dataset.resource")
    assert deaths == (
        [patient["id"]] if patient.get("deceasedBoolean") or "deceasedDateTime" in patient else []
    )
    # Each event is drawn inside its panel, with a label a person can read.
    for box in query(
        browser,
        visit,
        ".timeline-panel .event",
        "{const r = e.getBoundingClientRect(), p = e.ownerSVGElement.getBoundingClientRect();"
        " return [r.left >= p.left - 1, r.right <= p.right + 1, r.width > 20, e.textContent.length > 3]}",
    ):
        assert box == [True, True, True, True]

    # No lane name runs into the label of the event beside it.
    overlaps = browser.evaluate(
        visit,
        "[...document.querySelectorAll('.lane-name')].flatMap(n => {const a = n.getBoundingClientRect();"
        " return [...n.ownerSVGElement.querySelectorAll('.event-label')].filter(l => {"
        " const b = l.getBoundingClientRect(); return b.top < a.bottom && b.bottom > a.top && b.left < a.right;"
        " }).map(l => n.textContent + ' / ' + l.textContent)})",
    )
    assert overlaps == []

    # Every body site of every condition and procedure is marked, where the case says.
    marks = query(
        browser,
        visit,
        ".body-map .site",
        "[e.className.baseVal.match(/role-(\\S+)/)[1], e.dataset.site, e.dataset.side]",
    )
    assert marks == [list(x) for x in EXPECTED_SITES[page]]
    site_ids = set(query(browser, visit, ".body-map .site", "e.dataset.resource"))
    # The map marks conditions and procedures; a marker's bodySite says where it was measured.
    with_sites = {
        r["id"] for r in resources if r.get("bodySite") and r["resourceType"] in ("Condition", "Procedure")
    }
    assert site_ids == with_sites
    assert browser.evaluate(visit, "document.querySelector('svg.body-map desc').textContent.length") > 20
    for svg_title in query(browser, visit, "svg", "e.querySelector(':scope > title')?.textContent || ''"):
        assert svg_title, "every SVG has a text alternative"

    # Anatomical convention: the patient's left is on the viewer's right of the silhouette.
    midline = browser.evaluate(
        visit,
        "(r => r.left + r.width / 2)(document.querySelector('.body-map .silhouette').getBoundingClientRect())",
    )
    for side, x in query(
        browser,
        visit,
        ".body-map .site[data-side='left'], .body-map .site[data-side='right']",
        "[e.dataset.side, (r => r.left + r.width / 2)(e.getBoundingClientRect())]",
    ):
        assert (x > midline) if side == "left" else (x < midline), (side, x, midline)

    check_screenshot(browser, visit)


def check_screenshot(browser, visit):
    """Loosely: the page has its sections where the DOM says, and each mark shows its colour."""
    from PIL import Image

    image = Image.open(io.BytesIO(browser.screenshot(visit))).convert("RGB")
    width, height = image.size
    assert width == 1280 and 1000 < height < 6000
    for section in ("header.case-header", "#timeline", "#body-map", "#resources"):
        left, top, right, bottom = browser.evaluate(
            visit,
            f"(r => [r.left, r.top + scrollY, r.right, r.bottom + scrollY])"
            f"(document.querySelector({json.dumps(section)}).getBoundingClientRect())",
        )
        assert bottom - top > 60, section
        crop = image.crop((int(left), int(top), int(right), int(bottom))).convert("L")
        inked = sum(crop.histogram()[:200]) / (crop.width * crop.height)
        assert 0.005 < inked < 0.6, (section, inked)
    for role, x, y in query(
        browser,
        visit,
        ".body-map .site circle, .body-map .site rect",
        "[e.parentNode.className.baseVal.match(/role-(\\S+)/)[1],"
        " (r => [r.left + r.width / 2 - 5, r.top + r.height / 2 + scrollY])(e.getBoundingClientRect())].flat()",
    ):
        if role not in ROLE_RGB:
            continue
        pixel = image.getpixel((round(x), round(y)))
        assert all(abs(a - b) < 40 for a, b in zip(pixel, ROLE_RGB[role], strict=True)), (role, pixel)


def test_index_filters_by_metastatic_site_without_scripts(browser, pages):
    visit = browser.open(pages / "index.html")
    try:
        assert browser.evaluate(visit, "document.scripts.length") == 0
        visible = "[...document.querySelectorAll('tr.case')].filter(r => r.offsetParent !== null).map(r => r.dataset.case)"
        cases = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
        assert sorted(browser.evaluate(visit, visible)) == sorted(c["case"]["id"] for c in cases)
        x, y = browser.evaluate(
            visit,
            "(r => [r.left + 4, r.top + r.height / 2])(document.getElementById('m-bone').getBoundingClientRect())",
        )
        # A real click, as a reader would make: the page runs no script, CSS does the filtering.
        for kind in ("mousePressed", "mouseReleased"):
            browser.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                visit.session,
            )
        with_bone = sorted(
            c["case"]["id"] for c in cases if any(m["site"] == "bone" for m in c.get("metastases", []))
        )
        assert with_bone and sorted(browser.evaluate(visit, visible)) == with_bone
        browser.emulate_print(visit)
        assert (
            browser.evaluate(visit, "getComputedStyle(document.querySelector('fieldset.filter')).display")
            == "none"
        )
        browser.collect(visit)
        assert visit.requests == [visit.url] and visit.log == []
    finally:
        browser.close_page(visit)


def test_print_stylesheet_and_pdf(browser, pages):
    visit = browser.open(pages / "yu-2024-case-1.html")
    try:
        browser.emulate_print(visit)
        after = browser.evaluate(
            visit,
            "getComputedStyle(document.querySelector('a[href^=\"https://doi.org\"]'), '::after').content",
        )
        assert "https://doi.org/10.3389/fonc.2024.1382415" in after
        pdf = browser.print_pdf(visit)
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    finally:
        browser.close_page(visit)


def test_evidence_shows_in_the_page(browser, terminology, tmp_path):
    case = write_evidence_case(tmp_path)
    run = write_summaries([str(case)], tmp_path / "out", terminology)
    visit = browser.open(run.pages[0])
    try:
        marked = query(browser, visit, "q.evidence mark", "e.textContent")
        assert "scalp" in marked and "benign lesion" in marked
        titles = query(browser, visit, ".body-map .site[data-site='scalp'] > title", "e.textContent")
        assert any("A rapidly growing scalp nodule" in t for t in titles)
    finally:
        browser.close_page(visit)


SCT = "http://snomed.info/sct"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"


def _side(code: str, display: str) -> dict:
    return {
        "url": MCODE + "mcode-laterality-qualifier",
        "valueCodeableConcept": {"coding": [{"system": SCT, "code": code, "display": display}]},
    }


LEFT = _side("7771000", "Left (qualifier value)")
RIGHT = _side("24028007", "Right (qualifier value)")
BOTH = _side("51440002", "Right and left (qualifier value)")
PATIENT = {"reference": "urn:uuid:pt"}


def _condition(rid: str, profile: str, site: str, side: dict | None = None, **time) -> dict:
    body_site: dict = {"text": site, **({"extension": [side]} if side else {})}
    return {
        "resourceType": "Condition",
        "id": rid,
        "meta": {"profile": [MCODE + profile]},
        "code": {"text": f"cancer of {site}"},
        "bodySite": [body_site],
        "subject": PATIENT,
        **time,
    }


def rich_bundle() -> dict:
    """A hand-made bundle with the kinds of time and resource the examples do not have yet."""
    secondary = "mcode-secondary-cancer-condition"
    resources = [
        {"resourceType": "Patient", "id": "pt", "gender": "female", "deceasedDateTime": "2023-05"},
        _condition("p1", "mcode-primary-cancer-condition", "breast", LEFT, onsetDateTime="2016-04-12"),
        _condition("m-lung", secondary, "lung", BOTH, onsetDateTime="2019"),
        _condition("m-node", secondary, "axillary lymph node", LEFT, onsetDateTime="2016-04"),
        _condition("m-liver", secondary, "liver", onsetAge={"value": 52, "unit": "years", "code": "a"}),
        _condition("m-brain", secondary, "brain", onsetString="shortly before death"),
        _condition("m-spine", secondary, "thoracic vertebra", onsetDateTime="2020-09"),
        _condition("m-femur", secondary, "femur", RIGHT, onsetDateTime="2020-09"),
        _condition("m-orbit", secondary, "orbit", RIGHT),
        _condition("m-elsewhere", secondary, "pancreatic tail"),
        {
            "resourceType": "Procedure",
            "id": "rt",
            "meta": {"profile": [MCODE + "mcode-radiotherapy-course-summary"]},
            "status": "completed",
            "code": {"text": "radiotherapy course"},
            "subject": PATIENT,
            "performedPeriod": {"start": "2016-07", "end": "2016-09"},
        },
        {
            "resourceType": "MedicationStatement",
            "id": "d-open",
            "status": "active",
            "medicationCodeableConcept": {"text": "capecitabine"},
            "subject": PATIENT,
            "effectivePeriod": {"start": "2019-06-01"},
        },
        {
            "resourceType": "Observation",
            "id": "ki67",
            "meta": {"profile": [MCODE + "mcode-tumor-marker-test"]},
            "status": "final",
            "code": {"text": "Ki-67"},
            "subject": PATIENT,
            "valueQuantity": {"value": 30, "unit": "%"},
            "focus": [{"reference": "urn:uuid:p1"}],
        },
        {
            "resourceType": "Observation",
            "id": "tnm",
            "meta": {"profile": [MCODE + "mcode-tnm-stage-group"]},
            "status": "final",
            "code": {"text": "TNM stage group"},
            "subject": PATIENT,
            "valueCodeableConcept": {"text": "IIA"},
            "effectiveDateTime": "2016-04-20",
        },
        {"resourceType": "Specimen", "id": "sp", "type": {"text": "core needle biopsy"}},
    ]
    return {
        "resourceType": "Bundle",
        "identifier": {"value": "rich-case"},
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def test_times_and_sites_the_examples_lack(browser, terminology, tmp_path):
    source = tmp_path / "rich.json"
    source.write_text(json.dumps(rich_bundle()))
    run = write_summaries([str(source)], tmp_path / "out", terminology)
    assert not run.errors
    visit = browser.open(run.pages[0])
    try:
        browser.collect(visit)
        assert visit.requests == [visit.url] and visit.log == []
        ids = [e["resource"]["id"] for e in rich_bundle()["entry"]]
        assert query(browser, visit, "table.resources tr", "e.dataset.resource").count("sp") == 1
        events = {
            e[0]: e[1]
            for e in query(browser, visit, ".timeline-panel .event", "[e.dataset.resource, e.dataset.when]")
        }
        assert set(events) == set(ids) - {"sp"}
        assert events["m-liver"] == "age" and events["m-brain"] == "text" and events["m-orbit"] == "none"
        assert "“shortly before death” (as stated)" in browser.evaluate(visit, "document.body.textContent")

        def box(rid: str) -> list[float]:
            return browser.evaluate(
                visit,
                f"(r => [r.left, r.right])(document.querySelector('.event[data-resource=\"{rid}\"] .mark')"
                ".getBoundingClientRect())",
            )

        ticks = dict(
            query(
                browser,
                visit,
                ".by-date .tick-label",
                "[e.textContent, e.getBoundingClientRect().left + e.getBoundingClientRect().width / 2]",
            )
        )
        # A year is the whole year: the band runs from the 2019 tick to the 2020 tick.
        left, right = box("m-lung")
        assert abs(left - ticks["2019"]) < 2 and abs(right - ticks["2020"]) < 2
        # A month is a twelfth of that; a day is a thin mark.
        left, right = box("m-spine")
        assert 0.06 < (right - left) / (ticks["2021"] - ticks["2020"]) < 0.11
        assert box("p1")[1] - box("p1")[0] < 6
        # An open period runs on to the end of the axis, drawn dashed.
        assert box("d-open")[1] >= ticks["2023"]
        assert browser.evaluate(
            visit, "document.querySelector('.event[data-resource=\"d-open\"] .mark.open') !== null"
        )
        # On the age axis, aged 52 is the year from the 52nd to the 53rd birthday.
        age_ticks = dict(
            query(
                browser,
                visit,
                ".by-age .tick-label",
                "[e.textContent, e.getBoundingClientRect().left + e.getBoundingClientRect().width / 2]",
            )
        )
        left, right = box("m-liver")
        assert abs(left - age_ticks["52"]) < 2 and abs(right - age_ticks["53"]) < 2

        marks = query(
            browser, visit, ".body-map .site", "[e.dataset.resource, e.dataset.site, e.dataset.side]"
        )
        assert marks == [
            ["p1", "breast", "left"],
            ["m-lung", "lung", "right"],
            ["m-lung", "lung", "left"],
            ["m-node", "axillary-node", "left"],
            ["m-liver", "liver", ""],
            ["m-brain", "brain", ""],
            ["m-spine", "spine", ""],
            ["m-femur", "femur", "right"],
            ["m-orbit", "orbit", "right"],
        ]
        unplaced = query(browser, visit, "ul.unplaced li", "e.dataset.resource")
        assert unplaced == ["m-elsewhere"]
        badges = query(browser, visit, "ul.badges li", "e.textContent")
        assert any("Ki-67" in b and "30 %" in b and "breast" in b for b in badges)
        assert any("TNM stage group" in b and "IIA" in b for b in badges)
    finally:
        browser.close_page(visit)
