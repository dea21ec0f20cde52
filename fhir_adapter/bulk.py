"""push --bulk: hand a directory of NDJSON to a server's Bulk Data $import and wait for the result.

The server pulls the files itself, so they must be reachable from it: either at a base URL where
they are already served (--files-url), or from a short-lived file server this module starts on
127.0.0.1 for the length of the import. The kick-off is the Parameters form HAPI FHIR accepts
(inputFormat, inputSource, storageDetail, one `input` per file with its type and url) with
`Prefer: respond-async`; the status URL from Content-Location is polled until the server answers
200 (done) or an error. Both completion bodies in use are understood: the Bulk Data import
proposal's JSON (output/error lists with counts) and HAPI's OperationOutcome with a text report.

$import only adds and updates: a resource a corrected case no longer has (a metastasis struck
out) would stay on the server beside the corrected case. So, once every round imported whole,
the server is searched for the resources carrying the tag of a case the directory holds, and
those the directory does not hold are deleted, one transaction per case, as `push` does.

A bundle of one of those cases may still wait in the outbox of an earlier `push` that failed: it
is older than the import, and `push --resume` would put the older version back. The import holds
the outbox's lock (no push from it interleaves), and once it landed whole, such bundles move to
the outbox's superseded/ folder, kept and never sent.

HAPI FHIR stores the files of one $import in parallel and checks every reference as it stores a
resource, so a Provenance stored before the MedicationStatement it names fails (HAPI-1094). The
files therefore go in rounds, one $import each: a type's file waits until every other type its
resources reference has been imported.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson

from .client import RETRY_STATUSES, FhirClient, parse_issues, retry_after, same_origin, shown_url, snippet
from .errors import (
    AdapterError,
    ConfigError,
    ServerError,
    ServerRejectedError,
    ServerResponseError,
    ServerUnavailableError,
    printable,
)
from .push import CASE_RESOURCE_TYPES, Outbox, case_key, tagged_resources, tags_of
from .sinks import MANIFEST

NDJSON_TYPE = "application/fhir+ndjson"
CANCEL_SECONDS = 10.0  # the most a best-effort cancel may add to a run that already timed out
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
CASES_A_SEARCH = 40  # case tags OR-ed into one search for what corrected cases no longer have


@dataclass(frozen=True)
class BulkSettings:
    """How to hand the files over and how long to wait; built once from flags."""

    files_url: str | None = None  # the files are already served here; else a local server is started
    port: int = 0  # port of the local file server on 127.0.0.1 (0: any free port)
    input_source: str | None = None  # inputSource of the kick-off; default: the files' base URL
    first_poll: float = 1.0  # seconds before the first status request when the server gives no Retry-After
    max_poll_wait: float = 30.0  # the longest pause between two status requests, whatever Retry-After says
    timeout: float = 3600.0  # give up waiting for the import after this many seconds


@dataclass(frozen=True)
class BulkFile:
    """One NDJSON file to import: its resource type, its name relative to the directory, its lines."""

    type: str
    name: str
    count: int


@dataclass
class ImportResult:
    """What the server said when the import ended, and what it fetched from us."""

    status_url: str
    http_status: int
    files: list[BulkFile]
    output: list[dict[str, Any]] = field(default_factory=list)  # [{type?, inputUrl?, count?, url?}]
    error: list[dict[str, Any]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # diagnostics of an OperationOutcome answer
    fetched: dict[str, int] = field(default_factory=dict)  # file name -> times the server fetched it
    polls: int = 0
    seconds: float = 0.0
    sent_urls: dict[str, int] = field(default_factory=dict)  # url -> resources, of completion reports
    removed: dict[str, list[str]] = field(default_factory=dict)  # case id -> Type/id deleted as stale
    removal_error: AdapterError | None = None  # why what the cases no longer have could not be removed
    # Bundles of imported cases that waited in the outbox, older than the import: case id -> file.
    superseded: dict[str, str] = field(default_factory=dict)  # moved to superseded/ (imported whole)
    older_waiting: dict[str, str] = field(default_factory=dict)  # left in pending/ (not imported whole)
    # Files served here that the server said it had imported without fetching them (a local file
    # server sees every fetch): the server cannot have read what it never asked for.
    not_fetched: list[str] = field(default_factory=list)

    @property
    def imported_whole(self) -> bool:
        """Done, no error reported, and (where the server counts) every resource sent imported."""
        imported = self.imported()
        return (
            self.http_status == 200
            and not self.error
            and not self.unaccounted()
            and (imported is None or imported == sum(f.count for f in self.files))
        )

    def unaccounted(self) -> list[str]:
        """Where a completion report does not account for each file sent, file by file.

        A file the local file server never handed out was not imported, whatever the report says.
        The import proposal's report lists what was imported from each input (`inputUrl`, and
        `count` where the server counts): an empty list, a file not sent, a count on the wrong
        file or a count that is no number says the server did not import what was sent.
        """
        out = [
            f"the server says the job is done, but never fetched {printable(name, 300)} from the file server"
            for name in self.not_fetched
        ]
        if not self.sent_urls:
            return out
        if not self.output:
            return [*out, f"the server reports nothing imported from {len(self.sent_urls)} file(s) sent"]
        counted: dict[str, int] = {}
        for item in self.output:
            url, count = item.get("inputUrl"), item.get("count")
            if "count" in item and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
                out.append(
                    f"a count that is not a number ({printable(repr(count), 40)}) for {printable(url, 300)}"
                )
            if not isinstance(url, str):
                continue
            if url not in self.sent_urls:
                out.append(f"the server reports imports from a file that was not sent: {printable(url, 300)}")
            elif isinstance(count, int) and not isinstance(count, bool):
                counted[url] = counted.get(url, 0) + count
        for url, count in counted.items():
            if count != self.sent_urls[url]:
                out.append(f"the server imported {count} of {self.sent_urls[url]} resource(s) from {url}")
        return out

    @property
    def ok(self) -> bool:
        """Imported whole, and the server holds nothing the cases no longer have."""
        return self.imported_whole and self.removal_error is None

    @property
    def exit_code(self) -> int:
        """The exit code of a result that is not ok: the removal's error's, else a rejection's."""
        return (
            self.removal_error.exit_code if self.removal_error is not None else ServerRejectedError.exit_code
        )

    def imported(self) -> int | None:
        """Resources the server counted as imported, when its answer gives counts."""
        counts = [
            c
            for c in (item.get("count") for item in self.output)
            if isinstance(c, int) and not isinstance(c, bool)
        ]
        return sum(counts) if counts else None

    def as_report(self) -> dict[str, Any]:
        return {
            "status_url": self.status_url,
            "http_status": self.http_status,
            "sent": [{"type": f.type, "file": f.name, "count": f.count} for f in self.files],
            "fetched": self.fetched,
            "output": self.output,
            "error": self.error,
            "messages": self.messages,
            "polls": self.polls,
            "seconds": round(self.seconds, 3),
            "removed": self.removed,
            "removal_error": str(self.removal_error) if self.removal_error is not None else None,
            "superseded": self.superseded,
            "older_waiting": self.older_waiting,
        }


