"""What a registrar walking through the README met that it did not say: each figure or limit the
README states is the one the program has.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fhir_adapter.draft import MAX_CHARS
from fhir_adapter.draft.run import READ_LIMIT

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _bullet(title: str) -> str:
    """The README bullet that starts with `- **title**`, up to the next bullet or heading."""
    start = README.index(f"- **{title}**")
    end = re.compile(r"\n(- \*\*|#)").search(README, start + 1)
    return README[start : end.start() if end else None]


# The Drafting section said a text of more than 5,000,000 characters is refused; the command
# refuses one of more than 500,000 (the library's draft_text takes up to 5,000,000).


def test_the_draft_size_bullet_gives_the_command_s_limit_and_the_library_s():
    size = " ".join(_bullet("Size").split())
    assert f"command refuses a text of more than {READ_LIMIT:,} characters" in size
    assert f"`draft_text` one of more than {MAX_CHARS:,}" in size
    stated = {int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) characters", size)}
    assert stated <= {READ_LIMIT, MAX_CHARS, 2000}


# The Validation section counted 105 resources in the example Bundles; they hold 117.


def test_the_validate_speed_figure_counts_the_example_bundles_as_they_are():
    m = re.search(
        r"`fhir-adapter validate examples/\*\.bundle\.json` \((\d+) Bundles,\s+([\d,]+) resources\)", README
    )
    assert m is not None
    bundles = sorted((REPO / "examples").glob("*.bundle.json"))
    entries = sum(len(json.loads(p.read_text())["entry"]) for p in bundles)
    assert (int(m.group(1)), int(m.group(2).replace(",", ""))) == (len(bundles), entries)
