"""Audits every code in mappings/ against what can be checked offline, and prints what it found.

    python tools/audit_codes.py            # faults and documented exceptions; exit 1 on a fault
    python tools/audit_codes.py --all      # also every code whose value set membership needs the
                                           # SNOMED CT hierarchy (not available offline)

For each coding of each map entry:

- the system URL is one the maps may use, spelt exactly (http, no trailing slash);
- the code has its system's form (fhir_adapter.terminology.code_shape: SNOMED CT Verhoeff check
  digit and concept partition, LOINC mod 10 check digit, ICD-10-CM and ICD-O-3 forms);
- an ICD-O-3 morphology's behaviour is the one its histology kind says (/3 malignant, /2 in situ);
- a LOINC code is of the part its entry needs: a test code for an Observation's code, an answer
  (LA) code for a value;
- a SNOMED CT display's semantic tag, where it has one, is of the hierarchy the element's value set
  draws on (a body site is a body structure, a cancer a disorder);
- where mCODE 4.0.0 binds the element the entry fills to a value set (read from the
  hl7.fhir.us.mcode 4.0.0 package), the code is in it: listed there (and then our display is the
  value set's, give or take the semantic tag), or the root of one of its is-a filters, and not a
  code its exclude parts name. A code under a filter that is not its root is reported as not
  checkable offline.

A code outside its value set on purpose is listed in OUTSIDE_ON_PURPOSE with the reason, which
the map entry's note also gives. tests/test_review7_codes.py keeps this audit as a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fhir_adapter.terminology import code_shape, load_terminology  # noqa: E402

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
# The clinical code systems the maps may use, spelt as FHIR and mCODE 4.0.0 spell them.
SYSTEMS = {
    SNOMED,
    ICD10CM,
    ICDO3,
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://unitsofmeasure.org",
    "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
}
# FHIR's and HL7's own code systems (statuses, categories) are named under these.
HL7_SYSTEM_PREFIXES = ("http://terminology.hl7.org/CodeSystem/", "http://hl7.org/fhir/")

# Where mCODE 4.0.0 binds the element an entry fills: (domain, kind) -> (value set ids, element).
BINDINGS: dict[tuple[str, str | None], tuple[tuple[str, ...], str]] = {
    ("laterality", None): (("mcode-laterality-qualifier-vs",), "mcode-laterality-qualifier (required)"),
    ("primary_cancers", None): (("mcode-primary-cancer-disorder-vs",), "PrimaryCancerCondition.code"),
    ("in_situ_cancers", None): (("mcode-primary-cancer-disorder-vs",), "PrimaryCancerCondition.code"),
    ("secondary_cancers", None): (("mcode-secondary-cancer-disorder-vs",), "SecondaryCancerCondition.code"),
    ("histology", "malignant"): (
        ("mcode-histology-morphology-behavior-vs",),
        "mcode-histology-morphology-behavior",
    ),
    ("histology", "in-situ"): (
        ("mcode-histology-morphology-behavior-vs",),
        "mcode-histology-morphology-behavior",
    ),
    ("body_sites", None): (("mcode-cancer-body-location-vs",), "Condition.bodySite"),
    ("observations", "test"): (("mcode-tumor-marker-test-vs",), "TumorMarkerTest.code"),
    ("observations", "status-value"): (("mcode-condition-status-trend-vs",), "CancerDiseaseStatus.value"),
    ("observations", "evidence"): (
        ("mcode-cancer-disease-status-evidence-type-vs",),
        "mcode-cancer-disease-status-evidence-type (required)",
    ),
    ("observations", "grade"): (("mcode-histologic-grade-vs",), "HistologicGrade.value"),
    ("staging", "staging-system"): (("mcode-tnm-staging-method-vs",), "TNM Observation.method"),
    ("staging", "stage-test"): (
        (
            "mcode-tnm-stage-group-staging-type-max-vs",
            "mcode-tnm-primary-tumor-staging-type-max-vs",
            "mcode-tnm-regional-nodes-staging-type-max-vs",
            "mcode-tnm-distant-metastases-staging-type-max-vs",
        ),
        "TNM Observation.code",
    ),
    ("staging", "stage-group"): (("mcode-tnm-stage-group-vs",), "TNMStageGroup.value"),
    ("staging", "t-category"): (("mcode-tnm-primary-tumor-category-vs",), "TNMPrimaryTumorCategory.value"),
    ("staging", "n-category"): (("mcode-tnm-regional-nodes-category-vs",), "TNMRegionalNodesCategory.value"),
    ("staging", "m-category"): (
        ("mcode-tnm-distant-metastases-category-vs",),
        "TNMDistantMetastasesCategory.value",
    ),
    ("treatment", "intent"): (("mcode-procedure-intent-vs",), "mcode-procedure-intent"),
    ("treatment", "radiotherapy-modality"): (("mcode-radiotherapy-modality-vs",), "RadiotherapyModality"),
    ("treatment", "radiotherapy-technique"): (("mcode-radiotherapy-technique-vs",), "RadiotherapyTechnique"),
    ("treatment", "termination-reason"): (
        ("mcode-treatment-termination-reason-vs",),
        "mcode-treatment-termination-reason",
    ),
}
# Bindings that hold for every kind of a domain (body sites: primary, metastasis, radiotherapy).
DOMAIN_BINDINGS = {"body_sites", "laterality", "primary_cancers", "in_situ_cancers", "secondary_cancers"}

# Codes kept outside the value set their element is bound to, or with a display other than the
# value set's, each with the reason (the map entry's note says the same).
OUTSIDE_ON_PURPOSE: dict[tuple[str, str], str] = {
    ("observations", "85330-9"): "Ki-67: TumorMarkerTestVS has no Ki-67 code (extensible binding)",
    (
        "observations",
        "85328-3",
    ): "HER2 percent: in an earlier TumorMarkerTestVS expansion, not in 4.0.0's list",
    ("observations", "103338009"): "complete remission: ConditionStatusTrendMaxVS, the maximum value set",
    ("observations", "103337004"): "partial remission: ConditionStatusTrendMaxVS, the maximum value set",
    ("treatment", "373846009"): "adjuvant: ProcedureIntentVS has no adjuvant code (extensible binding)",
    ("treatment", "373847000"): "neoadjuvant: ProcedureIntentVS has no neoadjuvant code (extensible binding)",
    ("treatment", "105480006"): "display: the FSN of the July 2022 release; mCODE 4.0.0 lists the older one",
    (
        "treatment",
        "129428001",
    ): "display: the FSN; mCODE 4.0.0 lists the preferred term 'Preventive - intent'",
}

# The semantic tag a SNOMED CT display may end with, by the hierarchy the element draws on.
EXPECTED_TAGS: dict[tuple[str, str | None], set[str]] = {
    ("body_sites", None): {"body structure"},
    ("laterality", None): {"qualifier value"},
    ("primary_cancers", None): {"disorder"},
    ("in_situ_cancers", None): {"disorder"},
    ("secondary_cancers", None): {"disorder"},
    ("histology", None): {"morphologic abnormality"},
    ("procedures", None): {"procedure"},
    ("staging", "t-category"): {"qualifier value"},
    ("staging", "n-category"): {"qualifier value"},
    ("staging", "m-category"): {"qualifier value"},
    ("staging", "stage-group"): {"qualifier value"},
    ("staging", "staging-system"): {"tumor staging"},
    ("observations", "grade"): {"qualifier value"},
    ("treatment", "intent"): {"qualifier value"},
}
SEMANTIC_TAGS = {
    "body structure",
    "cell structure",
    "disorder",
    "event",
    "finding",
    "morphologic abnormality",
    "observable entity",
    "procedure",
    "qualifier value",
    "regime/therapy",
    "situation",
    "substance",
    "tumor staging",
}
TAG_RE = re.compile(r"^(.*\S) \(([^()]+)\)$")
# Which part of LOINC an entry's codes must be, by (domain, kind): a test (an observation's code,
# digits and a check digit) or an answer (a value, LA...). LL lists and LP parts code neither.
LOINC_PARTS: dict[tuple[str, str | None], str] = {
    ("observations", "test"): "test",
    ("observations", "disease-status"): "test",
    ("observations", "result"): "answer",
    ("staging", "stage-test"): "test",
    ("findings", "ecog-test"): "test",
    ("findings", "ecog-value"): "answer",
    ("findings", "germline-test"): "test",
    ("findings", "germline-result"): "answer",
    ("findings", "age-at-death"): "test",
}
# An ICD-O-3 morphology's behaviour digit, by the histology map's kind.
BEHAVIOURS = {"malignant": "3", "in-situ": "2", "uncertain": "1", "benign": "0", "metastatic": "6"}


@dataclass(frozen=True)
class Finding:
    level: str  # fault, exception or offline (membership needs the SNOMED CT hierarchy)
    domain: str
    term: str
    system: str
    code: str
    message: str

    def line(self) -> str:
        return f"{self.level}: {self.domain} '{self.term}' {self.system}#{self.code}: {self.message}"


class MapsView:
    """Stands for a Terminology in audit(): the maps by domain, term -> entry."""

    def __init__(self, domains: dict) -> None:
        self.domains = domains


def find_mcode_package(repo: Path = REPO) -> Path | None:
    """The hl7.fhir.us.mcode 4.0.0 package: the Node checker's copy, or the HAPI validator's tarball."""
    unpacked = repo / "tools" / "mcode-validate" / "node_modules" / "hl7.fhir.us.mcode"
    if (unpacked / "package.json").is_file():
        return unpacked
    packed = repo / "tools" / "hapi-validator" / "packages" / "hl7.fhir.us.mcode-4.0.0.tgz"
    return packed if packed.is_file() else None


def read_value_sets(package: Path) -> dict[str, dict]:
    """The package's ValueSet resources by id."""
    found: dict[str, dict] = {}
    if package.is_dir():
        for path in package.glob("ValueSet-*.json"):
            vs = json.loads(path.read_text(encoding="utf-8"))
            found[vs["id"]] = vs
        return found
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if member.name.count("/") == 1 and name.startswith("ValueSet-") and name.endswith(".json"):
                vs = json.loads(tar.extractfile(member).read())
                found[vs["id"]] = vs
    return found


