"""A case compared field by field, in case-file terms: what verify reports when it reads a patient back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from ..casefile import parse_case, read_case_text
from ..client import ClientSettings, FhirClient
from ..errors import InvalidCaseError
from ..terminology import Terminology
from .common import Json
from .normal import normal_form
from .read import CaseReading, read_case
from .sources import PatientFhir, SourceProblem, patient_from_server, read_file


def flatten(node: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of case-file data by its field path (primary_cancers[0].site)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(flatten(value, f"{path}.{key}" if path else key))
        return out
    if isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        out = {}
        for i, value in enumerate(node):
            out.update(flatten(value, f"{path}[{i}]"))
        return out
    return {path: node}


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def differences(
    expected: Json, actual: Json, *, expected_name: str = "the case file", actual_name: str = "the server"
) -> list[str]:
    """Each field where two cases (in normal form) differ, as a sentence."""
    a, b = flatten(expected), flatten(actual)
    out = []
    for path in sorted(set(a) | set(b)):
        if a.get(path) != b.get(path):
            out.append(
                f"{path}: {expected_name} has {_shown(a.get(path))}, {actual_name} {_shown(b.get(path))}"
            )
    return out


def case_of_file(name: str, terminology: Terminology) -> Json:
    """A case file, or a Bundle file read back, in normal form."""
    return _reading_of_file(name, terminology).case


def _reading_of_file(name: str, terminology: Terminology) -> CaseReading:
    """A case file (with nothing unplaced), or a Bundle file read back, in normal form."""
    raw = Path(name).read_bytes()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        found = [p for p in read_file(name) if isinstance(p, PatientFhir)]
        if len(found) != 1:
            raise InvalidCaseError(
                f"{name}: a Bundle of one patient is compared; this one has {len(found)}", file=name
            )
        return read_case(found[0].resources, terminology, source=name, full_urls=found[0].full_urls)
    case = parse_case(read_case_text(name, raw))
    return CaseReading(normal_form(case, terminology), source=name)


def verify_patient(name: str, server: ClientSettings, patient_id: str, terminology: Terminology) -> list[str]:
    """`verify CASE --patient ID`: the case file (or Bundle) and the server's patient, both read back, compared."""
    expected = _reading_of_file(name, terminology)
    found = patient_from_server(FhirClient(server), patient_id)
    if isinstance(found, SourceProblem):
        raise found.error
    actual = read_case(found.resources, terminology, source=found.source)
    return differences(expected.case, actual.case) + unplaced_differences(expected.unplaced, actual.unplaced)


def unplaced_differences(expected: list[str], actual: list[str]) -> list[str]:
    """What one side holds that has no place in the case format and the other does not hold.

    The fields alone would call a server that holds the case and, beside it, a resource or an
    element the case has no field for (another patient's lab result filed under this one, a
    changed element the reader lists) the same as the case: the lists are compared too.
    """
    left, right = Counter(expected), Counter(actual)
    out = [
        f"the server holds what has no place in the case, and the case file does not: {line}"
        for line in (right - left).elements()
    ]
    out += [
        f"the case file holds what has no place in the case, and the server does not: {line}"
        for line in (left - right).elements()
    ]
    return out
