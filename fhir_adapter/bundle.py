"""Assembles a case's resources into a Bundle (transaction or collection) with deterministic ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .case import Case, DiseaseStatus, loop_words
from .ids import urn
from .mapping.common import DEFAULT_ID_SYSTEM, MappingContext, Uncoded
from .mapping.condition import (
    cancer_roles,
    diagnosis_when,
    primary_code,
    primary_sides,
    to_primary_cancer_condition,
    to_refuted_condition,
    to_secondary_cancer_condition,
)
from .mapping.findings import age_at_diagnosis, patient_findings
from .mapping.medication import statement_drugs, to_medication_statements
from .mapping.observation import (
    MarkerOn,
    markers_of,
    to_cancer_disease_status,
    to_histologic_grade,
    to_tumor_marker_test,
    to_tumor_size,
)
from .mapping.patient import to_cancer_patient
from .mapping.procedure import to_procedure
from .mapping.provenance import to_case_summary, to_provenance, to_source_document
from .mapping.staging import to_stage_observations
from .mapping.timing import put_when
from .terminology import Terminology
from .validate import validate_resources

BundleType = Literal["transaction", "collection"]


@dataclass
class Conversion:
    """A case's bundle and the warnings met while mapping it."""

    case_id: str
    bundle: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # resource id -> case-file field
    uncoded: list[Uncoded] = field(default_factory=list)  # terms kept as text only

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [e["resource"] for e in self.bundle["entry"]]


def _site(condition: dict[str, Any]) -> dict[str, Any] | None:
    return (condition.get("bodySite") or [None])[0]


def case_resources(ctx: MappingContext) -> list[tuple[str, dict[str, Any]]]:
    """Every resource a case gives with the case-file field it came from, in a stable order."""
    case = ctx.case
    for path, links, _ in case.relative_loops():
        # The model refuses a loop that contradicts itself; this one states one relation twice.
        ctx.warn(
            f"{path}.relative: the relative times form a loop ({loop_words(links)}); it states one"
            " relation twice, so none of them is dated from it. Give one of them a date or an age"
        )
    out: list[tuple[str, dict[str, Any]]] = [("patient", to_cancer_patient(ctx))]
    markers: list[MarkerOn] = []
    # Stage, grade and size Observations: written after the markers, in case order.
    tumour_obs: list[tuple[str, dict[str, Any]]] = []
    codes: list[dict[str, Any]] = []  # the left Condition's code, while at a bilateral primary
    for side in primary_sides(ctx):
        path = f"primary_cancers[{side.index}]"
        code = primary_code(ctx, side, path)
        stage_resources, assessments = to_stage_observations(ctx, side, code)
        tumour_obs.extend(stage_resources)
        condition = to_primary_cancer_condition(ctx, side, code, assessments)
        out.append((path, condition))
        if side.primary.laterality == "bilateral" and side.side == "left":
            codes = [condition["code"]]
            continue  # markers of a bilateral primary are given once, with both sides as focus
        codes = [*codes, condition["code"]] if side.primary.laterality == "bilateral" else [condition["code"]]
        markers.extend(markers_of(ctx, f"primary/{side.key}", side.key, path, side.primary, codes, None))
        diagnosed = diagnosis_when(ctx, side.index, side.primary)
        if diagnosed.age is not None and (diagnosed.date or diagnosed.period):
            # onset[x] took the date; the age stated beside it gets an Observation of its own.
            origin = f"{path}.age" if side.primary.age is not None else "patient.age_at_diagnosis"
            if side.primary.age is None and side.primary.relative is not None:
                origin = f"{path}.relative"
            role = f"primary/{side.key}/age-at-diagnosis"
            obs = age_at_diagnosis(ctx, role, diagnosed.age, cancer_roles(ctx, side.key))
            put_when(obs, ctx, "effective", diagnosed, age=False, string=False)
            tumour_obs.append((origin, obs))
        grade = to_histologic_grade(ctx, side, diagnosed)
        if grade is not None:
            tumour_obs.append((f"{path}.grade", grade))
        if side.primary.size_mm:
            role = f"primary/{side.key}/size"
            sizes = to_tumor_size(ctx, role, path, side.primary.size_mm, side.key, _site(condition))
            tumour_obs.extend((f"{path}.size_mm", r) for r in sizes)
    for index, (key, met) in enumerate(case.metastasis_keys()):
        path = f"metastases[{index}]"
        condition = to_secondary_cancer_condition(ctx, index, key, met)
        out.append((path, condition))
        if met.misdiagnosis:
            out.append((f"{path}.misdiagnosis", to_refuted_condition(ctx, index, key, met)))
        if met.size_mm:
            role = f"metastasis/{key}/size"
            sizes = to_tumor_size(ctx, role, path, met.size_mm, key, _site(condition))
            tumour_obs.extend((f"{path}.size_mm", r) for r in sizes)
        if met.markers:
            site = condition["bodySite"][0]
            markers.extend(markers_of(ctx, f"metastasis/{key}", key, path, met, [condition["code"]], site))
    for index, proc in enumerate(case.procedures):
        key = proc.id or f"procedure-{index + 1}"
        out.extend((f"procedures[{index}]", r) for r in to_procedure(ctx, index, key, proc))
    responses = []
    for index, med in enumerate(case.medications):
        key = med.id or f"medication-{index + 1}"
        statements = to_medication_statements(ctx, index, key, med)
        out.extend((f"medications[{index}]", r) for r in statements)
        if med.response:
            responses.append((index, key, med, [role for role, _, _ in statement_drugs(ctx, key, med)]))
    for on in markers:
        out.extend((on.path, r) for r in to_tumor_marker_test(ctx, on))
    out.extend(tumour_obs)
    for index, ds in enumerate(case.disease_status):
        key = ds.id or f"disease-status-{index + 1}"
        out.append((f"disease_status[{index}]", to_cancer_disease_status(ctx, index, key, ds)))
    for index, key, med, roles in responses:
        # "No response to CMF": a disease status that is part of that treatment.
        about = med.treats[0] if med.treats else None
        status = DiseaseStatus(status=med.response, about=about)
        resource = to_cancer_disease_status(
            ctx, index, f"response-to-{key}", status, part_of=roles, path=f"medications[{index}].response"
        )
        out.append((f"medications[{index}].response", resource))
    out.extend(patient_findings(ctx))
    summary = to_case_summary(ctx)
    if summary is not None:
        out.append(("case.summary", summary))
    document = to_source_document(ctx)
    if document is not None:
        provenance = to_provenance(ctx, [urn(r["id"]) for _, r in out])
        out.append(("case.source", document))
        if provenance is not None:
            out.append(("case.source.published", provenance))
    return out


