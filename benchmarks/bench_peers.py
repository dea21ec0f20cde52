"""fhir-adapter beside its peers on the same patients: speed, memory, and how much of the output is valid FHIR R4.

    python benchmarks/bench_peers.py setup --scratch /tmp/peers \\
        --mef-git MEF.git --fhir-mapper-git FHIR-MAPPER.git --csvtofhir-git CSVTOFHIR.git
    python benchmarks/bench_peers.py run --scratch /tmp/peers --patients 10000

The peers are built from their own sources in a scratch folder outside the repository, never
committed: `setup` takes git directories (clones, or mirrors of github.com/mcode/
mcode-extraction-framework, github.com/standardhealth/fhir-mapper and github.com/LinuxForHealth/
CsvToFHIR) and

- unpacks the mCODE Extraction Framework (MEF, Node) and installs its runtime dependencies with
  npm. Its package.json takes fhir-mapper from a git URL, which npm cannot reach where only the
  registry is open: the commit its package-lock.json names is unpacked beside it and installed
  from there instead (file:../fhir-mapper);
- unpacks csvtofhir and installs it with pip into a Python 3.10 virtualenv of its own (it pins
  pydantic 1, pandas 1.4 and fhir.resources 6, which cannot share our environment). That
  environment's fhir.resources 6 (FHIR R4 4.0.1 models) also judges every tool's output below.

`run` generates N seeded patients (not timed) and writes the same facts twice: as the MEF's CSV
templates (patient-mrns, patient, condition, staging, cancer-disease-status, cancer-related-
medication-administration, procedure, observation; codes from mappings/), and as linked tables
of the case format (cases, primaries, metastases, procedures, medications, disease_status; the
mapped terms of the same codes). Then, one at a time, each in its own process:

- the MEF on its CSV templates (node src/cli/cli.js with a config naming every table), and
  `fhir-adapter convert` on the same files (--format ndjson);
- csvtofhir on the linked tables (`csvtofhir convert -d`, with a data contract this script
  writes: each table to csvtofhir's internal format, terms coded with map_codes from the same
  codes), and `fhir-adapter convert` on the same tables.

For each it prints wall seconds, patients/s, CPU seconds (user + system of the process and its
children, from wait4), peak RSS, the resources written, and how many of them fhir.resources
6 (R4) accepts. The load average during the run is printed with it: on a shared machine, compare
patients per CPU second.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The commit of fhir-mapper that the MEF's package-lock.json pins ("old-fhirpath").
FHIR_MAPPER_COMMIT = "531dcdb9d4673b14aa4fafe8eccfcdeaa1dd370e"

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"

# The facts a patient may have, by code (every code is in mappings/, where its source is named).
PRIMARY = {"left": "C50.912", "right": "C50.911"}  # ICD-10-CM, malignant neoplasm of the breast by side
LATERALITY = {"left": "7771000", "right": "24028007"}
BREAST = "76752008"
HISTOLOGY = ["82711006", "89740008"]  # infiltrating duct and lobular carcinoma (morphology)
METASTASIS = ["C79.51", "C78.7", "C78.00"]  # bone, liver, lung
PROCEDURE = ["172043006", "392021009"]  # simple mastectomy, lumpectomy
MEDICATION = ["10324", "72965", "84857"]  # tamoxifen, letrozole, anastrozole (RxNorm)
STATUS = ["268910001", "359746009", "271299001"]  # responding, stable, progressing
IMAGING = "363679005"
ER = "85337-4"
RESULT = {"positive": "10828004", "negative": "260385009"}
STAGES = [
    ("1A", "IA", "cT1", "cN0", "cM0"),
    ("2A", "IIA", "cT2", "cN0", "cM0"),
    ("2B", "IIB", "cT2", "cN1", "cM0"),
]


def concept_for(terminology, domain: str, code: str):
    """The map entry of a domain that codes `code` (its first term names it in the case format)."""
    for concept in terminology.domains[domain].values():
        if any(c.code == code for c in concept.codings_for_search()):
            return concept
    raise SystemExit(f"mappings/{domain}: no entry codes {code}")


def patients(count: int, seed: int):
    """Seeded patients: a breast primary, one metastasis, a stage, ER, a procedure, a drug, a status."""
    rng = random.Random(seed)
    for i in range(count):
        side = rng.choice(["left", "right"])
        year = rng.randint(2005, 2015)
        stage = rng.choice(STAGES)
        yield {
            "mrn": f"peer-{i:06d}",
            "side": side,
            "histology": rng.choice(HISTOLOGY),
            "diagnosed": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "stage": stage,
            "er": rng.choice(["positive", "negative"]),
            "metastasis": rng.choice(METASTASIS),
            "metastasis_date": f"{year + rng.randint(1, 4)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "procedure": rng.choice(PROCEDURE),
            "procedure_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "drug": rng.choice(MEDICATION),
            "drug_start": f"{year + 1}-{rng.randint(1, 12):02d}-01",
            "drug_end": f"{year + 3}-{rng.randint(1, 12):02d}-01",
            "status": rng.choice(STATUS),
            "status_date": f"{year + 5}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }


def _write(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_mef(root: Path, people: list[dict], terminology) -> None:
    """The MEF's CSV templates (docs/*.csv of the framework), one row per fact."""
    root.mkdir(parents=True, exist_ok=True)

    def display(domain: str, code: str) -> str:
        concept = concept_for(terminology, domain, code)
        return next(c.display for c in concept.codings_for_search() if c.code == code)

    _write(root / "patient-mrns.csv", ["mrn"], ([p["mrn"]] for p in people))
    _write(
        root / "patient.csv",
        [
            "mrn",
            "familyName",
            "givenName",
            "gender",
            "birthsex",
            "dateOfBirth",
            "race",
            "ethnicity",
            "language",
            "addressLine",
            "city",
            "state",
            "zip",
        ],  # fmt: skip
        ([p["mrn"], "", "", "female", "", "", "", "", "", "", "", "", ""] for p in people),
    )
    condition_rows = []
    for p in people:
        code = PRIMARY[p["side"]]
        condition_rows.append(
            [
                p["mrn"],
                f"{p['mrn']}-breast",
                ICD10CM,
                code,
                display("primary_cancers", code),
                "problem-list-item",
                p["diagnosed"],
                "active",
                "confirmed",
                BREAST,
                LATERALITY[p["side"]],
                p["histology"],
            ]  # fmt: skip
        )
        met = p["metastasis"]
        condition_rows.append(
            [
                p["mrn"],
                f"{p['mrn']}-met",
                ICD10CM,
                met,
                display("secondary_cancers", met),
                "problem-list-item",
                p["metastasis_date"],
                "active",
                "confirmed",
                "",
                "",
                "",
            ]  # fmt: skip
        )
    _write(
        root / "condition.csv",
        [
            "mrn",
            "conditionId",
            "codeSystem",
            "code",
            "displayName",
            "category",
            "dateOfDiagnosis",
            "clinicalStatus",
            "verificationStatus",
            "bodySite",
            "laterality",
            "histology",
        ],  # fmt: skip
        condition_rows,
    )
    _write(
        root / "staging.csv",
        [
            "mrn",
            "conditionId",
            "stageGroup",
            "t",
            "n",
            "m",
            "type",
            "stagingSystem",
            "stagingCodeSystem",
            "effectiveDate",
        ],  # fmt: skip
        (
            [
                p["mrn"],
                f"{p['mrn']}-breast",
                p["stage"][0],
                *p["stage"][2:],
                "Clinical",
                "",
                "",
                p["diagnosed"],
            ]
            for p in people
        ),  # fmt: skip
    )
    _write(
        root / "cancer-disease-status.csv",
        [
            "mrn",
            "conditionId",
            "diseaseStatusCode",
            "diseaseStatusText",
            "dateOfObservation",
            "evidence",
            "observationStatus",
            "dateRecorded",
        ],  # fmt: skip
        (
            [p["mrn"], f"{p['mrn']}-breast", p["status"], "", p["status_date"], IMAGING, "final", ""]
            for p in people
        ),
    )
    _write(
        root / "cancer-related-medication-administration.csv",
        [
            "mrn",
            "medicationId",
            "code",
            "codeSystem",
            "displayText",
            "startDate",
            "endDate",
            "treatmentReasonCode",
            "treatmentReasonCodeSystem",
            "treatmentReasonDisplayText",
            "treatmentIntent",
            "status",
        ],  # fmt: skip
        (
            [
                p["mrn"],
                f"{p['mrn']}-drug",
                p["drug"],
                RXNORM,
                display("medications", p["drug"]),
                p["drug_start"],
                p["drug_end"],
                PRIMARY[p["side"]],
                ICD10CM,
                "",
                "",
                "completed",
            ]
            for p in people
        ),  # fmt: skip
    )
    _write(
        root / "procedure.csv",
        [
            "mrn",
            "procedureId",
            "conditionId",
            "status",
            "code",
            "codeSystem",
            "displayName",
            "reasonCode",
            "reasonCodeSystem",
            "reasonDisplayName",
            "effectiveDate",
            "bodySite",
            "laterality",
            "treatmentIntent",
        ],  # fmt: skip
        (
            [
                p["mrn"],
                f"{p['mrn']}-surgery",
                f"{p['mrn']}-breast",
                "completed",
                p["procedure"],
                SNOMED,
                display("procedures", p["procedure"]),
                "",
                "",
                "",
                p["procedure_date"],
                BREAST,
                LATERALITY[p["side"]],
                "",
            ]
            for p in people
        ),  # fmt: skip
    )
    _write(
        root / "observation.csv",
        [
            "mrn",
            "observationId",
            "status",
            "code",
            "codeSystem",
            "displayName",
            "value",
            "valueCodeSystem",
            "effectiveDate",
            "bodySite",
            "laterality",
        ],  # fmt: skip
        (
            [
                p["mrn"],
                f"{p['mrn']}-er",
                "final",
                ER,
                LOINC,
                "",
                RESULT[p["er"]],
                SNOMED,
                p["diagnosed"],
                "",
                "",
            ]
            for p in people
        ),  # fmt: skip
    )


