"""Time read back: the inverse of mapping/timing.py's put_when, for an element and its note lines.

put_when places the most precise form in `<stem>[x]` and writes what did not fit as note lines in
a fixed order: 'Between A and B.', 'At age N.', the relation ('2 years after the ...') and the
report's own words ('Timing: ...'). A relation names the item it is timed from by the words
describe_anchor gives it, so it is read with the case's own descriptions in hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..case import INTERVAL_RE
from .common import Json, Lines, number

_INTERVAL = INTERVAL_RE.strip("^$")
RELATION = re.compile(rf"(?P<interval>{_INTERVAL}) (?P<direction>after|before) (?P<anchor>.+)", re.DOTALL)
BETWEEN = re.compile(r"Between (\S+) and (\S+)\.")
TIMING = "Timing: "


def age_line(prefix: str = "At age") -> re.Pattern[str]:
    return re.compile(rf"{prefix} ([0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?)\.")


AT_AGE = age_line()
STARTED_AT_AGE = age_line("Started at age")


@dataclass
class Time:
    """What a resource says of when its item happened, in the case file's terms."""

    date: str | None = None
    age: float | int | None = None
    between: list[str] | None = None
    relative: Json | None = None
    timing: str | None = None

    def fields(self) -> Json:
        """The case-file fields, left out where nothing was said."""
        out: Json = {}
        for name in ("date", "age", "between", "relative", "timing"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def parse_relation(text: str, anchors: dict[str, str]) -> Json | None:
    """A relation as describe_anchor wrote it, as `relative: {to, after|before}`; None if it is not one."""
    found = RELATION.fullmatch(text)
    if not found:
        return None
    key = anchors.get(found.group("anchor"))
    if key is None:
        return None
    return {"to": key, found.group("direction"): found.group("interval")}


def _relation_line(line: str, anchors: dict[str, str]) -> Json | None:
    # note_lines adds a final period unless the words already end with one.
    for text in (line[:-1], line) if line.endswith(".") else (line,):
        relative = parse_relation(text, anchors)
        if relative is not None:
            return relative
    return None


def split_words(words: str, anchors: dict[str, str]) -> tuple[Json | None, str | None]:
    """'<relation>; <timing>' as put_when joins them into a `<stem>String`: the relation and the timing."""
    head = re.match(rf"(?P<interval>{_INTERVAL}) (?P<direction>after|before) ", words)
    if head:
        rest = words[head.end() :]
        for description in sorted(anchors, key=len, reverse=True):
            relative = {"to": anchors[description], head.group("direction"): head.group("interval")}
            if rest == description:
                return relative, None
            if rest.startswith(description + "; "):
                return relative, rest[len(description) + 2 :]
    return None, words


def read_time(
    resource: Json,
    stem: str,
    lines: Lines,
    anchors: dict[str, str],
    *,
    age_prefix: str = "At age",
    radiotherapy: bool = False,
    full_dates_only: bool = False,
) -> Time:
    """The time of `<stem>[x]` and the note lines put_when wrote beside it, taken from `lines`."""
    time = Time()
    if isinstance(resource.get(f"{stem}DateTime"), str):
        time.date = resource[f"{stem}DateTime"]
    period = resource.get(f"{stem}Period")
    if isinstance(period, dict) and ("start" in period or "end" in period):
        start, end = period.get("start"), period.get("end")
        if radiotherapy and end is None:
            time.date = start  # a course's start date: RadiotherapyCourseSummary takes a Period only
        elif full_dates_only and start is not None and start == end and len(start) < 10:
            time.date = start  # a partial date where us-core-1 wants a day: the Period covering it
        elif start is not None and end is not None:
            time.between = [start, end]
    age = resource.get(f"{stem}Age")
    if isinstance(age, dict):
        time.age = number(age.get("value"))
    if isinstance(resource.get(f"{stem}String"), str):
        time.relative, time.timing = split_words(resource[f"{stem}String"], anchors)
    between = lines.match(BETWEEN)
    if between:
        time.between = [between.group(1), between.group(2)]
    at_age = lines.match(age_line(age_prefix))
    if at_age:
        time.age = number(float(at_age.group(1)))
    if lines.items and time.relative is None:
        relative = _relation_line(lines.items[0], anchors)
        if relative is not None:
            lines.items.pop(0)
            time.relative = relative
    if time.timing is None:
        time.timing = lines.after(TIMING)
    return time
