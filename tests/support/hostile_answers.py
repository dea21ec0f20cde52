"""Server answers for fuzzing, drawn from a random.Random: what a FHIR server, a $import status URL
or an LLM endpoint might send when it is broken or hostile.

Shared by the bounded fuzz test (tests/test_hostile_answers.py, driven by hypothesis) and the long
run (benchmarks/fuzz_server.py). An answer is a Reply for the scripted peer
(tests/support/hostile_peer.py): a status, headers and a body that start from a valid answer and
are mutated as JSON trees (odd values, wrong types, deep nesting, control characters), as bytes
(cut, garbled, not UTF-8), as HTTP (a wrong Content-Length, a chunked body that lies, gzip that is
corrupt or a bomb, a redirect to anywhere, a Retry-After of any shape) or as a transport (the
connection closed mid-answer, garbage instead of HTTP, a slow trickle).

The property each kind is checked against (`exercise`): the call returns what it promises or
raises an AdapterError whose message holds no control character but line breaks; it never raises
anything else, never outlives its deadline, and never sends the token to another origin.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
import time
import zlib
from dataclasses import dataclass
from typing import Any

from fhir_adapter.client import ClientSettings, FhirClient, RetryPolicy
from fhir_adapter.draft.llm import LlmSettings, llm_drafts
from fhir_adapter.errors import AdapterError
from support.hostile_inputs import tree_paths, value_at
from support.hostile_peer import HostilePeer, Reply

KINDS = ("transaction", "read", "llm")
TOKEN = "fuzz-token-not-for-elsewhere"
POLICY = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0, total_timeout=1.5, max_retry_after=0.05)
DEADLINE_SLACK = 8.0  # beyond its total timeout: a busy machine can stall a thread; a hang lasts 30 s+
STATUSES = [200, 200, 200, 201, 202, 204, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 409, 410, 412,
            422, 429, 500, 501, 502, 503, 504, 505, 599, 100, 199, 299, 600, 999]  # fmt: skip
ODD = [None, True, False, 0, -1, 2**63, 1e308, -0.0, "", " ", "\x00", "\x1b[2J\x1b[H", "line\nbreak",
       "\r\x1b[1A\x1b[2Kcase-1: sent", "\u202edesrever", "\u2028", "x" * 3000, "é" * 100, [], {}, [None],
       {"": ""}, "201 Created", "200", "Patient/x/_history/1", "http://elsewhere/", "urn:uuid:0",
       "OperationOutcome", "Bundle", "transaction-response", "searchset"]  # fmt: skip
TOKENS = [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80", b"{", b"}", b"[", b"]", b'"',
          b"\\", b"\\u0000", b"\\ud800", b"NaN", b"Infinity", b"1e999", b"-1e999", b"99999999999999999999999",
          b"\x1b[31m", b"\r\n", b",", b":", b"null"]  # fmt: skip


def transaction_answer(n: int) -> dict[str, Any]:
    """A valid transaction-response for n entries."""
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {"response": {"status": "201 Created", "location": f"Patient/p{i}/_history/1"}} for i in range(n)
        ],
    }


def outcome(rng: random.Random) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": rng.choice(["error", "fatal", "warning"]),
                "code": rng.choice(["invalid", "processing", "exception"]),
                "diagnostics": rng.choice(["bad", "\x1b[2Jcase-1: sent\n", "x" * 100]),
                "expression": [rng.choice(["Bundle.entry[0].resource", "Patient.name", "Condition"])],
            }
        ],
    }


def llm_answer(rng: random.Random) -> dict[str, Any]:
    case = {
        "cases": [
            {
                "case": {"patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]},
                "evidence": {"patient.sex": "woman", "primary_cancers[0].site": "carcinoma of the breast"},
            }
        ]
    }
    content: Any = json.dumps(case)
    if rng.random() < 0.05:  # the model's own JSON nested past the checks' patience
        depth = rng.choice([65, 900, 100_000])
        content = '{"cases": [{"case": {"x": ' + "[" * depth + "]" * depth + "}}]}"
    elif rng.random() < 0.5:
        content = mutate_tree(rng, case)
        content = json.dumps(content) if rng.random() < 0.7 else content
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


def mutate_tree(rng: random.Random, doc: Any) -> Any:
    """One to four edits: replace a value, delete it, add a key, wrap it in deep nesting."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randrange(1, 5)):
        paths = tree_paths(doc)
        if len(paths) < 2:
            return rng.choice(ODD)
        path = rng.choice(paths[1:])
        parent = value_at(doc, path[:-1])
        key = path[-1]
        action = rng.random()
        if action < 0.5:
            parent[key] = copy.deepcopy(rng.choice(ODD))
        elif action < 0.65:
            del parent[key]
        elif action < 0.8 and isinstance(parent, dict):
            parent[rng.choice(["resourceType", "type", "entry", "issue", "response", "status", "x"])] = (
                copy.deepcopy(rng.choice(ODD))
            )
        else:
            wrapped: Any = parent[key]
            for _ in range(rng.choice([1, 5, 30, 80])):  # deeper: written as text below
                wrapped = [wrapped] if rng.random() < 0.5 else {"x": wrapped}
            parent[key] = wrapped
    return doc


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 5)):
        at = rng.randrange(0, len(data) + 1)
        action = rng.random()
        if action < 0.5:
            data[at:at] = rng.choice(TOKENS)
        elif action < 0.7 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif action < 0.85:
            del data[at : at + rng.randrange(1, 40)]
        else:
            data = data[:at]
    return bytes(data)


