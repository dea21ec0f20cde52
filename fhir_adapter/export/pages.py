"""Summary pages of what a server holds: a patient's resources as a collection Bundle, summarised."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..client import ClientSettings, FhirClient
from ..errors import AdapterError
from ..summary import PageNames, SummaryRun, render_index, render_page, summarise
from ..terminology import Terminology
from ..writer import ensure_dir, write_atomic
from .common import Json
from .read import read_case
from .sources import PatientFhir, SourceProblem, read_server


def patient_bundle(patient: PatientFhir) -> Json:
    """A patient's resources as a collection Bundle, for what reads Bundles."""
    patients = [r for r in patient.resources if r.get("resourceType") == "Patient"]
    bundle: Json = {"resourceType": "Bundle", "type": "collection"}
    ids = [i for p in patients for i in p.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    if ids:
        bundle["identifier"] = {"system": ids[0].get("system"), "value": ids[0]["value"]}
    bundle["entry"] = [
        {"fullUrl": f"{r['resourceType']}/{r.get('id')}", "resource": r} for r in patient.resources
    ]
    return bundle


def _case_source(patient: PatientFhir, terminology: Terminology, system: str | None) -> Json:
    """Citation, DOI, URL and summary, as the export reads them (nothing when the case is not readable)."""
    try:
        case = read_case(patient.resources, terminology, system=system, source=patient.source).case["case"]
    except AdapterError:
        return {}
    source = dict(case.get("source") or {})
    if case.get("summary"):
        source["summary"] = case["summary"]
    return source


def write_server_summaries(
    patients: Iterable[PatientFhir | SourceProblem],
    out_dir: Path,
    terminology: Terminology,
    *,
    system: str | None = None,
) -> SummaryRun:
    """One page per patient read from a server, and index.html: what the server holds, as it holds it."""
    run = SummaryRun()
    items = []
    names = PageNames()
    for patient in patients:
        if isinstance(patient, SourceProblem):
            run.errors.append((patient.source, patient.error))
            continue
        summary = summarise(
            patient_bundle(patient),
            source_name=patient.source,
            terminology=terminology,
            case_source=_case_source(patient, terminology, system),
        )
        ensure_dir(out_dir)
        name = names.name(summary.case_id)
        path = out_dir / name
        write_atomic(path, render_page(summary).encode("utf-8"))
        run.pages.append(path)
        items.append((name, summary))
    if items:
        run.index = out_dir / "index.html"
        write_atomic(run.index, render_index(items).encode("utf-8"))
    return run


def summarise_server(
    server: ClientSettings, patient_ids: list[str], out_dir: Path, terminology: Terminology
) -> SummaryRun:
    """`summary --server URL --patient ID`: a page for each patient as the server holds it."""
    found = read_server(FhirClient(server), patient_ids=patient_ids)
    return write_server_summaries(found, out_dir, terminology)
