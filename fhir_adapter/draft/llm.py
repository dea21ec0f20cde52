"""The optional LLM backend: an OpenAI-compatible chat completions endpoint asked for case files.

Nothing the model returns is trusted: each fact must come with words of the text (its evidence
span), those words must be found in the text, and the value must be in them (or be a closed
choice such as sex or laterality that the words support). A fact that fails goes to the review
list, not into the draft.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from ..case import Case
from ..client import ClientSettings, HttpClient, RetryPolicy, check_url, shown_url, snippet
from ..errors import ConfigError, InvalidCaseError, ServerResponseError, ServerUnavailableError, printable
from ..schema import schema_bytes
from ..terminology import Terminology, fold
from . import Draft, case_id_for, checks
from .fit import fit_to_case_model
from .text import blank_header, references, split_cases
from .values import dates, number

_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_NESTING = 64  # levels of lists and objects in a model's answer (a case file allows 32)
# Fields whose value is a closed choice: the quoted words support it without containing it.
CHOICE_FIELDS = {
    "sex", "laterality", "kind", "status", "certainty", "clinical_status", "type", "deceased", "occult",
    "suspected", "primary_side", "intent", "result", "response", "route",
}  # fmt: skip
# References between items: structure, checked by the case model rather than against the text.
REFERENCE_FIELDS = {"to", "treats", "about", "primary", "id"}
# An item is kept only if these fields are verified.
REQUIRED = {
    "primary_cancers": "site",
    "metastases": "site",
    "procedures": "name",
    "medications": "name",
    "disease_status": "status",
    "markers": "name",
    "germline": "gene",
}

PROMPT = """You read oncology case reports and write case files. Answer with one JSON object only:
{"cases": [{"case": <a case file>, "evidence": {"<field path>": "<the exact words of the report it comes from>"}}]}
One entry per patient the report describes. A case file follows the JSON Schema below. Put in only
what the report states; leave out what it does not say. For every field you fill, give in
"evidence" the exact words of the report (copied, not paraphrased) under the field's path, written
like metastases[0].site or patient.age_at_diagnosis or primary_cancers[0].receptors.her2.

