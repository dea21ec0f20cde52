"""fhir-adapter draft: text parts, value parsers, ConText cases, case assembly, gold set, CLI."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("medspacy", reason="drafting needs the 'draft' extra (spaCy and medspaCy)")

from fhir_adapter.case import Case  # noqa: E402
from fhir_adapter.cli import main  # noqa: E402
from fhir_adapter.convert import ConvertOptions, convert_bytes  # noqa: E402
from fhir_adapter.draft import case_id_for, draft_text  # noqa: E402
from fhir_adapter.draft import values as v  # noqa: E402
from fhir_adapter.draft.output import draft_yaml  # noqa: E402
from fhir_adapter.draft.rules import parse_rules, shipped_rules  # noqa: E402
from fhir_adapter.draft.score import Tally, facts_of  # noqa: E402
from fhir_adapter.draft.text import blank_header, split_cases  # noqa: E402
from fhir_adapter.errors import InvalidCaseError, MappingError  # noqa: E402

GOLD = Path(__file__).parent / "draft_gold"
MANIFEST = yaml.safe_load((GOLD / "manifest.yaml").read_text(encoding="utf-8"))["reports"]


def one(text: str, terminology) -> dict:
    drafts = draft_text(text, terminology=terminology)
    assert len(drafts) == 1
    return drafts[0]


# -- text ---------------------------------------------------------------------------------------


def test_header_is_blanked_with_offsets_kept():
    text = "# Source: someone\n#  more\n\nA 45-year-old woman."
    out = blank_header(text)
    assert len(out) == len(text) and out.index("A 45") == text.index("A 45") and "#" not in out


def test_a_text_of_two_cases_is_split_in_two():
    segs = split_cases("Case 1: A woman. More. Case 2: Another woman.", shipped_rules())
    assert [s.label for s in segs] == ["Case 1", "Case 2"] and segs[1].start > segs[0].start
    assert len(split_cases("A woman with one case.", shipped_rules())) == 1


def test_case_ids_from_names():
    assert case_id_for("yu 2024", 2, 2) == "yu-2024-case-2"
    assert case_id_for("12345", 1, 1) == "case-12345"  # servers refuse purely numeric ids


def test_broken_rules_fail_at_start_up_naming_the_rule():
    text = (GOLD.parent.parent / "fhir_adapter" / "draft" / "rules.yaml").read_text(encoding="utf-8")
    broken = text.replace("category: HISTORICAL", "category: HISTORIC", 1)
    with pytest.raises(MappingError, match=r"rules.yaml: context rule \d+ \('history of'\)"):
        parse_rules(broken)


# -- values -------------------------------------------------------------------------------------


def test_value_parsers():
    assert [f.value for f in v.ages("A 45-year-old woman; aged 60")] == [45.0, 60.0]
    assert [f.value for f in v.intervals("Two years later; after 38 months; 1 week")] == [
        "2 years",
        "38 months",
        "1 week",
    ]
    assert [f.value for f in v.dates("in August 2015, in September of 2022 and 2019")] == [
        "2015-08",
        "2022-09",
        "2019",
    ]
    assert v.between("Between 2017 and 2022, she").value == ["2017", "2022"]
    gy, fr = v.radiotherapy_dose("25 Gray (Gy) in five fractions")
    assert (gy.value, fr.value) == (25.0, 5)
    assert v.nodes("with 4 out of 17 lymph nodes involved").value == (4, 17)
    assert v.nodes("in all 13 dissected axillary lymph nodes (13/13)").value == (13, 13)
    assert v.stage("stage-IIIA (T3 N2a M0) carcinoma").value == "stage-IIIA (T3 N2a M0)"
    assert v.stage("residual disease (ypT2N2a).").value == "ypT2N2a"
    assert v.stage("no stage here") is None
    assert v.dose("capecitabine 500 mg twice daily").value == "500 mg"
    assert v.frequency("500 mg twice daily").value == "twice daily"
    assert v.route("given orally").value == "oral"
    assert [f.value for f in v.germline("a BRCA1-positive woman")] == [("BRCA1", "positive")]


# -- what clinical text does --------------------------------------------------------------------


def test_negation_keeps_the_fact_out_and_in_review(terminology):
    d = one(
        "A 50-year-old woman had invasive ductal carcinoma of the breast. There was no evidence of liver metastasis.",
        terminology,
    )
    assert "metastases" not in d.case
    assert any(r["fact"] == "liver" and "negated" in r["why"] for r in d.review)


def test_a_negative_result_is_a_result_not_a_negation(terminology):
    d = one("A 50-year-old woman had breast cancer, HER2 negative, ER positive (90%).", terminology)
    p = d.case["primary_cancers"][0]
    assert p["receptors"]["her2"] == "negative"
    assert {"name": "ER", "result": "positive", "percent": 90.0} in p["markers"]


def test_compact_receptors_and_shorthand(terminology):
    p = one("A woman with IDC of the right breast, ER+/PR-/HER2-.", terminology).case["primary_cancers"][0]
    assert p["receptors"] == {"er": "positive", "pr": "negative", "her2": "negative"}
    assert p["histology"] == "invasive ductal carcinoma" and p["laterality"] == "right"
    p = one("A woman with TNBC of the breast.", terminology).case["primary_cancers"][0]
    assert p["receptors"] == {"er": "negative", "pr": "negative", "her2": "negative"}


def test_history_is_not_the_presenting_age(terminology):
    d = one("A 61-year-old woman with a history of breast cancer presented with a scalp nodule.", terminology)
    assert "age" not in d.case["primary_cancers"][0]
    assert d.case["metastases"][0]["site"] == "scalp" and d.case["metastases"][0]["age"] == 61


def test_planned_treatment_is_intended(terminology):
    d = one("A woman had breast cancer. Chemotherapy was planned.", terminology)
    assert d.case["medications"] == [{"name": "chemotherapy", "status": "intended"}]


def test_uncertainty_makes_a_metastasis_provisional(terminology):
    d = one("A woman had breast cancer. She developed a scalp nodule, probably metastatic.", terminology)
    assert d.case["metastases"][0]["certainty"] == "provisional"


def test_abbreviations_numbers_and_units(terminology):
    d = one(
        "A 52-year-old woman had ILC of the breast. She underwent MRM and ALND (3/12 nodes positive)."
        " She was given capecitabine 500 mg twice daily orally and six cycles of docetaxel.",
        terminology,
    )
    c = d.case
    assert c["primary_cancers"][0]["histology"] == "invasive lobular carcinoma"
    names = [p["name"] for p in c["procedures"]]
    assert names == ["modified radical mastectomy", "axillary lymph node dissection"]
    assert (c["procedures"][1]["nodes_positive"], c["procedures"][1]["nodes_examined"]) == (3, 12)
    cape = next(m for m in c["medications"] if m["name"] == "capecitabine")
    doce = next(m for m in c["medications"] if m["name"] == "docetaxel")
    assert cape["dose"] == "500 mg"  # written right after its name
    # two drugs in one sentence: what the sentence says of one is not guessed onto the other
    assert "dose" not in doce and "frequency" not in cape and "route" not in doce
    d = one("A woman had breast cancer. She took capecitabine 500 mg twice daily orally.", terminology)
    cape = d.case["medications"][0]
    assert (cape["dose"], cape["frequency"], cape["route"]) == ("500 mg", "twice daily", "oral")


def test_relative_times_as_the_report_states_them(terminology):
    d = one(
        "A woman was diagnosed with breast cancer in 2015. Two years later, a scalp nodule appeared.",
        terminology,
    )
    assert d.case["primary_cancers"][0]["date"] == "2015"
    assert d.case["metastases"][0]["relative"] == {"to": "breast", "after": "2 years"}


def test_no_primary_is_an_error_not_an_invention(terminology):
    with pytest.raises(InvalidCaseError, match="no primary cancer is named"):
        draft_text("A 50-year-old man presented with a cough.", terminology=terminology)


# -- gold set -----------------------------------------------------------------------------------


def _leaf_paths(data, path=""):
    if isinstance(data, dict):
        for k, val in data.items():
            yield from _leaf_paths(val, f"{path}.{k}" if path else k)
    elif isinstance(data, list):
        for i, val in enumerate(data):
            yield from _leaf_paths(val, f"{path}[{i}]")
    else:
        yield path


# Reports of a tuned part whose cases the rules do not yet draft apart, each with the reason. The
# benchmark counts their facts as missed; the test below holds that every draft still converts, and
# fails once the rules split them, so that the entry is taken out.
NOT_YET_SPLIT = {
    # Three women told together in one paragraph ('aged 68, 46 and 46'), their facts given as
    # lists across them: the rules split cases told one after another, not cases told jointly.
    "cro-2012-pericarditis-three.txt": 1,
    # Two women told together ('The first came with ... and the second with ...; in both ...'): the same kind.
    "shakya-2021-ovaries.txt": 1,
    # Two patients told together ('In both ...', 'The first patient ... The second ...'): the same kind.
    "franco-1987-biliary.txt": 1,
}


@pytest.mark.parametrize("report", MANIFEST, ids=[r["text"] for r in MANIFEST])
def test_gold_reports_draft_into_case_files_that_convert_with_every_fact_linked(report, terminology):
    path = GOLD / report["text"]
    source = path.read_text(encoding="utf-8")
    header = re.match(r"(#[^\n]*\n)+", source)
    assert (
        header and "Source:" in header.group(0) and "own words" in header.group(0)
    )  # cited, and told in our own words
    drafts = draft_text(source, name=path.stem, terminology=terminology)
    assert drafts
    if report["text"] in NOT_YET_SPLIT:
        assert len(drafts) == NOT_YET_SPLIT[report["text"]] < len(report["gold"])
    elif not report["part"].startswith("held-out"):
        # A held-out report is measured, not tuned on: cases the rules tell as one are counted
        # by the benchmark as missed facts. Every draft of it must still convert.
        assert len(drafts) == len(report["gold"])
    for d in drafts:
        text = draft_yaml(d, "x.evidence.json")
        Case.model_validate(yaml.safe_load(text))
        outcome = convert_bytes(f"{d.case['case']['id']}.yaml", text.encode(), terminology, ConvertOptions())
        assert outcome.error is None, outcome.error
        linked = {e["path"] for e in d.evidence}
        for leaf in _leaf_paths(d.case):
            if leaf == "case.id" or re.search(r"\.(id|about|treats(\[\d+\])?)$", leaf):
                continue  # structure the drafter gives, not facts of the text
            if leaf == "patient.sex" and d.case["patient"]["sex"] == "unknown":
                # The format needs a sex; with no word for it the draft says 'unknown' and asks review.
                assert any(r["fact"] == "sex" for r in d.review)
                continue
            assert any(leaf == p or leaf.startswith((p + "[", p + ".")) for p in linked), (
                f"{leaf} has no evidence"
            )
        for e in d.evidence:
            assert source[e["start"] : e["end"]] == e["text"]
            s = e["sentence"]
            assert s["start"] <= e["start"] and e["end"] <= s["end"] + 1


def test_gold_files_are_valid_and_the_held_out_part_is_big_enough():
    # held-out-3 to -14 were measured once and became dev-6 to dev-17; every held-out part
    # must be big enough to mean something
    assert sum(r["part"] == "dev-6" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-7" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-8" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-9" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-10" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-11" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-12" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-13" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-14" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-15" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-16" for r in MANIFEST) >= 12
    assert sum(r["part"] == "dev-17" for r in MANIFEST) >= 12
    held_out = {r["part"] for r in MANIFEST if r["part"].startswith("held-out")}
    for part in held_out:
        assert sum(r["part"] == part for r in MANIFEST) >= 12, part
    assert len(MANIFEST) >= 60
    for r in MANIFEST:
        for g in r["gold"]:
            Case.model_validate(yaml.safe_load((GOLD / g).read_text(encoding="utf-8")))


def test_scoring_compares_through_the_maps(terminology):
    a = {"case": {"id": "a"}, "patient": {"sex": "female"},
         "primary_cancers": [{"site": "breast", "histology": "IDC"}], "metastases": [{"site": "lungs"}]}  # fmt: skip
    b = {"case": {"id": "b"}, "patient": {"sex": "female"},
         "primary_cancers": [{"site": "breast", "histology": "invasive ductal carcinoma"}],
         "metastases": [{"site": "lung"}, {"site": "liver"}]}  # fmt: skip
    tally = Tally()
    tally.add("x", facts_of(a, terminology), facts_of(b, terminology))
    assert tally.row("histology")[:3] == (1, 0, 0)
    assert tally.row("metastatic sites")[:3] == (1, 0, 1)


def test_benchmark_figures_hold():
    """The README's figures: a drop is a regression to look at, not noise."""
    import sys

    sys.path.insert(0, str(GOLD.parents[1] / "benchmarks"))
    from bench_draft import score

    # Floors a little under the figures measured when they were set (README, "How well it drafts").
    floors = {
        "dev": (0.98, 0.95),
        "dev-2": (0.96, 0.94),
        "dev-3": (0.92, 0.90),
        "dev-4": (0.90, 0.84),
        "dev-5": (0.87, 0.77),  # held-out-2: 70.9% / 52.7% measured once after round 2; 89.5% / 79.2% tuned
        "dev-6": (0.87, 0.86),  # held-out-3: 73.6% / 57.7% measured once after round 3; 89.2% / 88.0% tuned
        "dev-7": (0.86, 0.81),  # held-out-4: 75.5% / 65.3% measured once after round 4; 88.7% / 83.7% tuned
        "dev-8": (0.87, 0.78),  # held-out-5: 74.7% / 66.3% measured once after round 5; 89.1% / 80.5% tuned
        "dev-9": (0.81, 0.71),  # held-out-6: 72.3% / 62.0% measured once after round 6; 83.1% / 73.8% tuned
        "dev-10": (0.83, 0.74),  # held-out-7: 76.4% / 61.1% measured once after round 7; 85.0% / 76.3% tuned
        "dev-11": (0.79, 0.70),  # held-out-8: 60.9% / 56.2% measured once after round 8; 81.2% / 72.3% tuned
        "dev-12": (0.76, 0.60),  # held-out-9: 64.6% / 49.9% measured once after round 9; 78.1% / 62.1% tuned
        "dev-13": (0.73, 0.66),  # held-out-10: 72.3% / 60.4% once after round 10; 75.9% / 68.3% tuned
        "dev-14": (0.78, 0.67),  # held-out-11: 76.5% / 60.6% once after round 11; 80.5% / 69.3% tuned
        "dev-15": (0.77, 0.62),  # held-out-12: 66.4% / 50.0% once after round 12; 79.9% / 64.2% tuned
        "dev-16": (0.75, 0.67),  # held-out-13: 72.4% / 60.9% once after round 13; 77.4% / 69.3% tuned
        "dev-17": (0.73, 0.62),  # held-out-14: 72.2% / 55.9% once after round 14; 75.2% / 64.5% tuned
    }
    tallies = score(tuple(floors))
    for part, (p_floor, r_floor) in floors.items():
        _, _, _, precision, recall = tallies[part].row()
        assert precision >= p_floor and recall >= r_floor, (part, precision, recall)


