"""The outcome: disease statuses, and whether the patient died and when."""

from __future__ import annotations

import re
from typing import Any

from ...terminology import fold
from .. import values
from ..pipeline import SURGICAL_WORD, Mention
from ..values import NUMBER
from .place import INTERVAL, CaseDraft, Evidence, interval_of, interval_text
from .primaries import is_primary_mention, of_a_relative


def read_status(b: CaseDraft) -> None:
    """Each disease status the story states, with the evidence words of its sentence."""
    from .treatments import retold_later

    retold = retold_later(b, [m for m in b.mentions if m.label == "STATUS"])
    for m in b.mentions:
        if m.label != "STATUS" or m.start in b.used_status or id(m) in retold:
            continue  # (a status of the title that the story tells again is read where the story tells it)
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a disease status ConText reads as negated or hypothetical", m.start, m.end)
            continue
        status = m.target.term
        if status == "responding" and _POORLY.match(b.text[m.end : m.end + 20]):
            status = "poor response"  # 'the tumour responded poorly': a response, but a poor one
        if any(s["status"] == status for s in b.statuses):
            continue
        head = b.text[b.clause_start(m.start) : m.start]
        head = re.split(r"[,;]|\band\b|\bbut\b", head)[-1]
        if _SYMPTOM_SUBJECT.search(head) or (
            _CONDITION.search(head) and not b.in_sentence(m.sentence, "DEATH")
        ):  # ('her condition worsened and she died' tells the disease's end)
            continue  # 'her vision was stable': the eye's function, not the disease
        if _ASSESSED.match(b.text[m.end : m.end + 40]) and re.search(
            r"\b(?:the|her|his|its|their)\s+$", b.text[max(0, m.start - 8) : m.start], re.I
        ):
            continue  # 'when the response was assessed': the assessment named, not its result
        if _FACT_AS_SUBJECT.match(b.sent_text(m.sentence)):
            continue  # 'That the deposit regressed shows what the drug can do': a fact argued from, told before
        if _A_MARKER_VALUE.search(b.text[max(0, m.start - 20) : m.start]):
            continue  # 'microsatellite stable': a tumour marker's result, not the disease's course
        if _AN_OBJECT_AFTER.match(b.text[m.end : m.end + 40]):
            continue  # 'the drug improved the prognosis': a verb with its object, not the disease's course
        if _CONCEDED.search(b.text[b.sentences[m.sentence][0] : m.start]) and _NEW_DISEASE_LATER.search(
            b.text[m.end : b.sentences[m.sentence][1]]
        ):
            # 'Although the response was complete, brain metastases appeared': the response the new disease ended
            b.add_review(m.text, "a disease status conceded before the disease progressed", m.start, m.end)
            continue
        if re.match(r"(?:no|without)\b", m.text, re.I) and _AROSE_BEFORE.search(
            b.text[b.sentences[m.sentence][0] : m.start]
        ):
            # 'brain metastases appeared, with no recurrence outside the skull': where the new disease is not
            b.add_review(m.text, "no disease elsewhere, said of a new metastasis", m.start, m.end)
            continue
        if _TO_WHICH.search(b.text[b.sentences[m.sentence][0] : m.start]):
            course = _course_of(b, m)
            if course:
                for item, rule in course:
                    b.put(item, "response", status, m.start, m.end, rule, 0.6)
                continue  # '... doxorubicin, to which the tumour had responded poorly': that course's response,
                # however long ago it was given
        pluperfect = m.text.lower().startswith("had ") or re.search(r"\bhad\s+(?:been\s+)?$", head, re.I)
        if (
            _ENDED_BY_RECURRENCE.search(b.text[m.end : b.sentences[m.sentence][1]])
            or _SPAN_BEFORE.search(head)
            or (pluperfect and b.flashback[m.sentence] and b.mets)
            or _span_ended_later(b, m, head)
        ):
            # 'had not recurred since', told in the past history of a case whose metastasis is the story's
            # 'After 21 years in complete remission the disease returned': a status of the past, which the
            # recurrence ended; the case's status is told later, if at all
            b.add_review(m.text, "a disease status of the past, ended by the recurrence", m.start, m.end)
            continue
        to = _RESPONDED_TO.match(b.text[m.end : m.end + 30]) if re.search(r"respon", m.text, re.I) else None
        if to and not any(
            x.label in ("DRUG", "PROCEDURE") and x.start >= m.end + to.end() - 1
            for x in b.in_sentence(m.sentence)
            if x.start < m.end + 60
        ):
            continue  # 'difficulty swallowing that did not respond to a proton pump inhibitor': no cancer treatment
        treated = _treatment_of(b, m)
        if treated is not None:
            item, drug = treated
            b.put(item, "response", status, m.start, m.end, "status-of-treatment", 0.6)
            continue  # 'gone into remission with chemotherapy': that treatment's response
        course = _course_of(b, m) or _kept_on(b, m) or _lesion_on_course(b, m) or _brought_by(b, m)
        if course:
            for item, rule in course:
                b.put(item, "response", status, m.start, m.end, rule, 0.6)
            continue  # 'on letrozole her disease was held in check': the course's response
        if b.flashback_at(m.start) and not b.in_sentence(m.sentence, "DEATH"):
            b.add_review(m.text, "a disease status of the past history, not of the case now", m.start, m.end)
            continue
        item: dict[str, Any] = {}
        b.put(item, "status", status, m.start, m.end, "status-term", 0.7)
        if b.primary.get("id"):
            item["about"] = b.primary["id"]
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        for c in b.rules.confirmation.finditer(text):
            term = b.evidence_term(c.group(1))
            if term and term not in item.setdefault("evidence", []):
                item["evidence"].append(term)
                b.evidence.append(Evidence(item, "evidence", term, s0 + c.start(), s0 + c.end(),
                                           m.sentence, "confirmation-word", 0.6))  # fmt: skip
        if not item.get("evidence"):
            item.pop("evidence", None)
        b.statuses.append(item)


