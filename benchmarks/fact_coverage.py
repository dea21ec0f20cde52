"""Fact coverage: of the facts a case report states, how many a reader of the bundle alone learns.

For each example case, a hand-written list of the facts its source states (read from the case's
own summary and citation), each a check over the converted bundle. A fact counts as present only
if a code, a value or a text element of some resource carries it; notes count (they are text a
reader sees), the case file does not.

    python benchmarks/fact_coverage.py            # a table per case and the total
    python benchmarks/fact_coverage.py --missing  # also list each fact that is not present
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_adapter.bundle import build_bundle  # noqa: E402
from fhir_adapter.casefile import parse_case, read_case_text  # noqa: E402
from fhir_adapter.terminology import load_terminology  # noqa: E402

Resources = list[dict]
Check = Callable[[Resources], bool]


def of(kind: str, resources: Resources) -> Resources:
    return [r for r in resources if r["resourceType"] == kind]


def text_of(resource: dict) -> str:
    """Every string a reader of the resource sees, lower-cased: codes' displays, texts, values, notes."""
    return json.dumps(resource, ensure_ascii=False).lower()


def has_code(kind: str, code: str) -> Check:
    return lambda rs: any(
        c.get("code") == code for r in of(kind, rs) for cc in _concepts(r) for c in cc.get("coding", [])
    )


def _concepts(resource: dict):
    stack = [resource]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "coding" in item or ("text" in item and len(item) <= 3):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def says(kind: str, *words: str) -> Check:
    """Some resource of this kind carries all these words in a code display, value or text."""
    return lambda rs: any(all(w.lower() in text_of(r) for w in words) for r in of(kind, rs))


def field_is(kind: str, path: str, value) -> Check:
    def check(rs: Resources) -> bool:
        for r in of(kind, rs):
            item = r
            for part in path.split("."):
                item = item.get(part) if isinstance(item, dict) else None
            if item == value:
                return True
        return False

    return check


def onset_age(value: float) -> Check:
    return lambda rs: any(
        r.get("onsetAge", {}).get("value") == value or f"at age {value:g}." in text_of(r)
        for r in of("Condition", rs)
    )


# Facts as the sources state them (the examples' summaries give the abstracts' facts).
FACTS: dict[str, list[tuple[str, Check]]] = {
    "yu-2024-case-1": [
        ("female", field_is("Patient", "gender", "female")),
        ("Chinese", says("Patient", "chinese")),
        ("breast cancer", has_code("Condition", "372137005")),
        ("invasive ductal carcinoma", has_code("Condition", "8500/3")),
        ("scalp metastasis", says("Condition", "scalp")),
        ("scalp metastasis coded as secondary skin", has_code("Condition", "C79.2")),
        ("bone metastasis", has_code("Condition", "C79.51")),
        ("age 45 at the scalp lesion", onset_age(45)),
        ("recurrence", says("Condition", "recurrence")),
        ("recurrence at the original site", says("Condition", "original site")),
        ("chemotherapy", says("MedicationStatement", "chemotherapy")),
        ("hormonal therapy", says("MedicationStatement", "hormonal therapy")),
        ("condition worsened", says("Observation", "progressi")),
        ("died", field_is("Patient", "deceasedBoolean", True)),
        ("source: DOI", says("DocumentReference", "10.3389/fonc.2024.1382415")),
    ],
    "yu-2024-case-2": [
        ("female", field_is("Patient", "gender", "female")),
        ("Chinese", says("Patient", "chinese")),
        ("age 40 at diagnosis", onset_age(40)),
        ("bilateral breast cancer: left", has_code("Condition", "C50.912")),
        ("bilateral breast cancer: right", has_code("Condition", "C50.911")),
        ("invasive mucinous carcinoma", has_code("Condition", "8480/3")),
        ("scalp lesion", says("Condition", "scalp")),
        ("multiple bone metastases", says("Condition", "multiple bone")),
        ("chemotherapy", says("MedicationStatement", "chemotherapy")),
        ("hormonal therapy", says("MedicationStatement", "hormonal therapy")),
        ("disease stabilized", says("Observation", "stable")),
        ("source: DOI", says("DocumentReference", "10.3389/fonc.2024.1382415")),
    ],
    "scalp-nodule-56f": [
        ("female", field_is("Patient", "gender", "female")),
        ("invasive ductal carcinoma of breast", has_code("Condition", "8500/3")),
        ("scalp metastasis at 56", onset_age(56)),
        ("rapidly growing nodule", says("Condition", "rapidly growing")),
        ("misdiagnosed as benign lesion", field_is("Condition", "code.text", "benign lesion")),
        ("confirmed by histopathology", says("Condition", "histopatholog")),
        ("surgical excision", says("Procedure", "excision")),
        ("systemic therapy", says("MedicationStatement", "systemic therapy")),
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true", help="List the facts that are not present.")
    args = parser.parse_args()
    terminology = load_terminology()
    total_present = total_stated = 0
    print(f"{'case':<22} {'present':>7} {'stated':>6} {'share':>6}")
    for path in sorted((REPO / "examples").glob("*.yaml")):
        case = parse_case(read_case_text(path.name, path.read_bytes()))
        facts = FACTS.get(case.case.id)
        if not facts:
            continue
        resources = [e["resource"] for e in build_bundle(case, terminology).bundle["entry"]]
        present = [(label, check(resources)) for label, check in facts]
        n = sum(ok for _, ok in present)
        total_present += n
        total_stated += len(facts)
        print(f"{case.case.id:<22} {n:>7} {len(facts):>6} {n / len(facts):>6.0%}")
        if args.missing:
            for label, ok in present:
                if not ok:
                    print(f"    missing: {label}")
    print(f"{'total':<22} {total_present:>7} {total_stated:>6} {total_present / total_stated:>6.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
