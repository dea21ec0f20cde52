"""One case read back from its FHIR resources: each resource found by the role its identifier names.

fhir-adapter gives every resource but the Patient and the Provenance an identifier
`<case id>/<role>` in the case's identifier system (bundle.py). The role says which item of the
case file the resource came from (primary/breast/left, procedure/biopsy, medication/act/1), so
the case file is written back item by item, each field from the element its mapper put it in.
Resources without such an identifier (another tool's mCODE) are read by foreign.py, as far as
the case model lets them be.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from ..bundle import build_bundle
from ..case import Case
from ..casefile import dotted
from ..errors import AdapterError, InvalidCaseError, printable
from ..ids import DEFAULT_ID_SYSTEM
from ..mapping.common import MappingContext
from ..mapping.condition import primary_code, primary_sides
from ..mapping.staging import to_stage_observations
from ..mapping.timing import describe_anchor
from ..terminology import Terminology
from .common import Index, Json, ReadContext, case_identity, label, reference_keys, text_of
from .condition import read_metastasis, read_misdiagnosis, read_primary
from .extensions import list_unknown_extensions
from .foreign import read_foreign
from .medication import read_medication
from .normal import lenient_case, normal_form, strip_derived_times
from .observation import read_disease_status, read_grade, read_marker, read_size
from .patient import read_findings, read_patient
from .procedure import read_procedure
from .provenance import read_source, read_summary
from .staging import read_staging

RECEPTORS = ("er", "pr", "her2")


@dataclass
class CaseReading:
    """A case read back from FHIR: the case-file data, where each field came from, what did not fit."""

    case: Json
    evidence: dict[str, Json] = field(default_factory=dict)
    unplaced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    @property
    def case_id(self) -> str:
        return str(self.case["case"]["id"])


@dataclass
class _Cancer:
    """The resources of one primary cancer or metastasis, by role."""

    conditions: dict[str | None, Json] = field(default_factory=dict)  # side (or None) -> Condition
    misdiagnosis: Json | None = None
    receptors: dict[str, Json] = field(default_factory=dict)
    markers: dict[int, Json] = field(default_factory=dict)
    stages: dict[int, dict[str, Json]] = field(default_factory=dict)
    grade: Json | None = None
    size: Json | None = None


@dataclass
class _Roles:
    """Every resource of a case that carries a role, sorted into the items of the case file."""

    primaries: dict[str, _Cancer] = field(default_factory=dict)
    metastases: dict[str, _Cancer] = field(default_factory=dict)
    procedures: dict[str, Json] = field(default_factory=dict)
    medications: dict[str, dict[int, Json]] = field(default_factory=dict)
    statuses: dict[str, Json] = field(default_factory=dict)
    responses: dict[str, Json] = field(default_factory=dict)
    findings: dict[str, Json] = field(default_factory=dict)
    summary: Json | None = None
    source: Json | None = None
    provenance: Json | None = None
    foreign: list[Json] = field(default_factory=list)

    def add(self, role: str, resource: Json) -> bool:
        """File a resource under its role; False for a role this version does not know."""
        parts = role.split("/")
        head = parts[0]
        if head in ("primary", "metastasis") and len(parts) >= 2:
            cancers = self.primaries if head == "primary" else self.metastases
            cancer = cancers.setdefault(parts[1], _Cancer())
            rest = parts[2:]
            if not rest:
                cancer.conditions[None] = resource
            elif rest in (["left"], ["right"]) and head == "primary":
                cancer.conditions[rest[0]] = resource
            elif rest == ["misdiagnosis"]:
                cancer.misdiagnosis = resource
            elif rest == ["grade"]:
                cancer.grade = resource
            elif rest == ["size"]:
                cancer.size = resource
            elif len(rest) == 2 and rest[0] == "marker" and rest[1] in RECEPTORS:
                cancer.receptors[rest[1]] = resource
            elif len(rest) == 2 and rest[0] == "markers" and rest[1].isdigit():
                cancer.markers[int(rest[1])] = resource
            elif rest[0] == "specimen" or rest in (["size", "tumor"], ["age-at-diagnosis"]):
                pass  # read through what refers to it (a marker, the size), or said again elsewhere
            elif (
                len(rest) == 3
                and rest[0] == "stage"
                and rest[1].isdigit()
                and rest[2] in ("group", "t", "n", "m")
            ):
                cancer.stages.setdefault(int(rest[1]), {})[rest[2]] = resource
            else:
                return False
            return True
        if head == "procedure" and len(parts) in (2, 3):
            if len(parts) == 2:
                self.procedures[parts[1]] = resource
            return len(parts) == 2 or parts[2] == "volume"
        if head == "medication" and len(parts) in (2, 3):
            drug = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else -1
            self.medications.setdefault(parts[1], {})[drug] = resource
            return len(parts) == 2 or parts[2].isdigit()
        if head == "disease-status" and len(parts) == 2:
            if parts[1].startswith("response-to-") and resource.get("partOf"):
                self.responses[parts[1][len("response-to-") :]] = resource
            else:
                self.statuses[parts[1]] = resource
            return True
        if head == "patient" and len(parts) >= 2:
            self.findings["/".join(parts[1:])] = resource
            return True
        if role == "summary":
            self.summary = resource
            return True
        if role == "source":
            self.source = resource
            return True
        return False


def role_of(resource: Json, system: str, case_id: str) -> str | None:
    """The role a resource's identifier names in the case, if it has one."""
    if resource.get("resourceType") == "Patient":
        return "patient"
    prefix = case_id + "/"
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = str(identifier.get("value", ""))
            if value.startswith(prefix):
                return value[len(prefix) :]
    return None


