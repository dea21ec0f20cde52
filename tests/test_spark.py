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

from fhir_adapter import convert_many
from fhir_adapter.batch import iter_sources
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


def small_case(case_id, *, sex: str = "female", medication: str | None = None) -> dict:
    case = {"case": {"id": case_id}, "patient": {"sex": sex}, "primary_cancers": [{"site": "breast"}]}
    if medication:
        case["medications"] = [{"name": medication}]
    return case


# Cases whose id an earlier case already used, and where the first copy is: the run keeps the
# first copy that converts and refuses each later one, naming it.
LATER = "zz-later"  # walked after synthetic/, so these land in the second partition


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    """The examples, SYNTHETIC synthetic cases, one broken case, case ids used twice (the first copy
    in the first partition, a later one in the second; a first copy that fails; an id written with
    spaces; an id written as a number) and 30 cases that keep a medication as text, as JSON files."""
    root = tmp_path_factory.mktemp("spark-cases")
    for example in (REPO / "examples").glob("*.yaml"):
        data = yaml.safe_load(example.read_text(encoding="utf-8"))
        (root / f"{example.stem}.json").write_text(json.dumps(data, default=str), encoding="utf-8")
    write_cases(root / "synthetic", SYNTHETIC, seed=23)
    (root / "broken.json").write_text(json.dumps(small_case("broken", sex="f")))
    later = root / LATER
    later.mkdir()
    files = {
        "dup-first.json": small_case("twice"),
        f"{LATER}/dup-again.json": small_case("twice"),
        f"{LATER}/dup-spaced.json": small_case(" twice "),
        "num-first.json": small_case(4242),
        f"{LATER}/num-again.json": small_case("4242"),
        "three-a-fails.json": small_case("thrice", sex="f"),
        f"{LATER}/three-b-kept.json": small_case("thrice"),
        f"{LATER}/three-c-again.json": small_case("thrice"),
    }
    for n in range(30):  # 12 in the first partition, 18 in the second: the tally keeps the first 20
        folder = "" if n < 12 else f"{LATER}/"
        files[f"{folder}tea-{n:02d}.json"] = small_case(f"tea-{n:02d}", medication="Herbal tea")
    for name, case in files.items():
        (root / name).write_text(json.dumps(case), encoding="utf-8")
    return root


