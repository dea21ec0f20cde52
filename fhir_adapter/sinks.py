"""Where converted cases go: stdout, one file, a directory of bundles, Bulk Data NDJSON files, or nowhere."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import BinaryIO, Protocol

import orjson

from .errors import ConfigError
from .writer import output_error, write_atomic


class Sink(Protocol):
    def write(self, result) -> None: ...

    def close(self) -> None: ...


class StdoutSink:
    """One case: the bundle as pretty JSON. Several: one compact bundle per line (NDJSON)."""

    def __init__(self, single: bool):
        self.single = single
        self.out = sys.stdout.buffer

    def write(self, result) -> None:
        data = result.bundle_json if self.single else orjson.dumps(orjson.loads(result.bundle_json)) + b"\n"
        self.out.write(data)
        self.out.flush()

    def close(self) -> None:
        pass


class NullSink:
    """No output: convert --post without -o sends the bundles and writes none."""

    def write(self, result) -> None:
        pass

    def close(self) -> None:
        pass


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

    def close(self) -> None:
        pass


class BundleDirSink:
    """One <case-id>.json per case, each written atomically; the directory is made by the first."""

    def __init__(self, directory: Path):
        self.directory = directory

    def write(self, result) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.directory / f"{result.case_id}.json", result.bundle_json)

    def close(self) -> None:
        pass


class NdjsonSink:
    """FHIR Bulk Data: <Type>.ndjson per resource type, one resource per line.

    Lines go to hidden .partial files that are renamed when the run ends, so an interrupted run
    never leaves a file that looks complete. Each case's lines are written together, after the
    whole case converted, so a failed case leaves no line behind.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: dict[str, BinaryIO] = {}

    def _file(self, resource_type: str) -> BinaryIO:
        fh = self.files.get(resource_type)
        if fh is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fh = open(self.directory / f".{resource_type}.ndjson.partial", "wb")  # noqa: SIM115
            self.files[resource_type] = fh
        return fh

    def write(self, result) -> None:
        try:
            for resource_type, line in result.resources:
                self._file(resource_type).write(line)
        except OSError as exc:
            self._discard()
            raise output_error(self.directory / f"{resource_type}.ndjson", exc) from None

    def _discard(self) -> None:
        """After a failed write (a full disk): remove every partial file, rename none."""
        for resource_type, fh in self.files.items():
            with contextlib.suppress(OSError):
                fh.close()
            (self.directory / f".{resource_type}.ndjson.partial").unlink(missing_ok=True)
        self.files.clear()

    def close(self) -> None:
        try:
            for fh in self.files.values():
                fh.close()  # flushes: a full disk can show only here
        except OSError as exc:
            self._discard()
            raise output_error(self.directory, exc) from None
        for resource_type in self.files:
            os.replace(
                self.directory / f".{resource_type}.ndjson.partial",
                self.directory / f"{resource_type}.ndjson",
            )
        self.files.clear()


STDOUT = "-"
# Names that say "a file": several cases written there would silently make a directory of that name.
_FILE_SUFFIXES = (".json", ".ndjson", ".yaml", ".yml")


def make_sink(output: str | None, out_format: str, single: bool, *, post: bool = False) -> Sink:
    """Choose the sink from -o and --format; nothing is created until a case is written.

    No -o means stdout, except with --post, where the bundles go to the server only (-o - asks for
    stdout as well).
    """
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