_POORLY = re.compile(r"^\s+(?:only\s+|very\s+)?poorly\b", re.I)
# 'the response was assessed', 'the response was evaluated by CT': a bare status noun as what was assessed
_ASSESSED = re.compile(
    r"^\s+(?:was|were|is|had\s+been|could\s+be)\s+(?:first\s+|then\s+|later\s+)?"
    r"(?:assessed|evaluated|measured|checked|reviewed|judged|reassessed|re-evaluated)\b",
    re.I,
)
# A clause made the subject of a claim: 'That the lesion regressed (and ...) shows / suggests / proves ...'
_FACT_AS_SUBJECT = re.compile(
    r"^\s*(?:the\s+fact\s+)?that\s+[^.;]{3,160}?\s(?:shows?|suggests?|proves?|demonstrates?|confirms?|"
    r"indicates?|supports?|illustrates?|underlines?|highlights?)\b",
    re.I,
)
# 'microsatellite stable', 'MSI-stable': a marker's result written with a status word
_A_MARKER_VALUE = re.compile(r"\b(?:microsatellite|MSI|MSS|chromosomal(?:ly)?|genomic(?:ally)?)[- ]?$", re.I)
# A status granted in a concessive clause ('Although the disease was controlled, ...', 'Despite a complete
# response, ...') and a main clause that tells the disease advancing: the status was overtaken.
_CONCEDED = re.compile(r"^\s*(?:although|though|even\s+though|despite|while|whereas)\b[^;]*$", re.I)
_NEW_DISEASE_LATER = re.compile(
    r"\b(?:appeared|developed|emerged|progressed|recurred|relapsed|spread|was\s+found|were\s+found|"
    r"was\s+detected|were\s+detected|was\s+diagnosed|were\s+diagnosed)\b",
    re.I,
)
_AROSE_BEFORE = re.compile(r"\b(?:appeared|developed|emerged|arose|spread)\b[^;.]*$", re.I)
_ENDED_BY_RECURRENCE = re.compile(
    r"^[^.;]{0,40}?\b(?:the\s+)?(?:disease|cancer|tumou?r)\s+(?:returned|recurred|relapsed|came\s+back|progressed)\b",
    re.I,
)
# 'she stayed in remission for 17 years', 'she remained disease-free for almost a decade': a status with its span
_SPAN_AFTER = re.compile(
    r"^\s+for\s+(?:(?:about|almost|nearly|over|more\s+than|some)\s+)?(?:\w+[- ]){1,2}?(?:years?|months?|decades?)\b",
    re.I,
)


def _span_ended_later(b: CaseDraft, m: Mention, head: str) -> bool:
    """A status told in the past with how long it lasted, before a metastasis the story tells after it, was
    the interval before the recurrence; 'she has remained disease-free for two years' is the status now."""
    if _UNTIL_THEN.match(b.text[m.end : m.end + 60]):
        return True  # 'free of disease until this admission', 'stable until 2016, when ...': it ended then
    if not _SPAN_AFTER.match(b.text[m.end : m.end + 40]) or re.search(
        r"\b(?:has|have|is|are)\s+(?:\w+\s+)?$", head, re.I
    ):
        return False
    return any(met.get("_first_pos", -1) > m.end for met in b.mets.values())


# a status that lasted until a time the story goes past: 'free of disease until this admission'; not one that lasts
# until the last news of her ('disease-free until her last follow-up', 'stable until now')
_UNTIL_THEN = re.compile(
    r"^\s+(?:[\w-]+\s+){0,3}?(?:until|till|up\s+to)\s+(?!(?:now|today|the\s+present|the\s+time\s+of\s+writing|"
    r"(?:her|his|the)\s+(?:last|latest|most\s+recent)\b|this\s+report\b))",
    re.I,
)
# a status word used as a verb with an object: 'improved the prognosis', 'worsened her quality of life'
_AN_OBJECT_AFTER = re.compile(
    r"^\s+(?:the|her|his|their|its|patients'?|overall)\s+(?:[\w-]+\s+){0,2}?(?:prognosis|survival|outcomes?|"
    r"quality\s+of\s+life|chances?|odds|symptoms?|condition|well-being)\b",
    re.I,
)
_SPAN_BEFORE = re.compile(
    r"\b(?:after|following)\s+(?:\w+[- ]){1,2}(?:years?|months?)\s+(?:of\s+|in\s+)?$", re.I
)
_SYMPTOM_SUBJECT = re.compile(
    r"\b(?:vision|sight|acuity|pain|symptoms?|headaches?|quality of life|eye felt|appetite|function|swallowing|"
    r"dysphagia|dyspepsia|cough|breathing|dyspn\w*|nausea|vomiting|diarrh\w*|jaundice|fatigue|bleeding|mobility|"
    r"obstruction|swelling|o?edema|fever|weakness|numbness|hearing|hoarseness|constipation|"
    # how well she was, and an organ's failure: 'her performance score improved', 'the liver failure progressed'
    r"performance(?:\s+status)?|(?:performance|karnofsky|ecog)\s+score|score|general\s+condition|well-being|"
    r"failure|insufficiency|enlargement)\b",
    re.I,
)
# 'did not respond to a proton pump inhibitor': a response to something named, not to 'treatment' in general
_RESPONDED_TO = re.compile(
    r"^\s*(?:well\s+|poorly\s+)?to\s+(?!(?:the\s+|her\s+|his\s+|any\s+)?(?:treatment|therapy)\b)", re.I
)
# 'remission with chemotherapy', 'responded well to letrozole', 'regressed after radiotherapy'
_LINKS_TREATMENT = re.compile(
    r"^\s*(?:\w+\s+){0,2}?(?:with|to|after|following|on|under|from)\s+(?:the\s+|her\s+|his\s+)?(?:[\w-]+\s+){0,2}?$",
    re.I,
)