def ndjson_by_type(files) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for rtype, path in files:
        out[rtype] += [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {t: sorted(lines) for t, lines in out.items()}


@pytest.fixture(scope="module")
def local(cases, tmp_path_factory) -> dict:
    """The cases through the library's run (convert_many, `convert --format ndjson`'s engine)."""
    root = tmp_path_factory.mktemp("local-out")
    summary = convert_many(
        [str(cases)], output=str(root / "bulk"), out_format="ndjson", report=str(root / "report.json")
    )
    return {"summary": summary, "out": root / "bulk", "report": root / "report.json"}


@pytest.fixture(scope="module")
def written(spark, cases, tmp_path_factory) -> dict:
    """The same cases, in the order the local run takes them, through convert_ndjson."""
    from fhir_adapter.spark import convert_ndjson

    root = tmp_path_factory.mktemp("spark-out")
    rows = [(s.name, Path(s.path).read_text(encoding="utf-8")) for s in iter_sources([str(cases)])]
    df = spark.createDataFrame(rows, "source string, case string")  # two slices: local[2], parallelism 2
    out = root / "spark"
    run = convert_ndjson(df, str(out), source_column="source", report=str(root / "report.json"))
    return {
        "spark": out,
        "manifest": run.manifest,
        "summary": run.summary,
        "report": root / "report.json",
        "root": root,
    }


def closing(line: str | None) -> str | None:
    """The closing line without its time and rate."""
    return re.sub(r" in \d+\.\ds \(\d+/s\)", "", line) if line else line


def test_spark_run_equals_the_local_run(written, local):
    """Failures (messages, in order), warnings, the text-only tally, the report and the closing line."""
    spark, mine = written["summary"], local["summary"]
    assert (spark.cases, spark.failed, spark.warnings) == (mine.cases, mine.failed, mine.warnings)
    assert spark.cases == SYNTHETIC + 8 + 1 + 8 + 30 and spark.failed == 6
    assert [(f.source, f.message, f.exit_code, f.warnings) for f in spark.failures] == [
        (f.source, f.message, f.exit_code, f.warnings) for f in mine.failures
    ]
    refused = {Path(f.source).name: f.message for f in spark.failures if "already used" in f.message}
    assert sorted(refused) == ["dup-again.json", "dup-spaced.json", "num-again.json", "three-c-again.json"]
    root = Path(next(f.source for f in spark.failures if f.source.endswith("broken.json"))).parent
    assert f"already used by {root}/dup-first.json " in refused["dup-again.json"]
    assert f"already used by {root}/dup-first.json " in refused["dup-spaced.json"]
    assert f"already used by {root}/num-first.json " in refused["num-again.json"]
    # The first copy of 'thrice' failed, so the second is the one kept and named.
    assert f"already used by {root}/{LATER}/three-b-kept.json " in refused["three-c-again.json"]
    assert spark.text_only == mine.text_only and spark.text_only_report == mine.text_only_report
    (tea,) = [e for e in spark.text_only_report if e["term"] == "Herbal tea"]
    assert (tea["count"], tea["case_count"]) == (30, 30)
    assert tea["cases"] == [f"tea-{n:02d}" for n in range(20)]
    assert written["report"].read_bytes() == local["report"].read_bytes()
    assert (
        closing(spark.line()) == closing(mine.line())
        and spark.exit_code == mine.exit_code == EXIT_INVALID_CASE
    )


def test_spark_output_equals_the_local_output(written, local):
    """The same NDJSON lines per resource type and the same error documents, order aside."""
    cli_out, out = local["out"], written["spark"]
    expected = ndjson_by_type((p.stem, p) for p in cli_out.glob("*.ndjson"))
    assert sum(map(len, expected.values())) > 3000
    # <Type>.<n>.ndjson parts beside the manifest, nothing else: no Spark folders, markers or checksums.
    names = sorted(p.name for p in out.iterdir())
    parts = [name for name in names if name.endswith(".ndjson")]
    assert names == sorted([*parts, "errors", "manifest.json"]), names
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+\.\d{5}\.ndjson", name) for name in parts), parts
    assert len(parts) > len(expected)  # two tasks: most types come in two parts
    assert ndjson_by_type((p.name.split(".")[0], p) for p in out.glob("*.ndjson")) == expected
    # The failed cases are error rows, written apart, not a failed job: the CLI's documents.
    assert ndjson_by_type(
        ("OperationOutcome", p) for p in (out / "errors").glob("*.ndjson")
    ) == ndjson_by_type([("OperationOutcome", cli_out / "errors" / "OperationOutcome.ndjson")])
    patients = [json.loads(line)["identifier"][0]["value"] for line in expected["Patient"]]
    assert sorted(patients).count("twice") == 1 and "broken" not in patients


def test_the_manifest_lists_every_part(written, local):
    """The manifest is the CLI's, per part: each file once, its type, its url and its line count."""
    out, manifest = written["spark"], written["manifest"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    cli = json.loads((local["out"] / "manifest.json").read_text())
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
    assert {e["type"] for e in manifest["error"]} == {"OperationOutcome"}
    assert sum(e["count"] for e in manifest["error"]) == cli["error"][0]["count"] == 6


def test_push_bulk_reads_the_spark_output(written, local):
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
    for path in local["out"].glob("*.ndjson"):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            expected[f"{resource['resourceType']}/{resource['id']}"] = resource
    assert stub.resources == expected


def test_pathling_reads_the_spark_output(written, local, cases):
    """Pathling encodes the parts and answers the README's questions as the case files do."""
    from support.pathling_questions import expected_answers, run_questions

    found = run_questions([written["spark"]], written["root"])[str(written["spark"])]
    failed = {f.source for f in local["summary"].failures}
    kept = [p for p in sorted(cases.rglob("*.json")) if str(p) not in failed]
    data = [json.loads(p.read_text(encoding="utf-8")) for p in kept]
    expected = expected_answers(data, load_terminology())
    assert found["scalp"] == expected["scalp"] and len(expected["scalp"]) > 10
    assert found["er_positive_primaries"] == expected["er_positive_primaries"]
    assert sorted(found["drugs"], key=str) == expected["drugs"]


def test_error_rows_and_case_ids(spark):
    """convert_cases' rows: resources, error rows, and a case id used twice refused across partitions."""
    from fhir_adapter.spark import convert_cases

    values = [
        json.dumps(small_case("s1")),
        "{not json",
        "",
        json.dumps(small_case("s2")),
        json.dumps(small_case("s1")),
    ]
    df = spark.createDataFrame([(v,) for v in values], "case string")  # two slices: 2 rows, 3 rows
    rows = convert_cases(df).collect()
    ok = [r for r in rows if r.error is None]
    bad = [r for r in rows if r.error is not None]
    assert {r.case_id for r in ok} == {"s1", "s2"} and {r.resource_type for r in ok} == {
        "Patient",
        "Condition",
    }
    assert [r.resource_type for r in bad] == ["OperationOutcome"] * 2 and {r.case_id for r in bad} == {None}
    assert "JSON" in bad[0].error and bad[0].source == "row 2 of partition 0"
    # The first s1 is row 1 of partition 0, the later one row 3 of partition 1 (after the blank
    # value, which is skipped, as convert skips a blank line).
    assert bad[1].source == "row 3 of partition 1"
    assert bad[1].error == (
        "row 3 of partition 1: case id 's1' is already used by row 1 of partition 0 in this run;"
        " give each case its own case.id"
    )


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


def test_the_spark_submit_driver(spark, tmp_path, capsys):
    """main() as spark-submit calls it, beside `convert --format ndjson` on the same NDJSON files: the
    same exit code, report, output and lines on stderr (failures named file:line, in the CLI's order,
    though Spark reads the large file's parts first). Last in this file: it stops the session."""
    from fhir_adapter.spark import main as driver
    from fhir_adapter.spark import read_ndjson_cases

    inputs = tmp_path / "in put"  # names as a path, not as a URI (file:/.../in%20put/b%20100%25.ndjson)
    inputs.mkdir()
    a = [small_case("d1"), small_case("d2", sex="f"), None, small_case("tea-a", medication="Herbal tea")]
    b = [small_case(f"b{n:03d}", medication="Herbal tea" if n % 4 == 0 else None) for n in range(80)]
    b[30], b[50] = "{not json", small_case("d1")  # a bad line, and a case id a.ndjson used first
    for name, lines in (("a.ndjson", a), ("b 100%.ndjson", b)):
        text = [line if isinstance(line, str) else json.dumps(line) if line else "" for line in lines]
        (inputs / name).write_text("\n".join(text) + "\n", encoding="utf-8")
    pattern = str(inputs / "*.ndjson")
    cli = CliRunner().invoke(
        main,
        [
            "convert",
            pattern,
            "--format",
            "ndjson",
            "-o",
            str(tmp_path / "cli"),
            "--report",
            str(tmp_path / "cli.json"),
        ],
    )
    # Parts of about 2 KB: the second file is read as several parts, each before a.ndjson (Spark reads the
    # largest first), and line numbers must still count from each file's start.
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    spark.conf.set("spark.sql.files.openCostInBytes", "256")
    try:
        assert read_ndjson_cases(spark, pattern).rdd.getNumPartitions() > 3
        capsys.readouterr()
        code = driver([pattern, str(tmp_path / "out"), "--report", str(tmp_path / "spark.json")])
        shown = capsys.readouterr().err
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    assert code == cli.exit_code == EXIT_INVALID_CASE
    assert (tmp_path / "spark.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    ours = re.compile(r"(Error: |warning: |  '|\d+ of \d+ case)")
    told = [closing(line) for line in shown.splitlines() if ours.match(line)]
    expected = [closing(line) for line in cli.stderr.splitlines()]
    assert told == expected and len(expected) == 6, shown
    assert expected[0].startswith(f"Error: {inputs}/a.ndjson:2: patient.sex")
    assert expected[1].startswith(f"Error: {inputs}/b 100%.ndjson:31: invalid JSON")
    assert expected[2] == (
        f"Error: {inputs}/b 100%.ndjson:51: case id 'd1' is already used by {inputs}/a.ndjson:1 in this run;"
        " give each case its own case.id"
    )
    out = tmp_path / "out"
    assert ndjson_by_type((p.name.split(".")[0], p) for p in out.glob("*.ndjson")) == ndjson_by_type(
        (p.stem, p) for p in (tmp_path / "cli").glob("*.ndjson")
    )
    errors = ndjson_by_type(("OperationOutcome", p) for p in (out / "errors").glob("*.ndjson"))
    assert errors == ndjson_by_type(
        [("OperationOutcome", tmp_path / "cli" / "errors" / "OperationOutcome.ndjson")]
    )
