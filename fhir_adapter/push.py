"""Sends transaction bundles to a server through an outbox, so nothing is lost when a send fails.

Every bundle of a run is written to `pending/` before the first is sent, and moves to `sent/`
only once the server has accepted it: a run killed at any point (kill -9, a power cut after the
writes reached the disk) leaves every unsent bundle in `pending/` for `push --resume`, and
resending one the server had already stored changes nothing (every entry is a PUT to a fixed
id). One push at a time holds the outbox's lock, so two processes never send the same bundle.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha1
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from .client import FhirClient, PageTally, TransactionResult, format_issues, parse_issues
from .errors import (
    AdapterError,
    ConfigError,
    DamagedFileError,
    InvalidCaseError,
    OutboxBusyError,
    OutputError,
    ServerError,
    ServerRejectedError,
    ServerResponseError,
    printable,
)
from .ids import DEFAULT_ID_SYSTEM
from .writer import FILE_MODE, dumps, output_error, write_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KEY_RE = re.compile(r"[^A-Za-z0-9._-]+")
# What a server assigns and a read-back may legitimately differ in.
SERVER_OWNED_META = ("versionId", "lastUpdated", "source")
META_SETS = ("tag", "security", "profile")  # kept as sets by servers, which may add to them
# Every resource type a case's bundle can hold (bundle.py and mapping/): push searches each for the
# case's tag to find what a corrected case no longer has. A test checks the examples use no other.
CASE_RESOURCE_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationStatement",
    "Specimen",
    "BodyStructure",
    "DocumentReference",
    "ClinicalImpression",
    "Provenance",
)
_MAX_SEARCH_PAGES = 100
# A Bundle.meta.tag in this system names the case id a bundle's case replaces (push --replaces):
# push deletes that case's resources in the same transaction.
REPLACES_SYSTEM = "urn:fhir-adapter:replaces"
# FHIR R4 id datatype: what a server-supplied id must be before it goes into a request URL.
_FHIR_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_FHIR_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_SEARCHES_AT_ONCE = 4  # searches per bundle in flight, on top of --workers


class MisplacedError(ServerResponseError):
    """The server accepted the transaction but stored resources under other ids than those sent."""


@dataclass
class Item:
    """One bundle to send: its outbox key, where it came from, and what it says."""

    key: str
    source: str
    bundle: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)  # resource id -> case-file field
    queued: bool = False  # already in pending/ (from a run before); its bundle is read from there

    @property
    def payload(self) -> bytes:
        return orjson.dumps(self.bundle)


@dataclass
class PushResult:
    key: str
    source: str
    status: str  # sent | rejected | unavailable | misplaced | invalid
    result: TransactionResult | None = None
    error: AdapterError | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # Type/id deleted: no longer in the case
    kept: int | None = None  # entries of the bundle, before the DELETEs push added (sent)

    def as_report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.key, "source": self.source, "status": self.status}
        if self.result is not None:
            out["http_status"] = self.result.status
            out["attempts"] = self.result.attempts
            out["resources"] = [
                {
                    "resourceType": e.resource_type,
                    "id": e.id,
                    "status": e.status_text,
                    "version": e.version,
                    "location": e.location,
                }
                for e in self.result.entries
            ]
        if self.error is not None:
            out["error"] = str(self.error)
        if self.issues:
            out["issues"] = self.issues
        if self.hints:
            out["fields"] = self.hints
        if self.differences:
            out["differences"] = self.differences
        if self.removed:
            out["removed"] = self.removed
        return out


def outbox_key(bundle: dict[str, Any], fallback: str) -> str:
    """The outbox file name of a bundle: one name per case (or per bundle), never shared.

    A case's bundles share a name, so a newer bundle of the same case replaces one still waiting,
    and nothing else ever does. The name is the case id as it is for a case under the default
    identifier system; otherwise (another system, no case id, characters a file name cannot
    carry) it is a readable part, `~` and a digest of what identifies the bundle: the system and
    the case id, else the bundle id, else its content. `~` never occurs in a plain name, and no
    name ends in `.error`, which marks the error file beside a waiting bundle.
    """
    ident = bundle.get("identifier") if isinstance(bundle.get("identifier"), dict) else {}
    value, system = ident.get("value"), ident.get("system")
    if isinstance(value, str) and value:
        readable, identity = value, f"identifier {system}|{value}"
    elif isinstance(bundle.get("id"), str) and bundle["id"]:
        readable, identity = bundle["id"], f"id {bundle['id']}"
    else:
        readable, identity = fallback, "content " + sha1(orjson.dumps(bundle)).hexdigest()
    plain = _KEY_RE.sub("_", str(readable)).strip("._-")[:80] or "bundle"
    if system == DEFAULT_ID_SYSTEM and plain == value and not plain.endswith(".error"):
        return plain
    return f"{plain}~{sha1(identity.encode()).hexdigest()[:12]}"


class Outbox:
    """pending/ holds every bundle not yet accepted (with its last error); sent/ the accepted ones;
    damaged/ the pending files that were not whole bundles, set aside and never sent; superseded/
    the pending bundles a newer version of their case replaced on the server by other means (a
    `push --bulk`), kept and never sent, since sending them would put the older version back;
    unconfirmed/ per case, the resources of waiting bundles a newer bundle of the case replaced
    (a push of them may have landed with its answer lost), until a push of the case lands.

    No file of the outbox is opened through a symbolic link: a link planted as `.lock` or in
    pending/ is refused or set aside, never followed, and an outbox directory that is itself a
    link (to elsewhere) is refused unless `allow_symlink` says the user meant it.
    """

    def __init__(self, root: Path, *, allow_symlink: bool = False):
        self.root = Path(root)
        self.allow_symlink = allow_symlink
        self.pending = self.root / "pending"
        self.sent = self.root / "sent"
        self.damaged = self.root / "damaged"
        self.superseded = self.root / "superseded"
        self.unconfirmed = self.root / "unconfirmed"

    def check_links(self) -> None:
        """Refuse an outbox (or a folder of it) that is a symbolic link, unless allowed."""
        if self.allow_symlink:
            return
        for path in (self.root, self.pending, self.sent, self.damaged, self.superseded, self.unconfirmed):
            if path.is_symlink():
                try:
                    target = f" to {os.readlink(path)}"
                except OSError:
                    target = ""
                raise ConfigError(
                    f"{printable(path)}: the outbox{'' if path == self.root else ' folder'} is a symbolic link"
                    f"{printable(target, 300)}; case data would be written wherever it points. Give a real"
                    " directory with --outbox, or pass --allow-outbox-symlink if the link is yours"
                )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the outbox for this process; OutboxBusyError if another push holds it.

        An flock is released by the kernel when its process ends, however it ends, so a killed
        push never leaves the outbox locked. The lock file is opened without following a link.
        """
        self.check_links()
        if fcntl is None:  # pragma: no cover
            yield
            return
        path = self.root / ".lock"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP or path.is_symlink():
                raise ConfigError(
                    f"{printable(path)}: the outbox's lock file is a symbolic link; not followed (it would"
                    " overwrite what it points to). Remove the link and run again"
                ) from None
            raise output_error(path, exc) from None
        fh = os.fdopen(fd, "r+")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(
                    f"{printable(path)}: the outbox's lock file is not a regular file; remove it"
                )
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = printable(fh.read(40).strip(), 20) or "?"
                raise OutboxBusyError(
                    f"{self.root}: another push (process {holder}) is sending from this outbox; wait"
                    " for it to end, or give this run its own --outbox"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            self._sweep_leftovers()
            yield
        finally:
            fh.close()

    def _sweep_leftovers(self) -> None:
        """Remove the hidden `.name.*.tmp` files a killed run left half written.

        Every file of the outbox is written beside its place and renamed into it, so a run killed
        between the two leaves only such a file, never a bundle that looks whole. They are never
        read, and with the lock held no other run is writing one.
        """
        for folder in (self.pending, self.sent, self.damaged, self.superseded, self.unconfirmed):
            try:
                leftovers = [p for p in folder.glob(".*.tmp") if not p.is_symlink() and p.is_file()]
            except OSError:
                continue
            for path in leftovers:
                with contextlib.suppress(OSError):
                    path.unlink()

    def put(self, item: Item) -> None:
        """Write the bundle to pending/, first noting what a waiting bundle of the case it replaces had.

        A waiting bundle may have reached the server with its answer lost. Its resources the new
        bundle lacks go to unconfirmed/, so that the push of the new one deletes them (a DELETE of
        what never landed finds nothing, which is no error), even where the server's search does
        not list them yet.
        """
        path = self.pending / f"{item.key}.json"
        earlier = _resources_of(self._read_bundle(path), item.bundle)
        if earlier:
            kept = set(_sent_ids(item.bundle))
            refs = [ref for ref in [*self.unconfirmed_of(item.key, item.bundle), *earlier] if ref not in kept]
            if refs:
                tag = case_tag(item.bundle)
                record = {"case": list(tag) if tag else None, "resources": list(dict.fromkeys(refs))}
                write_atomic(self.unconfirmed / f"{item.key}.json", dumps(record))
        write_atomic(path, dumps(item.bundle))

    def unconfirmed_of(self, key: str, bundle: dict[str, Any]) -> list[str]:
        """`Type/id` of the resources replaced waiting bundles of this case had (see put)."""
        record = self._read_bundle(self.unconfirmed / f"{key}.json")
        tag = case_tag(bundle)
        if not isinstance(record, dict) or tag is None or record.get("case") != list(tag):
            return []
        refs = record.get("resources") if isinstance(record.get("resources"), list) else []
        return [
            ref
            for ref in refs
            if isinstance(ref, str)
            and ref.count("/") == 1
            and _FHIR_TYPE_RE.fullmatch(ref.split("/")[0])
            and _FHIR_ID_RE.fullmatch(ref.split("/")[1])
        ]

    @staticmethod
    def _read_bundle(path: Path) -> Any:
        """The JSON of an outbox file, or None when it is missing, a link or not JSON."""
        try:
            return orjson.loads(_read_no_follow(path))
        except (OSError, _NotRegular, orjson.JSONDecodeError):
            return None

    def mark_sent(self, item: Item) -> None:
        """Move the pending copy to sent/ (a rename: the bundle is never in neither)."""
        target = self.sent / f"{item.key}.json"
        try:
            self.sent.mkdir(parents=True, exist_ok=True)
            os.replace(self.pending / f"{item.key}.json", target)
            os.utime(target)  # sent now: the age --prune goes by
        except FileNotFoundError:
            write_atomic(target, dumps(item.bundle))
        except OSError as exc:
            raise output_error(target, exc) from None
        (self.pending / f"{item.key}.error.json").unlink(missing_ok=True)
        # The transaction just accepted deleted each of them the bundle does not hold.
        (self.unconfirmed / f"{item.key}.json").unlink(missing_ok=True)

    def mark_failed(self, item: Item, result: PushResult) -> None:
        write_atomic(
            self.pending / f"{item.key}.error.json",
            dumps(result.as_report()),
        )

    def withdraw(self, key: str) -> None:
        """Remove a bundle this run put in pending/ and must not send (nor leave for --resume)."""
        for path in (self.pending / f"{key}.json", self.pending / f"{key}.error.json"):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise output_error(path, exc) from None

    def last_sent(self, key: str, bundle: dict[str, Any]) -> list[str]:
        """`Type/id` of each resource the copy in sent/ of this case's last accepted bundle holds.

        What the server stored at the last push, known without a search: a server whose search
        index lags behind its writes lists none of it right after. Only a copy of the same case
        (its identifier) counts, and only entries with a resource type and a FHIR id (they go into
        a DELETE URL); a copy that is missing, unreadable or not a Bundle names nothing.
        """
        return _resources_of(self._read_bundle(self.sent / f"{key}.json"), bundle)

    def has_waiting(self, key: str) -> bool:
        """Whether a bundle with this key waits in pending/ (a link planted there counts too)."""
        return os.path.lexists(self.pending / f"{key}.json")

    def retire(self, key: str) -> Path:
        """Move the pending bundle of this key to superseded/ (kept, never sent) and drop its error file.

        For a case whose newer version reached the server another way: sent later, the waiting
        bundle would put the older version back and delete what the newer one added. The caller
        holds the lock. Returns where the bundle went.
        """
        target = self.superseded / f"{key}.json"
        try:
            self.superseded.mkdir(parents=True, exist_ok=True)
            os.replace(self.pending / f"{key}.json", target)
        except OSError as exc:
            raise output_error(target, exc) from None
        (self.pending / f"{key}.error.json").unlink(missing_ok=True)
        return target

    def waiting(self) -> Iterator[Item]:
        """Every bundle still pending, oldest name first; each is read when it is sent."""
        for path in sorted(self.pending.glob("*.json")):
            if path.name.endswith(".error.json") or path.name.startswith("."):
                continue
            yield Item(path.stem, str(path), {}, queued=True)

    def load(self, item: Item) -> Item:
        """The item with its bundle read from pending/; a file that is not a whole Bundle is set aside.

        The file is opened without following a link: a link planted in pending/ (to a file the
        user can read and the server should not) is set aside, never read and sent.
        """
        path = self.pending / f"{item.key}.json"
        try:
            bundle = orjson.loads(_read_no_follow(path))
        except FileNotFoundError:
            raise DamagedFileError(f"{path}: gone from the outbox before it was sent") from None
        except _NotRegular as exc:
            raise self._set_aside(path, str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._set_aside(path, "a symbolic link, not a bundle file; not followed") from None
            raise self._set_aside(path, f"not readable ({exc.strerror})") from None
        except orjson.JSONDecodeError as exc:
            raise self._set_aside(path, f"not readable JSON ({exc})") from None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise self._set_aside(path, "not a FHIR Bundle")
        if not isinstance(bundle.get("entry"), list):
            raise self._set_aside(path, "a Bundle without its entries")
        return Item(item.key, item.source, bundle, item.origins, queued=True)

    def _set_aside(self, path: Path, why: str) -> DamagedFileError:
        """Move a damaged pending file to damaged/ (kept, never sent) and say so."""
        target = self.damaged / path.name
        try:
            self.damaged.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            return DamagedFileError(
                f"{path}: {why}; not sent, and it could not be moved aside: {exc.strerror}"
            )
        return DamagedFileError(
            f"{path}: {why}, perhaps cut short by a full disk or an edit; not sent. It was moved to"
            f" {target}: convert its case again, or delete it"
        )

    def prune(self, older_than_days: float) -> int:
        """Delete the copies in sent/ older than this many days; return how many went.

        Never through a link: a sent/ that points elsewhere is refused (check_links), and a
        link inside it is removed as a link, its target left alone. It holds the outbox's lock:
        a push running meanwhile reads the copies in sent/ to know what a correction deletes.
        """
        self.check_links()
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_days * 86400
        removed = 0
        with self.lock():
            for path in self.sent.glob("*.json"):
                with contextlib.suppress(FileNotFoundError):
                    if path.lstat().st_mtime <= cutoff:
                        path.unlink()
                        removed += 1
        return removed


def _resources_of(copy: Any, bundle: dict[str, Any]) -> list[str]:
    """`Type/id` of each resource an outbox copy holds, when it is a Bundle of the same case as `bundle`.

    Only a copy of the same case (its identifier) counts, and only entries with a resource type
    and a FHIR id (they go into a DELETE URL).
    """
    if not isinstance(copy, dict) or case_tag(copy) is None or case_tag(copy) != case_tag(bundle):
        return []
    out = []
    for entry in copy.get("entry") if isinstance(copy.get("entry"), list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if (
            isinstance(rtype, str)
            and isinstance(rid, str)
            and _FHIR_TYPE_RE.fullmatch(rtype)
            and _FHIR_ID_RE.fullmatch(rid)
        ):
            out.append(f"{rtype}/{rid}")
    return list(dict.fromkeys(out))


class _NotRegular(Exception):
    """A pending file that is a device, a FIFO or a directory: never read."""


def _read_no_follow(path: Path) -> bytes:
    """A file's bytes, opened without following a link and without blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _NotRegular("not a regular file (a directory, a FIFO or a device); not read")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _hints(item: Item, issues: list[dict[str, Any]]) -> list[str]:
    """Case-file fields behind the rejected elements, where the expression names an entry or type."""
    entries = item.bundle.get("entry") or []
    hints = []
    for issue in issues:
        for expr in issue.get("expression") or []:
            match = re.search(r"entry\[(\d+)\]", expr)
            candidates = []
            if match and int(match.group(1)) < len(entries):
                candidates = [entries[int(match.group(1))]["resource"]]
            else:
                rtype = expr.split(".", 1)[0]
                candidates = [e["resource"] for e in entries if e["resource"].get("resourceType") == rtype]
            for res in candidates:
                origin = item.origins.get(res.get("id", ""))
                label = f"{res.get('resourceType')}/{res.get('id')}"
                hints.append(f"{printable(expr, 200)}: {label}" + (f" made from {origin}" if origin else ""))
    return list(dict.fromkeys(hints))


def normalise_sent(bundle: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """A sent resource as a server stores it: a reference to a urn:uuid fullUrl becomes Type/id.

    Only Reference.reference is resolved; the same text elsewhere (an identifier's value) is kept.
    """
    mapping = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry") or []
        if "fullUrl" in e
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: mapping.get(v, v) if k == "reference" and isinstance(v, str) else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(resource)


def differences(sent: Any, stored: Any, path: str = "", *, base: str | None = None) -> list[str]:
    """Where a stored resource differs from what was sent, ignoring what the server assigns.

    `meta.tag`, `meta.security` and `meta.profile` are sets a server may add to (its own tags, a
    profile it checked) and keep in any order: each sent is looked for, none added is a
    difference. A reference the server gives as an absolute URL on its own `base` is the same
    reference as the relative one sent.
    """
    if isinstance(sent, dict) and isinstance(stored, dict):
        out = []
        for key in sorted(set(sent) | set(stored)):
            sub = f"{path}.{key}" if path else key
            if path == "meta" and key in SERVER_OWNED_META:
                continue
            if path == "meta" and key in META_SETS:
                out.extend(_missing_from_set(sub, sent.get(key), stored.get(key)))
                continue
            if key == "reference" and base and isinstance(stored.get(key), str):
                given = stored[key]
                if given.startswith(base + "/") and given[len(base) + 1 :] == sent.get(key):
                    continue
            if not path and key == "text" and key not in sent:
                continue  # a narrative the server generated
            if not path and key == "meta" and key not in sent:
                continue
            if key not in stored:
                out.append(f"{sub}: sent but not stored")
            elif key not in sent:
                out.append(f"{sub}: added by the server ({orjson.dumps(stored[key]).decode()[:80]})")
            else:
                out.extend(differences(sent[key], stored[key], sub, base=base))
        return out
    if isinstance(sent, list) and isinstance(stored, list):
        if len(sent) != len(stored):
            return [f"{path}: sent {len(sent)} item(s), stored {len(stored)}"]
        out = []
        for i, (a, b) in enumerate(zip(sent, stored, strict=True)):
            out.extend(differences(a, b, f"{path}[{i}]", base=base))
        return out
    if sent != stored:
        return [
            f"{path}: sent {orjson.dumps(sent).decode()[:80]}, stored {orjson.dumps(stored).decode()[:80]}"
        ]
    return []


def _missing_from_set(path: str, sent: Any, stored: Any) -> list[str]:
    """Each item of a sent meta set (a tag, a security label, a profile) that the stored set lacks."""
    if sent is None:
        return []

    def key(item: Any) -> Any:
        # A Coding is the same label by its system and code (a server may add a display or version).
        if isinstance(item, dict) and ("system" in item or "code" in item):
            return ("coding", item.get("system"), item.get("code"))
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)

    have = {key(item) for item in stored} if isinstance(stored, list) else set()
    if not isinstance(sent, list):
        return (
            []
            if sent == stored
            else [
                f"{path}: sent {orjson.dumps(sent).decode()[:80]}, stored {orjson.dumps(stored).decode()[:80]}"
            ]
        )
    return [
        f"{path}: sent {orjson.dumps(item).decode()[:80]}, not stored"
        for item in sent
        if key(item) not in have
    ]


def case_marker(system: str, case_id: str) -> dict[str, Any]:
    """A stand-in bundle naming only a case (its identifier): what outbox_key and last_sent read of one."""
    return {"identifier": {"system": system, "value": case_id}}


def case_key(system: str, case_id: str) -> str:
    """The outbox name of a case's bundles, from its identifier system and case id (see outbox_key)."""
    return outbox_key(case_marker(system, case_id), case_id)


def case_tag(bundle: dict[str, Any]) -> tuple[str, str] | None:
    """(system, case id) of a bundle's case: the meta.tag every resource of the case carries."""
    ident = bundle.get("identifier")
    if (
        isinstance(ident, dict)
        and isinstance(ident.get("system"), str)
        and isinstance(ident.get("value"), str)
    ):
        return ident["system"], ident["value"]
    return None


def _token(value: str) -> str:
    """A search token part with FHIR's escapes for `\\`, `|`, `,` and `$`."""
    return re.sub(r"([\\|,$])", r"\\\1", value)


def tags_of(resource: dict[str, Any]) -> set[tuple[Any, Any]]:
    """(system, code) of each meta.tag of a resource."""
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    return {(t.get("system"), t.get("code")) for t in meta.get("tag") or [] if isinstance(t, dict)}


def tagged_on_server(
    client: FhirClient, tag: tuple[str, str], types: Iterable[str], *, consequence: str = "nothing was sent"
) -> list[str]:
    """`Type/id` of every resource on the server that carries the case's tag, by a search per type.

    A failed search is an error whose message ends with `consequence` (what the caller then did not do).

    FHIR has no portable search across types (HAPI FHIR refuses `GET [base]?_tag=`, HAPI-0287),
    so there is one per type, a few at a time. HAPI FHIR answers a repeated search from a cache
    for a minute, so each asks for none (Cache-Control: no-cache). A server that ignores the _tag
    parameter answers with other resources too: only those that carry the tag are counted.
    """
    types = list(types)
    with ThreadPoolExecutor(max_workers=min(_SEARCHES_AT_ONCE, len(types) or 1)) as pool:
        found = [
            ref
            for refs in pool.map(lambda t: _tagged_of_type(client, tag, t, consequence), types)
            for ref in refs
        ]
    return list(dict.fromkeys(found))


def _tagged_of_type(client: FhirClient, tag: tuple[str, str], rtype: str, consequence: str) -> list[str]:
    """`Type/id` of each resource of one type that carries the case's tag (see tagged_resources)."""
    why = f"the resources the server holds for this case cannot be told, so {consequence}"
    try:
        return [ref for ref, _ in tagged_resources(client, rtype, {tag})]
    except ServerRejectedError as exc:
        raise ServerRejectedError(f"{exc}; {why}", status=exc.status, issues=exc.issues) from None
    except ServerResponseError as exc:
        raise ServerResponseError(
            exc.message if exc.message.endswith(why) else f"{exc}; {why}", status=exc.status
        ) from None


def tagged_resources(
    client: FhirClient, rtype: str, tags: set[tuple[str, str]]
) -> Iterator[tuple[str, tuple[str, str]]]:
    """(`Type/id`, tag) of each resource of one type carrying one of the tags, through every page.

    The pages come from FhirClient.pages, which follows a next link only on the server's own
    origin and stops with an error when the paging does not end: a page cut short here would
    leave resources a case no longer has on the server without a word. A server that ignores
    _tag answers with other resources too: only the tagged ones count. An id that is not a FHIR
    id is refused, since it would go into the URL of a DELETE (`x?_tag=...` would make it a
    conditional delete of whatever matches).
    """
    value = ",".join(f"{_token(system)}|{_token(code)}" for system, code in sorted(tags))
    params = {"_tag": value, "_elements": "meta", "_count": "500"}
    tally = PageTally()
    for body in client.pages(
        rtype, params, max_pages=_MAX_SEARCH_PAGES, headers={"Cache-Control": "no-cache"}
    ):
        tally.add(body)
        for entry in body.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            failed = [
                i for i in parse_issues(resource) if (i.get("severity") or "").lower() in ("error", "fatal")
            ]
            if failed:
                # The server says the search went wrong (a parameter it cannot use, a partial
                # answer): what it lists, or leaves out, is no account of the case's resources.
                raise ServerResponseError(
                    f"GET {client.shown_base}/{rtype}?_tag={printable(value, 200)}: the server's answer"
                    f" holds an OperationOutcome saying the search failed: {format_issues(failed).strip()}",
                    status=200,
                )
            if not isinstance(resource, dict) or resource.get("resourceType") != rtype:
                continue
            for tag in sorted(tags_of(resource) & tags):
                rid = resource.get("id")
                if not isinstance(rid, str) or not _FHIR_ID_RE.fullmatch(rid):
                    raise ServerResponseError(
                        f"GET {client.shown_base}/{rtype}?_tag={printable(value, 200)}: the server lists a"
                        f" resource with the tag of case {printable(tag[1], 200)} whose id"
                        f" {printable(repr(rid), 100)} is not a FHIR id",
                        status=200,
                    )
                yield f"{rtype}/{rid}", tag
    if tally.short:
        # The pages ended with fewer than the server says match: those not listed could be
        # resources a corrected case no longer has.
        raise ServerResponseError(
            f"GET {client.shown_base}/{rtype}?_tag={printable(value, 200)}: the server says {tally.total}"
            f" resource(s) match, but its pages list {tally.listed}",
            status=200,
        )


def replaced_case(bundle: dict[str, Any]) -> tuple[str, str] | None:
    """(system, old case id) of the case a bundle's case replaces (`push --replaces`), or None.

    The bundle says so itself, by a Bundle.meta.tag in REPLACES_SYSTEM, so a bundle left waiting
    in pending/ still says it when `push --resume` sends it.
    """
    tag = case_tag(bundle)
    old = sorted(c for s, c in tags_of(bundle) if s == REPLACES_SYSTEM and isinstance(c, str) and c)
    if tag is None or not old or old[0] == tag[1]:
        return None
    return tag[0], old[0]


def case_on_server(
    client: FhirClient, outbox: Outbox, system: str, case_id: str, *, consequence: str = "nothing was sent"
) -> list[str]:
    """`Type/id` of what the server holds of a case: every resource carrying its tag, and what the
    outbox's sent/ copy of its last bundle holds (a search index that lags behind the server's
    writes would miss it). A failed search is an error ending with `consequence` (see tagged_on_server).
    """
    found = tagged_on_server(client, (system, case_id), CASE_RESOURCE_TYPES, consequence=consequence)
    sent = outbox.last_sent(case_key(system, case_id), case_marker(system, case_id))
    return list(dict.fromkeys([*found, *sent]))


def replaced_on_server(client: FhirClient, outbox: Outbox, bundle: dict[str, Any]) -> list[str]:
    """`Type/id` of what the server holds of the case a bundle's case replaces (see case_on_server)."""
    old = replaced_case(bundle)
    return case_on_server(client, outbox, *old) if old is not None else []


def retire_replaced(outbox: Outbox, bundle: dict[str, Any]) -> None:
    """Set aside the outbox's bundles of the replaced case (see retire_case)."""
    old = replaced_case(bundle)
    if old is not None:
        retire_case(outbox, case_key(*old))


def retire_case(outbox: Outbox, key: str) -> Path | None:
    """Move a case's bundles to superseded/ once the server no longer holds the case (renamed, withdrawn).

    One waiting in pending/ would bring the case back at `push --resume`; the copy in sent/ would
    have every later push delete its resources again (and say so). Returns where the waiting one went.
    """
    moved = outbox.retire(key) if outbox.has_waiting(key) else None
    copy = outbox.sent / f"{key}.json"
    if copy.exists() or copy.is_symlink():
        target = outbox.superseded / f"{key}.sent.json"
        try:
            outbox.superseded.mkdir(parents=True, exist_ok=True)
            os.replace(copy, target)
        except OSError as exc:
            raise output_error(target, exc) from None
    return moved


def _also_deletes(stale: list[str]) -> str:
    """What a refused transaction also deleted, for the message that explains the refusal."""
    return (
        f"The transaction also deletes {len(stale)} resource(s) the case no longer has"
        f" ({', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''})"
    )


def _sent_ids(bundle: dict[str, Any]) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry") or []
        if isinstance(e.get("resource"), dict)
    ]


def stale_on_server(client: FhirClient, bundle: dict[str, Any]) -> list[str]:
    """Resources the server holds with this case's tag that the bundle no longer has."""
    tag = case_tag(bundle)
    if tag is None:
        return []
    sent = _sent_ids(bundle)
    types = dict.fromkeys([*CASE_RESOURCE_TYPES, *(ref.split("/", 1)[0] for ref in sent)])
    kept = set(sent)
    return [ref for ref in tagged_on_server(client, tag, types) if ref not in kept]


def verify_item(client: FhirClient, item: Item) -> list[str]:
    """Read back every resource of a sent bundle and list how the stored copies differ.

    Resources the server holds with the case's tag that the bundle lacks are differences too: a
    registry counting them would count what the case no longer says.
    """
    entries = item.bundle.get("entry") or []
    for n, entry in enumerate(entries if isinstance(entries, list) else [None], 1):
        # Each id goes into a URL: one that is not a FHIR id (`../Patient/x`) would read another resource.
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not (
            isinstance(resource, dict)
            and isinstance(resource.get("resourceType"), str)
            and _FHIR_TYPE_RE.fullmatch(resource["resourceType"])
            and isinstance(resource.get("id"), str)
            and _FHIR_ID_RE.fullmatch(resource["id"])
        ):
            raise InvalidCaseError(
                f"{printable(item.source)}: entry {n} of the Bundle holds no resource with a type and a"
                " FHIR id; nothing to read back for it. Verify the bundles convert wrote",
                file=item.source,
            )
    out = [
        f"{ref}: on the server with this case's tag, but not in the bundle (the case no longer has it)"
        for ref in stale_on_server(client, item.bundle)
    ]
    for entry in entries:
        resource = entry["resource"]
        label = f"{resource['resourceType']}/{resource['id']}"
        stored = client.read(resource["resourceType"], resource["id"])
        if stored is None:
            out.append(f"{label}: not found on the server")
            continue
        found = differences(normalise_sent(item.bundle, resource), stored, base=client.base_url)
        out.extend(f"{label}: {d}" for d in found)
    return out


def _not_transaction(item: Item) -> PushResult | None:
    """Why a bundle cannot be pushed (invalid, exit 3), or None.

    Every entry must be a PUT of its resource to the resource's own `Type/id`, as convert writes
    them: that is what makes a resend harmless. A POST, a conditional or mismatched URL, or a
    DELETE would be applied twice when a retry follows an answer lost after the server committed
    (a second copy, another resource changed), and the check that the server kept the ids sent
    would have nothing to go by.
    """
    source = printable(item.source)
    if item.bundle.get("resourceType") != "Bundle" or item.bundle.get("type") != "transaction":
        return _invalid(
            item,
            f"{source}: not a transaction Bundle (type {printable(repr(item.bundle.get('type')), 60)});"
            " convert with --type transaction to post it",
        )
    entries = item.bundle.get("entry") or []
    if not isinstance(entries, list):
        return _invalid(item, f"{source}: the Bundle has no list of entries")
    for n, entry in enumerate(entries, 1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            return _invalid(item, f"{source}: entry {n} of the Bundle holds no resource")
        rtype, rid = resource["resourceType"], resource.get("id")
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        method, url = request.get("method"), request.get("url")
        if not isinstance(rid, str) or not _FHIR_ID_RE.fullmatch(rid) or not _FHIR_TYPE_RE.fullmatch(rtype):
            return _invalid(
                item,
                f"{source}: entry {n} ({printable(rtype, 60)}) has no valid id"
                f" ({printable(repr(rid), 80)}); push sends resources to ids of their own, so that"
                " sending again replaces them. Convert the case again",
            )
        if method != "PUT" or url != f"{rtype}/{rid}":
            return _invalid(
                item,
                f"{source}: entry {n} is {printable(repr(method), 20)} {printable(repr(url), 120)},"
                f" not PUT {rtype}/{rid}; push sends only updates of each resource at its own id"
                " (as convert writes them), since a retry after a lost answer would apply anything"
                " else twice. Convert the case again",
            )
    return None


def _invalid(item: Item, message: str) -> PushResult:
    return PushResult(item.key, item.source, "invalid", error=InvalidCaseError(message, file=item.source))


def send_one(client: FhirClient, outbox: Outbox, item: Item, *, verify: bool = False) -> PushResult:
    """Send one bundle; the outbox keeps it until the server holds exactly what it says.

    Before the send, the server is searched for the resources that carry the case's tag: those
    the bundle no longer has (a procedure dropped from a corrected case) are deleted in the same
    transaction, so the server never holds the old and the new case at once. A transaction-response
    that stores a resource under another id than the one sent is not counted as sent.
    """
    if item.queued:
        try:
            item = outbox.load(item)
        except DamagedFileError as exc:
            return PushResult(item.key, item.source, "invalid", error=exc)
    invalid = _not_transaction(item)
    if invalid is not None:
        return invalid
    if not item.queued:
        outbox.put(item)
    entries = item.bundle.get("entry") or []
    stale: list[str] = []
    try:
        stale = stale_on_server(client, item.bundle)
        kept = set(_sent_ids(item.bundle))
        stale += [
            ref
            for ref in [
                *outbox.last_sent(item.key, item.bundle),
                *replaced_on_server(client, outbox, item.bundle),
                *outbox.unconfirmed_of(item.key, item.bundle),
            ]
            if ref not in kept and ref not in stale
        ]
        payload = item.payload
        if stale:
            deletes = [{"request": {"method": "DELETE", "url": ref}} for ref in stale]
            payload = orjson.dumps({**item.bundle, "entry": [*entries, *deletes]})
        result = client.transaction(
            payload, expected_entries=len(entries) + len(stale), deletes_from=len(entries)
        )
        misplaced = _misplaced(entries, result)
        if misplaced and _reordered(entries, result):
            raise ServerResponseError(
                f"POST {client.shown_base}: the transaction-response names the resources sent, but"
                f" not in the order they were sent ({'; '.join(misplaced[:3])}"
                f"{' ...' if len(misplaced) > 3 else ''}); FHIR answers each entry in its place, so"
                " which answer belongs to which entry cannot be told. The bundle stays waiting, not"
                " counted as sent",
                status=result.status,
            )
        if misplaced:
            raise MisplacedError(
                f"POST {client.base_url}: the server stored {'; '.join(misplaced[:5])}"
                f"{' ...' if len(misplaced) > 5 else ''}: not under the ids sent (a PUT must create"
                " the resource at the id in its URL). The bundle stays waiting, not counted as sent;"
                " the next push of this case deletes those copies by the case's tag. Use a server"
                " that keeps client-assigned ids (HAPI FHIR does, for ids that are not all digits)",
                status=result.status,
            )
    except ServerRejectedError as exc:
        if exc.status == 404 and stale and exc.message.startswith("the server rejected the transaction"):
            # A DELETE that finds nothing is no error in FHIR, but a server may fail the whole
            # transaction for it: that 404 says nothing about ids, and sending again fails the same.
            exc = ServerRejectedError(
                f"{exc}\n  {_also_deletes(stale)}. A 404 to it means either"
                " that one of these was not found and the server fails a whole transaction for a DELETE"
                f" that finds nothing (FHIR counts that as done), or: {_NO_CLIENT_IDS}",
                status=exc.status,
                issues=exc.issues,
            )
        elif exc.status in (404, 405) and exc.message.startswith("the server rejected the transaction"):
            exc = ServerRejectedError(f"{exc}\n  {_NO_CLIENT_IDS}", status=exc.status, issues=exc.issues)
        elif exc.status == 403 and stale and exc.message.startswith("the server rejected the transaction"):
            # A server may allow updates but not deletes: the transaction is refused whole, and
            # what the case no longer has stays until someone allowed to delete it does.
            exc = ServerRejectedError(
                f"{exc}\n  {_also_deletes(stale)}; a server that lets these"
                " credentials update but not delete refuses it whole, and those resources stay on it",
                status=exc.status,
                issues=exc.issues,
            )
        elif exc.status == 409 and stale and exc.message.startswith("the server rejected the transaction"):
            # A server keeping referential integrity refuses to delete what another resource still
            # refers to (a note another client wrote about a metastasis the correction strikes
            # out), and with it the whole transaction. The case is right; what refers to the
            # resource is not the case's, so no correction of the case file changes the answer.
            exc = ServerRejectedError(
                f"{exc}\n  {_also_deletes(stale)}; a server refuses to delete"
                " a resource that another resource on it refers to, and then stores none of the"
                " correction. The case file is not at fault: the resource that refers to it (named"
                " above, if the server says) must stop referring to it or be deleted on the server,"
                " then send this bundle again with push --resume",
                status=exc.status,
                issues=exc.issues,
            )
        pushed = PushResult(
            item.key, item.source, "rejected", error=exc, issues=exc.issues, hints=_hints(item, exc.issues)
        )
        outbox.mark_failed(item, pushed)
        return pushed
    except MisplacedError as exc:
        # Where the server says it put each resource goes into the report and the error file: the
        # copies under its ids are the server's to find (the next push deletes them by the case's
        # tag), and without them nothing the user keeps would say which they are.
        pushed = PushResult(item.key, item.source, "misplaced", result=result, error=exc)
        outbox.mark_failed(item, pushed)
        return pushed
    except ServerError as exc:
        pushed = PushResult(item.key, item.source, "unavailable", error=exc)
        outbox.mark_failed(item, pushed)
        return pushed
    # A DELETE answered 404 or 410 found nothing there (gone already, or never on this server).
    gone = [
        ref for ref, answer in zip(stale, result.entries[len(entries) :], strict=False) if answer.status < 300
    ]
    pushed = PushResult(item.key, item.source, "sent", result=result, removed=gone, kept=len(entries))
    if verify:
        try:
            pushed.differences = verify_item(client, item)
        except ServerError as exc:
            pushed.differences = [f"could not read back: {exc}"]
        absent = [d.split(": ", 1)[0] for d in pushed.differences if d.endswith(": not found on the server")]
        if absent:
            # The server said it stored what it does not have (an answer made up by something in
            # the way, a write it lost): counted as sent, the bundle left pending/ and push
            # --resume had nothing to send, while the server held none of the case.
            error = ServerResponseError(
                f"POST {client.shown_base}: the server answered that it stored the transaction, but"
                f" {len(absent)} of the {len(entries)} resource(s) sent are not found on reading them back"
                f" ({', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}); not counted as sent."
                " The bundle stays waiting, and push --resume sends it again",
                status=result.status,
            )
            failed = PushResult(
                item.key,
                item.source,
                "unavailable",
                result=result,
                error=error,
                differences=pushed.differences,
            )
            outbox.mark_failed(item, failed)
            return failed
    try:
        outbox.mark_sent(item)
    except OutputError as exc:
        # The server holds the case; only the outbox's record of it failed (a full disk, a
        # read-only sent/). It said only that a file could not be written.
        raise OutputError(
            f"{exc}. The server accepted case {printable(item.key)}: its bundle stays in"
            f" {printable(outbox.pending)} (sending it again changes nothing); once the outbox can be"
            " written, push --resume moves it to sent/"
        ) from None
    retire_replaced(outbox, item.bundle)
    return pushed


# Every entry is a PUT to the resource's own id, which creates it where it is missing: a 404 or 405
# to such a transaction is a server that keeps no ids a client gives (or no FHIR base at --server).
_NO_CLIENT_IDS = (
    "Each entry is a PUT of a resource to its own id, which creates the resource where it is missing;"
    " a server answering 404 or 405 to that does not store resources at the ids a client gives (HAPI"
    " FHIR with client_id_strategy NOT_ALLOWED says so: HAPI-0959), or --server is not its FHIR base."
    " Sending again changes nothing: push needs a server that keeps client-assigned ids (HAPI FHIR's"
    " default, ALPHANUMERIC, does)"
)


def _misplaced(entries: list[dict[str, Any]], result: TransactionResult) -> list[str]:
    """`sent Type/id as Type/other` for each entry the server says it stored under another id.

    An entry without a location is taken at its word (an update need not give one); a location
    that names no `Type/id` (an id no FHIR id can be, a urn) says the resource is somewhere the
    id sent does not find, so it counts as stored elsewhere.
    """
    out = []
    for entry, answer in zip(entries, result.entries, strict=False):
        resource = entry.get("resource") or {}
        sent = (resource.get("resourceType"), resource.get("id"))
        if answer.id is not None and (answer.resource_type, answer.id) != sent:
            out.append(f"{sent[0]}/{sent[1]} as {answer.resource_type}/{answer.id}")
        elif answer.id is None and answer.location:
            out.append(f"{sent[0]}/{sent[1]} at {printable(answer.location, 200)}, which names no Type/id")
    return out


def _reordered(entries: list[dict[str, Any]], result: TransactionResult) -> bool:
    """Whether the answer names exactly the resources sent, each once, in another order."""
    sent = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries]
    named = [(a.resource_type, a.id) for a in result.entries[: len(entries)]]
    return sorted(sent) == sorted(named, key=lambda ref: (ref[0] or "", ref[1] or "")) and sent != named


def _spool(outbox: Outbox, items: Iterable[Item]) -> list[Item | PushResult]:
    """Write every new bundle to pending/ before any is sent; keep only what finds it again.

    A second bundle of the same case in one run is not sent. When it says the same as the first,
    the first is sent. When the two differ, which is the case's current state cannot be told, and
    sending the first could put an older version over a newer one: neither is sent, and the
    first's copy leaves pending/, so that no later `push --resume` sends it either. What is left
    in memory per bundle is its key, source and field origins, not the bundle.
    """
    out: list[Item | PushResult] = []
    spooled: dict[str, str] = {}
    differing: dict[str, list[str]] = {}  # key -> the sources of its bundles, when they differ
    for item in items:
        if item.key in spooled:
            first = printable(spooled[item.key])
            if item.queued or _spooled_as(outbox, item):
                message = (
                    f"{printable(item.source)}: the same case as {first}, earlier in this run, and the"
                    " same bundle; it is not sent twice. Push one bundle per case"
                )
            else:
                differing.setdefault(item.key, [spooled[item.key]]).append(item.source)
                message = (
                    f"{printable(item.source)}: the same case as {first}, earlier in this run, with"
                    " other contents; which of the two is the case as it stands cannot be told, so"
                    " neither is sent. Push the current one alone"
                )
            out.append(_invalid(item, message))
            continue
        invalid = None if item.queued else _not_transaction(item)
        if invalid is not None:
            out.append(invalid)
            continue
        if not item.queued:
            outbox.put(item)
        spooled[item.key] = item.source
        out.append(Item(item.key, item.source, {}, item.origins, queued=True))
    for n, entry in enumerate(out):
        if isinstance(entry, Item) and entry.key in differing:
            others = ", ".join(printable(s) for s in differing[entry.key][1:])
            out[n] = _invalid(
                entry,
                f"{printable(entry.source)}: the same case as {others}, later in this run, with other"
                " contents; which of them is the case as it stands cannot be told, so none is sent."
                " Push the current one alone",
            )
            outbox.withdraw(entry.key)
    return out


def _spooled_as(outbox: Outbox, item: Item) -> bool:
    """Whether the bundle this run put in pending/ under the item's key is the item's, byte for byte."""
    try:
        return _read_no_follow(outbox.pending / f"{item.key}.json") == dumps(item.bundle)
    except (OSError, _NotRegular):
        return False


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def send_all(
    client: FhirClient,
    outbox: Outbox,
    items: Iterable[Item],
    *,
    workers: int = 1,
    verify: bool = False,
    window: int = 256,
    stream: bool = False,
) -> Iterator[PushResult]:
    """Send bundles with at most `workers` in flight, yielding results in input order.

    The outbox is locked for the whole run and every bundle is in pending/ before the first is
    sent; then they are sent a window at a time, each read back from pending/. With `stream`
    (bundles converted as the run goes, `convert --post`), each window is spooled just before it
    is sent instead, so the run never holds more than a window of bundles in memory or waits for
    the last case before the first is sent.
    """
    with outbox.lock():
        if stream:
            queue: Iterator[Item | PushResult] = (
                entry for chunk in _chunks(items, window) for entry in _spool(outbox, chunk)
            )
        else:
            queue = iter(_spool(outbox, items))

        def send(entry: Item | PushResult) -> PushResult:
            return entry if isinstance(entry, PushResult) else send_one(client, outbox, entry, verify=verify)

        if workers <= 1:
            for entry in queue:
                yield send(entry)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
            futures: list[Any] = []
            try:
                while True:
                    batch = list(islice(queue, window))
                    if not batch:
                        return
                    futures = [pool.submit(send, entry) for entry in batch]
                    for future in futures:
                        yield future.result()
            finally:
                # Ctrl-C, or a caller that stopped reading (a report it could not write): the
                # bundles of the window not begun stay in pending/ for --resume, not sent after the
                # run was told to stop (up to a window of them went on being sent); those in flight
                # end as they would, each recorded in the outbox.
                for future in futures:
                    future.cancel()


def describe(result: PushResult) -> str:
    """A person's summary of one push."""
    if result.status == "sent" and result.result is not None:
        counts: dict[str, int] = {}
        kept = result.result.entries[: result.kept if result.kept is not None else len(result.result.entries)]
        for e in kept:
            counts[e.status_text] = counts.get(e.status_text, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        retried = f" after {result.result.attempts} attempts" if result.result.attempts > 1 else ""
        removed = ""
        if result.removed:
            removed = (
                f"; {len(result.removed)} deleted, no longer in the case: {', '.join(result.removed[:5])}"
            )
            removed += " ..." if len(result.removed) > 5 else ""
        return f"{result.key}: sent{retried} ({summary}{removed})"
    text = f"{result.key}: {result.status}: {result.error}"
    if result.hints:
        text += "\n  case fields: " + "; ".join(result.hints)
    return text
