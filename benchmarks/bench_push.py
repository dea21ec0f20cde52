"""Push throughput against the server's own ceiling, and $import, on local servers.

    python benchmarks/bench_push.py --count 200 --workers 1,4 --servers hapi,sekmet

For each server (HAPI FHIR from tools/hapi-server, sekmet-fhir), started once on 127.0.0.1 with
fresh data, and each worker count:

- ceiling: the same transaction bundles POSTed by a bare `requests` loop (a thread pool of that
  many workers, one Session each), nothing else;
- push: fhir-adapter's send_all (outbox writes, the per-case search for resources a corrected case
  no longer has, response checks);
- $import (HAPI only, once): the same cases as NDJSON through `push --bulk`'s bulk_import.

Before the timed runs, `--warm-up` bundles are posted to each server (its first requests load
HAPI's validator and warm the JVM).

Each measurement converts the cases under an identifier system of its own, so every one creates
new resources on the server, as a first push does. Conversion and server start-up are not timed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


def convert(cases: Path, system: str) -> list[tuple[str, dict]]:
    from fhir_adapter.batch import convert_stream, iter_sources
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.terminology import load_terminology

    out = []
    for result in convert_stream(
        iter_sources([str(cases)]), load_terminology(), ConvertOptions(id_system=system)
    ):
        if not result.ok:
            sys.exit(result.error)
        out.append((result.source, orjson.loads(result.bundle_json)))
    return out


def ceiling(base_url: str, bundles: list[tuple[str, dict]], workers: int) -> float:
    """Seconds for a bare requests loop to POST every bundle; exits if one is not accepted."""
    payloads = [orjson.dumps(b) for _, b in bundles]
    local = threading.local()

    def post(payload: bytes) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.post(
            base_url, data=payload, headers={"Content-Type": "application/fhir+json"}, timeout=300
        )
        return response.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(post, payloads))
    seconds = time.perf_counter() - started
    if any(s != 200 for s in statuses):
        sys.exit(f"the bare loop was refused: {sorted(set(statuses))}")
    return seconds


def push(base_url: str, bundles: list[tuple[str, dict]], workers: int, outbox: Path) -> float:
    from fhir_adapter.client import ClientSettings, FhirClient
    from fhir_adapter.push import Item, Outbox, outbox_key, send_all

    client = FhirClient(ClientSettings(base_url=base_url, read_timeout=300))
    items = [Item(outbox_key(b, src), src, b) for src, b in bundles]
    started = time.perf_counter()
    results = list(send_all(client, Outbox(outbox), items, workers=workers))
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.status != "sent"]
    if failed:
        sys.exit(f"push: {len(failed)} bundle(s) not sent, first: {failed[0].error}")
    return seconds


def bulk(base_url: str, cases: Path, system: str, work: Path) -> tuple[float, int]:
    from fhir_adapter.bulk import BulkSettings, bulk_import
    from fhir_adapter.cli import main

    out = work / "ndjson"
    try:
        main(["convert", "-q", str(cases), "--format", "ndjson", "-o", str(out), "--id-system", system])
    except SystemExit as exc:
        if exc.code:
            sys.exit(f"convert --format ndjson failed ({exc.code})")
    from fhir_adapter.client import ClientSettings, FhirClient

    client = FhirClient(ClientSettings(base_url=base_url, read_timeout=300))
    result = bulk_import(client, out, BulkSettings(max_poll_wait=1.0, timeout=3600))
    if not result.ok:
        sys.exit(f"$import did not finish cleanly: {result.error or result.messages}")
    return result.seconds, sum(f.count for f in result.files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="synthetic cases (bundles)")
    parser.add_argument("--workers", default="1,4", help="comma-separated worker counts")
    parser.add_argument("--servers", default="hapi,sekmet", help="hapi, sekmet or both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm-up", type=int, default=20, help="bundles posted first, not timed")
    args = parser.parse_args()

    from support.fhir_server import start_server
    from support.hapi_server import start_hapi
    from synthetic import write_cases

    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-push-bench-"))
    try:
        cases = write_cases(work / "cases", args.count, seed=args.seed)
        workers = [int(w) for w in args.workers.split(",") if w.strip()]
        for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
            start = start_hapi if kind == "hapi" else start_server
            with start(work / f"{kind}-data") as server:
                # Not timed: the server's first requests load its validator and warm its JIT.
                warm = convert(cases, f"https://bench.example/{kind}/warm-up")[: args.warm_up]
                ceiling(server.base_url, warm, 1)
                print(f"{kind}: {args.count} synthetic cases, server on 127.0.0.1", flush=True)
                print(
                    f"{'workers':>7} {'what':>8} {'seconds':>8} {'bundles/s':>9} {'resources/s':>11} {'vs ceiling':>10}"
                )
                for n in workers:
                    runs = {}
                    for what in ("ceiling", "push"):
                        bundles = convert(cases, f"https://bench.example/{kind}/{what}/{n}")
                        resources = sum(len(b["entry"]) for _, b in bundles)
                        if what == "ceiling":
                            seconds = ceiling(server.base_url, bundles, n)
                        else:
                            seconds = push(server.base_url, bundles, n, work / f"outbox-{kind}-{n}")
                        runs[what] = seconds
                        ratio = runs["ceiling"] / seconds
                        print(
                            f"{n:>7} {what:>8} {seconds:>8.1f} {len(bundles) / seconds:>9.1f}"
                            f" {resources / seconds:>11.0f} {ratio:>10.2f}",
                            flush=True,
                        )
                if kind == "hapi":
                    seconds, resources = bulk(
                        server.base_url, cases, "https://bench.example/hapi/import", work
                    )
                    print(
                        f"$import: {resources} resources in {seconds:.1f}s, {resources / seconds:.0f} resources/s"
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
