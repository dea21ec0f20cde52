"""Metastases: each site the story says the cancer reached, its side, how it was confirmed, what it was taken for, when.

A site is a metastasis when a metastasis word is near it in its own clause ('a lesion in the left
sphenoid sinus', 'metastases to the lungs, bone and liver': the list shares the word). An organ
whose lesion may be anything (lung, liver, bone) needs a plainly metastatic word. A site named
only as part of another ('the underlying bone marrow') or as where a symptom was ('pain in the
right eye') is not a metastasis; a site inside another ('a choroidal mass of the right eye') takes
its side from the container.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from ...terminology import fold
from .. import values
from ..pipeline import Mention, Target
from .confirmation import fluid_words
from .place import INTERVAL, CaseDraft, Evidence, interval_of
from .primaries import is_primary_mention

_PREP_BEFORE = re.compile(
    r"(?:,\s*|\band\s+)(?:also\s+)?(to|into|in)\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?$", re.I
)
_PATHOLOGY = re.compile(
    r"biops|excis|resect|histolog|patholog|immunohisto|cytolog|microscop|curett|aspirat", re.I
)
_PREP_ANY = re.compile(r"\b(to|into|in)\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?$", re.I)
_GUIDANCE = re.compile(r"^[\s-]*(?:guid\w*|control\b)", re.I)
_FOLLOW_UP = re.compile(r"\bfollow[- ]up\b[\w\s()-]*$", re.I)
_LIST_GAP = re.compile(
    r"^(?:[\s,]+(?:and|or|as well as)?|\s+(?:and|or|as well as))[\s,]*(?:[\w-]+\s+){0,3}$", re.I
)
_LIST_GAP_AFTER = re.compile(
    r"^(?:\s+[\w-]+){0,2}?(?:[\s,]+(?:and|or|as well as)?|\s+(?:and|or|as well as))\s", re.I
)
_WINDOW_BEFORE = 60  # characters a cue may stand before its site
_WINDOW_AFTER = 40
# A site's own determiner and side: 'the right ', 'her left ', 'both '.
_NOUN_PHRASE_HEAD = re.compile(r"(?:\b(?:the|her|his|a|an)\s+)?\b(?:left|right|both)\s+$", re.I)
_BREAK = re.compile(r"[;:.]|\b(?:but|while|whereas|although|because|which|who)\b", re.I)
# A cue before a site does not reach into a new clause ('... showed metastatic carcinoma, and the eye was
# eviscerated'); one after it may point back ('the rectum, and the tumour was resected').
# 'metastatic from the breast in the ovary', 'metastases of breast cancer in the thymus', 'a metastasis of her
# breast cancer': the breast named there is where the metastasis came from, not a tumour of its own.
_FROM_BEFORE = re.compile(
    r"(?:\bfrom|\bmetastas[ie]s\s+of|\bmetastatic)\s+(?:the\s+|her\s+|his\s+|a\s+)?(?:left\s+|right\s+)?$",
    re.I,
)
_NEW_PHRASE = re.compile(r"(?:,|\band\b|\bor\b)\s+(?:an?|another|other|several|multiple|two|three)\b", re.I)
_BREAK_BEFORE = re.compile(_BREAK.pattern + r"|,\s*and\s+(?:the|her|his|its|their|this)\b", re.I)
# A site named as a landmark of something else: 'the underlying bone', 'a mass beneath the retina',
# 'a tumour that lifts the retina': where the lesion is, or what it pushes, not what it is in.
_EXTENSION = re.compile(
    r"\b(?:underlying|adjacent|overlying|surrounding|nearby|neighbouring|neighboring|beside|next to|near|behind|"
    r"above|below|beneath|under|underneath|around|outside|adjacent to|abutting|along|lifts?|lifting|lifted|"
    r"elevat(?:es|ing|ed)|displac(?:es|ing|ed)|push(?:es|ing|ed)|compress(?:es|ing|ed)|detach(?:es|ing|ed)|"
    r"detachment of|o?edema of)"
    r"\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+){0,1}$",
    re.I,
)
# 'renal cell carcinoma', 'ovarian cancer', 'a primary rectal adenocarcinoma': the site names that
# organ's own cancer (another primary, or what a lesion was taken for), not a metastasis in it.
_OWN_CANCER_AFTER = re.compile(
    r"^(?:\s+(?:cell|clear[- ]cell|transitional[- ]cell|squamous[- ]cell|small[- ]cell|signet[- ]ring(?:[- ]cell)?|"
    r"serous|mucinous|ductal|papillary|epithelial))?\s+(?:cancers?|carcinomas?|adenocarcinomas?|neoplasms?|"
    r"malignancy|melanomas?|sarcomas?|lymphomas?)\b",
    re.I,
)
_SECONDARY_BEFORE = re.compile(r"\b(?:metastatic|secondary)\s+(?:[\w-]+\s+){0,2}$", re.I)
# 'a serous retinal detachment', 'the optic nerve': a site word naming a structure or a finding, not a lesion
_NOT_A_LESION_AFTER = re.compile(
    r"^\s*(?:detachment|vessels?|veins?|arter(?:y|ies)|fluid|o?edema|pigment|nerve|reflex|examination|exam|"
    r"photograph|function|folds?)\b"
    # 'the bone beneath it', 'the skin over the mass': anatomy placed by the lesion is its landmark
    r"|^\s+(?:beneath|underneath|under|below|above|over|around|behind|beside|next\s+to)\s+"
    r"(?:it|them|the\s+(?:lesion|mass|tumou?r|nodule|swelling|growth)s?)\b",
    re.I,
)
_SYMPTOM = re.compile(
    r"\b(?:pain|ache|aching|vision|sight|redness|blurr\w*|numbness|swelling|ptosis|proptosis|diplopia|"
    r"headaches?|complaint|symptoms?|discomfort|tenderness|weakness)\s+"
    # the words between stay in the symptom's phrase: 'headaches, and MRI revealed brain metastases' is a new clause
    r"(?:(?!(?:and|but|showed|shows|revealed|reveals|found|demonstrated|confirmed)\b)\w+\s+){0,4}$",
    re.I,
)
# A symptom that travels: 'back pain that spread to the back of her left hip', 'pain radiating down the right
# leg'. Where the pain goes is no site of the cancer, though 'spread to' is a metastasis cue elsewhere.
_RADIATING = re.compile(
    r"\b(?:pain|ache|aching|numbness|tingling|paraesthesia|discomfort)\s+(?:that\s+|which\s+)?(?:had\s+)?"
    r"(?:radiat\w*|spread\w*|extend\w*|shot|shooting|travell?\w*)\s+(?:down\s+|up\s+|in)?(?:to|into|along)?\s*"
    r"(?:(?!(?:and|but|showed|revealed|found)\b)[\w-]+\s+){0,6}$",
    re.I,
)
# A swelling is a complaint beside an eye ('swelling of the right eye') but the lesion itself when a result is
# traced back to it ('a swelling of the left parotid gland ... metastatic carcinoma of breast origin').
_COMPLAINT = re.compile(_SYMPTOM.pattern.replace("numbness|swelling|", "numbness|"), re.I)


def read_metastases(b: CaseDraft) -> None:
    """Every metastatic site of the story, with side, confirmation, misdiagnosis, certainty and timing."""
    sites = [m for m in b.mentions if m.label == "SITE" and not is_primary_mention(b, m)]
    sites = [m for m in sites if not (b.is_breast(m) and "contralateral" not in m.text.lower())]
    containers = {fold(k): {fold(x) for x in v} for k, v in b.rules["site_containers"].items()}
    chosen: dict[int, Mention] = {}
    for m in sites:
        if _is_metastasis(b, m, sites):
            chosen[id(m)] = m
    # A site counts through a list with one that has a cue: 'metastases to the lungs, bone and liver'.
    changed = True
    while changed:
        changed = False
        for m in sites:
            if id(m) in chosen or _EXTENSION.search(b.text[max(0, m.start - 30) : m.start]):
                continue
            if (
                _NOT_A_LESION_AFTER.match(b.text[m.end : m.end + 30])
                or _SYMPTOM.search(b.text[max(0, m.start - 40) : m.start])
                or own_cancer(b, m)
            ):
                continue
            for other in chosen.values():
                if other.sentence != m.sentence:
                    continue
                lo, hi = (other.end, m.start) if other.end <= m.start else (m.end, other.start)
                gap = b.text[lo:hi]
                if (
                    len(gap) < 60
                    # 'came back in the peritoneal cavity or the liver': alternatives, not each of them
                    and not re.search(r"[;:.()]|\b(?:with|but|while|which|who|because|or)\b", gap)
                    # 'an ulcer in the rectum and a lesion in the colon': the second has a noun of its own
                    and not b.rules.metastasis_cue.search(re.split(r",|\band\b|\bor\b", gap)[-1])
                    and (_LIST_GAP.match(gap) or _LIST_GAP_AFTER.match(gap))
                ):
                    chosen[id(m)] = m
                    changed = True
                    break
    # A site in a phrase parallel to a chosen one: 'metastasised to the lungs ..., and also to the skin'.
    for m in sites:
        if id(m) in chosen or _weak(b, m):
            continue
        prep = _PREP_BEFORE.search(b.text[max(0, m.start - 30) : m.start])
        if not prep or prep.group(1).lower() == "in":
            continue  # 'to the lungs, and also to the skin'; 'an ulcer in the rectum and a lesion in the colon' is no list
        for other in list(chosen.values()):
            if other.sentence != m.sentence or other.start > m.start:
                continue
            o_prep = _PREP_ANY.search(b.text[max(0, other.start - 30) : other.start])
            between = b.text[other.end : m.start]
            if (
                o_prep
                and o_prep.group(1).lower() == prep.group(1).lower()
                and not re.search(r"[;.]", between)
            ):
                chosen[id(m)] = m
                break
    _one_of_them(b, sites, chosen)
    _biopsied(b, sites, chosen)
    _breast_histology_of_a_sample(b, sites, chosen)
    _breast_lineage(b, sites, chosen)
    shown: dict[int, int] = {}  # a site chosen by a later sentence's result: that sentence
    _organ_told_before(b, sites, chosen, shown)
    _earlier_precise(b, sites, chosen)
    _lesion_told_before(b, sites, chosen)
    _lesion_named_later(b, sites, chosen)
    _named_in_the_title(b, sites, chosen)
    for m in sites:
        if id(m) not in chosen:
            continue
        here = {fold(x.target.term) for x in b.in_sentence(m.sentence, "SITE") if id(x) in chosen}
        inner = containers.get(fold(m.target.term), set())
        if inner & here:
            continue  # 'the right eye had a choroidal mass': the choroid is the site, the eye gives its side
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a site ConText reads as negated or hypothetical", m.start, m.end)
            continue
        if _DENIED_AFTER.match(b.text[m.end : m.end + 40]):
            continue  # '..., and the spleen was not involved', 'the liver was clear'
        met = _add(b, m, containers)
        if id(m) in shown:
            # 'a plaque on the scalp ... A biopsy of the plaque showed a metastasis': the result's sentence
            # tells how the metastasis was shown, and so does a sampling told just before it that names no
            # site ('An incisional biopsy was taken. Histology showed that the tumour came from the breast.')
            met.setdefault("_shown_in", set()).update(_sampling_before(b, m.sentence, shown[id(m)]))
    _malignant_fluid(b)
    _merge_containers(b, containers)
    _past_the_overview(b, sites)
    _skin_region(b)
    _retracted(b)
    for met in b.mets.values():
        _sides_from_containers(b, met, containers)
        _side_told_before(b, met, sites)
        _side_told_elsewhere(b, met, sites)
        _side_of_the_region(b, met, sites)
        _side_of_its_sentence(b, met, containers)
        _side_of_the_scar(b, met, sites)
        _side_of_the_lesion_before(b, met, containers)
        _other_side(b, met, sites)
        _confirmation(b, met)
        if met["_uncertain"]:
            first = min(met["_sentences"])
            b.put(met, "certainty", "provisional", *b.sentences[first], "context-uncertain", 0.5)
    _focus(b)
    _misdiagnosis(b)


def _named_in_the_title(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """A title that names a metastasis ('Zosteriform skin metastases from a breast carcinoma', 'A metastasis in
    one orbit ...') says which site of the story is one: the story's first telling of that site, or of a finer
    part of it ('a rash over the left side of her chest' under 'skin metastases'), counts even with no cue of
    its own. A site the story never names is taken from the title itself, at low confidence, for review."""
    for x in _title_sites(b):
        term = fold(x.target.term)
        b.titled.add(term)
        same = [
            y
            for y in sites
            if b.in_story(y.sentence)
            and not (y.negated or y.hypothetical or own_cancer(b, y) or _in_what_it_was_taken_for(b, y))
            and (fold(y.target.term) == term or term in _ancestors(b, y.target.term))
        ]
        if any(id(y) in chosen for y in same):
            continue
        if any(term in _ancestors(b, y.target.term) or fold(y.target.term) == term for y in chosen.values()):
            continue
        if same:
            chosen[id(same[0])] = same[0]
        elif not chosen:  # a story that names a metastasis of its own tells it better than the title
            sites.append(x)
            chosen[id(x)] = x
            b.add_review(
                x.text, "a metastatic site named only in the report's title: check it", x.start, x.end
            )


def _title_sites(b: CaseDraft) -> list[Mention]:
    """The sites a title calls metastatic: for each metastasis word of the title, the site nearest to it in its
    phrase ('a dural metastasis' in 'Bleeding into the brain from a dural metastasis' names the dura, not the
    brain; 'Metastasis of a breast carcinoma to the paranasal sinuses' the sinuses)."""
    candidates = [
        x
        for x in b.title
        if x.label == "SITE"
        and not (x.negated or x.hypothetical or b.is_breast(x) or is_primary_mention(b, x))
        and not (own_cancer(b, x) or _weak(b, x))
    ]
    out: list[Mention] = []
    for i in sorted({x.sentence for x in candidates}):
        s0, e0 = b.sentences[i]
        for cue in b.rules.metastasis_cue.finditer(b.text, s0, e0):
            best, gap = None, 41
            for x in candidates:
                if x.sentence != i:
                    continue
                lo, hi = (x.end, cue.start()) if x.end <= cue.start() else (cue.end(), x.start)
                between = b.text[lo:hi] if hi >= lo else ""
                if hi - lo < gap and not re.search(r"[,;:.()]|\b(?:and|with|caused|after|before)\b", between):
                    best, gap = x, max(0, hi - lo)
            if best is not None and best not in out:
                out.append(best)
    return out


_SAMPLED_FROM = re.compile(
    r"^\s*(?:(?:was|were)\s+(?:taken|obtained|performed|done)\s+)?(?:of|from|in)\s+(?:the\s+|her\s+|his\s+|an?\s+)?$",
    re.I,
)


def sampled_site(b: CaseDraft, m: Mention) -> bool:
    """Whether a site is where a biopsy of its sentence was taken from ('a needle biopsy of the lung', 'the bone
    biopsy')."""
    return any(
        x.label == "PROCEDURE"
        and b.rules["procedure_kinds"].get(
            fold(x.target.term), (x.target.concept.kind if x.target.concept else "")
        )
        == "biopsy"
        and (
            (x.end <= m.start and _SAMPLED_FROM.match(b.text[x.end : m.start]))
            or (m.end <= x.start and _SAMPLE_NAMED.match(b.text[m.end : x.start]))
        )
        for x in b.in_sentence(m.sentence)
    )


# 'the liver biopsy', 'a skin punch biopsy': the site named as the sample's own noun, right before the sampling word
_SAMPLE_NAMED = re.compile(
    r"^[\s-]*(?:(?:core|needle|punch|incisional|excisional|trucut|tru-cut)\s+)?$", re.I
)


# 'two metastases appeared in the left eye: one in the choroid and one in the optic nerve sheath': the
# metastases a sentence counts, then places one by one after a colon
_ONE_IN = re.compile(
    r":[^:;.]*?\b(?:one|another|the other|a second|the first|the second|the third)\s+(?:\w+\s+)?"
    r"(?:in|of|at|on|within|involving)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,3}$",
    re.I,
)


def _one_of_them(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """A site after a colon that places one of the metastases the clause before the colon counted."""
    for m in sites:
        if id(m) in chosen or m.negated or m.hypothetical or not b.in_story(m.sentence):
            continue
        s0 = b.sentences[m.sentence][0]
        lead = b.text[s0 : m.start]
        one = _ONE_IN.search(lead)
        if one is None:
            continue
        counted = lead[: one.start()]
        if b.rules.plain_cue.search(counted) and re.search(
            r"\b(?:two|three|four|several|multiple|both)\b", counted, re.I
        ):
            chosen[id(m)] = m


def _biopsied(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """'Biopsies were taken from sinuses that looked normal; they showed metastatic breast cancer': a site
    sampled by a biopsy whose result, told in the same sentence, is a metastasis."""
    for m in sites:
        if id(m) in chosen or m.negated or m.hypothetical or _weak(b, m):
            continue
        s0, s1 = b.sentences[m.sentence]
        if sampled_site(b, m) and re.search(
            r"\bmetasta\w*|\bmalignan\w*|\bcarcinoma\b", b.text[m.end : s1], re.I
        ):
            chosen[id(m)] = m


_POSITIVE_BEFORE = re.compile(
    r"\b(?:positiv\w*|express\w*|immunoreactiv\w*|stained)\b(?:(?!\bnegativ)[^;.])*$", re.I
)
_POSITIVE_AFTER = re.compile(
    r"^(?:\s*[\w-]+){0,2}?\s*(?:\(\s*\+|\+|:?\s*(?:was|were)?\s*(?:\w+ly\s+)?positive)", re.I
)


# 'Histology of the gastric tissue showed ...', 'cytology of the pleural fluid': a site whose tissue was examined
_EXAMINED_OF = re.compile(
    r"\b(?:histolog\w*|histopatholog\w*|patholog\w*|cytolog\w*|specimens?|samples?|biops\w*)\s+"
    r"(?:[\w-]+\s+){0,2}?(?:of|from)\s+(?:the\s+|her\s+|his\s+|an?\s+)?$",
    re.I,
)


# A result that names a histology only a breast cancer has: 'proved to be invasive lobular carcinoma'.
_BREAST_HISTOLOGY = re.compile(
    r"\b(?:showed|revealed|proved|was|were|confirmed|found|gave)\b[^.;]{0,40}?(?:\b(?:invasive\s+|infiltrating\s+)?"
    r"(?:lobular|ductal)\s+(?:breast\s+)?(?:carcinoma|cancer|adenocarcinoma)\b"
    # 'an epithelial carcinoma of the breast', 'a carcinoma of breast origin': a breast cancer found in the sample
    r"|\b(?:carcinoma|adenocarcinoma|cancer)\s+(?:of|from)\s+(?:the\s+)?breast\b"
    r"|\b(?:carcinoma|adenocarcinoma)\s+of\s+(?:breast|mammary)\s+origin\b)",
    re.I,
)
# 'histology of the fracture', 'a biopsy of the mass': a sample of the lesion the sentence told before it
_SAMPLE_OF_THE_LESION = re.compile(
    r"\b(?:histolog\w*|biops\w*|patholog\w*|cytolog\w*|specimens?|samples?)\s+(?:\w+\s+)?(?:of|from)\s+"
    r"(?:the|this|that)\s+(?:fracture|lesion|mass|tumou?r|nodule|swelling|lump)\b",
    re.I,
)
# The sample a site word names: 'the gastric biopsy', 'a biopsy of the liver', 'tissue from the femur'.
_SAMPLE_AFTER = re.compile(
    r"^\s*(?:(?:wall|mucosa|lesion|mass|tissue)\s+)?(?:biops\w*|specimens?|samples?|curettings?|aspirates?)\b",
    re.I,
)
_SAMPLE_BEFORE = re.compile(
    r"\b(?:biops\w*|specimens?|samples?|tissue|aspirates?)\s+(?:\w+\s+)?(?:of|from)\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?$",
    re.I,
)


def _breast_histology_of_a_sample(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """'When the gastric biopsy was reviewed, it proved to be invasive lobular carcinoma': a sample of an organ
    other than the breast whose result is a histology only breast cancers have is a metastasis of it, when the
    sentence names that one organ's sample before the result and the primary is of the breast."""
    if fold(b.primary.get("site", "")) != "breast":
        return
    for i in b.story():
        text = b.sent_text(i)
        result = _BREAST_HISTOLOGY.search(text)
        if result is None or _NEGATED_RESULT.search(text[: result.start()]):
            continue
        s0 = b.sentences[i][0]
        if any(
            b.is_breast(x)
            and not came_from(b, x)
            and not (s0 + result.start() <= x.start < s0 + result.end())
            for x in b.in_sentence(i)
        ):
            continue  # 'a biopsy of the breast lump showed invasive ductal carcinoma': the primary
        lesion = _SAMPLE_OF_THE_LESION.search(text[: result.start()])
        if lesion is not None:
            # 'he broke his femur, and histology of the fracture showed a carcinoma of the breast'
            told = {
                fold(m.target.term): m
                for m in sites
                if m.sentence == i and m.start < s0 + lesion.start() and _lesion_site(b, m) and not m.negated
            }
            if len(told) == 1:
                m = next(iter(told.values()))
                chosen.setdefault(id(m), m)
                continue
        sampled = [
            m
            for m in sites
            if m.sentence == i
            and m.start < s0 + result.start()
            and _lesion_site(b, m)
            and (
                _SAMPLE_AFTER.match(b.text[m.end : m.end + 30])
                or _SAMPLE_BEFORE.search(b.text[max(s0, m.start - 40) : m.start])
            )
        ]
        if len({fold(m.target.term) for m in sampled}) == 1:
            for m in sampled:
                chosen.setdefault(id(m), m)


def _examined(b: CaseDraft, m: Mention) -> bool:
    """Whether a site is the one whose tissue its sentence examined ('Histology of the gastric tissue showed')."""
    s0 = b.sentences[m.sentence][0]
    return bool(_EXAMINED_OF.search(b.text[max(s0, m.start - 50) : m.start]))


def _breast_lineage(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """'A signet-ring adenocarcinoma in the stomach. Her gastric biopsies were positive for the oestrogen and the
    progesterone receptor': a sample of an organ, positive for a stain that marks breast tissue, is a
    metastasis of the breast cancer, unless the organ's own tumours may carry that stain too. A stain sentence
    that names no site ('A biopsy of the liver lesion was taken. The cells were positive for CK7 and GATA3') is of
    the sample the story sentence just before it took."""
    lineage = b.rules["breast_lineage"]
    markers = {fold(x) for x in lineage["markers"]}
    native = {fold(x) for x in lineage["native"]}

    def positive_after(i: int, pos: int) -> bool:
        for x in b.in_sentence(i, "MARKER"):
            if x.start < pos or fold(x.target.term) not in markers or x.negated:
                continue
            if re.search(r"[;]", b.text[pos : x.start]):
                continue
            if _POSITIVE_BEFORE.search(b.text[pos : x.start]) or _POSITIVE_AFTER.match(
                b.text[x.end : x.end + 30]
            ):
                return True
        return False

    def sample(m: Mention) -> bool:
        return id(m) not in chosen and _lesion_site(b, m) and fold(m.target.term) not in native

    by_sentence: dict[int, list[Mention]] = {}
    for m in sites:
        by_sentence.setdefault(m.sentence, []).append(m)
    story = b.story()
    for k, i in enumerate(story):
        s0, s1 = b.sentences[i]
        sentence = b.text[s0:s1]
        if not (
            _PATHOLOGY.search(sentence) or re.search(r"\bspecimens?\b|\bsamples?\b|\bstain", sentence, re.I)
        ):
            continue
        here = by_sentence.get(i, [])
        if here:
            for m in here:
                if sample(m) and positive_after(i, m.end):
                    chosen[id(m)] = m
            continue
        if k == 0 or not positive_after(i, s0):
            continue
        before = [m for m in by_sentence.get(story[k - 1], []) if sampled_site(b, m) or _examined(b, m)]
        if len({fold(m.target.term) for m in before}) == 1 and all(sample(m) for m in before):
            for m in before:
                chosen[id(m)] = m


# 'a biopsy showed a metastatic carcinoma of breast origin', 'its biopsy showed carcinoma ... a lobular breast
# carcinoma', 'showed that the tumour came from the breast', 'which pointed to a metastasis of her breast cancer':
# a sentence that gives a metastatic result of a sample without naming where it was taken.
_RESULT_WITHOUT_SITE = re.compile(
    r"\b(?:metasta\w*|(?:of|from) (?:the )?(?:breast|mammary) origin|(?:consistent|compatible) with (?:an? )?"
    r"(?:\w+ ){0,2}(?:breast|mammary)|(?:breast|mammary) (?:carcinoma|cancer|adenocarcinoma|primary|origin)|"
    r"(?:came|come|arose|arisen|originated|derived|spread) from (?:the |her |his |a )?(?:\w+ )?(?:breast|mammary)|"
    r"(?:consistent|compatible) with (?:an? )?(?:[\w-]+ ){0,3}(?:of|from) (?:the |her )?breast|"
    r"same (?:morphology|histology|histologic type|appearance|pattern) as (?:that of )?(?:the |her )?(?:\w+ )?breast)\b",
    re.I,
)


_CLAUSE_BREAK = re.compile(
    r";|,\s*(?:and|but|where|when)\b|\band\s+(?=(?:a|an|the|her|his)\s+\w+\s+(?:showed|revealed|confirmed)\b)",
    re.I,
)
# How far back a result that names no site looks for the lesion it was taken from, in story sentences.
_RESULT_REACH = 6
# A lesion noun and the organ it is 'of' or 'in': 'a painful ulcer of the hard palate'.
_LESION_OF = re.compile(
    r"\b(?:ulcer|ulceration|lesion|mass|tumou?r|nodule|lump|swelling|growth|polyp|thickening|deposit)s?\s+"
    r"(?:\w+\s+){0,2}?(?:of|in|on|at|within)\s+(?:the\s+|her\s+|his\s+|a\s+)?(?:(?:left|right|upper|lower)\s+)?$",
    re.I,
)


def _sampling_before(b: CaseDraft, told: int, result: int) -> set[int]:
    """The result's sentence, and the story sentences right before it (after the site was told) that take a
    sample and name no site."""
    out = {result}
    story = [i for i in b.story() if told < i < result]
    for i in reversed(story):
        if b.in_sentence(i, "SITE") or not _PATHOLOGY.search(b.sent_text(i)):
            break
        out.add(i)
    return out


def _organ_told_before(
    b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention], shown: dict[int, int]
) -> None:
    """'Imaging showed the wall of the bladder thickened. A biopsy showed a metastatic carcinoma of breast
    origin': a story sentence that gives a sample's metastatic result and names no site of its own points
    at the organ the story told just before it: the nearest of the few story sentences before it that names
    a lesion site ('a painful ulcer of the hard palate ... An incisional biopsy was taken. It showed that the
    tumour came from the breast'), when that sentence names one organ, or one organ a lesion noun is 'of',
    and none of its sites is a metastasis yet."""
    by_sentence: dict[int, list[Mention]] = {}
    for m in sites:
        by_sentence.setdefault(m.sentence, []).append(m)
    story = b.story()
    for k, i in enumerate(story):
        s0, s1 = b.sentences[i]
        sentence = b.text[s0:s1]
        result = _RESULT_WITHOUT_SITE.search(sentence) or (
            _SAME_AS.search(sentence) if re.search(r"\bbreast\b", sentence, re.I) else None
        )
        if not (result and _PATHOLOGY.search(sentence)):
            continue
        if _of_the_breast(
            b, story[max(0, k - _RESULT_REACH) : k + 1], i, s0 + result.start(), result.group(0)
        ):
            continue
        # the result's own clause: from the last clause break before it to the end of the sentence
        breaks = [x.end() for x in _CLAUSE_BREAK.finditer(sentence, 0, result.start())]
        clause_at = s0 + (breaks[-1] if breaks else 0)
        own = [m for m in by_sentence.get(i, []) if m.start >= clause_at]
        earlier = [m for m in by_sentence.get(i, []) if m.start < clause_at]
        told: list[Mention] = _sampled_organ(b, i, clause_at, s0 + result.start(), sites)
        if own:
            # 'a biopsy of the palatal ulcer gave an adenocarcinoma with the same morphology as the breast tumour':
            # the sample the result's own clause names before it; one named after it has the result's cue beside it
            told = [
                m
                for m in own
                if (m.end <= s0 + result.start() or _CAVITY_FLUID.match(b.text[m.end : m.end + 20]))
                and not _NEGATED_RESULT.search(b.text[m.end : s0 + result.start()])
                and not _told_coarser(b, m, chosen)
            ]
            if not told:
                continue
        elif told:
            pass  # 'the endometrial curettings held cells of a lobular breast carcinoma', 'a bone marrow aspirate ...'
        elif earlier:
            told = (
                earlier  # 'imaging showed the bladder wall thickened, and a biopsy showed a metastatic ...'
            )
        elif (plural := _PLURAL_ANAPHORA.search(sentence)) is not None:
            # 'Both biopsies showed metastatic breast carcinoma': the lesions or samples told before, as many as said
            want = _HOW_MANY.get(plural.group(1).lower())
            for j in reversed(story[max(0, k - _RESULT_REACH) : k]):
                here = [
                    m
                    for m in by_sentence.get(j, [])
                    if _lesion_site(b, m)
                    and (sampled_site(b, m) or _LESION_OF.search(b.text[max(0, m.start - 50) : m.start]))
                ]
                told = here + told
                if len({fold(m.target.term) for m in told}) >= (want or 1):
                    break
            organs = {fold(m.target.term) for m in told}
            if told and (want is None or len(organs) == want):
                for m in told:
                    chosen[id(m)] = m
                    shown[id(m)] = i
            continue
        else:
            for j in reversed(story[max(0, k - _RESULT_REACH) : k]):
                told = [m for m in by_sentence.get(j, []) if _lesion_site(b, m)]
                if told or _lesion_without_site(b, j):
                    break  # 'what was thought to be a haemorrhoid': the lesion sampled, told with no site
        if not told:
            told = _scoped_organ(b, story[max(0, k - 2) : k + 1], sites)
        if any(id(m) in chosen for m in told):
            if len({fold(m.target.term) for m in told}) > 1 and all(m.sentence != i for m in told):
                continue  # 'metastases in the brain, the lungs and the bones ... A biopsy showed ...': which one?
            for m in told:
                if id(m) in chosen:
                    shown.setdefault(
                        id(m), i
                    )  # a metastasis already: the result still tells how it was shown
            continue
        candidates = [
            m for m in told if _lesion_site(b, m) or _CAVITY_FLUID.match(b.text[m.end : m.end + 20])
        ]
        organs = {fold(m.target.term) for m in candidates}
        if len(organs) > 1:
            # 'an ulcer of the hard palate, opening into the maxillary sinus': the organ the lesion is of
            candidates = [m for m in candidates if _LESION_OF.search(b.text[max(0, m.start - 50) : m.start])]
            organs = {fold(m.target.term) for m in candidates}
        if len(organs) == 1:
            for m in candidates:
                chosen[id(m)] = m
                shown.setdefault(id(m), i)


def _lesion_without_site(b: CaseDraft, j: int) -> bool:
    """Whether story sentence j tells a lesion, or what one was taken for, and names no site: the lesion a result
    after it is of ('she was sent on with what was thought to be a haemorrhoid. A biopsy showed ...')."""
    if b.in_sentence(j, "SITE"):
        return False
    text = b.sent_text(j)
    return bool(b.rules.misdiagnosis.search(text) or _A_LESION.search(text))


def _of_the_breast(b: CaseDraft, window: list[int], i: int, at: int, result: str) -> bool:
    """Whether a result is of a sample of the breast: 'a core biopsy of the breast lump confirmed breast carcinoma',
    or a bare 'breast carcinoma' while the story around it tells a lump of the breast (the primary diagnosed)."""
    s0 = b.sentences[i][0]
    if any(
        is_primary_mention(b, x)
        and s0 <= x.start < at
        and _SAMPLE_OF.search(b.text[max(s0, x.start - 40) : x.start])
        for x in b.in_sentence(i)
    ):
        return True  # the sample named before the result is the breast's
    if _ORIGIN_WORDS.search(result):
        return False
    return any(
        is_primary_mention(b, x) and _LESION_NEAR.search(b.text[max(0, x.start - 40) : x.end + 20])
        for j in window
        for x in b.in_sentence(j)
    )


_SAMPLE_OF = re.compile(
    r"\b(?:biops\w*|aspirat\w*|excision|samples?|specimens?|core)\s+(?:[\w-]+\s+){0,2}?(?:of|from)\s+"
    r"(?:the\s+|her\s+|his\s+|a\s+)?(?:left\s+|right\s+)?$",
    re.I,
)
_ORIGIN_WORDS = re.compile(r"metasta|origin|from|consistent|compatible|same", re.I)
_LESION_NEAR = re.compile(r"\b(?:lump|mass|nodule|tumou?r|lesion)s?\b", re.I)


def _told_coarser(b: CaseDraft, m: Mention, chosen: dict[int, Mention]) -> bool:
    """Whether a metastasis already chosen names this site or a coarser one ('all four eyelids ... biopsies of both
    upper eyelids'): the sample is of that metastasis, not a new one."""
    ancestors = set(_ancestors(b, m.target.term))
    for c in chosen.values():
        body = b.terminology.lookup("body_sites", c.text)
        names = {fold(c.target.term), fold(c.text)} | ({fold(body.terms[0])} if body is not None else set())
        if c.target.concept is not None:
            names |= {fold(t) for t in c.target.concept.terms}  # 'skin of eyelid' is said 'eyelid' too
        if fold(m.target.term) in names or names & ancestors:
            return True
    return False


# What a clause says of its site right after naming it, when that denies a lesion there
_DENIED_AFTER = re.compile(
    r"^\s+(?:was|were|is|are|remained)\s+(?:not\b|never\b|clear\b|free\b|spared\b|uninvolved\b|normal\b)",
    re.I,
)
# 'cytology of the pleural fluid showed malignant cells of breast origin': the fluid of a serous cavity holds
# the cavity's metastasis
_CAVITY_FLUID = re.compile(r"^\s+(?:fluid|effusion)\b", re.I)
# 'both biopsies', 'the two lesions', 'all the nodules': a result said of several samples told before
_PLURAL_ANAPHORA = re.compile(
    r"\b(both|all|the two|the three|two|three)\s+(?:of\s+the\s+|the\s+)?(?:[\w-]+\s+)?"
    r"(?:lesions|biopsies|masses|nodules|samples|specimens|tumou?rs|deposits)\b",
    re.I,
)
_HOW_MANY = {"both": 2, "the two": 2, "two": 2, "the three": 3, "three": 3, "all": None}
_NEGATED_RESULT = re.compile(r"\b(?:no|not|without|free of|negative for|ruled out)\b", re.I)
# 'compared with the slides of the breast tumour it had the same morphology'
_SAME_AS = re.compile(
    r"\bsame (?:morphology|histology|histologic(?:al)? type|appearance|(?:immunohistochemical )?pattern)\b",
    re.I,
)


def _site_of_words(b: CaseDraft, words: str) -> Any:
    """The site concept or rules term a word names ('endometrial', 'bone marrow'), or None."""
    key = fold(words)
    key = fold({fold(k): v for k, v in b.rules["aliases"].items()}.get(key, key))
    for domain in ("secondary_cancers", "body_sites"):
        concept = b.terminology.lookup(domain, key)
        if concept is not None:
            return concept.terms[0], domain, concept
    if key in {fold(w) for w in b.rules["targets"]["SITE"]}:
        return key, None, None
    return None


def _sampled_organ(b: CaseDraft, i: int, lo: int, hi: int, sites: list[Mention]) -> list[Mention]:
    """The organ a sampling procedure of the result's clause is named by ('the endometrial curettings', 'a bone
    marrow aspirate'): a site of the clause, though the procedure's words hold it."""
    for x in b.in_sentence(i, "PROCEDURE"):
        if not lo <= x.start < hi:
            continue
        words = x.text.split()
        for n in (2, 1):
            if len(words) <= n:
                continue
            found = _site_of_words(b, " ".join(words[:n]))
            if found is None:
                continue
            term, domain, concept = found
            end = x.start + len(" ".join(words[:n]))
            m = Mention(
                "SITE", b.source[x.start : end], x.start, end, i, Target("SITE", term, domain, concept)
            )
            sites.insert(_index(sites, m.start), m)
            return [m]
    return []


def _scoped_organ(b: CaseDraft, sentences: list[int], sites: list[Mention]) -> list[Mention]:
    """'At cystoscopy an area of granulation tissue was biopsied': the organ an endoscopy looked into, as a site of
    the sentence that names the endoscopy, when the story names no site there."""
    scopes = {fold(k): v for k, v in b.rules["scope_sites"].items()}
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in scopes) + r")\b", re.I)
    for i in reversed(sentences):
        s0 = b.sentences[i][0]
        hit = pattern.search(b.sent_text(i))
        if hit is None:
            continue
        term = scopes[fold(hit.group(1))]
        concept = b.terminology.lookup("body_sites", term)
        target = Target(
            "SITE", concept.terms[0] if concept else term, "body_sites" if concept else None, concept
        )
        m = Mention("SITE", hit.group(1), s0 + hit.start(1), s0 + hit.end(1), i, target)
        sites.insert(_index(sites, m.start), m)
        return [m]
    return []


def _lesion_site(b: CaseDraft, m: Mention) -> bool:
    """Whether a site mention may be where a lesion is (not negated, a symptom, a landmark or its own cancer)."""
    return not (
        m.negated
        or m.hypothetical
        or _weak(b, m)
        or own_cancer(b, m)
        or _layer(b, m)
        or _EXTENSION.search(b.text[max(0, m.start - 30) : m.start])
        or _COMPLAINT.search(b.text[max(0, m.start - 40) : m.start])
        or _RADIATING.search(b.text[max(0, m.start - 80) : m.start])
        or _NOT_A_LESION_AFTER.match(b.text[m.end : m.end + 30])
        or _NAMES_A_TUMOUR_TYPE.match(b.text[m.end : m.end + 30])
    )


# 'an inverted sinonasal papilloma', 'an adrenal adenoma', 'a meningeal meningioma': the site is a word of the name of
# a tumour type (what a lesion was read as), not the place of a lesion; carcinomas and metastases are the cues.
_NAMES_A_TUMOUR_TYPE = re.compile(r"^\s+(?:[a-z]+\s+)?(?!(?:adeno)?carcinomas?\b|metasta)[a-z]*omas?\b", re.I)
_THE_LESION = re.compile(r"\b(?:the|this|that)\s+(fracture|lesion|mass|tumou?r|nodule|swelling)s?\b", re.I)


_NOT_A_METASTASIS = re.compile(
    r"\b(?:not an? (?:\w+\s+)?metastas[ie]s|no metastas[ie]s|rather than an? metastas[ie]s|was benign|proved benign)\b",
    re.I,
)


def _retracted(b: CaseDraft) -> None:
    """'A mass suspicious for a metastasis ... The diagnosis was a scleral nodule, not a metastasis': a metastasis
    only ever suspected, which a later sentence of the story says it was not, goes to review."""
    said = [i for i in b.story() if _NOT_A_METASTASIS.search(b.sent_text(i))]
    for key, met in list(b.mets.items()):
        if not met["_uncertain"] or not said:
            continue
        hit = next((i for i in said if i > max(met["_sentences"])), None)
        if hit is not None:
            b.mets.pop(key)
            s, e = b.sentences[hit]
            b.add_review(met["site"], "suspected, then said not to be a metastasis", s, e)


# 'We describe a woman whose breast cancer reached the cervix, the lung and the neck': a sentence that tells
# the whole case in advance, before the story proper begins.
_OVERVIEW = re.compile(
    r"\bwe (?:describe|report|present)\b|\b(?:this|the present|our) (?:case|paper|report|article) "
    r"(?:describes|reports|presents|concerns)\b",
    re.I,
)


# 'a new lump on the right side of her lower back', 'nodules over the left shoulder', 'an eruption of papules on the
# lower right part of his trunk': a lesion of the skin, told by the region it is on before the text calls it a skin
# metastasis. The regions are those the maps name a skin of ('skin of chest', 'skin of back').
_SKIN_LESION = re.compile(
    r"\b(?P<what>lumps?|nodules?|lesions?|masse?s?|swellings?|papules?|plaques?|ulcers?|growths?|rash(?:es)?|"
    r"eruptions?|erythema|vesicles?|blisters?|patch(?:es)?|macules?)\b",
    re.I,
)
_REGION_BEFORE = re.compile(
    r"\b(?:the|her|his|its|left|right|upper|lower|middle|mid|anterior|posterior|lateral|and|or)\s+$|,\s*$",
    re.I,
)
# 'the back of the neck', 'the back and side of the chest': a part of the region named next.
# The place a lesion is on: 'on the lower right part of his trunk', 'over the left side of her chest'.
_ON_REGION = re.compile(
    r"\b(?:on|over|of|at|in|across|along|around|to)\s+(?:the|her|his|its)\s+(?:[\w-]+\s+){0,3}$", re.I
)
_ANOTHER_PLACE = re.compile(r"^\s*,?\s*(?:and\s+)?(?:on|over|in|at)\s+(?:the|her|his|both|each|its)\b", re.I)
_PART_OF_NEXT = re.compile(r"^\s+(?:(?:and|or)\s+[a-z]+\s+)?of\b", re.I)
_REGION_JOIN = re.compile(
    r"^\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+)(?:the\s+|her\s+|his\s+)?(?:upper\s+|lower\s+)?$", re.I
)
_SIDE_WORDS = re.compile(r"\b(left|right)\b(?!\s+(?:breast|side of the breast)\b)", re.I)
_LESION_REACH = 160  # characters after a lesion's noun in which the region it is on is told
_ONE_OF_THEM = re.compile(
    r"\b(?:one|the|this|that|these|each|both)\s+(?:of\s+the\s+)?(?:nodules?|lumps?|lesions?|papules?|masse?s?)\b",
    re.I,
)
_OF_THE_SKIN = re.compile(r"rash|eruption|erythema|vesicle|blister", re.I)  # lesions only skin has
# A lump is a lesion of the skin it is in ('four lumps in the skin of her right arm'); elsewhere a lump may be
# the breast tumour itself or a node under investigation.
_SKIN_LUMP = re.compile(r"\blumps?\s+(?:\w+\s+){0,2}$", re.I)
_REGIONS: dict[int, tuple[Any, re.Pattern[str]]] = {}


def _region_words(b: CaseDraft) -> re.Pattern[str]:
    """The regions the maps name a skin of ('skin of chest wall': 'chest wall'), longest first."""
    cached = _REGIONS.get(id(b.terminology))
    if cached is not None and cached[0] is b.terminology:
        return cached[1]
    words = {
        t[len("skin of ") :]
        for t in b.terminology.domains.get("secondary_cancers", {})
        if t.startswith("skin of ")
    }
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = re.compile(rf"\b(?P<region>{alternation})s?\b", re.I)
    _REGIONS[id(b.terminology)] = (b.terminology, pattern)
    return pattern


def _regions_of_a_lesion(b: CaseDraft, i: int) -> list[tuple[str, re.Match[str] | None, int, int]] | None:
    """The skin regions sentence i tells a lesion on, as (site, side, start, end) with absolute offsets: one region,
    or several joined by 'and' ('over the left side of her chest and back'); [] when the lesion is on regions told
    apart ('on the back, on both thighs and on the neck'); None when it tells none."""
    text = b.sent_text(i)
    s0 = b.sentences[i][0]
    regions = _region_words(b)
    for hit in _SKIN_LESION.finditer(text):
        span_end = hit.end() + _LESION_REACH
        stop = re.search(r"[.;:]", text[hit.end() : span_end])
        span_end = hit.end() + stop.start() if stop else min(span_end, len(text))
        found: list[tuple[str, re.Match[str] | None, int, int]] = []
        apart = False
        last_end = None
        for r in regions.finditer(text, hit.end(), span_end):
            head = text[max(hit.end(), r.start() - 40) : r.start()]
            joined = last_end is not None and _REGION_JOIN.match(text[last_end : r.start()])
            if not joined and not _ON_REGION.search(head):
                continue  # 'ran up towards the neck', 'came back': no region the lesion is on
            if _PART_OF_NEXT.match(text[r.end() : r.end() + 30]):
                continue  # 'the back of the neck': the region is the next noun
            word = r.group("region").lower()
            if word == "breast" and not _OF_THE_SKIN.match(hit.group("what")):
                break  # 'a lump in the left breast' is the breast tumour; 'a rash over her left breast' is skin
            if _OWN_CANCER_AFTER.match(text[r.end() : r.end() + 30]):
                continue  # '... metastases of the breast cancer': the cancer they came from, no region
            concept = b.terminology.lookup("secondary_cancers", f"skin of {word}")
            if concept is None:
                continue
            if concept.terms[0] in [f[0] for f in found]:
                continue  # the same region told again
            if found and not joined:
                apart = True
                break
            side = None
            if not found:
                sides = list(_SIDE_WORDS.finditer(text, max(hit.end(), r.start() - 45), r.start()))
                side = sides[-1] if sides else None
            if concept.terms[0] not in [f[0] for f in found]:
                found.append((concept.terms[0], side, s0 + r.start(), s0 + r.end()))
            last_end = r.end()
            if _ANOTHER_PLACE.match(text[r.end() : r.end() + 30]):
                apart = True  # 'on the right lower back, on both thighs and ...': lesions in several places
                break
        if apart:
            return []
        if found:
            return found
    return None


def _skin_region(b: CaseDraft) -> None:
    """'A new lump on the right side of her lower back ... a recurrence of her breast cancer as a skin metastasis': a
    metastasis named only as skin is the skin of the region its lesion was told on, with that region's side,
    when the maps name the skin of that region; a bare skin beside a skin of a region is that one, told coarsely.
    The sentence told nearest before the metastasis wins ('papules on his trunk ... on the lower right side of the
    chest'), among those told before any sentence that tells the metastasis. Lesions on several regions are skin, unless one side binds them ('over the left side of her chest and
    back': the skin of each, on that side)."""
    bare = b.mets.get("skin")
    if bare is None:
        return
    regional = [m for m in b.mets.values() if fold(m["site"]).startswith("skin of ")]
    told_first = [m for m in regional if m["_first_pos"] < bare["_first_pos"]]
    if told_first:
        # 'lumps in the skin of her right arm and of her trunk ... one nodule was excised: a cutaneous metastasis':
        # one of the lesions told before, not a site of its own
        if _ONE_OF_THEM.search(b.sent_text(bare["_first"])):
            b.mets.pop("skin")
            told_first[0]["_sentences"] |= bare["_sentences"]
        return
    story = b.story()
    told = [story.index(i) for i in bare["_sentences"] if i in story] or [0]
    reach = (
        max(told) if "skin" in b.titled else _RESULT_REACH
    )  # a title of skin metastases: the story's lesions
    window = sorted({story[j] for k in told for j in range(max(0, k - reach), k + 1)})
    for i in reversed(window):
        found = _regions_of_a_lesion(b, i)
        if found is None:
            continue
        if not found:
            return  # 'masses on the back, on both thighs and on the neck': skin in several places stays skin
        side = found[0][1]
        if len(found) > 1 and side is None:
            continue  # 'lesions on the upper trunk and the abdomen': skin in several regions stays skin
        for n, (site, _, start, end) in enumerate(found):
            key = fold(site).replace(" ", "-")
            if key in b.mets:
                continue
            if n == 0:
                met = b.mets.pop("skin")
                met["id"], met["site"] = key, site
                ev = b.ev_of(met, "site")
                if ev is not None:
                    ev.value, ev.start, ev.end, ev.sentence = site, start, end, i
            else:
                met = {"id": key, "_sentences": set(), "_uncertain": bare["_uncertain"], "_first": i,
                       "_first_pos": start}  # fmt: skip
                b.put(met, "site", site, start, end, "skin-of-regions", 0.6, sentence=i)
            b.mets[key] = met
            if side is not None:
                b.put(met, "laterality", side.group(1).lower(), b.sentences[i][0] + side.start(), end,
                      "side-of-region", 0.6)  # fmt: skip
            if n > 0:
                # the region's sentence only places the lesion the metastasis's own sentences tell ('On
                # examination the nodules lay over the left chest'): it shows no metastasis of the first region
                met["_sentences"].add(i)
            if i < met["_first"]:
                met["_first"], met["_first_pos"] = i, start
        return


# What a fluid's cytology finds when the cavity it fills holds a metastasis: 'malignant cells', 'cells of a
# carcinoma', 'metastatic adenocarcinoma'.
_MALIGNANT_FINDING = re.compile(
    r"\b(?:(?:malignant|tumou?r|cancer|carcinoma|adenocarcinoma|neoplastic|atypical epithelial)\s+cells"
    r"|cells\s+of\s+(?:an?\s+)?(?:\w+\s+){0,2}(?:carcinoma|adenocarcinoma|cancer)"
    r"|metastatic\s+(?:\w+\s+){0,2}(?:carcinoma|adenocarcinoma|cancer)|positive\s+for\s+malignancy"
    # 'its cytology showed it to be malignant', 'the fluid was malignant'
    r"|(?:showed|proved|found|confirmed)\s+(?:it|them|the\s+fluid)\s+(?:to\s+be\s+|as\s+)?malignant"
    r"|(?:was|were)\s+(?:found\s+to\s+be\s+)?malignant)\b",
    re.I,
)
_FLUID_REACH = 100  # characters after a fluid's name in which its finding is told
_THE_FLUID_AGAIN = re.compile(r"^\W*(?:the|this|that)\s+(?:\w+\s+)?(?:fluid|effusion|aspirate)\b", re.I)


def _malignant_fluid(b: CaseDraft) -> None:
    """'Cytology of the ascitic fluid showed malignant cells': a fluid of a serous cavity in which the story finds
    cancer cells tells a metastasis of the lining it bathes (the peritoneum, the pleura, the pericardium, the
    leptomeninges), when no metastasis of that site is drafted yet."""
    pattern, table = fluid_words(b)
    if pattern is None:
        return
    for i in b.story():
        s0, s1 = b.sentences[i]
        for f in pattern.finditer(b.text, s0, s1):
            if b.flashback_at(f.start()):
                continue
            end = min(s1, f.end() + _FLUID_REACH)
            stop = re.search(r"[;.]", b.text[f.end() : end])
            end = f.end() + stop.start() if stop else end
            hit = _MALIGNANT_FINDING.search(b.text, f.end(), end)
            said = f.end()
            if hit is None and i + 1 < len(b.sentences) and b.in_story(i + 1):
                # 'An echocardiogram showed a large pericardial effusion. The fluid was drained, and its cytology
                # showed it to be malignant.': the fluid told again as the next sentence's subject
                n0, n1 = b.sentences[i + 1]
                if _THE_FLUID_AGAIN.match(b.text[n0:n1]):
                    said = n0
                    hit = _MALIGNANT_FINDING.search(b.text, n0, n1)
            if hit is None or _NEGATED_RESULT.search(b.text[said : hit.start()]):
                continue
            bathed = table.get(fold(f.group(1)), "")
            concept = b.terminology.lookup("secondary_cancers", bathed)
            if concept is None and fold(bathed) not in {fold(w) for w in b.rules["targets"]["SITE"]}:
                continue
            site = (
                concept.terms[0] if concept is not None else bathed
            )  # the pericardium: a site the rules name
            key = fold(site).replace(" ", "-")
            if key in b.mets or _finer_of(b, site) is not None:
                continue
            met = {"id": key, "_sentences": {i}, "_uncertain": False, "_first": i, "_first_pos": f.start()}
            b.mets[key] = met
            b.put(met, "site", site, f.start(), f.end(), "malignant-cells-in-its-fluid", 0.7, sentence=i)


def _past_the_overview(b: CaseDraft, sites: list[Mention]) -> None:
    """A metastasis first named in an overview sentence ('We describe a woman whose cancer reached the cervix')
    is first told where the story itself names it ('Three years later she bled from the cervix'): that
    sentence, not the overview, gives its time and its episode."""
    for met in b.mets.values():
        first = met["_first"]
        if not _OVERVIEW.search(b.sent_text(first)):
            continue
        later = [
            x
            for x in sites
            if x.sentence > first
            and b.in_story(x.sentence)
            and _lesion_site(b, x)
            and not _OVERVIEW.search(b.sent_text(x.sentence))
            and (
                fold(x.target.term) == fold(met["site"])
                or fold(met["site"]) in _ancestors(b, x.target.term)  # told more precisely, not coarser
            )
        ]
        if later:
            met["_first"], met["_first_pos"] = later[0].sentence, later[0].start
            met["_sentences"].add(later[0].sentence)


def _before(sites: list[Mention], m: Mention, window: int):
    """The sites told before `m`, nearest first, back to `window` sentences before it (sites are in text order)."""
    k = _index(sites, m.start)
    for j in range(k - 1, -1, -1):
        x = sites[j]
        if x.sentence < m.sentence - window:
            return
        yield x


def _index(sites: list[Mention], pos: int) -> int:
    lo, hi = 0, len(sites)
    while lo < hi:
        mid = (lo + hi) // 2
        if sites[mid].start < pos:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _lesion_told_before(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """'... treated for a femur fracture eight months earlier. The fracture proved pathological, through a bone
    metastasis': the coarse site of a sentence about 'the fracture' is the precise site that fracture was told at."""
    for m in list(chosen.values()):
        s0 = b.sentences[m.sentence][0]
        the = _THE_LESION.search(b.text[s0 : m.start])
        if not the:
            continue
        noun = the.group(1).lower()
        for x in _before(sites, m, 3):
            if x.sentence >= m.sentence or not b.in_story(x.sentence):
                continue
            near = b.text[max(0, x.start - 25) : x.end + 25].lower()
            if noun in near and fold(m.target.term) in _ancestors(b, x.target.term):
                chosen.pop(id(m), None)
                chosen[id(x)] = x
                b.found_at[id(x)] = m
                break


# A lesion told with no word saying what it is: 'a lump', 'an ulcer', 'a mass', 'two nodules'
_A_LESION_SEEN = re.compile(
    r"\b(?:an?|two|several|multiple)\s+(?:[\w-]+\s+){0,3}?(?:tumou?r|lesion|mass|nodule|swelling|lump|ulcer|plaque"
    r"|polyp|thickening)s?\b",
    re.I,
)
_NAMED_LATER_REACH = 3  # story sentences between a lesion's first telling and the one calling it a metastasis


def _lesion_named_later(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """'Imaging found a small nodule under the skin of the left scalp. It was excised, and the pathology confirmed
    a scalp metastasis': the lesion first told at the same site a few story sentences before the one that calls it
    a metastasis is that metastasis, first seen there (its imaging, its side)."""
    all_story = b.story()
    for m in list(chosen.values()):
        k = bisect.bisect_left(all_story, m.sentence)
        story = all_story[max(0, k - _NAMED_LATER_REACH) : k]
        for x in _before(sites, m, _NAMED_LATER_REACH):
            if id(x) in chosen or x.sentence not in story or fold(x.target.term) != fold(m.target.term):
                continue
            s0 = b.sentences[x.sentence][0]
            nouns = list(_A_LESION_SEEN.finditer(b.text, s0, x.start))
            if not nouns or not _lesion_site(b, x):
                continue
            between = [y for y in b.in_sentence(x.sentence, "SITE") if nouns[-1].end() <= y.start < x.start]
            outer = set(_ancestors(b, x.target.term))
            if any(
                fold(y.target.term) not in outer and not _weak(b, y) and not _layer(b, y) for y in between
            ):
                continue  # 'excision of a mass of the breast and a dissection of the axillary nodes': the breast's
            if any(id(y) in chosen for y in b.in_sentence(x.sentence, "SITE")):
                continue  # a sentence of another metastasis
            chosen[id(x)] = x


def _earlier_precise(b: CaseDraft, sites: list[Mention], chosen: dict[int, Mention]) -> None:
    """'A lesion of the left upper eyelid ... The eyelid lesion proved to be a metastasis': the
    definite site points back at the same or a more precise one told before ('a fracture of the
    right lesser trochanter ... the trochanteric fracture'), which becomes the metastasis too."""
    for m in list(chosen.values()):
        if not (
            _DEFINITE_BEFORE.search(b.text[max(0, m.start - 12) : m.start])
            and _LESION_AFTER.match(b.text[m.end : m.end + 20])
        ):
            continue  # only 'the eyelid lesion', 'this trochanteric fracture' point back
        body = b.terminology.lookup("body_sites", m.text)
        coarse = {fold(m.target.term)} | ({fold(body.terms[0])} if body is not None else set())
        for x in _before(sites, m, 6):
            if id(x) in chosen or x.negated or x.hypothetical:
                continue
            if not b.in_story(x.sentence):
                continue
            if coarse & ({fold(x.target.term)} | set(_ancestors(b, x.target.term))):
                chosen[id(x)] = x
                break
    for m in list(chosen.values()):
        # 'biopsies of the transverse colon ... the colon': the coarse site points back at the precise one
        if not _DEFINITE_BEFORE.search(b.text[max(0, m.start - 12) : m.start]):
            continue
        for x in _before(sites, m, 4):
            if id(x) in chosen or x.negated or x.hypothetical or _weak(b, x):
                continue
            if not b.in_story(x.sentence):
                continue
            if fold(m.target.term) in _ancestors(b, x.target.term):
                chosen[id(x)] = x
                break


_METASTATIC_OF = re.compile(
    r"\bmetastatic\s+(?:[\w-]+\s+){0,3}$|\bmetastas[ie]s\s+(?:of|from)\s+(?:the\s+|a\s+)?$", re.I
)
_COMPARED_WITH = re.compile(
    r"\b(?:as|like|than|compared (?:with|to))\s+(?:in\s+)?(?:the|her|his|that of the)\s+"
    r"(?:(?:earlier|original|previous|prior|first|initial|known|primary|resected|excised)\s+)?$",
    re.I,
)
_AS_ORIGIN = re.compile(r"^\s*(?:as\s+(?:the\s+)?(?:[\w']+\s+){0,2})?(?:origin|source|primary)\b", re.I)
_DEFINITE_BEFORE = re.compile(r"\b(?:the|this|that|these|those)\s+$", re.I)
# 'the trochanteric fracture was the first sign of the metastatic disease'.
# 'the stomach was the first sign of metastasis', '... was the first and only sign that her breast cancer had spread'
_FIRST_SIGN = re.compile(
    r"(?:\s+[a-z]+){0,2}\s+(?:was|were|is|proved to be|turned out to be)\s+the\s+(?:first|initial|presenting)"
    r"(?:\s+(?:and|or)\s+(?:only|sole)\b)?\s+(?:sign|manifestation|presentation|symptom)\s+"
    r"(?:of\s+(?:the\s+|her\s+|his\s+|a\s+)?(?:metasta|dissemina|spread)"
    r"|that\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,3}(?:had\s+|has\s+)?(?:spread|metastasi[sz]ed|disseminated))",
    re.I,
)
_LESION_AFTER = re.compile(
    r"\s+(?:lesions?|mass|masses|metastas[ie]s|tumou?rs?|nodules?|fractures?|deposits?|ulcers?)\b", re.I
)


# 'CT of the orbit', 'orbital CT': the region an image was taken of
_IMAGED_BEFORE = re.compile(
    r"\b(?:CT|MRI|PET(?:[-/]CT)?|scans?|imaging|ultrasound|ultrasonography|radiographs?|x-rays?)\s+(?:scan\s+)?"
    r"(?:of|over)\s+(?:the\s+|her\s+|his\s+|both\s+)?(?:(?:left|right)\s+)?$",
    re.I,
)
_IMAGED_AFTER = re.compile(
    r"^\s*(?:CT|MRI|PET|scans?|imaging|ultrasound|ultrasonography|radiographs?|x-rays?)\b", re.I
)


def _imaged_region(b: CaseDraft, m: Mention) -> bool:
    """'CT of the orbit suggested a malignant tumour of the eyelid', 'orbital CT showed tissue infiltrating the lids':
    the region an image was taken of is no site of its own when the sentence names the lesion's site after it."""
    s0 = b.sentences[m.sentence][0]
    if not (
        _IMAGED_BEFORE.search(b.text[max(s0, m.start - 30) : m.start])
        or _IMAGED_AFTER.match(b.text[m.end : m.end + 15])
    ):
        return False
    return any(
        x.start > m.end and not b.is_breast(x) and fold(x.target.term) != fold(m.target.term)
        for x in b.in_sentence(m.sentence, "SITE")
    )


def _layer(b: CaseDraft, m: Mention) -> bool:
    """'A tumour in the dermis' of an eyelid: a layer of tissue where the lesion lies, beside another site."""
    if fold(m.text) not in {fold(w) for w in b.rules["tissue_layers"]}:
        return False
    return any(
        x is not m and not b.is_breast(x) and fold(x.text) not in {fold(w) for w in b.rules["tissue_layers"]}
        for x in b.in_sentence(m.sentence, "SITE")
    ) or any(b.mets)


def _weak(b: CaseDraft, m: Mention) -> bool:
    if re.match(r"^skin\s+(?:of|over|on)\s", m.text, re.I):
        return False  # 'the skin of her right arm': named as skin, not a region ('pain in the back')
    return fold(m.target.term) in {fold(w) for w in b.rules["weak_sites"]}


def came_from(b: CaseDraft, m: Mention) -> bool:
    """Whether a breast word names where a metastasis came from ('a metastatic myxoid breast carcinoma', 'metastases
    of breast cancer'), not a tumour of the breast."""
    s0 = b.sentences[m.sentence][0]
    lead = b.text[max(s0, m.start - 40) : m.start]
    return bool(_FROM_BEFORE.search(lead[-30:]) or _METASTATIC_OF.search(lead))


def own_cancer(b: CaseDraft, m: Mention) -> bool:
    """Whether a site word names its organ's own cancer ('ovarian cancer', 'renal cell carcinoma')."""
    s0 = b.sentences[m.sentence][0]
    return bool(_OWN_CANCER_AFTER.match(b.text[m.end : m.end + 40])) and not _SECONDARY_BEFORE.search(
        b.text[max(s0, m.start - 30) : m.start]
    )


_NO_BEFORE_CUE = re.compile(
    r"\b(?:no|without|nor|free of|negative for)\s+(?:(?:other|further|new|distant|more)\s+)?$", re.I
)


_A_SIZE = re.compile(r"^\s+(?:up to |about |nearly |almost )?(?:\d|a size|a diameter|a length|a width)", re.I)
_SPREAD_VERB = re.compile(r"reach|travel", re.I)


def _breast_neighbour(b: CaseDraft, m: Mention) -> bool:
    return fold(m.target.term) in {fold(w) for w in b.rules["breast_neighbours"]}


# 'carcinoma in three of the lymph nodes', 'one of the 13 axillary lymph nodes examined', '3 of 14 lymph nodes were
# positive': nodes counted in the specimen of the breast operation
_NODE_COUNT = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|all|none)\s+(?:out\s+)?of\s+"
    r"(?:the\s+|her\s+|his\s+)?(?:\d+\s+|[a-z]+\s+)?(?:\w+\s+){0,2}$",
    re.I,
)


def _counted_nodes(b: CaseDraft, m: Mention) -> bool:
    """Whether a node site is told as a count of nodes of the breast specimen, with no word calling it a metastasis
    and a tumour in the breast: that is the primary's nodal stage, not a metastatic site of the story."""
    body = b.terminology.lookup("body_sites", m.target.term)
    if not ((body is not None and body.kind == "lymph-node") or "node" in fold(m.target.term)):
        return False
    s0, s1 = b.sentences[m.sentence]
    if not _NODE_COUNT.search(b.text[max(s0, m.start - 40) : m.start]):
        return False
    sentence = b.text[s0:s1]
    # 'No tumour was found in the breast tissue, but 2 of the 15 axillary nodes held carcinoma': with no tumour in
    # the breast, the nodes are where the cancer was found
    return not (re.search(r"metasta", sentence, re.I) or re.search(b.rules["occult"], sentence, re.I))


def _is_metastasis(b: CaseDraft, m: Mention, sites: list[Mention]) -> bool:
    i = m.sentence
    s0, s1 = b.sentences[i]
    lead = b.text[max(s0, m.start - 40) : m.start]
    if (
        _EXTENSION.search(lead[-30:])
        or _SYMPTOM.search(lead)
        or _RADIATING.search(b.text[max(s0, m.start - 80) : m.start])
        or _NOT_A_LESION_AFTER.match(b.text[m.end : m.end + 30])
    ):
        return False
    if own_cancer(b, m):
        b.add_review(m.text, "names a cancer of its own organ, not a metastasis in it", m.start, m.end)
        return False
    if _in_what_it_was_taken_for(b, m):
        return False
    if _counted_nodes(b, m):
        b.add_review(m.text, "nodes counted at the breast operation: the primary's N stage", m.start, m.end)
        return False
    if _imaged_region(b, m):
        return False
    if _layer(b, m):
        return False
    if b.rules.metastasis_cue.search(m.text):
        return True  # 'peritoneal carcinomatosis': the cue is in the site's own words
    if _FIRST_SIGN.match(b.text[m.end : s1]):
        return True
    if fold(m.text).startswith("skin") and _SKIN_LUMP.search(b.text[max(s0, m.start - 30) : m.start]):
        return True
    body = b.terminology.lookup("body_sites", m.target.term)
    plain_sites = {fold(x) for x in b.rules["plain_cue_sites"]}
    organ = (body is not None and body.kind in ("bone", "lymph-node")) or fold(m.target.term) in plain_sites
    # 'a malignant pericardial effusion': the fluid of a serous cavity is told by plainly metastatic words, and
    # 'malignant' is one of them
    organ = organ or bool(_CAVITY_FLUID.match(b.text[m.end : m.end + 20]))
    cue_re = b.rules.plain_cue if (organ or _weak(b, m)) else b.rules.metastasis_cue
    reach = _WINDOW_BEFORE
    if _weak(b, m):
        # 'a metastasis inside the right eye': the window starts before the site's own noun phrase
        head = _NOUN_PHRASE_HEAD.search(b.text[max(s0, m.start - 30) : m.start])
        reach = 25 + (len(head.group(0)) if head else 0)
    base = max(s0, m.start - reach)
    before = b.text[base : m.start]
    after = b.text[m.end : min(s1, m.end + (_WINDOW_AFTER if not _weak(b, m) else 15))]
    # 'a mass reached 5 cm': a size, seen past the end of the window
    after_cues = [
        c for c in cue_re.finditer(after) if not _A_SIZE.match(b.text[m.end + c.end() : m.end + c.end() + 25])
    ]
    # 'a lump in the right breast, fixed to the chest wall and to the skin over it': a cue whose words reach
    # the site only past the breast is the primary tumour's, and the site is where that tumour reaches
    breasts = [
        x.start
        for x in b.in_sentence(i)
        if is_primary_mention(b, x) and not _FROM_BEFORE.search(b.text[max(s0, x.start - 30) : x.start])
    ]  # 'metastatic from the breast in the ovary': the breast there is where it came from
    # 'an ulcerated left breast, with the skin tethered to the tumour': a neighbour of the breast told after it is
    # where the breast tumour reaches, unless a plainly metastatic word ('metastasis', 'deposit') is its cue
    own_extent = _breast_neighbour(b, m) and any(x < m.start for x in breasts)

    def plain(cue: re.Match[str]) -> bool:
        return bool(b.rules.plain_cue.fullmatch(cue.group(0)))

    for cue in cue_re.finditer(before):
        if own_extent and not plain(cue):
            continue
        if _BREAK_BEFORE.search(before[cue.end() :]):
            continue
        if _NO_BEFORE_CUE.search(b.text[max(s0, base + cue.start() - 25) : base + cue.start()]):
            continue
        if (
            _SPREAD_VERB.match(cue.group(0))
            and _breast_neighbour(b, m)
            and any(x < base + cue.start() for x in breasts)
        ):
            continue  # 'the tumour of the right breast had reached the skin': its own extent
        if any(base + cue.end() <= x < m.start for x in breasts):
            continue
        passed = [x for x in sites if x.sentence == i and base + cue.end() <= x.start and x.end <= m.start]
        if passed and re.search(r"\bor\b", b.text[passed[-1].end : m.start]):
            continue  # 'came back in the pleura or the liver': the other of two alternatives, not a second site
        return True
    # 'an ulcer in the rectum and a raised lesion in the colon': a cue after a new noun phrase is that one's
    return any(
        not _BREAK.search(after[: cue.start()])
        and not _NEW_PHRASE.search(after[: cue.start()])
        # 'an ultrasound of the liver found no other metastases': the cue is denied
        and not _NO_BEFORE_CUE.search(b.text[max(s0, m.end + cue.start() - 25) : m.end + cue.start()])
        and not any(m.end <= x < m.end + cue.start() for x in breasts)
        and not (own_extent and not plain(cue))
        for cue in after_cues
    )


def _in_what_it_was_taken_for(b: CaseDraft, m: Mention) -> bool:
    """'it looked like a primary tumour of the nose and sinuses', 'mistaken for a lymphoma of the orbit': a site
    named inside what a lesion was first taken for is that diagnosis's organ, not a metastasis."""
    s0, s1 = b.sentences[m.sentence]
    for hit in b.rules.misdiagnosis.finditer(b.text, s0, s1):
        g = 1 if hit.group(1) else 2 if hit.lastindex and hit.lastindex >= 2 and hit.group(2) else None
        if g is None or not re.search(r"\bprimary\b", hit.group(g), re.I):
            continue  # 'taken for a lymphoma of the orbit' may still place the lesion; 'a primary tumour of' does not
        if hit.start(g) <= m.start and m.end <= hit.end(g):
            return True
        if 0 <= m.start - hit.end(g) <= 40 and _OF_THE_ORGAN.match(b.text[hit.end(g) : m.start]):
            return True
    return False


# 'a primary tumour | of the nose and sinuses': the organ a misdiagnosis's words go on to name
_OF_THE_ORGAN = re.compile(
    r"^\s+(?:of|in|from|arising in)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+(?:and|or)\s+(?:the\s+)?)?$", re.I
)


def _add(b: CaseDraft, m: Mention, containers: dict[str, set[str]]) -> dict[str, Any]:
    site = m.target.term
    key = fold(site).replace(" ", "-")
    met = b.mets.get(key)
    body = b.terminology.lookup("body_sites", m.text)
    finer = _finer_of(b, site) or (_finer_of(b, body.terms[0]) if body is not None else None)
    if met is None and finer is not None:
        met = finer  # 'eyelid' after 'upper eyelid': the same metastasis, told less precisely
    coarser = _coarser_of(b, site)
    if met is None and coarser is not None:
        # 'one eyelid ... a mass of the right upper eyelid': the precise site replaces the coarse one
        met = coarser
        b.mets.pop(met["id"])
        met["id"], met["site"] = key, site
        b.mets[key] = met
        ev = b.ev_of(met, "site")
        if ev is not None:
            ev.value, ev.start, ev.end, ev.sentence = site, m.start, m.end, m.sentence
    if met is None:
        met = {
            "id": key,
            "_sentences": set(),
            "_uncertain": True,
            "_first": m.sentence,
            "_first_pos": m.start,
        }
        b.mets[key] = met
        b.put(met, "site", site, m.start, m.end, "site-with-metastasis-cue", 0.8, sentence=m.sentence)
    met["_sentences"].add(m.sentence)
    now = b.found_at.get(id(m))
    if now is not None:
        # 'treated for a femur fracture eight months earlier ... a bone metastasis': found now, told of before
        met["_first"], met["_first_pos"] = now.sentence, now.start
        met["_sentences"].add(now.sentence)
    if not m.uncertain:
        met["_uncertain"] = False
    unsided = {fold(w) for w in b.rules["unsided_sites"]}
    side = b.side_of(m) if fold(met["site"]) not in unsided else None
    if side:
        value, start, end = side
        old = met.get("laterality")
        cued = bool(b.rules.metastasis_cue.search(b.sent_text(m.sentence)))
        if old and old != value and {old, value} <= {"left", "right"}:
            b.put(met, "laterality", "bilateral", start, end, "sides-in-two-places", 0.6, overwrite=True)
        elif old == "bilateral" and met.get("_side_uncued") and cued:
            # 'removal of both tubes and ovaries ... the tumour extended into the left ovary': the organs removed
            # were both; the metastasis is in the one its own sentence names
            b.put(met, "laterality", value, start, end, "side-of-the-metastasis", 0.7, overwrite=True)
            met.pop("_side_uncued", None)
        elif b.put(met, "laterality", value, start, end, "side-word", 0.7, overwrite=value == "bilateral"):
            met["_side_uncued"] = not cued
    return met


_SITE_PARENTS: dict[int, tuple[Any, dict[str, str]]] = {}


def _ancestors(b: CaseDraft, site: str) -> list[str]:
    """The coarser sites a site is part of: the body-site map's parents, then the rules' own."""
    out = []
    cached = _SITE_PARENTS.get(id(b.rules))
    if (
        cached is None or cached[0] is not b.rules
    ):  # folded once per rules: asked for every pair of metastases
        cached = _SITE_PARENTS[id(b.rules)] = (
            b.rules,
            {fold(k): fold(v) for k, v in b.rules["site_parents"].items()},
        )
    parents = cached[1]
    key = fold(site)
    concept = b.terminology.lookup("body_sites", key)
    if concept is not None and fold(concept.terms[0]) != key:
        out.append(
            fold(concept.terms[0])
        )  # 'T7 vertebra', a term of the entry 'thoracic vertebra', is part of it
    for _ in range(8):
        concept = b.terminology.lookup("body_sites", key)
        parent = fold(concept.parent) if concept is not None and concept.parent else parents.get(key)
        if not parent:
            break
        out.append(parent)
        key = parent
    return out


def _merge_containers(b: CaseDraft, containers: dict[str, set[str]]) -> None:
    """'A metastasis inside the right eye' and 'the choroidal metastasis': one metastasis, of the choroid."""
    for key, met in list(b.mets.items()):
        inner = containers.get(fold(met["site"]), set())
        held = [m for m in b.mets.values() if m is not met and fold(m["site"]) in inner]
        if not held:
            continue
        b.mets.pop(key)
        for other in held:
            if "laterality" in met and "laterality" not in other:
                ev = b.ev_of(met, "laterality")
                start, end = (ev.start, ev.end) if ev is not None else (0, 0)
                b.put(other, "laterality", met["laterality"], start, end, "side-of-container", 0.6)
            other["_sentences"] |= met["_sentences"]
            other.setdefault("_shown_in", set()).update(met.get("_shown_in", ()))
            if met["_first_pos"] < other["_first_pos"]:
                other["_first"], other["_first_pos"] = met["_first"], met["_first_pos"]


def _finer_of(b: CaseDraft, site: str) -> dict[str, Any] | None:
    for met in b.mets.values():
        if fold(site) in _ancestors(b, met["site"]):
            return met
    return None


def _coarser_of(b: CaseDraft, site: str) -> dict[str, Any] | None:
    ancestors = _ancestors(b, site)
    for met in b.mets.values():
        if fold(met["site"]) in ancestors:
            return met
    return None


def _sides_from_containers(b: CaseDraft, met: dict[str, Any], containers: dict[str, set[str]]) -> None:
    """'On fundus examination the right eye had a choroidal mass': the choroid is on the right."""
    if "laterality" in met:
        return
    first = min(met["_sentences"])
    for i in sorted(met["_sentences"]) + [first - 1, first - 2]:
        if i < 0 or not b.in_story(i):
            continue
        for x in b.in_sentence(i, "SITE"):
            if fold(met["site"]) in containers.get(fold(x.target.term), set()) or _coarser_in_its_region(
                b, x, met, containers
            ):
                side = b.side_of(x)
                if side:
                    b.put(met, "laterality", side[0], side[1], side[2], "side-of-container", 0.6)
                    return


_IN_REGION = re.compile(
    r"^\s+(?:in|of|at|within)\s+(?:the\s+|her\s+|his\s+)?(?:both|left|right|bilateral)?\s*([a-z]+)", re.I
)


def _coarser_in_its_region(
    b: CaseDraft, x: Mention, met: dict[str, Any], containers: dict[str, set[str]]
) -> bool:
    """'enlarged lymph nodes in both axillae' for a metastasis of the axillary lymph nodes: the coarser site told in
    the region that holds the metastasis's site is that site, and its side is the metastasis's."""
    own, term = fold(met["site"]), fold(x.target.term)
    if own == term or not own.endswith(" " + term):
        return False
    region = _IN_REGION.match(b.text[x.end : x.end + 40])
    if region is None:
        return False
    word = fold(region.group(1))
    for name in (word, word[:-1] if word.endswith(("ae", "s")) else word):
        if own in containers.get(name, set()):
            return True
    return False


_OTHER_SIDE = re.compile(
    r"^\s+(?:of|in|on)\s+the\s+(?:other|opposite|contralateral)\s+(?:side|eye|orbit|lung|breast|one)\b"
    r"|^\s+on\s+both\s+sides\b",
    re.I,
)


def _other_side(b: CaseDraft, met: dict[str, Any], sites: list[Mention]) -> None:
    """'Losing sight in her left eye ... a choroidal mass, and the choroid of the other eye was involved as well':
    a metastasis with a side, told again 'of the other eye', is on both sides."""
    if met.get("laterality") not in ("left", "right"):
        return
    for x in sites:
        if x.sentence not in met["_sentences"] or fold(x.target.term) != fold(met["site"]):
            continue
        other = _OTHER_SIDE.match(b.text[x.end : x.end + 40])
        if other:
            b.put(
                met,
                "laterality",
                "bilateral",
                x.start,
                x.end + other.end(),
                "other-side",
                0.6,
                overwrite=True,
            )
            return


def _side_told_before(b: CaseDraft, met: dict[str, Any], sites: list[Mention]) -> None:
    """'A small nodule in the right lung was removed as well. Frozen sections showed metastases in the lung': a
    metastasis named with 'the' and no side is the same site told with its side a few sentences before."""
    if "laterality" in met or fold(met["site"]) in {fold(w) for w in b.rules["unsided_sites"]}:
        return
    pos = met["_first_pos"]
    definite = bool(_DEFINITE_BEFORE.search(b.text[max(0, pos - 12) : pos]))
    first = met["_first"]
    sides = set()
    for x in sites:
        if not (first - 3 <= x.sentence and x.start < pos) or not b.in_story(x.sentence):
            continue
        if fold(x.target.term) != fold(met["site"]) or x.negated:
            continue
        side = b.side_of(x)
        if side:
            sides.add(side)
    # 'swollen nodes in both axillae. A biopsy of an axillary node ...': one of the nodes told on both sides before
    # is a sample of them; a side of one ('a node in the left axilla ... an axillary node') is not said of it
    if not definite and {s[0] for s in sides} != {"bilateral"}:
        return
    if len({s[0] for s in sides}) == 1:
        value, start, end = max(sides, key=lambda s: s[1])
        b.put(met, "laterality", value, start, end, "side-told-before", 0.6)


# 'the skin of the operation wound', 'the chest wall along the mastectomy scar': the site of the breast operation
_SCAR_AFTER = re.compile(
    r"^\s+(?:of|at|on|over|along|around|in|near)\s+(?:the\s+|her\s+|his\s+)?(?:old\s+)?"
    r"(?:(?:operation|operative|surgical|mastectomy|lumpectomy|excision)\s+)?(?:wound|scar|site)\b",
    re.I,
)


def _side_of_the_scar(b: CaseDraft, met: dict[str, Any], sites: list[Mention]) -> None:
    """'A lesion appeared on the skin of the operation wound': a metastasis in the scar of the breast operation
    is on the side of the breast cancer."""
    side = b.primary.get("laterality")
    if "laterality" in met or side not in ("left", "right"):
        return
    for x in sites:
        if x.sentence not in met["_sentences"] or fold(x.target.term) != fold(met["site"]):
            continue
        scar = _SCAR_AFTER.match(b.text[x.end : x.end + 60])
        if scar:
            b.put(met, "laterality", side, x.start, x.end + scar.end(), "side-of-the-scar", 0.5)
            return


# 'the dura of the middle cranial fossa' after 'a tumour in the right middle cranial fossa': the region a site is
# 'of', told before with a side
_OF_REGION_AFTER = re.compile(
    r"^\s+(?:of|in)\s+(?:the|her|his)\s+((?:[a-z-]+\s+){0,3}?[a-z-]{4,})\b(?=\s*[,;.]|\s+(?:and|was|were|with|that|which|had|is)\b)",
    re.I,
)


def _side_of_the_region(b: CaseDraft, met: dict[str, Any], sites: list[Mention]) -> None:
    """A metastasis named as the part of a region ('the dura of the middle cranial fossa') takes the side the story
    gave that region before ('a large tumour in the right middle cranial fossa'), when it gave one side only."""
    if "laterality" in met or fold(met["site"]) in {fold(w) for w in b.rules["unsided_sites"]}:
        return
    for x in sites:
        if x.sentence not in met["_sentences"] or fold(x.target.term) != fold(met["site"]):
            continue
        region = _OF_REGION_AFTER.match(b.text[x.end : x.end + 60])
        if region is None:
            continue
        told = re.compile(
            r"\b(left|right)\s+" + r"\s+".join(re.escape(w) for w in region.group(1).split()) + r"\b", re.I
        )
        hits = [
            (b.sentences[i][0] + h.start(), b.sentences[i][0] + h.end(), h.group(1).lower())
            for i in b.story()
            if i <= x.sentence
            for h in told.finditer(b.sent_text(i))
        ]
        if hits and len({side for _, _, side in hits}) == 1:
            start, end, side = hits[0]
            b.put(met, "laterality", side, start, end, "side-of-the-region", 0.5)
            return


# A side word said of the noun after it ('the right fundus', 'her left-sided mass'), not a verb ('she left', 'was
# left untreated') and not a side said after a noun ('a vein on the left'), which is that noun's
_SIDE_IN_SENTENCE = re.compile(
    r"(?<!\bwas )(?<!\bwere )(?<!\bbeen )(?<!\bshe )(?<!\bhe )(?<!\bare )(?<!\bis )\b(left|right)(?:-sided)?\s+"
    r"(?!(?:untreated|alone|behind|over|in|place|unchanged|to|for|with|and|or|side|of|on|was|were|is|are|had|has|showed|"
    r"became|remained)\b)[a-z]",
    re.I,
)


def _side_of_its_sentence(b: CaseDraft, met: dict[str, Any], containers: dict[str, set[str]]) -> None:
    """'In the right fundus there was a raised choroidal mass': a sentence of the metastasis that names no other
    site (only the metastasis, or what holds it) and no primary gives one side, on a word the maps do not hold as
    a site; that side is the metastasis's."""
    if "laterality" in met or fold(met["site"]) in {fold(w) for w in b.rules["unsided_sites"]}:
        return
    own = fold(met["site"])
    outer = {k for k, v in containers.items() if own in v} | set(_ancestors(b, met["site"]))
    for i in sorted(met["_sentences"]):
        if not b.in_story(i) or b.flashback[i]:
            continue
        told = b.in_sentence(i)
        if any(x.label == "PRIMARY" for x in told) or any(
            x.label == "SITE" and fold(x.target.term) != own and fold(x.target.term) not in outer
            for x in told
        ):
            continue  # 'a mass in the right breast and a choroidal lesion': the side may be the other site's
        s0 = b.sentences[i][0]
        sides = list(_SIDE_IN_SENTENCE.finditer(b.sent_text(i)))
        if any(
            x.start <= s0 + h.end()
            and s0 + h.start() < x.end
            and not (x.label == "SITE" and fold(x.target.term) == own)
            for h in sides
            for x in told
        ):
            continue  # 'a left mastectomy and the ablation of a sacral lesion': the side of something else told
        if sides and len({h.group(1).lower() for h in sides}) == 1:
            h = sides[0]
            b.put(
                met,
                "laterality",
                h.group(1).lower(),
                s0 + h.start(),
                s0 + h.end(),
                "side-of-its-sentence",
                0.5,
            )
            return


_LESION_WORDS = r"(?:tumou?r|lesion|mass|nodule|swelling|lump|effusion|deposit|opacity|thickening)(?:s|es)?"
# 'a right-sided effusion', 'a large left mass'; 'an effusion on the right side', 'a nodule in the left'
_SIDED_LESION = re.compile(
    r"\b(?:an?|two|three|several|multiple)\s+(?:[\w-]+\s+){0,2}?(left|right)(?:-sided)?\s+(?:[\w-]+\s+){0,2}?"
    + _LESION_WORDS
    + r"\b|\b"
    + _LESION_WORDS
    + r"\s+(?:on|in|at|over)\s+the\s+(left|right)(?:\s+side)?\b(?!\s+(?:\w+\s+)?of\b)",
    re.I,
)
_SAMPLED = re.compile(
    r"\b(?:biops\w*|aspirat\w*|excis\w*|resect\w*|cytolog\w*|histolog\w*|thoracoscop\w*|-?ectomy)\b", re.I
)


def _side_of_the_lesion_before(b: CaseDraft, met: dict[str, Any], containers: dict[str, set[str]]) -> None:
    """'A chest radiograph showed a large effusion on the right side. A pleural biopsy found tumour cells': the lesion
    a story sentence tells with one side, naming no other site, is what the next story sentence samples and calls a
    metastasis; its side is the metastasis's."""
    if "laterality" in met or fold(met["site"]) in {fold(w) for w in b.rules["unsided_sites"]}:
        return
    story = b.story()
    place = {s: k for k, s in enumerate(story)}
    for i in sorted(met["_sentences"]):
        if not place.get(i) or not _SAMPLED.search(b.sent_text(i)):
            continue  # not in the story, or the first sentence of it
        j = story[place[i] - 1]
        told = _lesion_side(b, met, j, containers)
        if told is None:
            continue
        b.put(met, "laterality", *told, "side-of-the-lesion-before", 0.5)
        # the scan that showed the lesion ('A chest radiograph showed ...') is how the metastasis was seen
        s0 = b.sentences[j][0]
        for c in b.rules.confirmation.finditer(b.text[s0 : told[1]]):
            term = b.evidence_term(c.group(1))
            if (
                term is None
                or _PATHOLOGY.search(c.group(1))
                or b.terminology.lookup("observations", term) is None
                or not _FOUND_VERB.match(b.text[s0 + c.end() : told[1]])
            ):
                continue
            if term not in met.setdefault("confirmed_by", []):
                met["confirmed_by"].append(term)
                b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), j,
                                           "imaging-of-the-lesion-before", 0.5))  # fmt: skip
            break
        return


