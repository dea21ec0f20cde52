"""Deterministic ids: the same case and role always give the same UUID, so bundles are reproducible."""

from __future__ import annotations

import uuid
from hashlib import sha1

# A fixed namespace for fhir-adapter's uuid5 ids; changing it would change every id ever issued.
NAMESPACE = uuid.UUID("0f1e7c2a-9d3b-5a4e-8c61-3f2b7d9e4a10")
_NAMESPACE_BYTES = NAMESPACE.bytes


# The identifier system of a case id when neither the case file nor the run names one.
DEFAULT_ID_SYSTEM = "urn:fhir-adapter:case-id"


def resource_uuid(case_id: str, role: str, system: str = DEFAULT_ID_SYSTEM) -> str:
    """The UUID of the resource playing `role` (e.g. 'patient', 'primary/p1/left') in a case.

    Two collections may both have a case 'case-1': the identifier system is part of the name, so
    their resources never share an id on one server. Under the default system the name is the
    case id alone, which keeps the ids issued before systems were part of it.

    uuid.uuid5(NAMESPACE, name) as a string, without building a UUID object (a bundle asks for
    dozens): SHA-1 of namespace and name, with the version nibble 5 and the RFC 4122 variant bits
    written into the hex digits.
    """
    # A case id never holds '|' or ' ' (LOCAL_ID_RE), so the two forms of name cannot collide.
    name = f"{case_id}|{role}" if system == DEFAULT_ID_SYSTEM else f"{system} {case_id}|{role}"
    h = sha1(_NAMESPACE_BYTES + name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


# The variant nibble: its two high bits set to 10 (RFC 4122), the low two kept.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def urn(uid: str) -> str:
    """The Bundle fullUrl of a resource id."""
    return f"urn:uuid:{uid}"
