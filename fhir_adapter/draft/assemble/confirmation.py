"""How a metastasis was confirmed, where the text tells it after the operation that took the specimen.

metastases.py reads the confirmation words of a metastasis's own sentences and of the pathology
sentences right after them. A report often tells the operation first and its pathology next:
'CT found a mass in the sigmoid colon. A colostomy was made, and at a second operation a Hartmann's
procedure completed the treatment. Histology showed metastases of lobular carcinoma.' The sentence
of the operation names no other metastasis and takes the story on to the specimen, so the pathology
after it is still the metastasis's.
"""

from __future__ import annotations

import re
from typing import Any

from ...terminology import fold
from ..roles import DIFFERENTIAL
from .place import CaseDraft, Evidence

# Pathology words: what a specimen shows (imaging after the operation is about something else).
_PATHOLOGY = re.compile(
    r"biops|histolog|patholog|immunohisto|cytolog|microscop|aspirat|\bFNA\b|H&E|haematoxylin|hematoxylin",
    re.I,
)
# The specimen told again: 'the specimen', 'the resected tumour', 'the node'; or a result with no site of
# its own ('Histology showed metastases of lobular carcinoma').
_OF_THE_SPECIMEN = re.compile(
    r"\b(?:the|this|that|its)\s+(?:\w+\s+)?(?:specimens?|tumou?rs?|mass|lesions?|nodules?|nodes?|tissue|samples?|"
    r"resection|piece)\b|\bmetasta\w*",
    re.I,
)
_AS_ORIGIN = re.compile(r"^\s+as\s+(?:the\s+|its\s+)?(?:[\w']+\s+){0,2}?(?:origin|source|primary)\b", re.I)
# The lesion told again without its site: 'On imaging it looked like a cystic thymoma', 'The tumour was removed'.
_LESION_AGAIN = re.compile(
    r"^(?:[\w\s,]{0,30}?\b)?(?:it|its\s+(?:\w+\s+){1,2}?|the\s+(?:tumou?r|lesion|mass|nodule|swelling|ulcer))\s*"
    r"(?:looked|was|were|appeared|"
    r"showed|measured|had|seemed|proved)\b",
    re.I,
)
_REACH = 3  # sentences after the metastasis's own that may still tell of its specimen
# A test that showed a lesion with no site of its own: 'Imaging showed a cystic lesion', 'MRI revealed an enhancing
# mass'. Told after the metastasis's sentence, with no other site named, the lesion is the metastasis seen again.
_SHOWED_A_LESION = re.compile(
    r"^(?![^.;]*\b(?:follow[- ]?up|after(?:wards)?|later|again|repeat\w*|smaller|shr[ai]nk\w*|regress\w*|"
    r"resolv\w*|stable|no\s+longer)\b)"
    r"[^.;]*\b(?:showed|revealed|demonstrated|disclosed|found|detected|depicted|identified)\s+(?:an?|one|two|three|"
    r"several|multiple)\s+(?:[\w-]+\s+){0,3}?(?:lesions?|mass(?:es)?|tumou?rs?|nodules?)\b",
    re.I,
)
# The operation took the lesion out: 'it was removed', 'a total gastrectomy', 'the mass was excised', 'resection of
# the small intestine'. Its specimen showed what the lesion was.
_REMOVAL = re.compile(
    r"\b(?:resect(?:ed|ion)|remov(?:ed|al|e|ing)|excised|excision(?!al)|\w{3,}ectomy|enucleat\w*)\b", re.I
)
_NOT_DONE = re.compile(
    r"\b(?:not|un\w*able|no|without|planned|plan|considered|refused|declined|offered|could|would|may|might)\b",
    re.I,
)
_BREAST_REMOVAL = re.compile(r"mastectom|lumpectom|quadrantectom|tumou?rectom", re.I)


