"""A primary a report names only in its title is drafted from the title, at low confidence, for review."""

import pytest

from fhir_adapter.draft import draft_text
from fhir_adapter.errors import InvalidCaseError

TITLE = (
    "Orbital spread of a breast cancer presenting with diplopia\n\n"
    "Tumours rarely spread to the orbit, and such a spread may be the first sign of the cancer.\n\n"
)
STORY = (
    "A woman of 61 came to the eye clinic with double vision for two months. Magnetic resonance"
    " imaging showed a mass in the left orbit. A biopsy of the mass showed metastatic carcinoma."
)


def test_the_title_names_the_primary_the_story_leaves_out():
    text = TITLE + STORY
    (draft,) = draft_text(text, name="title-only")
    assert draft.case["primary_cancers"][0]["site"] == "breast"
    rules = {e["rule"] for e in draft.evidence if e["path"].startswith("primary_cancers[0].site")}
    assert rules == {"primary-named-in-title"}
    assert any("title" in r["why"] for r in draft.review if r["fact"].startswith("primary_cancers[0]"))


def test_a_story_that_names_its_primary_does_not_use_the_title():
    text = TITLE + STORY + " She had had a right breast cancer treated eight years before."
    (draft,) = draft_text(text, name="story-names-it")
    rules = {e["rule"] for e in draft.evidence if e["path"].startswith("primary_cancers[0].site")}
    assert "primary-named-in-title" not in rules


def test_no_primary_in_the_title_or_the_story_is_still_refused():
    with pytest.raises(InvalidCaseError, match="no primary cancer is named"):
        draft_text(TITLE.replace("a breast cancer", "a tumour") + STORY, name="nothing")
