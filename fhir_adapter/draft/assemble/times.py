"""Times a metastasis's own clause gives it, counted from the event the clause names.

metastases.py times a metastasis by its sentence and its episode; a metastasis told inside a
flashback takes the flashback's interval ('Twenty-five years earlier she had had a mastectomy ...;
13 years after the operation bone metastases appeared'). When the metastasis's own clause says how
long after a named event it appeared, that is its time: the bone metastases came 13 years after the
mastectomy, not 25 years before the presentation.
"""

from __future__ import annotations

import re

from ...terminology import fold
from .. import values
from ..values import NUMBER
from .place import DIAGNOSED, INTERVAL, CaseDraft, interval_of, interval_text

# 'after the operation', 'after her mastectomy', 'after the first diagnosis': an event named after the interval
_NAMED_EVENT = re.compile(r"^\s*(?:the|her|his|this|that)\s+(?:\w+\s+)?\w+", re.I)


# 'After 21 years in complete remission the disease returned as a cutaneous metastasis': a time said with the
# preposition first, counted from the cancer's first course.
_AFTER_SPAN = re.compile(
    rf"^\s*(?:after|following)\s+{NUMBER}[- ](year|month)s?\b(?:\s+(?:in|of)\s+[\w\s-]{{0,30}}?)?"
    r"(?=,|\s+(?:the|her|his|she|he|it)\b)",
    re.I,
)


def own_intervals(b: CaseDraft) -> None:
    """A metastasis whose clause opens with 'N years after <event>' is timed from that event."""
    for met in b.mets.values():
        pos = met["_first_pos"]
        lo = b.clause_start(pos)
        head = b.text[lo:pos]
        span = _AFTER_SPAN.match(head)
        if span and "relative" not in met and "date" not in met and b.primary.get("id"):
            b.put(met, "relative", {"to": b.primary["id"], "after": interval_text(span.group(1), span.group(2))},
                  lo + span.start(1), lo + span.end(2), "interval-opening-clause", 0.6)  # fmt: skip
            continue
        found = [iv for iv in INTERVAL.finditer(head) if iv.group(3).lower() == "after"]
        if not found:
            continue
        iv = found[-1]
        rest = head[iv.end() :]
        if not _NAMED_EVENT.match(rest) or re.search(r"[,;:]", rest):
            continue
        to = b.anchor_for("after" + rest, met["_first"], exclude=met)
        if to is None or to == met.get("id"):
            continue
        rel = {"to": to, "after": interval_of(iv)}
        if met.get("relative") == rel:
            continue
        b.evidence[:] = [e for e in b.evidence if not (e.item is met and e.field in ("relative", "date"))]
        met.pop("date", None)
        b.put(
            met,
            "relative",
            rel,
            lo + iv.start(),
            lo + iv.end(),
            "interval-of-own-clause",
            0.7,
            overwrite=True,
        )


# Words that move the story past the time an episode opened with: 'Eight months after the operation the cancer
# recurred in the axillary nodes. ... Metastases were then found in the lungs.'
_MOVED_ON = re.compile(
    r"\b(?:then|later|subsequently|thereafter|afterwards?|eventually|in\s+time|over\s+time|went\s+on\s+to)\b",
    re.I,
)


# A sentence after the one that opened the episode telling that a treatment was over: 'After the hormonal therapy was
# interrupted she began to bleed', 'Once the chemotherapy had been completed ...': what follows came after that time
_TREATMENT_ENDED = re.compile(
    r"\b(?:after|once|when)\s+(?:the|her|his|this|that)\s+(?:[\w-]+\s+){0,2}?(?:therapy|treatment|chemotherapy|"
    r"radiotherapy|course|regimen)\s+(?:was|had\s+been|were|had)\s+(?:interrupted|stopped|completed|finished|ended|"
    r"discontinued|withdrawn)\b",
    re.I,
)
# 'A scan then showed a mass of the adrenal': the next test of one work-up, not a later time
_NEXT_TEST = re.compile(
    r"(?<!was\s)(?<!were\s)\bthen\s+(?:showed|revealed|demonstrated|disclosed|found|confirmed|detected)\b",
    re.I,
)


