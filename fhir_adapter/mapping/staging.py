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
_GROUP = re.compile(r"\bstage\s+(0|IV|I{1,3})([A-C])?\b", re.IGNORECASE)
_BARE_GROUP = re.compile(r"^\s*(0|IV|I{1,3})([A-C])?\s*$")

KINDS = (
    ("t", "primary tumor", PROFILE_TNM_T),
    ("n", "regional nodes", PROFILE_TNM_N),
    ("m", "distant metastases", PROFILE_TNM_M),
)


@dataclass(frozen=True)
class ParsedStage:
    group: str | None
    t: str | None
    n: str | None
    m: str | None


def parse_stage(text: str) -> ParsedStage:
    """The stage group and T/N/M categories a stage string states; None where it states none.

    A T or N without a prefix takes the prefix of the first category that has one (pT2N1a:
    pN1a), as the TNM convention reads it; an M without one is clinical (see below).
    """
    t = n = m = None
    match = _TNM.search(text)
    if match:
        prefix = match.group(1) or match.group(4) or match.group(7) or ""
        t = f"{match.group(1) or prefix}T{match.group(2).upper() if match.group(2) in 'xX' else match.group(2)}"
        t += match.group(3) or ""
        if match.group(5):
            n = f"{match.group(4) or prefix}N{match.group(5).upper()}{match.group(6) or ''}"
        if match.group(8):
            # AJCC has no pM0, and a pM1 needs a biopsy of the metastasis: an M written without
            # its own prefix after pT/pN is the clinical category (pT2N1M0 is pT2 pN1 cM0).
            m_prefix = match.group(7) or ("c" if prefix in ("p", "yp", "") else prefix)
            m = f"{m_prefix}M{match.group(8).upper()}{match.group(9) or ''}"
    group = None
    g = _GROUP.search(text) or _BARE_GROUP.match(text)
    if g:
        group = g.group(1).upper() + (g.group(2) or "").upper()
    return ParsedStage(group, t, n, m)


def stagings_of(p: PrimaryCancer) -> list[Staging]:
    """The stagings of a primary: those given field by field, else the one its `stage` text states."""
    if p.staging:
        return list(p.staging)
    if not p.stage:
        return []
    parsed = parse_stage(p.stage)
    suspected = bool(re.search(r"\b(suspect|suspected|probabl|likely|presum)", p.stage, re.IGNORECASE))
    return [
        Staging(group=parsed.group, t=parsed.t, n=parsed.n, m=parsed.m, text=p.stage, suspected=suspected)
    ]


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
    focus = [ctx.ref(role) for role in cancer_roles(ctx, side.key)]
    explicit = bool(p.staging)
    for i, s in enumerate(stagings_of(p)):
        path = f"{base_path}.staging[{i}]" if explicit else f"{base_path}.stage"
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
            # Coded as the prefixed category; the text is the category as stated (T2, not cT2).
            obs["valueCodeableConcept"]["text"] = value
            members.append(ctx.ref(role))
            out.append((f"{path}.{letter}", obs))
        if s.group or members or s.text:
            role = f"{base_role}/group"
            obs = _observation(
                ctx, role, PROFILE_TNM_STAGE_GROUP, f"{kind} stage group", path, s, focus, when
            )
            # TNMStageGroup: focus 1..1, the primary cancer staged.
            obs["focus"] = focus[:1]
            if s.group:
                obs["valueCodeableConcept"] = ctx.concept(
                    "staging", f"stage {s.group}", f"{path}.group", kind="stage-group"
                )
                if s.text and not explicit:
                    # Parsed from `stage`: the words the group was read from (the Condition's
                    # stage summary holds them too).
                    obs["valueCodeableConcept"]["text"] = s.text
            elif s.text and not members:
                # A stage that did not parse: the report's words are the value, on the Observation.
                obs["valueCodeableConcept"] = {"text": s.text}
            if explicit and s.text and obs.get("valueCodeableConcept", {}).get("text") != s.text:
                # A stage given field by field keeps its own words beside its group and categories.
                obs["note"] = [*obs.get("note", []), {"text": f"Stage as stated: {s.text}."}]
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
