"""Where converted cases go: stdout, one file, a directory of bundles, Bulk Data NDJSON files, or nowhere."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson

from .errors import EXIT_INVALID_CASE, ConfigError
from .writer import dumps, ensure_dir, new_file, output_error, write_atomic

MANIFEST = "manifest.json"
ERROR_DIR = "errors"  # beside the output files, so a loader that globs *.ndjson never imports them
NDJSON_REQUEST = "fhir-adapter convert --format ndjson"

# A reference as orjson writes it (compact, no spaces), up to the uuid of a urn:uuid fullUrl. Inside
# a JSON string a quote is escaped, so this can only be a real "reference" key and its value.
_MARKER = b'"reference":"urn:uuid:'
_REFERENCE = b'"reference":"'
_UUID_CHARACTERS = frozenset("0123456789abcdefABCDEF-")


def ndjson_lines(bundle: dict[str, Any]) -> list[tuple[str, bytes]]:
    """A bundle's resources as (resourceType, NDJSON line), references between them written Type/id.

    In a Bundle the entries point at each other by urn:uuid fullUrl, which means nothing once the
    resources are loose lines in a file; a server's $import needs Type/id. Every reference to an
    entry of the same bundle is rewritten; any other reference is left as it is. For speed the
    rewrite works on the case's serialised lines joined into one (orjson never writes a raw
    newline or carriage return, so the lines split apart again), not on the dicts: the text is
    cut at each '"reference":"urn:uuid:', and the 36 characters and closing quote after each cut
    are looked up among the entries' fullUrls, once per distinct reference.
    """
    entries = bundle["entry"]
    resources = [entry["resource"] for entry in entries]
    joined = b"".join([orjson.dumps(resource, option=orjson.OPT_APPEND_NEWLINE) for resource in resources])
    pieces = joined.split(_MARKER)
    if len(pieces) > 1:
        # The last entry wins where two share a fullUrl.
        by_url = {entry.get("fullUrl"): resource for entry, resource in zip(entries, resources, strict=True)}
        targets: dict[bytes, bytes] = {}  # uuid and closing quote -> Type/id and closing quote, or b""
        out = [pieces[0]]
        for piece in pieces[1:]:
            key = piece[:37]
            target = targets.get(key)
            if target is None:
                url = f"urn:uuid:{key[:36].decode('utf-8', 'replace')}"
                resource = by_url.get(url)
                if resource is not None and key[36:] == b'"' and _is_urn_uuid(url):
                    target = f'{resource["resourceType"]}/{resource["id"]}"'.encode()
                else:
                    target = b""  # a reference to no entry of the bundle stays as it is
                targets[key] = target
            if target:
                out += (_REFERENCE, target, piece[37:])
            else:
                out += (_MARKER, piece)
        joined = b"".join(out)
    types = [resource["resourceType"] for resource in resources]
    # bytes.splitlines cuts at \n and \r only, neither of which orjson writes raw.
    return list(zip(types, joined.splitlines(keepends=True), strict=True))


def _is_urn_uuid(full_url: str) -> bool:
    """Whether a fullUrl is urn:uuid: and 36 hexadecimal digits and hyphens (what the cut looks for)."""
    return (
        len(full_url) == 45 and full_url.startswith("urn:uuid:") and _UUID_CHARACTERS.issuperset(full_url[9:])
    )


def error_outcome(result) -> dict[str, Any]:
    """A failed case as an OperationOutcome: one error issue per message line, then its warnings."""
    code = "invalid" if result.exit_code == EXIT_INVALID_CASE else "processing"
    issues = [
        {"severity": "error", "code": code, "diagnostics": line}
        for line in (result.error or "").splitlines()
        if line.strip()
    ]
    issues += [
        {"severity": "warning", "code": "informational", "diagnostics": f"{result.source}: {w}"}
        for w in result.warnings
    ]
    return {"resourceType": "OperationOutcome", "issue": issues}


class Sink(Protocol):
    def write(self, result) -> None: ...

    def fail(self, result) -> None: ...

    def close(self) -> None: ...

    def could_write(self, path: str) -> bool:
        """Whether this sink may write the file at `path` (resolved), whatever the cases are."""
        ...


class Places(Protocol):
    """Where a run's inputs are (inputs.InputPlaces): walked directories (resolved) and named files
    (their directory resolved, see inputs.located)."""

    walked: tuple[str, ...]

    def files(self) -> Iterable[str]: ...

    def walked_into(self, path: str) -> str | None: ...

    def walks_to(self, path: str) -> str | None: ...


# The files NdjsonSink writes: <resourceType>.ndjson (a FHIR type is a capitalised name) and the manifest.
_NDJSON_OUTPUT = re.compile(r"[A-Z][A-Za-z]*\.ndjson")


def _in(directory: Path, path: str) -> str | None:
    """The name of `path` (as inputs.located gives it) if it is directly inside `directory`."""
    parent, name = os.path.split(path)
    return name if parent == os.path.realpath(directory) else None


class StdoutSink:
    """One case: the bundle as pretty JSON. Several: one compact bundle per line (NDJSON)."""

    def __init__(self, single: bool):
        self.single = single
        self.out = sys.stdout.buffer

    def write(self, result) -> None:
        data = result.bundle_json if self.single else orjson.dumps(orjson.loads(result.bundle_json)) + b"\n"
        self.out.write(data)
        self.out.flush()

    def fail(self, result) -> None:
        pass  # failed cases are reported on stderr and in --errors-to

    def close(self) -> None:
        pass

    def could_write(self, path: str) -> bool:
        return False


class NullSink:
    """No output: convert --post without -o sends the bundles and writes none."""

    def write(self, result) -> None:
        pass

    def fail(self, result) -> None:
        pass

    def close(self) -> None:
        pass

    def could_write(self, path: str) -> bool:
        return False


class FileSink:
    """Exactly one case into one file."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0

    def write(self, result) -> None:
        self.count += 1
        if self.count > 1:
            raise ConfigError(f"-o {self.path}: several cases need a directory, not a file")
        write_atomic(self.path, result.bundle_json)

    def fail(self, result) -> None:
        pass  # failed cases are reported on stderr and in --errors-to

    def close(self) -> None:
        pass

    def could_write(self, path: str) -> bool:
        return _in(self.path.parent, path) == self.path.name


