"""Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4): no network port, no extra package."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("FHIR_ADAPTER_CHROMIUM", "/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
)
TIMEOUT = 20.0


class BrowserError(Exception):
    """The browser did not start or did not answer."""


def chromium_path() -> str | None:
    """The Chromium to use, if there is one."""
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


@dataclass
class PageVisit:
    """What one page load showed: every request the page made and every console or security message."""

    url: str
    requests: list[str] = field(default_factory=list)
    log: list[dict] = field(default_factory=list)
    session: str = ""
    target: str = ""


class Browser:
    """One Chromium for a test session; pages are opened in fresh targets and closed after use."""

    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:
            # The protocol pipe is fds 3 (commands in) and 4 (replies out) in the browser; copy both
            # out of the way first, since either may itself be 3 or 4.
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send("Target.setDiscoverTargets", {"discover": False})

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._events.append(message)
                self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a protocol command and wait for its result."""
        with self._cond:
            self._next_id += 1
            msg_id = self._next_id
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while msg_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise BrowserError(f"no answer to {method} from Chromium")
                self._cond.wait(left)
            reply = self._replies.pop(msg_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _wait_event(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while True:
                for i, event in enumerate(self._events):
                    if event.get("method") == method and event.get("sessionId") == session:
                        return self._events.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"Chromium sent no {method}")
                self._cond.wait(left)

    def _session_events(self, session: str) -> list[dict]:
        with self._cond:
            mine = [e for e in self._events if e.get("sessionId") == session]
            self._events = [e for e in self._events if e.get("sessionId") != session]
        return mine

    def open(self, path: Path, width: int = 1280, height: int = 900, scripts: bool = False) -> PageVisit:
        """Load a file in a new page, with scripts off unless asked, logging every request it makes."""
        url = path.resolve().as_uri()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Network.enable", "Log.enable", "Runtime.enable"):
            self.send(method, {}, session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        self.send("Emulation.setScriptExecutionDisabled", {"value": not scripts}, session)
        self._session_events(session)  # what about:blank did is not the page's
        self.send("Page.navigate", {"url": url}, session)
        self._wait_event("Page.loadEventFired", session)
        visit = PageVisit(url, session=session, target=target)
        self.collect(visit)
        return visit

    def collect(self, visit: PageVisit) -> None:
        """Add the requests and log entries the page has made since the last look."""
        for event in self._session_events(visit.session):
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Log.entryAdded":
                visit.log.append(params["entry"])
            elif method == "Runtime.consoleAPICalled" or method == "Runtime.exceptionThrown":
                visit.log.append(params)

    def evaluate(self, visit: PageVisit, expression: str):
        """The value of a JavaScript expression in the page (run by the test through DevTools, not by the page)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            visit.session,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}...: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, visit: PageVisit, full_page: bool = True) -> bytes:
        """A PNG of the page (the whole page, not just the viewport, unless asked)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics", {}, visit.session)["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params, visit.session)["data"])

    def print_pdf(self, visit: PageVisit) -> bytes:
        """The page printed to PDF (the print stylesheet applies)."""
        return base64.b64decode(self.send("Page.printToPDF", {}, visit.session)["data"])

    def emulate_print(self, visit: PageVisit, on: bool = True) -> None:
        """Lay the page out with the print stylesheet (for DOM checks) or back to screen."""
        self.send("Emulation.setEmulatedMedia", {"media": "print" if on else ""}, visit.session)

    def close_page(self, visit: PageVisit) -> None:
        self.send("Target.closeTarget", {"targetId": visit.target})

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)
