"""The checks a fact from a language model must pass beyond its words being in the text: the rules' own reading.

A model's fact is kept only if its words are in the patient's story (not a background, literature
or differential sentence, and not an instruction planted in the text), the text does not negate
it, a treatment the text plans or refuses is not drafted as given, and a marker is on the tumour
the text measured it on. The text is read by the same pipeline and rules as the rules backend
(sentence roles, ConText, the tumour a marker's sentence is about), so both backends answer to
the same checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import AdapterError
from ..terminology import Terminology, fold
from .pipeline import Mention, cached_pipeline
from .roles import PATIENT, TITLE, sentence_roles
from .rules import Rules, shipped_rules
from .text import mask_references, normalize

ROLE_WHY = {
    "background": "a background sentence about the disease in general",
    "literature": "a sentence about other patients or the literature",
    "differential": "a differential diagnosis",
    "citation": "the journal's own line",
    "heading": "a heading",
    "instruction": "an instruction written into the text, not a fact of the case",
}
_NAMES = ("site", "name", "histology", "status")  # fields whose words are a mention of their own
_REFUSAL = re.compile(r"\b(refused|declined|decided against|chose not)\b", re.I)
_PLANNED = {"intended", "preparation"}
_REFUSED = {"not-taken", "not-done"}


@dataclass
class Story:
    """A text as the rules read it: its sentences, their roles, its mentions, and the rules' drafts."""

    text: str
    sentences: list[tuple[int, int]]
    roles: list[str]
    mentions: list[Mention]
    drafts: list[Any] = field(default_factory=list)  # the rules backend's drafts of the same text

    def sentence_of(self, pos: int) -> int | None:
        for i, (s, e) in enumerate(self.sentences):
            if s <= pos < e:
                return i
        return None

    def role_at(self, pos: int) -> str | None:
        i = self.sentence_of(pos)
        return self.roles[i] if i is not None else None


def read_story(text: str, terminology: Terminology, rules: Rules | None = None) -> Story:
    """Read a text (header already blanked) as the rules backend does."""
    from . import draft_text

    rules = rules or shipped_rules()
    plain = normalize(text)
    sentences, mentions = cached_pipeline(terminology, rules).run(plain)
    roles = sentence_roles(mask_references(plain), sentences, rules)
    try:
        drafts = draft_text(text, terminology=terminology, rules=rules)
    except AdapterError:
        drafts = []  # no primary the rules can read: the marker check has nothing to compare with
    return Story(text, sentences, roles, mentions, drafts)


def locate(story: Story, quote: str) -> tuple[int, int]:
    """Where the quoted words are, spacing and case aside: in the patient's story if they are there at all."""
    pattern = r"\s+".join(re.escape(w) for w in quote.split())
    if not pattern:
        return -1, -1
    hits = [m.span() for m in re.finditer(pattern, story.text, re.I)]
    if not hits:
        return -1, -1
    ours = [h for h in hits if story.role_at(h[0]) == PATIENT] or [
        h for h in hits if story.role_at(h[0]) == TITLE
    ]
    return (ours or hits)[0]


def why_not(story: Story, case: dict[str, Any], path: str, name: str, value: Any, span: tuple[int, int],
            terminology: Terminology, case_number: int) -> str | None:  # fmt: skip
    """Why a located fact may not be kept (None when it passes): its sentence, a negation, its tumour."""
    start, end = span
    role = story.role_at(start)
    if role is not None and role not in (PATIENT, TITLE):  # the title names the case's own site and tumour
        return f"returned by the LLM, but its words are in {ROLE_WHY.get(role, role)}"
    if name in _NAMES:
        for m in story.mentions:
            if m.start < end and start < m.end and m.negated and _same(m, value) and not _refused(story, m):
                return "returned by the LLM, but the text negates it"
    if re.match(r"^metastases\[\d+\]\.site$", path) and not _said_metastatic(story, start, end, value):
        return "returned by the LLM, but the text does not say this site holds a metastasis"
    marker = _marker_target(case, path)
    if marker is not None and story.drafts:
        ruled = _rules_target(story, case_number, marker[0], terminology)
        if ruled is not None and not _same_tumour(ruled, marker[1]):
            where = "the primary" if ruled == "primary" else f"the {ruled} metastasis"
            return f"returned by the LLM on the wrong tumour: the text measured it on {where}"
    return None


