"""Writing drafts: the case file as YAML with each item's evidence as comments, and the sidecar JSON."""

from __future__ import annotations

import json

from ..casefile import case_yaml, tidy_numbers
from ..errors import printable
from . import Draft

SECTIONS = ("case", "patient", "primary_cancers", "metastases", "procedures", "medications", "disease_status")


def _quote(text: str, limit: int = 110) -> str:
    """Text for a comment: one line (a line break or control character would break the YAML), clipped."""
    text = " ".join(text.split())
    return printable(text if len(text) <= limit else text[: limit - 3] + "...")


def _sentences_of(draft: Draft, path: str) -> list[tuple[int, int, str]]:
    seen: dict[tuple[int, int], str] = {}
    for ev in draft.evidence:
        if ev["path"] == path or ev["path"].startswith(path + "."):
            s = ev["sentence"]
            seen.setdefault((s["start"], s["end"]), s["text"])
    return [(s, e, t) for (s, e), t in sorted(seen.items())]


def draft_yaml(draft: Draft, evidence_file: str | None = None) -> str:
    """The draft as a case file a person reviews: valid YAML, each item preceded by its sentences."""
    lines = [
        f"# Draft case file made by `fhir-adapter draft` from {printable(draft.source)}"
        + (f" ({printable(draft.label)})" if draft.label else "")
        + f", {draft.backend} backend.",
        "# Every fact below was read from the text; check each one against its sentence before use.",
    ]
    if evidence_file:
        lines.append(f"# Offsets, rules and confidences of each fact: {printable(evidence_file)}")
    for section in SECTIONS:
        if section not in draft.case:
            continue
        value = draft.case[section]
        if isinstance(value, list):
            lines.append(f"{section}:")
            for j, item in enumerate(value):
                for s, e, text in _sentences_of(draft, f"{section}[{j}]"):
                    lines.append(f"  # [{s}-{e}] {_quote(text)}")
                body = case_yaml(item).rstrip("\n").split("\n")
                lines.append("  - " + body[0])
                lines.extend("    " + line for line in body[1:])
        else:
            for s, e, text in _sentences_of(draft, section) if section == "patient" else []:
                lines.append(f"# [{s}-{e}] {_quote(text)}")
            lines.extend(case_yaml({section: value}).rstrip("\n").split("\n"))
    if draft.review:
        lines.append("")
        lines.append("# review: seen in the text but not placed above; add by hand what applies.")
        for r in draft.review:
            where = f" [{r['start']}-{r['end']}]" if "start" in r else ""
            lines.append(f"#   - {_quote(r['fact'], 60)}: {printable(r['why'])}{where}")
    return "\n".join(lines) + "\n"


def evidence_json(drafts: list[Draft]) -> str:
    """The sidecar: for each case, each fact's field path, span, sentence, rule and confidence."""
    doc = {
        "format": "fhir-adapter draft evidence 1",
        "offsets": "character offsets (Unicode code points) into the source text as read",
        "cases": [
            {
                "case_id": d.case["case"]["id"],
                "source": d.source,
                "label": d.label,
                "backend": d.backend,
                "facts": tidy_numbers(d.evidence),
                "review": d.review,
            }
            for d in drafts
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
