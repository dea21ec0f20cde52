"""The primary cancer: site, side, certainty, stage, when it was diagnosed, receptor shorthand, and histology."""

from __future__ import annotations

import re

from ...terminology import fold
from .. import values
from ..pipeline import Mention, histology_types
from ..roles import TITLE
from .place import DIAGNOSED, INTERVAL, CaseDraft, Evidence, interval_of

_GENERIC_HISTOLOGY = {"carcinoma", "adenocarcinoma"}
_GRADE = re.compile(r"\b((?:poorly|moderately|well)[- ]differentiated)[\s,]+$", re.I)
# 'breast carcinoma', 'carcinoma of the breast', 'metastatic breast cancer': the cancer's name, not a histology.
_NAMES_THE_CANCER = re.compile(
    r"^\s*(?:of|from|in)\s+(?:the\s+|both\s+|her\s+|his\s+)?(?:\w+\s+)?breasts?\b", re.I
)
# 'a lobular carcinoma of the breast.', not '... of the breast in the stomach' (where it was found)
_OF_THE_BREAST_ALONE = re.compile(
    r"^\s*(?:of|from|in)\s+(?:the\s+|her\s+|his\s+)?(?:left\s+|right\s+)?breasts?\b"
    r"(?!\s+(?:metastatic\s+to|in|into|within|involving|metastas\w*|had\s+spread)\b)",
    re.I,
)
# 'No occult primary was found': the occult cancer looked for and not found; the primary is the known one
_NO_BEFORE = re.compile(r"\b(?:no|not|without|nor)\s+(?:\w+\s+){0,1}$", re.I)
_BREAST_BEFORE = re.compile(r"\bbreast\s+$", re.I)
# 'consistent with a breast primary', 'of breast origin': where a tumour came from, not the tumour.
_ORIGIN_AFTER = re.compile(r"^\s*(?:primary|origin|profile|cancer (?:origin|primary))\b", re.I)
# 'one year after surgery and chemoradiation for ductal carcinoma': the primary was treated before
_TREATED_BEFORE = re.compile(
    r"\b(?:after|following|since)\s+(?:[\w-]+\s+){0,6}?(?:for|of)\s+(?:[\w-]+\s+){0,4}$", re.I
)
# A cancer the patient was treated for, said in a phrase of the patient's own ('a woman of 57, treated before for a
# cancer of the left breast, ...', 'a man who had been operated on for breast cancer'): it came before the now
_PATIENT_TREATED_FOR = re.compile(
    r"(?:,\s*|\bwho\s+(?:had\s+been|was|were)\s+)(?:\w+ly\s+)?(?:treated|operated\s+on|managed)\s+"
    r"(?:(?:before|earlier|previously|already|elsewhere|surgically)\s+)?for\s+(?:an?\s+|the\s+|her\s+|his\s+)?"
    r"(?:[\w-]+\s+){0,4}$",
    re.I,
)
# 'She had first been treated with a radical mastectomy ... for a high-grade ductal carcinoma': a cancer treated
# in the pluperfect came before the story's now
_PLUPERFECT_FOR = re.compile(
    r"\b(?:she|he|the\s+patient)\s+had\s+(?:\w+\s+)?(?:been\s+treated|been\s+operated\s+on|undergone|received)\b"
    r"[^.;]{0,140}?\bfor\s+(?:an?\s+|the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,4}$",
    re.I,
)
# 'five years after her triple-negative breast cancer was diagnosed': the primary came before
_AFTER_IT = re.compile(
    r"\b(?:year|month|week)s?\s+after\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,3}$", re.I
)
# Histology words inside what a lesion was first taken for, or looked like, are not its histology.
_LIKE = re.compile(
    r"\b(?:looked like|resembl\w*|mimick\w*|read as|taken for|thought to be|suggest\w* of|(?:what|which)\s+(?:the\s+)?"
    r"[a-z]+\s+(?:had\s+)?called)\s+(?:an?\s+)?(?:[\w-]+\s+){0,3}$",
    re.I,
)
# 'Ten years earlier a lobular carcinoma of her breast had been removed by surgery': the cancer is what the
# clause tells of, and it is timed with its surgery (against 'a mastectomy for a lobular carcinoma': the surgery's).
_PRIMARY_TREATED = re.compile(
    r"\b(?:carcinoma|cancer|tumou?r|neoplasm|malignancy)\b(?:\s+of\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?breast)?"
    r"\s+(?:had\s+been|was|were)\s+(?:\w+\s+)?(?:removed|resected|excised|operated)\b",
    re.I,
)
# 'diagnosed in 1983, twenty years before': a year and the interval since it, said together
_DATE_AND_INTERVAL = re.compile(
    r"\b(?:19|20)\d\d\b,?\s+(?:\w+[- ]){1,2}(?:years?|months?)\s+(?:before|earlier|ago)\b", re.I
)
# 'whose lobular carcinoma of the breast had been resected', 'her cancer had been treated': the subject of a
# verb of the past history
_SUBJECT_OF_PAST = re.compile(
    r"^(?:\s+of\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?breast)?\s+(?:had\s+been|had)\s+(?:\w+ly\s+)?"
    r"(?:resected|removed|excised|treated|operated|irradiated)\b",
    re.I,
)
# Operations on the breast: their side is the primary's.
_BREAST_SURGERY = re.compile(
    r"\b(?:\w*mastectom\w*|lumpectom\w*|quadrantectom\w*|tylectom\w*|sectorectom\w*|breast[- ]conserving)",
    re.I,
)
_BENIGN = re.compile(r"\bbenign\b|\bnegative for (?:malignancy|cancer|carcinoma)\b", re.I)
_RESULT_VERBS = re.compile(
    r"\b(showed|shows|revealed|confirmed|demonstrated|proved|was|were|consistent with|compatible with|"
    r"diagnosed|diagnosis|read as|found|identified)\b",
    re.I,
)


