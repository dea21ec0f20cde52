"""Writes output files atomically, so an interrupted run or a full disk never leaves half a file behind.

Every file fhir-adapter writes (bundles, NDJSON, reports, error files, drafts, templates, the
outbox) goes through `write_atomic`, and every directory it makes through `ensure_dir`: any
failure is an OutputError naming the path (exit 9), never a traceback. Each file is created with
mode 0666 less the umask, as any other file the user creates; set a umask of 077 to keep case
data private to its owner. A symbolic link where an output goes is replaced by the new file,
never written through.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import orjson

from .errors import OutputError, printable

FILE_MODE = 0o666  # less the umask, as open() does


def dumps(obj: object) -> bytes:
    """FHIR JSON as fhir-adapter writes it: UTF-8, two-space indent, keys in mapping order, final newline."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n"


def output_error(path: Path | str, exc: OSError) -> OutputError:
    """The message for a file that could not be written."""
    return OutputError(
        f"{printable(path)}: cannot write the file: {exc.strerror or exc}; nothing was left there half-written"
    )


def ensure_dir(path: Path | str) -> Path:
    """Make a directory (and its parents) for output; OutputError if it cannot be made."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(
            f"{printable(path)}: cannot make the directory: a file of that name is there"
        ) from None
    except OSError as exc:
        raise OutputError(f"{printable(path)}: cannot make the directory: {exc.strerror or exc}") from None
    return path


def new_file(path: str, flags: int) -> int:
    """An opener for open(path, "wb", opener=new_file): the file is created new (O_EXCL), after
    whatever was at `path` (a planted link) is removed, so no link is ever written through. For
    streams renamed into place when whole (NDJSON's .partial files)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename.

    A full disk or any other failure raises OutputError and leaves `path` as it was. A killed
    process leaves at most a hidden `.name.*.tmp` file. A link at `path` is replaced, not
    followed: the temporary file is created new (O_EXCL) and renamed over it. (No fsync: that
    guards against power loss, at a cost per file that batch output cannot pay.)
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
        _discard(tmp)
        raise output_error(path, exc) from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    """Remove a temporary file after a failure; on a read-only filesystem even that fails, and is moot."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)
