"""Markers and receptors: each marker with its result or percentage, placed on the tumour it was measured on.

Reports give markers one by one ('ER positive (95%), HER2 negative'), in lists that share a
result ('positive immunoreactivity to pancytokeratin, ER, PR and HER-2'; 'CK20, TTF-1 and vimentin
were all negative'), in compact notation ('ER+/PR-/HER2-', 'PR: −') and with percentages or
scores. A marker is measured on the tumour its sentence names before it in the same clause; when
the sentence names none (or only in a clause about something else: 'because no marker separates
adnexal tumours from breast cancer'), on the tumour the story is about at that point: the
metastasis just biopsied, or the primary.
"""

from __future__ import annotations

import re
from typing import Any

from ...terminology import fold
from ..pipeline import Mention
from ..roles import TITLE
from .confirmation import fluid_met
from .metastases import came_from, met_named, sampled_site, told_again
from .place import CaseDraft, Evidence
from .primaries import is_primary_mention

_COMPACT_RECEPTOR = re.compile(
    r"(?<![A-Za-z])(ER|PR|PgR|HER2|HER-2)(?:\s*status)?\s*(\+|-(?=[/,;.\s)]|$)|\(\s*[+-]\s*\)|-(?:positive|negative)\b)"
)
_PAIR = re.compile(r"\b(?:o?estrogen|ER)\s+and\s+(?:the\s+)?(?:progesterone|PR)\s+receptors?\b", re.I)
_SUBORDINATE = re.compile(
    r"\b(?:because|since|as no|unlike|than|from|whether|to distinguish|to separate|separates?)\b", re.I
)
# 'ER 90%', 'Ki-67 index of 15%', and told with a verb or an approximation: 'Ki-67 was 20%', 'Ki-67 about 20%',
# 'the Ki-67 labelling index was approximately 30%'
_PERCENT = re.compile(r"^[\s,:(]*(?:(?:weakly |strongly )?(?:positive|negative)[\s,(]*)?(?:\d\+[\s,]*)?"
                      r"(?:(?:(?:proliferation|labell?ing|proliferative)\s+)?index\s+)?"
                      r"(?:(?:was|were|is|of|at|measured|reached|scored?|score[ds])\s+)?"
                      r"(?:(?:about|around|approximately|roughly|nearly|almost|some)\s+|~\s*)?(\d{1,3}(?:\.\d+)?)\s*%")  # fmt: skip


def _result_pattern(b: CaseDraft) -> str:
    results = sorted(b.rules["results"], key=len, reverse=True)
    return "|".join(r if "\\" in r else re.escape(r) for r in results)


# 'a HER2-positive ductal carcinoma of the breast', 'an ER- and PR-positive breast cancer': a title's receptor said
# of the cancer it names
_TITLE_RECEPTOR = re.compile(
    r"(?<![A-Za-z])(ER|PR|PgR|HER2|HER-2)(?:\s*status)?(?:[\s-]|\s*\()(positive|negative|\+(?!\w)|-(?=[\s,)]))\)?",
    re.I,
)
_OF_THE_CANCER = re.compile(
    r"^[\s,)]*(?:(?:and|or)\s+)?(?:[\w-]+\s+){0,5}?(?:cancer|carcinoma|tumou?r|adenocarcinoma)\b", re.I
)


def _title_receptors(b: CaseDraft) -> None:
    """A receptor the title says of the breast cancer ('brainstem metastasis of a HER2-positive ductal carcinoma of
    the breast') is the primary's, when the story gives that receptor no result of its own."""
    for i, role in enumerate(b.roles):
        if role != TITLE:
            continue
        text = b.sent_text(i)
        if not re.search(r"\b(?:breast|mammary)\b", text, re.I):
            continue
        s0 = b.sentences[i][0]
        for c in _TITLE_RECEPTOR.finditer(text):
            after = _OF_THE_CANCER.match(text[c.end() :])
            if after is None or re.search(r"metasta|secondar|deposit", after.group(0), re.I):
                continue  # 'HER2-positive brain metastases': said of the metastasis
            name = {"PGR": "PR", "HER-2": "HER2"}.get(c.group(1).upper(), c.group(1).upper())
            word = c.group(2).lower()
            result = {"+": "positive", "-": "negative"}.get(word, word)
            if name.lower() in b.primary.get("receptors", {}) or any(
                x.get("name") == name for x in b.primary.get("markers", [])
            ):
                continue
            rec = b.primary.setdefault("receptors", {})
            b.put(
                rec,
                name.lower(),
                result,
                s0 + c.start(),
                s0 + c.end(),
                "receptor-of-the-title",
                0.5,
                sentence=i,
            )


# A score that says the same as a result word told with it: 3+ is positive, 0 and 1+ negative (2+ is neither alone).
_SCORE_AGREES = {"3+": "positive", "1+": "negative", "0": "negative"}


def read_markers(b: CaseDraft) -> None:
    """Every marker of the story with its result, on the tumour it was measured on."""
    _read_story_markers(b)
    _title_receptors(b)