def _treatment_of(b: CaseDraft, m) -> tuple[dict[str, Any], Any] | None:
    """The treatment a status word is said of in its own clause ('remission with chemotherapy'), if any.

    'After chemotherapy her disease stabilized' tells the disease's status after it, not a response of its own.
    """
    for x in b.in_sentence(m.sentence):
        if x.label not in ("DRUG", "PROCEDURE"):
            continue
        gap = b.text[m.end : x.start]
        if not (x.start >= m.end and x.start - m.end <= 40 and _LINKS_TREATMENT.match(gap)):
            continue
        if re.search(r"\b(?:year|month|week|day)s?\s+(?:after|following)\b", gap, re.I):
            continue  # 'free of disease 15 years after a pancreatectomy': a time, not a response
        items = b.meds if x.label == "DRUG" else b.procedures
        for item in items:
            ev = b.ev_of(item, "name")
            if ev is not None and ev.start == x.start:
                return item, x
    return None


# The disease as the subject of a status clause: 'her disease', 'the local disease', 'the tumour', 'it'.
_DISEASE_SUBJECT = (
    r"(?:(?:her|his|the|their)\s+(?:[\w-]+\s+){0,2}?(?:disease|tumou?rs?|cancer|lesions?|metastas[ie]s|deposits?|"
    r"nodules?|masses)|it|they)"
)
# '..., to which the tumour had responded poorly': a relative clause whose status is the treatment's response
_TO_WHICH = re.compile(rf",\s*to\s+(?:which|whom)\s+{_DISEASE_SUBJECT}\s+(?:(?:has|had)\s+)?$", re.I)
# 'On abemaciclib with fulvestrant her disease was held in check': the status told while on the course.
_WHILE_ON = re.compile(r"(?:^|[,;]\s*|\b(?:and|but)\s+)(?:on|under|with)\s+(?:the\s+|her\s+|his\s+)?$", re.I)
_SUBJECT_BEFORE_STATUS = re.compile(
    rf"^[\s,]*{_DISEASE_SUBJECT}\s+(?:(?:has|had|have|was|were|is|are|then|first|later|soon|remained|stayed|"
    rf"been|not)\s+)*$",
    re.I,
)
# '..., which controlled her disease for 20 months': a relative clause said of the treatments before it.
# ('..., to which the tumour had responded poorly': the same, with the treatment as what was answered)
_WHICH_BEFORE_STATUS = re.compile(
    rf",?\s*(?:(?:which|that)|to\s+(?:which|whom)\s+{_DISEASE_SUBJECT})\s+(?:(?:has|had|was|were|then|first|later)\s+)*$",
    re.I,
)
# '... she started chemotherapy, and the local disease first responded': a clause of its own, said of the
# treatment the clause before it started.
# ('... and her disease was judged stable', '... and at the next scan the tumour was found to be stable': a status
# as assessed, after a short phrase of when)
_AND_SUBJECT = re.compile(rf"(?:,\s*|\s)(?:and|so)\s+(?:(?:at|on|by|after|within)\s+(?:[\w-]+\s+){{1,3}}?,?\s*)?"
                          rf"{_DISEASE_SUBJECT}\s+(?:(?:has|had|was|were|then|first|"
                          rf"later|soon|remained|stayed|been|not|judged|found|considered|deemed|rated|classed|"
                          rf"to\s+be|as)\s+)*$", re.I)  # fmt: skip
# 'After a year of it', 'on it', 'with it', 'since starting it': the treatment of the sentence before.
_OF_IT = re.compile(
    r"\b(?:of|on|with|after|under|since\s+(?:starting|beginning))\s+(?:it|this|that|them|this\s+treatment|"
    r"this\s+therapy|the\s+treatment|that\s+treatment)\b",
    re.I,
)
_STARTED = re.compile(
    r"\b(?:started|begun|began|commenced|initiated|was given|were given|received|receiving|was put on|"
    r"was treated with|were treated with|was changed to|was switched to|"
    r"(?:discharged|sent\s+home|went\s+home|left\s+(?:the\s+)?hospital)\s+on|"
    r"on\s+(?:a|the)\s+(?:regimen|course|combination|schedule)\s+of)\b",
    re.I,
)


