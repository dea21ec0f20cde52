"""HTTP for fhir-adapter: the only module that imports requests. Retries, deadlines, auth, outcomes.

Every request, to a FHIR server or to an LLM endpoint, goes through `HttpClient.request`, which
holds one set of rules whatever the peer does:

- a deadline for the whole request, retries included (`--max-time`): a watchdog cuts the
  connection when it passes, so a peer that trickles its answer a byte at a time cannot outlive it;
- a cap on the size of every answer once decoded, so a small gzip answer cannot inflate to GBs;
- retries with exponential backoff and full jitter for connection errors, timeouts, a connection
  that broke mid-answer, 408, 429 and 5xx (but 501 and 505, which no retry changes), honouring
  Retry-After within the deadline;
- credentials go only to the origin they were given for: redirects are followed for reads only,
  and without the Authorization header when they lead to another scheme, host or port;
- every failure is an AdapterError with a sentence; URLs in messages carry no credentials, and
  text the peer supplied is shown with its control characters escaped.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import heapq
import http.client
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import orjson
import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
import urllib3.util

from . import __version__
from .errors import (
    ConfigError,
    ServerRejectedError,
    ServerResponseError,
    ServerUnavailableError,
    printable,
    redact_url,
)

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
# Statuses a later attempt may change. Every other 5xx is retried too, but 501 (not implemented)
# and 505 (HTTP version not supported), which say the same whenever they are asked.
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
NEVER_RETRIED_5XX = frozenset({501, 505})
RETRIED = RETRY_STATUSES | (frozenset(range(500, 600)) - NEVER_RETRIED_5XX)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_ANSWER_BYTES = 64 * 1024 * 1024  # decoded; a transaction-response of 10,000 entries is ~2 MB
MAX_REDIRECTS = 10
_CHUNK = 64 * 1024
_LOCATION_RE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/?#]+))?/?$")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in total time."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    total_timeout: float = 120.0
    max_retry_after: float = 60.0  # a longer Retry-After is waited only this long before the next try

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The pause before retry number `attempt` (1-based) when the server gave no Retry-After."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))


@dataclass(frozen=True)
class ClientSettings:
    """How to reach a server; built once from flags, environment and defaults."""

    base_url: str
    token: str | None = None
    basic_auth: tuple[str, str] | None = None
    verify: bool | str = True
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_answer_bytes: int = MAX_ANSWER_BYTES
    accept: str = FHIR_JSON
    # How messages name the settings, for a person to know which flag to change.
    read_timeout_name: str = "--timeout"
    deadline_name: str = "--max-time"


@dataclass(frozen=True)
class Answer:
    """A whole HTTP answer, read within the deadline and the size cap."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON (or nests past 1,024 levels).

        JSON on the network is UTF-8 without a byte order mark (RFC 8259), but a parser may skip
        the mark, and a server that says (by its mark or its Content-Type charset) that it sent
        UTF-16 or UTF-32 is read in that encoding: read as "not JSON", an answer saying the
        transaction was stored would leave the bundle waiting, and every resend the same.
        """
        content = self.content
        encoding = _declared_encoding(content, self.headers.get("Content-Type") or "")
        if encoding is not None:
            try:
                text = content.decode(encoding)
            except (UnicodeError, LookupError) as exc:
                raise ValueError(f"not {encoding} text: {exc}") from None
            content = text.removeprefix("\ufeff").encode("utf-8", "surrogatepass")
        return orjson.loads(content)


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_CHARSET_RE = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def _declared_encoding(content: bytes, content_type: str) -> str | None:
    """The encoding a body's byte order mark or Content-Type charset names, when it is not plain UTF-8."""
    for mark, encoding in _BOMS:
        if content.startswith(mark):
            return encoding  # the mark is decoded as U+FEFF, and dropped
    match = _CHARSET_RE.search(content_type)
    if match:
        name = match.group(1).lower().replace("_", "-")
        if name in ("utf-16", "utf-32"):
            return name + "-be"  # without a mark, big-endian (RFC 2781)
        if name.startswith(("utf-16", "utf-32")):
            return name
    return None


@dataclass(frozen=True)
class EntryResult:
    """One entry of a transaction-response: HTTP status and where the server keeps the resource."""

    status: int
    status_text: str
    resource_type: str | None
    id: str | None
    version: str | None
    location: str | None
    # The first error or fatal issue of the entry's `response.outcome`, which FHIR gives for hints
    # and warnings: on a 2xx entry it says the entry both was and was not done.
    outcome_error: str | None = None


@dataclass(frozen=True)
class TransactionResult:
    status: int
    entries: list[EntryResult]
    attempts: int


# ---- what a person sees of URLs and of what a server said ----


def shown_url(url: str) -> str:
    """A URL as messages show it: no credentials, no control characters."""
    return printable(redact_url(url), 300)


def url_hosts(url: str, *, lenient: bool = False) -> set[str]:
    """The host a URL names, as read by Python's parser and by the one that opens the connection.

    They can disagree on odd spellings (a backslash, several '@'); a check on a host must hold
    for both. Raises ValueError for a URL either cannot read (`lenient`: only Python's).
    """
    hosts = set()
    parsed = urlsplit(url)
    hosts.add(parsed.hostname or "")
    try:
        hosts.add((urllib3.util.parse_url(url).host or "").strip("[]").lower())
    except urllib3.exceptions.LocationParseError as exc:
        if not lenient:
            raise ValueError(str(exc)) from None
    return {h for h in hosts if h} or {""}


