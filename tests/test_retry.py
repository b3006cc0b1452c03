"""The retry policy: which outcomes are retried, and how long to wait."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from archiver.config import DEFAULT_RETRY_CODES
from archiver.fetch.retry import retry_after_seconds, should_retry
from archiver.model import Status


@dataclass(frozen=True)
class Outcome:
    status: Status
    code: int | None = None
    retry_after: float | None = None


@pytest.mark.parametrize(
    ("outcome", "retried"),
    [
        (Outcome(Status.TIMEOUT), True),
        (Outcome(Status.RESET), True),
        (Outcome(Status.NETWORK_ERROR), True),
        (Outcome(Status.REFUSED), True),
        (Outcome(Status.DNS_FAILURE), False),
        (Outcome(Status.TLS_ERROR), False),
        (Outcome(Status.BLOCKED), False),
        (Outcome(Status.REDIRECT_LOOP, 302), False),
        (Outcome(Status.OK, 200), False),
        (Outcome(Status.NOT_FOUND, 404), False),
        (Outcome(Status.GONE, 410), False),
        (Outcome(Status.ACCESS_DENIED, 403), False),
        (Outcome(Status.CLIENT_ERROR, 408), True),
        (Outcome(Status.RATE_LIMITED, 429), True),
        (Outcome(Status.SERVER_ERROR, 500), True),
        (Outcome(Status.SERVER_ERROR, 501), False),
        (Outcome(Status.SERVER_ERROR, 502), True),
        (Outcome(Status.SERVER_ERROR, 503), True),
        (Outcome(Status.SERVER_ERROR, 504), True),
    ],
)
def test_only_what_a_retry_can_help_is_retried(outcome: Outcome, retried: bool) -> None:
    assert should_retry(outcome, frozenset(DEFAULT_RETRY_CODES)) is retried


NOW = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Mon, 23 Nov 2026 12:01:30 GMT", 90.0),
        ("Mon, 23 Nov 2026 11:00:00 GMT", 0.0),  # a date in the past: no wait
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
