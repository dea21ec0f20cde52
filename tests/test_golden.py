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


# The terms of the examples that have no verified code, and stay text with a warning: therapy
# classes (a class is not an RxNorm ingredient) and a benign lesion the report does not name.
EXPECTED_TEXT_ONLY = {
    "abdulraheem-2023-scalp.yaml": {"chemotherapy", "CK7", "GATA3", "IHC", "p63"},
    "alizadeh-2018-scalp.yaml": {
        "chromogranin",
        "cytokeratin 20",
        "cytokeratin 7",
        "cytokeratin AE1/AE3",
        "GCDFP-15",
        "immunohistochemistry",
        "S100",
        "thyroglobulin",
        "TTF-1",
        "vimentin",
    },
    "bjms-eyelid-masquerade.yaml": {"chemotherapy", "preseptal cellulitis"},
    "coutinho-2018-orbit.yaml": {
        "bone-modulating agents",
        "chemotherapy",
        "hormonal therapy",
        "no response",
        "stereotactic wire-guided biopsy",
    },
    "framarino-2019-orbit.yaml": {"skin-sparing mastectomy"},
    "scalp-nodule-misdiagnosis.yaml": {"benign lesion", "systemic therapy"},
    "yu-2024-case-1.yaml": {"chemotherapy", "hormonal therapy"},
    "yu-2024-case-2.yaml": {"chemotherapy", "hormonal therapy"},
}


def test_examples_are_coded(terminology):
    """The starting cases convert with every term coded but those known to have no code."""
    for case_path in CASES:
        conversion = build_bundle(load_case(case_path), terminology)
        text_only = {u.term for u in conversion.uncoded}
        assert text_only == EXPECTED_TEXT_ONLY.get(case_path.name, set()), case_path.name
        # Each of them raised a warning: nothing stays text silently.
        assert len([w for w in conversion.warnings if "kept as text only" in w]) == len(conversion.uncoded)