def _read_story_markers(b: CaseDraft) -> None:
    res = _result_pattern(b)
    own_after = re.compile(
        rf"^\s*\)?\s*{_ABBREVIATION}?(?:receptors?\b|proteins?\b|status\b|expression\b|stain(?:ing)?\b)?\s*[:(]?\s*"
        rf"(?:was |were |is |showed |positivity|)?\s*{_EXTENT}({res})(?![\w+])",
        re.I,
    )
    run_before = re.compile(
        rf"(?:^|\W)(weak(?:ly)?\s+|strong(?:ly)?\s+|diffuse(?:ly)?\s+|focal(?:ly)?\s+)?({res}|positivity|negativity|"
        rf"immunoreactiv\w*|expression|(?<!not )(?<!n't )(?<!to )(?:stained|reacted))\s*"
        rf"(?:\(\s*(?:score\s+)?[0-3]\+?\s*\)\s*)?"  # 'strongly positive (3+) for HER2': the score said with the word
        rf"(?:positively\s+|strongly\s+|diffusely\s+)?"
        rf"(?:immunoreactivity|staining|stains?|expression|reaction)?\s*"
        rf"(?:for|to|of|with)\s+(?:both\s+)?(?:the\s+)?$",
        re.I,
    )
    run_after = re.compile(
        rf"^\s*{_ABBREVIATION}?(?:,\s*)?(?:was|were|are|is)\s+(?:all\s+|both\s+|also\s+)?({res})(?![\w+])",
        re.I,
    )
    stains = re.compile(b.rules["stain_sentence"], re.I)
    for i in b.story():
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        seen: set[str] = set()
        _allred(b, text, s0, i, seen)
        _bare_scores(b, text, s0, i, seen)
        for c in _COMPACT_RECEPTOR.finditer(text):
            name = {"PGR": "PR", "HER-2": "HER2"}.get(c.group(1).upper(), c.group(1).upper())
            if name in seen:
                continue
            word = c.group(2).strip("() ").lower()
            word = word if word in ("+", "-") else word.lstrip("- ")
            result = {"+": "positive", "-": "negative"}.get(word, word)
            seen.add(name)
            _place(b, name, result, None, (s0 + c.start(), s0 + c.end()), i, s0 + c.start())
        for pair in _PAIR.finditer(text):
            # 'weakly positive for oestrogen and progesterone receptors': both receptors share the result
            head = text[max(0, pair.start() - 40) : pair.start()]
            res_m = re.search(
                rf"({_result_pattern(b)}|(?<!not )(?<!n't )stained(?:\s+positively|\s+strongly|\s+diffusely)?)\s+"
                rf"(?:for|to)\s+(?:the\s+|both\s+(?:the\s+)?)?$",
                head,
                re.I,
            )
            tail = re.match(
                rf"^\s*(?:(?:were|was)\s+(?:both\s+)?)?({_result_pattern(b)})(?![\w+])",
                text[pair.end() :],
                re.I,
            )
            word = res_m.group(1) if res_m else tail.group(1) if tail else None
            verb = _PAIR_VERB.search(head)
            if word is None and verb is not None:
                # 'the cells expressed oestrogen and progesterone receptors', 'did not express ...': the verb's result
                word = "negative" if verb.group(1) else "positive"
            if word and word.lower().startswith("stained"):
                word = "positive"  # 'stained positively for oestrogen and progesterone receptors'
            if word:
                for name in ("ER", "PR"):
                    if name not in seen:
                        seen.add(name)
                        _place(
                            b,
                            name,
                            word.lower(),
                            None,
                            (s0 + pair.start(), s0 + pair.end()),
                            i,
                            s0 + pair.start(),
                        )
        markers = _without_abbreviations(
            b, [m for m in b.in_sentence(i, "MARKER") if _name(b, m) not in seen]
        )
        if markers and stains.search(text):
            markers = _with_unlisted(b, i, markers)
        if not markers:
            continue
        runs = _runs(b, markers)
        went_before: tuple[str, int] | None = (
            None  # the result the run before shared, and where that run ends
        )
        for run in runs:
            found: dict[int, dict[str, Any]] = {}
            for k, m in enumerate(run):
                tail = text[m.end - s0 :]
                nxt = run[k + 1].start - s0 if k + 1 < len(run) else len(text)
                own = own_after.match(text[m.end - s0 : nxt])
                value: dict[str, Any] = {"span": (m.start, m.end)}
                if m.text.endswith(("+", "-")) and len(m.text) > 1:
                    value["result"] = "positive" if m.text.endswith("+") else "negative"
                elif own:
                    value["result"] = own.group(1)
                    value["span"] = (m.start, m.end + own.end())
                    rest = text[m.end - s0 + own.end() : nxt][:40]
                    then = re.match(
                        # 'HER2 3+, negative for ER and PR': a result 'for' something else is that one's
                        r"^\s*(?:\(|,|and)?\s*(?:therefore|thus|hence|i\.e\.)?\s*(negative|positive|equivocal)\b"
                        r"(?!\s+(?:for|to|with)\b)",
                        rest,
                        re.I,
                    )
                    if value["result"] in ("0", "1+", "2+", "3+") and then:
                        value["score"] = value["result"]
                        value["result"] = then.group(1).lower()
                        value["span"] = (m.start, m.end + own.end() + then.end())
                pc = _PERCENT.match(tail[: max(0, nxt - (m.end - s0))] or tail[:40])
                bound = _BOUND.match(tail[: max(0, nxt - (m.end - s0))] or tail[:40])
                if pc:
                    value["percent"] = float(pc.group(1))
                    value["span"] = (value["span"][0], max(value["span"][1], m.end + pc.end()))
                elif bound and "result" not in value:
                    # 'MIB-1 index: below 5%': a bound, not a value; kept as said
                    value["result"] = f"{_BOUND_WORD.get(bound.group(1).lower(), 'below')} {bound.group(2)}%"
                    value["span"] = (value["span"][0], m.end + bound.end())
                found[k] = value
            first, last = run[0], run[-1]
            head = text[max(0, first.start - s0 - 60) : first.start - s0]
            lost = _NOT_EXPRESSED.search(head)
            before = run_before.search(head) or lost or _EXPRESSED.search(head)
            go_on = None
            if before is None and went_before is not None and _AND_FOR.search(head):
                # 'stained for p120, in the cytoplasm, and for GATA3': the result of the list it goes on from
                between = b.text[went_before[1] : first.start]
                if not re.search(r"[;.]|\bnot\b|\bnegativ", between, re.I):
                    go_on = went_before
            after = run_after.match(text[last.end - s0 :])
            shared_before = shared_after = None
            if before:
                word = before.group(2).lower()
                word = {"positivity": "positive", "negativity": "negative"}.get(word, word)
                if before is lost:
                    word = "negative"  # 'it no longer expressed hormone receptors'
                elif word.startswith(("immunoreactiv", "express", "over")) or word in ("stained", "reacted"):
                    word = "positive"
                if (
                    before.group(1)
                    and word == "positive"
                    and before.group(1).lower().startswith(("weak", "strong"))
                ):
                    word = (
                        "weakly" if before.group(1).lower().startswith("weak") else "strongly"
                    ) + " positive"
                shared_before = (word, first.start - (len(head) - before.start()))
            if after:
                shared_after = (after.group(1), last.end + after.end())
            if go_on is not None and not shared_after:
                shared_before = go_on
            went_before = (shared_before[0], last.end) if shared_before else None
            split = len(run)
            if shared_before and shared_after:
                # 'positive for A, B and C, and D and E were both weakly positive': the last group has its own
                for k in range(len(run) - 1, 0, -1):
                    if re.search(r",\s*and\b", b.text[run[k - 1].end : run[k].start]):
                        split = k
                        break
            elif (
                not shared_before
                and not shared_after
                and len(run) > 1
                and "result" in found[len(run) - 1]
                and not any("result" in found[k] for k in range(len(run) - 1))
            ):
                # 'ER and PR positive': the list shares the last marker's result
                shared_before = (found[len(run) - 1]["result"], found[len(run) - 1]["span"][1])
            for k, m in enumerate(run):
                value = found[k]
                shared = shared_before if (k < split and shared_before) else (shared_after or shared_before)
                if (
                    k < split
                    and shared_before
                    and _SCORE_AGREES.get(value.get("result", ""))
                    == re.sub(r"^(?:strongly|diffusely) ", "", shared_before[0])
                ):
                    # 'strongly positive for HER2 (3+)': the word said before the marker is its result, the score in
                    # brackets after it says how strongly
                    value["score"] = value.pop("result")
                if "result" not in value and shared is not None:
                    value["result"] = shared[0]
                    lo, hi = sorted((value["span"][0], shared[1]))
                    value["span"] = (min(lo, m.start), max(hi, m.end))
                name = _name(b, m)
                if fold(name) == "hormone receptor" and {"ER", "PR"} <= seen:
                    continue  # 'hormone receptor positive, Allred score ER 8, PR 3': said of each one
                if "result" not in value and "percent" not in value:
                    b.add_review(m.text, "a marker with no result or percentage next to it", m.start, m.end)
                    continue
                if name in seen:
                    continue
                seen.add(name)
                result = value.get("result")
                if result is not None:
                    result = {
                        "+": "positive",
                        "-": "negative",
                        "overexpressed": "positive",
                        **b.rules["score_signs"],
                    }.get(result, result.lower())
                    result = re.sub(r"^(?:diffusely|focally|strongly) ", "", result)
                if fold(name).rstrip("s") == "hormone receptor":
                    if _each_receptor(b, m, result):
                        # 'negative for both hormone receptors': the oestrogen and the progesterone receptor, each
                        for each in ("ER", "PR"):
                            if each not in seen:
                                seen.add(each)
                                _place(b, each, result, None, value["span"], i, m.start)
                        continue
                    if fold(name) != "hormone receptor":
                        b.add_review(
                            m.text, "a result of the hormone receptors that names neither", m.start, m.end
                        )
                        continue
                _place(b, name, result, value.get("percent"), value["span"], i, m.start)
                if value.get("score") and name == "HER2":
                    _place(b, name, value["score"], None, value["span"], i, m.start, score_only=True)


