"""The LLM backend against a stub chat-completions server on 127.0.0.1 started here; never a real service."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from click.testing import CliRunner

from fhir_adapter.cli import main
from fhir_adapter.client import RetryPolicy
from fhir_adapter.draft.llm import LlmSettings, llm_drafts, verify
from fhir_adapter.errors import ServerUnavailableError

TEXT = (
    "A 45-year-old Chinese woman with a history of invasive ductal carcinoma of the breast presented"
    " with a scalp lesion. She received chemotherapy and her disease stabilized."
)

# What a model might answer: facts with their words, one with no words, and two invented ones.
ANSWER = {
    "cases": [
        {
            "case": {
                "case": {"id": "whatever"},
                "patient": {"sex": "female", "ethnicity": "Chinese", "age_at_diagnosis": 45},
                "primary_cancers": [
                    {"id": "breast", "site": "breast", "histology": "invasive ductal carcinoma"}
                ],
                "metastases": [
                    {"id": "scalp", "site": "scalp", "primary": "breast"},
                    {"id": "liver", "site": "liver", "primary": "breast"},
                ],
                "medications": [
                    {"name": "chemotherapy", "treats": ["scalp", "liver"]},
                    {"name": "tamoxifen"},
                ],
                "disease_status": [{"status": "stable", "about": "breast"}],
            },
            "evidence": {
                "patient.sex": "woman",
                "patient.ethnicity": "Chinese woman",
                "patient.age_at_diagnosis": "45-year-old",
                "primary_cancers[0].site": "carcinoma of the breast",
                "primary_cancers[0].histology": "history of invasive ductal carcinoma",
                "metastases[0]": "presented with a scalp lesion",
                "metastases[1].site": "liver metastases",
                "medications[0].name": "received chemotherapy",
                "disease_status[0].status": "her disease stabilized",
            },
        }
    ]
}


class _Stub(BaseHTTPRequestHandler):
    answer: dict = ANSWER
    status: int = 200
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"auth": self.headers.get("Authorization"), "body": body})
        if self.status != 200:
            self.send_response(self.status)
            self.end_headers()
            return
        reply = {"choices": [{"message": {"role": "assistant", "content": json.dumps(self.answer)}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    _Stub.seen = []
    _Stub.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    server.shutdown()
    server.server_close()


def test_only_facts_found_back_in_the_text_are_kept(stub):
    (draft,) = llm_drafts(TEXT, LlmSettings(url=stub, key="k-123", model="m"), name="yu")
    case = draft.case
    assert case["case"]["id"] == "yu"
    assert [m["site"] for m in case["metastases"]] == ["scalp"]
    assert [m["name"] for m in case["medications"]] == ["chemotherapy"]
    assert case["medications"][0]["treats"] == ["scalp"]  # the dropped liver is no longer referred to
    assert case["patient"]["age_at_diagnosis"] == 45 and case["disease_status"][0]["status"] == "stable"
    review = {r["fact"]: r["why"] for r in draft.review}
    assert "evidence words are not in the text" in review["metastases[1].site: liver"]
    assert "no evidence words" in review["medications[1].name: tamoxifen"]
    for ev in draft.evidence:
        assert TEXT[ev["start"] : ev["end"]].lower() == ev["text"].lower()
    sent = _Stub.seen[0]
    assert sent["auth"] == "Bearer k-123" and sent["body"]["model"] == "m"
    assert "JSON Schema" in sent["body"]["messages"][0]["content"]
    assert sent["body"]["messages"][1]["content"] == TEXT


def test_verify_drops_a_value_its_words_do_not_hold():
    case = {"patient": {"sex": "female", "age_at_diagnosis": 54}, "primary_cancers": [{"site": "breast"}]}
    kept, found, review = verify(
        case,
        {"patient.sex": "woman", "patient.age_at_diagnosis": "45-year-old", "primary_cancers[0]": "breast"},
        "A 45-year-old woman with breast cancer.",
    )
    assert kept["patient"] == {"sex": "female"}
    assert any("value is not in its evidence" in r["why"] for r in review)


def test_cli_takes_the_key_from_the_environment_or_a_file_and_never_argv(stub, tmp_path):
    report = tmp_path / "r.txt"
    report.write_text(TEXT, encoding="utf-8")
    answer = json.loads(json.dumps(ANSWER))
    answer["cases"][0]["evidence"]["primary_cancers[0].histology"] = "invasive lobular carcinoma"
    _Stub.answer = answer
    try:
        result = CliRunner().invoke(
            main, ["draft", str(report), "--llm-url", stub], env={"FHIR_ADAPTER_LLM_KEY": "from-env"}
        )
        assert result.exit_code == 0, result.output
        case = yaml.safe_load(result.stdout)
        assert case["primary_cancers"][0]["site"] == "breast"
        assert "histology" not in case["primary_cancers"][0]  # its words are not in this text
        assert "# review:" in result.stdout and "liver" in result.stdout
        key = tmp_path / "key"
        key.write_text("from-file\n", encoding="utf-8")
        result = CliRunner().invoke(
            main, ["draft", str(report), "--llm-url", stub, "--llm-key-file", str(key)]
        )
        assert result.exit_code == 0, result.output
        assert [s["auth"] for s in _Stub.seen] == ["Bearer from-env", "Bearer from-file"]
    finally:
        _Stub.answer = ANSWER
    result = CliRunner().invoke(main, ["draft", str(report), "--llm-key", "x"])
    assert result.exit_code == 2  # there is no option to pass a key on the command line


def test_a_case_without_a_verified_primary_is_refused(stub, tmp_path):
    report = tmp_path / "r.txt"
    report.write_text(TEXT.replace(" of the breast", ""), encoding="utf-8")
    result = CliRunner().invoke(main, ["draft", str(report), "--llm-url", stub])
    assert result.exit_code == 3
    assert "no primary cancer found back in the text" in result.output


def test_an_endpoint_error_is_reported_with_its_status(stub):
    _Stub.status = 500
    with pytest.raises(ServerUnavailableError, match="answered HTTP 500"):
        # A 500 is retried as for a FHIR server; short pauses keep the test quick.
        llm_drafts(TEXT, LlmSettings(url=stub, retry=RetryPolicy(base_delay=0.01, max_delay=0.01)))


def test_an_unreachable_endpoint_is_a_sentence(tmp_path):
    with pytest.raises(ServerUnavailableError, match="cannot reach the endpoint"):
        llm_drafts(TEXT, LlmSettings(url="http://127.0.0.1:9/v1/chat/completions", timeout=2))
