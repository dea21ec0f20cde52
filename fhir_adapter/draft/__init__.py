"""Drafting a case file from a case report's text: every fact with the sentence it came from.

drafts = draft_text(text, name="yu-2024")
drafts[0].case      # a case-file dict, valid input for convert
drafts[0].evidence  # per fact: field path, character span, sentence, rule, confidence
drafts[0].review    # what was seen but not placed, and why
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidCaseError
from ..terminology import Terminology, load_terminology
from .assemble import assemble
from .fit import fit_to_case_model
from .pipeline import cached_pipeline
from .roles import sentence_roles
from .rules import Rules, shipped_rules
from .text import blank_header, mask_references, normalize, references, split_cases

MAX_CHARS = 5_000_000  # a text longer than this is refused: no case report is near it


@dataclass
class Draft:
    """One drafted case and where each of its facts came from."""

    case: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    source: str = "-"
    label: str | None = None  # the text's own label for the case ("Case 2"), if any
    backend: str = "rules"
    text: str = ""  # the source text as read, which evidence offsets point into
    sentences: list[tuple[int, int]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # each sentence's role: patient, background, ...


def case_id_for(name: str, number: int, count: int) -> str:
    """A case id from the source's name: its file stem, with -case-N when the text holds several."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "draft"
    if stem.isdigit():
        stem = f"case-{stem}"  # servers refuse purely numeric ids
    stem = stem[:50]
    return f"{stem}-case-{number}" if count > 1 else stem


def draft_text(
    text: str,
    *,
    name: str = "draft",
    terminology: Terminology | None = None,
    rules: Rules | None = None,
) -> list[Draft]:
    """Draft one case per case the text tells (a report of two cases gives two drafts)."""
    if len(text) > MAX_CHARS:
        raise InvalidCaseError(
            f"{name}: the text has {len(text):,} characters; drafting reads at most {MAX_CHARS:,}"
            " (a case report is far shorter). Give the report's own text, or split a collection into"
            " one file per report."
        )
    terminology = terminology or _shipped_terminology()
    rules = rules or shipped_rules()
    pipeline = cached_pipeline(terminology, rules)
    refs = references(text)
    body = blank_header(text)
    plain = normalize(body)
    scan = mask_references(plain)
    segments = split_cases(plain, rules)
    drafts = []
    for seg in segments:
        sentences, mentions = pipeline.run(plain[seg.start : seg.end], offset=seg.start)
        roles = sentence_roles(scan, sentences, rules)
        case_id = case_id_for(name, seg.number, len(segments))
        # The case sees only its own part of the text; offsets stay those of the whole text.
        own = " " * seg.start + text[seg.start : seg.end] + " " * (len(text) - seg.end)
        own_scan = " " * seg.start + scan[seg.start : seg.end] + " " * (len(text) - seg.end)
        built = assemble(own, own_scan, sentences, roles, mentions, rules, terminology, case_id, refs, text)
        if built is None:
            where = f" ({seg.label})" if seg.label else ""
            raise InvalidCaseError(
                f"{name}{where}: no primary cancer is named in the text, so no case file can be drafted;"
                " a case file needs at least one primary cancer"
            )
        # What the case format refuses (two dates the story gives out of order) goes to review.
        fit_to_case_model(built.case, built.review, built.evidence)
        drafts.append(
            Draft(
                built.case,
                built.evidence,
                built.review,
                name,
                seg.label,
                text=text,
                sentences=sentences,
                roles=roles,
            )
        )
    return drafts


_TERMINOLOGY: list[Terminology] = []


def _shipped_terminology() -> Terminology:
    if not _TERMINOLOGY:
        _TERMINOLOGY.append(load_terminology())
    return _TERMINOLOGY[0]