def _positioned(keys: list[str], stem: str) -> list[str]:
    """Ids in case order: an item without an id (primary-2) at the place its id says; the others in turn.

    A server keeps no order between resources; this puts back what the ids can tell.
    """
    slots: list[str | None] = [None] * len(keys)
    rest = []
    for key in keys:
        found = re.fullmatch(rf"{re.escape(stem)}-([0-9]+)", key)
        n = int(found.group(1)) - 1 if found else -1
        if 0 <= n < len(slots) and slots[n] is None:
            slots[n] = key
        else:
            rest.append(key)
    return [slot if slot is not None else rest.pop(0) for slot in slots]


def _positions(roles: _Roles) -> None:
    for name, stem in (
        ("primaries", "primary"),
        ("metastases", "metastasis"),
        ("procedures", "procedure"),
        ("medications", "medication"),
        ("statuses", "disease-status"),
    ):
        items = getattr(roles, name)
        setattr(roles, name, {key: items[key] for key in _positioned(list(items), stem)})


def _ours(provenance: Json, index: Index, patient: Json) -> bool:
    return any(index.get(t) is patient for t in provenance.get("target") or [])


def _in_case_order(resources: list[Json], index: Index) -> list[Json]:
    """The resources in the order the case gave them: a Provenance lists every one of them in that order."""
    for provenance in (r for r in resources if r.get("resourceType") == "Provenance"):
        order = {}
        for n, target in enumerate(provenance.get("target") or []):
            found = index.get(target)
            if found is not None:
                order.setdefault(id(found), n)
        if len(order) >= len(resources) - 1:
            return sorted(resources, key=lambda r: order.get(id(r), len(order)))
    return resources


def _anchors(case_id: str, system: str, skeleton: Json, terminology: Terminology) -> dict[str, str]:
    """How the mapping describes each item a relative time may name, by those words."""
    case = Case.model_validate(skeleton)
    ctx = MappingContext(case=case, terminology=terminology, id_system=system)
    keys = [key for _, key, _ in case.timed_items()]
    return {describe_anchor(ctx, key): key for key in dict.fromkeys(keys)}