# A breast where nothing was found: 'nothing malignant had been seen in the left breast', 'no tumour was found in
# the other breast', 'no lesion of either breast': not the side of the primary.
_NOTHING_IN = re.compile(
    r"\b(?:nothing|no\s+(?:[\w-]+\s+){0,2}(?:tumou?rs?|mass(?:es)?|lesions?|abnormalit(?:y|ies)|malignancy|cancer|"
    r"disease|signs?|evidence))\b[^.;,]{0,50}?(?:,\s*)?\b(?:in|of|on)\s+(?:the\s+|her\s+|his\s+|either\s+)?(?:[\w-]+\s+)?$",
    re.I,
)


# a breast the disease reached from elsewhere: 'the carcinoma had reached the left breast', 'spread to her other
# breast' (a breast metastasis, not a side of the primary)
_SPREAD_TO = re.compile(
    r"\b(?:reached|spread\s+to|invaded|extended\s+to|metastasi[sz]ed\s+to)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+)?$",
    re.I,
)


# A relative named before a cancer, with the patient not named again between: 'his father had had lung cancer and
# his mother breast cancer', 'a family history of breast cancer in two aunts' (the relative after: _RELATIVE_AFTER).
_RELATIVE = (
    r"(?:mother|father|sister|brother|aunt|uncle|grandmother|grandfather|daughter|son|cousin|niece|nephew|"
    r"relatives?|family(?:\s+history)?)"
)
_RELATIVE_BEFORE = re.compile(
    rf"\b{_RELATIVE}(?:'s)?\b(?![^.;]*\b(?:she|he|the\s+patient|our\s+patient|the\s+woman|the\s+man)\b)"
    r"[^.;]{0,60}$",
    re.I,
)
_RELATIVE_AFTER = re.compile(
    rf"^[^.;,]{{0,20}}?\b(?:in|of)\s+(?:her|his|a|the|two|three)\s+(?:[\w-]+\s+)?{_RELATIVE}", re.I
)


def of_a_relative(b: CaseDraft, m: Mention) -> bool:
    """A cancer a relative had, told in the family history: not the patient's."""
    head = b.text[b.sentences[m.sentence][0] : m.start]
    return bool(_RELATIVE_BEFORE.search(head) or _RELATIVE_AFTER.match(b.text[m.end : m.end + 50]))


def _taken_for(b: CaseDraft, m: Mention) -> bool:
    """A histology inside what a lesion was first read as ('a biopsy had been read as an undifferentiated carcinoma of
    the stomach'): a misreading of the lesion, not the breast cancer's history."""
    head = b.text[max(0, m.start - 60) : m.start]
    return bool(_LIKE.search(head) or _READ_AS.search(head))


# 'had been interpreted as', 'was reported as', 'was misdiagnosed as', 'mistaken for': what a lesion was read as
_READ_AS = re.compile(
    r"\b(?:read|interpreted|reported|diagnosed|misdiagnosed|mistaken|misread)\s+(?:as|for)\s+(?:an?\s+)?(?:[\w-]+\s+){0,3}$",
    re.I,
)


def is_primary_mention(b: CaseDraft, m: Mention) -> bool:
    """A mention of the primary itself: its site or its name, not where a metastasis came from."""
    if not (m.label == "PRIMARY" or (m.label == "SITE" and b.is_breast(m))):
        return False
    if "contralateral" in m.text.lower():
        return False
    return not _ORIGIN_AFTER.match(b.text[m.end : m.end + 30])


def _put_site(
    b: CaseDraft, m: Mention, rule: str, confidence: float = 0.9, sentence: int | None = None
) -> str:
    """The primary's site (and the id made from it) as the mention names it; the site."""
    concept = m.target.concept
    site = "breast" if b.is_breast(m) else (concept.terms[0] if concept else m.target.term)
    b.put(b.primary, "id", fold(site).replace(" ", "-"), m.start, m.end, rule, confidence, sentence=sentence)
    b.put(b.primary, "site", site, m.start, m.end, rule, confidence, sentence=sentence)
    return site


