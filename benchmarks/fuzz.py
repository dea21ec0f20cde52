"""The long fuzz run: hostile case files or tables through parse -> validate -> map -> bundle for a set time.

    python benchmarks/fuzz.py --seconds 600 --seed 1 --findings fuzz-findings/
    python benchmarks/fuzz.py --inputs tables --seconds 600 --seed 1

Case files come from tests/support/hostile_inputs.py (mutated example cases, hostile bytes and
YAML, alias bombs, duplicate keys, odd trees); tables from tests/support/hostile_tables.py (the
example tables in every layout and format, mutated as rows, cells, headers and bytes, read with
small limits so the limit paths are reached). These are the generators the bounded tests in
tests/test_hostile_fuzz.py drive. The property: each case gives a bundle that passes
fhir.resources' full validation, or an error whose every line names the file; never another
exception, and no input takes longer than --timeout seconds (a hang). Prints how many inputs were
tried, how many cases converted and were refused, and each distinct finding; with --findings,
writes each finding's input there to replay (a table input is a directory of files), and the
slowest input as `slowest`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.hostile_inputs import check, hostile_input  # noqa: E402
from support.hostile_tables import FUZZ_OPTIONS, check_table, hostile_table, write_input  # noqa: E402

from fhir_adapter.convert import ConvertOptions  # noqa: E402
from fhir_adapter.terminology import load_terminology  # noqa: E402


class Hang(Exception):
    """An input that ran past the per-input timeout."""


def _alarm(signum, frame):
    raise Hang()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--findings", type=Path, help="write each finding's input into this directory")
    parser.add_argument("--inputs", choices=("cases", "tables"), default="cases")
    args = parser.parse_args()

    terminology = load_terminology()
    options = ConvertOptions() if args.inputs == "cases" else FUZZ_OPTIONS
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-fuzz-"))
    rng = random.Random(args.seed)
    signal.signal(signal.SIGALRM, _alarm)
    counts = {"converted": 0, "refused": 0}
    findings: dict[tuple[str, str], tuple[str, dict[str, bytes]]] = {}
    slowest, slowest_input = 0.0, ("", {})
    tried = 0
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        if args.inputs == "cases":
            name, raw = hostile_input(rng)
            files = {name: raw}
        else:
            name, files = hostile_table(rng)
            directory = work / str(tried)
            directory.mkdir()
            write_input(directory, files)
        tried += 1
        began = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            if args.inputs == "cases":
                counts[check(name, raw, terminology, options)] += 1
            else:
                for outcome, n in check_table(directory, name, terminology, options).items():
                    counts[outcome] += n
        except Hang:
            findings.setdefault(("hang", f"over {args.timeout:g}s"), (name, files))
        except Exception as exc:  # every other exception is a finding
            findings.setdefault(
                (type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else ""), (name, files)
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if args.inputs == "tables":
                shutil.rmtree(directory, ignore_errors=True)
        if time.monotonic() - began > slowest:
            slowest, slowest_input = time.monotonic() - began, (name, files)
        if tried % 5000 == 0:
            print(f"  {tried} inputs, {len(findings)} finding(s) so far", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    shutil.rmtree(work, ignore_errors=True)
    what = "cases" if args.inputs == "cases" else "cases of the tables"
    print(
        f"seed {args.seed}: {tried} {args.inputs} inputs in {elapsed:.0f}s ({tried / elapsed:.0f}/s):"
        f" {what}: {counts['converted']} converted to valid bundles, {counts['refused']} refused with a"
        f" message; slowest input {slowest:.2f}s; {len(findings)} finding(s)"
    )
    if args.findings and slowest_input[0]:
        _write(args.findings, "slowest", args.inputs, *slowest_input)
    for i, ((kind, text), (name, files)) in enumerate(sorted(findings.items()), start=1):
        size = sum(len(raw) for raw in files.values())
        print(f"finding {i}: {kind}: {text} (input {name}, {len(files)} file(s), {size} bytes)")
        if args.findings:
            _write(args.findings, f"finding-{i}", args.inputs, name, files)
    sys.exit(1 if findings else 0)


def _write(directory: Path, label: str, inputs: str, name: str, files: dict[str, bytes]) -> None:
    """An input to replay: a case file as <label><suffix>, a table input as the directory <label>/."""
    directory.mkdir(parents=True, exist_ok=True)
    if inputs == "cases":
        (directory / f"{label}{Path(name).suffix}").write_bytes(files[name])
    else:
        (directory / label).mkdir(exist_ok=True)
        write_input(directory / label, files)


if __name__ == "__main__":
    main()