def read_case(
    resources: list[Json],
    terminology: Terminology,
    *,
    system: str | None = None,
    source: str = "",
    full_urls: dict[str, str] | None = None,
) -> CaseReading:
    """The case file the resources of one patient give, in normal form (see normal.py).

    `full_urls` maps a Bundle's fullUrls to Type/id, for the references that use them. Raises
    InvalidCaseError when the resources hold no Patient, several, or give no valid case.
    """
    where = source or "the resources"
    resources = _once_each(where, resources, source)
    index = Index(resources, full_urls)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise InvalidCaseError(
            f"{where}: {len(patients) or 'no'} Patient resources; a case is read from the resources of one patient",
            file=source or None,
        )
    patient = patients[0]
    identity = case_identity(patient, resources, system)
    if identity is None:
        case_id = str(patient.get("id") or "case")
        system_used = system or DEFAULT_ID_SYSTEM
        warnings = [
            f"{where}: the Patient has no identifier that can be a case id; the case id is its"
            f" resource id, {case_id}"
        ]
    else:
        system_used, case_id = identity
        warnings = []
    ctx = ReadContext(terminology, system_used, case_id, index, warnings=warnings)
    ordered = _in_case_order(resources, index)
    roles = _Roles()
    holders: dict[str, Json] = {}
    for resource in ordered:
        role = role_of(resource, system_used, case_id)
        kind = resource.get("resourceType")
        if role is not None and role != "patient":
            _one_per_role(where, role, holders.setdefault(role, resource), resource, source)
        if kind == "Provenance" and role is None and _ours(resource, index, patient):
            roles.provenance = resource
        elif role is None:
            roles.foreign.append(resource)
        elif role != "patient" and not roles.add(role, resource):
            ctx.not_placed(
                resource, "identifier", f"role '{role}' is not one this version of fhir-adapter writes"
            )
    _positions(roles)
    data = _assemble(ctx, patient, roles, terminology)
    data = _medication_ranges(ctx, data, ordered, terminology)
    data = strip_derived_times(data, terminology, system_used)
    if roles.foreign:
        ours = any(role_of(r, system_used, case_id) not in (None, "patient") for r in ordered)
        cancers = {
            str(condition.get("id")): key
            for group in (roles.primaries, roles.metastases)
            for key, cancer in group.items()
            for condition in cancer.conditions.values()
        }
        read_foreign(ctx, data, roles.foreign, patient, ours=ours, cancers=cancers)
    list_unknown_extensions(ctx, ordered)
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        case = _without_unfit_values(ctx, data, exc)
        if case is None:
            problems = [_problem(where, e) for e in exc.errors()]
            if not data.get("primary_cancers"):
                problems.append(_why_no_primary(where, ctx, resources))
            raise InvalidCaseError("\n".join(problems), file=source or None, problems=problems) from None
    # The Patient is the case's own when other resources carry its roles; another tool's Patient
    # is accounted for by foreign.py, which lists what it does not read.
    roles_of = [role_of(r, system_used, case_id) for r in ordered]
    ours = any(role not in (None, "patient") for role in roles_of)
    own = [
        r
        for r, role in zip(ordered, roles_of, strict=True)
        if role not in (None, "patient") or (role and ours)
    ]
    _account_for(ctx, case, own, terminology, system_used, case_id)
    normal = normal_form(case, terminology, id_system=DEFAULT_ID_SYSTEM)
    return CaseReading(normal, ctx.evidence, ctx.unplaced, ctx.warnings, source)


def _account_for(
    ctx: ReadContext, case: Case, own: list[Json], terminology: Terminology, system: str, case_id: str
) -> None:
    """List every element of the case's own resources that the case file read does not give back.

    The readers take each field from the element its mapper writes; an element no reader looks at
    (a birth date or name on the Patient, an abatement, an interpretation, a dosage added by hand
    or by another program) would otherwise be dropped without a word. The case read is mapped
    again, and each resource that carries a role is compared with the one the mapping makes for
    that role: what only the resource holds, what differs and what only the mapping adds is listed
    (a value the case file holds in another form than the resource, or one it fills in). An
    element listed already (an unknown extension, a value the case model refused) is not listed
    twice.
    """
    if not own:
        return
    try:
        made = build_bundle(case, terminology, id_system=system).resources
    except AdapterError as exc:
        ctx.warnings.append(f"the case read cannot be mapped again to check what it left out: {exc}")
        return
    twins = {role_of(r, system, case_id): r for r in made}
    for resource in own:
        name = label(resource)
        listed = [line.split(": ", 1)[0] for line in ctx.unplaced if line.startswith(name)]
        if name in listed:
            continue
        twin = twins.get(role_of(resource, system, case_id))
        if twin is None:
            ctx.not_placed(resource, "", "the case file read back holds nothing that gives this resource")
            continue
        given = _comparable(resource)
        text = given.get("text")
        if isinstance(text, dict) and text.get("status") == "generated" and "text" not in twin:
            # A narrative generated from the resource's own elements (FHIR's `generated`), as a
            # server may add: it says nothing the elements compared here do not.
            del given["text"]
        for element, why in _left_out(given, _comparable(twin), ""):
            if not any(line.startswith(f"{name} {element}") for line in listed):
                ctx.not_placed(resource, element, why)


