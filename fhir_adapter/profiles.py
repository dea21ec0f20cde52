"""Profile conformance of FHIR R4 output: mCODE 4.0.0 checked by HAPI FHIR's own validator.

HAPI's FhirInstanceValidator runs in one JVM for a whole run (tools/hapi-validator, built by its
install.sh): each Bundle, resource or NDJSON line goes to it as one line of JSON on stdin and its
findings come back as one line on stdout, so a run of any size pays the JVM start once. Where
Java or the validator is missing, the Node checker (tools/mcode-validate) runs instead, and the
run says which checks that leaves out.
"""

from __future__ import annotations

import glob
import logging
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .errors import ConfigError
from .jsonlines import JsonLine, json_lines

logger = logging.getLogger(__name__)

TOOLS = Path(__file__).resolve().parents[1] / "tools"
HAPI_HOME = TOOLS / "hapi-validator"  # holds target/hapi-validator.jar and packages/*.tgz
NODE_TOOL = TOOLS / "mcode-validate"
INSTALL = "bash tools/hapi-validator/install.sh"
ENGINES = ("auto", "hapi", "node")

# What the Node checker leaves out (tools/mcode-validate/README.md, "What is NOT checked").
NODE_SKIPS = (
    "terminology bindings on CodeableConcept and Coding (only required bindings of plain codes"
    " are checked), slices recognised by profile, rules inside non-extension slices, and the"
    " target profiles of references"
)

_COMMENT = re.compile(r"/\*.*?\*/")  # HAPI writes /*Type/id*/ into locations
_ENTRY = re.compile(r"^Bundle\.entry\[(\d+)\]\.resource(?=$|[.\[])")


@dataclass(frozen=True)
class Finding:
    """One thing the validator says about one resource of one file."""

    file: str
    severity: str  # "error", "warning" or "information"
    message: str
    resource: str | None = None  # "Condition/<id>" (the type alone when it has no id)
    entry: int | None = None  # index in Bundle.entry; None for the file's top-level resource
    line: int | None = None  # 1-based line of an NDJSON file
    path: str | None = None  # FHIRPath from the resource named, e.g. Condition.clinicalStatus
    location: str | None = None  # FHIRPath from the top of the file, e.g. Bundle.entry[1].resource...
    message_id: str | None = None
    # Set when an error became a warning because the check needs what is not available offline
    # (US Core definitions, SNOMED CT or LOINC content); says what is missing.
    not_checked: str | None = None
    details: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")

    def as_dict(self) -> dict:
        out = {
            "file": self.file,
            "line": self.line,
            "entry": self.entry,
            "resource": self.resource,
            "severity": self.severity,
            "path": self.path,
            "location": self.location,
            "message": self.message,
            "messageId": self.message_id,
        }
        if self.not_checked:
            out["notCheckedOffline"] = self.not_checked
        if self.details:
            out["details"] = list(self.details)
        return out


@dataclass
class Checked:
    """The findings for one unit sent to the validator: a file, or one line of an NDJSON file."""

    file: str
    line: int | None
    resources: int
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Tally:
    """What a validation run found, counted as the findings come; the report and closing line."""

    keep_findings: bool = False  # hold every finding for the JSON report
    files: set[str] = field(default_factory=set)
    resources: int = 0
    errors: int = 0
    warnings: int = 0
    offline: int = 0  # findings about checks that cannot be made offline
    findings: list[dict] = field(default_factory=list)

    def add(self, checked: Checked) -> None:
        self.files.add(checked.file)
        self.resources += checked.resources
        for f in checked.findings:
            if f.is_error:
                self.errors += 1
            elif f.severity == "warning":
                self.warnings += 1
            if f.not_checked:
                self.offline += 1
            if self.keep_findings:
                self.findings.append(f.as_dict())

    def report(self, validator: HapiValidator | NodeValidator) -> dict:
        return {
            "validator": validator.label,
            "engine": validator.name,
            "skipped": validator.note,
            "files": len(self.files),
            "resources": self.resources,
            "errors": self.errors,
            "warnings": self.warnings,
            "notCheckedOffline": self.offline,
            "findings": self.findings,
        }

    def line(self, validator: HapiValidator | NodeValidator, elapsed: float) -> str:
        text = (
            f"{len(self.files)} file(s), {self.resources} resource(s): {self.errors} error(s),"
            f" {self.warnings} warning(s)"
        )
        if self.offline:
            text += (
                f", {self.offline} of them checks that cannot be made offline (US Core definitions,"
                " SNOMED CT and LOINC content)"
            )
        if validator.start_seconds:
            text += f"; validator start {validator.start_seconds:.1f}s, checking {elapsed:.1f}s"
        return text + "."


