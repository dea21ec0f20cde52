"""Deterministic ids: the same case and role always give the same UUID, so bundles are reproducible."""

from __future__ import annotations

import uuid

# A fixed namespace for fhir-adapter's uuid5 ids; changing it would change every id ever issued.
NAMESPACE = uuid.UUID("0f1e7c2a-9d3b-5a4e-8c61-3f2b7d9e4a10")


def resource_uuid(case_id: str, role: str) -> str:
    """The UUID of the resource playing `role` (e.g. 'patient', 'primary/p1/left') in a case."""
    return str(uuid.uuid5(NAMESPACE, f"{case_id}|{role}"))


def urn(uid: str) -> str:
    """The Bundle fullUrl of a resource id."""
    return f"urn:uuid:{uid}"
