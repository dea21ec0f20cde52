"""The review page of a draft: the report's text with each fact's words marked, beside the fields they filled.

One self-contained HTML file per draft (no script, nothing fetched): on the left the text as
read, each drafted fact's words highlighted and linked to the field it filled, and sentences that
are not the patient's story (background, literature, differential, the journal's own lines)
shown as such; on the right the draft's fields, each linked back to its words, then what was
seen but not placed (the review list), then what convert would keep as text only. A registrar
checks a draft against its source by following the links both ways.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..visible import html_text as escape
from . import Draft
from .roles import PATIENT

# Nothing may be fetched and nothing run: styles from the page itself only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
ROLE_LABELS = {
    "background": "background",
    "literature": "literature",
    "differential": "differential diagnosis",
    "citation": "journal line",
    "heading": "heading",
}
_CSS = """
:root { --fact: #fff0b3; --fact-line: #b38600; --review: #fde2e1; --review-line: #b3261e; --muted: #6b6b6b; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1b1b1b;
  overflow-wrap: break-word; }  /* a run with no space in the report wraps, never widens the page */
header { padding: 12px 20px; border-bottom: 1px solid #ddd; background: #fafafa; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); }
main { display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 6fr); gap: 0; }
#text { padding: 16px 20px; border-right: 1px solid #ddd; white-space: pre-wrap; }
#fields { padding: 16px 20px; }
.sentence.role-other { color: var(--muted); }
.role-tag { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  border: 1px solid #ccc; border-radius: 3px; padding: 0 3px; margin-right: 4px; }
mark { background: var(--fact); border-bottom: 2px solid var(--fact-line); padding: 0 1px; }
mark.review { background: var(--review); border-bottom-color: var(--review-line); }
mark a, mark a:visited { color: inherit; text-decoration: none; }
:target { outline: 3px solid #1a73e8; outline-offset: 1px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; table-layout: fixed; }
col.c-path { width: 32%; } col.c-value { width: 26%; } col.c-words { width: 28%; } col.c-rule { width: 14%; }
th, td { text-align: left; vertical-align: top; padding: 3px 6px; border-bottom: 1px solid #eee; }
th { font-weight: 600; }
td.path { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
td { overflow-wrap: anywhere; }
td.rule { font-size: 12px; color: var(--muted); }
td.words a { color: #1a56b3; }
h2 { font-size: 16px; margin: 18px 0 6px; }
ul { margin: 0; padding-left: 20px; }
.none { color: var(--muted); }
@media print { main { grid-template-columns: 1fr; } #text { border-right: 0; } }
"""


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    anchor: str  # the id of this span's mark
    target: str  # the id it links to
    kind: str  # fact or review
    title: str


def field_id(path: str) -> str:
    """The element id of a field row: 'metastases[0].site' -> 'field-metastases-0-site'."""
    return "field-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _spans(draft: Draft) -> list[_Span]:
    spans = []
    for n, ev in enumerate(draft.evidence):
        if ev["end"] > ev["start"]:
            spans.append(
                _Span(
                    ev["start"],
                    ev["end"],
                    f"ev-{n}",
                    field_id(ev["path"]),
                    "fact",
                    f"{ev['path']} = {_value(ev['value'])} ({ev['rule']})",
                )  # fmt: skip
            )
    for n, r in enumerate(draft.review):
        if "start" in r and r["end"] > r["start"]:
            spans.append(
                _Span(r["start"], r["end"], f"rv-{n}", f"review-{n}", "review", f"review: {r['why']}")
            )
    return spans


def _marked_text(draft: Draft, spans: list[_Span]) -> str:
    """The source text as HTML, each span marked; overlapping spans split into segments."""
    text = draft.text
    cuts = {0, len(text)}
    for sp in spans:
        cuts.update((sp.start, sp.end))
    for s, e in draft.sentences:
        cuts.update((s, e))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    starts = defaultdict(list)
    for sp in spans:
        starts[sp.start].append(sp)
    role_at = {s: role for (s, _), role in zip(draft.sentences, draft.roles, strict=False)}
    ends = {e for _, e in draft.sentences}
    out: list[str] = []
    open_sentence = False
    for a, b in zip(points, points[1:], strict=False):
        if a in role_at:
            if open_sentence:
                out.append("</span>")
            role = role_at[a]
            cls = "sentence" + ("" if role == PATIENT else " role-other")
            tag = (
                f'<span class="role-tag">{escape(ROLE_LABELS.get(role, role))}</span>'
                if role != PATIENT
                else ""
            )
            out.append(f'<span class="{cls}" data-role="{escape(role)}">{tag}')
            open_sentence = True
        for sp in starts.get(a, ()):
            out.append(f'<span id="{sp.anchor}" class="anchor"></span>')
        covering = [sp for sp in spans if sp.start <= a and b <= sp.end]
        chunk = escape(text[a:b])
        if covering:
            facts = [sp for sp in covering if sp.kind == "fact"]
            first = (facts or covering)[0]
            cls = "fact" if facts else "review"
            title = "; ".join(sp.title for sp in covering)
            refs = " ".join(sp.anchor for sp in covering)
            chunk = (
                f'<mark class="{cls}" data-refs="{refs}" title="{escape(title)}">'
                f'<a href="#{first.target}">{chunk}</a></mark>'
            )
        out.append(chunk)
        if b in ends and open_sentence:
            out.append("</span>")
            open_sentence = False
    if open_sentence:
        out.append("</span>")
    return "".join(out)


def _field_rows(draft: Draft) -> str:
    by_path: dict[str, list[int]] = defaultdict(list)
    for n, ev in enumerate(draft.evidence):
        by_path[ev["path"]].append(n)
    rows = []
    for path, numbers in by_path.items():
        first = draft.evidence[numbers[0]]
        words = " ".join(
            f'<a href="#ev-{n}">“{escape(draft.evidence[n]["text"])}”</a>'
            for n in numbers
            if draft.evidence[n]["end"] > draft.evidence[n]["start"]
        )
        rows.append(
            f'<tr id="{field_id(path)}" data-path="{escape(path)}"><td class="path">{escape(path)}</td>'
            f'<td>{escape(_value(first["value"]))}</td><td class="words">{words}</td>'
            f'<td class="rule">{escape(first["rule"])} ({first["confidence"]:.1f})</td></tr>'
        )
    return (
        '<table><colgroup><col class="c-path"><col class="c-value"><col class="c-words"><col class="c-rule">'
        "</colgroup><thead><tr><th>field</th><th>value</th><th>words</th><th>rule (confidence)</th></tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _review_list(draft: Draft) -> str:
    if not draft.review:
        return '<p class="none">Nothing: every fact seen was placed.</p>'
    items = []
    for n, r in enumerate(draft.review):
        where = f' <a href="#rv-{n}">[in the text]</a>' if "start" in r and r["end"] > r["start"] else ""
        items.append(f'<li id="review-{n}"><b>{escape(r["fact"])}</b>: {escape(r["why"])}{where}</li>')
    return "<ul>" + "".join(items) + "</ul>"


def _text_only(uncoded: list[tuple[str, str, str]] | None) -> str:
    if uncoded is None:
        return '<p class="none">Not checked: the draft does not convert.</p>'
    if not uncoded:
        return '<p class="none">Nothing: every term of the draft codes.</p>'
    items = "".join(
        f'<li data-field="{escape(f)}"><span class="path">{escape(f)}</span>: “{escape(t)}” ({escape(why)})</li>'
        for f, t, why in uncoded
    )
    return f'<ul id="text-only-list">{items}</ul>'


def review_html(draft: Draft, uncoded: list[tuple[str, str, str]] | None) -> str:
    """The review page of one draft; `uncoded` is what convert keeps as text only (field, term, why)."""
    case_id = draft.case["case"]["id"]
    label = f" ({draft.label})" if draft.label else ""
    story = sum(1 for r in draft.roles if r == PATIENT)
    summary = (
        f"Drafted from {escape(draft.source)}{escape(label)} by the {escape(draft.backend)} backend: "
        f"{len(draft.evidence)} facts with their words, {len(draft.review)} to review; "
        f"{story} of {len(draft.roles)} sentences tell the patient's story."
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Review: {escape(case_id)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Review of the draft {escape(case_id)}</h1><p>{summary}</p></header>"
        f'<main><section id="text" aria-label="the report">{_marked_text(draft, _spans(draft))}</section>'
        f'<section id="fields" aria-label="the draft"><h2>Fields of the draft</h2>{_field_rows(draft)}'
        f'<h2 id="review">Seen but not placed</h2>{_review_list(draft)}'
        f'<h2 id="text-only">Kept as text only by convert</h2>{_text_only(uncoded)}</section></main>'
        "</body></html>\n"
    )