JSON Schema of a case file:
"""


@dataclass(frozen=True)
class LlmSettings:
    """Where the model is and how to reach it; the key comes from the environment or a file."""

    url: str
    key: str | None = None
    model: str | None = None
    timeout: float = 120.0  # for the whole request, retries included
    allow_plain_http_auth: bool = False  # send the key over plain http to another machine
    retry: RetryPolicy | None = None  # None: the FHIR client's policy, bounded by `timeout`


def _content(settings: LlmSettings, text: str) -> str:
    """Ask the endpoint; its answer's text. Through the FHIR client's HTTP stack and rules.

    The key goes to the endpoint's own origin only: a redirect is not followed (the key would
    go with it), the deadline holds however slowly the endpoint answers, and the answer's size
    is capped.
    """
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": PROMPT + schema_bytes().decode()},
            {"role": "user", "content": text},
        ],
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }
    if settings.model:
        body["model"] = settings.model
    shown = shown_url(settings.url)
    check_url(
        settings.url,
        what="--llm-url",
        credentials=bool(settings.key),
        allow_plain_http=settings.allow_plain_http_auth,
    )
    policy = settings.retry or RetryPolicy(total_timeout=settings.timeout)
    client = HttpClient(
        ClientSettings(
            base_url=settings.url,
            token=settings.key,
            read_timeout=settings.timeout,
            retry=replace(policy, total_timeout=min(policy.total_timeout, settings.timeout)),
            accept="application/json",
            read_timeout_name="the LLM timeout",
            deadline_name="the LLM timeout",
        )
    )
    try:
        answer, _ = client.request(
            "POST",
            "",
            json_body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            follow_redirects=False,
        )
    except ServerResponseError as exc:
        raise ServerResponseError(f"--llm-url {shown}: {exc}") from None
    except ServerUnavailableError as exc:
        if exc.status is not None:
            what = f"the endpoint answered HTTP {exc.status} at every attempt"
        elif "could not connect" in str(exc):
            what = "cannot reach the endpoint"
        else:
            what = "no whole answer from the endpoint"
        raise ServerUnavailableError(f"--llm-url {shown}: {what}: {exc}", status=exc.status) from None
    status = answer.status_code
    if 300 <= status < 400:
        target = answer.headers.get("Location")
        raise ServerResponseError(
            f"--llm-url {shown}: the endpoint answered HTTP {status}, a redirect to"
            f" {shown_url(target) if target else '(no Location)'}; not followed, since the key would"
            " go with it. Give the final URL with --llm-url",
            status=status,
        )
    if status >= 400:
        raise ServerUnavailableError(
            f"--llm-url {shown}: the endpoint answered HTTP {status}; check the URL"
            " (an OpenAI-compatible .../chat/completions) and the key",
            status=status,
        )
    try:
        reply = answer.json()
    except ValueError:
        raise ServerResponseError(
            f"--llm-url {shown}: the answer is not JSON ({snippet(answer)})", status=status
        ) from None
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ServerResponseError(
            f"--llm-url {shown}: the answer has no choices[0].message.content; is it a chat"
            " completions endpoint?",
            status=status,
        ) from None
    if isinstance(content, list) and all(
        isinstance(part, dict) and isinstance(part.get("text"), str) for part in content
    ):
        content = "".join(part["text"] for part in content)  # content given as a list of text parts
    if not isinstance(content, str):
        raise ServerResponseError(
            f"--llm-url {shown}: choices[0].message.content is {_kind(content)}, not text; the model"
            " answered with no text to read",
            status=status,
        )
    return content


def _kind(value: Any) -> str:
    return (
        "null"
        if value is None
        else f"a JSON {type(value).__name__.replace('dict', 'object').replace('list', 'array')}"
    )


def _parse(content: str, url: str) -> list[dict[str, Any]]:
    stripped = re.sub(r"^```(?:json)?\s*|\s*```$", "", content.strip())
    try:
        doc = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidCaseError(f"--llm-url {url}: the model's answer is not a JSON object") from None
    if _nesting(doc) > MAX_NESTING:
        # The checks below walk the answer recursively; a case file nests far less than this.
        raise InvalidCaseError(f"--llm-url {url}: the model's answer nests deeper than {MAX_NESTING} levels")
    cases = doc.get("cases") if isinstance(doc, dict) else None
    if not isinstance(cases, list) or not all(
        isinstance(c, dict) and isinstance(c.get("case"), dict) for c in cases
    ):
        raise InvalidCaseError(
            f"--llm-url {url}: the model's answer has no list of cases ({{'cases': [...]}})"
        )
    return cases


def _nesting(doc: Any) -> int:
    """How deep lists and objects nest in a JSON value, counted without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                stack.extend(
                    (child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)
                )
    return deepest


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _supported(field: str, value: Any, quote: str) -> bool:
    """Whether the quoted words hold the value (or, for a closed choice, may stand for it)."""
    q = fold(quote)
    if field in CHOICE_FIELDS or isinstance(value, bool):
        return True
    if field == "site" and isinstance(value, str):
        # 'invasive ductal carcinoma' names its organ: the site is implied, as the rules read it too
        implied = {fold(k): fold(v) for k, v in _rules()["implied_site"].items()}
        aliases = {fold(k): fold(v) for k, v in _rules()["aliases"].items()}
        words = aliases.get(q, q)
        if implied.get(words) == fold(value) or any(h in q and implied[h] == fold(value) for h in implied):
            return True
    if isinstance(value, int | float):
        words = re.findall(r"\d+(?:\.\d+)?|[a-z]+", q)
        found = set()
        for w in words:
            try:
                found.add(number(w))
            except ValueError:
                continue
        return float(value) in found
    if isinstance(value, str):
        v = fold(value)
        if v in q or any(fold(term) in q for term in _synonyms(field, value)):
            return True
        if field in ("date", "end_date", "last_known") and any(d.value == value for d in dates(quote)):
            return True  # '2022-09' is supported by 'September of 2022'
        if field in ("confirmed_by", "evidence") and _evidence_kinds(quote) & _evidence_kinds(value):
            return True  # 'histopathological analysis' supports histopathology
        # An interval '2 years' is supported by 'two years'.
        m = re.fullmatch(r"([0-9.]+) (\w+)", v)
        if m:
            return _supported("", float(m.group(1)), quote) and m.group(2).rstrip("s") in q
        return False
    return False