def write_linked(root: Path, people: list[dict], terminology) -> dict[str, dict[str, str]]:
    """The same facts as linked tables of the case format; returns term -> code for each table."""
    root.mkdir(parents=True, exist_ok=True)

    def term(domain: str, code: str) -> str:
        return concept_for(terminology, domain, code).terms[0]

    codes: dict[str, dict[str, str]] = {
        "primaries": {},
        "metastases": {},
        "procedures": {},
        "medications": {},
    }
    _write(root / "cases.csv", ["case_id", "sex"], ([p["mrn"], "female"] for p in people))
    rows = []
    for p in people:
        site = "breast"
        codes["primaries"][site] = "C50.919"  # ICD-10-CM breast, unspecified side: csvtofhir has no side
        rows.append(
            [
                p["mrn"],
                "p1",
                site,
                p["side"],
                term("histology", p["histology"]),
                p["diagnosed"],
                p["stage"][1],
                p["er"],
            ]  # fmt: skip
        )
    _write(
        root / "primaries.csv",
        ["case_id", "id", "site", "laterality", "histology", "date", "stage", "er"],
        rows,
    )
    rows = []
    for p in people:
        site = term("secondary_cancers", p["metastasis"])
        codes["metastases"][site] = p["metastasis"]
        rows.append([p["mrn"], "m1", site, "p1", p["metastasis_date"]])
    _write(root / "metastases.csv", ["case_id", "id", "site", "primary", "date"], rows)
    rows = []
    for p in people:
        name = term("procedures", p["procedure"])
        codes["procedures"][name] = p["procedure"]
        rows.append([p["mrn"], name, p["procedure_date"], "breast", p["side"], "p1"])
    _write(root / "procedures.csv", ["case_id", "name", "date", "body_site", "laterality", "treats"], rows)
    rows = []
    for p in people:
        name = term("medications", p["drug"])
        codes["medications"][name] = p["drug"]
        rows.append([p["mrn"], name, p["drug_start"], p["drug_end"], "completed", "p1"])
    _write(root / "medications.csv", ["case_id", "name", "date", "end_date", "status", "treats"], rows)
    rows = [
        [p["mrn"], term("observations", p["status"]), p["status_date"], "p1", term("observations", IMAGING)]
        for p in people
    ]
    _write(root / "disease_status.csv", ["case_id", "status", "date", "about", "evidence"], rows)
    return codes