def _lesion_side(
    b: CaseDraft, met: dict[str, Any], j: int, containers: dict[str, set[str]]
) -> tuple[str, int, int] | None:
    """The one side story sentence j gives a lesion, when it names no site but the metastasis's own (or what holds
    it, or the region a scan was taken of) and no other metastasis or primary."""
    if set(b.met_keys_in(j)) - {met["id"]} or b.in_sentence(j, "PRIMARY") or b.flashback[j]:
        return None
    own = fold(met["site"])
    outer = {k for k, v in containers.items() if own in v} | set(_ancestors(b, met["site"]))
    s0 = b.sentences[j][0]
    for x in b.in_sentence(j, "SITE"):
        term = fold(x.target.term)
        imaged = _IMAGED_BEFORE.search(b.text[max(s0, x.start - 30) : x.start]) or _IMAGED_AFTER.match(
            b.text[x.end : x.end + 15]
        )
        if term != own and term not in outer and not imaged:
            return None  # 'a mass in the right breast', 'a nodule of the left lung': another site's side
    text = b.sent_text(j)
    told = list(_SIDED_LESION.finditer(text))
    said = {w.lower() for w in re.findall(r"\b(left|right)\b", text, re.I)}
    if not told or len(said) != 1:
        return None
    h = told[0]
    return (h.group(1) or h.group(2)).lower(), s0 + h.start(), s0 + h.end()


