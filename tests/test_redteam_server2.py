"""A second set of fake servers attacking what lands on a server and what is read back from one.

Each attack is a scripted peer on 127.0.0.1 (tests/support/hostile_peer.py), bounded in the
number of answers and in time: `push --bulk` against `$import` endpoints that take too long
round after round or report less than was sent, and `export --server` against servers that
answer a search with other patients' resources or list a patient twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.bulk_import_stub import BulkImportStub
from support.hostile_peer import HostilePeer, Reply, Request
from support.import_inputs import fetch_inputs

from fhir_adapter.bulk import BulkSettings, bulk_import
from fhir_adapter.cli import main
from fhir_adapter.client import ClientSettings, FhirClient
from fhir_adapter.errors import EXIT_SERVER_REJECTED, EXIT_SERVER_UNAVAILABLE, ServerUnavailableError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "yu-2024-case-1.yaml"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def bulk_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bulk") / "bulk"
    result = CliRunner().invoke(main, ["convert", "-q", str(EXAMPLE), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


class FakeTime:
    """A clock that moves only when the code under test sleeps (and a little per reading)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def outcome(text: str, severity: str = "information") -> bytes:
    return json.dumps(
        {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "informational",
                                                        "diagnostics": text}]}
    ).encode()  # fmt: skip


# ---- push --bulk: --bulk-timeout bounds the whole import, not each round ----


def test_bulk_timeout_bounds_all_rounds_not_each_one(bulk_dir):
    # Each round's job takes 15 s (three status answers asking for 5 s more). With --bulk-timeout
    # 20 the import must give up in round 2; each round used to get a deadline of its own, so the
    # three rounds of this case ran 45 s and ended "done".
    polls: dict[str, int] = {}

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            fetch_inputs(request.body)
            job = str(len(polls) + 1)
            polls[job] = 0
            return Reply(
                202, {"Content-Location": f"/fhir/$import-poll-status?_jobId={job}", "Retry-After": "5"}
            )
        if request.method == "DELETE":
            return Reply(202)
        job = request.path.rsplit("=", 1)[1]
        polls[job] += 1
        if polls[job] < 3:
            return Reply(202, {"Retry-After": "5"})
        return Reply(200, FHIR_JSON, outcome(f"job {job} complete"))

    time = FakeTime()
    with HostilePeer(answer) as peer:
        client = FhirClient(ClientSettings(base_url=peer.base_url))
        with pytest.raises(ServerUnavailableError, match="still running after 20s"):
            bulk_import(
                client,
                bulk_dir,
                BulkSettings(timeout=20, max_poll_wait=5),
                sleep=time.sleep,
                clock=time.clock,
            )
    assert time.now <= 20
    assert len(polls) == 2  # the third round was never kicked off


# ---- push --bulk: a completion report that does not account for what was sent ----


def lines_of(directory: Path, url: str) -> int:
    return len((directory / url.rsplit("/", 1)[1]).read_text().splitlines())


def reporting_peer(report) -> HostilePeer:
    """A $import endpoint that completes each job at the first status request with `report(inputs)`,
    the inputs being the (type, url) pairs of the job's kick-off."""
    return HostilePeer(reporting(report), answer_searches=False)


def reporting(report):
    """The answers of reporting_peer, for a peer that scripts some requests itself."""
    jobs: list[list[tuple[str, str]]] = []

    def answer(request: Request) -> Reply:
        if request.method == "POST" and request.path.endswith("$import"):
            jobs.append(fetch_inputs(request.body))  # a server that imports fetches what it is told
            return Reply(202, {"Content-Location": f"/fhir/$import-poll-status?_jobId={len(jobs)}"})
        if request.method == "GET" and "_jobId=" in request.path:
            inputs = jobs[int(request.path.rsplit("=", 1)[1]) - 1]
            return Reply(200, FHIR_JSON, json.dumps(report(inputs)).encode())
        return searchset([])

    return answer


def exact(directory: Path):
    return lambda inputs: {
        "output": [{"type": t, "inputUrl": u, "count": lines_of(directory, u)} for t, u in inputs],
        "error": [],
    }


def nothing(directory: Path):
    return lambda inputs: {"output": [], "error": []}


