"""Stage text as reports write it ("pT2N1M0 (IIB)", "stage 2B", "3C (Pathological)"), read whole.

Pure text functions: no FHIR, no maps. The staging mapper and the draft scorer both use them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_PREFIX = r"(yp|yc|c|p|r|a)?"
_TNM = re.compile(
    rf"(?<![A-Za-z]){_PREFIX}T(is|X|x|[0-4])([a-d]|mi)?(?:\((?:m|sn|f)\))?"
    rf"\s*(?:{_PREFIX}N(X|x|[0-3])([a-c]|mi)?(?:\((?:sn|f|i[+-]|mol[+-])\))?)?"
    rf"\s*(?:{_PREFIX}M(X|x|[01])([a-d])?)?"
)
# Each part a stage text may hold, tried in this order at each position. Anything else is
# "unread" and reported, so that no part of a stated stage is dropped without a word.
_ROMAN = r"(?:IV|III|II|I|0)"
_PARTS = (
    ("tnm", _TNM),
    # A lone N or M category (T missing or written apart): "N2a", "cM0", "pN1mi".
    (
        "n",
        re.compile(
            r"(?<![A-Za-z])(yp|yc|c|p|r|a)?N(X|x|[0-3])([a-c]|mi)?(?:\((?:sn|f|i[+-]|mol[+-])\))?(?![A-Za-z])"
        ),
    ),
    ("m", re.compile(r"(?<![A-Za-z])(yp|yc|c|p|r|a)?M(X|x|[01])([a-d])?(?:\(i\+\))?(?![A-Za-z])")),
    # "stage IIB", "stage-IIIA", "Stage 2B", "stage 4".
    ("group", re.compile(rf"(?<![A-Za-z])stage[\s-]*({_ROMAN}|[0-4])([A-C])?(?![A-Za-z0-9])", re.I)),
    # A group without the word: "IIB", "(IIIA)", "3C"; a bare digit alone is no group.
    ("group", re.compile(r"(?<![A-Za-z0-9])(IV|III|II|I)([A-C])?(?![A-Za-z0-9])")),
    ("group", re.compile(r"(?<![A-Za-z0-9])([1-4])([A-C])(?![A-Za-z0-9])")),
    (
        "system",
        re.compile(
            r"(?<![A-Za-z])AJCC[\s-]*(?:([6-8])(?:st|nd|rd|th)?|(sixth|seventh|eighth))(?:[\s-]*(?:ed\.?|edition))?(?![A-Za-z])",
            re.I,
        ),
    ),
    ("type", re.compile(r"(?<![A-Za-z])(clinical(?:ly)?|patholog(?:ic|ical|ically))(?![A-Za-z])", re.I)),
    (
        "suspected",
        re.compile(
            r"(?<![A-Za-z])(suspected|suspect|probable|probably|likely|presumed|presumably)(?![A-Za-z])", re.I
        ),
    ),
    # Words that say a stage is given without changing it.
    (
        "filler",
        re.compile(r"(?<![A-Za-z])(stage|staging|TNM|AJCC|de novo|prognostic|anatomic)(?![A-Za-z])", re.I),
    ),
)
_SEPARATORS = re.compile(r"[\s,;:/()\[\]]+|\band\b|\bwith\b|\bat\b|\bdiagnosis\b", re.I)
_ARABIC = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
_EDITION = {"6": "6th", "7": "7th", "8": "8th", "sixth": "6th", "seventh": "7th", "eighth": "8th"}


@dataclass(frozen=True)
class ParsedStage:
    """What a stage text states, and the words of it that are none of these (`unread`)."""

    group: str | None
    t: str | None
    n: str | None
    m: str | None
    type: str | None = None  # clinical | pathological, when the words say so
    system: str | None = None  # "AJCC 8th edition"
    suspected: bool = False
    unread: tuple[str, ...] = ()


@functools.lru_cache(maxsize=1024)
def group_of(text: str) -> str | None:
    """A stage group in the form the maps use (IIB), from IIB, 2B, stage 2b or stage-IIB; else None."""
    m = re.fullmatch(rf"\s*(?:stage[\s-]*)?({_ROMAN}|[0-4])([A-Ca-c])?\s*", text, re.IGNORECASE)
    if m is None:
        return None
    number = m.group(1).upper()
    return _ARABIC.get(number, number) + (m.group(2) or "").upper()


def _tnm(match: re.Match) -> tuple[str | None, str | None, str | None]:
    """T, N and M of a _TNM match, prefixes filled in as the TNM convention reads them.

    A T or N without a prefix takes the prefix of the first category that has one (pT2N1a:
    pN1a). AJCC has no pM0, and a pM1 needs a biopsy of the metastasis: an M written without its
    own prefix after pT/pN is the clinical category (pT2N1M0 is pT2 pN1 cM0).
    """
    prefix = match.group(1) or match.group(4) or match.group(7) or ""
    t_value = match.group(2).upper() if match.group(2) in "xX" else match.group(2)
    t = f"{match.group(1) or prefix}T{t_value}{match.group(3) or ''}"
    n = m = None
    if match.group(5):
        n = f"{match.group(4) or prefix}N{match.group(5).upper()}{match.group(6) or ''}"
    if match.group(8):
        m_prefix = match.group(7) or ("c" if prefix in ("p", "yp", "") else prefix)
        m = f"{m_prefix}M{match.group(8).upper()}{match.group(9) or ''}"
    return t, n, m


@functools.lru_cache(maxsize=1024)  # a batch states the same few stages again and again
def parse_stage(text: str) -> ParsedStage:
    """The stage group, T/N/M categories, type and edition a stage text states, read whole.

    Every part of the text is either read (a category, a group in Roman or Arabic numerals, a
    type word such as 'Pathological', an AJCC edition, a word of doubt) or listed in `unread`;
    two different values for the same part leave it unread (stage IIB/IIIA is not one stage).
    """
    found: dict[str, str] = {}
    said: dict[str, list[str]] = {}  # the words each part was read from
    conflicts: set[str] = set()
    unread: list[str] = []
    suspected = False
    pos = 0
    last_unread = False
    unread_from = 0

    def put(key: str, value: str | None, words: str) -> None:
        if value is None:
            return
        said.setdefault(key, []).append(words)
        if found.get(key, value) != value:
            conflicts.add(key)
        found[key] = value

    while pos < len(text):
        sep = _SEPARATORS.match(text, pos)
        if sep and sep.end() > pos:
            pos = sep.end()
            continue
        for kind, pattern in _PARTS:
            match = pattern.match(text, pos)
            if match is None or match.end() == pos:
                continue
            words = match.group(0)
            if kind == "tnm":
                t, n, m = _tnm(match)
                put("t", t, words)
                put("n", n, words)
                put("m", m, words)
            elif kind in ("n", "m"):
                letter = kind.upper()
                value = match.group(2).upper() if match.group(2) in "xX" else match.group(2)
                prefix = match.group(1) or ""
                if kind == "m" and not prefix:
                    prefix = "c"  # as above: an M without its own prefix is clinical
                put(kind, f"{prefix}{letter}{value}{match.group(3) or ''}", words)
            elif kind == "group":
                put("group", group_of(f"{match.group(1)}{match.group(2) or ''}"), words)
            elif kind == "system":
                edition = _EDITION[(match.group(1) or match.group(2)).lower()]
                put("system", f"AJCC {edition} edition", words)
            elif kind == "type":
                put("type", "clinical" if words.lower().startswith("clin") else "pathological", words)
            elif kind == "suspected":
                suspected = True
            pos = match.end()
            last_unread = False
            break
        else:
            # Not a part of a stage: the words up to the next part that reads are unread.
            end = _SEPARATORS.search(text, pos + 1)
            stop = end.start() if end else len(text)
            if last_unread:
                unread[-1] = text[unread_from:stop]
            else:
                unread.append(text[pos:stop])
                unread_from = pos
            last_unread = True
            pos = stop
    for key in sorted(conflicts):
        del found[key]
        unread.append(" and ".join(dict.fromkeys(said[key])) + " (two values for one part)")
    return ParsedStage(
        found.get("group"),
        found.get("t"),
        found.get("n"),
        found.get("m"),
        found.get("type"),
        found.get("system"),
        suspected,
        tuple(unread),
    )
