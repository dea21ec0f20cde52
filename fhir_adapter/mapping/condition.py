"""Conditions: mCODE PrimaryCancerCondition, SecondaryCancerCondition, and a refuted first diagnosis."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..case import Metastasis, PrimaryCancer
from ..terminology import Concept, fold
from .common import (
    EXT_CONDITION_RELATED,
    EXT_HISTOLOGY,
    PROFILE_PRIMARY,
    PROFILE_SECONDARY,
    Json,
    MappingContext,
    body_site,
    notes,
    profile,
)
from .patient import PATIENT_ROLE
from .stage_text import group_of
from .timing import When, primary_age_fallback, put_when, when_of


@dataclass(frozen=True)
class PrimarySide:
    """One Condition's worth of a primary cancer: a bilateral primary gives one per side."""

    key: str
    index: int
    primary: PrimaryCancer
    side: str | None

    @property
    def role(self) -> str:
        return f"primary/{self.key}" + (f"/{self.side}" if self.side else "")


# Organs of one sex only, as words of a site. ('cervical' is left out: it names the neck too.)
_ORGANS_OF = {
    "female": re.compile(
        r"\b(ovar(y|ies|ian)|uter(us|ine)|endometri(um|al)|cervix|fallopian|vagin(a|al)|vulva[lr]?|labia)\b",
        re.IGNORECASE,
    ),
    "male": re.compile(
        r"\b(prostat(e|ic)|test(is|es|icle|icular)|penis|penile|scrot(um|al))\b", re.IGNORECASE
    ),
}


def say_organ_against_sex(ctx: MappingContext, path: str, item: PrimaryCancer | Metastasis) -> None:
    """Warn of a cancer in an organ the patient's stated sex has not (a male patient's ovary).

    Administrative sex is not anatomy, so nothing is refused; but one of the two is often a slip,
    and the bundle would carry both without a word.
    """
    sex = ctx.case.patient.sex
    other = {"male": "female", "female": "male"}.get(sex)
    if other is None:
        return
    said = ctx.memo.setdefault("organ-against-sex", set())
    for name in ("site", "site_detail"):
        words = getattr(item, name)
        found = _ORGANS_OF[other].search(words or "")
        if found and (path, name) not in said:
            said.add((path, name))
            ctx.warn(
                f"{path}.{name}: '{words}' names the {found.group(0).lower()}, and patient.sex is '{sex}';"
                " both are written as stated. Correct the one that is wrong"
            )


def primary_sides(ctx: MappingContext) -> list[PrimarySide]:
    """Every primary Condition the case gives, bilateral ones split into left and right."""
    out = ctx.memo.get("primary_sides")
    if out is not None:
        return out
    out = ctx.memo["primary_sides"] = []
    for index, (key, primary) in enumerate(ctx.case.primary_keys()):
        if primary.laterality == "bilateral":
            out.extend(PrimarySide(key, index, primary, side) for side in ("left", "right"))
        else:
            out.append(PrimarySide(key, index, primary, primary.laterality))
    return out


def cancer_roles(ctx: MappingContext, key: str) -> list[str]:
    """The roles of the Conditions a cancer id (primary or metastasis) stands for."""
    roles = ctx.memo.get(("roles", key))
    if roles is None:
        roles = [s.role for s in primary_sides(ctx) if s.key == key] or [f"metastasis/{key}"]
        ctx.memo[("roles", key)] = roles
    return list(roles)


def clinical_status(ctx: MappingContext, status: str | None) -> Json | None:
    """Condition.clinicalStatus as stated; None (left out) when the report does not say, never 'active'.

    The binding to condition-clinical is required and the value set has no 'unknown': a
    clinicalStatus with only a data-absent-reason breaks it (HAPI's validator refuses it). Left
    out, it only draws con-3, a warning that a problem-list item has no clinical status.
    """
    return ctx.fixed(f"clinical {status}") if status else None


def verification_status(ctx: MappingContext, certainty: str | None) -> Json | None:
    """Condition.verificationStatus as stated; None (left out) when the case does not say."""
    return ctx.fixed(f"verification {certainty}") if certainty else None


def histology_concept(ctx: MappingContext, term: str | None) -> Concept | None:
    return ctx.lookup("histology", term) if term else None


def is_in_situ(ctx: MappingContext, term: str | None) -> bool:
    """True for an in-situ histology (ICD-O-3 behaviour /2), by its map entry or its own words."""
    if not term:
        return False
    found = histology_concept(ctx, term)
    if found is not None and found.kind:
        return found.kind == "in-situ"
    words = fold(term if found is None or not found.text else f"{term} {found.text}")
    return "in situ" in words or "insitu" in words or words in IN_SITU_ABBREVIATIONS


# Abbreviations of in-situ histologies a case file may use when the map has no entry for them.
IN_SITU_ABBREVIATIONS = {"dcis", "lcis", "cis"}


