"""Case assembly: the mentions and values of one case's text placed into a case-file dict, family by family.

Each fact placed records its evidence (the sentence, the character span of the words it came
from, the rule that placed it and a confidence); what was seen but could not be placed goes to
the review list with the reason. The shared placement helpers are in place.py; each fact family
has a module of its own.
"""

from __future__ import annotations

from ...terminology import Terminology
from ..pipeline import Mention
from ..rules import Rules
from . import markers, metastases, outcome, patient, primaries, treatments
from .place import Assembled, CaseDraft

__all__ = ["Assembled", "assemble"]


def assemble(
    text: str,
    sentences: list[tuple[int, int]],
    mentions: list[Mention],
    rules: Rules,
    terminology: Terminology,
    case_id: str,
) -> Assembled | None:
    """The draft of one case from its sentences and mentions, or None when it names no primary cancer."""
    b = CaseDraft(text, sentences, mentions, rules, terminology, case_id)
    patient.read_patient(b)
    if not primaries.read_primary(b):
        return None
    metastases.read_metastases(b)
    primaries.read_histology(b)
    treatments.read_procedures(b)
    for met in b.mets.values():
        for i in sorted(met["_sentences"]):
            b.relative_time(met, i)
    primaries.primary_before(b)
    markers.read_markers(b)
    treatments.read_medications(b)
    outcome.read_status(b)
    outcome.death_timing(b)
    for met in b.mets.values():
        if (
            ("relative" in met or "date" in met)
            and met.get("age") is not None
            and any(e.item is met and e.field == "age" for e in b.evidence)
        ):
            met.pop("age")
    return b.finish()
