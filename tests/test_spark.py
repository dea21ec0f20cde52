"""fhir_adapter.spark in local[2]: the same NDJSON lines as `convert --format ndjson`, failed cases as rows.

Marked `spark` (needs the extra `fhir-adapter[spark]` and Java 17); .ci/run installs both and runs it.
Without pyspark or java the tests skip, unless FHIR_ADAPTER_REQUIRE_SPARK=1 (CI) makes that an error.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic import write_cases  # noqa: E402

SYNTHETIC = 300


def _require(what: str) -> None:
    if os.environ.get("FHIR_ADAPTER_REQUIRE_SPARK") == "1":
        pytest.fail(f"{what} (FHIR_ADAPTER_REQUIRE_SPARK=1)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _require("pyspark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _require("no java for Spark")
    with pytest.MonkeyPatch.context() as mp:
        # The Python workers must be this venv's interpreter, where fhir_adapter is installed.
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        mp.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("fhir-adapter tests")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")  # loopback only
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """The examples, SYNTHETIC synthetic cases and one broken case, as JSON files."""
    root = tmp_path_factory.mktemp("spark-cases")
    for example in (REPO / "examples").glob("*.yaml"):
        data = yaml.safe_load(example.read_text(encoding="utf-8"))
        (root / f"{example.stem}.json").write_text(json.dumps(data, default=str), encoding="utf-8")
    write_cases(root / "synthetic", SYNTHETIC, seed=23)
    (root / "broken.json").write_text(
        json.dumps(
            {"case": {"id": "broken"}, "patient": {"sex": "f"}, "primary_cancers": [{"site": "breast"}]}
        )
    )
    return root


def ndjson_by_type(files) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for rtype, path in files:
        out[rtype] += [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {t: sorted(lines) for t, lines in out.items()}


def test_spark_output_equals_convert_ndjson(spark, cases, tmp_path):
    from fhir_adapter.spark import convert_cases, write_ndjson

    cli_out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["convert", "-q", str(cases), "--format", "ndjson", "-o", str(cli_out)])
    assert result.exit_code == EXIT_INVALID_CASE  # the broken case; the others are converted
    expected = ndjson_by_type((p.stem, p) for p in cli_out.glob("*.ndjson"))
    assert sum(map(len, expected.values())) > 3000

    files = sorted(p for p in cases.rglob("*.json"))
    rows = [(str(p.relative_to(cases)), p.read_text(encoding="utf-8")) for p in files]
    df = spark.createDataFrame(rows, "source string, case string")  # two slices: local[2], parallelism 2
    out = tmp_path / "spark"
    write_ndjson(convert_cases(df, "case", source_column="source"), str(out))

    parts = [(d.name.split("=", 1)[1], p) for d in out.glob("resource_type=*") for p in d.glob("part-*")]
    assert ndjson_by_type(parts) == expected
    # The failed case is an error row, written apart, not a failed job.
    errors = [
        json.loads(line) for p in (out / "errors").glob("part-*") for line in p.read_text().splitlines()
    ]
    assert len(errors) == 1 and errors[0]["resourceType"] == "OperationOutcome"
    assert errors[0]["issue"][0]["diagnostics"].startswith("broken.json:")
    assert "patient.sex" in errors[0]["issue"][0]["diagnostics"]


def test_error_rows_and_case_ids(spark):
    from fhir_adapter.spark import convert_cases

    good = {"case": {"id": "s1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
    df = spark.createDataFrame([(json.dumps(good),), ("{not json",)], "case string")
    rows = convert_cases(df).collect()
    ok = [r for r in rows if r.error is None]
    bad = [r for r in rows if r.error is not None]
    assert {r.case_id for r in ok} == {"s1"} and {r.resource_type for r in ok} == {"Patient", "Condition"}
    assert len(bad) == 1 and bad[0].resource_type == "OperationOutcome" and bad[0].case_id is None
    assert bad[0].source.startswith("row ") and "JSON" in bad[0].error


def test_the_spark_submit_driver(spark, tmp_path):
    """main() as a spark-submit driver calls it; last in this file, as it stops the session when done."""
    from fhir_adapter.spark import main as driver

    good = {"case": {"id": "d1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
    bad = {"case": {"id": "d2"}, "patient": {"sex": "f"}, "primary_cancers": [{"site": "breast"}]}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cases.ndjson").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "out"
    assert driver([str(tmp_path / "in" / "*.ndjson"), str(out)]) == EXIT_INVALID_CASE
    patients = [line for p in out.glob("resource_type=Patient/part-*") for line in p.read_text().splitlines()]
    assert len(patients) == 1 and json.loads(patients[0])["identifier"][0]["value"] == "d1"
    errors = [line for p in (out / "errors").glob("part-*") for line in p.read_text().splitlines()]
    assert len(errors) == 1 and "cases.ndjson" in errors[0]