def finding_line(f: Finding) -> str:
    """file[:line]: Type/id (entry n): severity: FHIRPath: message [why it could not be checked]."""
    where = f.file if f.line is None else f"{f.file}:{f.line}"
    if f.resource:
        where += f": {f.resource}"
    if f.entry is not None:
        where += f" (entry {f.entry})"
    line = f"{where}: {f.severity}: {f.path + ': ' if f.path else ''}{f.message}"
    if f.not_checked:
        line += f" [not checked offline: {f.not_checked}]"
    return line


@dataclass(frozen=True)
class _Unit:
    file: str
    line: int | None
    doc: dict | None  # the parsed resource; None when the unit could not be read
    problem: str | None = None  # why it is not FHIR JSON

    @property
    def resources(self) -> int:
        if self.doc is None:
            return 0
        if self.doc.get("resourceType") == "Bundle":
            return sum(1 for e in self.doc.get("entry") or () if isinstance(e, dict) and "resource" in e)
        return 1


# ------------------------------------------------------------------------------------- inputs


def _files(paths: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """(file, named): files, directories (*.json and *.ndjson, recursively) and globs."""
    for path in paths:
        if path == "-":
            yield path, True
        elif os.path.isdir(path):
            found = sorted(
                str(p)
                for p in Path(path).rglob("*")
                if p.suffix in (".json", ".ndjson") and p.is_file() and not p.name.startswith(".")
            )
            if not found:
                raise ConfigError(f"{path}: no *.json or *.ndjson file in it")
            yield from ((f, False) for f in found)
        elif not os.path.exists(path) and any(ch in path for ch in "*?["):
            found = sorted(glob.glob(path, recursive=True))
            if not found:
                raise ConfigError(f"{path}: no file matches")
            yield from ((f, True) for f in found)
        elif not os.path.exists(path):  # a named pipe or /dev/fd/N (process substitution) is read too
            raise ConfigError(f"{path}: no such file")
        else:
            yield path, True


def iter_units(paths: Iterable[str]) -> Iterator[_Unit]:
    """Each Bundle or resource of the inputs, lazily: a JSON file is one, an NDJSON file one per line.

    An NDJSON file is read a line at a time, so memory stays flat however long it is. In a
    directory, JSON that is not a FHIR resource (a Bulk manifest) is passed over.
    """
    for name, named in _files(paths):
        shown = "<stdin>" if name == "-" else name
        try:
            if name.endswith(".ndjson"):
                with open(name, "rb") as handle:
                    yield from _line_units(shown, json_lines(handle))
                continue
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read the file: {exc.strerror}") from None
        try:
            whole = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # perhaps NDJSON, as convert writes several bundles to stdout
            yield from _line_units(shown, json_lines(raw.splitlines()))
            continue
        if isinstance(whole, dict) and "resourceType" in whole:
            yield _Unit(shown, None, whole)
        elif named:
            yield _Unit(shown, None, None, "not a FHIR resource (no resourceType)")
        else:
            logger.info("%s: skipped, not a FHIR resource", shown)


def _line_units(shown: str, lines: Iterator[JsonLine]) -> Iterator[_Unit]:
    empty = True
    for line in lines:
        empty = False
        if line.error is not None:
            yield _Unit(shown, line.number, None, f"not JSON: {line.error}")
        elif isinstance(line.doc, dict) and "resourceType" in line.doc:
            yield _Unit(shown, line.number, line.doc)
        else:
            yield _Unit(shown, line.number, None, "not a FHIR resource (no resourceType)")
    if empty:
        yield _Unit(shown, None, None, "the file is empty")


def _name(doc: dict | None) -> str | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        return None
    rid = doc.get("id")
    return f"{doc['resourceType']}/{rid}" if isinstance(rid, str) else doc["resourceType"]


def _entry_resource(doc: dict, entry: int) -> dict | None:
    entries = doc.get("entry") if doc.get("resourceType") == "Bundle" else None
    if isinstance(entries, list) and 0 <= entry < len(entries) and isinstance(entries[entry], dict):
        return entries[entry].get("resource")
    return None


def _unreadable(unit: _Unit) -> Checked:
    return Checked(unit.file, unit.line, 0, [Finding(unit.file, "error", unit.problem or "", line=unit.line)])


# ------------------------------------------------------------------------------------- HAPI


@dataclass(frozen=True)
class HapiInstall:
    """Where the validator's parts are: java, the jar (its lib/ beside it) and the FHIR packages."""

    java: str
    jar: Path
    packages: tuple[Path, ...]


def find_java() -> str | None:
    """JAVA_HOME's java, else the first java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def find_hapi(home: Path | None = None) -> HapiInstall:
    """The installed HAPI validator; ConfigError saying what is missing and how to install it."""
    home = Path(home) if home else HAPI_HOME
    java = find_java()
    if java is None:
        raise ConfigError(
            "Java is not installed (no JAVA_HOME, no java on PATH); the HAPI validator needs Java 17"
        )
    jar = home / "target" / "hapi-validator.jar"
    packages = tuple(sorted((home / "packages").glob("*.tgz")))
    if not jar.is_file():
        raise ConfigError(f"the HAPI validator is not built ({jar} is missing); install it with: {INSTALL}")
    if not any(p.name.startswith("hl7.fhir.us.mcode-") for p in packages):
        raise ConfigError(
            f"the mCODE package is missing from {home / 'packages'}; install it with: {INSTALL}"
        )
    return HapiInstall(java, jar, packages)


class HapiValidator:
    """One JVM running HAPI's FhirInstanceValidator for a whole run; close() (or `with`) ends it."""

    name = "hapi"

    def __init__(self, install: HapiInstall):
        command = [install.java, "-XX:+UseSerialGC", "-jar", str(install.jar)]
        for package in install.packages:
            command += ["--package", str(package)]
        started = time.monotonic()
        logger.debug("starting %s", " ".join(command))
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._stderr: deque[str] = deque(maxlen=30)
        threading.Thread(target=self._drain, daemon=True).start()
        ready = self._answer()
        if ready is None or not ready.get("ready"):
            self.close()
            raise ConfigError(f"the HAPI validator did not start: {self._last_words()}")
        self.start_seconds = time.monotonic() - started  # JVM start and package loading
        self.load_seconds = float(ready.get("loadSeconds") or 0.0)
        self.version = ready.get("hapi")
        self.packages = list(ready.get("packages") or [])
        self.note = None

    @property
    def label(self) -> str:
        return f"HAPI FHIR {self.version} FhirInstanceValidator ({', '.join(self.packages)})"

    def _drain(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr.append(line)
            logger.debug("hapi-validator: %s", line)

    def _last_words(self) -> str:
        self._proc.poll()
        lines = [line for line in self._stderr if line.strip()]
        status = "" if self._proc.returncode is None else f"exit status {self._proc.returncode}; "
        return status + (" | ".join(lines[-5:]) or "no message")

    def _answer(self) -> dict | None:
        line = self._proc.stdout.readline()
        return orjson.loads(line) if line else None

    def check(self, paths: Iterable[str], information: bool = False) -> Iterator[Checked]:
        """Checked units of the inputs in order. Reading and sending run on a second thread, so
        the JVM validates one unit while this one turns the last answer into findings. Left early,
        the answers still owed are read and dropped, so the next check() starts in step."""
        pending: queue.Queue = queue.Queue(maxsize=64)
        done = object()
        stop = threading.Event()

        def feed() -> None:
            try:
                for unit in iter_units(paths):
                    if stop.is_set():
                        break
                    pending.put(unit)
                    if unit.doc is not None:
                        self._proc.stdin.write(orjson.dumps(unit.doc) + b"\n")
                        self._proc.stdin.flush()
            except BrokenPipeError:
                pass  # the JVM ended; the reader says why
            except BaseException as exc:  # handed to the reader, which raises it
                pending.put(exc)
            finally:
                pending.put(done)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            while (unit := pending.get()) is not done:
                if isinstance(unit, BaseException):
                    raise unit
                if unit.doc is None:
                    yield _unreadable(unit)
                    continue
                answer = self._answer()
                if answer is None:
                    raise ConfigError(f"the HAPI validator stopped: {self._last_words()}")
                findings = [_hapi_finding(unit, issue) for issue in answer["issues"]]
                if not information:
                    findings = [f for f in findings if f.severity != "information"]
                yield Checked(unit.file, unit.line, unit.resources, findings)
        finally:
            stop.set()
            owed = 0
            while feeder.is_alive() or not pending.empty():
                try:
                    unit = pending.get(timeout=0.1)
                except queue.Empty:
                    continue
                owed += isinstance(unit, _Unit) and unit.doc is not None
            for _ in range(owed):
                if self._answer() is None:
                    break

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> HapiValidator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hapi_finding(unit: _Unit, issue: dict) -> Finding:
    location = _COMMENT.sub("", issue.get("location") or "") or None
    entry, resource, path = None, unit.doc, location
    m = _ENTRY.match(location or "")
    if m:
        entry = int(m.group(1))
        resource = _entry_resource(unit.doc, entry) or {}
        path = (resource.get("resourceType") or "Resource") + location[m.end() :]
    return Finding(
        file=unit.file,
        severity=issue.get("severity") or "error",
        message=issue.get("message") or "",
        resource=_name(resource),
        entry=entry,
        line=unit.line,
        path=path,
        location=location,
        message_id=issue.get("messageId"),
        not_checked=issue.get("notCheckedOffline"),
        details=tuple(issue.get("details") or ()),
    )


# ------------------------------------------------------------------------------------- Node


def find_node() -> list[str]:
    """The command that runs the Node checker; ConfigError saying what is missing."""
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node is not on PATH")
    if not (NODE_TOOL / "node_modules" / "@medplum" / "core").is_dir():
        raise ConfigError(f"the Node checker is not installed; run: npm install --prefix {NODE_TOOL}")
    return [node, str(NODE_TOOL / "validate.mjs")]


class NodeValidator:
    """The Node checker (tools/mcode-validate): no Java needed, and no terminology bindings."""

    name = "node"
    label = "the Node mCODE checker (tools/mcode-validate)"
    start_seconds = load_seconds = 0.0
    BATCH = 500  # files per node process

    def __init__(self, command: list[str], why: str | None = None):
        self._command = command
        self.note = f"the Node checker skips {NODE_SKIPS}"
        if why:
            self.note = (
                f"HAPI's validator is not available ({why}), so the Node checker ran instead; " + self.note
            )

    def close(self) -> None:
        """Nothing to end: each batch is its own node process."""

    def __enter__(self) -> NodeValidator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check(self, paths: Iterable[str], information: bool = False) -> Iterator[Checked]:
        """Checked units in order: the files go to node in batches, each NDJSON line as one file."""
        batch: list[_Unit] = []
        for unit in iter_units(paths):
            if unit.doc is None:
                yield from self._run(batch)
                batch = []
                yield _unreadable(unit)
                continue
            batch.append(unit)
            if len(batch) >= self.BATCH:
                yield from self._run(batch)
                batch = []
        yield from self._run(batch)

    def _run(self, units: list[_Unit]) -> Iterator[Checked]:
        if not units:
            return
        with tempfile.TemporaryDirectory(prefix="fhir-adapter-validate-") as tmp:
            files = []
            for n, unit in enumerate(units):
                path = Path(tmp) / f"{n}.json"
                path.write_bytes(orjson.dumps(unit.doc))
                files.append(str(path))
            proc = subprocess.run([*self._command, *files], capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            raise ConfigError(f"the Node checker failed: {proc.stderr.strip()[-500:]}")
        errors: dict[int, list[dict]] = {}
        for error in orjson.loads(proc.stdout)["errors"]:
            errors.setdefault(int(Path(error["file"]).stem), []).append(error)
        for n, unit in enumerate(units):
            yield Checked(
                unit.file, unit.line, unit.resources, [_node_finding(unit, e) for e in errors.get(n, [])]
            )


def _node_finding(unit: _Unit, error: dict) -> Finding:
    entry = error.get("entry")
    path = error.get("path")
    rtype = error.get("resourceType") or ""
    location = path
    if entry is not None and path and path.startswith(rtype):
        location = f"Bundle.entry[{entry}].resource{path[len(rtype) :]}"
    resource = _entry_resource(unit.doc, entry) if entry is not None else unit.doc
    return Finding(
        file=unit.file,
        severity="error",
        message=error.get("message") or "",
        resource=_name(resource),
        entry=entry,
        line=unit.line,
        path=path,
        location=location,
    )


# ------------------------------------------------------------------------------------- choice


def open_validator(engine: str = "auto", home: Path | None = None) -> HapiValidator | NodeValidator:
    """The validator for a run: HAPI where it is installed; with "auto", else the Node checker.

    The caller closes it (a HapiValidator holds a JVM).
    """
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    if engine == "node":
        return NodeValidator(find_node())
    try:
        install = find_hapi(home)
    except ConfigError as exc:
        if engine == "hapi":
            raise
        try:
            return NodeValidator(find_node(), why=str(exc))
        except ConfigError as node_exc:
            raise ConfigError(
                f"no profile validator is available: {exc}; and the Node checker: {node_exc}"
            ) from None
    return HapiValidator(install)