def read_directory(directory: Path) -> list[BulkFile]:
    """The files to import: those manifest.json lists, or every <Type>.ndjson when there is none."""
    if not directory.is_dir():
        raise ConfigError(
            f"{directory}: push --bulk needs a directory of NDJSON files (convert --format ndjson -o DIR)"
        )
    manifest_path = directory / MANIFEST
    files: list[BulkFile] = []
    if manifest_path.exists():
        try:
            manifest = orjson.loads(manifest_path.read_bytes())
            items = manifest["output"]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{manifest_path}: not a Bulk Data manifest with an output list ({exc})"
            ) from None
        for n, item in enumerate(items):
            rtype, url = (item.get("type"), item.get("url")) if isinstance(item, dict) else (None, None)
            if not isinstance(rtype, str) or not _RESOURCE_TYPE.match(rtype) or not isinstance(url, str):
                raise ConfigError(f"{manifest_path}: output[{n}] needs a resource type and a url")
            if urlsplit(url).scheme or url.startswith("/") or ".." in Path(url).parts:
                raise ConfigError(
                    f"{manifest_path}: output[{n}].url {url!r} is not a file name inside the directory;"
                    " push --bulk serves the files of the directory it is given"
                )
            path = directory / url
            if not path.is_file():
                raise ConfigError(f"{manifest_path}: output[{n}] names {url}, which is not there")
            files.append(BulkFile(rtype, url, _count_lines(path)))
    else:
        for path in sorted(directory.glob("*.ndjson")):
            if _RESOURCE_TYPE.match(path.stem):
                files.append(BulkFile(path.stem, path.name, _count_lines(path)))
    files = [f for f in files if f.count]
    if not files:
        raise ConfigError(f"{directory}: no NDJSON resources to import")
    return files


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _referenced_types(path: Path) -> set[str]:
    """The resource types the resources of one NDJSON file reference (`Type/id` references)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str) and "/" in value:
                    rtype = value.split("/", 1)[0]
                    if _RESOURCE_TYPE.match(rtype):
                        found.add(rtype)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    walk(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue  # the server reports the line; the order of the rounds does not depend on it
    return found


def import_rounds(directory: Path, files: list[BulkFile]) -> list[list[BulkFile]]:
    """The files in the order a server that checks references on arrival can store them.

    Each round holds the types whose references (to other types) all point into earlier rounds;
    types that reference each other in a cycle share the last round.
    """
    needs: dict[str, set[str]] = {f.type: set() for f in files}
    for f in files:
        needs[f.type] |= _referenced_types(directory / f.name)
    types = set(needs)
    for rtype in types:
        needs[rtype] = (needs[rtype] & types) - {rtype}
    rounds: list[list[BulkFile]] = []
    done: set[str] = set()
    remaining = list(files)
    while remaining:
        ready = [f for f in remaining if needs[f.type] <= done] or remaining
        rounds.append(ready)
        done |= {f.type for f in ready}
        remaining = [f for f in remaining if f not in ready]
    return rounds


def import_parameters(files: list[BulkFile], base_url: str, input_source: str) -> dict[str, Any]:
    """The $import kick-off as a Parameters resource, in the form HAPI FHIR reads."""
    parameters: list[dict[str, Any]] = [
        {"name": "inputFormat", "valueCode": NDJSON_TYPE},
        {"name": "inputSource", "valueUri": input_source},
        {"name": "storageDetail", "part": [{"name": "type", "valueCode": "https"}]},
    ]
    for f in files:
        parameters.append(
            {
                "name": "input",
                "part": [
                    {"name": "type", "valueCode": f.type},
                    {"name": "url", "valueUri": urljoin(base_url, f.name)},
                ],
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


class _FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, directory: Path, files: list[BulkFile]):
        self.token = secrets.token_urlsafe(16)  # an unguessable path: only the server we tell can fetch
        self.paths = {f"/{self.token}/{f.name}": directory / f.name for f in files}
        self.fetched: dict[str, int] = {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _FileHandler)


class _FileHandler(BaseHTTPRequestHandler):
    server: _FileServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._send(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(body=False)

    def _send(self, body: bool) -> None:
        path = self.server.paths.get(self.path.split("?", 1)[0])
        if path is None:
            self.send_error(404)
            return
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", NDJSON_TYPE)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if body:
            # Counted before the body goes out: a reader that has the whole file has always been counted.
            with self.server.lock:
                self.server.fetched[path.name] = self.server.fetched.get(path.name, 0) + 1
            with open(path, "rb") as fh:
                shutil.copyfileobj(fh, self.wfile, 1 << 16)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the import's own report says what was fetched


@contextmanager
def serve_files(
    directory: Path, files: list[BulkFile], port: int = 0
) -> Iterator[tuple[str, dict[str, int]]]:
    """Serve exactly these files on 127.0.0.1 while the block runs; yield the base URL and a fetch count."""
    try:
        server = _FileServer(port, directory, files)
    except OSError as exc:
        raise ConfigError(f"cannot serve the files on 127.0.0.1:{port}: {exc.strerror}") from None
    thread = threading.Thread(target=server.serve_forever, name="bulk-file-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{server.token}/", server.fetched
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def bulk_import(
    client: FhirClient,
    directory: Path,
    settings: BulkSettings,
    *,
    progress: Callable[[str], None] = lambda message: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    outbox: Outbox | None = None,
) -> ImportResult:
    """Kick off $import of the directory's NDJSON, poll until the server is done, return its answer.

    With an `outbox` (that of `push`), the import holds its lock, and a bundle of an imported case
    waiting there, older than the import, is moved to its superseded/ folder once the import landed
    whole; otherwise it is named in `older_waiting`. An outbox that does not exist is not made.
    """
    files = read_directory(directory)
    rounds = import_rounds(directory, files)
    held = outbox is not None and (outbox.root.is_dir() or outbox.root.is_symlink())
    with outbox.lock() if held and outbox is not None else nullcontext():
        started = clock()
        # One deadline for every round: --bulk-timeout bounds the import.
        deadline = started + settings.timeout
        try:
            if settings.files_url:
                base = settings.files_url if settings.files_url.endswith("/") else settings.files_url + "/"
                if urlsplit(base).scheme not in ("http", "https"):
                    raise ConfigError(f"--files-url {settings.files_url}: not an http(s) URL")
                result = _run_rounds(client, rounds, base, None, settings, progress, sleep, clock, deadline)
            else:
                with serve_files(directory, files, settings.port) as (base, fetched):
                    progress(f"serving {len(files)} file(s) at {base}")
                    result = _run_rounds(
                        client, rounds, base, fetched, settings, progress, sleep, clock, deadline
                    )
                    result.fetched = dict(fetched)
        except ServerError as exc:
            if held and outbox is not None:
                failed = ImportResult("", 0, files)
                _older_in_outbox(outbox, _sent(directory, files)[1], failed)
                if failed.older_waiting:
                    lines = describe_older(failed)
                    raise _told(exc, "", "\n" + "\n".join(lines)) from None
            raise
        result.files = files
        sent, cases = _sent(directory, files) if result.imported_whole or held else (set(), set())
        if result.imported_whole:
            try:
                result.removed = remove_stale(client, sent, cases, files, progress)
            except ServerError as exc:
                result.removal_error = exc
        if held and outbox is not None:
            _older_in_outbox(outbox, cases, result)
        result.seconds = clock() - started
    return result


def _older_in_outbox(outbox: Outbox, cases: set[tuple[str, str]], result: ImportResult) -> None:
    """Retire (import whole) or name (not whole) each imported case's bundle waiting in the outbox.

    A bundle waits in pending/ only when an earlier push of its case did not land, so it is older
    than the directory just imported: sent by `push --resume`, it would put the older version back
    over the import and delete what the correction added.
    """
    for system, case_id in sorted(cases):
        key = case_key(system, case_id)
        if not outbox.has_waiting(key):
            continue
        if result.imported_whole:
            result.superseded[case_id] = str(outbox.retire(key))
        else:
            result.older_waiting[case_id] = str(outbox.pending / f"{key}.json")


def _sent(directory: Path, files: list[BulkFile]) -> tuple[set[str], set[tuple[str, str]]]:
    """`Type/id` of every resource in the files, and the tag (system, case id) of each case in them.

    A case's tag is the meta.tag of its Patient that repeats the Patient's case identifier, as
    convert writes it; every resource of the case carries it.
    """
    sent: set[str] = set()
    cases: set[tuple[str, str]] = set()
    for f in files:
        with open(directory / f.name, "rb") as fh:
            for line in fh:
                try:
                    resource = orjson.loads(line) if line.strip() else None
                except orjson.JSONDecodeError:
                    continue  # the server reports the line
                if not isinstance(resource, dict):
                    continue
                sent.add(f"{resource.get('resourceType')}/{resource.get('id')}")
                if resource.get("resourceType") != "Patient":
                    continue
                tags = tags_of(resource)
                for ident in resource.get("identifier") or []:
                    pair = (ident.get("system"), ident.get("value")) if isinstance(ident, dict) else None
                    if pair in tags and all(isinstance(v, str) and v for v in pair):
                        cases.add(pair)
    return sent, cases


def remove_stale(
    client: FhirClient,
    sent: set[str],
    cases: set[tuple[str, str]],
    files: list[BulkFile],
    progress: Callable[[str], None],
) -> dict[str, list[str]]:
    """Delete what the server holds with a case's tag that the directory (`sent`) no longer has; by case."""
    types = list(dict.fromkeys([*CASE_RESOURCE_TYPES, *(f.type for f in files)]))
    stale: dict[tuple[str, str], list[str]] = {}
    ordered = sorted(cases)
    for start in range(0, len(ordered), CASES_A_SEARCH):
        chunk = set(ordered[start : start + CASES_A_SEARCH])
        for rtype in types:
            for ref, tag in _tagged(client, rtype, chunk):
                if ref not in sent:
                    stale.setdefault(tag, []).append(ref)
    removed: dict[str, list[str]] = {}
    for (_, case_id), refs in sorted(stale.items()):
        refs = list(dict.fromkeys(refs))
        deletes = [{"request": {"method": "DELETE", "url": ref}} for ref in refs]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": deletes}
        try:
            client.transaction(orjson.dumps(bundle), expected_entries=len(deletes), deletes_from=0)
        except ServerError as exc:
            done = f"; removed before it: {sum(len(r) for r in removed.values())}" if removed else ""
            raise _told(
                exc,
                f"$import done, but {len(refs)} resource(s) case {printable(case_id, 200)} no longer has"
                f" could not be deleted ({', '.join(refs[:5])}{' ...' if len(refs) > 5 else ''}){done}",
            ) from None
        progress(f"{printable(case_id, 200)}: deleted {len(refs)} resource(s) the case no longer has")
        removed[case_id] = refs
    return removed


