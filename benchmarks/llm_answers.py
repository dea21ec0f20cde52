"""Make the stored LLM answers the drafting benchmark replays: gold facts with their words, plus planted errors.

    python benchmarks/llm_answers.py        # rewrites tests/draft_gold/llm/<report>.json

No language model is called. For each gold report, the answer a careful model would give is
built from the gold case files: each fact with the words of the text that state it (the words
the rules backend quoted for the same fact, else the value's own words found in the text; a fact
whose words cannot be found is given without words, as a model that cannot quote would). Then
the errors models are known to make are planted, by rule, where the text offers the occasion:

- a site from a background or literature sentence ('tends to metastasize to bone, brain ...');
- a site the text negates ('no evidence of liver metastasis');
- a planned or refused treatment given without its status (drafted as given);
- a marker put on the other tumour (the primary's receptors on a metastasis, or the reverse);
- a drug the text never names, with words that are not in it;
- a key that is no field of the case format ('metastases[0]', in the first report only).

The checks of the LLM backend should send every planted error to review and keep the gold facts;
bench_draft.py --llm measures both. The answers are data made by this script, not recordings of a
model: they measure the checks, not any model.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOLD = ROOT / "tests" / "draft_gold"
OUT = GOLD / "llm"
_SKIP = {"id", "to", "treats", "about", "primary"}
_CHOICES = {"sex", "laterality", "status", "result", "certainty", "intent", "response", "route", "deceased", "occult",
            "clinical_status", "kind"}  # fmt: skip
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]  # fmt: skip
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten",
          11: "eleven", 12: "twelve", 14: "fourteen", 15: "fifteen", 24: "twenty-four"}  # fmt: skip


def leaves(data, path=""):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1], data


def variants(field: str, value, terminology) -> list[str]:
    """Ways a text may write a value."""
    out = []
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        n = int(value) if float(value).is_integer() else value
        out += [str(n)]
        if isinstance(n, int) and n in _WORDS:
            out += [_WORDS[n]]
        return out
    text = str(value)
    m = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if m:
        month = _MONTHS[int(m.group(2)) - 1]
        return [f"{month} {m.group(1)}", f"{month} of {m.group(1)}"]
    m = re.fullmatch(r"(\d+(?:\.\d+)?) (\w+?)s?", text)
    if m:
        n = float(m.group(1))
        words = [m.group(1)] + ([_WORDS[int(n)]] if n.is_integer() and int(n) in _WORDS else [])
        units = [m.group(2) + "s", m.group(2)]
        return [f"{w}{sep}{u}" for w in words for u in units for sep in (" ", "-")]
    from fhir_adapter.draft.llm import _synonyms

    return [text, *_synonyms(field, text)]


def _equal(a, b) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    return str(a).lower() == str(b).lower()


def find_words(
    text: str, field: str, value, rules_evidence: list[dict], terminology, story=None
) -> str | None:
    """The words of the text that state a value: the rules' quote of it, else its own words in the story."""
    from fhir_adapter.draft.roles import PATIENT

    for ev in rules_evidence:
        same = re.sub(r"\[\d+\]$", "", ev["path"]).rsplit(".", 1)[-1] == field and _equal(ev["value"], value)
        if same and (
            not isinstance(value, str) or str(value).lower() in ev["text"].lower() or field in _CHOICES
        ):
            return ev["text"]
    hits = []
    for v in variants(field, value, terminology):
        hits += list(re.finditer(r"(?<!\w)" + re.escape(v) + r"(?!\w)", text, re.I))
    if not hits:
        return None
    # A model quotes the patient's story when the words are there.
    best = min(hits, key=lambda m: (story is not None and story.role_at(m.start()) != PATIENT, m.start()))
    return text[best.start() : best.end()]