# 'expressed oestrogen and progesterone receptors', 'did not express the oestrogen and progesterone receptors'
_PAIR_VERB = re.compile(
    r"(?<![\w-])(?:(not|n't|never|no\s+longer|failed\s+to|ceased\s+to)\s+)?(?:over-?)?express(?:ed|es|ing)?\s+"
    r"(?:both\s+)?(?:the\s+)?$",
    re.I,
)
# 'the cells expressed CK7 and GATA3', 'tumour cells expressing the marker CA125': each marker after it is positive
# (a negation before the verb, 'did not express', is not this form)
_EXPRESSED = re.compile(
    r"(?<![\w-])(strong(?:ly)?\s+|weak(?:ly)?\s+|diffuse(?:ly)?\s+|focal(?:ly)?\s+)?(?<!not\s)(?<!no\s)(?<!longer\s)(?<!never\s)"
    r"((?:over-?)?expressed|(?:over-?)?expressing)\s+(?:both\s+)?(?:the\s+)?(?:(?:tumou?r\s+)?markers?\s+)?$",
    re.I,
)
# 'the tumour no longer expressed hormone receptors', 'cells that did not express CK20', 'did not stain for ER',
# 'failed to react with HER2', 'lacked E-cadherin', 'had lost E-cadherin': each marker is negative
_NOT_EXPRESSED = re.compile(
    r"(?<![\w-])()(?:(?:no\s+longer|not|never|did\s+not|does\s+not|do\s+not|didn't|doesn't|failed\s+to|ceased\s+to)\s+"
    r"(?=(?:over-?)?express|stain|react)|(?=lack|lost\b|los[se]s?\b|loss\s+of))"
    r"((?:over-?)?express(?:ed|ing)?|stain(?:ed)?\s+(?:for|with)|react(?:ed)?\s+(?:to|with)|lack(?:ed|ing|s)?|"
    r"lost|loses?|loss\s+of)\s+"  # 'had lost E-cadherin', 'with loss of E-cadherin'
    r"(?:any\s+)?(?:both\s+)?(?:the\s+)?(?:(?:tumou?r\s+)?markers?\s+)?$",
    re.I,
)
# 'stained for A, in the cytoplasm, and for B': a list that goes on with its preposition after words of its own
_AND_FOR = re.compile(r"(?:,|\band\b)\s*(?:and\s+)?(?:also\s+)?(?:for|with)\s+(?:the\s+)?$", re.I)
# How much or how strongly a tumour stained, said before its result ('AR: diffuse, strong positive'): the
# result is the one after it (a weak stain keeps its own word, 'weakly positive', which the maps code).
_EXTENT = (
    r"(?:(?:diffuse|diffusely|focal|focally|strong|strongly|moderate|moderately|intense|intensely)[\s,]+)*"
)
# 'Ki-67 index: below 5%', 'MIB-1 < 10%': a percentage said only as a bound
_BOUND = re.compile(
    r"^[\s,:(]*(?:(?:proliferation\s+)?index\s*)?(?:of\s+)?[:=]?\s*(below|under|less than|<|above|over|more than|>)\s*"
    r"(\d{1,3}(?:\.\d+)?)\s*%",
    re.I,
)
_BOUND_WORD = {"below": "below", "under": "below", "less than": "below", "<": "below", "above": "above",
               "over": "above", "more than": "above", ">": "above"}  # fmt: skip