def csvtofhir_contract(codes: dict[str, dict[str, str]]) -> dict:
    """A csvtofhir data contract for the linked tables: each to its internal format, terms coded."""

    def condition(code_map: dict[str, str]) -> dict:
        return {
            "resourceType": "Condition",
            "groupByKey": "case_id",
            "tasks": [
                {"name": "copy_columns", "params": {"columns": ["site"], "target_column": "conditionCode"}},
                {"name": "map_codes", "params": {"code_map": {"conditionCode": code_map}}},
                {"name": "add_constant", "params": {"name": "conditionCodeSystem", "value": ICD10CM}},
                {"name": "add_constant", "params": {"name": "conditionClinicalStatus", "value": "active"}},
                {
                    "name": "add_constant",
                    "params": {"name": "conditionCategory", "value": "problem-list-item"},
                },
                {
                    "name": "rename_columns",
                    "params": {
                        "column_map": {
                            "case_id": "patientInternalId",
                            "site": "conditionCodeText",
                            "date": "conditionOnsetDateTime",
                        }
                    },
                },
            ],
        }

    return {
        "general": {"timeZone": "UTC", "tenantId": "bench", "streamType": "live", "emptyFieldValues": [""]},
        "fileDefinitions": {
            "cases": {
                "resourceType": "Patient",
                "groupByKey": "case_id",
                "tasks": [
                    {
                        "name": "rename_columns",
                        "params": {"column_map": {"case_id": "patientInternalId", "sex": "gender"}},
                    }
                ],
            },
            "primaries": condition(codes["primaries"]),
            "metastases": condition(codes["metastases"]),
            "procedures": {
                "resourceType": "Procedure",
                "groupByKey": "case_id",
                "tasks": [
                    {
                        "name": "copy_columns",
                        "params": {"columns": ["name"], "target_column": "procedureCode"},
                    },
                    {"name": "map_codes", "params": {"code_map": {"procedureCode": codes["procedures"]}}},
                    {"name": "add_constant", "params": {"name": "procedureCodeSystem", "value": SNOMED}},
                    {"name": "add_constant", "params": {"name": "procedureStatus", "value": "completed"}},
                    {
                        "name": "rename_columns",
                        "params": {
                            "column_map": {
                                "case_id": "patientInternalId",
                                "name": "procedureCodeText",
                                "date": "procedurePerformedDateTime",
                            }
                        },
                    },
                ],
            },
            "medications": {
                "resourceType": "MedicationStatement",
                "groupByKey": "case_id",
                "tasks": [
                    {
                        "name": "copy_columns",
                        "params": {"columns": ["name"], "target_column": "medicationCode"},
                    },
                    {"name": "map_codes", "params": {"code_map": {"medicationCode": codes["medications"]}}},
                    {"name": "add_constant", "params": {"name": "medicationCodeSystem", "value": RXNORM}},
                    {
                        "name": "rename_columns",
                        "params": {
                            "column_map": {
                                "case_id": "patientInternalId",
                                "name": "medicationCodeText",
                                "date": "medicationValidityStart",
                                "end_date": "medicationValidityEnd",
                                "status": "medicationUseStatus",
                            }
                        },
                    },
                ],
            },
            "disease_status": {
                "resourceType": "Observation",
                "groupByKey": "case_id",
                "tasks": [
                    # mCODE CancerDiseaseStatus: LOINC 97509-4, the status as the value.
                    {"name": "add_constant", "params": {"name": "observationCode", "value": "97509-4"}},
                    {"name": "add_constant", "params": {"name": "observationCodeSystem", "value": LOINC}},
                    {"name": "add_constant", "params": {"name": "observationStatus", "value": "final"}},
                    {
                        "name": "rename_columns",
                        "params": {
                            "column_map": {
                                "case_id": "patientInternalId",
                                "status": "observationValue",
                                "date": "observationDateTime",
                            }
                        },
                    },
                ],
            },
        },
    }


