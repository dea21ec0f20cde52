"""withdraw cannot tell what to delete when the server's search fails: it deletes nothing and says
so. Its message said 'so nothing was sent', the words of push, which sends."""

import json

from click.testing import CliRunner
from support.hostile_peer import HostilePeer, Reply, Request

from fhir_adapter.cli import main
from fhir_adapter.errors import EXIT_OK

OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}


def test_a_failed_search_says_nothing_was_deleted(tmp_path):
    posts = []

    def answer(request: Request) -> Reply:
        if request.method == "POST":
            posts.append(request)
        return Reply(400, {"Content-Type": "application/fhir+json"}, json.dumps(OUTCOME).encode())

    with HostilePeer(answer, answer_searches=False) as peer:
        result = CliRunner().invoke(
            main,
            [
                "withdraw",
                "case-x",
                "--server",
                peer.base_url,
                "--outbox",
                str(tmp_path / "ob"),
                "--max-time",
                "10",
            ],
        )
    assert result.exit_code != EXIT_OK, result.output
    assert "so nothing was deleted" in result.stderr
    assert "nothing was sent" not in result.stderr
    assert posts == []  # no transaction, so nothing was deleted indeed
