"""Writes output files atomically, so an interrupted run never leaves half a bundle behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson


def dumps(obj: object) -> bytes:
    """FHIR JSON as fhir-adapter writes it: UTF-8, two-space indent, keys in mapping order, final newline."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