def normalise_host(host: str) -> str:
    """A host name in the one spelling two names for the same host share.

    Percent-escapes decoded, IDNA (fullwidth letters, other dots, upper case) applied, trailing
    dots dropped, lower case. Raises ValueError for a name that is not a valid host name.
    """
    name = unquote(host).strip()
    for dot in ("\u3002", "\uff0e", "\uff61"):  # IDNA's other full stops
        name = name.replace(dot, ".")
    name = name.rstrip(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{host!r} is not a valid host name") from None
    return name.lower().rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether a host is this machine (127.0.0.0/8, ::1, localhost)."""
    name = normalise_host(host).strip("[]")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    if name == "::1" or name == "0:0:0:0:0:0:0:1":
        return True
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and int(p) < 256 for p in parts)


def check_url(
    url: str, *, what: str = "--server", credentials: bool = False, allow_plain_http: bool = False
) -> None:
    """Refuse a URL that is not http(s) with a host, or that would send credentials in clear text.

    A token or password over plain http can be read by anyone on the way; to this machine
    (127.0.0.1, localhost) that is no risk, elsewhere it needs `allow_plain_http`.
    """
    shown = shown_url(url)
    try:
        parsed = urlsplit(url)
        hosts = url_hosts(url)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
        for host in hosts:
            normalise_host(host)
    except ValueError as exc:
        raise ConfigError(f"{what} {shown}: not a URL that can be used ({printable(exc)})") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            f"{what} {shown}: not an http(s) URL; give the FHIR base, e.g. http://127.0.0.1:8080/fhir"
        )
    if (
        credentials
        and not allow_plain_http
        and parsed.scheme == "http"
        and not all(is_loopback(h) for h in hosts)
    ):
        raise ConfigError(
            f"{what} {shown}: a token or password would go over plain http to"
            f" {printable(parsed.hostname)}, where anyone on the way can read it. Use https, or pass"
            " --allow-plain-http-auth if the network between is trusted"
        )


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without user:password@, and the pair it held (None if none)."""
    parsed = urlsplit(url)
    if "@" not in parsed.netloc:
        return url, None
    userinfo, _, hostport = parsed.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return parsed._replace(netloc=hostport).geturl(), (unquote(user), unquote(password))


def _origin(url: str) -> tuple[str, str, int | None]:
    try:  # a URL Python cannot split (`http://[::1`, a port past 65535) is no origin's
        parsed = urlsplit(url)
    except ValueError:
        return ("?", "?", None)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    try:
        host = normalise_host(parsed.hostname or "")
        port = parsed.port or default
    except ValueError:
        return (parsed.scheme, "?", None)
    return (parsed.scheme, host, port)


def same_origin(url: str, base: str) -> bool:
    """Whether two URLs share scheme, host and port: where credentials given for `base` may go."""
    return _origin(url) == _origin(base)


def parse_issues(body: Any) -> list[dict[str, Any]]:
    """The issues of an OperationOutcome, as plain dicts of text; whatever the server put there."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    issues = body.get("issue")
    if isinstance(issues, dict):
        issues = [issues]
    if not isinstance(issues, list):
        return [{"severity": "error", "code": None, "diagnostics": _text(issues), "expression": []}]
    out = []
    for issue in issues[:100]:
        if not isinstance(issue, dict):
            out.append({"severity": None, "code": None, "diagnostics": _text(issue), "expression": []})
            continue
        details = issue.get("details")
        diagnostics = issue.get("diagnostics") or (details.get("text") if isinstance(details, dict) else None)
        where = issue.get("expression") or issue.get("location") or []
        if not isinstance(where, list):
            where = [where]
        out.append(
            {
                "severity": _text(issue.get("severity")),
                "code": _text(issue.get("code")),
                "diagnostics": _text(diagnostics),
                "expression": [t for t in (_text(w) for w in where[:20]) if t],
            }
        )
    return out


def _text(value: Any, limit: int = 2000) -> str | None:
    """A scalar the server sent, as text of bounded length; None for nothing or a structure."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


class PageTally:
    """What a search's pages list (matches, not includes or outcomes) against the `total` they give.

    Pages that end before their total leave resources unread: push would keep resources a corrected
    case no longer has, export would miss part of a patient.
    """

    def __init__(self) -> None:
        self.listed = 0
        self.total: int | None = None

    def add(self, page: dict[str, Any]) -> None:
        total = page.get("total")
        if isinstance(total, str) and total.strip().isascii() and total.strip().isdigit():
            # unsignedInt is a JSON number, but a server writing "5" still says 5 match: read as no
            # total, it let pages listing 3 pass as whole.
            total = int(total.strip())
        if isinstance(total, int) and not isinstance(total, bool):
            self.total = total if self.total is None else max(self.total, total)
        for entry in page.get("entry") or []:
            search = entry.get("search") if isinstance(entry, dict) else None
            self.listed += (search.get("mode") if isinstance(search, dict) else None) not in (
                "include",
                "outcome",
            )

    @property
    def short(self) -> bool:
        """Whether the pages listed fewer than the server says match."""
        return self.total is not None and self.total > self.listed


def format_issues(issues: list[dict[str, Any]]) -> str:
    """One line per issue: severity, code, where and the server's words, control characters escaped."""
    lines = []
    for issue in issues:
        where = ", ".join(printable(w, 200) for w in issue.get("expression") or [])
        lines.append(
            f"  {printable(issue.get('severity') or '?', 40)} [{printable(issue.get('code') or '?', 40)}]"
            + (f" at {where}" if where else "")
            + f": {printable(issue.get('diagnostics') or '(no diagnostics)', 1000)}"
        )
    return "\n".join(lines)


def parse_location(location: str | None) -> tuple[str | None, str | None, str | None]:
    """`[base/]Type/id[/_history/vid]` -> (Type, id, vid); servers differ on absolute or relative."""
    if not location:
        return None, None, None
    match = _LOCATION_RE.search(location)
    if not match:
        return None, None, None
    return match.group(1), match.group(2), match.group(3)


def retry_after(answer: Answer) -> float | None:
    """Seconds from a Retry-After header (delay or HTTP date); None when absent or unreadable."""
    value = answer.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value) if len(value) < 20 else float("inf")
    # The header sent twice reaches us joined by a comma ('5, 5'); an HTTP date has commas of its
    # own, so only a list of delays is split, and the longest is what the server asked for.
    delays = [part.strip() for part in value.split(",")]
    if len(delays) > 1 and all(d.isdigit() for d in delays):
        return max(float(d) if len(d) < 20 else float("inf") for d in delays)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        return max(0.0, when.timestamp() - time.time())
    except (OverflowError, OSError, ValueError):
        return None


