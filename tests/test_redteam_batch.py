"""Attacks on the batch engine: one case that breaks fhir-adapter itself, a worker process that
dies, and the same run on one core and on several.

Faults fhir-adapter's own code will not produce (an exception no AdapterError, a worker killed in
the middle of a case) are injected: in this process by patching `convert.build_bundle`, in the
worker processes of `--jobs` by a `sitecustomize` module on PYTHONPATH that patches it there when
FHIR_ADAPTER_TEST_INJECT names the fault.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import fhir_adapter.convert as convert_module
from fhir_adapter.engine import convert_many

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "yu-2024-case-1.yaml"
VICTIM = "c-005"  # the case the injected fault strikes

INJECTOR = f'''
import os
import signal

fault = os.environ.get("FHIR_ADAPTER_TEST_INJECT")
if fault:
    import fhir_adapter.convert as convert_module

    real = convert_module.build_bundle

    def build_bundle(case, *args, **kwargs):
        if case.case.id == "{VICTIM}":
            if fault == "kill":
                os.kill(os.getpid(), 9)
            if fault == "raise":
                raise KeyError("injected")
            if fault == "hang":
                open(os.environ["FHIR_ADAPTER_TEST_MARK"], "w").close()
                import time

                time.sleep(600)
        return real(case, *args, **kwargs)

    convert_module.build_bundle = build_bundle

    if fault == "unpicklable":
        import fhir_adapter.batch as batch_module

        real_source = batch_module.convert_source

        def convert_source(source, *args, **kwargs):
            result = real_source(source, *args, **kwargs)
            if result.case_id == "{VICTIM}":
                result.origins = {{"x": lambda: None}}  # an answer that cannot go back to the run
            return result

        batch_module.convert_source = convert_source
'''


def cohort(root: Path, n: int = 24) -> Path:
    """n cases, one in seven invalid, half as YAML files, half as lines of one NDJSON file."""
    base = yaml.safe_load(EXAMPLE.read_text())
    cases = root / "cases"
    cases.mkdir()
    lines = []
    for i in range(n):
        data = copy.deepcopy(base)
        data["case"]["id"] = f"c-{i:03d}"
        if i % 7 == 3:
            data["patient"]["sex"] = "banana"
        if i % 2:
            (cases / f"c{i:03d}.yaml").write_text(yaml.safe_dump(data))
        else:
            lines.append(json.dumps(data))
    (cases / "cohort.ndjson").write_text("\n".join(lines) + "\n")
    return cases


def run_cli(tmp_path: Path, *args: str, inject: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if inject:
        hooks = tmp_path / "hooks"
        hooks.mkdir(exist_ok=True)
        (hooks / "sitecustomize.py").write_text(INJECTOR)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")]))
        env["FHIR_ADAPTER_TEST_INJECT"] = inject
    return subprocess.run(
        [sys.executable, "-m", "fhir_adapter.cli", "convert", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_an_internal_error_in_one_case_fails_that_case_alone(tmp_path, monkeypatch):
    cases = cohort(tmp_path)
    real = convert_module.build_bundle

    def build_bundle(case, *args, **kwargs):
        if case.case.id == VICTIM:
            raise KeyError("injected")
        return real(case, *args, **kwargs)

    monkeypatch.setattr(convert_module, "build_bundle", build_bundle)
    summary = convert_many([str(cases)], output=str(tmp_path / "out"), errors_to=str(tmp_path / "errors"))
    assert (summary.cases, summary.failed, summary.exit_code) == (24, 4, 3)
    [failure] = [f for f in summary.failures if "c005" in f.source]
    assert "internal error (KeyError: 'injected' at fhir_adapter/convert.py:" in failure.message
    assert "please report it" in failure.message
    assert len(list((tmp_path / "out").iterdir())) == 20
    [error_file] = [p for p in (tmp_path / "errors").iterdir() if "c005" in p.name]
    assert "KeyError: 'injected'" in error_file.read_text()


@pytest.mark.parametrize("fault", ["raise", "kill", "unpicklable"])
def test_a_fault_in_a_worker_process_fails_that_case_alone(tmp_path, fault):
    """An exception in a worker, or a worker killed (kill -9) while it converts a case: the run
    ends, the other cases are converted exactly as on one core, and that case is reported."""
    cases = cohort(tmp_path)
    clean = run_cli(tmp_path, str(cases), "-o", str(tmp_path / "clean"), "--jobs", "1")
    assert clean.returncode == 3, clean.stderr
    hit = run_cli(
        tmp_path,
        str(cases),
        "-o",
        str(tmp_path / "hit"),
        "--jobs",
        "2",
        "--errors-to",
        str(tmp_path / "errors"),
        inject=fault,
    )
    assert hit.returncode == 3, hit.stderr
    assert "Traceback" not in hit.stderr
    expected = files(tmp_path / "clean")
    del expected[f"{VICTIM}.json"]
    assert files(tmp_path / "hit") == expected
    assert "20 of 24 case(s) converted" in hit.stderr and "4 failed" in hit.stderr
    why = {
        "raise": "internal error (KeyError: 'injected' at fhir_adapter/",
        "kill": "ended without an answer",
        "unpicklable": "internal error (",
    }[fault]
    [error_file] = [p for p in (tmp_path / "errors").iterdir() if "c005" in p.name]
    assert why in error_file.read_text()


def big_ndjson(root: Path, n: int) -> Path:
    base = yaml.safe_load(EXAMPLE.read_text())
    path = root / "big.ndjson"
    with path.open("w") as out:
        for i in range(n):
            base["case"]["id"] = f"b-{i:05d}"
            out.write(json.dumps(base) + "\n")
    return path


def test_workers_end_with_a_run_that_is_killed(tmp_path):
    """kill -9 of `convert --jobs 2` in the middle: its worker processes end too. They used to
    wait for work forever, holding the run's stderr open, so that whoever read it (a pipe to
    `tee`, a CI log) waited forever as well."""
    cases = big_ndjson(tmp_path, 20000)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fhir_adapter.cli", "convert", str(cases), "--jobs", "2", "--format", "ndjson"]
        + ["-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        partial = out / ".Patient.ndjson.partial"
        while not (partial.exists() and partial.stat().st_size) and proc.poll() is None:
            assert time.monotonic() < deadline, "the run wrote nothing in 120 s"
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed: give it more cases"
        proc.kill()
        # stderr ends only once every process holding it (the workers) has ended.
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the run left behind, for the next test
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("*.ndjson"))  # only hidden .partial files: nothing a reader takes as whole


def test_a_case_fixed_since_the_last_run_loses_its_error_file(tmp_path):
    """A second run into the same --errors-to directory: the error file of a case that converts
    now is removed (it would contradict the case's new bundle); the other failures' stay."""
    cases = cohort(tmp_path)
    errors = tmp_path / "errors"
    first = convert_many([str(cases)], output=str(tmp_path / "out"), errors_to=str(errors))
    assert first.failed == 3
    before = sorted(p.name for p in errors.iterdir())
    [fixed] = [p for p in before if "c003" in p]
    data = yaml.safe_load((cases / "c003.yaml").read_text())
    data["patient"]["sex"] = "female"
    (cases / "c003.yaml").write_text(yaml.safe_dump(data))
    (errors / "notes.txt").write_text("mine")
    second = convert_many([str(cases)], output=str(tmp_path / "out"), errors_to=str(errors))
    assert second.failed == 2
    assert sorted(p.name for p in errors.iterdir()) == sorted({*before, "notes.txt"} - {fixed})


class CountingBar:
    """Stands in for tqdm: keeps the count the bar would show, shown or not."""

    bars: list[CountingBar] = []

    def __init__(self, *args, **kwargs):
        self.n = 0
        self.unit = kwargs.get("unit")
        CountingBar.bars.append(self)

    def update(self, n: int = 1) -> None:
        self.n += n

    def write(self, line: str, file=None) -> None:
        print(line, file=file)

    def close(self) -> None:
        pass


def test_the_progress_of_convert_post_counts_each_case_once(tmp_path, monkeypatch):
    """convert --post tells each case twice (converted, then sent or not): its bar of cases used
    to count both, showing twice as many cases as the run had."""
    from click.testing import CliRunner
    from support.fhir_server import free_port

    import fhir_adapter.cli as cli

    cases = cohort(tmp_path, n=6)  # c-003 is invalid: 5 converted, 1 failed
    monkeypatch.setattr(cli, "tqdm", CountingBar)
    CountingBar.bars = []
    server = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens: each send fails quickly
    args = ["--server", server, "--max-time", "0.3", "--timeout", "0.3", "--outbox", str(tmp_path / "ob")]
    result = CliRunner().invoke(cli.main, ["convert", str(cases), "--post", *args])
    assert "0 of 5 bundle(s) sent" in result.output and "c003.yaml:38: patient.sex" in result.output
    [bar] = CountingBar.bars
    assert (bar.unit, bar.n) == (" cases", 6)


def test_ctrl_c_ends_a_run_whose_worker_is_stuck_in_a_case(tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while a worker is stuck in a
    case that never ends: the run stops at once, and its workers with it."""
    cases = cohort(tmp_path)
    mark = tmp_path / "stuck"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(INJECTOR)
    env = dict(os.environ, FHIR_ADAPTER_TEST_INJECT="hang", FHIR_ADAPTER_TEST_MARK=str(mark))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fhir_adapter.cli",
            "convert",
            str(cases),
            "--jobs",
            "2",
            "-o",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the worker never reached the case"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # ends once every process holding stderr has ended
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1 and err.rstrip().endswith("Aborted!"), err
    assert "Traceback" not in err


def test_jobs_from_a_script_without_a_main_guard_is_a_sentence(tmp_path):
    """convert_many(jobs=2) at the top level of a script: each worker imports the script again and
    ends as it starts. The run used to wait forever (multiprocessing.Pool starting workers again
    and again); now it stops at once with ConfigError saying what to do."""
    cases = cohort(tmp_path, n=4)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from fhir_adapter import convert_many\n"
        f"summary = convert_many([{str(cases)!r}], output={str(tmp_path / 'out')!r}, jobs=2)\n"
        "print('converted', summary.converted)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 1
    assert "ConfigError: --jobs: the worker processes end as they start" in done.stderr
    assert 'under `if __name__ == "__main__":`' in done.stderr
    assert "converted" not in done.stdout