def primary_from_title(b: CaseDraft, mentions: list[Mention]) -> bool:
    """The primary a report names only in its opening words, its title ('... from breast cancer').

    A case section often tells only 'metastatic lesions' and leaves the cancer they came from to
    the title. When the story names no primary, the first sentence of the case's text may: the
    primary is taken from it at low confidence, and the review list says where it came from.
    """
    if not b.sentences:
        return False
    m = next(
        (
            m
            for m in mentions
            if m.sentence == 0 and not m.negated and m.label == "PRIMARY" and is_primary_mention(b, m)
        ),
        None,
    )
    if m is None:
        return False
    site = _put_site(b, m, "primary-named-in-title", 0.5, sentence=0)
    b.add_review(
        f"primary_cancers[0].site: {site}",
        "the story names no primary; taken from the report's opening words (its title): check it",
        m.start,
        m.end,
    )
    return True


def read_primary(b: CaseDraft) -> bool:
    """The primary's site, side and certainty; False when the story names no primary cancer."""
    p = b.primary
    mentions = [m for m in b.mentions if m.label == "PRIMARY" or (m.label == "SITE" and b.is_breast(m))]
    cands = [m for m in mentions if is_primary_mention(b, m)] or mentions
    hist = [m for m in b.mentions if m.label == "HISTOLOGY" and not m.negated]
    if not cands and not hist:
        return False
    site_m = next((m for m in cands if not m.negated), cands[0] if cands else None)
    if site_m is not None:
        _put_site(b, site_m, "primary-term")
    else:
        implied = {fold(k): v for k, v in b.rules["implied_site"].items()}
        h = next((m for m in hist if fold(m.target.term) in implied), None)
        if h is None:
            b.add_review(
                hist[0].text, "a histology but no primary site was named", hist[0].start, hist[0].end
            )
            return False
        site = implied[fold(h.target.term)]
        b.put(p, "id", fold(site).replace(" ", "-"), h.start, h.end, "site-implied-by-histology", 0.6)
        b.put(p, "site", site, h.start, h.end, "site-implied-by-histology", 0.6)
        b.add_review(f"site: {site}", f"not named; implied by the histology '{h.text}'", h.start, h.end)
    sides = []
    for m in cands:
        if (
            b.is_breast(m)
            and not _BENIGN.search(b.sent_text(m.sentence))
            and not m.negated
            and not _NOTHING_IN.search(b.text[max(b.sentences[m.sentence][0], m.start - 80) : m.start])
            and not _SPREAD_TO.search(b.text[max(b.sentences[m.sentence][0], m.start - 40) : m.start])
        ):
            side = b.side_of(m)
            if side:
                sides.append((side, m))
    if not sides:
        # 'a left radical mastectomy for a lobular carcinoma of the breast': the side of the breast's surgery
        for m in b.mentions:
            if (
                m.label == "PROCEDURE"
                and not m.negated
                and _BREAST_SURGERY.search(f"{m.text} {m.target.term}")
            ):
                side = b.side_of(m)
                if side:
                    sides.append((side, m))
    if sides:
        values_seen = {s[0][0] for s in sides}
        (value, start, end), _ = sides[0]
        if {"left", "right"} <= values_seen:
            value = "bilateral"
        b.put(p, "laterality", value, start, end, "side-word")
    uncertain = [m for m in cands if m.uncertain]
    if cands and len(uncertain) == len(cands):
        b.put(p, "certainty", "provisional", uncertain[0].start, uncertain[0].end, "context-uncertain", 0.6)
    # the title read as a sentence of its own too: 'An occult breast carcinoma that showed itself in the scalp'
    titles = [i for i, role in enumerate(b.roles) if role == TITLE]
    for i in titles + b.story():
        text = b.sent_text(i)
        m = next((x for x in b.rules.occult.finditer(text) if not _NO_BEFORE.search(text[: x.start()])), None)
        if m:
            s0 = b.sentences[i][0]
            b.put(p, "occult", True, s0 + m.start(), s0 + m.end(), "occult-words", 0.7)
            break
    # the patient's own cancer, as the text tells it: not 'no known history of breast cancer', not her mother's
    # cancer, not what a lesion was first read as
    own = [m for m in cands + hist if not m.negated and not of_a_relative(b, m) and not _taken_for(b, m)]
    b.primary_historical = (
        any(m.historical for m in own)
        or any(b.flashback_at(m.start) for m in own)
        or any(_TREATED_BEFORE.search(b.text[b.clause_start(m.start) : m.start]) for m in own)
        or any(_PLUPERFECT_FOR.search(b.text[b.sentences[m.sentence][0] : m.start]) for m in own)
        or any(
            _PATIENT_TREATED_FOR.search(b.text[max(b.sentences[m.sentence][0], m.start - 80) : m.start])
            for m in own
        )
        or any(_AFTER_IT.search(b.text[max(b.sentences[m.sentence][0], m.start - 60) : m.start]) for m in own)
        or any(_SUBJECT_OF_PAST.match(b.text[m.end : b.sentences[m.sentence][1]]) for m in own)
    )
    _stage(b, sorted({m.sentence for m in cands}), sorted({m.sentence for m in hist}))
    # (a histology told as a metastasis's, 'a metastatic lobular carcinoma', dates the metastasis, not the primary)
    _date(
        b,
        sorted(
            {
                m.sentence
                for m in cands
                + [h for h in hist if not _METASTATIC_BEFORE.search(b.text[max(0, h.start - 25) : h.start])]
            }
        ),
    )
    _shorthand(b)
    for i in b.story():
        m = b.rules.local_recurrence.search(b.sent_text(i))
        if m:
            s0 = b.sentences[i][0]
            b.put(p, "clinical_status", "recurrence", s0 + m.start(), s0 + m.end(), "local-recurrence")
            break
    return True


