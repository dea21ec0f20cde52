"""Reading back from HAPI FHIR what push stored there: nothing HAPI adds is a difference."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from fhir_adapter.cli import main

pytestmark = pytest.mark.integration

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_every_example_pushed_to_hapi_comes_back_with_nothing_unplaced_and_verifies(hapi_server, tmp_path):
    system = "https://review6.example/cases"
    out = tmp_path / "bundles"
    assert run("convert", "-q", *EXAMPLES, "--id-system", system, "-o", f"{out}/").exit_code == 0
    pushed = run(
        "push", *sorted(out.glob("*.json")), "--server", hapi_server.base_url, "--outbox", tmp_path / "o"
    )
    assert pushed.exit_code == 0, pushed.stderr
    for path in sorted(out.glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        exported = run("export", "--server", hapi_server.base_url, "--patient", patient["id"])
        assert exported.exit_code == 0, exported.stderr
        assert "not read into the case" not in exported.stderr, exported.stderr
        # The Bundle sent, read back, against what HAPI holds: fields and what has no place in the case.
        checked = run("verify", path, "--patient", patient["id"], "--server", hapi_server.base_url)
        assert checked.exit_code == 0, (path.name, checked.stderr)
        assert f"matches Patient/{patient['id']}" in checked.stderr

    # Every patient of the system, two a page: HAPI's totals agree with its pages.
    listed = run(
        "export",
        "--server",
        hapi_server.base_url,
        "--all-patients",
        "--id-system",
        system,
        "--page-size",
        "2",
        "-o",
        f"{tmp_path / 'all'}/",
    )
    assert listed.exit_code == 0, listed.stderr
    assert len(list((tmp_path / "all").iterdir())) == len(EXAMPLES)
