"""Loads the terminology maps in mappings/ and answers "term -> CodeableConcept"; a broken map fails at start-up."""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import MappingError
from .yamlkeys import DuplicateKey as _DuplicateKey
from .yamlkeys import NoDuplicateKeys as _NoDuplicateKeys

log = logging.getLogger(__name__)

ENTRY_KEYS = {
    "terms",
    "text",
    "kind",
    "codings",
    "variants",
    "note",
    "parent",
    "components",
    "source",
    "value_sets",
    "percent",
}
CODING_KEYS = {"system", "code", "display", "verified"}
FILE_KEYS = {"domain", "description", "entries"}
_URI_RE = re.compile(r"^(https?://[^\s]+|urn:(oid|uuid|iso|ietf):[^\s]+)$")
# Unicode's hyphens and dashes (U+2010 to U+2015, the minus sign) match as '-' does.
_FOLD_RE = re.compile(r"[\s_\-\u2010-\u2015\u2212]+")
# Zero-width space, non-joiner and joiner, word joiner, byte order mark, soft hyphen: no letter.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def fold(term: str) -> str:
    """The matching key of a term: lower case, runs of spaces, '-' and '_' folded to one space.

    Text pasted from a PDF or a web page carries characters that look like others or like nothing:
    a decomposed ö, a non-breaking hyphen, a zero-width space. The key is taken in Unicode NFC
    with the invisible ones left out, so 'liver' followed by a zero-width space is 'liver', not a
    term kept as text that reads exactly like one the map has.
    """
    if len(term) <= _FOLD_CACHED_LENGTH:
        return _fold_short(term)
    return _fold(term)


def _fold(term: str) -> str:
    if not term.isascii():
        term = unicodedata.normalize("NFC", term).translate(_INVISIBLE)
    return _FOLD_RE.sub(" ", term.strip().lower())


# A batch folds the same few hundred short terms again and again (a table's column names and its
# coded cells); those are remembered, a bounded number of them, and long free text never is.
_FOLD_CACHED_LENGTH = 80


