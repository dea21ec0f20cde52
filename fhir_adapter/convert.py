"""The convert pipeline for one case file: read, validate, map, bundle, serialise."""

from __future__ import annotations

from dataclasses import dataclass, field

from .bundle import BundleType, Conversion, build_bundle
from .casefile import DEFAULT_LIMITS, Limits, parse_case, read_case_text
from .errors import AdapterError
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


def convert_bytes(name: str, raw: bytes, terminology: Terminology, options: ConvertOptions) -> Outcome:
    """Convert the bytes of a case file named `name`."""
    try:
        case = parse_case(read_case_text(name, raw, options.limits))
        conversion = build_bundle(
            case,
            terminology,
            bundle_type=options.bundle_type,
            strict=options.strict,
            id_system=options.id_system,
            full_validation=options.full_validation,
        )
    except AdapterError as exc:
        return Outcome(name, error=exc)
    return Outcome(name, conversion=conversion, warnings=conversion.warnings)
