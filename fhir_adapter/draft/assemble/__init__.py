"""Case assembly: the mentions and values of one case's text placed into a case-file dict, family by family.

Each fact placed records its evidence (the sentence, the character span of the words it came
from, the rule that placed it and a confidence); what was seen but could not be placed goes to
the review list with the reason. The shared placement helpers are in place.py; each fact family
has a module of its own.
"""

from __future__ import annotations

from ...terminology import Terminology
from ..pipeline import Mention
from ..roles import PATIENT, TITLE
from ..rules import Rules
from ..text import Reference
from . import confirmation, markers, metastases, outcome, patient, primaries, times, treatments
from .place import Assembled, CaseDraft

__all__ = ["Assembled", "assemble"]


def assemble(
    source: str,
    text: str,
    sentences: list[tuple[int, int]],
    roles: list[str],
    mentions: list[Mention],
    rules: Rules,
    terminology: Terminology,
    case_id: str,
    references: list[Reference] | None = None,
    original: str | None = None,
) -> Assembled | None:
    """The draft of one case from its sentences and mentions, or None when its story names no primary cancer.

    `source` is the text as read (other cases blanked), `text` its normalised same-length copy
    the rules read, `roles` the role of each sentence; only mentions in the patient's story count.
    """
    story = [m for m in mentions if roles[m.sentence] == PATIENT]
    b = CaseDraft(
        source,
        text,
        sentences,
        roles,
        story,
        rules,
        terminology,
        case_id,
        references or [],
        original or source,
        title=[m for m in mentions if roles[m.sentence] == TITLE],
    )
    b.read_time()
    patient.read_patient(b)
    if not primaries.read_primary(b) and not primaries.primary_from_title(b, mentions):
        return None
    metastases.read_metastases(b)
    treatments.read_procedures(b)
    confirmation.read_later_pathology(b)
    confirmation.read_fluids(b)
    confirmation.read_sample_before(b)
    confirmation.drop_negative(b)
    primaries.read_histology(b)
    metastases.metastasis_timing(b)
    primaries.primary_timing(b)
    patient.presenting_age(b)
    patient.event_ages(b)
    patient.revealed_primary_age(b)
    patient.age_told_with_the_primary(b)
    patient.age_not_of_a_later_spread(b)
    treatments.treatment_timing(b)
    times.own_intervals(b)
    times.later_in_episode(b)
    times.counted_from_a_metastasis(b)
    times.counted_from_an_end(b)
    times.spread_told_apart(b)
    times.later_than_a_date(b)
    times.later_than_the_first_sign(b)
    times.counted_from_an_operation(b)
    times.told_within_a_span(b)
    primaries.date_order(b)
    markers.read_markers(b)
    treatments.read_medications(b)
    outcome.read_status(b)
    outcome.read_failed_course(b)
    outcome.read_new_disease(b)
    outcome.read_death(b)
    return b.finish()
