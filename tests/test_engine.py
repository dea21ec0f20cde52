"""The run engine under every front door: the library's convert_many gives the command line's run,
posting streams (the first bundle is on the server before the last case is converted), and the
log file keeps every message with its time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fhir_adapter import PostSettings, convert_many, engine
from fhir_adapter.api import server_settings
from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_INVALID_CASE, ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASE = EXAMPLES / "yu-2024-case-1.yaml"


def small_case(case_id: str, site: str = "scalp") -> str:
    return (
        f"case: {{id: {case_id}}}\npatient: {{sex: female}}\n"
        f"primary_cancers: [{{site: breast, laterality: left}}]\nmetastases: [{{site: {site}}}]\n"
    )


@pytest.fixture
def batch(tmp_path) -> Path:
    """Three good cases, one invalid, one that repeats an id, one with a term kept as text."""
    root = tmp_path / "cases"
    root.mkdir()
    for n in range(3):
        (root / f"c{n}.yaml").write_text(small_case(f"case-{n}"))
    (root / "d-bad.yaml").write_text("case: {id: bad}\npatient: {sex: f}\n")
    (root / "e-again.yaml").write_text(small_case("case-1"))
    (root / "f-odd.yaml").write_text(small_case("case-odd", site="left little toe of an elf"))
    return root


def test_convert_many_is_the_cli_run(batch, tmp_path):
    lib_out, cli_out = tmp_path / "lib", tmp_path / "cli"
    events: list[engine.Event] = []
    summary = convert_many(
        [str(batch)], output=str(lib_out), errors_to=str(tmp_path / "errs"), on_event=events.append
    )
    cli = CliRunner().invoke(main, ["convert", str(batch), "-o", str(cli_out)])

    assert (summary.cases, summary.converted, summary.failed) == (6, 4, 2)
    assert summary.exit_code == cli.exit_code == EXIT_INVALID_CASE
    # The same files, byte for byte.
    assert sorted(p.name for p in lib_out.iterdir()) == sorted(p.name for p in cli_out.iterdir())
    for path in lib_out.iterdir():
        assert path.read_bytes() == (cli_out / path.name).read_bytes()
    # The same failures, in the same words.
    failed = [e for e in events if isinstance(e, engine.Failed)]
    assert [f.source for f in failed] == [f.source for f in summary.failures]
    assert any("patient.sex" in f.message for f in failed)
    duplicate = next(f for f in failed if "e-again" in f.source)
    assert "case id 'case-1' is already used by" in duplicate.message and "c1.yaml" in duplicate.message
    for f in failed:
        assert f"Error: {f.message.splitlines()[0]}" in cli.stderr
    # The text-only tally, once per term.
    assert summary.text_only and all("'left little toe of an elf'" in line for line in summary.text_only)
    assert summary.line() is not None and summary.line().split(" in ")[0] in cli.stderr
    assert len(list((tmp_path / "errs").iterdir())) == 2
    # The events: one per case, and the last is the summary.
    assert isinstance(events[-1], engine.Finished) and events[-1].summary is summary
    assert sum(isinstance(e, engine.Converted | engine.Failed) for e in events) == 6


def test_convert_many_refuses_settings_that_cannot_work(tmp_path):
    with pytest.raises(ConfigError, match="give a directory with -o DIR"):
        convert_many([str(CASE)], out_format="ndjson")
    with pytest.raises(ConfigError, match="- \\(stdin\\) can be given once"):
        convert_many(["-", "-"])
    # An input with no case in it is told as an event and decides the exit code, as on the CLI.
    events: list[engine.Event] = []
    summary = convert_many([str(CASE), str(tmp_path / "nothing-*.yaml")], on_event=events.append)
    assert summary.converted == 1 and summary.exit_code == 7
    notices = [e for e in events if isinstance(e, engine.Notice)]
    assert [n.level for n in notices] == ["error"] and "nothing-*.yaml: no file matches" in notices[0].message


def test_convert_many_writes_nothing_without_an_output(tmp_path, capsys):
    summary = convert_many([str(CASE)])
    assert summary.converted == 1 and summary.exit_code == 0
    assert capsys.readouterr().out == ""


@pytest.mark.integration
def test_post_streams_each_window_to_the_server_before_the_run_ends(fhir_server, tmp_path):
    root = tmp_path / "cases"
    root.mkdir()
    for n in range(7):
        (root / f"c{n}.yaml").write_text(small_case(f"stream-{n}"))
    post = PostSettings(server_settings(fhir_server.base_url), outbox=str(tmp_path / "outbox"), window=2)
    events: list[engine.Event] = []
    summary = convert_many([str(root)], post=post, on_event=events.append)

    assert summary.exit_code == 0 and summary.push is not None and summary.push.counts["sent"] == 7
    kinds = [type(e).__name__ for e in events]
    # Posting began while cases were still being converted: not all conversions, then all posts.
    first_post = kinds.index("Posted")
    last_converted = len(kinds) - 1 - kinds[::-1].index("Converted")
    assert first_post < last_converted, kinds
    # Never more than a window (and the one being pulled) converted ahead of what was sent.
    ahead = 0
    for kind in kinds:
        ahead += kind == "Converted"
        ahead -= kind == "Posted"
        assert ahead <= 3, kinds
    assert not list((tmp_path / "outbox" / "pending").glob("*.json"))
    assert len(list((tmp_path / "outbox" / "sent").glob("*.json"))) == 7


@pytest.mark.integration
def test_convert_post_report_lists_every_case_and_the_text_only_terms(fhir_server, batch, tmp_path):
    (batch / "d-bad.yaml").unlink()
    (batch / "e-again.yaml").unlink()
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        ["convert", str(batch), "--post", "--server", fhir_server.base_url, "--outbox", str(tmp_path / "ob"),
         "--report", str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["server"] == fhir_server.base_url
    assert data["summary"]["sent"] == 4
    assert sorted(c["case"] for c in data["cases"]) == ["case-0", "case-1", "case-2", "case-odd"]
    assert {t["term"] for t in data["text_only"]} == {"left little toe of an elf"}
    assert "4 of 4 bundle(s) sent to" in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.json")]  # no spool left


def test_log_file_keeps_every_message_with_its_time(batch, tmp_path):
    log = tmp_path / "run.log"
    result = CliRunner().invoke(
        main, ["--log-file", str(log), "convert", str(batch), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == EXIT_INVALID_CASE
    text = log.read_text()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    assert re.search(rf"^{stamp}\S* INFO fhir_adapter.engine: run started: 1 input", text, re.M), text
    assert re.search(rf"^{stamp}\S* ERROR fhir_adapter.cli: Error: .*d-bad.yaml", text, re.M), text
    assert re.search(rf"^{stamp}\S* INFO fhir_adapter.cli: 4 of 6 case\(s\) converted", text, re.M), text
    assert re.search(rf"^{stamp}\S* INFO fhir_adapter.engine: run finished", text, re.M), text
    # On stderr the lines are as before: no timestamps, no logger names, no line twice.
    assert "fhir_adapter.cli" not in result.stderr and "run started" not in result.stderr
    for name in ("d-bad.yaml:1: primary_cancers", "e-again.yaml: case id"):
        assert result.stderr.count(name) == 1, result.stderr


def test_verbose_shows_the_library_detail_and_quiet_hides_warnings(batch, tmp_path):
    loud = CliRunner().invoke(main, ["convert", "-v", str(batch), "-o", str(tmp_path / "a")])
    assert "INFO: fhir_adapter.engine: run started" in loud.stderr
    quiet = CliRunner().invoke(main, ["convert", "-q", str(batch), "-o", str(tmp_path / "b")])
    assert "run started" not in quiet.stderr and "warning:" not in quiet.stderr
    assert "Error: " in quiet.stderr


def test_a_record_no_handler_shows_is_never_made(batch, tmp_path):
    """Without --log-file or -v, per-case debug and info records are not built at all."""
    import logging

    library = logging.getLogger("fhir_adapter")
    CliRunner().invoke(main, ["convert", str(batch), "-o", str(tmp_path / "a")])
    assert not library.isEnabledFor(logging.INFO)
    CliRunner().invoke(main, ["convert", "-v", str(batch), "-o", str(tmp_path / "b")])
    assert library.isEnabledFor(logging.INFO) and not library.isEnabledFor(logging.DEBUG)
    log = tmp_path / "run.log"
    CliRunner().invoke(main, ["--log-file", str(log), "convert", str(batch), "-o", str(tmp_path / "c")])
    assert library.isEnabledFor(logging.DEBUG)


def test_log_file_that_cannot_be_opened_is_a_settings_error(tmp_path):
    result = CliRunner().invoke(
        main, ["--log-file", str(tmp_path / "no" / "such" / "x.log"), "convert", str(CASE)]
    )
    assert result.exit_code == 7
    assert "Error: --log-file" in result.stderr and "cannot open the file" in result.stderr


def test_the_text_only_tally_stays_small_and_counts_cases_once():
    from fhir_adapter.tally import CASES_KEPT, TermTally

    tally = TermTally()
    row = ("mappings/medications.yaml", "chemotherapy", "medications[0].name", "no verified code")
    for n in range(5000):
        # Twice in one case: two times, one case.
        tally.add(f"case-{n}", [row, (*row[:2], "medications[1].name", row[3])])
    (entry,) = tally.report()
    assert (entry["count"], entry["case_count"], len(entry["cases"])) == (10000, 5000, CASES_KEPT)
    assert tally.lines()[0].endswith("10000 time(s), in case-0, case-1, case-2, case-3, case-4 and 4995 more")


def test_ledgers_of_parts_merge_into_the_ledger_of_the_whole(batch):
    """What a Spark partition carries to the driver: its ledger, as JSON, merged there."""
    from fhir_adapter.batch import convert_stream, iter_sources
    from fhir_adapter.convert import ConvertOptions
    from fhir_adapter.terminology import load_terminology

    results = list(convert_stream(iter_sources([str(batch)]), load_terminology(), ConvertOptions()))
    whole = engine.Ledger()
    for result in results:
        whole.add(result)
    merged = engine.Ledger()
    for part in (results[:2], results[2:]):
        ledger = engine.Ledger()
        for result in part:
            ledger.add(result)
        merged.merge(engine.Ledger.from_json(ledger.to_json()))
    a, b = whole.close(1.0), merged.close(1.0)
    assert (a.cases, a.failed, a.warnings, a.first_failure) == (
        b.cases,
        b.failed,
        b.warnings,
        b.first_failure,
    )
    assert a.text_only == b.text_only and a.text_only_report == b.text_only_report
    assert [f.message for f in a.failures] == [f.message for f in b.failures]