def _chunked(rng: random.Random, body: bytes) -> bytes:
    """A chunked body, honest or lying about its sizes."""
    out = b""
    at = 0
    while at < len(body):
        size = rng.randrange(1, 200)
        piece = body[at : at + size]
        claimed = len(piece) if rng.random() < 0.9 else rng.choice([0, len(piece) + 5, 2**40])
        out += f"{claimed:x}\r\n".encode() + piece + b"\r\n"
        at += size
    return out + (b"0\r\n\r\n" if rng.random() < 0.9 else b"")


@dataclass
class Case:
    """One fuzz input: the reply the peer gives (to every request) and where it might redirect."""

    kind: str
    reply: Reply
    expected_entries: int


def hostile_answer(rng: random.Random, kind: str, entries: int, elsewhere: str) -> Case:
    """A reply for one kind of request, mutated at one or more levels."""
    if kind == "transaction":
        doc: Any = transaction_answer(entries)
        status = 200
    elif kind == "read":
        doc = {"resourceType": "Patient", "id": "x", "name": [{"family": "Doe"}]}
        status = 200
    else:
        doc = llm_answer(rng)
        status = 200
    roll = rng.random()
    if roll < 0.2:
        doc = outcome(rng)
        status = rng.choice([400, 404, 409, 422, 500, 503])
    if rng.random() < 0.5:
        doc = mutate_tree(rng, doc)
    body = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if rng.random() < 0.25:
        body = mutate_bytes(rng, body)
    elif rng.random() < 0.03:  # nesting past any parser's patience, written out as text
        depth = rng.choice([990, 1100, 100_000])
        body = b'{"resourceType": "Bundle", "entry": ' + b"[" * depth + b"]" * depth + b"}"
    if rng.random() < 0.25:
        status = rng.choice(STATUSES)
    headers = {
        "Content-Type": rng.choice(["application/fhir+json", "application/json", "text/html", "x/\x1b[31m"])
    }
    reply = Reply(status, headers, body)
    transport = rng.random()
    if transport < 0.08:
        headers["Location"] = rng.choice(
            [
                elsewhere,
                "/fhir/loop",
                "javascript:alert(1)",
                "http://[::1",
                "\x1b[2J",
                "//elsewhere/x",
                "ftp://x/",
                "http://user:pw@127.0.0.1:1/",
                "/" + "x" * 5000,
            ]  # fmt: skip
        )
        reply.status = rng.choice([301, 302, 303, 307, 308])
    elif transport < 0.16:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        if rng.random() < 0.3:  # a small bomb: 64 MiB and a little more once inflated
            reply.body = packer.compress(b" " * (65 << 20)) + packer.flush()
        else:
            reply.body = gzip.compress(body) if rng.random() < 0.7 else mutate_bytes(rng, gzip.compress(body))
        headers["Content-Encoding"] = rng.choice(["gzip", "gzip", "deflate", "br", "gzip, gzip", "x-unknown"])
    elif transport < 0.22:
        headers["Transfer-Encoding"] = "chunked"
        reply.body = _chunked(rng, body)
    elif transport < 0.28:
        reply.content_length = rng.choice([0, max(len(body) - 5, 0), len(body) + 50, 2**40, -1])
    elif transport < 0.34:
        reply.close_after = rng.randrange(0, len(body) + 1)
    elif transport < 0.38:
        reply.raw = rng.choice(
            [
                b"",
                b"garbage\r\n\r\n",
                b"HTTP/1.1 200\r\n",
                b"HTTP/9.9 OK OK\r\n\r\n{}",
                b"\x16\x03\x01\x02\x00",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + b"X: y\r\n" * 200 + b"\r\n{}",
                b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
            ]  # fmt: skip
        )
    elif transport < 0.40:
        reply.trickle = 0.05
    elif transport < 0.45:
        headers["Retry-After"] = rng.choice(
            ["1", "0", "-1", "99999999999", "9" * 40, "soon", "Fri, 31 Dec 9999 23:59:59 GMT", "\x1b"]
        )
        reply.status = rng.choice([429, 503])
    if rng.random() < 0.05:
        headers["X-Odd"] = "\x1b[2J"
    return Case(kind, reply, entries)


