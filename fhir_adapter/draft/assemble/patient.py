"""The patient: sex, ethnicity, germline results, menopausal status, ECOG (ages are read with the story's time)."""

from __future__ import annotations

import re

from ...terminology import fold
from .. import values
from ..roles import PATIENT, TITLE
from .place import CaseDraft, Evidence

_NOT_A_QUALIFIER = {"a", "an", "the", "this", "our", "one", "her", "his", "she", "he", "case", "patient", "of",
                    "and", "old", "aged", "year", "years", "was", "is", "female", "male", "woman", "man"}  # fmt: skip


# The patient introduced with an origin between the age and the noun: 'a 62-year-old Afro-Caribbean woman', 'a
# 59-year-old white woman', 'a 70-year-old Nigerian man'. A capitalised word there with the ending of a people's name
# ('-an', '-ese', '-ish', '-i', '-ic', '-ch', '-ek'), or a colour word, is an origin; a caste or a creed is not.
_INTRODUCED_AS = re.compile(
    r"\b(?i:an?|the)\s+(?:\d{1,3}|[a-z]+(?:-[a-z]+)?)[- ](?:year|yr)s?[- ]old\s+"
    r"(?P<who>(?:[A-Z][a-z]+[- ])?[A-Z][a-z]+(?:an|ese|ish|i|ic|ch|ek)|white|black)\s+"
    r"(?:woman|man|lady|female|male|patient|gentleman)\b"
    # the age told after the noun: 'an Indonesian woman of 54', 'a Serbian man aged 75', 'a white woman of 63'
    r"|\b(?i:an?)\s+(?P<who2>(?:[A-Z][a-z]+[- ])?[A-Z][a-z]+(?:an|ese|ish|i|ic|ch|ek)|white|black)\s+"
    r"(?:woman|man|lady|patient|gentleman)\s+(?:of|aged)\s+\d{1,3}\b"
)


def read_patient(b: CaseDraft) -> None:
    """Sex, ethnicity, germline results, menopausal status and ECOG from the patient's story."""
    story = b.story()
    words = {sex: re.compile(r"\b(" + "|".join(re.escape(w) for w in b.rules[sex]) + r")\b", re.I)
             for sex in ("female", "male")}  # fmt: skip
    first: dict[str, tuple[int, int]] = {}
    for i in story:
        s0 = b.sentences[i][0]
        for sex, pattern in words.items():
            m = pattern.search(b.sent_text(i))
            if m and sex not in first:
                first[sex] = (s0 + m.start(), s0 + m.end())
        if first:
            break
    if first:
        # The first sex word of the story decides: 'she' before 'his' is a woman.
        sex = min(first, key=lambda k: first[k][0])
        b.put(b.patient, "sex", sex, *first[sex], "sex-word")
    else:
        b.patient["sex"] = "unknown"
        b.add_review("sex", "no word in the text says the patient's sex; set to unknown", 0, 0)
    for i in story:
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        m = b.rules.ethnicity.search(text)
        if m and "ethnicity" not in b.patient:
            start, value = m.start(), m.group(1)
            qualifier = re.search(r"\b([A-Z][a-z]{1,12})[- ]$", text[max(0, m.start() - 14) : m.start()])
            if qualifier and qualifier.group(1).lower() not in _NOT_A_QUALIFIER:
                # 'a Han Chinese man', 'a South Asian woman': the qualifier is part of the name
                start = m.start() - len(qualifier.group(0))
                value = f"{qualifier.group(1)} {value}"
            end = m.end()
            country = re.match(r"[- ]([A-Z][a-z]{2,12}an)\b", text[end : end + 16])
            if country:
                # 'an Asian American woman', 'a Chinese-Canadian man': the word after it is part of the name too
                value, end = f"{value} {country.group(1)}", end + country.end()
            b.put(b.patient, "ethnicity", value, s0 + start, s0 + end, "ethnicity-word", 0.8)
        intro = _INTRODUCED_AS.search(text) if "ethnicity" not in b.patient else None
        if intro:
            who = "who" if intro.group("who") else "who2"
            b.put(b.patient, "ethnicity", intro.group(who), s0 + intro.start(who), s0 + intro.end(who),
                  "ethnicity-in-introduction", 0.7)  # fmt: skip
        for f in values.germline(text):
            gene, result = f.value
            if any(g["gene"] == gene for g in b.patient.get("germline", [])):
                continue
            item = {"gene": gene, "result": result}
            b.patient.setdefault("germline", []).append(item)
            for key in ("gene", "result"):
                b.evidence.append(
                    Evidence(item, key, item[key], s0 + f.start, s0 + f.end, i, "germline-pattern", 0.8)
                )
        f = values.menopausal(text)
        if f:
            b.put(b.patient, "menopausal_status", f.value, s0 + f.start, s0 + f.end, "menopausal-pattern")
        f = values.ecog(text)
        if f:
            b.put(b.patient, "ecog", f.value, s0 + f.start, s0 + f.end, "ecog-pattern")


