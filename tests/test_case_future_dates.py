"""Every date a case states is checked against today, wherever it stands, and named by its path."""

from __future__ import annotations

import pytest

from fhir_adapter.casefile import parse_case, read_case_text
from fhir_adapter.errors import InvalidCaseError

CASE = """
case: {id: c1, source: {citation: A report, published: 2098-05-01}}
patient:
  sex: female
  vital_status: {deceased: false, last_known: 2099-02}
primary_cancers:
  - id: p1
    site: breast
    date: 2097
    between: [2001, 2096-03]
    markers: [{name: ER, result: positive}, {name: PR, result: negative, date: 2095-01-02}]
    staging: [{group: IIA, between: [2094, 2095]}]
procedures:
  - {name: mastectomy, date: 2093}
  - {name: mastectomy, date: 2092, status: preparation}
medications:
  - {name: tamoxifen, date: 2010, end_date: 2091}
  - {name: letrozole, date: 2090, end_date: 2091, status: intended}
"""


def test_each_future_date_is_named():
    with pytest.raises(InvalidCaseError) as refused:
        parse_case(read_case_text("c1.yaml", CASE.encode()))
    said = [line.split(": ", 1)[1] for line in str(refused.value).splitlines() if "in the future" in line]
    # The messages come sorted by the line of the file they point at.
    assert sorted(said) == sorted(
        [
            "primary_cancers[0].date: 2097 is in the future; check the date",
            "primary_cancers[0].between[1]: 2096-03 is in the future; check the date",
            "primary_cancers[0].markers[1].date: 2095-01-02 is in the future; check the date",
            "primary_cancers[0].staging[0].between[0]: 2094 is in the future; check the date",
            "primary_cancers[0].staging[0].between[1]: 2095 is in the future; check the date",
            "procedures[0].date: 2093 is in the future; check the date",
            "medications[0].end_date: 2091 is in the future; check the date",
            "patient.vital_status.last_known: 2099-02 is in the future; check the date",
            "case.source.published: 2098-05-01 is in the future; check the date",
        ]
    )