def excluded(value_sets: dict[str, dict], vs_id: str) -> set[tuple[str, str]]:
    """The codes a value set's exclude parts name: listed concepts and the roots of is-a filters."""
    out: set[tuple[str, str]] = set()
    for exclude in value_sets[vs_id].get("compose", {}).get("exclude", []):
        system = exclude.get("system", "")
        out |= {(system, c["code"]) for c in exclude.get("concept", [])}
        out |= {(system, f.get("value", "")) for f in exclude.get("filter", []) if f.get("op") == "is-a"}
        for ref in exclude.get("valueSet", []):
            out |= set(members(value_sets, ref.split("|")[0].rsplit("/", 1)[-1])[0])
    for include in value_sets[vs_id].get("compose", {}).get("include", []):
        for ref in include.get("valueSet", []):
            out |= excluded(value_sets, ref.split("|")[0].rsplit("/", 1)[-1])
    return out


def members(value_sets: dict[str, dict], vs_id: str) -> tuple[dict, list[tuple[str, str, str]]]:
    """A value set's listed codes ((system, code) -> display) and its filters (system, op, value)."""
    listed: dict[tuple[str, str], str | None] = {}
    filters: list[tuple[str, str, str]] = []
    for include in value_sets[vs_id].get("compose", {}).get("include", []):
        system = include.get("system", "")
        for concept in include.get("concept", []):
            listed[(system, concept["code"])] = concept.get("display")
        for f in include.get("filter", []):
            filters.append((system, f.get("op", ""), f.get("value", "")))
        for ref in include.get("valueSet", []):
            more_listed, more_filters = members(value_sets, ref.split("|")[0].rsplit("/", 1)[-1])
            listed.update(more_listed)
            filters += more_filters
        if system and not any(k in include for k in ("concept", "filter", "valueSet")):
            filters.append((system, "all", ""))
    return listed, filters