# -- the command --------------------------------------------------------------------------------


def run(*args, **kw):
    return CliRunner().invoke(main, list(args), **kw)


def test_cli_writes_draft_and_sidecar_and_checks(tmp_path):
    out = tmp_path / "drafts"
    result = run("draft", str(GOLD / "yu-2024.txt"), "-o", f"{out}/", "--check")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "yu-2024-case-1.evidence.json",
        "yu-2024-case-1.yaml",
        "yu-2024-case-2.evidence.json",
        "yu-2024-case-2.yaml",
    ]
    assert "check: yu-2024-case-1.yaml: converts to" in result.output
    assert "medications[0].name: 'chemotherapy'" in result.output
    side = json.loads((out / "yu-2024-case-2.evidence.json").read_text(encoding="utf-8"))
    assert side["cases"][0]["case_id"] == "yu-2024-case-2" and side["cases"][0]["facts"]
    converted = run("convert", str(out / "yu-2024-case-2.yaml"), "-o", str(tmp_path / "b.json"))
    assert converted.exit_code == 0, converted.output


def test_cli_one_file_for_two_cases_is_refused(tmp_path):
    result = run("draft", str(GOLD / "yu-2024.txt"), "-o", str(tmp_path / "one.yaml"))
    assert result.exit_code == 7
    assert "Error: -o " in result.output and "gives 2 cases; give a directory" in result.output


