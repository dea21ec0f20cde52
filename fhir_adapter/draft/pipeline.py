"""The rule-based pipeline: spaCy's tokenizer and sentencizer, medspaCy's TargetMatcher and ConText.

Targets come from the terminology maps (every term of the site, histology, procedure, drug, marker
and status maps) plus the few words rules.yaml adds, so a word that codes is found by the words
that code it. No statistical model is used or downloaded.

The work per character is bounded, so time grows in proportion to the text's length: the text
is read in chunks that end at a paragraph or a sentence, a run of characters with no space in it
is cut for the tokenizer every so often (spaCy's suffix search is quadratic in a token's length:
100 kB of nested parentheses took minutes), and a sentence is cut after a fixed number of tokens
(ConText compares every modifier of a sentence with every target in it).
"""

from __future__ import annotations

import bisect
import re
import warnings
from dataclasses import dataclass
from functools import cached_property

from ..errors import ConfigError
from ..terminology import Concept, Terminology, fold
from .rules import Rules

# Which map each label's terms come from, in order of preference when a term is in several.
LABEL_DOMAINS = {
    "HISTOLOGY": ("histology",),
    "SITE": ("secondary_cancers", "body_sites", "primary_cancers"),
    "PROCEDURE": ("procedures",),
    "DRUG": ("medications", "regimens"),
    "MARKER": ("observations",),
    "STATUS": ("observations",),
}
_OBSERVATION_KIND = {"MARKER": "test", "STATUS": "status-value"}
_CANCER_WORDS = ("cancer", "carcinoma", "neoplasm")
_DRUG_LIST = re.compile(r",|\s(?:and|plus|then|followed by|with)\s")
CHUNK = 2_000  # characters handed to spaCy at once; a chunk ends at a paragraph or a sentence
RUN = 48  # a run of this many characters with no space is cut for the tokenizer
SENTENCE_TOKENS = 120  # a longer sentence is cut here (ConText's work grows with its square)
# Labels whose target is a predicate ('died', 'progressed'): 'did not respond and died' ends
# the negation at 'and'.
VERB_LABELS = {"DEATH", "STATUS"}
_CLAUSE_BREAK = re.compile(
    r"[;:]|\b(?:but|however|although|though|whereas|which|who|whom|until|then|eventually|later|"
    r"subsequently|finally|afterwards|thereafter|yet|so)\b|,\s*(?:and\s+)?(?:she|he|they|it|we)\b"
    r"|\band\s+(?:there|she|he|it|they|we|her|his|this|that)\b|,\s*and\s+(?:also|the|a|an|its|their)\b"
    # a new predicate of the same subject: 'she has no evidence of disease and is taking tamoxifen'
    r"|\band\s+(?:is|was|has|had|remains|remained|continues|continued)\s+(?!been\b)(?!not\b)\w+ing\b",
    re.I,
)
# 'a woman with no eye history complained of a lesion of the eyelid': the 'with' phrase, and the
# negation or history in it, ends where the sentence's own verb begins.
_WITH_NO_ENDS = re.compile(
    r"\b(?:presented|presents|complained|complains|came|comes|was referred|is referred|noticed|reported|had|has|"
    r"developed|showed|underwent|was found|was diagnosed)\b",
    re.I,
)
# A negated clause that ends before the target's: its own verb, then a comma ('no diagnosis was reached, ...').
_CLOSED_CLAUSE = re.compile(
    r"\b(?:was|were|is|are|had\s+been|has\s+been|could\s+be)\s+(?:\w+\s+){0,1}\w+(?:ed|en|de|wn|ound)\s*,",
    re.I,
)
_RECURRENCE = re.compile(r"\brecur\w*|\bcome back\b|\bcame back\b|\breappeared\b", re.I)
_AND_BEFORE = re.compile(r"(?:,\s*|\s)and\s*$|,\s*$", re.I)


@dataclass(frozen=True)
class Target:
    """What a matched phrase is: its label, the map term it stands for, and that term's entry."""

    label: str
    term: str
    domain: str | None
    concept: Concept | None


@dataclass(frozen=True)
class Mention:
    """A target found in the text, with where it is and what ConText says of it."""

    label: str
    text: str
    start: int  # character offsets into the whole source text
    end: int
    sentence: int  # index into the case's sentences
    target: Target
    negated: bool = False
    historical: bool = False
    hypothetical: bool = False
    uncertain: bool = False


