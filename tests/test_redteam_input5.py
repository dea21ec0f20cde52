"""A fifth attack on the inputs: bytes, look-alike letters and workbook and table shapes a registrar
or a hostile user would hand us. Each test names what went wrong before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.convert_run import cli, run

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


# --- Characters that look like others --------------------------------------------------------------


def test_a_space_that_is_no_space_is_shown_as_its_escape_in_a_message(tmp_path):
    """A no-break space pasted into an id was shown as a space ('yu-2024 case-1' has the wrong
    form), so the message blamed what looked like a plain space; it is shown as \\u00a0, as a
    zero-width space already was."""
    (tmp_path / "case.yaml").write_text(CASE.replace("id: yu-2024-case-1", "id: yu-2024\u00a0case-1"))
    code, errors, _ = run("case.yaml", "-o", "out")
    assert code == 3
    assert errors == [
        "Error: case.yaml:5: case.id: 'yu-2024\\u00a0case-1' has the wrong form"
        " (expected to match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$)"
    ]


def test_a_term_with_look_alike_letters_of_another_script_names_them(tmp_path):
    """'invasive dуctаl carcinoma' with a Cyrillic у and а reads exactly as the histology the maps
    code; it was kept as text with a warning that showed the term as it looks, so nobody could see
    why it was not found. The warning now names each such letter."""
    text = CASE.replace(
        "histology: invasive ductal carcinoma", "histology: invasive d\u0443ct\u0430l carcinoma"
    )
    (tmp_path / "case.yaml").write_text(text)
    result = cli("convert", "case.yaml", "-o", "out.json")
    assert result.exit_code == 0
    line = next(line for line in result.stderr.splitlines() if "carcinoma" in line)
    assert line.endswith(
        "1 time(s), in yu-2024-case-1; it holds letters of another script that look like Latin ones:"
        " \u0443 (U+0443 CYRILLIC SMALL LETTER U), \u0430 (U+0430 CYRILLIC SMALL LETTER A); retype them"
    )
    # Words wholly of one script and accented Latin letters are no look-alikes.
    from fhir_adapter.casefile import look_alikes

    assert look_alikes("carcinome canalaire infiltrant (sein gauche, 45 ans, métastase)") == []
    assert look_alikes("рак молочной железы") == []
    assert look_alikes("ｄuctal") == ["ｄ (U+FF44 FULLWIDTH LATIN SMALL LETTER D)"]