def _left_out(given: Any, made: Any, path: str) -> Iterator[tuple[str, str]]:
    """(element, why) for each element where a resource read differs from the one its case maps to."""
    if isinstance(given, dict) and isinstance(made, dict):
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            if key not in made:
                yield where, "has no place in the case format"
            elif value != made[key]:
                yield from _left_out(value, made[key], where)
        for key, value in made.items():
            if key not in given:
                where = f"{path}.{key}" if path else key
                yield where, f"not in the resource, yet the case file read back gives {_brief(value)}"
        return
    if isinstance(given, list) and isinstance(made, list):
        if len(given) == len(made):
            for n, (a, b) in enumerate(zip(given, made, strict=True)):
                if a != b:
                    yield from _left_out(a, b, f"{path}[{n}]")
            return
        rest = list(made)
        for n, item in enumerate(given):
            if item in rest:
                rest.remove(item)
            else:
                yield _item_name(path, n, item), "has no place in the case format"
        for item in rest:
            yield path, f"the case file read back gives {_brief(item)} besides"
        return
    yield path, f"is {_brief(given)} here, but the case file read back gives {_brief(made)}"


def _item_name(path: str, n: int, item: Any) -> str:
    """An item of a list by its position, or an extension by its url, as extensions.py names them."""
    if path.rsplit(".", 1)[-1] in ("extension", "modifierExtension") and isinstance(item, dict):
        return f"{path}[{item.get('url')}]"
    return f"{path}[{n}]"


def _brief(value: Any) -> str:
    return printable(orjson.dumps(value).decode(), 80)


def _once_each(where: str, resources: list[Json], source: str) -> list[Json]:
    """The resources with each Type/id once; the same one given twice with other content fails the case.

    A Bundle may list a resource twice, and a server's pages may repeat one: the same content is
    read once. Two different contents under one Type/id (a copy changed between two pages, or a
    file put together from two exports) cannot both be the resource, and which is current cannot
    be told, so neither is picked silently.
    """
    seen: dict[str, Json] = {}
    out = []
    for resource in resources:
        rid = resource.get("id")
        if not isinstance(rid, str):
            out.append(resource)
            continue
        key = f"{resource.get('resourceType')}/{rid}"
        first = seen.setdefault(key, resource)
        if first is resource:
            out.append(resource)
        elif first != resource:
            raise InvalidCaseError(
                f"{where}: {printable(key, 200)} is given twice with different content ({_first_difference(first, resource)});"
                " which one is current cannot be told. Keep one copy of it and export again",
                file=source or None,
            )
    return out


