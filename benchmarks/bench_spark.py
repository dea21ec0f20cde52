"""Cases/s of the Spark path (fhir_adapter.spark, local mode at 1 and 2 cores) beside `convert --jobs`.

    python benchmarks/bench_spark.py --cases 5000 --cores 1,2 --jobs 1,2

Needs the spark extra (`pip install -e '.[spark]'`) and Java 17. N seeded synthetic cases are
written as NDJSON files of cases (one case JSON per line; not timed). Each Spark configuration runs
in its own process: the SparkSession start is reported on its own, then the same conversion
(read the case files, convert_cases, write_ndjson) is timed twice: the first run includes starting
the Python workers (each imports fhir_adapter and loads the maps), the second reuses them. The CLI
runs `fhir-adapter convert CASES --format ndjson -o DIR --jobs J` as a user would, process start
included. The machine's other load is not controlled: run on a quiet machine, and compare figures
from one run only.

    python benchmarks/bench_spark.py --crossover 2000,10000,30000 --spark-cores 2 --cli-jobs 2

--crossover runs both paths at each size (fresh cases, a fresh Spark process) and fits a fixed
cost and a cost per case through the smallest and largest size, for a new Spark job (start and
first run), a Spark job on warm workers, and `convert --jobs`: it says from how many cases Spark
is faster, or that it never is on this machine.

With --pathling, Pathling 6.3.1 (in .venv-pathling, see the README's "Analysing the output") then
encodes the NDJSON that `convert --jobs 1` wrote, in a process of its own on local[2]: its Spark
start, then every resource type encoded into Pathling's Spark rows (written to Spark's no-op sink,
so every column is computed), twice, and the README's three FHIRPath questions. Resources/s =
resources in the files / seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
FILES = 4  # NDJSON files of cases: Spark splits them into at least one partition per core


def write_ndjson_cases(directory: Path, count: int, seed: int) -> None:
    from synthetic import CaseGenerator

    gen = CaseGenerator(seed)
    directory.mkdir(parents=True)
    handles = [open(directory / f"cases-{n}.ndjson", "w", encoding="utf-8") for n in range(FILES)]  # noqa: SIM115
    try:
        for index in range(count):
            handles[index % FILES].write(json.dumps(gen.case(index)) + "\n")
    finally:
        for fh in handles:
            fh.close()


def spark_child(cases: str, out: str, cores: int) -> dict:
    """In a fresh process: start Spark on local[cores], convert the cases twice, return timings."""
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run this venv's Python
    from pyspark.sql import SparkSession

    from fhir_adapter.spark import convert_cases, write_ndjson

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("fhir-adapter bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter() - started
    runs = []
    for n in range(2):
        t = time.perf_counter()
        df = spark.read.text(f"{cases}/*.ndjson")
        manifest = write_ndjson(convert_cases(df, "value"), f"{out}/run-{n}")
        runs.append(time.perf_counter() - t)
    partitions = spark.read.text(f"{cases}/*.ndjson").rdd.getNumPartitions()
    resources = sum(item["count"] for item in manifest["output"])
    spark.stop()
    return {
        "session": session,
        "first": runs[0],
        "warm": runs[1],
        "partitions": partitions,
        "resources": resources,
    }


def pathling_child(directory: str) -> dict:
    """In .venv-pathling's Python: start Pathling on local[2], encode every type twice, ask the questions."""
    from pathling import PathlingContext
    from pathling.etc import find_jar
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("fhir-adapter bench pathling")
        .config("spark.jars", find_jar())
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.optimizer.serializer.nestedSchemaPruning.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    pc = PathlingContext.create(spark, enable_terminology=False)
    session = time.perf_counter() - started
    manifest = json.loads((Path(directory) / "manifest.json").read_text(encoding="utf-8"))
    runs = []
    for _ in range(2):
        t = time.perf_counter()
        data = pc.read.ndjson(directory)
        for item in manifest["output"]:
            data.read(item["type"]).write.format("noop").mode("overwrite").save()
        runs.append(time.perf_counter() - t)
    readme = (HERE.parent / "README.md").read_text(encoding="utf-8")
    script = readme.split("<!-- pathling-script -->\n```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {"__name__": "questions"}
    sys.argv = [sys.argv[0]]  # the script answers for its arguments: none here
    exec(compile(script, "questions.py", "exec"), namespace)  # noqa: S102 - the README's own script
    t = time.perf_counter()
    namespace["answers"](pc.read.ndjson(directory))
    questions = time.perf_counter() - t
    spark.stop()
    return {
        "session": session,
        "first": runs[0],
        "warm": runs[1],
        "questions": questions,
        "resources": sum(item["count"] for item in manifest["output"]),
    }


def run_pathling(directory: Path) -> None:
    python = HERE.parent / ".venv-pathling" / "bin" / "python"
    if not python.exists():
        sys.exit(f"--pathling needs {python} (see the README's Analysing the output)")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": str(python)}
    cmd = [str(python), __file__, "--pathling-child", str(directory)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"Pathling failed:\n{proc.stderr[-3000:]}")
    r = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    n = r["resources"]
    print(
        f"pathling 6.3.1 local[2]: start {r['session']:.1f} s; encode {n} resources"
        f" {r['first']:.1f} s ({n / r['first']:.0f}/s), warm {r['warm']:.1f} s ({n / r['warm']:.0f}/s);"
        f" the README's three questions {r['questions']:.1f} s",
        flush=True,
    )


def _cli_seconds(cases: Path, out: Path, jobs: int) -> float:
    cli = shutil.which("fhir-adapter", path=str(Path(sys.executable).parent)) or "fhir-adapter"
    cmd = [cli, "convert", "-q", str(cases), "--format", "ndjson", "-o", str(out), "--jobs", str(jobs)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"convert --jobs {jobs} failed:\n{proc.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def crossover(args) -> None:
    """Spark local[C] against convert --jobs J at several sizes: per-case cost and where Spark wins.

    A fixed cost (Spark: the JVM and the session, the Python workers; convert: the process and the
    worker pool) plus a cost per case, fitted through the smallest and largest size. Spark wins
    from the size where the two lines cross, if its cost per case is the lower.
    """
    sizes = sorted(int(n) for n in args.crossover.split(",") if n)
    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-spark-"))
    rows = {}
    try:
        for n in sizes:
            cases = work / f"cases-{n}"
            write_ndjson_cases(cases, n, args.seed)
            load = os.getloadavg()[0]
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(cases),
                str(work / "spark"),
                str(args.spark_cores),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"Spark local[{args.spark_cores}] failed:\n{proc.stderr[-3000:]}")
            spark = json.loads(proc.stdout.strip().splitlines()[-1])
            shutil.rmtree(work / "spark", ignore_errors=True)
            cli = _cli_seconds(cases, work / "cli", args.cli_jobs)
            rows[n] = {**spark, "job": spark["session"] + spark["first"], "cli": cli}
            rows[n]["load"] = (load + os.getloadavg()[0]) / 2
            r = rows[n]
            print(
                f"{n:>8} {r['session']:>8.1f} {r['first']:>8.1f} {r['job']:>8.1f} ({n / r['job']:>4.0f}/s)"
                f" {r['warm']:>8.1f} ({n / r['warm']:>4.0f}/s) {cli:>8.1f} ({n / cli:>4.0f}/s) {r['load']:>5.1f}",
                flush=True,
            )
            shutil.rmtree(cases, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    low, high = rows[sizes[0]], rows[sizes[-1]]
    span = sizes[-1] - sizes[0]

    def line(key: str) -> tuple[float, float]:
        per_case = (high[key] - low[key]) / span
        return low[key] - per_case * sizes[0], per_case

    cli0, cli1 = line("cli")
    print(f"convert --jobs {args.cli_jobs}: {cli0:.1f} s fixed + {1e6 * cli1:.0f} us per case")
    for key, what in (("job", "a new Spark job"), ("warm", "a Spark job on warm workers")):
        fixed, per_case = line(key)
        print(
            f"{what} (local[{args.spark_cores}]): {fixed:.1f} s fixed + {1e6 * per_case:.0f} us per case",
            end="",
        )
        if per_case < cli1:
            print(f"; faster than convert from {max(0.0, (fixed - cli0) / (cli1 - per_case)):,.0f} cases")
        else:
            print("; never faster than convert on this machine (its cost per case is not lower)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--cores", default="1,2", help="Spark local[N] configurations")
    parser.add_argument("--jobs", default="1,2", help="convert --jobs configurations")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pathling", action="store_true", help="also time Pathling encoding the output")
    parser.add_argument("--child", nargs=3, metavar=("CASES", "OUT", "CORES"), help=argparse.SUPPRESS)
    parser.add_argument("--pathling-child", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument(
        "--crossover", metavar="SIZES", help="sizes (e.g. 2000,10000,30000): Spark against convert at each"
    )
    parser.add_argument("--spark-cores", type=int, default=2, help="local[N] for --crossover")
    parser.add_argument("--cli-jobs", type=int, default=2, help="convert --jobs for --crossover")
    args = parser.parse_args()
    if args.child:
        cases, out, cores = args.child
        print(json.dumps(spark_child(cases, out, int(cores))))
        return
    if args.pathling_child:
        print(json.dumps(pathling_child(args.pathling_child)), flush=True)
        return
    if args.crossover:
        print(
            f"Spark local[{args.spark_cores}] against convert --jobs {args.cli_jobs} --format ndjson;"
            " seconds (cases/s); a new job = Spark start + first run"
        )
        print(
            f"{'N':>8} {'start':>8} {'first':>8} {'new job':>16} {'warm run':>15} {'convert':>15} {'load':>5}"
        )
        crossover(args)
        return

    work = Path(tempfile.mkdtemp(prefix="fhir-adapter-bench-spark-"))
    try:
        cases = work / "cases"
        write_ndjson_cases(cases, args.cases, args.seed)
        n = args.cases
        print(f"{n} synthetic cases in {FILES} NDJSON files; cases/s = {n} / seconds")
        print(f"{'path':<28} {'start s':>8} {'run s':>8} {'cases/s':>8} {'warm s':>8} {'cases/s':>8}")
        for cores in [int(c) for c in args.cores.split(",") if c]:
            out = work / f"spark-{cores}"
            cmd = [sys.executable, __file__, "--child", str(cases), str(out), str(cores)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"Spark local[{cores}] failed:\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            label = f"spark local[{cores}] ({r['partitions']} parts)"
            print(
                f"{label:<28} {r['session']:>8.1f} {r['first']:>8.1f} {n / r['first']:>8.0f}"
                f" {r['warm']:>8.1f} {n / r['warm']:>8.0f}",
                flush=True,
            )
            shutil.rmtree(out, ignore_errors=True)
        cli = shutil.which("fhir-adapter", path=str(Path(sys.executable).parent)) or "fhir-adapter"
        for jobs in [int(j) for j in args.jobs.split(",") if j]:
            out = work / f"cli-{jobs}"
            t = time.perf_counter()
            cmd = [
                cli,
                "convert",
                "-q",
                str(cases),
                "--format",
                "ndjson",
                "-o",
                str(out),
                "--jobs",
                str(jobs),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t
            if proc.returncode != 0:
                sys.exit(f"convert --jobs {jobs} failed:\n{proc.stderr[-3000:]}")
            label = f"convert --jobs {jobs}"
            print(f"{label:<28} {'':>8} {seconds:>8.1f} {n / seconds:>8.0f}", flush=True)
            if args.pathling and jobs == 1:
                run_pathling(out)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
