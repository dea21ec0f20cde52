"""fhir-adapter: oncology case files to mCODE-aligned FHIR R4 bundles, and bundles to FHIR servers.

The public API:

- `convert_case(case) -> dict`: a case (the data of a case file, or a `Case`) to a Bundle dict.
- `load_case(path) -> Case`: read and validate a YAML or JSON case file.
- `load_terminology(directory=None) -> Terminology`: the shipped maps, optionally with an overlay.
- `push(bundles, server) -> list[PushResult]`: send transaction Bundles through an outbox.
- `convert_many(inputs, output=...) -> RunSummary`: the whole `fhir-adapter convert` run (files,
  directories, globs, NDJSON, spreadsheets; error files, report, posting with `post=PostSettings(...)`).

Errors are `AdapterError` subclasses (`InvalidCaseError`, `MappingError`, `ConfigError`, ...).
"""

__version__ = "0.1.0"

# Below __version__: client.py reads it while these imports run.
from .api import FhirAdapterWarning, convert_case, load_case, load_terminology, push  # noqa: E402
from .case import Case  # noqa: E402
from .engine import PostSettings, RunSummary, convert_many  # noqa: E402
from .errors import (  # noqa: E402
    AdapterError,
    ConfigError,
    InvalidCaseError,
    MappingError,
    OutputError,
    ServerError,
    ServerRejectedError,
    ServerUnavailableError,
)
from .push import PushResult  # noqa: E402
from .terminology import Terminology  # noqa: E402

__all__ = [
    "AdapterError",
    "Case",
    "ConfigError",
    "FhirAdapterWarning",
    "InvalidCaseError",
    "MappingError",
    "OutputError",
    "PostSettings",
    "PushResult",
    "RunSummary",
    "ServerError",
    "ServerRejectedError",
    "ServerUnavailableError",
    "Terminology",
    "__version__",
    "convert_case",
    "convert_many",
    "load_case",
    "load_terminology",
    "push",
]