def _tagged(
    client: FhirClient, rtype: str, tags: set[tuple[str, str]]
) -> Iterator[tuple[str, tuple[str, str]]]:
    """(`Type/id`, tag) of every resource of one type carrying one of the tags, through every page."""
    try:
        yield from tagged_resources(client, rtype, tags)
    except ServerError as exc:
        raise _told(
            exc, "$import done, but which resources the corrected cases no longer have cannot be told"
        ) from None


def _told(exc: ServerError, what: str, after: str = "") -> ServerError:
    """The same kind of error, its message led by what it stopped (and followed by `after`)."""
    message = f"{what}: {exc}{after}" if what else f"{exc}{after}"
    if isinstance(exc, ServerRejectedError):
        return ServerRejectedError(message, status=exc.status, issues=exc.issues)
    if isinstance(exc, ServerResponseError):
        return ServerResponseError(message, status=exc.status)
    return ServerUnavailableError(message, status=getattr(exc, "status", None))


def _run_rounds(client, rounds, base, fetched, settings, progress, sleep, clock, deadline) -> ImportResult:
    """One $import per round, each waited for; a round that did not end well ends the import.

    `fetched`: the local file server's count of fetches by file name (None with --files-url).
    """
    result: ImportResult | None = None
    for n, round_files in enumerate(rounds, 1):
        if len(rounds) > 1:
            progress(f"round {n} of {len(rounds)}: {', '.join(f.type for f in round_files)}")
        done = _run(client, round_files, base, fetched, settings, progress, sleep, clock, deadline)
        if result is None:
            result = done
        else:
            result.status_url, result.http_status = done.status_url, done.http_status
            result.output += done.output
            result.sent_urls |= done.sent_urls
            result.error += done.error
            result.messages += done.messages
            result.polls += done.polls
            result.not_fetched += done.not_fetched
        if not done.imported_whole:
            later = [f.type for files in rounds[n:] for f in files]
            if later:
                result.messages.append(
                    f"not sent: {', '.join(later)} (after a round that did not import whole)"
                )
            break
    assert result is not None  # read_directory never gives an empty list
    return result


