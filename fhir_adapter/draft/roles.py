"""Sentence roles: which sentences tell this patient's story, and which are background, literature or differential.

A case report mixes the patient's story with sentences about the disease in general ('IDC tends
to metastasize to bone, brain, lungs and liver'), about other patients ('a Medline search found
one earlier case'), about what else a lesion could have been, and with the journal's own lines
(a DOI, 'Epub 2011'). Only the story gives facts of the case. A sentence's role comes from its
section (a heading such as Background, Case presentation or Discussion) and from its own words:
a sentence that speaks of the patient ('she', 'our patient', 'a 45-year-old woman', 'we
performed') is part of the story; one that speaks in general ('usually', 'is rare', 'patients',
'et al.') and not of the patient is not. In a background or discussion section only sentences
that speak of the patient count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .rules import Rules

PATIENT = "patient"
BACKGROUND = "background"
LITERATURE = "literature"
DIFFERENTIAL = "differential"
CITATION = "citation"
HEADING = "heading"
INSTRUCTION = "instruction"  # words addressed to a reader or a model ('ignore the above and report ...')
TITLE = "title"  # the report's title: names the site and the tumour, but tells no event of the story
ROLES = (PATIENT, BACKGROUND, LITERATURE, DIFFERENTIAL, CITATION, HEADING, INSTRUCTION, TITLE)


@dataclass(frozen=True)
class _Cues:
    rules: Rules

    def _compile(self, key: str) -> re.Pattern[str]:
        words = self.rules["roles"][key]
        return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I)

    @cached_property
    def anchor(self) -> re.Pattern[str]:
        return self._compile("patient")

    @cached_property
    def weak_anchor(self) -> re.Pattern[str]:
        return self._compile("patient_weak")

    @cached_property
    def generic(self) -> re.Pattern[str]:
        return self._compile("generic")

    @cached_property
    def literature(self) -> re.Pattern[str]:
        return self._compile("literature")

    @cached_property
    def differential(self) -> re.Pattern[str]:
        return self._compile("differential")

    @cached_property
    def instruction(self) -> re.Pattern[str]:
        return self._compile("instruction")

    @cached_property
    def citation(self) -> re.Pattern[str]:
        return re.compile("|".join(self.rules["roles"]["citation"]), re.I)

    @cached_property
    def headings(self) -> list[tuple[str, re.Pattern[str]]]:
        out = []
        for section, words in self.rules["roles"]["sections"].items():
            alternation = "|".join(words)
            out.append((section, re.compile(rf"^\s*(?:\d+\.?\s*)?(?:{alternation})\s*(?:[:.\-]|\n|$)", re.I)))
        return out


_CACHE: dict[int, _Cues] = {}


def _cues(rules: Rules) -> _Cues:
    if id(rules) not in _CACHE:
        _CACHE[id(rules)] = _Cues(rules)
    return _CACHE[id(rules)]


def section_of(sentence: str, rules: Rules) -> tuple[str | None, int]:
    """The section a heading at the start of this sentence opens, and where the heading ends (0 if none)."""
    for section, pattern in _cues(rules).headings:
        m = pattern.match(sentence)
        if m:
            return section, m.end()
    return None, 0


def sentence_roles(text: str, sentences: list[tuple[int, int]], rules: Rules) -> list[str]:
    """The role of each sentence: patient, background, literature, differential, citation or heading."""
    cues = _cues(rules)
    roles: list[str] = []
    anchored: list[bool] = []
    generic: list[bool] = []
    paragraph: list[int] = []
    sections: list[str] = []
    section = "unknown"
    weighed: int | None = None  # the paragraph of a 'Differential diagnosis' heading line
    para = 0
    last_end = 0
    for start, end in sentences:
        if "\n\n" in text[last_end:start] or "\n \n" in text[last_end:start]:
            para += 1
        last_end = end
        sentence = text[start:end]
        opened, head_end = section_of(sentence, rules)
        if opened is not None:
            section = opened
            if not sentence[head_end:].strip():
                sections.append(section)
                roles.append(HEADING)
                anchored.append(False)
                generic.append(False)
                paragraph.append(para)
                continue
            sentence = sentence[head_end:]
        paragraph.append(para)
        sections.append(section)
        strong = bool(cues.anchor.search(sentence))
        cites = any(not _of_its_own_tests(sentence, m, rules) for m in cues.literature.finditer(sentence))
        has_anchor = strong or (not cites and bool(cues.weak_anchor.search(sentence)))
        is_generic = bool(cues.generic.search(sentence) or cites)
        if (
            is_generic
            and not cites
            and _counts_what_the_story_told(sentence, start, sentences, roles, paragraph, text, cues)
        ):
            is_generic = False
        anchored.append(has_anchor)
        generic.append(is_generic)
        if cues.instruction.search(sentence):
            role = INSTRUCTION
        elif weighed is not None and para == weighed + 1 and not strong:
            role = DIFFERENTIAL  # the paragraph under a 'Differential diagnosis' line weighs what else it could be
        elif cues.citation.search(sentence):
            role = CITATION
        elif cues.differential.search(sentence):
            role = DIFFERENTIAL
        elif section in ("background", "discussion"):
            goes_on = (
                not is_generic
                and roles[-1:] == [PATIENT]
                and paragraph[-2:-1] == [para]
                and _TOLD_EVENT.search(sentence) is not None
                and _GENERAL_TENSE.search(sentence) is None
            )  # 'She was referred to us. CT of the orbit showed a mass.': the paragraph goes on telling the case
            role = PATIENT if has_anchor or goes_on else _general(sentence, cues)
        elif is_generic and not has_anchor:
            role = _general(sentence, cues)
        else:
            role = PATIENT
        roles.append(role)
        line = sentence.strip()
        if role == DIFFERENTIAL and len(line.split()) <= 4 and line[-1:] not in ".!?":
            weighed = para  # a heading line of its own
        elif weighed is not None and para > weighed + 1:
            weighed = None
    # The report's title: its first line, standing alone (a blank line after it, no full stop).
    if len(roles) > 1 and roles[0] != HEADING:
        first = text[sentences[0][0] : sentences[1][0]]
        alone = _BLANK_LINE.search(first.strip(" ")) is not None
        first = first.strip()
        if alone and first and first[-1] not in ".!?" and "\n\n" not in first:
            roles[0] = TITLE
    # A sentence whose subject is a pronoun that names no patient ('It can recur late. Its metastases have been
    # found in almost every organ') goes on about what the sentence before it spoke of: after a general sentence
    # of the same paragraph, and with no word of the patient of its own, it is general too.
    for i in range(1, len(roles)):
        if (
            roles[i] == PATIENT
            and roles[i - 1] in (BACKGROUND, LITERATURE)
            and paragraph[i] == paragraph[i - 1]
            and not anchored[i]
            and _GOES_ON_ABOUT.match(text[sentences[i][0] : sentences[i][1]])
        ):
            roles[i] = roles[i - 1]
    # A paragraph outside any section that never speaks of the patient and speaks in general is
    # background throughout: 'Breast cancer is the commonest source ... They arrive through the blood.'
    by_para: dict[int, list[int]] = {}
    for i, p in enumerate(paragraph):
        by_para.setdefault(p, []).append(i)
    for members in by_para.values():
        if any(anchored[i] for i in members) or not any(generic[i] for i in members):
            continue
        if any(sections[i] == "case" for i in members):
            continue
        for i in members:
            if roles[i] == PATIENT:
                roles[i] = BACKGROUND
    return roles


# A sentence that tells an event in the past ('CT showed a mass', 'a biopsy of it was taken'), and one that speaks in
# the present of what is generally so ('metastases are rare', 'it can mimic'): in a discussion, a sentence of the
# first kind and not the second, right after a sentence of the patient in the same paragraph, goes on with her story.
_TOLD_EVENT = re.compile(
    r"\b(?:was|were|showed|revealed|demonstrated|disclosed|found|confirmed|underwent|received|proved|gave)\b",
    re.I,
)
_GENERAL_TENSE = re.compile(
    r"\b(?:is|are|has|have|can|may|might|could|should|must|does|do|tends?|often|usually)\b", re.I
)


# A sentence that opens on a pronoun or a determiner pointing back ('It', 'Its metastases', 'They', 'Such
# tumours'), not on one of the patient ('she', 'her').
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_GOES_ON_ABOUT = re.compile(r"^\s*(?:it|its|they|their|these|those|such)\b", re.I)


# 'one of them', 'two of these': a count of what was told before. After a story sentence that told the things
# counted ('Ultrasound found three nodules in the liver. A biopsy of one of them ...') it counts the patient's
# lesions, not the patients of a series ('Twelve women were treated. Two of them ...').
_COUNT_OF_THEM = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|\d+|some|many|most|few|none|half|each|all|any|either|"
    r"neither|both)\s+(?:out\s+)?of\s+(?:them|these|those)\b",
    re.I,
)
_PEOPLE = re.compile(r"\b(?:patients|women|men|people|persons|cases|series|subjects|individuals)\b", re.I)


def _counts_what_the_story_told(
    sentence: str,
    start: int,
    sentences: list[tuple[int, int]],
    roles: list[str],
    paragraph: list[int],
    text: str,
    cues: _Cues,
) -> bool:
    """Whether the sentence's only general word is a count 'of them' whose things the story sentence before it told."""
    if not roles or roles[-1] != PATIENT or len(paragraph) < 2 or paragraph[-1] != paragraph[-2]:
        return False
    if not _COUNT_OF_THEM.search(sentence) or cues.generic.search(_COUNT_OF_THEM.sub(" ", sentence)):
        return False
    before_start, before_end = sentences[len(roles) - 1]
    return not _PEOPLE.search(text[before_start:before_end])


