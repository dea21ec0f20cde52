"""A JSON report written as the run goes: one entry per case spooled to disk, the summary put on top at the end.

A report of a million cases would not fit in memory as one list; here each case's entry goes to a
hidden spool file beside the report, and the report itself appears only when the run ends, by a
rename, as every other output does (see writer.py). A run that ends early leaves no report.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import IO, Any

import orjson

from .writer import FILE_MODE, dumps, output_error


class ReportFile:
    """`{...head, "cases": [entry, ...]}`, with the head known only when the run ends."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._spool: IO[bytes] | None = None
        self._spool_path = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.cases"
        self.count = 0

    def add(self, entry: dict[str, Any]) -> None:
        """Spool one case's entry."""
        try:
            if self._spool is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._spool_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
                self._spool = os.fdopen(fd, "w+b")
            if self.count:
                self._spool.write(b",\n")
            self._spool.write(b"    " + orjson.dumps(entry))
        except OSError as exc:
            self.discard()
            raise output_error(self.path, exc) from None
        self.count += 1

    def close(self, head: dict[str, Any]) -> None:
        """Write the report: the head's keys, then "cases" with every spooled entry."""
        prefix = dumps(head).rstrip()
        assert prefix.endswith(b"}")
        prefix = prefix[:-1].rstrip()
        glue = b"," if prefix != b"{" else b""
        tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.tmp"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                out.write(prefix + glue + b'\n  "cases": [')
                if self._spool is not None:
                    out.write(b"\n")
                    self._spool.flush()
                    self._spool.seek(0)
                    shutil.copyfileobj(self._spool, out)
                    out.write(b"\n  ")
                out.write(b"]\n}\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.discard()
            raise output_error(self.path, exc) from None
        self.discard()

    def discard(self) -> None:
        """Remove the spool (the report itself is never half-written)."""
        if self._spool is not None:
            with contextlib.suppress(OSError):
                self._spool.close()
            self._spool = None
        with contextlib.suppress(OSError):
            self._spool_path.unlink(missing_ok=True)
