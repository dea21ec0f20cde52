"""Case summary pages opened in headless Chromium: DOM, requests, left and right, print, and a screenshot."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.browser import Browser, chromium_path  # noqa: E402
from test_summary import write_evidence_case  # noqa: E402

from fhir_adapter.summary import write_summaries  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASES = {  # page name -> the golden bundle it must show
    "scalp-nodule-56f.html": "scalp-nodule-misdiagnosis.bundle.json",
    "yu-2024-case-1.html": "yu-2024-case-1.bundle.json",
    "yu-2024-case-2.html": "yu-2024-case-2.bundle.json",
}
# What each example's body map must mark, read off the case files by hand: (role, region, side).
EXPECTED_SITES = {
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
def browser():
    executable = chromium_path()
    if executable is None:
        if os.environ.get("FHIR_ADAPTER_REQUIRE_BROWSER"):
            pytest.fail(
                "Chromium is required here (FHIR_ADAPTER_REQUIRE_BROWSER) but /usr/bin/chromium is missing"
            )
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does)")
    handle = Browser(executable)
    yield handle
    handle.close()


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

    # Every body site of every condition and procedure is marked, where the case says.
    marks = query(
        browser,
        visit,
        ".body-map .site",
        "[e.className.baseVal.match(/role-(\\S+)/)[1], e.dataset.site, e.dataset.side]",
    )
    assert marks == [list(x) for x in EXPECTED_SITES[page]]
    site_ids = set(query(browser, visit, ".body-map .site", "e.dataset.resource"))
    with_sites = {r["id"] for r in resources if r.get("bodySite")}
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
        assert sorted(browser.evaluate(visit, visible)) == [
            "scalp-nodule-56f",
            "yu-2024-case-1",
            "yu-2024-case-2",
        ]
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
        assert sorted(browser.evaluate(visit, visible)) == ["yu-2024-case-1", "yu-2024-case-2"]
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