def _stage(b: CaseDraft, primary: list[int], histology: list[int]) -> None:
    """The stage as written; a group and a TNM told in two sentences are put together.

    Sentences that name the primary come first; then those that name its histology without
    another organ; then any sentence of the story ('with 4 of 17 nodes involved (ypT2N2a)').
    """
    found = []
    others = [i for i in b.story() if i not in primary and i not in histology]
    for group in (primary, [i for i in histology if not b.in_sentence(i, "SITE")], others):
        for i in group:
            st = values.stage(b.sent_text(i))
            if st:
                found.append((i, st))
        if found:
            break
    if not found:
        return
    i, st = found[0]
    s0 = b.sentences[i][0]
    written = st.value
    start, end = s0 + st.start, s0 + st.end
    has_group = bool(re.search(r"stage", written, re.I))
    for j, other in found[1:]:
        other_group = bool(re.search(r"stage", other.value, re.I))
        if other_group != has_group:
            written = f"{written} {other.value}"
            o0 = b.sentences[j][0]
            b.evidence.append(Evidence(b.primary, "stage", written, o0 + other.start, o0 + other.end, j,
                                       "stage-pattern", 0.7))  # fmt: skip
            break
    b.put(b.primary, "stage", written, start, end, "stage-pattern", sentence=i)


def _date(b: CaseDraft, sentences: list[int]) -> None:
    for i in sentences:
        text = b.sent_text(i)
        if DIAGNOSED.search(text) and not values.between(text):
            for d in values.dates(text):
                s0 = b.sentences[i][0]
                b.put(b.primary, "date", d.value, s0 + d.start, s0 + d.end, "diagnosis-date", 0.8)
                return


def primary_timing(b: CaseDraft) -> None:
    """The primary's age or time: its own, the time before a metastasis, or the presentation's."""
    p = b.primary
    if b.age_of_primary and "age" not in p:
        value, start, end, _ = b.age_of_primary
        b.put(p, "age", value, start, end, "age-at-diagnosis", 0.8)
    # 'diagnosed 12 years before', 'treated for IDC five years earlier': before the presenting metastasis.
    first = b.presenting_met()
    primary_sentences = {m.sentence for m in b.mentions if is_primary_mention(b, m) or m.label == "HISTOLOGY"}
    for i in b.story():
        text = b.sent_text(i)
        for m in INTERVAL.finditer(text):
            how = m.group(3).lower()
            if how not in ("before", "earlier", "ago", "previously") and not how.startswith("prior"):
                continue
            # the interval's part of the sentence, up to a new clause after ';'
            own = text[: m.start()].rsplit(";", 1)[-1] + text[m.start() :].split(";", 1)[0]
            treated = re.search(
                r"\b(?:mastectomy|lumpectomy|surgery|operation|resection|excision)\b", own, re.I
            )
            if treated and not re.search(r"\bdiagnos", own, re.I) and not _PRIMARY_TREATED.search(own):
                continue  # a treatment N years earlier: the treatment is timed (treatments.py)
            if i not in primary_sentences and not re.search(r"\bdiagnos|\btreated for\b", text, re.I):
                continue
            s0 = b.sentences[i][0]
            lo, hi = b.clause_chain(s0 + m.start())
            if any(
                lo <= x.start < hi and not b.is_breast(x) and x.label == "SITE" for x in b.in_sentence(i)
            ) and not any(lo <= x.start < hi for x in b.in_sentence(i) if is_primary_mention(b, x)):
                continue  # 'when he was treated for a femur fracture eight months earlier': another item's time
            after = text[m.end() : m.end() + 40].lower()
            to = None
            if first is not None:
                to = first["id"]
            if re.match(r"^\s*(?:the\s+)?(?:first|initial)\s+diagnosis", after):
                continue  # 'two years after the first diagnosis' is counted from the primary
            rel = first.get("relative") if first is not None else None
            if rel and rel.get("to") == p.get("id") and rel.get("after") == interval_of(m):
                continue  # the metastasis already says it: 'two years after the first diagnosis'
            if to and "relative" not in p and ("date" not in p or _DATE_AND_INTERVAL.search(text)):
                # 'diagnosed in 1983, twenty years before': the text gives both, and both are kept
                s0 = b.sentences[i][0]
                p.pop("age", None)
                b.put(p, "relative", {"to": to, "before": interval_of(m)},
                      s0 + m.start(), s0 + m.end(), "interval-before-presentation", 0.7)  # fmt: skip
                return
    dated = not any(k in p for k in ("date", "relative", "between")) and _date_of_treatment(b)
    if dated and any(d.value[:4] > p["date"][:4] for i in b.story() for d in values.dates(b.sent_text(i))):
        return  # 'a mastectomy for a ductal cancer in 2001. In 2005 ...': the age told is the later time's
    if "relative" in p or "age" in p or b.primary_historical or p.get("occult"):
        return
    first = min((m for m in b.mentions if is_primary_mention(b, m)), key=lambda m: m.start, default=None)
    if first is not None:
        b.time_item(p, first.sentence, first.start, relative=False)
        _age_of_the_retold_spread(b)


