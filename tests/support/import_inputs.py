"""What a $import kick-off names, and fetching it as a server that really imports would.

push --bulk serves the files on 127.0.0.1 and counts what the server fetches: a server that says
it imported a file it never fetched is not believed. A scripted peer that plays an honest server
fetches each input of the kick-off with `fetch_inputs`.
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlsplit


def inputs_of(body: bytes) -> list[tuple[str, str]]:
    """(type, url) of each `input` of a $import kick-off's Parameters."""
    params = json.loads(body)["parameter"]
    return [
        tuple(part.get("valueCode") or part.get("valueUri") for part in p["part"])
        for p in params
        if p["name"] == "input"
    ]


def fetch_inputs(body: bytes) -> list[tuple[str, str]]:
    """Fetch every input of a kick-off (from 127.0.0.1 only, within 5 s each); return its (type, url) pairs."""
    inputs = inputs_of(body)
    for _, url in inputs:
        if urlsplit(url).hostname != "127.0.0.1":
            raise ValueError(f"{url}: this test peer fetches from 127.0.0.1 only")
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback, checked above
            answer.read()
    return inputs