def _run(client, files, base, fetched, settings, progress, sleep, clock, deadline) -> ImportResult:
    local = fetched is not None
    body = import_parameters(files, base, settings.input_source or base)
    response, _ = client.request(
        "POST",
        "$import",
        json_body=orjson.dumps(body),
        headers={"Prefer": "respond-async"},
        within=max(0.0, deadline - clock()),
        within_name="--bulk-timeout",
    )
    if 300 <= response.status_code < 400:
        target = response.headers.get("Location")
        raise ServerResponseError(
            f"$import kick-off: the server answered HTTP {response.status_code}, a redirect to"
            f" {shown_url(target) if target else '(no Location)'}; the kick-off is not sent on to another"
            " address. If the server has moved, give its new base URL with --server",
            status=response.status_code,
        )
    if response.status_code != 202:
        issues = parse_issues(_json(response))
        detail = "; ".join(printable(i.get("diagnostics") or "", 300) for i in issues) or printable(
            response.text[:300]
        )
        if response.status_code in (404, 405, 501) or (
            400 <= response.status_code < 500 and "import" in detail.lower()
        ):
            detail += " (does the server support $import? HAPI FHIR needs bulk import enabled)"
        hint = client.auth_hint(response)
        detail += f"; {hint}" if hint else ""
        raise ServerRejectedError(
            f"$import kick-off: HTTP {response.status_code}, expected 202 Accepted: {detail}",
            status=response.status_code,
            issues=issues,
        )
    status_url = response.headers.get("Content-Location")
    if not status_url:
        raise ServerRejectedError(
            "$import kick-off: 202 Accepted without a Content-Location status URL", status=202
        )
    try:
        status_url = urljoin(client.base_url + "/", status_url.strip())
        usable = urlsplit(status_url).scheme in ("http", "https")
    except ValueError:
        usable = False
    if not usable:
        raise ServerRejectedError(
            f"$import kick-off: the status URL {printable(status_url, 200)} is not an http(s) URL", status=202
        )
    if not same_origin(status_url, client.base_url):
        raise ServerRejectedError(
            f"$import status URL {shown_url(status_url)} is not on {client.shown_base}; not following it"
            " with our credentials",
            status=202,
        )
    progress(f"import accepted; status at {shown_url(status_url)}")
    wait = retry_after(response)  # seconds or an HTTP date
    wait = settings.first_poll if wait is None else wait
    try:
        polls = 0
        while True:
            pause = min(wait, settings.max_poll_wait, deadline - clock())
            if pause > 0:  # at the deadline: one last look, at once
                sleep(pause)
            polls += 1
            try:
                # Each status request ends by --bulk-timeout too, however slowly the server answers.
                # A 500 here is the job's own failure (the import proposal's error answer), not retried.
                response, _ = client.request(
                    "GET",
                    status_url,
                    within=max(0.0, deadline - clock()),
                    within_name="--bulk-timeout",
                    retry_statuses=RETRY_STATUSES,
                )
            except ServerUnavailableError as exc:
                if clock() < deadline:
                    if not local:
                        raise
                    # The status URL failed at every retry (a 503 mid-poll): the job is left
                    # without its files once this command ends, so it is cancelled.
                    _cancel(client, status_url)
                    raise _told(
                        exc,
                        "",
                        "; the import was cancelled, as the local file server stops with this command",
                    ) from None
                response, late = None, exc
            if response is None or response.status_code == 202:
                note = response.headers.get("X-Progress") if response is not None else None
                if note:
                    progress(f"in progress: {printable(note, 200)}")
                if clock() >= deadline:
                    message = f"$import still running after {settings.timeout:.0f}s (status at {shown_url(status_url)})"
                    if response is None:
                        message += f"; the last status request got no whole answer in time ({late})"
                    if local:
                        # The files stop being served now, so the job cannot finish: cancel it.
                        _cancel(client, status_url)
                        message += "; cancelled, as the local file server stops with this command"
                    raise ServerUnavailableError(message)
                # Without Retry-After, back off: 1, 2, 4 ... seconds up to --poll-max-wait.
                # Retry-After: 0 is waited as first_poll, or the polling would be a busy loop.
                asked = retry_after(response)
                wait = (
                    min(max(wait, settings.first_poll) * 2, settings.max_poll_wait)
                    if asked is None
                    else max(asked, settings.first_poll)
                )
                continue
            result = ImportResult(status_url, response.status_code, files, polls=polls)
            answer = _json(response)
            if response.status_code == 200:
                if isinstance(answer, dict) and answer.get("resourceType") == "OperationOutcome":
                    # Only information and warnings tell a success; any other severity (none, a
                    # misspelt one) or no issue at all is no word that the import went well.
                    issues = parse_issues(answer) or [
                        {"severity": None, "diagnostics": "an OperationOutcome with no issue"}
                    ]
                    result.error = [i for i in issues if i.get("severity") not in ("information", "warning")]
                    result.messages = [i.get("diagnostics") or "" for i in issues if i not in result.error]
                elif _is_completion(answer):
                    result.sent_urls = {urljoin(base, f.name): f.count for f in files}
                    result.output = [i for i in answer.get("output") or [] if isinstance(i, dict)]
                    # An error item in no form the proposal gives (a string, null) is an error still.
                    result.error = [
                        i
                        if isinstance(i, dict)
                        else {"diagnostics": printable(orjson.dumps(i).decode(), 300)}
                        for i in answer.get("error") or []
                    ]
                    _read_error_files(client, result.error, deadline, clock)
                else:
                    # An empty body, a web page or some other JSON says nothing of what was imported;
                    # taken as success, the next round would reference resources that may not be there.
                    raise ServerResponseError(
                        f"$import status {shown_url(status_url)}: HTTP 200 with {snippet(response)},"
                        " neither the import's completion report nor an OperationOutcome; whether the"
                        " import ended, and what it stored, cannot be told",
                        status=200,
                    )
                if fetched is not None:
                    # Counted before each body goes out, so a file the server read is always counted.
                    result.not_fetched = [f.name for f in files if not fetched.get(Path(f.name).name)]
                return result
            issues = parse_issues(answer)
            detail = "; ".join(printable(i.get("diagnostics") or "", 300) for i in issues) or printable(
                response.text[:300]
            )
            raise ServerRejectedError(
                f"$import failed: HTTP {response.status_code} from {shown_url(status_url)}: {detail}",
                status=response.status_code,
                issues=issues,
            )

    except KeyboardInterrupt:
        # Ctrl-C: with the local file server gone the job cannot finish, and a job left running
        # would fetch nothing and fail, or store part of the files: cancel it, as after --bulk-timeout.
        if local:
            _cancel(client, status_url)
            progress(
                f"interrupted: asked the server to cancel the import (DELETE {shown_url(status_url)}),"
                " as the local file server stops with this command"
            )
        else:
            progress(
                f"interrupted: the import may go on at the server; its status is at {shown_url(status_url)}"
            )
        raise


