"""Peak memory of `convert --post` as the batch grows: N synthetic cases converted and sent in one run.

    python benchmarks/bench_post.py --sizes 1000,10000,100000
    python benchmarks/bench_post.py --sizes 10000 --server http://127.0.0.1:8080/fhir   # a real server

Each N is one `fhir-adapter convert CASES.ndjson --post` process, timed by /usr/bin/time (peak RSS
of that process alone). The cases are one NDJSON file (one case JSON per line), written before
the clock starts. Without --server the bundles go to an acknowledging server started here on
127.0.0.1: it reads each transaction whole and answers a transaction-response with `201 Created`
for every entry and an empty searchset to every search, storing nothing, so that the client, not a database, is what is measured. With
--server they go to that server (127.0.0.1 only), which must accept PUTs of new ids.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


class _Acknowledge(BaseHTTPRequestHandler):
    """POST: a transaction-response with one 201 per entry; a search: an empty searchset; metadata."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write: two small writes on a kept-alive connection wait out
    # the client's delayed ACK (40 ms a request).
    wbufsize = 1 << 16

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if "?" in self.path:  # push's searches for what a corrected case no longer has: nothing here
            self._answer(200, {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []})
            return
        self._answer(200, {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"})

    def do_POST(self) -> None:  # noqa: N802
        bundle = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        entries = [
            {
                "response": {
                    "status": "201 Created",
                    "location": f"{e['request']['url']}/_history/1",
                    "etag": 'W/"1"',
                }
            }
            for e in bundle.get("entry", [])
        ]
        self._answer(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": entries})


def write_ndjson_cases(path: Path, count: int, seed: int) -> None:
    from synthetic import CaseGenerator

    gen = CaseGenerator(seed)
    with path.open("w", encoding="utf-8") as fh:
        for index in range(count):
            fh.write(json.dumps(gen.case(index), separators=(",", ":")) + "\n")


def run_once(cases: Path, count: int, server: str, work: Path, workers: int) -> dict:
    outbox = work / f"outbox-{count}"
    command = [
        "/usr/bin/time", "-f", "%M %e %U %S",
        # The installed command beside this interpreter: `python -m` would import the package
        # from the current directory instead.
        str(Path(sys.executable).with_name("fhir-adapter")), "convert", str(cases), "--post", "-q",
        "--server", server, "--outbox", str(outbox), "--workers", str(workers),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    last = done.stderr.strip().splitlines()[-1]
    rss_kb, wall, user, system = last.split()
    sent = re.search(r"(\d+) of (\d+) bundle\(s\) sent", done.stderr)
    if done.returncode not in (0, 3) or sent is None or int(sent.group(1)) != count:
        sys.exit(f"the run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    shutil.rmtree(outbox, ignore_errors=True)
    return {
        "n": count,
        "sent": int(sent.group(1)),
        "seconds": float(wall),
        "cpu": float(user) + float(system),
        "rss_mb": int(rss_kb) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--server", help="a FHIR base URL on 127.0.0.1 (default: the acknowledging server)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.server and urlparse(args.server).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("--server: benchmarks only send to a server on this machine (127.0.0.1)")

    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-post-bench-"))
    httpd = None
    try:
        server = args.server
        if server is None:
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Acknowledge)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            server = f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
        cases = work / "cases.ndjson"
        write_ndjson_cases(cases, max(sizes), args.seed)
        load = os.getloadavg()[0]
        print(
            f"convert --post to {'an acknowledging server' if args.server is None else server}; load {load:.1f}"
        )
        print(
            f"{'N':>8} {'sent':>8} {'seconds':>8} {'cases/s':>8} {'CPU s':>7} {'peak RSS':>9} {'vs first':>8}"
        )
        first = None
        for count in sizes:
            part = work / f"cases-{count}.ndjson"
            with cases.open("rb") as src, part.open("wb") as dst:
                for _ in range(count):
                    dst.write(src.readline())
            row = run_once(part, count, server, work, args.workers)
            first = first or row["rss_mb"]
            print(
                f"{row['n']:>8} {row['sent']:>8} {row['seconds']:>8.1f} {row['n'] / row['seconds']:>8.0f}"
                f" {row['cpu']:>7.1f} {row['rss_mb']:>7.1f}MB {row['rss_mb'] / first:>8.2f}",
                flush=True,
            )
            part.unlink()
    finally:
        if httpd is not None:
            httpd.shutdown()
        shutil.rmtree(work, ignore_errors=True)
        time.sleep(0)


if __name__ == "__main__":
    main()
