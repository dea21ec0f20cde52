"""Shortcuts taken for speed give what the plain code gives."""

from __future__ import annotations

import datetime
import itertools

from fhir_adapter import case


def test_date_before_agrees_with_date_bounds():
    values = [f"{y}" for y in (2018, 2019, 2020)]
    values += [f"{y}-{m:02d}" for y in (2019, 2020) for m in (1, 2, 3, 11, 12)]
    values += [f"{y}-{m:02d}-{d:02d}" for y in (2019, 2020) for m in (1, 2, 12) for d in (1, 28, 29, 31)]
    values = [v for v in values if not v.endswith(("02-31", "02-29")) or v == "2020-02-29"]
    for a, b in itertools.product(values, values):
        assert case.date_before(a, b) == (case.date_bounds(a)[1] < case.date_bounds(b)[0]), (a, b)


def test_today_is_the_clock_date():
    assert case._today() == datetime.date.today().isoformat()
