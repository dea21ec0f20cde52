"""The exception hierarchy of fhir-adapter; each error carries the exit code the CLI returns.

Also the two rules every message follows before it reaches a person: text that a server or a
file supplied is shown with its control characters escaped (so it cannot move the cursor, colour
the terminal or fake a line of output), and a URL is shown without its credentials.
"""

from __future__ import annotations

import re

# Exit codes, documented in the README. 1 is also what Python gives a crash outside any one case.
EXIT_OK = 0
EXIT_INTERRUPTED = 1  # click's own code for Ctrl-C ("Aborted!")
EXIT_USAGE = 2  # click's own code for a bad command line
EXIT_INVALID_CASE = 3  # one or more case files could not be converted
EXIT_MAPPING = 4  # a terminology map is broken, or --strict met an unmapped term
EXIT_SERVER_REJECTED = 5  # the server answered with a 4xx (other than 408/429), or a $import job failed
EXIT_SERVER_UNAVAILABLE = 6  # no whole answer: connection failed, timed out, 5xx/429 after every retry
EXIT_CONFIG = 7  # settings that cannot work (unreadable token file, public server without opt-in)
EXIT_VERIFY = 8  # --verify found stored resources that differ from what was sent
EXIT_OUTPUT = 9  # an output or outbox file could not be written (a full disk, no permission)


class AdapterError(Exception):
    """Base of every error fhir-adapter reports to a person."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidCaseError(AdapterError):
    """A case file that cannot be read or does not describe a valid case."""

    exit_code = EXIT_INVALID_CASE

    def __init__(self, message: str, *, file: str | None = None, problems: list[str] | None = None):
        self.file = file
        self.problems = problems or [message]
        super().__init__(message)


class MappingError(AdapterError):
    """A terminology map that fails to load, or an unmapped term under --strict."""

    exit_code = EXIT_MAPPING


class ConfigError(AdapterError):
    """Settings that cannot work."""

    exit_code = EXIT_CONFIG


class ServerError(AdapterError):
    """Base of errors that come from talking to a FHIR server."""

    exit_code = EXIT_SERVER_UNAVAILABLE


class ServerRejectedError(ServerError):
    """The server answered the request with a client error; retrying will not help."""

    exit_code = EXIT_SERVER_REJECTED

    def __init__(self, message: str, *, status: int, issues: list[dict] | None = None):
        self.status = status
        self.issues = issues or []
        super().__init__(message)


class ServerUnavailableError(ServerError):
    """The server could not be reached or kept failing after every retry."""

    exit_code = EXIT_SERVER_UNAVAILABLE

    def __init__(self, message: str, *, status: int | None = None):
        self.status = status
        super().__init__(message)


class ServerResponseError(ServerUnavailableError):
    """The server answered, but not with what FHIR says it must (not JSON, entries missing, a redirect)."""


class OutputError(AdapterError):
    """An output, report or outbox file that could not be written; nothing half-written is left."""

    exit_code = EXIT_OUTPUT


class OutboxBusyError(ConfigError):
    """Another push is sending from the same outbox."""


class DamagedFileError(AdapterError):
    """An outbox file that is not a whole Bundle (truncated, corrupted); set aside, never sent."""

    exit_code = EXIT_INVALID_CASE


# Characters that change what a terminal shows rather than adding to it: C0 and C1 controls (ESC
# starts colour and cursor sequences, CR rewrites a line), Unicode line separators, and the bidi
# overrides that reverse the text after them.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_LINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_USERINFO = re.compile(r"(?<=//)[^/?#]*@")
_SECRET_PARAM = re.compile(
    r"([?&;](?:access_token|api_key|apikey|key|token|password|passwd|pwd|secret|sig|signature|auth)=)[^&#;]*",
    re.I,
)


def escape_char(match: re.Match[str]) -> str:
    """The escape a matched character is shown as: \\n, \\r, \\t, \\xNN or \\uNNNN."""
    char = match.group(0)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int | None = None) -> str:
    """Text a server or a file supplied, safe to put inside one line of a message.

    Every control character (newline included) is shown as an escape such as \\x1b, and the text
    is cut to `limit` characters (with '...') when a limit is given.
    """
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return _UNSAFE.sub(escape_char, text)


def printable_lines(text: object) -> str:
    """A whole message, safe to print: its own line breaks and tabs stay, every other control is escaped."""
    return _UNSAFE_IN_LINES.sub(escape_char, str(text))


def redact_url(url: object) -> str:
    """A URL as it may be printed or stored: user:password@ and secret-looking query values hidden."""
    text = _USERINFO.sub("***@", str(url))
    return _SECRET_PARAM.sub(r"\1***", text)
