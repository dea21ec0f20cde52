"""The compiled check accepts only what fhir.resources' model_validate accepts.

A differential test: valid resources (every golden bundle's, and those of seeded synthetic cases)
are mutated in many ways, and each mutant is judged by model_validate and by validate_resource's
default path; the verdicts, and the error messages, must agree. Where the compiled check alone
accepts a mutant, model_validate must accept it too.
"""

from __future__ import annotations

import json
import math
import random
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from fhir_adapter import validate as fast
from fhir_adapter.bundle import case_resources
from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.errors import MappingError
from fhir_adapter.frozen import FrozenDict
from fhir_adapter.ids import NAMESPACE, resource_uuid
from fhir_adapter.mapping.common import MappingContext

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic import CaseGenerator  # noqa: E402

Json = dict[str, Any]


def copy(resource: Json) -> Json:
    return orjson.loads(orjson.dumps(resource))


@pytest.fixture(scope="module")
def golden_resources() -> list[Json]:
    out = []
    for golden in sorted((REPO / "examples").glob("*.bundle.json")):
        out.extend(e["resource"] for e in json.loads(golden.read_text())["entry"])
    assert out
    return out


@pytest.fixture(scope="module")
def valid_resources(terminology, golden_resources) -> list[Json]:
    out = list(golden_resources)
    gen = CaseGenerator(seed=7, terminology=terminology)
    for index in range(150):
        raw = json.dumps(gen.case(index)).encode()
        case = parse_case(read_case_text(f"synthetic-{index}.json", raw))
        # Mapped but not yet validated: the tests below decide what validation makes of them.
        out.extend(
            resource for _, resource in case_resources(MappingContext(case=case, terminology=terminology))
        )
    return out


def full_verdict(resource: Json) -> str | None:
    """None when model_validate accepts the resource, else validate_resource's error message."""
    try:
        fast.validate_resource(resource, "t", full=True)
    except MappingError as exc:
        return str(exc)
    return None