def _vocabulary(terminology: Terminology, rules: Rules) -> tuple[dict[str, Target], dict[str, Target]]:
    """Every phrase to look for with what it stands for: by folded term, and as written."""
    vocab: dict[str, Target] = {}
    raw: dict[str, Target] = {}  # the terms as written, for the matcher: '-' is a token of its own
    aliases = {fold(k): v for k, v in rules["aliases"].items()}
    for label, domains in LABEL_DOMAINS.items():
        for domain in reversed(domains):  # preferred domains last, so they win
            for term, concept in terminology.domains.get(domain, {}).items():
                if domain == "regimens" and _DRUG_LIST.search(term):
                    continue  # 'doxorubicin and cyclophosphamide': a regimen is read by its name, its drugs as drugs
                kind = _OBSERVATION_KIND.get(label)
                if kind is not None and concept.kind != kind:
                    continue
                if domain == "primary_cancers":
                    label_here = "PRIMARY" if any(w in term for w in _CANCER_WORDS) else "SITE"
                else:
                    label_here = label
                target = Target(label_here, concept.terms[0], domain, concept)
                vocab[term] = target
                for written in concept.terms:
                    if fold(written) == term:
                        raw[written] = target
    for label, words in rules["targets"].items():
        for word in words:
            key = fold(word)
            if key in vocab and vocab[key].label == label:
                raw.setdefault(word, vocab[key])
                continue
            canonical = aliases.get(key, word)
            concept, domain = None, None
            for d in LABEL_DOMAINS.get(label, ()):
                concept = terminology.lookup(d, canonical)
                if concept is not None:
                    domain = d
                    break
            vocab[key] = Target(label, concept.terms[0] if concept else canonical, domain, concept)
            raw[word] = vocab[key]
    for written, target in list(raw.items()):
        # Either spelling finds the term: 'nipple-sparing' and 'nipple sparing', 'fine-needle aspiration'
        # and 'fine needle aspiration'.
        raw.setdefault(fold(written), target)
        raw.setdefault(written.replace(" ", "-"), target) if "-" in written else None
        words = written.split(" ")
        if 1 < len(words) <= 4 and "-" not in written:
            for k in range(1, len(words)):
                raw.setdefault(
                    " ".join(words[: k - 1] + ["-".join(words[k - 1 : k + 1])] + words[k + 1 :]), target
                )
    for written, target in list(raw.items()):
        # A site in the plural as well, when the maps hold it in the singular only: 'both axillae', 'the orbits'.
        if target.label == "SITE" and written.isalpha() and written.islower() and len(written) > 3:
            plural = (
                written[:-1] + "ae"
                if written.endswith("a")
                else None
                if written.endswith("s")
                else written + "s"
            )
            if plural is not None and fold(plural) not in vocab:
                raw.setdefault(plural, target)
                vocab.setdefault(fold(plural), target)
    for written, target in list(raw.items()):
        # 'para-aortic nodes', 'the axillary node': a named group of lymph nodes is often said without 'lymph'
        short = _LYMPH_NODE.sub(r"\1", written)
        if target.label == "SITE" and short != written and short.split(" ")[0] not in ("node", "nodes"):
            raw.setdefault(short, target)
            vocab.setdefault(fold(short), target)
    return vocab, raw


_LYMPH_NODE = re.compile(r"\blymph (nodes?)$", re.I)


# A surgical word by its shape ('pancreatectomy', 'orbitotomy', 'colostomy', and the puncture, fusion and repair
# words 'pericardiocentesis', 'pleurodesis', 'vertebroplasty'), with the words before it that say which part or
# how much ('distal pancreatectomy', 'transverse colectomy'): a procedure the maps and rules need not list one by
# one.
SURGICAL_WORD = r"[a-z]{3,}(?:ectomy|ectomies|otomy|otomies|ostomy|ostomies|ocentesis|ocenteses|odesis|odeses|oplasty|oplasties)"
SURGICAL_QUALIFIERS = (
    "distal", "proximal", "partial", "total", "subtotal", "radical", "segmental", "transverse", "sigmoid",
    "anterior", "posterior", "lateral", "medial", "wedge", "extended", "toilet", "simple", "completion", "loop",
    "diverting", "defunctioning",
)  # fmt: skip
# what an operation named after a surgeon is called by: 'Hartmann's procedure', 'Hartmann's resection'
EPONYM_HEADS = ("procedure", "operation", "resection", "excision", "mastectomy", "amputation", "repair")


# A procedure known by its head noun and the words that say where or whose ('Hartmann's procedure',
# 'endometrial curettage', 'bone marrow aspiration', 'intramedullary nailing', 'biliary stenting'): the
# head alone says too little ('the aspiration'), so it needs a qualifier of that shape.
PROCEDURE_HEADS = (
    "curettage",
    "curettings",
    "aspiration",
    "aspirate",
    "nailing",
    "stenting",
    "stent",
    "bypass",
    # the palliative operations on a cavity or a compressed part: 'a pericardial window', 'surgical pericardial
    # drainage', 'a surgical decompression'
    "window",
    "drainage",
    "decompression",
)
# heads that need two qualifiers to name an operation ('endoscopic submucosal dissection'); one says too little
# ('aortic dissection' is a disease)
TWICE_HEADED = ("dissection",)
# the act a head noun names: 'a bone marrow aspirate' is a bone marrow aspiration
_HEAD_ACT = {"aspirate": "aspiration", "curettings": "curettage"}
_ADJECTIVE = r"^[a-z]{3,}(?:al|ar|ary|ic)$"
HEADED_PROCEDURE = re.compile(
    rf"(?:\b[A-Z][a-z]+'s\s+(?:{'|'.join(EPONYM_HEADS)})|\b(?:{'|'.join(PROCEDURE_HEADS + TWICE_HEADED)}))$"
)


def _surgical_rules(TargetRule) -> list:
    word = {"LOWER": {"REGEX": rf"^{SURGICAL_WORD}$"}}
    qualifier = {"LOWER": {"IN": list(SURGICAL_QUALIFIERS)}}
    head = {"LOWER": {"IN": list(PROCEDURE_HEADS)}}
    adjective = {"LOWER": {"REGEX": _ADJECTIVE}}
    return [
        TargetRule("surgical word", "PROCEDURE", pattern=[qualifier, qualifier, word]),
        # how much, then by which way: 'total abdominal hysterectomy', 'radical vaginal trachelectomy'
        TargetRule("surgical word", "PROCEDURE", pattern=[qualifier, adjective, word]),
        TargetRule("surgical word", "PROCEDURE", pattern=[qualifier, word]),
        TargetRule("surgical word", "PROCEDURE", pattern=[word]),
        TargetRule("eponymous procedure", "PROCEDURE",
                   pattern=[{"IS_TITLE": True}, {"LOWER": "'s"}, {"LOWER": {"IN": list(EPONYM_HEADS)}}]),
        TargetRule("headed procedure", "PROCEDURE", pattern=[{"LOWER": "bone"}, {"LOWER": "marrow"}, head]),
        TargetRule("headed procedure", "PROCEDURE", pattern=[adjective, adjective, head]),
        TargetRule("headed procedure", "PROCEDURE", pattern=[adjective, head]),
        TargetRule("headed procedure", "PROCEDURE",
                   pattern=[adjective, adjective, {"LOWER": {"IN": list(TWICE_HEADED)}}]),
    ]  # fmt: skip


