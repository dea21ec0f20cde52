"""Peak memory of the text-only tally fed many distinct terms, bounded and without a bound.

    python benchmarks/bench_tally.py                      # 1,000,000 distinct terms, both ways
    python benchmarks/bench_tally.py --terms 200000 --limits 5000

Each way runs in a child process of its own, which feeds a TermTally one case at a time, each
case with one distinct free-text term (as a registry export with a note-like site description
per patient would), then prints the process's peak RSS (ru_maxrss) beside its RSS before the
first term, the time taken, and what the summary would say about the terms it left out.
`--limits 0` means no bound (every distinct term kept, as the tally did before TERMS_KEPT).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def feed(terms: int, limit: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from fhir_adapter.tally import TermTally

    tally = TermTally(limit=limit or sys.maxsize)
    before = peak_rss_mib()
    start = time.perf_counter()
    for n in range(terms):
        row = ("mappings/sites.yaml", f"left breast upper outer quadrant, note {n}", "sites[0].name", "")
        tally.add(f"case-{n}", [row], n)
    return {
        "limit": limit or "none",
        "terms": terms,
        "kept": len(tally.terms),
        "rss_before_mib": round(before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "seconds": round(time.perf_counter() - start, 2),
        "left_out": tally.beyond_line(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=1_000_000)
    parser.add_argument("--limits", default="0,5000", help="comma-separated; 0 = no bound")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(feed(args.terms, args.child)))
        return
    for limit in (int(x) for x in args.limits.split(",")):
        command = [sys.executable, __file__, "--terms", str(args.terms), "--child", str(limit)]
        out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        print(
            f"limit {out['limit']!s:>5}: {out['terms']:,} distinct terms, {out['kept']:,} kept,"
            f" peak RSS {out['peak_rss_mib']} MiB (before feeding {out['rss_before_mib']} MiB),"
            f" {out['seconds']} s"
        )
        if out["left_out"]:
            print(f"             {out['left_out']}")


if __name__ == "__main__":
    main()
