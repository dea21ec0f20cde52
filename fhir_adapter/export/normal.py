"""The normal form of a case file: one way of writing each case, so that two that say the same compare equal.

Two case files can give the same bundle (an id written out where the default would do, a date
that a relative time gives anyway). Reading a bundle back gives one of them; the normal form
picks that one, by the rules below (each listed in the README, "Reading FHIR back"). A rule
only drops or rewrites what the mapping would make the same way without it, so the normal form
of a case gives the same bundle as the case.
"""

from __future__ import annotations

import copy
from typing import Any

from ..case import Case, Staging
from ..ids import DEFAULT_ID_SYSTEM
from ..mapping.common import MappingContext, side_given_by_words
from ..mapping.condition import _staging_words, diagnosis_when, primary_code, primary_sides
from ..mapping.procedure import RT_LOCATION_VS
from ..mapping.staging import _type_of, group_of, parse_stage, stagings_of, to_stage_observations
from ..mapping.timing import when_of
from ..terminology import Terminology

Json = dict[str, Any]

DEFAULT_KEYS = {
    "primary_cancers": "primary",
    "metastases": "metastasis",
    "procedures": "procedure",
    "medications": "medication",
    "disease_status": "disease-status",
}


def dump(case: Case) -> Json:
    """A case as case-file data: fields left at their defaults are left out."""
    return case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def normal_form(case: Case, terminology: Terminology, *, id_system: str = DEFAULT_ID_SYSTEM) -> Json:
    """The case in normal form, as case-file data (what `fhir-adapter export` writes)."""
    data = dump(case)
    _case_section(data, case, id_system)
    _items(data, case, terminology)
    data = dump(Case.model_validate(data))
    # Every time the mapping works out is written out first, as a reader of the bundle writes it,
    # so that the times kept below do not depend on which item of a loop the case stated.
    _write_out_derived_times(data, Case.model_validate(data), terminology, id_system)
    # Rewriting one time can make another one redundant: until nothing changes.
    while True:
        before = copy.deepcopy(data)
        data = strip_derived_times(data, terminology, id_system)
        case = Case.model_validate(data)
        _marker_times(data, case, terminology, id_system)
        _medication_ranges(data, Case.model_validate(data), terminology, id_system)
        data = dump(Case.model_validate(data))
        if data == before:
            return data


def _write_out_derived_times(data: Json, case: Case, terminology: Terminology, id_system: str) -> None:
    ctx = MappingContext(case=case, terminology=terminology, id_system=id_system)
    for slot in _slots(data):
        if _get(data, slot) is None and (value := _derived(ctx, case, slot)) is not None:
            _put(data, slot, value)


def _marker_times(data: Json, case: Case, terminology: Terminology, id_system: str) -> None:
    """A marker's range of one partial date is that date: a lab result's time is a day or a Period."""
    ctx = MappingContext(case=case, terminology=terminology, id_system=id_system)
    for field_name in ("primary_cancers", "metastases"):
        for index, item in enumerate(data.get(field_name) or []):
            cancer = getattr(case, field_name)[index]
            for marker_data, marker in zip(item.get("markers") or [], cancer.markers, strict=True):
                between = marker_data.get("between")
                one = between and between[0] == between[1] and len(between[0]) < 10
                if one and when_of(ctx, marker).date is None:
                    # us-core-1 puts a partial date as the Period covering it, as this range is
                    marker_data["date"] = marker_data.pop("between")[0]


def _medication_ranges(data: Json, case: Case, terminology: Terminology, id_system: str) -> None:
    """A medication's range with no start or end of its own is written as a start and an end date.

    Both give the same effectivePeriod; they can differ only for an item timed from the
    medication's start, so the range is rewritten where the bundle stays the same.
    """
    from ..bundle import build_bundle  # bundle imports the mappers; normal is imported beside them

    ctx = MappingContext(case=case, terminology=terminology, id_system=id_system)
    made = None
    for i, item in enumerate(data.get("medications") or []):
        between = item.get("between")
        if not between or "end_date" in item or when_of(ctx, case.medications[i]).date is not None:
            continue
        trial = copy.deepcopy(data)
        trial["medications"][i]["date"], trial["medications"][i]["end_date"] = trial["medications"][i].pop(
            "between"
        )
        try:
            other = build_bundle(Case.model_validate(trial), terminology, id_system=id_system).bundle
        except ValueError:
            continue
        if made is None:
            made = build_bundle(Case.model_validate(data), terminology, id_system=id_system).bundle
        if other == made:
            data["medications"][i] = trial["medications"][i]


