"""build_bundle gives each resource its role identifier and case tag in one step; the result is the
one the two steps (with_role_identifier, then the tag in meta) give one after the other."""

from __future__ import annotations

import copy

import pytest

from fhir_adapter.bundle import _finished, with_role_identifier
from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.mapping.common import MappingContext
from fhir_adapter.terminology import load_terminology


def _two_steps(ctx, resource, roles):
    out = with_role_identifier(ctx, resource, roles)
    tag = {"system": ctx.system, "code": ctx.case_id}
    meta = out.get("meta")
    if meta is None:
        rest = list(out.items())
        out = dict(rest[:2])
        out["meta"] = {"tag": [tag]}
        out.update(rest[2:])
    else:
        meta.setdefault("tag", []).append(tag)
    return out


@pytest.fixture(scope="module")
def ctx():
    text = b'{"case": {"id": "c1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}'
    return MappingContext(case=parse_case(read_case_text("c1.json", text)), terminology=load_terminology())


SHAPES = [
    {"resourceType": "Condition", "id": "u1", "meta": {"profile": ["p"]}, "code": {"text": "x"}},
    {"resourceType": "Condition", "id": "u1", "extension": [{"url": "e"}], "code": {"text": "x"}},
    {"resourceType": "Condition", "id": "u1", "meta": {"profile": ["p"]}, "extension": [], "subject": {}},
    {"resourceType": "DocumentReference", "id": "u1", "identifier": [{"value": "doi"}], "status": "current"},
    {"resourceType": "Condition", "id": "u1"},
    {"resourceType": "Condition", "id": "u1", "meta": None, "code": {"text": "x"}},
    {"resourceType": "Condition", "id": "u1", "extension": []},
    {"resourceType": "Provenance", "id": "u1", "target": []},
    {"resourceType": "Patient", "id": "u1", "meta": {"profile": ["p"]}, "gender": "female"},
    {"resourceType": "Condition", "id": "no-role", "code": {"text": "x"}},
    {"id": "u1", "resourceType": "Condition", "code": {"text": "x"}},
]


@pytest.mark.parametrize("shape", SHAPES)
def test_one_step_is_the_two_steps(ctx, shape):
    roles = {"u1": "primary/p1"}
    one = _finished(ctx, copy.deepcopy(shape), roles)
    two = _two_steps(ctx, copy.deepcopy(shape), roles)
    assert one == two
    assert list(one) == list(two)  # the same keys in the same order: the same bytes out
    assert [list(v) for v in one.values() if isinstance(v, dict)] == [
        list(v) for v in two.values() if isinstance(v, dict)
    ]