# 'estrogen receptor (ER)': the abbreviation in brackets is the same marker named again.
_ABBREVIATION = r"(?:\(\s*[A-Za-z][\w/-]{0,11}\s*\)\s*)"
# A name shaped like a marker: capitals or a digit in it ('PCNA', 'nm23', 'Bcl-2', 'CK5/6'), then its result.
_UNLISTED = re.compile(
    r"(?<![\w-])((?=[\w/-]*(?:\d|[A-Z]{2}))[A-Za-z][\w]*(?:[-/][\w]+)*)\s*(?:\(\s*)?(\+{1,3}(?!\w)|[0-3]\+|positive|negative)",
)
# Two such names that share one result after a verb: 'PAX-8 and CD-10 were negative'.
_UNLISTED_PAIR = re.compile(
    r"(?<![\w-])((?=[\w/-]*(?:\d|[A-Z]{2}))[A-Za-z][\w]*(?:[-/][\w]+)*)\s+and\s+"
    r"((?=[\w/-]*(?:\d|[A-Z]{2}))[A-Za-z][\w]*(?:[-/][\w]+)*)\s+(?:were|are)\s+(?:both\s+)?(?:positive|negative)\b"
)
_NOT_A_MARKER = re.compile(r"^(?:HE|H&E|IHC|CT|MRI|PET|FNA|DNA|RNA|USA|UK|AJCC|TNM|[TNM]\d\w*|[pc]?T\d\w*)$")


class _Unlisted:
    """A marker name the maps do not hold, found by its shape in a list of stains."""

    label = "MARKER"

    def __init__(self, text: str, start: int, end: int, sentence: int) -> None:
        self.text, self.start, self.end, self.sentence = text, start, end, sentence
        self.negated = self.hypothetical = self.uncertain = self.historical = False
        self.target = None


def _without_abbreviations(b: CaseDraft, markers: list[Mention]) -> list[Mention]:
    """Markers less those that only abbreviate the one before: 'estrogen receptor (ER)'."""
    out: list[Mention] = []
    for m in markers:
        if (
            out
            and re.fullmatch(r"\s*\(\s*", b.text[out[-1].end : m.start])
            and b.text[m.end : m.end + 3].lstrip()[:1] == ")"
        ):
            continue
        out.append(m)
    return out


def _with_unlisted(b: CaseDraft, i: int, markers: list[Mention]) -> list:
    """The sentence's markers with the unlisted ones that sit in a list beside them ('P53 (+++), nm23 (++)')."""
    s0, s1 = b.sentences[i]
    taken = [(m.start, m.end) for m in b.in_sentence(i)]
    lo = min(m.start for m in markers) - s0
    extra = []
    spans = [(u.start(), u.start(1), u.end(1)) for u in _UNLISTED.finditer(b.text[s0:s1])]
    for u in _UNLISTED_PAIR.finditer(b.text[s0:s1]):
        spans += [(u.start(), u.start(g), u.end(g)) for g in (1, 2)]
    for at, a0, a1 in sorted(set(spans)):
        start, end = s0 + a0, s0 + a1
        if (
            at < lo - 2
            or _NOT_A_MARKER.match(b.text[start:end])
            or any(a < end and start < c for a, c in taken)
            or any(x.start == start for x in extra)
        ):
            continue
        extra.append(_Unlisted(b.source[start:end], start, end, i))
    if not extra:
        return markers
    merged = sorted([*markers, *extra], key=lambda m: m.start)
    # only those joined to a known marker by a list: commas, 'and', results between
    keep, known = [], {id(m) for m in markers}
    for k, m in enumerate(merged):
        if id(m) in known:
            keep.append(m)
            continue
        for n in (k - 1, k + 1):
            if 0 <= n < len(merged):
                a, c = sorted((merged[n], m), key=lambda x: x.start)
                gap = b.text[a.end : c.start]
                if (
                    len(gap) < 40
                    and re.fullmatch(r"[\s\w():+/-]*(?:,|\band\b)[\s\w():+/-]*", gap)
                    and not re.search(r"[.;]", gap)
                ):
                    keep.append(m)
                    break
    return keep


def _runs(b: CaseDraft, markers: list[Mention]) -> list[list[Mention]]:
    """Markers of one sentence grouped into lists joined only by commas, 'and', a repeated 'for' or a parenthesis."""
    runs: list[list[Mention]] = [[markers[0]]]
    for prev, m in zip(markers, markers[1:], strict=False):
        gap = b.text[prev.end : m.start]
        pure = re.fullmatch(
            r"(?:[\s,/]|\band\b|\bor\b|\bas well as\b|\bthe\b|\breceptors?\b|\bproteins?\b|\(\s*[^()%+]{0,30}\s*\)"
            # a list that repeats its preposition: 'positive for A, for B and for C'
            r"|\bfor\b)*",
            gap,
            re.I,
        )
        if pure:
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def _name(b: CaseDraft, m: Mention) -> str:
    if m.target is None:
        return m.text
    names = {fold(k): v for k, v in b.rules["marker_names"].items()}
    return names.get(fold(m.target.term), m.target.term.rstrip("+-"))


_LIST_HEADER = re.compile(r":[ \t]*\n")


