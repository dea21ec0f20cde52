"""The run's check for a case id used twice keeps the ids it has seen on disk, not in memory, and
stays as fast at a million cases as at a thousand."""

from __future__ import annotations

import tracemalloc

from fhir_adapter.batch import SeenIds


def test_seen_ids_hold_no_memory_per_id():
    seen = SeenIds()
    for i in range(2_000):
        seen.add(f"warm-{i}", i)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(30_000):
            assert seen.add(f"case-{i:07d}", i) is None
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # An array of digests and positions held 16 bytes an id, 480 KB here (16 MB at a million).
    assert grown < 100_000, grown
    assert seen.add("case-0012345", 30_000) == 12_345
    assert seen.add("warm-7", 30_001) == 7


def test_seen_ids_answer_by_the_whole_id_not_a_prefix_and_in_any_case():
    # Ids that differ only in case name one file on a file system that ignores case.
    seen = SeenIds()
    assert seen.add("A-1", 0) is None
    assert seen.add("a-1", 1) == 0
    assert seen.last_id == "A-1"
    assert seen.add("A-1 ", 2) is None
    assert seen.add("A-1", 3) == 0
    assert seen.add("A-10", 4) is None
    seen.close()