def _side_told_elsewhere(b: CaseDraft, met: dict[str, Any], sites: list[Mention]) -> None:
    """'The cancer spread only to an adrenal gland. ... a mass in her left adrenal gland': a metastasis first
    named without a side takes the side the story gives its organ, where the story gives it one side only
    (left or right) and the primary cancer is not in that organ."""
    if "laterality" in met or fold(met["site"]) in {fold(w) for w in b.rules["unsided_sites"]}:
        return
    if fold(b.primary.get("site", "")) == fold(met["site"]):
        return
    sides = set()
    for x in sites:
        if (
            fold(x.target.term) != fold(met["site"])
            or x.negated
            or x.hypothetical
            or not b.in_story(x.sentence)
        ):
            continue
        side = b.side_of(x)
        if side:
            sides.add(side)
    if len({s[0] for s in sides}) == 1 and next(iter(sides))[0] in ("left", "right"):
        value, start, end = min(sides, key=lambda s: s[1])
        b.put(met, "laterality", value, start, end, "side-told-elsewhere", 0.5)


def _confirmation(b: CaseDraft, met: dict[str, Any]) -> None:
    # The sentences after one that names a metastasis tell how it was confirmed while they go on
    # about its pathology and name no other metastasis: 'A scalp mass was seen. Excisional biopsy
    # showed adenocarcinoma.' So does the sentence whose result made the site a metastasis, though it names
    # the lesion only as 'the plaque' or not at all. Imaging counts only in the metastasis's own sentence.
    shown = met.get("_shown_in", set())
    # A story sentence that tells the site again by its own word ('The sternum was resected') goes on about it
    # as much as one that named it a metastasis: what follows it about its pathology is its confirmation too.
    again = {
        m.sentence
        for m in b.mentions
        if m.label == "SITE" and b.in_story(m.sentence) and told_again(b, m, met)
    } - set(met["_sentences"])
    follow = set(shown) | again
    for i in met["_sentences"] | shown | again:
        j = i + 1
        while (
            j < len(b.sentences) and j <= i + 3 and b.in_story(j) and not set(b.met_keys_in(j)) - {met["id"]}
        ):
            sample = re.search(rf"(?:{_PATHOLOGY.pattern})\w*", b.sent_text(j), re.I)
            if sample is not None and _sample_of_another(b, met, j, b.sentences[j][0] + sample.end()):
                break  # 'CT found lesions in the liver. A biopsy of the breast mass showed ...': the breast's sample
            follow.add(j)
            if not _PATHOLOGY.search(b.sent_text(j)):
                break
            j += 1
    for i in sorted(met["_sentences"]):
        j = _test_label(b, i)
        if j is None:
            continue
        s0 = b.sentences[j][0]
        for c in b.rules.confirmation.finditer(b.sent_text(j)):
            if _PATHOLOGY.search(c.group(1)):
                continue  # 'Biopsy and MRI.': a section's biopsy is of one sample, its imaging of all it tells
            term = b.evidence_term(c.group(1))
            if term is not None and term not in met.setdefault("confirmed_by", []):
                met["confirmed_by"].append(term)
                b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), j,
                                           "test-of-the-section", 0.6))  # fmt: skip
    _lesion_seen_before(b, met)
    _imaging_showed_the_site(b, met)
    _resected(b, met)
    for i in sorted(met["_sentences"] | follow):
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        response = bool(b.in_sentence(i, "STATUS"))
        for c in b.rules.confirmation.finditer(text):
            if _FOLLOW_UP.search(text[max(0, c.start() - 60) : c.start()]):
                continue  # follow-up imaging tells the response, not how it was confirmed
            if _GUIDANCE.match(text[c.end() : c.end() + 20]):
                continue  # 'biopsies taken under ultrasound guidance', 'a CT-guided biopsy': imaging that led a needle
            if response and i != met["_first"] and not _PATHOLOGY.search(c.group(1)):
                # 'MRI then showed complete regression': imaging of the response; but where the
                # metastasis is first told ('CT showed progression in the lungs') it found it
                continue
            if _other_site_in_clause(b, met, i, s0 + c.start()):
                continue  # 'PET-CT showed suspicious lesions in the breast': imaging of something else
            if _PATHOLOGY.search(c.group(1)) and _sample_of_another(b, met, i, s0 + c.end()):
                continue  # 'a biopsy of an axillary node ... the source of her meningeal metastases': the node's
            if re.search(r"\bbenign\b", text[c.end() : c.end() + 40], re.I):
                continue
            term = b.evidence_term(c.group(1))
            if term is None:
                continue
            if term == "mammography" and not _IN_A_MAMMOGRAM.search(met["site"]):
                continue  # 'after the eyelid biopsy a mammogram showed a mass in the breast': it images the breast only
            if (
                i not in met["_sentences"]
                and b.terminology.lookup("observations", term) is not None
                and not _PATHOLOGY.search(c.group(1))
            ):
                continue  # imaging in a following sentence is about something else
            if term not in met.setdefault("confirmed_by", []):
                met["confirmed_by"].append(term)
                b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), i,
                                           "confirmation-word", 0.7))  # fmt: skip
    if not met.get("confirmed_by"):
        met.pop("confirmed_by", None)