# A cancer named by its histological type, with the word 'cancer' or the organ between: 'a ductal breast cancer',
# 'lobular cancers', 'a mucinous breast carcinoma'. The types are the words before 'carcinoma' in the histology
# map's terms; the words that are no type of their own ('cell', 'in situ', an organ) are left out.
_NOT_A_TYPE = {
    "cell",
    "situ",
    "breast",
    "mammary",
    "thyroid",
    "duct",
    "ring",
    "invasive",
    "noninvasive",
    "squamous",
}
_CANCER_NOUNS = ["cancer", "cancers", "carcinoma", "carcinomas", "adenocarcinoma", "adenocarcinomas"]


def histology_types(terminology: Terminology) -> list[str]:
    """The type words of the histology map: 'ductal', 'lobular', 'mucinous', 'medullary' ..."""
    types = set()
    for term in terminology.domains.get("histology", {}):
        words = term.split()
        if (
            len(words) >= 2
            and words[-1] == "carcinoma"
            and words[-2].isalpha()
            and words[-2] not in _NOT_A_TYPE
        ):
            types.add(words[-2])
    return sorted(types)


def _typed_cancer_rules(TargetRule, terminology: Terminology) -> list:
    kind = {"LOWER": {"IN": histology_types(terminology)}}
    organ = {"LOWER": {"IN": ["breast", "mammary"]}}
    noun = {"LOWER": {"IN": _CANCER_NOUNS}}
    return [
        TargetRule("typed cancer", "HISTOLOGY", pattern=[kind, organ, noun]),
        TargetRule("typed cancer", "HISTOLOGY", pattern=[kind, noun]),
    ]


def chunks(text: str, size: int = CHUNK) -> list[tuple[int, int]]:
    """Spans of at most `size` characters covering the text, each ending at a paragraph or sentence if it can."""
    out, start, n = [], 0, len(text)
    while start < n:
        end = min(n, start + size)
        if end < n:
            window = text[start:end]
            cut = max(window.rfind("\n\n"), window.rfind(". "), window.rfind(".\n"))
            if cut > size // 4:
                end = start + cut + 1
            else:
                space = window.rfind(" ")
                end = start + space + 1 if space > size // 4 else end
        out.append((start, end))
        start = end
    return out


# A line break inside a paragraph, after a full line of prose and before a word that goes on in lower case: the
# text was wrapped, not ended. (A short line, a table's row or a list's item ends where it ends.)
_WRAPPED = re.compile(r"(?m)^([^\n|\t]{60,}[A-Za-z0-9,;)])\n(?=[ \t]*[a-z])")


def join_wrapped(text: str) -> str:
    """The text with a line break that only wraps a paragraph made a space (same length), so that words a wrap
    split ('a radical|mastectomy', 'the upper|eyelid') are read as the one term they are; a blank line stays."""
    return _WRAPPED.sub(lambda m: m.group(1) + " ", text)


def break_runs(text: str, run: int = RUN) -> str:
    """The text with a space put in every `run` characters of a run without one (same length)."""
    if not re.search(rf"\S{{{run + 1}}}", text):
        return text
    return re.sub(rf"\S{{{run}}}(?=\S)", lambda m: m.group(0)[:-1] + " ", text)


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _cap_sentences(doc):
    """A spaCy component: a blank line ends a sentence (a title, a heading, a paragraph with no full stop), and
    no sentence is longer than SENTENCE_TOKENS tokens."""
    for token in doc[1:-1]:
        if token.is_space and _BLANK_LINE.search(token.text) and not doc[token.i + 1].is_sent_start:
            token.is_sent_start = True  # the blank line opens the next sentence, as after a full stop
    count = 0
    for token in doc:
        if token.is_sent_start:
            count = 0
        count += 1
        if count > SENTENCE_TOKENS:
            token.is_sent_start = True
            count = 1
    return doc


# Head nouns that name a site only together with the region they are 'of' (nodes also 'in').
_COMPOSE_HEAD = {"skin": "skin", "lymph nodes": "node", "lymph node": "node", "nodes": "node"}
_OF_REGION = re.compile(
    r"^(?:\s+(?:at|in)\s+(?:stations?\s+)?[\w/]+(?:\s+and\s+[\w/]+)?)?\s+(?P<prep>of|over|on|in|within)\s+"
    r"(?:the\s+|her\s+|his\s+)?"
    r"(?:(?:left|right)\s+)?(?:(?:upper|middle|lower|anterior|posterior|superior|inferior)\s+)?"
    r"(?P<region>[a-z]+(?:\s+[a-z]+)?)",
    re.I,
)
_AND_REGION = re.compile(r"^\s+and\s+(?:of\s+)?(?:the\s+|her\s+|his\s+)?(?P<region>[a-z]+)\b", re.I)
# 'the nodes at stations 4R and 7 of the mediastinum': nodes named before the region they are of
_NODES_OF = re.compile(
    r"\b(?:lymph\s+)?nodes?(?:\s+(?:at|in)\s+(?:stations?\s+)?[\w/]+(?:\s+and\s+[\w/]+)?)?\s+of\s+"
    r"(?:the\s+|her\s+|his\s+)?(?:(?:left|right)\s+)?$",
    re.I,
)


