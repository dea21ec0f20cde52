"""Extensions the reader does not know, on the resources it read: listed, never dropped without a word.

A server or another tool may add extensions to what we wrote (a note's author, a local flag), and
a modifier extension may change what a resource means (a condition refuted, a statement negated).
The readers take the extensions the mapping writes and foreign.py reads; every other one, at any
depth, is listed beside the case with where it sits, a modifier extension with that warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..mapping import common
from ..mapping.procedure import (
    EXT_RT_DOSE,
    EXT_RT_MODALITY,
    EXT_RT_MODALITY_TECHNIQUE,
    EXT_RT_SESSIONS,
    EXT_RT_TECHNIQUE,
)
from .common import Json, ReadContext, label
from .foreign import EXT_US_CORE_ETHNICITY

# What the mapping writes (each is read back, or made again from the case: the round trip proves
# it) and what foreign.py reads. Their parts (relative urls such as "text") are theirs to read.
KNOWN = frozenset(
    [
        *(value for name, value in vars(common).items() if name.startswith("EXT_")),
        EXT_RT_DOSE,
        EXT_RT_MODALITY,
        EXT_RT_MODALITY_TECHNIQUE,
        EXT_RT_SESSIONS,
        EXT_RT_TECHNIQUE,
        EXT_US_CORE_ETHNICITY,
    ]
)


def _unknown(node: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """(element path, url, is a modifier) of each unknown extension in `node`, outermost only."""
    if isinstance(node, list):
        for item in node:
            yield from _unknown(item, path)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key in ("extension", "modifierExtension") and isinstance(value, list):
            for ext in value:
                url = ext.get("url") if isinstance(ext, dict) else None
                if url not in KNOWN:
                    yield f"{where}[{url}]", str(url), key == "modifierExtension"
        elif isinstance(value, dict | list):
            yield from _unknown(value, where)


def list_unknown_extensions(ctx: ReadContext, resources: list[Json]) -> None:
    """Add to ctx.unplaced each unknown extension of the resources read (not those listed whole)."""
    listed_whole = {line.split(": ", 1)[0] for line in ctx.unplaced}
    seen = set(ctx.unplaced)
    for resource in resources:
        if label(resource) in listed_whole:
            continue
        for element, _url, modifier in _unknown(resource, ""):
            why = (
                "a modifier extension this reader does not know: it may change what the resource"
                " means, which the case file does not say; check the resource"
                if modifier
                else "has no place in the case format"
            )
            line = f"{label(resource)} {element}: {why}"
            if line not in seen:
                seen.add(line)
                ctx.unplaced.append(line)
