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
from .errors import ServerRejectedError, ServerUnavailableError

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
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
        headers: dict[str, str] | None = None,
    ) -> tuple[requests.Response, int]:
        """Send one request with retries; return the final response and the number of attempts.

        Retries connection errors, timeouts, 429, 502, 503 and 504, honouring Retry-After, until
        the policy's attempts or total time run out. Safe for our transactions because every
        entry is a PUT to a fixed id: a retry after a lost response changes nothing. `path` may
        also be an absolute URL the server handed out (a status URL), which callers check is on
        the same server before following it, since the credentials go with it.
        """
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        policy = self.settings.retry
        deadline = time.monotonic() + policy.total_timeout
        extra = headers
        headers = {"Content-Type": FHIR_JSON} if json_body is not None else {}
        headers.update(extra or {})
        attempt = 0
        last_problem = ""
        last_status: int | None = None
        while True:
            attempt += 1
            wait: float | None = None
            try:
                response = self._session().request(
                    method,
                    url,
                    data=json_body,
                    params=params,
                    headers=headers,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                )
            except requests.exceptions.SSLError as exc:
                raise ServerUnavailableError(
                    f"{url}: TLS verification failed ({exc.__class__.__name__}); for a private CA"
                    " pass --ca-bundle FILE"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                last_problem = f"{kind} ({exc.__class__.__name__})"
                last_status = None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response, attempt
                last_status = response.status_code
                last_problem = f"HTTP {last_status}"
                wait = _retry_after(response)
            remaining = deadline - time.monotonic()
            if attempt >= policy.max_attempts or remaining <= 0:
                raise ServerUnavailableError(
                    f"{method} {url}: {last_problem}; gave up after {attempt} attempt(s)",
                    status=last_status,
                )
            if wait is None:
                wait = policy.delay(attempt, self._rng)
            if wait > remaining:
                raise ServerUnavailableError(
                    f"{method} {url}: {last_problem}; the server asked to wait {wait:.0f}s,"
                    f" more than the {policy.total_timeout:.0f}s allowed for one request",
                    status=last_status,
                )
            self._sleep(wait)

    def transaction(self, bundle_json: bytes) -> TransactionResult:
        """POST a transaction Bundle to the server base; return every entry's outcome."""
        response, attempts = self.request("POST", "", json_body=bundle_json)
        body = _body(response)
        if response.status_code >= 400:
            issues = parse_issues(body)
            detail = format_issues(issues) if issues else f"  {response.text[:500]}"
            raise ServerRejectedError(
                f"the server rejected the transaction with HTTP {response.status_code}:\n{detail}",
                status=response.status_code,
                issues=issues,
            )
        if not isinstance(body, dict) or body.get("type") != "transaction-response":
            raise ServerRejectedError(
                f"the server answered HTTP {response.status_code} but not with a transaction-response Bundle",
                status=response.status_code,
            )
        entries = []
        for entry in body.get("entry") or []:
            resp = entry.get("response") or {}
            status_text = str(resp.get("status", ""))
            code = status_text.split(" ", 1)[0]
            rtype, rid, version = parse_location(resp.get("location"))
            entries.append(
                EntryResult(
                    status=int(code) if code.isdigit() else 0,
                    status_text=status_text,
                    resource_type=rtype,
                    id=rid,
                    version=version,
                    location=resp.get("location"),
                )
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
