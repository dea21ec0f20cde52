"""A scripted HTTP peer on 127.0.0.1: answers each request with the bytes a test gives, as slowly,
as wrongly or as briefly as the test asks (a trickle, a connection dropped mid-answer, a gzip bomb,
a redirect loop). For the hostile-server tests; it never forwards anything anywhere.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TRICKLE_LIMIT = 30.0  # a trickling answer stops after this long, so a test that fails cannot hang


@dataclass
class Request:
    """A request the peer read."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Reply:
    """What the peer sends back, and how."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw: bytes | None = None  # sent as it is instead of a status line, headers and body
    trickle: float = 0.0  # seconds between single bytes of the body (and of the head with trickle_head)
    trickle_head: bool = False
    close_after: int | None = None  # drop the connection after this many bytes of the body
    content_length: int | None = None  # the Content-Length to claim; default: the body's length
    silent: bool = False  # send nothing at all and hold the connection until the peer stops

    def head(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Whatever')}"]
        names = {k.lower() for k in self.headers}
        for name, value in self.headers.items():
            lines.append(f"{name}: {value}")
        if "content-length" not in names and "transfer-encoding" not in names:
            lines.append(
                f"Content-Length: {self.content_length if self.content_length is not None else len(self.body)}"
            )
        if "connection" not in names:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {200: "OK", 201: "Created", 202: "Accepted", 301: "Moved", 302: "Found", 307: "Temporary Redirect",
           400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable"}  # fmt: skip


EMPTY_SEARCH = Reply(
    200,
    {"Content-Type": "application/fhir+json"},
    b'{"resourceType":"Bundle","type":"searchset","total":0,"entry":[]}',
)


class HostilePeer:
    """Serve scripted replies on 127.0.0.1 in a background thread, one connection per request."""

    def __init__(
        self, answer: Reply | Callable[[Request], Reply], path: str = "/fhir", *, answer_searches: bool = True
    ):
        self.answer = answer  # may be replaced between requests
        self.path = path
        self.requests: list[Request] = []
        # Before each transaction, push searches by the case's tag for what a corrected case no
        # longer has. Unless a test scripts those answers itself, they get an empty searchset and
        # are kept apart (in `searches`), so that `requests` holds what the test scripted.
        self.answer_searches = answer_searches
        self.searches: list[Request] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, name="hostile-peer", daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def __enter__(self) -> HostilePeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass  # wakes the accept loop now rather than at its next poll
        self._thread.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            request = _read_request(conn)
            if request is None:
                return
            if self.answer_searches and request.method == "GET" and "_tag=" in request.path:
                with self._lock:
                    self.searches.append(request)
                self._send(conn, EMPTY_SEARCH)
                return
            with self._lock:
                self.requests.append(request)
            answer = self.answer
            reply = answer(request) if callable(answer) else answer
            self._send(conn, reply)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _send(self, conn: socket.socket, reply: Reply) -> None:
        if reply.silent:
            self._stop.wait(TRICKLE_LIMIT)
            return
        if reply.raw is not None:
            conn.sendall(reply.raw)
            return
        head = reply.head()
        body = reply.body if reply.close_after is None else reply.body[: reply.close_after]
        started = time.monotonic()
        if reply.trickle and reply.trickle_head:
            self._trickle(conn, head, reply.trickle, started)
        else:
            conn.sendall(head)
        if reply.trickle:
            self._trickle(conn, body, reply.trickle, started)
        else:
            conn.sendall(body)

    def _trickle(self, conn: socket.socket, data: bytes, pause: float, started: float) -> None:
        for i in range(len(data)):
            if self._stop.is_set() or time.monotonic() - started > TRICKLE_LIMIT:
                return
            conn.sendall(data[i : i + 1])
            time.sleep(pause)


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Request(method, path, headers, rest[:length])