@functools.lru_cache(maxsize=4096)
def _fold_short(term: str) -> str:
    return _fold(term)


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str
    verified: str

    def as_fhir(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Variant:
    when: tuple[tuple[str, str], ...]
    codings: tuple[Coding, ...]


@dataclass(frozen=True)
class Concept:
    """One map entry: what it is called and how it is coded."""

    domain: str
    terms: tuple[str, ...]
    text: str | None
    kind: str | None
    codings: tuple[Coding, ...]
    variants: tuple[Variant, ...] = ()
    # A coarser entry of the same map that codes what this one cannot (frontal scalp -> scalp).
    parent: str | None = None
    # The entries of another map this one stands for (a regimen's drugs), with where that was read.
    components: tuple[str, ...] = ()
    source: str | None = None
    note: str | None = None  # for the next editor; shown by `mappings search -v`
    # mCODE value sets every coding of the entry was seen in (by id): a profile that binds its
    # element to one of them is claimed only for an entry that lists it.
    value_sets: tuple[str, ...] = ()
    # A test's entry for its percentage of stained cells (a term of the same map; the entry's own
    # term when the test is itself a percentage): a percentage is coded only under that entry.
    percent: str | None = None

    def codings_for_search(self) -> list[Coding]:
        """Every coding of the entry, its variants' included."""
        return [*self.codings, *(c for v in self.variants for c in v.codings)]

    def codings_for(self, context: dict[str, str | None]) -> list[Coding]:
        """The base codings plus those of every variant whose conditions the context meets."""
        out = list(self.codings)
        for variant in self.variants:
            if all(context.get(k) == v for k, v in variant.when):
                out.extend(variant.codings)
        return out


@dataclass(frozen=True)
class Match:
    """A map entry found by `Terminology.search`, with the file that defines it."""

    domain: str
    file: str
    concept: Concept
    matched: str  # the term (or code) that matched the query


@dataclass
class Terminology:
    """Every loaded map, indexed by domain and folded term."""

    source: str
    domains: dict[str, dict[str, Concept]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    # The --mappings directory laid over the shipped maps, if any; where a user adds terms.
    overlay: Path | None = None
    # Where the shipped maps live, when that is a directory a user can edit (a source checkout).
    editable_dir: Path | None = None
    # The file each concept came from, for search results; overlay entries name the overlay.
    origin: dict[Concept, str] = field(default_factory=dict)
    # file_of answers by (domain, working directory): a batch asks it once per text-only term.
    _file_of: dict[tuple[str, str], str] = field(default_factory=dict, repr=False, compare=False)

    def lookup(self, domain: str, term: str) -> Concept | None:
        """The entry for a term, or None when the map has no such term."""
        return self.domains.get(domain, {}).get(fold(term))

    def require(self, domain: str, term: str) -> Concept:
        """The entry for a term the program itself relies on (a fixed code); missing is a broken map."""
        concept = self.lookup(domain, term)
        if concept is None or not concept.codings:
            raise MappingError(
                f"{self.files.get(domain, domain + '.yaml')}: no coded entry for '{term}',"
                " which fhir-adapter needs; restore it from the shipped maps"
            )
        return concept

    def ancestors(self, domain: str, term: str) -> list[Concept]:
        """The entry for a term, then its parent, its parent's parent, ... (empty if unknown)."""
        out = []
        concept = self.lookup(domain, term)
        while concept is not None:
            out.append(concept)
            concept = self.lookup(domain, concept.parent) if concept.parent else None
        return out

    def file_of(self, domain: str) -> str:
        """The map file a user can edit to add a term of this domain, as a path or an instruction.

        With --mappings DIR it is DIR/<domain>.yaml (created if need be, laid over the shipped map).
        In a source checkout it is the shipped file. In an installed package, whose files an upgrade
        overwrites, it says how to add an overlay instead.
        """
        key = (domain, os.getcwd())
        found = self._file_of.get(key)
        if found is None:
            found = self._file_of[key] = self._editable_file(domain)
        return found

    def _editable_file(self, domain: str) -> str:
        name = f"{domain}.yaml"
        if self.overlay is not None:
            return str(self.overlay / name)
        if self.editable_dir is not None:
            return _shown_path(self.editable_dir / name)
        return f"the shipped {name} (to add a term, put a {name} in a directory and pass --mappings DIR)"

    def search(self, query: str, domain: str | None = None, limit: int = 50) -> list[Match]:
        """Entries whose terms contain the query (folded), or whose code equals it; else close terms."""
        key = fold(query)
        found: list[Match] = []
        seen: set[tuple[str, int]] = set()

        def add(name: str, concept: Concept, matched: str) -> None:
            if (name, id(concept)) not in seen and len(found) < limit:
                seen.add((name, id(concept)))
                found.append(Match(name, self.origin.get(concept, self.files[name]), concept, matched))

        domains = [domain] if domain is not None else sorted(self.domains)
        for name in domains:
            for term, concept in self.domains.get(name, {}).items():
                if key and key in term:
                    add(name, concept, term)
                elif any(c.code == query.strip() for c in concept.codings_for_search()):
                    add(name, concept, query.strip())
        if not found:
            for name in domains:
                index = self.domains.get(name, {})
                for term in difflib.get_close_matches(key, list(index), n=5, cutoff=0.75):
                    add(name, index[term], term)
        return found


def describe_match(match: Match, *, verbose: bool = False) -> list[str]:
    """A search hit for a person: the entry's domain, terms and file, then one line per coding."""
    concept = match.concept
    lines = [f"{match.domain}: {', '.join(concept.terms)}  ({match.file})"]
    if concept.parent:
        lines.append(f"  parent: {concept.parent}")
    for coding in concept.codings:
        lines.append(f"  {coding.system} {coding.code} {coding.display}")
        if verbose:
            lines.append(f"    verified: {coding.verified}")
    for variant in concept.variants:
        when = ", ".join(f"{k}={v}" for k, v in variant.when)
        for coding in variant.codings:
            lines.append(f"  when {when}: {coding.system} {coding.code} {coding.display}")
            if verbose:
                lines.append(f"    verified: {coding.verified}")
    if concept.components:
        lines.append(f"  components: {', '.join(concept.components)}")
    if concept.value_sets:
        lines.append(f"  in value sets: {', '.join(concept.value_sets)}")
    if not concept.codings and not concept.variants:
        lines.append("  no verified code: the term is kept as text")
    if verbose and concept.note:
        lines.append(f"  note: {' '.join(concept.note.split())}")
    return lines


# The shape of a code in each system the maps use most, so a code copied wrongly (a digit
# dropped or swapped, an ICD-10-CM code under SNOMED CT) fails at start-up, not on a server.
_SHAPES = {
    "http://snomed.info/sct": (
        "SNOMED CT",
        re.compile(r"[1-9]\d{5,17}"),
        "6 to 18 digits, the last a check digit",
    ),
    "http://hl7.org/fhir/sid/icd-10-cm": (
        "ICD-10-CM",
        re.compile(r"[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?"),
        "a letter, two characters, then a dot and up to four more (C50.912)",
    ),
    "http://loinc.org": (
        "LOINC",
        # LA answers, LL answer lists, LP parts and LG groups are codes of http://loinc.org too.
        re.compile(r"(L[AGLP])?\d{1,8}-\d"),
        "digits, a dash and a check digit (85337-4, LA6576-8, LG7967-5)",
    ),
    "http://www.nlm.nih.gov/research/umls/rxnorm": ("RxNorm", re.compile(r"\d{1,9}"), "digits"),
    # mCODE's ICD-O-3 system holds morphology codes (8500/3: four digits, then the behaviour) and
    # topography codes (C50.4).
    "http://terminology.hl7.org/CodeSystem/icd-o-3": (
        "ICD-O-3",
        re.compile(r"\d{4}/[0-369]|C\d{2}(\.\d)?"),
        "a morphology, four digits and a behaviour /0, /1, /2, /3, /6 or /9 (8500/3), or a topography (C50.4)",
    ),
}
# The words said of a SNOMED CT id that is no concept's, and of a LOINC code whose check digit is wrong.
_SNOMED_CHECKED = (
    "6 to 18 digits, the last a check digit, the two before it the partition of a concept id"
    " (00 or 10; a description id has 01 or 11, a relationship id 02 or 12)"
)
_LOINC_CHECKED = "digits, a dash and their mod 10 check digit (85337-4), or an LA, LL, LP or LG code"
# SNOMED CT's check digit is a Verhoeff check digit: the dihedral group D5 and its permutation.
_D5 = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_PERM = [list(range(10)), [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
for _ in range(6):
    _PERM.append([_PERM[1][x] for x in _PERM[-1]])


def _verhoeff(digits: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _D5[check][_PERM[i % 8][int(ch)]]
    return check == 0


def _loinc_check_digit(digits: str) -> int:
    """LOINC's mod 10 check digit of a code's number (the digits before the dash)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if i % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def code_shape(system: str, code: str) -> tuple[str, str] | None:
    """(the system's name, what its codes look like) when `code` cannot be a code of `system`.

    None when it can, or when the system is not one whose codes are checked.
    """
    shape = _SHAPES.get(system)
    if shape is None:
        return None
    name, pattern, words = shape
    if not pattern.fullmatch(code):
        return name, words
    if name == "SNOMED CT" and not _verhoeff(code):
        return name, words
    if name == "SNOMED CT" and code[-3:-1] not in ("00", "10"):
        # The partition identifier sits before the check digit; only 00 and 10 name a concept.
        return name, _SNOMED_CHECKED
    if name == "LOINC" and code[0].isdigit():
        # Only the numeric codes: an LA, LL, LP or LG code's check digit counts its letters too.
        number, check = code.split("-")
        if _loinc_check_digit(number) != int(check):
            return name, _LOINC_CHECKED
    return None


# FHIR's code type: no leading or trailing whitespace, no run of it inside.
_FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")
# The keys a variant's `when` may test, and the values the mappers give them (None: any text).
_WHEN_VALUES: dict[str, frozenset[str] | None] = {
    "laterality": frozenset({"left", "right", "bilateral", "unspecified"}),
    "sex": frozenset({"female", "male", "other", "unknown"}),
    "histology": None,
}


def _fail(file: str, where: str, problem: str) -> MappingError:
    return MappingError(f"{file}: {where}: {problem}")


def _load_coding(file: str, where: str, raw: Any) -> Coding:
    if not isinstance(raw, dict):
        raise _fail(file, where, "a coding must be a mapping with system, code, display and verified")
    unknown = set(raw) - CODING_KEYS
    if unknown:
        raise _fail(file, where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(CODING_KEYS)}")
    for key in sorted(CODING_KEYS):
        if key not in raw or raw[key] in (None, ""):
            raise _fail(file, where, f"coding lacks '{key}'")
    if not isinstance(raw["code"], str):
        raise _fail(file, where, f"code {raw['code']!r} must be a quoted string")
    for key in ("system", "display", "verified"):
        if not isinstance(raw[key], str):
            raise _fail(file, where, f"'{key}' must be a string")
    if not _URI_RE.match(raw["system"]):
        raise _fail(file, where, f"system '{raw['system']}' is not an absolute URI")
    if not _FHIR_CODE.fullmatch(raw["code"]):
        raise _fail(
            file, where, f"code {raw['code']!r} has spaces at its ends or in a run; FHIR codes have none"
        )
    shape = code_shape(raw["system"], raw["code"])
    if shape is not None:
        name, words = shape
        raise _fail(
            file,
            where,
            f"code {raw['code']!r} is no {name} code ({name} codes are {words}); copy it again from"
            " where it was verified",
        )
    return Coding(raw["system"], raw["code"], raw["display"], raw["verified"])


def _load_variant(file: str, where: str, raw: Any) -> Variant:
    when = raw.get("when") if isinstance(raw, dict) else None
    if not isinstance(when, dict) or not when or set(raw) - {"when", "codings"}:
        raise _fail(file, where, "a variant is a mapping with 'when' (a mapping) and 'codings'")
    for key, value in when.items():
        if key not in _WHEN_VALUES:
            raise _fail(
                file, where, f"a variant's 'when' tests {key!r}; it may test {', '.join(_WHEN_VALUES)}"
            )
        allowed = _WHEN_VALUES[key]
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            words = "text" if allowed is None else ", ".join(sorted(allowed))
            raise _fail(file, where, f"a variant's '{key}' must be one of: {words}")
    codings = raw.get("codings") or []
    if not isinstance(codings, list):
        raise _fail(file, where, "a variant's 'codings' must be a list")
    return Variant(
        tuple(sorted(when.items())),
        tuple(_load_coding(file, where, c) for c in codings),
    )


class _MapLoader(_NoDuplicateKeys, yaml.SafeLoader):
    pass


_FAST_LOADER: type = _MapLoader
if hasattr(yaml, "CSafeLoader"):
    _FAST_LOADER = type("_FastMapLoader", (_NoDuplicateKeys, yaml.CSafeLoader), {})


def load_map_text(
    file: str, text: str, base: dict[str, Concept] | None = None
) -> tuple[str, dict[str, Concept]]:
    """Parse and check one map file; return its domain and its folded-term index.

    `base` is the shipped index of the same domain when the file is an overlay: a parent may
    then name a shipped term.
    """
    try:
        # libyaml's loader reads the maps ten times faster (a third of a second of every run's
        # start); the pure loader gives the message of a file it refuses.
        doc = yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a SafeLoader
    except _DuplicateKey as exc:
        raise MappingError(
            f"{file}:{exc.second}: the key {exc.key!r} appears twice in one mapping (lines"
            f" {exc.first} and {exc.second}); the second would replace the first: keep one"
        ) from None
    except yaml.YAMLError:
        try:
            doc = yaml.load(text, Loader=_MapLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            raise MappingError(f"{file}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise MappingError(f"{file}: a map file is a mapping with domain, description and entries")
    unknown = set(doc) - FILE_KEYS
    if unknown:
        raise MappingError(
            f"{file}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(FILE_KEYS)}"
        )
    domain = doc.get("domain")
    stem = Path(file).stem
    if domain != stem:
        raise MappingError(f"{file}: domain is {domain!r} but must equal the file name '{stem}'")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise MappingError(f"{file}: 'entries' must be a list")
    index: dict[str, Concept] = {}
    for n, raw in enumerate(entries):
        where = f"entry {n + 1}"
        if not isinstance(raw, dict):
            raise _fail(file, where, "an entry must be a mapping")
        terms = raw.get("terms")
        if isinstance(terms, list) and terms and isinstance(terms[0], str):
            where = f"entry {n + 1} ('{terms[0]}')"
        unknown = set(raw) - ENTRY_KEYS
        if unknown:
            raise _fail(file, where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(ENTRY_KEYS)}")
        if (
            not isinstance(terms, list)
            or not terms
            or not all(isinstance(t, str) and t.strip() for t in terms)
        ):
            odd = (
                next((t for t in terms if not isinstance(t, str)), None) if isinstance(terms, list) else None
            )
            if isinstance(odd, bool | int | float):
                # YAML reads yes, no, on, off, true and numbers as values: 'yes' arrived as True.
                raise _fail(
                    file,
                    where,
                    f"the term {odd!r} is not text: YAML reads an unquoted yes, no, on, off, true, false"
                    " or number as a value; put the term in quotes",
                )
            raise _fail(file, where, "'terms' must be a non-empty list of strings")
        codings_raw = raw.get("codings", [])
        if not isinstance(codings_raw, list):
            raise _fail(file, where, "'codings' must be a list ([] for a term with no verified code)")
        codings = tuple(_load_coding(file, where, c) for c in codings_raw)
        variants_raw = raw.get("variants") or []
        if not isinstance(variants_raw, list):
            raise _fail(file, where, "'variants' must be a list of mappings with 'when' and 'codings'")
        variants = [_load_variant(file, where, v) for v in variants_raw]
        for key in ("text", "kind", "note", "source"):
            value = raw.get(key)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise _fail(file, where, f"'{key}' must be text (quote it if it reads as a number)")
        parent = raw.get("parent")
        if parent is not None and not (isinstance(parent, str) and parent.strip()):
            raise _fail(file, where, "'parent' must be a term of another entry in this file")
        components = raw.get("components") or []
        if not isinstance(components, list) or not all(isinstance(c, str) and c.strip() for c in components):
            raise _fail(file, where, "'components' must be a list of terms")
        value_sets = raw.get("value_sets") or []
        if not isinstance(value_sets, list) or not all(isinstance(v, str) and v.strip() for v in value_sets):
            raise _fail(file, where, "'value_sets' must be a list of value set ids")
        if value_sets and not codings:
            raise _fail(file, where, "'value_sets' names where codings were seen; this entry has none")
        percent = raw.get("percent")
        if percent is not None and not (isinstance(percent, str) and percent.strip()):
            raise _fail(file, where, "'percent' must be a term of the entry coding the test's percentage")
        source = raw.get("source")
        if components and not (isinstance(source, str) and source.strip()):
            raise _fail(file, where, "an entry with 'components' names where they were read in 'source'")
        concept = Concept(
            domain=domain,
            terms=tuple(terms),
            text=raw.get("text"),
            kind=raw.get("kind"),
            codings=codings,
            variants=tuple(variants),
            parent=parent,
            components=tuple(components),
            source=source,
            note=raw.get("note"),
            value_sets=tuple(value_sets),
            percent=percent,
        )
        for term in terms:
            key = fold(term)
            if key in index:
                raise _fail(file, where, f"term '{term}' is already used by entry '{index[key].terms[0]}'")
            index[key] = concept
    known = {**(base or {}), **index}
    for concept in index.values():
        if concept.parent is not None:
            if fold(concept.parent) not in known:
                raise _fail(
                    file, f"entry '{concept.terms[0]}'", f"parent '{concept.parent}' is no term of {file}"
                )
            _check_no_cycle(file, known, concept)
        if concept.percent is not None and fold(concept.percent) not in known:
            raise _fail(
                file, f"entry '{concept.terms[0]}'", f"percent '{concept.percent}' is no term of {file}"
            )
    return domain, index


def _check_no_cycle(file: str, index: dict[str, Concept], concept: Concept) -> None:
    seen = {id(concept)}
    node = concept
    while node.parent is not None:
        node = index[fold(node.parent)]
        if id(node) in seen:
            raise _fail(file, f"entry '{concept.terms[0]}'", "its parents form a loop")
        seen.add(id(node))


def _shown_path(path: Path) -> str:
    """A path as a user would type it: relative to the working directory when it is below it."""
    try:
        return os.path.relpath(path) if Path.cwd() in path.parents else str(path)
    except (OSError, ValueError):
        return str(path)


# The largest overlay map read: twenty times all the shipped maps. A 50 MB map took minutes and
# gigabytes to load before the first case.
MAP_SIZE_LIMIT = 8 * 2**20


def _read_map(path: Path) -> str:
    """A map file's text; a file that is not UTF-8 text, or not a file, is named, not a traceback."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAP_SIZE_LIMIT + 1)
    except IsADirectoryError:
        raise MappingError(f"{path}: is a directory; a map is a file named <domain>.yaml") from None
    except OSError as exc:
        raise MappingError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAP_SIZE_LIMIT:
        raise MappingError(
            f"{path}: the map is over {MAP_SIZE_LIMIT // 2**20} MB (the shipped maps hold 2,000 terms in"
            " 0.4 MB); a file this size holds something other than terms, or is a mistake"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise MappingError(f"{path}: is UTF-16 or binary, not UTF-8 text; save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise MappingError(
            f"{path}:{line}: byte 0x{raw[exc.start]:02x} is not UTF-8; save the file as UTF-8"
        ) from None


def _check_new_domain(file: str, domain: str, shipped: list[str]) -> None:
    """A map for a domain fhir-adapter does not ship: a misspelt name is an error, others are said.

    No mapper asks for such a domain, so a typo (histolgy.yaml) left every entry unused and the
    terms it was meant to code kept as text, without a word.
    """
    close = difflib.get_close_matches(domain, shipped, n=1, cutoff=0.8)
    if close:
        raise MappingError(
            f"{file}: there is no map domain '{domain}'; did you mean {close[0]}.yaml? (the domains"
            f" are {', '.join(shipped)})"
        )
    log.warning(
        "%s: '%s' is no domain fhir-adapter maps from (they are %s); its entries are found by"
        " `mappings search` and the library only",
        file,
        domain,
        ", ".join(shipped),
    )


def _say_split_entries(file: str, base: dict[str, Concept], index: dict[str, Concept]) -> None:
    """Warn where an overlay entry replaces some terms of a shipped entry and leaves the others.

    Overlaying 'liver' with a code of one's own left the shipped 'hepatic' on the shipped code: two
    words for one site then carried two codes, and nothing said so.
    """
    said: set[int] = set()
    for key, concept in index.items():
        shipped = base.get(key)
        if shipped is None or id(concept) in said:
            continue
        left = [t for t in shipped.terms if fold(t) not in index]
        if left and shipped.codings_for_search() != concept.codings_for_search():
            said.add(id(concept))
            log.warning(
                "%s: entry '%s' replaces the shipped entry '%s' for the terms it lists; %s keep the"
                " shipped codes: list them in the entry too if they mean the same",
                file,
                concept.terms[0],
                shipped.terms[0],
                ", ".join(f"'{t}'" for t in left),
            )


def load_terminology(directory: Path | str | None = None) -> Terminology:
    """Load the maps shipped with the package, with the *.yaml maps of `directory` laid over them.

    An overlay file adds its entries to the shipped map of the same domain (its file name); an
    overlay entry replaces the shipped entry for each term it lists. A file for a new domain is
    loaded as it is.
    """
    root = resources.files("fhir_adapter.mappings")
    shipped = sorted((p for p in root.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    terminology = Terminology(source="the maps shipped with fhir-adapter")
    if isinstance(root, Path) and not {"site-packages", "dist-packages"} & set(root.parts):
        terminology.editable_dir = root
    for path in shipped:
        name = f"mappings/{path.name}"
        domain, index = load_map_text(name, path.read_text(encoding="utf-8"))
        terminology.domains[domain] = index
        terminology.files[domain] = name
        for concept in index.values():
            terminology.origin[concept] = name
    if not terminology.domains:
        raise MappingError(f"{terminology.source}: no *.yaml terminology maps found")
    if directory is None:
        log.debug("terminology: %d shipped maps loaded", len(terminology.domains))
        return terminology
    overlay = Path(directory)
    if not overlay.is_dir():
        raise MappingError(f"{overlay}: the mappings directory does not exist")
    # A hidden file (a linter's .yamllint.yml, an editor's) is no map, as in a directory of cases.
    files = sorted(p for p in overlay.glob("*.yaml") if not p.name.startswith("."))
    # Map-looking files the overlay would not read: a map named body_sites.yml was passed over
    # without a word whenever another file had the right suffix.
    for path in sorted(overlay.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix.lower() in (".yml", ".yaml") and path.suffix != ".yaml":
            raise MappingError(
                f"{path}: map files are read only when named <domain>.yaml; rename it {path.stem}.yaml"
            )
    if not files:
        raise MappingError(f"{overlay}: no *.yaml terminology maps found")
    terminology.overlay = overlay
    terminology.source = f"{overlay} over the shipped maps"
    shipped_domains = sorted(terminology.domains)
    for path in files:
        name = str(path)
        text = _read_map(path)
        if path.stem not in terminology.domains:
            _check_new_domain(name, path.stem, shipped_domains)
        base = terminology.domains.get(path.stem, {})
        domain, index = load_map_text(name, text, base)
        _say_split_entries(name, base, index)
        terminology.domains[domain] = {**base, **index}
        terminology.files[domain] = name
        for concept in index.values():
            terminology.origin[concept] = name
    log.info("terminology: %d overlay map(s) from %s laid over the shipped maps", len(files), overlay)
    return terminology