# Nodes told with where they lie: 'a node metastasis had been found above the left clavicle', 'lymph node
# metastases: in the neck, above the right clavicle and in the mediastinum'. The words between the nodes and the
# first place stay in the nodes' phrase (what they held, that they were found); each place of the list is one site.
# 'on the left side of the neck', 'in the right half of the neck': the side's part of the region is the region
_PLACE = (
    r"(?P<prep>in|at|on|above|below|beneath|under|behind|beside)\s+(?:the\s+|her\s+|his\s+|both\s+)?"
    r"(?:(?:left|right)\s+)?(?:(?:side|half|part)\s+of\s+(?:the\s+|her\s+|his\s+)?)?(?P<region>[a-z]+(?:\s+[a-z]+)?)"
)
_NODES_AT = re.compile(
    r"^(?:(?:\s+(?!(?:and|but|or|which|while|in|at)\b)[\w-]+){0,8}?\s+"
    r"(?:found|seen|detected|noted|palpated|present|located|felt|identified|visible)"
    r"|\s+(?:metastas[ie]s|involvement|deposits?))?\s*:?\s+" + _PLACE,
    re.I,
)
_NEXT_PLACE = re.compile(r"^\s*(?:,\s*(?:and\s+)?|\s+and\s+)" + _PLACE, re.I)
_OF_WHAT = re.compile(r"^\s+(?:the\s+|her\s+|his\s+)?[a-z]+", re.I)
# ('the lymph nodes of a patient': an article opens no region; a stem of one or two letters matches any node term)
_NO_REGION = frozenset(
    {"in", "at", "on", "of", "and", "or", "to", "the", "her", "his", "both", "a", "an", "its", "their", "this", "that"}
)  # fmt: skip
# Where a node lies told by a preposition: the maps name it by the region's adjective with this prefix.
_PLACE_PREFIX = {
    "above": ("supra",),
    "below": ("infra", "sub"),
    "beneath": ("sub", "infra"),
    "under": ("sub", "infra"),
    "behind": ("retro",),
    "beside": ("para",),
}
# A region said in plain words whose node group is named after its bone: 'below the jaw' -> 'submandibular'.
_REGION_BONE = {"jaw": "mandible", "jawbone": "mandible", "collarbone": "clavicle", "breastbone": "sternum"}