def _course_of(b: CaseDraft, m) -> list[tuple[dict[str, Any], str]]:
    """The treatments a status is said of when it follows them: 'On letrozole her disease was held in check',
    '... trastuzumab, which controlled her disease', 'she started chemotherapy, and the disease responded',
    'She was given tamoxifen. After a year of it the metastases had not grown.'

    The status is a response of those treatments only when its clause makes the disease its subject or
    points back at them; 'After chemotherapy her disease stabilized' dates a status, and stays one.
    """
    s0 = b.sentences[m.sentence][0]
    lo = b.clause_start(m.start)
    head = b.text[lo : m.start]
    before = [x for x in b.in_sentence(m.sentence) if x.label in ("DRUG", "PROCEDURE") and x.end <= m.start]
    if before:
        group = _group_before(b, before)
        first = group[0]
        status_head = b.text[group[-1].end : m.start]
        subject = _SUBJECT_BEFORE_STATUS.match(re.split(r"[,;]", status_head)[-1])
        if _WHILE_ON.search(b.text[max(s0, first.start - 30) : first.start]) and subject:
            return _items(b, group, "status-while-on-treatment")
        if _WHICH_BEFORE_STATUS.fullmatch(status_head):
            return _items(b, group, "status-of-treatment-clause")
        if _AND_SUBJECT.search(status_head) and _STARTED.search(
            b.text[max(s0, first.start - 40) : first.start]
        ):
            return _items(b, group, "status-after-treatment-clause")
        return []
    if m.sentence == 0 or b.in_sentence(m.sentence, "DRUG") or b.in_sentence(m.sentence, "PROCEDURE"):
        return []
    prev = m.sentence - 1
    while prev > 0 and len(b.sent_text(prev).split()) < 3:
        prev -= 1  # a heading between them ('Outcomes.')
    if not b.in_story(prev):
        return []
    earlier = [x for x in b.in_sentence(prev) if x.label in ("DRUG", "PROCEDURE")]
    if not earlier:
        return []
    if _OF_IT.search(head):
        return _items(b, _group_before(b, earlier), "status-of-treatment-before")
    # 'Ribociclib with letrozole was started. The disease progressed nonetheless': the disease's course, told in
    # the sentence after the one that starts the drugs, with nothing of its own to date it, is their response
    group = _group_before(b, earlier)
    while len(group) < len(earlier) and _BEGUN_WITH.fullmatch(
        b.text[earlier[-len(group) - 1].end : group[0].start]
    ):
        group.insert(0, earlier[-len(group) - 1])  # 'capecitabine was begun together with denosumab'
    started = b.text[max(b.sentences[prev][0], group[0].start - 40) : b.sentences[prev][1]]
    clause = re.split(r"[:;]|,(?!\s*$)|\band\b|\bbut\b", head)[-1]
    subject = _SUBJECT_BEFORE_STATUS.match(
        re.sub(r"^\s*(?:\w+ly|however|nonetheless)\b,?", "", clause, flags=re.I)
    )
    if (
        subject
        and all(x.label == "DRUG" for x in group)
        and _STARTED.search(started)
        and not _DATED.search(b.text[b.sentences[m.sentence][0] : m.start])
    ):
        return _items(b, group, "status-after-course-started")
    return []


_BEGUN_WITH = re.compile(
    r"\s+(?:was|were)\s+(?:\w+\s+)?(?:begun|started|given|initiated|commenced)\s+(?:together\s+|along\s+)?with\s+",
    re.I,
)
# a time of its own before a status: 'In 2019 the disease progressed', 'Two years later it recurred'
_DATED = re.compile(r"\b(?:\d{4}|later|after|afterwards|subsequently|then|since|until|when|before)\b", re.I)
# '..., and she stayed on tamoxifen', '... and letrozole was continued': the clause after a status keeps a drug going
_KEEPS_ON = re.compile(
    r"^[\s,]*(?:and|so)\s+(?:she|he|the\s+patient)\s+(?:\w+\s+)?(?:stayed|remained|continued|was\s+kept|was\s+"
    r"maintained)\s+(?:on\s+|taking\s+|with\s+)?(?:the\s+|her\s+|his\s+)?$",
    re.I,
)
_CONTINUED_AFTER = re.compile(r"^\s+(?:was|were)\s+(?:\w+\s+)?(?:continued|maintained)\b", re.I)


def _kept_on(b: CaseDraft, m) -> list[tuple[dict[str, Any], str]]:
    """The drug a status is said of when the next clause keeps it going: 'The disease responded partially, and
    she stayed on tamoxifen': the response of the tamoxifen she stayed on. The status's clause must have the
    disease as its subject."""
    head = re.split(r"[,;]|\band\b|\bbut\b", b.text[b.clause_start(m.start) : m.start])[-1]
    if not _SUBJECT_BEFORE_STATUS.match(head):
        return []
    after = [x for x in b.in_sentence(m.sentence, "DRUG") if x.start > m.end]
    if not after:
        return []
    x = after[0]
    gap = b.text[m.end : x.start]
    rest = re.sub(r"^\s*(?:partially|completely|well|fully|dramatically|promptly)\b", "", gap, flags=re.I)
    if _KEEPS_ON.fullmatch(rest) or (
        re.fullmatch(r"[\s,]*(?:and|so)\s+(?:the\s+)?", rest, re.I)
        and _CONTINUED_AFTER.match(b.text[x.end : x.end + 30])
    ):
        # the course kept on was drafted where it was first told: found by its name
        told = [item for item in b.meds if item.get("name") == x.target.term]
        return [(told[-1], "status-of-drug-kept-on")] if told else []
    return []


# A lesion or an organ as the subject of a status clause, after a phrase of when if any: 'the liver lesions were
# still in complete response', 'within two months the deposit shrank',
# 'the breast had responded well', 'the choroidal deposit shrank'. The disease as a whole ('her disease', 'the
# cancer') is the case's status.
_LESION_SUBJECT = re.compile(
    r"^[\s,]*(?:(?:within|after|by|in|over|at)\s+(?:[\w-]+\s+){1,3}?,?\s*)?(?:the|her|his|both|all)\s+(?P<np>(?:[\w-]+\s+){0,3}?)(?:(?:has|had|have|was|were|is|are|still|then|"
    r"remained|stayed|been|in|also|already)\s+)*$",
    re.I,
)
_LESION_NOUN = re.compile(
    r"\b(?:lesions?|metastas[ie]s|deposits?|nodules?|mass|masses|tumou?rs?|implants?|effusions?)\s*$", re.I
)
# The course pointed back at: 'after the anti-HER2 treatment began', 'on this therapy', 'under that regimen', and
# by its parts: 'ten months after the first dose', 'after four cycles', 'after two infusions'.
_THE_COURSE = re.compile(
    r"\b(?:(?:the|this|that|her|his)\s+(?:[\w-]+\s+){0,2}?(?:treatment|therapy|regimen|course|doses?|cycles?|"
    r"infusions?|injections?)|(?:after|following|within)\s+(?:[\w-]+\s+)?(?:doses|cycles|courses|infusions|"
    r"injections))\b",
    re.I,
)
# 'her condition worsened': how she was, not the disease's course
_CONDITION = re.compile(r"\b(?:her|his|the\s+patient's)\s+(?:clinical\s+)?condition\b", re.I)
# ... and what a test found: 'CT showed that the effusion had gone'
_SUBCLAUSE = re.compile(
    r"[,;]|\b(?:and|but|because|since|as|although|though|while|whereas|when)\b"
    r"|\b(?:showed|shown|revealed|demonstrated|confirmed|found)\s+that\b",
    re.I,
)
_WHOLE_DISEASE = re.compile(r"\b(?:disease|cancer|carcinoma|illness|condition)\b", re.I)


