"""What the client's guards cost: requests a second against a local server, and a gzip bomb's price.

    python benchmarks/bench_client.py --requests 2000

Every request now runs under a deadline watchdog (a timer thread that cuts the connection when
--max-time passes) and reads its answer through a decoded-size cap. This measures GETs of a small
resource from a keep-alive HTTP/1.1 server on 127.0.0.1 (the same connection reused, as in a
push), then the time and peak memory of refusing a 1 MB gzip answer that inflates to 1 GiB.
Run it from a checkout before and after a change to compare; it prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy
from fhir_adapter.errors import AdapterError

PATIENT = json.dumps({"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}]}).encode()


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    return b"".join(
        [
            packer.compress(b'{"x": "'),
            *(packer.compress(block) for _ in range(1024)),
            packer.compress(b'"}') + packer.flush(),
        ]
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a FHIR server answers
    wbufsize = 1 << 16  # headers and body in one segment: no delayed-ACK stall per request
    disable_nagle_algorithm = True
    bomb = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.endswith("/bomb"):
            body, extra = self.bomb, [("Content-Encoding", "gzip")]
        else:
            body, extra = PATIENT, []
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on the bomb is the point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    _Handler.bomb = _bomb()
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    client = FhirClient(ClientSettings(base_url=base, retry=RetryPolicy(total_timeout=60)))
    client.request("GET", "Patient/p1")  # connect once
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.requests):
        response, _ = client.request("GET", "Patient/p1")
        assert response.status_code == 200
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"{args.requests} GETs in {elapsed:.2f}s: {args.requests / elapsed:,.0f} requests/s;"
        f" {cpu / args.requests * 1000:.2f} ms CPU per request (client and server, one process)"
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        response, _ = client.request("GET", "bomb")
        outcome = f"read whole: {len(response.content):,} bytes"
    except AdapterError as exc:
        outcome = f"refused: {str(exc)[:90]}"
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"1 GiB gzip bomb ({len(_Handler.bomb):,} bytes sent): {outcome}; {elapsed:.2f}s,"
        f" peak memory {peak / 1024:,.0f} MB (+{(peak - before) / 1024:,.0f} MB)"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
