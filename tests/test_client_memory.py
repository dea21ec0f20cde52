"""A long run holds no finished request: the deadline watchdogs let go of their connections."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fhir_adapter import client as client_module
from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy


class _Metadata(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body in one write: no wait for the client's delayed ACK

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_finished_requests_are_not_held_until_their_deadline():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        # A deadline of an hour: nothing may wait for it to pass before it is let go.
        base = f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
        fhir = FhirClient(ClientSettings(base_url=base, retry=RetryPolicy(total_timeout=3600.0)))
        for _ in range(400):
            response, _ = fhir.request("GET", "metadata")
            assert response.status_code == 200
        heap = client_module._REAPER._heap
        # Each of 400 requests had a watchdog; the finished ones are swept, not kept for an hour.
        assert len(heap) < 150
        assert all(w._conn is None and w._sock is None for _, _, w in heap if w._done)
    finally:
        httpd.shutdown()