def _case_section(data: Json, case: Case, id_system: str) -> None:
    info = data["case"]
    if info.get("id_system") == DEFAULT_ID_SYSTEM or info.get("id_system") == id_system:
        info.pop("id_system", None)
    source = info.get("source")
    if source is None:
        return
    if source.get("doi") and source.get("url") == f"https://doi.org/{source['doi']}":
        del source["url"]  # the link the DOI gives anyway
    if not any(source.get(k) for k in ("citation", "doi", "url", "pmid")):
        del info["source"]  # names no publication: nothing is made of it
        return
    link = f"https://doi.org/{source['doi']}" if source.get("doi") else source.get("url")
    fallback = link or (f"PMID {source['pmid']}" if source.get("pmid") else None)
    published_day = len(source.get("published") or "") >= 10  # then a Provenance names the citation
    if source.get("citation") == fallback and not published_day:
        del source["citation"]  # the same title a source without a citation gets


def _items(data: Json, case: Case, terminology: Terminology) -> None:
    vital = data["patient"].get("vital_status")
    if vital and not vital["deceased"]:
        vital.pop("cause", None)  # a living patient's cause of death says nothing
    for field_name, stem in DEFAULT_KEYS.items():
        for i, item in enumerate(data.get(field_name) or []):
            if item.get("id") == f"{stem}-{i + 1}":
                del item["id"]  # the id its position gives it
    primaries = case.primary_keys()
    bilateral = {key for key, p in primaries if p.laterality == "bilateral"}
    first = primaries[0][0]
    ctx = MappingContext(case=case, terminology=terminology)
    for item in data.get("primary_cancers") or []:
        if item.get("site_detail") == item.get("site"):
            del item["site_detail"]
    for i, item in enumerate(data.get("metastases") or []):
        met = case.metastases[i]
        if item.get("site_detail") == item.get("site"):
            del item["site_detail"]
        if len(primaries) == 1 and item.get("primary") == first:
            del item["primary"]  # the only primary is the one meant when none is named
        if item.get("primary_side") and (met.primary or first) not in bilateral:
            del item["primary_side"]  # only a bilateral primary has sides to choose from
        if item.get("certainty") == "confirmed" and met.confirmed_by:
            del item["certainty"]  # a metastasis confirmed by a named method is confirmed
        if met.confirmed_by:
            item["confirmed_by"] = _coded_first(ctx, met.confirmed_by)
    for i, item in enumerate(data.get("disease_status") or []):
        if item.get("about") == first:
            del item["about"]
        if case.disease_status[i].evidence:
            item["evidence"] = _coded_first(ctx, case.disease_status[i].evidence)
    for item in data.get("procedures") or []:
        concept = ctx.lookup("procedures", item["name"])
        if item.get("dose_gy") is not None and concept is not None and concept.kind == "radiotherapy":
            # A radiotherapy dose goes out in cGy, to the hundredth.
            cgy = round(item["dose_gy"] * 100, 2)
            item["dose_gy"] = cgy / 100
        if (
            concept is not None
            and concept.kind == "radiotherapy"
            and item.get("body_site")
            and not item.get("laterality")
        ):
            # A radiotherapy site the treatment-location value set holds only by a coarser site ('left
            # breast' as breast) goes out as that site's code with the side its words name as the
            # laterality qualifier: a side the bundle states.
            side = side_given_by_words(ctx, item["body_site"], RT_LOCATION_VS)
            if side:
                item["laterality"] = side
    for i, item in enumerate(data.get("primary_cancers") or []):
        _staging(ctx, case, i, item, terminology)


def _coded_first(ctx: MappingContext, terms: list[str]) -> list[str]:
    """Evidence terms with a verified code first (they go to coded elements), then the others (notes)."""
    coded = [t for t in terms if ctx.coded_or_none("observations", t, kind="evidence") is not None]
    return coded + [t for t in terms if ctx.coded_or_none("observations", t, kind="evidence") is None]