def mef_config(data: Path) -> dict:
    """The MEF's configuration: the patient list and one CSV extractor per table."""
    extractors = [
        ("patient", "CSVPatientExtractor", "patient.csv"),
        ("condition", "CSVConditionExtractor", "condition.csv"),
        ("cancerDiseaseStatus", "CSVCancerDiseaseStatusExtractor", "cancer-disease-status.csv"),
        ("staging", "CSVStagingExtractor", "staging.csv"),
        (
            "cancerRelatedMedicationAdministration",
            "CSVCancerRelatedMedicationAdministrationExtractor",
            "cancer-related-medication-administration.csv",
        ),
        ("genericObservations", "CSVObservationExtractor", "observation.csv"),
        ("genericProcedures", "CSVProcedureExtractor", "procedure.csv"),
    ]
    return {
        "patientIdCsvPath": str(data / "patient-mrns.csv"),
        "commonExtractorArgs": {"dataDirectory": str(data)},
        "extractors": [
            {"label": label, "type": kind, "constructorArgs": {"fileName": name}}
            for label, kind, name in extractors
        ],
    }


def timed(cmd: list[str], cwd: Path, log: Path, env: dict | None = None) -> dict:
    """Run a command to its end; wall seconds, CPU seconds of it and its children, peak RSS."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "load": (load + os.getloadavg()[0]) / 2,
    }


VALIDATOR = r"""
import json, sys
from pathlib import Path
from fhir.resources import get_fhir_model_class
counts, bad, examples = {}, {}, {}
def judge(resource):
    kind = resource.get("resourceType")
    counts[kind] = counts.get(kind, 0) + 1
    try:
        get_fhir_model_class(kind).parse_obj(resource)
    except Exception as exc:
        bad[kind] = bad.get(kind, 0) + 1
        examples.setdefault(kind, str(exc).splitlines()[:3])
