"""Convert cases on Spark: a DataFrame of case JSON in, NDJSON per resource type out, partition by partition.

Optional: needs `pip install 'fhir-adapter[spark]'` (PySpark 4.0, pyarrow; Java 17). Each partition
runs the run engine's own pieces inside `mapInArrow`: each case through batch.convert_source (the
code `convert --format ndjson` runs, so the lines are byte for byte the CLI's), each result counted
by an engine.Ledger, which the partition hands to the driver as one extra row. The driver merges the
ledgers into the RunSummary `convert` would give: the same counts, failure messages, warnings,
text-only tally, report and exit code. A case that fails becomes an error row (its
OperationOutcome) instead of failing the job. The terminology maps are loaded once per Python
worker process and kept for the tasks it runs after.

    from fhir_adapter.spark import convert_ndjson, read_ndjson_cases
    cases = read_ndjson_cases(spark, "registry/*.ndjson")   # columns case, file, line, order
    run = convert_ndjson(cases, "s3://bucket/bulk/", source_column="file", line_column="line",
                         order_column="order", report="report.json")
    print(run.summary.line())

The output is `convert --format ndjson`'s, in parts: <Type>.<n>.ndjson files and a Bulk Data
manifest.json that lists them, so Pathling, `push --bulk` and other Bulk readers take the directory
as it is. `convert_cases` + `write_ndjson` give the same files for a pipeline that wants the rows
(without the summary).

A case id used twice is refused as `convert` refuses it, over the whole input: a pre-pass reads
`$.case.id` of every row with Spark SQL and keeps the ids met more than once (only those rows are
converted a second time, to learn which copies convert); the first copy that converts, in the run's
order, is kept, each later one fails naming it. As in `convert`, ids that differ only in the case
of their letters are one id. The run's order is `order_column` if given (lower
first), else the DataFrame's own order (partition by partition, row by row, as
monotonically_increasing_id numbers them); read_ndjson_cases orders files by name, then lines, as
`convert` takes a glob's matches. That order must be the same each time Spark reads the DataFrame
(files and local data are; checkpoint a DataFrame that went through a shuffle first).

The same order decides which copy of a repeated id is kept, the order of the failures and which
cases the text-only tally names, so these match `convert` on the same cases in the same order.

What still differs from `convert`: warnings of cases that converted are counted in the summary, not
listed (a ledger carries counts, not every message; a failed case's warnings are listed); each type
comes in parts, one per task; the column holds JSON (no YAML, no spreadsheets); a line longer than
the file-size limit is refused with the limit's message for a file rather than for a line; Spark
also ends a line at a lone carriage return; main() has no option but --report (ConvertOptions and
`mappings` are the library's), no --errors-to and no --post; the summary comes at the end, without
the engine's events case by case.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import orjson

from .batch import Result, Source, convert_source, duplicate_error
from .convert import ConvertOptions
from .engine import Ledger, RunSummary
from .errors import EXIT_CONFIG, ConfigError, OutputError, printable_lines
from .sinks import ERROR_DIR, MANIFEST, error_outcome
from .terminology import Terminology, load_terminology
from .writer import dumps, write_atomic

if TYPE_CHECKING:  # pragma: no cover - pyspark is an optional extra
    import pyarrow
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# One row per output resource, or one per failed case (resource_type OperationOutcome, error set).
OUTPUT_SCHEMA = "source string, case_id string, resource_type string, resource string, error string"
# The same rows with their kind (output, error), and one `ledger` row per partition: its accounting.
_ROWS = "kind string, " + OUTPUT_SCHEMA
_ROW_FIELDS = ("kind", "source", "case_id", "resource_type", "resource", "error")
# What the duplicate check learns from a row whose case id the pre-pass met more than once.
_CLAIMS = "case_id string, order long, source string"
# The columns each partition reads (see _prepared).
_INPUT = (
    "_case",
    "_source",
    "_line",
    "_order",
    "_pos",
    "_first_id",
    "_first_order",
    "_first_source",
    "_first_spelling",
)
_ROW_BITS = 33  # monotonically_increasing_id: the partition in the upper bits, the row in the lower 33
_FILE_BITS = 40  # read_ndjson_cases' order: the file's rank in the upper bits, the line in the lower 40

# Per Python worker process: Spark reuses its workers between tasks, so this outlives a partition.
_terminologies: dict[str | None, Terminology] = {}


def _terminology(mappings: str | None) -> Terminology:
    terminology = _terminologies.get(mappings)
    if terminology is None:
        terminology = _terminologies[mappings] = load_terminology(mappings)
    return terminology


# ---------------------------------------------------------------------------------------------
# One partition


def _name(source: str | None, line: int | None, pos: int) -> str:
    """How messages name a case: its file and line, its source, or its place in the DataFrame."""
    if source is None:
        return f"row {(pos & ((1 << _ROW_BITS) - 1)) + 1} of partition {pos >> _ROW_BITS}"
    return source if line is None else f"{source}:{line}"


def _convert_one(
    case: str | bytes | None,
    name: str,
    source: str | None,
    line: int | None,
    terminology: Terminology,
    options: ConvertOptions,
) -> Result | None:
    """One case through the CLI's conversion; None for an empty value (as convert skips a blank line)."""
    if case is None:
        return None
    raw = case if isinstance(case, bytes) else str(case).encode("utf-8")
    if not raw.strip():
        return None
    if line is not None and source is not None:
        # Line N of an NDJSON file: the Source convert makes for it, so messages read as convert's.
        return convert_source(Source(name, source, line, raw), terminology, options, ndjson=True)
    # The name tells the parser the text is JSON; messages name the case as given.
    parse_name = name if name.lower().endswith(".json") else f"{name}.json"
    result = convert_source(Source(parse_name, parse_name, raw=raw), terminology, options, ndjson=True)
    if parse_name != name:
        result.source = name
        result.error = result.error.replace(parse_name, name) if result.error is not None else None
        result.warnings = [w.replace(parse_name, name) for w in result.warnings]
    return result


