"""NDJSON read line by line: each line that is not blank is parsed on its own and named by its number.

Every reader of NDJSON (push and verify's bundles, validate's resources, export's resources) takes
its lines from here, so blank lines, numbering and the message of a line that is not JSON are the
same everywhere, and a file is never held whole to be split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class JsonLine:
    number: int  # the line's number in its file, from 1
    raw: bytes  # the line as read, with its end of line (the first without a byte order mark)
    doc: Any = None  # the parsed value; None when the line is not JSON
    error: str | None = None  # why the line is not JSON (the parser's message)


def json_lines(lines: Iterable[bytes], first: int = 1) -> Iterator[JsonLine]:
    """The non-blank lines of `lines` (an open binary file, or a list of lines), parsed one at a time.

    A UTF-8 byte order mark before the first line (as Windows editors save) is left out of it, as
    case files and convert's NDJSON leave it out; orjson refused the line for it.
    """
    for number, raw in enumerate(lines, first):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if not raw.strip():
            continue
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield JsonLine(number, raw, error=str(exc))
            continue
        yield JsonLine(number, raw, doc)