def histology_extension(ctx: MappingContext, term: str, path: str) -> Json:
    return {"url": EXT_HISTOLOGY, "valueCodeableConcept": ctx.concept("histology", term, path)}


def primary_code(ctx: MappingContext, side: PrimarySide, path: str) -> Json:
    """The Condition.code of a primary: invasive or in situ as its histology says, by site."""
    p = side.primary
    found_histology = histology_concept(ctx, p.histology)
    qualifiers = {
        "laterality": side.side or "unspecified",
        "sex": ctx.case.patient.sex,
        "histology": (found_histology.text if found_histology else None) or p.histology,
    }
    # A carcinoma in situ is not a malignant neoplasm of the site: it is coded from its own map,
    # and never falls back on the invasive code.
    domain = "in_situ_cancers" if is_in_situ(ctx, p.histology) else "primary_cancers"
    found = ctx.site_concept(domain, p.site)
    return ctx.concept_of(found, domain, p.site, f"{path}.site", qualifiers=qualifiers)


def to_primary_cancer_condition(
    ctx: MappingContext, side: PrimarySide, code: Json, stage_refs: list[Json]
) -> Json:
    """A PrimaryCancerCondition for one primary tumour (one side of a bilateral one).

    `code` is primary_code's answer, which the stage Observations need first.
    """
    p = side.primary
    path = f"primary_cancers[{side.index}]"
    say_organ_against_sex(ctx, path, p)
    resource: Json = {"resourceType": "Condition", "id": ctx.uid(side.role), "meta": profile(PROFILE_PRIMARY)}
    if p.histology:
        resource["extension"] = [histology_extension(ctx, p.histology, f"{path}.histology")]
    # Condition: clinicalStatus and verificationStatus, required bindings.
    status = clinical_status(ctx, p.clinical_status)
    if status:
        resource["clinicalStatus"] = status
    verification = verification_status(ctx, p.certainty)
    if verification:
        resource["verificationStatus"] = verification
    # US Core Condition Problems and Health Concerns: category 1..*, slice us-core.
    resource["category"] = [ctx.fixed("category problem list item")]
    resource["code"] = code
    resource["bodySite"] = [body_site(ctx, p.site, side.side, f"{path}.site", p.site_detail)]
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    when = diagnosis_when(ctx, side.index, p)
    time_notes = put_when(resource, ctx, "onset", when)
    # The stagings of a bilateral primary are Observations of its first Condition only; the second
    # carries their words too, as it carries a stated stage, so both sides read the same.
    second_side = p.laterality == "bilateral" and side.side == "right"
    if p.stage or stage_refs or (second_side and p.staging):
        # The summary is the stated stage, else the stagings in words: written first either way.
        words = p.stage or "; ".join(s.text or _staging_words(s) for s in p.staging)
        stage: Json = {"summary": {"text": words}}
        if stage_refs:
            stage["assessment"] = stage_refs
        resource["stage"] = [stage]
    side_note = (
        "One of two Conditions for a bilateral primary cancer (left and right)."
        if p.laterality == "bilateral"
        else None
    )
    occult = (
        "Occult primary: found through its metastases; the primary tumour itself was not seen."
        if p.occult
        else None
    )
    note = notes(side_note, occult, *time_notes, p.note)
    if note:
        resource["note"] = note
    return resource


def _staging_words(s) -> str:
    group = (f"stage {group_of(s.group)}" if group_of(s.group) else s.group) if s.group else None
    return " ".join(x for x in (s.t, s.n, s.m, group) if x)


def diagnosis_when(ctx: MappingContext, index: int, p: PrimaryCancer) -> When:
    """When a primary was diagnosed, with the patient's age at first diagnosis where it applies."""
    when = when_of(ctx, p)
    fallback = primary_age_fallback(ctx, p)
    if when.age is None and fallback is not None:
        when = When(when.date, fallback, when.period, list(when.texts), when.timing)
    return when


def _related_primary(ctx: MappingContext, met: Metastasis) -> tuple[str | None, str | None]:
    """The role of the primary Condition a metastasis came from, or a note saying why there is none."""
    key = met.primary or ctx.case.first_primary_key()
    sides = [s for s in primary_sides(ctx) if s.key == key]
    if len(sides) == 1:
        return sides[0].role, None
    if met.primary_side:
        return next(s.role for s in sides if s.side == met.primary_side), None
    return None, (
        f"Metastasis of the bilateral primary cancer '{key}'; the source does not say from which side,"
        " so no single related primary condition is given."
    )


def evidence_codes(ctx: MappingContext, terms: list[str], path: str) -> tuple[list[Json], list[str]]:
    """Coded evidence (required binding) and the terms that have no code there, recorded as text."""
    coded_out, uncoded = [], []
    for i, term in enumerate(terms):
        coded = ctx.coded_or_none("observations", term, kind="evidence")
        if coded:
            coded_out.append(coded)
        else:
            found = ctx.lookup("observations", term)
            reason = (
                "no verified code" if found is not None and found.kind == "evidence" else "not in the map"
            )
            ctx.text_only("observations", term, f"{path}[{i}]", reason)
            uncoded.append(term)
    return coded_out, uncoded


