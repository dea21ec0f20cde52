"""Case-file inputs for fuzzing, drawn from a random.Random: mutated real cases, hostile bytes, odd trees.

Shared by the bounded fuzz test (tests/test_hostile_fuzz.py, driven by hypothesis) and the long
run (benchmarks/fuzz.py). Every input is (name, bytes); the name's suffix picks the reader.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import re
from pathlib import Path
from typing import Any

import orjson
import yaml
from fhir.resources.R4B.bundle import Bundle

from fhir_adapter.casefile import read_case_text
from fhir_adapter.convert import ConvertOptions, convert_bytes
from fhir_adapter.errors import AdapterError
from fhir_adapter.terminology import Terminology
from fhir_adapter.writer import dumps

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

# Fragments that have broken parsers somewhere: YAML syntax, encodings, numbers, JSON oddities.
TOKENS = [
    b"&a ", b"*a", b"<<: *a\n", b"!!binary aGk=", b"!!set {a}", b"!!python/object:os.system", b"!!int",
    b"!!float", b"!!timestamp 2001-12-14", b"? ", b": ", b"- ", b"---\n", b"...\n", b"%YAML 1.1\n", b"\t",
    b"{", b"}", b"[", b"]", b'"', b"'", b"\\", b"#", b"|\n", b">-\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf",
    b"\xc3", b"\xed\xa0\x80", b"\r", b"\n", b"1e999", b"-1e999", b"NaN", b"Infinity", b".inf", b".nan",
    b"99999999999999999999999", b"0x1F", b"0o17", b"1_000", b"~", b"null", b"yes", b"no", b"on", b"=",
    b"2019-02-30", b"2019-13", b"0000", b"\xe2\x80\xae", b"\xf0\x9f\x98\x80", b"\\u0000", b'\\ud800',
]  # fmt: skip
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 0.5, -0.0, 1e308, -1e308, 131, 130, 2**63, "", " ", "\u0000", "\ud7ff",
    "female", "male", "other", "unknown", "Female", "left", "right", "bilateral", "Right", "recurrence",
    "active", "completed", "stopped", "not-done", "2015", "2015-06", "2015-06-31", "2015-02-29", "2016-02-29",
    "1899", "3000-01-01", "June 2015", "breast", "bone", "scalp", "lung", "liver", "brain", "skin",
    "invasive ductal carcinoma", "ductal carcinoma in situ", "mastectomy", "tamoxifen", "paclitaxel",
    "x" * 300, "é" * 50, "a\nb", "<script>", "urn:uuid:0", "Patient/1", "12345", [], {}, [None], {"": ""},
    ["breast"], ["nope"], [1, 2], {"id": "x"},
]  # fmt: skip
FIELD_NAMES = [
    "case", "id", "id_system", "source", "summary", "patient", "sex", "age_at_diagnosis", "ethnicity",
    "nationality", "vital_status", "deceased", "primary_cancers", "site", "site_detail", "laterality",
    "histology", "date", "age", "clinical_status", "stage", "note", "metastases", "primary", "procedures",
    "name", "treats", "body_site", "status", "medications", "disease_status", "about", "evidence",
    "misdiagnosis", "results", "receptors", "primary_side", "histolgy", "Site",
]  # fmt: skip


@functools.cache
def seed_cases() -> tuple[dict[str, Any], ...]:
    """The example cases as data (comments and all dropped); callers copy before changing one.

    Read as fhir-adapter reads them: dates stay the strings they were written as.
    """
    return tuple(read_case_text(path.name, path.read_bytes()).data for path in EXAMPLES)


def tree_paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += tree_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += tree_paths(value, (*path, i))
    return out


def value_at(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


def odd_value(rng: random.Random, depth: int = 0) -> Any:
    """A value a case file should not hold where it is put, or one that is barely allowed."""
    roll = rng.random()
    if roll < 0.6 or depth > 3:
        return copy.deepcopy(rng.choice(ODD_VALUES))
    if roll < 0.75:
        return [odd_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if roll < 0.9:
        return {rng.choice(FIELD_NAMES): odd_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return rng.choice(
        ["x" * rng.randrange(1, 5000), rng.randrange(-(10**20), 10**20), rng.uniform(-1e6, 1e6)]
    )


def mutate_tree(rng: random.Random, case: dict[str, Any]) -> dict[str, Any]:
    """One to four edits of a case: replace, delete, add, duplicate, or nest a value."""
    case = copy.deepcopy(case)
    for _ in range(rng.randrange(1, 5)):
        paths = tree_paths(case)
        path = rng.choice(paths[1:] or paths)
        parent = value_at(case, path[:-1]) if path else None
        action = rng.random()
        if parent is None:
            continue
        key = path[-1]
        if action < 0.5:
            parent[key] = odd_value(rng)
        elif action < 0.65:
            del parent[key]
        elif action < 0.8 and isinstance(parent, dict):
            parent[rng.choice(FIELD_NAMES)] = odd_value(rng)
        elif action < 0.9 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            wrapped: Any = parent[key]
            for _ in range(rng.randrange(1, 40)):
                wrapped = [wrapped] if rng.random() < 0.5 else {"x": wrapped}
            parent[key] = wrapped
    return case


def serialise(rng: random.Random, case: Any) -> tuple[str, bytes]:
    """A case as YAML (block or flow style) or JSON, with the suffix to match."""
    if rng.random() < 0.5:
        text = json.dumps(case, indent=rng.choice([None, 2]), ensure_ascii=rng.random() < 0.5)
        return "case.json", text.encode("utf-8", "surrogatepass")
    text = yaml.safe_dump(
        case, default_flow_style=rng.choice([False, None, True]), allow_unicode=True, sort_keys=False
    )
    return "case.yaml", text.encode("utf-8", "surrogatepass")


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    """Byte-level edits: insert hostile tokens, flip, delete, duplicate or cut a span."""
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(0, len(data) + 1)
        action = rng.random()
        if action < 0.45:
            data[at:at] = rng.choice(TOKENS)
        elif action < 0.6 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif action < 0.75:
            del data[at : at + rng.randrange(1, 40)]
        elif action < 0.9:
            span = bytes(data[at : at + rng.randrange(1, 80)])
            data[at:at] = span * rng.randrange(1, 4)
        else:
            data = data[:at]
    return bytes(data)


def duplicate_a_key(rng: random.Random, raw: bytes) -> bytes:
    """Repeat one `key: value` line of a YAML text (a duplicate key at the same indentation)."""
    lines = raw.split(b"\n")
    keyed = [i for i, line in enumerate(lines) if re.match(rb"^\s*[a-z_]+:", line)]
    if not keyed:
        return raw
    i = rng.choice(keyed)
    lines.insert(i + 1, lines[i])
    return b"\n".join(lines)


def alias_text(rng: random.Random) -> bytes:
    """Anchors and aliases in a case: from harmless reuse to an exponential bomb."""
    levels, width = rng.randrange(1, 10), rng.randrange(1, 10)
    lines = ["x0: &x0 [breast, breast]"]
    for i in range(1, levels):
        lines.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * width) + "]")
    base = EXAMPLES[rng.randrange(len(EXAMPLES))].read_text()
    return ("\n".join(lines) + "\n" + base).encode()


def hostile_input(rng: random.Random) -> tuple[str, bytes]:
    """One fuzz input (name, bytes)."""
    seeds = seed_cases()
    roll = rng.random()
    if roll < 0.45:
        return serialise(rng, mutate_tree(rng, rng.choice(seeds)))
    if roll < 0.75:
        name, raw = serialise(rng, rng.choice(seeds))
        return name, mutate_bytes(rng, raw)
    if roll < 0.83:
        name, raw = serialise(rng, rng.choice(seeds))
        return "case.yaml", duplicate_a_key(
            rng, raw if name == "case.yaml" else yaml.safe_dump(rng.choice(seeds)).encode()
        )
    if roll < 0.9:
        return "case.yaml", alias_text(rng)
    if roll < 0.95:
        return rng.choice(["case.yaml", "case.json"]), bytes(
            rng.randrange(256) for _ in range(rng.randrange(0, 300))
        )
    return serialise(rng, rng.choice(seeds))  # unchanged: must convert


def check(name: str, raw: bytes, terminology: Terminology, options: ConvertOptions) -> str:
    """Run one input through parse, validate, map and bundle; 'converted' or 'refused'.

    The property: the bundle, if any, passes fhir.resources' full R4 validation; otherwise the
    error is an AdapterError whose every line starts with the file's name. Anything else (an
    exception of another kind, a bad bundle, an unplaced message) raises.
    """
    outcome = convert_bytes(name, raw, terminology, options)
    if outcome.conversion is None:
        error = outcome.error
        assert isinstance(error, AdapterError), f"not an AdapterError: {error!r}"
        message = str(error)
        assert message.strip(), "an empty error message"
        for line in message.splitlines():
            assert line.startswith(name), f"a message line that does not say where: {line!r}"
        return "refused"
    bundle = outcome.conversion.bundle
    Bundle.model_validate(orjson.loads(dumps(bundle)))
    return "converted"
