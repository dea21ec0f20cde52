"""A fifth attack on the inputs: bytes, look-alike letters and workbook and table shapes a registrar
or a hostile user would hand us. Each test names what went wrong before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.convert_run import run

EXAMPLES = Path(__file__).parent.parent / "examples"
CASE = (EXAMPLES / "yu-2024-case-1.yaml").read_text()
TABLE = (EXAMPLES / "tables" / "examples.csv").read_text()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Messages name files as given; the tests give them relative to tmp_path."""
    monkeypatch.chdir(tmp_path)


# --- Encodings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize(
    ("name", "text", "fix"),
    [
        ("case.yaml", CASE, "save it as UTF-8 (a UTF-8 byte order mark is fine)"),
        ("case.json", '{"case": {"id": "c1"}}\n', "save it as UTF-8 (a UTF-8 byte order mark is fine)"),
        ("cases.csv", TABLE, "save it as CSV UTF-8"),
        ("cases.ndjson", '{"case": {"id": "c1"}}\n', "save it as UTF-8 (one case per line)"),
    ],
)
def test_utf16_and_utf32_without_a_byte_order_mark_are_named(tmp_path, encoding, name, text, fix):
    """Saved without a byte order mark (a 'Unicode text' export, a shell's redirection), UTF-16 or
    UTF-32 was 'a binary file' as a case file and, as a CSV, one error per cell of every row ('a NUL
    byte (0x00) in the cell'), neither saying what the file is nor how to fix it."""
    (tmp_path / name).write_bytes(text.encode(encoding))
    code, errors, _ = run(name, "-o", "out")
    assert code == 3
    width = encoding[:6].upper()
    if name.endswith(".ndjson"):
        assert errors == [f"Error: {name}: the file is UTF-16 or UTF-32 text; {fix}"]
    else:
        assert errors == [f"Error: {name}: the file is {width} text; {fix}"]


def test_a_lone_nul_and_binary_bytes_are_still_named_as_before(tmp_path):
    """The new check for unmarked UTF-16 judges the pattern of the NULs: one NUL in UTF-8 text is
    still named with its line, and random bytes are still a binary file."""
    (tmp_path / "one.yaml").write_bytes(CASE.replace("sex: female", "sex: fem\x00ale").encode())
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)) * 8)
    code, errors, _ = run("one.yaml", "bin.yaml", "-o", "out")
    assert code == 3
    assert sorted(errors) == [
        "Error: bin.yaml: this is a binary file, not a YAML or JSON case file",
        "Error: one.yaml:19: a NUL byte (0x00) in the text; a case file is plain UTF-8 text",
    ]
