"""The long fuzz run of server answers: mutated responses from a scripted peer on 127.0.0.1.

    python benchmarks/fuzz_server.py --seconds 600 --seed 1

Inputs come from tests/support/hostile_answers.py, the generator the bounded test in
tests/test_hostile_answers.py drives: a FHIR transaction, a read and an LLM request each meet
mutated JSON, bytes and HTTP, gzip bombs, redirects anywhere, connections cut short and trickles.
The property: the call returns what it promises or raises an AdapterError with a printable
message; never another exception, never past its deadline, never the token to another origin.
Prints how many inputs were tried per kind and outcome, the slowest, and each distinct finding
with the seed that reproduces it (`--replay SEED`).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.hostile_answers import run_one  # noqa: E402
from support.hostile_peer import HostilePeer, Reply  # noqa: E402

EXAMPLE = HERE.parent / "examples" / "yu-2024-case-1.yaml"


def _bundle() -> tuple[bytes, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "case.json"
        subprocess.run(
            [sys.executable, "-m", "fhir_adapter.cli", "convert", "-q", str(EXAMPLE), "-o", str(out)],
            check=True,
        )
        data = out.read_bytes()
    return data, len(json.loads(data)["entry"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=1, help="inputs use seeds SEED*1000000 and up")
    parser.add_argument("--replay", type=int, help="run the input of this one seed, with a traceback")
    args = parser.parse_args()

    bundle, entries = _bundle()
    counts: dict[str, int] = {}
    findings: dict[tuple[str, str], int] = {}
    slowest = (0.0, 0)
    tried = 0
    started = time.monotonic()
    with HostilePeer(Reply()) as peer, HostilePeer(Reply()) as elsewhere:
        if args.replay is not None:
            try:
                print(run_one(random.Random(args.replay), bundle, entries, peer, elsewhere))
            except Exception:
                traceback.print_exc()
            return
        seed = args.seed * 1_000_000
        while time.monotonic() - started < args.seconds:
            seed += 1
            tried += 1
            began = time.monotonic()
            try:
                kind, outcome = run_one(random.Random(seed), bundle, entries, peer, elsewhere)
                counts[f"{kind} {outcome}"] = counts.get(f"{kind} {outcome}", 0) + 1
            except Exception as exc:  # every exception here is a finding
                first = str(exc).splitlines()[0][:160] if str(exc) else ""
                findings.setdefault((type(exc).__name__, first), seed)
            slowest = max(slowest, (time.monotonic() - began, seed))
            if tried % 1000 == 0:
                print(f"  {tried} inputs, {len(findings)} finding(s) so far", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    print(
        f"seed {args.seed}: {tried} inputs in {elapsed:.0f}s ({tried / elapsed:.1f}/s); slowest"
        f" {slowest[0]:.2f}s (seed {slowest[1]}); {len(findings)} finding(s)"
    )
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    for (kind, message), seed in findings.items():
        print(f"  finding: {kind}: {message} (--replay {seed})")


if __name__ == "__main__":
    main()
