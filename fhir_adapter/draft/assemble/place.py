"""Shared placement helpers: the case being drafted, where each fact came from, and how it is put in place.

Each fact family (patient, primaries, metastases, markers, treatments, outcome) reads the mentions
and sentences of one case and puts what it finds into a CaseDraft through put(), which records the
fact's evidence; what cannot be placed goes to review through add_review().
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...terminology import Terminology, fold
from .. import values
from ..pipeline import Mention
from ..rules import Rules

DIAGNOSED = re.compile(r"\b(diagnosed|diagnosis|presented|presenting|found|revealed|confirmed)\b", re.I)
LATER = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)[- ]"
    r"(year|month|week|day)s?\s+(later|after(?: the)?(?: first| initial)? diagnosis|after (?:surgery|mastectomy)"
    r"|postoperatively|post-operatively|before|ago|prior)\b",
    re.I,
)
SIDE_BEFORE = re.compile(r"\b(left|right|bilateral)(?:[- ]sided?)?[\s,]*$", re.I)
SIDE_AFTER = re.compile(r"^\s+(?:\w+\s+)?(?:at|on|in|over) the (left|right) \w+", re.I)
SIDE_IN = re.compile(r"^(left|right|both|bilateral)\b", re.I)
_SURGERY_AFTER = ("after (surgery|mastectomy)", "postoperatively", "post-operatively")


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


@dataclass
class CaseDraft:
    """One case being drafted: its text, sentences and mentions, the items placed so far, and their evidence."""

    text: str
    sentences: list[tuple[int, int]]
    mentions: list[Mention]
    rules: Rules
    terminology: Terminology
    case_id: str
    patient: dict[str, Any] = field(default_factory=dict)
    primary: dict[str, Any] = field(default_factory=dict)
    mets: dict[str, dict[str, Any]] = field(default_factory=dict)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    meds: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    review: list[Review] = field(default_factory=list)
    used_status: set[int] = field(default_factory=set)
    presenting_age: tuple[float, int, int, int] | None = None

    def sent_text(self, i: int) -> str:
        s, e = self.sentences[i]
        return self.text[s:e]

    def sent_of(self, pos: int) -> int:
        for i, (s, e) in enumerate(self.sentences):
            if s <= pos < e:
                return i
        return len(self.sentences) - 1

    def put(self, item, key, value, start, end, rule, confidence=0.9, sentence=None, overwrite=False):
        if value is None or (key in item and not overwrite):
            return
        item[key] = value
        self.evidence.append(
            Evidence(item, key, value, start, end, self.sent_of(start) if sentence is None else sentence,
                     rule, confidence)
        )  # fmt: skip

    def add_review(self, fact: str, why: str, start: int, end: int) -> None:
        self.review.append(Review(fact, why, start, end, self.sent_of(start)))

    def in_sentence(self, i: int, label: str | None = None) -> list[Mention]:
        return [m for m in self.mentions if m.sentence == i and (label is None or m.label == label)]

    def is_breast(self, m: Mention) -> bool:
        c = m.target.concept
        return (c is not None and c.kind == "breast") or fold(m.target.term) in {
            fold(w) for w in self.rules["primary_site_words"]
        }

    def met_keys_in(self, i: int) -> list[str]:
        return [k for k, met in self.mets.items() if i in met.get("_sentences", ())]

    def ev_start(self, item, key) -> int:
        for ev in self.evidence:
            if ev.item is item and ev.field == key:
                return ev.start
        return -1

    def evidence_term(self, word: str) -> str | None:
        table = {fold(k): v for k, v in self.rules["confirmation_terms"].items()}
        key = fold(word)
        for prefix, term in table.items():
            if key.startswith(prefix):
                key = fold(term)
                break
        for candidate in (key, key.rstrip("s"), re.sub(r"(ic|ical|y)$", "y", key)):
            concept = self.terminology.lookup("observations", candidate)
            if concept is not None and concept.kind == "evidence":
                return concept.terms[0]
        return None

    def relative_time(self, item: dict[str, Any], i: int) -> None:
        text = self.sent_text(i)
        s0 = self.sentences[i][0]
        m = LATER.search(text)
        if not m or "relative" in item:
            return
        n = values.number(m.group(1))
        interval = f"{n:g} {m.group(2).lower()}{'s' if n != 1 else ''}"
        how = m.group(3).lower()
        if how in ("before", "ago", "prior"):
            return
        to = self.primary.get("id")
        if any(re.fullmatch(p, how) for p in _SURGERY_AFTER):
            surgery = [
                p for p in self.procedures if p.get("_kind") == "surgery" and p.get("_sentence", 99) <= i
            ]
            if surgery:
                to = surgery[-1]["id"]
        if to and to != item.get("id"):
            self.put(item, "relative", {"to": to, "after": interval}, s0 + m.start(), s0 + m.end(),
                     "interval-later", 0.7)  # fmt: skip

    def intent(self, m: Mention) -> tuple[str, int] | None:
        window = self.text[max(0, m.start - 30) : m.end].lower()
        for word in sorted(self.rules["intents"], key=len, reverse=True):
            pos = window.rfind(word)
            if pos >= 0:
                intent = "adjuvant" if word.endswith(" adjuvant") else word
                return intent, max(0, m.start - 30) + pos
        return None

    def site_for(self, m: Mention) -> Mention | None:
        sites = [s for s in self.in_sentence(m.sentence, "SITE")]
        if not sites:
            return None
        return min(sites, key=lambda s: abs(s.start - m.start))

    def when(self, item: dict[str, Any], i: int) -> None:
        text = self.sent_text(i)
        s0 = self.sentences[i][0]
        b = values.between(text)
        if b:
            self.put(item, "between", b.value, s0 + b.start, s0 + b.end, "between-years", 0.8)
            return
        d = values.dates(text)
        taken = {self.ev_start(self.primary, "date")} | {self.ev_start(x, "date") for x in self.mets.values()}
        if d and (s0 + d[0].start) not in taken:
            self.put(item, "date", d[0].value, s0 + d[0].start, s0 + d[0].end, "date-in-sentence", 0.6)

    def finish(self) -> Assembled:
        def clean(item: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in item.items() if not k.startswith("_")}

        case: dict[str, Any] = {"case": {"id": self.case_id}, "patient": self.patient,
                                "primary_cancers": [self.primary]}  # fmt: skip
        lists = {
            "metastases": list(self.mets.values()),
            "procedures": self.procedures,
            "medications": self.meds,
            "disease_status": self.statuses,
        }
        paths: dict[int, str] = {id(self.patient): "patient", id(self.primary): "primary_cancers[0]"}
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
            if path is None:
                continue
            s, e = self.sentences[ev.sentence]
            evidence.append({
                "path": f"{path}.{ev.field}",
                "value": ev.value,
                "start": ev.start,
                "end": ev.end,
                "text": self.text[ev.start : ev.end],
                "sentence": {"start": s, "end": e, "text": self.text[s:e].strip()},
                "rule": ev.rule,
                "confidence": ev.confidence,
            })  # fmt: skip
        review = []
        for r in self.review:
            item = {"fact": r.fact, "why": r.why}
            if r.sentence is not None and r.end > r.start:
                s, e = self.sentences[r.sentence]
                item.update({"start": r.start, "end": r.end, "sentence": self.text[s:e].strip()})
            review.append(item)
        return Assembled(case, evidence, review, self.sentences)