def shifted(directory: Path):
    # The right total, on the wrong files: one resource of the first file counted on the last.
    def report(inputs):
        counts = [lines_of(directory, u) for _, u in inputs]
        if len(counts) > 1:
            counts[0], counts[-1] = counts[0] - 1, counts[-1] + 1
        return {
            "output": [
                {"type": t, "inputUrl": u, "count": n} for (t, u), n in zip(inputs, counts, strict=True)
            ],
            "error": [],
        }

    return report


def other_file(directory: Path):
    # Counts for a file that was never sent, adding up to what was.
    def report(inputs):
        total = sum(lines_of(directory, u) for _, u in inputs)
        return {
            "output": [{"type": inputs[0][0], "inputUrl": "http://127.0.0.1:9/other.ndjson", "count": total}]
        }

    return report


def counts_not_numbers(directory: Path):
    return lambda inputs: {"output": [{"type": t, "inputUrl": u, "count": True} for t, u in inputs]}


@pytest.mark.parametrize(
    ("report", "said"),
    [
        (nothing, "the server reports nothing imported from"),
        (shifted, "the server imported"),
        (other_file, "the server reports imports from a file that was not sent"),
        (counts_not_numbers, "a count that is not a number"),
    ],
    ids=["empty-output", "counts-on-the-wrong-files", "a-file-not-sent", "count-true"],
)
def test_a_completion_report_that_does_not_account_for_each_file_fails_the_import(bulk_dir, report, said):
    # Each of these ended `push --bulk` with exit 0 and every later round sent: an empty output list
    # has no counts, so nothing was compared; the totals matched; `true` counted as 1.
    with reporting_peer(report(bulk_dir)) as peer:
        result = push_bulk(bulk_dir, peer.base_url)
        kickoffs = sum(r.path.endswith("$import") for r in peer.requests)
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert said in result.output
    assert kickoffs < 3  # no later round was sent on a round that did not import whole


def test_a_completion_report_counting_every_file_exactly_is_an_import(bulk_dir):
    with reporting_peer(exact(bulk_dir)) as peer:
        result = push_bulk(bulk_dir, peer.base_url)
        kickoffs = sum(r.path.endswith("$import") for r in peer.requests)
    assert result.exit_code == 0, result.output
    assert kickoffs == 3


# ---- push --bulk of a corrected case: what the correction dropped leaves the server ----


