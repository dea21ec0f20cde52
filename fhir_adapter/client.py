"""The FHIR REST client: the only module that imports requests. Retries, timeouts, auth, outcomes."""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from . import __version__
from .errors import ServerRejectedError, ServerResponseError, ServerUnavailableError

FHIR_JSON = "application/fhir+json"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_LOCATION_RE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/?#]+))?/?$")


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


@dataclass(frozen=True)
class EntryResult:
    """One entry of a transaction-response: HTTP status and where the server keeps the resource."""

    status: int
    status_text: str
    resource_type: str | None
    id: str | None
    version: str | None
    location: str | None


@dataclass(frozen=True)
class TransactionResult:
    status: int
    entries: list[EntryResult]
    attempts: int


def parse_issues(body: Any) -> list[dict[str, Any]]:
    """The issues of an OperationOutcome (or of a resource holding one), as plain dicts."""
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") != "OperationOutcome":
        return []
    out = []
    for issue in body.get("issue") or []:
        out.append(
            {
                "severity": issue.get("severity"),
                "code": issue.get("code"),
                "diagnostics": issue.get("diagnostics") or (issue.get("details") or {}).get("text"),
                "expression": issue.get("expression") or issue.get("location") or [],
            }
        )
    return out


def format_issues(issues: list[dict[str, Any]]) -> str:
    lines = []
    for issue in issues:
        where = ", ".join(issue.get("expression") or [])
        lines.append(
            f"  {issue.get('severity', '?')} [{issue.get('code', '?')}]"
            + (f" at {where}" if where else "")
            + f": {issue.get('diagnostics') or '(no diagnostics)'}"
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


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header (delay or HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value) if len(value) < 20 else float("inf")
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


def _snippet(response: requests.Response) -> str:
    text = response.content[:200].decode("utf-8", "replace").strip()
    kind = response.headers.get("Content-Type", "no Content-Type")
    return f"{kind}: {text!r}" if text else f"{kind}, empty body"


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class FhirClient:
    """A FHIR R4 REST client for one server; safe to share between threads."""

    def __init__(self, settings: ClientSettings, *, sleep=time.sleep, rng: random.Random | None = None):
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self._local = threading.local()
        self._sleep = sleep
        self._rng = rng or random.Random()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Accept": FHIR_JSON, "User-Agent": f"fhir-adapter/{__version__}"})
            if self.settings.token:
                session.headers["Authorization"] = f"Bearer {self.settings.token}"
            elif self.settings.basic_auth:
                session.auth = self.settings.basic_auth
            session.verify = self.settings.verify
            self._local.session = session
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: bytes | None = None,
        params=None,
        follow_redirects: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[requests.Response, int]:
        """Send one request with retries; return the final response and the number of attempts.

        Retries connection errors, timeouts, 429, 502, 503 and 504, honouring Retry-After (up to
        the policy's max_retry_after a time), until the policy's attempts or total time run out.
        Safe for our transactions because every entry is a PUT to a fixed id: a retry after a
        lost response changes nothing. `path` may also be an absolute URL the server handed out
        (a status URL), which callers check is on the same server before following it, since the
        credentials go with it.
        """
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        policy = self.settings.retry
        started = time.monotonic()
        deadline = started + policy.total_timeout
        extra = headers
        headers = {"Content-Type": FHIR_JSON} if json_body is not None else {}
        headers.update(extra or {})
        attempt = 0
        last_problem = ""
        last_status: int | None = None
        while True:
            attempt += 1
            asked: float | None = None
            try:
                response = self._session().request(
                    method,
                    url,
                    data=json_body,
                    params=params,
                    headers=headers,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    # Case data is never re-sent to wherever a redirect points; reads may follow
                    # one (requests drops the Authorization header when the host changes).
                    allow_redirects=follow_redirects,
                )
            except requests.exceptions.SSLError as exc:
                raise ServerUnavailableError(
                    f"{url}: TLS verification failed ({exc.__class__.__name__}); for a private CA"
                    " pass --ca-bundle FILE"
                ) from None
            except requests.exceptions.ConnectTimeout:
                last_problem = (
                    f"could not connect within {self.settings.connect_timeout:g}s; no server answered"
                )
                last_status = None
            except requests.exceptions.ReadTimeout:
                last_problem = (
                    f"connected, but the server sent no answer within {self.settings.read_timeout:g}s"
                    " (read timeout)"
                )
                last_status = None
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"could not connect; no server answered ({exc.__class__.__name__})"
                last_status = None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response, attempt
                last_status = response.status_code
                last_problem = f"HTTP {last_status}"
                asked = _retry_after(response)
            remaining = deadline - time.monotonic()
            if attempt >= policy.max_attempts or remaining <= 0:
                raise ServerUnavailableError(
                    f"{method} {url}: {last_problem}; gave up after {attempt} attempt(s)"
                    f" in {time.monotonic() - started:.0f}s",
                    status=last_status,
                )
            wait = policy.delay(attempt, self._rng) if asked is None else min(asked, policy.max_retry_after)
            if wait > remaining:
                if asked is not None:
                    capped = f" (waited at most {policy.max_retry_after:g}s)" if asked > wait else ""
                    reason = (
                        f"the server asked to wait {_seconds(asked)} before retrying (Retry-After){capped},"
                        f" longer than the {remaining:.0f}s left of the {policy.total_timeout:g}s allowed"
                        " for one request (--max-time)"
                    )
                else:
                    reason = (
                        f"no time left for another attempt within the {policy.total_timeout:g}s allowed"
                        " for one request (--max-time)"
                    )
                raise ServerUnavailableError(
                    f"{method} {url}: {last_problem}; {reason}; gave up after {attempt} attempt(s)",
                    status=last_status,
                )
            self._sleep(wait)

    def transaction(self, bundle_json: bytes, *, expected_entries: int | None = None) -> TransactionResult:
        """POST a transaction Bundle to the server base; return every entry's outcome.

        An answer that is not a whole transaction-response (not JSON, another resource, fewer
        entries than sent, an entry that failed, a redirect) raises ServerResponseError: the
        bundle cannot be known to be stored.
        """
        response, attempts = self.request("POST", "", json_body=bundle_json, follow_redirects=False)
        where = f"POST {self.base_url}"
        if 300 <= response.status_code < 400:
            raise ServerResponseError(
                f"{where}: the server answered HTTP {response.status_code}, a redirect to"
                f" {response.headers.get('Location') or '(no Location)'}; case data is not sent on to"
                " another address. If the server has moved, give its new base URL with --server",
                status=response.status_code,
            )
        body = _body(response)
        if response.status_code >= 400:
            issues = parse_issues(body)
            detail = format_issues(issues) if issues else f"  {response.text[:500]}"
            raise ServerRejectedError(
                f"the server rejected the transaction with HTTP {response.status_code}:\n{detail}",
                status=response.status_code,
                issues=issues,
            )
        if not isinstance(body, dict):
            raise ServerResponseError(
                f"{where}: the server answered HTTP {response.status_code} with a body that is not JSON"
                f" ({_snippet(response)}); is --server the FHIR base URL?",
                status=response.status_code,
            )
        if body.get("resourceType") != "Bundle" or body.get("type") != "transaction-response":
            got = body.get("resourceType") or "JSON without a resourceType"
            if body.get("resourceType") == "Bundle":
                got = f"a Bundle of type {body.get('type')!r}"
            raise ServerResponseError(
                f"{where}: the server answered HTTP {response.status_code} with {got}, not a"
                " transaction-response Bundle; is --server the FHIR base URL?",
                status=response.status_code,
            )
        raw_entries = body.get("entry") or []
        if not isinstance(raw_entries, list):
            raw_entries = []
        if expected_entries is not None and len(raw_entries) != expected_entries:
            raise ServerResponseError(
                f"{where}: the transaction-response has {len(raw_entries)} entr{'y' if len(raw_entries) == 1 else 'ies'}"
                f" for the {expected_entries} sent; what the server stored cannot be told",
                status=response.status_code,
            )
        entries = []
        for entry in raw_entries:
            resp = (entry.get("response") if isinstance(entry, dict) else None) or {}
            status_text = str(resp.get("status", ""))
            code = status_text.split(" ", 1)[0]
            location = resp.get("location") if isinstance(resp.get("location"), str) else None
            rtype, rid, version = parse_location(location)
            entries.append(
                EntryResult(
                    status=int(code) if code.isdigit() else 0,
                    status_text=status_text,
                    resource_type=rtype,
                    id=rid,
                    version=version,
                    location=location,
                )
            )
        failed = [
            f"#{i + 1} {e.status_text or '(no status)'}"
            for i, e in enumerate(entries)
            if not 200 <= e.status < 300
        ]
        if failed:
            raise ServerResponseError(
                f"{where}: the transaction-response reports entries that did not succeed"
                f" ({', '.join(failed[:5])}); a transaction succeeds whole or not at all",
                status=response.status_code,
            )
        return TransactionResult(response.status_code, entries, attempts)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """GET a resource by id; None when the server does not have it."""
        response, _ = self.request("GET", f"{resource_type}/{resource_id}")
        if response.status_code in (404, 410):
            return None
        if response.status_code >= 400:
            raise ServerRejectedError(
                f"GET {resource_type}/{resource_id}: HTTP {response.status_code}",
                status=response.status_code,
                issues=parse_issues(_body(response)),
            )
        return _body(response)