def split_tag(display: str) -> tuple[str, str | None]:
    """(the name, the SNOMED CT semantic tag or None)."""
    m = TAG_RE.match(display)
    if m and m.group(2) in SEMANTIC_TAGS:
        return m.group(1), m.group(2)
    return display, None


def same_display(ours: str, theirs: str | None) -> bool:
    if theirs is None or ours == theirs:
        return True
    if split_tag(ours)[0] == split_tag(theirs)[0]:
        return True
    # mCODE's ICD-10-CM lists write some descriptions in capitals.
    return theirs.isupper() and ours.upper() == theirs


def _entries(terminology):
    for domain, index in sorted(terminology.domains.items()):
        seen: set[int] = set()
        for concept in index.values():
            if id(concept) in seen:
                continue
            seen.add(id(concept))
            codings = list(concept.codings) + [c for v in concept.variants for c in v.codings]
            for coding in codings:
                yield domain, concept, coding


def _bound_to(domain: str, concept) -> list[tuple[tuple[str, ...], str]]:
    """The value sets the entry's codes must each be in: (alternatives, element) pairs."""
    key = (domain, None if domain in DOMAIN_BINDINGS else concept.kind)
    groups = [BINDINGS[key]] if key in BINDINGS else []
    bound = {v for ids, _ in groups for v in ids}
    for vs_id in getattr(concept, "value_sets", ()) or ():
        if vs_id not in bound:
            groups.append(((vs_id,), "a value set the entry lists"))
    return groups


