"""The closing lines of a push tell a bundle the server refused apart from one that only needs sending again.

A rejected bundle sent again as it is would be refused again, so its line names the fix first; a
bundle left by an unreachable server only needs `push --resume`.
"""

from fhir_adapter.engine import PushSummary


def _summary(**counts: int) -> PushSummary:
    summary = PushSummary(server="http://127.0.0.1:8080/fhir", outbox="box")
    summary.counts.update(counts)
    return summary


def test_bundles_the_server_could_not_take_are_told_to_be_sent_again():
    lines = _summary(sent=3, unavailable=2).lines()
    assert lines[0] == "3 of 5 bundle(s) sent to http://127.0.0.1:8080/fhir."
    assert lines[1].startswith(
        "2 not sent; they wait in box/pending. Send them again with: fhir-adapter push --resume"
    )
    assert len(lines) == 2


def test_rejected_bundles_are_told_to_be_fixed_first_not_only_resent():
    lines = _summary(sent=1, rejected=2).lines()
    assert len(lines) == 2
    assert lines[1].startswith(
        "2 rejected by the server; they wait in box/pending. Fix what the lines above name"
    )
    assert "push the corrected case" in lines[1]
    assert not any(line.startswith("2 not sent") for line in lines)


def test_each_kind_is_counted_on_its_own_line():
    lines = _summary(sent=1, rejected=1, unavailable=2, misplaced=1, invalid=1).lines()
    assert lines[0] == "1 of 6 bundle(s) sent to http://127.0.0.1:8080/fhir."
    assert lines[1].startswith("3 not sent;")  # unavailable and misplaced: a resend may land them
    assert lines[2].startswith("1 rejected by the server;")
    assert lines[3].startswith("1 invalid, not queued")
