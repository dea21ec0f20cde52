"""Markers and receptors: each marker with its result or percentage, placed on the tumour it was measured on."""

from __future__ import annotations

import re
from typing import Any

from ...terminology import fold
from ..pipeline import Mention
from .place import CaseDraft, Evidence

_COMPACT_RECEPTOR = re.compile(
    r"(?<![A-Za-z])(ER|PR|PgR|HER2|HER-2)(?:\s*status)?(\+|−|-(?=[/,;.\s)]|$)|-(?:positive|negative)\b)"
)


def read_markers(b: CaseDraft) -> None:
    results = sorted(b.rules["results"], key=len, reverse=True)
    res = "|".join(r if r.startswith("\\") else re.escape(r) for r in results)
    after_re = re.compile(rf"^\s*(?:receptors?\b)?\s*[:(]?\s*(?:was |were |is )?({res})(?![\w+])", re.I)
    percent_re = re.compile(
        r"^[\s,:(]*(?:(?:weakly |strongly )?(?:positive|negative)[\s,(]*)?(?:\d\+[\s,]*)?(\d{1,3}(?:\.\d+)?)\s*%"
    )
    before_re = re.compile(rf"({res})\s*(?:for\s+)?$", re.I)
    list_before = re.compile(rf"\b({res}) for\b", re.I)
    list_after = re.compile(rf"\b(?:was|were|are|is)(?: all| both)? ({res})\b", re.I)
    for i in range(len(b.sentences)):
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        seen: set[str] = set()
        # Compact receptor notation the tokenizer keeps whole: 'ER+/PR-/HER2-', 'ER-positive'.
        for c in _COMPACT_RECEPTOR.finditer(text):
            name = {"PGR": "PR", "HER-2": "HER2"}.get(c.group(1).upper(), c.group(1).upper())
            if name in seen:
                continue
            word = c.group(2).strip().lower()
            word = word if word in ("+", "-", "−") else word.lstrip("- ")
            result = {"+": "positive", "-": "negative", "−": "negative"}.get(word, word)
            seen.add(name)
            _place_marker(b, name, result, None, (s0 + c.start(), s0 + c.end()), i)
        ms = [m for m in b.in_sentence(i, "MARKER")]
        if not ms:
            continue
        prev_result = None
        for k, m in enumerate(ms):
            name = _marker_name(b, m)
            if name in seen:
                continue
            rs, re_ = m.start - s0, m.end - s0
            result = percent = None
            span = (m.start, m.end)
            tail = text[re_:]
            a = after_re.match(tail)
            bm = before_re.search(text[max(0, rs - 25) : rs])
            if m.text.endswith(("+", "-")) and len(m.text) > 1:
                result = "positive" if m.text.endswith("+") else "negative"
            elif a and not (k + 1 < len(ms) and ms[k + 1].start - s0 < re_ + a.end() and a.group(1) in "+-"):
                result = a.group(1)
                span = (m.start, m.end + a.end())
            elif bm:
                result = bm.group(1)
                span = (m.start - (len(text[max(0, rs - 25) : rs]) - bm.start()), m.end)
            else:
                lb = [x for x in list_before.finditer(text[:rs]) if ";" not in text[x.end() : rs]]
                la = [x for x in list_after.finditer(text[re_:]) if ";" not in text[re_ : re_ + x.start()]
                      and "." not in text[re_ : re_ + x.start()]]  # fmt: skip
                if lb:
                    result = lb[-1].group(1)
                elif la:
                    result = la[0].group(1)
                elif prev_result and re.match(r"^\s*(?:and|,|/)\s*$", text[ms[k - 1].end - s0 : rs]):
                    result = prev_result
            pc = percent_re.match(tail)
            if pc:
                percent = float(pc.group(1))
                span = (span[0], max(span[1], m.end + pc.end()))
            if (
                result is None
                and percent is not None
                and prev_result
                and re.match(r"^[\s,]*$", text[ms[k - 1].end - s0 : rs].split("%")[-1])
            ):
                result = prev_result
            if result is None and percent is None:
                b.add_review(m.text, "a marker with no result or percentage next to it", m.start, m.end)
                continue
            seen.add(name)
            if result:
                result = {"+": "positive", "-": "negative"}.get(result, result.lower())
                prev_result = result
            _place_marker(b, name, result, percent, span, i)


def _marker_name(b: CaseDraft, m: Mention) -> str:
    names = {fold(k): v for k, v in b.rules["marker_names"].items()}
    return names.get(fold(m.target.term), m.target.term.rstrip("+-"))


def _place_marker(b: CaseDraft, name, result, percent, span, i) -> None:
    keys = b.met_keys_in(i)
    on = b.mets[keys[-1]] if keys else b.primary
    if not on:
        b.add_review(f"{name} {result or ''}", "a marker with no cancer to put it on", *span)
        return
    if on is b.primary and percent is None and name in ("ER", "PR", "HER2") and result:
        rec = on.setdefault("receptors", {})
        b.put(rec, name.lower(), result, *span, "marker-result", 0.8, sentence=i)
        return
    item: dict[str, Any] = {"name": name}
    if result:
        item["result"] = result
    if percent is not None:
        item["percent"] = percent
    on.setdefault("markers", []).append(item)
    for key in item:
        b.evidence.append(Evidence(item, key, item[key], *span, i, "marker-result", 0.8))
