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

write_ndjson writes what `convert --format ndjson` writes, in parts: <Type>.<n>.ndjson files and a
Bulk Data manifest.json that lists them, so Pathling, `push --bulk` and other Bulk readers take
the directory as it is. What the CLI does and this does not: refuse a case id used twice in one
run (do it with a groupBy on case_id if the input may repeat cases).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .batch import Source, convert_source
from .convert import ConvertOptions
from .errors import ConfigError, OutputError
from .sinks import ERROR_DIR, MANIFEST, error_outcome
from .terminology import Terminology, load_terminology
from .writer import dumps

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


WRITE_REQUEST = "fhir_adapter.spark.write_ndjson"  # the manifest's request: there was no kick-off
_STAGING = "_staging"  # Spark's own output, moved into place file by file, then removed
_MODES = ("errorifexists", "error", "overwrite")


def write_ndjson(converted: DataFrame, path: str, *, mode: str = "errorifexists") -> dict[str, Any]:
    """Write converted rows as FHIR Bulk Data: <Type>.<n>.ndjson parts and a manifest.json listing them.

    The layout is that of `convert --format ndjson`, with each type in parts (one per Spark task
    that had resources of that type), numbered from 00000: <path>/Patient.00000.ndjson, ...,
    one resource per line, references as Type/id. The failed cases' OperationOutcomes go to
    <path>/errors/OperationOutcome.<n>.ndjson. manifest.json, written last, lists every part
    with its type, its url relative to the manifest and its count (output, error), as the CLI's
    manifest does; a reader that follows it (`push --bulk`) or that reads <Type>[.<part>].ndjson
    names (Pathling) takes the directory as it is. Any Hadoop file system works (local, HDFS, S3):
    Spark writes under <path>/_staging/, and the driver moves each file to its name.

    The conversion runs once, in the write; the counts come from reading the written files back.
    `mode` is "errorifexists" (a path that exists is an error) or "overwrite" (it is removed
    first). Returns the manifest.
    """
    from pyspark.sql import functions as F  # noqa: N812 - the usual name

    if mode not in _MODES:
        raise ConfigError(f"write_ndjson: mode {mode!r} is not one of {', '.join(_MODES)}")
    spark = converted.sparkSession
    started = datetime.now(UTC)
    fs = _HadoopFs(spark, path)
    if fs.exists(fs.root):
        if mode == "overwrite":
            fs.delete(fs.root)
        else:
            raise ConfigError(
                f"{path}: already exists; write_ndjson needs a new directory (or mode='overwrite')"
            )
    staging = fs.child(fs.root, _STAGING)
    kind = F.when(F.col("error").isNull(), F.lit("output")).otherwise(F.lit("error"))
    (
        converted.select(kind.alias("kind"), "resource_type", "resource")
        .write.option("compression", "none")
        .partitionBy("kind", "resource_type")
        .text(staging.toString())
    )
    # Lines per written file: the manifest's counts, exact however Spark split the output.
    written = spark.read.text(staging.toString()).groupBy(F.input_file_name().alias("file")).count()
    parts: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for row in written.collect():
        kind_dir, type_dir = row["file"].rsplit("/", 3)[1:3]
        key = (kind_dir.split("=", 1)[1], type_dir.split("=", 1)[1])
        parts.setdefault(key, []).append((row["file"], row["count"]))
    output, error = [], []
    for (part_kind, resource_type), files in sorted(parts.items()):
        listed = output if part_kind == "output" else error
        folder = "" if part_kind == "output" else f"{ERROR_DIR}/"
        for n, (uri, count) in enumerate(sorted(files)):
            url = f"{folder}{resource_type}.{n:05d}.ndjson"
            fs.move(uri, url)
            listed.append({"type": resource_type, "url": url, "count": count})
    fs.delete(staging)
    manifest = {
        # As the CLI's manifest: a FHIR instant, UTC with milliseconds, of when the write started.
        "transactionTime": started.strftime("%Y-%m-%dT%H:%M:%S.") + f"{started.microsecond // 1000:03d}Z",
        "request": WRITE_REQUEST,
        "requiresAccessToken": False,
        "output": output,
        "error": error,
    }
    fs.write(MANIFEST, dumps(manifest))  # last: a manifest says the files beside it are complete
    return manifest


class _HadoopFs:
    """The few Hadoop FileSystem calls write_ndjson makes from the driver (through Spark's JVM)."""

    def __init__(self, spark, path: str):
        self.jvm = spark._jvm
        self.root = self.jvm.org.apache.hadoop.fs.Path(path)
        self.fs = self.root.getFileSystem(spark._jsc.hadoopConfiguration())
        # On the local file system Hadoop keeps a hidden .<name>.crc beside each file; moving and
        # writing through the raw file system leaves just the files a Bulk reader expects.
        checksummed = self.jvm.java.lang.Class.forName("org.apache.hadoop.fs.ChecksumFileSystem")
        self.files = self.fs.getRawFileSystem() if checksummed.isInstance(self.fs) else self.fs

    def child(self, parent, name: str):
        return self.jvm.org.apache.hadoop.fs.Path(parent, name)

    def exists(self, target) -> bool:
        return bool(self.fs.exists(target))

    def delete(self, target) -> None:
        self.fs.delete(target, True)

    def move(self, uri: str, name: str) -> None:
        """A written file (by the URI Spark reports) to `name`, relative to the root."""
        source = self.jvm.org.apache.hadoop.fs.Path(self.jvm.java.net.URI(uri))
        target = self.child(self.root, name)
        self.files.mkdirs(target.getParent())
        if not self.files.rename(source, target):
            raise OutputError(f"{target.toString()}: cannot move {uri} there; the output is incomplete")

    def write(self, name: str, data: bytes) -> None:
        stream = self.files.create(self.child(self.root, name), True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()


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
    manifest = write_ndjson(converted, args[1])
    resources = sum(item["count"] for item in manifest["output"])
    failed = sum(item["count"] for item in manifest["error"])
    print(
        f"fhir-adapter: wrote {args[1]}: {resources} resource(s) in {len(manifest['output'])} file(s);"
        f" {failed} case(s) failed" + (f" (see {ERROR_DIR}/)" if failed else ""),
        file=sys.stderr,
    )
    spark.stop()
    return 3 if failed else 0  # as the CLI: 3 when a case could not be converted