def status_from_text(story: Story, path: str, name: str, value: Any, span: tuple[int, int],
                     item: dict[str, Any]) -> str | None:  # fmt: skip
    """For a treatment the text plans or refuses: the status it must have (None when the draft's fits)."""
    if name != "name" or not re.match(r"^(medications|procedures)\[\d+\]\.name$", path):
        return None
    start, end = span
    drug = path.startswith("medications")
    for m in story.mentions:
        if not (m.start < end and start < m.end and _same(m, value)):
            continue
        if _refused(story, m):
            wanted = "not-taken" if drug else "not-done"
            return None if item.get("status") in _REFUSED else wanted
        if m.hypothetical:
            wanted = "intended" if drug else "preparation"
            return None if item.get("status") in _PLANNED | _REFUSED else wanted
    return None


def _said_metastatic(story: Story, start: int, end: int, value: Any) -> bool:
    """Whether the sentence of a site's words says it holds a metastasis, or the rules drafted it as one."""
    site = fold(str(value))
    for draft in story.drafts:
        for met in draft.case.get("metastases", []):
            drafted = fold(met["site"])
            if drafted == site or drafted.endswith(" " + site) or site.endswith(" " + drafted):
                return True  # 'lower eyelid' and 'eyelid', not 'eyelid' and 'eye'
    i = story.sentence_of(start)
    if i is None:
        return False
    s, e = story.sentences[i]
    return bool(_RULES_CUE(story).search(story.text[s:e]))


def _RULES_CUE(story: Story) -> re.Pattern[str]:  # noqa: N802 (reads like the rules' own pattern)
    return shipped_rules().metastasis_cue


def _refused(story: Story, m: Mention) -> bool:
    """'She declined radiotherapy': a refusal, which ConText reads as a negation."""
    i = story.sentence_of(m.start)
    head = story.text[story.sentences[i][0] : m.start] if i is not None else ""
    return bool(_REFUSAL.search(head))


def _same_tumour(a: str, b: str) -> bool:
    """The primary is the primary; two metastatic sites are one when one names the other ('eyelid', 'lower eyelid')."""
    if "primary" in (a, b):
        return a == b
    return a == b or a.endswith(" " + b) or b.endswith(" " + a)


def _same(m: Mention, value: Any) -> bool:
    if not isinstance(value, str):
        return True
    v = fold(value)
    return v in fold(m.text) or fold(m.text) in v or v == fold(m.target.term)


def _marker_target(case: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(marker name, 'primary' or the metastasis's site) of a marker fact's path, else None."""
    m = re.match(r"^primary_cancers\[(\d+)\]\.receptors\.(er|pr|her2)$", path)
    if m:
        return m.group(2).upper(), "primary"
    m = re.match(r"^(primary_cancers|metastases)\[(\d+)\]\.markers\[(\d+)\]\.(result|percent)$", path)
    if not m:
        return None
    try:
        item = case[m.group(1)][int(m.group(2))]
        name = item["markers"][int(m.group(3))]["name"]
        target = "primary" if m.group(1) == "primary_cancers" else fold(item["site"])
    except (KeyError, IndexError, TypeError):
        return None
    return _marker_name(str(name)), target


def _marker_name(name: str) -> str:
    key = fold(name).replace(" ", "").upper()
    return {
        "ESTROGENRECEPTOR": "ER",
        "OESTROGENRECEPTOR": "ER",
        "PROGESTERONERECEPTOR": "PR",
        "HER-2": "HER2",
    }.get(key, key)


def _rules_target(story: Story, case_number: int, name: str, terminology: Terminology) -> str | None:
    """Where the rules backend put a marker of this name: 'primary', a metastasis's site, or None."""
    if case_number >= len(story.drafts):
        return None
    case = story.drafts[case_number].case
    for p in case.get("primary_cancers", []):
        if name in {k.upper() for k in (p.get("receptors") or {})}:
            return "primary"
        if any(_marker_name(mk["name"]) == name for mk in p.get("markers", [])):
            return "primary"
    for met in case.get("metastases", []):
        if any(_marker_name(mk["name"]) == name for mk in met.get("markers", [])):
            return fold(met["site"])
    return None
