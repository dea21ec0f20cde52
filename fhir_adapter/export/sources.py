"""Where FHIR is read from: Bundle files, NDJSON (Bulk Data output, ours or another tool's), a FHIR server.

Each source gives the resources of one patient at a time (a case is read from one patient's
resources), with the shared resources they refer to (a Medication, an Organization). An NDJSON
directory is sorted by patient in a temporary SQLite file, so memory stays flat however many
patients it holds.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from ..client import FhirClient, PageTally, parse_issues
from ..errors import (
    AdapterError,
    ConfigError,
    InvalidCaseError,
    ServerRejectedError,
    ServerResponseError,
    printable,
)
from ..jsonlines import json_lines
from .common import Json, reference_keys

log = logging.getLogger(__name__)

# Elements that tie a resource to its patient, in the order they are looked at.
PATIENT_ELEMENTS = ("subject", "patient", "beneficiary", "individual")
# Searches for the resources of one patient, for a server without Patient/$everything.
PATIENT_SEARCHES = (
    ("Condition", "subject"),
    ("Observation", "subject"),
    ("Procedure", "subject"),
    ("MedicationStatement", "subject"),
    ("MedicationRequest", "subject"),
    ("MedicationAdministration", "subject"),
    ("Specimen", "subject"),
    ("BodyStructure", "patient"),
    ("DocumentReference", "subject"),
    ("ClinicalImpression", "subject"),
    ("Provenance", "target"),
)
# Kinds fhir-adapter writes that a server's Patient/$everything may leave out (sekmet-fhir leaves
# out ClinicalImpression; a Provenance is in the compartment only by its target): searched for
# when $everything returned none.
COMPLEMENT = (("ClinicalImpression", "subject"), ("Provenance", "target"))
# Statuses that say a server has no Patient/$everything (so the searches are used instead).
NO_OPERATION = frozenset({400, 404, 405, 501})


@dataclass
class PatientFhir:
    """The resources of one patient, and where they came from."""

    source: str
    resources: list[Json]
    full_urls: dict[str, str] = field(default_factory=dict)  # a Bundle's fullUrl -> Type/id


@dataclass
class SourceProblem:
    """Something in a source that could not be read into any patient (a bad line, a resource of no patient)."""

    source: str
    error: AdapterError


def _key(resource: Json) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _patient_of(resource: Json) -> str | None:
    """The Patient/id a resource belongs to, by its own elements (a Provenance: a Patient it targets)."""
    if resource.get("resourceType") == "Patient":
        return _key(resource)
    for name in PATIENT_ELEMENTS:
        ref = resource.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            key = reference_keys(ref["reference"])[-1]
            if key.startswith("Patient/"):
                return key
    for target in resource.get("target") or []:
        if isinstance(target, dict) and isinstance(target.get("reference"), str):
            key = reference_keys(target["reference"])[-1]
            if key.startswith("Patient/"):
                return key
    return None


def _references(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "reference" and isinstance(value, str):
                yield reference_keys(value)[-1]
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def group_by_patient(
    source: str, resources: list[Json], full_urls: dict[str, str]
) -> Iterator[PatientFhir | SourceProblem]:
    """The resources of a Bundle or a small NDJSON file, one patient at a time."""
    resolved = dict(full_urls)
    for resource in resources:
        resolved.setdefault(_key(resource), _key(resource))

    def patient_key(resource: Json) -> str | None:
        key = _patient_of(resource)
        if key is None:
            for ref in _references(resource):
                target = resolved.get(ref) or resolved.get(f"urn:uuid:{ref}")
                if target and target.startswith("Patient/"):
                    return target
        if key is not None and key not in resolved.values():
            key = resolved.get(f"urn:uuid:{key.split('/', 1)[1]}", key)
        return key

    groups: dict[str, list[Json]] = {}
    others: list[Json] = []
    for resource in resources:
        key = patient_key(resource)
        if key is None:
            others.append(resource)
        else:
            groups.setdefault(key, []).append(resource)
    # Resources of no patient of their own (a Provenance of Conditions, a Medication) go with
    # every patient whose resources refer to them, or whom they refer to through its resources.
    # Each set is made once: a Bundle of many resources is read in time that grows with its size,
    # not with its square.
    placed: set[int] = set()
    others_refs = [{resolved.get(ref, ref) for ref in _references(other)} for other in others]
    for group in groups.values():
        keys = {_key(r) for r in group}
        named = {resolved.get(ref, ref) for r in group for ref in _references(r)}
        for other, refs in zip(others, others_refs, strict=True):
            if refs & keys or _key(other) in named:
                group.append(other)
                named |= refs
                placed.add(id(other))
    for other in others:
        if id(other) not in placed and len(groups) == 1:
            # One patient: what no one else can own (an Organization, a Practitioner) is read
            # with it, where it is listed if it has no place in the case.
            next(iter(groups.values())).append(other)
        elif id(other) not in placed:
            yield SourceProblem(
                source, InvalidCaseError(f"{source}: {_key(other)} belongs to no patient; not read")
            )
    if not groups and resources:
        yield SourceProblem(
            source, InvalidCaseError(f"{source}: no Patient resource; no case can be read from it")
        )
    for key, group in groups.items():
        label = source if len(groups) == 1 else f"{source} ({key})"
        if not any(r.get("resourceType") == "Patient" for r in group):
            yield SourceProblem(
                label, InvalidCaseError(f"{label}: resources of {key}, but not the Patient itself")
            )
            continue
        keys = {_key(r) for r in group}
        yield PatientFhir(label, group, {u: k for u, k in full_urls.items() if k in keys})


def _bundle_resources(bundle: Json) -> tuple[list[Json], dict[str, str]]:
    resources, full_urls = [], {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") == "OperationOutcome":
            continue
        resources.append(resource)
        if isinstance(entry.get("fullUrl"), str) and resource.get("id"):
            full_urls[entry["fullUrl"]] = _key(resource)
    return resources, full_urls


def read_paths(paths: Iterable[str]) -> Iterator[PatientFhir | SourceProblem]:
    """Bundle files (JSON, or NDJSON of Bundles), NDJSON files of resources, directories of either."""
    for path in paths:
        if os.path.isdir(path):
            ndjson = sorted(p for p in Path(path).rglob("*.ndjson") if not p.name.startswith("."))
            if ndjson:
                # NDJSON of Bundles (convert's stdout, a Bundle a line) is read as Bundles; the
                # rest as Bulk Data output, a resource a line.
                of_bundles = [p for p in ndjson if _holds_bundles(p)]
                resources = [p for p in ndjson if p not in of_bundles]
                if resources:
                    yield from read_ndjson_dir(Path(path), resources)
                for name in of_bundles:
                    yield from read_file(str(name))
            else:
                files = sorted(p for p in Path(path).rglob("*.json") if not p.name.startswith("."))
                if not files:
                    raise ConfigError(f"{path}: no *.json Bundle or *.ndjson file in it")
                for name in files:
                    if name.name == "manifest.json":
                        continue
                    yield from read_file(str(name))
        elif not os.path.exists(path):
            raise ConfigError(f"{path}: no such file or directory")
        else:
            yield from read_file(path)


def _holds_bundles(path: Path) -> bool:
    """True if the first line of an NDJSON file is a Bundle."""
    with path.open("rb") as handle:
        for line in json_lines(handle):
            return isinstance(line.doc, dict) and line.doc.get("resourceType") == "Bundle"
    return False


def read_file(name: str) -> Iterator[PatientFhir | SourceProblem]:
    """One file: a Bundle, NDJSON of Bundles (convert's stdout), or NDJSON of resources."""
    try:
        raw = Path(name).read_bytes()
    except OSError as exc:
        yield SourceProblem(name, ConfigError(f"{name}: cannot read the file: {exc.strerror}"))
        return
    try:
        docs = [orjson.loads(raw)]
    except orjson.JSONDecodeError:
        docs = []
        lines = list(json_lines(raw.splitlines(keepends=True)))
        if lines and lines[-1].error is not None and not lines[-1].raw.endswith((b"\n", b"\r")):
            # Its patients' resources may be in the part missing: none of them is read.
            tally = _FileTally(len(lines), sum(1 for line in lines if line.error is None), lines[-1].number)
            yield SourceProblem(name, InvalidCaseError(_cut_off(Path(name), tally, None) or "", file=name))
            return
        for line in lines:
            if line.error is None:
                docs.append(line.doc)
                continue
            where = f"{name}:{line.number}"
            yield SourceProblem(where, InvalidCaseError(f"{where}: not JSON ({line.error})", file=name))
    if docs and all(isinstance(d, dict) and d.get("resourceType") == "Bundle" for d in docs):
        for n, bundle in enumerate(docs, 1):
            label = name if len(docs) == 1 else f"{name}:{n}"
            resources, full_urls = _bundle_resources(bundle)
            yield from group_by_patient(label, resources, full_urls)
        return
    resources = [d for d in docs if isinstance(d, dict) and isinstance(d.get("resourceType"), str)]
    if len(resources) != len(docs):
        yield SourceProblem(name, InvalidCaseError(f"{name}: holds JSON that is no FHIR resource", file=name))
    yield from group_by_patient(name, resources, {})


def read_ndjson_dir(directory: Path, files: list[Path]) -> Iterator[PatientFhir | SourceProblem]:
    """Every *.ndjson file of a directory (Bulk Data output), sorted by patient on disk, one patient at a time."""
    with tempfile.TemporaryDirectory(prefix="fhir-adapter-export-") as tmp:
        db = sqlite3.connect(os.path.join(tmp, "resources.sqlite"))
        db.execute("CREATE TABLE r (n INTEGER PRIMARY KEY, key TEXT, patient TEXT, line BLOB)")
        problems: list[SourceProblem] = []
        counts = manifest_counts(directory, problems)
        short: list[SourceProblem] = []
        for path in files:
            if path.parent.name == "errors":
                continue  # convert's failed cases, as OperationOutcomes
            tally = _FileTally()
            with path.open("rb") as handle:
                db.executemany(
                    "INSERT INTO r (key, patient, line) VALUES (?, ?, ?)",
                    _rows(path, handle, problems, tally),
                )
            cut = _cut_off(path, tally, counts.pop(path.name, None) if path.parent == directory else None)
            if cut is not None:
                short.append(SourceProblem(str(path), InvalidCaseError(cut, file=str(path))))
        short += [
            SourceProblem(
                str(directory / name),
                InvalidCaseError(
                    f"{directory / name}: the manifest lists it ({count} resource(s)), but the directory has"
                    " no such file; fetch it",
                    file=str(directory / name),
                ),
            )
            for name, count in counts.items()
            if name.endswith(".ndjson")
        ]
        if short:
            # Any patient's resources may be in the part not fetched: a case read from the rest
            # would come back without them, as if the registry never held them.
            yield from problems
            yield from short
            yield SourceProblem(
                str(directory),
                InvalidCaseError(
                    f"{directory}: no case read from it, since {len(short)} file(s) of it are not whole;"
                    " any patient's resources may be in what is missing. Fetch the files again and export"
                ),
            )
            db.close()
            return
        db.execute("CREATE INDEX r_key ON r (key)")
        db.execute("CREATE INDEX r_patient ON r (patient, n)")
        # A resource of no patient of its own belongs with the patient of what it refers to.
        for n, line in db.execute("SELECT n, line FROM r WHERE patient IS NULL").fetchall():
            for ref in _references(orjson.loads(line)):
                found = db.execute(
                    "SELECT patient FROM r WHERE key = ? AND patient IS NOT NULL", (ref,)
                ).fetchone()
                if found:
                    db.execute("UPDATE r SET patient = ? WHERE n = ?", (found[0], n))
                    break
        yield from problems
        patients = [
            row[0]
            for row in db.execute(
                "SELECT patient FROM r WHERE patient IS NOT NULL GROUP BY patient ORDER BY MIN(n)"
            )
        ]
        used: set[str] = set()
        for patient in patients:
            lines = [
                row[0] for row in db.execute("SELECT line FROM r WHERE patient = ? ORDER BY n", (patient,))
            ]
            resources = [orjson.loads(line) for line in lines]
            keys = {_key(r) for r in resources}
            for resource in list(resources):
                for ref in _references(resource):
                    if ref not in keys:
                        shared = db.execute(
                            "SELECT line FROM r WHERE key = ? AND patient IS NULL", (ref,)
                        ).fetchone()
                        if shared:
                            resources.append(orjson.loads(shared[0]))
                            keys.add(ref)
                            used.add(ref)
            label = f"{directory} ({patient})"
            if not any(r.get("resourceType") == "Patient" for r in resources):
                yield SourceProblem(
                    label, InvalidCaseError(f"{label}: resources of {patient}, but not the Patient itself")
                )
                continue
            yield PatientFhir(label, resources)
        # What belongs to no patient and no patient's resource refers to is said, as for a file.
        for (key,) in db.execute("SELECT key FROM r WHERE patient IS NULL ORDER BY n"):
            if key not in used:
                yield SourceProblem(
                    str(directory),
                    InvalidCaseError(f"{directory}: {printable(key, 200)} belongs to no patient; not read"),
                )
        db.close()


@dataclass
class _FileTally:
    """What reading one NDJSON file found: its lines (not blank), and a last line cut short."""

    lines: int = 0
    resources: int = 0
    cut: int | None = None  # the number of a last line that is not JSON and has no end of line


def _cut_off(path: Path, tally: _FileTally, expected: int | None) -> str | None:
    """Why a file is not whole (its last line ends mid-way, or it holds fewer lines than its manifest says)."""
    if tally.cut is not None:
        return (
            f"{path}: ends in the middle of line {tally.cut} (not JSON, and no end of line): the file was"
            f" cut off after {tally.cut - 1} whole line(s) ({tally.resources} resource(s) read); fetch it"
            " again"
        )
    if expected is not None and tally.lines != expected:
        return (
            f"{path}: the manifest says it holds {expected} resource(s), but it has {tally.lines} line(s)"
            f" ({tally.resources} resource(s) read); the file is not the one listed whole. Fetch it again"
        )
    return None


def manifest_counts(directory: Path, problems: list[SourceProblem]) -> dict[str, int]:
    """File name -> resource count of each output file a Bulk Data manifest.json in `directory` counts.

    A manifest's url may be relative (convert's) or another server's address (a Bulk $export's):
    the file is matched by the last part of its url's path. A manifest that cannot be read is said
    (a problem) and counts nothing.
    """
    path = directory / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = orjson.loads(path.read_bytes())
        output = manifest.get("output") if isinstance(manifest, dict) else None
    except (OSError, orjson.JSONDecodeError):
        output = None
    if not isinstance(output, list):
        problems.append(
            SourceProblem(
                str(path),
                InvalidCaseError(
                    f"{path}: not a Bulk Data manifest with an output list; the files' counts are not checked"
                ),
            )
        )
        return {}
    counts: dict[str, int] = {}
    for item in output:
        url, count = (item.get("url"), item.get("count")) if isinstance(item, dict) else (None, None)
        if isinstance(url, str) and isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            counts[name] = counts.get(name, 0) + count
    return counts


def _rows(
    path: Path, handle: IO[bytes], problems: list[SourceProblem], tally: _FileTally | None = None
) -> Iterator[tuple]:
    """The (key, patient, line) rows of one NDJSON file, a line at a time; what is no resource goes to problems."""
    tally = tally if tally is not None else _FileTally()
    for line in json_lines(handle):
        where = f"{path}:{line.number}"
        tally.lines += 1
        tally.cut = None
        if line.error is not None and not line.raw.endswith(b"\n"):
            tally.cut = line.number  # the last line (only it can lack an end of line): said by _cut_off
        elif line.error is not None:
            problems.append(SourceProblem(where, InvalidCaseError(f"{where}: not JSON ({line.error})")))
        elif not isinstance(line.doc, dict) or not isinstance(line.doc.get("resourceType"), str):
            problems.append(SourceProblem(where, InvalidCaseError(f"{where}: not a FHIR resource")))
        elif line.doc["resourceType"] == "Bundle":
            problems.append(
                SourceProblem(
                    where,
                    InvalidCaseError(
                        f"{where}: a Bundle among resources of a line each; not read. Export a file of"
                        " Bundles on its own, or one Bundle a file"
                    ),
                )
            )
        else:
            tally.resources += 1
            yield _key(line.doc), _patient_of(line.doc), line.raw


def read_server(
    client: FhirClient,
    *,
    patient_ids: list[str] | None = None,
    system: str | None = None,
    page_size: int = 50,
) -> Iterator[PatientFhir | SourceProblem]:
    """Patients from a server: those named by id, or every Patient with an identifier in `system`, paged."""
    if patient_ids:
        for patient_id in patient_ids:
            yield patient_from_server(client, patient_id)
        return
    if not system:
        raise ConfigError("name the patients (--patient ID) or the identifier system their case ids are in")
    # A server may list a patient on two pages (its order shifting as resources are stored) and
    # may ignore the identifier parameter: each patient is read once, and only one with an
    # identifier in the system, as the search asked.
    seen: set[str] = set()
    where = f"{client.shown_base}/Patient?identifier={system}|"
    tally = PageTally()
    for page in client.pages("Patient", {"identifier": f"{system}|", "_count": str(page_size)}):
        tally.add(page)
        for entry in page.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
                # An error here says the list of patients is cut short or wrong, as in the
                # searches of one patient's resources: the patients it left out would go unsaid.
                _outcome(where, resource)
                continue
            if not (
                isinstance(resource, dict)
                and resource.get("resourceType") == "Patient"
                and resource.get("id")
            ):
                continue
            patient_id = str(resource["id"])
            if patient_id in seen:
                log.info("Patient/%s is listed again on a later page; read once", patient_id)
                continue
            seen.add(patient_id)
            if not _has_identifier(resource, system):
                log.warning(
                    "%s/Patient/%s has no identifier in %s, yet the server listed it for one; not read",
                    client.shown_base,
                    patient_id,
                    system,
                )
                continue
            yield patient_from_server(client, patient_id)
    # Pages that end before the total they give: the patients not listed would go unsaid.
    _check_pages(
        tally,
        where,
        "Patient(s)",
        "the patients not listed were not read. Export again, or name them with --patient",
    )


def _check_pages(tally: PageTally, where: str, what: str, then: str) -> None:
    if tally.short:
        raise ServerResponseError(
            f"{where}: the server says {tally.total} {what} match, but its pages list {tally.listed}; {then}"
        )


def _has_identifier(resource: Json, system: str) -> bool:
    identifiers = resource.get("identifier")
    return isinstance(identifiers, list) and any(
        isinstance(i, dict) and i.get("system") == system for i in identifiers
    )


def patient_from_server(client: FhirClient, patient_id: str) -> PatientFhir | SourceProblem:
    """One patient's resources: Patient/ID/$everything, or one search per resource type where it is missing."""
    where = f"{client.shown_base}/Patient/{patient_id}"
    try:
        try:
            resources = _everything(client, patient_id)
        except ServerRejectedError as exc:
            if exc.status not in NO_OPERATION:
                raise
            log.info("%s: no Patient/$everything (HTTP %s); searching each resource type", where, exc.status)
            resources = _searches(client, patient_id)
    except AdapterError as exc:
        return SourceProblem(where, exc)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if not patients:
        return SourceProblem(
            where, ServerRejectedError(f"{where}: the server has no such Patient", status=404)
        )
    if not any(str(r.get("id")) == patient_id for r in patients):
        # An answer for one patient holding only another's Patient is the server's fault, not
        # a case file's: read on, it was 'no Patient resources' and the exit code of a bad case.
        held = ", ".join(printable(f"Patient/{r.get('id')}", 100) for r in patients[:3])
        return SourceProblem(
            where,
            ServerResponseError(
                f"{where}: the server's answer holds no Patient/{patient_id} but {held}; what it holds of"
                " this patient cannot be told"
            ),
        )
    return PatientFhir(where, of_patient(where, resources, patient_id))


def of_patient(where: str, resources: list[Json], patient_id: str) -> list[Json]:
    """The resources that are this patient's, or shared with its resources; the others are left out.

    A server that ignores a search parameter it does not support answers `Condition?subject=...`
    with every Condition it holds, and a faulty $everything may hold another patient's resources:
    read as this patient's, they would add another case's cancers and treatments to this one. A
    resource that names another patient is left out; one that names no patient (a Medication, a
    Provenance of Conditions) is kept when it refers to a kept resource or a kept one refers to it.
    """
    own = {f"Patient/{patient_id}", patient_id, f"urn:uuid:{patient_id}"}
    kept: list[Json] = []
    unowned: list[Json] = []
    others: list[str] = []
    for resource in resources:
        owner = _owner_keys(resource)
        if owner is None:
            unowned.append(resource)
        elif owner & own:
            kept.append(resource)
        else:
            others.append(_key(resource))
    keys = {_key(r) for r in kept} | {str(r.get("id")) for r in kept}
    grew = True
    while grew and unowned:
        grew = False
        named = {ref for r in kept for ref in _all_references(r)}
        for resource in list(unowned):
            if (
                _key(resource) in named
                or str(resource.get("id")) in named
                or set(_all_references(resource)) & keys
            ):
                kept.append(resource)
                keys |= {_key(resource), str(resource.get("id"))}
                unowned.remove(resource)
                grew = True
    others += [_key(r) for r in unowned]
    if others:
        shown = ", ".join(others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "")
        log.warning(
            "%s: the server answered with %d resource(s) of another patient or of none: %s; not read",
            where,
            len(others),
            shown,
        )
    return kept


def _owner_keys(resource: Json) -> set[str] | None:
    """Every key the patient a resource names goes by (its Patient/id, bare id, urn), or None for none."""
    if resource.get("resourceType") == "Patient":
        return {_key(resource), str(resource.get("id"))}
    refs: list[str] = []
    for name in PATIENT_ELEMENTS:
        ref = resource.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            refs.append(ref["reference"])
    if not refs:
        for target in resource.get("target") or []:
            ref = target.get("reference") if isinstance(target, dict) else None
            if isinstance(ref, str) and any(k.startswith("Patient/") for k in reference_keys(ref)):
                refs.append(ref)
    if not refs:
        return None
    return {key for ref in refs for key in reference_keys(ref)}


def _all_references(node: object) -> Iterator[str]:
    """Every key each reference in a resource may find its target by."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "reference" and isinstance(value, str):
                yield from reference_keys(value)
            else:
                yield from _all_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_references(value)


def _collect(pages: Iterable[Json], out: dict[str, Json], where: str) -> None:
    """The resources of every page into `out`, by Type/id.

    An OperationOutcome among them (`search.mode: outcome`) is the server speaking about the
    search: an error or fatal issue means the pages do not hold what was asked, so nothing is read
    as if they did; a warning is passed on. A resource listed again with other content was changed
    while the pages were read: which copy is current cannot be told.
    """
    tally = PageTally()
    for page in pages:
        tally.add(page)
        for entry in page.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or resource.get("resourceType") is None:
                continue
            if resource.get("resourceType") == "OperationOutcome":
                _outcome(where, resource)
                continue
            first = out.setdefault(_key(resource), resource)
            if first is not resource and first != resource:
                raise ServerResponseError(
                    f"{where}: the server listed {printable(_key(resource), 200)} twice with different"
                    " content (it changed while the pages were read?); which is current cannot be told."
                    " Export again"
                )
    # Pages that end before the total they give leave resources of the case unread.
    _check_pages(
        tally, where, "resource(s)", "what it left out cannot be told, so none are read. Export again"
    )


def _outcome(where: str, outcome: Json) -> None:
    """A search's OperationOutcome: errors stop the patient's reading, warnings are logged.

    Its issues are read as every other answer's are (parse_issues): an issue that is no list, or
    details given as text, is read, not a traceback or an error passed over.
    """
    for issue in parse_issues(outcome):
        severity = (issue.get("severity") or "").lower()
        what = printable(
            " ".join(x for x in (issue.get("code"), issue.get("diagnostics")) if x) or "no details", 300
        )
        if severity in ("error", "fatal"):
            raise ServerResponseError(
                f"{where}: the server's search answer holds an OperationOutcome {severity} ({what}); the"
                " resources it lists may be incomplete, so none are read. Fix the server's search or"
                " export again"
            )
        log.warning("%s: the server says of its search (%s): %s", where, printable(severity, 20), what)


def _everything(client: FhirClient, patient_id: str) -> list[Json]:
    found: dict[str, Json] = {}
    where = f"{client.shown_base}/Patient/{patient_id}/$everything"
    _collect(client.pages(f"Patient/{patient_id}/$everything"), found, where)
    kinds = {r.get("resourceType") for r in found.values()}
    if "Patient" in kinds:
        for kind, element in COMPLEMENT:
            if kind not in kinds:
                try:
                    _collect(
                        client.pages(kind, {element: f"Patient/{patient_id}"}),
                        found,
                        f"{client.shown_base}/{kind}?{element}=Patient/{patient_id}",
                    )
                except ServerRejectedError as exc:
                    log.info("%s?%s: HTTP %s; skipped", kind, element, exc.status)
    return list(found.values())


def _searches(client: FhirClient, patient_id: str) -> list[Json]:
    found: dict[str, Json] = {}
    patient = client.read("Patient", patient_id)
    if patient is None:
        return []
    found[_key(patient)] = patient
    for kind, element in PATIENT_SEARCHES:
        try:
            _collect(
                client.pages(kind, {element: f"Patient/{patient_id}"}),
                found,
                f"{client.shown_base}/{kind}?{element}=Patient/{patient_id}",
            )
        except ServerRejectedError as exc:
            log.info("%s?%s: HTTP %s; skipped", kind, element, exc.status)
    return list(found.values())
