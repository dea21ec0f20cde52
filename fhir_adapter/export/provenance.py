"""Where the case came from, read back: the publication's DocumentReference and Provenance, the summary."""

from __future__ import annotations

from ..mapping.provenance import DOI_SYSTEM, PMID_SYSTEM
from .common import Json, ReadContext

DEFAULT_AUTHOR = "the authors of the source publication"


def read_source(ctx: ReadContext, document: Json, provenance: Json | None) -> Json:
    """case.source: citation, DOI, URL, PMID and publication date."""
    path = "case.source"
    source: Json = {}
    for identifier in document.get("identifier") or []:
        if identifier.get("system") == DOI_SYSTEM:
            source["doi"] = ctx.found(f"{path}.doi", document, "identifier[doi]", identifier.get("value"))
        elif identifier.get("system") == PMID_SYSTEM:
            source["pmid"] = ctx.found(f"{path}.pmid", document, "identifier[pmid]", identifier.get("value"))
    attachments = [c.get("attachment") or {} for c in document.get("content") or []]
    first = attachments[0] if attachments else {}
    if "doi" in source:
        if len(attachments) > 1 and attachments[1].get("url"):
            source["url"] = ctx.found(
                f"{path}.url", document, "content[1].attachment.url", attachments[1]["url"]
            )
    elif first.get("url"):
        source["url"] = ctx.found(f"{path}.url", document, "content[0].attachment.url", first["url"])
    title = first.get("title")
    # Without a citation the title is the link, or the PMID: then it is no citation.
    fallback = first.get("url") or (f"PMID {source['pmid']}" if "pmid" in source else None)
    if isinstance(title, str) and title != fallback:
        source["citation"] = ctx.found(f"{path}.citation", document, "content[0].attachment.title", title)
    for agent in (provenance or {}).get("agent") or []:
        who = (agent.get("who") or {}).get("display")
        if isinstance(who, str) and who != DEFAULT_AUTHOR:
            source["citation"] = ctx.found(f"{path}.citation", provenance, "agent.who.display", who)
    if isinstance(first.get("creation"), str):
        source["published"] = ctx.found(
            f"{path}.published", document, "content[0].attachment.creation", first["creation"]
        )
    return {k: source[k] for k in ("citation", "doi", "url", "pmid", "published") if k in source}


def read_summary(ctx: ReadContext, impression: Json) -> str | None:
    text = impression.get("summary")
    if isinstance(text, str) and text:
        return ctx.found("case.summary", impression, "summary", text)
    return None
