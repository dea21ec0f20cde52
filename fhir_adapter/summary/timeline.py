"""The timeline: an SVG per kind of time (calendar dates, ages), and the events stated only in words."""

from __future__ import annotations

import math
from datetime import date

from ..visible import html_text as escape
from .extract import LANE_NAMES, LANES, Event

WIDTH = 960
LABEL_W = 330  # the column of lane names and event labels
PLOT_X0, PLOT_X1 = LABEL_W + 10, WIDTH - 20
ROW_H = 24
TOP = 14
AXIS_H = 34

_LANE_ORDER = {lane: i for i, (lane, _) in enumerate(LANES)}


def _ordered(events: list[Event]) -> list[Event]:
    """By lane, then by time within a lane (the bundle's order where times are equal or missing)."""

    def key(e: Event) -> tuple:
        when = e.when.start or "" if e.when.kind == "date" else e.when.age_low or 0.0
        return (_LANE_ORDER.get(e.lane, len(LANES)), when)

    return sorted(events, key=key)


def _ordinal(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def _tip(event: Event, evidence: list[str]) -> str:
    lines = [event.label, f"When: {event.when.label}"]
    if event.detail:
        lines.append(event.detail)
    lines.extend(f"Evidence: “{s}”" for s in evidence)
    return escape("\n".join(lines))


def _rows(events: list[Event], place, evidence_of, klass: str) -> tuple[list[str], int]:
    """The rows of a panel: lane name, event label, and the mark `place` draws for its time."""
    parts: list[str] = []
    y = TOP
    last_lane = None
    for event in _ordered(events):
        if event.lane != last_lane:
            if last_lane is not None:
                parts.append(f'<line class="lane-rule" x1="0" x2="{WIDTH}" y1="{y - 3}" y2="{y - 3}"/>')
            parts.append(
                f'<text class="lane-name" x="4" y="{y + 16}">{escape(LANE_NAMES.get(event.lane, event.lane))}</text>'
            )
            last_lane = event.lane
        mark = place(event, y)
        parts.append(
            f'<g class="event {klass} lane-{escape(event.lane)}" data-resource="{escape(event.resource_id)}"'
            f' data-lane="{escape(event.lane)}" data-when="{escape(event.when.kind)}">'
            f"<title>{_tip(event, evidence_of(event.resource_id))}</title>"
            f'<text class="event-label" x="124" y="{y + 16}">{escape(_clip(event.label, 34))}</text>'
            f"{mark}</g>"
        )
        y += ROW_H
    return parts, y


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _svg(label: str, desc: str, body: list[str], height: int, klass: str) -> str:
    return (
        f'<svg class="timeline-panel {klass}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
        f' role="img" aria-label="{escape(label)}"><title>{escape(label)}</title><desc>{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _year_ticks(first: int, last: int) -> list[int]:
    span = last - first
    step = 1 if span <= 12 else 2 if span <= 24 else 5 if span <= 60 else 10
    return [y for y in range(first, last + 1) if (y - first) % step == 0]


def date_panel(events: list[Event], evidence_of) -> str:
    """Events with calendar dates on a calendar axis; a year is drawn as the whole year."""
    first_year = min(int(e.when.start[:4]) for e in events)
    last_year = max(int(e.when.end[:4]) for e in events)
    d0 = date(first_year, 1, 1).toordinal()
    d1 = date(last_year + 1, 1, 1).toordinal()

    def x(ordinal: float) -> float:
        return PLOT_X0 + (ordinal - d0) / (d1 - d0) * (PLOT_X1 - PLOT_X0)

    def place(event: Event, y: int) -> str:
        when = event.when
        a, b = x(_ordinal(when.start)), x(_ordinal(when.end) + 1)
        if when.open_end:
            b = PLOT_X1
        w = max(b - a, 4)
        precision = "day" if when.start == when.end else "span"
        klass = "open" if when.open_end else precision
        out = f'<rect class="mark {klass}" x="{a:.1f}" y="{y + 5}" width="{w:.1f}" height="{ROW_H - 10}" rx="2"/>'
        note = when.label + (" (no end stated)" if when.open_end and "no end" not in when.label else "")
        tx = a + w + 4 if a + w < PLOT_X1 - 150 else a - 4
        anchor = "start" if tx > a else "end"
        out += f'<text class="when" x="{tx:.1f}" y="{y + 16}" text-anchor="{anchor}">{escape(note)}</text>'
        return out

    body, y = _rows(events, place, evidence_of, "dated")
    body.extend(
        _axis(y, [(x(date(t, 1, 1).toordinal()), str(t)) for t in _year_ticks(first_year, last_year + 1)])
    )
    desc = f"{len(events)} event(s) with calendar dates, {first_year} to {last_year}."
    return _svg("Timeline by calendar date", desc, body, y + AXIS_H, "by-date")


def age_panel(events: list[Event], evidence_of) -> str:
    """Events given as the patient's age, on an age axis; an age in whole years spans that year of life."""
    low = math.floor(min(e.when.age_low for e in events))
    high = math.ceil(max(e.when.age_high for e in events))
    low, high = max(low - 1, 0), high + 1

    def x(age: float) -> float:
        return PLOT_X0 + (age - low) / (high - low) * (PLOT_X1 - PLOT_X0)

    def place(event: Event, y: int) -> str:
        when = event.when
        a = x(when.age_low)
        b = PLOT_X1 if when.open_end else x(when.age_high)
        w = max(b - a, 4)
        out = (
            f'<rect class="mark span" x="{a:.1f}" y="{y + 5}" width="{w:.1f}" height="{ROW_H - 10}" rx="2"/>'
        )
        tx = a + w + 4 if a + w < PLOT_X1 - 120 else a - 4
        anchor = "start" if tx > a else "end"
        out += (
            f'<text class="when" x="{tx:.1f}" y="{y + 16}" text-anchor="{anchor}">{escape(when.label)}</text>'
        )
        return out

    body, y = _rows(events, place, evidence_of, "aged")
    span = high - low
    step = 1 if span <= 15 else 5 if span <= 60 else 10
    ticks = [(x(a), str(a)) for a in range(low, high + 1) if a % step == 0 or span <= 15]
    body.extend(_axis(y, ticks, "age (years)"))
    desc = f"{len(events)} event(s) placed by the patient's age, from {low} to {high} years."
    return _svg("Timeline by age", desc, body, y + AXIS_H, "by-age")


def untimed_panel(events: list[Event], evidence_of) -> str:
    """Events whose time is stated only in words, or not at all: listed, with the words as stated."""

    def place(event: Event, y: int) -> str:
        if event.when.kind == "text":
            words = f"“{event.when.label}” (as stated)"
            klass = "stated"
        else:
            words = "time not stated"
            klass = "unknown"
        return f'<text class="when {klass}" x="{PLOT_X0}" y="{y + 16}">{escape(words)}</text>'

    body, y = _rows(events, place, evidence_of, "untimed")
    desc = f"{len(events)} event(s) with a time stated in words or not stated."
    return _svg("Events not placed on an axis", desc, body, y + 6, "untimed")


def _axis(y: int, ticks: list[tuple[float, str]], name: str = "") -> list[str]:
    parts = [f'<line class="axis" x1="{PLOT_X0}" x2="{PLOT_X1}" y1="{y + 4}" y2="{y + 4}"/>']
    for tx, text in ticks:
        parts.append(
            f'<line class="tick" x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP - 4}" y2="{y + 8}"/>'
            f'<text class="tick-label" x="{tx:.1f}" y="{y + 20}" text-anchor="middle">{escape(text)}</text>'
        )
    if name:
        parts.append(f'<text class="axis-name" x="4" y="{y + 20}">{escape(name)}</text>')
    return parts


def render_timeline(events: list[Event], evidence_of) -> str:
    """Every event of a case, in the panel its kind of time belongs to."""
    if not events:
        return '<p class="empty">The bundle holds no events to place in time.</p>'
    dated = [e for e in events if e.when.kind == "date"]
    aged = [e for e in events if e.when.kind == "age"]
    rest = [e for e in events if e.when.kind in ("text", "none")]
    parts = []
    if dated:
        parts.append(
            '<h3>By calendar date</h3><p class="hint">A date given only as a year or month is drawn'
            " as the whole year or month it may mean.</p>" + date_panel(dated, evidence_of)
        )
    if aged:
        parts.append(
            '<h3>By age</h3><p class="hint">An age stated in whole years is drawn as that year of'
            " life (aged 45: from the 45th birthday to the 46th).</p>" + age_panel(aged, evidence_of)
        )
    if rest:
        parts.append(
            '<h3>Not placed in time</h3><p class="hint">Times stated only in words are quoted as'
            " stated; the others were not given.</p>" + untimed_panel(rest, evidence_of)
        )
    return "".join(parts)
