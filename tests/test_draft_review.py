"""The review page of a draft (draft --html), opened in headless Chromium: links both ways, roles, nothing fetched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

sys.path.insert(0, str(Path(__file__).parent))


from fhir_adapter.cli import main  # noqa: E402

GOLD = Path(__file__).parent / "draft_gold"
REPORTS = ["ijscr-2011.txt", "yu-2024.txt", "jmcr-2017-scleritis.txt"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("review")
    result = CliRunner().invoke(
        main, ["draft", *(str(GOLD / r) for r in REPORTS), "-o", f"{out}/", "--html", "--check"]
    )
    assert result.exit_code == 0, result.output
    return out


def query(browser, visit, selector: str, js: str) -> list:
    return browser.evaluate(visit, f"[...document.querySelectorAll({json.dumps(selector)})].map(e => {js})")


def test_html_needs_an_output_place():
    result = CliRunner().invoke(main, ["draft", str(GOLD / REPORTS[0]), "--html"])
    assert result.exit_code == 7
    assert "Error: --html writes CASE.review.html beside each draft: give -o" in result.output


@pytest.mark.parametrize("name", ["ijscr-2011", "yu-2024-case-1", "yu-2024-case-2", "jmcr-2017-scleritis"])
def test_review_page_in_chromium(browser, pages, name):
    page = pages / f"{name}.review.html"
    sidecar = json.loads((pages / f"{name}.evidence.json").read_text(encoding="utf-8"))["cases"][0]
    visit = browser.open(page, width=1400, height=900)
    try:
        browser.collect(visit)
        # Self-contained: nothing but the page itself was requested, and nothing complained.
        assert visit.requests == [page.resolve().as_uri()]
        assert visit.log == []

        ids = set(query(browser, visit, "[id]", "e.id"))
        # Every fact's words are marked, and the marked text is exactly the words of the sidecar.
        for n, fact in enumerate(sidecar["facts"]):
            if fact["end"] <= fact["start"]:
                continue
            assert f"ev-{n}" in ids, fact
            marked = browser.evaluate(
                visit,
                f"[...document.querySelectorAll('mark')].filter(m => m.dataset.refs.split(' ').includes('ev-{n}'))"
                ".map(m => m.textContent).join('')",
            )
            assert marked == fact["text"], (fact["path"], marked, fact["text"])
        # Marks link to the field they filled; field rows link back to their words.
        for href in query(browser, visit, "mark a", "e.getAttribute('href')"):
            assert href[1:] in ids, href
        rows = query(browser, visit, "tr[data-path]", "e.dataset.path")
        assert set(rows) == {f["path"] for f in sidecar["facts"]}
        for href in query(browser, visit, "td.words a", "e.getAttribute('href')"):
            assert href[1:] in ids, href
        # The review list is there with links to the words it was seen in.
        assert len(query(browser, visit, "li[id^=review-]", "e.id")) == len(sidecar["review"])
        for href in query(browser, visit, "li[id^=review-] a", "e.getAttribute('href')"):
            assert href[1:] in ids
        # The text and the fields stand side by side.
        text_box = browser.evaluate(
            visit, "JSON.stringify(document.querySelector('#text').getBoundingClientRect())"
        )
        fields_box = browser.evaluate(
            visit, "JSON.stringify(document.querySelector('#fields').getBoundingClientRect())"
        )
        t, f = json.loads(text_box), json.loads(fields_box)
        assert t["right"] <= f["left"] + 1 and t["top"] == f["top"]
    finally:
        browser.close_page(visit)


def test_roles_and_text_only_terms(browser, pages):
    visit = browser.open(pages / "ijscr-2011.review.html", width=1400, height=900)
    try:
        roles = query(browser, visit, "span.sentence", "[e.dataset.role, e.textContent]")
        background = [text for role, text in roles if role != "patient"]
        assert any("mean age of 57" in text for text in background)
        # Background sentences carry no drafted fact.
        marks_in_background = browser.evaluate(
            visit, "document.querySelectorAll('span.sentence:not([data-role=patient]) mark.fact').length"
        )
        assert marks_in_background == 0
        # What convert keeps as text only is listed, by field.
        fields = query(browser, visit, "#text-only-list li", "e.dataset.field")
        assert "medications[1].name" in fields  # bevacizumab has no code in the shipped maps
    finally:
        browser.close_page(visit)


def test_a_page_shot_for_the_record(browser, pages, tmp_path):
    visit = browser.open(pages / "jmcr-2017-scleritis.review.html", width=1400, height=900)
    try:
        png = browser.screenshot(visit, full_page=False)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    finally:
        browser.close_page(visit)
