"""NDJSON is read a line at a time by every reader, with the same numbering and the same message for a bad line."""

from __future__ import annotations

import json
import os
import threading

import pytest

from fhir_adapter.bundlefiles import iter_bundles
from fhir_adapter.errors import ConfigError
from fhir_adapter.export.sources import SourceProblem, read_paths
from fhir_adapter.jsonlines import json_lines
from fhir_adapter.profiles import iter_units

PATIENT = {"resourceType": "Patient", "id": "p1"}


def test_blank_lines_are_skipped_and_counted_and_a_bad_line_keeps_its_raw_bytes():
    lines = [b"\n", b'{"a": 1}\n', b"   \n", b"{broken\n", b"[2]"]
    got = list(json_lines(lines))
    assert [(g.number, g.doc) for g in got] == [(2, {"a": 1}), (4, None), (5, [2])]
    assert got[1].error and got[1].raw == b"{broken\n"
    assert got[0].error is None


def test_every_reader_names_the_same_bad_line(tmp_path):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": PATIENT}]}
    text = json.dumps(bundle) + "\n\n" + "{not json\n" + json.dumps(bundle) + "\n"
    bundles = tmp_path / "b.ndjson"
    bundles.write_text(text)

    with pytest.raises(ConfigError, match=r"b\.ndjson:3: not a JSON Bundle"):
        list(iter_bundles([str(bundles)]))

    units = list(iter_units([str(bundles)]))
    assert [(u.line, u.problem is None) for u in units] == [(1, True), (3, False), (4, True)]
    assert units[1].problem.startswith("not JSON: ")

    problems = [p for p in read_paths([str(bundles)]) if isinstance(p, SourceProblem)]
    assert [p.source for p in problems] == [f"{bundles}:3"]

    resources = tmp_path / "bulk"
    resources.mkdir()
    (resources / "Patient.ndjson").write_text(json.dumps(PATIENT) + "\n\n{not json\n")
    problems = [p for p in read_paths([str(resources)]) if isinstance(p, SourceProblem)]
    assert [p.source for p in problems] == [f"{resources / 'Patient.ndjson'}:3"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_validate_reads_an_ndjson_file_as_it_comes(tmp_path):
    """The first resource is checked before the file ends: the file is never held whole."""
    fifo = tmp_path / "stream.ndjson"
    os.mkfifo(fifo)
    first_seen = threading.Event()
    writer_done = threading.Event()

    def write():
        with open(fifo, "w") as out:
            out.write(json.dumps(PATIENT) + "\n")
            out.flush()
            first_seen.wait(10)  # the rest only once the reader has the first line
            out.write(json.dumps({**PATIENT, "id": "p2"}) + "\n")
            writer_done.set()  # before the file ends: a reader that waits for its end sees this set

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    units = iter_units([str(fifo)])
    first = next(units)
    assert first.doc == PATIENT and first.line == 1
    assert not writer_done.is_set()  # read before the writer was done
    first_seen.set()
    assert [u.doc["id"] for u in units] == ["p2"]
    thread.join(10)
