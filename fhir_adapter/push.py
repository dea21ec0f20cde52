"""Sends transaction bundles to a server through an outbox, so nothing is lost when a send fails."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from .client import FhirClient, TransactionResult
from .errors import AdapterError, ServerError, ServerRejectedError
from .writer import dumps, write_atomic

_KEY_RE = re.compile(r"[^A-Za-z0-9._-]+")
# What a server assigns and a read-back may legitimately differ in.
SERVER_OWNED_META = ("versionId", "lastUpdated", "source")


@dataclass
class Item:
    """One bundle to send: its outbox key, where it came from, and what it says."""

    key: str
    source: str
    bundle: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)  # resource id -> case-file field

    @property
    def payload(self) -> bytes:
        return orjson.dumps(self.bundle)


@dataclass
class PushResult:
    key: str
    source: str
    status: str  # sent | rejected | unavailable | invalid
    result: TransactionResult | None = None
    error: AdapterError | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

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
        return out


def outbox_key(bundle: dict[str, Any], fallback: str) -> str:
    """The outbox file name of a bundle: its case id, else its id, else the input's name."""
    ident = bundle.get("identifier") or {}
    key = ident.get("value") or bundle.get("id") or fallback
    return _KEY_RE.sub("_", str(key)).strip("._") or "bundle"


class Outbox:
    """pending/ holds every bundle not yet accepted (with its last error); sent/ the accepted ones."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.pending = self.root / "pending"
        self.sent = self.root / "sent"

    def put(self, item: Item) -> None:
        write_atomic(self.pending / f"{item.key}.json", dumps(item.bundle))

    def mark_sent(self, item: Item) -> None:
        write_atomic(self.sent / f"{item.key}.json", dumps(item.bundle))
        (self.pending / f"{item.key}.json").unlink(missing_ok=True)
        (self.pending / f"{item.key}.error.json").unlink(missing_ok=True)

    def mark_failed(self, item: Item, result: PushResult) -> None:
        write_atomic(
            self.pending / f"{item.key}.error.json",
            dumps(result.as_report()),
        )

    def waiting(self) -> list[Item]:
        """Every bundle still pending, oldest name first."""
        items = []
        for path in sorted(self.pending.glob("*.json")):
            if path.name.endswith(".error.json"):
                continue
            bundle = orjson.loads(path.read_bytes())
            items.append(Item(path.stem, str(path), bundle))
        return items


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
                hints.append(f"{expr}: {label}" + (f" made from {origin}" if origin else ""))
    return list(dict.fromkeys(hints))


def normalise_sent(bundle: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """A sent resource as a server stores it: urn:uuid references become Type/id."""
    mapping = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry") or []
        if "fullUrl" in e
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and node in mapping:
            return mapping[node]
        return node

    return walk(resource)


def differences(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Where a stored resource differs from what was sent, ignoring what the server assigns."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        out = []
        for key in sorted(set(sent) | set(stored)):
            sub = f"{path}.{key}" if path else key
            if path == "meta" and key in SERVER_OWNED_META:
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
                out.extend(differences(sent[key], stored[key], sub))
        return out
    if isinstance(sent, list) and isinstance(stored, list):
        if len(sent) != len(stored):
            return [f"{path}: sent {len(sent)} item(s), stored {len(stored)}"]
        out = []
        for i, (a, b) in enumerate(zip(sent, stored, strict=True)):
            out.extend(differences(a, b, f"{path}[{i}]"))
        return out
    if sent != stored:
        return [
            f"{path}: sent {orjson.dumps(sent).decode()[:80]}, stored {orjson.dumps(stored).decode()[:80]}"
        ]
    return []


def verify_item(client: FhirClient, item: Item) -> list[str]:
    """Read back every resource of a sent bundle and list how the stored copies differ."""
    out = []
    for entry in item.bundle.get("entry") or []:
        resource = entry["resource"]
        label = f"{resource['resourceType']}/{resource['id']}"
        stored = client.read(resource["resourceType"], resource["id"])
        if stored is None:
            out.append(f"{label}: not found on the server")
            continue
        out.extend(f"{label}: {d}" for d in differences(normalise_sent(item.bundle, resource), stored))
    return out


def send_one(client: FhirClient, outbox: Outbox, item: Item, *, verify: bool = False) -> PushResult:
    """Send one bundle; the outbox keeps it until the server has accepted it."""
    if item.bundle.get("resourceType") != "Bundle" or item.bundle.get("type") != "transaction":
        error = AdapterError(
            f"{item.source}: not a transaction Bundle (type {item.bundle.get('type')!r});"
            " convert with --type transaction to post it"
        )
        return PushResult(item.key, item.source, "invalid", error=error)
    outbox.put(item)
    try:
        result = client.transaction(item.payload)
    except ServerRejectedError as exc:
        pushed = PushResult(
            item.key, item.source, "rejected", error=exc, issues=exc.issues, hints=_hints(item, exc.issues)
        )
        outbox.mark_failed(item, pushed)
        return pushed
    except ServerError as exc:
        pushed = PushResult(item.key, item.source, "unavailable", error=exc)
        outbox.mark_failed(item, pushed)
        return pushed
    outbox.mark_sent(item)
    pushed = PushResult(item.key, item.source, "sent", result=result)
    if verify:
        try:
            pushed.differences = verify_item(client, item)
        except ServerError as exc:
            pushed.differences = [f"could not read back: {exc}"]
    return pushed


def send_all(
    client: FhirClient,
    outbox: Outbox,
    items: Iterable[Item],
    *,
    workers: int = 1,
    verify: bool = False,
    window: int = 256,
) -> Iterator[PushResult]:
    """Send bundles with at most `workers` in flight, yielding results in input order.

    Items are taken a window at a time, so memory stays bounded however many there are.
    """
    items = iter(items)
    if workers <= 1:
        for item in items:
            yield send_one(client, outbox, item, verify=verify)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
        while True:
            batch = list(islice(items, window))
            if not batch:
                return
            futures = [pool.submit(send_one, client, outbox, item, verify=verify) for item in batch]
            for future in futures:
                yield future.result()


def describe(result: PushResult) -> str:
    """A person's summary of one push."""
    if result.status == "sent" and result.result is not None:
        counts: dict[str, int] = {}
        for e in result.result.entries:
            counts[e.status_text] = counts.get(e.status_text, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        retried = f" after {result.result.attempts} attempts" if result.result.attempts > 1 else ""
        return f"{result.key}: sent{retried} ({summary})"
    text = f"{result.key}: {result.status}: {result.error}"
    if result.hints:
        text += "\n  case fields: " + "; ".join(result.hints)
    return text
