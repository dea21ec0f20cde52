"""The mCODE Extraction Framework's CSV layout (tables keyed by mrn): not recognised yet."""

from __future__ import annotations


def classify(headers: dict) -> dict:
    """The MEF kind of each table by its header; this first version recognises none."""
    return {}