ERROR_ISSUES_SHOWN = 20  # issues shown from one error file


def _read_error_files(client: FhirClient, errors: list[dict[str, Any]], deadline: float, clock) -> None:
    """Read each error file the report names on the server's own origin; put its issues in `issues`.

    The proposal's report names files of OperationOutcomes rather than telling what failed; a
    file on another origin is not fetched, since the credentials would go with the request.
    """
    for item in errors:
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            continue
        try:
            url = urljoin(client.base_url + "/", url.strip())
        except ValueError:
            continue
        if not same_origin(url, client.base_url):
            item["issues"] = [f"(not read: {shown_url(url)} is not on {client.shown_base})"]
            continue
        try:
            response, _ = client.request(
                "GET", url, within=max(0.0, deadline - clock()), within_name="--bulk-timeout",
                headers={"Accept": f"{NDJSON_TYPE}, application/json"},
            )  # fmt: skip
        except ServerError as exc:
            item["issues"] = [f"(not read: {exc})"]
            continue
        if response.status_code != 200:
            item["issues"] = [f"(not read: HTTP {response.status_code} from {shown_url(url)})"]
            continue
        issues: list[str] = []
        for line in response.text.splitlines():
            try:
                outcome = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                outcome = None
            found = parse_issues(outcome) if isinstance(outcome, dict) else []
            issues += [
                f"{i.get('severity') or '?'}: {i.get('diagnostics') or i.get('code') or ''}" for i in found
            ] or ([f"(not an OperationOutcome: {printable(line, 200)})"] if line.strip() else [])
        shown = issues[:ERROR_ISSUES_SHOWN]
        if len(issues) > ERROR_ISSUES_SHOWN:
            shown.append(f"... and {len(issues) - ERROR_ISSUES_SHOWN} more")
        item["issues"] = shown


