"""The convert pipeline for one case file: read, validate, map, bundle, serialise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bundle import BundleType, Conversion, build_bundle
from .casefile import DEFAULT_LIMITS, Limits, parse_case, read_case_text
from .errors import AdapterError, InvalidCaseError
from .mapping.common import DEFAULT_ID_SYSTEM
from .terminology import Terminology


@dataclass(frozen=True)
class ConvertOptions:
    """Settings that shape the output; frozen and passed down."""

    bundle_type: BundleType = "transaction"
    strict: bool = False
    id_system: str = DEFAULT_ID_SYSTEM
    full_validation: bool | None = None  # None: the environment decides (FHIR_ADAPTER_FULL_VALIDATION)
    limits: Limits = DEFAULT_LIMITS  # bounds on each case file (--limit)


@dataclass
class Outcome:
    """What happened to one input file: a conversion or an error, and the warnings along the way."""

    source: str
    conversion: Conversion | None = None
    error: AdapterError | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None  # why a file met in a directory is not a case file


def convert_case_with(case, terminology: Terminology, options: ConvertOptions) -> Conversion:
    """Map and bundle a validated case as the options say."""
    return build_bundle(
        case,
        terminology,
        bundle_type=options.bundle_type,
        strict=options.strict,
        id_system=options.id_system,
        full_validation=options.full_validation,
    )


def not_a_case(data: Any) -> str | None:
    """What a parsed document is when it is plainly no case file (a JSON Schema, a FHIR resource)."""
    if not isinstance(data, dict) or "case" in data:
        return None
    resource_type = data.get("resourceType")
    if isinstance(resource_type, str):
        return f"a FHIR {resource_type} resource"
    if "$schema" in data and ({"properties", "$defs", "type"} & set(data)):
        return "a JSON Schema"
    return None


def convert_bytes(
    name: str, raw: bytes, terminology: Terminology, options: ConvertOptions, *, skip_non_cases: bool = False
) -> Outcome:
    """Convert the bytes of a case file named `name`.

    A JSON Schema or FHIR resource is reported as such: skipped when `skip_non_cases` (a file met
    while walking a directory), an error otherwise (a file the user named).
    """
    case_file = None
    try:
        case_file = read_case_text(name, raw, options.limits)
        what = not_a_case(case_file.data)
        if what is not None:
            if skip_non_cases:
                return Outcome(name, skipped=what)
            raise InvalidCaseError(
                f"{name}: this is {what}, not a case file; give fhir-adapter convert case files"
                " (fhir-adapter push sends bundles)",
                file=name,
            )
        conversion = convert_case_with(parse_case(case_file), terminology, options)
    except AdapterError as exc:
        notes = case_file.notes if case_file is not None else []
        return Outcome(name, error=exc, warnings=list(notes))
    return Outcome(name, conversion=conversion, warnings=[*case_file.notes, *conversion.warnings])