# What a mammogram shows: the breasts, the skin over them, the axillae.
_IN_A_MAMMOGRAM = re.compile(r"breast|axill|mammary", re.I)


# The verb that gives a sample's result: the sites named before it are those the sample was taken from
_SAMPLE_RESULT = re.compile(
    r"[;:]|\b(?:showed|shows|revealed|reveals|was|were|confirmed|found|gave|demonstrated)\b", re.I
)


def _sample_of_another(b: CaseDraft, met: dict[str, Any], i: int, pos: int) -> bool:
    """Whether the sampling word ending at `pos` names the site it was taken from ('a biopsy of an axillary lymph
    node'), and that site is not this metastasis nor a part or a whole of it."""
    own = fold(met["site"])

    def ours(y: Mention) -> bool:
        term = fold(y.target.term)
        return (
            term == own
            or own.endswith(" " + term)
            or own.startswith(
                term + " of "
            )  # 'a biopsy of the skin' of a metastasis of the skin of the chest
            or term.endswith(" " + own)
            or own in _ancestors(b, y.target.term)
            or term in _ancestors(b, met["site"])
        )

    verb = _SAMPLE_RESULT.search(b.text, pos, b.sentences[i][1])
    end = verb.start() if verb else b.sentences[i][1]
    sampled = [y for y in b.in_sentence(i, "SITE") if pos <= y.start < end]
    if not sampled or not _SAMPLED_FROM.match(b.text[pos : sampled[0].start]):
        return False
    return not any(ours(y) for y in sampled)  # 'biopsies from the peritoneum and from the liver': each one's


