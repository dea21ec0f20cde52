"""fhir_adapter.spark in local[2]: the same NDJSON lines as `convert --format ndjson`, failed cases as rows,
written as Bulk Data parts with a manifest that push --bulk and Pathling read.

Marked `spark` (needs the extra `fhir-adapter[spark]` and Java 17); .ci/run installs both and runs it.
Without pyspark or java the tests skip, unless FHIR_ADAPTER_REQUIRE_SPARK=1 (CI) makes that an error.
The Pathling check needs .venv-pathling as well (tests/support/pathling_questions.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.bulk_import_stub import BulkImportStub

from fhir_adapter.bulk import read_directory
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE
from fhir_adapter.terminology import load_terminology

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


@pytest.fixture(scope="module")
def written(spark, cases, tmp_path_factory) -> dict:
    """The cases through `convert --format ndjson` and through convert_cases + write_ndjson."""
    from fhir_adapter.spark import convert_cases, write_ndjson

    root = tmp_path_factory.mktemp("spark-out")
    cli_out = root / "cli"
    result = CliRunner().invoke(main, ["convert", "-q", str(cases), "--format", "ndjson", "-o", str(cli_out)])
    assert result.exit_code == EXIT_INVALID_CASE  # the broken case; the others are converted
    files = sorted(p for p in cases.rglob("*.json"))
    rows = [(str(p.relative_to(cases)), p.read_text(encoding="utf-8")) for p in files]
    df = spark.createDataFrame(rows, "source string, case string")  # two slices: local[2], parallelism 2
    out = root / "spark"
    manifest = write_ndjson(convert_cases(df, "case", source_column="source"), str(out))
    return {"cli": cli_out, "spark": out, "manifest": manifest, "root": root}


def test_spark_output_equals_convert_ndjson(written):
    cli_out, out = written["cli"], written["spark"]
    expected = ndjson_by_type((p.stem, p) for p in cli_out.glob("*.ndjson"))
    assert sum(map(len, expected.values())) > 3000
    # <Type>.<n>.ndjson parts beside the manifest, nothing else: no Spark folders, markers or checksums.
    names = sorted(p.name for p in out.iterdir())
    parts = [name for name in names if name.endswith(".ndjson")]
    assert names == sorted([*parts, "errors", "manifest.json"]), names
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+\.\d{5}\.ndjson", name) for name in parts), parts
    assert len(parts) > len(expected)  # two tasks: most types come in two parts
    assert ndjson_by_type((p.name.split(".")[0], p) for p in out.glob("*.ndjson")) == expected
    # The failed case is an error row, written apart, not a failed job.
    assert sorted(p.name for p in (out / "errors").iterdir()) == ["OperationOutcome.00000.ndjson"]
    errors = [
        json.loads(line)
        for line in (out / "errors" / "OperationOutcome.00000.ndjson").read_text().splitlines()
    ]
    assert len(errors) == 1 and errors[0]["resourceType"] == "OperationOutcome"
    assert errors[0]["issue"][0]["diagnostics"].startswith("broken.json:")
    assert "patient.sex" in errors[0]["issue"][0]["diagnostics"]


def test_the_manifest_lists_every_part(written):
    """The manifest is the CLI's, per part: each file once, its type, its url and its line count."""
    out, manifest = written["spark"], written["manifest"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    cli = json.loads((written["cli"] / "manifest.json").read_text())
    assert list(manifest) == list(cli)  # transactionTime, request, requiresAccessToken, output, error
    assert (
        manifest["requiresAccessToken"] is False and manifest["request"] == "fhir_adapter.spark.write_ndjson"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", manifest["transactionTime"])
    listed = {item["url"]: item for item in manifest["output"] + manifest["error"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*.ndjson")}
    assert set(listed) == on_disk and len(listed) == len(manifest["output"]) + len(manifest["error"])
    for url, item in listed.items():
        assert item["type"] == Path(url).name.split(".")[0]
        assert item["count"] == len((out / url).read_text().splitlines())
    assert [i["type"] for i in manifest["output"]] == sorted(i["type"] for i in manifest["output"])
    per_type = defaultdict(int)
    for item in manifest["output"]:
        per_type[item["type"]] += item["count"]
    assert dict(per_type) == {o["type"]: o["count"] for o in cli["output"]}
    assert [(e["type"], e["count"]) for e in manifest["error"]] == [("OperationOutcome", 1)]


def test_push_bulk_reads_the_spark_output(written, tmp_path):
    """push --bulk takes the directory as it is: every part is served and imported, the errors are not."""
    files = read_directory(written["spark"])
    assert [(f.type, f.name, f.count) for f in files] == [
        (o["type"], o["url"], o["count"]) for o in written["manifest"]["output"]
    ]
    with BulkImportStub(style="manifest", polls_before_done=1) as stub:
        result = CliRunner().invoke(
            main,
            ["push", "--bulk", str(written["spark"]), "--server", stub.base_url, "--poll-max-wait", "0.05"],
        )
        assert result.exit_code == 0, result.output
    expected = {}
    for path in written["cli"].glob("*.ndjson"):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            expected[f"{resource['resourceType']}/{resource['id']}"] = resource
    assert stub.resources == expected


def test_pathling_reads_the_spark_output(written, cases):
    """Pathling encodes the parts and answers the README's questions as the case files do."""
    from support.pathling_questions import expected_answers, run_questions

    found = run_questions([written["spark"]], written["root"])[str(written["spark"])]
    data = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(cases.rglob("*.json"))]
    expected = expected_answers([c for c in data if c["case"]["id"] != "broken"], load_terminology())
    assert found["scalp"] == expected["scalp"] and len(expected["scalp"]) > 10
    assert found["er_positive_primaries"] == expected["er_positive_primaries"]
    assert sorted(found["drugs"], key=str) == expected["drugs"]


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


def test_an_existing_directory_is_refused_or_overwritten(spark, tmp_path):
    from fhir_adapter.errors import ConfigError
    from fhir_adapter.spark import convert_cases, write_ndjson

    good = {"case": {"id": "o1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
    df = spark.createDataFrame([(json.dumps(good),)], "case string")
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("kept")
    with pytest.raises(ConfigError, match="already exists") as refused:
        write_ndjson(convert_cases(df), str(out))
    assert refused.value.exit_code == EXIT_CONFIG and (out / "earlier.txt").read_text() == "kept"
    manifest = write_ndjson(convert_cases(df), str(out), mode="overwrite")
    # No case failed: no errors/ folder and an empty error list, as the CLI writes it.
    assert sorted(p.name for p in out.iterdir()) == [
        "Condition.00000.ndjson",
        "Patient.00000.ndjson",
        "manifest.json",
    ]
    assert manifest["error"] == [] and [o["count"] for o in manifest["output"]] == [1, 1]
    with pytest.raises(ConfigError, match="mode 'append'"):
        write_ndjson(convert_cases(df), str(out), mode="append")


def test_the_spark_submit_driver(spark, tmp_path):
    """main() as a spark-submit driver calls it; last in this file, as it stops the session when done."""
    from fhir_adapter.spark import main as driver

    good = {"case": {"id": "d1"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
    bad = {"case": {"id": "d2"}, "patient": {"sex": "f"}, "primary_cancers": [{"site": "breast"}]}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cases.ndjson").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    out = tmp_path / "out"
    assert driver([str(tmp_path / "in" / "*.ndjson"), str(out)]) == EXIT_INVALID_CASE
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Condition", 1), ("Patient", 1)]
    patients = [line for p in out.glob("Patient.*.ndjson") for line in p.read_text().splitlines()]
    assert len(patients) == 1 and json.loads(patients[0])["identifier"][0]["value"] == "d1"
    errors = [line for p in (out / "errors").glob("*.ndjson") for line in p.read_text().splitlines()]
    assert len(errors) == 1 and "cases.ndjson" in errors[0]
