"""Source text handling: a citation header, one text of several cases, and the same-length copies the rules read.

Every copy made here has the length of the text it came from, character for character, so an
offset found in a copy is an offset in the source: evidence always quotes the source as read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rules import Rules

_HEADER_LINE = re.compile(r"#[^\n]*(\n|$)")
# One character for another of the same length: minus signs and dashes, plus signs, spaces, quotes.
_SAME_LENGTH = str.maketrans(
    {
        "\u2212": "-",  # minus sign: 'mammaglobin: −'
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\ufe63": "-",
        "\uff0d": "-",
        "\uff0b": "+",
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00b4": "'",
        "\t": " ",
    }
)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.I)
_PMID = re.compile(r"\b(?:PMID|PubMed(?:\s+ID)?)\s*:?\s*(\d{1,9})\b|\bpubmed/(\d{1,9})\b", re.I)
_URL = re.compile(r"\bhttps?://[^\s<>\"]+|\bwww\.[^\s<>\"]+|\b[\w.+-]+@[\w-]+\.[\w.-]+", re.I)
_PMC = re.compile(r"\bPMC\s?\d+\b|\bPMCID\s*:?\s*PMC\d+\b", re.I)


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


# A line break of wrapped prose inside a time span: 'twelve\nyears earlier', 'three months\nlater'. No sentence or
# heading opens with the unit or with the word that says which way the time runs, so the break is read as a space.
_WRAPPED = re.compile(r"\b(\w+)\n(?=(\w+)\b)")
_UNIT = re.compile(r"(?:year|month|week|day)s?")
_WAY = re.compile(r"later|earlier|after|before|ago|previously")


def _unwrap(m: re.Match) -> str:
    if _UNIT.fullmatch(m.group(2)) or (_UNIT.fullmatch(m.group(1).lower()) and _WAY.fullmatch(m.group(2))):
        return m.group(1) + " "
    return m.group(0)


def normalize(text: str) -> str:
    """The text with Unicode minus signs, dashes, odd spaces and curly quotes made plain, and a line break inside a
    time span read as a space; same length."""
    return _WRAPPED.sub(_unwrap, text.translate(_SAME_LENGTH))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            start = last
        out.append(text[last:start])
        out.append(" " * max(0, end - start))
        last = max(last, end)
    out.append(text[last:])
    return "".join(out)


def mask_references(text: str) -> str:
    """The text with DOIs, URLs, e-mail addresses and PubMed ids blanked: their digits are no dates or ages."""
    spans = [m.span() for pattern in (_DOI, _URL, _PMID, _PMC) for m in pattern.finditer(text)]
    return _blank(text, spans)


@dataclass(frozen=True)
class Reference:
    """An identifier of the publication found in the text, with where it is."""

    key: str  # doi, pmid
    value: str
    start: int
    end: int


def references(text: str) -> list[Reference]:
    """The first DOI and the first PubMed id the text shows (its own, in a header or a journal line)."""
    out = []
    doi = _DOI.search(text)
    if doi:
        value = doi.group(1).rstrip(".,;:)]}'")
        if value.count("(") > value.count(")"):
            value = value.rstrip("(")
        out.append(Reference("doi", value, doi.start(1), doi.start(1) + len(value)))
    pmid = _PMID.search(text)
    if pmid:
        group = 1 if pmid.group(1) else 2
        out.append(Reference("pmid", pmid.group(group), pmid.start(group), pmid.end(group)))
    return out


@dataclass(frozen=True)
class Segment:
    """The part of a text that tells one case: its number in the text (1, 2, ...) and its span."""

    number: int
    start: int
    end: int
    label: str | None  # the text's own label ("Case 2"), when it has one


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


def split_cases(text: str, rules: Rules) -> list[Segment]:
    """One segment per case: several where the text starts its cases in turn (Case 1: ..., Case 2: ...,
    headings such as 'Case 1' or 'Case II' on lines of their own, or The first patient ..., The second
    patient ...). A start is taken only when its number is the
    next one (a later "as in case 1", or "Case 2. The second woman", starts no case)."""
    starts = []
    for match in rules.case_start.finditer(text):
        label, heading, ordinal = match.group(1), match.group(2), match.group(3)
        if label:
            number = int(label)
        elif heading:
            number = int(heading) if heading.isdigit() else _ROMAN.get(heading.lower(), 0)
        else:
            number = _ORDINALS.index(ordinal.lower()) + 1
        if number == len(starts) + 1:
            starts.append(match)
    if len(starts) < 2:
        return [Segment(1, 0, len(text), None)]
    out = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        begin = 0 if i == 0 else match.start()
        out.append(Segment(i + 1, begin, end, match.group(0).strip().rstrip(":.)- ")))
    return out
