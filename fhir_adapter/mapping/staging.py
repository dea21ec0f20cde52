"""Stage as reports state it: mCODE TNM stage group and T, N, M category Observations.

A stage written as text ("cT4bN3M0", "pT2N1a", "stage IIIA", "de novo stage IV") is read into
its parts (stage_text.py); what has no verified code stays text on the Observation's value, and
words that are no part of a stage are reported.
"""

from __future__ import annotations

import re

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
from .condition import PrimarySide, cancer_roles, is_in_situ
from .patient import PATIENT_ROLE
from .stage_text import ParsedStage, group_of, parse_stage
from .timing import put_when, when_of

__all__ = ["ParsedStage", "group_of", "parse_stage", "stagings_of", "to_stage_observations"]

KINDS = (
    ("t", "primary tumor", PROFILE_TNM_T),
    ("n", "regional nodes", PROFILE_TNM_N),
    ("m", "distant metastases", PROFILE_TNM_M),
)


def _say_invasive_stage(ctx: MappingContext, path: str, p: PrimaryCancer, s: Staging) -> None:
    """Warn of a stage an in-situ carcinoma cannot have: anything but Tis, nodes, distant spread.

    AJCC: a carcinoma in situ is Tis N0 M0, stage 0. A T0, N3 or M1 beside a DCIS histology means
    one of the two is wrong; both are written as stated, and a person chooses.
    """
    said = []
    for letter, value in (("t", s.t), ("n", s.n), ("m", s.m)):
        category = re.sub(r"^(yp|yc|rp|rc|[cpary])", "", (value or "").strip().lower())
        if (letter == "t" and category and not category.startswith("tis")) or re.match(
            rf"{letter}[1-4]", category
        ):
            said.append(value)
    group = group_of(s.group) if s.group else None
    if group not in (None, "0"):
        said.append(f"stage {group}")
    if said:
        ctx.warn(
            f"{path}: {', '.join(repr(w) for w in said)} beside the in-situ histology '{p.histology}'"
            " (a carcinoma in situ is Tis N0 M0, stage 0); both are written as stated. Correct the one"
            " that is wrong"
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
    explicit = bool(p.staging)
    in_situ = is_in_situ(ctx, p.histology)
    for i, s in enumerate(stagings_of(p)):
        path = f"{base_path}.staging[{i}]" if explicit else f"{base_path}.stage"
        if in_situ:
            _say_invasive_stage(ctx, path, p, s)
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
            cc = ctx.concept(
                "staging", _category_term(value, letter, kind), f"{path}.{letter}", kind=f"{letter}-category"
            )
            # Coded as the prefixed category; the text is the category as stated (T2, not cT2).
            obs["valueCodeableConcept"] = ctx.with_text(cc, value)
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
                if s.text and not explicit:
                    # Parsed from `stage`: the words the group was read from (the Condition's
                    # stage summary holds them too).
                    obs["valueCodeableConcept"] = ctx.with_text(obs["valueCodeableConcept"], s.text)
            elif s.group:
                # A group that is no stage group (IIB/IIIA): its words are the value, as stated
                # (given field by field, the group's own words; the stage's follow in a note).
                obs["valueCodeableConcept"] = {"text": s.group if explicit else (s.text or s.group)}
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
