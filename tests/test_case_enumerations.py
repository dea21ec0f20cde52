"""Every enumeration of the case model is matched in any case, each by a validator of its own field."""

from __future__ import annotations

import typing

import pytest
from pydantic import TypeAdapter, ValidationError

from fhir_adapter import case as case_model


def _literal(annotation: object) -> tuple[str, ...] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        found = _literal(arg)
        if found:
            return found
    return None


ENUMERATIONS = [
    (model, name, values)
    for model in vars(case_model).values()
    if isinstance(model, type) and issubclass(model, case_model._Model) and model is not case_model._Model
    for name, info in model.model_fields.items()
    if (values := _literal(info.annotation)) is not None
]


def test_the_enumerations_are_found():
    names = {(m.__name__, n) for m, n, _ in ENUMERATIONS}
    assert {("PatientInfo", "sex"), ("Medication", "status"), ("Metastasis", "primary_side")} <= names
    assert len(ENUMERATIONS) >= 13


@pytest.mark.parametrize(
    ("model", "name", "values"), ENUMERATIONS, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_each_is_matched_in_any_case(model, name, values):
    info = model.model_fields[name]
    # The field's type as the model validates it: pydantic keeps an Annotated's validators aside.
    check = TypeAdapter(
        typing.Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    )
    for value in values:
        assert check.validate_python(value) == value
        assert check.validate_python(f" {value.upper()} ") == value
        assert check.validate_python(value.title()) == value
    with pytest.raises(ValidationError) as refused:
        check.validate_python(f"{values[0]}x")
    (error,) = [e for e in refused.value.errors() if e["type"] == "literal_error"]
    assert error["input"] == f"{values[0]}x"  # left as written, for the message