class Pipeline:
    """A built spaCy pipeline and its vocabulary; build it once, run it on many texts."""

    def __init__(self, terminology: Terminology, rules: Rules) -> None:
        try:
            import spacy
            from medspacy.context import ConTextRule
            from medspacy.ner import TargetRule
            from spacy.language import Language
        except ImportError:
            raise ConfigError(
                "drafting needs spaCy and medspaCy; install them with: pip install 'fhir-adapter[draft]'"
            ) from None
        self.rules = rules
        self.vocab, written = _vocabulary(terminology, rules)
        nlp = spacy.blank("en")
        # spaCy's rule sentencizer: medspaCy's PyRuSH splitter logs every token and is several
        # times slower on an abstract, for no gain on published prose.
        nlp.add_pipe("sentencizer")
        if "fhir_adapter_cap_sentences" not in Language.factories:
            Language.component("fhir_adapter_cap_sentences", func=_cap_sentences)
        nlp.add_pipe("fhir_adapter_cap_sentences")
        matcher = nlp.add_pipe("medspacy_target_matcher")
        matcher.add([TargetRule(term, target.label) for term, target in written.items()])
        matcher.add(_surgical_rules(TargetRule))
        matcher.add(_typed_cancer_rules(TargetRule, terminology))
        context = nlp.add_pipe("medspacy_context")
        context.add(
            [
                ConTextRule(
                    r["literal"], r["category"], direction=r["direction"], max_scope=r.get("max_scope")
                )
                for r in rules["context"]
            ]
        )
        self.nlp = nlp

    def run(self, text: str, offset: int = 0) -> tuple[list[tuple[int, int]], list[Mention]]:
        """The sentences (absolute spans) and the mentions of one case's text (already normalised)."""
        sentences: list[tuple[int, int]] = []
        mentions: list[Mention] = []
        spans = chunks(text)
        with warnings.catch_warnings():
            # medspaCy's matchers hold phrase patterns only; spaCy warns that the token matcher has none.
            warnings.filterwarnings("ignore", message=r".*does not have any patterns defined")
            docs = self.nlp.pipe(break_runs(join_wrapped(text[s:e])) for s, e in spans)
            for (s, _), doc in zip(spans, docs, strict=True):
                self._read(doc, text, offset + s, s, sentences, mentions)
        mentions.extend(_abbreviations(text, offset, sentences, mentions, self.vocab))
        levels, inside = _vertebral_levels(text, offset, sentences, mentions, self.vocab)
        if levels:
            # 'the L3 vertebra': the level names the vertebra, the bare 'vertebra' found inside it goes
            mentions = [m for k, m in enumerate(mentions) if k not in inside] + levels
        mentions.extend(_shared_heads(text, offset, mentions, self.vocab))
        mentions.sort(key=lambda m: m.start)
        return sentences, mentions

    def _read(self, doc, text, base, local, sentences, mentions) -> None:
        index = {}
        for sent in doc.sents:
            lead = len(sent.text) - len(sent.text.lstrip())
            if sent.text.strip():
                index[sent.start] = len(sentences)
                sentences.append((base + sent.start_char + lead, base + sent.end_char))
        first = len(mentions)
        for ent in doc.ents:
            written = text[local + ent.start_char : local + ent.end_char]
            target = self.vocab.get(fold(written))
            if (
                target is None
                and ent.label_ == "PROCEDURE"
                and (re.search(rf"{SURGICAL_WORD}$", written, re.I) or HEADED_PROCEDURE.search(written))
            ):
                name = fold(written)
                last = name.rsplit(" ", 1)[-1]
                if last in _HEAD_ACT:
                    name = name[: -len(last)] + _HEAD_ACT[last]
                target = Target("PROCEDURE", name, None, None)  # stays text, kind surgery
            elif target is None and ent.label_ == "HISTOLOGY":
                # 'a ductal breast cancer', 'lobular cancers': the type's carcinoma, when the maps or rules hold it
                target = self.vocab.get(f"{fold(written).split()[0]} carcinoma")
            if target is None or ent.sent.start not in index:
                continue
            flags = _scoped_flags(ent, doc)
            mentions.append(
                Mention(
                    label=ent.label_,
                    text=written,
                    start=base + ent.start_char,
                    end=base + ent.end_char,
                    sentence=index[ent.sent.start],
                    target=target,
                    **flags,
                )
            )
        mentions[first:] = self._composed(text, base - local, mentions[first:])

    def _composed(self, text: str, shift: int, found: list[Mention]) -> list[Mention]:
        """'the skin of the right arm and trunk', 'the nodes at stations 4R and 7 of the mediastinum': a head
        noun (skin, lymph nodes) and the region it is 'of' name one site when the maps have a term for the
        two together ('skin of arm', 'mediastinal lymph node'); a bare region coordinated after it
        ('... and trunk') shares the head."""
        out: list[Mention] = []
        drop: set[int] = set()
        for k, m in enumerate(found):
            head = _COMPOSE_HEAD.get(fold(m.text)) if m.label == "SITE" else None
            if head is None:
                out.append(m)
                continue
            rest = text[m.end - shift : m.end - shift + 80]
            of = _OF_REGION.match(rest)
            if of and head == "skin" and of.group("prep").lower() in ("in", "within"):
                of = None  # nodes 'in the right axilla' are axillary nodes; 'skin in' names no region
            composite = self._composite(head, of.group("region")) if of else None
            if composite is None and head == "node":
                placed = self._nodes_placed(text, shift, m)
                if placed:
                    out.extend(placed)
                    drop.update(
                        j for j, x in enumerate(found) if any(p.start <= x.start < p.end for p in placed)
                    )
                    continue
            if composite is None:
                out.append(m)
                continue
            end = m.end + of.end("region") - len(of.group("region")) + len(composite[1])
            out.append(Mention("SITE", text[m.start - shift : end - shift], m.start, end, m.sentence,
                               composite[0], m.negated, m.historical, m.hypothetical, m.uncertain))  # fmt: skip
            drop.update(j for j, x in enumerate(found) if j != k and m.start <= x.start < end)
            more = _AND_REGION.match(text[end - shift : end - shift + 40])
            other = self._composite(head, more.group("region")) if more else None
            if more and other is not None:
                s2 = end + more.start("region")
                e2 = s2 + len(other[1])
                out.append(Mention("SITE", text[s2 - shift : e2 - shift], s2, e2, m.sentence, other[0],
                                   m.negated, m.historical, m.hypothetical, m.uncertain))  # fmt: skip
                drop.update(j for j, x in enumerate(found) if s2 <= x.start < e2)
            elif head == "node":
                # 'nodes in the left axilla, on the left side of the neck and above the clavicle': each further
                # place of the list is one more site
                further = self._further_places(text, shift, m, end)
                out.extend(further)
                drop.update(
                    j for j, x in enumerate(found) if any(p.start <= x.start < p.end for p in further)
                )
        out = [x for x in out if not any(x is found[j] for j in drop)]
        for k, m in enumerate(out):
            if m.label != "SITE" or " " in fold(m.text):
                continue
            if any(x is not m and x.start < m.start < x.end for x in out):
                continue  # already part of a composed site
            lead = text[max(0, m.start - shift - 60) : m.start - shift]
            nodes = _NODES_OF.search(lead)
            composite = self._composite("node", fold(m.text)) if nodes else None
            if composite is not None:
                start = m.start - len(lead) + nodes.start()
                out[k] = Mention("SITE", text[start - shift : m.end - shift], start, m.end, m.sentence,
                                 composite[0], m.negated, m.historical, m.hypothetical, m.uncertain)  # fmt: skip
        return sorted(out, key=lambda x: x.start)

    def _nodes_placed(self, text: str, shift: int, m: Mention) -> list[Mention]:
        """Nodes and the places they were found, one site per place the maps name: the first spans the nodes'
        words to its place, each further place of the list spans its own words."""
        rest = text[m.end - shift : m.end - shift + 200]
        at = _NODES_AT.match(rest)
        out: list[Mention] = []
        pos = 0  # where the place last read ends, counted from the nodes' end
        while at:
            composite = self._composite("node", at.group("region"), at.group("prep").lower())
            if composite is None and out:
                # a place of the list the maps do not name ('and at the hilum of the spleen'): nodes all the same,
                # not the organ they lie by
                tail = rest[pos + at.end() :]
                more = _OF_WHAT.match(tail) if at.group("region").lower().endswith(" of") else None
                s2 = m.end + pos + at.start("prep")
                e2 = m.end + pos + at.end() + (more.end() if more else 0)
                out.append(Mention("SITE", text[s2 - shift : e2 - shift], s2, e2, m.sentence, m.target,
                                   m.negated, m.historical, m.hypothetical, m.uncertain))  # fmt: skip
                break
            if composite is None:
                break
            s2 = m.start if not out else m.end + pos + at.start("prep")
            e2 = m.end + pos + at.start("region") + len(composite[1])
            out.append(Mention("SITE", text[s2 - shift : e2 - shift], s2, e2, m.sentence, composite[0],
                               m.negated, m.historical, m.hypothetical, m.uncertain))  # fmt: skip
            pos = e2 - m.end
            at = _NEXT_PLACE.match(rest[pos:])
        return out

    def _further_places(self, text: str, shift: int, m: Mention, end: int) -> list[Mention]:
        """The places a list goes on to after the nodes' first place (which ends at `end`), one site each, as long
        as the maps name nodes of the place."""
        out: list[Mention] = []
        pos = end
        while True:
            at = _NEXT_PLACE.match(text[pos - shift : pos - shift + 120])
            if at is None:
                return out
            composite = self._composite("node", at.group("region"), at.group("prep").lower())
            if composite is None:
                return out
            s2 = pos + at.start("prep")
            e2 = pos + at.start("region") + len(composite[1])
            out.append(Mention("SITE", text[s2 - shift : e2 - shift], s2, e2, m.sentence, composite[0],
                               m.negated, m.historical, m.hypothetical, m.uncertain))  # fmt: skip
            pos = e2

    def _composite(self, head: str, region: str, prep: str = "of") -> tuple[Target, str] | None:
        """The target for head + region, and the words of the region it used (one or two words, or the last
        of two: 'at the lung hila' names hilar nodes)."""
        words = region.split()
        tries = [(" ".join(words[:2]), " ".join(words[:2])), (words[0], words[0])] if len(words) > 1 else []
        tries = tries or [(words[0], words[0])] if words else []
        if len(words) > 1 and head != "skin":
            tries.append((words[1], " ".join(words[:2])))
        for r, used in tries:
            key = fold(r)
            if key in _NO_REGION:
                continue  # 'and in the neck': a preposition, no region
            names = [f"skin of {key}"] if head == "skin" else [f"{key} lymph node", f"lymph node of {key}"]
            if head != "skin":
                names += [
                    f"{key} lymph nodes",
                    f"lymph nodes of {key}",
                ]  # the maps hold some in the plural only
                # 'of the mediastinum' -> 'mediastinal lymph node': the region's adjective that the maps use;
                # 'above the clavicle' -> 'supraclavicular lymph node': with the prefix the place's word gives
                # 'under the jaw' -> 'submandibular': the region by the bone its adjective is made from
                bone = _REGION_BONE.get(key, key)
                stems = [p + bone[: max(5, len(bone) - 3)] for p in _PLACE_PREFIX.get(prep, ("",))]
                if prep in _PLACE_PREFIX:
                    names = []
                if " " not in key and len(key) > 2:  # a stem is of one word: 'neck and' is no region
                    names += [k for k in self._node_terms if k.startswith(tuple(stems))]
            for name in names:
                target = self.vocab.get(fold(name)) or self.vocab.get(fold(f"{name}s"))
                if target is not None and target.label == "SITE":
                    return target, used
        return None

    @cached_property
    def _node_terms(self) -> list[str]:
        terms = [k.removesuffix("s") for k in self.vocab if k.endswith((" lymph node", " lymph nodes"))]
        return sorted({k for k in terms if " " not in k[: -len(" lymph node")]})