# 'colonoscopy with biopsy showed no malignancy', 'the biopsy was negative', 'cytology was inconclusive'
_NEGATIVE_RESULT = re.compile(
    r"^[\w\s,-]{0,50}?\b(?:showed|revealed|found|gave|was|were|came\s+back)\s+(?:no\s+(?:sign\s+of\s+)?(?:malignan\w*|"
    r"tumou?r|cancer|carcinoma|metasta\w*|evidence)|normal|benign|inconclusive|non-?diagnostic"
    r"|negative(?=\s*[,;.]|\s+for\s+(?:malignan|tumou?r|cancer|carcinoma|metasta)))\b"
    # 'several biopsies were taken, and none of them held cancer cells', 'the samples contained no tumour'
    r"|^[\w\s,-]{0,60}?\b(?:(?:none|neither)\s+of\s+(?:them|these|those|the\s+\w+)\s+(?:contained|showed|revealed|"
    r"held|had|found)|(?:contained|held|had)\s+no)\s+(?:\w+\s+)?(?:malignan\w*|tumou?r|cancer|carcinoma|metasta\w*)",
    re.I,
)


def drop_negative(b: CaseDraft) -> None:
    """A test whose every result for a metastasis was negative did not confirm it: the biopsy that 'showed no
    malignancy' before the laparotomy that found the metastasis."""
    for met in b.mets.values():
        terms = met.get("confirmed_by")
        if not terms:
            continue
        told = [e for e in b.evidence if e.item is met and e.field == "confirmed_by"]
        keep = []
        for term in terms:
            said = [e for e in told if e.value == term]
            if said and all(_NEGATIVE_RESULT.match(b.text[e.end : b.sentences[e.sentence][1]]) for e in said):
                b.add_review(term, "a test whose result was negative did not confirm the metastasis",
                             said[0].start, said[0].end)  # fmt: skip
                b.evidence[:] = [e for e in b.evidence if not any(e is x for x in said)]
                continue
            keep.append(term)
        if keep:
            met["confirmed_by"] = keep
        else:
            met.pop("confirmed_by")


_FLUIDS: dict[int, tuple[Any, re.Pattern[str] | None, dict[str, str]]] = {}


def fluid_words(b: CaseDraft) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """The rules' fluid words as one pattern, with the site each one bathes (folded), compiled once per rules."""
    cached = _FLUIDS.get(id(b.rules))
    if cached is None or cached[0] is not b.rules:
        table = {fold(k): fold(v) for k, v in b.rules.raw.get("site_fluids", {}).items()}
        words = sorted(b.rules.raw.get("site_fluids", {}), key=len, reverse=True)
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.I) if words else None
        cached = _FLUIDS[id(b.rules)] = (b.rules, pattern, table)
    return cached[1], cached[2]


def fluid_met(b: CaseDraft, i: int, before: int | None = None) -> dict[str, Any] | None:
    """The metastasis whose fluid sentence i samples ('in the cerebrospinal fluid, cytology found ...'), when the
    sentence names the fluid of one metastasis's site (before `before`, if given) and no other metastasis."""
    pattern, table = fluid_words(b)
    if pattern is None or len(b.met_keys_in(i)) > 0:
        return None
    s0, s1 = b.sentences[i]
    found = []
    for f in pattern.finditer(b.text, s0, s1 if before is None else before):
        site = table.get(fold(f.group(1)))
        found += [m for m in b.mets.values() if fold(m["site"]) == site and m not in found]
    return found[0] if len(found) == 1 else None


def read_fluids(b: CaseDraft) -> None:
    """'The cerebrospinal fluid held malignant cells on cytology': a fluid's cytology confirms the metastasis of the
    site the fluid bathes (the leptomeninges, the pleura, the peritoneum, the pericardium)."""
    for i in b.story():
        met = fluid_met(b, i)
        if met is None:
            continue
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for c in b.rules.confirmation.finditer(text):
            if not _PATHOLOGY.search(c.group(1)):
                continue
            term = b.evidence_term(c.group(1))
            if term is None or term in met.get("confirmed_by", []):
                continue
            met.setdefault("confirmed_by", []).append(term)
            b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), i,
                                       "test-of-its-fluid", 0.6))  # fmt: skip


# A result sentence whose subject is the sample the sentence before took: 'It showed ...', 'The specimen revealed ...'
_SAMPLE_SUBJECT = re.compile(
    r"^\W*(?:it|this|these|they|both|the\s+(?:\w+\s+)?(?:biops(?:y|ies)|samples?|specimens?|aspirates?|tissue))\s+"
    r"(?:\w+\s+)?(?:showed|revealed|confirmed|demonstrated|proved|contained|held|gave)\b",
    re.I,
)
_SAMPLING = re.compile(r"biops|aspirat|\bFNA\b", re.I)