# 'We report a woman of 58 with breast cancer who developed a metastasis in the spleen': a report retelling its case
# whose patient 'developed' the metastasis after the cancer it names
_RETOLD = re.compile(r"^\s*(?:here\s+)?we\s+(?:report|describe|present)\b", re.I)
_WENT_ON_TO = re.compile(
    r"\b(?:who|which|that|and)\s+(?:had\s+|has\s+)?(?:later\s+|subsequently\s+|then\s+|eventually\s+)?"
    r"(?:developed|went\s+on\s+to\s+develop)\b",
    re.I,
)


def _age_of_the_retold_spread(b: CaseDraft) -> None:
    """The age a report gives when it retells its case is the patient's age when the case was seen. When that
    sentence says the patient went on to develop the metastasis after the cancer it names, the age is the
    metastasis's, not the age the breast cancer was found at."""
    p = b.primary
    ev = b.ev_of(p, "age")
    if (
        ev is None
        or "age" not in p
        or ev.rule != "presenting-age"
        or not _RETOLD.match(b.sent_text(ev.sentence))
    ):
        return
    i = ev.sentence
    s1 = b.sentences[i][1]
    told = [m.end for m in b.in_sentence(i) if is_primary_mention(b, m)]
    went = _WENT_ON_TO.search(b.text, min(told), s1) if told else None
    if went is None:
        return
    later = [
        met
        for met in b.mets.values()
        if i in met["_sentences"]
        and any(
            x.label == "SITE" and went.end() <= x.start and fold(met["site"]).endswith(fold(x.target.term))
            for x in b.in_sentence(i)
        )
    ]
    if not later:
        return
    value = p.pop("age")
    p["_age_is_later"] = True  # (no later rule gives the primary the presenting age again)
    b.evidence[:] = [e for e in b.evidence if not (e.item is p and e.field == "age")]
    for met in later:
        if met.get("age", value) == value:  # (kept when a later rule reads the age as the primary's)
            b.put(met, "age", value, ev.start, ev.end, "age-of-the-retold-spread", 0.6, overwrite=True)


# 'a mastectomy for a ductal breast cancer': what the operation was for
_FOR_IT = re.compile(r"\s+for\s+(?:an?\s+|the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,3}", re.I)


def date_order(b: CaseDraft) -> None:
    """A primary dated after one of its metastases ('In July 2022 a woman with breast cancer was sent ...' after
    bone metastases of May 2022) has the date of a later visit, not of its diagnosis: the date is left out and
    named for review (a case file refuses a metastasis dated before its primary)."""
    p = b.primary
    date = p.get("date")
    if not isinstance(date, str):
        return
    for met in b.mets.values():
        other = met.get("date")
        n = min(len(date), len(str(other or "")))
        if isinstance(other, str) and n >= 4 and other[:n] < date[:n]:
            ev = b.ev_of(p, "date")
            b.evidence[:] = [e for e in b.evidence if not (e.item is p and e.field == "date")]
            del p["date"]
            start, end = (ev.start, ev.end) if ev is not None else (0, 0)
            b.add_review(date, f"the primary's date is after a metastasis's ({other}); left out", start, end)
            return


def _told(b: CaseDraft) -> list[Mention]:
    """The mentions that name the primary ('a ductal breast cancer' is one mention, the histology's)."""
    return [
        m
        for m in b.mentions
        if is_primary_mention(b, m) or (m.label == "HISTOLOGY" and "breast" in m.text.lower())
    ]