# Resource types that carry no role identifier: the Patient's identifier is the case id itself,
# and Provenance has no identifier element in R4.
_NO_ROLE_IDENTIFIER = frozenset({"Patient", "Provenance"})


def with_role_identifier(
    ctx: MappingContext, resource: dict[str, Any], roles: dict[str, str]
) -> dict[str, Any]:
    """The resource with an identifier naming its role in the case: `<case id>/<role>`.

    The role holds the ids the case file gives its items (primary/breast/left, procedure/biopsy-1),
    which the resource id only holds as a hash; with it a reader of the resource can tell which
    item of which case it came from, and write the case file back. Appended after any identifier
    the resource already has (a DOI), never in place of one.
    """
    role = roles.get(resource["id"])
    if role is None or resource["resourceType"] in _NO_ROLE_IDENTIFIER:
        return resource
    mine = {"system": ctx.system, "value": f"{ctx.case_id}/{role}"}
    if "identifier" in resource:
        return {**resource, "identifier": [*resource["identifier"], mine]}
    return _inserted(resource, "identifier", [mine], _BEFORE_IDENTIFIER)


# What comes before a resource's identifier, as FHIR's own JSON orders the elements.
_BEFORE_IDENTIFIER = frozenset({"resourceType", "id", "meta", "extension"})


def _inserted(resource: dict[str, Any], key: str, value: Any, before: frozenset[str]) -> dict[str, Any]:
    """A copy of `resource` with `key` (which it has not) placed before its first key not in `before`."""
    out: dict[str, Any] = {}
    for name in resource:
        if name not in before:
            break
        out[name] = resource[name]
    out[key] = value
    out.update(resource)  # the keys already placed keep their place
    return out


def _finished(ctx: MappingContext, resource: dict[str, Any], roles: dict[str, str]) -> dict[str, Any]:
    """The resource as with_role_identifier gives it, with the case's tag in its meta.

    Every resource names its case by that tag: push finds by it what a corrected case no longer
    has. A meta the mapper did not give goes right after resourceType and id, where FHIR's own
    JSON puts it. The copies are made by dict's own code, not key by key.
    """
    tag = {"system": ctx.system, "code": ctx.case_id}
    meta = resource.get("meta")
    out = with_role_identifier(ctx, resource, roles)
    if meta is not None:
        meta.setdefault("tag", []).append(tag)  # the mapper's own meta, shared with nothing
        return out
    head: dict[str, Any] = {}
    for name in out:
        if len(head) == 2:
            break
        head[name] = out[name]
    head["meta"] = {"tag": [tag]}
    head.update(out)  # the keys already placed keep their place
    return head


def build_bundle(
    case: Case,
    terminology: Terminology,
    *,
    bundle_type: BundleType = "transaction",
    strict: bool = False,
    id_system: str = DEFAULT_ID_SYSTEM,
    full_validation: bool | None = None,
) -> Conversion:
    """Map a case to FHIR and bundle it; every resource is validated before it is returned.

    full_validation=True runs fhir.resources' model_validate on every resource instead of the
    compiled check in validate.py (None: as FHIR_ADAPTER_FULL_VALIDATION says).
    """
    ctx = MappingContext(case=case, terminology=terminology, strict=strict, id_system=id_system)
    pairs = case_resources(ctx)
    roles = ctx.roles()
    pairs = [(path, _finished(ctx, resource, roles)) for path, resource in pairs]
    validate_resources([resource for _, resource in pairs], case.case.id, full=full_validation)
    entries = []
    for _, resource in pairs:
        entry: dict[str, Any] = {"fullUrl": urn(resource["id"]), "resource": resource}
        if bundle_type == "transaction":
            # PUT to a deterministic id: posting again updates in place instead of duplicating.
            entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        entries.append(entry)
    bundle = {
        "resourceType": "Bundle",
        "id": ctx.uid("bundle"),
        "identifier": {"system": ctx.system, "value": case.case.id},
        "type": bundle_type,
        "entry": entries,
    }
    origins = {resource["id"]: path for path, resource in pairs}
    uncoded = list(dict.fromkeys(ctx.uncoded))
    warnings = list(dict.fromkeys([*ctx.warnings, *(u.message() for u in uncoded)]))
    return Conversion(case.case.id, bundle, warnings, origins, uncoded)
