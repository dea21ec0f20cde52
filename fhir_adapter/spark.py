"""Convert cases on Spark: a DataFrame of case JSON in, NDJSON per resource type out, partition by partition.

Optional: needs `pip install 'fhir-adapter[spark]'` (PySpark 4.0, pyarrow; Java 17). Each partition
goes through the library's own conversion (fhir_adapter.batch.convert_source, the same code as
`convert --format ndjson`) inside `mapInArrow`, so the lines are byte for byte those the CLI
writes. The terminology maps are loaded once per Python worker process and kept for the tasks it
runs after. A case that fails becomes an error row (its OperationOutcome) instead of failing the
job.

    from fhir_adapter.spark import convert_cases, write_ndjson
    cases = spark.read.text("registry/*.ndjson")            # one case JSON per line, column `value`
    write_ndjson(convert_cases(cases, "value"), "s3://bucket/bulk/")

What the CLI does and this does not: refuse a case id used twice in one run (do it with a
groupBy on case_id if the input may repeat cases), and write one file per type with a manifest
(Spark writes part files under resource_type=<Type>/).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from .batch import Source, convert_source
from .convert import ConvertOptions
from .sinks import error_outcome
from .terminology import Terminology, load_terminology

if TYPE_CHECKING:  # pragma: no cover - pyspark is an optional extra
    import pyarrow
    from pyspark.sql import DataFrame

# One row per output resource, or one per failed case (resource_type OperationOutcome, error set).
OUTPUT_SCHEMA = "source string, case_id string, resource_type string, resource string, error string"
_FIELDS = ("source", "case_id", "resource_type", "resource", "error")

# Per Python worker process: Spark reuses its workers between tasks, so this outlives a partition.
_terminologies: dict[str | None, Terminology] = {}


def _terminology(mappings: str | None) -> Terminology:
    terminology = _terminologies.get(mappings)
    if terminology is None:
        terminology = _terminologies[mappings] = load_terminology(mappings)
    return terminology


def convert_rows(
    rows: Iterator[tuple[str, Any]], options: ConvertOptions, mappings: str | None = None
) -> Iterator[tuple[str, str | None, str, str, str | None]]:
    """(source name, case JSON) -> output rows (source, case_id, resource_type, resource, error).

    The conversion itself, without Spark: what each partition runs.
    """
    terminology = _terminology(mappings)
    for name, case in rows:
        if case is None:
            continue
        raw = case if isinstance(case, bytes) else str(case).encode("utf-8")
        # The name tells the parser the text is JSON; messages name the source as given.
        parse_name = name if name.lower().endswith(".json") else f"{name}.json"
        result = convert_source(Source(parse_name, parse_name, raw=raw), terminology, options, ndjson=True)
        if result.ok:
            for resource_type, line in result.resources:
                yield (name, result.case_id, resource_type, line[:-1].decode("utf-8"), None)
        else:
            result.error = (result.error or "not converted").replace(parse_name, name)
            result.source = name
            outcome = orjson.dumps(error_outcome(result)).decode("utf-8")
            yield (name, None, "OperationOutcome", outcome, result.error)


def _map_batches(
    batches: Iterator[pyarrow.RecordBatch],
    case_column: str,
    source_column: str | None,
    options: ConvertOptions,
    mappings: str | None,
) -> Iterator[pyarrow.RecordBatch]:
    import pyarrow as pa

    schema = pa.schema([(f, pa.string()) for f in _FIELDS])
    for batch in batches:
        cases = batch.column(case_column).to_pylist()
        if source_column:
            sources = [str(s) for s in batch.column(source_column).to_pylist()]
        else:
            sources = [f"row {n + 1}" for n in range(len(cases))]
        columns: list[list] = [[] for _ in _FIELDS]
        for row in convert_rows(zip(sources, cases, strict=True), options, mappings):
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], schema=schema)


def convert_cases(
    df: DataFrame,
    case_column: str = "case",
    *,
    source_column: str | None = None,
    options: ConvertOptions | None = None,
    mappings: str | None = None,
) -> DataFrame:
    """Convert a DataFrame with a column of case JSON (string or binary) into resource rows.

    The result has the columns of OUTPUT_SCHEMA: for each resource its source, case_id,
    resource_type and resource (one NDJSON line, without the newline); for each failed case one
    row with resource_type OperationOutcome and the message in `error`. `source_column` names
    the cases in messages (a file name, a registry key); without it they are "row N" of their
    partition. `mappings` is a directory of maps every executor can read (default: the shipped
    maps). Lazy, like any transformation; nothing runs until the result is written or collected.

    Example:
        convert_cases(spark.read.text("cases.ndjson"), "value").groupBy("resource_type").count()
    """
    from functools import partial

    options = options or ConvertOptions()
    columns = [case_column] + ([source_column] if source_column else [])
    fn = partial(
        _map_batches, case_column=case_column, source_column=source_column, options=options, mappings=mappings
    )
    return df.select(*columns).mapInArrow(fn, OUTPUT_SCHEMA)


def write_ndjson(converted: DataFrame, path: str, *, mode: str = "errorifexists") -> None:
    """Write converted rows as NDJSON: <path>/resource_type=<Type>/part-*, errors under <path>/errors/.

    Each part file holds one resource per line, as a server's $import or a loader reads them;
    the failed cases' OperationOutcomes go to <path>/errors/. The input is converted once
    (cached for the two writes).
    """
    from pyspark.sql import functions as F  # noqa: N812 - the usual name

    converted = converted.cache()
    try:
        good = converted.where(F.col("error").isNull())
        good.select("resource_type", "resource").write.mode(mode).partitionBy("resource_type").text(path)
        bad = converted.where(F.col("error").isNotNull())
        bad.select("resource").write.mode(mode).text(f"{path.rstrip('/')}/errors")
    finally:
        converted.unpersist()


def main(argv: list[str] | None = None) -> int:
    """A spark-submit driver: NDJSON files of cases (one case JSON per line) -> NDJSON resources.

    Call it from a one-line driver file (a script inside the package cannot be submitted itself,
    as its relative imports need the package):

        # convert_on_spark.py
        import sys; from fhir_adapter.spark import main; sys.exit(main())

        spark-submit --master yarn convert_on_spark.py 'hdfs:///registry/*.ndjson' hdfs:///bulk/
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: spark-submit DRIVER.py CASES_NDJSON_GLOB OUTPUT_DIR", file=sys.stderr)
        return 2
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F  # noqa: N812

    spark = SparkSession.builder.appName("fhir-adapter convert").getOrCreate()
    cases = spark.read.text(args[0]).withColumn("source", F.input_file_name())
    converted = convert_cases(cases, "value", source_column="source")
    write_ndjson(converted, args[1])
    failed = spark.read.text(f"{args[1].rstrip('/')}/errors").count()
    print(f"fhir-adapter: wrote {args[1]}; {failed} case(s) failed (see errors/)", file=sys.stderr)
    spark.stop()
    return 3 if failed else 0  # as the CLI: 3 when a case could not be converted