def _seconds(value: float) -> str:
    return "forever" if value == float("inf") else f"{value:,.0f}s"


def snippet(answer: Answer) -> str:
    """The Content-Type and the start of a body, for a message about an answer that is not what it should be."""
    text = answer.content[:200].decode("utf-8", "replace").strip()
    kind = printable(answer.headers.get("Content-Type", "no Content-Type"), 100)
    return f"{kind}: {text!r}" if text else f"{kind}, empty body"


def body_of(answer: Answer) -> Any:
    """The JSON of an answer, or None when it is not JSON."""
    try:
        return answer.json()
    except ValueError:
        return None


def _outcome_text(answer: Answer) -> str:
    """What an error answer says: its OperationOutcome's issues, else the start of its body, one line."""
    issues = parse_issues(body_of(answer))
    if issues:
        return "; ".join(printable(i.get("diagnostics") or i.get("code") or "?", 200) for i in issues[:3])
    return printable(answer.content[:200].decode("utf-8", "replace").strip(), 200)


# ---- the deadline: a watchdog that cuts the connection of a request in flight ----

_inflight = threading.local()


class _Watchdog:
    """Cuts the connection a request uses when its deadline passes, wherever the request waits.

    It keeps the socket itself: http.client lets go of a connection's socket once the headers
    of a `Connection: close` answer are read, while the body is still to come through it.
    """

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._conn: Any = None
        self._sock: Any = None
        self._done = False
        self.fired = False
        self.connected = False  # a connection was made: a failure now is not "could not connect"
        self.due = time.monotonic() + max(seconds, 0.0)

    def __enter__(self) -> _Watchdog:
        _inflight.watchdog = self
        _REAPER.watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            # The reaper may hold this watchdog until its due time: let go of the connection now.
            self._conn = self._sock = None
        _inflight.watchdog = None
        _REAPER.finished()

    def attach(self, conn: Any) -> None:
        """The request is about to use this connection (connected already, or about to connect)."""
        with self._lock:
            self._conn = conn
            if getattr(conn, "sock", None) is not None:
                self._sock = conn.sock
                self.connected = True
            if self.fired:
                self._cut()

    def made(self, conn: Any) -> None:
        """The connection is made (TLS included)."""
        with self._lock:
            self._conn = conn
            self._sock = getattr(conn, "sock", None)
            self.connected = True
            if self.fired:
                self._cut()

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            self._cut()

    def _cut(self) -> None:
        sock = self._sock if self._sock is not None else getattr(self._conn, "sock", None)
        if sock is None:
            return
        try:
            # The plain socket's shutdown, also under TLS: it wakes a read blocked in another thread.
            if isinstance(sock, socket.socket):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            else:  # pragma: no cover - TLS in TLS through a proxy
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Reaper:
    """One thread for every watchdog of the process: it fires each at its due time.

    (A timer thread per request would cost a thread start each; this costs a heap push.)
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._count = 0
        self._finished = 0  # watchdogs done since the heap was last swept
        self._thread: threading.Thread | None = None

    def finished(self) -> None:
        """A request ended in time. When most of the heap is such, sweep it.

        The thread only forgets a finished watchdog when it comes to the top of the heap, at its
        due time: with a deadline of minutes, a busy run would hold thousands. Sweeping when
        finished ones are over half the heap keeps it to about twice the requests in flight, at a
        cost spread over the requests (each is swept out once).
        """
        with self._cond:
            self._finished += 1
            if self._finished > 64 and self._finished * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2]._done]
                heapq.heapify(self._heap)
                self._finished = 0

    def watch(self, watchdog: _Watchdog) -> None:
        with self._cond:
            self._count += 1
            heapq.heappush(self._heap, (watchdog.due, self._count, watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fhir-adapter-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watchdog:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2]._done:
                    heapq.heappop(self._heap)  # finished in time: forgotten here
                if not self._heap:
                    self._cond.wait(timeout=60)
                    continue
                due, _, watchdog = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(timeout=wait)
                    continue
                heapq.heappop(self._heap)
            watchdog.fire()


_REAPER = _Reaper()
if hasattr(os, "register_at_fork"):  # a child starts with no deadlines and a lock nobody holds
    os.register_at_fork(after_in_child=_REAPER.__init__)


def _watchdog() -> _Watchdog | None:
    return getattr(_inflight, "watchdog", None)


class _Watched:
    """Mixin for urllib3 connections: tell the request's watchdog which connection it uses."""

    def connect(self) -> None:
        watchdog = _watchdog()
        if watchdog is not None:
            watchdog.attach(self)
        super().connect()  # type: ignore[misc]
        if watchdog is not None:
            watchdog.made(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watchdog = _watchdog()
        if watchdog is not None:
            watchdog.attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _Connection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _TlsConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


_POOLS = {"http": _Pool, "https": _TlsPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter with connections the watchdog can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


class _NoAuth(requests.auth.AuthBase):
    """No credentials from ~/.netrc or the URL: only those the settings give, and only to their origin."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


# ---- one exchange, and the outcomes the retry loop tells apart ----


class _Retry(Exception):
    """An attempt that failed in a way a later attempt may not: say why, maybe with a status."""

    def __init__(self, problem: str, status: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.status = status


class _Deadline(Exception):
    """The deadline passed while the request was under way."""


class HttpClient:
    """HTTP requests to one base URL with fhir-adapter's rules; safe to share between threads."""

    def __init__(self, settings: ClientSettings, *, sleep=time.sleep, rng: random.Random | None = None):
        base, in_url = split_credentials(settings.base_url)
        if in_url is not None:
            # user:password@ in the URL is basic auth (unless other credentials are given); the
            # URL kept, and every message made from it, no longer holds them.
            given = settings.basic_auth is not None or settings.token is not None
            settings = replace(settings, base_url=base, basic_auth=settings.basic_auth if given else in_url)
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.shown_base = shown_url(self.base_url)
        self._local = threading.local()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._authorization = None
        if settings.token:
            self._authorization = f"Bearer {settings.token}"
        elif settings.basic_auth:
            pair = f"{settings.basic_auth[0]}:{settings.basic_auth[1]}".encode()
            self._authorization = f"Basic {base64.b64encode(pair).decode('ascii')}"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = _Adapter(max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(
                {
                    "Accept": self.settings.accept,
                    "Accept-Encoding": "gzip, deflate",
                    "User-Agent": f"fhir-adapter/{__version__}",
                }
            )
            session.verify = self.settings.verify
            self._local.session = session
        return session

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: bytes | None = None,
        params=None,
        follow_redirects: bool = True,
        headers: dict[str, str] | None = None,
        within: float | None = None,
        within_name: str | None = None,
        retry_statuses: frozenset[int] | None = None,
    ) -> tuple[Answer, int]:
        """Send one request with retries; return the final whole answer and the number of attempts.

        Retries connection errors, timeouts, a connection that broke mid-answer, 408, 429 and
        5xx (or `retry_statuses`), honouring Retry-After (up to the policy's max_retry_after a
        time), until the policy's attempts run out or the deadline passes: the policy's total
        time, or `within` seconds (named `within_name` in messages) if that is sooner. Safe for
        our transactions because every entry is a PUT to a fixed id: a retry after a lost answer
        changes nothing. `path` may also be an absolute URL the server handed out (a status URL);
        credentials go with it only when it is on the same origin as the base URL.
        """
        url = self.url_for(path)
        shown = shown_url(url)
        policy = self.settings.retry
        limit, limit_name = (
            policy.total_timeout,
            f"{policy.total_timeout:g}s allowed for one request ({self.settings.deadline_name})",
        )
        if within is not None and within < limit:
            limit = max(within, 0.0)
            limit_name = f"{limit:.3g}s left of {within_name or 'the time allowed'}"
        started = time.monotonic()
        deadline = started + limit
        send_headers = {"Content-Type": FHIR_JSON} if json_body is not None else {}
        send_headers.update(headers or {})
        attempt = 0
        last_problem, last_status, said = "", None, ""
        while True:
            attempt += 1
            asked: float | None = None
            try:
                answer = self._follow(
                    method, url, json_body, params, send_headers, follow_redirects, deadline
                )
            except _Deadline as exc:
                earlier = f"{last_problem}; then " if last_problem else ""
                raise ServerUnavailableError(
                    f"{method} {shown}: {earlier}{exc} within the {limit_name};"
                    f" gave up after {attempt} attempt(s)",
                    status=last_status,
                ) from None
            except _Retry as exc:
                last_problem, last_status, said = exc.problem, exc.status, ""
            else:
                status = answer.status_code
                retried = RETRIED if retry_statuses is None else retry_statuses
                if status not in retried:
                    log.debug("%s %s: %s after %d attempt(s)", method, shown, status, attempt)
                    return answer, attempt
                last_status = status
                last_problem = f"HTTP {status}"
                said = f"; the server said: {_outcome_text(answer)}" if _outcome_text(answer) else ""
                asked = retry_after(answer)
            remaining = deadline - time.monotonic()
            if attempt >= policy.max_attempts or remaining <= 0:
                raise ServerUnavailableError(
                    f"{method} {shown}: {last_problem}; gave up after {attempt} attempt(s)"
                    f" in {time.monotonic() - started:.0f}s{said}",
                    status=last_status,
                )
            wait = policy.delay(attempt, self._rng) if asked is None else min(asked, policy.max_retry_after)
            if wait > remaining:
                if asked is not None:
                    capped = f" (waited at most {policy.max_retry_after:g}s)" if asked > wait else ""
                    reason = (
                        f"the server asked to wait {_seconds(asked)} before retrying (Retry-After){capped},"
                        f" longer than the {remaining:.0f}s left of the {limit_name}"
                    )
                else:
                    reason = f"no time left for another attempt within the {limit_name}"
                raise ServerUnavailableError(
                    f"{method} {shown}: {last_problem}; {reason}; gave up after {attempt} attempt(s){said}",
                    status=last_status,
                )
            log.info(
                "%s %s: %s; retrying in %.1fs (attempt %d)", method, shown, last_problem, wait, attempt + 1
            )
            self._sleep(wait)

    def _follow(self, method, url, body, params, headers, follow_redirects, deadline) -> Answer:
        """One attempt: the exchange, and for reads the redirects after it (credentials to their origin only)."""
        seen = [url]
        while True:
            answer = self._exchange(method, url, body, params, headers, deadline)
            location = answer.headers.get("Location")
            if not (
                follow_redirects
                and method in ("GET", "HEAD")
                and answer.status_code in REDIRECT_STATUSES
                and location
            ):
                return answer
            try:
                target = urljoin(url, location.strip())
                ok = urlsplit(target).scheme in ("http", "https") and urlsplit(target).hostname
            except ValueError:
                ok = False
            if not ok:
                raise ServerResponseError(
                    f"{method} {shown_url(url)}: the server answered HTTP {answer.status_code}, a redirect"
                    f" to {printable(redact_url(location), 300)}, which is not an http(s) URL",
                    status=answer.status_code,
                )
            if target in seen or len(seen) > MAX_REDIRECTS:
                loop = (
                    "back to an address it already sent"
                    if target in seen
                    else f"more than {MAX_REDIRECTS} times"
                )
                raise ServerResponseError(
                    f"{method} {shown_url(seen[0])}: the server redirected {loop}"
                    f" ({' -> '.join(shown_url(u) for u in [*seen[-3:], target])}); a redirect loop,"
                    " not followed further. Check --server",
                    status=answer.status_code,
                )
            seen.append(target)
            url, params = target, None

    def _exchange(self, method, url, body, params, headers, deadline) -> Answer:
        """One HTTP request and its whole answer, or an exception the retry loop understands."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline("no whole answer")
        send = dict(headers)
        if self._authorization and same_origin(url, self.base_url):
            send["Authorization"] = self._authorization
        connect_timeout = max(min(self.settings.connect_timeout, remaining), 0.001)
        read_timeout = max(min(self.settings.read_timeout, remaining), 0.001)
        response = None
        with _Watchdog(remaining) as watchdog:
            try:
                response = self._session().request(
                    method,
                    url,
                    data=body,
                    params=params,
                    headers=send,
                    timeout=(connect_timeout, read_timeout),
                    allow_redirects=False,  # followed by _follow, with its own rules
                    stream=True,
                    auth=_NoAuth(),
                )
            except requests.exceptions.SSLError as exc:
                if watchdog.fired:
                    raise _Deadline("no answer") from None
                raise ServerUnavailableError(
                    f"{shown_url(url)}: TLS verification failed ({exc.__class__.__name__}); for a private CA"
                    " pass --ca-bundle FILE"
                ) from None
            except requests.exceptions.ConnectTimeout:
                if watchdog.fired or connect_timeout < self.settings.connect_timeout:
                    raise _Deadline("no connection") from None
                raise _Retry(f"could not connect within {connect_timeout:g}s; no server answered") from None
            except requests.exceptions.ReadTimeout:
                if watchdog.fired or read_timeout < self.settings.read_timeout:
                    raise _Deadline("no answer") from None
                raise _Retry(
                    f"connected, but the server sent no answer within {read_timeout:g}s"
                    f" (read timeout, {self.settings.read_timeout_name})"
                ) from None
            except requests.exceptions.InvalidHeader as exc:
                if isinstance(exc.__context__, urllib3.exceptions.InvalidHeader):
                    # The answer's headers, not ours (two Content-Length values that differ): the
                    # server is at fault, as with an answer broken off. It was told as a header of
                    # the request, a settings error (exit 7) pointing at the token.
                    raise _Retry(
                        "connected, but the server's answer has headers that are not valid HTTP"
                        f" ({printable(exc, 200)})"
                    ) from None
                # Its text would show the header's value, which may be the token.
                raise ConfigError(
                    f"{shown_url(url)}: a header of the request is not valid HTTP (a token or password"
                    " with a line break in it?)"
                ) from None
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema, urllib3.exceptions.LocationParseError,
                    ValueError, UnicodeError) as exc:  # fmt: skip
                raise ConfigError(
                    f"{shown_url(url)}: not a URL that can be requested ({printable(exc, 200)})"
                ) from None
            except (
                requests.RequestException,
                urllib3.exceptions.HTTPError,
                OSError,
                http.client.HTTPException,
            ) as exc:
                if watchdog.fired:
                    raise _Deadline("no answer" if watchdog.connected else "no connection") from None
                if watchdog.connected:
                    raise _Retry(
                        f"connected, but the server closed the connection without an answer ({_cause(exc)})"
                    ) from None
                raise _Retry(f"could not connect; no server answered ({_cause(exc)})") from None
            status = response.status_code
            try:
                if status in REDIRECT_STATUSES and method in ("GET", "HEAD"):
                    response.close()  # a redirect's body is not read: the connection is dropped
                    if watchdog.fired:
                        raise _Deadline("no whole answer")
                    return Answer(status, response.headers, b"", url)
                content = self._read(response, url, watchdog, read_timeout < self.settings.read_timeout)
            except BaseException:
                response.close()
                raise
            if watchdog.fired:
                # Cut mid-answer: what was read may look whole (headers cut short read as ended).
                raise _Deadline("no whole answer")
        return Answer(status, response.headers, content, url)

    def _read(self, response: requests.Response, url: str, watchdog: _Watchdog, cut_short: bool) -> bytes:
        """The decoded body, whole, within the deadline and the size cap.

        `cut_short`: the read timeout was shortened to the time left, so its firing is the deadline.
        """
        cap = self.settings.max_answer_bytes
        status = response.status_code
        chunks: list[bytes] = []
        total = 0
        try:
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                # read1: what has arrived (at most _CHUNK decoded bytes), not a wait for a whole chunk
                total += len(chunk)
                if total > cap:
                    raise ServerResponseError(
                        f"{shown_url(url)}: the server's answer (HTTP {status}) is larger than"
                        f" {_mib(cap)} once decoded; not read further. Is this the FHIR base URL?",
                        status=status,
                    )
                chunks.append(chunk)
        except urllib3.exceptions.DecodeError:
            if watchdog.fired:
                raise _Deadline(f"the answer (HTTP {status}) did not arrive whole") from None
            encoding = printable(response.headers.get("Content-Encoding", "?"), 40)
            raise ServerResponseError(
                f"{shown_url(url)}: the server's answer (HTTP {status}) says Content-Encoding"
                f" {encoding}, but its body cannot be decoded so",
                status=status,
            ) from None
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException,
                requests.RequestException) as exc:  # fmt: skip
            timed_out = isinstance(exc, urllib3.exceptions.ReadTimeoutError)
            if watchdog.fired or (timed_out and cut_short):
                raise _Deadline(
                    f"the server answered HTTP {status} but had sent {total:,} byte(s) of its answer,"
                    " not all of it,"
                ) from None
            if timed_out:
                raise _Retry(
                    f"the server answered HTTP {status}, then sent nothing more of its answer for"
                    f" {self.settings.read_timeout:g}s (read timeout, {self.settings.read_timeout_name})",
                    status,
                ) from None
            raise _Retry(
                f"the server answered HTTP {status}, then the connection broke after {total:,} byte(s)"
                f" of its answer ({_cause(exc)})",
                status,
            ) from None
        return b"".join(chunks)


def _cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, by class name: no URLs, no peer text."""
    seen = exc
    for _ in range(6):
        inner = (
            seen.__context__
            or seen.__cause__
            or (seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None)
        )
        reason = getattr(seen, "reason", None)
        if isinstance(reason, BaseException):
            inner = reason
        if inner is None or inner is seen:
            break
        seen = inner
    return seen.__class__.__name__


def _mib(n: int) -> str:
    return f"{n / 1048576:g} MiB"


class FhirClient(HttpClient):
    """A FHIR R4 REST client for one server; safe to share between threads."""

    def __init__(self, settings: ClientSettings, **kwargs: Any):
        # A FHIR base is scheme://host/path: every request URL is the base and a path after it, so
        # a query or fragment in the base would end up in the middle of each (`base?x=1/Patient`;
        # a fragment even drops the path), and the searches for what a corrected case no longer
        # has would ask the server something else.
        try:
            parsed = urlsplit(settings.base_url)
        except ValueError:  # not a URL at all: said where it is first used, as before
            parsed = urlsplit("")
        if parsed.query or parsed.fragment or settings.base_url.rstrip().endswith(("?", "#")):
            raise ConfigError(
                f"--server {shown_url(settings.base_url)}: a FHIR base URL has no query or fragment"
                " (`?...`, `#...`), since each request's path goes after it; give the base alone,"
                " e.g. http://127.0.0.1:8080/fhir"
            )
        super().__init__(settings, **kwargs)

    def auth_hint(self, answer: Answer) -> str:
        """For a 401 or 403: what the server said of the credentials and the fix; else ''.

        Such an answer says nothing of the bundle or the case: the same request goes through once
        the credentials are right, so the fix is theirs, not the case's.
        """
        status = answer.status_code
        if status == 401:
            asked = answer.headers.get("WWW-Authenticate")
            said = f" (WWW-Authenticate: {printable(asked, 300)})" if asked else ""
            if self._authorization is None:
                return (
                    f"the server asks for credentials{said} and none were given: set FHIR_ADAPTER_TOKEN"
                    " or --token-file (a bearer token), or FHIR_ADAPTER_BASIC_AUTH or --basic-auth-file,"
                    " then run again"
                )
            return (
                f"the server did not accept the credentials given{said}: an expired or wrong token or"
                " password? Give valid ones (FHIR_ADAPTER_TOKEN, --token-file, FHIR_ADAPTER_BASIC_AUTH,"
                " --basic-auth-file), then run again"
            )
        if status == 403:
            whose = "the credentials given" if self._authorization else "a request without credentials"
            return (
                f"the server does not allow this to {whose} (HTTP 403); credentials with that right"
                " are needed, then run again"
            )
        return ""

    def transaction(
        self, bundle_json: bytes, *, expected_entries: int | None = None, deletes_from: int | None = None
    ) -> TransactionResult:
        """POST a transaction Bundle to the server base; return every entry's outcome.

        `deletes_from`: the entries from this index on are DELETEs, for which 404 and 410 (nothing
        there to delete) are what was asked for: a resend after an answer lost once the server had
        committed finds the resources it deleted gone.

        A 4xx raises ServerRejectedError. An answer that is not a whole transaction-response (not
        JSON, another resource, fewer entries than sent, an entry that failed, a redirect, a 5xx
        that retries did not change) raises ServerResponseError or ServerUnavailableError: the
        bundle cannot be known to be stored.
        """
        response, attempts = self.request("POST", "", json_body=bundle_json, follow_redirects=False)
        where = f"POST {self.shown_base}"
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("Location")
            raise ServerResponseError(
                f"{where}: the server answered HTTP {status}, a redirect to"
                f" {shown_url(target) if target else '(no Location)'}; case data is not sent on to"
                " another address. If the server has moved, give its new base URL with --server",
                status=status,
            )
        if status == 202:
            raise ServerResponseError(
                f"{where}: the server answered HTTP 202 Accepted, which says the transaction was taken"
                " for processing, not that it was done; what it will store cannot be told, so the"
                " bundle is not counted as sent (sending it again changes nothing once it is stored)",
                status=status,
            )
        body = body_of(response)
        if status >= 400:
            issues = parse_issues(body)
            text = response.text[:500].strip()
            detail = (
                format_issues(issues)
                if issues
                else f"  {printable(text, 500) if text else '(no details in its answer)'}"
            )
            if status >= 500:
                raise ServerUnavailableError(
                    f"{where}: the server failed with HTTP {status}, which no retry changes:\n{detail}",
                    status=status,
                )
            hint = self.auth_hint(response)
            raise ServerRejectedError(
                f"the server rejected the transaction with HTTP {status}:\n{detail}"
                + (f"\n  {hint}" if hint else ""),
                status=status,
                issues=issues,
            )
        if not isinstance(body, dict):
            raise ServerResponseError(
                f"{where}: the server answered HTTP {status} with a body that is not JSON"
                f" ({snippet(response)}); is --server the FHIR base URL?",
                status=status,
            )
        if body.get("resourceType") != "Bundle" or body.get("type") != "transaction-response":
            got = (
                printable(body.get("resourceType"), 60)
                if body.get("resourceType")
                else "JSON without a resourceType"
            )
            if body.get("resourceType") == "Bundle":
                got = f"a Bundle of type {printable(repr(body.get('type')), 60)}"
            raise ServerResponseError(
                f"{where}: the server answered HTTP {status} with {got}, not a"
                " transaction-response Bundle; is --server the FHIR base URL?",
                status=status,
            )
        raw_entries = body.get("entry") or []
        if not isinstance(raw_entries, list):
            raise ServerResponseError(
                f"{where}: the transaction-response's entry is not a list; what the server stored cannot be told",
                status=status,
            )
        if expected_entries is not None and len(raw_entries) != expected_entries:
            raise ServerResponseError(
                f"{where}: the transaction-response has {len(raw_entries)} entr{'y' if len(raw_entries) == 1 else 'ies'}"
                f" for the {expected_entries} sent; what the server stored cannot be told",
                status=status,
            )
        entries = [_entry_result(entry) for entry in raw_entries]
        failed = [
            f"#{i + 1} {printable(e.status_text, 80) or '(no status)'}"
            for i, e in enumerate(entries)
            if not 200 <= e.status < 300
            and not (deletes_from is not None and i >= deletes_from and e.status in (404, 410))
        ]
        contradicted = [
            f"#{i + 1} {printable(e.status_text, 80)}, with an outcome saying {e.outcome_error}"
            for i, e in enumerate(entries)
            if 200 <= e.status < 300 and e.outcome_error
        ]
        if contradicted and not failed:
            raise ServerResponseError(
                f"{where}: the transaction-response reports entries as done whose outcome says they"
                f" failed ({'; '.join(contradicted[:3])}{' ...' if len(contradicted) > 3 else ''});"
                " what the server stored cannot be told",
                status=status,
            )
        if failed:
            raise ServerResponseError(
                f"{where}: the transaction-response reports entries that did not succeed"
                f" ({', '.join(failed[:5])}); a transaction succeeds whole or not at all",
                status=status,
            )
        return TransactionResult(status, entries, attempts)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """GET a resource by id; None when the server does not have it (404, 410)."""
        label = f"GET {resource_type}/{resource_id}"
        response, _ = self.request("GET", f"{resource_type}/{resource_id}")
        status = response.status_code
        if status in (404, 410):
            return None
        _raise_refusal(label, response, self.auth_hint(response))
        body = body_of(response)
        if not isinstance(body, dict) or body.get("resourceType") != resource_type:
            what = (
                f"a body that is not JSON ({snippet(response)})"
                if not isinstance(body, dict)
                else f"{printable(body.get('resourceType') or 'JSON without a resourceType', 60)}, not a {resource_type}"
            )
            raise ServerResponseError(
                f"{label} on {self.shown_base}: the server answered HTTP {status} with {what};"
                " is --server the FHIR base URL?",
                status=status,
            )
        return body

    def pages(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        max_pages: int = 100_000,
        headers: dict[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """GET a searchset Bundle (a search, Patient/ID/$everything) and each page its `next` link gives.

        A next link is followed only on the base URL's origin, where the credentials may go, and
        never back to a page already read. A 4xx raises ServerRejectedError (404 and 405 too: an
        operation the server does not have), a 5xx that retries did not change
        ServerUnavailableError, and an answer that is not a Bundle ServerResponseError.
        """
        url, query, read = path, params, set()
        for _ in range(max_pages):
            label = f"GET {shown_url(self.url_for(url))}"
            response, _ = self.request("GET", url, params=query, headers=headers)
            status = response.status_code
            _raise_refusal(label, response, self.auth_hint(response))
            body = body_of(response)
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                what = "a body that is not JSON" if not isinstance(body, dict) else "no Bundle"
                raise ServerResponseError(
                    f"{label}: the server answered HTTP {status} with {what} ({snippet(response)});"
                    " is --server the FHIR base URL?",
                    status=status,
                )
            # A page whose entries or links are no list says what it holds in no form FHIR has: read
            # as empty or as the last page, what it holds would go unseen.
            for key in ("entry", "link"):
                if body.get(key) is not None and not isinstance(body[key], list):
                    raise ServerResponseError(
                        f"{label}: the server answered a Bundle whose {key} is not a list"
                        f" ({snippet(response)}); what its pages hold cannot be read",
                        status=status,
                    )
            yield body
            links = body.get("link") or []
            following = next(
                (ln.get("url") for ln in links if isinstance(ln, dict) and ln.get("relation") == "next"), None
            )
            if not isinstance(following, str) or not following:
                return
            # A relative link is relative to the page that gave it; one that is not a URL is
            # kept as it is and refused below, as on no origin of ours.
            with contextlib.suppress(ValueError):
                following = urljoin(response.url, following.strip())
            if not same_origin(self.url_for(following), self.base_url):
                raise ServerResponseError(
                    f"{label}: the next page is on another server ({shown_url(following)}); not followed,"
                    " since the credentials would go with it",
                    status=status,
                )
            if following in read:
                return  # a server that links back to a page already read: its pages are done
            read.add(following)
            url, query = following, None
        raise ServerResponseError(
            f"GET {shown_url(self.url_for(path))}: more than {max_pages} pages; stopped"
        )


def _raise_refusal(label: str, answer: Answer, hint: str = "") -> None:
    """A 4xx as ServerRejectedError (with the server's issues and `hint`), a 5xx as ServerUnavailableError."""
    status = answer.status_code
    if status < 400:
        return
    issues = parse_issues(body_of(answer))
    detail = f": {format_issues(issues).strip()}" if issues else ""
    detail += f"; {hint}" if hint else ""
    if status >= 500:
        raise ServerUnavailableError(f"{label}: HTTP {status}{detail}", status=status)
    raise ServerRejectedError(f"{label}: HTTP {status}{detail}", status=status, issues=issues)


def _entry_result(entry: Any) -> EntryResult:
    """One transaction-response entry, whatever shape the server gave it."""
    resp = entry.get("response") if isinstance(entry, dict) else None
    if not isinstance(resp, dict):
        return EntryResult(0, "(no response)", None, None, None, None)
    raw_status = resp.get("status")
    status_text = raw_status if isinstance(raw_status, str) else ""
    code = status_text.strip().split(" ", 1)[0]
    location = resp.get("location") if isinstance(resp.get("location"), str) else None
    rtype, rid, version = parse_location(location)
    wrong = [
        i
        for i in parse_issues(resp.get("outcome"))
        if (i.get("severity") or "").lower() in ("error", "fatal")
    ]
    return EntryResult(
        status=int(code) if code.isdigit() and len(code) == 3 else 0,
        status_text=status_text[:200],
        resource_type=rtype,
        id=rid,
        version=version,
        location=location[:2000] if location else None,
        outcome_error=(
            f"{wrong[0]['severity']}: {printable(wrong[0].get('diagnostics') or wrong[0].get('code') or '?', 200)}"
            if wrong
            else None
        ),
    )