def _synonyms(field: str, value: str) -> list[str]:
    """Other words for a value: its map entry's terms and the rules' aliases ('oestrogen receptor' for ER)."""
    from . import _shipped_terminology

    terminology = _shipped_terminology()
    out: list[str] = []
    for domain in (
        "histology",
        "secondary_cancers",
        "body_sites",
        "procedures",
        "medications",
        "observations",
    ):
        concept = terminology.lookup(domain, value)
        if concept is not None:
            out.extend(concept.terms)
    names = {fold(k): v for k, v in _rules()["marker_names"].items()}
    for word, short in names.items():
        if fold(short) == fold(value):
            out.append(word)
    for word, target in _rules()["aliases"].items():
        if fold(target) == fold(value) or fold(target) in {fold(t) for t in out}:
            out.append(word)
    return [t for t in out if len(t) > 2]


def _evidence_kinds(words: str) -> set[str]:
    kinds = {"imaging": r"imag|mri|ct\b|pet|scan|radiograph|ultraso|mammograph|tomograph|scintigra|x-ray",
             "biopsy": r"biops|aspiration|excision", "pathology": r"patholog|histolog|immunohisto|cytolog|microscop",
             "examination": r"examination|fundus|fundoscop|slit"}  # fmt: skip
    return {k for k, pattern in kinds.items() if re.search(pattern, words, re.I)}


def _leaves(data: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(path, field name, value) of every scalar of a case dict; lists of scalars item by item."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_leaves(value, f"{path}.{key}" if path else key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.extend(_leaves(value, f"{path}[{i}]"))
    else:
        name = re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]
        out.append((path, name, data))
    return out


def _quote_for(evidence: dict[str, str], path: str) -> str | None:
    """The evidence of a path, or of the nearest item above it ('metastases[0]' for its fields)."""
    probe = path
    while probe:
        if isinstance(evidence.get(probe), str) and evidence[probe].strip():
            return evidence[probe]
        probe = (
            re.sub(r"(\.[^.\[]+|\[\d+\])$", "", probe) if re.search(r"(\.[^.\[]+|\[\d+\])$", probe) else ""
        )
    return None


def _remove(data: Any, path: str) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    if not parts:  # an empty key: nothing to walk to; the case check refuses the key itself
        return
    node = data
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = None
    else:
        node.pop(last, None)


def _compact(data: Any) -> Any:
    """Drop the holes removal leaves: None in lists, empty dicts and lists, items lacking their key field."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            v = _compact(v)
            if v in (None, {}, []):
                continue
            if isinstance(v, list) and k in REQUIRED:
                v = [x for x in v if isinstance(x, dict) and REQUIRED[k] in x]
                if not v:
                    continue
            out[k] = v
        return out
    if isinstance(data, list):
        return [x for x in (_compact(v) for v in data) if x not in (None, {}, [])]
    return data


def _sentence_around(text: str, start: int, end: int) -> dict[str, Any]:
    s = max(text.rfind(". ", 0, start) + 2, 0) if text.rfind(". ", 0, start) >= 0 else 0
    e = text.find(". ", end)
    e = len(text) if e < 0 else e + 1
    return {"start": s, "end": e, "text": text[s:e].strip()}


def _sanitize(data: Any, path: str, review: list[dict[str, Any]]) -> Any:
    """The answer with every key that is no field name dropped to review ('metastases[0]', 'patient.sex')."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if not isinstance(key, str) or not _FIELD_NAME.match(key):
                where = f"{path}.{key}" if path else str(key)
                review.append(
                    {"fact": f"{where}: {value!r}"[:300], "why": "a key that is no field of the case format"}
                )
                continue
            out[key] = _sanitize(value, f"{path}.{key}" if path else key, review)
        return out
    if isinstance(data, list):
        return [_sanitize(v, f"{path}[{i}]", review) for i, v in enumerate(data)]
    return data