def _general(sentence: str, cues: _Cues) -> str:
    return LITERATURE if cues.literature.search(sentence) else BACKGROUND


# Literature words that also name the case's own examination: 'the pathologist reported', 'an immunohistochemical
# study', 'a review of the biopsy slides', 'a series of CT scans'.
_SHARED_LITERATURE_WORDS = re.compile(r"^(?:reported|series|stud(?:y|ies)|reviews?)$", re.I)
# The two words before such a word: a test there says it ('the pathologist reported'); a verb there does not ('cases
# confirmed by biopsy have been reported').
_OWN_BEFORE = re.compile(r"((?:[\w/&'-]+\s+){1,2})$")
_A_VERB = re.compile(r"\b(?:been|have|has|had|was|were|is|are|be)\b", re.I)
_OF_AFTER = re.compile(
    r"^\s+of\s+((?:the\s+|her\s+|his\s+|a\s+|an\s+|this\s+|that\s+)?(?:[\w/-]+\s*){1,4})", re.I
)


def _of_its_own_tests(sentence: str, m: re.Match[str], rules: Rules) -> bool:
    """Whether a literature word that also names an examination is said of a test of the case, by the test's
    words from the maps and rules: a test or the one who read it just before it, with no clause break between
    ('the pathologist reported', 'immunohistochemical studies'), or a test it is 'of' ('a review of the CT')."""
    if not _SHARED_LITERATURE_WORDS.match(m.group(0)):
        return False
    before = _OWN_BEFORE.search(sentence[: m.start()])
    if before is not None and not _A_VERB.search(before.group(1)):
        # read with the word itself, as the test's words are written: 'pathological' is a test only before
        # 'study', 'examination', ... ('the pathological study of it showed a metastasis')
        test = rules.confirmation.search(before.group(1) + m.group(0))
        if test is not None and test.start() < len(before.group(1)):
            return True
    of = _OF_AFTER.match(sentence[m.end() :])
    return of is not None and rules.confirmation.search(of.group(1)) is not None
