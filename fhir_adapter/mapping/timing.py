"""Time as case reports give it: dates, ages, ranges, and events placed relative to others.

A relative time becomes a FHIR value only where the arithmetic is exact at the precision the
report has: a year plus whole years is a year, a month plus whole months or years is a month, an
age plus whole years is an age. Anything else keeps the report's relation as text. No day, month
or age is ever made more precise than the source.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..case import INTERVAL_RE, RelativeTime, _Timed
from .common import Json, MappingContext, number_text

_INTERVAL = re.compile(INTERVAL_RE)


@dataclass
class When:
    """What is known of when an item happened, and the words that could not become a value."""

    date: str | None = None
    age: float | None = None
    period: tuple[str, str] | None = None
    texts: list[str] = field(default_factory=list)
    # The report's own words (`timing`), also the last of `texts`: in a note they are marked as
    # such, so that a reader tells them from the item's own note.
    timing: str | None = None

    @property
    def empty(self) -> bool:
        return self.date is None and self.age is None and self.period is None and not self.texts

    def note_lines(self) -> list[str]:
        """`texts` as note lines: a relation as a sentence, the report's timing words after 'Timing:'."""
        out = []
        for i, text in enumerate(self.texts):
            if self.timing is not None and i == len(self.texts) - 1:
                out.append(f"Timing: {text}")  # verbatim: the words are the report's
            else:
                line = text[0].upper() + text[1:]
                out.append(line if line.endswith(".") else f"{line}.")
        return out


def _interval(text: str) -> tuple[float, str]:
    match = _INTERVAL.fullmatch(text)
    assert match is not None  # the case model checked the pattern
    return float(match.group(1)), match.group(3)


def shift_date(date: str, amount: float, unit: str) -> str | None:
    """A partial date moved by an interval, at the precision both allow; None if not exact."""
    if not amount.is_integer():
        return None
    n = int(amount)
    year = int(date[:4])
    if unit == "year":
        # A year stays a year: "two years after 2015" is 2017, not a day in it.
        shifted = year + n
        return f"{shifted:04d}" if 1000 <= shifted <= 9999 else None
    if unit == "month" and len(date) >= 7:
        months = year * 12 + int(date[5:7]) - 1 + n
        shifted_year, month = divmod(months, 12)
        return f"{shifted_year:04d}-{month + 1:02d}" if 1000 <= shifted_year <= 9999 else None
    return None


def shift_age(age: float, amount: float, unit: str) -> float | None:
    """An age moved by whole years; None for any other interval (it would add precision)."""
    if unit != "year" or not amount.is_integer():
        return None
    # Whole years added to an age with a fraction: no float noise (7.88 + 1 is 8.88, not 8.879999...).
    shifted = round(age + amount, 9)
    return shifted if shifted > 0 else None


def _timed(ctx: MappingContext) -> dict[str, tuple[str, _Timed]]:
    """Every timed item of the case by the key others refer to it by, worked out once per case."""
    found = ctx.memo.get("timed")
    if found is None:
        found = ctx.memo["timed"] = {}
        for path, key, item in ctx.case.timed_items():
            found.setdefault(key, (path, item))  # the first item of that key, in case-file order
    return found


def _plain_description(key: str, path: str, item: _Timed) -> str:
    field_name = path.split("[", 1)[0]
    if field_name == "primary_cancers":
        return f"the diagnosis of the primary cancer '{key}' ({item.site})"
    if field_name == "metastases":
        return f"the finding of the {item.site} metastasis"
    if field_name in ("procedures", "medications"):
        return f"the {item.name}" + (" start" if field_name == "medications" else "")
    return f"the disease status '{key}'"


def describe_anchor(ctx: MappingContext, key: str) -> str:
    """How a relative time names the item it is timed from.

    Two items described alike (two scalp metastases, two tamoxifen entries) are told apart by
    their ids, so that the words always name one item.
    """
    described = ctx.memo.get("anchors")
    if described is None:
        plain = {k: _plain_description(k, path, item) for k, (path, item) in _timed(ctx).items()}
        counts = Counter(plain.values())
        described = ctx.memo["anchors"] = {
            k: text if counts[text] == 1 else f"{text} '{k}'" for k, text in plain.items()
        }
    return described.get(key, f"'{key}'")