def _date_of_treatment(b: CaseDraft) -> bool:
    """A primary told with its operation and one date ('who had a mastectomy for a ductal cancer in 2001', 'a
    carcinoma of the right breast, for which she had a mastectomy in 1991'): the date of that operation is the
    primary's, when no other time is given. The first sentence of the story that tells the primary so is read (a
    title or a line of history naming the cancer with no operation comes before it)."""
    told = sorted(_told(b), key=lambda m: m.start)
    first = told[0] if told else None
    if first is None:
        return False
    tried = [first] + [m for m in told[1:] if b.in_story(m.sentence) and m.sentence != first.sentence]
    for m in tried[:3]:
        if _operated_on(b, m):
            text = b.sent_text(m.sentence)
            # 'hormonal therapy that went on until 2020': a date that ends a course dates no operation
            found = [d for d in values.dates(text) if not values.ends_span(text, d.start)]
            if len(found) == 1 and not values.between(text):
                s0 = b.sentences[m.sentence][0]
                f = found[0]
                return b.put(b.primary, "date", f.value, s0 + f.start, s0 + f.end, "date-of-operation", 0.6)
        if (
            m is not first
            and b.in_sentence(m.sentence, "SITE")
            and any(x.label == "SITE" and not b.is_breast(x) for x in b.in_sentence(m.sentence))
        ):
            return False  # the story has reached a metastasis: an operation told later is not the primary's
    return False


# 'a metastatic lobular carcinoma', 'secondary deposits of ductal carcinoma': a histology said of a metastasis
_METASTATIC_BEFORE = re.compile(
    r"\b(?:metastatic|secondary|metastas[ie]s\s+of(?:\s+an?)?)\s+(?:[\w-]+\s+)?$", re.I
)


# '..., for which she had a right mastectomy': an operation told after the cancer it treated
_FOR_WHICH = re.compile(r"^[^.;]{0,40}?\bfor\s+which\s+(?:she|he|the\s+patient)\s+(?:\w+\s+){0,3}$", re.I)


def _operated_on(b: CaseDraft, first: Mention) -> bool:
    lo, hi = b.clause_chain(first.start)
    return any(
        x.label == "PROCEDURE"
        and (
            lo <= x.start < hi
            or (x.end <= first.start and _FOR_IT.fullmatch(b.text[x.end : first.start]))
            or (x.start >= first.end and _FOR_WHICH.match(b.text[first.end : x.start]))
        )
        and (
            x.target.concept.kind if x.target.concept else b.rules["procedure_kinds"].get(fold(x.target.term))
        )
        in (None, "surgery")
        for x in b.in_sentence(first.sentence)
    )


def _shorthand(b: CaseDraft) -> None:
    for i in b.story():
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for rule in b.rules["receptor_shorthand"]:
            for m in re.finditer(rule["pattern"], text, re.I):
                start, end = s0 + m.start(), s0 + m.end()
                if "note" in rule:
                    note = rule["note"].replace("{1}", m.group(1))
                    b.put(b.primary, "note", note, start, end, "receptor-shorthand", 0.8)
                elif "marker" in rule:
                    item = {"name": rule["marker"], "result": rule["result"]}
                    b.primary.setdefault("markers", []).append(item)
                    for key in ("name", "result"):
                        b.evidence.append(
                            Evidence(item, key, item[key], start, end, i, "receptor-shorthand", 0.8)
                        )
                else:
                    rec = b.primary.setdefault("receptors", {})
                    for key in ("er", "pr", "her2"):
                        if key in rule:
                            b.put(rec, key, rule[key], start, end, "receptor-shorthand", 0.8)


# the type told after a generic histology: 'a carcinoma of the breast, of ductal type', 'adenocarcinoma, lobular type'
_TYPE_AFTER = re.compile(r"^[^.;:]{0,40}?,?\s*(?:of\s+(?:the\s+)?)?([a-z]+)\s+type\b", re.I)


def _type_after(b: CaseDraft, m: Mention) -> str | None:
    """The carcinoma of the type a generic histology is said to be of, when the maps or rules know it."""
    found = _TYPE_AFTER.match(b.text[m.end : b.sentences[m.sentence][1]])
    if not found or found.group(1).lower() not in histology_types(b.terminology):
        return None
    name = f"{found.group(1).lower()} carcinoma"
    concept = b.terminology.lookup("histology", name)
    if concept is not None:
        return concept.terms[0]
    alias = {fold(k): v for k, v in b.rules["aliases"].items()}.get(name)
    return alias if alias and b.terminology.lookup("histology", alias) is not None else None