class Finding(AssertionError):
    """The property failed for an input."""


def _check_message(exc: AdapterError) -> None:
    message = str(exc)
    if not message.strip():
        raise Finding("an empty error message")
    bad = [
        c
        for c in message
        if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029\u202e"
    ]
    if bad:
        raise Finding(f"control characters in a message: {bad[:5]!r} in {message[:200]!r}")


def exercise(case: Case, peer: HostilePeer, elsewhere: HostilePeer, bundle: bytes) -> str:
    """Run the call for one input against the peer; 'ok' or 'refused', or raise Finding (or anything else)."""
    started = time.monotonic()
    outcome_ = "ok"
    try:
        if case.kind == "llm":
            settings = LlmSettings(url=peer.base_url, key=TOKEN, timeout=POLICY.total_timeout, retry=POLICY)
            llm_drafts("A 45-year-old woman had invasive ductal carcinoma of the breast.", settings)
        else:
            client = FhirClient(
                ClientSettings(base_url=peer.base_url, token=TOKEN, read_timeout=0.5, retry=POLICY),
                sleep=lambda s: None,
            )
            if case.kind == "transaction":
                result = client.transaction(bundle, expected_entries=case.expected_entries)
                if len(result.entries) != case.expected_entries or any(
                    not 200 <= e.status < 300 for e in result.entries
                ):
                    raise Finding("a transaction counted as sent with entries missing or failed")
            else:
                resource = client.read("Patient", "x")
                if resource is not None and resource.get("resourceType") != "Patient":
                    raise Finding(f"a read returned a {resource.get('resourceType')!r} for a Patient")
    except AdapterError as exc:
        _check_message(exc)
        outcome_ = "refused"
    elapsed = time.monotonic() - started
    if elapsed > POLICY.total_timeout + DEADLINE_SLACK:
        raise Finding(f"took {elapsed:.1f}s, past the {POLICY.total_timeout}s deadline")
    leaked = [r for r in elsewhere.requests if TOKEN in str(r.headers)]
    if leaked:
        raise Finding("the token went to another origin")
    return outcome_


def run_one(
    rng: random.Random, bundle: bytes, entries: int, peer: HostilePeer, elsewhere: HostilePeer
) -> tuple[str, str]:
    """Draw one input, have the peer serve it, exercise it: (kind, 'ok' | 'refused').

    `elsewhere` is another origin (localhost, not 127.0.0.1) that redirects may point at; no
    request there may carry the token.
    """
    kind = rng.choice(KINDS)
    case = hostile_answer(rng, kind, entries, f"http://localhost:{elsewhere.port}/fhir/x")
    peer.answer = case.reply
    peer.requests.clear()
    elsewhere.requests.clear()
    return kind, exercise(case, peer, elsewhere, bundle)