# A paragraph that opens on the name of a test alone ('CT of the chest, abdomen and pelvis.', 'Bone scan.',
# 'MRI:') tells what that test showed: a radiology report's or a structured case's sections. Each metastasis
# told in it was seen on that imaging.
_LABEL_WORDS = 10
_VERB = re.compile(
    r"\b(?:is|are|was|were|be|been|has|have|had|show\w*|reveal\w*|found|demonstrat\w*|confirm\w*|lies|lay|sits?|"
    r"underwent|performed|done|taken)\b",
    re.I,
)


def _test_label(b: CaseDraft, i: int) -> int | None:
    """The sentence that labels sentence i's paragraph with a test's name, if its paragraph opens on one."""
    j = b.paragraph_start(i)
    if j == i:
        return None
    label = b.sent_text(j).strip()
    if (
        len(label.split()) > _LABEL_WORDS
        or _VERB.search(label)
        or not b.rules.confirmation.match(label)
        or not re.search(r"[.:]$", label)
    ):
        return None
    return j


_A_LESION = re.compile(
    r"\b(?:an?|two|several|multiple)\s+(?:[\w-]+\s+){0,3}?(tumou?r|lesion|mass|nodule|swelling)s?\b", re.I
)


def _lesion_seen_before(b: CaseDraft, met: dict[str, Any]) -> None:
    """'Neuroimaging showed a large tumour in the right middle cranial fossa. At operation the tumour arose from the
    dura': a metastasis first named as where 'the tumour' told just before lies was seen by the imaging that told it,
    when that sentence names no other metastasis."""
    i = met["_first"]
    s0 = b.sentences[i][0]
    the = _THE_LESION.search(b.text[s0 : met["_first_pos"]])
    story = b.story()
    if the is None or i not in story or story.index(i) == 0:
        return
    j = story[story.index(i) - 1]
    before = b.sent_text(j)
    told = _A_LESION.search(before)
    if (
        told is None
        or told.group(1).lower().rstrip("s") != the.group(1).lower().rstrip("s")
        or b.met_keys_in(j)
    ):
        return
    s0 = b.sentences[j][0]
    for c in b.rules.confirmation.finditer(before[: told.start()]):
        if _PATHOLOGY.search(c.group(1)):
            continue
        term = b.evidence_term(c.group(1))
        if term is not None and term not in met.setdefault("confirmed_by", []):
            met["confirmed_by"].append(term)
            b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), j,
                                       "imaging-of-the-lesion-told-before", 0.5))  # fmt: skip


