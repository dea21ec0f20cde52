"""Shared frozen CodeableConcepts: they cannot change in place, and the compiled check judges
each once without changing any verdict (model_validate's stays the reference)."""

from __future__ import annotations

import copy
import json
import pickle

import orjson
import pytest
from test_validate_fast import CaseGenerator

from fhir_adapter import validate as fast
from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.errors import MappingError
from fhir_adapter.frozen import FrozenDict, FrozenList, freeze
from fhir_adapter.mapping.common import MappingContext

CC = {
    "coding": [
        {"system": "http://snomed.info/sct", "code": "24028007", "display": "Right (qualifier value)"}
    ],
    "text": "right",
}


def verdicts(resource: dict) -> tuple[str | None, str | None]:
    """(the default check's error or None, model_validate's error or None)."""
    out = []
    for full in (False, True):
        try:
            fast.validate_resource(resource, "t", full=full)
            out.append(None)
        except MappingError as exc:
            out.append(str(exc))
    return out[0], out[1]


def condition(**elements) -> dict:
    return {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}, **elements}


def test_a_frozen_value_refuses_every_change_in_place():
    cc = freeze(CC)
    assert type(cc) is FrozenDict and type(cc["coding"]) is FrozenList and type(cc["coding"][0]) is FrozenDict
    changes = [
        lambda: cc.__setitem__("text", "left"),
        lambda: cc.update(text="left"),
        lambda: cc.setdefault("id", "x"),
        lambda: cc.pop("text"),
        lambda: cc.popitem(),
        lambda: cc.clear(),
        lambda: cc.__delitem__("text"),
        lambda: cc.__ior__({"text": "left"}),
        lambda: cc["coding"].append({}),
        lambda: cc["coding"].extend([{}]),
        lambda: cc["coding"].insert(0, {}),
        lambda: cc["coding"].__setitem__(0, {}),
        lambda: cc["coding"].__delitem__(0),
        lambda: cc["coding"].__iadd__([{}]),
        lambda: cc["coding"].pop(),
        lambda: cc["coding"].clear(),
        lambda: cc["coding"][0].__setitem__("code", "7771000"),
    ]
    for change in changes:
        with pytest.raises(TypeError, match="shared between resources"):
            change()
    assert cc == CC


def test_copies_of_a_frozen_value_are_plain_and_serialise_the_same():
    cc = freeze(CC)
    for other in (copy.deepcopy(cc), pickle.loads(pickle.dumps(cc)), orjson.loads(orjson.dumps(cc))):
        assert other == CC
        assert type(other) is dict and type(other["coding"]) is list and type(other["coding"][0]) is dict
        other["coding"].append({"code": "x"})  # a copy is free to change
    shallow = copy.copy(cc)
    assert type(shallow) is dict and shallow == CC
    assert orjson.dumps(cc) == orjson.dumps(CC)
    assert json.dumps(cc) == json.dumps(CC)


def test_a_frozen_concept_is_judged_once_and_the_verdicts_stay_model_validates():
    fast.clear_caches()
    cc = freeze(CC)
    for _ in range(2):  # the second time it is known
        assert verdicts(condition(code=cc, category=[cc])) == (None, None)
    assert any(known is cc for known in fast._KNOWN.values())
    # A known concept beside something wrong: the resource is still refused, with model_validate's message.
    fast_error, full_error = verdicts(condition(code=cc, category=[cc, None]))
    assert fast_error == full_error and "None is not allowed" in fast_error
    fast_error, full_error = verdicts(condition(code=cc, onsetDateTime="2019-13-01"))
    assert fast_error == full_error and fast_error is not None


def test_a_frozen_concept_that_is_wrong_is_refused_every_time_and_never_known():
    fast.clear_caches()
    for bad in (
        {**CC, "text": ""},
        {**CC, "unknownElement": 1},
        {"coding": [{"code": "a b  c"}]},
        {"coding": "x"},
    ):
        cc = freeze(bad)
        for _ in range(2):
            fast_error, full_error = verdicts(condition(code=cc))
            assert fast_error is not None and fast_error == full_error, bad
        assert not any(known is cc for known in fast._KNOWN.values())