def verify(
    case: dict[str, Any],
    evidence: dict[str, str],
    text: str,
    story: checks.Story | None = None,
    terminology: Terminology | None = None,
    case_number: int = 0,
) -> tuple[dict, list, list]:
    """The case with only the facts found back in the patient's story, their evidence, and the rest for review.

    A fact is kept when its words are in the text and hold its value (or, for a closed choice,
    stand for it), and when the rules' own reading of the text agrees (checks.py): the words are
    in the patient's story, not negated there, and a marker is on the tumour the text measured
    it on. A treatment the text plans or refuses keeps that status, with a note in review.
    """
    terminology = terminology or _shipped_terminology()
    story = story or checks.read_story(text, terminology)
    norm_text = _norm(text)
    found, review, drop = [], [], []
    case = _sanitize(case, "", review)
    for path, field, value in _leaves(case):
        if path.startswith("case."):
            continue
        if field in REFERENCE_FIELDS:
            continue
        quote = _quote_for(evidence, path)
        where = norm_text.find(_norm(quote)) if quote else -1
        if quote is None or where < 0 or not _supported(field, value, quote):
            why = (
                "returned by the LLM with no evidence words"
                if quote is None
                else "returned by the LLM, but its evidence words are not in the text"
                if where < 0
                else "returned by the LLM, but its value is not in its evidence words"
            )
            review.append({"fact": f"{path}: {value}", "why": why})
            drop.append(path)
            continue
        start, end = checks.locate(story, quote)
        if start < 0:
            start = _locate(text, quote)
            end = start + len(quote) if start >= 0 else -1
        why = checks.why_not(story, case, path, field, value, (start, end), terminology, case_number)
        if why is not None:
            review.append({"fact": f"{path}: {value}", "why": why, "start": start, "end": end,
                           "sentence": _sentence_around(text, start, end)["text"]})  # fmt: skip
            drop.append(path)
            continue
        item = _item_of(case, path)
        status = checks.status_from_text(story, path, field, value, (start, end), item or {})
        if status is not None and item is not None:
            item["status"] = status
            review.append(
                {"fact": f"{path}: {value}", "why": f"the text plans or refuses it: drafted as {status}"}
            )
            found.append({
                "path": re.sub(r"\.name$", ".status", path),
                "value": status,
                "start": start,
                "end": end,
                "text": text[start:end],
                "sentence": _sentence_around(text, start, end),
                "rule": "llm-status-from-text",
                "confidence": 0.6,
            })  # fmt: skip
        found.append({
            "path": path,
            "value": value,
            "start": start,
            "end": end,
            "text": text[start:end] if start >= 0 else quote,
            "sentence": _sentence_around(text, max(start, 0), max(end, 0)),
            "rule": "llm-evidence-found",
            "confidence": 0.7,
        })  # fmt: skip
    for path in sorted(drop, key=lambda p: [int(n) for n in re.findall(r"\[(\d+)\]", p)], reverse=True):
        _remove(case, path)
    case = _compact(case)
    ids = {item.get("id") for key in REQUIRED for item in case.get(key, []) if isinstance(item, dict)}
    _drop_dangling(case, ids - {None}, review)
    kept = set(_paths(case))
    found = [f for f in found if f["path"] in kept]  # evidence of what was dropped afterwards goes too
    return case, found, review


def _paths(data: Any, path: str = "") -> list[str]:
    return [p for p, _, _ in _leaves(data, path)]


def _item_of(case: dict[str, Any], path: str) -> dict[str, Any] | None:
    m = re.match(r"^(medications|procedures)\[(\d+)\]\.", path)
    if not m:
        return None
    try:
        item = case[m.group(1)][int(m.group(2))]
    except (KeyError, IndexError, TypeError):
        return None
    return item if isinstance(item, dict) else None


def _shipped_terminology() -> Terminology:
    from . import _shipped_terminology as shipped

    return shipped()


def _locate(text: str, quote: str) -> int:
    """Offset of the quoted words in the text, spacing and case aside (-1 if absent)."""
    pattern = r"\s+".join(re.escape(w) for w in quote.split())
    m = re.search(pattern, text, re.I)
    return m.start() if m else -1


