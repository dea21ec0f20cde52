"""The one gate every output resource passes: validation against FHIR R4 structure by fhir.resources.

`model_validate` costs hundreds of microseconds a resource, and a batch repeats the same few
hundred resource shapes with different values. What `model_validate` checks splits in two:

- what depends only on the resource's *shape*: which keys are present (unknown elements,
  required elements, one value per choice element `value[x]`, a primitive's `_x` extension
  standing in for a required value, no null inside a list of complex values), the nesting of
  objects and lists, list lengths, which model each object is validated by, and each leaf's
  Python type. fhir_core's model validators (`reject_null_complex_elements`,
  `validate_after_model_construction`, FHIRPrimitiveExtension's "id, extension or comment")
  and pydantic's own checks look at nothing else, except for whether a validated leaf came out
  as None;
- each primitive leaf value against its FHIR primitive type (id, code, uri, dateTime, decimal, ...):
  a pattern, a length or a range, checked by the pydantic schema of that type.

So the first resource of each shape (its *signature*: keys, nesting, list lengths, leaf types and
resourceType values) gets the full `model_validate`. If it passes, the type at each leaf's path is
taken from the fhir.resources model fields and kept as a *plan*; a later resource of the same shape
only has its leaves validated against those types (by a pydantic TypeAdapter of the very annotation
the model field carries, under the model's config), with a memo of values already seen to be valid.
A leaf that fails, or a shape the plan cannot describe (a complex element given as a string, a
polymorphic Resource element, a key that is not a field), falls back to `model_validate`, so every
error a user sees is fhir.resources' own and the fast path only ever accepts what `model_validate`
accepts. tests/test_validate_fast.py checks that on mutated resources.

Caches are per process (plans and memos are rebuilt in each worker) and bounded.
`FHIR_ADAPTER_FULL_VALIDATION=1` (or `full=True`) validates every resource with `model_validate`.
"""

from __future__ import annotations

import os
import types
import typing
from typing import Any

from fhir.resources.R4B.bodystructure import BodyStructure
from fhir.resources.R4B.clinicalimpression import ClinicalImpression
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.specimen import Specimen
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import FhirBase, FhirElementOrResourceBase
from pydantic import TypeAdapter, ValidationError

from .errors import MappingError

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
MAX_PLANS = 4096  # distinct shapes kept before starting over; a batch of mCODE cases makes ~1,000
MAX_MEMO = 2048  # valid values remembered per primitive type; the common ones come early
# Elements whose values are unique to a resource (uuid ids, references to them): not worth remembering.
_UNIQUE_KEYS = frozenset({"id", "reference", "fullUrl"})

_MEMO_TYPES = (str, int, bool)  # equal values of these types are the same value (not so for floats)


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
    if full if full is not None else _FULL_DEFAULT:
        _model_validate(model, resource, case_id)
        return
    signature, leaves = shape(resource)
    plan = _PLANS.get(signature)
    if plan is not None and plan is not _UNPLANNED and _leaves_valid(plan, leaves):
        return
    _model_validate(model, resource, case_id)
    if plan is None:
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
            _KEYS.clear()
        _PLANS[_interned(signature)] = make_plan(model, resource, leaves)


def fast_verdict(resource: dict[str, Any]) -> bool | None:
    """What the fast path alone says of a resource: True valid, False not, None no plan for its shape.

    For tests: validate_resource falls back to model_validate whenever this is not True.
    """
    signature, leaves = shape(resource)
    plan = _PLANS.get(signature)
    if plan is None or plan is _UNPLANNED:
        return None
    return _leaves_valid(plan, leaves)


def clear_caches() -> None:
    """Forget every plan and memo (for tests and benchmarks)."""
    _PLANS.clear()
    _KEYS.clear()
    for memo in _MEMOS.values():
        memo.clear()


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


def shape(resource: dict[str, Any]) -> tuple[tuple, list]:
    """A resource's signature (structure, leaf types, resourceType values) and its leaf values in order.

    The signature is a flat tuple: an object is the tuple of its keys followed by its values, a
    list is its length (an int) followed by its items, a leaf is its type, and a resourceType is
    its value (a str). Each token's kind tells which it is, so equal signatures mean equal shapes.
    """
    signature: list = []
    leaves: list = []
    token = signature.append
    leaf = leaves.append

    def walk_object(node: dict) -> None:
        token(tuple(node))
        if "resourceType" in node:
            for key, value in node.items():
                kind = type(value)
                if key == "resourceType" and kind is str:
                    token(value)  # chooses the model, and is checked against it
                elif kind is dict:
                    walk_object(value)
                elif kind is list:
                    walk_list(value)
                else:
                    token(kind)
                    leaf(value)
            return
        for value in node.values():
            kind = type(value)
            if kind is dict:
                walk_object(value)
            elif kind is list:
                walk_list(value)
            else:
                token(kind)
                leaf(value)

    def walk_list(node: list) -> None:
        token(len(node))
        for value in node:
            kind = type(value)
            if kind is dict:
                walk_object(value)
            elif kind is list:
                walk_list(value)
            else:
                token(kind)
                leaf(value)

    walk_object(resource)
    return tuple(signature), leaves


# ---- plans: the primitive type at each leaf of a shape --------------------------------------------

