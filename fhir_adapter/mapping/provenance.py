"""Where the case came from: a DocumentReference for the publication, and a Provenance tying every
resource to it, dated by the publication (never by the clock, so output stays byte-identical)."""

from __future__ import annotations

from .common import Json, MappingContext
from .patient import PATIENT_ROLE

DOI_SYSTEM = "https://doi.org"
PMID_SYSTEM = "https://pubmed.ncbi.nlm.nih.gov"
SOURCE_ROLE = "source"
SUMMARY_ROLE = "summary"


def to_source_document(ctx: MappingContext) -> Json | None:
    """The publication as a DocumentReference, when the case names one."""
    source = ctx.case.case.source
    if source is None or not (source.citation or source.doi or source.url or source.pmid):
        return None
    identifiers = []
    if source.doi:
        identifiers.append({"system": DOI_SYSTEM, "value": source.doi})
    if source.pmid:
        identifiers.append({"system": PMID_SYSTEM, "value": source.pmid})
    url = f"https://doi.org/{source.doi}" if source.doi else source.url
    attachment: Json = {"title": source.citation or url or f"PMID {source.pmid}"}
    if url:
        attachment["url"] = url
    if source.published:
        # Attachment.creation is a dateTime: a partial publication date is allowed there.
        attachment["creation"] = source.published
    resource: Json = {"resourceType": "DocumentReference", "id": ctx.uid(SOURCE_ROLE)}
    if identifiers:
        resource["identifier"] = identifiers
    resource["status"] = "current"
    resource["description"] = "The published case report this case was abstracted from."
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    resource["content"] = [{"attachment": attachment}]
    if source.doi and source.url and source.url != url:
        # The publisher's page beside the DOI link: another way to reach the same publication.
        resource["content"].append({"attachment": {"url": source.url}})
    return resource


def to_case_summary(ctx: MappingContext) -> Json | None:
    """The case's summary in free text, as a ClinicalImpression (its `summary` is a text summary)."""
    text = ctx.case.case.summary
    if not text:
        return None
    return {
        "resourceType": "ClinicalImpression",
        "id": ctx.uid(SUMMARY_ROLE),
        # ClinicalImpression.status 1..1 (required binding): the summary of a finished report.
        "status": "completed",
        "description": "A summary of the case, as its case file gives it.",
        "subject": ctx.ref(PATIENT_ROLE),
        "summary": text,
    }


def to_provenance(ctx: MappingContext, targets: list[str]) -> Json | None:
    """A Provenance of every resource of the case, with the publication as its source entity.

    Provenance.recorded is an instant and SHALL be present; it is the publication day at
    00:00:00Z, from the case file. Without a publication day (a year or month is not an instant)
    no Provenance is made, and the DocumentReference alone names the source: no day is invented.
    """
    source = ctx.case.case.source
    if source is None or source.published is None or len(source.published) < 10:
        return None
    day = source.published
    return {
        "resourceType": "Provenance",
        "id": ctx.uid("provenance"),
        "target": [{"reference": ref} for ref in targets],
        "recorded": f"{day}T00:00:00Z",
        "agent": [
            {
                "type": ctx.fixed("provenance author"),
                "who": {"display": source.citation or "the authors of the source publication"},
            }
        ],
        "entity": [{"role": "source", "what": ctx.ref(SOURCE_ROLE)}],
    }
