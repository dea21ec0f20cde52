"""Withdrawing a case from a server, and marking a bundle as replacing another case.

A case is known on a server by its tag (the identifier system and case id every resource of it
carries in meta.tag). Withdrawing deletes every resource carrying that tag in one transaction,
so the server never holds half a case; a rename (`push --replaces OLD`) does the same to the old
case inside the new case's own transaction (push.py). Both are idempotent: run again, they find
nothing left to delete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .client import FhirClient
from .errors import ConfigError, ServerRejectedError, printable
from .ids import DEFAULT_ID_SYSTEM
from .push import REPLACES_SYSTEM, Outbox, case_key, case_on_server, case_tag, retire_case

log = logging.getLogger(__name__)


@dataclass
class Withdrawal:
    """What withdrawing one case found, and did."""

    case_id: str
    system: str
    found: list[str] = field(default_factory=list)  # Type/id carrying the case's tag (or sent for it)
    deleted: list[str] = field(default_factory=list)  # those the server deleted (not already gone)
    retired: Path | None = None  # a bundle of the case that waited in pending/, set aside
    dry_run: bool = False


def withdraw_case(
    client: FhirClient,
    outbox: Outbox,
    case_id: str,
    system: str = DEFAULT_ID_SYSTEM,
    *,
    dry_run: bool = False,
) -> Withdrawal:
    """Delete every resource of a case from the server, in one transaction; `dry_run` only lists them.

    What is deleted: every resource of the types a case holds that carries the case's tag, and
    what the outbox's sent/ copy of the case's last bundle holds (a search index that lags behind
    the server's writes would miss it). A bundle of the case still waiting in pending/ is moved to
    superseded/, so `push --resume` cannot put the case back.
    """
    if not case_id:
        raise ConfigError("name the case id to withdraw")
    out = Withdrawal(case_id, system, dry_run=dry_run)
    with outbox.lock():
        out.found = case_on_server(client, outbox, system, case_id, consequence="nothing was deleted")
        if dry_run:
            return out
        if out.found:
            entries = [{"request": {"method": "DELETE", "url": ref}} for ref in out.found]
            payload = orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})
            try:
                result = client.transaction(payload, expected_entries=len(entries), deletes_from=0)
            except ServerRejectedError as exc:
                raise ServerRejectedError(
                    f"{exc}\n  Nothing of case {printable(case_id, 200)} was deleted (the transaction is"
                    " all or nothing). A resource outside the case that refers to one of its resources"
                    " blocks the delete on a server that keeps references whole; credentials that may"
                    " update but not delete are refused it",
                    status=exc.status,
                    issues=exc.issues,
                ) from None
            # A DELETE answered 404 or 410 found nothing there (gone already).
            out.deleted = [ref for ref, e in zip(out.found, result.entries, strict=False) if e.status < 300]
        out.retired = retire_case(outbox, case_key(system, case_id))
    log.info("case %s: %d found, %d deleted", case_id, len(out.found), len(out.deleted))
    return out


def describe(w: Withdrawal) -> list[str]:
    """A person's account of one withdrawal."""
    case = printable(w.case_id, 200)
    if not w.found:
        lines = [
            f"{case}: nothing on the server carries this case's tag ({printable(w.system, 200)}); nothing deleted"
        ]
    elif w.dry_run:
        lines = [f"{case}: {len(w.found)} resource(s) would be deleted (--dry-run: nothing was)"]
        lines += [f"  {ref}" for ref in w.found]
    else:
        gone = len(w.found) - len(w.deleted)
        lines = [f"{case}: {len(w.deleted)} resource(s) deleted" + (f", {gone} already gone" if gone else "")]
    if w.retired is not None:
        lines.append(f"{case}: its bundle waiting in the outbox was moved to {w.retired} (never sent)")
    return lines


def mark_replaces(bundle: dict[str, Any], old_case_id: str) -> dict[str, Any]:
    """The bundle with a tag saying its case replaces case `old_case_id` (same identifier system).

    ConfigError when the bundle names no case (no identifier) or names the same case id.
    """
    tag = case_tag(bundle)
    if tag is None:
        raise ConfigError("--replaces needs a bundle with the case's identifier (as convert writes it)")
    if tag[1] == old_case_id:
        raise ConfigError(
            f"--replaces {printable(old_case_id, 200)}: that is this bundle's own case id; name the case"
            " id the case had before"
        )
    meta = dict(bundle.get("meta") or {})
    kept = [
        t for t in meta.get("tag") or [] if not (isinstance(t, dict) and t.get("system") == REPLACES_SYSTEM)
    ]
    meta["tag"] = [*kept, {"system": REPLACES_SYSTEM, "code": old_case_id}]
    return {**bundle, "meta": meta}
