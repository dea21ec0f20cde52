"""Shared placement helpers: the case being drafted, where each fact came from, and how it is put in place.

Each fact family (patient, primaries, metastases, markers, treatments, outcome) reads the mentions
and sentences of one case and puts what it finds into a CaseDraft through put(), which records the
fact's evidence; what cannot be placed goes to review through add_review(). Only sentences that
tell the patient's story (roles.py) give facts; their mentions are the CaseDraft's mentions.

Time is read as a story is told: the story runs in episodes. A sentence that moves the story on
('two years later', 'subsequently', a new date) opens an episode; a sentence that looks back
('five years earlier', 'a history of', 'had been treated') is a flashback and opens none. An
item takes the timing of the episode in which it first appears, unless its own words time it.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ...terminology import Terminology, fold
from .. import values
from ..pipeline import Mention
from ..roles import PATIENT
from ..rules import Rules
from ..text import Reference

_BLANK_LINE = re.compile(r"\n\s*\n")

# 'two years later', '3 months after the mastectomy', 'five years earlier', '14 years before'.
INTERVAL = re.compile(
    r"\b(\d+(?:\.\d+)?|(?:twenty|thirty|forty|fifty|sixty)[- ](?:one|two|three|four|five|six|seven|eight|nine)|"
    r"an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty)(?:\s+and\s+a\s+half)?[- ]"
    r"(year|month|week|day)s?\s+"
    r"(later|afterwards?|after|post-?operatively|postoperatively|into|before|earlier|ago|prior(?: to)?|previously)\b",
    re.I,
)
# Words that move a story on without a number.
SHIFT = re.compile(
    r"\b(later|subsequently|afterwards|thereafter|eventually|came back|returned|presented again|re-?presented|"
    r"was readmitted|at (?:her|his|the) (?:last )?(?:follow[- ]up|visit)"
    r"|(?:on|during|at|in)\s+(?:her\s+|his\s+|the\s+)?(?:later\s+|subsequent\s+)?follow[- ]up)\b",
    re.I,
)
# Words of a flashback: this sentence tells what happened before the presentation.
FLASHBACK = re.compile(
    r"\b(history of|known case of|known to have|had been|had had|had undergone|previously|in the past|"
    r"past medical history|was being followed|being followed|(?:was |were )?being treated|under treatment|"
    r"had once|before (?:this|the) (?:visit|presentation)|"
    r"earlier|ago|years? before|months? before|prior to)\b",
    re.I,
)
_CLAUSE_SPLIT = re.compile(
    r"[,;()]|\band (?=(?:she|he|they|it|there)\b)|\b(?=(?:but|while|whereas|although|when)\b)"
    r"|\b(?=(?:presented|presents|was admitted|came|developed|noticed|complained|was referred|was seen)\b)",
    re.I,
)
# Words that look back over the whole of their clause ('five years earlier she had been treated
# for ...'), as against ones that look back only at what follows them ('with a history of ...').
_ADVERBIAL = re.compile(r"\b(?:earlier|before|ago|previously|in the past|prior)\b", re.I)
_NEW_CLAUSE = re.compile(
    r"^\s*(?:and\s+)?(?:she|he|they|it|there|her|his|the patient|our patient|was admitted|was referred|was seen|"
    r"came|presented|developed|noticed|complained|was found|now|at presentation|on admission|this time)\b",
    re.I,
)
# 'nodules that had started two months earlier' looks back at the nodules' start, not at another
# time; 'a woman who had been treated for IDC' does look back.
_RELATIVE = re.compile(r"\b(?:that|which)\b", re.I)
# A clause that goes on from the one before: '..., by mastectomy with lymph node dissection'.
_GOES_ON = re.compile(
    r"^\s*(?:by|with|without|for|of|including|consisting|followed|via|using|through|then|and then)\b", re.I
)
_BEFORE_VISIT = re.compile(
    r"\b(?:before|earlier than)\s+(?:she|he)\s+(?:came|presented|was seen|was admitted|visited)", re.I
)
DIAGNOSED = re.compile(r"\b(diagnos\w*|present\w*|found|revealed|confirmed|detected|identified)\b", re.I)
SIDES = {"left": "left", "right": "right", "bilateral": "bilateral", "both": "bilateral"}
_SIDE_WORD = r"(left|right|bilateral|both)"
# 'right sphenoid sinus', 'left-sided breast', 'the left lower eyelid': a side up to three words before.
SIDE_BEFORE = re.compile(rf"\b{_SIDE_WORD}(?:[- ]sided?)?(?:\s+[a-z]+){{0,3}}?[\s,-]*$", re.I)
# A list's members joined ('supraclavicular and cervical', 'axillary, infraclavicular and'), and the side word
# right before its first member.
_LIST_JOIN = re.compile(r"^(?:\s*,\s*[a-z]+)*\s*(?:,\s*(?:and\s+|or\s+)?|(?:and|or)\s+)$", re.I)
_LIST_SIDE = re.compile(rf"\b{_SIDE_WORD}(?:[- ]sided?)?\s+$", re.I)
_SIDE_OF_PART = re.compile(
    rf"\b{_SIDE_WORD}\s+(?:lobe|side|half|wall|border|aspect|margin)\s+of\s+(?:the\s+|her\s+|his\s+)?$", re.I
)
# 'the orbit, left', 'of the right eye', 'on the left (side)', 'in both eyes'.
_CUE_NOUN = (
    r"(?:\s*(?:mass|masses|lesions?|nodules?|tumou?rs?|deposits?|metastas[ie]s|swelling|involvement))?"
)
SIDE_AFTER = re.compile(
    rf"^[\s,]*(?:\(\s*{_SIDE_WORD}\s*\)|{_SIDE_WORD}\b(?!\s+(?:breast|side of the)\b)"
    rf"|{_CUE_NOUN}\s*(?:of|in|on|at|over|involving)\s+(?:the\s+|her\s+|his\s+)?{_SIDE_WORD}(?:\s+side)?\b)",
    re.I,
)
_NOT_SIDE_AFTER_WORDS = re.compile(
    rf"^[\s,]*{_CUE_NOUN}\s*(?:of|in|on|at|over|involving)\s+(?:the\s+|her\s+|his\s+)?\w+\s+(\w+)", re.I
)
_BOTH_OF_THINGS = re.compile(
    r"^\s+(?:of\s+(?:them|these|which)|were|are|was|is|proven|proved|shown|confirmed|had|have|showed|being|turned)\b",
    re.I,
)
# 'both its buccal and its lingual side', 'both the upper and the lower lid': 'both A and B' with A no plural noun
# ('both eyes and the liver' keeps 'both eyes') names two parts, not two sides
_BOTH_OF_TWO = re.compile(r"^\s+(?:its\s+|the\s+|her\s+|his\s+)?[a-z]*[a-rt-z]\s+and\b", re.I)
# '... and ...' after a site that 'both' stands before: 'both A and B' names two things
# 'in each ovary', 'either adrenal gland': one of a pair, said of each of the two.
_EACH_BEFORE = re.compile(r"\b(each|either)\s+$", re.I)
_BOTH_AND = re.compile(r"^[^.;,]{0,40}?\band\b", re.I)
# 'in both lungs', 'all four limbs'; not 'in both axillae and in the lungs', where 'both' is the sites' before 'and'.
_BOTH_PLURAL = re.compile(
    r"\b(?:both|all (?:four|4|two|2))\b(?:(?!\b(?:and|or|in|to|with|as well as)\b)[^.;,]){0,20}$", re.I
)
_AGE_WHEN = re.compile(
    r"\b(?:diagnosed|was diagnosed)\s+at\s+(?:the\s+age\s+of\s+)?(\d{1,3})\b"
    r"|\b(\d{1,3})(?:[- ]years?[- ]old)?\s+(?:years\s+old\s+)?when\s+(?:she|he)\s+was\s+diagnosed\b",
    re.I,
)
_NOT_PATIENT_AGE = re.compile(
    r"\b(?:mean|median|average|range|ranging|between|aged between|younger than|older than|under|over)\s+"
    r"(?:age\s+)?(?:of\s+)?$",
    re.I,
)
# The age in the sentence's subject: 'A woman of 68', 'A 68-year-old woman', 'This 47-year-old woman', after a
# heading's label ('Case presentation: A woman of 53', 'Presentation of case: An obese man of 54'), with up to three
# words before the noun ('A previously healthy Chinese woman of 49'), or the report's own 'We describe a woman of 43'.
_SUBJECT_AGE = re.compile(
    r"^\s*(?:[A-Z][a-z]+(?: [a-z]+){0,3}\s*:\s*)?(?:(?:we|here we)\s+(?:report|describe|present)\s+)?"
    r"(?:an?|the|this|our)\s+(?:[\w-]+\s+){0,3}?(?:(?:woman|man|lady|patient|female|male)\s+(?:of|aged)\s+\d{1,3}"
    r"|\d{1,3}[- ]years?[- ]old)$",
    re.I,
)
_AT_REPORT = re.compile(
    r"^[\s,]*(?:years? old\s*)?(?:at the time of (?:this |the )?(?:report|writing)|now)\b", re.I
)
_SURGERY_WORDS = re.compile(
    r"\b(surgery|operation|mastectomy|lumpectomy|resection|excision|operated|[a-z]{3,}(?:ectomy|otomy|ostomy))\b",
    re.I,
)
_NUMBER_WORDS = {"a": 1, "an": 1}


def _intent_word(word: str) -> str:
    word = word.lower()
    if word.endswith(" adjuvant"):
        return "adjuvant"
    return "neoadjuvant" if word in ("preoperative", "pre-operative") else word


def _looks_back(how: str) -> bool:
    how = how.lower()
    return how in ("before", "earlier", "ago", "previously") or how.startswith("prior")


def item_id(name: str) -> str:
    """An id for an item named `name`, in the characters an id may hold: 'hartmann's procedure' -> 'hartmann-s-procedure'."""
    return re.sub(r"[^a-z0-9._]+", "-", fold(name)).strip("-._")[:64] or "item"


