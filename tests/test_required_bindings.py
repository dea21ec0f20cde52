"""Required bindings the offline profile check leaves out: every coding in an element mCODE binds
`required` must come from that value set, read from the hl7.fhir.us.mcode 4.0.0 package.

tools/mcode-validate checks required bindings on `code` elements only. This test covers the
CodeableConcepts fhir-adapter fills under a required binding: the laterality qualifier, the
evidence of a secondary cancer and of a disease status, radiotherapy modality and technique, and
Condition.clinicalStatus / verificationStatus.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_clinical_depth import DEPTH

from fhir_adapter.bundle import build_bundle
from fhir_adapter.case import Case
from fhir_adapter.mapping.common import EXT_EVIDENCE_TYPE, EXT_LATERALITY, MCODE

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tools" / "mcode-validate" / "node_modules" / "hl7.fhir.us.mcode"
SNOMED = "http://snomed.info/sct"
CONDITION_CLINICAL = {
    ("http://terminology.hl7.org/CodeSystem/condition-clinical", c)
    for c in ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
}
CONDITION_VER_STATUS = {
    ("http://terminology.hl7.org/CodeSystem/condition-ver-status", c)
    for c in ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error")
}


def _value_set(name: str) -> dict:
    path = PACKAGE / f"ValueSet-{name}.json"
    if not path.exists():
        if os.environ.get("FHIR_ADAPTER_REQUIRE_MCODE_VALIDATOR") == "1":
            pytest.fail(f"{path} is missing: npm install --prefix tools/mcode-validate")
        pytest.skip("the mCODE package is not installed (npm install --prefix tools/mcode-validate)")
    return json.loads(path.read_text())


def members(name: str) -> tuple[set[tuple[str, str]], set[str]]:
    """A value set's enumerated (system, code) pairs, and the SNOMED roots of its is-a filters."""
    vs = _value_set(name)
    codes: set[tuple[str, str]] = set()
    roots: set[str] = set()
    for include in vs.get("compose", {}).get("include", []):
        for ref in include.get("valueSet", []):
            more_codes, more_roots = members(ref.rsplit("/", 1)[-1])
            codes |= more_codes
            roots |= more_roots
        for concept in include.get("concept", []):
            codes.add((include["system"], concept["code"]))
        for f in include.get("filter", []):
            if f.get("property") == "concept" and f.get("op") == "is-a":
                roots.add(f["value"])
    return codes, roots


def check(coding: dict, allowed: tuple[set, set], where: str) -> None:
    codes, roots = allowed
    pair = (coding.get("system"), coding.get("code"))
    # An is-a filter includes its root; descendants would need the SNOMED CT hierarchy, which is
    # not available offline, so only roots are accepted (the maps use the roots).
    assert pair in codes or (pair[0] == SNOMED and pair[1] in roots), (
        f"{where}: {pair} is not in the value set"
    )


def bundles(terminology) -> list[dict]:
    out = [json.loads(p.read_text()) for p in sorted((REPO / "examples").glob("*.bundle.json"))]
    rt = {
        "name": "radiotherapy",
        "modality": "photons",
        "technique": "IMRT",
        "body_site": "scalp",
        "treats": ["scalp"],
    }
    data = {**DEPTH, "procedures": [*DEPTH["procedures"], rt]}
    out.append(build_bundle(Case.model_validate(data), terminology).bundle)
    return out


def test_required_bindings_hold_in_every_bundle(terminology):
    laterality = members("mcode-laterality-qualifier-vs")
    evidence = members("mcode-cancer-disease-status-evidence-type-vs")
    modality = members("mcode-radiotherapy-modality-vs")
    technique = members("mcode-radiotherapy-technique-vs")
    checked = {"laterality": 0, "evidence": 0, "modality": 0, "technique": 0, "status": 0}
    for bundle in bundles(terminology):
        for entry in bundle["entry"]:
            r = entry["resource"]
            where = f"{r['resourceType']}/{r['id']}"
            for site in (
                r.get("bodySite", []) if isinstance(r.get("bodySite"), list) else [r.get("bodySite") or {}]
            ):
                for ext in site.get("extension", []):
                    if ext["url"] == EXT_LATERALITY:
                        for c in ext["valueCodeableConcept"]["coding"]:
                            check(c, laterality, where)
                            checked["laterality"] += 1
            for ev in r.get("evidence", []) if r["resourceType"] == "Condition" else []:
                for cc in ev.get("code", []):
                    for c in cc["coding"]:
                        check(c, evidence, where)
                        checked["evidence"] += 1
            for ext in r.get("extension", []):
                if ext["url"] == EXT_EVIDENCE_TYPE:
                    for c in ext["valueCodeableConcept"]["coding"]:
                        check(c, evidence, where)
                        checked["evidence"] += 1
                if ext["url"] == MCODE + "mcode-radiotherapy-modality-and-technique":
                    for part in ext["extension"]:
                        kind = "modality" if part["url"].endswith("modality") else "technique"
                        for c in part["valueCodeableConcept"]["coding"]:
                            check(c, modality if kind == "modality" else technique, where)
                            checked[kind] += 1
            if r["resourceType"] == "Condition":
                for element, allowed in (
                    ("clinicalStatus", CONDITION_CLINICAL),
                    ("verificationStatus", CONDITION_VER_STATUS),
                ):
                    for c in r.get(element, {}).get("coding", []):
                        assert (c["system"], c["code"]) in allowed, f"{where}.{element}: {c}"
                        checked["status"] += 1
    assert all(checked.values()), checked  # every binding was met at least once


def test_the_binding_check_can_fail():
    with pytest.raises(AssertionError, match="is not in the value set"):
        check({"system": SNOMED, "code": "24028007"}, members("mcode-radiotherapy-modality-vs"), "x")


# mcode-procedure-intent binds its value extensibly to ProcedureIntentVS (curative, palliative,
# supportive, diagnostic, preventive, guidance, screening, forensic). Adjuvant and neoadjuvant say
# when a treatment is given, not what for; no concept of the value set states that, and reading
# them as 'curative' would state a purpose the report does not. An extensible binding allows
# another code when the value set has none for the concept, so these two keep their SNOMED CT
# codes (README, Terminology).
OUTSIDE_PROCEDURE_INTENT_VS = {
    "373846009": "adjuvant",
    "373847000": "neoadjuvant",
}


def test_intent_codes_are_in_procedure_intent_vs_or_a_documented_exception(terminology):
    allowed, _ = members("mcode-procedure-intent-vs")
    intents = [c for c in set(terminology.domains["treatment"].values()) if c.kind == "intent"]
    outside = {}
    for concept in intents:
        for coding in concept.codings:
            if (coding.system, coding.code) not in allowed:
                outside[coding.code] = concept.terms[0]
                assert "NOT in mCODE ProcedureIntentVS" in (concept.note or ""), concept.terms[0]
    assert outside == OUTSIDE_PROCEDURE_INTENT_VS