def _lesion_on_course(b: CaseDraft, m) -> list[tuple[dict[str, Any], str]]:
    """A status said of one lesion or organ in a sentence that names the drug course before it ('Four years
    after the anti-HER2 treatment began, the liver lesions were still in complete response', 'On letrozole the
    breast lesion shrank'): that course's response, not the case's status. A class word ('the treatment')
    stands for the latest course told before it; no operation may come between."""
    s0 = b.sentences[m.sentence][0]
    head = _SUBCLAUSE.split(b.text[s0 : m.start])[-1]
    subject = _LESION_SUBJECT.match(head)
    if subject is None or _WHOLE_DISEASE.search(subject.group("np")):
        return []
    np_lo = m.start - len(head)
    named_site = any(x.label == "SITE" and np_lo <= x.start < m.start for x in b.in_sentence(m.sentence))
    if not named_site and not _LESION_NOUN.search(subject.group("np").strip()):
        return []
    said = [x for x in b.in_sentence(m.sentence, "DRUG") if x.end <= np_lo]
    if not said and not _THE_COURSE.search(b.text[s0:np_lo]):
        return []
    told = []
    for item in b.meds:
        ev = b.ev_of(item, "name")
        if ev is None or ev.start >= m.start or item.get("status") or not b.in_story(ev.sentence):
            continue
        told.append((ev.sentence, item))
    by_name = [item for _, item in told if any(item["name"] == x.target.term for x in said)]
    if by_name:
        return [(by_name[-1], "status-of-lesion-on-course")]
    if not told:
        return []
    last = max(i for i, _ in told)
    if m.sentence - last > 4 or any(
        (p_ev := b.ev_of(p, "name")) is not None and b.sentences[last][1] <= p_ev.start < m.start
        for p in b.procedures
    ):
        return []  # a course told long before, or an operation between them
    return [(item, "status-of-lesion-on-course") for i, item in told if i == last]


# A treatment as the subject of a verb whose object is the status: '... brought a complete remission', 'achieved
# stable disease', 'led to a partial response', 'resulted in complete regression'.
_BROUGHT = re.compile(
    r"(?P<gap>^[\s,)]*(?:(?:has|had|have|then|soon|rapidly|quickly|promptly|eventually|finally|also|again|"
    r"successfully)\s+)*)(?:brought(?:\s+about)?|produced|achieved|induced|obtained|yielded|gave|"
    r"led\s+to|resulted\s+in)\s+(?:(?:a|an|the)\s+)?(?:(?:near|nearly|almost|sustained|durable|lasting|rapid|"
    r"good|clear|marked|radiological|clinical)[- ]+){0,2}$",
    re.I,
)
# what may come between the treatments of one subject: 'trastuzumab (Herceptin), given with vinorelbine and'
_SAME_SUBJECT = re.compile(
    r"^[\s,()]*(?:\([^()]{0,30}\)[\s,]*)?(?:(?:and|or|plus|with|then|(?:given|combined|together)\s+with|"
    r"followed\s+by)\s+)?$",
    re.I,
)


def _brought_by(b: CaseDraft, m) -> list[tuple[dict[str, Any], str]]:
    """'Trastuzumab, given with vinorelbine and gemcitabine, brought a complete remission': the treatments that are
    the subject of the verb whose object is the status; their response. A person as the subject ('after chemotherapy
    she achieved a remission') is not a treatment, and the status stays the case's."""
    before = [x for x in b.in_sentence(m.sentence) if x.label in ("DRUG", "PROCEDURE") and x.end <= m.start]
    if not before:
        return []
    verb = _BROUGHT.search(b.text[before[-1].end : m.start])
    if verb is None or verb.start() != 0:
        return []
    group = [before[-1]]
    for x in reversed(before[:-1]):
        if not _SAME_SUBJECT.match(b.text[x.end : group[0].start]):
            break
        group.insert(0, x)
    return _items(b, group, "status-brought-by-treatment")


def _group_before(b: CaseDraft, treatments: list) -> list:
    """The last treatments of a list: 'nab-paclitaxel and afterwards trastuzumab deruxtecan', 'palbociclib with
    tamoxifen', 'endocrine therapy, palbociclib with tamoxifen'."""
    group = [treatments[-1]]
    for x in reversed(treatments[:-1]):
        gap = b.text[x.end : group[0].start]
        if not re.fullmatch(
            r"[\s,:]*(?:(?:and|or|plus|with|then|followed\s+by|together\s+with|combined\s+with)\s+)?"
            r"(?:(?:afterwards|later|subsequently|then)\s+)?",
            gap,
            re.I,
        ):
            break
        group.insert(0, x)
    return group


def _items(b: CaseDraft, mentions: list, rule: str) -> list[tuple[dict[str, Any], str]]:
    out = []
    for x in mentions:
        for item in b.meds if x.label == "DRUG" else b.procedures:
            ev = b.ev_of(item, "name")
            if ev is not None and ev.start == x.start and all(item is not o for o, _ in out):
                out.append((item, rule))
    # a class named with its drugs ('endocrine therapy, palbociclib with tamoxifen') answers for them
    return [(item, r) for item, r in out if not (len(out) > 1 and _is_class(b, item))]