def _columns(batch: pyarrow.RecordBatch, names: Iterable[str]) -> list[list]:
    return [batch.column(name).to_pylist() for name in names]


def _record_batch(rows: list[tuple], fields: tuple[str, ...], types: dict[str, Any] | None = None):
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    types = types or {}
    schema = pa.schema([(f, types.get(f, pa.string())) for f in fields])
    return pa.RecordBatch.from_arrays(
        [pa.array(list(c), schema.field(f).type) for f, c in zip(fields, columns, strict=True)], schema=schema
    )


def _claim_batches(
    batches: Iterator[pyarrow.RecordBatch], options: ConvertOptions, mappings: str | None
) -> Iterator[pyarrow.RecordBatch]:
    """For rows whose case id the pre-pass met more than once: (case_id, order, name) of each that converts."""
    import pyarrow as pa

    terminology = _terminology(mappings)
    for batch in batches:
        claims = []
        for case, source, line, order, pos in zip(*_columns(batch, _INPUT[:5]), strict=True):
            name = _name(source, line, pos)
            result = _convert_one(case, name, source, line, terminology, options)
            if result is not None and result.ok:
                claims.append((result.case_id, order, name))
        yield _record_batch(claims, ("case_id", "order", "source"), {"order": pa.int64()})


def _convert_batches(
    batches: Iterator[pyarrow.RecordBatch], options: ConvertOptions, mappings: str | None
) -> Iterator[pyarrow.RecordBatch]:
    """A partition's cases -> resource and error rows, then one row with the partition's Ledger."""
    terminology = _terminology(mappings)
    ledger = Ledger()  # no duplicate check here: _prepared found the ids used twice in the whole input
    for batch in batches:
        rows: list[tuple] = []
        columns = _columns(batch, _INPUT)
        for case, source, line, order, pos, first_id, first_order, first_source, first_spelling in zip(
            *columns, strict=True
        ):
            name = _name(source, line, pos)
            result = _convert_one(case, name, source, line, terminology, options)
            if result is None:
                continue
            # Ids that differ only in the case of their letters are one id, as convert's SeenIds has it.
            if result.ok and result.case_id.lower() == first_id and order != first_order:
                result = duplicate_error(result, first_source, first_spelling)
            ledger.add(result, order)
            if result.ok:
                for resource_type, text in result.resources:
                    rows.append(("output", name, result.case_id, resource_type, text[:-1].decode(), None))
            else:
                outcome = orjson.dumps(error_outcome(result)).decode()
                rows.append(("error", name, None, "OperationOutcome", outcome, result.error))
        yield _record_batch(rows, _ROW_FIELDS)
    if ledger.summary.cases:
        yield _record_batch([("ledger", None, None, "Ledger", ledger.to_json().decode(), None)], _ROW_FIELDS)


# ---------------------------------------------------------------------------------------------
# The plan