def interval_text(number: str, unit: str) -> str:
    """'two', 'years' -> '2 years'; 'a', 'month' -> '1 month'."""
    n = _NUMBER_WORDS.get(number.lower()) or values.number(number)
    return f"{n:g} {unit.lower()}{'s' if n != 1 else ''}"


# 'one year and two months later': the years told before the months that INTERVAL matched.
_YEARS_AND = re.compile(
    r"\b(\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[- ]years?,?\s+and\s+$", re.I
)


def interval_of(m: re.Match) -> str:
    """The interval a match of INTERVAL tells, with any years told before its months ('1 year and 2 months': 14 months)."""
    head = _YEARS_AND.search(m.string[max(0, m.start() - 25) : m.start()])
    if head and m.group(2).lower() == "month":
        years = _NUMBER_WORDS.get(head.group(1).lower()) or values.number(head.group(1))
        months = 12 * years + (_NUMBER_WORDS.get(m.group(1).lower()) or values.number(m.group(1)))
        return f"{months:g} months"
    if re.search(r"\band\s+a\s+half\b", m.group(0), re.I):  # 'eight and a half years': 8.5 years
        n = (_NUMBER_WORDS.get(m.group(1).lower()) or values.number(m.group(1))) + 0.5
        return f"{n:g} {m.group(2).lower()}s"
    return interval_text(m.group(1), m.group(2))


