"""Treatments: procedures (with site, intent, dose, nodes) and drugs (with intent, line, cycles, dose, response).

A treatment the story only plans ('was proposed', 'was planned') is `intended`; one the patient
refused or declined is `not-taken` (a drug) or `not-done` (a procedure): never drafted as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...terminology import fold
from .. import values
from ..pipeline import Mention, Target
from .place import INTERVAL, CaseDraft, interval_of, item_id

_CLASS_GAP = re.compile(
    r"^[\s,:(]*(?:(?:was|were|is)\s+)?(?:started|given|treated|initiated|consisting|including|comprising|followed)?"
    r"[\s,:]*(?:with|of|using|:|the)?\s*(?:the\s+)?(?:\w+\s+){0,2}?(?:agonist|analogue|inhibitor|cycles?\s+of|"
    r"courses?\s+of)?\s*$",
    re.I,
)
# A class whose own clause goes on to name its drugs: 'neoadjuvant chemotherapy was begun, with docetaxel ...',
# 'chemotherapy began in June with four doses of doxorubicin ...', 'endocrine therapy was then started using
# letrozole'. One clause (no stop, no 'then' or 'but', no new subject), ending in the word that introduces the
# drugs and at most four words of count or schedule before the first of them.
_CLASS_CLAUSE_WITH = re.compile(
    r"^(?![^;.]*(?:\band\s+then\b|,\s*then\b|\b(?:but|followed|after|before|until|because|while|when|she|he|they|which)\b))"
    r"[^;.()]{0,40}?"
    r"\b(?:with|using|consisting\s+of|comprising|including)\s+(?:[\w-]+\s+){0,4}?$",
    re.I,
)
# A refusal told after the offer, of the offer itself: '... chemotherapy was proposed, which she declined', 'a
# mastectomy was advised, but she did not want it', '... surgery, but the patient refused'.
_REFUSED_AFTER = re.compile(
    r"^[^.;]{0,60}?,?\s*\b(?:but|which|and|yet)\s+(?:she|he|the\s+patient)\s+(?:[^.;]{0,50}?\band\s+)?(?:\w+ly\s+)?"
    r"(?:refused|declined|rejected|did\s+not\s+want|would\s+not\s+accept|turned\s+(?:it|them)\s+down"
    # 'radiotherapy was advised, but he could not afford it and never had it': advised and not given
    r"|could\s+not\s+afford\s+(?:it|them)|never\s+(?:had|received|underwent|started)\s+(?:it|them)\b"
    r"|did\s+not\s+(?:have|receive|undergo|start)\s+(?:it|them)\b)\b"
    r"(?!\s+(?:to\s+stop|any\s+further|further|more|other|another))",
    re.I,
)
_REFUSED = re.compile(r"\b(refused|declined|decided against|chose not|did not want|rejected)\b", re.I)
# 'biopsy-proven metastases': how they were confirmed, not a procedure ('a biopsy confirmed it' is one)
# ... but 'a biopsy proved it to be a carcinoma' tells a biopsy done
_NOT_A_PROCEDURE_AFTER = re.compile(
    r"^(?:-\s*(?:proven|proved|confirmed)|\s+(?:proven|proved)(?!\s+(?:it|that|them|this|these|the|her|his|to)\b))\b",
    re.I,
)
# 'radiotherapy to the orbit', 'biopsy of the eyelid', 'excision of the scalp nodule', 'a scalp biopsy'.
# 'radiotherapy to the left orbit', 'biopsy of the mass in her right breast', 'a biopsy of an eyelid nodule',
# 'operated on for a carcinoma of the left breast'.
_LINKS_SITE = re.compile(
    r"\s*(?:was\s+)?(?:(?!and\b|or\b|with\b|plus\b)\w+\s+){0,2}?(?:to|of|from|on|at|for|in|into)\s+(?:the\s+|her\s+|his\s+|a\s+|an\s+)?"
    r"(?:(?:[\w-]+\s+){0,2}?(?:mass|masses|lesions?|nodules?|tumou?rs?|lump|ulcers?|tissue|wall|walls|carcinomas?|cancers?)\s+"
    r"(?:of|in|on|at|from)\s+(?:the\s+|her\s+|his\s+|a\s+|an\s+)?)?"
    r"(?:(?:left|right|both|bilateral|upper|lower|whole|entire)[- ](?:sided\s+)?)?(?:[\w-]+\s+){0,2}?",
    re.I,
)
# 'the orbit was treated with radiotherapy', 'the choroidal metastasis was treated with plaque radiotherapy',
# 'the left femur was fixed with an internal fixator'.
_SUBJECT_SITE = re.compile(
    r"^\s*(?:,?\s*(?:that|which)\s+)?(?:(?:metastas[ie]s|lesions?|mass|tumou?r|nodules?|deposits?|fracture|region|area|cancer|carcinoma)\s+)?"
    r"(?:was|were|had\s+been|has\s+been|have\s+been)\s+"
    r"(?:(?:treated|irradiated|removed|excised|resected|fixed|stabili[sz]ed|nailed|operated on|biopsied|sampled)\s+"
    r"(?:with|by)"
    # 'her breast cancer had been proven on biopsy', 'the lesions were confirmed by a core biopsy'
    r"|(?:proven|proved|confirmed|diagnosed)\s+(?:on|by|at|with))\s+(?:[\w-]+\s+){0,3}?$",
    re.I,
)
_SUBJECT_OF_PARTICIPLE = re.compile(
    r"\s*(?:(?:cancer|carcinoma|tumou?r|mass|lesion|nodule|metastasis)\s+)?(?:was|were|had\s+been|has\s+been)\s+"
    r"(?:\w+ly\s+)?",
    re.I,
)
_BEFORE_DRUG = re.compile(
    r"\b(weekly|monthly|daily|oral|intravenous|subcutaneous|IV)(?:\s+(weekly|monthly|daily|oral|intravenous|subcutaneous|IV))?\s+$",
    re.I,
)
_CYCLES_BEFORE = re.compile(
    r"\b(\w+)\s+(?:more\s+|further\s+|additional\s+)?cycles?\s+of\s+(?:[\w-]+\s+){0,2}$", re.I
)
_CYCLES_AFTER = re.compile(
    r"^(?:(?:[\s,]*(?:and|plus)?\s*[\w-]+){0,3}?\s+for\s+|\s*[,(]\s*)(\w+)\s+cycles?\b", re.I
)  # 'doxorubicin and cyclophosphamide for four cycles', 'paclitaxel, 4 cycles', 'docetaxel (six cycles)'
_DOSE_AFTER = re.compile(r"^[\s,(]*(\d+(?:\.\d+)?\s*(?:mg/m2|mg/m²|mg/kg|mg|mcg|µg|g))\b", re.I)
_ROUTE_AFTER = re.compile(
    r"^[\s,(]*(?:\d+(?:\.\d+)?\s*(?:mg/m2|mg/m²|mg/kg|mg|mcg|µg|g)\s*)?(IV|i\.v\.|intravenous(?:ly)?|oral(?:ly)?|subcutaneous(?:ly)?|SC)\b",
    re.I,
)
_ROUTES = {"iv": "intravenous", "i.v.": "intravenous", "sc": "subcutaneous"}
# The line told after the drugs of its clause: '... fulvestrant with a CDK4/6 inhibitor as the first line of
# treatment', 'capecitabine was given in the second line'.
_LINE_AFTER = re.compile(
    r"^[^.;:]{0,80}?\b(?:as|in|for)\s+(?:the\s+|a\s+|her\s+|his\s+)?(\w+)[- ]line\b(?!\s+(?:of|to)\s+"
    r"(?:the\s+)?(?:breast|axilla|chest))",
    re.I,
)


# The line told first, opening the sentence whose drugs it sets: 'As the fourth line of treatment she was given
# X with Y', 'In the second line, X was used', 'For third-line therapy she received X'. A later clause of its own
# ('; then', 'followed by', 'after which') starts another course.
_LINE_OPENS = re.compile(
    r"^\s*(?:as|in|for)\s+(?:the\s+|her\s+|his\s+|a\s+)?(\w+)[- ]line\b(?:\s+(?:of\s+)?[\w-]+){0,3}?[\s,]+"
    r"(?![^.;]*\b(?:then|followed\s+by|after\s+which|afterwards|later)\b)[^.;]*$",
    re.I,
)


# The line said of the course a list of drugs makes up, before the list: 'first-line chemotherapy with X and Y',
# 'a second-line regimen of X, Y and Z', 'third-line treatment consisting of X plus Y': each drug of the list has
# that line. Only the drugs of the list: the words between the line and the drug are the list's own.
_LINE_OF_A_LIST = re.compile(
    r"\b(\w+)[- ]line(?:\s+[\w-]+){0,3}?(?:\s+(?:with|of|using|consisting\s+of|comprising)|\s*:"
    # 'second-line chemotherapy, six cycles of X with Y': the cycles told between the line and its list
    r"|,\s+(?:[\w-]+\s+)?(?:cycles?|courses?)\s+of)\s+"
    r"(?P<list>(?:[^\s,.;:]+(?:\s+[^\s,.;:]+){0,3}\s*(?:,\s*(?:and\s+|plus\s+)?|\s+(?:and|plus|with)\s+))*)$",
    re.I,
)


def _line_of_a_list(b: CaseDraft, m: Mention, drugs: list[Mention]) -> int | None:
    """The line a course told as a line word and a list of drugs gives the drug m of that list."""
    s0 = b.sentences[m.sentence][0]
    found = _LINE_OF_A_LIST.search(b.text[s0 : m.start])
    if found is None or found.group(1).lower() not in b.rules["lines"]:
        return None
    lo = s0 + found.start("list")
    # every item of the list before m is a drug named there: 'first-line therapy with X failed, so Y' is no list
    others = [d for d in drugs if d.sentence == m.sentence and lo <= d.start < m.start]
    rest = b.text[lo : m.start]
    for d in sorted(others, key=lambda d: d.start, reverse=True):
        rest = rest[: d.start - lo] + rest[d.end - lo :]
    if re.sub(r"\b(?:and|plus|with)\b|[\s,]", "", rest, flags=re.I):
        return None
    return b.rules["lines"][found.group(1).lower()]


def _status(b: CaseDraft, m: Mention, done_word: str, refused_word: str) -> tuple[str, str] | None:
    text = b.sent_text(m.sentence)
    s0 = b.sentences[m.sentence][0]
    head = text[: m.start - s0]
    refused = _REFUSED.search(head)
    if refused and not re.search(
        r"[;.]|\b(?:but|then|eventually|later|after)\b", head[refused.end() :], re.I
    ):
        return refused_word, "refused-words"
    if _REFUSED_AFTER.match(text[m.end - s0 :]):
        return refused_word, "refused-words"  # 'was advised to have a mastectomy, but she did not want it'
    if m.hypothetical and not _STARTED_IN_CLAUSE.search(b.text[b.clause_start(m.start) : m.start]):
        return done_word, "context-hypothetical"
    return None


# 'She started endocrine treatment, and radiotherapy was planned': the plan is the other clause's; a treatment
# its own clause says was started or given ('her treatment was changed to letrozole') is given
_STARTED_IN_CLAUSE = re.compile(
    r"\b(?:started|began|commenced|received|was\s+given|was\s+started\s+on|was\s+put\s+on|was\s+treated\s+with|"
    r"(?:was\s+|were\s+)?(?:changed|switched|converted)\s+to)"
    r"\s+(?:\w+\s+){0,3}?$",
    re.I,
)


def read_procedures(b: CaseDraft) -> None:
    """Every procedure of the story, with its status, intent, site, radiotherapy dose and lymph nodes."""
    aliases = {fold(k): v for k, v in b.rules["aliases"].items()}
    retold = retold_later(b, [m for m in b.mentions if m.label == "PROCEDURE" and not m.negated])
    for m in [*b.mentions, *_breasts_removed(b)]:
        if m.label != "PROCEDURE" or id(m) in retold:
            continue  # (an operation the title or a retelling names is drafted where the story tells it)
        if _NOT_A_PROCEDURE_AFTER.match(b.text[m.end : m.end + 12]):
            continue  # 'biopsy-proven metastases': how they were confirmed, not a procedure
        if _SPECIALTY.search(b.text[max(0, m.start - 20) : m.start]):
            continue  # a journal header's 'Specialty: surgery' names a field of medicine
        if _A_PLACE_AFTER.match(b.text[m.end : m.end + 30]):
            continue  # 'admitted to the general surgery clinic': a department, not an operation
        if m.negated and _status(b, m, "preparation", "not-done") != ("not-done", "refused-words"):
            b.add_review(m.text, "a procedure ConText reads as negated", m.start, m.end)
            continue
        if (
            fold(m.text) in ("operation", "surgery", "procedure")
            and re.search(
                r"\b(?:(?:the|this|that|her|his)\s+(?:[a-z]+\s+)?|(?:after|before|following|since|until)\s+)$",
                b.text[max(0, m.start - 20) : m.start],
                re.I,
            )
            and any(p["_kind"] == "surgery" for p in b.procedures)
        ):
            continue  # 'after the (abdominal) operation', 'the stage after surgery': the surgery already named
        concept = m.target.concept
        name = fold(m.text)
        if concept is not None and (m.text.isupper() or name not in {fold(t) for t in concept.terms}):
            # An abbreviation or an added spelling: written as the map term it stands for.
            name = aliases.get(name, concept.terms[0]) if not m.text.isupper() else concept.terms[0]
        elif concept is None:
            name = m.target.term
        if any(p["_concept"] == m.target.term and p["_sentence"] == m.sentence for p in b.procedures):
            continue  # one procedure named twice in a sentence: 'radiation therapy (RT)'
        if b.text[max(0, m.start - 2) : m.start].strip() == "(" and any(
            p["_sentence"] == m.sentence and 0 <= m.start - b.ev_of(p, "name").end <= 3 for p in b.procedures
        ):
            continue  # 'palliative radiation therapy (RT)': the abbreviation of the one before
        if _anaphora(b, m):
            continue
        if fold(m.text) in ("resected", "excised", "biopsied") and (
            re.match(
                r"^\s+(?:tumou?r|specimen|tissue|lesion|mass|cells?|nodule)", b.text[m.end : m.end + 20], re.I
            )
            or (
                _DETERMINER_BEFORE.search(b.text[max(0, m.start - 8) : m.start])
                and re.match(r"^\s+[a-z]", b.text[m.end : m.end + 4])
                and any(p["_kind"] == "surgery" for p in b.procedures)
            )
        ):
            continue  # 'the resected tumour cells', 'the resected segment': the resection already told
        kind = concept.kind if concept else b.rules["procedure_kinds"].get(fold(m.target.term), "surgery")
        name = _named_with_its_target(b, m, name, kind)
        item: dict[str, Any] = {"_concept": m.target.term, "_sentence": m.sentence, "_kind": kind}
        base = item_id(name)
        ids = {p["id"] for p in b.procedures}
        item["id"] = (
            base
            if base not in ids
            else f"{base}-{sum(1 for p in b.procedures if p['id'].startswith(base)) + 1}"
        )
        b.put(item, "name", name, m.start, m.end, "procedure-term")
        status = _status(b, m, "preparation", "not-done")
        if status:
            b.put(item, "status", status[0], m.start, m.end, status[1], 0.6)
        intent = (
            b.intent(m)
            or (_listed_intent(b, m) if kind == "radiotherapy" else None)
            or _intent_told_before(b, m)
            or (_to_relieve(b, m) if kind in ("surgery", "radiotherapy") else None)
        )
        if intent:
            b.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
        _procedure_site(b, m, item)
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        if kind == "radiotherapy":
            gy, fr = values.radiotherapy_dose(text)
            if gy:
                b.put(item, "dose_gy", gy.value, s0 + gy.start, s0 + gy.end, "dose-pattern")
            if fr:
                b.put(item, "fractions", fr.value, s0 + fr.start, s0 + fr.end, "fractions-pattern")
        if re.search(_NODAL, fold(m.target.term)) or (
            # a radical mastectomy, modified or not, takes the axillary nodes with the breast, unless the
            # sentence names the axillary operation on its own ('a mastectomy with axillary dissection')
            "radical mastectomy" in fold(m.target.term)
            and not any(
                re.search(_NODAL, fold(x.target.term))
                for x in b.in_sentence(m.sentence, "PROCEDURE")
                if x is not m
            )
        ):
            for j in (m.sentence, m.sentence + 1):
                if j < len(b.sentences) and b.in_story(j):
                    n = values.nodes(b.sent_text(j))
                    if n:
                        sj = b.sentences[j][0]
                        b.put(
                            item, "nodes_positive", n.value[0], sj + n.start, sj + n.end, "nodes-pattern", 0.8
                        )
                        b.put(
                            item, "nodes_examined", n.value[1], sj + n.start, sj + n.end, "nodes-pattern", 0.8
                        )
                        break
                    n = values.positive_nodes(b.sent_text(j))
                    if n:  # 'with carcinoma in three of the lymph nodes': how many were examined is not told
                        sj = b.sentences[j][0]
                        b.put(item, "nodes_positive", n.value, sj + n.start, sj + n.end, "nodes-pattern", 0.7)
                        break
        _timing(b, item, m)
        if _HEADER_LIST.search(b.text[b.sentences[m.sentence][0] : m.start]):
            item["_header"] = True
        b.procedures.append(item)
    _drop_header_repeats(b)
    _merge_retold(b)
    _merge_generic(b)
    _merge_generic_retold(b)
    _merge_generic_named_later(b)
    _merge_biopsy_through(b)
    for m in b.mentions:
        # 'chemoradiotherapy' is a drug treatment too.
        also = b.rules["also_drug"].get(fold(m.text))
        if m.label == "PROCEDURE" and also and not _NOT_A_PROCEDURE_AFTER.match(b.text[m.end : m.end + 12]):
            item = {"_sentence": m.sentence}
            b.put(item, "name", also, m.start, m.end, "drug-in-procedure-term", 0.7)
            intent = b.intent(m)
            if intent:
                b.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
            b.meds.append(item)


# the breast itself told as taken out, the words a retelling often uses for a mastectomy: 'she had both breasts
# removed', 'her left breast was removed' (not 'a carcinoma of her breast was removed': the tumour was)
_BREAST_REMOVED = re.compile(
    r"(?<!\bof\s)\b(both|her|his|the)\s+(?:(?:left|right)\s+)?(breasts?)\s+(?:(?:was|were|had\s+been)\s+)?"
    r"(?:surgically\s+)?removed\b",
    re.I,
)
_HAD_IT_DONE = re.compile(r"\b(?:had|underwent)\s+$", re.I)


def _breasts_removed(b: CaseDraft) -> list[Mention]:
    """The breasts told as removed, as mastectomies of the map ('bilateral' when both were), when no operation on the
    breast is named otherwise in the case (then the words retell it)."""
    if any(
        x.label == "PROCEDURE" and is_breast_operation(b, x.target.term) for x in b.mentions if not x.negated
    ):
        return []
    out = []
    for i in b.story():
        s0 = b.sentences[i][0]
        for r in _BREAST_REMOVED.finditer(b.sent_text(i)):
            passive = re.search(r"\b(?:was|were|been)\s", r.group(0))
            if not passive and not _HAD_IT_DONE.search(b.text[max(0, s0 + r.start() - 12) : s0 + r.start()]):
                continue  # 'her breast removed' with no 'had' or 'was': an attribute, not the operation
            both = r.group(1).lower() == "both" or r.group(2).lower() == "breasts"
            concept = b.terminology.lookup("procedures", "bilateral mastectomy" if both else "mastectomy")
            if concept is None:
                continue
            target = Target("PROCEDURE", concept.terms[0], "procedures", concept)
            out.append(Mention("PROCEDURE", r.group(0), s0 + r.start(), s0 + r.end(), i, target))
    return out


# 'the resected segment', 'this excised nodule': a participle said of a thing, after its determiner
_DETERMINER_BEFORE = re.compile(r"\b(?:the|this|that|these|those)\s+$", re.I)
_NODAL = r"axillary|dissection|sentinel|lymphadenectomy|clearance"  # operations that take lymph nodes
_SPECIALTY = re.compile(r"\bspecialt(?:y|ies)\s*:\s*$", re.I)
# A place of care named by its field: 'the surgery clinic', 'the surgical ward', 'the surgery department'.
_A_PLACE_AFTER = re.compile(
    r"^\s+(?:clinic|department|ward|unit|service|team|outpatients?|residents?|consultation)\b", re.I
)
# A journal's structured header: 'Procedures: radical gastrectomy; mastectomy of both breasts.'
_HEADER_LIST = re.compile(r"\b(?:procedures?|interventions?|treatments?)\s*:\s*(?:[^.:]*[;,]\s*)?$", re.I)


# what a treatment is aimed at, after its name: 'radiotherapy to the whole brain', 'irradiation of the whole brain'
_AIMED_AT = re.compile(r"^\s+(?:to|of)\s+(?:the\s+|her\s+|his\s+)?((?:[\w-]+\s+){0,2}[\w-]+)", re.I)


def _named_with_its_target(b: CaseDraft, m: Mention, name: str, kind: str) -> str:
    """'radiotherapy to the whole brain' is the map's 'whole-brain radiotherapy': a radiotherapy whose target, put
    before its name, makes a radiotherapy term of the maps is named by that term."""
    aimed = _AIMED_AT.match(b.text[m.end : m.end + 60])
    if kind != "radiotherapy" or aimed is None:
        return name
    words = aimed.group(1).split()
    # the treatment's own word, or any other word of its map entry: 'radiation to the whole brain' is found as
    # 'whole brain radiotherapy'
    heads = [m.text] + (list(m.target.concept.terms) if m.target.concept is not None else [])
    for n in range(len(words), 0, -1):
        for head in heads:
            concept = b.terminology.lookup("procedures", f"{' '.join(words[:n])} {head}")
            if concept is not None and concept.kind == "radiotherapy" and concept is not m.target.concept:
                return concept.terms[0]
    return name


def _drop_header_repeats(b: CaseDraft) -> None:
    """A procedure of a header's list that the story tells again ('radical gastrectomy' in the header, 'a
    radical subtotal gastrectomy' in the case): one procedure, the story's."""
    story = [p for p in b.procedures if not p.get("_header")]
    keep = []
    for p in b.procedures:
        head = fold(p["name"]).split()[-1]
        if p.get("_header") and any(fold(x["name"]).split()[-1] == head for x in story):
            continue
        keep.append(p)
    b.procedures[:] = keep


def _merge_retold(b: CaseDraft) -> None:
    """A named surgery told twice, once in a summary and again in the case ('a mastectomy in 1990', then 'treated
    twenty years earlier with a mastectomy'): one surgery, with what both tellings give and the more precise name. Two tellings with
    different dates or sites are two surgeries; a generic word ('resection', 'surgery') may name several."""
    keep: list[dict[str, Any]] = []
    for p in b.procedures:
        first = None
        if p["_kind"] == "surgery" and fold(p["name"]) not in _GENERIC_TREATMENT and "status" not in p:
            first = next((q for q in keep if _same_surgery(q, p)), None)
        elif p["_kind"] == "radiotherapy" and p.get("body_site") and "status" not in p:
            first = next((q for q in keep if _same_radiotherapy(q, p)), None)
        if first is None:
            keep.append(p)
            continue
        if len(p["name"]) > len(
            first["name"]
        ):  # 'a mastectomy', then 'a Patey radical mastectomy': the precise name
            ev = b.ev_of(p, "name")
            b.put(first, "name", p["name"], ev.start, ev.end, ev.rule, ev.confidence, overwrite=True)
            if not any(q["id"] == item_id(p["name"]) for q in b.procedures):
                first["id"] = item_id(p["name"])
        for key, value in p.items():
            if key in first or key in ("id", "_sentence", "_header"):
                continue
            ev = b.ev_of(p, key)
            if ev is None:
                first[key] = value  # a note of the drafting itself ('_before'), not a fact with its words
            else:
                b.put(first, key, value, ev.start, ev.end, ev.rule, ev.confidence)
    b.procedures[:] = keep


# A biopsy and the operation it was taken through: 'biopsied through a lateral orbitotomy', 'a biopsy was taken by
# way of an anterior orbitotomy'. ('An orbitotomy with biopsy of the mass' names two acts and stays two.)
_BIOPSY_THEN_WAY = re.compile(
    r"^\s*(?:(?:was|were)\s+)?(?:(?:again|also|then)\s+)?(?:(?:taken|done|performed|obtained)\s+)?"
    r"(?:through|via|by\s+way\s+of|by\s+means\s+of)\s+(?:a|an|the)\s+(?:[a-z-]+\s+)?$",
    re.I,
)


def _merge_biopsy_through(b: CaseDraft) -> None:
    """A bare biopsy told as taken through a named operation: one procedure, the operation, named with its biopsy.
    A biopsy told on its own beside an operation stays a procedure."""
    drop = []
    told_in: dict[int, list[dict[str, Any]]] = {}  # sentence -> the procedures named in it, in order
    for q in b.procedures:
        qv = b.ev_of(q, "name")
        if qv is not None:
            told_in.setdefault(qv.sentence, []).append(q)
    for p in b.procedures:
        ev = b.ev_of(p, "name")
        if p["_kind"] != "biopsy" or fold(p["name"]) != "biopsy" or ev is None or "status" in p:
            continue
        for q in told_in.get(ev.sentence, ()):
            qv = b.ev_of(q, "name")
            if q is p or q["_kind"] != "surgery" or qv is None or qv.sentence != ev.sentence or "status" in q:
                continue
            joined = ev.end <= qv.start and _BIOPSY_THEN_WAY.match(b.text[ev.end : qv.start])
            if not joined or fold(q["name"]).endswith(" with biopsy"):
                continue
            b.put(
                q,
                "name",
                f"{q['name']} with biopsy",
                qv.start,
                qv.end,
                qv.rule,
                qv.confidence,
                overwrite=True,
            )
            for key, value in p.items():
                if key in q or key in ("id", "name", "_sentence", "_header", "_concept", "_kind"):
                    continue
                pv = b.ev_of(p, key)
                if pv is None:
                    q[key] = value
                else:
                    b.put(q, key, value, pv.start, pv.end, pv.rule, pv.confidence)
            drop.append(p)
            break
    if drop:
        gone = {id(d) for d in drop}
        b.procedures[:] = [p for p in b.procedures if id(p) not in gone]
        b.evidence[:] = [e for e in b.evidence if id(e.item) not in gone]


def _merge_generic(b: CaseDraft) -> None:
    """A generic surgery said of an organ ('operated on for a carcinoma of the breast', 'the colonic resection')
    and one named surgery of that organ in the story ('a modified radical mastectomy', 'a right hemicolectomy'):
    one surgery, under its precise name, unless their times tell them apart."""
    keep: list[dict[str, Any]] = []
    for p in b.procedures:
        named = []
        if p["_kind"] == "surgery" and fold(p["name"]) in _GENERIC_TREATMENT and p.get("body_site"):
            named = [
                q
                for q in b.procedures
                if q is not p
                and q["_kind"] == "surgery"
                and fold(q["name"]) not in _GENERIC_TREATMENT
                and q.get("status") == p.get("status")
                and _organ_of(b, q) == p["body_site"]
                and all(
                    q.get(k) == p.get(k)
                    for k in ("date", "relative", "between", "laterality")
                    if k in q and k in p
                )
                and (q["_sentence"] != p["_sentence"] or _means_of(b, p, q))
            ]
        if len(named) != 1:
            keep.append(p)
            continue
        q = named[0]
        for key, value in p.items():
            if key in q or key in ("id", "name", "_sentence", "_header", "_concept"):
                continue
            if key == "body_site" and not _organ_removed(b, fold(q["name"]).split()):
                continue  # a mastectomy's site is the primary's; a hemicolectomy says its own
            ev = b.ev_of(p, key)
            if ev is None:
                q[key] = value
            else:
                b.put(q, key, value, ev.start, ev.end, ev.rule, ev.confidence)
    b.procedures[:] = keep


# 'within a year of surgery', 'after its radical operation', 'the operation': an operation pointed at, not a new one
_POINTED_AT = re.compile(
    r"\b(?:(?:the|this|that|her|his|its|their)\s+(?:[a-z]+\s+)?|(?:after|before|following|since|until|of)\s+)$",
    re.I,
)


def _merge_generic_named_later(b: CaseDraft) -> None:
    """A bare 'surgery' or 'operation' told before the story names the operation: 'recurred within a year of its
    radical operation' in a summary, then 'she had a total mastectomy'; 'she asked for an operation. A left
    mastectomy followed'. The bare word pointed at an operation (or the next sentence names it) is that
    operation, when the story names one and nothing (a site, a time, a plan, one told looking back and the other
    not) tells them apart."""
    named = [
        q
        for q in b.procedures
        if q["_kind"] == "surgery" and fold(q["name"]) not in _GENERIC_TREATMENT and "status" not in q
    ]
    if not named:
        return
    drop = []
    for p in b.procedures:
        ev = b.ev_of(p, "name")
        if (
            ev is None
            or fold(p["name"]) not in ("surgery", "operation")
            or any(k in p for k in ("status", "body_site", "date", "between"))
        ):
            continue
        pointed = _POINTED_AT.search(b.text[max(0, ev.start - 25) : ev.start])
        back = b.flashback[ev.sentence] or b.flashback_at(ev.start)
        after = [
            qv
            for q in named
            if (qv := b.ev_of(q, "name")) is not None
            and qv.start > ev.end
            and (b.flashback[qv.sentence] or b.flashback_at(qv.start)) == back
        ]  # 'had been treated with surgery and radiotherapy' looks back; 'she had a pancreatectomy' does not
        if any(qv.sentence in _story_from(b, ev.sentence, 3) for qv in after) or (pointed and after):
            drop.append(p)
    if drop:
        b.procedures[:] = [p for p in b.procedures if all(p is not d for d in drop)]
        b.evidence[:] = [e for e in b.evidence if all(e.item is not d for d in drop)]


def _story_from(b: CaseDraft, i: int, count: int) -> list[int]:
    """Sentence i and the next story sentences after it, `count` in all."""
    out = [i]
    for j in range(i + 1, len(b.sentences)):
        if len(out) == count:
            break
        if b.in_story(j):
            out.append(j)
    return out


def _merge_generic_retold(b: CaseDraft) -> None:
    """One operation told in a summary and again in the story ('a carcinoma ... that was treated with surgery';
    'She had an operation, after which the proptosis went away'): generic words with nothing telling them apart
    (a date, a time, a site, or 'again', 'a second', 'another' before the later one) name one operation."""
    keep: list[dict[str, Any]] = []
    for p in b.procedures:
        first = None
        ev = b.ev_of(p, "name")
        if fold(p["name"]) == "surgery" and "status" not in p and ev is not None:
            again = _AGAIN_BEFORE.search(b.text[max(0, ev.start - 30) : ev.start])
            first = (
                None
                if again
                else next(
                    (
                        q
                        for q in keep
                        if fold(q["name"]) == "surgery"
                        and "status" not in q
                        and all(
                            q.get(k) == p.get(k)
                            for k in ("date", "relative", "between", "body_site")
                            if k in q and k in p
                        )
                        and not any(k in q and k in p for k in ("date", "relative", "between"))
                    ),
                    None,
                )
            )
        if first is None:
            keep.append(p)
            continue
        for key, value in p.items():
            if key in first or key in ("id", "name", "_sentence", "_header", "_concept"):
                continue
            e = b.ev_of(p, key)
            if e is None:
                first[key] = value
            else:
                b.put(first, key, value, e.start, e.end, e.rule, e.confidence)
    b.procedures[:] = keep


# 'operated on again', 'a second operation', 'another surgery', 'further surgery', 'a repeat operation'
_AGAIN_BEFORE = re.compile(
    r"\b(?:second|another|further|repeat|new|third|revision|again)\s+(?:\w+\s+)?$", re.I
)


def _means_of(b: CaseDraft, generic: dict[str, Any], named: dict[str, Any]) -> bool:
    """Whether a named surgery is how the generic one of its sentence was done ('operated on for a carcinoma
    of the breast by modified radical mastectomy', 'surgery: a lumpectomy'), not the next item of a list
    ('breast-conserving surgery on the left, excision of a mass of the right breast')."""
    g, n = b.ev_of(generic, "name"), b.ev_of(named, "name")
    if g is None or n is None or n.start < g.end:
        return False
    return bool(_BY_MEANS.search(b.text[g.end : n.start])) and not re.search(r"[;]", b.text[g.end : n.start])


# the words that bring in how an operation was done: 'by', 'with', 'through', 'namely', a colon or a bracket
_BY_MEANS = re.compile(r"(?:\b(?:by|with|through|via|namely)\s+(?:an?\s+|the\s+)?|[:(]\s*(?:an?\s+)?)$", re.I)


def _same_surgery(q: dict[str, Any], p: dict[str, Any]) -> bool:
    """Whether two tellings name one surgery: the same name, or one more precise ('radical mastectomy' for
    'mastectomy'), with no date, site or span that tells them apart."""
    a, c = sorted((fold(q["name"]), fold(p["name"])), key=len)
    if not (a == c or c.endswith(" " + a)) or q["_kind"] != "surgery" or "status" in q:
        return False
    return all(q.get(key) == p.get(key) for key in ("date", "body_site", "between") if key in q and key in p)


def _same_radiotherapy(q: dict[str, Any], p: dict[str, Any]) -> bool:
    """Whether two tellings name one radiotherapy: 'radiotherapy to the orbit' in the summary and in the case, with
    the same site and side and no time, dose or status that tells them apart."""
    if q["_kind"] != "radiotherapy" or fold(q["name"]) != fold(p["name"]) or "status" in q:
        return False
    if q.get("body_site") != p.get("body_site") or q.get("laterality") != p.get("laterality"):
        return False
    return all(
        q.get(key) == p.get(key)
        for key in ("date", "relative", "between", "dose_gy", "fractions", "intent")
        if key in q or key in p
    )


def _anaphora(b: CaseDraft, m: Mention) -> bool:
    """'the orbital biopsy' after 'a biopsy of the tissue': the same biopsy, now named precisely."""
    if not re.search(r"\b(?:the|this|that)\s+(?:\w+\s+)?$", b.text[max(0, m.start - 12) : m.start], re.I):
        return False
    kind = m.target.concept.kind if m.target.concept else None
    earlier = [p for p in b.procedures if p["_kind"] == kind and p["_sentence"] < m.sentence]
    if not earlier:
        return False
    same = [p for p in earlier if fold(p["name"]) == fold(m.target.term)]
    if same:
        return (
            True  # 'the punch biopsy of the skin' after 'a punch biopsy' and another biopsy: the punch biopsy
        )
    first = earlier[-1]
    if first["name"] in ("biopsy", "surgery", "excision") and fold(m.target.term) != first["name"]:
        ev = b.ev_of(first, "name")
        first["name"] = m.target.term
        if ev is not None:
            ev.value = m.target.term
        site = _site_in_name(b, m.target.term)
        if site and "body_site" not in first:
            b.put(first, "body_site", site, m.start, m.end, "site-in-procedure-name", 0.7)
    return True


def _site_in_name(b: CaseDraft, name: str) -> str | None:
    """The site a procedure's own name holds: 'breast biopsy', 'orbital biopsy', 'scalp punch biopsy'."""
    aliases = _site_vocabulary(b)[0]
    words = fold(name).split()
    for word in words:
        word = aliases.get(word, word)
        concept = b.terminology.lookup("body_sites", word)
        if concept is not None:
            return "breast" if concept.kind == "breast" else concept.terms[0]
    return _organ_removed(b, words)


_ECTOMY = re.compile(r"^([a-z]{3,}?)o?ectom(?:y|ies)$")
# a puncture or a fusion of the part its stem names: 'pericardiocentesis' of the pericardium, 'pleurodesis' of the
# pleura (a stem of five letters at least: 'para-' in 'paracentesis' names no part)
_PUNCTURE_OR_FUSION = re.compile(r"^([a-z]{5,}?)o?(?:centes[ie]s|des[ie]s)$")


def _organ_removed(b: CaseDraft, words: list[str]) -> str | None:
    """The organ an '-ectomy' takes out, by its stem and the site words of the maps that share it: a gastrectomy
    takes the stomach ('gastric'), a thymectomy the thymus, a transverse colectomy the transverse colon."""
    taken = _organ_taken(b, words)
    if taken is None or taken[0] == "breast":
        return None  # a mastectomy's or a lumpectomy's site is the primary's, told by its side
    if len(words) > 1:
        qualified = _site_term(b, f"{words[-2]} {taken[1]}")  # 'transverse colectomy': the transverse colon
        if qualified is not None:
            return qualified
    return taken[0]


def _organ_of(b: CaseDraft, item: dict[str, Any]) -> str | None:
    """The organ a surgery was on: its body site, else the organ its name takes out (a mastectomy's is the
    breast), else the site its name holds."""
    if item.get("body_site"):
        return item["body_site"]
    words = fold(item["name"]).split()
    if words and words[-1].startswith("hemi") and len(words[-1]) > 12:
        words[-1] = words[-1][4:]  # 'hemicolectomy', 'hemihepatectomy': half of the colon, of the liver
    taken = _organ_taken(b, words)
    if taken:
        return taken[0]
    if is_breast_operation(b, item["name"]):
        return "breast"
    return _site_in_name(b, item["name"])


def is_breast_operation(b: CaseDraft, name: str) -> bool:
    """Whether a procedure's map coding says it is on the breast: 'mastectomy' is coded as an excision of breast
    tissue, and 'modified radical mastectomy' is a kind of 'mastectomy'."""
    words = fold(name).split()
    for k in range(len(words)):
        concept = b.terminology.lookup("procedures", " ".join(words[k:]))
        if concept is not None and any("breast" in fold(c.display or "") for c in concept.codings):
            return True
    return False


def _organ_taken(b: CaseDraft, words: list[str]) -> tuple[str, str] | None:
    """The organ an '-ectomy' takes out, the breast included; 'hemi-' says only how much of it."""
    last = (_ECTOMY.match(words[-1]) or _PUNCTURE_OR_FUSION.match(words[-1])) if words else None
    if last is None:
        return None
    stem = last.group(1)
    aliases, names = _site_vocabulary(b)
    found = sorted((n for n in names if n.startswith(stem)), key=len)
    if not found:
        return None
    site = _site_term(b, aliases.get(found[0], found[0]))
    return (site, found[0]) if site is not None else None


_VOCABULARY: dict[tuple[int, int], tuple[Any, Any, dict[str, str], frozenset[str], frozenset[str]]] = {}


def _site_vocabulary(b: CaseDraft) -> tuple[dict[str, str], frozenset[str]]:
    """The rules' aliases and the one-word site names of the maps and rules, built once per maps and rules (a
    long text asks for them once per procedure)."""
    key = (id(b.terminology), id(b.rules))
    cached = _VOCABULARY.get(key)
    if cached is None or cached[0] is not b.terminology or cached[1] is not b.rules:
        aliases = {fold(k): fold(v) for k, v in b.rules["aliases"].items()}
        names = set(b.terminology.domains.get("body_sites", {})) | set(
            b.terminology.domains.get("secondary_cancers", {})
        )
        targets = frozenset(fold(w) for w in b.rules["targets"]["SITE"])
        names |= targets
        cached = (b.terminology, b.rules, aliases, frozenset(n for n in names if " " not in n), targets)
        _VOCABULARY[key] = cached
    return cached[2], cached[3]


def _site_targets(b: CaseDraft) -> frozenset[str]:
    _site_vocabulary(b)
    return _VOCABULARY[(id(b.terminology), id(b.rules))][4]


def _site_term(b: CaseDraft, word: str) -> str | None:
    aliases = _site_vocabulary(b)[0]
    word = aliases.get(word, word)
    for domain in ("secondary_cancers", "body_sites"):
        concept = b.terminology.lookup(domain, word)
        if concept is not None:
            return "breast" if concept.kind == "breast" else concept.terms[0]
    if word in _site_targets(b):
        return word
    return None


def _sampled_sites(b: CaseDraft, m: Mention, item: dict[str, Any]) -> list[Mention]:
    """'Biopsies were taken through the nose and from the left breast': the sites a plural biopsy sampled, each
    brought in by its own 'from', 'of' or 'through' in the biopsy's clause; one biopsy per site."""
    if item["_kind"] != "biopsy" or not re.search(r"(?:ies|s)$", m.text, re.I):
        return []
    end = b.sentences[m.sentence][1]
    stop = re.search(r"[;:]|,\s*(?:and|but)\s+(?!from\b|of\b|through\b)", b.text[m.end : end])
    end = m.end + stop.start() if stop else end
    found = [
        x
        for x in b.in_sentence(m.sentence)
        if (x.label == "SITE" or (x.label == "PRIMARY" and b.is_breast(x)))
        and m.end <= x.start < end
        and re.search(r"\b(?:from|of|through|in)\s+(?:the\s+|her\s+|his\s+)?(?:left\s+|right\s+)?$",
                      b.text[max(m.end, x.start - 25) : x.start], re.I)
    ]  # fmt: skip
    return found if len(found) > 1 else []


def _removed_sites(b: CaseDraft, m: Mention) -> list[Mention]:
    """'metastases in the uterus and the stomach that had been removed surgically': the sites removed."""
    head_start = b.clause_start(m.start)
    between = b.text[head_start : m.start]
    if not re.search(r"\b(?:that|which)\s+(?:had\s+been|have\s+been|were|was)\s*$", between, re.I):
        return []
    return [
        x for x in b.in_sentence(m.sentence, "SITE") if head_start <= x.start < m.start and not b.is_breast(x)
    ]


def _procedure_site(b: CaseDraft, m: Mention, item: dict[str, Any]) -> None:
    if item["_kind"] not in ("biopsy", "surgery", "radiotherapy", "ablation"):
        return
    named = _site_in_name(b, m.target.term)
    if named:
        b.put(item, "body_site", named, m.start, m.end, "site-in-procedure-name", 0.7)
        return
    linked = None
    # the breast named as the primary ('her breast cancer had been resected') is a site too
    named = [
        x for x in b.in_sentence(m.sentence) if x.label == "SITE" or (x.label == "PRIMARY" and b.is_breast(x))
    ]
    for x in named:
        gap = b.text[m.end : x.start]
        if x.start >= m.end and _LINKS_SITE.fullmatch(gap) and x.start - m.end < 40:
            if item["_kind"] != "surgery" and re.search(r"\b(?:carcinoma|cancer)s?\b", gap, re.I):
                continue  # 'chemoradiation for carcinoma of the breast': given for the disease, not aimed at the organ
            linked = x
            break
        if (
            x.end <= m.start
            and re.fullmatch(r"\s*(?:\w+\s+)?", b.text[x.end : m.start])
            and m.start - x.end < 15
        ):
            linked = x  # 'a scalp biopsy', 'orbital radiotherapy'
        if x.end <= m.start and _SUBJECT_SITE.match(b.text[x.end : m.start]):
            linked = x  # 'the orbit was treated with palliative radiation therapy'
        if x.end <= m.start and _SUBJECT_OF_PARTICIPLE.fullmatch(b.text[x.end : m.start]):
            linked = x  # 'her breast cancer had been resected': the procedure is the participle itself
    if linked is None and _OF_IT.match(b.text[m.end : m.end + 30]):
        # 'Ultrasound of the left breast found a mass; a biopsy of it showed ...': the site told just before
        before = [x for x in named if x.end <= m.start]
        if not before and m.sentence > 0 and b.in_story(m.sentence - 1):
            prev = b.in_sentence(m.sentence - 1)
            before = [x for x in prev if x.label == "SITE" or (x.label == "PRIMARY" and b.is_breast(x))]
        if before:
            linked = before[-1]
    removed = _removed_sites(b, m) or _sampled_sites(b, m, item)
    if removed:
        linked = removed[0]
        for x in removed[1:]:
            # one operation per site removed
            other = {k: v for k, v in item.items() if k.startswith("_")}
            other["id"] = f"{item['id']}-{len(b.procedures) + 2}"
            b.put(other, "name", item["name"], m.start, m.end, "procedure-term")
            site = "breast" if b.is_breast(x) else x.target.term
            b.put(other, "body_site", site, x.start, x.end, "site-removed", 0.6)
            b.procedures.append(other)
    # 'the tumour was removed', 'the tumour and the adherent loops were resected': the lesion told before
    subject = re.search(r"\bthe\s+(?:tumou?r|lesion|mass|nodule)s?(?:\s+and\s+(?:the\s+)?[\w-]+(?:\s+[\w-]+){0,2}?)?\s+"
                        r"(?:was|were)\s+(?:\w+\s+)?$", b.text[b.clause_start(m.start) : m.start], re.I)  # fmt: skip
    # 'An exploratory craniotomy was performed, and histopathology showed a metastasis in the skull base': the
    # operation's specimen is the metastasis its own sentence reports
    # ('at operation the tumour was seen to arise from the dura'): what the operation found is where it was
    reported = None
    if item["_kind"] == "surgery" and _organ_of(b, item) != "breast":
        # (a mastectomy's specimen is the primary's, and the nodes in it are regional)
        specimen = _REPORTS_SPECIMEN.search(b.text[m.end : b.sentences[m.sentence][1]])
        if fold(item["name"]) in _GENERIC_TREATMENT and _FOUND_AT.search(
            b.text[max(b.sentences[m.sentence][0], m.start - 12) : m.start]
        ):
            reported = m.end  # a named operation ('at laparotomy') says its own way in
        elif specimen:
            reported = m.end + specimen.start()
    if linked is None and reported is not None:
        after = [x for x in b.in_sentence(m.sentence, "SITE") if x.start > reported]
        met = next((b.mets[k] for x in after for k in b.met_keys_in(m.sentence)
                    if fold(b.mets[k]["site"]).endswith(fold(x.target.term))
                    or fold(b.mets[k]["site"]) == (_site_term(b, fold(x.target.term)) or "")), None)  # fmt: skip
        if met is not None:
            b.put(item, "body_site", met["site"], m.start, m.end, "site-of-specimen", 0.6)
            return
    if linked is None and (item["_kind"] == "biopsy" or subject):
        here = [b.mets[k] for k in b.met_keys_in(m.sentence)]
        focus = here[-1] if here else (b.focus[m.sentence] if m.sentence < len(b.focus) else None)
        report = _SHOWED_PRIMARY.match(b.text[m.end : b.sentences[m.sentence][1]])
        if (
            item["_kind"] == "biopsy"
            and report is not None
            and (
                focus is b.primary
                # 'a suspicious lesion in her right breast; the biopsy showed a lobular carcinoma': the sentence
                # names the breast before the biopsy and no metastasis
                or (not here and any(b.is_breast(x) and x.end <= m.start for x in b.in_sentence(m.sentence)))
                or any(
                    x.label in ("PRIMARY", "SITE")
                    and b.is_breast(x)
                    and _OF_THE_BREAST.fullmatch(b.text[m.end + report.end() : x.start])
                    for x in b.in_sentence(m.sentence)
                    if m.end + report.end() <= x.start
                )
            )
        ):
            # 'A biopsy showed an invasive lobular carcinoma', 'a biopsy found a carcinoma of the right breast': a
            # biopsy of the breast cancer, which its own clause reports
            b.put(item, "body_site", "breast", m.start, m.end, "biopsy-of-the-primary", 0.5)
        elif focus is not None and focus is not b.primary:
            b.put(item, "body_site", focus["site"], m.start, m.end, "site-in-focus", 0.5)
        return
    if linked is None and fold(item["name"]) in _GENERIC_TREATMENT:
        linked = _only_lesion_site(b, m)
    if linked is None:
        return
    if b.is_breast(linked):
        # 'a biopsy of the breast mass', 'an operation for cancer of her right breast': the name says no site
        if (item["_kind"] in ("biopsy", "radiotherapy") or fold(item["name"]) in _GENERIC_TREATMENT) and (
            "breast" not in m.text.lower()
        ):
            b.put(item, "body_site", "breast", linked.start, linked.end, "site-linked", 0.6)
        return
    if "breast" in m.text.lower():
        return
    b.put(item, "body_site", linked.target.term, linked.start, linked.end, "site-linked", 0.7)
    key = fold(linked.target.term).replace(" ", "-")
    if key in b.mets and item["_kind"] != "biopsy":
        item["treats"] = [key]


# what a biopsy's own clause reports, with no metastasis named: 'showed a grade II lobular carcinoma', 'found an
# invasive ductal carcinoma', 'and is an invasive ductal carcinoma'
_SHOWED_PRIMARY = re.compile(
    r"^[^;:]{0,40}?\b(?:showed|revealed|found|confirmed|proved|gave|is|was)\s+(?:an?\s+|the\s+)?(?![^;.]*\bmetasta)"
    r"(?:[\w-]+\s+){0,4}?(?:carcinoma|cancer|adenocarcinoma)\b",
    re.I,
)
_OF_THE_BREAST = re.compile(r"\s+(?:of|in)\s+(?:the|her|his)\s+(?:left\s+|right\s+)?", re.I)
# a procedure of a thing told before: 'a biopsy of it', 'biopsies of them', 'an excision of this'
_OF_IT = re.compile(r"^\s+(?:of|from)\s+(?:it|them|this|that|these)\b", re.I)
# the operation as the time something was found: 'At operation, ...', 'during surgery', 'at laparotomy'
_FOUND_AT = re.compile(r"\b(?:at|during)\s+(?:the\s+)?$", re.I)
_REPORTS_SPECIMEN = re.compile(
    r"\b(?:histolog|histopatholog|patholog|immunohistochemi)\w*\s+(?:\w+\s+){0,3}?(?:showed|revealed|confirmed|found)\b",
    re.I,
)
# Names that say nothing of where: 'she had an operation', 'he received radiotherapy'.
_GENERIC_TREATMENT = {"surgery", "operation", "resection", "internal fixation", "radiotherapy", "excision"}


def _only_lesion_site(b: CaseDraft, m: Mention) -> Mention | None:
    """'Radiographs showed a fracture of the right femur, and she had an operation': the one site of the
    sentence's lesion, before the treatment in its own sentence, is where the treatment was."""
    s0 = b.sentences[m.sentence][0]
    before = [x for x in b.in_sentence(m.sentence, "SITE") if x.end <= m.start and not b.is_breast(x)]
    if len(before) != 1 or any(x.label == "PROCEDURE" and x is not m for x in b.in_sentence(m.sentence)):
        return None
    x = before[0]
    if not re.search(
        r"\b(?:lesions?|mass|tumou?r|nodules?|fracture|metastas[ie]s|deposits?)\b", b.text[s0 : m.start], re.I
    ):
        return None
    if not re.search(
        r",?\s*and\s+(?:she|he|the patient)\s+(?:had|underwent|received|was given)\b",
        b.text[x.end : m.start],
        re.I,
    ):
        return None
    return x


def _timing(b: CaseDraft, item: dict[str, Any], m: Mention) -> None:
    i = m.sentence
    text = b.sent_text(i)
    s0 = b.sentences[i][0]
    between = values.between(text)
    if between:
        b.put(item, "between", between.value, s0 + between.start, s0 + between.end, "between-years", 0.8)
        return
    if b.flashback_at(m.start) and item.get("_kind", "drug") in ("surgery", "drug"):
        lo, hi = b.clause_chain(m.start)
        fronted = [(a, c) for a, c, _ in b.clauses.get(i, ()) if c <= lo and INTERVAL.search(b.text[a:c])]
        if fronted and re.fullmatch(r"[\s,]*", b.text[fronted[-1][1] : lo]):
            a, c = fronted[-1]
            if INTERVAL.fullmatch(b.text[a:c].strip(" ,\n")):
                lo = a  # 'Twelve years before, she had had a mastectomy': the time phrase put before its clause
        for iv in INTERVAL.finditer(b.text[lo:hi]):
            how = iv.group(3).lower()
            if how in ("before", "after", "prior to") and _ANCHOR_GAP.fullmatch(
                b.text[lo + iv.end() : m.start]
            ):
                continue  # 'two years before the colonic resection': the resection is what the interval counts from
            if how in ("before", "earlier", "ago", "previously") or how.startswith("prior"):
                item["_before"] = (interval_of(iv), lo + iv.start(), lo + iv.end())
                return
    # 'anastrozole, which she took until 2009', 'stable on hormonal treatment until 2016': the end of a course
    d = [x for x in values.dates(text) if not values.ends_span(text, x.start)]
    # a date given to another procedure of the sentence is this one's too ('mastectomy with axillary dissection')
    taken = {ev.start for ev in b.evidence if ev.field == "date" and ev.item not in b.procedures}
    # 'In June 2010 the disease progressed, with new lesions in the lungs, and she was started on tamoxifen':
    # the date of the progression is the date the drug was started too
    started = item in b.meds and _STARTED_IN_CLAUSE.search(b.text[b.clause_start(m.start) : m.start])
    # a biopsy is done when the cancer it samples is found: 'In June 2001 a mammogram found a lesion; the biopsy
    # showed a lobular carcinoma' dates the biopsy with the cancer
    sampled = item.get("_kind") == "biopsy" and not b.flashback_at(m.start)
    if d and (
        (s0 + d[0].start) not in taken or started or sampled or _with_a_dated_operation(b, item, m, d[0])
    ):
        b.put(item, "date", d[0].value, s0 + d[0].start, s0 + d[0].end, "date-in-sentence", 0.6)


def _with_a_dated_operation(b: CaseDraft, item: dict[str, Any], m: Mention, date: values.Found) -> bool:
    """'In 2017 she had a mastectomy, then chemotherapy with epirubicin': a drug told after an operation the sentence
    dates is part of that treatment, and shares its date even where the diagnosis holds it too."""
    if item.get("_kind") is not None:
        return False  # a procedure: dated by its own sentence already
    s0 = b.sentences[m.sentence][0]
    for p in b.procedures:
        ev, name = b.ev_of(p, "date"), b.ev_of(p, "name")
        if (
            "date" in p
            and ev is not None
            and ev.start == s0 + date.start
            and name
            and s0 <= name.start < m.start
        ):
            return True
    return False


# between an interval's 'before'/'after' and the event it counts from: 'two years before the (colonic) resection'
_ANCHOR_GAP = re.compile(r"\s+(?:the|her|his|a|an)\s+(?:[\w-]+\s+){0,2}", re.I)


def treatment_timing(b: CaseDraft) -> None:
    """A surgery or a drug told 'five years earlier' is timed before the metastasis the patient presented with."""
    _before_presentation(b, b.procedures + b.meds)


def _before_presentation(b: CaseDraft, items: list[dict[str, Any]]) -> None:
    first = b.presenting_met()
    for item in items:
        before = item.pop("_before", None)
        if before and first is not None and "relative" not in item and "date" not in item:
            interval, start, end = before
            b.put(item, "relative", {"to": first["id"], "before": interval}, start, end,
                  "interval-before-presentation", 0.7)  # fmt: skip


# A drug named as the cause of a finding, not as a course given: 'changes caused by tamoxifen', 'put down to
# a tamoxifen effect', 'tamoxifen-induced polyps', 'a steroid-related ulcer'.
_A_CAUSE = re.compile(
    r"\b(?:caused|induced|brought\s+on|provoked)\s+by\s+(?:the\s+|her\s+|his\s+|a\s+|an\s+)?$", re.I
)
_AN_EFFECT = re.compile(r"^(?:-(?:induced|related|associated)\b|\s+effects?\b)", re.I)


def read_medications(b: CaseDraft) -> None:
    """Every drug or therapy class of the story, with its status, intent, line, cycles, dose, route, response."""
    drugs = [m for m in b.mentions if m.label == "DRUG" and not _short_lowercase_regimen(m)]
    drugs = [m for m in drugs if not _spelt_out(b, m) and not _abbreviates_drugs_before(b, m)]
    carried: list = []  # details of a class named with its drugs, for those drugs
    # (a drug the retelling says a lesion answered stays: its response is merged into the course told later)
    retold = retold_later(
        b, [m for m in drugs if not _RESPONDED_TO_DRUG.search(b.text[max(0, m.start - 40) : m.start])]
    )
    for k, m in enumerate(drugs):
        if id(m) in retold:
            continue  # named where the report retells its case, and drafted where the story tells the course
        concept = m.target.concept
        if _retold_after(b, m):
            continue  # 'Our patient ... later received trastuzumab with chemotherapy': the courses told already
        if m.negated and _status(b, m, "intended", "not-taken") != ("not-taken", "refused-words"):
            b.add_review(m.text, "a drug ConText reads as negated", m.start, m.end)
            continue
        if _A_CAUSE.search(b.text[max(0, m.start - 30) : m.start]) or _AN_EFFECT.match(
            b.text[m.end : m.end + 20]
        ):
            continue  # 'cysts caused by tamoxifen', 'a tamoxifen effect': what a finding was put down to
        nxt = drugs[k + 1] if k + 1 < len(drugs) else None
        if concept is not None and not concept.codings and nxt is not None and nxt.sentence == m.sentence:
            gap = b.text[m.end : nxt.start]
            kin = (
                nxt.target.concept is not None
                and nxt.target.concept.kind in (concept.kind, None)
                or concept.kind == "other"
                or (
                    concept.kind == "chemotherapy" and _is_regimen(nxt)
                )  # 'chemotherapy, three cycles of FEC'
            )
            together = re.search(
                r"\b(?:given|together|combined|along|accompanied)\s+(?:with|by)\b", gap, re.I
            )
            # 'adjuvant systemic treatment, radiotherapy and tamoxifen': a treatment listed between is a course of
            # its own, and so is the drug after it
            procedure_between = any(
                x.label == "PROCEDURE" for x in b.in_sentence(m.sentence) if m.end <= x.start < nxt.start
            )
            if (
                kin
                and not together
                and not procedure_between
                and (
                    _CLASS_GAP.match(gap)
                    or (":" in gap and not re.search(r"[;.]", gap))
                    or _CLASS_CLAUSE_WITH.match(gap)
                )
            ):
                # a class named with its drugs: 'hormonal therapy fulvestrant', 'adjuvant chemotherapy, each
                # with 5-fluorouracil ...': its intent and cycles are the drugs'
                # (a radiotherapy's intent reaches the class listed after it, not through it to the drug the
                # class names: 'palliative radiotherapy and hormonal therapy with megestrol')
                intent = b.intent(m) or _listed_intent(b, m, through_radiotherapy=False)
                cycles = values.cycles(b.text[max(b.sentences[m.sentence][0], m.start - 30) : m.start])
                carried.append((m.sentence, nxt.start, intent, cycles, m))
                continue
        if (
            concept is not None
            and not concept.codings
            and _AS_ROLE.search(b.text[b.sentences[m.sentence][0] : m.start])
            and any(d.sentence == m.sentence and d.end <= m.start for d in drugs[:k])
        ):
            continue  # '... was started as the first line of palliative systemic treatment': the drug's role
        name = m.target.term
        intent = (
            b.intent(m)
            or _listed_intent(b, m)
            or _intent_after(b, m)
            or _intent_told_before(b, m)
            or _before_the_operation(b, m)
        )
        line = None
        lm = re.search(r"\b(\w+)[- ]line\s*$", b.text[max(0, m.start - 20) : m.start], re.I)
        if lm and lm.group(1).lower() in b.rules["lines"]:
            line = b.rules["lines"][lm.group(1).lower()]
        after = _LINE_AFTER.match(b.text[m.end : b.sentences[m.sentence][1]])
        if line is None and after and after.group(1).lower() in b.rules["lines"]:
            line = b.rules["lines"][
                after.group(1).lower()
            ]  # 'fulvestrant with a CDK4/6 inhibitor as first-line treatment'
        before = _LINE_OPENS.match(b.text[b.sentences[m.sentence][0] : m.start])
        if line is None and before and before.group(1).lower() in b.rules["lines"]:
            line = b.rules["lines"][before.group(1).lower()]  # 'In the third line, she received X and Y'
        if line is None:
            line = _line_of_a_list(b, m, drugs)  # 'first-line chemotherapy with X and Y'
        naming = _Naming.of(b, m)
        # the course that goes on is the latest one told, else the first: the first that is the same course,
        # looked for from the end or from the start
        told = reversed(b.meds) if naming.goes_on else b.meds
        item = next(
            (x for x in told if x["name"] == name and _same_course(b, x, m, intent, line, naming)), None
        )
        if item is not None:
            if item.get("status") == "intended" and naming.goes_on:
                # 'Chemotherapy was planned. ... he stayed on chemotherapy': the plan was carried out
                del item["status"]
                b.evidence[:] = [e for e in b.evidence if not (e.item is item and e.field == "status")]
        else:
            item = {"_sentence": m.sentence}
            b.put(item, "name", name, m.start, m.end, "drug-term")
            b.meds.append(item)
            if (concept is None or concept.codings) and _RESPONDED_TO_DRUG.search(
                b.text[max(0, m.start - 40) : m.start]
            ):  # (a class word, 'shrank under systemic treatment', names no course of its own)
                item["_responded"] = True  # named as what a lesion answered: the course the story tells
        if intent:
            b.put(item, "intent", intent[0], intent[1], m.end, "intent-word", 0.7)
        if line:
            b.put(item, "line", line, m.start - 20, m.end, "line-word", 0.8)
        status = _status(b, m, "intended", "not-taken")
        if status:
            b.put(item, "status", status[0], m.start, m.end, status[1], 0.6)
        text = b.sent_text(m.sentence)
        s0 = b.sentences[m.sentence][0]
        for word in sorted(b.rules["responses"], key=len, reverse=True):
            pos = text.lower().find(word)
            if pos >= 0 and s0 + pos < m.start and _NEW_COURSE_BETWEEN.search(b.text[s0 + pos : m.start]):
                break  # '... brought a complete response, and she then received X': X came after it
            if pos >= 0 and word != "positive response":
                b.put(item, "response", re.sub(r"^good ", "", word), s0 + pos, s0 + pos + len(word),
                      "response-words", 0.6)  # fmt: skip
                for st in b.in_sentence(m.sentence, "STATUS"):
                    if st.start <= s0 + pos + len(word) and st.end >= s0 + pos:
                        b.used_status.add(st.start)
                break
        if item.get("_responded") and _RESPONDED_TO_DRUG.search(b.text[max(0, m.start - 40) : m.start]):
            b.put(item, "response", "responding", m.start, m.end, "responded-to-drug", 0.6)
        _drug_details(b, m, item, drugs)
        for sentence, from_pos, c_intent, c_cycles, c_mention in carried:
            if (
                sentence == m.sentence
                and m.start >= from_pos
                and (
                    not re.search(r"\bthen\b|\bfollowed by\b|;", b.text[c_mention.end : m.start], re.I)
                    or _same_kind(c_mention, m)
                )
            ):  # '..., then radiotherapy, then adjuvant tamoxifen': a course of its own; but 'adjuvant
                # chemotherapy, three cycles of FEC and then three of docetaxel' is one course of the class
                if c_intent:
                    b.put(item, "intent", c_intent[0], c_intent[1], c_mention.end, "intent-of-class", 0.7)
                if c_cycles and (_same_kind(c_mention, m) or not _other_kind(c_mention, m)):
                    # 'six cycles of chemotherapy with C, M and F and was taking tamoxifen': cycles are the
                    # class's drugs', not a drug of another kind told with it
                    b.put(item, "cycles", c_cycles.value, c_mention.start - 30 + c_cycles.start, c_mention.end,
                          "cycles-of-class", 0.7)  # fmt: skip
        _timing(b, item, m)
    _drop_anaphoric_classes(b)
    _intent_of_class_after(b)
    # the drugs are read after treatment_timing ran for the procedures: 'Six months before this admission she had
    # been started on trastuzumab' is timed here the same way; a class word ('chemotherapy') told with an operation
    # years before names how the cancer was treated then, not a course of its own to time
    _before_presentation(b, [x for x in b.meds if (c := _concept(b, x["name"])) is not None and c.codings])
    for item in b.meds:
        item.pop("_before", None)


# The report retelling its own case: 'We report a woman whose metastasis was controlled by endocrine therapy'.
_RETELLING = re.compile(r"^\s*(?:here\s+)?we\s+(?:report|describe|present)\b", re.I)


def _opening_words(b: CaseDraft) -> tuple[int, int]:
    """Where the report's opening words (its title) lie: from the first word after any header to the first blank line."""
    start = len(b.text) - len(b.text.lstrip())
    blank = re.compile(r"\n[ \t]*\n").search(b.text, start)
    if blank is None or blank.start() - start > 400 or re.search(r"[.!?]\s", b.text[start : blank.start()]):
        return start, start  # a first paragraph of sentences tells the case: no title stands apart
    return start, blank.start()


# A sentence that sums up the case after the story has told it: 'Our patient had a mastectomy and later received
# ...', 'In our case the metastasis ...', 'This patient was given ...'.
_SUMS_UP = re.compile(r"^\s*(?:in\s+)?(?:our|this|the\s+present)\s+(?:patient|case|woman|man)\b", re.I)


def _retold_after(b: CaseDraft, m: Mention) -> bool:
    """A drug named again where the report sums up its case, after the story told it: the course already drafted
    (by its name), or a class whose kind a drafted drug already is ('chemotherapy' after vinorelbine)."""
    if not _SUMS_UP.match(b.sent_text(m.sentence)):
        return False
    told = [item for item in b.meds if (ev := b.ev_of(item, "name")) is not None and ev.sentence < m.sentence]
    if any(item["name"] == m.target.term for item in told):
        return True
    concept = m.target.concept
    if concept is None or concept.codings:
        return False
    kinds = {c.kind for item in told if (c := b.terminology.lookup("medications", item["name"])) is not None}
    return concept.kind in kinds


def retold_later(b: CaseDraft, mentions: list[Mention]) -> set[int]:
    """The ids of the mentions of the report's title or of a sentence retelling the case ('Lapatinib alone for a
    skin recurrence', 'We report a woman ... controlled by endocrine therapy') whose term the story names again
    later: one course or status, told where the story reaches it (the title's words date and qualify nothing)."""
    lo, hi = _opening_words(b)

    def retelling(m: Mention) -> bool:
        if lo <= m.start < hi:
            return True
        head = b.text[b.sentences[m.sentence][0] : m.start]
        blank = list(
            re.finditer(r"\n[ \t]*\n", head)
        )  # a paragraph begun inside a sentence run on from a title
        return bool(_RETELLING.match(head[blank[-1].end() :] if blank else head))

    def route(m: Mention) -> str | None:
        said = _BEFORE_DRUG.search(b.text[max(0, m.start - 30) : m.start])
        return said.group(0).strip().lower() if said else None

    out: set[int] = set()
    for k, m in enumerate(mentions):
        if (
            retelling(m)
            and any(
                x.target.term == m.target.term
                and x.sentence != m.sentence
                and not retelling(x)
                and route(x)
                == route(m)  # 'intravenous trastuzumab' retold, 'intrathecal trastuzumab' told: two
                for x in mentions[k + 1 :]
            )
        ):
            out.add(id(m))
    return out


# A clause of its own between a response and a drug named after it, telling a course begun after the response:
# '... brought a complete response, and she then received trastuzumab', '...; letrozole followed'.
_NEW_COURSE_BETWEEN = re.compile(
    r";|\b(?:then|afterwards|subsequently|later|followed\s+by|after\s+(?:that|this|which))\b|"
    r",\s*(?:and\s+|but\s+)?(?:she|he|the\s+patient)\s+(?:\w+\s+)?(?:received|started|began|was\s+given|was\s+put\s+on)\b",
    re.I,
)


# The setting told after the drugs of a clause: 'she received trastuzumab and pertuzumab as maintenance',
# 'letrozole was given as adjuvant treatment'.
# 'palbociclib, a CDK4/6 inhibitor, was started as the first line of palliative systemic treatment'.
_INTENT_AFTER = re.compile(
    r"^(?:,[^,.;]{1,80},)?(?:(?:\s*,|\s+and|\s+plus|\s+with)\s+[\w-]+){0,3}?"
    r"(?:\s+(?:(?:was|were)\s+)?(?:given|continued|used|started|begun|introduced))?"
    r"\s+as\s+(?:an?\s+|the\s+|her\s+|his\s+)?(?:\w+[- ]line\s+(?:of\s+)?(?:the\s+)?)?"
    r"([\w-]+(?:\s+adjuvant)?)\b",
    re.I,
)
# A class named as the role a drug was given in: '... was started as the first line of palliative systemic
# treatment', 'given as adjuvant hormonal therapy': the drug's setting, not a treatment of its own.
_AS_ROLE = re.compile(
    r"\b(?:was|were)\s+(?:given|continued|used|started|begun|introduced)\s+as\s+(?:an?\s+|the\s+)?"
    r"(?:\w+[- ]line\s+(?:of\s+)?(?:the\s+)?)?(?:[\w-]+\s+)?$",
    re.I,
)


# The aim of the treatment said as its own predicate: 'Treatment was palliative, with chemotherapy and
# radiotherapy', 'the aim of her care was now only palliative: ...'.
_AIM_SAID = re.compile(
    r"\b(?:treatment|therapy|management|care|aim|goal|intent(?:ion)?)(?:\s+[\w-]+){0,3}?\s+(?:was|were|is|became|remained)\s+"
    r"(?:now\s+)?(?:purely\s+|only\s+|entirely\s+|solely\s+|mainly\s+)?(palliative|curative)\b",
    re.I,
)


# The aim as a heading of the treatments its colon lists: 'She chose palliative treatment: a pericardial window was made
# and a catheter placed', 'curative surgery: a lobectomy with ...'.
_AIM_HEADS = re.compile(
    r"\b(palliative|curative)\s+(?:[\w-]+\s+)?(?:treatment|therapy|care|management|measures|surgery|approach)\s*:"
    r"[^;:.]*$",
    re.I,
)


def _intent_told_before(b: CaseDraft, m: Mention) -> tuple[str, int] | None:
    """The aim said earlier in the treatment's own sentence ('Treatment was palliative ..., with chemotherapy'), or
    as the heading its colon opens ('She chose palliative treatment: a pericardial window ...')."""
    s0 = b.sentences[m.sentence][0]
    heads = _AIM_HEADS.search(b.text[s0 : m.start])
    if heads is not None:
        return heads.group(1).lower(), s0 + heads.start(1)
    said = _AIM_SAID.search(b.text[s0 : m.start])
    if said is None or re.search(
        r"[;]|\b(?:but|later|then|after)\b", b.text[s0 + said.end() : m.start], re.I
    ):
        return None
    return said.group(1).lower(), s0 + said.start(1)


# A drug course told as given before the operation on the primary: 'Before her operation she was given three
# cycles of FEC', 'she received docetaxel before the mastectomy'. (Not 'before the operation on her liver'.)
_BEFORE_OPERATION = re.compile(
    r"\b(?:before|prior\s+to|ahead\s+of)\s+(?:the\s+|her\s+|his\s+)(?:breast\s+)?(?:operation|surgery|"
    r"mastectomy|lumpectomy|quadrantectomy)\b(?!\s+(?:on|of|for|to)\s+(?:the\s+|her\s+|his\s+)?(?!breast)\w)",
    re.I,
)


def _before_the_operation(b: CaseDraft, m: Mention) -> tuple[str, int] | None:
    """'Before her operation she was given X': a course before the operation on the primary is neoadjuvant, and
    one told as the next step after the operation ('After the operation she was given X') adjuvant, when the
    story tells an operation and the drug's sentence tells no recurrence."""
    s0, s1 = b.sentences[m.sentence]
    clause = b.text[s0:s1]
    said = _BEFORE_OPERATION.search(clause)
    intent = "neoadjuvant"
    if said is None:
        said, intent = _AFTER_OPERATION.match(clause) or _GIVEN_AFTER_OPERATION.search(clause), "adjuvant"
    if said is None or re.search(r"[;]|\b(?:recurr\w*|relaps\w*|metasta\w*)\b", clause, re.I):
        return None
    if not any(p["_kind"] == "surgery" for p in b.procedures):
        return None
    return intent, s0 + said.start()


# A sentence opening with the operation just told, with no time between: 'After the operation she was given
# chemotherapy and radiotherapy', 'Following her mastectomy, she received tamoxifen'. (Not 'Two years after the
# operation ...', nor a sentence that tells a recurrence.)
_AFTER_OPERATION = re.compile(
    r"^\s*(?:after|following)\s+(?:the|her|his|this)\s+(?:operation|surgery|resection|[a-z]+ectomy)\b", re.I
)


# ... or told as given after it, with no time between: 'four more cycles of trastuzumab were given after the
# operation', 'she received letrozole following her mastectomy'. (Not 'two years after the operation'.)
_GIVEN_AFTER_OPERATION = re.compile(
    r"\b(?:given|received|administered|continued|completed|had)\s+(?:\w+\s+){0,3}?(?:after|following)\s+"
    r"(?:the|her|his|this)\s+(?:breast\s+)?(?:operation|surgery|mastectomy|lumpectomy|quadrantectomy)\b"
    r"(?!\s+(?:on|of|for|to)\s+(?:the\s+|her\s+|his\s+)?(?!breast)\w)",
    re.I,
)
# A procedure done for the relief of what the disease caused: '... made to relieve her symptoms', 'done to ease the
# pain', 'for the relief of the obstruction'. Its aim is palliative.
_TO_RELIEVE = re.compile(
    r"^[^.;]{0,80}?\b(?:(?:to|so\s+as\s+to|in\s+order\s+to)\s+(?:\w+ly\s+)?(?:relieve|ease|palliate|alleviate|"
    r"lessen)\b|for\s+(?:the\s+)?(?:relief|palliation)\s+of\b|for\s+(?:symptom|pain)\s+"
    r"(?:relief|control)\b)",
    re.I,
)


def _to_relieve(b: CaseDraft, m: Mention) -> tuple[str, int] | None:
    """'a diverting ileostomy was made to relieve her symptoms': an operation or radiotherapy told as done for the
    relief of what the disease caused is palliative (a purpose said in the procedure's own clause)."""
    said = _TO_RELIEVE.match(b.text[m.end : b.sentences[m.sentence][1]])
    if said is None or re.search(r"[,;]\s*(?:and|but|which|while)\b", said.group(0)):
        return None
    return "palliative", m.end + said.start()


def _intent_after(b: CaseDraft, m: Mention) -> tuple[str, int] | None:
    after = _INTENT_AFTER.match(b.text[m.end : b.sentences[m.sentence][1]])
    if after is None:
        return None
    word = after.group(1).lower()
    if word == "maintenance" or word in b.rules["intents"]:
        word = "neoadjuvant" if word in ("preoperative", "pre-operative") else word
        return ("adjuvant" if word.endswith(" adjuvant") else word), m.end + after.start(1)
    return None


# A drug named as what a lesion answered: 'it answered tamoxifen', 'the deposit responded well to letrozole',
# 'the mass shrank on anastrozole', 'regressed under palbociclib'.
_RESPONDED_TO_DRUG = re.compile(
    r"\b(?:answered|responded|regressed|shrank|shrunk|resolved|disappeared)\s+(?:\w+ly\s+|well\s+)?"
    r"(?:(?:to|on|with|under)\s+)?(?:the\s+|her\s+|his\s+)?$",
    re.I,
)


# What may stand between two treatments of one list: 'adjuvant chemotherapy, radiotherapy and hormonal therapy',
# 'adjuvant doxorubicin and cyclophosphamide and twelve cycles of weekly paclitaxel', '... and five years of
# anastrozole'.
_LIST_GAP = re.compile(
    r"\s*,?\s*(?:and|plus|or|(?:together\s+|combined\s+)?with)?\s*(?:(?:\w+\s+){1,2}(?:cycles?|courses?|years?|months?|weeks?)\s+of\s+)?"
    r"(?:(?:weekly|monthly|daily|oral|intravenous)\s+)?",
    re.I,
)


# an aside in brackets right after a treatment's name: a brand ('cyclophosphamide (Endoxan)'), an abbreviation or
# a dose ('docetaxel (75 mg/m2)'); the list goes on past it
_ASIDE = re.compile(r"^\s*\([^()]{1,40}\)")


def _past_aside(gap: str) -> str:
    """The words between two treatments of a list, without an aside in brackets after the first."""
    return _ASIDE.sub("", gap, count=1)


def _in_aside(b: CaseDraft, m: Mention) -> bool:
    """A name alone in brackets after another: the brand of the drug before it ('cyclophosphamide (Endoxan)')."""
    return bool(re.search(r"\(\s*$", b.text[max(0, m.start - 3) : m.start])) and bool(
        re.match(r"\s*\)", b.text[m.end : m.end + 3])
    )


def _listed_intent(
    b: CaseDraft, m: Mention, depth: int = 0, *, through_radiotherapy: bool = True
) -> tuple[str, int] | None:
    """The intent of a list a drug or radiotherapy is named in: 'adjuvant chemotherapy, radiotherapy and
    tamoxifen' gives all three the intent its first item has. A surgery breaks the list (it is what the
    intent is told against), and so does any other word ('then', 'at relapse'). A radiotherapy heading the list
    gives its intent to the drugs after it too: 'adjuvant radiotherapy, chemotherapy and hormonal therapy',
    'palliative radiotherapy and systemic chemotherapy'."""
    if depth > 8:
        return None
    before = [
        x
        for x in b.in_sentence(m.sentence)
        if x.label in ("PROCEDURE", "DRUG") and x.end <= m.start and x is not m and not _in_aside(b, x)
    ]
    if not before:
        return None
    x = max(before, key=lambda y: y.end)
    gap = _past_aside(b.text[x.end : m.start])
    if not _LIST_GAP.fullmatch(gap) or not gap.strip():
        return None
    if re.search(r"\bwith\b", gap, re.I) and not (
        x.label == "DRUG" and x.target.concept is not None and x.target.concept.codings
    ):
        # 'docetaxel with trastuzumab': two drugs given together; but 'hormonal therapy with letrozole' names
        # the class's drug, and 'chemotherapy with bisphosphonates' adds a drug of another kind
        return None
    if x.label == "PROCEDURE":
        kind = (
            x.target.concept.kind if x.target.concept else b.rules["procedure_kinds"].get(fold(x.target.term))
        )
        if kind != "radiotherapy" and not b.rules["also_drug"].get(fold(x.text)):
            return None
        if kind == "radiotherapy" and not through_radiotherapy and b.intent(x):
            return None  # the radiotherapy's own intent word; one told before it still heads the list
    return b.intent(x) or _listed_intent(b, x, depth + 1, through_radiotherapy=through_radiotherapy)


def _is_regimen(m: Mention) -> bool:
    return m.target.domain == "regimens"


def _short_lowercase_regimen(m: Mention) -> bool:
    """'act', 'tc' in running text are words, not the regimens AC-T or TC: a short regimen name counts in capitals."""
    return _is_regimen(m) and len(m.text) <= 4 and not m.text.isupper()


def _spelt_out(b: CaseDraft, m: Mention) -> bool:
    """A drug in the parentheses that spell out a regimen: 'FEC (5-fluorouracil, epirubicin and cyclophosphamide)'
    is one treatment, the regimen; its drugs are what it stands for."""
    for r in b.in_sentence(m.sentence, "DRUG"):
        if _is_regimen(r) and not _short_lowercase_regimen(r) and r.end <= m.start:
            gap = b.text[r.end : m.start]
            if re.fullmatch(r"\s*\((?:[^()]{0,80})", gap):
                return True
    return False


def _abbreviates_drugs_before(b: CaseDraft, m: Mention) -> bool:
    """A regimen in parentheses after the drugs it is made of: '5-fluorouracil, epirubicin and cyclophosphamide (FEC)'
    names those drugs again; they are the treatments, as the regimen is in 'FEC (5-fluorouracil, ...)'."""
    if not _is_regimen(m) or m.target.concept is None or not m.target.concept.components:
        return False
    if not re.search(r"\(\s*$", b.text[max(0, m.start - 3) : m.start]):
        return False
    parts = {fold(c) for c in m.target.concept.components}
    before = [x for x in b.in_sentence(m.sentence, "DRUG") if x.end <= m.start and m.start - x.end < 120]
    named = {fold(x.target.term) for x in before} | {fold(x.text) for x in before}
    return parts <= named


def _other_kind(cls: Mention, m: Mention) -> bool:
    """Whether a drug is known to be of another kind than its class ('tamoxifen' is no 'chemotherapy')."""
    a, c = cls.target.concept, m.target.concept
    return (
        a is not None
        and c is not None
        and a.kind not in (None, "other")
        and c.kind not in (None, "other")
        and a.kind != c.kind
    )


def _same_kind(cls: Mention, m: Mention) -> bool:
    """Whether a drug is of the kind its class names ('docetaxel' of 'chemotherapy'), with no other kind between."""
    a, c = cls.target.concept, m.target.concept
    return a is not None and c is not None and a.kind not in (None, "other") and a.kind == c.kind


def _drop_anaphoric_classes(b: CaseDraft) -> None:
    """'On systemic treatment' when the drug is named elsewhere: the class adds no treatment of its own."""
    specific = [x for x in b.meds if _concept(b, x["name"]) is not None and _concept(b, x["name"]).codings]
    keep = []
    for item in b.meds:
        concept = _concept(b, item["name"])
        details = set(item) - {"name", "_sentence", "status", "id"}
        if (
            concept is not None
            and not concept.codings
            and not details
            and "status" not in item
            and any(
                concept.kind in ("other", None) or _concept(b, x["name"]).kind == concept.kind
                for x in specific
            )
            and (not _listed_with_drugs(b, item) or _definite_after(b, item, specific))
        ):
            continue
        keep.append(item)
    b.meds[:] = keep


def _intent_of_class_after(b: CaseDraft) -> None:
    """'Tamoxifen was begun; three years later it was changed to anastrozole, completing five years of adjuvant
    endocrine therapy': a class with its setting, told after the drugs of its kind that it sums up, gives them that
    setting. Only drugs of the class's kind told in its sentence or the two before, with none of another setting."""
    for cls in b.meds:
        concept = _concept(b, cls["name"])
        ev = b.ev_of(cls, "intent")
        if concept is None or concept.codings or concept.kind in (None, "other") or ev is None:
            continue
        name_ev = b.ev_of(cls, "name")
        if name_ev is None:
            continue
        before = []
        for item in b.meds:
            item_ev = b.ev_of(item, "name")
            c = _concept(b, item["name"])
            if (
                item is cls
                or item_ev is None
                or c is None
                or not c.codings
                or c.kind != concept.kind
                or not (name_ev.sentence - 2 <= item_ev.sentence <= name_ev.sentence)
                or item_ev.start >= name_ev.start
            ):
                continue
            before.append(item)
        if before and not any("intent" in item for item in before):
            for item in before:
                b.put(item, "intent", cls["intent"], ev.start, ev.end, "intent-of-class-after", 0.6)


def _definite_after(b: CaseDraft, item: dict[str, Any], specific: list[dict[str, Any]]) -> bool:
    """'The chemotherapy and trastuzumab were combined ...' after 'paclitaxel with trastuzumab': a class named
    with 'the' after a drug of its kind points back to that drug; in 'paclitaxel chemotherapy' it is the drug's
    own class word."""
    ev = b.ev_of(item, "name")
    if ev is None:
        return False
    definite = _TOLD_AGAIN.search(b.text[max(0, ev.start - 25) : ev.start])
    kind = _concept(b, item["name"]).kind
    for x in specific:
        xe = b.ev_of(x, "name")
        if xe is None or _concept(b, x["name"]).kind != kind:
            continue
        if (definite and xe.sentence < ev.sentence) or (
            xe.end <= ev.start and not b.text[xe.end : ev.start].strip()
        ):
            return True  # 'paclitaxel chemotherapy': the drug's own class word
    return False


def _listed_with_drugs(b: CaseDraft, item: dict[str, Any]) -> bool:
    """'fulvestrant and aromatase inhibitors given with LHRH analogues': a class in a list of drugs is a treatment of its own."""
    ev = b.ev_of(item, "name")
    if ev is None or _heads_its_list(b, item, ev):
        return False
    for x in b.in_sentence(ev.sentence, "DRUG"):
        lo, hi = (x.end, ev.start) if x.end <= ev.start else (ev.end, x.start)
        if x.start != ev.start and 0 <= hi - lo < 25 and _COORDINATED.fullmatch(b.text[lo:hi]):
            return True
    return False


def _heads_its_list(b: CaseDraft, item: dict[str, Any], ev) -> bool:
    """'chemotherapy with trastuzumab, pertuzumab and docetaxel', 'endocrine therapy consisting of letrozole': a
    class followed by the drugs it was made of, one of them of its kind, names that list and no course of its own."""
    kind = _concept(b, item["name"]).kind if _concept(b, item["name"]) is not None else None
    after = sorted(
        (x for x in b.in_sentence(ev.sentence, "DRUG") if x.start >= ev.end), key=lambda x: x.start
    )
    if kind in (None, "other") or not after or not _HEADING.fullmatch(b.text[ev.end : after[0].start]):
        return False
    listed = [after[0]]
    for x in after[1:]:
        if not _COORDINATED.fullmatch(b.text[listed[-1].end : x.start]):
            break
        listed.append(x)
    return any(_kind_of(x) == kind for x in listed)


def _kind_of(m: Mention) -> str | None:
    return m.target.concept.kind if m.target.concept is not None else None


# between a class and the first drug of the list it names: 'chemotherapy with', 'treatment consisting of'
_HEADING = re.compile(
    r"\s*(?:with|using|of|consisting\s+of|comprising|based\s+on|:)\s+(?:(?:the|a|an)\s+)?(?:drugs?\s+)?", re.I
)


_COORDINATED = re.compile(
    r"\s*(?:,|,?\s*(?:and|or|plus)|(?:given\s+)?(?:with|together with|combined with))\s*", re.I
)


def _concept(b: CaseDraft, name: str):
    return b.terminology.lookup("medications", name)


# A course named with a possessive or 'the' and said to be over: the one already told.
_TOLD_AGAIN = re.compile(r"\b(?:her|his|their|the|this|that)\s+(?:[\w-]+\s+)?$", re.I)
_DONE_AFTER = re.compile(
    r"^\s+(?:was|were|had\s+been|had)\s+(?:over|completed|finished|ended|done|stopped)\b", re.I
)


# the words that keep a course going: 'stayed on', 'remained on', 'continued (on)', 'was kept on', 'still taking',
# 'went on with', 'carried on with'
_GOES_ON_BEFORE = re.compile(
    r"\b(?:stayed|remained|continued|kept|maintained|still|went\s+on|carried\s+on|pressed\s+on)\s+"
    r"(?:on\s+|taking\s+|with\s+)?(?:the\s+|her\s+|his\s+)?$",
    re.I,
)
_GOES_ON_AFTER = re.compile(
    r"^\s+(?:was|were|has\s+been|had\s+been)\s+(?:\w+\s+)?(?:continued|maintained|kept\s+up|carried\s+on)\b",
    re.I,
)


def _goes_on(b: CaseDraft, m: Mention) -> bool:
    """Whether a drug is named as a course that goes on: 'she stayed on tamoxifen', 'Anastrozole was continued'."""
    return bool(
        _GOES_ON_BEFORE.search(b.text[max(0, m.start - 30) : m.start])
        or _GOES_ON_AFTER.match(b.text[m.end : m.end + 40])
    )


# A drug named as the course that ends or gives way ('X was therefore replaced by Y', 'X was stopped', 'switched
# from X to Y', 'Y instead of X') or as the start a time is counted from ('34 months after X was begun', 'since
# the start of X'): the course already told, not a new one.
_ENDED_AFTER = re.compile(
    r"^\s+(?:was|were|had\s+been|had\s+to\s+be)\s+(?:\w+ly\s+|then\s+|therefore\s+|thus\s+|later\s+)?"
    r"(?:replaced|stopped|discontinued|withdrawn|switched|changed|ceased|halted|interrupted|suspended)\b",
    re.I,
)
_ENDED_BEFORE = re.compile(
    r"\b(?:stopped|stopping|discontinued|discontinuing|withdrew|withdrawing|replaced|replacing|switched\s+from|"
    r"changed\s+from|instead\s+of|in\s+place\s+of)\s+(?:the\s+|her\s+|his\s+)?$",
    re.I,
)
_COUNTED_FROM = re.compile(
    r"\b(?:after|since|from)\s+(?:the\s+)?(?P<start>(?:start|beginning|introduction|initiation|first\s+dose)\s+of\s+"
    r"(?:the\s+|her\s+|his\s+)?)?$",
    re.I,
)
_BEGUN_AFTER = re.compile(
    r"^\s+(?:was|were|had\s+been)\s+(?:first\s+)?(?:begun|started|given|introduced|commenced|initiated)\b",
    re.I,
)


def _named_as_told(b: CaseDraft, m: Mention) -> bool:
    before = b.text[max(0, m.start - 40) : m.start]
    after = b.text[m.end : m.end + 50]
    if _ENDED_AFTER.match(after) or _ENDED_BEFORE.search(before):
        return True
    counted = _COUNTED_FROM.search(before)
    return bool(counted and (counted.group("start") or _BEGUN_AFTER.match(after)))


# Words that make a drug named again a new course: 'then', 'followed by', 'a second course of'.
_NEXT_COURSE = re.compile(
    r"\b(?:then|followed by|maintenance|again|further|another|second|subsequent)\b", re.I
)


@dataclass(frozen=True)
class _Naming:
    """What the words around one naming of a drug say, whichever course it is compared with."""

    goes_on: bool  # 'she stayed on tamoxifen', 'Anastrozole was continued'
    told_again: bool  # the course already told, whatever time the sentence is at
    new_again: bool  # 'again', 'another', 'a second' just before it
    next_course: bool  # 'then', 'followed by', 'maintenance' just before it

    @classmethod
    def of(cls, b: CaseDraft, m: Mention) -> _Naming:
        before = b.text[max(0, m.start - 25) : m.start]
        goes_on = _goes_on(b, m)
        # 'Once her chemotherapy was over': the course already told
        over = bool(_TOLD_AGAIN.search(before) and _DONE_AFTER.match(b.text[m.end : m.end + 40]))
        return cls(
            goes_on=goes_on,
            told_again=over or goes_on or _named_as_told(b, m),
            new_again=bool(_NEW_AGAIN.search(before)),
            next_course=bool(_NEXT_COURSE.search(b.text[max(0, m.start - 15) : m.start])),
        )


_NEW_AGAIN = re.compile(r"\b(?:again|another|second|further|new)\s+(?:\w+\s+)?$", re.I)


def _same_course(b: CaseDraft, item: dict[str, Any], m: Mention, intent, line, naming: _Naming) -> bool:
    """Whether a drug named again is the course already drafted: same sentence or episode, nothing between saying 'again'."""
    i = item["_sentence"]
    if item.get("line") != line or (intent and item.get("intent") not in (None, intent[0])):
        return False
    if item.get("_responded") and not naming.new_again:
        return True  # 'It answered tamoxifen so quickly that ...', then '... he was put on tamoxifen': one course
    if (
        i != m.sentence
        and not naming.told_again
        and (b.episode_of[i] != b.episode_of[m.sentence] or b.flashback[i] != b.flashback[m.sentence])
    ):
        return False
    if naming.told_again:
        return True
    if naming.next_course:
        return False
    ev = b.ev_of(item, "name")
    return not (ev is not None and ev.end <= m.start and b.found_between(_NEXT_COURSE, ev.end, m.start))


def _drug_details(b: CaseDraft, m: Mention, item: dict[str, Any], drugs: list[Mention]) -> None:
    """Dose and route written after the drug's name; cycles, frequency and route of the sentence when it names one drug, or shares them."""
    text = b.sent_text(m.sentence)
    s0 = b.sentences[m.sentence][0]
    after = b.text[m.end : m.end + 30]
    dose = _DOSE_AFTER.match(after)
    if dose:
        b.put(item, "dose", dose.group(1), m.end + dose.start(1), m.end + dose.end(1), "dose-after-drug", 0.8)
    route = _ROUTE_AFTER.match(after)
    if route:
        word = route.group(1).lower()
        word = _ROUTES.get(word, word[:-2] if word.endswith("ly") else word)
        b.put(item, "route", word, m.end + route.start(1), m.end + route.end(1), "route-after-drug", 0.8)
    before = _BEFORE_DRUG.search(b.text[max(s0, m.start - 30) : m.start])
    if before:
        base = max(s0, m.start - 30)
        for g in (1, 2):
            word = (before.group(g) or "").lower()
            if not word:
                continue
            key = "frequency" if word in ("weekly", "monthly", "daily") else "route"
            value = _ROUTES.get(word, word) if key == "route" else word
            b.put(item, key, value, base + before.start(g), base + before.end(g), f"{key}-before-drug", 0.8)
    head = m
    for _ in range(6):  # 'four cycles of doxorubicin and cyclophosphamide': the cycles of the list's head
        cycles_before = _CYCLES_BEFORE.search(b.text[max(s0, head.start - 40) : head.start])
        prev = [d for d in drugs if d.sentence == m.sentence and d.end <= head.start and not _in_aside(b, d)]
        if (
            cycles_before
            or not prev
            or not _DRUG_JOIN.fullmatch(_past_aside(b.text[prev[-1].end : head.start]))
        ):
            break
        head = prev[-1]
    if cycles_before:
        try:
            n = int(values.number(cycles_before.group(1)))
        except ValueError:
            n = 0
        if n:
            base = max(s0, head.start - 40)
            b.put(item, "cycles", n, base + cycles_before.start(1), m.end, "cycles-before-drug", 0.8)
    cycles = _CYCLES_AFTER.match(b.text[m.end : m.end + 60])
    if cycles:
        try:
            n = int(values.number(cycles.group(1)))
        except ValueError:
            n = 0
        if n:
            b.put(item, "cycles", n, m.end + cycles.start(1), m.end + cycles.end(), "cycles-after-drug", 0.8)
    same_sentence = [d for d in drugs if d.sentence == m.sentence]
    shared = len(same_sentence) == 1 or _shared_list(b, same_sentence)
    if not shared:
        return
    semicolon = text.find(";", m.end - s0)
    clause = text[: semicolon if semicolon >= 0 else len(text)]
    for key, f in (("cycles", values.cycles(text)), ("frequency", values.frequency(clause)),
                   ("route", values.route(clause)), ("dose", values.dose(text) if len(same_sentence) == 1 else None)):  # fmt: skip
        if f:
            b.put(item, key, f.value, s0 + f.start, s0 + f.end, f"{key}-pattern", 0.7)


_DRUG_JOIN = re.compile(r"\s*(?:,|,?\s*(?:and|plus))\s*", re.I)


def _shared_list(b: CaseDraft, drugs: list[Mention]) -> bool:
    """Drugs of one sentence given together ('epirubicin, cyclophosphamide and 5-fluorouracil every three weeks')."""
    drugs = [d for d in drugs if not _in_aside(b, d)]
    for prev, m in zip(drugs, drugs[1:], strict=False):
        gap = _past_aside(b.text[prev.end : m.start])
        if not re.fullmatch(
            r"[\s,]*(?:and|plus|with|or)?[\s,]*(?:\d+(?:\.\d+)?\s*(?:mg/m2|mg/m²|mg|g)\s*(?:IV|oral)?[\s,]*(?:and)?[\s,]*)?",
            gap,
            re.I,
        ):
            return False
    return True