def read_histology(b: CaseDraft) -> None:
    """Histology of the primary, and of a metastasis whose biopsy or resection the sentence reports."""
    for m in b.mentions:
        if m.label != "HISTOLOGY":
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a histology ConText reads as negated or hypothetical", m.start, m.end)
            continue
        grade = _GRADE.search(b.text[max(0, m.start - 30) : m.start])
        term = m.target.term
        concept = m.target.concept
        if concept is not None and not m.text.isupper() and fold(m.text) in {fold(t) for t in concept.terms}:
            term = fold(m.text)  # a synonym of the map is kept as the report writes it
        written = f"{grade.group(1).lower()} {term}" if grade else term
        start = m.start - (len(grade.group(0)) if grade else 0)
        generic = fold(m.target.term) in _GENERIC_HISTOLOGY
        typed = _type_after(b, m) if generic else None
        if typed and b.primary and not _LIKE.search(b.text[max(0, start - 50) : start]):
            # 'a metastatic adenocarcinoma of the breast, of ductal type': the breast cancer's type; the
            # metastasis keeps the words its sample was given
            b.put(b.primary, "histology", typed, start, m.end, "histology-type", 0.7)
        of_breast = _NAMES_THE_CANCER.match(b.text[m.end : m.end + 30]) or _BREAST_BEFORE.search(
            b.text[max(0, m.start - 12) : m.start]
        )
        if generic and of_breast and fold(m.target.term) == "carcinoma":
            continue  # 'carcinoma of the breast', 'breast carcinoma' names the cancer
        if generic and of_breast and b.primary and not _LIKE.search(b.text[max(0, start - 50) : start]):
            # 'a breast adenocarcinoma': the cancer's own histology, at the precision given
            b.put(b.primary, "histology", written, start, m.end, "histology-of-breast", 0.7)
        if _LIKE.search(b.text[max(b.sentences[m.sentence][0], start - 50) : start]):
            continue  # 'was read as a poorly differentiated adenocarcinoma of the rectum': a first reading
        met = _met_reported(b, m) if generic else (_met_named(b, m) or _met_of_pathology(b, m))
        if (
            met is not None
            and not generic
            and _OF_THE_BREAST_ALONE.match(b.text[m.end : m.end + 60])
            and not re.search(r"\bmetasta\w*\s+(?:\w+\s+){0,3}$", b.text[max(0, start - 40) : start], re.I)
        ):
            met = None  # 'histology showed a lobular carcinoma of the breast': the primary, by its name
        if (
            met is not None
            and generic
            and (values.nodes(b.sent_text(m.sentence)) or _of_breast_operation(b, m))
        ):
            # 'one of the 13 axillary nodes examined contained carcinoma', 'a mastectomy, ... with carcinoma in
            # three of the lymph nodes': the nodes of the primary's operation, counted as its staging
            met = None
        if met is not None:
            # a named histology is more precise than 'carcinoma' told of the same metastasis before it
            precise = not generic and fold(met.get("histology", "")) in _GENERIC_HISTOLOGY
            if precise:
                b.evidence[:] = [e for e in b.evidence if not (e.item is met and e.field == "histology")]
            b.put(met, "histology", written, start, m.end, "histology-of-metastasis", 0.7, overwrite=precise)
        if generic:
            continue
        if b.primary:
            b.put(b.primary, "histology", written, start, m.end, "histology-term", 0.9)


# '2 of the 15 axillary lymph nodes held infiltrating ductal carcinoma', 'the gastric mucosa infiltrated by
# lobular breast cancer cells': a finding of the site, told between the site and the histology.
_FINDING_BETWEEN = re.compile(
    r"^[^;:.]{0,50}?\b(?:held|holds?|contained|contains?|containing|showed|shows|revealed|harbou?r(?:ed|s|ing)?|"
    r"infiltrated by|involved by|replaced by|consist(?:ed|s|ing) of|proved to be|was|were)\b[^;:.]{0,25}$",
    re.I,
)


def _met_in_finding(b: CaseDraft, m: Mention) -> dict | None:
    """The metastasis whose site the histology's clause names just before it, with a verb of finding between."""
    lo = b.clause_start(m.start)
    for x in reversed(b.in_sentence(m.sentence, "SITE")):
        if not lo <= x.end <= m.start or b.is_breast(x):
            continue
        if not _FINDING_BETWEEN.match(b.text[x.end : m.start]) or re.search(
            r"\b(?:but|not|no)\b", b.text[x.end : m.start], re.I
        ):
            return None
        return next(
            (
                v
                for v in b.mets.values()
                if m.sentence in v["_sentences"] and fold(v["site"]).endswith(fold(x.target.term))
            ),
            None,
        )
    return None


def _met_named(b: CaseDraft, m: Mention) -> dict | None:
    """The metastasis a named histology is said of: 'metastatic lobular carcinoma', 'a metastasis of ILC'."""
    found = _met_in_finding(b, m)
    if found is not None:
        return found
    head = b.text[max(b.sentences[m.sentence][0], m.start - 40) : m.start]
    tail = b.text[m.end : m.end + 60]
    # 'lobular carcinoma metastatic to the stomach', 'a metastasis of the lobular carcinoma in the rectosigmoid, with
    # carcinomatosis of the peritoneum': the site just after the histology is the one it is said of
    after = re.match(
        r"^(?:\s+of\s+the\s+breast)?\s+(?:metastatic\s+to|in|into|within|involving)\s+(?:the\s+|her\s+|his\s+)?"
        r"(?:[a-z]+\s+){0,2}?",
        tail,
        re.I,
    )
    if after:
        for x in b.in_sentence(m.sentence, "SITE"):
            if m.end + after.end() - 1 <= x.start <= m.end + len(tail) and _adjacent(
                b, m.end + after.end(), x.start
            ):
                met = next(
                    (
                        v
                        for v in b.mets.values()
                        if m.sentence in v["_sentences"] and fold(v["site"]).endswith(fold(x.target.term))
                    ),
                    None,
                )
                if met is not None:
                    return met
    if not re.search(r"\bmetasta\w*\s+(?:of\s+)?(?:\w+\s+){0,2}$", head, re.I):
        return None
    return _met_reported(b, m)