def _noter(findings: list[Finding], domain: str, concept, coding):
    """A function that records a finding about this coding."""

    def note(level: str, message: str) -> None:
        findings.append(Finding(level, domain, concept.terms[0], coding.system, coding.code, message))

    return note


def _check_membership(value_sets, vs_ids, element, domain, code, coding, note) -> None:
    """Whether the coding is in one of `vs_ids` (alternatives), reported through `note`."""
    system, display = coding.system, coding.display
    excused = OUTSIDE_ON_PURPOSE.get((domain, code))
    listed: dict = {}
    filters: list = []
    for vs_id in vs_ids:
        more_listed, more_filters = members(value_sets, vs_id)
        listed.update(more_listed)
        filters += more_filters
    if all((system, code) in excluded(value_sets, vs_id) for vs_id in vs_ids):
        note("fault", f"excluded from {'/'.join(vs_ids)} ({element})")
        return
    if (system, code) in listed:
        if not same_display(display, listed[(system, code)]):
            message = f"display '{display}'; {'/'.join(vs_ids)} lists '{listed[(system, code)]}'"
            note("exception" if excused else "fault", f"{message} ({excused})" if excused else message)
        return
    same_system = [f for f in filters if f[0] == system]
    if any(op == "all" for _, op, _ in same_system):
        return
    if any(op == "is-a" and value == code for _, op, value in same_system):
        return
    if same_system:
        roots = ", ".join(sorted({f"{op} {value}" for _, op, value in same_system}))
        note("offline", f"{element}: membership needs the SNOMED CT hierarchy ({roots})")
    elif excused:
        note("exception", f"not in {'/'.join(vs_ids)}: {excused}")
    else:
        note("fault", f"not in {'/'.join(vs_ids)} ({element})")


def audit(terminology, value_sets: dict[str, dict]) -> list[Finding]:
    findings: list[Finding] = []
    for domain, concept, coding in _entries(terminology):
        system, code, display = coding.system, coding.code, coding.display

        note = _noter(findings, domain, concept, coding)

        if system not in SYSTEMS and not system.startswith(HL7_SYSTEM_PREFIXES):
            note("fault", f"system '{system}' is not one of the code systems the maps may use, spelt exactly")
            continue
        shape = code_shape(system, code)
        if shape is not None:
            note("fault", f"no {shape[0]} code ({shape[1]})")
            continue
        part = LOINC_PARTS.get((domain, concept.kind))
        if system == "http://loinc.org" and part is not None:
            is_answer = code.startswith("LA")
            if (part == "answer") != is_answer or code[:2] in ("LL", "LP", "LG"):
                note(
                    "fault", f"a LOINC {'answer (LA)' if part == 'answer' else 'test'} code is expected here"
                )
        if system == ICDO3 and "/" in code and domain == "histology":
            want = BEHAVIOURS.get(concept.kind or "")
            if want is not None and code[-1] != want:
                note("fault", f"behaviour /{code[-1]} in an entry of kind {concept.kind} (which is /{want})")
        if system == SNOMED:
            tag = split_tag(display)[1]
            expected = EXPECTED_TAGS.get((domain, concept.kind)) or EXPECTED_TAGS.get((domain, None))
            if tag is not None and expected is not None and tag not in expected:
                note("fault", f"semantic tag '{tag}' where {' or '.join(sorted(expected))} is expected")
        for vs_ids, element in _bound_to(domain, concept):
            _check_membership(value_sets, vs_ids, element, domain, code, coding, note)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="also list codes not checkable offline")
    args = parser.parse_args(argv)
    package = find_mcode_package()
    if package is None:
        print("the mCODE package is missing: npm install --prefix tools/mcode-validate", file=sys.stderr)
        return 2
    terminology = load_terminology()
    findings = audit(terminology, read_value_sets(package))
    counts = {
        level: len({(f.domain, f.term, f.system, f.code) for f in findings if f.level == level})
        for level in ("fault", "exception", "offline")
    }
    total = sum(1 for _ in _entries(terminology))
    for finding in findings:
        if args.all or finding.level != "offline":
            print(finding.line())
    print(
        f"{total} codings: {counts['fault']} with a fault, {counts['exception']} with a documented exception,"
        f" {counts['offline']} whose value set membership needs the SNOMED CT hierarchy",
        file=sys.stderr,
    )
    return 1 if counts["fault"] else 0


if __name__ == "__main__":
    sys.exit(main())
