"""A Retry-After header the server sent twice reaches the client as one value joined by a comma.
It was unreadable, so the client backed off on its own schedule instead of waiting as asked."""

import email.utils
import time

import pytest

from fhir_adapter.client import Answer, retry_after


def answer(value: str) -> Answer:
    return Answer(status_code=503, headers={"Retry-After": value}, content=b"", url="http://127.0.0.1/fhir")


@pytest.mark.parametrize(("value", "seconds"), [("5, 5", 5.0), ("3,7", 7.0), ("12", 12.0)])
def test_delays_sent_twice_are_read_and_the_longest_kept(value, seconds):
    assert retry_after(answer(value)) == seconds


def test_an_http_date_keeps_its_own_commas():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)  # 'Sat, 05 Dec 2026 15:00:00 GMT'
    assert "," in when
    assert 20 < retry_after(answer(when)) <= 30


@pytest.mark.parametrize("value", ["5, soon", ", ", "5,,5"])
def test_a_list_that_is_not_all_delays_stays_unreadable(value):
    assert retry_after(answer(value)) is None
