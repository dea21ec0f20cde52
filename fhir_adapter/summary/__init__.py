"""Case summaries: one self-contained HTML page per case (timeline, body map, markers, resources), and an index."""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..bundle import build_bundle
from ..casefile import parse_case, read_case_text
from ..errors import AdapterError, ConfigError, InvalidCaseError, MappingError
from ..terminology import Terminology
from ..validate import MODELS, validate_resource
from ..writer import ensure_dir, write_atomic
from .extract import CaseSummary, summarise
from .render import render_index, render_page

__all__ = [
    "CaseSummary",
    "PageNames",
    "SummaryRun",
    "summaries_from",
    "summarise",
    "write_summaries",
    "evidence_path",
]

SUFFIXES = (".yaml", ".yml", ".json")
EVIDENCE_SUFFIX = ".evidence.json"


@dataclass
class Loaded:
    """One case read from an input: its summary, or the error that stopped it."""

    source: str
    summary: CaseSummary | None = None
    error: AdapterError | None = None
    from_case_file: bool = False


@dataclass
class SummaryRun:
    """What write_summaries wrote, skipped and could not read."""

    pages: list[Path] = field(default_factory=list)
    index: Path | None = None
    errors: list[tuple[str, AdapterError]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # same case again, already summarised


def evidence_path(case_path: str) -> Path:
    """Where the evidence sidecar of a case file lives: case.yaml -> case.evidence.json."""
    path = Path(case_path)
    return path.with_name(path.name.rsplit(".", 1)[0] + EVIDENCE_SUFFIX)


def _expand(paths: Iterable[str]) -> Iterator[str]:
    for item in paths:
        if os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                names = set(files)
                for name in sorted(files):
                    if not name.endswith(SUFFIXES) or name.endswith(EVIDENCE_SUFFIX) or name.startswith("."):
                        continue
                    stem = name[: -len(".bundle.json")] if name.endswith(".bundle.json") else None
                    if stem and any(stem + suffix in names for suffix in SUFFIXES):
                        continue  # the expected bundle beside its case file: the case file says more
                    yield os.path.join(root, name)
        elif any(ch in item for ch in "*?[") and not os.path.exists(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise ConfigError(f"{item}: no file matches")
            yield from (m for m in matches if not m.endswith(EVIDENCE_SUFFIX))
        else:
            yield item


DRAFT_EVIDENCE_FORMAT = "fhir-adapter draft evidence 1"


def _read_evidence(case_path: str, case_id: str) -> dict:
    """The evidence of a case file's fields: {field path: {"sentence", "start", "end"}}.

    Two forms are read: that map itself, and the sidecar `fhir-adapter draft` writes (its
    "cases", each with facts whose offsets count characters of the report), whose facts are
    turned into their sentences with the words marked.
    """
    path = evidence_path(case_path)
    if not path.is_file():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidCaseError(f"{path}: not JSON ({exc})", file=str(path)) from None
    if isinstance(data, dict) and data.get("format") == DRAFT_EVIDENCE_FORMAT:
        return _draft_evidence(path, data, case_id)
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "sentence" in v for v in data.values()):
        raise InvalidCaseError(
            f'{path}: an evidence file maps case-file fields to {{"sentence": ..., "start": n, "end": n}}'
            f" or is the sidecar of fhir-adapter draft (format '{DRAFT_EVIDENCE_FORMAT}')",
            file=str(path),
        )
    return data


def _draft_evidence(path: Path, data: dict, case_id: str) -> dict:
    """The facts of a draft sidecar's case `case_id`, as sentences with their words' offsets in them."""
    cases = data.get("cases")
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise InvalidCaseError(f"{path}: a draft evidence file lists its cases under 'cases'", file=str(path))
    mine = [c for c in cases if c.get("case_id") == case_id] or (cases if len(cases) == 1 else [])
    if not mine:
        ids = ", ".join(str(c.get("case_id")) for c in cases)
        raise InvalidCaseError(
            f"{path}: no case '{case_id}' in this draft evidence file (it has {ids})", file=str(path)
        )
    out: dict[str, dict] = {}
    for fact in mine[0].get("facts") or []:
        try:
            sentence = fact["sentence"]
            text, begin = str(sentence["text"]), int(sentence["start"])
            field = str(fact["path"])
            start, end = int(fact["start"]) - begin, int(fact["end"]) - begin
        except (KeyError, TypeError, ValueError):
            raise InvalidCaseError(
                f"{path}: a fact of case '{case_id}' lacks its path, offsets or sentence", file=str(path)
            ) from None
        out.setdefault(field, {"sentence": text, "start": start, "end": end})
    return out


def _from_case(name: str, raw: bytes, terminology: Terminology) -> Loaded:
    case = parse_case(read_case_text(name, raw))
    conversion = build_bundle(case, terminology, bundle_type="collection")
    source = case.case.source.model_dump(exclude_none=True) if case.case.source else {}
    if case.case.summary:
        source["summary"] = case.case.summary
    summary = summarise(
        conversion.bundle,
        source_name=name,
        terminology=terminology,
        warnings=conversion.warnings,
        origins=conversion.origins,
        evidence=_read_evidence(name, case.case.id),
        case_source=source,
    )
    return Loaded(name, summary, from_case_file=True)


def summaries_from(paths: Iterable[str], terminology: Terminology) -> Iterator[Loaded]:
    """Case files and Bundle files (JSON, or NDJSON of Bundles), each read into a summary, lazily."""
    for name in _expand(paths):
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            yield Loaded(name, error=ConfigError(f"{name}: cannot read the file: {exc.strerror}"))
            continue
        try:
            if name.endswith(".json") or name.endswith(".ndjson"):
                docs = _json_docs(name, raw)
                if docs and all(isinstance(d, dict) and d.get("resourceType") == "Bundle" for d in docs):
                    for n, doc in enumerate(docs):
                        label = name if len(docs) == 1 else f"{name}:{n + 1}"
                        try:
                            yield Loaded(label, _from_bundle(label, doc, terminology))
                        except AdapterError as exc:
                            yield Loaded(label, error=exc)
                    continue
                if docs and any(isinstance(d, dict) and "resourceType" in d for d in docs):
                    raise InvalidCaseError(f"{name}: a FHIR resource that is not a Bundle", file=name)
            yield _from_case(name, raw, terminology)
        except AdapterError as exc:
            yield Loaded(name, error=exc)


def _first_null(node: object, path: str) -> str | None:
    """The path of the first JSON null in a document, or None."""
    if node is None:
        return path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found = _first_null(value, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
        if found:
            return found
    return None


def _from_bundle(name: str, bundle: dict, terminology: Terminology) -> CaseSummary:
    """A summary of a Bundle read from a file; its resources pass the validation gate first."""
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and isinstance(e["resource"].get("resourceType"), str)
        for e in entries
    ):
        raise InvalidCaseError(f"{name}: every Bundle.entry needs a resource with a resourceType", file=name)
    null = _first_null(bundle, "Bundle")
    if null:
        raise InvalidCaseError(
            f"{name}: {null} is null; FHIR JSON leaves out an element it has no value for", file=name
        )
    identifier = bundle.get("identifier")
    case_id = (
        str(identifier.get("value") or Path(name).stem) if isinstance(identifier, dict) else Path(name).stem
    )
    for entry in entries:
        if entry["resource"].get("resourceType") in MODELS:
            try:
                validate_resource(entry["resource"], case_id)
            except MappingError as exc:
                raise InvalidCaseError(f"{name}: {exc}", file=name) from None
    try:
        return summarise(bundle, source_name=name, terminology=terminology)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A resource of a type the gate does not check, in a shape FHIR does not allow.
        raise InvalidCaseError(
            f"{name}: the bundle is not valid FHIR R4 where this page reads it ({type(exc).__name__}: {exc})",
            file=name,
        ) from None


def _json_docs(name: str, raw: bytes) -> list:
    try:
        return [orjson.loads(raw)]
    except orjson.JSONDecodeError:
        try:
            return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        except orjson.JSONDecodeError:
            return []  # not JSON at all: let the case-file reader say what is wrong


INDEX = "index.html"


def page_name(case_id: str) -> str:
    """The file name a case's page would have alone: the id, characters a file name cannot hold as _."""
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._") or "case") + ".html"


class PageNames:
    """The file names of one run's pages: never the index's, never two alike, even to a case-blind disk.

    Case ids from bundles and servers may hold any character, and two ids can become one name once
    the characters a file name cannot hold are replaced ('a/b' and 'a_b'), or differ only in case on
    a disk that ignores it; a case may be called 'index'. Each such page gets the first hex digits of
    a hash of its id after the name, so no page is written over another or over the index, and the
    index links every case to its own page.
    """

    def __init__(self) -> None:
        self.taken = {INDEX}

    def name(self, case_id: str) -> str:
        """The page file name of `case_id`, unique in this run."""
        name = page_name(case_id)
        if name.lower() in self.taken or name != case_id + ".html":
            digest = hashlib.sha256(case_id.encode("utf-8", "surrogatepass")).hexdigest()
            stem = name[: -len(".html")]
            name = next(
                candidate
                for n in range(8, 65)
                if (candidate := f"{stem}-{digest[:n]}.html").lower() not in self.taken
            )
        self.taken.add(name.lower())
        return name


def write_summaries(paths: Iterable[str], out_dir: Path, terminology: Terminology) -> SummaryRun:
    """Write one page per case into out_dir, and index.html; a case read twice keeps its case-file version."""
    run = SummaryRun()
    chosen: dict[str, Loaded] = {}
    for loaded in summaries_from(paths, terminology):
        if loaded.error is not None:
            run.errors.append((loaded.source, loaded.error))
            continue
        key = loaded.summary.case_id
        earlier = chosen.get(key)
        if earlier is None or (loaded.from_case_file and not earlier.from_case_file):
            if earlier is not None:
                run.skipped.append(f"{earlier.source}: case {key} is summarised from {loaded.source} instead")
            chosen[key] = loaded
        else:
            run.skipped.append(f"{loaded.source}: case {key} is already summarised from {earlier.source}")
    ensure_dir(out_dir)
    items = []
    names = PageNames()
    for loaded in chosen.values():
        name = names.name(loaded.summary.case_id)
        path = out_dir / name
        write_atomic(path, render_page(loaded.summary).encode("utf-8"))
        run.pages.append(path)
        items.append((name, loaded.summary))
    if items:
        run.index = out_dir / INDEX
        write_atomic(run.index, render_index(items).encode("utf-8"))
    return run