# 'CT of the neck showed an enlarged thyroid', 'an ultrasound found two nodules in the liver': a test that showed
# what it found, told as its subject
_FOUND_VERB = re.compile(
    r"^[^;.]*?\b(?:showed|shows|revealed|reveals|demonstrated|disclosed|detected|found|identified|depicted|visuali[sz]ed)\b",
    re.I,
)
# 'CT of the brain', 'an MRI scan of her left orbit': a test told with the site it looked at
_OF_THE_SITE = re.compile(
    r"^\s+(?:scans?\s+|examination\s+|study\s+)?(?:of|in)\s+(?:the\s+|her\s+|his\s+)?(?:(?:left|right)\s+)?$",
    re.I,
)
# what that test found, told right after the site: '... showed three masses', '... revealed a ring-enhancing lesion'
_SHOWED_A_LESION_AFTER = re.compile(
    r"^[^;.]{0,20}?\b(?:showed|revealed|demonstrated|disclosed|found|detected|depicted|identified)\s+"
    r"[^;.]{0,50}?\b(?:lesions?|mass(?:es)?|tumou?rs?|nodules?|metasta\w*|deposits?)\b",
    re.I,
)
_NOTHING_FOUND = re.compile(r"\b(?:no|not|without|normal|unremarkable|negative|free of|clear)\b", re.I)
_NOT_SHOWN = re.compile(r"\b(?:neither|nor|not|never|failed|only)\b", re.I)
_IMAGING_REACH = (
    3  # story sentences before the metastasis's first in which the imaging that found it may be told
)


