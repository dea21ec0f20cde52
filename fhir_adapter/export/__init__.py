"""FHIR read back into case files: the inverse of the mapping, a resource kind per module as in mapping/."""

from __future__ import annotations

from .normal import normal_form
from .read import CaseReading, read_case

__all__ = ["CaseReading", "normal_form", "read_case"]
