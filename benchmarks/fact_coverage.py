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


def _scalp_site() -> dict:
    return {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "41695006",
                "display": "Scalp structure (body structure)",
            }
        ],
        "text": "scalp",
    }


def onset_age(value: float) -> Check:
    return lambda rs: any(
        r.get("onsetAge", {}).get("value") == value or f"at age {value:g}." in text_of(r)
        for r in of("Condition", rs)
    )


def coded_says(kind: str, code: str, *words: str) -> Check:
    """One resource of this kind carries the code and all these words (a drug with its dose)."""

    def check(rs: Resources) -> bool:
        for r in of(kind, rs):
            codes = {c.get("code") for cc in _concepts(r) for c in cc.get("coding", [])}
            if code in codes and all(w.lower() in text_of(r) for w in words):
                return True
        return False

    return check


def _percents(obs: dict) -> set[float]:
    values = [obs.get("valueQuantity", {})] + [c.get("valueQuantity", {}) for c in obs.get("component", [])]
    return {v["value"] for v in values if v.get("unit") == "%" and "value" in v}


def marker(
    name: str, *, percent: float | None = None, result: str | None = None, on: str | None = None
) -> Check:
    """A tumour marker Observation named `name` (code.text or a code) with the stated percent and
    result, whose focus is the Condition whose code.text is `on` (the primary or a metastasis)."""

    def check(rs: Resources) -> bool:
        conditions = {f"urn:uuid:{r['id']}": r for r in of("Condition", rs)}
        for obs in of("Observation", rs):
            code = obs.get("code", {})
            names = {code.get("text", "").lower()} | {c.get("code") for c in code.get("coding", [])}
            if name.lower() not in names:
                continue
            if percent is not None and percent not in _percents(obs):
                continue
            if result is not None and obs.get("valueCodeableConcept", {}).get("text", "").lower() != result:
                continue
            if on is not None:
                focus = [conditions.get(f.get("reference")) for f in obs.get("focus", [])]
                if not any(c and c.get("code", {}).get("text") == on for c in focus):
                    continue
            return True
        return False

    return check


def named(kind: str, text: str, *words: str) -> Check:
    """A resource of this kind whose code (or medication) text is `text`, carrying all these words
    or codes: a metastasis with its side, a refuted diagnosis, a planned drug."""

    def check(rs: Resources) -> bool:
        for r in of(kind, rs):
            if (r.get("code") or r.get("medicationCodeableConcept") or {}).get("text") != text:
                continue
            if all(w.lower() in text_of(r) for w in words):
                return True
        return False

    return check


def period(kind: str, text: str, start: str, end: str) -> Check:
    """A Procedure or MedicationStatement named `text` with a period from `start` to `end`."""

    def check(rs: Resources) -> bool:
        for r in of(kind, rs):
            name = (r.get("code") or r.get("medicationCodeableConcept") or {}).get("text")
            p = r.get("performedPeriod") or r.get("effectivePeriod") or {}
            if name == text and p.get("start") == start and p.get("end") == end:
                return True
        return False

    return check


