"""Source text handling: a leading comment header, and a text of several cases split into one per case."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rules import Rules

_HEADER_LINE = re.compile(r"#[^\n]*(\n|$)")


def blank_header(text: str) -> str:
    """The text with its leading block of '#' lines (a citation header) blanked, offsets kept."""
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        match = _HEADER_LINE.match(text, pos)
        if not match:
            break
        pos = match.end()
    head = re.sub(r"[^\n]", " ", text[:pos])
    return head + text[pos:]


@dataclass(frozen=True)
class Segment:
    """The part of a text that tells one case: its number in the text (1, 2, ...) and its span."""

    number: int
    start: int
    end: int
    label: str | None  # the text's own label ("Case 2"), when it has one


def split_cases(text: str, rules: Rules) -> list[Segment]:
    """One segment per case: several where the text labels its cases (Case 1: ..., Case 2: ...)."""
    starts = list(rules.case_start.finditer(text))
    if len(starts) < 2:
        return [Segment(1, 0, len(text), None)]
    out = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        begin = 0 if i == 0 else match.start()
        out.append(Segment(i + 1, begin, end, match.group(0).rstrip(":.) ")))
    return out
