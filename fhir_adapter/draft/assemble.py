"""Case assembly: the mentions and values of one case's text placed into a case-file dict.

Each fact placed records its evidence (the sentence, the character span of the words it came
from, the rule that placed it and a confidence); what was seen but could not be placed goes to
the review list with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..terminology import Terminology, fold
from . import values
from .pipeline import Mention
from .rules import Rules

_DIAGNOSED = re.compile(r"\b(diagnosed|diagnosis|presented|presenting|found|revealed|confirmed)\b", re.I)
_LATER = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)[- ]"
    r"(year|month|week|day)s?\s+(later|after(?: the)?(?: first| initial)? diagnosis|after (?:surgery|mastectomy)"
    r"|postoperatively|post-operatively|before|ago|prior)\b",
    re.I,
)
_GRADE = re.compile(r"\b((?:poorly|moderately|well)[- ]differentiated)\s+$", re.I)
_SIDE_BEFORE = re.compile(r"\b(left|right|bilateral)(?:[- ]sided?)?[\s,]*$", re.I)
_SIDE_AFTER = re.compile(r"^\s+(?:\w+\s+)?(?:at|on|in|over) the (left|right) \w+", re.I)
_FOLLOW_UP = re.compile(r"\bfollow[- ]up\b[\w\s()-]*$", re.I)
_SIDE_IN = re.compile(r"^(left|right|both|bilateral)\b", re.I)
_GENERIC_HISTOLOGY = {"carcinoma", "adenocarcinoma"}
_CLASS_GAP = re.compile(
    r"^[\s,:(]*(?:(?:was|were|is)\s+)?(?:started|given|treated|initiated|consisting|including|comprising)?"
    r"\s*(?:with|of|using|:)?\s*$",
    re.I,
)
_COMPACT_RECEPTOR = re.compile(
    r"(?<![A-Za-z])(ER|PR|PgR|HER2|HER-2)(?:\s*status)?(\+|−|-(?=[/,;.\s)]|$)|-(?:positive|negative)\b)"
)
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
class _Builder:
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

    # -- helpers ---------------------------------------------------------------------------
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

    # -- the patient ------------------------------------------------------------------------
    def do_patient(self) -> None:
        for i in range(len(self.sentences)):
            found = values.ages(self.sent_text(i))
            if found:
                s0 = self.sentences[i][0]
                f = found[0]
                self.presenting_age = (f.value, s0 + f.start, s0 + f.end, i)
                break
        for sex in ("female", "male"):
            words = "|".join(re.escape(w) for w in self.rules[sex])
            m = re.search(rf"\b({words})\b", self.text, re.I)
            if m and "sex" not in self.patient:
                # The first sex word of the text decides: 'she' before 'his' is a woman.
                other = "male" if sex == "female" else "female"
                ow = "|".join(re.escape(w) for w in self.rules[other])
                o = re.search(rf"\b({ow})\b", self.text, re.I)
                if o is None or m.start() < o.start():
                    self.put(self.patient, "sex", sex, m.start(), m.end(), "sex-word")
        if "sex" not in self.patient:
            self.patient["sex"] = "unknown"
            self.add_review("sex", "no word in the text says the patient's sex; set to unknown", 0, 0)
        m = self.rules.ethnicity.search(self.text)
        if m:
            self.put(self.patient, "ethnicity", m.group(1), m.start(), m.end(), "ethnicity-word", 0.8)
        for f in values.germline(self.text):
            gene, result = f.value
            item = {"gene": gene, "result": result}
            self.patient.setdefault("germline", []).append(item)
            self.evidence.append(
                Evidence(
                    item, "result", result, f.start, f.end, self.sent_of(f.start), "germline-pattern", 0.8
                )
            )
            self.evidence.append(Evidence(item, "gene", gene, f.start, f.end, self.sent_of(f.start),
                                          "germline-pattern", 0.8))  # fmt: skip
        f = values.menopausal(self.text)
        if f:
            self.put(self.patient, "menopausal_status", f.value, f.start, f.end, "menopausal-pattern")
        f = values.ecog(self.text)
        if f:
            self.put(self.patient, "ecog", f.value, f.start, f.end, "ecog-pattern")
        for m in self.mentions:
            if m.label == "DEATH":
                if m.negated or m.hypothetical:
                    self.add_review(m.text, "a death word that ConText reads as negated or hypothetical",
                                    m.start, m.end)  # fmt: skip
                    continue
                vs = self.patient.setdefault("vital_status", {})
                self.put(vs, "deceased", True, m.start, m.end, "death-word")

    # -- the primary ------------------------------------------------------------------------
    def do_primary(self) -> bool:
        p = self.primary
        cands = [
            m for m in self.mentions if m.label == "PRIMARY" or (m.label == "SITE" and self.is_breast(m))
        ]
        hist = [m for m in self.mentions if m.label == "HISTOLOGY" and not m.negated]
        if not cands and not hist:
            return False
        site_m = next((m for m in cands if not m.negated), cands[0] if cands else None)
        if site_m is not None:
            concept = site_m.target.concept
            site = (
                "breast" if self.is_breast(site_m) else (concept.terms[0] if concept else site_m.target.term)
            )
            self.put(p, "id", fold(site).replace(" ", "-"), site_m.start, site_m.end, "primary-term")
            self.put(p, "site", site, site_m.start, site_m.end, "primary-term")
        else:
            implied = {fold(k): v for k, v in self.rules["implied_site"].items()}
            h = next((m for m in hist if fold(m.target.term) in implied), None)
            if h is None:
                self.add_review(
                    hist[0].text, "a histology but no primary site was named", hist[0].start, hist[0].end
                )
                return False
            site = implied[fold(h.target.term)]
            self.put(p, "id", fold(site).replace(" ", "-"), h.start, h.end, "site-implied-by-histology", 0.6)
            self.put(p, "site", site, h.start, h.end, "site-implied-by-histology", 0.6)
            self.add_review(
                f"site: {site}", f"not named; implied by the histology '{h.text}'", h.start, h.end
            )
        for m in cands:
            side = _SIDE_IN.match(m.text)
            before = _SIDE_BEFORE.search(self.text[max(0, m.start - 20) : m.start])
            word = side.group(1) if side else before.group(1) if before else None
            if word:
                side_value = "bilateral" if word.lower() in ("both", "bilateral") else word.lower()
                self.put(p, "laterality", side_value, m.start - (0 if side else 20), m.end, "side-word")
                break
        uncertain = [m for m in cands if m.uncertain]
        if cands and len(uncertain) == len(cands):
            self.put(
                p, "certainty", "provisional", uncertain[0].start, uncertain[0].end, "context-uncertain", 0.6
            )
        historical = any(m.historical for m in cands + hist)
        for i in sorted({m.sentence for m in cands + hist}):
            text = self.sent_text(i)
            s0 = self.sentences[i][0]
            st = values.stage(text)
            if st:
                self.put(p, "stage", st.value, s0 + st.start, s0 + st.end, "stage-pattern")
            if _DIAGNOSED.search(text):
                for d in values.dates(text):
                    self.put(p, "date", d.value, s0 + d.start, s0 + d.end, "diagnosis-date", 0.8)
                    break
        list(self._shorthand())
        if self.presenting_age and not historical and "relative" not in p:
            age, s, e, _ = self.presenting_age
            self.put(p, "age", age, s, e, "presenting-age", 0.6)
        if self.rules.local_recurrence.search(self.text):
            m = self.rules.local_recurrence.search(self.text)
            self.put(p, "clinical_status", "recurrence", m.start(), m.end(), "local-recurrence")
        return True

    def _shorthand(self):
        for rule in self.rules["receptor_shorthand"]:
            for m in re.finditer(rule["pattern"], self.text, re.I):
                if "note" in rule:
                    note = rule["note"].replace("{1}", m.group(1))
                    self.put(self.primary, "note", note, m.start(), m.end(), "receptor-shorthand", 0.8)
                elif "marker" in rule:
                    item = {"name": rule["marker"], "result": rule["result"]}
                    self.primary.setdefault("markers", []).append(item)
                    self.evidence.append(
                        Evidence(
                            item,
                            "name",
                            item["name"],
                            m.start(),
                            m.end(),
                            self.sent_of(m.start()),
                            "receptor-shorthand",
                            0.8,
                        )
                    )
                    self.evidence.append(Evidence(item, "result", item["result"], m.start(), m.end(),
                                                  self.sent_of(m.start()), "receptor-shorthand", 0.8))  # fmt: skip
                else:
                    rec = self.primary.setdefault("receptors", {})
                    for key in ("er", "pr", "her2"):
                        self.put(rec, key, rule[key], m.start(), m.end(), "receptor-shorthand", 0.8)
                yield m

    # -- histology --------------------------------------------------------------------------
    def do_histology(self) -> None:
        for m in self.mentions:
            if m.label != "HISTOLOGY":
                continue
            if m.negated or m.hypothetical:
                self.add_review(
                    m.text, "a histology ConText reads as negated or hypothetical", m.start, m.end
                )
                continue
            grade = _GRADE.search(self.text[max(0, m.start - 30) : m.start])
            term = m.target.term
            concept = m.target.concept
            if (
                concept is not None
                and not m.text.isupper()
                and fold(m.text) in {fold(t) for t in concept.terms}
            ):
                term = fold(m.text)  # a synonym of the map is kept as the report writes it
            written = f"{grade.group(1).lower()} {term}" if grade else term
            start = m.start - (len(grade.group(0)) if grade else 0)
            generic = fold(m.target.term) in _GENERIC_HISTOLOGY
            said_metastatic = re.search(
                r"\bmetasta\w*\s+(?:\w+\s+){0,2}$", self.text[max(0, start - 30) : start], re.I
            )
            mets_here = []
            if generic or said_metastatic:
                for back in (0, 1, 2) if generic else (0,):
                    keys = self._met_keys_in(m.sentence - back) if m.sentence - back >= 0 else []
                    if keys:
                        mets_here = [self.mets[k] for k in keys]
                        break
            for met in mets_here:
                self.put(met, "histology", written, start, m.end, "histology-with-metastasis", 0.7)
            if (not generic or not mets_here) and self.primary:
                self.put(self.primary, "histology", written, start, m.end, "histology-term",
                         0.9 if not generic else 0.6)  # fmt: skip

    # -- metastases -------------------------------------------------------------------------
    def _met_keys_in(self, i: int) -> list[str]:
        return [k for k, met in self.mets.items() if i in met.get("_sentences", ())]

    def do_metastases(self) -> None:
        for m in self.mentions:
            if m.label != "SITE" or (self.is_breast(m) and "contralateral" not in m.text.lower()):
                continue
            text = self.sent_text(m.sentence)
            body = self.terminology.lookup("body_sites", m.target.term)
            organ = body is not None and body.kind in ("organ", "bone", "lymph-node")
            cue = (self.rules.plain_cue if organ else self.rules.metastasis_cue).search(text)
            if cue is None:
                continue
            if m.negated or m.hypothetical:
                self.add_review(m.text, "a site ConText reads as negated or hypothetical", m.start, m.end)
                continue
            site = m.target.term
            key = fold(site).replace(" ", "-")
            met = self.mets.get(key)
            if met is None:
                met = {"id": key, "site": site, "_sentences": set(), "_uncertain": True}
                self.mets[key] = met
                self.evidence.append(Evidence(met, "site", site, m.start, m.end, m.sentence,
                                              "site-with-metastasis-cue", 0.8))  # fmt: skip
            met["_sentences"].add(m.sentence)
            if not m.uncertain:
                met["_uncertain"] = False
            side = _SIDE_IN.match(m.text) or _SIDE_BEFORE.search(self.text[max(0, m.start - 12) : m.start])
            after = _SIDE_AFTER.match(self.text[m.end : m.end + 40])
            if side and side.group(1).lower() in ("left", "right"):
                self.put(met, "laterality", side.group(1).lower(), m.start - 12, m.end, "side-word", 0.7)
            elif after:
                # 'a scalp mass at the left temporal region': the side of a region named after it.
                self.put(
                    met, "laterality", after.group(1).lower(), m.start, m.end + after.end(), "side-after", 0.6
                )
        for met in self.mets.values():
            # The sentence after one that names a metastasis tells how it was confirmed when it names
            # no other site: 'A scalp mass was seen. Excisional biopsy showed adenocarcinoma.'
            follow = {i + 1 for i in met["_sentences"] if i + 1 < len(self.sentences)}
            follow = {i for i in follow if not self.in_sentence(i, "SITE")}
            for i in sorted(met["_sentences"] | follow):
                text = self.sent_text(i)
                s0 = self.sentences[i][0]
                for c in self.rules.confirmation.finditer(text):
                    if _FOLLOW_UP.search(text[max(0, c.start() - 60) : c.start()]):
                        continue  # follow-up imaging tells the response, not how it was confirmed
                    term = self._evidence_term(c.group(1))
                    if term and term not in met.setdefault("confirmed_by", []):
                        met["confirmed_by"].append(term)
                        self.evidence.append(Evidence(met, "confirmed_by", term, s0 + c.start(), s0 + c.end(), i,
                                                      "confirmation-word", 0.7))  # fmt: skip
                if i not in met["_sentences"]:
                    continue  # a following sentence tells only how it was confirmed
                primary_date_here = (
                    "date" in self.primary and self.sent_of(self._ev_start(self.primary, "date")) == i
                )
                d = values.dates(text)
                if d and not primary_date_here and not values.between(text):
                    self.put(met, "date", d[0].value, s0 + d[0].start, s0 + d[0].end, "date-in-sentence", 0.7)
                self._relative(met, i)
            if not met.get("confirmed_by"):
                met.pop("confirmed_by", None)
            if met["_uncertain"]:
                first = min(met["_sentences"])
                self.put(met, "certainty", "provisional", *self.sentences[first], "context-uncertain", 0.5)
        for m in self.rules.misdiagnosis.finditer(self.text):
            i = self.sent_of(m.start())
            keys = self._met_keys_in(i) or list(self.mets)[:1]
            if keys:
                self.put(self.mets[keys[0]], "misdiagnosis", m.group(1).strip(), m.start(1), m.end(1),
                         "misdiagnosis-pattern", 0.8)  # fmt: skip
            else:
                self.add_review(
                    m.group(0), "a misdiagnosis with no metastasis to put it on", m.start(), m.end()
                )
        if self.presenting_age:
            age, s, e, _ = self.presenting_age
            for met in self.mets.values():
                if not any(k in met for k in ("date", "relative")):
                    self.put(met, "age", age, s, e, "presenting-age", 0.6)

    def _ev_start(self, item, key) -> int:
        for ev in self.evidence:
            if ev.item is item and ev.field == key:
                return ev.start
        return -1

    def _evidence_term(self, word: str) -> str | None:
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

    def _relative(self, item: dict[str, Any], i: int) -> None:
        text = self.sent_text(i)
        s0 = self.sentences[i][0]
        m = _LATER.search(text)
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

    def primary_before(self) -> None:
        """'diagnosed 10 years ago': the primary timed before the first metastasis."""
        if not self.mets or not self.primary:
            return
        first = next(iter(self.mets.values()))
        for i in range(len(self.sentences)):
            text = self.sent_text(i)
            for m in _LATER.finditer(text):
                if m.group(3).lower() in ("before", "ago") and _DIAGNOSED.search(text[: m.start()]):
                    n = values.number(m.group(1))
                    interval = f"{n:g} {m.group(2).lower()}{'s' if n != 1 else ''}"
                    s0 = self.sentences[i][0]
                    if "date" not in self.primary:
                        self.primary.pop("age", None)
                        self.put(self.primary, "relative", {"to": first["id"], "before": interval},
                                 s0 + m.start(), s0 + m.end(), "interval-before-diagnosis", 0.7)  # fmt: skip
                    return

    # -- markers ----------------------------------------------------------------------------
    def do_markers(self) -> None:
        results = sorted(self.rules["results"], key=len, reverse=True)
        res = "|".join(r if r.startswith("\\") else re.escape(r) for r in results)
        after_re = re.compile(rf"^\s*(?:receptors?\b)?\s*[:(]?\s*(?:was |were |is )?({res})(?![\w+])", re.I)
        percent_re = re.compile(
            r"^[\s,:(]*(?:(?:weakly |strongly )?(?:positive|negative)[\s,(]*)?(?:\d\+[\s,]*)?(\d{1,3}(?:\.\d+)?)\s*%"
        )
        before_re = re.compile(rf"({res})\s*(?:for\s+)?$", re.I)
        list_before = re.compile(rf"\b({res}) for\b", re.I)
        list_after = re.compile(rf"\b(?:was|were|are|is)(?: all| both)? ({res})\b", re.I)
        for i in range(len(self.sentences)):
            text = self.sent_text(i)
            s0 = self.sentences[i][0]
            seen: set[str] = set()
            # Compact receptor notation the tokenizer keeps whole: 'ER+/PR-/HER2-', 'ER-positive'.
            for c in _COMPACT_RECEPTOR.finditer(text):
                name = {"PGR": "PR", "HER-2": "HER2"}.get(c.group(1).upper(), c.group(1).upper())
                if name in seen:
                    continue
                word = c.group(2).strip().lower()
                word = word if word in ("+", "-", "−") else word.lstrip("- ")
                result = {"+": "positive", "-": "negative", "−": "negative"}.get(word, word)
                seen.add(name)
                self._place_marker(name, result, None, (s0 + c.start(), s0 + c.end()), i)
            ms = [m for m in self.in_sentence(i, "MARKER")]
            if not ms:
                continue
            prev_result = None
            for k, m in enumerate(ms):
                name = self._marker_name(m)
                if name in seen:
                    continue
                rs, re_ = m.start - s0, m.end - s0
                result = percent = None
                span = (m.start, m.end)
                tail = text[re_:]
                a = after_re.match(tail)
                b = before_re.search(text[max(0, rs - 25) : rs])
                if m.text.endswith(("+", "-")) and len(m.text) > 1:
                    result = "positive" if m.text.endswith("+") else "negative"
                elif a and not (
                    k + 1 < len(ms) and ms[k + 1].start - s0 < re_ + a.end() and a.group(1) in "+-"
                ):
                    result = a.group(1)
                    span = (m.start, m.end + a.end())
                elif b:
                    result = b.group(1)
                    span = (m.start - (len(text[max(0, rs - 25) : rs]) - b.start()), m.end)
                else:
                    lb = [x for x in list_before.finditer(text[:rs]) if ";" not in text[x.end() : rs]]
                    la = [x for x in list_after.finditer(text[re_:]) if ";" not in text[re_ : re_ + x.start()]
                          and "." not in text[re_ : re_ + x.start()]]  # fmt: skip
                    if lb:
                        result = lb[-1].group(1)
                    elif la:
                        result = la[0].group(1)
                    elif prev_result and re.match(r"^\s*(?:and|,|/)\s*$", text[ms[k - 1].end - s0 : rs]):
                        result = prev_result
                pc = percent_re.match(tail)
                if pc:
                    percent = float(pc.group(1))
                    span = (span[0], max(span[1], m.end + pc.end()))
                if (
                    result is None
                    and percent is not None
                    and prev_result
                    and re.match(r"^[\s,]*$", text[ms[k - 1].end - s0 : rs].split("%")[-1])
                ):
                    result = prev_result
                if result is None and percent is None:
                    self.add_review(
                        m.text, "a marker with no result or percentage next to it", m.start, m.end
                    )
                    continue
                seen.add(name)
                if result:
                    result = {"+": "positive", "-": "negative"}.get(result, result.lower())
                    prev_result = result
                self._place_marker(name, result, percent, span, i)

    def _marker_name(self, m: Mention) -> str:
        names = {fold(k): v for k, v in self.rules["marker_names"].items()}
        return names.get(fold(m.target.term), m.target.term.rstrip("+-"))

    def _place_marker(self, name, result, percent, span, i) -> None:
        keys = self._met_keys_in(i)
        on = self.mets[keys[-1]] if keys else self.primary
        if not on:
            self.add_review(f"{name} {result or ''}", "a marker with no cancer to put it on", *span)
            return
        if on is self.primary and percent is None and name in ("ER", "PR", "HER2") and result:
            rec = on.setdefault("receptors", {})
            self.put(rec, name.lower(), result, *span, "marker-result", 0.8, sentence=i)
            return
        item: dict[str, Any] = {"name": name}
        if result:
            item["result"] = result
        if percent is not None:
            item["percent"] = percent
        on.setdefault("markers", []).append(item)
        for key in item:
            self.evidence.append(Evidence(item, key, item[key], *span, i, "marker-result", 0.8))

    # -- treatments -------------------------------------------------------------------------
    def _intent(self, m: Mention) -> tuple[str, int] | None:
        window = self.text[max(0, m.start - 30) : m.end].lower()
        for word in sorted(self.rules["intents"], key=len, reverse=True):
            pos = window.rfind(word)
            if pos >= 0:
                intent = "adjuvant" if word.endswith(" adjuvant") else word
                return intent, max(0, m.start - 30) + pos
        return None

    def do_procedures(self) -> None:
        for m in self.mentions:
            if m.label != "PROCEDURE":
                continue
            if m.negated:
                self.add_review(m.text, "a procedure ConText reads as negated", m.start, m.end)
                continue
            concept = m.target.concept
            name = fold(m.text)
            if concept is not None and (m.text.isupper() or name not in {fold(t) for t in concept.terms}):
                # An abbreviation or an added spelling: written as the map term it stands for.
                aliases = {fold(k): v for k, v in self.rules["aliases"].items()}
                name = aliases.get(name, concept.terms[0]) if not m.text.isupper() else concept.terms[0]
            elif concept is None:
                name = m.target.term
            if any(p["_concept"] == m.target.term and p["_sentence"] == m.sentence for p in self.procedures):
                continue  # one procedure named twice in a sentence: 'radiation therapy (RT)'
            item: dict[str, Any] = {"_concept": m.target.term, "_sentence": m.sentence,
                                    "_kind": concept.kind if concept else "surgery"}  # fmt: skip
            base = fold(name).replace(" ", "-")
            ids = {p["id"] for p in self.procedures}
            pid = (
                base
                if base not in ids
                else f"{base}-{sum(1 for p in self.procedures if p['id'].startswith(base)) + 1}"
            )
            item["id"] = pid
            self.put(item, "name", name, m.start, m.end, "procedure-term")
            if m.hypothetical:
                self.put(item, "status", "preparation", m.start, m.end, "context-hypothetical", 0.6)
            intent = self._intent(m)
            if intent:
                self.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
            text = self.sent_text(m.sentence)
            s0 = self.sentences[m.sentence][0]
            site = self._site_for(m)
            if (
                site is not None
                and item["_kind"] in ("biopsy", "surgery", "radiotherapy")
                and not self.is_breast(site)
                and "breast" not in m.text.lower()
            ):
                self.put(item, "body_site", site.target.term, site.start, site.end, "site-in-sentence", 0.6)
                key = fold(site.target.term).replace(" ", "-")
                if key in self.mets and item["_kind"] != "biopsy":
                    item["treats"] = [key]
            elif site is not None and item["_kind"] == "biopsy" and self.is_breast(site):
                self.put(item, "body_site", "breast", site.start, site.end, "site-in-sentence", 0.6)
            if item["_kind"] == "radiotherapy":
                gy, fr = values.radiotherapy_dose(text)
                if gy:
                    self.put(item, "dose_gy", gy.value, s0 + gy.start, s0 + gy.end, "dose-pattern")
                if fr:
                    self.put(item, "fractions", fr.value, s0 + fr.start, s0 + fr.end, "fractions-pattern")
            if "axillary" in fold(m.target.term) or "dissection" in fold(m.target.term):
                for j in (m.sentence, m.sentence + 1):
                    if j < len(self.sentences):
                        n = values.nodes(self.sent_text(j))
                        if n:
                            sj = self.sentences[j][0]
                            self.put(
                                item,
                                "nodes_positive",
                                n.value[0],
                                sj + n.start,
                                sj + n.end,
                                "nodes-pattern",
                                0.8,
                            )
                            self.put(
                                item,
                                "nodes_examined",
                                n.value[1],
                                sj + n.start,
                                sj + n.end,
                                "nodes-pattern",
                                0.8,
                            )
                            break
            self._when(item, m.sentence)
            self.procedures.append(item)

    def _site_for(self, m: Mention) -> Mention | None:
        sites = [s for s in self.in_sentence(m.sentence, "SITE")]
        if not sites:
            return None
        return min(sites, key=lambda s: abs(s.start - m.start))

    def _when(self, item: dict[str, Any], i: int) -> None:
        text = self.sent_text(i)
        s0 = self.sentences[i][0]
        b = values.between(text)
        if b:
            self.put(item, "between", b.value, s0 + b.start, s0 + b.end, "between-years", 0.8)
            return
        d = values.dates(text)
        taken = {self._ev_start(self.primary, "date")} | {
            self._ev_start(x, "date") for x in self.mets.values()
        }
        if d and (s0 + d[0].start) not in taken:
            self.put(item, "date", d[0].value, s0 + d[0].start, s0 + d[0].end, "date-in-sentence", 0.6)

    def do_medications(self) -> None:
        drugs = [m for m in self.mentions if m.label == "DRUG"]
        for k, m in enumerate(drugs):
            concept = m.target.concept
            if m.negated:
                self.add_review(m.text, "a drug ConText reads as negated", m.start, m.end)
                continue
            nxt = drugs[k + 1] if k + 1 < len(drugs) else None
            if concept is not None and not concept.codings and nxt is not None and nxt.sentence == m.sentence:
                gap = self.text[m.end : nxt.start]
                kin = (
                    nxt.target.concept is not None
                    and nxt.target.concept.kind in (concept.kind, None)
                    or concept.kind == "other"
                )
                if kin and _CLASS_GAP.match(gap):
                    continue  # a class named with its drug: 'hormonal therapy fulvestrant', '... with letrozole'
            name = m.target.term
            intent = self._intent(m)
            line = None
            lm = re.search(r"\b(\w+)[- ]line\s*$", self.text[max(0, m.start - 20) : m.start], re.I)
            if lm and lm.group(1).lower() in self.rules["lines"]:
                line = self.rules["lines"][lm.group(1).lower()]
            same = [
                x
                for x in self.meds
                if x["name"] == name
                and (x.get("intent") == (intent[0] if intent else None) or not intent)
                and x.get("line") == line
            ]
            if same:
                item = same[0]
            else:
                item = {"_sentence": m.sentence}
                self.put(item, "name", name, m.start, m.end, "drug-term")
                self.meds.append(item)
            if intent:
                self.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
            if line:
                self.put(item, "line", line, m.start - 20, m.end, "line-word", 0.8)
            if m.hypothetical:
                refused = re.search(r"\b(refused|declined)\b", self.sent_text(m.sentence), re.I)
                self.put(item, "status", "not-taken" if refused else "intended", m.start, m.end,
                         "context-hypothetical", 0.6)  # fmt: skip
            text = self.sent_text(m.sentence)
            s0 = self.sentences[m.sentence][0]
            for word in sorted(self.rules["responses"], key=len, reverse=True):
                pos = text.lower().find(word)
                if pos >= 0 and word != "positive response":
                    self.put(item, "response", re.sub(r"^good ", "", word), s0 + pos, s0 + pos + len(word),
                             "response-words", 0.6)  # fmt: skip
                    for st in self.in_sentence(m.sentence, "STATUS"):
                        if st.start <= s0 + pos + len(word) and st.end >= s0 + pos:
                            self.used_status.add(st.start)
                    break
            one_drug = len(self.in_sentence(m.sentence, "DRUG")) == 1
            if one_drug:
                for key, f in (("cycles", values.cycles(text)), ("dose", values.dose(text)),
                               ("frequency", values.frequency(text)), ("route", values.route(text))):  # fmt: skip
                    if f:
                        self.put(item, key, f.value, s0 + f.start, s0 + f.end, f"{key}-pattern", 0.7)
            self._when(item, m.sentence)

    # -- disease status ---------------------------------------------------------------------
    def do_status(self) -> None:
        for m in self.mentions:
            if m.label != "STATUS" or m.start in self.used_status:
                continue
            if m.negated or m.hypothetical:
                self.add_review(
                    m.text, "a disease status ConText reads as negated or hypothetical", m.start, m.end
                )
                continue
            status = m.target.term
            if any(s["status"] == status for s in self.statuses):
                continue
            item: dict[str, Any] = {}
            self.put(item, "status", status, m.start, m.end, "status-term", 0.7)
            if self.primary.get("id"):
                item["about"] = self.primary["id"]
            text = self.sent_text(m.sentence)
            s0 = self.sentences[m.sentence][0]
            for c in self.rules.confirmation.finditer(text):
                term = self._evidence_term(c.group(1))
                if term and term not in item.setdefault("evidence", []):
                    item["evidence"].append(term)
                    self.evidence.append(Evidence(item, "evidence", term, s0 + c.start(), s0 + c.end(),
                                                  m.sentence, "confirmation-word", 0.6))  # fmt: skip
            if not item.get("evidence"):
                item.pop("evidence", None)
            self.statuses.append(item)

    def do_death_timing(self) -> None:
        vs = self.patient.get("vital_status")
        if not vs:
            return
        for ev in self.evidence:
            if ev.item is vs:
                i = ev.sentence
                m = _LATER.search(self.sent_text(i))
                if m and "diagnos" in m.group(3).lower() and self.primary.get("id"):
                    n = values.number(m.group(1))
                    s0 = self.sentences[i][0]
                    self.put(vs, "relative", {"to": self.primary["id"], "after": f"{n:g} {m.group(2).lower()}s"
                             if n != 1 else f"1 {m.group(2).lower()}"}, s0 + m.start(), s0 + m.end(),
                             "interval-after-diagnosis", 0.7)  # fmt: skip
                break

    # -- the whole case ---------------------------------------------------------------------
    def build(self) -> Assembled | None:
        self.do_patient()
        if not self.do_primary():
            return None
        self.do_metastases()
        self.do_histology()
        self.do_procedures()
        for met in self.mets.values():
            for i in sorted(met["_sentences"]):
                self._relative(met, i)
        self.primary_before()
        self.do_markers()
        self.do_medications()
        self.do_status()
        self.do_death_timing()
        for met in self.mets.values():
            if (
                ("relative" in met or "date" in met)
                and met.get("age") is not None
                and any(e.item is met and e.field == "age" for e in self.evidence)
            ):
                met.pop("age")
        return self.finish()

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


def assemble(
    text: str,
    sentences: list[tuple[int, int]],
    mentions: list[Mention],
    rules: Rules,
    terminology: Terminology,
    case_id: str,
) -> Assembled | None:
    """The draft of one case from its sentences and mentions, or None when it names no primary cancer."""
    builder = _Builder(text, sentences, mentions, rules, terminology, case_id)
    return builder.build()
