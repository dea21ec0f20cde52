"""Fuzzing server answers: a scripted peer on 127.0.0.1 answers with mutated responses, bounded.

A FHIR transaction, a read and an LLM request each meet broken and hostile answers (mutated
JSON, bytes and HTTP; gzip bombs; redirects anywhere; connections cut short; a trickle). The
property (tests/support/hostile_answers.py): the call returns what it promises or raises an
AdapterError with a printable message; never another exception, never past its deadline, never
the token to another origin. The long run of the same property is benchmarks/fuzz_server.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.hostile_answers import run_one
from support.hostile_peer import HostilePeer, Reply

from fhir_adapter.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[bytes, int]:
    out = tmp_path_factory.mktemp("bundle") / "case.json"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out.read_bytes(), len(json.loads(out.read_text())["entry"])


@pytest.fixture(scope="module")
def peers():
    with HostilePeer(Reply()) as peer, HostilePeer(Reply()) as elsewhere:
        yield peer, elsewhere


@settings(
    max_examples=240,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_server_answers(bundle, peers, rng):
    kind, outcome = run_one(rng, *bundle, *peers)
    assert outcome in ("ok", "refused"), kind