def _prepared(
    df: DataFrame,
    case_column: str,
    source_column: str | None,
    line_column: str | None,
    order_column: str | None,
    options: ConvertOptions,
    mappings: str | None,
) -> DataFrame:
    """The input with each row's name parts, its place in the run's order and, for a case id used
    more than once, the first copy that converts (lazily: a pre-pass on $.case.id, broadcast)."""
    from pyspark.sql import functions as F  # noqa: N812 - the usual name

    if line_column and not source_column:
        raise ConfigError("line_column numbers the lines of the files source_column names: give both")
    string, long = "string", "long"
    base = df.select(
        F.col(case_column).alias("_case"),
        (F.col(source_column).cast(string) if source_column else F.lit(None).cast(string)).alias("_source"),
        (F.col(line_column).cast(long) if line_column else F.lit(None).cast(long)).alias("_line"),
        (F.col(order_column).cast(long) if order_column else F.lit(None).cast(long)).alias("_order"),
        F.monotonically_increasing_id().alias("_pos"),
    )
    base = base.withColumn("_order", F.coalesce(F.col("_order"), F.col("_pos")))
    # Every id a case can have is what $.case.id holds with all but [A-Za-z0-9._-] removed (the
    # model strips spaces and reads a number as text); two rows that could share an id share this
    # key. A key shared by cases that do not convert costs only their second conversion.
    text = F.regexp_replace(F.col("_case").cast(string), "^\ufeff", "")  # as convert reads a BOM
    # In lower case: ids that differ only in the case of their letters are one id to convert.
    key = F.lower(F.regexp_replace(F.get_json_object(text, "$.case.id"), "[^A-Za-z0-9._-]", ""))
    base = base.withColumn("_key", F.when(key != "", key))
    repeated = base.where(F.col("_key").isNotNull()).groupBy("_key").count().where(F.col("count") > 1)
    candidates = base.join(F.broadcast(repeated.select("_key")), "_key", "left_semi")
    claims = candidates.select(*_INPUT[:5]).mapInArrow(
        partial(_claim_batches, options=options, mappings=mappings), _CLAIMS
    )
    firsts = (
        claims.groupBy(F.lower("case_id").alias("_first_id"))
        .agg(
            F.count("*").alias("_copies"),
            F.min("order").alias("_first_order"),
            F.min_by("source", "order").alias("_first_source"),
            F.min_by("case_id", "order").alias("_first_spelling"),
        )
        .where(F.col("_copies") > 1)
        .select("_first_id", "_first_order", "_first_source", "_first_spelling")
    )
    # A broadcast join keeps the input's partitions and their row order.
    joined = base.join(F.broadcast(firsts), base["_key"] == firsts["_first_id"], "left")
    return joined.select(*_INPUT)


def _rows(
    df: DataFrame,
    case_column: str,
    source_column: str | None,
    line_column: str | None,
    order_column: str | None,
    options: ConvertOptions | None,
    mappings: str | None,
) -> DataFrame:
    options = options or ConvertOptions()
    prepared = _prepared(df, case_column, source_column, line_column, order_column, options, mappings)
    return prepared.mapInArrow(partial(_convert_batches, options=options, mappings=mappings), _ROWS)


def convert_cases(
    df: DataFrame,
    case_column: str = "case",
    *,
    source_column: str | None = None,
    line_column: str | None = None,
    order_column: str | None = None,
    options: ConvertOptions | None = None,
    mappings: str | None = None,
) -> DataFrame:
    """Convert a DataFrame with a column of case JSON (string or binary) into resource rows.

    The result has the columns of OUTPUT_SCHEMA: for each resource its source, case_id,
    resource_type and resource (one NDJSON line, without the newline); for each failed case one
    row with resource_type OperationOutcome and the message in `error`. A case id used twice is
    refused over the whole DataFrame, as `convert` refuses it (see the module's docstring for
    which copy is kept). `source_column` names the cases in messages (a file name, a registry
    key), `line_column` adds the line of that file (as read_ndjson_cases gives both); without them
    a case is "row N of partition P". `order_column` (integers, distinct) is the run's order;
    without it, the DataFrame's. Null and blank values are skipped, as `convert` skips a blank
    line. `mappings` is a directory of maps every executor can read (default: the shipped maps).
    Lazy, like any transformation; nothing runs until the result is written or collected.

    Example:
        convert_cases(spark.read.text("cases.ndjson"), "value").groupBy("resource_type").count()
    """
    from pyspark.sql import functions as F  # noqa: N812

    rows = _rows(df, case_column, source_column, line_column, order_column, options, mappings)
    return rows.where(F.col("kind") != "ledger").drop("kind")


