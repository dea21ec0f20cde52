"""Text from a case shown on an HTML page with no character that hides or moves others.

A case's words come from anywhere: a PDF's text layer, a spreadsheet, a server. Some characters
in them are invisible yet change what a reader sees: the bidirectional overrides, embeddings and
isolates (U+202A-U+202E, U+2066-U+2069) reorder the text after them, so a citation could show its
DOI link backwards or a note show words it does not hold; an HTML parser drops a NUL. Each such
character is shown as its escape (\\u202e, \\x00) instead, as errors.printable shows them in
messages: the reader sees that it is there, and nothing else moves. Unlike a message, a page
keeps line ends (pre-wrapped report text) and the marks that only steer neutral characters
(U+200E, U+200F), which right-to-left text needs.
"""

from __future__ import annotations

import re
from html import escape

from .errors import escape_char

# C0 and C1 controls but tab, newline and carriage return; DEL; line and paragraph separators;
# bidi embeddings, overrides and isolates; lone surrogates; the noncharacters U+FFFE and U+FFFF.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def visible(text: str) -> str:
    """The text with each hidden character as its escape; tabs and line ends stay."""
    return _HIDDEN.sub(escape_char, text)


def html_text(value: object) -> str:
    """A value as HTML text or attribute content: escaped, its hidden characters made visible."""
    return escape(visible(str(value)))