def test_none_and_other_values_where_a_concept_goes_are_still_refused():
    # A value with no FrozenDict type is always checked: None (whose id is never known) included.
    fast.clear_caches()
    verdicts(condition(code=freeze(CC)))
    for value in (None, [], "text", 0, {"text": None}, {}):
        fast_error, full_error = verdicts(condition(code=value))
        assert fast_error == full_error, value


def test_a_body_site_is_shared_only_when_it_warns_of_nothing(terminology):
    from fhir_adapter.mapping.common import _body_site, body_site

    gen = CaseGenerator(seed=3, terminology=terminology)
    cases = [parse_case(read_case_text(f"c{i}.json", json.dumps(gen.case(i)).encode())) for i in range(2)]
    first, second = (MappingContext(case=case, terminology=terminology) for case in cases)
    coded = body_site(first, "breast", "left", "primary_cancers[0].site")
    assert type(coded) is FrozenDict and coded["extension"] and coded["coding"]
    assert body_site(second, "breast", "left", "primary_cancers[0].site") is coded
    assert coded == _body_site(second, "breast", "left", "primary_cancers[0].site", None)
    assert not first.warnings and not first.uncoded
    # A site the maps do not know is text with a warning, given to every case that names it.
    for ctx in (first, second):
        unknown = body_site(ctx, "nowhere in particular", None, "metastases[0].site")
        assert unknown == {"text": "nowhere in particular"} and type(unknown) is dict
        assert [u.field for u in ctx.uncoded] == ["metastases[0].site"]
    # A side with no code warns too, each time.
    for ctx in (first, second):
        body_site(ctx, "breast", "sideways", "primary_cancers[1].site")
        assert any("laterality 'sideways'" in w for w in ctx.warnings)


def test_a_shared_concept_with_other_words_is_shared_too(terminology):
    gen = CaseGenerator(seed=4, terminology=terminology)
    case = parse_case(read_case_text("c.json", json.dumps(gen.case(0)).encode()))
    ctx, other = (
        MappingContext(case=case, terminology=terminology),
        MappingContext(case=case, terminology=terminology),
    )
    fixed = ctx.fixed("radiotherapy course of treatment")
    worded = ctx.with_text(fixed, "palliative radiotherapy to bone")
    assert type(worded) is FrozenDict and worded == {**fixed, "text": "palliative radiotherapy to bone"}
    assert other.with_text(other.fixed("radiotherapy course of treatment"), worded["text"]) is worded
    assert "text" not in fixed  # the concept it was made from is as it was
    plain = ctx.with_text({"text": "stage 9"}, "9")
    assert plain == {"text": "9"} and type(plain) is dict


def test_qualifiers_that_select_the_same_variants_share_one_concept(terminology):
    gen = CaseGenerator(seed=4, terminology=terminology)
    case = parse_case(read_case_text("c.json", json.dumps(gen.case(0)).encode()))
    ctx = MappingContext(case=case, terminology=terminology)
    entry = next(
        concept
        for concept in terminology.domains["primary_cancers"].values()
        if concept.variants and all("histology" not in dict(v.when) for v in concept.variants)
    )
    term = entry.terms[0]
    seen = {}
    for when in [dict(v.when) for v in entry.variants] + [{}]:
        for histology in ("a", "b", None):
            qualifiers = {**when, "histology": histology}
            cc = ctx.concept_of(entry, "primary_cancers", term, "x", qualifiers=qualifiers)
            assert cc == {"coding": [c.as_fhir() for c in entry.codings_for(qualifiers)], "text": term}
            seen.setdefault(tuple(sorted(when.items())), set()).add(id(cc))
    assert all(len(ids) == 1 for ids in seen.values())  # histology, which selects nothing, made no copy
