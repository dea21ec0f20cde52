"""The one gate every output resource passes: validation against FHIR R4 structure by fhir.resources."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from pydantic import ValidationError

from .errors import MappingError

# R4B's models for these resources carry no element that R4 (4.0.1) lacks in what we emit.
MODELS = {m.__name__: m for m in (Patient, Condition, Procedure, MedicationStatement, Observation)}


def validate_resource(resource: dict[str, Any], case_id: str) -> None:
    """Validate one resource; raise MappingError naming the case, resource and FHIR element."""
    kind = resource["resourceType"]
    model = MODELS.get(kind)
    if model is None:
        raise MappingError(f"case '{case_id}': no validator for resource type {kind}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = "; ".join(f"{kind}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MappingError(
            f"case '{case_id}': {kind}/{resource.get('id')} is not valid FHIR R4: {problems}"
        ) from None