for path in sorted(Path(sys.argv[1]).rglob("*")):
    if path.suffix == ".ndjson" and path.parent.name != "errors":
        for line in path.open():
            judge(json.loads(line))
    elif path.suffix == ".json" and path.name != "manifest.json":
        doc = json.loads(path.read_text())
        if doc.get("resourceType") == "Bundle":
            for entry in doc.get("entry", []):
                judge(entry["resource"])
        else:
            judge(doc)
print(json.dumps({"counts": counts, "invalid": bad, "examples": examples}))
"""


def validity(python: Path, out: Path) -> dict:
    """Resources under `out` by type, and those fhir.resources 6 (FHIR R4) refuses."""
    proc = subprocess.run(
        [str(python), "-c", VALIDATOR, str(out)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def setup(args) -> None:
    scratch = Path(args.scratch).resolve()
    scratch.mkdir(parents=True, exist_ok=True)

    def unpack(git_dir: str, commit: str, target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", f"--git-dir={git_dir}", "archive", commit], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)

    if args.mef_git:
        unpack(args.mef_git, "HEAD", scratch / "mef")
        unpack(args.fhir_mapper_git, FHIR_MAPPER_COMMIT, scratch / "fhir-mapper")
        package = json.loads((scratch / "mef" / "package.json").read_text())
        package["dependencies"]["fhir-mapper"] = "file:../fhir-mapper"
        (scratch / "mef" / "package.json").write_text(json.dumps(package, indent=2))
        (scratch / "mef" / "package-lock.json").unlink(missing_ok=True)
        subprocess.run(
            # --install-links: fhir-mapper is copied in with its own dependencies, not linked.
            ["npm", "install", "--omit=dev", "--install-links", "--no-audit", "--no-fund"],
            cwd=scratch / "mef",
            check=True,
        )
    if args.csvtofhir_git:
        unpack(args.csvtofhir_git, "HEAD", scratch / "csvtofhir")
        venv = scratch / "csvtofhir-venv"
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([args.python310, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(scratch / "csvtofhir")], check=True)
    print(f"peers built under {scratch}")


def run(args) -> None:
    sys.path.insert(0, str(HERE.parent))
    from fhir_adapter.terminology import load_terminology

    scratch = Path(args.scratch).resolve()
    python = scratch / "csvtofhir-venv" / "bin" / "python"
    work = scratch / f"run-{args.patients}"
    shutil.rmtree(work, ignore_errors=True)
    terminology = load_terminology()
    people = list(patients(args.patients, args.seed))
    write_mef(work / "mef", people, terminology)
    codes = write_linked(work / "linked" / "input", people, terminology)
    (work / "linked" / "config").mkdir(parents=True)
    (work / "linked" / "config" / "data-contract.json").write_text(
        json.dumps(csvtofhir_contract(codes), indent=2)
    )
    (work / "mef-run").mkdir()
    (work / "mef-run" / "config.json").write_text(json.dumps(mef_config(work / "mef"), indent=2))
    adapter = Path(sys.executable).parent / "fhir-adapter"

    contenders = {
        "MEF (its CSV templates)": (
            ["node", str(scratch / "mef" / "src" / "cli" / "cli.js"), "-c", "config.json"],
            work / "mef-run",
            work / "mef-run" / "output",
        ),
        "fhir-adapter (MEF CSV templates)": (
            [
                str(adapter),
                "convert",
                "-q",
                str(work / "mef" / "*.csv"),
                "--format",
                "ndjson",
                "-o",
                str(work / "ours-mef"),
            ],  # fmt: skip
            work,
            work / "ours-mef",
        ),
        "csvtofhir (linked tables)": (
            [
                str(scratch / "csvtofhir-venv" / "bin" / "csvtofhir"),
                "convert",
                "-d",
                str(work / "linked"),
                "-o",
                str(work / "csvtofhir-out"),
            ],  # fmt: skip
            work,
            work / "csvtofhir-out",
        ),
        "fhir-adapter (linked tables)": (
            [
                str(adapter),
                "convert",
                "-q",
                str(work / "linked" / "input" / "cases.csv"),
                "--format",
                "ndjson",
                "-o",
                str(work / "ours-linked"),
            ],  # fmt: skip
            work,
            work / "ours-linked",
        ),
    }
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    print(f"{args.patients} patients; {os.cpu_count()} CPUs; validity by fhir.resources 6 (FHIR R4 4.0.1)")
    print(
        f"{'contender':34} {'wall s':>7} {'pat/s':>6} {'CPU s':>6} {'pat/CPU-s':>9} {'peak MB':>8}"
        f" {'resources':>9} {'valid':>9} {'load':>5}"
    )
    results = {}
    for name, (cmd, cwd, out) in contenders.items():
        key = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
        if only is not None and not any(o in name.lower() for o in only):
            continue
        if name.startswith("csvtofhir"):
            out.mkdir(parents=True, exist_ok=True)
        best = None
        for _ in range(args.repeats):
            shutil.rmtree(out, ignore_errors=True)
            if name.startswith("csvtofhir"):
                out.mkdir(parents=True)
            r = timed(cmd, cwd, work / f"{key}.log")
            if best is None or r["cpu"] < best["cpu"]:
                best = r
        assert best is not None
        v = validity(python, out)
        total = sum(v["counts"].values())
        valid = total - sum(v["invalid"].values())
        results[name] = {**best, **v, "total": total, "valid": valid}
        print(
            f"{name:34} {best['seconds']:>7.1f} {args.patients / best['seconds']:>6.0f} {best['cpu']:>6.1f}"
            f" {args.patients / best['cpu']:>9.0f} {best['rss_mb']:>8.0f} {total:>9} {valid:>9} {best['load']:>5.1f}"
            + ("" if best["exit"] == 0 else f"  (exit {best['exit']})"),
            flush=True,
        )
    for peer, ours in (
        ("MEF (its CSV templates)", "fhir-adapter (MEF CSV templates)"),
        ("csvtofhir (linked tables)", "fhir-adapter (linked tables)"),
    ):
        if peer in results and ours in results:
            a, b = results[peer], results[ours]
            print(
                f"{ours} against {peer}: {a['seconds'] / b['seconds']:.1f}x the patients/s (wall),"
                f" {a['cpu'] / b['cpu']:.1f}x per CPU second; peak RSS {b['rss_mb']:.0f} MB against {a['rss_mb']:.0f} MB"
            )
    for name, r in results.items():
        for kind, count in sorted(r["invalid"].items()):
            print(
                f"{name}: {count} of {r['counts'][kind]} {kind} invalid, e.g. {' '.join(r['examples'][kind])[:300]}"
            )
    (work / "results.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup", help="build the peers in the scratch folder")
    s.add_argument("--scratch", required=True)
    s.add_argument("--mef-git", help="git directory of mcode-extraction-framework")
    s.add_argument("--fhir-mapper-git", help="git directory of standardhealth/fhir-mapper")
    s.add_argument("--csvtofhir-git", help="git directory of LinuxForHealth/CsvToFHIR")
    s.add_argument("--python310", default=shutil.which("python3.10") or "python3.10")
    r = sub.add_parser("run", help="generate the patients and run every contender")
    r.add_argument("--scratch", required=True)
    r.add_argument("--patients", type=int, default=10_000)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument(
        "--repeats", type=int, default=1, help="runs of each contender; the one with least CPU is shown"
    )
    r.add_argument("--only", help="comma-separated words naming contenders to run (mef, csvtofhir, adapter)")
    args = parser.parse_args()
    setup(args) if args.command == "setup" else run(args)


if __name__ == "__main__":
    main()