def _tumour_for(b: CaseDraft, i: int, pos: int) -> dict[str, Any] | None:
    """The tumour a marker at `pos` of sentence i was measured on."""
    s0 = b.sentences[i][0]
    clause = b.clause_start(pos)
    best = None
    # 'Immunohistochemistry of the eyelid biopsy:' then one stain a line: the line that opens the list
    # names the sample every stain of it was measured on
    headers = list(_LIST_HEADER.finditer(b.text, s0, pos))
    header = headers[-1] if headers else None
    if header is not None:
        line_start = b.text.rfind("\n", s0, header.start()) + 1 or s0
        for m in b.in_sentence(i):
            if max(line_start, s0) <= m.start < header.start() and m.label in ("SITE", "PRIMARY"):
                if is_primary_mention(b, m):
                    best = b.primary
                else:
                    best = b.mets.get(fold(m.target.term).replace(" ", "-")) or met_named(b, m) or best
        if best is not None:
            return best
        told = _told_just_before(b, i)
        if told is not None:
            return told
    named = _tumour_named_after(b, i, pos)
    if named is not None:
        return named
    for m in b.in_sentence(i):
        if m.start >= pos or m.label not in ("SITE", "PRIMARY"):
            continue
        head = b.text[s0 : m.start]
        sub = list(_SUBORDINATE.finditer(head))
        if sub and not re.search(r"[,:;]", head[sub[-1].end() :]):
            continue  # 'because no marker separates adnexal tumours from breast cancer'
        if is_primary_mention(b, m) and came_from(b, m):
            continue  # 'a biopsy found a metastatic breast carcinoma: ER positive': the sample, not the breast
        if m.start < clause and b.text[clause - 1] not in "(:":
            # a parenthesis or a colon opens the details of the tumour just named: 'a carcinoma of the left
            # breast was diagnosed: stage 1, HER2 positive'
            continue
        met = next(
            (
                x
                for x in b.mets.values()
                if i in x["_sentences"] and fold(x["site"]).endswith(fold(m.target.term))
            ),
            None,
        )
        met = met or b.mets.get(fold(m.target.term).replace(" ", "-"))
        if met is None and not is_primary_mention(b, m):
            met = met_named(b, m)
        if met is not None:
            best = met
        elif is_primary_mention(b, m):
            best = b.primary
    if best is not None:
        return best
    fluid = fluid_met(b, i, pos)
    if fluid is not None:
        return fluid  # 'cells in the cerebrospinal fluid expressed CA125': the leptomeningeal metastasis's
    head = b.text[s0:pos]
    sampled = _earlier_clause_met(b, i, pos) or _just_sampled(b, i)
    if sampled is not None:
        return sampled  # 'A biopsy of the liver lesion was taken. The tumour cells were positive for CK7 ...'
    if re.match(
        r"^\W*(?:\w+\s+){0,3}?(?:its|their)\s+(?:\w+\s+)?(?:cells|tissue|stains?|staining|profile)\b",
        head,
        re.I,
    ):
        # 'Its cells were positive for ...': the tumour the story sentence before told last
        told = _last_told(b, i)
        if told is not None:
            return told
    if _LESION_ANAPHORA.search(head):
        told = _only_met_just_before(b, i)
        if told is not None:
            return told  # 'CT showed a tumour of the lacrimal gland. Under the microscope the tumour ... stained for'
    if (
        re.search(r"\bthe (?:tumou?r|cancer|carcinoma|primary)\b", head, re.I)
        and b.primary.get("certainty") != "provisional"
        and not b.primary.get("occult")
    ):
        focus = b.focus[i] if i < len(b.focus) else None
        if (
            focus is not None
            and focus is not b.primary
            and _last_told(b, i) is focus
            and not _told_with_the_primary(b, i)
        ):
            # 'CT showed the wall of the bladder thickened. Immunohistochemistry showed the tumour ...': the
            # tumour the story told last
            return focus
        return b.primary  # 'as the tumour was an IDC positive for ER and PR': the cancer itself
    focus = b.focus[i] if i < len(b.focus) else None
    if focus is None and i + 1 < len(b.focus):
        focus = b.focus[i + 1]
    if focus is b.primary and b.primary.get("occult") and b.mets:
        # no tumour was found in the breast: what was stained is the metastasis
        here = [b.mets[k] for k in b.met_keys_in(i)] or list(b.mets.values())
        return here[-1] if len(here) == 1 or b.met_keys_in(i) else None
    return focus or (b.primary if not b.mets else None)


# A sentence that goes on about the tumour just told: 'The tumour was ...', 'Its cells ...', 'The cells ...'
_GOES_ON = re.compile(
    r"^\W*(?:(?:on|under|at)\s+[\w\s]{0,30}?,\s*)?(?:the|its|these|this|their)\s+(?:\w+\s+)?"
    r"(?:tumou?r|cells|lesion|mass|nodule|specimen|tissue|neoplasm|infiltrate)\b",
    re.I,
)


def _last_told(b: CaseDraft, i: int) -> dict[str, Any] | None:
    """The tumour the story sentence before i names last, a metastasis (the one told there) or the primary."""
    j = i - 1
    skipped = 0
    while j >= 0 and (
        not b.in_story(j)
        or (
            skipped < _BACK
            and not any(m.label in ("SITE", "PRIMARY") for m in b.in_sentence(j))
            and _GOES_ON.match(b.sent_text(j))
        )
    ):
        # 'The tumour was made of sheets of cells.' names no tumour of its own: it goes on about the one told before
        skipped += b.in_story(j)
        j -= 1
    if j < 0 or len(b.met_keys_in(j)) > 1:
        return (
            None  # 'spread to the skin and the lungs. As the tumour was ...': not one of several, the cancer
        )
    last = None
    for m in b.in_sentence(j):
        if m.label not in ("SITE", "PRIMARY"):
            continue
        if is_primary_mention(b, m) and not came_from(b, m):
            last = (m.start, b.primary)
        elif (met := met_named(b, m)) is not None and (j in met["_sentences"] or told_again(b, m, met)):
            last = (
                m.start,
                met,
            )  # named a metastasis there, or told again by its own word ('the rib was removed')
    return last[1] if last else None