def _one_per_role(where: str, role: str, first: Json, resource: Json, source: str) -> None:
    """Two resources naming the same item of the case (one role) fail the case: one would hide the other."""
    if first is resource:
        return
    raise InvalidCaseError(
        f"{where}: {printable(label(first), 200)} and {printable(label(resource), 200)} both carry the identifier of"
        f" role {printable(role, 200)}; one item of the case cannot come from two resources, and which holds"
        " the case cannot be told. Remove the one that is not current (or give it another identifier)"
        " and export again",
        file=source or None,
    )


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    """The first element where two versions of a resource differ, by its FHIR path."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{printable(path or 'the resource', 200)} differs"


def _problem(where: str, error: Any) -> str:
    """One error of the case model as a line: the field (none for a rule across fields) and the message."""
    field_path = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {field_path}: {message}" if field_path else f"{where}: {message}"


def _why_no_primary(where: str, ctx: ReadContext, resources: list[Json]) -> str:
    """Why no primary cancer was read: the Conditions left out, each with its reason, or none sent."""
    conditions = {label(r) for r in resources if r.get("resourceType") == "Condition"}
    if not conditions:
        return f"{where}: no Condition among the resources; a case needs its primary cancer"
    left_out = [line for line in ctx.unplaced if line.split(" ", 1)[0].split(":", 1)[0] in conditions]
    return (
        f"{where}: none of the {len(conditions)} Condition(s) was read as a primary cancer, which a case"
        " needs:" + "".join(f"\n  {line}" for line in left_out)
    )


def _without_unfit_values(ctx: ReadContext, data: Json, exc: ValidationError) -> Case | None:
    """The case without the single values its model refuses (each listed with where it was read), or None.

    A value a server holds in a form the case file cannot (a source URL that is not http, a DOI
    in words) costs that value, said out loud, not the whole case. Only optional scalar fields go:
    where an error names anything else (a required field, a whole item, two fields that disagree)
    or the case still does not validate without them, None, and the caller reports every error.
    """
    trimmed = copy.deepcopy(data)
    dropped: list[tuple[str, Any, str]] = []
    for error in exc.errors():
        *parents, key = error["loc"] or (None,)
        node: Any = trimmed
        for step in parents:
            node = node[step] if isinstance(node, dict) and step in node else None
            node = node if isinstance(node, dict | list) else None
            if node is None:
                return None
        if not isinstance(node, dict) or not isinstance(node.get(key), str | int | float | bool):
            return None
        path = dotted(error["loc"])
        dropped.append((path, node.pop(key), error["msg"]))
    try:
        case = Case.model_validate(trimmed)
    except ValidationError:
        return None
    for path, value, why in dropped:
        origin = ctx.evidence.pop(path, None)
        where = f"{origin['resource']} {origin['element']}" if origin else path
        ctx.unplaced.append(f"{where}: '{value}' cannot be the case's {path} ({why})")
    return case


def _assemble(ctx: ReadContext, patient: Json, roles: _Roles, terminology: Terminology) -> Json:
    """The case-file data: skeleton first (ids, sites, names), for the words relative times use."""
    data: Json = {"case": {"id": ctx.case_id}}
    if ctx.system != DEFAULT_ID_SYSTEM:
        data["case"]["id_system"] = ctx.system
    data["patient"] = read_patient(ctx, patient)
    data["patient"].setdefault("sex", "unknown")
    bilateral = {
        key
        for key, cancer in roles.primaries.items()
        if "left" in cancer.conditions and "right" in cancer.conditions
    }
    anchors = (
        _anchors(ctx.case_id, ctx.system, _skeleton(ctx, data, roles), terminology) if roles.primaries else {}
    )
    cancer_of: dict[str, tuple[str, str | None]] = {}
    primaries = []
    for key, cancer in roles.primaries.items():
        for side, condition in cancer.conditions.items():
            cancer_of[str(condition.get("id"))] = (key, side)
    for key, cancer in roles.metastases.items():
        for condition in cancer.conditions.values():
            cancer_of[str(condition.get("id"))] = (key, None)
    for key, cancer in roles.primaries.items():
        if not cancer.conditions:
            continue
        path = f"primary_cancers[{len(primaries)}]"
        side = "left" if "left" in cancer.conditions else next(iter(cancer.conditions))
        item = read_primary(ctx, key, cancer.conditions[side], side, path, anchors)
        _tumour(ctx, cancer, item, path, anchors)
        _stages(ctx, cancer, item, path, anchors, terminology, data)
        primaries.append(item)
    data["primary_cancers"] = primaries
    metastases = []
    for key, cancer in roles.metastases.items():
        condition = cancer.conditions.get(None)
        if condition is None:
            continue
        path = f"metastases[{len(metastases)}]"
        item = read_metastasis(ctx, key, condition, path, anchors, cancer_of, bilateral)
        if cancer.misdiagnosis is not None:
            read_misdiagnosis(ctx, cancer.misdiagnosis, path, item)
        _tumour(ctx, cancer, item, path, anchors)
        metastases.append(item)
    if metastases:
        data["metastases"] = metastases
    procedures = []
    for key, procedure in roles.procedures.items():
        path = f"procedures[{len(procedures)}]"
        procedures.append(read_procedure(ctx, key, procedure, path, anchors, cancer_of, bilateral))
    if procedures:
        data["procedures"] = procedures
    medications = []
    for key, statements in roles.medications.items():
        path = f"medications[{len(medications)}]"
        item = read_medication(
            ctx, key, [statements[n] for n in sorted(statements)], path, anchors, cancer_of, bilateral
        )
        response = roles.responses.get(key)
        if response is not None:
            item["response"] = ctx.found(
                f"{path}.response",
                response,
                "valueCodeableConcept.text",
                text_of(response.get("valueCodeableConcept")),
            )
        medications.append(item)
    if medications:
        data["medications"] = medications
    statuses = []
    for key, obs in roles.statuses.items():
        path = f"disease_status[{len(statuses)}]"
        focus = [cancer_of.get(str((ctx.index.get(f) or {}).get("id"))) for f in obs.get("focus") or []]
        about = next((f[0] for f in focus if f), None)
        statuses.append(read_disease_status(ctx, obs, key, path, anchors, about))
    if statuses:
        data["disease_status"] = statuses
    read_findings(ctx, roles.findings, data["patient"], anchors)
    if roles.summary is not None:
        summary = read_summary(ctx, roles.summary)
        if summary:
            data["case"]["summary"] = summary
    if roles.source is not None:
        source = read_source(ctx, roles.source, roles.provenance)
        if source:
            data["case"]["source"] = source
    return data


def _medication_ranges(ctx: ReadContext, data: Json, resources: list[Json], terminology: Terminology) -> Json:
    """A medication's Period is a start and an end date, or a range: what items timed from it tell apart.

    Both give the same MedicationStatement; only a start date times an item placed relative to
    the medication. Where such items exist, the reading whose bundle is the one read is kept.
    """
    named = {r.get("to") for r in _relatives(data)}
    doubtful = []
    for i, item in enumerate(data.get("medications") or []):
        key = item.get("id") or f"medication-{i + 1}"
        if key not in named or "date" not in item or "end_date" not in item or "between" in item:
            continue
        if ctx.evidence.get(f"medications[{i}].date", {}).get("element") == "effectivePeriod.start":
            doubtful.append(i)
    if not doubtful or len(doubtful) > 6 or _gives(data, resources, terminology, ctx.system):
        return data
    for choice in itertools.product((False, True), repeat=len(doubtful)):
        trial = copy.deepcopy(data)
        for i, as_range in zip(doubtful, choice, strict=True):
            if as_range:
                med = trial["medications"][i]
                med["between"] = [med.pop("date"), med.pop("end_date")]
        if _gives(trial, resources, terminology, ctx.system):
            return trial
    return data


def _relatives(data: Json) -> list[Json]:
    out = []
    vital = data.get("patient", {}).get("vital_status") or {}
    out.append(vital.get("relative") or {})
    for field_name in ("primary_cancers", "metastases", "procedures", "medications", "disease_status"):
        for item in data.get(field_name) or []:
            out.append(item.get("relative") or {})
            out.extend(m.get("relative") or {} for m in item.get("markers") or [])
            out.extend(s.get("relative") or {} for s in item.get("staging") or [])
    return out


def _gives(data: Json, resources: list[Json], terminology: Terminology, system: str) -> bool:
    """True if the case data gives exactly these resources (server-assigned meta aside)."""
    case = lenient_case(data)
    if case is None:
        return False
    try:
        made = build_bundle(case, terminology, id_system=system).resources
    except AdapterError:
        return False
    given = {r.get("id"): _comparable(r) for r in resources}
    return len(made) == len(given) and all(given.get(r["id"]) == _comparable(r) for r in made)


def _comparable(node: Any) -> Any:
    """A resource with references reduced to their target ids and only the profiles of its meta."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                out[key] = reference_keys(value)[-1].rsplit("/", 1)[-1]
            elif key == "meta" and isinstance(value, dict):
                out[key] = {"profile": value.get("profile")}
            else:
                out[key] = _comparable(value)
        return out
    if isinstance(node, list):
        return [_comparable(v) for v in node]
    return node


