"""Pathling as a reader of our Bulk NDJSON: the README's script, run in .venv-pathling, and the answers
the case files give for the same questions.

Pathling 6.3.1 (its jar inside the PyPI wheel) runs on PySpark 3.3, and our Spark extra is PySpark 4,
so it lives in a virtualenv of its own (.venv-pathling, made by .ci/run) and runs as a subprocess:
one JVM for any number of directories. Spark binds to 127.0.0.1 and the script turns Pathling's
terminology client off, so nothing leaves the machine. Where that virtualenv or Java is missing the
tests skip, unless FHIR_ADAPTER_REQUIRE_PATHLING=1 (CI) makes that an error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.terminology import Terminology, fold

REPO = Path(__file__).resolve().parents[2]
ENV_PYTHON = "FHIR_ADAPTER_PATHLING_PYTHON"  # an interpreter with pathling 6.3.1 and pyspark 3.3
ENV_REQUIRE = "FHIR_ADAPTER_REQUIRE_PATHLING"
TIMEOUT = 900.0  # seconds for one run of the script; a first start on a busy machine is slow

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# The codes the README's FHIRPath asks for; the expected answers find the case-file terms behind them
# in our maps, so a term the maps code differently would show here as a difference.
SCALP_CODES = {(SNOMED, "41695006"), (SNOMED, "43067004")}  # scalp structure; skin structure of scalp
ER_CODES = {(LOINC, "85337-4"), (LOINC, "16112-5")}  # estrogen receptor tests in mCODE TumorMarkerTestVS
POSITIVE_CODES = {(SNOMED, "10828004")}  # Positive (qualifier value)


def readme_script() -> str:
    """The Python block of the README's "Analysing the output" that answers the questions with Pathling."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"<!-- pathling-script -->\n```python\n(.*?)```", text, flags=re.S)
    assert len(found) == 1, "README.md needs exactly one <!-- pathling-script --> python block"
    return found[0]


def pathling_python() -> str:
    """The interpreter of .venv-pathling (or $FHIR_ADAPTER_PATHLING_PYTHON); skips when there is none."""
    python = os.environ.get(ENV_PYTHON) or str(REPO / ".venv-pathling" / "bin" / "python")
    if not Path(python).exists():
        require(f"no Pathling virtualenv at {python} (bash .ci/run makes it)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        require("no java for Pathling")
    return python


def require(what: str) -> None:
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"{what} ({ENV_REQUIRE}=1)")
    pytest.skip(what)


def run_questions(directories: list[Path], workdir: Path) -> dict[str, dict[str, Any]]:
    """Run the README's script over the directories in one Pathling session: answers by directory."""
    python = pathling_python()
    script = workdir / "questions.py"
    script.write_text(readme_script(), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SPARK_HOME", "PYSPARK_SUBMIT_ARGS")
    }
    env.update(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=python, PYSPARK_DRIVER_PYTHON=python)
    proc = subprocess.run(
        [python, str(script), *map(str, directories)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    # Spark may log to stdout too: the answers are the lines that are JSON objects with a directory.
    answers = {}
    for line in proc.stdout.splitlines():
        if line.startswith('{"directory"'):
            answer = json.loads(line)
            answers[answer.pop("directory")] = answer
    assert proc.returncode == 0 and len(answers) == len(directories), (
        f"Pathling exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    return {str(d): answers[str(d)] for d in directories}


def _terms(terminology: Terminology, domain: str, codes: set[tuple[str, str]]) -> set[str]:
    """The folded terms of a map whose entry is coded with one of the codes."""
    return {
        term
        for term, concept in terminology.domains[domain].items()
        if any((c.system, c.code) in codes for c in concept.codings)
    }


def expected_answers(cases: list[dict[str, Any]], terminology: Terminology) -> dict[str, Any]:
    """What the case files (plain data, not read by fhir-adapter) say the three answers are.

    Terms go to codes through our maps, as a reader of the case files would look them up: the
    scalp terms, the estrogen receptor terms and the positive results. A primary cancer stated as
    bilateral is two primary Conditions, one per side, as the README's "What comes out" says; a
    regimen is one statement per drug it stands for.
    """
    scalp_terms = _terms(terminology, "body_sites", SCALP_CODES)
    er_terms = _terms(terminology, "observations", ER_CODES)
    positive = _terms(terminology, "observations", POSITIVE_CODES)
    assert {"scalp", "skin of scalp"} <= scalp_terms and {"er", "estrogen receptor"} <= er_terms
    assert "positive" in positive

    def said(value: Any) -> str:
        return fold(str(value)) if value is not None else ""

    scalp, er_positive, drugs = set(), Counter(), []
    for case in cases:
        case_id = case["case"]["id"]
        if any(said(m.get("site")) in scalp_terms for m in case.get("metastases") or []):
            scalp.add(case_id)
        for primary in case.get("primary_cancers") or []:
            er_result = (primary.get("receptors") or {}).get("er")
            markers = [m for m in primary.get("markers") or [] if said(m.get("name")) in er_terms]
            if said(er_result) in positive or any(said(m.get("result")) in positive for m in markers):
                er_positive[case_id] += 2 if said(primary.get("laterality")) == "bilateral" else 1
        for medication in case.get("medications") or []:
            regimen = terminology.lookup("regimens", medication["name"])
            for drug in regimen.components if regimen and regimen.components else [medication["name"]]:
                concept = terminology.lookup("medications", drug)
                codes = [c.code for c in concept.codings if c.system == RXNORM] if concept else []
                drugs.append([case_id, drug, codes[0] if codes else None])
    return {
        "scalp": sorted(scalp),
        "er_positive_primaries": sorted([case_id, n] for case_id, n in er_positive.items()),
        "drugs": sorted(drugs, key=str),
    }
