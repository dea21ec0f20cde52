"""Renders a CaseSummary as one self-contained HTML page, and an index of many cases."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from hashlib import sha256
from importlib import resources

from ..visible import html_text as escape
from .bodymap import GENERAL, REGIONS, render_body_map
from .extract import CaseSummary, Json, evidence_for
from .timeline import render_timeline

# Nothing may be fetched: no scripts at all, styles only from the page itself, images only inline.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _css() -> str:
    return resources.files(__package__).joinpath("summary.css").read_text(encoding="utf-8")


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_css()}</style></head>"
    )


def evidence_html(item: Json) -> str:
    """A sentence with the words that state the fact marked (start/end are offsets into the sentence)."""
    sentence = str(item.get("sentence", ""))
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(sentence):
        return (
            escape(sentence[:start])
            + "<mark>"
            + escape(sentence[start:end])
            + "</mark>"
            + escape(sentence[end:])
        )
    return escape(sentence)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _filter_keys(names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """The index filter key of each name: its slug, unless two names share one.

    Names that differ only in case, spaces or punctuation (Ki-67, Ki 67) are one filter. Others
    whose slugs meet, as names in another script all do ('x'), or whose slug is a key in `taken`,
    each get a hash of the name after the slug, so no filter shows another's cases.
    """
    names = list(names)
    folded = {name: re.sub(r"[\W_]+", "-", name.casefold()).strip("-") for name in names}
    by_slug: dict[str, set[str]] = defaultdict(set)
    for form in folded.values():
        by_slug[_slug(form)].add(form)
    reserved = set(taken)
    key_of = {
        form: slug
        if len(forms) == 1 and slug not in reserved
        else f"{slug}-{sha256(form.encode()).hexdigest()[:8]}"
        for slug, forms in by_slug.items()
        for form in forms
    }
    return {name: key_of[form] for name, form in folded.items()}


def _doi_link(summary: CaseSummary) -> str:
    if summary.doi:
        href = "https://doi.org/" + summary.doi
        return f'<a href="{escape(href)}" rel="noreferrer">doi:{escape(summary.doi)}</a>'
    if summary.url:
        return f'<a href="{escape(summary.url)}" rel="noreferrer">{escape(summary.url)}</a>'
    return ""


def _header(s: CaseSummary) -> str:
    facts = [
        ("Sex", s.sex or "not stated"),
        ("Age at diagnosis", s.age_at_diagnosis or "not stated"),
        (
            "Vital status",
            s.vital_status + (f" ({s.deceased_when.label})" if s.deceased_when.kind != "none" else ""),
        ),
        ("Last known disease status", s.disease_status),
    ]
    if s.ethnicity:
        facts.insert(2, ("Ethnicity", s.ethnicity))
    dl = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    source = ""
    if s.citation or s.doi or s.url:
        source = (
            '<p class="source"><strong>Source:</strong> '
            + escape(s.citation or "publication")
            + (" " + _doi_link(s) if _doi_link(s) else "")
            + "</p>"
        )
    else:
        source = '<p class="source muted">The bundle names no publication.</p>'
    text = f'<p class="case-summary">{escape(s.summary_text)}</p>' if s.summary_text else ""
    return f'<header class="case-header"><h1>Case {escape(s.case_id)}</h1><dl class="facts">{dl}</dl>{source}{text}</header>'


def _markers(s: CaseSummary) -> str:
    if not s.markers:
        return '<p class="empty">The bundle holds no tumour marker or staging results.</p>'
    items = []
    for m in s.markers:
        evidence = "".join(
            f'<q class="evidence">{evidence_html(e)}</q>' for _, e in evidence_for(s, m.resource_id)
        )
        items.append(
            f'<li class="badge kind-{escape(m.kind)}" data-resource="{escape(m.resource_id)}">'
            f'<span class="name">{escape(m.name)}</span><span class="value">{escape(m.value or "no value")}</span>'
            + (f'<span class="where">measured on: {escape(m.where)}</span>' if m.where else "")
            + (f'<span class="where">{escape(m.when)}</span>' if m.when else "")
            + evidence
            + "</li>"
        )
    return '<ul class="badges">' + "".join(items) + "</ul>"


def _resource_table(s: CaseSummary) -> str:
    has_evidence = any(row.evidence for row in s.resources)
    head = "<tr><th>Resource</th><th>Profile</th><th>Codes (system, code, display)</th><th>Text only</th>"
    head += "<th>From the case file</th>" + ("<th>Evidence</th>" if has_evidence else "") + "</tr>"
    rows = []
    for row in s.resources:
        codes = []
        text_only = []
        for c in row.codes:
            for system, code, display in c.codings:
                codes.append(
                    f"<li><code>{escape(c.path)}</code>: {escape(system)} <strong>{escape(code)}</strong>"
                    f" {escape(display)}</li>"
                )
            if c.text_only:
                text_only.append(
                    f'<li><span class="text-only">{escape(c.text)}</span> <code>{escape(c.path)}</code></li>'
                )
        warnings = "".join(f'<li class="warning">{escape(w)}</li>' for w in row.warnings)
        profile = "<br>".join(f"<code>{escape(p.rsplit('/', 1)[-1])}</code>" for p in row.profiles) or "—"
        cells = [
            f"<td>{escape(row.resource_type)}<br><code>{escape(row.resource_id)}</code></td>",
            f'<td title="{escape(" ".join(row.profiles))}">{profile}</td>',
            f"<td><ul>{''.join(codes)}</ul></td>" if codes else "<td>—</td>",
            f"<td><ul>{''.join(text_only)}{warnings}</ul></td>" if text_only or warnings else "<td>—</td>",
            f"<td><code>{escape(row.origin)}</code></td>" if row.origin else "<td>—</td>",
        ]
        if has_evidence:
            cells.append(
                "<td>"
                + "".join(
                    f'<q class="evidence" title="{escape(path)}">{evidence_html(e)}</q>'
                    for path, e in row.evidence
                )
                + "</td>"
            )
        rows.append(
            f'<tr data-resource="{escape(row.resource_id)}" data-role="{escape(row.role)}">{"".join(cells)}</tr>'
        )
    return f'<table class="resources"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def render_page(s: CaseSummary, *, index_href: str | None = "index.html") -> str:
    """The whole page of one case."""

    def evidence_of(resource_id: str) -> list[str]:
        return [str(e.get("sentence", "")) for _, e in evidence_for(s, resource_id)]

    warnings = ""
    if s.warnings:
        warnings = (
            '<section id="warnings"><h2>Conversion warnings</h2><ul>'
            + "".join(f'<li class="warning">{escape(w)}</li>' for w in s.warnings)
            + "</ul></section>"
        )
    nav = f'<p class="muted"><a href="{escape(index_href)}">All cases</a></p>' if index_href else ""
    return (
        _head(f"Case {s.case_id} — summary")
        + "<body>"
        + _header(s)
        + "<main>"
        + nav
        + '<section id="timeline"><h2>Timeline</h2>'
        + render_timeline(s.events, evidence_of)
        + "</section>"
        + '<div class="layout"><section id="body-map"><h2>Body map</h2>'
        + render_body_map(s.sites, evidence_of)
        + '</section><section id="markers"><h2>Markers</h2>'
        + _markers(s)
        + "</section></div>"
        + warnings
        + '<section id="resources"><h2>FHIR resources</h2><p class="hint">Every resource in the bundle, with'
        " every code it carries and the terms that stayed text without a code.</p>"
        + _resource_table(s)
        + "</section></main>"
        + f"<footer>Made by fhir-adapter from {escape(s.source_name)}. The page fetches nothing and runs no"
        " scripts.</footer></body></html>\n"
    )


def _met_sites(s: CaseSummary, keys: dict[str, str]) -> list[tuple[str, str]]:
    """(filter key, name) of each metastatic site, by body-map region where there is one, else by `keys`."""
    out: dict[str, str] = {}
    for site in s.sites:
        if site.role != "metastasis":
            continue
        if site.region in REGIONS:
            out[site.region] = REGIONS[site.region][0]
        elif site.region in GENERAL:
            out[site.region] = GENERAL[site.region]
        else:
            out[keys[site.label]] = site.label
    return sorted(out.items(), key=lambda kv: kv[1])


def _unmapped(s: CaseSummary) -> list[str]:
    return [
        site.label
        for site in s.sites
        if site.role == "metastasis" and site.region not in REGIONS and site.region not in GENERAL
    ]


def render_index(items: list[tuple[str, CaseSummary]]) -> str:
    """The index of many cases, with filters by metastatic site and marker that need no scripts."""
    sites: dict[str, str] = {}
    markers: dict[str, str] = {}
    rows = []
    site_keys = _filter_keys((label for _, s in items for label in _unmapped(s)), taken=[*REGIONS, *GENERAL])
    marker_keys = _filter_keys(m.group or m.name for _, s in items for m in s.markers if m.kind == "marker")
    for href, s in items:
        mets = _met_sites(s, site_keys)
        # One filter per test however a case names it: ER and estrogen receptor are one.
        marks = sorted(
            {(marker_keys[m.group or m.name], m.group or m.name) for m in s.markers if m.kind == "marker"},
            key=lambda kv: kv[1],
        )
        sites.update(mets)
        markers.update(marks)
        classes = " ".join([f"m-{k}" for k, _ in mets] + [f"k-{k}" for k, _ in marks])
        primaries = sorted(
            {
                site.label + (f" ({site.side})" if site.side else "")
                for site in s.sites
                if site.role == "primary"
            }
        )
        marker_text = ", ".join(f"{m.name}: {m.value}" for m in s.markers) or "—"
        rows.append(
            f'<tr class="case {classes}" data-case="{escape(s.case_id)}"><td><a href="{escape(href)}">{escape(s.case_id)}</a></td>'
            f"<td>{escape(s.sex or '—')}</td><td>{escape(s.age_at_diagnosis or '—')}</td>"
            f"<td>{escape(', '.join(primaries) or '—')}</td><td>{escape(', '.join(n for _, n in mets) or '—')}</td>"
            f"<td>{escape(marker_text)}</td><td>{escape(s.vital_status)}</td><td>{escape(s.disease_status)}</td></tr>"
        )
    rules = []
    filters = []
    for group, prefix, options in (("Metastatic site", "m", sites), ("Marker", "k", markers)):
        if not options:
            continue
        labels = [f'<label><input type="radio" name="{prefix}" id="{prefix}-all" checked> any</label>']
        for key, name in sorted(options.items(), key=lambda kv: kv[1]):
            labels.append(
                f'<label><input type="radio" name="{prefix}" id="{prefix}-{escape(key)}"> {escape(name)}</label>'
            )
            rules.append(
                f"body:has(#{prefix}-{key}:checked) tr.case:not(.{prefix}-{key}) {{ display: none; }}"
            )
        filters.append(f'<fieldset class="filter"><legend>{group}</legend>{"".join(labels)}</fieldset>')
    head = _head("Case summaries").replace("</style>", "\n" + "\n".join(rules) + "</style>")
    return (
        head
        + '<body><header class="case-header"><h1>Case summaries</h1>'
        + f'<p class="muted">{len(items)} case(s). Choose a site or marker to show only the cases that have it.</p></header><main>'
        + "".join(filters)
        + '<table class="cases"><thead><tr><th>Case</th><th>Sex</th><th>Age at diagnosis</th><th>Primary sites</th>'
        "<th>Metastatic sites</th><th>Markers</th><th>Vital status</th><th>Disease status</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></main><footer>Made by fhir-adapter.</footer></body></html>\n"
    )
