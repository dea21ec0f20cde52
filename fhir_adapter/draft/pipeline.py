"""The rule-based pipeline: spaCy's tokenizer and sentencizer, medspaCy's TargetMatcher and ConText.

Targets come from the terminology maps (every term of the site, histology, procedure, drug, marker
and status maps) plus the few words rules.yaml adds, so a word that codes is found by the words
that code it. No statistical model is used or downloaded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ..errors import ConfigError
from ..terminology import Concept, Terminology, fold
from .rules import Rules

# Which map each label's terms come from, in order of preference when a term is in several.
LABEL_DOMAINS = {
    "HISTOLOGY": ("histology",),
    "SITE": ("secondary_cancers", "body_sites", "primary_cancers"),
    "PROCEDURE": ("procedures",),
    "DRUG": ("medications",),
    "MARKER": ("observations",),
    "STATUS": ("observations",),
}
_OBSERVATION_KIND = {"MARKER": "test", "STATUS": "status-value"}
_CANCER_WORDS = ("cancer", "carcinoma", "neoplasm")


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
            if key in vocab:
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
        # Either spelling finds the term: 'nipple-sparing' and 'nipple sparing'.
        raw.setdefault(fold(written), target)
        raw.setdefault(written.replace(" ", "-"), target) if "-" in written else None
    return vocab, raw


class Pipeline:
    """A built spaCy pipeline and its vocabulary; build it once, run it on many texts."""

    def __init__(self, terminology: Terminology, rules: Rules) -> None:
        try:
            import spacy
            from medspacy.context import ConTextRule
            from medspacy.ner import TargetRule
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
        matcher = nlp.add_pipe("medspacy_target_matcher")
        matcher.add([TargetRule(term, target.label) for term, target in written.items()])
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
        """The sentences (absolute spans) and the mentions of one case's text."""
        with warnings.catch_warnings():
            # medspaCy's matchers hold phrase patterns only; spaCy warns that the token matcher has none.
            warnings.filterwarnings("ignore", message=r".*does not have any patterns defined")
            doc = self.nlp(text)
        sentences = []
        index = {}
        for i, sent in enumerate(doc.sents):
            lead = len(sent.text) - len(sent.text.lstrip())
            sentences.append((offset + sent.start_char + lead, offset + sent.end_char))
            index[sent.start] = i
        mentions = []
        for ent in doc.ents:
            target = self.vocab.get(fold(ent.text))
            if target is None:
                continue
            mentions.append(
                Mention(
                    label=ent.label_,
                    text=ent.text,
                    start=offset + ent.start_char,
                    end=offset + ent.end_char,
                    sentence=index[ent.sent.start],
                    target=target,
                    negated=bool(ent._.is_negated),
                    historical=bool(ent._.is_historical),
                    hypothetical=bool(ent._.is_hypothetical),
                    uncertain=bool(ent._.is_uncertain),
                )
            )
        return sentences, mentions


_BUILT: dict[tuple[int, int], tuple[Terminology, Rules, Pipeline]] = {}


def cached_pipeline(terminology: Terminology, rules: Rules) -> Pipeline:
    """The pipeline for these maps and rules, built on first use (start-up takes a few seconds)."""
    key = (id(terminology), id(rules))
    if key not in _BUILT:
        if len(_BUILT) >= 4:
            _BUILT.clear()
        _BUILT[key] = (terminology, rules, Pipeline(terminology, rules))
    return _BUILT[key][2]