def read_ndjson_cases(spark: SparkSession, paths: str | list[str]) -> DataFrame:
    """NDJSON files of cases (one case JSON per line) as `convert` reads them.

    Columns: `case` (the line), `file` (its path; a local file without file:, others as a URI),
    `line` (its number in the file, blank lines counted as convert counts them) and `order` (file
    by file in name order, then line by line: the order `convert` takes a glob's matches in).
    Give them to convert_ndjson or convert_cases as source_column="file", line_column="line",
    order_column="order". Runs one Spark job now, counting the lines of each part of each file.
    """
    from pyspark.sql import functions as F  # noqa: N812

    lines = spark.read.text(paths).select(
        F.col("value").alias("case"),
        F.col("_metadata.file_path").alias("_uri"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_pos"),
    )
    splits = (
        lines.groupBy("_uri", "_block")
        .agg(F.count("*").alias("lines"), F.min("_pos").alias("first"))
        .collect()
    )
    names = {row["_uri"]: _display(row["_uri"]) for row in splits}
    rank = {uri: n for n, uri in enumerate(sorted(names, key=lambda uri: names[uri]))}
    offsets, before = [], {}
    for row in sorted(splits, key=lambda r: (r["_uri"], r["_block"])):
        # A part's rows are consecutive in its task: line = lines in the earlier parts + 1 + (pos - first).
        earlier = before.get(row["_uri"], 0)
        offsets.append(
            (row["_uri"], row["_block"], names[row["_uri"]], rank[row["_uri"]], earlier + 1 - row["first"])
        )
        before[row["_uri"]] = earlier + row["lines"]
    table = spark.createDataFrame(offsets, "_uri string, _block long, file string, _rank long, _offset long")
    # A part the count did not see is a file that changed since: say so rather than lose its lines.
    changed = F.concat(F.col("_uri"), F.lit(": the file changed while it was read; run again"))
    line = F.when(F.col("_offset").isNull(), F.raise_error(changed)).otherwise(
        F.col("_offset") + F.col("_pos")
    )
    return lines.join(F.broadcast(table), ["_uri", "_block"], "left").select(
        "case", "file", line.alias("line"), (F.col("_rank") * (1 << _FILE_BITS) + line).alias("order")
    )


def _display(uri: str) -> str:
    """A file as convert would name it: a local path as a path, any other as its URI, unescaped."""
    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme == "file" else unquote(uri)


# ---------------------------------------------------------------------------------------------
# Writing


WRITE_REQUEST = "fhir_adapter.spark.write_ndjson"  # the manifest's request: there was no kick-off
_STAGING = "_staging"  # Spark's own output, moved into place file by file, then removed
_MODES = ("errorifexists", "error", "overwrite")


@dataclass(frozen=True)
class SparkRun:
    """What convert_ndjson did: the manifest it wrote and the run's summary, as `convert` gives it."""

    manifest: dict[str, Any]
    summary: RunSummary


def convert_ndjson(
    df: DataFrame,
    path: str,
    case_column: str = "case",
    *,
    source_column: str | None = None,
    line_column: str | None = None,
    order_column: str | None = None,
    options: ConvertOptions | None = None,
    mappings: str | None = None,
    mode: str = "errorifexists",
    report: str | None = None,
) -> SparkRun:
    """`fhir-adapter convert --format ndjson` on Spark: convert the cases, write them to `path` as
    write_ndjson does, and account for the run as `convert` does.

    The columns are convert_cases'. The conversion runs once, in the write; each partition's
    Ledger comes back with it and the driver merges them into the RunSummary: cases, failed,
    warnings, every failure's message, the terms kept as text, `line()` (the closing line) and
    `exit_code`. `report` (a file on the driver) gets what `convert --report` writes. Returns the
    manifest and the summary.
    """
    started = time.monotonic()
    rows = _rows(df, case_column, source_column, line_column, order_column, options, mappings)
    manifest, ledgers = _write(rows, path, mode)
    whole = Ledger()
    for text in ledgers:
        whole.merge(Ledger.from_json(text))
    summary = whole.close(time.monotonic() - started)
    if report:
        write_atomic(Path(report), dumps(summary.report_head()))
    log.info(
        "spark run finished: %d of %d case(s) converted in %.1fs, %d failed; wrote %s",
        summary.converted,
        summary.cases,
        summary.elapsed,
        summary.failed,
        path,
    )
    return SparkRun(manifest, summary)


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
    first). Returns the manifest. For the run's summary and report, use convert_ndjson.
    """
    from pyspark.sql import functions as F  # noqa: N812

    kind = F.when(F.col("error").isNull(), F.lit("output")).otherwise(F.lit("error"))
    manifest, _ = _write(converted.select(kind.alias("kind"), "resource_type", "resource"), path, mode)
    return manifest


def _write(rows: DataFrame, path: str, mode: str) -> tuple[dict[str, Any], list[str]]:
    """Rows (kind, resource_type, resource) -> the Bulk directory; returns its manifest and the ledgers."""
    from pyspark.sql import functions as F  # noqa: N812

    if mode not in _MODES:
        raise ConfigError(f"write_ndjson: mode {mode!r} is not one of {', '.join(_MODES)}")
    spark = rows.sparkSession
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
    (
        rows.select("kind", "resource_type", "resource")
        .write.option("compression", "none")
        .partitionBy("kind", "resource_type")
        .text(staging.toString())
    )
    # Lines per written file (the manifest's counts, exact however Spark split the output), and
    # the ledgers' text, in one read of what was written.
    file = F.input_file_name()
    written = (
        spark.read.text(staging.toString())
        .groupBy(file.alias("file"))
        .agg(
            F.count("*").alias("count"),
            F.collect_list(F.when(file.contains("/kind=ledger/"), F.col("value"))).alias("ledgers"),
        )
    )
    parts: dict[tuple[str, str], list[tuple[str, int]]] = {}
    ledgers: list[str] = []
    for row in written.collect():
        kind_dir, type_dir = row["file"].rsplit("/", 3)[1:3]
        key = (kind_dir.split("=", 1)[1], type_dir.split("=", 1)[1])
        if key[0] == "ledger":
            ledgers += row["ledgers"]
            continue
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
    return manifest, ledgers


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


# ---------------------------------------------------------------------------------------------
# spark-submit


_say_log = logging.getLogger(__name__ + ".main")  # the lines main() shows, as the CLI shows them


def _say(line: str, level: int = logging.INFO) -> None:
    _say_log.log(level, "%s", printable_lines(line))


def _render(summary: RunSummary) -> None:
    """Tell a finished run as `convert` tells it: each failure, the terms kept as text, the closing line."""
    for failure in summary.failures:
        for warning in failure.warnings:
            _say(f"warning: {failure.source}: {warning}", logging.WARNING)
        for line in failure.message.splitlines():
            _say(f"Error: {line}", logging.ERROR)
    for line in summary.text_only_lines():
        _say(line, logging.WARNING)
    if (line := summary.line()) is not None:
        _say(line)


def main(argv: list[str] | None = None) -> int:
    """A spark-submit driver: NDJSON files of cases (one case JSON per line) -> NDJSON resources.

    Call it from a one-line driver file (a script inside the package cannot be submitted itself,
    as its relative imports need the package):

        # convert_on_spark.py
        import sys; from fhir_adapter.spark import main; sys.exit(main())

        spark-submit --master yarn convert_on_spark.py 'hdfs:///registry/*.ndjson' hdfs:///bulk/ --report report.json

    It tells the run on stderr as `fhir-adapter convert --format ndjson` does and returns its exit code.
    """
    parser = argparse.ArgumentParser(
        prog="spark-submit DRIVER.py",
        description="Convert NDJSON files of cases into FHIR Bulk Data NDJSON on Spark.",
    )
    parser.add_argument("cases", help="NDJSON files of cases: a path or a glob (quoted)")
    parser.add_argument("output", help="a new directory for the Bulk Data output")
    parser.add_argument("--report", help="write the run's report (JSON) to this file, as convert --report")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    _say_log.addHandler(handler)
    _say_log.setLevel(logging.INFO)
    _say_log.propagate = False
    try:
        return _submit(args.cases, args.output, args.report)
    finally:
        _say_log.removeHandler(handler)


def _submit(cases_path: str, output: str, report: str | None) -> int:
    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("fhir-adapter convert").getOrCreate()
    try:
        try:
            cases = read_ndjson_cases(spark, cases_path)
        except AnalysisException as exc:
            if exc.getCondition() != "PATH_NOT_FOUND":
                raise
            _say(f"Error: {cases_path}: no file matches", logging.ERROR)
            return EXIT_CONFIG
        run = convert_ndjson(
            cases,
            output,
            source_column="file",
            line_column="line",
            order_column="order",
            report=report,
        )
    except ConfigError as exc:
        _say(f"Error: {exc}", logging.ERROR)
        return exc.exit_code
    finally:
        spark.stop()
    _render(run.summary)
    if run.summary.cases == 0:
        _say(f"Error: no case found in {cases_path}", logging.ERROR)
        return EXIT_CONFIG
    return run.summary.exit_code