# What starts a telling of its own within a sentence: a clause break, or a verb that gives a new finding ('found'
# is left out: 'her breast cancer was found in 2001, with ...' tells the primary itself).
_NEW_FINDING = re.compile(
    r";|\b(?:showed|shows|revealed|reveals|demonstrated|disclosed|confirmed|developed|"
    r"appeared|later|then|afterwards|subsequently)\b",
    re.I,
)


# Words that attach a spread to the primary they follow: 'with involvement of', 'that had spread to', 'involving'.
_ATTACHED = re.compile(
    r"\b(?:with|involving|involvement|spread|spreading|metasta\w*|extending|extension)\b", re.I
)
_ANOTHER_TIME = re.compile(
    r"\b(?:19|20)\d\d\b|\b(?:later|after|afterwards|before|since|until|when|years?)\b", re.I
)


def _told_with_the_primary(b: CaseDraft, i: int) -> bool:
    """Whether the story sentence before i tells its metastases as part of the primary it names first, with no
    finding of their own ('an invasive ductal carcinoma of the left breast with involvement of the axillary
    nodes'): 'the tumour' of sentence i is then that primary, not the nodes named last."""
    j = i - 1
    while j >= 0 and not b.in_story(j):
        j -= 1
    if j < 0:
        return False
    told = [m for m in b.in_sentence(j) if m.label in ("SITE", "PRIMARY")]
    first = next((m for m in told if is_primary_mention(b, m) and not came_from(b, m)), None)
    if first is None:
        return False
    after = [m for m in told if m.start > first.start and not is_primary_mention(b, m)]
    if not after or any(m.start < first.start and not is_primary_mention(b, m) for m in told):
        return False
    gap = b.text[first.end : after[-1].start]
    attached = _ATTACHED.search(gap)
    if attached is None:
        return False
    if _NEW_FINDING.search(gap) or b.rules.confirmation.search(gap):
        return False  # 'a carcinoma of the breast was removed, and CT showed a nodule in the spleen'
    # from 'with ...' to the last site it names: the primary's own date may stand before it, no later one after
    return not _ANOTHER_TIME.search(gap[attached.start() :])


_REMOVED = re.compile(r"\b(?:biops\w*|excis\w*|resect\w*|removed|aspirat\w*|sampled)\b", re.I)


# A sample named by where it was taken: 'a core biopsy of the left breast', 'aspiration from the breast lump'.
_SAMPLE_OF = re.compile(
    r"\b(?:biops(?:y|ies)|aspirat\w*|FNA|samples?|specimens?|excision|resection)\s+(?:of|from)\s+(?:the\s+|her\s+)?"
    r"(?:\w+\s+)?$",
    re.I,
)


def _earlier_clause_met(b: CaseDraft, i: int, pos: int) -> dict[str, Any] | None:
    """'A skin nodule of the scalp was excised; the tumour cells were positive for ...': the metastasis an earlier
    clause of the sentence sampled is what the stains of a later clause, which names no tumour, were done on."""
    s0 = b.sentences[i][0]
    if not _REMOVED.search(b.text[s0:pos]):
        return None
    named = []
    for m in b.in_sentence(i, "SITE"):
        if m.start >= pos:
            continue
        if is_primary_mention(b, m):
            if b.primary is not None and _SAMPLE_OF.search(b.text[max(s0, m.start - 40) : m.start]):
                named.append(
                    b.primary
                )  # 'a core biopsy of the left breast mass showed ...; ER positive': the primary's
            continue
        met = b.mets.get(fold(m.target.term).replace(" ", "-")) or met_named(b, m)
        if met is not None:
            named.append(met)
    return named[-1] if named else None


def _just_sampled(b: CaseDraft, i: int) -> dict[str, Any] | None:
    """The metastasis the story sentence just before took a sample of ('A needle biopsy of the liver lesion was
    performed.'), for a stain sentence that names no tumour of its own."""
    j = i - 1
    while j >= 0 and not b.in_story(j):
        j -= 1
    if j < 0:
        return None
    found = [
        met
        for m in b.in_sentence(j, "SITE")
        if sampled_site(b, m)
        and (met := b.mets.get(fold(m.target.term).replace(" ", "-")) or met_named(b, m))
    ]
    return found[0] if len({id(x) for x in found}) == 1 else None


# a result said as a modifier, with what joins it to the one before: ', hormone receptor-negative', ' and HER2+'
_MODIFIER_RESULTS = re.compile(
    r"(?:\s*(?:,|\band\b|/)\s*(?:[A-Za-z][\w/]*\s+)?[A-Za-z][\w/]*-?(?:positive|negative|\+|-)(?![\w+-]))+",
    re.I,
)
_METASTASIS_OF = re.compile(r"\bmetastas[ie]s\s+of\s+[^;:.()]{0,40}$", re.I)


def _tumour_named_after(b: CaseDraft, i: int, pos: int) -> dict[str, Any] | None:
    """'a woman with a HER2-positive breast cancer': a marker said as a modifier of the tumour noun after it was
    measured on that tumour; 'a metastasis of her triple-negative breast carcinoma' names where the metastasis
    came from, so it does not count here."""
    if _METASTASIS_OF.search(b.text[max(b.sentences[i][0], pos - 60) : pos]):
        return None  # 'a metastasis of an HR+/HER2- breast cancer': the metastasis's own stains
    for m in b.in_sentence(i):
        if m.start < pos or m.label not in ("SITE", "PRIMARY"):
            continue
        # 'a HER2-positive, hormone receptor-negative breast cancer': other results said as modifiers of the same
        # noun stand between
        between = _MODIFIER_RESULTS.sub(" ", b.text[pos : m.start])
        if len(between) > 40 or re.search(r"[,;:()]|\b(?:and|or|in|of|on|with|to|for|from)\b", between):
            return None
        if is_primary_mention(b, m) and not came_from(b, m):
            return b.primary
        return None
    return None