def test_cli_stdin_to_stdout_and_a_missing_file():
    result = run(
        "draft", "-", input="A 45-year-old woman had invasive ductal carcinoma of the left breast.\n"
    )
    assert result.exit_code == 0
    case = yaml.safe_load(result.stdout)
    assert case["case"]["id"] == "stdin" and case["primary_cancers"][0]["laterality"] == "left"
    assert run("draft", "no-such-report.txt").output.strip() == "Error: no-such-report.txt: no such file"


def test_a_side_named_after_the_site_and_follow_up_imaging(terminology):
    d = one(
        "A woman had breast cancer. A PET-CT scan showed a scalp mass at the left temporal region."
        " Follow-up MRI showed a smaller scalp lesion.",
        terminology,
    )
    met = d.case["metastases"][0]
    assert met["laterality"] == "left"
    # From the PET-CT, in the map's words (an evidence term coded as imaging); the follow-up MRI
    # confirms nothing.
    assert met["confirmed_by"] == ["PET/CT"]
    assert terminology.lookup("observations", "PET/CT").kind == "evidence"
    assert [e["text"] for e in d.evidence if e["path"] == "metastases[0].confirmed_by"] == ["PET-CT"]


# -- bounded work per text ------------------------------------------------------------------------


class _Alarm:
    """Fail instead of hanging: the drafting of a pathological text took minutes before it was bounded."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __enter__(self):
        import signal

        def expired(signum, frame):
            raise TimeoutError(f"drafting did not finish within {self.seconds} s")

        self.previous = signal.signal(signal.SIGALRM, expired)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        import signal

        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def test_spacy_never_sees_a_long_run_a_long_chunk_or_a_long_sentence(terminology):
    from fhir_adapter.draft.pipeline import CHUNK, RUN, SENTENCE_TOKENS, break_runs, cached_pipeline, chunks

    parens = "(" * 50_000 + ")" * 50_000
    spans = chunks(parens)
    assert spans[0][0] == 0 and spans[-1][1] == len(parens)
    assert all(e - s <= CHUNK for s, e in spans)
    assert all(b == c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))  # no gap, no overlap
    cut = break_runs(parens[:CHUNK])
    assert len(cut) == CHUNK and max(len(run) for run in cut.split(" ")) <= RUN
    pipeline = cached_pipeline(terminology, shipped_rules())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # medspaCy's token matcher has no patterns, only phrases
        doc = pipeline.nlp("no liver metastasis " * 300)
    assert max(len(s) for s in doc.sents) <= SENTENCE_TOKENS


def test_100_kb_of_nested_parentheses_drafts(terminology):
    with _Alarm(120):
        drafts = draft_text(
            "A woman had breast cancer. " + "(" * 50_000 + ")" * 50_000, terminology=terminology
        )
    assert drafts[0].case["primary_cancers"][0]["site"] == "breast"


def test_a_text_over_spacys_limit_is_read_in_chunks_and_a_huge_one_is_refused(terminology):
    from fhir_adapter.draft import MAX_CHARS
    from fhir_adapter.draft.pipeline import cached_pipeline, chunks

    nlp = cached_pipeline(terminology, shipped_rules()).nlp
    long = "A woman had breast cancer. " * 45_000  # 1.2 million characters: spaCy refuses one doc (E088)
    assert len(long) > nlp.max_length
    assert max(e - s for s, e in chunks(long)) < nlp.max_length
    with pytest.raises(InvalidCaseError, match=r"characters; drafting reads at most 5,000,000"):
        draft_text("x" * (MAX_CHARS + 1), name="huge", terminology=terminology)


def test_cli_writes_into_a_new_directory_and_replaces_a_symlink(tmp_path):
    report = GOLD / "rossi-2014.txt"
    target = tmp_path / "new" / "dir" / "case.yaml"
    result = run("draft", str(report), "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.is_file() and (target.parent / "case.evidence.json").is_file()
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "link.yaml"
    link.symlink_to(elsewhere)
    result = run("draft", str(report), "-o", str(link))
    assert result.exit_code == 0, result.output
    assert elsewhere.read_text(encoding="utf-8") == "keep me\n"  # not written through the link
    assert not link.is_symlink() and "primary_cancers:" in link.read_text(encoding="utf-8")


# -- the chain: draft -> convert -> summary on every gold text --------------------------------------


@pytest.fixture(scope="module")
def drafted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chain")
    texts = [str(GOLD / r["text"]) for r in MANIFEST]
    result = run("draft", *texts, "-o", f"{out}/drafts/", "-q")
    assert result.exit_code == 0, result.output
    return out


def test_every_gold_draft_converts_and_summarises(drafted):
    drafts = sorted((drafted / "drafts").glob("*.yaml"))
    tuned = sum(
        NOT_YET_SPLIT.get(r["text"], len(r["gold"])) for r in MANIFEST if not r["part"].startswith("held-out")
    )
    held_out = [r for r in MANIFEST if r["part"].startswith("held-out")]
    assert tuned + len(held_out) <= len(drafts) <= tuned + sum(len(r["gold"]) for r in held_out)
    bare = drafted / "bare"  # the drafts without their sidecars: what summary reads of a case file
    bare.mkdir()
    for path in drafts:
        (bare / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        converted = run("convert", str(path), "-o", str(drafted / f"{path.stem}.bundle.json"), "-q")
        assert converted.exit_code == 0, (path.name, converted.output)
    summarised = run("summary", str(bare), "-o", str(drafted / "summaries"), "-q")
    assert summarised.exit_code == 0, summarised.output
    assert len(list((drafted / "summaries").glob("*.html"))) >= len(drafts)


def test_summary_reads_the_draft_sidecar(drafted, tmp_path):
    result = run("summary", str(drafted / "drafts" / "rossi-2014.yaml"), "-o", str(tmp_path), "-q")
    assert result.exit_code == 0, result.output