def later_in_episode(b: CaseDraft) -> None:
    """A metastasis told in a later sentence than the interval or date that opened its episode, in a clause saying
    the story moved on ('then', 'later', 'went on to have'), came after that time by an amount the text does not
    give: the episode's time is not its own."""
    for met in b.mets.values():
        field = "relative" if "relative" in met else "date"
        ev = b.ev_of(met, field)
        if ev is None or ev.rule not in ("episode-interval", "episode-date") or ev.sentence == met["_first"]:
            continue
        pos = met["_first_pos"]
        _lo, hi = b.clause_chain(pos)
        # the sentence up to the metastasis's clause: 'She was then given radiotherapy, but metastases spread to
        # her bones' moves on in the clause before the one that tells the metastasis
        clause = b.text[b.sentences[b.sent_of(pos)][0] : hi]
        between = [
            j for j in b.story() if ev.sentence < j < met["_first"] and not INTERVAL.search(b.sent_text(j))
        ]
        told = [b.sent_text(j) for j in between] + [b.text[b.sentences[met["_first"]][0] : pos]]
        ended = any(_TREATMENT_ENDED.search(t) for t in told)
        if not ended and (
            not _MOVED_ON.search(clause) or INTERVAL.search(clause) or _NEXT_TEST.search(clause)
        ):
            continue
        # the age told at the presentation is not the age at a time the story has moved past
        aged = b.ev_of(met, "age")
        drop = {field, "age"} if aged is not None and aged.rule == "presenting-age" else {field}
        b.evidence[:] = [e for e in b.evidence if not (e.item is met and e.field in drop)]
        for key in drop:
            met.pop(key, None)


# 'eighteen months after the liver metastases were diagnosed', 'two years after the discovery of the brain deposits':
# an interval counted from a metastasis the words after it name
_AFTER_A_METASTASIS = re.compile(
    r"^(?:after|following)\s+(?:(?:the|her|his|its)\s+)?(?:(?:diagnosis|discovery|detection|finding|appearance|"
    r"resection|removal)\s+of\s+(?:the\s+|her\s+|his\s+)?)?(?P<what>[\w\s-]{0,40}?)\b(?:metastas[ie]s|"
    r"metastatic\s+(?:disease|lesions?)|secondar(?:y|ies)|deposits?)\b",
    re.I,
)


def _containers(b: CaseDraft, site: str) -> set[str]:
    """The sites of the body maps that hold a site ('brain' for 'frontal lobe'), folded."""
    return {fold(t) for c in b.terminology.ancestors("body_sites", site)[1:] for t in c.terms}


def counted_from_a_metastasis(b: CaseDraft) -> None:
    """An interval counted from a metastasis the text names ('18 months after the liver metastases were found') is
    that metastasis's own time no more than the primary's: what its episode tells is timed from that metastasis, and
    the metastasis the interval counts from keeps no time from it."""
    for ep in b.episodes:
        if ep.relative is None:
            continue
        _interval, words, start, end = ep.relative
        named = _AFTER_A_METASTASIS.match(words)
        if named is None or not named.group("what").strip():
            continue
        base = end - len(words.split()[0])  # where the words start in the text: at 'after'
        what_lo, what_hi = base + named.start("what"), base + named.end("what")
        i = b.sent_of(start)
        terms = {fold(x.target.term) for x in b.in_sentence(i, "SITE") if what_lo <= x.start < what_hi}
        anchor = [met for met in b.mets.values() if fold(met["site"]) in terms]
        if (
            not anchor
        ):  # 'after the brain metastasis was found', of the metastasis drafted in the frontal lobe
            anchor = [met for met in b.mets.values() if terms & _containers(b, met["site"])]
        if len(anchor) != 1 or not anchor[0].get("id"):
            continue
        source = anchor[0]
        for item in list(b.mets.values()) + b.procedures + b.meds:
            ev = b.ev_of(item, "relative")
            if ev is None or ev.rule != "episode-interval" or ev.start != start:
                continue
            b.evidence[:] = [e for e in b.evidence if not (e.item is item and e.field == "relative")]
            rel = dict(item.pop("relative"), to=source["id"])
            if item is source:
                continue
            b.put(item, "relative", rel, ev.start, ev.end, "interval-from-a-metastasis", 0.7, overwrite=True)


# a clause that hangs the spread off the cancer just named: '..., which had spread to the brain and the nodes'
_SPREAD_OF_IT = re.compile(
    r"^[\s,;(]*(?:which|that)\s+(?:had\s+|has\s+)?(?:already\s+|by\s+then\s+)?"
    r"(?:spread|metastasi[sz]ed|extended|reached|gone\s+on\s+to\s+involve)\b",
    re.I,
)


def spread_told_apart(b: CaseDraft) -> None:
    """'Five years earlier she was diagnosed with breast cancer, which had spread to the brain': the interval dates
    the diagnosis; the spread, told in a clause of its own hung off the cancer, is given no time by it."""
    for met in b.mets.values():
        ev = b.ev_of(met, "relative")
        if ev is None or ev.rule != "interval-before-presentation" or "before" not in met.get("relative", {}):
            continue
        pos = met["_first_pos"]
        lo = next((a for a, c, _ in b.clauses.get(met["_first"], ()) if a <= pos < c), b.clause_start(pos))
        if ev.end > lo or not _SPREAD_OF_IT.match(b.text[lo : met["_first_pos"]]):
            continue
        b.evidence[:] = [e for e in b.evidence if not (e.item is met and e.field == "relative")]
        del met["relative"]


