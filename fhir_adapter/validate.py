"""The one gate every output resource passes: validation against FHIR R4 structure by fhir.resources.

fhir.resources' `model_validate` costs hundreds of microseconds a resource: it builds a Python
object for every element, through Python code at each level. What it *checks* is less than what
it does, and all of it can be said as one pydantic-core schema per resource type, which
pydantic-core runs in compiled code. That schema (the *compiled check*) is made here from the
fhir.resources models themselves, once per process and resource type:

- each object is a typed dict with exactly the model's elements, by their JSON names (an unknown
  key is an error, as `extra="forbid"` makes it for the model);
- an element whose model field is required is required (pydantic's required fields, and the
  primitives `get_required_fields` names, such as Observation.status and Extension.url);
- a complex element is an object checked by its own model's typed dict, a list element a list
  (of objects, or of primitive values);
- each primitive value is checked by the very pydantic-core schema that fhir.resources gives
  that field (the FHIR primitive type's pattern, length, range, date and decimal rules);
- after an object's elements, a small function checks the rest of what
  `validate_after_model_construction` checks: at most one value per choice element `value[x]`
  (exactly one where the choice is required); and, for a primitive's `_x` extension object,
  what FHIRPrimitiveExtension's validator wants (an id or an extension);
- the resource's `resourceType` is the model's.

The compiled check is stricter than `model_validate` in a few places it need not follow: null
values, element names given by their Python field name instead of their JSON name, a primitive's
`_x` extension standing in for a required value, a complex element given as a JSON string,
`fhir_comments` and polymorphic (Resource/Element) elements are all refused by it. Whatever it
refuses goes to `model_validate`, whose verdict stands and whose error message is the one a user
sees; whatever it accepts, `model_validate` accepts. tests/test_validate_fast.py checks that on
about 12,000 mutated resources, every one judged both ways.

The mappers share one CodeableConcept object per coded term between resources and cases, frozen
so that it cannot change (frozen.py). The compiled check judges each such object once and takes
it as it is when it meets it again; every other value is checked each time it is met.
tests/test_validate_fast.py also checks mapped resources with their shared concepts in place.

`FHIR_ADAPTER_FULL_VALIDATION=1` (or `full=True`) runs fhir.resources' `model_validate` on every
resource instead: the library's own code, as the reference.
"""

from __future__ import annotations

import os
import types
import typing
from typing import Any

from fhir.resources.R4B.bodystructure import BodyStructure
from fhir.resources.R4B.clinicalimpression import ClinicalImpression
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.fhirprimitiveextension import FHIRPrimitiveExtension
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.specimen import Specimen
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import Date, DateTime, FhirBase, FhirElementOrResourceBase
from pydantic import TypeAdapter, ValidationError
from pydantic_core import CoreSchema, SchemaValidator, core_schema

from .errors import MappingError
from .frozen import FrozenDict

# R4B's models for these resources carry no element that R4 (4.0.1) lacks in what we emit.
MODELS = {
    m.__name__: m
    for m in (
        Patient,
        Condition,
        Procedure,
        MedicationStatement,
        Observation,
        Specimen,
        BodyStructure,
        ClinicalImpression,
        DocumentReference,
        Provenance,
    )
}

FULL_VALIDATION_ENV = "FHIR_ADAPTER_FULL_VALIDATION"


def full_validation_default() -> bool:
    """Whether FHIR_ADAPTER_FULL_VALIDATION asks for model_validate on every resource."""
    return os.environ.get(FULL_VALIDATION_ENV, "").strip().lower() in ("1", "true", "yes", "on")


_FULL_DEFAULT = full_validation_default()


def validate_resource(resource: dict[str, Any], case_id: str, *, full: bool | None = None) -> None:
    """Validate one resource; raise MappingError naming the case, resource and FHIR element."""
    kind = resource.get("resourceType")
    model = MODELS.get(kind)  # type: ignore[arg-type]
    if model is None:
        raise MappingError(f"case '{case_id}': no validator for resource type {kind}")
    if (full if full is not None else _FULL_DEFAULT) or not _passes(resource):
        _model_validate(model, resource, case_id)


def validate_resources(resources: list[dict[str, Any]], case_id: str, *, full: bool | None = None) -> None:
    """Validate a case's resources: as validate_resource on each, in one pass when all are valid."""
    if (full if full is not None else _FULL_DEFAULT) or not _accepts(_checks()["many"], resources):
        for resource in resources:
            validate_resource(resource, case_id, full=full)


def fast_verdict(resource: dict[str, Any]) -> bool:
    """What the compiled check alone says of a resource (for tests): True accepted, False refused.

    validate_resource goes to model_validate whenever this is False.
    """
    kind = resource.get("resourceType")
    return kind in MODELS and _passes(resource)


def clear_caches() -> None:
    """Forget the compiled checks (for tests and benchmarks); they are made again when next needed."""
    _CHECKS.clear()
    _KNOWN.clear()