def _is_class(b: CaseDraft, item: dict[str, Any]) -> bool:
    concept = b.terminology.lookup("medications", item["name"])
    return (
        concept is not None and not concept.codings and bool(re.search(r"therap|treatment", concept.terms[0]))
    )


# A course said to have failed: 'when the hormonal treatment failed', 'after failure of the chemotherapy'.
_FAILED = re.compile(
    r"\b(?:(?:the|her|his|this|that)\s+(?P<a>(?:[\w-]+\s+){0,2}?)(?P<n>treatment|therapy|regimen|course|"
    r"chemotherapy)\s+(?:had\s+|has\s+)?(?:failed|stopped\s+working|ceased\s+to\s+work)"
    r"|(?:failure|failing)\s+of\s+(?:the|her|his|this|that)\s+(?P<b>(?:[\w-]+\s+){0,2}?)(?P<m>treatment|therapy|"
    r"regimen|course|chemotherapy))\b",
    re.I,
)


def read_failed_course(b: CaseDraft) -> None:
    """'Treatment began with palbociclib and exemestane. When the hormonal treatment failed, ...': the course the
    failed treatment points back at (the latest one told whose drugs are of the kind its words name, or the latest
    at all) progressed on it, every drug given in that course."""
    for i in b.story():
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for f in _FAILED.finditer(text):
            words = (f.group("a") or f.group("b") or "").strip()
            noun = (f.group("n") or f.group("m")).lower()
            if noun == "chemotherapy":
                words = f"{words} {noun}".strip()
            concept = b.terminology.lookup(
                "medications", f"{words} therapy" if noun != "chemotherapy" else words
            )
            concept = concept if words else None
            kind = concept.kind if concept is not None and concept.kind not in (None, "other") else None
            told = []
            for item in b.meds:
                ev = b.ev_of(item, "name")
                if (
                    ev is None
                    or ev.start >= s0 + f.start()
                    or item.get("status")
                    or not b.in_story(ev.sentence)
                ):
                    continue
                if ev.sentence < i - 3:
                    continue  # a course told long before is not what 'the treatment' points back at
                item_concept = b.terminology.lookup("medications", item["name"])
                if item_concept is None or not item_concept.codings:
                    continue  # a class word is no course of its own
                told.append((ev.sentence, item, item_concept.kind))
            if kind is not None:
                of_kind = [j for j, _, k in told if k == kind]
                if not of_kind:
                    continue
                last = max(of_kind)
            elif words:
                continue  # a kind the maps do not know: left alone
            elif told:
                last = max(j for j, _, _ in told)
            else:
                continue
            course = [(item, k) for j, item, k in told if j == last]
            failed = [item for item, k in course if kind is None or k == kind]
            grown = True
            while grown:  # the drugs given together with them: 'palbociclib with letrozole'
                grown = False
                for item, _ in course:
                    if item not in failed and any(_given_together(b, item, x) for x in failed):
                        failed.append(item)
                        grown = True
            for item in failed:
                b.put(item, "response", "progressive", s0 + f.start(), s0 + f.end(), "course-failed", 0.6)


_TOGETHER = re.compile(r"\s*(?:,|,?\s*(?:and|plus|with|together\s+with|combined\s+with|in\s+combination\s+with))\s*",
                       re.I)  # fmt: skip