def _adjacent(b: CaseDraft, pos: int, start: int) -> bool:
    """Whether only up to two plain words lie between `pos` and `start` ('in the distal sigmoid colon')."""
    return start >= pos and re.fullmatch(r"(?:[a-z-]+\s+){0,2}", b.text[pos:start], re.I) is not None


def _met_of_pathology(b: CaseDraft, m: Mention) -> dict | None:
    """The metastasis a named histology is the pathology of: 'by immunohistochemistry it was a lobular breast
    carcinoma', 'stains showed that the gastric tumour had come from the breast, as a lobular carcinoma'.

    The sentence reports a pathology result (a pathology word and a verb of finding before the histology) of
    the metastasis it or its story is about, and names no primary in the histology's clause but as an origin.
    """
    i = m.sentence
    s0 = b.sentences[i][0]
    head = b.text[s0 : m.start]
    if not (_PATHOLOGY_WORD.search(head) and _RESULT_VERBS.search(head)):
        return None
    if re.match(r"^\s*,?\s*with\s+(?:[\w-]+\s+){0,3}?metasta", b.text[m.end : m.end + 60], re.I):
        return None  # 'lobular breast cancer with cutaneous metastasis': the cancer, named with its spread
    if _NAMES_THE_CANCER.match(b.text[m.end : m.end + 30]):
        return None  # 'histology gave an infiltrating ductal carcinoma of the breast': the primary's, by name
    if _of_breast_operation(b, m) or values.nodes(b.sent_text(i)):
        # 'by mastectomy; histopathology showed an infiltrating duct carcinoma, with carcinoma in three nodes',
        # 'the tumour was a duct carcinoma, and one of the 13 axillary nodes examined held carcinoma': the
        # specimen of the breast operation, whose nodes are counted as its staging
        return None
    lo = b.clause_start(m.start)
    for x in b.in_sentence(i):
        if (
            lo <= x.start < m.start
            and is_primary_mention(b, x)
            and not _ORIGIN_BEFORE.search(b.text[max(lo, x.start - 25) : x.start])
        ):
            return None  # 'a biopsy of the breast mass showed ...': the primary's pathology
    return _met_reported(b, m, pathology=True)


def _of_breast_operation(b: CaseDraft, m: Mention) -> bool:
    """Whether a histology reports the specimen of a breast operation told before it in its sentence, with no
    other site between them ('a mastectomy; histopathology showed ...')."""
    from .treatments import is_breast_operation

    ops = [
        x
        for x in b.in_sentence(m.sentence, "PROCEDURE")
        if x.end <= m.start and (is_breast_operation(b, x.target.term) or is_breast_operation(b, x.text))
    ]
    if not ops:
        return False
    last = ops[-1]
    return not any(x.label == "SITE" and last.end <= x.start < m.start for x in b.in_sentence(m.sentence))


_PATHOLOGY_WORD = re.compile(
    r"\b(?:biops\w*|histolog\w*|histopatholog\w*|immunohistochemi\w*|immunostain\w*|stain\w*|pathology|"
    r"cytolog\w*|specimen)\b",
    re.I,
)
_ORIGIN_BEFORE = re.compile(r"\b(?:from|of)\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?$", re.I)


def _met_reported(b: CaseDraft, m: Mention, pathology: bool = False) -> dict | None:
    """The metastasis whose pathology this sentence reports ('biopsy of the eyelid showed metastatic ILC');
    `pathology` when the caller has found the sentence to report one."""
    i = m.sentence
    text = b.sent_text(i)
    s0 = b.sentences[i][0]
    head = text[: m.start - s0]
    if not (_RESULT_VERBS.search(head) or re.search(r"\bmetasta\w*\s+(?:\w+\s+){0,2}$", head, re.I)):
        return None
    if (
        pathology
        or re.search(r"\bmetasta\w*\s+(?:\w+\s+){0,3}$", head, re.I)
        or b.rules.confirmation.search(text)
    ):
        here = [b.mets[k] for k in b.met_keys_in(i)]
        after = [x for x in here if x["_first_pos"] > m.start or any(
            s.start > m.start for s in b.in_sentence(i, "SITE") if fold(x["site"]).endswith(fold(s.target.term)))]  # fmt: skip
        if len(after) > 1:
            for extra in after[:-1]:
                b.put(extra, "histology", fold(m.target.term), m.start, m.end, "histology-of-metastasis", 0.7)
            return after[-1]
        if here:
            return here[-1]
        focus = b.focus[i] if i < len(b.focus) else None
        if focus is not None and focus is not b.primary:
            return focus
    return None
