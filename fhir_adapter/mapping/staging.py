"""Stage as reports state it: mCODE TNM stage group and T, N, M category Observations.

A stage written as text ("cT4bN3M0", "pT2N1a", "stage IIIA", "de novo stage IV") is read into
its parts where it parses; what has no verified code stays text on the Observation's value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..case import PrimaryCancer, Staging
from .common import (
    PROFILE_TNM_M,
    PROFILE_TNM_N,
    PROFILE_TNM_STAGE_GROUP,
    PROFILE_TNM_T,
    Json,
    MappingContext,
    notes,
    profile,
)
from .condition import PrimarySide, cancer_roles
from .patient import PATIENT_ROLE
from .timing import put_when, when_of

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

KINDS = (
    ("t", "primary tumor", PROFILE_TNM_T),
    ("n", "regional nodes", PROFILE_TNM_N),
    ("m", "distant metastases", PROFILE_TNM_M),
)


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


def stagings_of(p: PrimaryCancer) -> list[Staging]:
    """The stagings of a primary: those given field by field, else the one its `stage` text states.

    A staging given field by field with only its words (`text`) is read like a `stage` text; a
    group written 'stage IV' or '2B' is the group IV or IIB.
    """
    if not p.staging:
        if not p.stage:
            return []
        return [_from_words(Staging(text=p.stage), p.stage)]
    out = []
    for s in p.staging:
        if s.text and not any((s.group, s.t, s.n, s.m)):
            out.append(_from_words(s, s.text))
        elif s.group and group_of(s.group) not in (None, s.group):
            out.append(s.model_copy(update={"group": group_of(s.group)}))
        else:
            out.append(s)
    return out


def _from_words(s: Staging, words: str) -> Staging:
    parsed = parse_stage(words)
    return s.model_copy(
        update={
            "type": s.type or parsed.type,
            "system": s.system or parsed.system,
            "group": parsed.group,
            "t": parsed.t,
            "n": parsed.n,
            "m": parsed.m,
            "suspected": s.suspected or parsed.suspected,
        }
    )


def unread_stage_words(p: PrimaryCancer) -> list[tuple[str, str, tuple[str, ...]]]:
    """(field path, stage words, the parts not read) of each stage statement not read whole."""
    out = []
    if not p.staging and p.stage:
        parsed = parse_stage(p.stage)
        if parsed.unread:
            out.append(("stage", p.stage, parsed.unread))
    for i, s in enumerate(p.staging):
        if s.group and group_of(s.group) is None:
            out.append((f"staging[{i}].group", s.group, (s.group,)))
        if s.text and not any((s.group, s.t, s.n, s.m)):
            parsed = parse_stage(s.text)
            if parsed.unread:
                out.append((f"staging[{i}].text", s.text, parsed.unread))
    return out


def _type_of(s: Staging) -> str:
    """clinical or pathological: as stated, else from the categories' prefixes (c, p, yp)."""
    if s.type:
        return s.type
    for value in (s.t, s.n, s.m):
        if value and value[:1].lower() in ("p", "y"):
            return "pathological"
    return "clinical"


def _category_term(value: str, letter: str, kind: str) -> str:
    """A category as the maps write it: prefixed (cT4b); a bare T4b is read as clinical (cT4b)."""
    return value if value[0].lower() != letter else (("p" if kind == "pathological" else "c") + value)


def to_stage_observations(
    ctx: MappingContext, side: PrimarySide, condition_code: Json
) -> tuple[list[tuple[str, Json]], list[Json]]:
    """The TNM Observations of a primary, and the references Condition.stage.assessment takes."""
    p = side.primary
    if side.side == "right" and p.laterality == "bilateral":
        return [], []  # one staging for the primary, on its first Condition
    out: list[tuple[str, Json]] = []
    assessments: list[Json] = []
    base_path = f"primary_cancers[{side.index}]"
    for field_path, words, unread in unread_stage_words(p):
        ctx.warn(
            f"{base_path}.{field_path}: the stage '{words}' was not read whole:"
            f" {', '.join(repr(u) for u in unread)} {'is' if len(unread) == 1 else 'are'} no stage"
            " group, TNM category, staging type or AJCC edition; the words stay in the stage text."
            " Give the stage field by field"
            " (staging: [{type: ..., group: ..., t: ..., n: ..., m: ...}]) to code all of it"
        )
    focus = [ctx.ref(role) for role in cancer_roles(ctx, side.key)]
    for i, s in enumerate(stagings_of(p)):
        path = f"{base_path}.staging[{i}]" if p.staging else f"{base_path}.stage"
        kind = _type_of(s)
        base_role = f"primary/{side.key}/stage/{i}"
        when = when_of(ctx, s) if (s.date or s.age or s.between or s.relative or s.timing) else None
        members = []
        for letter, label, url in KINDS:
            value = getattr(s, letter)
            if not value:
                continue
            role = f"{base_role}/{letter}"
            obs = _observation(ctx, role, url, f"{kind} {label} category", path, s, focus, when)
            obs["valueCodeableConcept"] = ctx.concept(
                "staging", _category_term(value, letter, kind), f"{path}.{letter}", kind=f"{letter}-category"
            )
            members.append(ctx.ref(role))
            out.append((f"{path}.{letter}", obs))
        if s.group or members or s.text:
            role = f"{base_role}/group"
            obs = _observation(
                ctx, role, PROFILE_TNM_STAGE_GROUP, f"{kind} stage group", path, s, focus, when
            )
            # TNMStageGroup: focus 1..1, the primary cancer staged.
            obs["focus"] = focus[:1]
            if s.group and group_of(s.group) is not None:
                obs["valueCodeableConcept"] = ctx.concept(
                    "staging", f"stage {group_of(s.group)}", f"{path}.group", kind="stage-group"
                )
                if s.text:
                    obs["valueCodeableConcept"]["text"] = s.text
            elif s.group:
                # A group that is no stage group (IIB/IIIA): its words are the value, as stated.
                obs["valueCodeableConcept"] = {"text": s.text or s.group}
            elif s.text and not members:
                # A stage that did not parse: the report's words are the value, on the Observation.
                obs["valueCodeableConcept"] = {"text": s.text}
            if members:
                obs["hasMember"] = members
            out.append((path, obs))
            assessments.append(ctx.ref(role))
    return out, assessments


def _observation(
    ctx: MappingContext,
    role: str,
    url: str,
    code_term: str,
    path: str,
    s: Staging,
    focus: list[Json],
    when,
) -> Json:
    resource: Json = {
        "resourceType": "Observation",
        "id": ctx.uid(role),
        "meta": profile(url),
        # A suspected stage is not a confirmed one.
        "status": "preliminary" if s.suspected else "final",
        # As mCODE's TNM examples do: clinical staging under imaging; pathological staging comes
        # from the pathology laboratory.
        "category": [ctx.fixed("category laboratory" if "pathological" in code_term else "category imaging")],
        "code": ctx.concept("staging", code_term, path, kind="stage-test"),
        "subject": ctx.ref(PATIENT_ROLE),
        "focus": focus,
    }
    leftover = put_when(resource, ctx, "effective", when, age=False, string=False) if when else []
    # mCODE TNM profiles: method 1..1 (the staging system). When the report does not name one,
    # the element says so with a data-absent-reason rather than guessing an edition.
    if s.system:
        resource["method"] = ctx.concept("staging", s.system, f"{path}.system", kind="staging-system")
    else:
        resource["method"] = {"extension": [ctx.absent("unknown")]}
    note = notes("Suspected stage, as the report states it." if s.suspected else None, *leftover)
    if note:
        resource["note"] = note
    return resource
