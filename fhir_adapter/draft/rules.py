"""The drafting rules shipped as data (rules.yaml), loaded once and checked at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ..errors import MappingError

CONTEXT_CATEGORIES = {
    "NEGATED_EXISTENCE",
    "HISTORICAL",
    "HYPOTHETICAL",
    "POSSIBLE_EXISTENCE",
    "TERMINATE",
    "PSEUDO",
}
DIRECTIONS = {"FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"}


@dataclass(frozen=True)
class Rules:
    """Everything rules.yaml says, with its patterns compiled."""

    raw: dict[str, Any]
    case_start: re.Pattern[str]
    local_recurrence: re.Pattern[str]
    misdiagnosis: re.Pattern[str]
    metastasis_cue: re.Pattern[str]
    plain_cue: re.Pattern[str]
    confirmation: re.Pattern[str]
    ethnicity: re.Pattern[str]
    occult: re.Pattern[str]

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]


def _alternation(words: list[str], escape: bool = False) -> str:
    items = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w) if escape else w for w in items)


def _any_space(pattern: str) -> str:
    """A pattern whose spaces (outside a character class) match any run of white space: a term broken over two
    lines ('computed\\ntomography') is still the term."""
    return re.sub(r" (?![^\[]*\])", r"\\s+", pattern)


def parse_rules(text: str, name: str = "rules.yaml") -> Rules:
    """Check and compile a rules document; a broken one fails naming the file and the key."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise MappingError(f"{name}: the drafting rules are a mapping")
    for key in (
        "case_start",
        "targets",
        "aliases",
        "context",
        "results",
        "metastasis_cues",
        "confirmation",
        "roles",
        "site_containers",
        "weak_sites",
        "unsided_sites",
        "procedure_kinds",
        "also_drug",
        "occult",
    ):
        if key not in raw:
            raise MappingError(f"{name}: '{key}' is missing")
    for n, rule in enumerate(raw["context"]):
        if rule.get("category") not in CONTEXT_CATEGORIES or rule.get("direction") not in DIRECTIONS:
            raise MappingError(
                f"{name}: context rule {n + 1} ({rule.get('literal')!r}): category must be one of"
                f" {sorted(CONTEXT_CATEGORIES)} and direction one of {sorted(DIRECTIONS)}"
            )
    flags = re.IGNORECASE
    try:
        return Rules(
            raw=raw,
            case_start=re.compile(raw["case_start"], flags),
            local_recurrence=re.compile(raw["local_recurrence"], flags),
            misdiagnosis=re.compile(raw["misdiagnosis"], flags),
            metastasis_cue=re.compile(rf"\b({_alternation(raw['metastasis_cues'])})\b", flags),
            plain_cue=re.compile(rf"\b({raw['plain_cue']})\b", flags),
            confirmation=re.compile(
                rf"(?<![\w-])({_any_space(_alternation(raw['confirmation']))})(?![\w-])", flags
            ),
            ethnicity=re.compile(rf"\b({_alternation(raw['ethnicities'], escape=True)})\b"),
            occult=re.compile(raw["occult"], flags),
        )
    except re.error as exc:
        raise MappingError(f"{name}: a pattern does not compile: {exc}") from None


@lru_cache(maxsize=1)
def shipped_rules() -> Rules:
    """The rules shipped with the package."""
    text = resources.files("fhir_adapter.draft").joinpath("rules.yaml").read_text(encoding="utf-8")
    return parse_rules(text)
