"""Start a throwaway HAPI FHIR JPA server (tools/hapi-server) on 127.0.0.1 for integration tests.

The server is our own small Spring Boot launcher around HAPI FHIR's JPA server: H2 in a fresh
folder, R4, $import, and request validation against the FHIR packages in
tools/hapi-server/build/packages (mCODE 4.0.0). `bash tools/hapi-server/build.sh` builds it.
A first start takes one to three minutes, so the suite starts it once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from support.fhir_server import (
    ServerHandle,
    ServerNotInstalledError,
    ServerStartError,
    _die_with_parent,
    _live,
    _metadata_ok,
    free_port,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / "tools" / "hapi-server"
JAR = TOOL / "target" / "hapi-server.jar"
PACKAGES = TOOL / "build" / "packages"
# In CI a missing jar or java is an error, not a skip (set by .ci/run).
REQUIRE_ENV = "FHIR_ADAPTER_REQUIRE_HAPI"
STARTUP_TIMEOUT = 600.0
BUILD_HINT = "build it with `bash tools/hapi-server/build.sh` (needs Java 17 and Maven)"


def java() -> str | None:
    """The java to run the server with: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def missing() -> str | None:
    """Why the server cannot be started here, or None when it can."""
    if java() is None:
        return "no java on PATH or in JAVA_HOME"
    if not JAR.exists():
        return f"{JAR.relative_to(REPO_ROOT)} is not built; {BUILD_HINT}"
    if not any(PACKAGES.glob("hl7.fhir.us.mcode-*.tgz")):
        return f"the mCODE package is not in {PACKAGES.relative_to(REPO_ROOT)}; {BUILD_HINT}"
    return None


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def start_hapi(
    data_dir: Path, timeout: float = STARTUP_TIMEOUT, validation: bool = True, heap: str = "2g"
) -> ServerHandle:
    """Start the HAPI server on a free 127.0.0.1 port with its database in data_dir; wait for /metadata."""
    problem = missing()
    if problem:
        raise ServerNotInstalledError(problem)
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "server.log"
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed by ServerHandle.stop()
    cmd = [
        str(java()),
        f"-Xmx{heap}",
        f"-Djava.io.tmpdir={data_dir}",
        "-jar",
        str(JAR),
        "--port",
        str(port),
        "--data",
        str(data_dir / "db"),
        "--packages",
        str(PACKAGES),
    ]
    if not validation:
        cmd.append("--no-validation")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRING_", "SERVER_", "JAVA_TOOL"))}
    process = subprocess.Popen(
        cmd,
        cwd=data_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    handle = ServerHandle(process, port, data_dir, log_path, log_file)
    _live.add(handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not handle.running:
            handle.stop()
            raise ServerStartError(
                f"HAPI FHIR exited during start-up.\n--- server log ---\n{handle.log_text()}"
            )
        if _metadata_ok(handle.base_url, timeout=5.0):
            return handle
        time.sleep(0.5)
    handle.stop()
    raise ServerStartError(
        f"HAPI FHIR did not answer {handle.base_url}/metadata within {timeout:.0f}s.\n"
        f"--- server log ---\n{handle.log_text()}"
    )