def _imaging_showed_the_site(b: CaseDraft, met: dict[str, Any]) -> None:
    """'Computed tomography of the neck showed an enlarged thyroid gland. ... A biopsy found metastatic breast
    carcinoma in the thyroid': imaging that a story sentence tells showing the metastasis's own site, with no
    other site told between the test and that site and nothing said to be absent, is how the metastasis was seen,
    though that sentence does not call it a metastasis. Only the story sentences just before its first telling
    count; a later scan is the response's."""
    own = fold(met["site"])
    story = b.story()
    first = met["_first"]
    if first not in story:
        return
    k = story.index(first)
    near = set(story[max(0, k - _IMAGING_REACH) : k])  # its own sentences read their tests already
    for x in (y for i in sorted(near) for y in b.in_sentence(i, "SITE")):
        if fold(x.target.term) != own or x.negated or x.hypothetical or b.flashback[x.sentence]:
            continue
        i = x.sentence
        s0 = b.sentences[i][0]
        head = b.text[b.clause_start(x.start) : x.start]
        h0 = x.start - len(head)
        for c in b.rules.confirmation.finditer(head):
            if _PATHOLOGY.search(c.group(1)) or _FOLLOW_UP.search(
                b.text[max(s0, h0 + c.start() - 60) : h0 + c.start()]
            ):
                continue
            term = b.evidence_term(c.group(1))
            if term is None or b.terminology.lookup("observations", term) is None:
                continue
            verb = _FOUND_VERB.match(head[c.end() :])
            if verb is None and _OF_THE_SITE.match(head[c.end() :]):
                # 'CT of the brain showed three masses': the test of the site, and what it showed after it
                shown = _SHOWED_A_LESION_AFTER.match(b.text[x.end : b.sentences[i][1]])
                if shown and not _NOTHING_FOUND.search(shown.group(0)):
                    if term not in met.setdefault("confirmed_by", []):
                        met["confirmed_by"].append(term)
                        b.evidence.append(Evidence(met, "confirmed_by", term, h0 + c.start(), h0 + c.end(), i,
                                                   "imaging-of-the-site-showed-a-lesion", 0.5))  # fmt: skip
                    return
                continue
            if verb is None or _NOT_SHOWN.search(head[c.end() : c.end() + verb.end() + 6]):
                continue  # 'neither showed why the liver had grown', 'showed only that its outline was uneven'
            between = head[c.end() + verb.end() :]
            if _NOTHING_FOUND.search(between) or any(
                h0 + c.end() + verb.end() <= y.start < x.start for y in b.in_sentence(i, "SITE") if y is not x
            ):
                continue  # 'CT showed no lesion in the liver'; 'MRI showed a mass in the breast and the liver'
            if term not in met.setdefault("confirmed_by", []):
                met["confirmed_by"].append(term)
                b.evidence.append(Evidence(met, "confirmed_by", term, h0 + c.start(), h0 + c.end(), i,
                                           "imaging-showed-the-site", 0.5))  # fmt: skip
            return


# 'the ileal segment was resected', 'a wedge resection of the lung', 'underwent resection of the sternum'
_RESECTED = re.compile(r"\b(?:resect(?:ed|ion)|resectable)\b", re.I)
_NOT_DONE = re.compile(
    r"\b(?:not|unresectable|no|without|planned|considered|refused|declined|offered)\b", re.I
)


def _resected(b: CaseDraft, met: dict[str, Any]) -> None:
    """A metastasis its own story sentence tells resected ('The lesion of the ileum was resected and proved to be
    metastatic lobular carcinoma') was shown by the resection: its specimen (kept as the word, which the maps do
    not code)."""
    own = fold(met["site"])
    for i in sorted(met["_sentences"]):
        if not b.in_story(i) or b.flashback[i]:
            continue
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for r in _RESECTED.finditer(text):
            if r.group(0).lower() == "resectable" or _NOT_DONE.search(
                text[max(0, r.start() - 30) : r.start()]
            ):
                continue
            named = [
                x
                for x in b.in_sentence(i, "SITE")
                if abs((x.start - s0) - r.start()) < 60 and x.start - s0 < r.end() + 40
            ]
            if not named or any(fold(x.target.term) != own and not b.is_breast(x) for x in named):
                continue  # the resection of another organ, or of nothing the sentence names near it
            if any(b.is_breast(x) for x in named) and not any(fold(x.target.term) == own for x in named):
                continue
            if "resection" not in met.setdefault("confirmed_by", []):
                met["confirmed_by"].append("resection")
                b.evidence.append(Evidence(met, "confirmed_by", "resection", s0 + r.start(), s0 + r.end(), i,
                                           "resected", 0.5))  # fmt: skip
            return


def _other_site_in_clause(b: CaseDraft, met: dict[str, Any], i: int, pos: int) -> bool:
    """Whether the clause of a confirmation word is about a site that is no metastasis ('... in the breast')."""
    start = b.clause_start(pos)
    end = b.sentences[i][1]
    cut = re.search(r"[;,]|\band\b", b.text[pos:end])
    end = pos + cut.start() if cut else end
    names = [
        x
        for x in b.in_sentence(i, "SITE")
        if start <= x.start < end
        # 'biopsies showed metastatic lobular breast carcinoma': the breast is where it came from
        and not (b.is_breast(x) and _METASTATIC_OF.search(b.text[max(start, x.start - 40) : x.start]))
        # 'CT of the orbit suggested a tumour of the eyelid': the region imaged
        and not _imaged_region(b, x)
        # '... the same immunohistochemical pattern as the breast tumour': a comparison
        and not _COMPARED_WITH.search(b.text[max(start, x.start - 30) : x.start])
        # 'pointed to the breast as the lesion's origin': where it came from
        and not (b.is_breast(x) and _AS_ORIGIN.match(b.text[x.end : x.end + 40]))
        # 'histology showed that the tumour came from the breast'
        and not (b.is_breast(x) and came_from(b, x))
    ]
    sites = {fold(m["site"]) for m in b.mets.values()}
    containers = {fold(k): {fold(x) for x in v} for k, v in b.rules["site_containers"].items()}
    sites |= {outer for outer, inner in containers.items() if fold(met["site"]) in inner}
    sites |= set(_ancestors(b, met["site"]))  # 'the brain tumour' of a metastasis of the frontal lobe
    others = [
        x
        for x in names
        if not any(
            s == fold(x.target.term)
            or s.endswith(fold(x.target.term))
            or s.startswith(fold(x.target.term) + " of ")
            or s.endswith(" " + fold(x.text))  # 'the eyelid' of the lower eyelid
            for s in sites
        )  # 'skin' names the skin of the back
    ]
    return bool(others) and len(others) == len(names) and not _among_its_findings(b, met, i, pos)


# The verb by which a test gives what it found, and what ends the list of its findings: a clause of its own
# ('..., and a mastectomy was done'), a second result verb, a contrast.
_TEST_FOUND = re.compile(
    r"\b(?:showed|shows|show|revealed|reveals|demonstrated|demonstrates|disclosed|discloses|found|finds|detected|"
    r"detects|identified|identifies|depicted|confirmed|confirms|visuali[sz]ed)\b",
    re.I,
)
_FINDINGS_END = re.compile(
    r"[;.]|\b(?:was|were|is|are|had|has|have|been|underwent|but|yet|while|whereas|although|then|after|before|"
    r"showed|shows|revealed|reveals|demonstrated|disclosed|confirmed|found|detected|identified)\b",
    re.I,
)
# Characters from a test's name to its verb ('CT of the chest, abdomen and pelvis then showed').
_TEST_TO_VERB = 80


