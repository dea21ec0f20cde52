"""A draft the case model accepts: what it refuses leaves the draft for the review list.

Both backends end here. A draft is a proposal a registrar checks, so a fact the case model refuses
(a value of the wrong form, a metastasis dated before its primary, a time relative to nothing) is
never written into the case file and never silently lost: it is taken out, and the review list says
what it was and why. Checks of the whole case name their field first in their message
(`metastases[1].date: 2022-05 is before ...`), which is how the field to take out is found.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from ..case import Case
from ..casefile import dotted

# A field path as the case model's whole-case checks write it at the start of a message.
_NAMED = re.compile(r"^((?:[a-z_]+(?:\[\d+\])?)(?:\.[a-z_]+(?:\[\d+\])?)*): (.+)$")
_STEP = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")
_PREFIX = "Value error, "


def fit_to_case_model(
    case: dict[str, Any],
    review: list[dict[str, Any]],
    evidence: list[dict[str, Any]] | None = None,
    tries: int = 25,
) -> None:
    """Take out, one at a time, what `Case` refuses, onto `review`; drop the evidence of what left."""
    for _ in range(tries):
        try:
            Case.model_validate(case)
            return
        except ValidationError as exc:
            error = exc.errors()[0]
        loc = [p for p in error["loc"] if p != "__root__"]
        why = "not a valid value of the case format"
        if not loc:
            loc, why = _named(str(error.get("msg", "")))
        if not loc or not _take_out(case, loc, why, review, evidence):
            return


def _named(message: str) -> tuple[list[str | int], str]:
    """The field a whole-case check names first, and what it says of it."""
    first = message.removeprefix(_PREFIX).split("\n", 1)[0]
    match = _NAMED.match(first)
    if match is None:
        return [], ""
    loc: list[str | int] = []
    for step in _STEP.finditer(match.group(1)):
        loc.append(step.group(1))
        if step.group(2) is not None:
            loc.append(int(step.group(2)))
    return loc, f"the case format refuses it: {match.group(2)}"[:400]


def _take_out(
    case: dict[str, Any],
    loc: list[str | int],
    why: str,
    review: list[dict[str, Any]],
    evidence: list[dict[str, Any]] | None,
    up: bool = True,
) -> bool:
    if len(loc) < 2:
        return False  # the case, the patient, the primaries as a whole stay: a draft needs them
    node: Any = case
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    last = loc[-1]
    present = (isinstance(node, dict) and last in node) or (
        isinstance(node, list) and isinstance(last, int) and last < len(node)
    )
    if present:
        value = node.pop(last)
    elif up:
        # The object as a whole is refused ('give exactly one of after or before'): take it out.
        return _take_out(case, loc[:-1], why, review, evidence, up=False)
    else:
        return False
    path = dotted(loc)
    review.append({"fact": f"{path}: {value!r}"[:300], "why": why})
    if evidence is not None:
        _forget(evidence, loc, path)
    return True


def _forget(evidence: list[dict[str, Any]], loc: list[str | int], path: str) -> None:
    """Drop the evidence of a path taken out; renumber the evidence of later items of its list."""
    kept = [e for e in evidence if not (e["path"] == path or e["path"].startswith((path + ".", path + "[")))]
    if isinstance(loc[-1], int):
        items = dotted(loc[:-1])
        later = re.compile(re.escape(items) + r"\[(\d+)\]")
        for e in kept:
            m = later.match(e["path"])
            if m and int(m.group(1)) > loc[-1]:
                e["path"] = f"{items}[{int(m.group(1)) - 1}]" + e["path"][m.end() :]
    evidence[:] = kept
