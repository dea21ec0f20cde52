"""The text-only tally keeps at most TERMS_KEPT distinct terms and says what it left out."""

import re
from random import Random

from fhir_adapter import engine
from fhir_adapter.tally import TERMS_KEPT, TermTally

MAP = "mappings/sites.yaml"


def rows(n: int, start: int = 0) -> list[tuple[str, str, str, str]]:
    return [(MAP, f"free text site {i}", "sites[0].name", "not in the map") for i in range(start, start + n)]


def test_memory_stays_bounded_and_the_summary_says_what_was_left_out():
    ledger = engine.Ledger()
    for i, row in enumerate(rows(20000)):
        ledger.tally.add(f"case-{i}", [row], i)
    assert len(ledger.tally.terms) == len(ledger.tally.orders) == TERMS_KEPT
    assert ledger.tally.beyond_count == 20000 - TERMS_KEPT
    # The distinct count beyond is an estimate; with 5,000 kept it is within a few per cent.
    assert abs(ledger.tally.beyond_terms - 15000) < 15000 * 0.06
    summary = ledger.close(1.0)
    lines = summary.text_only_lines()
    assert lines[0].startswith(f"warning: {TERMS_KEPT} term(s) kept as text only")
    assert len(lines) == TERMS_KEPT + 2
    tail = re.fullmatch(
        r"  \.\.\. and about ([\d,]+) more distinct term\(s\) kept as text \(15,000 time\(s\)\) not listed",
        lines[-1],
    )
    assert tail and int(tail[1].replace(",", "")) == ledger.tally.beyond_terms
    assert summary.report_head()["text_only_not_listed"] == {
        "distinct_terms_estimated": ledger.tally.beyond_terms,
        "times": 15000,
    }


def test_kept_terms_keep_exact_counts_and_the_times_add_up():
    tally = TermTally()
    every = rows(12000)
    for i in range(3):  # each term three times, in three passes over the run
        for j, row in enumerate(every):
            tally.add(f"case-{i}-{j}", [row], i * len(every) + j)
    assert len(tally.terms) == TERMS_KEPT
    assert all(entry["count"] == 3 and entry["case_count"] == 3 for entry in tally.terms.values())
    assert tally.beyond_count == 3 * (12000 - TERMS_KEPT)
    assert tally.beyond_terms <= 12000 - TERMS_KEPT + 12000 * 0.06


def test_no_line_about_terms_left_out_when_none_were():
    tally = TermTally()
    for i, row in enumerate(rows(TERMS_KEPT)):
        tally.add(f"case-{i}", [row], i)
    assert len(tally.terms) == TERMS_KEPT and tally.beyond_count == tally.beyond_terms == 0
    assert tally.beyond_line() is None


def whole_and_parts(seed: int, parts: int):
    """The tally of a whole run, and of its cases dealt out at random to `parts` partitions."""
    rng = Random(seed)
    cases = [rows(1, rng.randrange(9000)) + rows(1, rng.randrange(300)) for _ in range(15000)]
    whole = TermTally()
    pieces = [TermTally() for _ in range(parts)]
    for order, case in enumerate(cases):
        whole.add(f"case-{order}", case, order)
        pieces[rng.randrange(parts)].add(f"case-{order}", case, order)
    return whole, pieces


def test_merged_parts_equal_the_whole_in_any_order_beyond_the_limit():
    whole, pieces = whole_and_parts(7, 4)
    assert whole.beyond_count > 0
    for order in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]):
        merged = TermTally()
        for i in order:
            # Through JSON-able data, as a Spark partition carries it.
            merged.merge(TermTally.load(pieces[i].dump()))
        assert merged.terms == whole.terms and merged.orders == whole.orders
        assert (merged.beyond_count, merged.beyond_terms) == (whole.beyond_count, whole.beyond_terms)
        assert merged.lines() == whole.lines() and merged.beyond_line() == whole.beyond_line()


def test_merging_pairs_first_gives_the_same_tally():
    whole, (a, b, c, d) = whole_and_parts(11, 4)
    left, right = TermTally(), TermTally()
    left.merge(a), left.merge(c)
    right.merge(d), right.merge(b)
    right.merge(left)
    assert right.terms == whole.terms and right.beyond_count == whole.beyond_count
