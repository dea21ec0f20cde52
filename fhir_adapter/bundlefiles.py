"""Bundles read from files for push and verify: JSON documents or NDJSON, one bundle at a time.

A file holds either one Bundle (a JSON document, pretty-printed or not) or NDJSON with one
Bundle per line, as `convert` writes several cases to stdout. NDJSON is read line by line, so
memory stays flat however many bundles a file holds, and a bad line is named by its number.
"""

from __future__ import annotations

import glob
import io
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import ConfigError
from .jsonlines import json_lines
from .push import Item, outbox_key


def iter_bundles(paths: Iterable[str], stdin: IO[bytes] | None = None) -> Iterator[Item]:
    """Bundles from files, directories (their *.json, recursively), globs, or - for stdin; lazily."""
    for path in paths:
        if path == "-":
            yield from _bundles_in("<stdin>", stdin if stdin is not None else sys.stdin.buffer)
            continue
        for name in _files_named(path):
            try:
                fh = open(name, "rb")  # noqa: SIM115 - closed below, after the generator is drained
            except OSError as exc:
                raise ConfigError(f"{name}: cannot read the file: {exc.strerror}") from None
            with fh:
                yield from _bundles_in(name, fh)


def _files_named(path: str) -> list[str]:
    if os.path.isdir(path):
        files = sorted(str(p) for p in Path(path).rglob("*.json") if not p.name.startswith("."))
        if not files:
            raise ConfigError(f"{path}: no *.json bundle in it")
        return files
    if any(ch in path for ch in "*?[") and not os.path.exists(path):
        files = sorted(glob.glob(path, recursive=True))
        if not files:
            raise ConfigError(f"{path}: no file matches")
        return files
    return [path]


def _bundles_in(name: str, fh: IO[bytes]) -> Iterator[Item]:
    """The bundles of one open file, in order: a JSON document, or NDJSON read line by line."""
    stem = Path(name).stem if name != "<stdin>" else "stdin"
    lines = json_lines(fh)
    first = next(lines, None)  # the first line that is not blank decides the form of the file
    if first is None:
        raise ConfigError(f"{name}: the file is empty")
    if first.error is not None:
        # Not a whole document on its first line: one JSON document over several lines.
        try:
            doc = orjson.loads(first.raw + fh.read())
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{name}: not a JSON Bundle or NDJSON of Bundles ({exc})") from None
        yield _item(name, stem, doc, where=name)
        return
    yield _item(name, stem, first.doc, where=f"{name}:{first.number}" if _more(fh) else name)
    for line in lines:
        if line.error is not None:
            raise ConfigError(
                f"{name}:{line.number}: not a JSON Bundle ({line.error}); NDJSON has one Bundle per line"
            )
        yield _item(name, stem, line.doc, where=f"{name}:{line.number}")


def _more(fh: IO[bytes]) -> bool:
    """Whether a seekable file has more after this point; NDJSON lines are then named by number."""
    try:
        if not fh.seekable():
            return True
        return fh.tell() < os.fstat(fh.fileno()).st_size
    except (OSError, io.UnsupportedOperation, ValueError):
        return True


def _item(name: str, stem: str, doc: Any, where: str) -> Item:
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise ConfigError(f"{where}: not a FHIR Bundle (resourceType is not Bundle)")
    return Item(outbox_key(doc, stem), name, doc)