# A vertebra named by its level: 'T8', 'the T11 vertebra', 'at the level of L2', 'the body of L1'. A bare T1 to
# T4 is a TNM category and L0/L1 an invasion grade, so those count only after 'level' or a part of a vertebra
# ('the body of'), or before 'vertebra'.
_VERTEBRAL_LEVEL = re.compile(
    r"(?:\b(?:levels?|bod(?:y|ies)|pedicles?|laminae?)\s+(?:of\s+)?(?:the\s+)?)?(?<![\w-])([CTLD])(\d{1,2})(?![\w+-])"
    r"(?:\s*(?:-|to)\s*[CTLSD]?\d{1,2}(?![\w+]))?"
    r"(?:\s+(vertebra(?:e|l body)?|vertebral)\b)?",
)
# What a level names the height of when it is no vertebra: the cord, its coverings, the canal.
_LEVEL_OF_ANOTHER = re.compile(
    r"\b(?:cord|meninges|leptomeninges|dura(?:l| mater)?|epidural|intradural|intramedullary|canal)\b"
    r"[^.;]{0,25}\bat\s+(?:the\s+)?levels?\s+(?:of\s+)?$",
    re.I,
)
_LEVEL_REGION = {"C": ("cervical vertebra", 7), "T": ("thoracic vertebra", 12), "L": ("lumbar vertebra", 5)}
_LEVEL_RANGE = re.compile(r"\s*(?:-|to)\s*[CTLSD]?\d", re.I)
# 'D7' is how some authors write the seventh thoracic (dorsal) vertebra.
_LEVEL_LETTER = {"C": "C", "T": "T", "L": "L", "D": "T"}
# A vertebra named by its ordinal and region, alone or in a list sharing the region: 'the seventh dorsal vertebra',
# 'the sixth, seventh and tenth thoracic vertebrae', 'the 3rd lumbar vertebral body'.
_ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
)  # fmt: skip
_ORDINAL = r"(?:" + "|".join(_ORDINALS) + r"|\d{1,2}(?:st|nd|rd|th))"
_ORDINAL_LEVELS = re.compile(
    rf"\b({_ORDINAL}(?:\s*,\s*{_ORDINAL})*(?:\s*,?\s+(?:and|or|to)\s+{_ORDINAL})?)"
    r"\s+(cervical|thoracic|dorsal|lumbar)\s+(?:vertebrae?|vertebral\s+bod(?:y|ies))\b",
    re.I,
)
_ORDINAL_REGION = {"cervical": "C", "thoracic": "T", "dorsal": "T", "lumbar": "L"}


