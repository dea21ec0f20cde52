"""Shared fixtures: the shipped terminology, golden-file updating, and a real FHIR server on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.fhir_server import ServerNotInstalledError, start_server  # noqa: E402

from fhir_adapter.terminology import load_terminology  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="Rewrite the expected bundles beside the examples; review the diff before committing.",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def terminology():
    return load_terminology()


@pytest.fixture(scope="session")
def example_cases() -> list[Path]:
    cases = sorted(EXAMPLES.glob("*.yaml"))
    assert cases, "no example cases found"
    return cases


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory):
    """A sekmet-fhir server on 127.0.0.1 with a fresh data folder, for the whole session."""
    try:
        handle = start_server(tmp_path_factory.mktemp("fhir-server"))
    except ServerNotInstalledError as exc:
        pytest.fail(f"the local FHIR server is not installed: {exc}")
    with handle:
        yield handle
