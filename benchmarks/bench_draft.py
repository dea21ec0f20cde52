"""Drafting quality and speed: `fhir-adapter draft` on the gold set, fact by fact, dev part and held-out part.

    python benchmarks/bench_draft.py              # precision/recall per fact kind, then speed
    python benchmarks/bench_draft.py --misses     # also every fact missed or added, per report
    python benchmarks/bench_draft.py --json

The gold set is tests/draft_gold/manifest.yaml: each report text (a published abstract, quoted),
the hand-written gold case file(s) it should give, and its part: `dev` reports are the ones the
rules were written while reading; `held-out` reports were not used for writing rules. A report
that tells two cases is compared case by case, in order. Facts are compared through the maps
(fhir_adapter.draft.score), not by where in the file they sit.

Speed is the time to draft a 4,000-character text after start-up (the pipeline built once), made
of the gold reports' own sentences; start-up (loading the maps and building the pipeline) is
reported on its own.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "draft_gold"


def load_manifest() -> list[dict]:
    return yaml.safe_load((GOLD / "manifest.yaml").read_text(encoding="utf-8"))["reports"]


def score(parts: tuple[str, ...] = ("dev", "held-out")) -> dict:
    """Draft every report of the gold set and tally its facts against the gold case files."""
    from fhir_adapter.draft import draft_text
    from fhir_adapter.draft.score import Tally, facts_of
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    tallies = {part: Tally() for part in parts}
    for report in load_manifest():
        if report["part"] not in tallies:
            continue
        path = GOLD / report["text"]
        drafts = draft_text(path.read_text(encoding="utf-8"), name=path.stem, terminology=terminology)
        golds = [yaml.safe_load((GOLD / g).read_text(encoding="utf-8")) for g in report["gold"]]
        for n in range(max(len(drafts), len(golds))):
            drafted = facts_of(drafts[n].case, terminology) if n < len(drafts) else {}
            gold = facts_of(golds[n], terminology) if n < len(golds) else {}
            from collections import Counter

            tallies[report["part"]].add(f"{path.stem}#{n + 1}", Counter(drafted), Counter(gold))
    return tallies


def speed(repeat: int = 20) -> dict:
    """Start-up, then milliseconds per 4,000-character text (median and worst of `repeat` runs)."""
    t0 = time.perf_counter()
    from fhir_adapter.draft import draft_text
    from fhir_adapter.terminology import load_terminology

    terminology = load_terminology()
    draft_text("A 50-year-old woman with breast cancer.", terminology=terminology)
    startup = time.perf_counter() - t0
    from fhir_adapter.draft.text import blank_header

    body = " ".join(
        blank_header((GOLD / r["text"]).read_text(encoding="utf-8"))
        .strip()
        .replace("Case 1:", "")
        .replace("Case 2:", "")
        for r in load_manifest()
    )
    text = body
    while len(text) < 4100:
        text += " " + body
    text = text[: text.index(". ", 4000) + 1]  # about 4,000 characters, ending at a sentence
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        draft_text(text, terminology=terminology)
        times.append((time.perf_counter() - t) * 1000)
    return {
        "startup_s": round(startup, 2),
        "chars": len(text),
        "ms_median": round(statistics.median(times), 1),
        "ms_max": round(max(times), 1),
        "runs": repeat,
    }


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--misses", action="store_true", help="list each fact missed or added")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs for the speed figure")
    args = ap.parse_args(argv)
    from fhir_adapter.draft.score import KINDS

    tallies = score()
    figures = {"parts": {}, "speed": speed(args.repeat)}
    for part, tally in tallies.items():
        rows = {}
        for kind in (*KINDS, None):
            tp, fp, fn, p, r = tally.row(kind)
            if tp + fp + fn:
                rows[kind or "overall"] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r}
        figures["parts"][part] = rows
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    kinds = [k for k in (*KINDS, "overall") if any(k in rows for rows in figures["parts"].values())]
    head = "".join(f" | {part:^27}" for part in figures["parts"])
    print(f"{'fact kind':<18}{head}")
    print(f"{'':<18}" + " | precision recall  tp/fp/fn" * len(figures["parts"]))
    for kind in kinds:
        cells = []
        for rows in figures["parts"].values():
            row = rows.get(kind)
            if row is None:
                cells.append(f" | {'':27}")
            else:
                cells.append(
                    f" | {_pct(row['precision'])}   {_pct(row['recall'])} {row['tp']:>3}/{row['fp']}/{row['fn']:<3}"
                )
        print(f"{kind:<18}" + "".join(cells))
    s = figures["speed"]
    print(
        f"\nspeed: {s['ms_median']} ms median ({s['ms_max']} ms worst of {s['runs']}) per {s['chars']}-character"
        f" text after start-up; start-up {s['startup_s']} s"
    )
    if args.misses:
        for part, tally in tallies.items():
            print(f"\n{part}:")
            for name, what, fact in sorted(tally.misses):
                print(f"  {name:<22} {what:<6} {fact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
