"""The JSON Schema of case files, generated from the pydantic model (checked in and tested current)."""

from __future__ import annotations

from pathlib import Path

import orjson

from .case import Case

SCHEMA_PATH = Path(__file__).with_name("case.schema.json")


def case_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) that editors use to complete and check case files."""
    schema = Case.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **{k: v for k, v in schema.items() if k != "$schema"},
    }


def schema_bytes() -> bytes:
    return orjson.dumps(case_json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
