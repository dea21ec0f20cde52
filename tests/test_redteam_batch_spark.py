"""Attacks on fhir_adapter.spark's run: the same case id in two partitions, spelled in two cases of
letters, and partitions left empty, against what `convert` says of the same lines.

Marked `spark` like tests/test_spark.py (pyspark and Java 17; skipped without them unless
FHIR_ADAPTER_REQUIRE_SPARK=1). One small local[2] session, seven cases.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from fhir_adapter import convert_many

pytestmark = pytest.mark.spark

IDS = ["a-1", "Case-1", "b-1", "c-1", "case-1", "d-1", "a-1"]


@pytest.fixture(scope="module")
def spark():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if os.environ.get("FHIR_ADAPTER_REQUIRE_SPARK") == "1":
            pytest.fail("pyspark is not installed (FHIR_ADAPTER_REQUIRE_SPARK=1)")
        pytest.skip("pyspark is not installed: pip install -e '.[spark]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("FHIR_ADAPTER_REQUIRE_SPARK") == "1":
            pytest.fail("no java for Spark (FHIR_ADAPTER_REQUIRE_SPARK=1)")
        pytest.skip("no java for Spark")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        mp.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("fhir-adapter batch attacks")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")  # loopback only
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


def test_ids_differing_in_case_across_partitions_fail_as_in_convert(spark, tmp_path):
    """'Case-1' and 'case-1' in different partitions (and some partitions empty): Spark refuses
    the later one as `convert` does, with the same message; it used to convert both."""
    from fhir_adapter.spark import convert_cases, read_ndjson_cases

    cases = tmp_path / "cases.ndjson"
    lines = [
        {"case": {"id": i}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
        for i in IDS
    ]
    cases.write_text("".join(json.dumps(line) + "\n" for line in lines))
    expected = convert_many([str(cases)])
    assert expected.failed == 2

    df = read_ndjson_cases(spark, str(cases)).repartition(12)  # 7 rows in 12 partitions: some empty
    rows = convert_cases(df, "case", source_column="file", line_column="line", order_column="order").collect()
    errors = sorted(r.error for r in rows if r.resource_type == "OperationOutcome")
    assert errors == sorted(f.message for f in expected.failures)
    converted = {r.case_id for r in rows if r.resource_type == "Patient"}
    assert converted == {"a-1", "Case-1", "b-1", "c-1", "d-1"}