def _among_its_findings(b: CaseDraft, met: dict[str, Any], i: int, pos: int) -> bool:
    """Whether the test whose name ends at `pos` lists this metastasis among what it found, after a finding
    elsewhere: 'MRI showed a new lesion in the other breast, nodes in the axilla and metastases in the liver'
    saw the liver too, though its first finding is in the breast."""
    end = b.sentences[i][1]
    verb = _TEST_FOUND.search(b.text, pos, min(end, pos + _TEST_TO_VERB))
    if verb is None or re.search(r"[;.]", b.text[pos : verb.start()]):
        return False
    stop = _FINDINGS_END.search(b.text, verb.end(), end)
    stop_at = stop.start() if stop else end
    if stop is not None and stop.group(0) not in ";.":
        # '..., and metastases in the liver were found later': the clause of that verb starts at the last
        # joint of the list before it, and what it names is no finding of this test
        joints = list(re.finditer(r",|\band\b|\byet\b", b.text[verb.end() : stop_at]))
        stop_at = verb.end() + joints[-1].start() if joints else verb.end()
    s0 = b.sentences[i][0]
    # '..., and a biopsy of the liver showed ...': another test starts findings of its own
    other = next(
        (c for c in b.rules.confirmation.finditer(b.sent_text(i)) if s0 + c.start() >= verb.end()), None
    )
    if other is not None:
        stop_at = min(stop_at, s0 + other.start())
    own = fold(met["site"])
    here = b.in_sentence(i, "SITE")
    for x in here:
        ours = fold(x.target.term) == own or met_named(b, x) is met
        if verb.end() <= x.start < stop_at and ours and _a_lesion_listed(b, verb.end(), x, here):
            return True
    return False


# A finding's own words: a lesion or a spread ('metastases in the liver', 'a mass of the spleen', 'enlarged nodes').
_FINDING_WORDS = re.compile(
    r"\b(?:metasta\w*|lesions?|mass(?:es)?|tumou?rs?|nodules?|nodes?|deposits?|foci|focus|implants?|uptake|"
    r"thicken\w*|infiltrat\w*|involve\w*|enlarged|opacit\w*|carcinoma\w*|cancer|areas?)\b",
    re.I,
)
_NO_FINDING = re.compile(r"\b(?:no|not|without|free|normal|clear)\b", re.I)
# Words a list item may hold besides its site and still share the noun of the item before ('... and the lungs').
_ITEM_FILLER = re.compile(
    r"\b(?:the|her|his|its|their|both|left|right|bilateral|also|in|of|on|at|to|within|part|parts|portion|lobe|"
    r"apex|base|pole|wall|side|segment|surface|upper|lower|middle|posterior|anterior|medial|lateral|inner|outer|"
    r"superior|inferior|proximal|distal)\b",
    re.I,
)


def _a_lesion_listed(b: CaseDraft, start: int, x: Mention, sites: list[Mention]) -> bool:
    """Whether site mention x, in a test's list of findings that begins at `start`, is the place of a lesion: its
    own item names one ('metastases in the liver'), or it shares the noun of the item before ('metastases in the
    liver and the lungs'); an item that says no lesion ('... and the colon with no mass') or names something else
    ('dilatation of the bowel and the colon') is not."""
    split = r",|;|\band\b|\bor\b|\bas well as\b"
    pieces = re.split(split, b.text[start : x.end])
    after = re.split(split + r"|[.:()]", b.text[x.end : x.end + 60])[0]  # 'the colon with no mass'
    pieces[-1] += after
    for piece in reversed(pieces):
        if _NO_FINDING.search(piece):
            return False
        if _FINDING_WORDS.search(piece):
            return True
        rest = piece
        for m in sites:
            rest = rest.replace(b.text[m.start : m.end], " ")
        if re.search(r"\w", _ITEM_FILLER.sub(" ", rest)):
            return False  # an item with words of its own that are no lesion
    return False


# 'breast cancer that had already spread to the bones', 'a breast carcinoma with metastases to the liver': the
# site is where the primary went, said of the primary; the sentence is still about the primary.
_SPREAD_OF_THE_PRIMARY = re.compile(
    r"^,?\s*(?:(?:that|which)\s+(?:had\s+|has\s+)?(?:already\s+)?(?:spread|metastasi[sz]ed)|with\s+(?:\w+\s+){0,2}?"
    r"(?:metastas[ie]s|spread))\s+(?:to|in|into)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,2}$",
    re.I,
)


def _focus(b: CaseDraft) -> None:
    """The tumour each sentence of the story is about, for markers and histology with no site of their own."""
    b.focus = [None] * len(b.sentences)
    current: dict[str, Any] | None = None
    for i in range(len(b.sentences)):
        b.focus[i] = current
        if not b.in_story(i) or _OVERVIEW.search(b.sent_text(i)):
            continue  # an overview tells the whole case in advance: no sample of the story is its topic yet
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        last = None
        for m in b.in_sentence(i):
            if m.label not in ("SITE", "PRIMARY") or b.flashback_at(m.start):
                continue
            key = fold(m.target.term).replace(" ", "-")
            met = b.mets.get(key) or next(
                (
                    x
                    for x in b.mets.values()
                    if i in x["_sentences"] and fold(x["site"]).endswith(fold(m.target.term))
                ),
                None,
            )
            if (
                met is not None
                and last is not None
                and last[1] is b.primary
                and _SPREAD_OF_THE_PRIMARY.match(b.text[last[2] : m.start])
                and not _PATHOLOGY.search(text)
            ):
                continue  # 'diagnosed with breast cancer that had already spread to the bones': her cancer's topic
            if met is not None and (i in met["_sentences"] or sampled_site(b, m) or told_again(b, m, met)):
                # 'An aspiration biopsy of the cervix was taken. Its stains: ...': the sample of a metastasis told
                # elsewhere is that metastasis
                last = (m.start, met, m.end)
            elif met is None and (named := met_named(b, m)) is not None:
                last = (
                    m.start,
                    named,
                    m.end,
                )  # 'immunohistochemistry of the eyelid biopsy:' the skin of eyelid told before
            elif is_primary_mention(b, m) and not re.search(r"\bbenign\b", text[m.start - s0 :], re.I):
                last = (m.start, b.primary, m.end)
        if last is not None:
            current = last[1]


# 'Ultrasound showed the endometrium thickened', 'the lesion of the femur was painful': the organ of a metastasis
# told again by its name, with no cue of its own, takes the story back to that metastasis.
_CLEAR_AFTER = re.compile(r"^[\w\s,]{0,30}?\b(?:was|were|is|are|looked|appeared|remained)\s+(?:\w+\s+)?"
                          r"(?:normal|clear|free|unremarkable|spared|uninvolved|intact)\b", re.I)  # fmt: skip


def told_again(b: CaseDraft, m: Mention, met: dict[str, Any]) -> bool:
    """Whether a later mention of a metastasis's organ, named by its own word, tells that metastasis again."""
    if m.negated or m.hypothetical or m.sentence < met["_first"]:
        return False
    if fold(m.target.term) != fold(met["site"]) or _CLEAR_AFTER.match(b.text[m.end : m.end + 50]):
        return False
    return not any(
        x is not m and met_named(b, x) not in (None, met) for x in b.in_sentence(m.sentence, "SITE")
    )


def met_named(b: CaseDraft, m: Mention) -> dict[str, Any] | None:
    """The one metastasis a site word names, wherever it was told: 'the eyelid' for the skin of the eyelid."""
    for term in (fold(m.target.term), fold(m.text)):
        found = [
            x for x in b.mets.values() if fold(x["site"]) == term or fold(x["site"]).endswith(" " + term)
        ]
        if len(found) == 1:
            return found[0]
    return None


_A_COMPLAINT = re.compile(r"\b(?:pain|ache|aches|headaches?|backache|cough|fever|fatigue|tiredness)\b", re.I)


_OF_THE_BREAST_AFTER = re.compile(
    r"^\s*(?:of|from)\s+(?:the\s+|her\s+|his\s+)?(?:\w+\s+)?(?:breast|mammary)\b", re.I
)


def _misdiagnosis(b: CaseDraft) -> None:
    for i in b.story():
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for m in b.rules.misdiagnosis.finditer(text):
            keys = b.met_keys_in(i)
            target = _named_in(b, i, s0 + m.start(), s0 + m.end()) or (b.mets[keys[0]] if keys else None)
            if (
                target is None
                and b.focus[i] is not None
                and b.focus[i] is not b.primary
                and not _told_in_a_list(b, i)
            ):
                target = b.focus[i]  # 'A scalp nodule grew. It was first taken for a benign lesion.'
            ahead = False
            if target is None:
                for j in (i + 1, i + 2):
                    keys = b.met_keys_in(j) if j < len(b.sentences) else []
                    if len(keys) == 1 or (keys and _THE_LESIONS.search(b.sent_text(j))):
                        # 'They looked like abscesses. The masses proved to be metastases to the skin and lungs.'
                        target, ahead = b.mets[keys[0]], True
                    if keys:
                        break  # several metastases told at once, none as the lesion: which was mistaken is not said
            g = 1 if m.group(1) else 2
            what = m.group(g).strip()
            if ahead and _A_COMPLAINT.search(what):
                # 'her doctor first treated it as non-mechanical back pain': a complaint's cause mistaken, told
                # before any lesion; not what a metastasis named later was taken for
                b.add_review(
                    m.group(0), "a complaint mistaken for another, not a lesion", s0 + m.start(), s0 + m.end()
                )
                continue
            if re.search(r"metasta|secondar|recurren|relapse", what, re.I):
                continue  # 'metastases from the breast were suspected': the right diagnosis, suspected
            if re.search(r"\b(?:breast|mammary)\b", what, re.I) or _OF_THE_BREAST_AFTER.match(
                text[m.end(g) : m.end(g) + 40]
            ):
                # 'the pathologist diagnosed it as lobular carcinoma of the breast': the right diagnosis, which
                # names the metastasis's histology
                if target is not None and b.terminology.lookup("histology", what) is not None:
                    b.put(
                        target,
                        "histology",
                        what,
                        s0 + m.start(g),
                        s0 + m.end(g),
                        "diagnosed-as-of-the-breast",
                        0.6,
                    )
                continue
            lead = re.match(r"^(?:(?:and|or|but|then|so|a|an|the)\s+)+", what, re.I)
            start_g = s0 + m.start(g) + (lead.end() if lead else 0)
            what = what[lead.end() :] if lead else what
            if target is not None:
                b.put(target, "misdiagnosis", what, start_g, s0 + m.end(g), "misdiagnosis-pattern", 0.8)
            else:
                b.add_review(
                    m.group(0), "a misdiagnosis with no metastasis to put it on", s0 + m.start(), s0 + m.end()
                )


_THE_LESIONS = re.compile(
    r"\b(?:the|these|those|this|that)\s+(?:fractures?|lesions?|mass(?:es)?|tumou?rs?|nodules?|swellings?|lumps?)\b",
    re.I,
)


def _told_in_a_list(b: CaseDraft, i: int) -> bool:
    """Whether the last story sentence before i that tells a metastasis tells several at once ('metastases in the
    brain, the lungs and the bones'): a lesion taken for something else after it is not said to be any of them."""
    for j in reversed([k for k in b.story() if k < i]):
        keys = b.met_keys_in(j)
        if keys:
            return len(keys) > 1
    return False


def _named_in(b: CaseDraft, i: int, start: int, end: int) -> dict[str, Any] | None:
    """The metastasis whose organ a misdiagnosis names ('a primary ovarian neoplasm': the ovary's)."""
    tail = re.match(r"^\s+(?:of|in)\s+(?:the\s+)?", b.text[end : end + 12])
    end = end + tail.end() + 1 if tail else end  # 'read as an adenocarcinoma of the rectum'
    for x in b.in_sentence(i, "SITE"):
        if not start <= x.start < end:
            continue
        term = fold(x.target.term)
        for met in b.mets.values():
            site = fold(met["site"])
            if site == term or term in _ancestors(b, met["site"]) or site in _ancestors(b, x.target.term):
                return met
    return None


def _later_primary(b: CaseDraft) -> None:
    """'Pain around her left eye ... put down to an orbital pseudotumour. Three months later she noticed changes
    in her breasts ... carcinoma in both breasts, with a metastasis in the left orbit': when the story first
    tells the primary in an episode opened by 'N later', and a metastasis of that episode was already told
    as the presenting complaint, the interval times the primary from that metastasis, which belongs to the
    presentation."""
    p = b.primary
    if "relative" in p or "date" in p or not b.mets:
        return
    first = min((m for m in b.mentions if is_primary_mention(b, m) and b.in_story(m.sentence)),
                key=lambda m: m.start, default=None)  # fmt: skip
    if first is None:
        return
    e = b.episode_of[first.sentence]
    ep = b.episodes[e]
    if (
        e == 0
        or ep.relative is None
        or not ep.relative[1].startswith("later")
        or ep.sentence > first.sentence
    ):
        return
    told: list[tuple[int, int, dict[str, Any]]] = []
    for met in b.mets.values():
        if b.episode_of[met["_first"]] != e:
            continue
        earlier = [
            x
            for x in b.mentions
            if x.label == "SITE"
            and x.sentence < ep.sentence
            and b.in_story(x.sentence)
            and (
                fold(x.target.term) == fold(met["site"])
                or fold(met["site"]).endswith(" " + fold(x.target.term))
            )
        ]
        if earlier:
            told.append((earlier[0].sentence, earlier[0].start, met))
    if not told:
        return
    told.sort(key=lambda t: t[1])
    for sentence, start, met in told:
        met["_first"], met["_first_pos"] = sentence, start
    interval, _, start, end = ep.relative
    b.put(p, "relative", {"to": told[0][2]["id"], "after": interval}, start, end, "later-primary", 0.6)
    p.pop("age", None)


def metastasis_timing(b: CaseDraft) -> None:
    """Each metastasis timed by its own words, else by its episode; one found in a flashback by its interval."""
    _later_primary(b)
    for met in b.mets.values():
        i = met["_first"]
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        back = b.flashback_at(met["_first_pos"])
        for m in INTERVAL.finditer(text):
            how = m.group(3).lower()
            if back and (how in ("before", "earlier", "ago", "previously") or how.startswith("prior")):
                first = b.presenting_met()
                if first is not None and first is not met:
                    b.put(met, "relative", {"to": first["id"], "before": interval_of(m)},
                          s0 + m.start(), s0 + m.end(), "interval-before-presentation", 0.7)  # fmt: skip
                break
        for j in sorted(met["_sentences"]):
            # its own sentence first; else a later one that tells it again ('came back with scalp nodules in 2022')
            tj = b.sent_text(j)
            sj = b.sentences[j][0]
            if values.between(tj) or (j == i and back):
                continue
            d = [x for x in values.dates(tj) if not b.flashback_at(sj + x.start)]
            if d:
                b.put(met, "date", d[0].value, sj + d[0].start, sj + d[0].end, "date-in-sentence", 0.7)
                break
        b.time_item(met, i, met["_first_pos"])
    first = b.presenting_met()
    if b.age_is_now and first is not None and b.presenting_age:
        # 'This 47-year-old woman had been diagnosed in 2015; eight years later ...': 47 is her age now
        episode = b.episode_of[first["_first"]]
        value, start, end, _ = b.presenting_age
        for met in b.mets.values():
            if b.episode_of[met["_first"]] == episode and not b.flashback_at(met["_first_pos"]):
                b.put(met, "age", value, start, end, "presenting-age", 0.6)