def _drop_dangling(case: dict[str, Any], ids: set[str], review: list[dict[str, Any]]) -> None:
    """References to items that were dropped go to review too (a primary timed relative to a
    metastasis that was dropped loses that timing, not the case)."""
    keys = ("primary_cancers", "metastases", "procedures", "medications", "disease_status")
    items = [(f"{key}[{i}]", item) for key in keys for i, item in enumerate(case.get(key, []))]
    vital = (case.get("patient") or {}).get("vital_status")
    items.append(("patient.vital_status", vital))
    for where, item in items:
        if not isinstance(item, dict):
            continue
        if "treats" in item:
            kept = [r for r in item["treats"] if r in ids]
            if kept != item["treats"]:
                review.append(
                    {"fact": f"{where}.treats: {item['treats']}", "why": "refers to a dropped item"}
                )
            item["treats"] = kept
            if not kept:
                item.pop("treats")
        for ref in ("about", "primary"):
            if ref in item and item[ref] not in ids:
                review.append({"fact": f"{where}.{ref}: {item[ref]}", "why": "refers to a dropped item"})
                item.pop(ref)
        rel = item.get("relative")
        if isinstance(rel, dict) and rel.get("to") not in ids:
            review.append({"fact": f"{where}.relative: {rel}", "why": "refers to a dropped item"})
            item.pop("relative")


def llm_drafts(text: str, settings: LlmSettings, *, name: str = "draft") -> list[Draft]:
    """Ask the endpoint for the text's case files; keep each fact only if its words are in the text."""
    if not re.match(r"^https?://", settings.url):
        raise ConfigError(
            f"--llm-url {shown_url(settings.url)}: give an http(s) URL of a chat completions endpoint"
        )
    original, text = text, blank_header(text)
    replies = _parse(_content(settings, text.strip()), shown_url(settings.url))
    story = checks.read_story(text, _shipped_terminology())
    drafts = []
    for n, reply in enumerate(replies):
        raw = reply["case"]
        evidence = reply.get("evidence") if isinstance(reply.get("evidence"), dict) else {}
        case, found, review = verify(json.loads(json.dumps(raw)), evidence, text, story, case_number=n)
        case["case"] = {"id": case_id_for(name, n + 1, len(replies)), **_source(original, found)}
        case.setdefault("patient", {}).setdefault("sex", "unknown")
        if not case.get("primary_cancers"):
            raise InvalidCaseError(
                f"{name}: the LLM's case {n + 1} has no primary cancer found back in the text; nothing"
                " can be drafted from it (its unverified facts: "
                + "; ".join(printable(r["fact"], 200) for r in review[:5])
                + ")"
            )
        fit_to_case_model(case, review, found)
        try:
            Case.model_validate(case)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidCaseError(
                f"{name}: the LLM's case {n + 1} is not a valid case file after checking:"
                f" {printable(where, 200)}: {printable(first['msg'], 300)}"
            ) from None
        label = split_cases(text, _rules()).__len__() > 1 and f"case {n + 1}" or None
        drafts.append(
            Draft(
                case,
                found,
                review,
                name,
                label or None,
                backend="llm",
                text=original,
                sentences=story.sentences,
                roles=story.roles,
            )  # fmt: skip
        )
    return drafts


def _source(original: str, found: list[dict[str, Any]]) -> dict[str, Any]:
    """The DOI and PMID the text shows, read as the rules read them (not taken from the model)."""
    refs = references(original)
    for ref in refs:
        line_start = original.rfind("\n", 0, ref.start) + 1
        line_end = original.find("\n", ref.end)
        line_end = len(original) if line_end < 0 else line_end
        found.append({
            "path": f"case.source.{ref.key}",
            "value": ref.value,
            "start": ref.start,
            "end": ref.end,
            "text": original[ref.start : ref.end],
            "sentence": {"start": line_start, "end": line_end, "text": original[line_start:line_end].rstrip()},
            "rule": "reference-in-text",
            "confidence": 0.9,
        })  # fmt: skip
    return {"source": {ref.key: ref.value for ref in refs}} if refs else {}


def _rules():
    from .rules import shipped_rules

    return shipped_rules()