def _tumour(ctx: ReadContext, cancer: _Cancer, item: Json, path: str, anchors: dict[str, str]) -> None:
    """A cancer's receptors, markers, grade and size."""
    receptors = {}
    for name in RECEPTORS:
        obs = cancer.receptors.get(name)
        if obs is not None:
            receptors[name] = ctx.found(
                f"{path}.receptors.{name}",
                obs,
                "valueCodeableConcept.text",
                text_of(obs.get("valueCodeableConcept")),
            )
    if receptors:
        item["receptors"] = receptors
    markers = [
        read_marker(ctx, cancer.markers[i], f"{path}.markers[{n}]", anchors)
        for n, i in enumerate(sorted(cancer.markers))
    ]
    if markers:
        item["markers"] = markers
    if cancer.grade is not None:
        item["grade"] = read_grade(ctx, cancer.grade, path)
    if cancer.size is not None:
        item["size_mm"] = read_size(ctx, cancer.size, path)


def _stages(
    ctx: ReadContext,
    cancer: _Cancer,
    item: Json,
    path: str,
    anchors: dict[str, str],
    terminology: Terminology,
    data: Json,
) -> None:
    """The primary's stagings; none when they are what its `stage` words parse into."""
    if not cancer.stages:
        return
    stagings = []
    for n, i in enumerate(sorted(cancer.stages)):
        parts = cancer.stages[i]
        group = parts.get("group")
        if group is None:
            continue
        members = {k: v for k, v in parts.items() if k != "group"}
        stagings.append(read_staging(ctx, group, members, f"{path}.staging[{n}]", anchors))
    if item.get("stage") and _parsed_from_stage(ctx, item, cancer, terminology, data):
        return
    item["staging"] = stagings