def read_sample_before(b: CaseDraft) -> None:
    """'... and a biopsy was taken. It showed the same pattern as the breast lesion, which confirmed a gastric
    metastasis': a result sentence of the metastasis whose subject is the sample the story sentence before took was
    shown by that sampling, when that sentence names no other metastasis."""
    story = b.story()
    for met in b.mets.values():
        for i in sorted(met["_sentences"]):
            k = story.index(i) if i in story else 0
            if k == 0 or not _SAMPLE_SUBJECT.match(b.sent_text(i)):
                continue
            j = story[k - 1]
            if _names_other_site(b, met, j):
                continue
            text = b.sent_text(j)
            s0 = b.sentences[j][0]
            for c in b.rules.confirmation.finditer(text):
                if not _SAMPLING.search(c.group(1)) or _sampled_elsewhere(b, met, j, s0 + c.end()):
                    continue  # 'A biopsy of the right breast was taken. It showed a fibroadenoma': the breast's
                term = b.evidence_term(c.group(1))
                if term is None or term in met.get("confirmed_by", []):
                    continue
                met.setdefault("confirmed_by", []).append(term)
                b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), j,
                                           "sample-of-the-result", 0.6))  # fmt: skip


def _sampled_elsewhere(b: CaseDraft, met: dict[str, Any], j: int, pos: int) -> bool:
    """Whether the sampling word ending at `pos` says it was taken 'of/from' a site other than this metastasis's."""
    after = re.match(r"^\s*(?:(?:was|were)\s+(?:taken|obtained|performed|done)\s+)?(?:of|from)\s+(?:the\s+|her\s+|his\s+|an?\s+)?"
                     r"(?:(?:left|right)\s+)?(\w+)", b.text[pos : pos + 60], re.I)  # fmt: skip
    if after is None:
        return False
    own = fold(met["site"])
    for x in b.in_sentence(j, "SITE"):
        if x.start == pos + after.start(1) or (x.start <= pos + after.start(1) < x.end):
            term = fold(x.target.term)
            return not (term == own or own.endswith(" " + term) or term.endswith(" " + own))
    return False


def read_later_pathology(b: CaseDraft) -> None:
    """Pathology told after the sentence of the operation that removed or sampled a metastasis."""
    for met in b.mets.values():
        for i in sorted(met["_sentences"]):
            _follow(b, met, i)


def _follow(b: CaseDraft, met: dict[str, Any], i: int) -> None:
    """The sentences after one that names the metastasis, while they go on about it: the operation that took
    its specimen, the lesion told again ('On imaging it looked like a thymoma'), its pathology."""
    for j in range(i + 1, min(len(b.sentences), i + 1 + _REACH)):
        if b.roles[j] == DIFFERENTIAL:
            continue  # 'a metastasis, a sialometaplasia and a salivary tumour were all considered'
        if not b.in_story(j) or _names_other_site(b, met, j):
            return
        text = b.sent_text(j)
        removal = _removal(text)
        operated = removal is not None or any(x.label == "PROCEDURE" for x in b.in_sentence(j))
        again = _LESION_AGAIN.search(text) or (
            _SHOWED_A_LESION.search(text) and _no_site_but_its_own(b, met, j)
        )
        pathology = _PATHOLOGY.search(text)
        if pathology and (operated or again or _OF_THE_SPECIMEN.search(text)):
            _confirm(b, met, j, imaging=bool(again))
        elif again:
            _confirm(b, met, j, imaging=True)
        if not (operated or again or pathology):
            if _silent(b, i, j):
                continue  # 'She first lost consciousness.': a symptom told between the lesion and its tests
            return  # the story has moved on from the lesion


def _no_site_but_its_own(b: CaseDraft, met: dict[str, Any], j: int) -> bool:
    """Whether every site sentence j names is the metastasis's own or one the map puts it in: a lesion a test showed
    there is the metastasis, where 'an irregular mass in the breast' after a skin metastasis is the breast's."""
    own = {fold(met["site"])} | _map_holders(b, met["site"])
    return all(fold(x.target.term) in own for x in b.in_sentence(j, "SITE"))