def fast_path_verdict(resource: Json) -> str | None:
    try:
        fast.validate_resource(resource, "t", full=False)
    except MappingError as exc:
        return str(exc)
    return None


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every primitive value (resourceType excepted)."""
    if isinstance(node, dict):
        return [p for k, v in node.items() if k != "resourceType" for p in leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaves(v, (*path, i))]
    return [path]


def containers(node: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Paths to every object and list, with the node."""
    out = [(path, node)] if isinstance(node, dict | list) else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(containers(v, (*path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(containers(v, (*path, i)))
    return out


def at(resource: Json, path: tuple) -> Any:
    node = resource
    for part in path:
        node = node[part]
    return node


def with_value(resource: Json, path: tuple, value: Any) -> Json:
    out = copy(resource)
    at(out, path[:-1])[path[-1]] = value
    return out


# Values a leaf is replaced by: wrong primitive forms, wrong types, empty, and harmless ones.
BAD_VALUES = [
    "",
    " ",
    "x",
    "two  spaces",
    " lead",
    "trail ",
    "2019-13-01",
    "2019-02-30",
    "2019-3",
    "19",
    "2019-03-14T25:00:00Z",
    "not a uri",
    "urn:uuid:not-a-uuid",
    "a" * 65,
    "bad id!",
    "tab\tin",
    "new\nline",
    0,
    -1,
    1.5,
    -0.0,
    1e400,  # inf
    float("nan"),
    2**40,
    True,
    False,
    None,
    [],
    {},
    ["x"],
    {"text": "x"},
    '{"text": "json in a string"}',
]

# data-absent-reason, as the mappers write it for a required value the source does not give.
PRIMITIVE_EXTENSION = {
    "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}
    ]
}

CHOICE_PARTNERS = {
    "onsetDateTime": ("onsetAge", {"value": 40, "unit": "a"}),
    "onsetAge": ("onsetString", "forties"),
    "performedDateTime": ("performedString", "once"),
    "performedAge": ("performedPeriod", {"start": "2019"}),
    "effectiveDateTime": ("effectivePeriod", {"start": "2019"}),
    "effectivePeriod": ("effectiveDateTime", "2019"),
    "valueCodeableConcept": ("valueString", "x"),
    "deceasedBoolean": ("deceasedDateTime", "2019"),
    "medicationCodeableConcept": ("medicationReference", {"reference": "Medication/1"}),
}


def mutants(resource: Json, rng: random.Random) -> list[tuple[str, Json]]:
    """Many mutated copies of a valid resource, each with a label saying what changed."""
    out = []
    paths = leaves(resource)
    for path in rng.sample(paths, min(len(paths), 6)):
        for value in rng.sample(BAD_VALUES, 8):
            out.append((f"{path} = {value!r}", with_value(resource, path, value)))
    for path, node in containers(resource):
        if isinstance(node, dict):
            for key in list(node)[:4]:
                if key == "resourceType" and path:
                    continue
                m = copy(resource)
                del at(m, path)[key]
                out.append((f"del {(*path, key)}", m))
            m = copy(resource)
            at(m, path)["unknownElement"] = "x"
            out.append((f"unknown key at {path}", m))
            for key, (partner, value) in CHOICE_PARTNERS.items():
                if key in node:
                    m = copy(resource)
                    at(m, path)[partner] = value
                    out.append((f"two choices {key}+{partner} at {path}", m))
            for key, value in list(node.items())[:3]:
                if isinstance(value, str) and key != "resourceType":
                    m = copy(resource)
                    at(m, path)[f"_{key}"] = rng.choice([{}, {"extension": []}, {"id": "x"}, None])
                    out.append((f"_{key} at {path}", m))
                    # The value replaced by its extension, under the JSON name or the Python name.
                    m = copy(resource)
                    del at(m, path)[key]
                    name = rng.choice([f"_{key}", f"{key}__ext"])
                    at(m, path)[name] = rng.choice([PRIMITIVE_EXTENSION, {}, {"extension": []}])
                    out.append((f"{name} instead of {key} at {path}", m))
            if path:
                # model_validate takes a nested resourceType out too, and compares it.
                m = copy(resource)
                at(m, path)["resourceType"] = rng.choice(["Coding", "Reference", "Extension", "Patient"])
                out.append((f"resourceType at {path}", m))
        else:
            if not path:
                continue
            m = copy(resource)
            at(m, path).append(None)
            out.append((f"None in list {path}", m))
            m = copy(resource)
            at(m, path[:-1])[path[-1]] = []
            out.append((f"empty list {path}", m))
            m = copy(resource)
            at(m, path).append(copy(node[0]) if node else "x")
            out.append((f"longer list {path}", m))
    m = copy(resource)
    m["resourceType"] = "Observation" if resource["resourceType"] != "Observation" else "Condition"
    out.append(("other resourceType", m))
    m = copy(resource)
    m["id"] = str(uuid.uuid4()).upper() + "-" + "9" * 30
    out.append(("id too long", m))
    m = copy(resource)
    m["fhir_comments"] = rng.choice(["a comment", ["two", "comments"], 3])
    out.append(("fhir_comments", m))
    m = copy(resource)
    m["contained"] = [rng.choice([{"resourceType": "Patient", "id": "p1"}, {"resourceType": "Nothing"}, {}])]
    out.append(("contained", m))
    m = copy(resource)
    m["resource_type"] = resource["resourceType"]
    out.append(("resource_type", m))
    return out


def test_fast_and_full_agree_on_mutated_resources(valid_resources, golden_resources):
    checked = accepted = refused_alone = rejected = 0
    synthetic = valid_resources[len(golden_resources) :]
    rng = random.Random(20240611)
    for resource in golden_resources + synthetic[:: len(synthetic) // 80]:
        for label, mutant in mutants(resource, rng):
            verdict = fast.fast_verdict(mutant)
            expected = full_verdict(mutant)
            assert fast_path_verdict(mutant) == expected, label
            if verdict:
                # What the compiled check accepts, model_validate accepts.
                assert expected is None, f"{label}: compiled check accepted, model_validate: {expected}"
                accepted += 1
            elif expected is None:
                refused_alone += 1  # stricter than model_validate here: model_validate decided
            checked += 1
            rejected += expected is not None
    assert checked > 10_000
    assert 0.3 < rejected / checked < 0.95  # mutants of both kinds, not all one way
    # The compiled check decides most valid mutants alone; the few it refuses that
    # model_validate accepts are the stricter cases (null values, a field's Python name).
    assert accepted > 2_000
    assert refused_alone < accepted / 4


def test_valid_resources_take_the_fast_path(valid_resources, monkeypatch):
    calls = []
    for model in fast.MODELS.values():
        original = model.model_validate
        monkeypatch.setattr(
            model, "model_validate", lambda data, _o=original, **kw: calls.append(1) or _o(data)
        )
    for resource in valid_resources:
        assert fast.fast_verdict(resource) is True
        fast.validate_resource(resource, "t", full=False)
    fast.validate_resources(valid_resources, "t", full=False)
    assert calls == []
    fast.validate_resource(valid_resources[0], "t", full=True)
    assert calls == [1]


def test_fast_path_rejects_what_full_rejects_with_the_same_message(valid_resources):
    condition = next(r for r in valid_resources if r["resourceType"] == "Condition" and "onsetDateTime" in r)
    fast.validate_resource(condition, "t")
    bad = with_value(condition, ("onsetDateTime",), "2019-02-30")
    assert fast.fast_verdict(bad) is False
    with pytest.raises(MappingError) as info:
        fast.validate_resource(bad, "t")
    assert str(info.value) == full_verdict(bad)
    assert "Condition.onsetDateTime" in str(info.value)


def test_what_the_compiled_check_refuses_model_validate_decides(valid_resources):
    observation = next(r for r in valid_resources if r["resourceType"] == "Observation")
    # A required primitive stood in for by its extension: FHIR allows it, the compiled check does not.
    absent = copy(observation)
    del absent["status"]
    absent["_status"] = PRIMITIVE_EXTENSION
    assert fast.fast_verdict(absent) is False
    fast.validate_resource(absent, "t")  # model_validate accepts it
    fast.validate_resources([observation, absent], "t")
    # An empty stand-in is refused by both, with model_validate's words.
    empty = copy(absent)
    empty["_status"] = {"extension": []}
    with pytest.raises(MappingError, match="Observation.status: Value for the field 'status' is required"):
        fast.validate_resource(empty, "t")


def test_validate_resources_names_the_resource_at_fault(valid_resources):
    condition = next(r for r in valid_resources if r["resourceType"] == "Condition" and "onsetDateTime" in r)
    bad = with_value(condition, ("onsetDateTime",), "2019-13")
    with pytest.raises(MappingError) as info:
        fast.validate_resources([valid_resources[0], bad, valid_resources[1]], "t")
    assert str(info.value) == full_verdict(bad)


def test_equal_values_of_other_types_are_judged_by_their_type(valid_resources):
    patient = next(r for r in valid_resources if "deceasedBoolean" in r)
    fast.validate_resource(patient, "t")
    # 1 == True and "1" != 1: a boolean element given 1, 0 or "true" is judged as model_validate does.
    for value in (1, 0, "true"):
        mutant = with_value(patient, ("deceasedBoolean",), value)
        assert fast_path_verdict(mutant) == full_verdict(mutant)


def test_nan_and_infinite_decimals_are_rejected(valid_resources):
    with_age = next(r for r in valid_resources if "onsetAge" in r)
    fast.validate_resource(with_age, "t")
    for value in (math.nan, math.inf, -math.inf):
        mutant = with_value(with_age, ("onsetAge", "value"), value)
        assert full_verdict(mutant) is not None
        assert fast_path_verdict(mutant) == full_verdict(mutant)


def test_full_validation_from_the_environment(monkeypatch):
    monkeypatch.setenv(fast.FULL_VALIDATION_ENV, "1")
    assert fast.full_validation_default() is True
    monkeypatch.setenv(fast.FULL_VALIDATION_ENV, "0")
    assert fast.full_validation_default() is False


def test_model_validate_itself_rejects_the_mutants_we_rely_on():
    # Guards the premise: if fhir.resources stopped checking these, the differential test would
    # pass vacuously for them.
    from fhir.resources.R4B.condition import Condition

    base = {"resourceType": "Condition", "subject": {"reference": "Patient/1"}}
    for bad in (
        {"onsetDateTime": "2019-13"},
        {"id": "bad id!"},
        {"onsetDateTime": "2019", "onsetString": "x"},
    ):
        with pytest.raises(ValidationError):
            Condition.model_validate({**base, **bad})
    with pytest.raises(ValidationError):
        Condition.model_validate({"resourceType": "Condition"})


def test_resource_uuid_is_uuid5():
    rng = random.Random(3)
    for _ in range(2000):
        case_id = "".join(rng.choice("abz09-._é") for _ in range(rng.randint(1, 30)))
        role = rng.choice(["patient", "primary/p1/left", f"metastasis/m{rng.randint(1, 9)}", ""])
        assert resource_uuid(case_id, role) == str(uuid.uuid5(NAMESPACE, f"{case_id}|{role}"))


@pytest.mark.parametrize("kind", ["Date", "DateTime"])
def test_dates_the_compiled_pattern_accepts_fhir_core_accepts(kind):
    # The compiled check takes dates matching validate.DATES without calling fhir_core's Date or
    # DateTime function; each of them must be a date that function accepts. Every day of the
    # years below (leap years and not, the smallest and largest FHIR years), every month, and
    # values just outside, both ways.
    import datetime
    import typing

    from fhir_core import types as fhir_types
    from pydantic import TypeAdapter
    from pydantic_core import SchemaValidator, core_schema

    base = datetime.datetime if kind == "DateTime" else datetime.date
    annotation = typing.Annotated[base, getattr(fhir_types, kind)()]
    original = TypeAdapter(annotation)
    pattern = SchemaValidator(
        core_schema.str_schema(pattern=fast.DATES, strict=True, regex_engine="rust-regex")
    )

    def accepted(value: str) -> bool:
        try:
            original.validate_python(value)
        except ValidationError:
            return False
        return True

    values = [
        "",
        "0000",
        "10000",
        "2019\n",
        "2019-03\n",
        " 2019",
        "2019-3",
        "2019-03-1",
        "2019-03-14T10:00:00Z",
    ]
    for year in (
        "0001",
        "0010",
        "0100",
        "0999",
        "1000",
        "1900",
        "1999",
        "2000",
        "2019",
        "2020",
        "2100",
        "9999",
    ):
        values.append(year)
        for month in range(0, 14):
            values.append(f"{year}-{month:02d}")
            values.extend(f"{year}-{month:02d}-{day:02d}" for day in range(0, 33))
    taken = 0
    for value in values:
        if pattern.isinstance_python(value):
            taken += 1
            assert accepted(value), value
    assert taken > 4_000  # the pattern takes nearly every valid date (29 February is left to fhir_core)


def both_verdicts(resource: Json) -> tuple[str | None, str | None]:
    """(the default check's error or None, model_validate's error or None)."""
    return fast_path_verdict(resource), full_verdict(resource)


def shared_mutants(resource: dict, rng: random.Random) -> list[tuple[str, dict]]:
    """Mutants that keep the mappers' frozen concepts in place: each replaces one element beside them."""
    out = []
    for key in [k for k in resource if k not in ("resourceType",)]:
        for value in rng.sample(BAD_VALUES, 4):
            out.append((f"{key} = {value!r}", {**resource, key: value}))
        if isinstance(resource[key], list) and resource[key]:
            out.append((f"None after {key}", {**resource, key: [*resource[key], None]}))
            out.append((f"{key} twice", {**resource, key: [*resource[key], resource[key][0]]}))
    out.append(("unknown element", {**resource, "unknownElement": "x"}))
    return out


def test_mapped_resources_with_shared_concepts_agree_with_model_validate(terminology):
    """The mappers share frozen concepts (frozen.py), which the compiled check judges once: mutants
    that keep them in place, changed beside them, get model_validate's verdict and message."""
    fast.clear_caches()
    gen = CaseGenerator(seed=11, terminology=terminology)
    rng = random.Random(11)
    resources = []
    for index in range(40):
        raw = json.dumps(gen.case(index)).encode()
        case = parse_case(read_case_text(f"synthetic-{index}.json", raw))
        ctx = MappingContext(case=case, terminology=terminology)
        resources.extend(resource for _, resource in case_resources(ctx))
    frozen = sum(type(value) is FrozenDict for resource in resources for value in resource.values())
    assert frozen > 100  # the mappers do share their concepts
    checked = refused = 0
    for resource in resources:
        assert both_verdicts(resource) == (None, None)
        for label, mutant in shared_mutants(resource, rng)[::3]:
            fast_error, full_error = both_verdicts(mutant)
            assert fast_error == full_error, label
            checked += 1
            refused += full_error is not None
    assert checked > 1000 and 0.3 < refused / checked < 0.98
    assert fast._KNOWN  # the shared concepts were known after their first check
