"""Helpers the drafting tests share: draft one case from a text, and read its facts back by kind."""

from __future__ import annotations

from fhir_adapter.draft import draft_text


def one(text: str, terminology) -> dict:
    """The case file of a text that tells one case (a second case fails the test)."""
    (draft,) = draft_text(text, terminology=terminology)
    return draft.case


def sites(case: dict) -> dict[str, str | None]:
    return {m["site"]: m.get("laterality") for m in case.get("metastases", [])}


def met(case: dict, site: str) -> dict:
    return next(m for m in case.get("metastases", []) if m["site"] == site)


def markers(item: dict) -> dict[str, str | float | None]:
    out: dict[str, str | float | None] = {}
    for m in item.get("markers", []):
        out[m["name"]] = m.get("result", m.get("percent"))
    return out


def meds(case: dict) -> dict[str, dict]:
    return {m["name"]: m for m in case.get("medications", [])}


def procedures(case: dict) -> list[str]:
    return [p["name"] for p in case.get("procedures", [])]
