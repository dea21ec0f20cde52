"""Fuzzing the parse -> validate -> map -> bundle path, bounded to a few seconds.

For any input the program either writes a bundle that passes fhir.resources' full validation or
reports an AdapterError whose every line names the file; never another exception, never a hang.
The long run of the same property is benchmarks/fuzz.py.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.hostile_inputs import check, hostile_input

from fhir_adapter.convert import ConvertOptions
from fhir_adapter.errors import InvalidCaseError

OPTIONS = ConvertOptions()
PER_INPUT_SECONDS = 5.0  # a hang shows as an input slower than this
FAST = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _timed_check(name: str, raw: bytes, terminology) -> str:
    started = time.monotonic()
    outcome = check(name, raw, terminology, OPTIONS)
    assert time.monotonic() - started < PER_INPUT_SECONDS, f"{name}: {len(raw)} bytes took too long"
    return outcome


@FAST
@given(rng=st.randoms(use_true_random=False))
def test_mutated_and_hostile_case_files(terminology, rng):
    name, raw = hostile_input(rng)
    _timed_check(name, raw, terminology)


@FAST
@given(raw=st.binary(max_size=600), suffix=st.sampled_from([".yaml", ".json", ".yml"]))
def test_arbitrary_bytes(terminology, raw, suffix):
    assert _timed_check(f"case{suffix}", raw, terminology) == "refused"


@FAST
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
        ),
        max_leaves=30,
    )
)
def test_arbitrary_json_values(terminology, data):
    import json

    raw = json.dumps(data).encode()
    _timed_check("case.json", raw, terminology)


def test_unchanged_examples_convert(terminology):
    import random

    from support.hostile_inputs import seed_cases, serialise

    rng = random.Random(0)
    for case in seed_cases():
        for _ in range(4):
            name, raw = serialise(rng, case)
            assert check(name, raw, terminology, OPTIONS) == "converted"


@FAST
@given(
    value=st.text(max_size=12)
    | st.from_regex(r"[-+]?[0-9_.:eExXoObB]{1,9}", fullmatch=True)
    | st.sampled_from(["yes", "No", "on", "OFF", "y", "=", "<<", "~", "null", ".inf", "-.Inf", ".NaN"])
    | st.integers()
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
)
@example("\x85")  # PyYAML folds a NEL it wrote single-quoted into a space
@example("a\u2028b")
def test_what_our_writer_writes_reads_back_as_written(value):
    """Case files are read with YAML 1.2 types narrowed to what YAML 1.1 types alike, so a value
    our writer wrote (a draft, an export) reads back as it was, and 0123 or 12:30 are never numbers."""
    from fhir_adapter.casefile import case_yaml, read_case_text, tidy_numbers

    text = case_yaml({"case": {"id": "x"}, "notes": value})
    try:
        data = read_case_text("case.yaml", text.encode()).data
    except InvalidCaseError:
        # refused only where a case file may never hold the value (a NUL, a huge number, inf)
        assert "\x00" in str(value) or isinstance(value, float | int)
        return
    value = tidy_numbers(value)  # the writer writes a whole float as an int (age 45, not 45.0)
    assert data["notes"] == value and type(data["notes"]) is type(value)


# --- Tables: CSV, TSV and .xlsx, flat, linked and mCODE Extraction Framework layouts -------------

TABLES_FAST = settings(FAST, max_examples=60)


@TABLES_FAST
@given(rng=st.randoms(use_true_random=False))
def test_mutated_and_hostile_tables(terminology, rng):
    """Every case a mutated table gives converts to a valid bundle or fails with its file named."""
    import tempfile
    from pathlib import Path

    from support.hostile_tables import FUZZ_OPTIONS, check_table, hostile_table, write_input

    name, files = hostile_table(rng)
    with tempfile.TemporaryDirectory() as tmp:
        write_input(Path(tmp), files)
        started = time.monotonic()
        check_table(Path(tmp), name, terminology, FUZZ_OPTIONS)
        assert time.monotonic() - started < 4 * PER_INPUT_SECONDS, f"{name}: took too long"


def test_unchanged_example_tables_convert(terminology, tmp_path):
    """The generator's seeds convert whole: what the fuzzer refuses is what it broke."""
    from support.hostile_tables import FLAT, LINKED, MEF, check_table

    assert check_table(FLAT.parent, FLAT.name, terminology, OPTIONS) == {"converted": 3}
    assert check_table(LINKED, "cases.csv", terminology, OPTIONS) == {"converted": 3}
    assert check_table(MEF, "patient.csv", terminology, OPTIONS) == {"converted": 2}