def _given_together(b: CaseDraft, one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two drugs are named side by side as one course ('ribociclib with letrozole')."""
    a, c = b.ev_of(one, "name"), b.ev_of(other, "name")
    if a is None or c is None:
        return False
    lo, hi = (a.end, c.start) if a.end <= c.start else (c.end, a.start)
    return 0 <= hi - lo < 30 and bool(_TOGETHER.fullmatch(b.text[lo:hi]))


def read_new_disease(b: CaseDraft) -> None:
    """New metastases later in the story ('new small choroidal metastases then appeared'): the disease progressed."""
    if any(s["status"] == "progressive" for s in b.statuses):
        return
    if _later_metastasis(b):
        return
    pattern = re.compile(b.rules["new_disease"], re.I)
    first = b.story()[0] if b.story() else 0
    for i in b.story():
        if i == first or b.flashback[i]:
            continue
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for m in pattern.finditer(text):
            if re.search(
                r"\b(?:no|without|nor|free of)\s+(?:\w+\s+){0,2}$",
                text[max(0, m.start() - 25) : m.start()],
                re.I,
            ):
                continue  # 'no new lesions': nothing new
            lo, hi = b.clause_chain(s0 + m.start())
            if any(m.end() + s0 <= x.start < max(hi, s0 + m.end() + 60) and is_primary_mention(b, x)
                   for x in b.in_sentence(i)):  # fmt: skip
                continue  # 'the mammogram showed a new lesion, and it proved to be breast cancer': the primary found
            item: dict[str, Any] = {}
            b.put(item, "status", "progressive", s0 + m.start(), s0 + m.end(), "new-disease", 0.6)
            if b.primary.get("id"):
                item["about"] = b.primary["id"]
            b.statuses.append(item)
            return


# 'Peritoneal carcinomatosis developed', 'bone metastases appeared': a metastasis arising, told as an event
_AROSE = re.compile(r"\b(?:developed|appeared|emerged|arose|ensued)\b", re.I)


def _later_metastasis(b: CaseDraft) -> bool:
    """A metastasis that arose after the presentation, told as an event of a later episode ('... an ileosigmoid
    bypass was done. Peritoneal carcinomatosis developed, and she died'): the disease progressed."""
    first = b.presenting_met()
    if first is None:
        return False
    start = b.episode_of[first["_first"]]
    for met in b.mets.values():
        i = met["_first"]
        if met is first or b.flashback_at(met["_first_pos"]) or b.episode_of[i] < start:
            continue
        if i <= first["_first"]:
            continue
        lo = b.clause_start(met["_first_pos"])
        own = re.split(r"[;.]|,\s*(?:and|but|then)\b", b.text[met["_first_pos"] : b.sentences[i][1]])[0]
        arose = _AROSE.search(own[:80])
        if arose and not re.search(
            r"\b(?:had|has|have)\s+(?:\w+\s+)?$", b.text[lo : met["_first_pos"] + arose.start()]
        ):
            item: dict[str, Any] = {}
            s0 = met["_first_pos"]
            b.put(item, "status", "progressive", s0, s0 + arose.end(), "metastasis-arose-later", 0.6)
            if b.primary.get("id"):
                item["about"] = b.primary["id"]
            b.statuses.append(item)
            return True
    return False


# words that make an interval a bound rather than a time: 'less than a month after', 'within two weeks of'
_A_BOUND = re.compile(
    r"\b(?:less\s+than|fewer\s+than|more\s+than|under|over|within|at\s+least|at\s+most|up\s+to|nearly|almost|"
    r"not\s+quite)\s+$",
    re.I,
)


def read_death(b: CaseDraft) -> None:
    """Death: a death word of the story that is not negated, planned or refused; its time when the text gives it."""
    for m in b.mentions:
        if m.label != "DEATH":
            continue
        if m.negated or m.hypothetical:
            b.add_review(m.text, "a death word that ConText reads as negated or hypothetical", m.start, m.end)
            continue
        if of_a_relative(b, m):
            continue  # 'her mother had died of leukaemia': the family history, not the patient
        vs = b.patient.setdefault("vital_status", {})
        told = b.put(vs, "deceased", True, m.start, m.end, "death-word")
        if vs.get("deceased") is True:
            _date_of_death(
                b, m, vs
            )  # ('both died within three months ... She died in March 2009': the later word)
        if not told:
            continue
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        if _fronted_interval(b, m, vs):
            continue
        for iv in INTERVAL.finditer(text[m.start - s0 :]):
            how = iv.group(3).lower()
            if how in ("before", "earlier", "ago", "previously") or how.startswith("prior"):
                continue
            base = m.start
            words = how + text[m.start - s0 + iv.end() : m.start - s0 + iv.end() + 60]
            bound = _A_BOUND.search(text[: m.start - s0 + iv.start()])
            if bound:
                # 'less than a month after the diagnosis': a bound, not a time; the words are kept as they are
                event = re.match(r"[^.;,]*", text[m.start - s0 + iv.end() :]).group(0)
                start = s0 + bound.start()
                b.put(vs, "timing", (bound.group(0) + iv.group(0) + event).strip(), start,
                      base + iv.end() + len(event), "interval-of-death", 0.6)  # fmt: skip
                break
            if how == "later" and not re.match(r"^later\s+(?:than|after)", words):
                event = _previous_event(b, m)
                if event is None:
                    # 'She died seven months later', after a metastasis or a course: the words are kept, not
                    # counted from the first diagnosis
                    b.put(
                        vs,
                        "timing",
                        iv.group(0),
                        base + iv.start(),
                        base + iv.end(),
                        "interval-of-death",
                        0.6,
                    )
                    break
                words = "after " + event
            to = _metastasis_named_after(b, m.sentence, base + iv.end()) or b.anchor_for(words, m.sentence)
            if to:
                b.put(vs, "relative", {"to": to, "after": interval_of(iv)},
                      base + iv.start(), base + iv.end(), "interval-of-death", 0.7)  # fmt: skip
            break
    if not b.patient.get("vital_status", {}).get("deceased"):
        _survival(b)


# between an interval and the metastasis it is counted from: 'one year after | the parotid metastases were found',
# 'two months after | the diagnosis of her liver metastasis'
_BEFORE_NAMED_SITE = re.compile(
    r"\s+(?:the\s+|her\s+|his\s+)?(?:(?:diagnosis|discovery|finding|detection)\s+of\s+(?:the\s+|her\s+|his\s+)?)?",
    re.I,
)
_LESION_WORD = re.compile(
    r"^\s*(?:metastas[ie]s|metastatic\s+\w+|lesions?|deposits?|tumou?rs?|masses|mass)\b", re.I
)


# a death told with its calendar date: 'died in March 2009', 'died of liver failure on 2 May 2011', and the date
# put first in the death's own clause: 'In August 2009 she died', 'On 2 May 2011, the patient passed away'
_DATE_AFTER_DEATH = re.compile(
    r"^(?:\s+(?:at\s+home|in\s+(?:the\s+)?hospital|of\s+[\w-]+(?:\s+[\w-]+){0,4}?))?\s+(?:in|on)\s+$", re.I
)
_DATE_BEFORE_DEATH = re.compile(r"^\s*(?:in|on)\s+$", re.I)
_WHO_BEFORE_DEATH = re.compile(r"^,?\s+(?:she|he|the\s+patient|our\s+patient)\s+(?:had\s+)?$", re.I)


def _date_of_death(b: CaseDraft, m, vs: dict[str, Any]) -> None:
    """The calendar date of a death, when it is told next to the death word in the death's own clause."""
    s0 = b.sentences[m.sentence][0]
    text = b.sent_text(m.sentence)
    for d in values.dates(text):
        lo, hi = s0 + d.start, s0 + d.end
        if lo >= m.end:
            # 'died in March 2009' (the words between are a preposition, where or of what)
            if _DATE_AFTER_DEATH.match(b.text[m.end : lo] + " "):
                b.put(vs, "date", d.value, lo, hi, "date-of-death", 0.7)
            return
        head, tail = b.text[s0:lo], b.text[hi : m.start]
        if _DATE_BEFORE_DEATH.match(head) and _WHO_BEFORE_DEATH.match(tail):
            b.put(vs, "date", d.value, lo, hi, "date-of-death", 0.7)  # 'In August 2009 she died'
            return


def _metastasis_named_after(b: CaseDraft, i: int, pos: int) -> str | None:
    """'she died one year after the parotid metastases were diagnosed': the metastasis the interval names as what
    it is counted from, when it is one of the case's metastases."""
    for x in b.in_sentence(i, "SITE"):
        if x.start < pos or not _BEFORE_NAMED_SITE.fullmatch(b.text[pos : x.start]):
            continue
        if not _LESION_WORD.match(b.text[x.end : x.end + 30]):
            return None
        term = fold(x.target.term)
        met = next(
            (
                met
                for met in b.mets.values()
                if fold(met["site"]).endswith(term) or term.endswith(fold(met["site"]))
            ),
            None,
        )
        return met["id"] if met is not None else None
    return None


def _fronted_interval(b: CaseDraft, m, vs: dict[str, Any]) -> bool:
    """'Four months later the patient died': an interval put before the death in its own clause, counted from the
    metastasis the sentence before told ('later' names no event of its own); the words alone when that is not one
    metastasis."""
    s0 = b.sentences[m.sentence][0]
    head = b.text[s0 : m.start]
    if re.search(r"[,;:]", head) and not INTERVAL.match(head.lstrip()):
        return False  # an interval of another clause, or none before the death
    ivs = [iv for iv in INTERVAL.finditer(head) if iv.group(3).lower() == "later"]
    if not ivs or len(ivs) > 1:
        return False
    iv = ivs[0]
    to = None if _previous_event(b, m) else b.anchor_for("later", m.sentence)
    if to is not None and to in {met.get("id") for met in b.mets.values()}:
        b.put(vs, "relative", {"to": to, "after": interval_of(iv)}, s0 + iv.start(), s0 + iv.end(),
              "interval-of-death-fronted", 0.6)  # fmt: skip
    else:
        b.put(vs, "timing", iv.group(0), s0 + iv.start(), s0 + iv.end(), "interval-of-death-fronted", 0.6)
    return True


# Survival told as a span of life: 'She lived two months after the biopsy', 'after the operation he survived
# for only six weeks'. A span still going on ('has lived', 'is alive', 'free of disease') is no death.
_LIVED = re.compile(
    rf"\b(?<!has\s)(?<!have\s)(?<!had\s)(?:lived|survived)\s+(?:for\s+)?(?:only\s+|another\s+|a\s+further\s+|just\s+)?"
    rf"{NUMBER}[- ](year|month|week|day)s?\b(?:\s+(?:longer|more))?",
    re.I,
)
_STILL_ALIVE = re.compile(
    r"\b(?:alive|still|remains?|without\s+(?:disease|recurrence|evidence)|free\s+of|disease[- ]free|well)\b",
    re.I,
)
_AFTER_EVENT = re.compile(r"^\s*(after|following|from)\s+((?:the|her|his)\s+(?:[\w-]+\s+){0,2}?[\w-]+)", re.I)
_EVENT_BEFORE = re.compile(
    r"\b(?:after|following)\s+((?:the|her|his)\s+(?:[\w-]+\s+){0,2}?[\w-]+)\s*,?\s*(?:she|he|the\s+patient)\s+$",
    re.I,
)


def _survival(b: CaseDraft) -> None:
    """A death the story tells as how long the patient lived after an event: deceased, counted from that event."""
    for i in b.story():
        text = b.sent_text(i)
        s0 = b.sentences[i][0]
        for m in _LIVED.finditer(text):
            lo, hi = b.clause_chain(s0 + m.start())
            clause = b.text[lo:hi]
            if _STILL_ALIVE.search(clause):
                continue
            vs = b.patient.setdefault("vital_status", {})
            b.put(vs, "deceased", True, s0 + m.start(), s0 + m.end(), "survival-span", 0.6)
            after = _AFTER_EVENT.match(text[m.end() :])
            before = _EVENT_BEFORE.search(text[: m.start()])
            words = f"after {after.group(2)}" if after else f"after {before.group(1)}" if before else None
            to = b.anchor_for(words, i) if words else None
            span = interval_text(m.group(1), m.group(2))
            if to:
                b.put(
                    vs,
                    "relative",
                    {"to": to, "after": span},
                    s0 + m.start(),
                    s0 + m.end(),
                    "survival-span",
                    0.6,
                )
            else:
                b.put(vs, "timing", m.group(0), s0 + m.start(), s0 + m.end(), "survival-span", 0.6)
            return


def _previous_event(b: CaseDraft, m) -> str | None:
    """What 'died three weeks later' counts from: the procedure its sentence or the one before names (None when
    neither names one)."""
    for i in (m.sentence, m.sentence - 1):
        if i < 0:
            continue
        text = b.sent_text(i).lower()
        if re.search(r"\bprocedure\b", text):
            return "the procedure"
        found = list(
            re.finditer(rf"\b(?:operation|surgery|biops\w*|excision|resection|{SURGICAL_WORD})\b", text)
        )
        if not found:
            continue
        s0 = b.sentences[i][0]
        if any(
            x.label in ("PROCEDURE", "DRUG") and x.start >= s0 + found[-1].end() and x.sentence < m.sentence
            for x in b.in_sentence(i)
        ):
            return None  # 'after an oophorectomy she received radiotherapy. She died ... later': not the operation
        return "the biopsy" if "biops" in found[-1].group(0) else "the operation"
    return None
