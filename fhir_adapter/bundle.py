"""Assembles a case's resources into a Bundle (transaction or collection) with deterministic ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .case import Case
from .ids import urn
from .mapping.common import DEFAULT_ID_SYSTEM, MappingContext
from .mapping.condition import (
    primary_sides,
    to_primary_cancer_condition,
    to_refuted_condition,
    to_secondary_cancer_condition,
)
from .mapping.medication import to_medication_statement
from .mapping.observation import to_cancer_disease_status, to_tumor_marker_tests
from .mapping.patient import to_cancer_patient
from .mapping.procedure import to_procedure
from .terminology import Terminology
from .validate import validate_resource

BundleType = Literal["transaction", "collection"]


@dataclass
class Conversion:
    """A case's bundle and the warnings met while mapping it."""

    case_id: str
    bundle: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # resource id -> case-file field

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [e["resource"] for e in self.bundle["entry"]]


def case_resources(ctx: MappingContext) -> list[tuple[str, dict[str, Any]]]:
    """Every resource a case gives with the case-file field it came from, in a stable order."""
    case = ctx.case
    out: list[tuple[str, dict[str, Any]]] = [("patient", to_cancer_patient(ctx))]
    markers = []
    for side in primary_sides(ctx):
        path = f"primary_cancers[{side.index}]"
        condition = to_primary_cancer_condition(ctx, side)
        out.append((path, condition))
        markers.extend((f"{path}.receptors", m) for m in to_tumor_marker_tests(ctx, side, condition["code"]))
    for index, (key, met) in enumerate(case.metastasis_keys()):
        out.append((f"metastases[{index}]", to_secondary_cancer_condition(ctx, index, key, met)))
        if met.misdiagnosis:
            out.append((f"metastases[{index}].misdiagnosis", to_refuted_condition(ctx, index, key, met)))
    for index, proc in enumerate(case.procedures):
        out.append(
            (f"procedures[{index}]", to_procedure(ctx, index, proc.id or f"procedure-{index + 1}", proc))
        )
    for index, med in enumerate(case.medications):
        key = med.id or f"medication-{index + 1}"
        out.append((f"medications[{index}]", to_medication_statement(ctx, index, key, med)))
    out.extend(markers)
    for index, ds in enumerate(case.disease_status):
        key = ds.id or f"disease-status-{index + 1}"
        out.append((f"disease_status[{index}]", to_cancer_disease_status(ctx, index, key, ds)))
    return out


def build_bundle(
    case: Case,
    terminology: Terminology,
    *,
    bundle_type: BundleType = "transaction",
    strict: bool = False,
    id_system: str = DEFAULT_ID_SYSTEM,
    full_validation: bool | None = None,
) -> Conversion:
    """Map a case to FHIR and bundle it; every resource is validated before it is returned.

    full_validation=True runs fhir.resources' model_validate on every resource instead of the
    shape-cached check in validate.py (None: as FHIR_ADAPTER_FULL_VALIDATION says).
    """
    ctx = MappingContext(case=case, terminology=terminology, strict=strict, id_system=id_system)
    pairs = case_resources(ctx)
    for _, resource in pairs:
        validate_resource(resource, case.case.id, full=full_validation)
    entries = []
    for _, resource in pairs:
        entry: dict[str, Any] = {"fullUrl": urn(resource["id"]), "resource": resource}
        if bundle_type == "transaction":
            # PUT to a deterministic id: posting again updates in place instead of duplicating.
            entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        entries.append(entry)
    bundle = {
        "resourceType": "Bundle",
        "id": ctx.uid("bundle"),
        "identifier": {"system": case.case.id_system or id_system, "value": case.case.id},
        "type": bundle_type,
        "entry": entries,
    }
    origins = {resource["id"]: path for path, resource in pairs}
    return Conversion(case.case.id, bundle, list(dict.fromkeys(ctx.warnings)), origins)
