"""The library API: convert_case, load_terminology and push, as a program uses them."""

from __future__ import annotations

import importlib.resources
import json
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.fhir_server import free_port

import fhir_adapter
from fhir_adapter import (
    ConfigError,
    FhirAdapterWarning,
    InvalidCaseError,
    MappingError,
    convert_case,
    load_case,
    load_terminology,
    push,
)
from fhir_adapter.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASE = EXAMPLES / "yu-2024-case-1.yaml"
SMALL = {"case": {"id": "lib-1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}


def test_convert_case_from_a_dict_gives_the_bundle_the_cli_writes():
    data = yaml.safe_load(CASE.read_text())
    cli = json.loads(CliRunner().invoke(main, ["convert", "-q", str(CASE)]).stdout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FhirAdapterWarning)
        assert convert_case(data) == cli
        assert convert_case(load_case(CASE)) == cli


def test_an_invalid_dict_raises_readable_errors():
    bad = {**SMALL, "patient": {"sex": "f"}, "primary_cancers": [{"site": "breast", "stie": 1}]}
    with pytest.raises(InvalidCaseError) as info:
        convert_case(bad, name="row 7")
    assert info.value.problems == [
        "row 7: patient.sex: 'f' is not allowed; expected 'female', 'male', 'other' or 'unknown'",
        "row 7: primary_cancers[0].stie: unknown field; did you mean 'site'?",
    ]
    with pytest.raises(InvalidCaseError, match="a case is a dict .* not a str"):
        convert_case("case.yaml")  # type: ignore[arg-type]


def test_unmapped_terms_warn_or_raise_with_strict():
    case = {**SMALL, "primary_cancers": [{"site": "breast", "histology": "odd-oma"}]}
    with pytest.warns(FhirAdapterWarning, match="case 'lib-1': primary_cancers\\[0\\].histology: 'odd-oma'"):
        bundle = convert_case(case, bundle_type="collection")
    assert bundle["type"] == "collection"
    with pytest.raises(MappingError):
        convert_case(case, strict=True)


def test_convert_case_takes_an_overlay_terminology(tmp_path):
    (tmp_path / "histology.yaml").write_text(
        "domain: histology\ndescription: local\nentries:\n  - terms: [odd-oma]\n    codings: []\n"
    )
    case = {**SMALL, "primary_cancers": [{"site": "breast", "histology": "odd-oma"}]}
    # The overlay knows the term; with no verified code it stays text, and says so.
    with pytest.warns(FhirAdapterWarning, match=r"'odd-oma' is in .*histology.yaml but has no verified code"):
        convert_case(case, terminology=load_terminology(tmp_path))


def test_push_refuses_a_public_server_and_reports_an_unreachable_one(tmp_path):
    bundle = convert_case(SMALL)
    with pytest.raises(ConfigError, match="is a public test server"):
        push([bundle], "https://hapi.fhir.org/baseR4", outbox=tmp_path / "ob")
    server = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens there
    [result] = push([bundle], server, outbox=tmp_path / "ob", max_time=0.5, timeout=0.5)
    assert result.status == "unavailable" and result.key == "lib-1"
    assert (tmp_path / "ob" / "pending" / "lib-1.json").exists()


@pytest.mark.integration
def test_push_sends_to_a_local_server(fhir_server, tmp_path):
    results = push(
        [convert_case({**SMALL, "case": {"id": "lib-push"}})], fhir_server.base_url, outbox=tmp_path
    )
    assert [r.status for r in results] == ["sent"]


def test_the_package_is_typed_and_exports_its_api():
    assert importlib.resources.files("fhir_adapter").joinpath("py.typed").is_file()
    for name in fhir_adapter.__all__:
        assert hasattr(fhir_adapter, name), name