class BundleDirSink:
    """One <case-id>.json per case, each written atomically; the directory is made by the first.

    `inside` names the walked input directory this one lies in, if any: there a file that is not
    an earlier bundle (a case file named like a case id) is never replaced.
    """

    def __init__(self, directory: Path, inside: str | None = None):
        self.directory = directory
        self.inside = inside

    def write(self, result) -> None:
        ensure_dir(self.directory)
        target = self.directory / f"{result.case_id}.json"
        if self.inside is not None and target.exists() and not _earlier_bundle(target):
            raise ConfigError(
                f"-o {self.directory}: the bundle of case '{result.case_id}' would overwrite {target}, a file"
                f" of the input directory {_shown(self.inside)} that is not an earlier bundle; nothing was"
                " written over it: write the output outside the inputs"
            )
        write_atomic(target, result.bundle_json)

    def fail(self, result) -> None:
        pass  # failed cases are reported on stderr and in --errors-to

    def close(self) -> None:
        pass

    def could_write(self, path: str) -> bool:
        name = _in(self.directory, path)
        return name is not None and name.endswith(".json")


class NdjsonSink:
    """FHIR Bulk Data: <Type>.ndjson per resource type, one resource per line, and a manifest.

    Lines go to hidden .partial files that are renamed when the run ends, so an interrupted run
    never leaves a file that looks complete. Each case's lines are written together, after the
    whole case converted, so a failed case leaves no line behind; it becomes an OperationOutcome
    in errors/OperationOutcome.ndjson instead. manifest.json, written last, lists the files as a
    Bulk Data export's completion manifest does (transactionTime, request, requiresAccessToken,
    output [{type, url, count}], error [...]). Its urls are relative to the manifest, so the
    directory can be moved or served as it is; transactionTime is when the run started, the one
    field that differs between two runs over the same cases.
    """

    def __init__(self, directory: Path, *, now: datetime | None = None):
        self.directory = directory
        self.files: dict[str, BinaryIO] = {}
        self.counts: dict[str, int] = {}
        self.errors: BinaryIO | None = None
        self.error_count = 0
        self.started = now or datetime.now(UTC)

    def _file(self, resource_type: str) -> BinaryIO:
        fh = self.files.get(resource_type)
        if fh is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            # A large buffer: a case writes a line to each of several files, and with the
            # default 8 KB each file would go to the kernel every few cases.
            fh = open(  # noqa: SIM115
                self.directory / f".{resource_type}.ndjson.partial", "wb", buffering=1 << 20, opener=new_file
            )
            self.files[resource_type] = fh
            self.counts[resource_type] = 0
        return fh

    def write(self, result) -> None:
        try:
            for resource_type, line in result.resources:
                self._file(resource_type).write(line)
                self.counts[resource_type] += 1
        except OSError as exc:
            self._discard()
            raise output_error(self.directory / f"{resource_type}.ndjson", exc) from None

    def fail(self, result) -> None:
        try:
            if self.errors is None:
                (self.directory / ERROR_DIR).mkdir(parents=True, exist_ok=True)
                partial = self.directory / ERROR_DIR / ".OperationOutcome.ndjson.partial"
                self.errors = open(partial, "wb", opener=new_file)  # noqa: SIM115
            self.errors.write(orjson.dumps(error_outcome(result)) + b"\n")
        except OSError as exc:
            self._discard()
            raise output_error(self.directory / ERROR_DIR / "OperationOutcome.ndjson", exc) from None
        self.error_count += 1

    def _discard(self) -> None:
        """After a failed write (a full disk): remove every partial file, rename none, no manifest."""
        for resource_type, fh in self.files.items():
            with contextlib.suppress(OSError):
                fh.close()
            with contextlib.suppress(OSError):  # on a read-only filesystem even this fails
                (self.directory / f".{resource_type}.ndjson.partial").unlink(missing_ok=True)
        if self.errors is not None:
            with contextlib.suppress(OSError):
                self.errors.close()
            with contextlib.suppress(OSError):
                (self.directory / ERROR_DIR / ".OperationOutcome.ndjson.partial").unlink(missing_ok=True)
        self.files.clear()
        self.errors = None

    def close(self) -> None:
        # close() runs in the caller's `finally`: if an exception is on its way out (Ctrl-C, a
        # crash), the run did not finish, so the .partial files stay partial and no manifest is
        # written that would call them complete.
        finished = sys.exc_info()[0] is None
        try:
            for fh in self.files.values():
                fh.close()  # flushes: a full disk can show only here
            if self.errors is not None:
                self.errors.close()
        except OSError as exc:
            self._discard()
            raise output_error(self.directory, exc) from None
        if finished:
            earlier = self._earlier_files()
            for resource_type in self.files:
                os.replace(
                    self.directory / f".{resource_type}.ndjson.partial",
                    self.directory / f"{resource_type}.ndjson",
                )
            if self.errors is not None:
                os.replace(
                    self.directory / ERROR_DIR / ".OperationOutcome.ndjson.partial",
                    self.directory / ERROR_DIR / "OperationOutcome.ndjson",
                )
            write_atomic(self.directory / MANIFEST, dumps(self.manifest()))
            # After the new manifest: an interruption before it leaves the earlier run whole.
            for name in earlier:
                try:
                    (self.directory / name).unlink(missing_ok=True)
                except OSError as exc:
                    raise output_error(self.directory / name, exc) from None
        self.files.clear()
        self.errors = None

    def _earlier_files(self) -> list[str]:
        """The files an earlier run's manifest lists that this run does not write again, to remove.

        A consumer reads a directory's *.ndjson (DuckDB's read_ndjson_objects('bulk/*.ndjson'), a
        server's $import of the folder): an earlier run's Procedure.ndjson left beside this run's
        files would be read as this run's, its references to patients no longer there. Only files
        the earlier manifest names, with the names this sink writes, are removed; a directory
        without a manifest holds nothing known to be ours.
        """
        try:
            earlier = orjson.loads((self.directory / MANIFEST).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return []
        if not isinstance(earlier, dict):
            return []
        now = {f"{t}.ndjson" for t in self.files}
        if self.errors is not None:
            now.add(f"{ERROR_DIR}/OperationOutcome.ndjson")
        names = []
        for entry in [*(earlier.get("output") or []), *(earlier.get("error") or [])]:
            url = entry.get("url") if isinstance(entry, dict) else None
            if (
                isinstance(url, str)
                and url not in now
                and self.could_write(os.path.realpath(self.directory / url))
            ):
                names.append(url)  # not one written again now, nor a name this sink never writes (../x)
        return names

    def could_write(self, path: str) -> bool:
        name = _in(self.directory, path)
        if name is not None:
            return name == MANIFEST or _NDJSON_OUTPUT.fullmatch(name) is not None
        return _in(self.directory / ERROR_DIR, path) == "OperationOutcome.ndjson"

    def manifest(self) -> dict[str, Any]:
        """The Bulk Data manifest of what this sink wrote, types in alphabetical order."""
        error = []
        if self.error_count:
            error.append(
                {
                    "type": "OperationOutcome",
                    "url": f"{ERROR_DIR}/OperationOutcome.ndjson",
                    "count": self.error_count,
                }
            )
        return {
            # FHIR instant: UTC with milliseconds, as servers write it.
            "transactionTime": self.started.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{self.started.microsecond // 1000:03d}Z",
            # There was no kick-off request: name the command that made the files instead.
            "request": NDJSON_REQUEST,
            "requiresAccessToken": False,
            "output": [
                {"type": t, "url": f"{t}.ndjson", "count": self.counts[t]} for t in sorted(self.counts)
            ],
            "error": error,
        }


STDOUT = "-"
# Names that say "a file": several cases written there would silently make a directory of that name.
_FILE_SUFFIXES = (".json", ".ndjson", ".yaml", ".yml")


def _earlier_bundle(path: Path) -> bool:
    """Whether a file starts as the bundles fhir-adapter writes do (an earlier run's output)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(64).startswith(b'{\n  "resourceType": "Bundle"')
    except OSError:
        return False


def refuse_overwriting_inputs(flag: str, target: str, could_write, places: Places) -> None:
    """ConfigError if an output (`flag` `target`) could overwrite an input of the run.

    Refused before anything is converted: an output that is a named input, or that could be named
    like one (a .json input in the directory bundles go to), and an output directory that is a
    directory the run walks, where case files named like a case id would be overwritten and every
    output would be read as input by the next run. (A directory below one the run walks is
    allowed: the next run skips earlier bundles there with a note; BundleDirSink still refuses to
    replace a file there that is not one.)
    """
    where = os.path.realpath(target)
    if where in places.walked:
        raise ConfigError(
            f"{flag} {target}: this is the input directory {_shown(where)}; what convert writes there would"
            " overwrite case files named like it and be read as input by the next run; write the output"
            " outside the inputs"
        )
    clash = next((f for f in places.files() if could_write(f)), None)
    if clash is not None:
        raise ConfigError(
            f"{flag} {target}: it would overwrite the input {_shown(clash)}; write the output elsewhere"
        )


def refuse_overwriting_file(flag: str, target: str, places: Places) -> None:
    """ConfigError if one output file (--report FILE) could overwrite an input of the run: a file
    named as an input, or a file named like a case file in a directory the run walks."""
    where = Path(target)
    refuse_overwriting_inputs(flag, target, lambda path: _in(where.parent, path) == where.name, places)
    inside = places.walks_to(os.path.join(os.path.realpath(where.parent), where.name))
    if inside is not None:
        raise ConfigError(
            f"{flag} {target}: it lies in the input directory {_shown(inside)}, where a file named like it is"
            " read as a case file (and may be one); write it outside the inputs"
        )


def _shown(path: str) -> str:
    """A resolved path as the user gave it: relative to the working directory when under it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def make_sink(
    output: str | None,
    out_format: str,
    single: bool,
    *,
    post: bool = False,
    inputs: Places | None = None,
) -> Sink:
    """Choose the sink from -o and --format; nothing is created until a case is written.

    No -o means stdout, except with --post, where the bundles go to the server only (-o - asks for
    stdout as well). With `inputs` (where the run's inputs are, inputs.input_places), an output
    that could overwrite one of them is refused (see refuse_overwriting_inputs).
    """
    sink = _make_sink(output, out_format, single, post=post)
    if inputs is not None and output and output != STDOUT:
        refuse_overwriting_inputs("-o", output, sink.could_write, inputs)
        if isinstance(sink, BundleDirSink):
            sink.inside = inputs.walked_into(os.path.realpath(output))
    return sink


def _make_sink(output: str | None, out_format: str, single: bool, *, post: bool = False) -> Sink:
    if output == STDOUT:
        if out_format == "ndjson":
            raise ConfigError("-o -: --format ndjson writes one file per resource type; give -o DIR")
        return StdoutSink(single)
    if not output:
        return NullSink() if post else StdoutSink(single)
    target = Path(output)
    as_dir = out_format == "ndjson" or target.is_dir() or output.endswith(("/", os.sep)) or not single
    if not as_dir:
        return FileSink(target)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"-o {output}: several cases need a directory, and this is a file")
    if not target.exists() and target.suffix.lower() in _FILE_SUFFIXES:
        need = (
            "--format ndjson writes one file per resource type into a directory"
            if out_format == "ndjson"
            else "several cases need a directory"
        )
        raise ConfigError(
            f"-o {output}: {need}, but this names a file; give a directory"
            f" (e.g. -o {target.with_suffix('')}/)" + ("" if out_format == "ndjson" else ", or - for stdout")
        )
    return NdjsonSink(target) if out_format == "ndjson" else BundleDirSink(target)