def _parsed_from_stage(
    ctx: ReadContext, item: Json, cancer: _Cancer, terminology: Terminology, data: Json
) -> bool:
    """True if mapping the primary's `stage` words alone gives exactly its stage Observations."""
    primary = {k: item[k] for k in ("id", "site", "laterality", "histology", "stage") if k in item}
    trial = {
        "case": dict(data["case"]),
        "patient": {"sex": data["patient"].get("sex", "unknown")},
        "primary_cancers": [primary],
    }
    try:
        case = Case.model_validate(trial)
    except ValidationError:
        return False
    mctx = MappingContext(case=case, terminology=terminology, id_system=ctx.system)
    side = primary_sides(mctx)[0]
    made, _ = to_stage_observations(mctx, side, primary_code(mctx, side, "primary_cancers[0]"))
    actual = {r["id"]: r for parts in cancer.stages.values() for r in parts.values()}
    if len(made) != len(actual):
        return False
    for _, resource in made:
        found = actual.get(resource["id"])
        if found is None or _without(found, "identifier", "meta.versionId") != _without(
            resource, "identifier"
        ):
            return False
    return True


def _without(resource: Json, *keys: str) -> Json:
    out = {k: v for k, v in resource.items() if k not in keys}
    if isinstance(out.get("meta"), dict):
        meta = {k: v for k, v in out["meta"].items() if k == "profile"}
        out["meta"] = meta
    return out


def _skeleton(ctx: ReadContext, data: Json, roles: _Roles) -> Json:
    """The items a relative time can name, with what their descriptions use: ids, sites, names."""
    primaries = []
    for key, cancer in roles.primaries.items():
        condition = next(iter(cancer.conditions.values()), None)
        if condition is not None:
            primaries.append({"id": key, "site": text_of(condition.get("code")) or "?"})
    first = primaries[0]["id"] if primaries else None
    metastases = []
    for key, cancer in roles.metastases.items():
        condition = cancer.conditions.get(None)
        if condition is not None:
            reading = ReadContext(ctx.terminology, ctx.system, ctx.case_id, ctx.index)
            met = read_metastasis(reading, key, condition, "m", {}, {}, set())
            metastases.append({"id": key, "site": met.get("site") or "?", "primary": first})
    procedures = [{"id": key, "name": text_of(p.get("code")) or "?"} for key, p in roles.procedures.items()]
    medications = []
    for key, statements in roles.medications.items():
        reading = ReadContext(ctx.terminology, ctx.system, ctx.case_id, ctx.index)
        med = read_medication(reading, key, [statements[n] for n in sorted(statements)], "m", {}, {}, set())
        medications.append({"id": key, "name": med.get("name") or "?"})
    statuses = [{"id": key, "status": "?"} for key in roles.statuses]
    return {
        "case": {"id": ctx.case_id},
        "patient": {"sex": "unknown"},
        "primary_cancers": primaries or [{"site": "?"}],
        "metastases": metastases,
        "procedures": procedures,
        "medications": medications,
        "disease_status": statuses,
    }


__all__ = ["CaseReading", "read_case", "role_of", "label"]
