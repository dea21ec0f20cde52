"""A small Bulk Data $import server for tests, on 127.0.0.1: the kick-off, polling and result of the spec.

It takes the Parameters form HAPI FHIR accepts (inputFormat, inputSource, storageDetail, input
type/url), answers 202 with a Content-Location status URL, and imports in a background thread: it
fetches every input URL (loopback only), checks each line is a resource of the input's type, and
after all files checks that every `reference` written Type/id points at an imported resource
(what a server with referential integrity would refuse). Status requests answer 202 with
X-Progress and Retry-After until the job is done and at least `polls_before_done` were made, then
200 with the import proposal's completion JSON ("manifest" style) or HAPI's OperationOutcome report
("hapi" style). DELETE on the status URL cancels a job. Like any FHIR server it also answers a
search by `_tag` (one page) and a transaction of DELETE entries, which push --bulk uses to remove
what corrected cases no longer have, and of PUT entries, which push sends.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def outcome(severity: str, code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


def references(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


@dataclass
class Job:
    id: str
    inputs: list[tuple[str, str]]
    request_url: str
    done: threading.Event = field(default_factory=threading.Event)
    polls: int = 0
    cancelled: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # input url -> resources imported
    errors: dict[str, list[str]] = field(default_factory=dict)  # input url -> problems
    fatal: str | None = None


class BulkImportStub(ThreadingHTTPServer):
    """Start with `with BulkImportStub() as stub:`; stub.base_url is the FHIR base."""

    daemon_threads = True

    def __init__(self, *, style: str = "manifest", polls_before_done: int = 2, retry_after: str = "0"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.style = style
        self.polls_before_done = polls_before_done
        self.retry_after = retry_after
        self.jobs: dict[str, Job] = {}
        self.resources: dict[str, dict[str, Any]] = {}  # "Type/id" -> resource
        self.kickoffs: list[dict[str, Any]] = []  # every kick-off: its headers and body
        self.fail_next: str | None = None  # make the next job fail with this message
        self.status_base: str | None = None  # hand out status URLs on another base (to test refusal)
        self.searches: list[str] = []  # every search: Type?query
        self.deleted: list[str] = []  # Type/id of every resource a transaction deleted
        self.put: list[str] = []  # Type/id of every resource a transaction stored with PUT
        self.search_status = 200  # answer searches with this status instead (a failing server)
        self.search_lags = False  # answer searches with an empty page, as a search index not yet updated
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/fhir"

    def __enter__(self) -> BulkImportStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def run_job(self, job: Job) -> None:
        try:
            if self.fail_next:
                job.fatal, self.fail_next = self.fail_next, None
                return
            imported: dict[str, dict[str, Any]] = {}
            origin: dict[str, str] = {}
            for rtype, url in job.inputs:
                host = urlsplit(url).hostname
                if host not in LOOPBACK:
                    job.errors.setdefault(url, []).append(
                        f"{url}: this test server fetches from loopback only"
                    )
                    continue
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        body = response.read().decode("utf-8")
                except OSError as exc:
                    job.errors.setdefault(url, []).append(f"{url}: cannot fetch: {exc}")
                    continue
                count = 0
                for number, line in enumerate(body.splitlines(), start=1):
                    if not line.strip():
                        continue
                    try:
                        resource = json.loads(line)
                    except ValueError:
                        job.errors.setdefault(url, []).append(f"{url}:{number}: not JSON")
                        continue
                    if resource.get("resourceType") != rtype or not resource.get("id"):
                        job.errors.setdefault(url, []).append(f"{url}:{number}: not a {rtype} with an id")
                        continue
                    key = f"{rtype}/{resource['id']}"
                    imported[key] = resource
                    origin[key] = url
                    count += 1
                job.counts[url] = count
            # Referential integrity, once everything is in: each Type/id must be an imported resource.
            for key, resource in imported.items():
                for ref in references(resource):
                    if ref not in imported and ref not in self.resources:
                        job.errors.setdefault(origin[key], []).append(
                            f"{key}: reference {ref} does not resolve"
                        )
                        job.counts[origin[key]] -= 1
                        break
                else:
                    with self.lock:
                        self.resources[key] = resource
        finally:
            job.done.set()

    def completion(self, job: Job) -> tuple[int, dict[str, Any]]:
        if job.fatal:
            return 500, outcome("error", "exception", job.fatal)
        if self.style == "hapi":
            report = "; ".join(f"{url}: {n} resources" for url, n in job.counts.items())
            problems = [p for ps in job.errors.values() for p in ps]
            body = outcome("information", "informational", f"Import complete. {report}")
            body["issue"] += [{"severity": "error", "code": "processing", "diagnostics": p} for p in problems]
            return 200, body
        return 200, {
            "transactionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "request": job.request_url,
            "requiresAccessToken": False,
            "output": [
                {"type": "OperationOutcome", "inputUrl": url, "count": job.counts.get(url, 0)}
                for _, url in job.inputs
            ],
            "error": [
                {
                    "type": "OperationOutcome",
                    "inputUrl": url,
                    "count": len(problems),
                    "diagnostics": "; ".join(problems),
                }
                for url, problems in job.errors.items()
            ],
        }


class _Handler(BaseHTTPRequestHandler):
    server: BulkImportStub

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _reply(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path in ("/fhir", "/fhir/"):
            self._transaction(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
            return
        if urlsplit(self.path).path != "/fhir/$import":
            self._reply(404, outcome("error", "not-found", f"no operation at {self.path}"))
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.kickoffs.append({"headers": dict(self.headers), "body": raw})
        if "respond-async" not in (self.headers.get("Prefer") or ""):
            self._reply(400, outcome("error", "invalid", "$import needs the header Prefer: respond-async"))
            return
        try:
            params = json.loads(raw)
            assert params["resourceType"] == "Parameters"
        except (ValueError, KeyError, AssertionError):
            self._reply(400, outcome("error", "invalid", "$import takes a Parameters resource"))
            return
        by_name: dict[str, list[dict[str, Any]]] = {}
        for p in params.get("parameter") or []:
            by_name.setdefault(p.get("name"), []).append(p)
        fmt = (by_name.get("inputFormat") or [{}])[0].get("valueCode")
        if fmt != "application/fhir+ndjson":
            self._reply(400, outcome("error", "invalid", 'Input format must be "application/fhir+ndjson"'))
            return
        inputs = []
        for p in by_name.get("input") or []:
            parts = {part.get("name"): part for part in p.get("part") or []}
            rtype = parts.get("type", {}).get("valueCode")
            url = parts.get("url", {}).get("valueUri")
            if not rtype or not url:
                self._reply(400, outcome("error", "invalid", "each input needs a type and a url"))
                return
            inputs.append((rtype, url))
        if not inputs:
            self._reply(400, outcome("error", "invalid", "No URLs specified"))
            return
        job = Job(uuid.uuid4().hex, inputs, f"{self.server.base_url}/$import")
        self.server.jobs[job.id] = job
        threading.Thread(target=self.server.run_job, args=(job,), daemon=True).start()
        status_url = f"{self.server.status_base or self.server.base_url}/$import-poll-status?_jobId={job.id}"
        self._reply(
            202,
            outcome("information", "informational", f"job {job.id} submitted"),
            {"Content-Location": status_url},
        )

    def _job(self) -> Job | None:
        parts = urlsplit(self.path)
        if parts.path != "/fhir/$import-poll-status":
            return None
        return self.server.jobs.get((parse_qs(parts.query).get("_jobId") or [""])[0])

    def _transaction(self, bundle: dict[str, Any]) -> None:
        """A transaction of PUT entries to each resource's own Type/id (what push sends) and DELETE
        entries (what push and push --bulk send to remove what a case no longer has); anything else
        is refused. urn:uuid references are stored as the Type/id they name, as a server resolves them.
        """
        entries = bundle.get("entry") or []
        for e in entries:
            method, url = (e.get("request") or {}).get("method"), (e.get("request") or {}).get("url")
            resource = e.get("resource") or {}
            if method == "DELETE" or (
                method == "PUT" and url == f"{resource.get('resourceType')}/{resource.get('id')}"
            ):
                continue
            self._reply(
                400, outcome("error", "not-supported", "this test server takes PUT Type/id and DELETE")
            )
            return
        urns = {e["fullUrl"]: e["request"]["url"] for e in entries if "fullUrl" in e and "resource" in e}
        answers = []
        with self.server.lock:
            for entry in entries:
                url = entry["request"]["url"]
                if entry["request"]["method"] == "PUT":
                    resource = json.loads(
                        json.dumps(entry["resource"]),
                        object_hook=lambda node: {
                            k: urns.get(v, v) if k == "reference" else v for k, v in node.items()
                        },
                    )
                    created = url not in self.server.resources
                    self.server.resources[url] = resource
                    self.server.put.append(url)
                    answers.append(
                        {
                            "response": {
                                "status": "201 Created" if created else "200 OK",
                                "location": f"{url}/_history/1",
                            }
                        }
                    )
                    continue
                gone = self.server.resources.pop(url, None)
                answers.append({"response": {"status": "204 No Content" if gone else "404 Not Found"}})
                if gone:
                    self.server.deleted.append(url)
        self._reply(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": answers})

    def _search(self, rtype: str, query: str) -> None:
        """`[type]?_tag=system|code,...`: the stored resources of the type carrying one of the tags."""
        self.server.searches.append(f"{rtype}?{query}")
        if self.server.search_status != 200:
            self._reply(self.server.search_status, outcome("error", "transient", "searches are down"))
            return
        wanted = {
            tuple(t.split("|", 1)) for t in (parse_qs(query).get("_tag") or [""])[0].split(",") if "|" in t
        }
        with self.server.lock:
            found = [
                r
                for key, r in ({} if self.server.search_lags else self.server.resources).items()
                if key.startswith(f"{rtype}/")
                and {(t.get("system"), t.get("code")) for t in (r.get("meta") or {}).get("tag") or []}
                & wanted
            ]
        body = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}
        self._reply(200, body)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        segments = parts.path.split("/")
        if len(segments) == 3 and segments[2][:1].isupper():
            self._search(segments[2], parts.query)
            return
        job = self._job()
        if job is None or job.cancelled:
            self._reply(404, outcome("error", "not-found", "no such import job"))
            return
        job.polls += 1
        if not job.done.is_set() or job.polls <= self.server.polls_before_done:
            self._reply(
                202,
                outcome("information", "informational", "in progress"),
                {"X-Progress": f"poll {job.polls}: in progress", "Retry-After": self.server.retry_after},
            )
            return
        status, body = self.server.completion(job)
        self._reply(status, body)

    def do_DELETE(self) -> None:  # noqa: N802
        job = self._job()
        if job is None:
            self._reply(404, outcome("error", "not-found", "no such import job"))
            return
        job.cancelled = True
        self._reply(202, outcome("information", "informational", "cancelled"))
