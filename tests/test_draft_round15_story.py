"""Drafting the story of a case (deaths, treatments and their details, when things happened): the kinds of wording
the fifteenth round fixed.

Each test names a kind of failure and the mechanism that fixes it. The texts are written for these tests in the
shape case reports use; none is taken from a paper.
"""

from __future__ import annotations

import pytest

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from support.drafting import one  # noqa: E402

# -- a death told with its calendar date keeps the date ------------------------------------------------------------

_DEATH_STORY = (
    "A woman of 61 had a lobular carcinoma of the left breast removed in 2014. Four years later a scan showed"
    " deposits in the liver, and she was given capecitabine. {death}"
)


@pytest.mark.parametrize(
    ("death", "date"),
    [
        ("Her condition worsened and she passed away in November 2019.", "2019-11"),
        ("She died of hepatic failure on 14 January 2020.", "2020-01-14"),
        ("In October 2019, she died at home.", "2019-10"),
        ("The patient died in hospital in 2020.", "2020"),
    ],
)
def test_a_death_told_with_its_calendar_date_keeps_the_date(terminology, death, date):
    # A death word followed by 'in <month> <year>' (or with the date put first in its clause) was drafted as a death
    # with no time at all: the date went to no item.
    vs = one(_DEATH_STORY.format(death=death), terminology)["patient"]["vital_status"]
    assert vs["deceased"] is True
    assert str(vs.get("date")) == date


def test_a_date_of_another_clause_is_not_the_date_of_death(terminology):
    # Only a date next to the death word in its own clause dates it: a date told for the treatment is not.
    text = _DEATH_STORY.format(death="She was given paclitaxel in March 2019, and died soon after.")
    vs = one(text, terminology)["patient"]["vital_status"]
    assert vs["deceased"] is True
    assert "date" not in vs


def test_a_dated_death_told_after_an_undated_one_keeps_its_date(terminology):
    # The opening paragraph said the patient died within weeks; the story's own 'died in <month> <year>' came later
    # and its date was dropped because the death was already drafted from the first word.
    text = (
        "Adrenal deposits of breast cancer\n\n"
        "We report a woman whose disease spread fast; she died within weeks of the diagnosis.\n\n"
        "A woman of 70 had a ductal carcinoma of the right breast. A scan showed a mass in the left adrenal gland,"
        " and a biopsy confirmed a metastasis. She died in June 2016."
    )
    vs = one(text, terminology)["patient"]["vital_status"]
    assert str(vs.get("date")) == "2016-06"
