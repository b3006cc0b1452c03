"""When to try a URL again, and how long to wait first: the policy tenacity applies.

Retry only where another attempt can help: timeouts, resets and other transient
transport errors, and the configured status codes (408, 429, 500, 502, 503, 504 by
default). Never for a name that does not resolve, a failed TLS verification, a blocked
address, or any other 4xx. The wait grows exponentially with jitter; a `Retry-After`
header, in seconds or as an HTTP date, is honoured up to a ceiling.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Collection
from typing import Protocol

from tenacity import RetryCallState
from tenacity.wait import wait_exponential_jitter

from archiver.model import Status
from archiver.times import utc_now

_RETRIED_TRANSPORT_FAILURES = frozenset({Status.TIMEOUT, Status.RESET, Status.NETWORK_ERROR, Status.REFUSED})


class AttemptOutcome(Protocol):
    """What one attempt ended in, as far as retrying is concerned."""

    @property
    def status(self) -> Status: ...

    @property
    def code(self) -> int | None: ...

    @property
    def retry_after(self) -> float | None: ...


def should_retry(outcome: AttemptOutcome, retry_codes: Collection[int]) -> bool:
    """True when another attempt may give a different answer."""
    if outcome.code is not None:
        return outcome.code in retry_codes
    return outcome.status in _RETRIED_TRANSPORT_FAILURES


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """The delay a `Retry-After` header asks for, in seconds; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or utc_now())).total_seconds())


def wait_policy(backoff: float, backoff_max: float, retry_after_max: float) -> Callable[[RetryCallState], float]:
    """Tenacity's wait: the server's Retry-After (capped), else exponential backoff with jitter."""
    exponential = wait_exponential_jitter(multiplier=backoff, max=backoff_max, jitter=backoff)

    def wait(state: RetryCallState) -> float:
        outcome = state.outcome.result() if state.outcome is not None and not state.outcome.failed else None
        retry_after = getattr(outcome, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), retry_after_max)
        return float(exponential(state))

    return wait
