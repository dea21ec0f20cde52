"""Text from a case shown to a reader (an HTML page, a YAML comment) with no character that hides or moves others.

A case's words come from anywhere: a PDF's text layer, a spreadsheet, a server. Some characters in
them are invisible yet change what a reader sees: the bidirectional overrides, embeddings and
isolates (U+202A-U+202E, U+2066-U+2069) reorder the text after them, so a citation could show its
DOI link backwards or a note show words it does not hold; a NUL is dropped by an HTML parser; a
line break or a control character in a YAML comment breaks the file. Each such character is shown
as its escape (\\u202e, \\x01) instead: the reader sees that it is there, and nothing else moves.
Right-to-left text itself, and the marks that only steer neutral characters (U+200E, U+200F,
U+061C), are shown as they are.
"""

from __future__ import annotations

import re
from html import escape

# C0 and C1 controls, DEL, line and paragraph separators, bidi embeddings/overrides/isolates, lone
# surrogates and the two noncharacters YAML refuses; tab, newline and carriage return are text.
_HIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_IN_TEXT = re.compile(f"[{_HIDDEN}]")
_ON_ONE_LINE = re.compile(f"[{_HIDDEN}\t\n\r]")


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(match: re.Match[str]) -> str:
    if match.group() in _SHORT:
        return _SHORT[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """The text with each hidden character as its escape; tabs and line breaks stay."""
    return _IN_TEXT.sub(_escaped, text)


def one_line(text: str) -> str:
    """The text on one line: hidden characters, tabs and line breaks as their escapes."""
    return _ON_ONE_LINE.sub(_escaped, text)


def html_text(value: object) -> str:
    """A value as HTML text or attribute content: escaped, its hidden characters made visible."""
    return escape(visible(str(value)))