# A plan is a tuple with one (validate, memo) per leaf, in shape() order; None for a leaf whose
# value the signature fixes (a null). _UNPLANNED marks a shape that always gets model_validate.
Plan = tuple[tuple[Any, set | None] | None, ...]
_UNPLANNED: Plan = ()
_PLANS: dict[tuple, Plan] = {}
_ADAPTERS: dict[Any, TypeAdapter] = {}
_MEMOS: dict[tuple[int, type], set] = {}
_FIELDS: dict[type, dict[str, Any]] = {}
_KEYS: dict[tuple, tuple] = {}
_STEPS: dict[tuple, tuple[Any, set | None]] = {}


_UNIONS = (typing.Union, types.UnionType)


class _Unplannable(Exception):
    """The shape has something the plan does not describe; such shapes get model_validate each time."""


def _leaves_valid(plan: Plan, leaves: list) -> bool:
    for step, value in zip(plan, leaves, strict=True):
        if step is None:
            continue
        validate, memo = step
        if memo is not None and value in memo:
            continue
        try:
            if validate(value) is None:
                return False
        except ValidationError:
            return False
        if memo is not None and len(memo) < MAX_MEMO:
            memo.add(value)
    return True


def _interned(signature: tuple) -> tuple:
    """The signature with each object's key tuple shared between plans (they repeat a lot)."""
    return tuple(_KEYS.setdefault(t, t) if type(t) is tuple else t for t in signature)


def make_plan(model: type[FHIRAbstractModel], resource: dict[str, Any], leaves: list) -> Plan:
    """The plan of a resource's shape, from a resource of that shape model_validate accepted."""
    steps: list = []
    try:
        _plan_object(model, resource, steps)
    except _Unplannable:
        return _UNPLANNED
    plan = tuple(steps)
    # The plan must accept the resource it came from, leaf by leaf, with no leaf turning into
    # None: model_validate's checks of which elements are present then see the same as they did.
    if len(plan) != len(leaves) or not _leaves_valid(plan, leaves):
        return _UNPLANNED
    return plan


def _fields(model: type[FHIRAbstractModel]) -> dict[str, Any]:
    """A model's fields by the keys JSON may use: the alias, or the name (populate_by_name)."""
    cached = _FIELDS.get(model)
    if cached is not None:
        return cached
    by_key: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        by_key[info.alias or name] = info
    for name, info in model.model_fields.items():
        if name not in by_key:
            by_key[name] = info
        elif by_key[name] is not info:
            by_key[name] = None  # a name that is another field's alias: leave it to model_validate
    _FIELDS[model] = by_key
    return by_key


def _strip_none(annotation: Any) -> Any:
    """X from Optional[X] / X | None; the annotation itself otherwise."""
    if typing.get_origin(annotation) in _UNIONS:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_of(annotation: Any) -> type[FHIRAbstractModel] | None:
    """The model a complex element's annotation validates with; None for a primitive type."""
    if isinstance(annotation, type):
        if issubclass(annotation, FhirElementOrResourceBase):
            raise _Unplannable  # polymorphic (Resource, Element): the value picks the model
        if issubclass(annotation, FhirBase):
            return annotation.get_model_klass()
        if issubclass(annotation, FHIRAbstractModel):
            return annotation
    members = typing.get_args(annotation) if typing.get_origin(annotation) in _UNIONS else ()
    if any(_model_of(a) is not None for a in members if a is not type(None)):
        raise _Unplannable  # a union with a complex member
    return None


def _step(
    annotation: Any, model: type[FHIRAbstractModel], key: str, value: Any
) -> tuple[Any, set | None] | None:
    if value is None:
        return None
    if _model_of(annotation) is not None:
        raise _Unplannable  # a complex element given as a leaf (a string is parsed as JSON)
    adapter_key = (annotation, id(model.model_config))
    adapter = _ADAPTERS.get(adapter_key)
    if adapter is None:
        adapter = _ADAPTERS[adapter_key] = TypeAdapter(annotation, config=model.model_config)
    remember = type(value) in _MEMO_TYPES and key not in _UNIQUE_KEYS
    step_key = (id(adapter), type(value) if remember else None)
    step = _STEPS.get(step_key)
    if step is None:
        memo = _MEMOS.setdefault(step_key, set()) if remember else None
        step = _STEPS[step_key] = (adapter.validate_python, memo)
    return step


def _plan_object(model: type[FHIRAbstractModel], node: dict[str, Any], steps: list) -> None:
    fields = _fields(model)
    for key, value in node.items():
        if key == "resourceType" and type(value) is str and "resourceType" not in model.model_fields:
            continue  # in the signature, and checked against the model by model_validate
        info = fields.get(key)
        if info is None:
            raise _Unplannable
        annotation = info.annotation
        if info.metadata:
            annotation = typing.Annotated[annotation, *info.metadata]
        if type(value) is dict:
            inner = _model_of(_strip_none(annotation))
            if inner is None:
                raise _Unplannable
            _plan_object(inner, value, steps)
        elif type(value) is list:
            listed = _strip_none(annotation)
            if typing.get_origin(listed) is not list:
                raise _Unplannable
            (item,) = typing.get_args(listed)
            for element in value:
                if type(element) is dict:
                    inner = _model_of(_strip_none(item))
                    if inner is None:
                        raise _Unplannable
                    _plan_object(inner, element, steps)
                elif type(element) is list:
                    raise _Unplannable
                else:
                    steps.append(_step(item, model, key, element))
        else:
            # The field's whole annotation (Optional and all), as the model validates it.
            steps.append(_step(annotation, model, key, value))
