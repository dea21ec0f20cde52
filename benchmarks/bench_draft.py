"""Drafting quality and speed: `fhir-adapter draft` on the gold set, field family by family, dev and held-out.

    python benchmarks/bench_draft.py                  # the dev parts, per field family, then speed
    python benchmarks/bench_draft.py --part dev --misses   # also every fact missed or added (dev only)
    python benchmarks/bench_draft.py --part held-out-15 --no-speed   # a held-out part: only when asked
    python benchmarks/bench_draft.py --llm            # the LLM path too, against a local replay stub
    python benchmarks/bench_draft.py --json

The gold set is tests/draft_gold/manifest.yaml: each report text (a published case report told in
our own words), the hand-written gold case file(s) it should give, and its part. `dev` to `dev-6`
reports are the ones the rules are tuned on; held-out reports were written before
the rules were tuned and are never tuned on (tests/draft_gold/README.md), so they are drafted only
when a `--part` names them. A report that tells several cases is
compared case by case, in order. Facts are compared through the maps (fhir_adapter.draft.score),
in field families: a metastatic site counts with its side, a marker with the tumour it was
measured on, a treatment with whether it was given, planned or refused.

Speed is the time to draft texts of about 4,000, 32,000 and 128,000 characters after start-up
(the pipeline built once), made of the gold reports' own sentences, and of one short story told again
and again in one paragraph (every item told hundreds of times); start-up (loading the maps and
building the pipeline) is reported on its own. Time should grow in proportion to length.

With --llm, the LLM backend drafts each report through a stub OpenAI-compatible endpoint on
127.0.0.1 that replays the answers in tests/draft_gold/llm/ (one per report): the checks the
backend applies to a model's facts (words found in the text, negation, the tumour a marker was
measured on) are measured on those answers, not assumed. No model is called.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOLD = ROOT / "tests" / "draft_gold"


def load_manifest() -> list[dict]:
    return yaml.safe_load((GOLD / "manifest.yaml").read_text(encoding="utf-8"))["reports"]


PARTS = tuple(dict.fromkeys(r["part"] for r in load_manifest()))  # in the manifest's order
DEV_PARTS = tuple(p for p in PARTS if not p.startswith("held-out"))


def score(parts: tuple[str, ...] = DEV_PARTS, backend=None) -> dict:
    """Draft every report of the given parts and tally its facts against the gold case files.

    `backend(text, name)` returns the drafts of one text; the rules by default.
    """
    from fhir_adapter.draft import draft_text
    from fhir_adapter.draft.score import Tally, facts_of
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    if backend is None:

        def backend(text: str, name: str):
            from fhir_adapter.errors import InvalidCaseError

            try:
                return draft_text(text, name=name, terminology=terminology)
            except InvalidCaseError as exc:
                print(f"rules: {name}: {exc}", file=sys.stderr)
                return []  # a refused report drafts nothing: every gold fact of it is missed

    tallies = {part: Tally() for part in parts}
    for report in load_manifest():
        if report["part"] not in tallies:
            continue
        path = GOLD / report["text"]
        drafts = backend(path.read_text(encoding="utf-8"), path.stem)
        golds = [yaml.safe_load((GOLD / g).read_text(encoding="utf-8")) for g in report["gold"]]
        for n in range(max(len(drafts), len(golds))):
            drafted = facts_of(drafts[n].case, terminology) if n < len(drafts) else Counter()
            gold = facts_of(golds[n], terminology) if n < len(golds) else Counter()
            tallies[report["part"]].add(f"{path.stem}#{n + 1}", drafted, gold)
    return tallies


def corpus_text(chars: int) -> str:
    """About `chars` characters of the gold reports' own sentences, ending at a sentence."""
    from fhir_adapter.draft.text import blank_header

    body = " ".join(
        blank_header((GOLD / r["text"]).read_text(encoding="utf-8"))
        .strip()
        .replace("Case 1:", "")
        .replace("Case 2:", "")
        for r in load_manifest()
        if not r["part"].startswith("held-out")  # a held-out text is drafted only when it is measured
    )
    text = body
    while len(text) < chars + 200:
        text += "\n\n" + body
    return text[: text.index(". ", chars) + 1]


# A made-up story that names the same site, drug and test in every sentence group: told again and again in
# one paragraph, every item is told hundreds of times, so any step that compares an item's tellings with each
# other (or walks back to the paragraph's start from each sentence) shows as time growing faster than the text.
_STORY = (
    "A woman of 50 had a cancer of the left breast with a metastasis in the liver. She was given tamoxifen for"
    " five years, then letrozole, and tamoxifen again later. A biopsy of the liver showed a carcinoma of breast"
    " origin, and a CT scan showed a nodule in the right lung. "
)