def relation_text(ctx: MappingContext, rel: RelativeTime) -> str:
    direction, interval = ("after", rel.after) if rel.after is not None else ("before", rel.before)
    return f"{interval} {direction} {describe_anchor(ctx, rel.to)}"


def when_of(ctx: MappingContext, item: _Timed, _seen: frozenset[int] = frozenset()) -> When:
    """Everything the case says about when `item` happened, relative times resolved where exact."""
    # Only an item's own answer is remembered: one worked out inside another item's chain stops
    # where that chain would loop, so it can differ, and remembering it would make an item's time
    # depend on which item was mapped first.
    # The memo holds the item beside its answer: an id is only unique while its object lives, and
    # a temporary item (a staging parsed from words) freed after mapping could lend its id to another.
    memo_key = ("when", id(item))
    if not _seen and memo_key in ctx.memo and ctx.memo[memo_key][0] is item:
        return ctx.memo[memo_key][1]
    when = When(date=item.date, age=item.age)
    if item.between is not None:
        when.period = (item.between[0], item.between[1])
    rel = item.relative
    if rel is not None:
        when.texts.append(relation_text(ctx, rel))
        anchor = _anchor_item(ctx, rel.to)
        if anchor is not None and id(anchor) not in _seen:
            base = when_of(ctx, anchor, _seen | {id(item)})
            amount, unit = _interval(rel.after or rel.before)
            if rel.before is not None:
                amount = -amount
            if when.date is None and base.date is not None:
                when.date = shift_date(base.date, amount, unit)
            if when.age is None:
                base_age = base.age
                if base_age is None:
                    # From a primary, the age its Condition shows: the age at diagnosis may be it.
                    base_age = primary_age_fallback(ctx, anchor)
                if base_age is not None:
                    when.age = shift_age(base_age, amount, unit)
    if item.timing:
        when.texts.append(item.timing)
        when.timing = item.timing
    if not _seen:
        ctx.memo[memo_key] = (item, when)
    return when


def primary_age_fallback(ctx: MappingContext, item: _Timed) -> float | None:
    """patient.age_at_diagnosis where it times a primary: the first, and any other that gives no time.

    None for an item that is not a primary. The age at diagnosis is the age at the first one.
    """
    fallback = ctx.case.patient.age_at_diagnosis
    if fallback is None:
        return None
    for index, primary in enumerate(ctx.case.primary_cancers):
        if primary is item:
            return fallback if index == 0 or (item.date is None and item.age is None) else None
    return None


def _anchor_item(ctx: MappingContext, key: str) -> _Timed | None:
    found = _timed(ctx).get(key)
    return found[1] if found else None


def put_when(
    resource: Json,
    ctx: MappingContext,
    stem: str,
    when: When,
    *,
    age: bool = True,
    string: bool = True,
    full_dates_only: bool = False,
) -> list[str]:
    """Set `<stem>[x]` from what is known, most precise form first; return what must go to a note.

    A date and an age are both facts: the element takes one, the other is returned as a note line.
    full_dates_only: the element takes a dateTime only to the day (us-core-1); a partial date then
    becomes a Period covering it.
    """
    leftover: list[str] = []
    placed = False
    if when.date is not None:
        if full_dates_only and len(when.date) < 10:
            resource[f"{stem}Period"] = {"start": when.date, "end": when.date}
        else:
            resource[f"{stem}DateTime"] = when.date
        placed = True
    elif when.period is not None:
        resource[f"{stem}Period"] = {"start": when.period[0], "end": when.period[1]}
        placed = True
    if when.period is not None and when.date is not None:
        leftover.append(f"Between {when.period[0]} and {when.period[1]}.")
    if when.age is not None:
        if not placed and age:
            resource[f"{stem}Age"] = ctx.age(when.age)
            placed = True
        else:
            leftover.append(f"At age {number_text(when.age)}.")
    if when.texts and not placed and string:
        # A relation starts with its number; the report's words stay as written.
        resource[f"{stem}String"] = "; ".join(when.texts)
    else:
        leftover.extend(when.note_lines())
    return leftover