def answer_for(report: dict, terminology, plant_keys: bool) -> dict:
    from fhir_adapter.draft import draft_text
    from fhir_adapter.draft.checks import read_story
    from fhir_adapter.draft.roles import PATIENT
    from fhir_adapter.draft.score import _canon
    from fhir_adapter.draft.text import blank_header

    source = (GOLD / report["text"]).read_text(encoding="utf-8")
    text = blank_header(source)
    golds = [yaml.safe_load((GOLD / g).read_text(encoding="utf-8")) for g in report["gold"]]
    from fhir_adapter.errors import InvalidCaseError

    try:
        drafts = draft_text(source, name=Path(report["text"]).stem, terminology=terminology)
    except InvalidCaseError:
        drafts = []  # the rules refuse this text: each value's words are looked for in the text alone
    story = read_story(text, terminology)
    cases, planted = [], []
    for n, gold in enumerate(golds):
        case = copy.deepcopy(gold)
        case["case"] = {"id": "case"}
        rules_evidence = drafts[n].evidence if n < len(drafts) else []
        evidence = {}
        for path, field, value in leaves(case):
            if path.startswith("case.") or field in _SKIP:
                continue
            words = find_words(text, field, value, rules_evidence, terminology, story)
            if words is None and field == "site" and str(value).lower() == "breast":
                item = re.sub(r"\.site$", "", path)
                for other, f, v in leaves(case):
                    if other == item + ".histology":
                        words = find_words(
                            text, f, v, rules_evidence, terminology, story
                        )  # 'IDC' names its organ
            if words is None and field in _CHOICES:
                parent = re.sub(r"\.[^.\[]+$", "", path)
                for other, f, v in leaves(case):
                    if other.startswith(parent + ".") and f in ("site", "name", "status") and other != path:
                        words = find_words(text, f, v, rules_evidence, terminology, story)
                        if words:
                            break
            if words is not None:
                evidence[path] = words
        canon = _canon(terminology, None)
        gold_sites = {canon.site(m["site"]) for m in case.get("metastases", [])} | {"breast"}
        mets = case.setdefault("metastases", [])
        # A site from a background or literature sentence, and a site the text negates.
        for kind, pick in (
            ("background site", lambda m: story.role_at(m.start) not in (None, PATIENT)),
            ("negated site", lambda m: m.negated and story.role_at(m.start) == PATIENT),
        ):
            for m in story.mentions:
                site = m.target.term
                if (
                    m.label == "SITE"
                    and pick(m)
                    and site.lower() not in gold_sites
                    and site.lower() != "breast"
                ):
                    mets.append({"id": f"planted-{len(mets)}", "site": site})
                    path = f"metastases[{len(mets) - 1}].site"
                    evidence[path] = text[m.start : m.end]
                    planted.append({"case": n, "path": path, "kind": kind})
                    gold_sites.add(canon.site(site))
                    break
        if not mets:
            case.pop("metastases")
        # A planned or refused treatment given without its status.
        for key in ("medications", "procedures"):
            for i, item in enumerate(case.get(key, [])):
                if item.get("status") in ("intended", "not-taken", "preparation", "not-done"):
                    item.pop("status")
                    evidence.pop(f"{key}[{i}].status", None)
                    planted.append(
                        {"case": n, "path": f"{key}[{i}].name", "kind": "planned or refused as given"}
                    )
                    break
        # A marker on the other tumour.
        primary = case["primary_cancers"][0]
        if primary.get("receptors") and case.get("metastases"):
            name, value = next(iter(primary["receptors"].items()))
            old = f"primary_cancers[0].receptors.{name}"
            words = evidence.pop(old, None)
            primary["receptors"].pop(name)
            if not primary["receptors"]:
                primary.pop("receptors")
            met = case["metastases"][0]
            met.setdefault("markers", []).append({"name": name.upper(), "result": value})
            new = f"metastases[0].markers[{len(met['markers']) - 1}]"
            if words:
                evidence[new + ".result"] = words
                evidence[new + ".name"] = words
            planted.append({"case": n, "path": new + ".result", "kind": "marker on the other tumour"})
        else:
            for j, met in enumerate(case.get("metastases", [])):
                rec = [
                    mk
                    for mk in met.get("markers", [])
                    if mk["name"].upper() in ("ER", "PR", "HER2") and mk.get("result")
                ]
                if rec:
                    k = met["markers"].index(rec[0])
                    words = evidence.get(f"metastases[{j}].markers[{k}].result")
                    primary.setdefault("receptors", {})[rec[0]["name"].lower()] = rec[0]["result"]
                    if words:
                        evidence[f"primary_cancers[0].receptors.{rec[0]['name'].lower()}"] = words
                    planted.append({"case": n, "path": f"primary_cancers[0].receptors.{rec[0]['name'].lower()}",
                                    "kind": "marker on the other tumour"})  # fmt: skip
                    break
        # A drug the text never names.
        if "tamoxifen" not in text.lower():
            meds = case.setdefault("medications", [])
            meds.append({"name": "tamoxifen"})
            evidence[f"medications[{len(meds) - 1}].name"] = "adjuvant tamoxifen"
            planted.append({"case": n, "path": f"medications[{len(meds) - 1}].name", "kind": "invented drug"})
        if plant_keys and n == 0:
            case["metastases[0]"] = {"site": "liver"}
            planted.append({"case": n, "path": "metastases[0]", "kind": "a key that is no field"})
        cases.append({"case": case, "evidence": evidence})
    return {"answer": {"cases": cases}, "planted": planted}


def main() -> int:
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    OUT.mkdir(exist_ok=True)
    reports = yaml.safe_load((GOLD / "manifest.yaml").read_text(encoding="utf-8"))["reports"]
    total = 0
    for k, report in enumerate(reports):
        doc = answer_for(report, terminology, plant_keys=k == 0)
        doc = {"made_by": "benchmarks/llm_answers.py (no model: gold facts with their words, errors planted by rule)",
               **doc}  # fmt: skip
        (OUT / (Path(report["text"]).stem + ".json")).write_text(
            json.dumps(doc, indent=1) + "\n", encoding="utf-8"
        )
        total += len(doc["planted"])
    print(f"{len(reports)} answers written to {OUT.relative_to(ROOT)}, {total} errors planted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