def event_ages(b: CaseDraft) -> None:
    """An age said bare with 'at' dates the primary or metastasis first told in its sentence: 'A woman had a
    mastectomy for breast cancer at 36. ... At 50, a scan showed a metastasis in a mediastinal node.'"""
    items = [(b.primary, _first_primary_sentence(b))] + [(met, met["_first"]) for met in b.mets.values()]
    for item, i in items:
        ev = b.ev_of(item, "age")
        if ev is not None and not ev.rule.startswith("presenting-age"):
            continue
        if item is b.primary and ev is None and (i is None or not values.event_ages(b.sent_text(i))):
            i = _primary_diagnosed_at(
                b
            )  # 'A woman of 59 with a past breast cancer ... At 55 she was diagnosed ...'
        if i is None:
            continue
        found = values.event_ages(b.sent_text(i))
        if len(found) == 1:
            s0 = b.sentences[i][0]
            b.evidence[:] = [e for e in b.evidence if not (e.item is item and e.field == "age")]
            b.put(item, "age", found[0].value, s0 + found[0].start, s0 + found[0].end, "age-of-event", 0.7,
                  overwrite=True)  # fmt: skip


# the primary diagnosed, or operated on (which tells it found by then): 'had had a quadrantectomy ... at the age of 66'
_DIAGNOSED = re.compile(
    r"\b(?:diagnos\w*|found\s+to\s+have|detected|operated|\w*mastectomy|lumpectomy|quadrantectomy)\b", re.I
)
_NOT_THE_FIRST = re.compile(r"\b(?:recurr\w*|relaps\w*|metasta\w*|spread|came\s+back|returned)\b", re.I)


def _primary_diagnosed_at(b: CaseDraft) -> int | None:
    """The story sentence that tells the primary diagnosed at a bare age ('At 55 the woman was diagnosed with a
    lobular carcinoma of the right breast'), when the primary was first named elsewhere. A sentence about a
    recurrence or a spread of it dates that, not the primary."""
    from .primaries import is_primary_mention

    for i in sorted({m.sentence for m in b.mentions if is_primary_mention(b, m)}):
        text = b.sent_text(i)
        if (
            b.in_story(i)
            and len(values.event_ages(text)) == 1
            and _DIAGNOSED.search(text)
            and not _NOT_THE_FIRST.search(text)
        ):
            return i
    return None


def _first_primary_sentence(b: CaseDraft) -> int | None:
    from .primaries import is_primary_mention

    first = min((m for m in b.mentions if is_primary_mention(b, m)), key=lambda m: m.start, default=None)
    return first.sentence if first is not None else None


# an episode opened a few days, weeks or months after the one before ('two weeks later', 'a month later'): the
# patient is still the age the presentation gave
_WEEKS_LATER = re.compile(r"^(?:\d+ (?:days?|weeks?)|[1-3] months?) (?:later|afterwards?)\b(?!\s+than)", re.I)
_RETELLING = re.compile(r"^\s*(?:here\s+)?we\s+(?:report|describe|present)\b", re.I)