# Facts as the sources state them (the examples' summaries give the abstracts' facts).
FACTS: dict[str, list[tuple[str, Check]]] = {
    "abdulraheem-2023-scalp": [
        ("female", field_is("Patient", "gender", "female")),
        ("Middle-Eastern", says("Patient", "middle-eastern")),
        ("age 47 at the presentation", onset_age(47)),
        ("breast cancer", has_code("Condition", "372137005")),
        ("lung metastases", has_code("Condition", "94391008")),
        ("bone metastases", has_code("Condition", "94222008")),
        ("liver metastases", has_code("Condition", "94381002")),
        ("brain metastases", has_code("Condition", "94225005")),
        ("cutaneous metastases", has_code("Condition", "C79.2")),
        ("scalp metastasis", field_is("Condition", "bodySite", [_scalp_site()])),
        ("no signs of multiple organ failure", says("Condition", "no signs of multiple organ failure")),
        (
            "modified radical mastectomy between 2017 and 2022",
            period("Procedure", "modified radical mastectomy", "2017", "2022"),
        ),
        ("radiotherapy between 2017 and 2022", period("Procedure", "radiotherapy", "2017", "2022")),
        ("chemotherapy between 2017 and 2022", period("MedicationStatement", "chemotherapy", "2017", "2022")),
        ("several lines of chemotherapy", says("MedicationStatement", "several lines")),
        ("presented in September 2022", field_is("Condition", "onsetDateTime", "2022-09")),
        ("nodules started 2 months before", says("Condition", "2 months before")),
        ("enlarging scalp nodules", says("Condition", "enlarging scalp nodules")),
        ("firm, non-tender, immobile", says("Condition", "firm", "non-tender", "immobile")),
        ("head MRI: soft tissue nodules", says("Condition", "mri showed soft tissue nodules")),
        ("punch biopsy", has_code("Procedure", "68660007")),
        ("of the largest scalp lesion", says("Procedure", "largest scalp lesion")),
        ("metastatic invasive ductal carcinoma on the scalp", coded_says("Condition", "8500/3", "scalp")),
        ("ER positive 95% (scalp)", marker("85337-4", percent=95, result="positive", on="scalp")),
        ("PR 5% (scalp)", marker("85339-0", percent=5, on="scalp")),
        ("HER2 negative (scalp)", marker("48676-1", result="negative", on="scalp")),
        ("GATA3 positive (scalp)", marker("GATA3", result="positive", on="scalp")),
        ("CK7 positive (scalp)", marker("CK7", result="positive", on="scalp")),
        ("p63 negative (scalp)", marker("p63", result="negative", on="scalp")),
        ("CD117 (KIT) negative (scalp)", marker("CD117", result="negative", on="scalp")),
        ("immunohistochemistry", says("Observation", '"method": {"text": "ihc"}')),
        ("source: DOI", says("DocumentReference", "10.1186/s13256-023-03928-8")),
    ],
    "framarino-2019-orbit": [
        ("female", field_is("Patient", "gender", "female")),
        ("age 44 at diagnosis", onset_age(44)),
        ("right breast", has_code("Condition", "C50.911")),
        ("pain, swelling and nipple retraction", says("Condition", "pain", "swelling", "nipple retraction")),
        ("30 x 10 mm retro-areolar mass", says("Condition", "30 x 10 mm", "retro-areolar")),
        ("8 mm lesion, upper inner quadrant", says("Condition", "8 mm", "upper inner quadrant")),
        ("right axillary nodes up to 25 mm", says("Condition", "axillary lymph nodes up to 25 mm")),
        ("core needle biopsy", has_code("Procedure", "44578009")),
        ("poorly differentiated (G3)", says("Condition", "poorly differentiated (g3)")),
        ("invasive ductal carcinoma", has_code("Condition", "8500/3")),
        ("ER positive 65%", marker("85337-4", percent=65, result="positive", on="breast")),
        ("PgR positive 50%", marker("85339-0", percent=50, result="positive", on="breast")),
        ("Ki-67 70%", marker("Ki-67", percent=70, on="breast")),
        ("HER2 negative", marker("48676-1", result="negative", on="breast")),
        ("luminal B", says("Condition", "luminal b")),
        ("CT: no metastatic disease", says("Condition", "ct showed no metastatic disease")),
        ("epirubicin", has_code("MedicationStatement", "3995")),
        (
            "epirubicin 100 mg/m2, 4 cycles, every 21 days",
            coded_says("MedicationStatement", "3995", "100 mg/m2", "4 cycles", "every 21 days"),
        ),
        ("epirubicin neoadjuvant", coded_says("MedicationStatement", "3995", "neoadjuvant")),
        ("taxol", has_code("MedicationStatement", "56946")),
        (
            "taxol 175 mg/m2, 4 cycles, every 21 days",
            coded_says("MedicationStatement", "56946", "175 mg/m2", "4 cycles", "every 21 days"),
        ),
        ("taxol neoadjuvant", coded_says("MedicationStatement", "56946", "neoadjuvant")),
        ("skin-sparing mastectomy", says("Procedure", "skin-sparing mastectomy")),
        ("mastectomy on the right", says("Procedure", "skin-sparing mastectomy", "right")),
        ("axillary lymph node dissection", says("Procedure", "axillary lymph node dissection")),
        ("tamoxifen for 3 years", coded_says("MedicationStatement", "10324", "3 years")),
        (
            "letrozole in the following 3 years",
            coded_says("MedicationStatement", "72965", "3 years after the tamoxifen"),
        ),
        ("orbital metastasis", field_is("Condition", "code.text", "orbit")),
        ("inferior rectus extraocular muscle", says("Condition", "inferior rectus")),
        ("developed under aromatase inhibitor therapy", says("Condition", "aromatase inhibitor")),
        ("confirmed by MRI", coded_says("Condition", "363679005", "orbit")),
        ("confirmed by biopsy", coded_says("Condition", "108257001", "orbit")),
        ("orbital radiotherapy", coded_says("Procedure", "1217123003", "orbit")),
        ("fulvestrant", has_code("MedicationStatement", "282357")),
        ("orbital mass shrank", has_code("Observation", "268910001")),
        ("palbociclib", has_code("MedicationStatement", "1601374")),
        ("palbociclib third-line", coded_says("MedicationStatement", "1601374", "line of therapy: 3")),
        ("no residual tumour on MRI", has_code("Observation", "103338009")),
        ("12 months after palbociclib", coded_says("Observation", "103338009", "12 months")),
        ("alive", field_is("Patient", "deceasedBoolean", False)),
        ("after 20 months", says("Observation", "20 months")),
        ("good general condition", says("Observation", "good general condition")),
        ("source: DOI", says("DocumentReference", "10.1186/s12885-018-5253-1")),
        ("source: PMID", says("DocumentReference", "30621656")),
    ],
    "alizadeh-2018-scalp": [
        ("female", field_is("Patient", "gender", "female")),
        ("age 44", onset_age(44)),
        ("breast cancer", has_code("Condition", "372137005")),
        ("occult primary", says("Condition", "occult primary")),
        ("scalp metastasis, coded as secondary skin", coded_says("Condition", "C79.2", "scalp")),
        ("on the frontal scalp", named("Condition", "scalp", "frontal scalp")),
        ("isolated metastasis", says("Condition", "isolated scalp metastasis")),
        ("first sign of the breast cancer", says("Condition", "first sign")),
        ("firm, painless, immobile, hardened", says("Condition", "firm, painless, immobile, hardened")),
        (
            "skin-coloured, fixed to underlying tissues",
            says("Condition", "skin-coloured", "fixed to the underlying"),
        ),
        ("2 to 3 cm", says("Condition", "2 to 3 cm")),
        (
            "no regional or distant lymphadenopathy",
            says("Condition", "without regional or distant lymphadenopathy"),
        ),
        ("history of a benign right breast biopsy", says("Condition", "benign right breast biopsy")),
        ("adenocarcinoma", coded_says("Condition", "8140/3", "scalp")),
        ("consistent with a breast primary", says("Condition", "consistent with a breast primary")),
        ("cytokeratin AE1/AE3 positive", marker("cytokeratin AE1/AE3", result="positive", on="scalp")),
        ("cytokeratin 7 positive", marker("cytokeratin 7", result="positive", on="scalp")),
        ("chromogranin positive", marker("chromogranin", result="positive", on="scalp")),
        ("estrogen receptor positive", marker("85337-4", result="positive", on="scalp")),
        ("GCDFP-15 positive", marker("GCDFP-15", result="positive", on="scalp")),
        ("PR weakly positive", marker("85339-0", result="weakly positive", on="scalp")),
        ("HER2 weakly positive", marker("48676-1", result="weakly positive", on="scalp")),
        ("cytokeratin 20 negative", marker("cytokeratin 20", result="negative", on="scalp")),
        ("TTF-1 negative", marker("TTF-1", result="negative", on="scalp")),
        ("S100 negative", marker("S100", result="negative", on="scalp")),
        ("vimentin negative", marker("vimentin", result="negative", on="scalp")),
        ("thyroglobulin negative", marker("thyroglobulin", result="negative", on="scalp")),
        ("by immunohistochemistry", says("Observation", '"method": {"text": "immunohistochemistry"}')),
        ("source: DOI", says("DocumentReference", "10.1016/j.ijwd.2018.08.002")),
        ("source: PMID", says("DocumentReference", "30627623")),
    ],
    "bjms-eyelid-masquerade": [
        ("female", field_is("Patient", "gender", "female")),
        ("Malay", says("Patient", "malay")),
        ("diabetes mellitus", field_is("Condition", "code.text", "diabetes mellitus")),
        ("age 51", onset_age(51)),
        ("eyelid metastasis", named("Condition", "eyelid", "secondary-cancer-condition")),
        ("left lower eyelid", named("Condition", "eyelid", "lower eyelid", "7771000")),
        ("swelling for two months", named("Condition", "eyelid", "for two months")),
        ("first like a small pimple", says("Condition", "small pimple")),
        (
            "progressively increased in size, with erythema",
            says("Condition", "progressively increased in size, with erythema"),
        ),
        (
            "lower lid mass, moderate to firm, erythematous nasally",
            says("Condition", "moderate to firm, erythematous nasally"),
        ),
        ("treated as preseptal cellulitis", named("Condition", "preseptal cellulitis", "refuted")),
        ("by a private ophthalmologist", says("Condition", "private ophthalmologist")),
        ("right breast", has_code("Condition", "C50.911")),
        ("one-year history of right breast swelling", named("Condition", "breast", "one-year history")),
        ("had not sought medical attention", says("Condition", "not sought medical attention")),
        ("breast lump firm to hard", says("Condition", "firm to hard")),
        (
            "adherent to chest wall and overlying skin",
            says("Condition", "adherent to the underlying chest wall and overlying skin"),
        ),
        ("peau d'orange", says("Condition", "peau d'orange")),
        ("retracted nipple", says("Condition", "retracted nipple")),
        (
            "CECT orbit suggestive of eyelid malignancy",
            says("Condition", "contrast-enhanced ct", "eyelid malignancy"),
        ),
        ("incisional biopsy", has_code("Procedure", "70871006")),
        ("metastatic carcinoma", coded_says("Condition", "8010/3", "eyelid")),
        ("likely of breast origin (provisional)", coded_says("Condition", "provisional", "372137005")),
        ("chemotherapy planned", named("MedicationStatement", "chemotherapy", '"status": "intended"')),
        ("source: DOI", says("DocumentReference", "10.51200/bjms.v19i2.5544")),
    ],
    "coutinho-2018-orbit": [
        ("female", field_is("Patient", "gender", "female")),
        ("Caucasian", says("Patient", "caucasian")),
        ("age 68 at diagnosis", onset_age(68)),
        ("breast cancer", has_code("Condition", "372137005")),
        ("invasive breast cancer", says("Condition", "invasive breast cancer")),
        ("ptosis as the initial presentation", says("Condition", "first presenting with ptosis")),
        ("orbital metastasis", field_is("Condition", "code.text", "orbit")),
        ("extraocular muscles", says("Condition", "extraocular muscles")),
        ("left side", coded_says("Condition", "7771000", "orbit")),
        ("12-month history", says("Condition", "12-month history")),
        ("horizontal diplopia", says("Condition", "horizontal diplopia")),
        ("progressive ptosis", says("Condition", "progressive unilateral ptosis")),
        ("retrobulbar tenderness", says("Condition", "retrobulbar tenderness")),
        ("fatigue and 8-kg weight loss", says("Condition", "fatigue and 8-kg weight loss")),
        ("partial III and VI nerve paresis", says("Condition", "iii and vi nerve paresis")),
        ("compressive retrobulbar mass", says("Condition", "compressive retrobulbar mass")),
        ("MRI: infiltrative lesion", says("Condition", "infiltrative lesion")),
        ("orbital tissue biopsy", coded_says("Procedure", "86273004", "orbit")),
        (
            "immunohistochemistry suggested breast",
            says("Procedure", "immunohistochemistry suggested a breast primary"),
        ),
        ("mammography: architectural distortion", says("Condition", "architectural distortion")),
        ("stereotactic wire-guided biopsy", says("Procedure", "stereotactic wire-guided biopsy")),
        ("PET: disseminated disease", says("Condition", "disseminated disease")),
        ("palliative chemotherapy", says("MedicationStatement", "chemotherapy", "palliative")),
        ("bone-modulating agents", says("MedicationStatement", "bone-modulating agents")),
        (
            "subsequent hormonal therapy",
            says("MedicationStatement", "hormonal therapy", "after the chemotherapy"),
        ),
        ("no response to therapy", says("Observation", "no response")),
        ("died", field_is("Patient", "deceasedBoolean", True)),
        ("38 months after diagnosis", says("Observation", "38 months after the diagnosis")),
        ("source: DOI", says("DocumentReference", "10.4048/jbc.2018.21.e46")),
    ],
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
    parser.add_argument(
        "--without-notes",
        action="store_true",
        help="Drop every note first: count only facts carried by codes, values and structured elements.",
    )
    args = parser.parse_args()
    terminology = load_terminology()
    total_present = total_stated = 0
    if args.without_notes:
        print("Notes removed: facts carried only by free-text notes count as missing.")
    print(f"{'case':<22} {'present':>7} {'stated':>6} {'share':>6}")
    for path in sorted((REPO / "examples").glob("*.yaml")):
        case = parse_case(read_case_text(path.name, path.read_bytes()))
        facts = FACTS.get(case.case.id)
        if not facts:
            continue
        resources = [e["resource"] for e in build_bundle(case, terminology).bundle["entry"]]
        if args.without_notes:
            resources = [{k: v for k, v in r.items() if k != "note"} for r in resources]
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