def _removal(text: str) -> re.Match[str] | None:
    """The first word in a sentence telling that an operation took a lesion out, when it was done (not only planned,
    refused or judged impossible) and was no operation on the breast."""
    for r in _REMOVAL.finditer(text):
        if _BREAST_REMOVAL.search(r.group(0)) or _NOT_DONE.search(text[max(0, r.start() - 30) : r.start()]):
            continue
        return r
    return None


def _silent(b: CaseDraft, i: int, j: int) -> bool:
    """Whether sentence j, in the same episode as sentence i, names nothing the story could turn to (no site,
    procedure, drug, test, lesion, earlier reading of a lesion or new time): a symptom or the patient's state, which does
    not take the story away from the lesion."""
    text = b.sent_text(j)
    return (
        not b.in_sentence(j)
        and b.episode_of[j] == b.episode_of[i]
        and not b.flashback[j]
        and b.rules.confirmation.search(text) is None
        and b.rules.misdiagnosis.search(text) is None
        and _A_LESION_WORD.search(text) is None
    )


# A lesion told in a sentence of its own ('a painful lump near the anus'): the story may have turned to it.
_A_LESION_WORD = re.compile(
    r"\b(?:lumps?|mass(?:es)?|swellings?|nodules?|lesions?|tumou?rs?|growths?|ulcers?|plaques?|polyps?|cysts?)\b",
    re.I,
)


# A sample named by where it was taken: 'a core biopsy of the left breast', 'aspiration from the breast lump'.
_SAMPLE_OF = re.compile(
    r"\b(?:biops(?:y|ies)|aspirat\w*|FNA|samples?|specimens?|excision|resection)\s+(?:of|from)\s+(?:the\s+|her\s+)?"
    r"(?:\w+\s+)?$",
    re.I,
)


def _names_other_site(b: CaseDraft, met: dict[str, Any], j: int) -> bool:
    """Whether sentence j names a site that is not this metastasis (another metastasis, the breast)."""
    own = fold(met["site"])
    holders = {fold(k) for k, v in b.rules["site_containers"].items() if own in {fold(x) for x in v}}
    holders |= _map_holders(b, met["site"])
    for x in b.in_sentence(j, "SITE"):
        term = fold(x.target.term)
        if own == term or own.endswith(" " + term) or term.endswith(" " + own) or term in holders:
            continue  # 'On ultrasound of the eye' of a choroidal metastasis: the organ that holds it
        lead = b.text[max(0, x.start - 40) : x.start]
        if (
            b.is_breast(x)
            and re.search(r"\b(?:from|of)\s+(?:the\s+|her\s+)?(?:\w+\s+)?$", lead, re.I)
            and not _SAMPLE_OF.search(lead)
        ):
            continue  # 'metastases of the breast cancer': where it came from ('a biopsy of the breast' is the breast's)
        if b.is_breast(x) and _AS_ORIGIN.match(b.text[x.end : x.end + 50]):
            continue  # 'pointed to the breast as the lesion's origin'
        return True
    if any(x.label == "PROCEDURE" and re.search(r"\bbreast|mammar|mastectom|lumpectom", x.text, re.I)
           for x in b.in_sentence(j)):  # fmt: skip
        return True  # 'A breast biopsy had once been benign': another organ's test
    return bool(b.met_keys_in(j)) and not any(b.mets[k] is met for k in b.met_keys_in(j))


def _map_holders(b: CaseDraft, site: str) -> set[str]:
    """The sites the body-site map puts the site inside (the occipital lobe's brain, the choroid's eye): a
    sentence that names one of them ('pressing on the neighbouring brain') still tells of the metastasis."""
    return {fold(t) for c in b.terminology.ancestors("body_sites", site)[1:] for t in c.terms}


def _confirm(b: CaseDraft, met: dict[str, Any], j: int, imaging: bool = False) -> None:
    text = b.sent_text(j)
    s0 = b.sentences[j][0]
    for c in b.rules.confirmation.finditer(text):
        if not (_PATHOLOGY.search(c.group(1)) or imaging):
            continue
        term = b.evidence_term(c.group(1))
        if term is None or term in met.get("confirmed_by", []):
            continue
        met.setdefault("confirmed_by", []).append(term)
        b.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), j,
                                   "confirmation-after-operation", 0.6))  # fmt: skip