def presenting_age(b: CaseDraft) -> None:
    """The age at presentation on each metastasis the presentation tells, wherever the story first named it.

    A metastasis first named in a sentence that retells the whole case ('We report a woman whose breast cancer
    and pancreatic metastases were found together, ...') is told again where the story reaches it; a
    presentation interrupted by the past history ('An 80-year-old woman presented with an obstructed bowel.
    Twenty-five years earlier ... In 2003 she came with the signs of obstruction, and CT found a mass in the
    sigmoid colon') goes on where the history ends, whatever date it gives; and a metastasis dated with the
    presentation's own date ('The jaundice of April 2011 came from a metastasis in the pancreas') is of the
    presentation.
    """
    if b.presenting_age is None or b.age_is_now:
        return
    value, start, end, at = b.presenting_age
    present = set(b.present_episodes)
    resumed = _resumed_episode(b, at)
    if resumed is not None:
        present.add(resumed)
    for n in range(1, len(b.episodes)):
        ep = b.episodes[n]
        if (
            n - 1 in present
            and ep.date is None
            and ep.relative is not None
            and _WEEKS_LATER.match(f"{ep.relative[0]} {ep.relative[1]}")
        ):
            present.add(n)  # 'A woman aged 72 came with ... One month later a mass grew ...': still 72
    from .primaries import is_primary_mention

    dated = b.episodes[b.episode_of[at]].date
    items = [(met, sorted(met["_sentences"])) for met in b.mets.values()]
    p = b.primary
    own_date = str(p.get("date", ""))[:4]
    if not (b.primary_historical or "relative" in p) and not (
        # 'Her breast cancer was found in 2018. ... In January 2021, aged 46, she came back with ...': the primary
        # dated before the presentation's own date was found before it, not at the age the presentation gives
        own_date and dated is not None and own_date < str(dated.value)[:4]
    ):
        # the primary found at the presentation, first named in a sentence that retells the case (an occult primary
        # too: it is diagnosed with the metastasis that showed it)
        items.append((p, sorted({m.sentence for m in b.mentions if is_primary_mention(b, m)})))
    for met, sentences in items:
        if "age" in met or met.get("_age_is_later"):
            continue
        for j in sentences:
            if not b.in_story(j) or _RETELLING.match(b.sent_text(j)):
                continue  # 'We describe a woman whose breast cancer reached the cervix ...': the whole case retold
            told = [
                x
                for x in b.in_sentence(j)
                if (
                    (x.label == "SITE" and met is not p and fold(met["site"]).endswith(fold(x.target.term)))
                    or (met is p and is_primary_mention(b, x))
                )
                and not b.flashback_at(x.start)
            ]
            if not told:
                continue
            # a sentence cut for length goes on in the next: 'The jaundice of April 2011 came from a | metastasis'
            said = [j - 1, j] if j > 0 and b.sent_text(j)[:1].islower() else [j]
            same_date = dated is not None and any(
                d.value == dated.value
                for k in said
                for d in values.dates(b.sent_text(k))
                if not b.flashback_at(b.sentences[k][0] + d.start)
            )
            if b.episode_of[j] in present or (same_date and met is not p):
                b.put(met, "age", value, start, end, "presenting-age-retold", 0.6)
                break


def _resumed_episode(b: CaseDraft, at: int) -> int | None:
    """The episode that goes on with the presentation after its past history: the next one, opened by a date
    (not by a time after something), when every sentence between is told looking back."""
    e = b.episode_of[at]
    if b.episodes[e].date is not None or e + 1 >= len(b.episodes):
        return None
    nxt = b.episodes[e + 1]
    if nxt.relative is not None or nxt.date is None:
        return None
    between = [i for i in b.story() if at < i < nxt.start]
    if not between or not all(b.flashback[i] for i in between):
        return None
    return e + 1


# The metastasis told as what revealed the breast cancer: 'the first sign of a breast cancer', 'the presenting finding
# of metastatic breast cancer', 'in a woman with no known history of breast cancer'. The cancer was found with it.
_REVEALED_BY_IT = re.compile(
    r"\b(?:first|initial|only|presenting)\s+(?:and\s+only\s+)?(?:sign|manifestation|presentation|symptom|"
    r"finding|feature|evidence)\s+of\s+(?:an?\s+|the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,2}?(?:breast|mammary)\b"
    r"|\b(?:no|without\s+(?:a|any))\s+(?:known\s+|previous\s+|prior\s+|past\s+)*(?:personal\s+)?history\s+of\s+"
    r"(?:breast\s+)?(?:cancer|carcinoma|malignancy)\b",
    re.I,
)


def revealed_primary_age(b: CaseDraft) -> None:
    """A breast cancer the metastasis revealed (its first sign, a patient with no history of cancer) was found at the presentation: its age is the age the patient presented at, when the text gives the
    primary no time of its own."""
    p = b.primary
    if b.presenting_age is None or any(k in p for k in ("age", "relative", "date")):
        return
    told = [i for i, role in enumerate(b.roles) if role in (PATIENT, TITLE)]
    said = next((i for i in told if _REVEALED_BY_IT.search(b.sent_text(i))), None)
    if said is None:
        return
    value, start, end, _ = b.presenting_age
    b.put(p, "age", value, start, end, "revealed-primary-age", 0.6)