# 'the tumour', 'this mass', 'the lesion', 'the excised nodule', 'a metastasis': a lesion the story has named
_LESION_ANAPHORA = re.compile(
    r"\b(?:the|this|that)\s+(?:[\w-]+\s+){0,2}?(?:tumou?r|mass|lesion|nodule)\b|\b(?:a|the|this)\s+metastasis\b",
    re.I,
)
# A sentence that goes on about the lesion without naming its site: 'The nodule was removed and sent to the
# pathologist.', 'We excised it.' The lesion it speaks of is the one told before it.
_STILL_THE_LESION = re.compile(
    r"\b(?:it|its|the\s+(?:[\w-]+\s+)?(?:tumou?r|mass|lesion|nodule|specimen|swelling))\b[^.;]*?\b(?:was|were|had)?\s*"
    r"(?:removed|excised|resected|biopsied|sampled|sent|taken|examined|dissected|fixed)\b"
    r"|\b(?:removed|excised|resected|biopsied|sampled|took|dissected)\s+(?:it|them|the\s+(?:[\w-]+\s+)?"
    r"(?:tumou?r|mass|lesion|nodule|swelling))\b",
    re.I,
)
_BACK = 3  # story sentences a stain sentence's 'the nodule' may reach back over


def _only_met_just_before(b: CaseDraft, i: int) -> dict[str, Any] | None:
    """The one metastasis the story sentence just before names, when it names no primary tumour: what 'the
    tumour' of a stain sentence that names no tumour of its own points back to."""
    j = i - 1
    while j >= 0 and not b.in_story(j):
        j -= 1
    walk = j
    for _ in range(_BACK):
        # 'A PET scan showed a nodule of the scalp. The nodule was excised. On staining, the excised nodule was
        # ...': a sentence that only takes the lesion on to its removal names no site and is passed over, to
        # the tumour the sentence before it told last
        if walk < 0 or b.met_keys_in(walk) or not _STILL_THE_LESION.search(b.sent_text(walk)):
            break
        if any(m.label == "PRIMARY" or (m.label == "SITE" and b.is_breast(m)) for m in b.in_sentence(walk)):
            break
        walk -= 1
        while walk >= 0 and not b.in_story(walk):
            walk -= 1
        if walk >= 0 and b.met_keys_in(walk):
            last = _last_told(b, walk + 1)
            return last if last is not None and last is not b.primary else None
    if j < 0 or any(
        (is_primary_mention(b, m) or b.is_breast(m)) and not came_from(b, m) for m in b.in_sentence(j)
    ):
        return None  # 'A biopsy showed metastatic breast cancer': the breast is where it came from
    keys = b.met_keys_in(j)
    if not keys:
        # 'Colonoscopy showed the rectal wall thickened. A biopsy showed metastatic breast cancer.': the result
        # that named no site was of the metastasis in focus
        focus = b.focus[j] if j < len(b.focus) else None
        return (
            focus
            if focus is not None and focus is not b.primary and j in focus.get("_shown_in", ())
            else None
        )
    return b.mets[keys[0]] if len(keys) == 1 else None


def _told_just_before(b: CaseDraft, i: int) -> dict[str, Any] | None:
    """'Frozen sections showed metastases in the thymus and in the lung. The final pathology was ...:' then one
    stain a line: a list whose opening line names no sample was measured on the metastasis the story sentence
    just before names; of several, the one the story told first (the lesion the operation was for)."""
    j = i - 1
    while j >= 0 and not b.in_story(j):
        j -= 1
    keys = b.met_keys_in(j) if j >= 0 else []
    if not keys:
        return None
    return min((b.mets[k] for k in keys), key=lambda met: met["_first_pos"])


# 'Allred score ER 8, PR 3', 'ER (Allred 7)': the Allred score of each receptor; 3 to 8 is positive
_ALLRED_LIST = re.compile(
    r"\bAllred(?:\s+scores?)?\s*(?:of\s+)?[:(]?\s*((?:(?:ER|PR|PgR)\s*[:=]?\s*\d\b[\s,;]*(?:and\s+)?)+)"
)
_ALLRED_AFTER = re.compile(r"\b(ER|PR|PgR)\b[^.;]{0,20}?\bAllred(?:\s+score)?\s*(?:of\s+)?[:=]?\s*(\d)\b")
_ALLRED_PAIR = re.compile(r"\b(ER|PR|PgR)\s*[:=]?\s*(\d)\b")


# 'ER 12, PR 0': a receptor with a bare whole number, a score whose scale the text does not name
_BARE_SCORE = re.compile(
    r"(?<![\w-])(ER|PR|PgR)\s*(?:[:=]|\s(?:was|is|scored))?\s*(\d{1,2})(?![\d.,]\d|\s*(?:%|\+|/|-|per\b|of\b|months?\b|years?\b|weeks?\b|days?\b|mm\b|cm\b))"
)


def _bare_scores(b: CaseDraft, text: str, s0: int, i: int, seen: set[str]) -> None:
    """'ER 12, PR 0': on either scale reports use (Allred 0 to 8, immunoreactive score 0 to 12), 0 is negative
    and 3 or more positive; 1 and 2 differ between them and are left to the reviewer."""
    if re.search(r"\bAllred\b", text, re.I):
        return  # read with its scale by _allred
    for m in _BARE_SCORE.finditer(text):
        name = "PR" if m.group(1).upper() == "PGR" else m.group(1).upper()
        score = int(m.group(2))
        if name in seen or score > 12 or score in (1, 2):
            continue
        seen.add(name)
        _place(
            b,
            name,
            "negative" if score == 0 else "positive",
            None,
            (s0 + m.start(), s0 + m.end()),
            i,
            s0 + m.start(),
        )


