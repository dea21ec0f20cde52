"""A conversion run tells each case as it is done, so it holds no event for the rest of the run."""

from __future__ import annotations

from fhir_adapter import convert_many, engine


def small_case(case_id: str) -> str:
    return (
        f"case: {{id: {case_id}}}\npatient: {{sex: female}}\n"
        "primary_cancers: [{site: breast, laterality: left}]\nmetastases: [{site: scalp}]\n"
    )


def test_each_case_is_told_before_the_next_is_read(tmp_path):
    paths = [tmp_path / f"c{n}.yaml" for n in range(3)]
    for n, path in enumerate(paths):
        path.write_text(small_case(f"case-{n}"))
    events: list[engine.Event] = []

    def on_event(event: engine.Event) -> None:
        events.append(event)
        if isinstance(event, engine.Converted) and event.case_id == "case-0":
            # The last case has not been read yet: what it says now is what the run converts.
            paths[2].write_text("case: {id: case-2}\npatient: {sex: f}\n")

    summary = convert_many([str(p) for p in paths], output=str(tmp_path / "out"), on_event=on_event)

    told = [(type(e).__name__, e.source) for e in events if isinstance(e, engine.Converted | engine.Failed)]
    assert told == [("Converted", str(paths[0])), ("Converted", str(paths[1])), ("Failed", str(paths[2]))]
    assert (summary.converted, summary.failed) == (2, 1)
