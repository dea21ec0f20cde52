"""Fuzzing the parse -> validate -> map -> bundle path, bounded to a few seconds.

For any input the program either writes a bundle that passes fhir.resources' full validation or
reports an AdapterError whose every line names the file; never another exception, never a hang.
The long run of the same property is benchmarks/fuzz.py.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.hostile_inputs import check, hostile_input

from fhir_adapter.convert import ConvertOptions

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