def _level_number(word: str) -> int:
    word = word.lower()
    return _ORDINALS.index(word) + 1 if word in _ORDINALS else int(re.match(r"\d+", word).group(0))


def _level_target(vocab: dict[str, Target], letter: str, number: int) -> Target | None:
    """The site a vertebra named by its level stands for: 'T7 vertebra', coded as the maps' vertebra of its
    region (the maps hold each level as a term of that region's entry)."""
    term, last = _LEVEL_REGION[letter]
    region = vocab.get(fold(term))
    if region is None or not 1 <= number <= last:
        return None
    return Target(region.label, f"{letter}{number} vertebra", region.domain, region.concept)


def _vertebral_levels(
    text: str,
    offset: int,
    sentences: list[tuple[int, int]],
    mentions: list[Mention],
    vocab: dict[str, Target],
) -> tuple[list[Mention], set[int]]:
    """Each vertebra the text names by its level, as a site of the maps' vertebra of that region; and the
    positions (in `mentions`, sorted by start) of the mentions inside them ('vertebra' of 'the L3 vertebra')."""
    starts = [s for s, _ in sentences]
    order = sorted(range(len(mentions)), key=lambda k: mentions[k].start)
    m_starts = [mentions[k].start for k in order]
    out: list[Mention] = []
    inside: set[int] = set()
    # each level found: the whole phrase's span, then the level's own, and the site it stands for
    found_levels: list[tuple[int, int, int, int, Target]] = []
    for found in _VERTEBRAL_LEVEL.finditer(text):
        written, number = found.group(1), int(found.group(2))
        letter = _LEVEL_LETTER[written]
        said = found.start(1) > found.start() or found.group(3)
        plain = (letter == "T" and number >= 5) or (letter == "L" and number >= 2)
        target = _level_target(vocab, letter, number)
        if target is None or not (said or plain):
            continue
        if _LEVEL_RANGE.match(text, found.end(2), found.end()):
            target = vocab[fold(_LEVEL_REGION[letter][0])]  # 'T6-T9': several vertebrae, told by their region
        if written == "D" and re.search(
            r"vitamin\s*$", text[max(0, found.start(1) - 12) : found.start(1)], re.I
        ):
            continue
        found_levels.append((found.start(1), found.end(), found.start(1), found.end(), target))
    for found in _ORDINAL_LEVELS.finditer(text):
        letter = _ORDINAL_REGION[found.group(2).lower()]
        for word in re.finditer(_ORDINAL, found.group(1), re.I):
            target = _level_target(vocab, letter, _level_number(word.group(0)))
            if target is not None:
                at = found.start(1) + word.start()
                found_levels.append((found.start(1), found.end(), at, at + len(word.group(0)), target))
    for first, last, at, stop, target in sorted(found_levels, key=lambda f: (f[2], f[0])):
        if _LEVEL_OF_ANOTHER.search(text[max(0, first - 50) : first]):
            continue  # 'a deposit in the spinal cord at the level of C1': the level places the cord's lesion
        start, end = offset + first, offset + last
        lo, hi = bisect.bisect_left(m_starts, start), bisect.bisect_left(m_starts, end)
        before = mentions[order[lo - 1]] if lo > 0 else None
        if (before is not None and before.end > start) or any(
            mentions[order[k]].end > end for k in range(lo, hi)
        ):
            continue  # a longer mention holds or crosses it
        i = bisect.bisect_right(starts, start) - 1
        if i < 0 or start >= sentences[i][1]:
            continue
        inside.update(order[k] for k in range(lo, hi))
        out.append(Mention("SITE", text[at:stop], offset + at, offset + stop, i, target))
    return out, inside


# 'the sphenoid and ethmoid sinuses', 'the upper, middle and lower lobes': modifiers coordinated before a head noun
# that only the last of them is written with.
_COORDINATED_BEFORE = re.compile(r"\b([a-z]+)((?:\s*,\s*[a-z]+)*)\s*,?\s+(?:and|or|&)\s+$", re.I)


def _shared_heads(text: str, offset: int, mentions: list[Mention], vocab: dict[str, Target]) -> list[Mention]:
    """Each site named by a modifier that shares the head noun of the site after it ('the sphenoid and ethmoid
    sinuses': the sphenoid sinus too), when the maps or rules hold the modifier with that head."""
    starts = sorted((m.start, m.end) for m in mentions)
    out: list[Mention] = []
    for m in mentions:
        words = m.text.split()
        if m.label != "SITE" or len(words) < 2:
            continue
        head = " ".join(words[1:])
        lead = text[max(0, m.start - offset - 60) : m.start - offset]
        found = _COORDINATED_BEFORE.search(lead)
        if found is None:
            continue
        base = m.start - len(lead) + found.start()
        mods = [(found.start(1), found.group(1))]
        for extra in re.finditer(r"[a-z]+", found.group(2), re.I):
            mods.append((found.start(2) + extra.start(), extra.group(0)))
        for at, word in mods:
            target = vocab.get(fold(f"{word} {head}"))
            start = base + at - found.start()
            end = start + len(word)
            if target is None or target.label != "SITE":
                continue
            k = bisect.bisect_right(starts, (start, 10**12)) - 1
            if k >= 0 and starts[k][1] > start:
                continue  # the word is part of a mention already ('the left breast and ...')
            out.append(Mention("SITE", word, start, end, m.sentence, target, m.negated, m.historical,
                               m.hypothetical, m.uncertain))  # fmt: skip
    return out