# What follows an interval's 'after' when it counts from the end of a treatment or from a span free of disease: 'two
# months after the maintenance treatment ended', 'more than three years after that treatment was completed', 'seven
# years after the patient had been free of disease', 'nine years after her breast cancer had been treated'. The case
# file holds no item for that end, so the time is no relative time of the cancer's diagnosis.
_FROM_AN_END = re.compile(
    r"^\s+(?:(?:the|her|his|that|this|its|all)\s+(?:[\w-]+\s+){0,3}?(?:treatments?|therapy|therapies|"
    r"chemotherapy|radiotherapy|course)\s+(?:had\s+)?(?:ended|finished|stopped|was\s+(?:completed|finished|"
    r"stopped|over)|had\s+been\s+(?:completed|finished|stopped))\b"
    r"|(?:the\s+patient|she|he)\s+(?:had\s+)?(?:been|become|remained)\s+(?:free\s+of\s+(?:the\s+)?disease|"
    r"disease[- ]free|in\s+remission)\b"
    r"|(?:the|her|his|its)\s+(?:[\w-]+\s+){0,2}?(?:cancer|carcinoma|tumou?r|disease)\s+had\s+been\s+treated\b)",
    re.I,
)


def counted_from_an_end(b: CaseDraft) -> None:
    """An interval counted from the end of a treatment, or from when the patient became free of disease, times
    nothing the case file holds: it is not a time after the cancer's diagnosis, so the item keeps no relative
    time from it, and the words go to review."""
    for item in list(b.mets.values()) + b.procedures + b.meds + [b.primary]:
        ev = b.ev_of(item, "relative")
        if ev is None or ev.rule not in ("episode-interval", "interval-of-own-clause"):
            continue
        if not b.text[ev.start : ev.end].lower().endswith("after"):
            continue
        if not _FROM_AN_END.match(b.text[ev.end : ev.end + 90]):
            continue
        b.evidence[:] = [e for e in b.evidence if not (e.item is item and e.field == "relative")]
        del item["relative"]
        b.add_review(
            b.text[ev.start : ev.end + 40].split(",")[0],
            "an interval counted from the end of a treatment, not from the diagnosis",
            ev.start,
            ev.end,
        )


def _episode_timed(b: CaseDraft, items: list[dict]) -> dict[int, list[dict]]:
    """The items timed by an episode's interval, by where the interval's words start (read once, not per episode)."""
    out: dict[int, list[dict]] = {}
    for item in items:
        ev = b.ev_of(item, "relative")
        if ev is not None and ev.rule == "episode-interval" and "relative" in item:
            out.setdefault(ev.start, []).append(item)
    return out


# 'In 2005 she had pain in the abdomen. ... the colon was removed three weeks later': a short interval counted with a
# bare 'later' from an event the story has just dated
_BARE_LATER = re.compile(r"^(?:later|afterwards?)\b(?!\s+than)", re.I)


def later_than_a_date(b: CaseDraft) -> None:
    """An episode opened by 'N days/weeks later' just after an episode with a calendar date that is not the primary's
    is counted from the dated event, not from the cancer's diagnosis: its items take that date (a year is still the
    year weeks later) rather than a relative time to the primary."""
    timed = _episode_timed(b, list(b.mets.values()) + b.procedures + b.meds)
    for n, ep in enumerate(b.episodes):
        if n == 0 or ep.relative is None or ep.date is not None:
            continue
        interval, words, start, _end = ep.relative
        before = b.episodes[n - 1]
        if (
            not interval.endswith(("day", "days", "week", "weeks"))
            or not _BARE_LATER.match(words)
            or before.date is None
            or str(before.date.value) == str(b.primary.get("date"))
        ):
            continue
        value = str(before.date.value)
        for item in timed.get(start, ()):
            b.evidence[:] = [e for e in b.evidence if not (e.item is item and e.field == "relative")]
            del item["relative"]
            if "date" not in item and (re.fullmatch(r"\d{4}", value) or interval.endswith(("day", "days"))):
                b.put(
                    item,
                    "date",
                    before.date.value,
                    before.date.start,
                    before.date.end,
                    "date-weeks-later",
                    0.6,
                )