def _staging(ctx: MappingContext, case: Case, index: int, item: Json, terminology: Terminology) -> None:
    """A primary's stage words and stagings, each written one way.

    The Condition's stage summary is the `stage` words, else the stagings spelled out; the
    stagings' Observations do not depend on `stage`. So the summary is kept as words where the
    stagings no longer spell it out, and stagings that the words parse into are left to them.
    """
    primary = case.primary_cancers[index]
    if not primary.staging:
        return
    summary = primary.stage or "; ".join(s.text or _staging_words(s) for s in primary.staging)
    for s_item, staging in zip(item["staging"], primary.staging, strict=True):
        if s_item.get("type") and s_item["type"] == _type_of(staging.model_copy(update={"type": None})):
            del s_item["type"]  # what the categories' prefixes say
        text = s_item.get("text")
        if text and text.startswith("stage ") and not any(s_item.get(k) for k in ("group", "t", "n", "m")):
            if ctx.coded_or_none("staging", text, kind="stage-group") is not None:
                # Words alone that name a coded group come out as that group would.
                s_item["group"] = text[len("stage ") :]
                del s_item["text"]
        elif text and s_item.get("group") and text == f"stage {s_item['group']}":
            del s_item["text"]  # the group's own words
        elif (
            s_item.get("group")
            and not any(s_item.get(k) for k in ("text", "t", "n", "m"))
            and group_of(s_item["group"]) is None
        ):
            # A group that is no stage group, alone, is the value's words, as a stage in words is.
            s_item["text"] = s_item.pop("group")
    for s_item in item["staging"]:
        text = s_item.get("text")
        if text and not any(s_item.get(k) for k in ("group", "t", "n", "m")):
            parsed = parse_stage(text)
            if any((parsed.t, parsed.n, parsed.m)) or (parsed.group and group_of(parsed.group) is not None):
                # Words that parse into categories, or into a coded stage group, come out as those
                # beside the words (a group alone in the only staging becomes `stage` below).
                for letter in ("group", "t", "n", "m"):
                    if getattr(parsed, letter):
                        s_item[letter] = getattr(parsed, letter)
    stagings = [Staging.model_validate(s_item) for s_item in item["staging"]]
    if _same_stage_observations(
        case, index, primary.model_copy(update={"stage": summary, "staging": stagings}), terminology
    ):
        item["stage"] = summary  # the stagings are what these words parse into
        del item["staging"]
    elif summary == "; ".join(s.text or _staging_words(s) for s in stagings):
        item.pop("stage", None)  # the stagings spell it out
    else:
        item["stage"] = summary


def _same_stage_observations(case: Case, index: int, primary, terminology: Terminology) -> bool:
    key = case.primary_keys()[index][0]
    made = []
    bare = {
        "id": key,
        "markers": [],
        "date": None,
        "age": None,
        "between": None,
        "relative": None,
        "timing": None,
    }
    for variant in (primary, primary.model_copy(update={"staging": []})):
        alone = {
            "case": case.case.model_dump(),
            "patient": {"sex": case.patient.sex},
            "primary_cancers": [variant.model_copy(update=bare).model_dump()],
        }
        one = Case.model_validate(alone)
        ctx = MappingContext(
            case=one, terminology=terminology, id_system=case.case.id_system or DEFAULT_ID_SYSTEM
        )
        side = primary_sides(ctx)[0]
        made.append([r for _, r in to_stage_observations(ctx, side, primary_code(ctx, side, "p"))[0]])
    return made[0] == made[1] and stagings_of(primary.model_copy(update={"staging": []})) != []


Slot = tuple  # the path of a date, age or last_known field in case-file data: ("metastases", 0, "date")


def strip_derived_times(data: Json, terminology: Terminology, id_system: str) -> Json:
    """Leave out each date or age that the case gives its item anyway: a relative time, or the age at diagnosis.

    One field at a time, in case-file order, a field is left out when every timed item's date and
    age stay what they were without it. Works on data a reader made, where derived values are
    written out (and may break the model's chronology checks, which look only at stated values),
    as on a valid case.
    """
    slots = [slot for slot in _slots(data) if _get(data, slot) is not None]
    if not slots:
        return data
    bare = copy.deepcopy(data)
    for slot in slots:
        _pop(bare, slot)
    base = lenient_case(bare)
    if base is None:
        return data
    kept = {slot: _get(data, slot) for slot in slots}

    def picture(values: dict) -> list:
        case = base
        for slot, value in values.items():
            case = _with(case, slot, value)
        ctx = MappingContext(case=case, terminology=terminology, id_system=id_system)
        return [_derived(ctx, case, slot) for slot in _slots(data)]

    before = picture(kept)

    def same(trial: dict) -> bool:
        return all(_same(a, b) for a, b in zip(picture(trial), before, strict=True))

    if same({}):
        kept = {}
    # One at a time; then two at a time, for items timed from each other in a loop. Last first:
    # in a loop each item's time follows from another's, and the one kept is the first in the
    # case file, as a case that states one of them gives it.
    for slot in reversed(slots):
        trial = {k: v for k, v in kept.items() if k != slot}
        if slot in kept and same(trial):
            kept = trial
    pairs = [(a, b) for i, a in enumerate(slots) for b in slots[i + 1 :]][::-1]
    for a, b in pairs:
        trial = {k: v for k, v in kept.items() if k not in (a, b)}
        if a in kept and b in kept and same(trial):
            kept = trial
    out = copy.deepcopy(bare)
    for slot, value in kept.items():
        _put(out, slot, value)
    return out