def converted(tmp_path: Path, name: str, text: str) -> Path:
    case = tmp_path / f"{name}.yaml"
    case.write_text(text)
    out = tmp_path / name
    result = CliRunner().invoke(main, ["convert", "-q", str(case), "--format", "ndjson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def held(directory: Path) -> dict[str, dict]:
    return {
        f"{r['resourceType']}/{r['id']}": r
        for f in directory.glob("*.ndjson")
        for r in map(json.loads, f.read_text().splitlines())
    }


def push_bulk(directory: Path, server: str, *extra: str):
    return CliRunner().invoke(
        main, ["push", "--bulk", str(directory), "--server", server, "--poll-max-wait", "0.05", *extra]
    )


@pytest.fixture
def first_and_corrected(tmp_path) -> tuple[Path, Path, Path]:
    """yu-2024 case 1, the same case with its bone metastasis struck out, and case 2."""
    text = EXAMPLE.read_text()
    corrected = text.replace("  - id: bone\n    site: bone\n    age: 45\n    primary: breast\n", "")
    corrected = corrected.replace("treats: [breast, scalp, bone]", "treats: [breast, scalp]")
    assert corrected.count("bone") < text.count("bone")
    other = (EXAMPLES / "yu-2024-case-2.yaml").read_text()
    return (
        converted(tmp_path, "first", text),
        converted(tmp_path, "corrected", corrected),
        converted(tmp_path, "other", other),
    )


def test_bulk_import_of_a_corrected_case_removes_what_the_correction_dropped(first_and_corrected):
    # $import only adds and updates. The corrected case's import used to leave the struck-out
    # metastasis (and what referred to it only) on the server beside the corrected case, exit 0.
    first, corrected, other = first_and_corrected
    with BulkImportStub(style="manifest", polls_before_done=0) as stub:
        for directory in (first, other):
            assert push_bulk(directory, stub.base_url).exit_code == 0
        result = push_bulk(corrected, stub.base_url)
        assert result.exit_code == 0, result.output
        dropped = sorted(set(held(first)) - set(held(corrected)))
        assert dropped and sorted(stub.deleted) == dropped
        assert stub.resources == {**held(corrected), **held(other)}  # case 2 untouched
        assert f"deleted {len(dropped)} resource(s) case yu-2024-case-1 no longer has" in result.output
        # Sent again, it changes nothing and deletes nothing.
        again = push_bulk(corrected, stub.base_url)
        assert again.exit_code == 0 and "deleted" not in again.output
        assert sorted(stub.deleted) == dropped and stub.resources == {**held(corrected), **held(other)}


def test_bulk_import_says_when_what_the_correction_dropped_cannot_be_told(first_and_corrected):
    # A search for the case's tag that the server refuses after the import: the old resources
    # may still be there, so the command says so and exits 5, not 0.
    first, corrected, _ = first_and_corrected
    with BulkImportStub(style="manifest", polls_before_done=0) as stub:
        assert push_bulk(first, stub.base_url).exit_code == 0
        stub.search_status = 400
        result = push_bulk(corrected, stub.base_url)
        assert result.exit_code == EXIT_SERVER_REJECTED, result.output
        assert (
            "$import done, but which resources the corrected cases no longer have cannot be told"
            in result.output
        )
        assert not stub.deleted


# ---- export --server: only the patient's own resources are read ----

EXAMPLES = EXAMPLE.parent
NO_OPERATION = Reply(
    404,
    FHIR_JSON,
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-supported"}]}',
)


def stored(*names: str) -> list[dict]:
    """The resources of example bundles as a server stores them: urn:uuid references as Type/id."""
    bundles = [json.loads((EXAMPLES / name).read_text()) for name in names]
    entries = [e for b in bundles for e in b["entry"]]
    text = json.dumps([e["resource"] for e in entries])
    for e in entries:
        text = text.replace(
            json.dumps(e["fullUrl"]), json.dumps(f"{e['resource']['resourceType']}/{e['resource']['id']}")
        )
    return json.loads(text)


def searchset(resources: list[dict]) -> Reply:
    body = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    return Reply(200, FHIR_JSON, json.dumps(body).encode())


def careless_server(resources: list[dict], everything: bool) -> HostilePeer:
    """A server that answers every search with every resource of the type, whatever the search
    parameters; with `everything`, Patient/ID/$everything answers with everything it holds."""

    def answer(request: Request) -> Reply:
        parts = request.path.split("?", 1)[0].split("/")[2:]
        if parts[-1] == "$everything":
            return searchset(resources) if everything else NO_OPERATION
        if len(parts) == 2:
            found = [r for r in resources if [r["resourceType"], r["id"]] == parts]
            return Reply(200, FHIR_JSON, json.dumps(found[0]).encode()) if found else NO_OPERATION
        return searchset([r for r in resources if r["resourceType"] == parts[0]])

    return HostilePeer(answer, answer_searches=False)


def body_of_case(text: str) -> str:
    return text.split("\n", 1)[1]  # the first line names where the case was read from


@pytest.mark.parametrize("everything", [False, True], ids=["searches-ignore-subject", "everything-holds-all"])
def test_export_reads_no_resource_of_another_patient(everything):
    # The server holds yu-2024 cases 1 and 2 and answers `Condition?subject=Patient/<case 1>` (or
    # $everything) with both patients' resources. Case 1 read back used to take case 2's cancers
    # as its own (an error here, "3 primary cancers"; with one primary each, a case invented).
    resources = stored("yu-2024-case-1.bundle.json", "yu-2024-case-2.bundle.json")
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    with careless_server(resources, everything) as peer:
        result = CliRunner().invoke(main, ["export", "--server", peer.base_url, "--patient", patient["id"]])
    assert result.exit_code == 0, result.output
    alone = CliRunner().invoke(main, ["export", str(EXAMPLES / "yu-2024-case-1.bundle.json")])
    assert body_of_case(result.stdout) == body_of_case(alone.stdout)
    assert "resource(s) of another patient or of none" in result.stderr


def test_all_patients_reads_each_listed_patient_once_and_only_those_of_the_system(tmp_path):
    # The Patient search lists case 1 again on its second page and, ignoring the identifier
    # parameter, a patient of no case. Case 1 used to be read twice (on stdout twice; to a
    # directory "already written", exit 3), and the stranger read and failed (exit 3).
    resources = stored("yu-2024-case-1.bundle.json", "yu-2024-case-2.bundle.json")
    first, second = [r for r in resources if r["resourceType"] == "Patient"]
    stranger = {"resourceType": "Patient", "id": "stranger", "gender": "male"}

    def answer(request: Request) -> Reply:
        path, _, query = request.path.partition("?")
        parts = path.split("/")[2:]
        if parts == ["Patient"]:
            if "page=2" in query:
                return searchset([first])
            page = json.loads(searchset([first, second, stranger]).body)
            page["link"] = [{"relation": "next", "url": "/fhir/Patient?page=2"}]
            return Reply(200, FHIR_JSON, json.dumps(page).encode())
        if parts[-1] == "$everything":
            mine = f"Patient/{parts[1]}"
            return searchset(
                [
                    r
                    for r in resources
                    if r["id"] == parts[1] or (r.get("subject") or {}).get("reference") == mine
                ]
            )
        return searchset([])

    with HostilePeer(answer, answer_searches=False) as peer:
        to_stdout = CliRunner().invoke(main, ["export", "--server", peer.base_url, "--all-patients"])
        to_dir = CliRunner().invoke(
            main, ["export", "--server", peer.base_url, "--all-patients", "-o", str(tmp_path)]
        )
        everything = [
            r.path.split("/")[3] for r in peer.requests if r.path.split("?")[0].endswith("$everything")
        ]
    for result in (to_stdout, to_dir):
        assert result.exit_code == 0, result.output
        assert "Patient/stranger has no identifier in urn:fhir-adapter:case-id" in result.stderr
    assert to_stdout.stdout.count("\ncase:\n") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["yu-2024-case-1.yaml", "yu-2024-case-2.yaml"]
    assert sorted(everything) == sorted([first["id"], second["id"]] * 2)  # each read once a run


# ---- verify: what a server may do to meta and references, and what it may not ----


def _add_tags(r: dict, base: str) -> None:
    tags = r["meta"].get("tag", [])
    r["meta"]["tag"] = [{"system": "https://server.example/tags", "code": "imported"}, *tags]
    r["meta"]["security"] = [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"}
    ]


def _reorder_profiles(r: dict, base: str) -> None:
    r["meta"]["profile"] = [*reversed(r["meta"].get("profile", [])), "https://server.example/checked"]


def _absolute_references(r: dict, base: str) -> None:
    _rewrite_references(r, lambda ref: f"{base}/{ref}")


def _drop_the_case_tag(r: dict, base: str) -> None:
    r["meta"]["tag"] = [{"system": "https://server.example/tags", "code": "imported"}]


def _swap_profile(r: dict, base: str) -> None:
    if r["meta"].get("profile"):
        r["meta"]["profile"] = ["https://server.example/other"]


def _references_elsewhere(r: dict, base: str) -> None:
    _rewrite_references(r, lambda ref: f"http://127.0.0.1:9/fhir/{ref}")


def _rewrite_references(node, change) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                node[key] = change(value)
            else:
                _rewrite_references(value, change)
    elif isinstance(node, list):
        for value in node:
            _rewrite_references(value, change)


@pytest.mark.parametrize(
    ("change", "exit_code", "said"),
    [
        (_add_tags, 0, "matches"),
        (_reorder_profiles, 0, "matches"),
        (_absolute_references, 0, "matches"),
        (_drop_the_case_tag, 8, '"code":"yu-2024-case-1"}, not stored'),
        (_swap_profile, 8, "meta.profile: sent"),
        (_references_elsewhere, 8, 'stored "http://127.0.0.1:9/fhir/Patient/'),
    ],
    ids=["server-adds-tags", "profiles-reordered-and-added", "absolute-references-on-its-base",
         "case-tag-lost", "profile-replaced", "references-to-another-server"],
)  # fmt: skip
def test_verify_tells_what_a_server_may_change_from_what_it_may_not(change, exit_code, said):
    # A server that added a tag or a security label of its own, kept meta.profile in another
    # order, or gave references as absolute URLs on its own base was said to differ (exit 8) for
    # every resource; losing the case's tag, replacing a profile or pointing a reference at
    # another server must still be differences.
    resources = stored("yu-2024-case-1.bundle.json")

    def answer(request: Request) -> Reply:
        parts = request.path.split("?")[0].split("/")[2:]
        if len(parts) == 2:
            found = [r for r in resources if [r["resourceType"], r["id"]] == parts]
            if not found:
                return NO_OPERATION
            copy = json.loads(json.dumps(found[0]))
            change(copy, peer.base_url)
            copy["meta"] |= {"versionId": "3", "lastUpdated": "2026-01-02T03:04:05.678+00:00"}
            return Reply(200, FHIR_JSON, json.dumps(copy).encode())
        return searchset([])

    with HostilePeer(answer, answer_searches=False) as peer:
        result = CliRunner().invoke(
            main, ["verify", str(EXAMPLES / "yu-2024-case-1.bundle.json"), "--server", peer.base_url]
        )
    assert result.exit_code == exit_code, result.output
    assert said in result.output


@pytest.mark.parametrize(
    "form",
    [
        lambda base, ref: f"{base}/{ref}",
        lambda base, ref: f"{ref}/_history/2",
        lambda base, ref: f"{base}/{ref}/_history/1",
    ],
    ids=["absolute", "versioned", "absolute-versioned"],
)
def test_export_reads_references_in_every_form_a_server_gives(form):
    # Servers give references as absolute URLs or pinned to a version; each finds the same
    # resource, so the case read back is the one read from the bundle (nothing lost or moved).
    resources = stored("yu-2024-case-1.bundle.json")
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    with careless_server(resources, everything=True) as peer:
        for resource in resources:
            _rewrite_references(resource, lambda ref: form(peer.base_url, ref))
        result = CliRunner().invoke(main, ["export", "--server", peer.base_url, "--patient", patient["id"]])
    assert result.exit_code == 0, result.output
    alone = CliRunner().invoke(main, ["export", str(EXAMPLES / "yu-2024-case-1.bundle.json")])
    assert body_of_case(result.stdout) == body_of_case(alone.stdout)
    assert "not read" not in result.stderr


# ---- push --bulk: what the search for stale resources may list, and what is deleted ----


def test_bulk_removal_deletes_only_what_carries_an_imported_cases_tag(bulk_dir):
    # The server ignores _tag: its Condition search lists a resource of this case that the
    # directory no longer has, one of another case, and one of no case. Only the first is deleted.
    tag = {"system": "urn:fhir-adapter:case-id", "code": "yu-2024-case-1"}
    listed = [
        {"resourceType": "Condition", "id": "old-metastasis", "meta": {"tag": [tag]}},
        {"resourceType": "Condition", "id": "case-2", "meta": {"tag": [{**tag, "code": "yu-2024-case-2"}]}},
        {"resourceType": "Condition", "id": "untagged"},
    ]
    deletes: list[dict] = []

    def answer(request: Request) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "POST" and path == "/fhir":
            entries = json.loads(request.body)["entry"]
            deletes.extend(entries)
            body = {"resourceType": "Bundle", "type": "transaction-response",
                    "entry": [{"response": {"status": "204 No Content"}} for _ in entries]}  # fmt: skip
            return Reply(200, FHIR_JSON, json.dumps(body).encode())
        if path == "/fhir/Condition":
            return searchset(listed)
        return inner(request)

    inner = reporting(exact(bulk_dir))
    with HostilePeer(answer, answer_searches=False) as peer:
        result = push_bulk(bulk_dir, peer.base_url)
    assert result.exit_code == 0, result.output
    assert deletes == [{"request": {"method": "DELETE", "url": "Condition/old-metastasis"}}]


def test_bulk_removal_refuses_a_listed_id_that_is_not_a_fhir_id(bulk_dir):
    tag = {"system": "urn:fhir-adapter:case-id", "code": "yu-2024-case-1"}

    def answer(request: Request) -> Reply:
        path = request.path.split("?")[0]
        if path == "/fhir/Observation":
            return searchset([{"resourceType": "Observation", "id": "x?_tag=a", "meta": {"tag": [tag]}}])
        return inner(request)

    inner = reporting(exact(bulk_dir))
    with HostilePeer(answer, answer_searches=False) as peer:
        result = push_bulk(bulk_dir, peer.base_url)
        transactions = [r for r in peer.requests if r.method == "POST" and r.path.split("?")[0] == "/fhir"]
    assert result.exit_code == EXIT_SERVER_UNAVAILABLE, result.output
    assert "is not a FHIR id" in result.output and not transactions


# ---- push --bulk: the error part of a completion report ----


def with_errors(errors: list):
    def report(inputs):
        return {**exact_report(inputs), "error": errors}

    return report


def exact_report(inputs) -> dict:
    return {"output": [{"type": t, "inputUrl": u} for t, u in inputs]}


def test_an_error_item_in_no_form_of_the_proposal_is_still_an_error(bulk_dir):
    # `"error": ["boom"]` was filtered out as no error item at all, and the import ended with exit 0.
    with reporting_peer(with_errors(["boom", None])) as peer:
        result = push_bulk(bulk_dir, peer.base_url)
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert 'error: "boom"' in result.output and "error: null" in result.output


def test_the_error_files_a_report_names_are_read_and_shown(bulk_dir):
    # The report named its error file and nothing else; the command showed the URL only, so what
    # failed took a second request, with the credentials, by hand. Now the file's issues are shown;
    # an error file on another origin is named and not fetched.
    lines = [
        {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "processing", "diagnostics": f"Patient/{n}: identifier is wrong"}]}
        for n in range(25)
    ]  # fmt: skip
    errors = [
        {"type": "OperationOutcome", "url": "/fhir/bulk-errors/1.ndjson", "count": 25},
        {"type": "OperationOutcome", "url": "http://127.0.0.2:9/errors.ndjson", "count": 1},
    ]
    ndjson = "\n".join(json.dumps(line) for line in lines).encode()
    inner = reporting(with_errors(errors))

    def answer(request: Request) -> Reply:
        if request.path == "/fhir/bulk-errors/1.ndjson":
            return Reply(200, {"Content-Type": "application/fhir+ndjson"}, ndjson)
        return inner(request)

    with HostilePeer(answer, answer_searches=False) as peer:
        result = push_bulk(bulk_dir, peer.base_url, "--token-file", str(token_file(bulk_dir)))
        fetched = [r for r in peer.requests if r.path.startswith("/fhir/bulk-errors/")]
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert "error: Patient/0: identifier is wrong" in result.output
    assert "error: Patient/19: identifier is wrong" in result.output
    assert "Patient/20: identifier" not in result.output and "... and 5 more" in result.output
    assert "(not read: http://127.0.0.2:9/errors.ndjson is not on" in result.output
    assert len(fetched) == 1 and fetched[0].headers["authorization"] == "Bearer s3cret"


def token_file(directory: Path) -> Path:
    path = directory.parent / "token"
    path.write_text("s3cret")
    return path


@pytest.mark.parametrize(
    ("issues", "said"),
    [([], "an OperationOutcome with no issue"), ([{"severity": "ERROR", "diagnostics": "disk full"}], "disk full"),
     ([{"code": "exception", "diagnostics": "no severity"}], "no severity")],
    ids=["no-issue", "severity-in-capitals", "no-severity"],
)  # fmt: skip
def test_an_operation_outcome_report_that_tells_no_success_is_no_import(bulk_dir, issues, said):
    # Only issues of severity error or fatal counted as failures: an empty issue list, `ERROR` or
    # no severity at all ended the import with exit 0.
    outcome = {"resourceType": "OperationOutcome", "issue": issues}
    with reporting_peer(lambda inputs: outcome) as peer:
        result = push_bulk(bulk_dir, peer.base_url)
    assert result.exit_code == EXIT_SERVER_REJECTED, result.output
    assert said in result.output
