"""Writes output files atomically, so an interrupted run or a full disk never leaves half a file behind.

Every file fhir-adapter writes (bundles, NDJSON, reports, error files, the outbox) is created
with mode 0666 less the umask, as any other file the user creates; set a umask of 077 to keep
case data private to its owner.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import orjson

from .errors import OutputError

FILE_MODE = 0o666  # less the umask, as open() does


def dumps(obj: object) -> bytes:
    """FHIR JSON as fhir-adapter writes it: UTF-8, two-space indent, keys in mapping order, final newline."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n"


def output_error(path: Path | str, exc: OSError) -> OutputError:
    """The message for a file that could not be written."""
    return OutputError(
        f"{path}: cannot write the file: {exc.strerror or exc}; nothing was left there half-written"
    )


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename.

    A full disk or any other failure raises OutputError and leaves `path` as it was. A killed
    process leaves at most a hidden `.name.*.tmp` file. (No fsync: that guards against power
    loss, at a cost per file that batch output cannot pay.)
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
