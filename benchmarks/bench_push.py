"""Push throughput: N synthetic transaction bundles to a local sekmet-fhir server with 1, 4 and 8 workers.

    python benchmarks/bench_push.py --count 1000 --workers 1,4,8

Conversion and server start-up are not timed. Each worker count gets a fresh server and data
directory on 127.0.0.1 (tests/support/fhir_server.py), so every run creates the same resources.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", default="1,4,8", help="comma-separated worker counts")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from support.fhir_server import start_server
    from synthetic import write_cases

    from fhir_adapter.batch import convert_stream, iter_sources
    from fhir_adapter.client import ClientSettings, FhirClient
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.push import Item, Outbox, outbox_key, send_all
    from fhir_adapter.terminology import load_terminology

    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-push-bench-"))
    try:
        write_cases(work / "cases", args.count, seed=args.seed)
        bundles = []
        for result in convert_stream(
            iter_sources([str(work / "cases")]), load_terminology(), ConvertOptions()
        ):
            if not result.ok:
                sys.exit(result.error)
            bundles.append((result.source, orjson.loads(result.bundle_json)))
        entries = sum(len(b["entry"]) for _, b in bundles)
        print(f"{len(bundles)} transaction bundles, {entries} resources; server sekmet-fhir on 127.0.0.1")
        print(f"{'workers':>7} {'seconds':>8} {'bundles/s':>9} {'resources/s':>11} {'sent':>6}")
        for workers in [int(w) for w in args.workers.split(",") if w.strip()]:
            run = work / f"run-{workers}"
            with start_server(run / "server-data") as server:
                client = FhirClient(ClientSettings(base_url=server.base_url))
                outbox = Outbox(run / "outbox")
                items = [Item(outbox_key(b, src), src, b) for src, b in bundles]
                started = time.perf_counter()
                sent = sum(r.status == "sent" for r in send_all(client, outbox, items, workers=workers))
                seconds = time.perf_counter() - started
            print(
                f"{workers:>7} {seconds:>8.2f} {len(items) / seconds:>9.1f} {entries / seconds:>11.0f} {sent:>6}",
                flush=True,
            )
            if sent != len(items):
                sys.exit(f"only {sent} of {len(items)} bundles were accepted")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