def to_secondary_cancer_condition(ctx: MappingContext, index: int, key: str, met: Metastasis) -> Json:
    """A SecondaryCancerCondition for one metastatic site, linked to its primary.

    A local recurrence is not a metastasis: it gets a Condition of its own, coded from
    conditions.yaml where a verified code exists, without the SecondaryCancerCondition profile.
    """
    path = f"metastases[{index}]"
    say_organ_against_sex(ctx, path, met)
    recurrence = met.kind == "local-recurrence"
    if not recurrence:
        key_of = met.primary or ctx.case.first_primary_key()
        primary = dict(ctx.case.primary_keys()).get(key_of)
        if primary is not None and is_in_situ(ctx, primary.histology):
            # A carcinoma in situ has not invaded, so it has not spread: one of the two is wrong.
            ctx.warn(
                f"{path}: a metastasis of the primary '{key_of}', whose histology '{primary.histology}' is"
                " in situ (it has not invaded, so it has not spread); both are written as stated. Correct"
                " the histology, or link the metastasis to its invasive primary"
            )
    resource: Json = {"resourceType": "Condition", "id": ctx.uid(f"metastasis/{key}")}
    if not recurrence:
        resource["meta"] = profile(PROFILE_SECONDARY)
    extensions = []
    related, why_not = _related_primary(ctx, met)
    if related:
        # mCODE SecondaryCancerCondition: relatedPrimaryCancerCondition via core condition-related.
        extensions.append({"url": EXT_CONDITION_RELATED, "valueReference": ctx.ref(related)})
    if met.histology:
        extensions.append(histology_extension(ctx, met.histology, f"{path}.histology"))
    if extensions:
        resource["extension"] = extensions
    status = clinical_status(ctx, met.clinical_status)
    if status:
        resource["clinicalStatus"] = status
    certainty = met.certainty or ("confirmed" if met.confirmed_by else None)
    verification = verification_status(ctx, certainty)
    if verification:
        resource["verificationStatus"] = verification
    resource["category"] = [ctx.fixed("category problem list item")]
    qualifiers = {"laterality": met.laterality or "unspecified", "sex": ctx.case.patient.sex}
    if recurrence:
        resource["code"] = ctx.concept("conditions", "local recurrence", f"{path}.kind", kind="recurrence")
    else:
        found = ctx.site_concept("secondary_cancers", met.site)
        resource["code"] = ctx.concept_of(
            found, "secondary_cancers", met.site, f"{path}.site", qualifiers=qualifiers
        )
    resource["bodySite"] = [body_site(ctx, met.site, met.laterality, f"{path}.site", met.site_detail)]
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    time_notes = put_when(resource, ctx, "onset", when_of(ctx, met))
    evidence, uncoded = evidence_codes(ctx, met.confirmed_by, f"{path}.confirmed_by")
    if evidence:
        # Condition.evidence.code has a required binding in mCODE: only coded methods go there.
        resource["evidence"] = [{"code": [cc]} for cc in evidence]
    misdiagnosis = f"First diagnosed as: {met.misdiagnosis} (a misdiagnosis)." if met.misdiagnosis else None
    # One line per method, so that a method's own words may hold a comma.
    confirmed = [f"Confirmed by: {term}." for term in uncoded]
    # A local recurrence is coded as such, and bodySite holds the precise site: the site as named
    # would otherwise be lost.
    site = f"Site: {met.site}." if recurrence and met.site_detail and met.site_detail != met.site else None
    note = notes(site, why_not, misdiagnosis, *confirmed, *time_notes, met.note)
    if note:
        resource["note"] = note
    return resource


def to_refuted_condition(ctx: MappingContext, index: int, key: str, met: Metastasis) -> Json:
    """The benign diagnosis a metastasis was first mistaken for, recorded as refuted."""
    assert met.misdiagnosis is not None
    path = f"metastases[{index}]"
    resource: Json = {
        "resourceType": "Condition",
        "id": ctx.uid(f"metastasis/{key}/misdiagnosis"),
        # Condition con-5: a refuted condition carries no clinicalStatus.
        "verificationStatus": ctx.fixed("verification refuted"),
        # A diagnosis made at an encounter and later refuted, not a problem-list item: con-3 asks a
        # problem-list item for a clinicalStatus, which con-5 forbids here.
        "category": [ctx.fixed("category encounter diagnosis")],
        "code": ctx.concept("conditions", met.misdiagnosis, f"{path}.misdiagnosis"),
        "bodySite": [body_site(ctx, met.site, met.laterality, f"{path}.site", met.site_detail)],
        "subject": ctx.ref(PATIENT_ROLE),
        "note": notes(f"Initial diagnosis, later refuted: the lesion was a metastasis ({met.site})."),
    }
    return resource
