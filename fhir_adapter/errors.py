"""The exception hierarchy of fhir-adapter; each error carries the exit code the CLI returns."""

from __future__ import annotations

# Exit codes, documented in the README. 1 is left to Python itself (an unexpected crash).
EXIT_OK = 0
EXIT_USAGE = 2  # click's own code for a bad command line
EXIT_INVALID_CASE = 3  # one or more case files could not be converted
EXIT_MAPPING = 4  # a terminology map is broken, or --strict met an unmapped term
EXIT_SERVER_REJECTED = 5  # the server answered with a 4xx (other than 408/429)
EXIT_SERVER_UNAVAILABLE = 6  # connection failed, timed out or 5xx/429 after every retry
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