def lenient_case(data: Json) -> Case | None:
    """The case as the data gives it, with the chronology checks of the model left out (None if invalid else).

    A reader writes out dates and ages the mapping worked out; against stated ones they may
    break checks that only look at stated values (a metastasis before its primary). The data is
    validated without every date, age and the age at diagnosis, and those are set back unvalidated.
    """
    slots = [slot for slot in _all_time_slots(data) if _get(data, slot) is not None]
    bare = copy.deepcopy(data)
    for slot in slots:
        _pop(bare, slot)
    try:
        case = Case.model_validate(bare)
    except ValueError:
        return None
    for slot in slots:
        case = _with(case, slot, _get(data, slot))
    return case


def _all_time_slots(data: Json) -> list[Slot]:
    out: list[Slot] = [("patient", "age_at_diagnosis")]
    if (data.get("patient") or {}).get("vital_status"):
        out += [("patient", "vital_status", "date"), ("patient", "vital_status", "age")]
    for field_name in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
        for i, item in enumerate(data.get(field_name) or []):
            out += [(field_name, i, "date"), (field_name, i, "age")]
            for sub in ("markers", "staging"):
                for j, _ in enumerate(item.get(sub) or []):
                    out += [(field_name, i, sub, j, "date"), (field_name, i, sub, j, "age")]
    return out


def _with(case: Case, slot: Slot, value: Any) -> Case:
    """The case with one date or age set, unvalidated (a reader's data may break chronology checks)."""
    *where, key = slot
    if where == ["patient"]:
        return case.model_copy(update={"patient": case.patient.model_copy(update={key: value})})
    if where[0] == "patient":
        vital = case.patient.vital_status.model_copy(update={key: value})
        return case.model_copy(update={"patient": case.patient.model_copy(update={"vital_status": vital})})
    items = list(getattr(case, where[0]))
    item = items[where[1]]
    if len(where) == 2:
        item = item.model_copy(update={key: value})
    else:
        parts = list(getattr(item, where[2]))
        parts[where[3]] = parts[where[3]].model_copy(update={key: value})
        item = item.model_copy(update={where[2]: parts})
    items[where[1]] = item
    return case.model_copy(update={where[0]: items})


def _slots(data: Json) -> list[Slot]:
    out: list[Slot] = []
    vital = (data.get("patient") or {}).get("vital_status")
    if vital and vital.get("relative"):
        names = ("date", "age") if vital.get("deceased") else ("last_known",)
        out += [("patient", "vital_status", name) for name in names]
    for field_name in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
        for i, item in enumerate(data.get(field_name) or []):
            if item.get("relative"):
                out += [(field_name, i, "date"), (field_name, i, "age")]
            elif field_name == "primary_cancers" and data["patient"].get("age_at_diagnosis") is not None:
                out.append((field_name, i, "age"))
            for sub in ("markers", "staging"):
                for j, part in enumerate(item.get(sub) or []):
                    if part.get("relative"):
                        out += [(field_name, i, sub, j, "date"), (field_name, i, sub, j, "age")]
    return out


def _get(data: Any, slot: Slot) -> Any:
    for step in slot:
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return None
    return data


def _pop(data: Json, slot: Slot) -> None:
    _get(data, slot[:-1]).pop(slot[-1], None)


def _put(data: Json, slot: Slot, value: Any) -> None:
    _get(data, slot[:-1])[slot[-1]] = value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _derived(ctx: MappingContext, case: Case, slot: Slot) -> Any:
    """What the mapping makes of a left-out date, age or last_known."""
    *where, key = slot
    if where[0] == "patient":
        item = case.patient.vital_status
        when = when_of(ctx, item)
    elif len(where) == 2:
        item = getattr(case, where[0])[where[1]]
        when = diagnosis_when(ctx, where[1], item) if where[0] == "primary_cancers" else when_of(ctx, item)
    else:
        item = getattr(getattr(case, where[0])[where[1]], where[2])[where[3]]
        when = when_of(ctx, item)
    if key == "last_known":
        return item.last_known or when.date  # the day the follow-up Observation is dated by
    return when.date if key == "date" else when.age