def _is_completion(answer: Any) -> bool:
    """Whether a 200 from the status URL is the import's completion report (its `output` a list)."""
    return (
        isinstance(answer, dict)
        and isinstance(answer.get("output"), list)
        and isinstance(answer.get("error", []), list)
    )


def _cancel(client: FhirClient, status_url: str) -> None:
    """Ask the server to cancel (DELETE on the status URL, as the import proposal allows); best effort."""
    with suppress(ServerUnavailableError):
        client.request("DELETE", status_url, within=CANCEL_SECONDS, within_name="the time a cancel may take")


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def describe(result: ImportResult) -> list[str]:
    """Lines for a person: what was sent, what the server fetched, what it says it imported."""
    lines = []
    sent = sum(f.count for f in result.files)
    lines.append(f"sent {sent} resource(s) in {len(result.files)} file(s) for $import:")
    for f in result.files:
        fetched = result.fetched.get(Path(f.name).name)
        seen = "" if not result.fetched else f", fetched {fetched or 0} time(s)"
        lines.append(f"  {f.type}: {f.count} ({f.name}{seen})")
    imported = result.imported()
    if result.output:
        lines.append("the server reports:")
        for item in result.output:
            where = item.get("inputUrl") or item.get("input") or item.get("url") or ""
            lines.append(f"  imported {printable(item.get('count', '?'), 20)} from {printable(where, 300)}")
    for message in result.messages:
        lines.append(f"the server reports: {printable(message, 1000)}")
    for item in result.error:
        what = item.get("diagnostics") or item.get("url") or orjson.dumps(item).decode()
        count = f"{item['count']} " if isinstance(item.get("count"), int) else ""
        lines.append(f"  error: {count}{printable(what, 1000)}")
        lines.extend(f"    {printable(issue, 1000)}" for issue in item.get("issues") or [])
    if imported is not None and imported != sent:
        lines.append(f"the server imported {imported} of {sent} resource(s)")
    lines.extend(f"not imported whole: {line}" for line in result.unaccounted())
    for case_id, refs in result.removed.items():
        lines.append(
            f"deleted {len(refs)} resource(s) case {printable(case_id, 200)} no longer has: {', '.join(refs)}"
        )
    if result.removal_error is not None:
        lines.append(f"not removed: {result.removal_error}")
    lines.extend(describe_older(result))
    lines.append(f"done in {result.seconds:.1f}s after {result.polls} status request(s)")
    return lines


def describe_older(result: ImportResult) -> list[str]:
    """Lines for each imported case whose older bundle the outbox held: retired, or still waiting."""
    lines = []
    for case_id, where in result.superseded.items():
        lines.append(
            f"{printable(case_id, 200)}: an older bundle of this case was waiting in the outbox from a push"
            f" that did not land; moved to {printable(where, 300)}, never to be sent over this import"
        )
    for case_id, where in result.older_waiting.items():
        lines.append(
            f"{printable(case_id, 200)}: an older bundle of this case waits in {printable(where, 300)};"
            " push --resume would send it over what this import stored. Import this directory again"
            " until it lands whole, or delete that file"
        )
    return lines
