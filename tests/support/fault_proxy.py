"""Fault-injecting test proxy: a threaded 127.0.0.1 reverse proxy scripted to fail requests."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

FaultKind = Literal["status", "drop", "reset", "lose_response", "delay"]
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# http.server adds its own Server/Date headers; don't duplicate the upstream's.
RESPONSE_SKIP = HOP_BY_HOP | {"server", "date"}
UPSTREAM_TIMEOUT = 60.0


@dataclass
class Fault:
    """One scripted misbehaviour, applied to the next request whose method matches."""

    kind: FaultKind
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    method: str | None = None  # only requests with this HTTP method consume the fault; None = any

    def matches(self, method: str) -> bool:
        """True if this fault applies to a request with the given method."""
        return self.method is None or self.method.upper() == method.upper()


@dataclass
class RecordedRequest:
    """A request the proxy saw and what it did with it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    action: str  # "forward" or a FaultKind
    status: int | None = None  # status sent to the client; None when the connection was dropped
    upstream_status: int | None = None  # status the real server gave; None when not forwarded
    received_at: float = field(default_factory=time.monotonic)  # when the proxy read the request

    def json(self) -> object:
        """Decode the request body as JSON."""
        return json.loads(self.body)


def _outcome(status: int, text: str) -> bytes:
    """Build a minimal OperationOutcome body for an injected error."""
    return json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "transient",
                    "diagnostics": f"fault proxy: injected {status} {text}",
                }
            ],
        }
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    """Per-connection handler: apply the next matching fault or forward to the upstream server."""

    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep test output quiet."""

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        """Dispatch one request."""
        body = self._read_body()
        proxy = self.server.proxy
        fault = proxy._take_fault(self.command)
        rec = RecordedRequest(
            self.command,
            self.path,
            dict(self.headers.items()),
            body,
            fault.kind if fault else "forward",
        )
        proxy._record(rec)
        if fault is None or fault.kind == "delay":
            if fault is not None:
                time.sleep(fault.delay)
            self._forward(rec, body, send=True)
        elif fault.kind == "status":
            self._send(rec, fault.status, list(fault.headers.items()), fault.body)
        elif fault.kind == "lose_response":
            self._forward(rec, body, send=False)
            self._drop(reset=False)
        else:
            self._drop(reset=fault.kind == "reset")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _forward(self, rec: RecordedRequest, body: bytes, send: bool) -> None:
        """Send the request unchanged to the upstream server and relay (or swallow) its answer."""
        up = self.server.proxy.upstream
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(
                self.command,
                self.path,
                body=body if body or self.command in ("POST", "PUT", "PATCH") else None,
                headers=headers,
            )
            resp = conn.getresponse()
            data = resp.read()
            resp_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in RESPONSE_SKIP]
            rec.upstream_status = resp.status
        except OSError as e:
            if send:
                self._send(rec, 502, [], _outcome(502, f"upstream unreachable: {e}"))
            return
        finally:
            conn.close()
        if send:
            self._send(rec, resp.status, resp_headers, data, reason=resp.reason)

    def _send(
        self,
        rec: RecordedRequest,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes | None,
        reason: str | None = None,
    ) -> None:
        """Write a complete response to the client."""
        if body is None:
            body = _outcome(status, http.client.responses.get(status, ""))
            headers = [("Content-Type", "application/fhir+json; charset=utf-8"), *headers]
        rec.status = status
        self.send_response(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _drop(self, reset: bool) -> None:
        """Close the client connection without any response (RST instead of FIN when reset)."""
        self.close_connection = True
        sock: socket.socket = self.connection
        try:
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


class _ProxyServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its FaultProxy."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy) -> None:
        """Bind to an ephemeral port on 127.0.0.1."""
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore client-side disconnects (expected when faults drop connections)."""


class FaultProxy:
    """Fault-injecting test proxy before a real FHIR server; forwards unless scripted."""

    def __init__(self, upstream_base_url: str) -> None:
        """Prepare a proxy for upstream_base_url (http://127.0.0.1:PORT/fhir); then start()."""
        self.upstream = urlsplit(upstream_base_url)
        if self.upstream.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("fault proxy only forwards to loopback servers")
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._seen: list[RecordedRequest] = []
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----

    def start(self) -> FaultProxy:
        """Bind and serve in a background thread; returns self."""
        if self._server is None:
            self._server = _ProxyServer(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="fault-proxy", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; safe to call twice."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        """Start the proxy for a with-block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the proxy when the with-block ends."""
        self.stop()

    @property
    def port(self) -> int:
        """The proxy's listening port."""
        if self._server is None:
            raise RuntimeError("fault proxy not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Proxy URL with the upstream's path (e.g. http://127.0.0.1:PROXYPORT/fhir)."""
        return f"http://127.0.0.1:{self.port}{self.upstream.path.rstrip('/')}"

    # ---- scripting ----

    def add(self, fault: Fault, times: int = 1) -> None:
        """Queue `fault` for the next `times` matching requests (faults are consumed in order)."""
        with self._lock:
            self._faults.extend(
                Fault(
                    fault.kind,
                    fault.status,
                    dict(fault.headers),
                    fault.body,
                    fault.delay,
                    fault.method,
                )
                for _ in range(times)
            )

    def fail_next(
        self,
        status: int = 503,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` instead of forwarding them."""
        self.add(Fault("status", status, headers or {}, body, method=method), times)

    def throttle_next(
        self, times: int = 1, retry_after: str = "1", status: int = 429, method: str | None = None
    ) -> None:
        """Answer the next `times` requests with 429 (or `status`) and a Retry-After header."""
        self.fail_next(status, times, {"Retry-After": retry_after}, method=method)

    def drop_next(self, times: int = 1, reset: bool = False, method: str | None = None) -> None:
        """Close the connection without a response for the next `times` requests (not forwarded)."""
        self.add(Fault("reset" if reset else "drop", method=method), times)

    def lose_response_next(self, times: int = 1, method: str | None = None) -> None:
        """Forward the next `times` requests (the server applies them) but drop the response."""
        self.add(Fault("lose_response", method=method), times)

    def delay_next(self, seconds: float, times: int = 1, method: str | None = None) -> None:
        """Wait `seconds` before forwarding the next `times` requests (for client timeout tests)."""
        self.add(Fault("delay", delay=seconds, method=method), times)

    def clear(self) -> None:
        """Forget pending faults and recorded requests."""
        with self._lock:
            self._faults.clear()
            self._seen.clear()

    @property
    def pending(self) -> int:
        """Number of faults not yet consumed."""
        with self._lock:
            return len(self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Copy of the requests seen so far, oldest first."""
        with self._lock:
            return list(self._seen)

    def _take_fault(self, method: str) -> Fault | None:
        """Pop the first queued fault that applies to `method`."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(method):
                    return self._faults.pop(i)
        return None

    def _record(self, rec: RecordedRequest) -> None:
        """Append a request to the log."""
        with self._lock:
            self._seen.append(rec)