# 'endobronchial ultrasound-guided transbronchial needle aspiration (EBUS-TBNA)': an abbreviation defined in
# parentheses right after a term.
_DEFINED = re.compile(r"^\s*\(([A-Z][A-Za-z0-9/-]{1,14})\)")
_ABBREVIATION_LABELS = {"PROCEDURE", "DRUG", "HISTOLOGY"}


def _abbreviations(
    text: str,
    offset: int,
    sentences: list[tuple[int, int]],
    mentions: list[Mention],
    vocab: dict[str, Target],
) -> list[Mention]:
    """Each later use of an abbreviation the text defines after a treatment or a histology, as that term.

    A report names a procedure in full once ('... needle aspiration (EBUS-TBNA)') and then by its letters
    ('EBUS-TBNA of station 7 confirmed ...'); the letters stand for the term they were defined after. An
    abbreviation the maps already hold keeps the maps' meaning. ConText is not applied to the added mentions.
    """
    defined: dict[str, Mention] = {}
    for m in mentions:
        if m.label not in _ABBREVIATION_LABELS:
            continue
        d = _DEFINED.match(text[m.end - offset : m.end - offset + 20])
        if d and fold(d.group(1)) not in vocab and d.group(1) not in defined:
            defined[d.group(1)] = m
    if not defined:
        return []
    starts = [s for s, _ in sentences]
    taken = sorted((m.start, m.end) for m in mentions)
    taken_starts = [a for a, _ in taken]
    out = []
    pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a in defined) + r")(?![\w-])")
    for found in pattern.finditer(text):
        start, end = offset + found.start(), offset + found.end()
        k = bisect.bisect_left(taken_starts, end) - 1
        inside = k >= 0 and taken[k][1] > start  # the mention starting last before this one's end covers it
        if inside or text[found.start() - 1 : found.start()] == "(":
            continue  # inside a mention, or the definition itself
        i = bisect.bisect_right(starts, start) - 1
        if i < 0 or start >= sentences[i][1]:
            continue
        m = defined[found.group(1)]
        out.append(Mention(m.label, found.group(1), start, end, i, m.target))
    return out


_FLAG = {
    "NEGATED_EXISTENCE": "negated",
    "HISTORICAL": "historical",
    "HYPOTHETICAL": "hypothetical",
    "POSSIBLE_EXISTENCE": "uncertain",
}


# a choice between two things: the cue denies the phrase it heads, not the rest of the sentence
_CONTRAST = re.compile(r"rather\s+than|instead\s+of|in\s+place\s+of", re.I)
# 'negative for ER', 'was negative for hormone receptors': what a stain of the tumour gave
_A_RESULT = re.compile(r"\bnegative\s+(?:for|to)\b", re.I)


def _scoped_flags(ent, doc) -> dict[str, bool]:
    """ConText's flags for a target, each modifier counted only within the target's own clause.

    ConText lets a modifier reach to the end of its sentence; a report's sentence often holds
    several clauses ('refused further treatment and eventually passed away'), and a negation or a
    refusal says nothing of what a later clause tells.
    """
    flags = dict.fromkeys(_FLAG.values(), False)
    for modifier in ent._.modifiers:
        name = _FLAG.get(modifier.category)
        if name is None:
            continue
        m_start, m_end = modifier.modifier_span
        if m_start < ent.end and m_end > ent.start:
            continue  # the cue is part of the term itself: 'did not respond', 'no recurrence'
        if m_end <= ent.start:
            between = doc[m_end : ent.start].text
        elif m_start >= ent.end:
            between = doc[ent.end : m_start].text
        else:
            between = ""
        if _CLAUSE_BREAK.search(between):
            continue
        if (
            m_end <= ent.start
            and re.search(r"\bwith(?:out)?\b", doc[max(0, m_start - 4) : m_end].text, re.I)
            and _WITH_NO_ENDS.search(between)
        ):
            continue
        if name == "negated" and m_end <= ent.start and _CLOSED_CLAUSE.search(between):
            continue  # 'as no diagnosis was reached, an exploratory laparotomy was done': the negation had its verb
        if (
            name == "negated"
            and m_start >= ent.end
            and ent.label_ in ("HISTOLOGY", "PRIMARY")
            and _A_RESULT.search(doc[m_start : min(len(doc), m_end + 1)].text)
        ):
            continue  # 'a ductal carcinoma that was negative for hormone receptors': a stain's result, not a denial
        if (
            name == "negated"
            and m_end <= ent.start
            and _CONTRAST.fullmatch(doc[m_start:m_end].text)
            and re.search(r"[,;]|\b(?:and|or)\b", between)
        ):
            continue  # 'chose chemotherapy rather than an operation, and eribulin was given': the cue denies its phrase
        if name == "negated" and _RECURRENCE.search(doc[ent.end : min(len(doc), ent.end + 4)].text):
            continue  # 'the choroidal metastasis had not recurred': it was there; it did not come back
        if m_end <= ent.start and ent.label_ in VERB_LABELS and _AND_BEFORE.search(between):
            continue  # 'did not respond to therapy and died': a new predicate
        flags[name] = True
    return flags


_BUILT: dict[tuple[int, int], tuple[Terminology, Rules, Pipeline]] = {}


def cached_pipeline(terminology: Terminology, rules: Rules) -> Pipeline:
    """The pipeline for these maps and rules, built on first use (start-up takes a few seconds)."""
    key = (id(terminology), id(rules))
    if key not in _BUILT:
        if len(_BUILT) >= 4:
            _BUILT.clear()
        _BUILT[key] = (terminology, rules, Pipeline(terminology, rules))
    return _BUILT[key][2]