def told_within_a_span(b: CaseDraft) -> None:
    """'From 2004 until 2011 she was treated for metastases in the bones and the liver': a sentence that gives a span
    of years opens no dated episode, so a metastasis first told in it would take the date of the episode before
    (the primary's year); the span tells when it was treated, not when it was found, so it keeps no date from it."""
    for met in b.mets.values():
        ev = b.ev_of(met, "date")
        i = met["_first"]
        if ev is None or ev.rule != "episode-date" or "date" not in met or ev.sentence == i:
            continue
        if b.in_story(i) and values.between(b.sent_text(i)):
            b.evidence[:] = [e for e in b.evidence if not (e.item is met and e.field == "date")]
            del met["date"]


# 'two years after a right modified radical mastectomy for breast cancer': the operation the interval counts from,
# named in the words after 'after' up to the end of their phrase
_AFTER_PHRASE = re.compile(r"^after\s+([^,.;:]{0,80})", re.I)


def counted_from_an_operation(b: CaseDraft) -> None:
    """An interval counted from an operation is that operation's, not the diagnosis's: 'N years after a modified
    radical mastectomy' names it however long its name, and 'N months later' told right after the sentence that
    tells the operation (and no metastasis) counts from it, the last thing the story told."""
    pid = b.primary.get("id")
    if not pid:
        return
    surgeries = [p for p in b.procedures if p.get("_kind") == "surgery" and p.get("id") and "status" not in p]
    if not surgeries:
        return
    # read once: the surgeries by sentence, the story sentence before each, the sentences that tell a metastasis
    by_sentence: dict[int, list[dict]] = {}
    for p in surgeries:
        by_sentence.setdefault(p["_sentence"], []).append(p)
    story = b.story()
    previous = {j: story[k - 1] for k, j in enumerate(story) if k}
    with_met = {j for met in b.mets.values() for j in met["_sentences"]}
    timed = _episode_timed(b, list(b.mets.values()) + b.meds)
    last_named: dict[str, dict] = {}  # the last surgery told so far, by the last word of its name
    told_so_far = sorted(surgeries, key=lambda p: p["_sentence"])
    k = 0
    for ep in b.episodes:
        while k < len(told_so_far) and told_so_far[k]["_sentence"] <= ep.sentence:
            last_named[fold(told_so_far[k]["name"]).split()[-1]] = told_so_far[k]
            k += 1
        if ep.relative is None or ep.relative[2] not in timed:
            continue
        _interval, words, start, _end = ep.relative
        anchor = None
        after = _AFTER_PHRASE.match(words)
        if after:
            named = [last_named[w] for w in fold(after.group(1)).split() if w in last_named]
            anchor = max(named, key=lambda p: p["_sentence"]) if named else None
        elif _BARE_LATER.match(words):
            j = previous.get(ep.sentence)
            told = by_sentence.get(j, []) if j is not None else []
            # (a sentence that tells the diagnosis too, 'diagnosed in 2015 and treated with a mastectomy', times
            # what follows from the diagnosis)
            if told and not DIAGNOSED.search(b.sent_text(j)) and j not in with_met:
                anchor = told[0]
        if anchor is None:
            continue
        for item in timed[start]:
            ev = b.ev_of(item, "relative")
            rel = item.get("relative")
            if not rel or rel.get("to") != pid:
                continue
            b.put(item, "relative", dict(rel, to=anchor["id"]), ev.start, ev.end, "interval-from-an-operation", 0.7,
                  overwrite=True)  # fmt: skip


# words that tell the breast cancer itself or its operation: what a bare 'later' may count from
_PRIMARY_TOLD = re.compile(r"\b(?:breasts?|mammary|mastectomy|lumpectomy|quadrantectomy|mammogra\w*)\b", re.I)


def later_than_the_first_sign(b: CaseDraft) -> None:
    """'Her scalp had swollen ... A month later a lump was felt in her breast': an episode opened by a bare 'N later'
    counts from what the story told just before it. When no sentence of the story before it has told the breast
    cancer, that was a first sign of the disease, not the cancer's diagnosis, so its items are not timed from the
    primary (the interval is left out rather than counted from the wrong event)."""
    primary = b.primary.get("id")
    if not primary:
        return
    timed = _episode_timed(b, list(b.mets.values()) + b.procedures + b.meds)
    for ep in b.episodes:
        if ep.relative is None or not _BARE_LATER.match(ep.relative[1]):
            continue
        items = [x for x in timed.get(ep.relative[2], ()) if x["relative"].get("to") == primary]
        first = b.sent_of(ep.relative[2]) if items else None
        if first is None or any(_PRIMARY_TOLD.search(b.sent_text(i)) for i in b.story() if i < first):
            continue
        for item in items:
            b.evidence[:] = [e for e in b.evidence if not (e.item is item and e.field == "relative")]
            del item["relative"]
