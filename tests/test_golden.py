"""Golden bundles: each example case converts to the bundle stored beside it, byte for byte reproducibly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from fhir_adapter.bundle import build_bundle
from fhir_adapter.casefile import load_case
from fhir_adapter.writer import dumps

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASES = sorted(EXAMPLES.glob("*.yaml"))


def golden_path(case: Path) -> Path:
    return case.with_suffix(".bundle.json")


@pytest.mark.parametrize("case_path", CASES, ids=lambda p: p.stem)
def test_example_matches_golden_bundle(case_path, terminology, update_golden):
    conversion = build_bundle(load_case(case_path), terminology)
    golden = golden_path(case_path)
    if update_golden:
        golden.write_bytes(dumps(conversion.bundle))
    assert golden.exists(), f"{golden} is missing; run pytest --update-golden and review it"
    assert json.loads(golden.read_text()) == conversion.bundle


@pytest.mark.parametrize("case_path", CASES, ids=lambda p: p.stem)
def test_conversion_is_byte_identical(case_path, terminology):
    first = dumps(build_bundle(load_case(case_path), terminology).bundle)
    second = dumps(build_bundle(load_case(case_path), terminology).bundle)
    assert first == second


@pytest.mark.parametrize("case_path", CASES, ids=lambda p: p.stem)
def test_golden_bundle_is_valid_fhir(case_path):
    data = json.loads(golden_path(case_path).read_text())
    bundle = Bundle.model_validate(data)
    assert bundle.type == "transaction"
    full_urls = {e["fullUrl"] for e in data["entry"]}
    # Every reference inside the bundle points at an entry of the bundle.
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                refs.add(node["reference"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([e["resource"] for e in data["entry"]])
    assert refs and refs <= full_urls


def test_examples_are_coded(terminology):
    """The three starting cases convert with every term coded (no text-only warnings)."""
    for case_path in CASES:
        conversion = build_bundle(load_case(case_path), terminology)
        assert [w for w in conversion.warnings if "kept as text only" in w] == [], case_path.name
