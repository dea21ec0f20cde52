"""What every reader of FHIR resources shares: references, roles, note lines and the record of what was read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..case import LOCAL_ID_RE
from ..terminology import Terminology

Json = dict[str, Any]

_ABSOLUTE_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?/?$")


def label(resource: Json) -> str:
    """How messages and the evidence name a resource: Type/id."""
    return f"{resource.get('resourceType', '?')}/{resource.get('id', '?')}"


def reference_keys(reference: str) -> list[str]:
    """The keys a reference may find its target by: a urn:uuid fullUrl, Type/id, a server's absolute URL."""
    if reference.startswith("urn:uuid:"):
        return [reference, reference[len("urn:uuid:") :]]
    match = _ABSOLUTE_REF.search(reference)
    if match:
        return [f"{match.group(1)}/{match.group(2)}"]
    return [reference]


class Index:
    """The resources of one case (or one patient), findable by every way a reference names them."""

    def __init__(self, resources: list[Json], full_urls: dict[str, str] | None = None):
        self.resources = resources
        self._by: dict[str, Json] = {}
        for resource in resources:
            rid = resource.get("id")
            if isinstance(rid, str):
                self._by[f"{resource.get('resourceType')}/{rid}"] = resource
                self._by.setdefault(rid, resource)
        for url, key in (full_urls or {}).items():
            target = self._by.get(key)
            if target is not None:
                self._by[url] = target

    def get(self, reference: Json | str | None) -> Json | None:
        """The resource a Reference (or a reference string) points to, if it is here."""
        if isinstance(reference, dict):
            reference = reference.get("reference")
        if not isinstance(reference, str):
            return None
        for key in reference_keys(reference):
            found = self._by.get(key)
            if found is not None:
                return found
        return None


class Lines:
    """A resource's note lines, taken from the front in the order the mapper wrote them."""

    def __init__(self, resource: Json):
        self.items = [n["text"] for n in resource.get("note") or [] if isinstance(n, dict) and n.get("text")]

    def exact(self, text: str) -> bool:
        """Take the first line if it is exactly `text`."""
        if self.items and self.items[0] == text:
            self.items.pop(0)
            return True
        return False

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """Take the first line if the pattern matches it whole."""
        if self.items:
            found = pattern.fullmatch(self.items[0])
            if found:
                self.items.pop(0)
                return found
        return None

    def prefixed(self, prefix: str) -> str | None:
        """Take the first line if it is `prefix` + words + '.', and return the words."""
        if self.items and self.items[0].startswith(prefix) and self.items[0].endswith("."):
            return self.items.pop(0)[len(prefix) : -1]
        return None

    def after(self, prefix: str) -> str | None:
        """Take the first line if it starts with `prefix`, and return what follows (no period taken)."""
        if self.items and self.items[0].startswith(prefix):
            return self.items.pop(0)[len(prefix) :]
        return None

    def all_prefixed(self, prefix: str) -> list[str]:
        out = []
        while (words := self.prefixed(prefix)) is not None:
            out.append(words)
        return out

    def rest(self) -> list[str]:
        out, self.items = self.items, []
        return out


def text_of(concept: Json | None) -> str | None:
    """A CodeableConcept's text, else its first display, else its first code."""
    if not isinstance(concept, dict):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for key in ("display", "code"):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get(key):
                return str(coding[key])
    return None


def codes_of(concept: Json | None) -> set[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept."""
    if not isinstance(concept, dict):
        return set()
    return {
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding") or []
        if isinstance(c, dict) and c.get("code")
    }


_DAY = re.compile(r"([0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?)(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?")


def day_of(value: object) -> str | None:
    """A FHIR date or dateTime as a case-file partial date: its date as written (the day at most).

    A dateTime's time and zone are not kept; its date stays the one written, never moved to UTC
    (a death at 23:30 on 4 March in New York was on 4 March where it happened).
    """
    if not isinstance(value, str):
        return None
    found = _DAY.fullmatch(value)
    return found.group(1) if found else None


def extensions(resource: Json, url: str) -> list[Json]:
    """The extensions of an element with this URL."""
    return [e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url]


def number(value: Any) -> float | int | None:
    """A JSON number as the case file writes it: 45, not 45.0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else float(value)


@dataclass
class ReadContext:
    """What reading one case needs (the maps, the identifier system) and what it records."""

    terminology: Terminology
    system: str
    case_id: str
    index: Index
    # case-file field -> where it was read: {"resource": "Condition/...", "element": "code.text", "value": ...}
    evidence: dict[str, Json] = field(default_factory=dict)
    # what does not fit the case model, one sentence each, naming the resource and element
    unplaced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def found(self, path: str, resource: Json, element: str, value: Any) -> Any:
        """Record that the case-file field `path` was read from `element` of `resource`; return the value."""
        self.evidence[path] = {"resource": label(resource), "element": element, "value": value}
        return value

    def not_placed(self, resource: Json, element: str, why: str) -> None:
        where = f"{label(resource)} {element}" if element else label(resource)
        self.unplaced.append(f"{where}: {why}")


def case_identity(patient: Json, resources: list[Json], system: str | None) -> tuple[str, str] | None:
    """The identifier system and case id: the Patient identifier that other resources' roles extend.

    export and summary name a case by it, so a case file and its page carry the same id.
    """
    pairs = [
        (str(i["system"]), str(i["value"]))
        for i in patient.get("identifier") or []
        if isinstance(i, dict) and i.get("system") and i.get("value")
    ]
    if system is not None:
        pairs = [p for p in pairs if p[0] == system]
    for s, v in pairs:
        prefix = v + "/"
        for resource in resources:
            for i in resource.get("identifier") or []:
                if (
                    isinstance(i, dict)
                    and i.get("system") == s
                    and str(i.get("value", "")).startswith(prefix)
                ):
                    return s, v
    # Another tool's Patient: the first identifier that can be a case id (an MRN, not a URN).
    return next((p for p in pairs if re.fullmatch(LOCAL_ID_RE, p[1])), None)
