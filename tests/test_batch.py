"""Batch conversion: directories, globs, NDJSON in and out, parallel jobs, error reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_CONFIG, EXIT_INVALID_CASE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def corpus(tmp_path: Path, copies: int = 4) -> Path:
    """A tree of case files: each example several times under new ids, in nested folders."""
    root = tmp_path / "cases"
    for n in range(copies):
        folder = root / f"batch-{n}"
        folder.mkdir(parents=True)
        for example in EXAMPLES.glob("*.yaml"):
            text = example.read_text()
            case_id = next(
                line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("  id:")
            )
            (folder / example.name).write_text(text.replace(f"id: {case_id}", f"id: {case_id}-{n}", 1))
    return root


def test_directory_in_bundles_out(tmp_path):
    root = corpus(tmp_path)
    out = tmp_path / "out"
    result = run("convert", "-q", str(root), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    n = 4 * len(list(EXAMPLES.glob("*.yaml")))
    assert len(list(out.glob("*.json"))) == n
    assert f"{n} of {n} case(s) converted" in result.stderr


def test_glob_input(tmp_path):
    root = corpus(tmp_path, copies=2)
    out = tmp_path / "out"
    result = run("convert", "-q", str(root / "**" / "yu-*.yaml"), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.json")) == [
        "yu-2024-case-1-0.json", "yu-2024-case-1-1.json", "yu-2024-case-2-0.json", "yu-2024-case-2-1.json"
    ]  # fmt: skip


def test_bulk_ndjson_output_one_file_per_type(tmp_path):
    root = corpus(tmp_path, copies=2)
    out = tmp_path / "bulk"
    result = run("convert", "-q", str(root), "--format", "ndjson", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    files = sorted(p.name for p in out.iterdir())
    # One file per resource type the examples give, and the manifest.
    types = {
        e["resource"]["resourceType"]
        for p in EXAMPLES.glob("*.bundle.json")
        for e in json.loads(p.read_text())["entry"]
    }
    assert files == sorted([*(f"{t}.ndjson" for t in types), "manifest.json"])
    patients = [json.loads(line) for line in (out / "Patient.ndjson").read_text().splitlines()]
    n = 2 * len(list(EXAMPLES.glob("*.yaml")))
    assert len(patients) == n and all(p["resourceType"] == "Patient" for p in patients)
    bundles = tmp_path / "bundles"
    assert run("convert", "-q", str(root), "-o", str(bundles)).exit_code == 0
    # The same resources as in the bundles, one per line, with urn:uuid references as Type/id.
    in_bundles = []
    for b in bundles.glob("*.json"):
        text = b.read_text()
        for e in json.loads(text)["entry"]:
            r = e["resource"]
            text = text.replace(f'"{e["fullUrl"]}"', f'"{r["resourceType"]}/{r["id"]}"')
        in_bundles += [json.dumps(e["resource"], sort_keys=True) for e in json.loads(text)["entry"]]
    in_ndjson = sorted(
        json.dumps(json.loads(line), sort_keys=True)
        for f in out.glob("*.ndjson")
        for line in f.read_text().splitlines()
    )
    in_bundles.sort()
    assert in_ndjson == in_bundles


def test_ndjson_of_cases_in(tmp_path):
    lines = [
        json.dumps(
            {"case": {"id": f"n{i}"}, "patient": {"sex": "female"}, "primary_cancers": [{"site": "breast"}]}
        )
        for i in range(3)
    ]
    lines.insert(
        1,
        json.dumps({"case": {"id": "bad"}, "patient": {"sex": "f"}, "primary_cancers": [{"site": "breast"}]}),
    )
    source = tmp_path / "cases.ndjson"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = run("convert", "-q", str(source), "-o", str(out))
    assert result.exit_code == EXIT_INVALID_CASE
    assert sorted(p.name for p in out.iterdir()) == ["n0.json", "n1.json", "n2.json"]
    assert f"Error: {source}:2: patient.sex: 'f' is not allowed" in result.stderr


def test_bad_cases_go_to_the_error_report_and_the_run_goes_on(tmp_path):
    root = corpus(tmp_path, copies=1)
    (root / "batch-0" / "broken.yaml").write_text(
        "case: {id: broken}\npatient: {sex: female}\nprimary_cancers: []\n"
    )
    (root / "batch-0" / "empty.json").write_text("")
    out, errors = tmp_path / "out", tmp_path / "errors"
    result = run("convert", "-q", str(root), "-o", str(out), "--errors-to", str(errors))
    assert result.exit_code == EXIT_INVALID_CASE
    n = len(list(EXAMPLES.glob("*.yaml")))
    assert len(list(out.glob("*.json"))) == n
    reports = sorted(p.name for p in errors.iterdir())
    assert len(reports) == 2 and all(name.endswith(".error.txt") for name in reports)
    text = (errors / next(n for n in reports if "broken" in n)).read_text()
    assert "primary_cancers: List should have at least 1 item" in text
    assert f"{n} of {n + 2} case(s) converted" in result.stderr and "2 failed" in result.stderr


def test_parallel_jobs_give_the_same_output(tmp_path):
    root = corpus(tmp_path, copies=3)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run("convert", "-q", str(root), "-o", str(one)).exit_code == 0
    result = run("convert", "-q", str(root), "-o", str(two), "--jobs", "2")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    assert all((one / n).read_bytes() == (two / n).read_bytes() for n in names)


def test_empty_directory_is_an_error(tmp_path):
    (tmp_path / "nothing").mkdir()
    result = run("convert", str(tmp_path / "nothing"), "-o", str(tmp_path / "out"))
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr == (
        f"Error: {tmp_path / 'nothing'}: no case file in it (looked for .yaml, .yml, .json, .ndjson;"
        f" spreadsheets (.csv, .tsv, .xlsx) are read when named, e.g. {tmp_path / 'nothing'}/*.csv)\n"
    )


def test_golden_bundles_in_examples_are_not_taken_for_cases(tmp_path):
    target = tmp_path / "ex"
    shutil.copytree(EXAMPLES, target)
    result = run("convert", "-q", str(target), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "out").iterdir())) == len(list(EXAMPLES.glob("*.yaml")))


def test_seen_ids_find_the_first_use_among_many():
    from fhir_adapter.batch import SeenIds

    seen = SeenIds()
    assert all(seen.add(f"case-{i}", i) is None for i in range(20000))
    assert seen.add("case-12345", 20000) == 12345
    assert seen.add("case-new", 20001) is None
