"""Procedure, claiming mCODE CancerRelatedSurgicalProcedure for surgery and biopsy."""

from __future__ import annotations

from ..case import Procedure
from .common import (
    EXT_DATA_ABSENT,
    PROFILE_SURGICAL,
    Json,
    MappingContext,
    body_site,
    notes,
    profile,
    put_age_or_date,
)
from .condition import cancer_roles
from .patient import PATIENT_ROLE

SURGICAL_KINDS = {"surgery", "biopsy"}


def treated_roles(ctx: MappingContext, treats: list[str]) -> list[str]:
    """The Conditions a procedure or medication treated; a one-primary case defaults to its primary."""
    keys = treats or ([ctx.case.first_primary_key()] if len(ctx.case.primary_cancers) == 1 else [])
    return [role for key in keys for role in cancer_roles(ctx, key)]


def to_procedure(ctx: MappingContext, index: int, key: str, proc: Procedure) -> Json:
    """A Procedure; surgical ones claim CancerRelatedSurgicalProcedure when they name what they treated."""
    path = f"procedures[{index}]"
    code = ctx.concept("procedures", proc.name, f"{path}.name")
    concept = ctx.lookup("procedures", proc.name)
    reasons = treated_roles(ctx, proc.treats)
    resource: Json = {"resourceType": "Procedure", "id": ctx.uid(f"procedure/{key}")}
    # mcode-reason-required: the profile is claimed only when there is a reason to give.
    if concept is not None and concept.kind in SURGICAL_KINDS and reasons:
        resource["meta"] = profile(PROFILE_SURGICAL)
    resource["status"] = proc.status
    resource["code"] = code
    resource["subject"] = ctx.ref(PATIENT_ROLE)
    put_age_or_date(resource, ctx, "performed", proc.date, proc.age)
    if proc.status in ("completed", "in-progress") and not (proc.date or proc.age is not None):
        # US Core us-core-7: performed[x] SHALL be present when completed; the source gives no time.
        resource["_performedDateTime"] = {
            "extension": [{"url": EXT_DATA_ABSENT, "valueCode": ctx.fixed_coding("absent unknown")["code"]}]
        }
    if reasons:
        resource["reasonReference"] = [ctx.ref(role) for role in reasons]
    if proc.body_site:
        resource["bodySite"] = [body_site(ctx, proc.body_site, proc.laterality, f"{path}.body_site")]
    note = notes(proc.note)
    if note:
        resource["note"] = note
    return resource
