"""Start a throwaway sekmet-fhir (FHIR R4) server on 127.0.0.1 for integration tests."""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

ENV_PYTHON = "FHIR_ADAPTER_TEST_SERVER_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV_PYTHONS = (REPO_ROOT / ".venv-sekmet" / "bin" / "python",)
APP_FACTORY = "sekmet.main:app_factory"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3
# Variables sekmet reads as overrides, plus ones that would leak our venv into its interpreter.
_SCRUBBED_ENV = (
    "SEKMET_CONFIG",
    "SEKMET_BASE_URL",
    "SEKMET_DB",
    "SEKMET_PUBLIC_URL",
    "SEKMET_PORT",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "PYTHONSTARTUP",
)

_live: set[ServerHandle] = set()


class ServerStartError(RuntimeError):
    """The sekmet-fhir server could not be started or never answered /metadata."""


class ServerNotInstalledError(ServerStartError):
    """No interpreter with sekmet-fhir installed could be found."""


def find_server_python(python: str | None = None) -> str | None:
    """Return the interpreter to run sekmet-fhir with, or None when none is configured/present."""
    if python:
        return python
    env = os.environ.get(ENV_PYTHON)
    if env:
        return env
    for candidate in DEFAULT_VENV_PYTHONS:
        if candidate.exists():
            return str(candidate)
    return None


def free_port() -> int:
    """Ask the kernel for a currently unused TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge extra into base recursively (extra wins) and return base."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def server_settings(data_dir: Path, port: int, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the sekmet settings for a loopback-only, auth-free, simulator-free test server."""
    base_url = f"http://127.0.0.1:{port}/fhir"
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        # Location headers, fullUrls and paging links come from base_url: it needs the real port.
        "base_url": base_url,
        "public_url": f"http://127.0.0.1:{port}",
        "data_dir": str(data_dir),
        "db_path": str(data_dir / "sekmet.db"),
        "own_private_key_path": str(data_dir / "keys" / "sekmet_private.pem"),
        "server_auth": {"types": ["none"]},
        "validation": {"inbound": "strict", "validator_jar": None},
        "simulator": {"enabled": False},
        "log_inbound": False,
        "peers": {},
    }
    return _deep_merge(settings, overrides or {})


def _child_env(config_path: Path) -> dict[str, str]:
    """Environment for the server process: ours minus sekmet overrides and venv leakage."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["SEKMET_CONFIG"] = str(config_path)
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the server when the thread that started it dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _metadata_ok(base_url: str, timeout: float) -> bool:
    """Return True when GET [base]/metadata answers 200 with a CapabilityStatement."""
    req = urllib.request.Request(f"{base_url}/metadata", headers={"Accept": "application/fhir+json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            if resp.status != 200:
                return False
            return json.loads(resp.read()).get("resourceType") == "CapabilityStatement"
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServerHandle:
    """A running sekmet-fhir subprocess; use .base_url, stop with .stop() or a with-block."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        data_dir: Path,
        log_path: Path,
        log_file: IO[bytes],
    ) -> None:
        """Wrap an already started server process."""
        self.process = process
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self._log_file = log_file
        self.root_url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.root_url}/fhir"

    @property
    def running(self) -> bool:
        """True while the server process has not exited."""
        return self.process.poll() is None

    def log_text(self, tail: int = 8000) -> str:
        """Return the last `tail` characters of the server's combined stdout/stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after `timeout`); safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if not self._log_file.closed:
            self._log_file.close()
        _live.discard(self)

    def __enter__(self) -> ServerHandle:
        """Return self for use in a with-block."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server when the with-block ends."""
        self.stop()

    def __repr__(self) -> str:
        """Show the base URL and process state."""
        return f"<ServerHandle {self.base_url} pid={self.process.pid} running={self.running}>"


def _launch(python: str, data_dir: Path, port: int, overrides: Mapping[str, Any] | None) -> ServerHandle:
    """Write the config and spawn uvicorn with sekmet's app factory on 127.0.0.1:port."""
    config_path = data_dir / "sekmet-settings.json"  # JSON is valid YAML, so no yaml dependency here
    config_path.write_text(json.dumps(server_settings(data_dir, port, overrides), indent=2))
    log_path = data_dir / "server.log"
    # A file, not a pipe: an unread pipe would eventually block the server.
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed by ServerHandle.stop()
    cmd = [
        python,
        "-m",
        "uvicorn",
        APP_FACTORY,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "info",
        "--timeout-graceful-shutdown",
        "3",
    ]
    try:
        process = subprocess.Popen(
            cmd,
            cwd=data_dir,
            env=_child_env(config_path),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    except OSError as e:
        log_file.close()
        raise ServerNotInstalledError(f"cannot run {python!r}: {e}; {_install_hint()}") from e
    handle = ServerHandle(process, port, data_dir, log_path, log_file)
    _live.add(handle)
    return handle


def _install_hint() -> str:
    """Explain how to provide an interpreter with sekmet-fhir."""
    return (
        "install it with `python3 -m venv .venv-sekmet && "
        ".venv-sekmet/bin/pip install sekmet-fhir==0.1.1` "
        f"in the repo root, or point {ENV_PYTHON} at a python that has sekmet-fhir"
    )


def start_server(
    data_dir: Path,
    python: str | None = None,
    timeout: float = STARTUP_TIMEOUT,
    settings: Mapping[str, Any] | None = None,
) -> ServerHandle:
    """Start sekmet-fhir on a free 127.0.0.1 port with data in data_dir; wait for /metadata."""
    interpreter = find_server_python(python)
    if interpreter is None:
        raise ServerNotInstalledError(f"no interpreter with sekmet-fhir found; {_install_hint()}")
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    last_log = ""
    for _attempt in range(PORT_ATTEMPTS):
        handle = _launch(interpreter, data_dir, free_port(), settings)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not handle.running:
                break
            if _metadata_ok(handle.base_url, timeout=2.0):
                return handle
            time.sleep(0.1)
        else:
            handle.stop()
            raise ServerStartError(
                f"sekmet-fhir did not answer {handle.base_url}/metadata within {timeout:.0f}s "
                f"(python={interpreter}).\n--- server log ---\n{handle.log_text()}"
            )
        handle.stop()
        last_log = handle.log_text()
        if "address already in use" not in last_log.lower():
            break  # a real failure, not a lost race for the port
    if "No module named" in last_log:
        raise ServerNotInstalledError(
            f"{interpreter} cannot import sekmet/uvicorn; {_install_hint()}\n--- server log ---\n{last_log}"
        )
    raise ServerStartError(
        f"sekmet-fhir exited during startup (python={interpreter}).\n--- server log ---\n{last_log}"
    )


@atexit.register
def _stop_all() -> None:
    """Stop every server still running when the interpreter exits."""
    for handle in list(_live):
        handle.stop(timeout=3.0)
