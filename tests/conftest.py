"""Shared fixtures: the shipped terminology, golden-file updating, and real FHIR servers on 127.0.0.1.

Two servers: sekmet-fhir (Python, quick to start) and HAPI FHIR's JPA server (tools/hapi-server,
the server fhir-adapter is made for; one to three minutes to start, so once per session). The
`server` fixture runs a test against each.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# The property tests draw the same examples on every run and machine, so a run that passes passes again and
# one that fails fails again; FHIR_ADAPTER_EXPLORE=1 draws fresh ones each run (a longer search for defects,
# with FHIR_ADAPTER_ROUNDTRIP_EXAMPLES raised).
settings.register_profile("fixed", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("FHIR_ADAPTER_EXPLORE") else "fixed")

from support import hapi_server as hapi  # noqa: E402
from support.browser import Browser, chromium_path  # noqa: E402
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


@pytest.fixture(scope="session")
def hapi_server(tmp_path_factory: pytest.TempPathFactory):
    """HAPI FHIR (tools/hapi-server) on 127.0.0.1 with a fresh H2 database, for the whole session.

    Skipped where the jar or java is missing, unless FHIR_ADAPTER_REQUIRE_HAPI is set (as in CI),
    where that is an error.
    """
    problem = hapi.missing()
    if problem:
        if hapi.required():
            pytest.fail(f"the HAPI FHIR test server cannot start: {problem}")
        pytest.skip(f"HAPI FHIR test server: {problem}")
    with hapi.start_hapi(tmp_path_factory.mktemp("hapi-server")) as handle:
        yield handle


@pytest.fixture(params=["sekmet", "hapi"])
def server(request: pytest.FixtureRequest):
    """Each real server in turn: sekmet-fhir, then HAPI FHIR."""
    handle = request.getfixturevalue("fhir_server" if request.param == "sekmet" else "hapi_server")
    handle.kind = request.param
    return handle


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium for the page tests, started once a session; skipped only outside CI."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("FHIR_ADAPTER_REQUIRE_BROWSER"):
            pytest.fail(
                "Chromium is required here (FHIR_ADAPTER_REQUIRE_BROWSER) but /usr/bin/chromium is missing"
            )
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does)")
    handle = Browser(executable)
    yield handle
    handle.close()