def repeated_text(chars: int) -> str:
    """About `chars` characters of one short story told again and again, with no paragraph break."""
    return (_STORY * (chars // len(_STORY) + 1))[:chars].rsplit(". ", 1)[0] + "."


def _timed(draft_text, terminology, text: str, runs: int) -> dict:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        draft_text(text, terminology=terminology)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "chars": len(text),
        "ms_median": round(statistics.median(times), 1),
        "ms_max": round(max(times), 1),
        "runs": len(times),
        "us_per_char": round(1000 * statistics.median(times) / len(text), 2),
    }


def speed(repeat: int = 5, sizes: tuple[int, ...] = (4_000, 32_000, 128_000)) -> dict:
    """Start-up, then milliseconds per text of each size (median and worst of `repeat` runs)."""
    t0 = time.perf_counter()
    from fhir_adapter.draft import draft_text
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    draft_text("A 50-year-old woman with breast cancer.", terminology=terminology)
    out = {"startup_s": round(time.perf_counter() - t0, 2), "sizes": [], "repeated": []}
    for size in sizes:
        runs = repeat if size <= 32_000 else max(1, repeat // 2)
        out["sizes"].append(_timed(draft_text, terminology, corpus_text(size), runs))
        out["repeated"].append(_timed(draft_text, terminology, repeated_text(size), runs))
    return out


def llm_backend(seen: dict | None = None):
    """A backend drafting through the LLM path against the replay stub; returns (backend, stop)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.llm_stub import ReplayStub

    from fhir_adapter.draft.llm import LlmSettings, llm_drafts

    stub = ReplayStub(GOLD / "llm")
    stub.start()

    from fhir_adapter.errors import InvalidCaseError

    def backend(text: str, name: str):
        try:
            drafts = llm_drafts(text, LlmSettings(url=stub.url(name), timeout=30), name=name)
        except InvalidCaseError as exc:
            print(f"llm: {name}: {exc}", file=sys.stderr)
            drafts = []  # counted as drafting nothing
        if seen is not None:
            seen[name] = drafts
        return drafts

    return backend, stub.stop


def planted_caught(seen: dict, parts: tuple[str, ...]) -> dict:
    """Of the errors planted in the stored answers, how many the checks sent to review, by kind."""
    out: dict = {}
    for report in load_manifest():
        if report["part"] not in parts:
            continue
        name = Path(report["text"]).stem
        if name not in seen:
            continue
        planted = json.loads((GOLD / "llm" / f"{name}.json").read_text(encoding="utf-8"))["planted"]
        for p in planted:
            drafts = seen.get(name, [])
            review = drafts[p["case"]].review if p["case"] < len(drafts) else []
            caught = any(r["fact"].split(": ", 1)[0] == p["path"] for r in review)
            row = out.setdefault(p["kind"], [0, 0])
            row[0] += caught
            row[1] += 1
    return out


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def table(tallies: dict) -> dict:
    from fhir_adapter.draft.score import FAMILIES

    parts = {}
    for part, tally in tallies.items():
        rows = {}
        for family in (*FAMILIES, None):
            tp, fp, fn, p, r = tally.row(family)
            if tp + fp + fn:
                rows[family or "all fields"] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r}
        parts[part] = rows
    return parts


def print_table(title: str, parts: dict) -> None:
    from fhir_adapter.draft.score import FAMILIES

    print(title)
    families = [f for f in (*FAMILIES, "all fields") if any(f in rows for rows in parts.values())]
    head = "".join(f" | {part:^27}" for part in parts)
    print(f"{'field family':<21}{head}")
    print(f"{'':<21}" + " | precision recall  tp/fp/fn" * len(parts))
    for family in families:
        cells = []
        for rows in parts.values():
            row = rows.get(family)
            if row is None:
                cells.append(f" | {'':27}")
            else:
                counts = f"{row['tp']}/{row['fp']}/{row['fn']}"
                cells.append(f" | {_pct(row['precision'])}   {_pct(row['recall'])} {counts:<9}")
        print(f"{family:<21}" + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--part", choices=PARTS, action="append", help="score only this part (repeatable)")
    ap.add_argument("--misses", action="store_true", help="list each fact missed or added")
    ap.add_argument(
        "--llm", action="store_true", help="also draft through the LLM path against the replay stub"
    )
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per size for the speed figures")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed figures")
    args = ap.parse_args(argv)
    parts = tuple(args.part or DEV_PARTS)

    tallies = {"rules": score(parts)}
    seen: dict = {}
    if args.llm:
        backend, stop = llm_backend(seen)
        try:
            tallies["llm"] = score(parts, backend)
        finally:
            stop()
    figures = {name: table(t) for name, t in tallies.items()}
    if args.llm:
        figures["llm planted errors sent to review"] = planted_caught(seen, parts)
    if not args.no_speed:
        figures["speed"] = speed(args.repeat)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for name in tallies:
        print_table(f"{name} backend:", figures[name])
        print()
    if args.llm:
        print("errors planted in the stored LLM answers, sent to review by the checks:")
        for kind, (caught, total) in figures["llm planted errors sent to review"].items():
            print(f"  {kind:<30} {caught} of {total}")
        print()
    if "speed" in figures:
        s = figures["speed"]
        print(f"speed after start-up (start-up {s['startup_s']} s):")
        for title, rows in (
            ("the gold reports' sentences", s["sizes"]),
            ("one story repeated, one paragraph", s["repeated"]),
        ):
            print(f"  {title}:")
            for row in rows:
                print(
                    f"  {row['chars']:>7} characters: {row['ms_median']:>8} ms median, {row['ms_max']} ms worst of"
                    f" {row['runs']}; {row['us_per_char']} µs per character"
                )
    if args.misses:
        for name, by_part in tallies.items():
            for part, tally in by_part.items():
                print(f"\n{name}, {part}:")
                for report, what, fact in sorted(tally.misses, key=str):
                    print(f"  {report:<26} {what:<6} {fact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