def _allred(b: CaseDraft, text: str, s0: int, i: int, seen: set[str]) -> None:
    """Each receptor's Allred score with the result it gives (0 to 2 negative, 3 to 8 positive), on its tumour."""
    found: list[tuple[str, int, int, int]] = []
    for m in _ALLRED_LIST.finditer(text):
        base = m.start(1)
        for p in _ALLRED_PAIR.finditer(m.group(1)):
            found.append((p.group(1), int(p.group(2)), s0 + m.start(), s0 + base + p.end()))
    for m in _ALLRED_AFTER.finditer(text):
        found.append((m.group(1), int(m.group(2)), s0 + m.start(), s0 + m.end()))
    for raw, score, start, end in found:
        name = "PR" if raw.upper() == "PGR" else raw.upper()
        if name in seen or score > 8:
            continue
        seen.add(name)
        on = _tumour_for(b, i, start)
        if not on:
            continue
        item = {"name": name, "allred": score}
        on.setdefault("markers", []).append(item)
        for key in item:
            b.evidence.append(Evidence(item, key, item[key], start, end, i, "allred-score", 0.8))
        result = "positive" if score >= 3 else "negative"
        if on is b.primary:
            b.put(
                on.setdefault("receptors", {}),
                name.lower(),
                result,
                start,
                end,
                "allred-score",
                0.7,
                sentence=i,
            )
        else:
            item["result"] = result


_STAIN_TEST = re.compile(r"immunohisto|histolog|patholog|cytolog|microscop|biops|aspirat|\bFNA\b", re.I)


def _stained(b: CaseDraft, met: dict[str, Any], i: int) -> None:
    """A metastasis whose stains sentence i tells was shown by the test that sentence names ('On immunohistochemistry
    the nodes were negative for ...'): its tissue was examined."""
    s0 = b.sentences[i][0]
    for c in b.rules.confirmation.finditer(b.sent_text(i)):
        if not _STAIN_TEST.search(c.group(1)):
            continue
        term = b.evidence_term(c.group(1))
        if term is None or term in met.get("confirmed_by", []):
            continue
        met.setdefault("confirmed_by", []).append(term)
        b.evidence.append(
            Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), i, "stains-of-the-sample", 0.6)
        )


def _each_receptor(b: CaseDraft, m: Mention, result: str | None) -> bool:
    """Whether a result of 'the hormone receptors' is the result of each of them: both negative whenever it is
    negative (neither is expressed), both positive only when the words count two ('both hormone receptors');
    'positive for hormone receptors' may be either one."""
    if result == "negative":
        return True
    both = re.search(r"\b(?:both|the two)\s+(?:the\s+)?$", b.text[max(0, m.start - 15) : m.start], re.I)
    return result == "positive" and both is not None


# 'the breast tumour and the liver metastases', 'the primary and its nodal metastasis': two tumours joined in a list
_BOTH_BETWEEN = re.compile(
    r"^\s*(?:tumou?rs?|mass|cancer|carcinoma|lesions?|metastas[ie]s|nodes?|specimens?|biops(?:y|ies))?\s*"
    r"(?:,\s*)?(?:and|as well as)\s+(?:in\s+|of\s+)?(?:the\s+|her\s+|his\s+|its\s+)?(?:[\w-]+\s+){0,2}$",
    re.I,
)


def _both_tumours(b: CaseDraft, i: int, pos: int, on: dict[str, Any]) -> dict[str, Any] | None:
    """'Staining of both the breast tumour and the liver metastases showed ER (-)': a stain clause that names two
    tumours joined by 'and' before its markers measured them on each; the other one of the pair than `on`."""
    s0 = b.sentences[i][0]
    head = b.text[s0:pos]
    start = (
        s0 + max(head.rfind(";"), head.rfind(":")) + 1
    )  # a list's brackets ('ER (-), PR (-)') cut no clause
    told = [m for m in b.in_sentence(i) if start <= m.start < pos and m.label in ("SITE", "PRIMARY")]
    if len(told) != 2 or not _BOTH_BETWEEN.match(b.text[told[0].end : told[1].start]):
        return None
    pair = []
    for m in told:
        if is_primary_mention(b, m) or b.is_breast(m):
            pair.append(None if came_from(b, m) else b.primary)
        else:
            pair.append(b.mets.get(fold(m.target.term).replace(" ", "-")) or met_named(b, m))
    if any(t is None for t in pair) or pair[0] is pair[1] or not any(t is on for t in pair):
        return None
    return pair[1] if pair[0] is on else pair[0]


def _place(b, name, result, percent, span, i, pos, score_only: bool = False) -> None:
    on = _tumour_for(b, i, pos)
    if on is b.primary and b.primary.get("occult") and b.mets:
        # no tumour was found in the breast: a stain was measured on a metastasis, the one its sentence tells or,
        # naming none, the one the sentence before told
        here = [b.mets[k] for k in b.met_keys_in(i)]
        sample = here[0] if len(here) == 1 else None if here else _last_told(b, i)
        if sample is not None and sample is not b.primary:
            on = sample
    if not on:
        b.add_review(f"{name} {result or ''}", "a marker with no cancer to put it on", *span)
        return
    other = _both_tumours(b, i, pos, on)
    _place_on(b, on, name, result, percent, span, i, score_only)
    if other is not None:
        _place_on(b, other, name, result, percent, span, i, score_only)


def _place_on(b, on, name, result, percent, span, i, score_only: bool = False) -> None:
    if on is b.primary and not score_only and name in ("ER", "PR", "HER2") and result and percent is None:
        rec = on.setdefault("receptors", {})
        b.put(rec, name.lower(), result, *span, "marker-result", 0.8, sentence=i)
        return
    if on is not b.primary:
        _stained(b, on, i)
    item: dict[str, Any] = {"name": name}
    if result:
        item["result"] = result
    if percent is not None:
        item["percent"] = percent
    if item in on.get("markers", []):
        return  # the same result told again ('on cytology ... ER positive', later 'on histology ... ER positive')
    on.setdefault("markers", []).append(item)
    for key in item:
        b.evidence.append(Evidence(item, key, item[key], *span, i, "marker-result", 0.8))
