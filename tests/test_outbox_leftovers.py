"""A push killed between writing an outbox file and renaming it into place leaves a hidden
`.name.*.tmp` file. The next run that holds the outbox clears them, so they do not pile up;
nothing else in the outbox is touched."""

import os

from fhir_adapter.push import Outbox


def test_the_next_run_holding_the_outbox_removes_half_written_files(tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    for folder in (outbox.pending, outbox.sent, outbox.unconfirmed):
        folder.mkdir(parents=True)
    left = [
        outbox.pending / ".case-1.json.1a2b3c4d.tmp",
        outbox.sent / ".case-2.json.5e6f7a8b.tmp",
        outbox.unconfirmed / ".case-3.json.9c0d1e2f.tmp",
    ]
    for path in left:
        path.write_text('{"resourceType": "Bun')  # cut off mid-write
    kept = [outbox.pending / "case-1.json", outbox.sent / "case-2.json", outbox.pending / "notes.tmp"]
    for path in kept:
        path.write_text("{}")
    # a link named like a leftover is not followed, and what it points to stays
    target = tmp_path / "elsewhere.txt"
    target.write_text("not the outbox's")
    link = outbox.pending / ".x.json.00000000.tmp"
    os.symlink(target, link)

    with outbox.lock():
        pass

    assert [p for p in left if p.exists()] == []
    assert all(p.read_text() == "{}" for p in kept)
    assert target.read_text() == "not the outbox's"
    assert link.is_symlink()