def _model_validate(model: type[FHIRAbstractModel], resource: dict[str, Any], case_id: str) -> None:
    kind = resource["resourceType"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = "; ".join(f"{kind}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MappingError(
            f"case '{case_id}': {kind}/{resource.get('id')} is not valid FHIR R4: {problems}"
        ) from None
    except (AttributeError, TypeError) as exc:
        # fhir.resources' url type calls str methods on whatever it is given: a non-string
        # there is invalid, not a crash.
        raise MappingError(
            f"case '{case_id}': {kind}/{resource.get('id')} is not valid FHIR R4: a value has the wrong type ({exc})"
        ) from None
    except KeyError as exc:
        # A contained resource of a type FHIR does not have: fhir.resources looks its model up and fails.
        raise MappingError(
            f"case '{case_id}': {kind}/{resource.get('id')} is not valid FHIR R4: no resource type {exc}"
        ) from None


# ---- the compiled check -------------------------------------------------------------------------

_CHECKS: dict[str, SchemaValidator] = {}  # "one": one resource of any type; "many": a list of them


def _checks() -> dict[str, SchemaValidator]:
    if not _CHECKS:
        compiler = _Compiler()
        one = core_schema.tagged_union_schema(
            {kind: compiler.model(model, resource_type=kind) for kind, model in MODELS.items()},
            discriminator="resourceType",
        )
        definitions = list(compiler.definitions.values())
        _CHECKS["one"] = SchemaValidator(core_schema.definitions_schema(one, definitions))
        _CHECKS["many"] = SchemaValidator(
            core_schema.definitions_schema(core_schema.list_schema(one), definitions)
        )
    return _CHECKS


def _passes(resource: Any) -> bool:
    return _accepts(_checks()["one"], resource)


def _accepts(check: SchemaValidator, resource: dict[str, Any]) -> bool:
    try:
        return check.isinstance_python(resource)
    except Exception:  # noqa: BLE001 - a leaf validator that crashes on odd input: model_validate decides
        return False


# The frozen CodeableConcepts (frozen.py) the compiled check has accepted, by id, each held so its
# id is not reused. The mappers share one frozen CodeableConcept per term between resources and
# cases; it cannot change, so once accepted it is taken as it is: the same object, the same
# verdict. A CodeableConcept's verdict does not depend on where it stands (one typed dict checks
# every CodeableConcept element). Any other CodeableConcept is checked every time.
_KNOWN: dict[int, FrozenDict] = {}
MAX_KNOWN = 8192


def _known_or_checked(value: Any, check: core_schema.ValidatorFunctionWrapHandler) -> Any:
    if type(value) is not FrozenDict:
        return check(value)
    if _KNOWN.get(id(value)) is value:
        return value
    out = check(value)
    if len(_KNOWN) < MAX_KNOWN:
        _KNOWN[id(value)] = value
    return out


_UNIONS = (typing.Union, types.UnionType)
_LEAVES: dict[tuple[Any, tuple], CoreSchema] = {}


def _strip_none(annotation: Any) -> Any:
    """X from Optional[X] / X | None; the annotation itself otherwise."""
    if typing.get_origin(annotation) in _UNIONS:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


class _Polymorphic(Exception):
    """An element whose model the value chooses (Resource, Element): not compiled, so refused."""


def _model_of(annotation: Any) -> type[FHIRAbstractModel] | None:
    """The model a complex element is validated by; None for a primitive type."""
    if isinstance(annotation, type):
        if issubclass(annotation, FhirElementOrResourceBase):
            raise _Polymorphic
        if issubclass(annotation, FhirBase):
            return annotation.get_model_klass()
        if issubclass(annotation, FHIRAbstractModel):
            return annotation
        return None
    members = typing.get_args(annotation) if typing.get_origin(annotation) in _UNIONS else ()
    if any(_model_of(a) is not None for a in members if a is not type(None)):
        raise _Polymorphic  # a union with a complex member
    return None


def _leaf(annotation: Any, model: type[FHIRAbstractModel]) -> CoreSchema:
    """The pydantic-core schema fhir.resources validates a primitive value of this type with.

    For FHIR date and dateTime, whose schema is a Python function, first a pattern run in
    compiled code that accepts only dates that function accepts (see DATES); any other value
    goes to the function.
    """
    key = (annotation, tuple(sorted(model.model_config.items())))
    schema = _LEAVES.get(key)
    if schema is None:
        schema = TypeAdapter(annotation, config=model.model_config).core_schema
        if any(type(meta) in (Date, DateTime) for meta in typing.get_args(annotation)[1:]):
            fast = core_schema.str_schema(pattern=DATES, strict=True, regex_engine="rust-regex")
            schema = core_schema.union_schema([fast, schema], mode="left_to_right")
        _LEAVES[key] = schema
    return schema


# Dates fhir_core's Date and DateTime accept, without calling them: a year (0001-9999, as FHIR's
# pattern has it), a year and month, or a full date whose day every year's month has (the 29th
# of February is left to the function, which knows leap years). The function accepts each: the
# pattern of its type matches, a partial date is returned as it is, and a full date is parsed
# by pydantic's date or datetime, which takes every day of the calendar. Times are left to it.
# tests/test_validate_fast.py compares the two on every date of several years.
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
DATES = (
    rf"^{_YEAR}(-(0[1-9]|1[0-2])"
    r"|-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31))?$"
)


class _Compiler:
    """Makes the compiled check: a typed dict per model, shared by reference."""

    def __init__(self) -> None:
        self.definitions: dict[str, CoreSchema] = {}

    def model(self, model: type[FHIRAbstractModel], resource_type: str | None = None) -> CoreSchema:
        ref = f"{model.__module__}.{model.__qualname__}" + (":resource" if resource_type else "")
        if ref not in self.definitions:
            self.definitions[ref] = core_schema.any_schema()  # a placeholder while recursing
            schema = self._object(model, resource_type)
            if model is CodeableConcept:
                schema = core_schema.no_info_wrap_validator_function(_known_or_checked, schema)
            self.definitions[ref] = {**schema, "ref": ref}  # type: ignore[typeddict-item]
        return core_schema.definition_reference_schema(ref)

    def _object(self, model: type[FHIRAbstractModel], resource_type: str | None) -> CoreSchema:
        required = {name for name, _ in _required_fields(model)}
        fields: dict[str, core_schema.TypedDictField] = {}
        for name, info in model.model_fields.items():
            key = info.alias or name
            if name == "fhir_comments":
                continue  # refused: model_validate decides
            try:
                schema = self._element(model, info.annotation)
            except _Polymorphic:
                continue  # refused: model_validate decides
            fields[key] = core_schema.typed_dict_field(schema, required=info.is_required() or key in required)
        if resource_type is not None:
            # model_validate takes resourceType out before the fields and compares it with the model's.
            fields["resourceType"] = core_schema.typed_dict_field(core_schema.literal_schema([resource_type]))
        if issubclass(model, FHIRPrimitiveExtension):
            return core_schema.no_info_after_validator_function(_id_or_extension, _typed_dict(fields))
        choices = _choices(model)
        if not choices:
            return _typed_dict(fields)
        # One typed dict for each way of filling the choice elements (none or one value each,
        # exactly one where the choice is required), picked by which choice keys the object has:
        # two values for one choice element match no variant. Each variant holds only its own
        # choice keys, so an Extension is checked against 5 elements instead of 55.
        every = frozenset().union(*(group for group, _ in choices))
        common = {key: field for key, field in fields.items() if key not in every}
        ways: list[tuple[str, ...]] = [()]
        for group, needed in choices:
            options = [(key,) for key in sorted(group)] + ([] if needed else [()])
            ways = [way + option for way in ways for option in options]
        variants = {
            frozenset(way): _typed_dict({**common, **{key: fields[key] for key in way}}) for way in ways
        }
        return core_schema.tagged_union_schema(variants, discriminator=every.intersection)

    def _element(self, model: type[FHIRAbstractModel], annotation: Any) -> CoreSchema:
        inner = _strip_none(annotation)
        if typing.get_origin(inner) is list:
            (item,) = typing.get_args(inner)
            item = _strip_none(item)
            item_model = _model_of(item)
            items = self.model(item_model) if item_model is not None else _leaf(item, model)
            return core_schema.list_schema(items)
        element_model = _model_of(inner)
        if element_model is not None:
            return self.model(element_model)
        return _leaf(inner, model)


def _typed_dict(fields: dict[str, core_schema.TypedDictField]) -> CoreSchema:
    return core_schema.typed_dict_schema(fields, extra_behavior="forbid", total=False)


def _required_fields(model: type[FHIRAbstractModel]) -> list[tuple[str, str | None]]:
    """The primitives validate_after_model_construction requires, by JSON name (get_required_fields).

    The typed dict requires their keys. It wants each not None; a key present is a value present
    here, because nulls are refused and no leaf schema of fhir.resources turns a value that is
    not None into None (each returns its input, a parsed value, or raises).
    """
    return model.model_construct().get_required_fields()


def _choices(model: type[FHIRAbstractModel]) -> list[tuple[frozenset[str], bool]]:
    """The choice elements validate_after_model_construction checks: their keys, and whether one is required.

    It wants at most one value for each (exactly one where required); as above, counting keys
    is counting values. A primitive choice's `_x` extension is no value of the choice.
    """
    fields = model.model_fields
    return [
        (
            frozenset(fields[name].alias or name for name in names),
            fields[names[0]].json_schema_extra["one_of_many_required"] is True,  # type: ignore[index]
        )
        for names in model.model_construct().get_one_of_many_fields().values()
    ]


def _id_or_extension(value: dict) -> dict:
    """FHIRPrimitiveExtension's own validator: an id, an extension or fhir_comments (refused here)."""
    if "id" not in value and "extension" not in value:
        raise ValueError("an id or an extension")
    return value