@dataclass
class Evidence:
    """Where one fact came from."""

    item: dict[str, Any]  # the case-file object the fact is in (its path is found at the end)
    field: str
    value: Any
    start: int
    end: int
    sentence: int
    rule: str
    confidence: float


@dataclass
class Review:
    """A fact seen in the text but not placed in the draft, and why."""

    fact: str
    why: str
    start: int
    end: int
    sentence: int | None


@dataclass
class Assembled:
    """One drafted case: its case-file dict, the evidence of each fact, and what needs a person."""

    case: dict[str, Any]
    evidence: list[dict[str, Any]]
    review: list[dict[str, Any]]
    sentences: list[tuple[int, int]]
    roles: list[str] = field(default_factory=list)


@dataclass
class Episode:
    """A stretch of the story at one time: where it starts and how the text times it."""

    start: int  # sentence index
    date: values.Found | None = None
    relative: tuple[str, str, int, int] | None = None  # (interval, anchor words, start, end) absolute
    sentence: int = 0


@dataclass
class CaseDraft:
    """One case being drafted: its text, sentences and mentions, the items placed so far, and their evidence."""

    source: str  # the text as read (other cases blanked): what evidence quotes
    text: str  # the same, normalised, with DOIs and URLs blanked: what the rules read
    sentences: list[tuple[int, int]]
    roles: list[str]
    mentions: list[Mention]  # mentions in sentences of the patient's story
    rules: Rules
    terminology: Terminology
    case_id: str
    references: list[Reference] = field(default_factory=list)
    original: str = ""  # the whole text as read: the case's references may sit in a header above it
    patient: dict[str, Any] = field(default_factory=dict)
    primary: dict[str, Any] = field(default_factory=dict)
    mets: dict[str, dict[str, Any]] = field(default_factory=dict)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    meds: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    review: list[Review] = field(default_factory=list)
    used_status: set[int] = field(default_factory=set)
    presenting_age: tuple[float, int, int, int] | None = None  # (age, start, end, sentence)
    age_of_primary: tuple[float, int, int, int] | None = None
    primary_historical: bool = False
    episodes: list[Episode] = field(default_factory=list)
    episode_of: list[int] = field(default_factory=list)  # per sentence
    flashback: list[bool] = field(default_factory=list)  # per sentence: does it look back?
    clauses: dict[int, list[tuple[int, int, bool]]] = field(
        default_factory=dict
    )  # per sentence: (start, end, looks back)
    present_episodes: set[int] = field(default_factory=set)
    age_is_now: bool = False  # the age is told in a sentence that looks back: it is the age at presentation
    focus: list[dict[str, Any] | None] = field(default_factory=list)  # the tumour each sentence is about
    found_at: dict[int, Any] = field(
        default_factory=dict
    )  # a site told before -> the mention that finds it metastatic
    title: list[Mention] = field(
        default_factory=list
    )  # mentions of the report's title (no part of the story)
    titled: set[str] = field(default_factory=set)  # the sites the title calls metastatic (folded terms)

    def __post_init__(self) -> None:
        self.original = self.original or self.source
        self._starts = [s for s, _ in self.sentences]
        self._by_sentence: dict[int, list[Mention]] = defaultdict(list)
        for m in (*self.mentions, *self.title):  # a site taken from the title is read among the title's words
            self._by_sentence[m.sentence].append(m)
        self._breast_words = {fold(w) for w in self.rules["primary_site_words"]}
        self._evidence_of: dict[tuple[int, str], Evidence] = {}
        self._inherited: dict[tuple[int, int], bool] = {}
        self._back_from: dict[tuple[int, int], int] = {}
        self._spans_of: dict[re.Pattern[str], tuple[list[int], list[int]]] = {}
        self._paragraph_of: list[int] = []

    # -- reading the text ---------------------------------------------------------------------
    def story(self) -> list[int]:
        """The sentences that tell the patient's story, in order."""
        return [i for i, role in enumerate(self.roles) if role == PATIENT]

    def in_story(self, i: int) -> bool:
        return 0 <= i < len(self.roles) and self.roles[i] == PATIENT

    def sent_text(self, i: int) -> str:
        s, e = self.sentences[i]
        return self.text[s:e]

    def found_between(self, pattern: re.Pattern[str], start: int, end: int) -> bool:
        """Whether `pattern` matches the text somewhere within [start, end). The text is searched once per
        pattern, so asking about many spans costs a search of the text plus a lookup each, not a search of
        each span (a drug named a hundred times is not a hundred searches of what lies between)."""
        if pattern not in self._spans_of:
            found = [(m.start(), m.end()) for m in pattern.finditer(self.text)]
            self._spans_of[pattern] = ([s for s, _ in found], [e for _, e in found])
        starts, ends = self._spans_of[pattern]
        k = bisect.bisect_left(starts, start)
        return k < len(starts) and ends[k] <= end

    def paragraph_start(self, i: int) -> int:
        """The first sentence of sentence i's paragraph (a blank line ends a paragraph)."""
        if not self._paragraph_of:
            first = 0
            for k in range(len(self.sentences)):
                if k and _BLANK_LINE.search(self.text, self.sentences[k - 1][1], self.sentences[k][0]):
                    first = k
                self._paragraph_of.append(first)
        return self._paragraph_of[i]

    def sent_of(self, pos: int) -> int:
        i = bisect.bisect_right(self._starts, pos) - 1
        return max(0, min(i, len(self.sentences) - 1))

    def in_sentence(self, i: int, label: str | None = None) -> list[Mention]:
        return [m for m in self._by_sentence.get(i, ()) if label is None or m.label == label]

    def is_breast(self, m: Mention) -> bool:
        c = m.target.concept
        return (c is not None and c.kind == "breast") or fold(m.target.term) in self._breast_words

    def clause_start(self, pos: int) -> int:
        """Where the clause holding `pos` starts, within its sentence."""
        i = self.sent_of(pos)
        s0 = self.sentences[i][0]
        head = self.text[s0:pos]
        cut = max(head.rfind(";"), head.rfind(":"), head.rfind("("))
        for m in re.finditer(r"\b(?:because|since|whereas|although|though|while|unlike|than)\b", head, re.I):
            cut = max(cut, m.start())
        return s0 + cut + 1 if cut >= 0 else s0

    # -- placing facts ------------------------------------------------------------------------
    def put(self, item, key, value, start, end, rule, confidence=0.9, sentence=None, overwrite=False) -> bool:
        if value is None or (key in item and not overwrite):
            return False
        item[key] = value
        ev = Evidence(item, key, value, start, end, self.sent_of(start) if sentence is None else sentence,
                      rule, confidence)  # fmt: skip
        self.evidence.append(ev)
        self._evidence_of[(id(item), key)] = ev
        return True

    def met_keys_in(self, i: int) -> list[str]:
        return [k for k, met in self.mets.items() if i in met.get("_sentences", ())]

    def ev_of(self, item: dict[str, Any], key: str) -> Evidence | None:
        return self._evidence_of.get((id(item), key))

    def add_review(self, fact: str, why: str, start: int, end: int) -> None:
        self.review.append(Review(fact, why, start, end, self.sent_of(start) if end > start else None))

    # -- sides ---------------------------------------------------------------------------------
    def side_of(self, m: Mention) -> tuple[str, int, int] | None:
        """The side the words around a site give it: before it in its noun phrase, or just after."""
        inside = re.match(rf"^{_SIDE_WORD}\b", m.text, re.I) or re.search(
            rf"(?:^|\s)(?:of|over|on|in|within|at|above|below|beneath|under|behind|beside)\s+"
            rf"(?:the\s+|her\s+|his\s+)?{_SIDE_WORD}\b",
            m.text,
            re.I,
        )  # 'the skin of the right arm', 'nodes in the left axilla', 'a node above the left clavicle': a site
        # named with its region keeps its side
        if inside:
            return SIDES[inside.group(1).lower()], m.start, m.end
        s0 = self.sentences[m.sentence][0]
        part = _SIDE_OF_PART.search(self.text[max(s0, m.start - 40) : m.start])
        if part and fold(m.target.term) not in {fold(w) for w in self.rules["unsided_sites"]}:
            # 'the left lobe of the thyroid', 'the right side of the neck': the part's side is the organ's
            return SIDES[part.group(1).lower()], m.start - len(part.group(0)), m.end
        plural = m.text.lower().endswith(("s", "ae"))  # 'both lungs', 'both axillae'
        window_start = max(s0, m.start - 40)
        each = _EACH_BEFORE.search(self.text[window_start : m.start])
        if each and not plural:
            return "bilateral", window_start + each.start(1), m.end  # 'a mass in each submandibular gland'
        before = SIDE_BEFORE.search(self.text[window_start : m.start])
        if before and not re.search(
            r"[,;.()]|\b(?:and|or|with|of|in|to|from)\b", before.group(0)[len(before.group(1)) :]
        ):
            word = before.group(1).lower()
            if word == "both" and not plural and _BOTH_AND.match(self.text[m.end : m.end + 60]):
                pass  # 'both a skin lesion and the breast mass': two things, not two sides ('both adnexa' is)
            elif word in ("both", "bilateral") or not self._other_site_between(
                m, window_start + before.start(1)
            ):  # 'the left breast had a pleural effusion': a site named with the side word takes it
                return SIDES[word], window_start + before.start(1), m.end
        if _BOTH_PLURAL.search(self.text[window_start : m.start]) and plural:
            return "bilateral", m.start, m.end
        listed = self._side_of_list(m)
        if listed is not None:
            return listed
        end = self.sentences[m.sentence][1]
        after = SIDE_AFTER.match(self.text[m.end : min(end, m.end + 40)])
        if after:
            word = next(g for g in after.groups() if g)
            if word.lower() == "both" and _BOTH_OF_THINGS.match(
                self.text[m.end + after.end() : m.end + after.end() + 20]
            ):
                return None  # '... and nodules of the chest wall, both proven to be metastases': both of the things
            if word.lower() == "both" and _BOTH_OF_TWO.match(
                self.text[m.end + after.end() : m.end + after.end() + 40]
            ):
                return None  # 'the gum on both its inner and its outer side': both parts of one site, not two sides
            follow = _NOT_SIDE_AFTER_WORDS.match(self.text[m.end : min(end, m.end + 40)])
            named = follow.group(1).lower() if follow else ""
            if named in ("breast", "breasts"):
                return None  # 'the axilla of the left breast': that side is the breast's
            other = self._site_named(named, m)
            if other is not None and not self.contains(other, m):
                return (
                    None  # another site's side, unless it holds this one ('choroidal tumours in both eyes')
                )
            return SIDES[word.lower()], m.start, m.end + after.end()
        return None

    def _side_of_list(self, m: Mention) -> tuple[str, int, int] | None:
        """The side told once before a list of sites that share the last one's head noun: 'the left supraclavicular
        and cervical lymph nodes', 'the right axillary, infraclavicular and supraclavicular nodes'. Each member before
        the head is a bare modifier of it (the maps hold it with the head); the side before the first is every one's."""
        words = fold(m.target.term).split()
        if len(words) < 2:
            return None
        head = " ".join(words[1:])
        members = sorted(
            (x for x in self.in_sentence(m.sentence, "SITE") if x.end <= m.start), key=lambda x: x.start
        )
        pos = m.start
        first = None
        for x in reversed(members):
            if not _LIST_JOIN.match(self.text[x.end : pos]):
                break
            term = fold(x.target.term)
            if " " in x.text.strip() or term != f"{fold(x.text)} {head}":
                break  # a site of its own ('the left breast and axillary nodes'), not a modifier of the head
            first, pos = x, x.start
        if first is None:
            return None
        lead = _LIST_SIDE.search(
            self.text[max(self.sentences[m.sentence][0], first.start - 20) : first.start]
        )
        if lead is None:
            return None
        return SIDES[lead.group(1).lower()], first.start - len(lead.group(0)), m.end

    def contains(self, outer: Mention, inner: Mention) -> bool:
        """Whether the site `outer` holds the site `inner` (rules.yaml site_containers): the eye holds the choroid."""
        table = {fold(k): {fold(x) for x in v} for k, v in self.rules["site_containers"].items()}
        return fold(inner.target.term) in table.get(fold(outer.target.term), set())

    def _site_named(self, word: str, m: Mention) -> Mention | None:
        if not word:
            return None
        return next(
            (x for x in self.in_sentence(m.sentence, "SITE") if x is not m and fold(x.text).endswith(word)),
            None,
        )

    def _other_site_between(self, m: Mention, pos: int) -> bool:
        return any(pos <= x.start < m.start for x in self.in_sentence(m.sentence, "SITE") if x is not m)

    # -- confirmation terms ---------------------------------------------------------------------
    def evidence_term(self, word: str) -> str | None:
        table = {fold(k): v for k, v in self.rules["confirmation_terms"].items()}
        key = fold(word)
        for prefix, term in table.items():
            if key.startswith(prefix):
                key = fold(term)
                break
        # 'histologic', 'histological' and 'histologically' are said of histology
        for candidate in (key, key.rstrip("s"), re.sub(r"(ic|ical|ically|y)$", "y", key)):
            concept = self.terminology.lookup("observations", candidate)
            if concept is not None and concept.kind == "evidence":
                return concept.terms[0]
        return None

    def intent(self, m: Mention) -> tuple[str, int] | None:
        """The intent word of a treatment: just before it with no other treatment between, or 'with X intent' of its sentence."""
        lo = max(self.clause_start(m.start), m.start - 30)
        others = [
            x.end
            for x in self.in_sentence(m.sentence)
            if x.label in ("PROCEDURE", "DRUG") and lo <= x.end <= m.start and x is not m
        ]
        lo = max([lo, *others])
        listed = max(self.text.rfind(",", lo, m.start), self.text.rfind(";", lo, m.start))
        lo = max(
            lo, listed + 1
        )  # 'neoadjuvant therapy, surgery and ...': the intent is the item's before the comma
        window = self.text[lo : m.end].lower()
        for word in sorted(self.rules["intents"], key=len, reverse=True):
            pos = window.rfind(word)
            if pos >= 0:
                return _intent_word(word), lo + pos
        s0 = self.sentences[m.sentence][0]
        stated = re.search(
            r"\b(palliative|curative|adjuvant|neoadjuvant) (?:intent|aim|setting)\b",
            self.text[s0 : m.start],
            re.I,
        )
        if stated:
            return stated.group(1).lower(), s0 + stated.start()
        return None

    # -- time ----------------------------------------------------------------------------------
    def _clauses(self, i: int) -> list[tuple[int, int, bool]]:
        """The clauses of sentence i, each with whether it looks back ('who had been treated ... in the past')."""
        text = self.sent_text(i)
        s0 = self.sentences[i][0]
        cuts = [0] + [m.start() if not m.group(0).strip() or m.group(0)[0].isalpha() else m.end()
                      for m in _CLAUSE_SPLIT.finditer(text)] + [len(text)]  # fmt: skip
        out: list[tuple[int, int, bool]] = []
        for a, c in zip(cuts, cuts[1:], strict=False):
            if c <= a:
                continue
            clause = text[a:c]
            back = False
            from_pos = None
            for cue in list(FLASHBACK.finditer(clause)) + [
                m for m in INTERVAL.finditer(clause) if _looks_back(m.group(3))
            ]:
                head = clause[: cue.start()]
                if _RELATIVE.search(head) or _BEFORE_VISIT.search(clause[cue.start() : cue.end() + 30]):
                    continue  # 'nodules that had started two months earlier': the nodules are now
                back = True
                start = a if _ADVERBIAL.search(cue.group(0)) else a + cue.start()
                from_pos = start if from_pos is None else min(from_pos, start)
            inherited = False
            fronted = (
                bool(out) and out[0][2] and INTERVAL.match(text[out[0][0] - s0 : out[0][1] - s0].strip())
            )
            if (
                not back
                and out
                and out[-1][2]
                and (fronted or _GOES_ON.match(clause))
                and not _NEW_CLAUSE.match(clause)
            ):
                back = inherited = (
                    True  # '..., by mastectomy with lymph node dissection' goes on looking back
                )
                from_pos = a
            out.append((s0 + a, s0 + c, back))
            self._inherited[(i, s0 + a)] = inherited
            self._back_from[(i, s0 + a)] = s0 + (from_pos if from_pos is not None else c)
        return out

    def clause_chain(self, pos: int) -> tuple[int, int]:
        """The span of the clause at `pos` with the clauses it goes on from ('..., by mastectomy')."""
        i = self.sent_of(pos)
        clauses = self.clauses.get(i) or [(self.sentences[i][0], self.sentences[i][1], False)]
        k = next((n for n, (a, c, _) in enumerate(clauses) if a <= pos < c), len(clauses) - 1)
        start = clauses[k][0]
        while k > 0 and self._inherited.get((i, clauses[k][0])):
            k -= 1
            start = clauses[k][0]
        end = next((c for a, c, _ in clauses if a <= pos < c), clauses[-1][1])
        return start, end

    def flashback_at(self, pos: int) -> bool:
        """Whether the words at `pos` are told looking back, in a clause of earlier history."""
        i = self.sent_of(pos)
        for a, c, back in self.clauses.get(i, ()):
            if a <= pos < c:
                return back and pos >= self._back_from.get((i, a), a)
        return False

    def read_time(self) -> None:
        """Episodes and flashbacks of the story, and the ages the story gives."""
        self.episode_of = [0] * len(self.sentences)
        self.flashback = [False] * len(self.sentences)
        self.episodes = [Episode(0)]
        back_intervals: set[str] = set()
        for i in self.story():
            text = self.sent_text(i)
            s0 = self.sentences[i][0]
            self.clauses[i] = self._clauses(i)
            intervals = list(INTERVAL.finditer(text))
            for m in intervals:
                if _looks_back(m.group(3)) and self.flashback_at(s0 + m.start()):
                    back_intervals.add(interval_of(m))
            self.flashback[i] = any(back for _, _, back in self.clauses[i])
            forward = [
                m for m in intervals if not _looks_back(m.group(3)) and not self.flashback_at(s0 + m.start())
            ]
            dates = (
                [d for d in values.dates(text) if not self.flashback_at(s0 + d.start)]
                if not values.between(text)
                else []
            )
            shift = SHIFT.search(text)
            current = self.episodes[-1]
            opens = None
            if forward:
                m = forward[0]
                anchor = text[m.end() : m.end() + 60]
                opens = Episode(i, relative=(interval_of(m), m.group(3).lower() + anchor,
                                             s0 + m.start(), s0 + m.end()), sentence=i)  # fmt: skip
            elif (
                dates
                and (current.date is not None or i > current.sentence)
                and (current.date is None or dates[0].value != current.date.value)
            ):
                opens = Episode(
                    i, date=values.Found(dates[0].value, s0 + dates[0].start, s0 + dates[0].end), sentence=i
                )
            elif shift and not self.flashback_at(s0 + shift.start()) and i > self.story()[0]:
                opens = Episode(i, sentence=i)
            if opens is not None:
                if dates and opens.date is None:
                    opens.date = values.Found(dates[0].value, s0 + dates[0].start, s0 + dates[0].end)
                self.episodes.append(opens)
            elif dates and current.date is None:
                current.date = values.Found(dates[0].value, s0 + dates[0].start, s0 + dates[0].end)
                current.sentence = current.sentence or i
            self.episode_of[i] = len(self.episodes) - 1
        for n, ep in enumerate(self.episodes):
            # 'diagnosed two years earlier' ... 'two years after the first diagnosis': back at the presentation
            if (
                ep.relative is not None
                and ep.relative[0] in back_intervals
                and "diagnos" in ep.relative[1][:60]
            ):
                self.present_episodes.add(n)
        for i in self.story():
            text = self.sent_text(i)
            s0 = self.sentences[i][0]
            when = _AGE_WHEN.search(text)
            if when and self.age_of_primary is None:
                g = 1 if when.group(1) else 2
                self.age_of_primary = (float(when.group(g)), s0 + when.start(g), s0 + when.end(g), i)
            for f in values.ages(text):
                if _NOT_PATIENT_AGE.search(text[max(0, f.start - 30) : f.start]):
                    continue
                if self.flashback_at(s0 + f.start):
                    if _SUBJECT_AGE.match(text[: f.end]) and self.presenting_age is None:
                        # 'A woman of 68 had been diagnosed six years earlier ...': the subject's age is now
                        self.presenting_age = (f.value, s0 + f.start, s0 + f.end, i)
                        self.age_is_now = True
                        break
                    continue
                if _AT_REPORT.match(text[f.end :]):
                    continue  # her age when the report was written dates nothing
                if self.presenting_age is None:
                    self.presenting_age = (f.value, s0 + f.start, s0 + f.end, i)
                break
        if self.presenting_age is None and self.age_of_primary is not None:
            self.presenting_age = self.age_of_primary
        if self.presenting_age is not None:
            self.present_episodes.add(self.episode_of[self.presenting_age[3]])
            _, start, _, i = self.presenting_age
            clause = next((c for c in self.clauses.get(i, ()) if c[0] <= start < c[1]), None)
            if clause is not None and clause[2] and self._back_from.get((i, clause[0]), clause[1]) > start:
                # 'This 47-year-old woman had been diagnosed in 2015 ...': the age is now, the diagnosis then
                self.age_is_now = True

    def time_item(
        self, item: dict[str, Any], i: int, pos: int | None = None, *, relative: bool = True
    ) -> None:
        """Give an item first told at `pos` of sentence i the timing of its episode (what it lacks of it)."""
        pos = self.sentences[i][0] if pos is None else pos
        if self.flashback_at(pos):
            return  # told looking back, with no number of years: no time is told
        ep = self.episodes[self.episode_of[i]]
        if ep.relative is not None and ep.sentence == i and ep.relative[2] > pos:
            lo, hi = self.clause_chain(pos)
            if not lo <= ep.relative[2] < hi and self.episode_of[i] > 0:
                # '... metastases were found together, who remains free of disease 15 years after ...':
                # the interval times another clause; the item keeps the time before it
                ep = self.episodes[self.episode_of[i] - 1]
        timed = any(k in item for k in ("date", "relative", "between"))
        if not timed and relative and ep.relative is not None:
            interval, anchor_words, start, end = ep.relative
            to = self.anchor_for(anchor_words, ep.sentence, exclude=item)
            if to is not None and not self._reverse_of(item, to, interval):
                self.put(item, "relative", {"to": to, "after": interval}, start, end, "episode-interval", 0.7)
                timed = True
        if not timed and ep.date is not None:
            self.put(item, "date", ep.date.value, ep.date.start, ep.date.end, "episode-date", 0.7)
        if self.presenting_age and self.episode_of[i] in self.present_episodes and "age" not in item:
            value, start, end, _ = self.presenting_age
            self.put(item, "age", value, start, end, "presenting-age", 0.6)

    def _reverse_of(self, item: dict[str, Any], to: str, interval: str) -> bool:
        """Whether the primary already says the same time the other way round ('diagnosed 14 years before')."""
        rel = self.primary.get("relative")
        return bool(
            rel
            and to == self.primary.get("id")
            and rel.get("to") == item.get("id")
            and rel.get("before") == interval
        )

    def anchor_for(self, words: str, i: int, exclude: dict[str, Any] | None = None) -> str | None:
        """The id an interval's words ('later', 'after the mastectomy', 'postoperatively') are counted from."""
        words = words.lower()
        head = words.split(".")[0]
        if re.match(r"^after (?:the |this |that )?procedure", head):
            done = [p for p in self.procedures if p["_sentence"] <= i]
            if done:
                return done[-1]["id"]
        if re.match(r"^(?:post-?operatively|postoperatively)", head) or (
            head.startswith("after") and _SURGERY_WORDS.search(head[:40])
        ):
            surgery = [p for p in self.procedures if p.get("_kind") == "surgery" and p["_sentence"] <= i]
            word = _SURGERY_WORDS.search(head[:40])
            named = [p for p in surgery if word and word.group(1).lower() in fold(p["name"]).split()]
            if named and word.group(1).lower() not in ("surgery", "operation", "operated"):
                # 'fourteen years after the mastectomy and four after the hysterectomy': the one named
                return named[-1]["id"]
            if surgery:
                last = max(p["_sentence"] for p in surgery)
                return next(p for p in surgery if p["_sentence"] == last)[
                    "id"
                ]  # the main one of that sentence
        if re.match(r"^after (?:the|her|his|this|that) (?:treatment|therapy|therapies)\b", head):
            done = [p for p in self.procedures + self.meds if p["_sentence"] <= i]
            if done:  # 'one year after the treatment': the last treatment told
                last = max(done, key=lambda p: p["_sentence"])
                return last.setdefault("id", item_id(last["name"]))
        if head.startswith("after") and re.match(r"^after (?:the |her |his )?(?:\w+ )?biops", head):
            biopsies = [p for p in self.procedures if p.get("_kind") == "biopsy" and p["_sentence"] <= i]
            if biopsies:
                return biopsies[-1]["id"]
        if head.startswith("after") and re.match(
            r"^after (?:starting|beginning|initiation of|the start of) it", head
        ):
            meds = [m for m in self.meds if m["_sentence"] <= i]
            if meds:
                return meds[-1].setdefault("id", item_id(meds[-1]["name"]))
        if re.match(
            r"^after (?:that|this|the|her|his) (?:first|initial|primary|original) (?:treatment|therapy)", head
        ):
            pid = self.primary.get("id")  # 'ten years after that first treatment': the primary's whole course
            if pid and (exclude is None or exclude.get("id") != pid):
                return pid
        if re.match(r"^after (?:that|this|it)\b", head):
            # 'one month after that': the last treatment told before
            done = [p for p in self.procedures + self.meds if p["_sentence"] < i or p["_sentence"] == i]
            if done:
                last = max(done, key=lambda p: p["_sentence"])
                return last.setdefault("id", item_id(last["name"]))
        if re.match(r"^after (?:she|he) (?:first )?presented", head):
            first = self.presenting_met()
            if first is not None and first is not exclude:
                return first["id"]
        if re.match(r"^later\b(?!\s+(?:than|after|from|following))", head):
            # 'Four and a half months later metastases appeared in the meninges', after a sentence that told
            # a metastasis: counted from that one, the last thing the story told
            before = [j for j in self.story() if j < i]
            if before:
                j = before[-1]
                told = [
                    met
                    for met in self.mets.values()
                    if j in met["_sentences"]
                    and met is not exclude
                    and not self.flashback_at(met["_first_pos"])
                ]
                # a site named as what another interval counts from ('five years before the conjunctival
                # lesion appeared') is not what its sentence told
                anchors = [
                    x
                    for x in self.in_sentence(j, "SITE")
                    if re.search(r"\b(?:before|after|since|until)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+)?$",
                                 self.text[max(0, x.start - 30) : x.start], re.I)
                ]  # fmt: skip
                if len(told) == 1 and not anchors:
                    return told[0]["id"]
        pid = self.primary.get("id")
        return pid if pid and (exclude is None or exclude.get("id") != pid) else None

    def presenting_met(self) -> dict[str, Any] | None:
        """The metastasis the patient presented with: the first one told outside a flashback.

        First in the text, not first drafted: a site read later (from a title, a finer region or
        another sentence's lesion) may be drafted before the one the story opens with.
        """
        told = sorted(self.mets.values(), key=lambda met: met["_first_pos"])
        for met in told:
            if not self.flashback_at(met["_first_pos"]):
                return met
        return next(iter(told), None)

    # -- the finished case ----------------------------------------------------------------------
    def finish(self) -> Assembled:
        def clean(item: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in item.items() if not k.startswith("_")}

        case: dict[str, Any] = {"case": {"id": self.case_id}, "patient": self.patient,
                                "primary_cancers": [self.primary]}  # fmt: skip
        paths: dict[int, str] = {id(self.patient): "patient", id(self.primary): "primary_cancers[0]"}
        source: dict[str, Any] = {}
        for ref in self.references:
            source[ref.key] = ref.value
        if source:
            case["case"]["source"] = source
            paths[id(source)] = "case.source"
            for ref in self.references:
                i = self.sent_of(ref.start)
                self.evidence.append(
                    Evidence(source, ref.key, ref.value, ref.start, ref.end, i, "reference-in-text", 0.9)
                )
        lists = {
            "metastases": list(self.mets.values()),
            "procedures": self.procedures,
            "medications": self.meds,
            "disease_status": self.statuses,
        }
        if "vital_status" in self.patient:
            paths[id(self.patient["vital_status"])] = "patient.vital_status"
        for j, g in enumerate(self.patient.get("germline", [])):
            paths[id(g)] = f"patient.germline[{j}]"
        if "receptors" in self.primary:
            paths[id(self.primary["receptors"])] = "primary_cancers[0].receptors"
        for j, mk in enumerate(self.primary.get("markers", [])):
            paths[id(mk)] = f"primary_cancers[0].markers[{j}]"
        for key, items in lists.items():
            for j, item in enumerate(items):
                paths[id(item)] = f"{key}[{j}]"
                for n, mk in enumerate(item.get("markers", [])):
                    paths[id(mk)] = f"{key}[{j}].markers[{n}]"
            if items:
                case[key] = [clean(x) for x in items]
        evidence = []
        for ev in self.evidence:
            path = paths.get(id(ev.item))
            if path is None or ev.field not in ev.item:
                continue
            s, e = self.sentences[ev.sentence]
            quote = self.original if ev.rule == "reference-in-text" else self.source
            if not (s <= ev.start and ev.end <= e + 1):
                # A header line (a DOI in the citation) is its own sentence.
                s = quote.rfind("\n", 0, ev.start) + 1
                e = quote.find("\n", ev.end)
                e = len(quote) if e < 0 else e
                while s < ev.start and quote[s].isspace():
                    s += 1
            evidence.append({
                "path": f"{path}.{ev.field}",
                "value": ev.value,
                "start": ev.start,
                "end": ev.end,
                "text": quote[ev.start : ev.end],
                "sentence": {"start": s, "end": e, "text": quote[s:e].rstrip()},
                "rule": ev.rule,
                "confidence": ev.confidence,
            })  # fmt: skip
        review = []
        for r in self.review:
            item = {"fact": r.fact, "why": r.why}
            if r.sentence is not None and r.end > r.start:
                s, e = self.sentences[r.sentence]
                item.update({"start": r.start, "end": r.end, "sentence": self.source[s:e].strip()})
            review.append(item)
        return Assembled(case, evidence, review, self.sentences, self.roles)