# The breast cancer as what the patient came with: 'presented with a primary breast cancer', 'came to us because of
# a lump in her left breast', 'had found a firm lump in her right breast', 'noticed a mass in the breast', 'was seen
# because a lump in her breast was growing'
_PRESENTED_WITH = re.compile(
    r"(?:\b(?:presented|came|was\s+referred|was\s+admitted|attended|consulted)\b[^.;]{0,30}?\b(?:with|because\s+of)"
    r"\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,5}?"
    r"|\b(?:found|noticed|felt|discovered|palpated|because(?:\s+of)?|since)\s+(?:an?\s+|the\s+)?(?:[\w,-]+\s+){0,3}?(?:lump|mass|nodule|swelling|"
    r"tumou?r)\s+in\s+(?:her|his|the)\s+(?:left\s+|right\s+)?)$",
    re.I,
)


def age_told_with_the_primary(b: CaseDraft) -> None:
    """'A woman of 52 presented with a primary breast cancer of stage IIB', 'We describe a woman of 39 with an
    operable breast cancer': the sentence that gives the patient's age tells the breast cancer and no metastasis, so
    the age is the primary's, even when the metastases came later."""
    from .primaries import is_primary_mention

    p = b.primary
    if b.presenting_age is None or "age" in p or p.get("_age_is_later"):
        return
    value, start, end, i = b.presenting_age
    if b.sentences[i][0] > start or start >= b.sentences[i][1]:
        return  # an age taken from elsewhere than the sentence it dates
    s0 = b.sentences[i][0]
    told = [
        m
        for m in b.mentions
        if m.sentence == i
        and is_primary_mention(b, m)
        and not m.negated
        and not m.historical
        and m.start > end
        and _PRESENTED_WITH.search(b.text[max(s0, m.start - 80) : m.start])
    ]
    if not told or any(i in met["_sentences"] for met in b.mets.values()):
        return
    b.put(p, "age", value, start, end, "age-told-with-the-primary", 0.6)


# Words that put what follows them after what was told before them: 'had a tumour of the breast removed, and it later
# came back in the lung', '... and three years afterwards spread to the liver'.
_LATER = re.compile(
    r"\b(?:later|afterwards?|subsequently|thereafter|eventually|then|(?:years?|months?)\s+after(?:wards)?)\b",
    re.I,
)
_PRESENTING_AGE = ("presenting-age", "presenting-age-retold")


def age_not_of_a_later_spread(b: CaseDraft) -> None:
    """The age at presentation belongs to what the patient presented with. When the story tells the patient coming
    with the breast cancer at that age ('A woman of 56 was referred because she had felt a lump in her breast'), a
    metastasis told only before that sentence (by the title, the abstract or a retelling) was no part of that
    presentation; and a metastasis the age's own sentence tells after the primary with a word of later time ('A woman
    of 54 had a tumour of the breast resected, and it later came back in the lung') came after the age. Neither keeps
    the age the presentation gives."""
    from .primaries import is_primary_mention

    value = b.presenting_age[0] if b.presenting_age is not None else None
    presented = None
    for i in b.story() if value is not None else ():
        if not any(f.value == value for f in values.ages(b.sent_text(i))):
            continue
        s0 = b.sentences[i][0]
        if not any(i in met["_sentences"] for met in b.mets.values()) and any(
            m.sentence == i
            and is_primary_mention(b, m)
            and not m.negated
            and not m.historical
            and _PRESENTED_WITH.search(b.text[max(s0, m.start - 80) : m.start])
            for m in b.mentions
        ):
            presented = i
            break
    for met in b.mets.values():
        ev = b.ev_of(met, "age")
        if ev is None or ev.rule not in (*_PRESENTING_AGE, "age-of-event"):
            continue
        before = presented is not None and max(met["_sentences"]) < presented and ev.rule != "age-of-event"
        i = ev.sentence
        primary_first = [m.end for m in b.in_sentence(i) if is_primary_mention(b, m) and m.start > ev.end]
        told_later = any(
            x.label == "SITE"
            and fold(met["site"]).endswith(fold(x.target.term))
            and any(end < x.start and _LATER.search(b.text[end : x.start]) for end in primary_first)
            for x in b.in_sentence(i)
        )
        if before or told_later:
            met.pop("age", None)
            b.evidence[:] = [e for e in b.evidence if not (e.item is met and e.field == "age")]
