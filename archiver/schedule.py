"""Schedule: which links a run checks, so that a daily job touches only what is due.

A link no counted run has checked is due at once. Any other is due a number of days
after its last counted check, by its verdict (`ScheduleSettings`): alive (or recovered)
links after `alive_days`; failing ones at the next run after their first failure (which
may be a blip) and then after `failing_days` (so that health's rule can confirm them
dead); dead ones after `dead_days` (to see them come back); unknown ones after
`unknown_days`. A run that found the network unreachable does not count (its
checks are in no verdict), so it postpones nothing.

A run started a little early still does the work due: a daily cron job starts at the
same minute each day, and the checks of the day before were made some seconds or
minutes after it started, so "due in 23 hours 59 minutes" must count as due now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.config import ScheduleSettings
from archiver.model import LinkVerdict, Verdict

EARLY = dt.timedelta(hours=1)  # how long before it is due a link counts as due
WITNESSES = 3  # sites of links not due asked beside a run, as canaries, when none is configured


@dataclass(frozen=True)
class Plan:
    """The URLs a run checks now, how many it leaves for later, and the earliest date one
    of those is due."""

    due: tuple[str, ...]
    not_due: int
    next_due: dt.datetime | None
    # The robots.txt of a few sites whose links are not due and were alive at their last
    # check: fetched beside a run that has no canaries (never stored; a 404 is an answer as
    # good as any), they tell an offline machine from a run whose few due links are simply
    # down (archiver.reach needs 3 hosts failing to tell otherwise), asking nothing of the
    # links themselves.
    witnesses: tuple[str, ...] = ()


def next_due(
    verdict: LinkVerdict | None, settings: ScheduleSettings, last: dt.datetime | None = None
) -> dt.datetime | None:
    """When a link with this verdict, last checked at `last` (by default, its verdict's
    latest check), is due to be checked again; None: at once (never checked)."""
    if verdict is None:
        return None
    last = last or verdict.latest.checked_at
    if verdict.verdict is Verdict.FAILING and verdict.failures_in_a_row <= 1:
        return last  # a first failure may be a blip: asked again at the next run
    return last + dt.timedelta(days=_interval_days(verdict.verdict, settings))


def plan(
    urls: Iterable[tuple[str, LinkVerdict | None]],
    now: dt.datetime,
    settings: ScheduleSettings,
    stored: Mapping[str, dt.datetime] | None = None,
) -> Plan:
    """Split `urls`, each with its verdict (None: never checked), into those due at `now`
    and those not due yet. With `stored` (when a run that stores captures last checked
    each URL), a link is due by that date alone, and at once when no such run checked it:
    `archiver check` checks, but stores nothing."""
    due, later, soonest = [], 0, None
    witnesses: dict[str, str] = {}
    for url, verdict in urls:
        if stored is None:
            when = next_due(verdict, settings)
        else:
            last = stored.get(url)
            when = next_due(verdict, settings, last) if last is not None else None
        if when is None or when - EARLY <= now:
            due.append(url)
        else:
            later += 1
            soonest = when if soonest is None else min(soonest, when)
            _witness(url, verdict, witnesses)
    return Plan(tuple(due), later, soonest, tuple(witnesses.values()))


def _witness(url: str, verdict: LinkVerdict | None, chosen: dict[str, str]) -> None:
    """Take the site of a link left for later as a witness, while fewer than `WITNESSES`
    are chosen: one known alive, on a host not chosen yet."""
    if len(chosen) >= WITNESSES or verdict is None or verdict.verdict is not Verdict.ALIVE:
        return
    parts = urlsplit(url)
    if parts.hostname:
        chosen.setdefault(parts.hostname, f"{parts.scheme}://{parts.netloc}/robots.txt")


def _interval_days(verdict: Verdict, settings: ScheduleSettings) -> float:
    if verdict in (Verdict.ALIVE, Verdict.RECOVERED):
        return settings.alive_days
    if verdict is Verdict.FAILING:
        return settings.failing_days
    if verdict is Verdict.DEAD:
        return settings.dead_days
    return settings.unknown_days
