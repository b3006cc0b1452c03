"""Submit: offer the live links a blog cites to a public archive, so that they can be
restored once they die.

Opt-in (`submit.enabled`). After a run, every link the posts cite whose verdict is
alive, whose address is public (a link to a private network, localhost or a name that
does not resolve is never offered to anyone), that carries no secret (a query parameter
`report.secret_params` names) and that the archive did not accept in the last
`submit.resubmit_after_days` (nor refuse in the last day) is sent to the archive's save
endpoint (`{submit.url}{link}`, the form of the Internet Archive's Save Page Now), one at
a time, at the endpoint's own `requests_per_minute`, through the fetcher (so a 429 or 503
with Retry-After holds the next request), at most `submit.daily_cap` answered in any 24
hours. Addresses are looked up lazily, once per host, only until the day's room is used.
A submission the endpoint did not answer ends the round: the rest wait for a later run.
Each submission is kept in the history (`submissions`), and `SubmitSummary` says what
was done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.config import FetchSettings, SubmitSettings
from archiver.fetch import opened
from archiver.fetch.network import is_public
from archiver.model import FetchBackend, Link, LinkVerdict, Submission, Verdict
from archiver.redact import Redactor


@dataclass(frozen=True)
class SubmitSummary:
    """What submitting did."""

    submissions: tuple[Submission, ...] = ()
    waiting: int = 0  # links due, left for a later run: the daily cap, or an endpoint that did not answer
    private: int = 0  # links looked at and not offered: their addresses are not public

    def __str__(self) -> str:
        accepted = sum(s.accepted for s in self.submissions)
        return (f"submitted {len(self.submissions)} live links to the archive ({accepted} accepted), "
                f"{self.waiting} left for a later run, "
                f"{self.private} of those looked at not offered for their private addresses")  # fmt: skip


# A submission the archive did not accept (an error answer, or none) is tried again after this.
RETRY_FAILED = dt.timedelta(days=1)


def due(
    links: Iterable[Link],
    verdicts: Mapping[str, LinkVerdict],
    earlier: Sequence[Submission],
    settings: SubmitSettings,
    *,
    now: dt.datetime,
    shown: Redactor,
) -> list[str]:
    """The cited links alive now that the archive did not accept in the last
    `resubmit_after_days` nor fail to take in the last day; never one that carries a secret
    (a parameter `shown` redacts): a public archive shows it to all."""
    accepted_since = now - dt.timedelta(days=settings.resubmit_after_days)
    failed_since = now - RETRY_FAILED
    submitted = {s.url for s in earlier if s.submitted_at > (accepted_since if s.accepted else failed_since)}
    alive = (link.url for link in links if (v := verdicts.get(link.url)) is not None and v.verdict is Verdict.ALIVE)
    return sorted(url for url in dict.fromkeys(alive) if url not in submitted and shown.text(url) == url)


def room_today(earlier: Sequence[Submission], settings: SubmitSettings, now: dt.datetime) -> int:
    """How many more submissions the daily cap allows now (one the endpoint never answered
    does not count: it reached no one)."""
    today = sum(s.code is not None and s.submitted_at > now - dt.timedelta(days=1) for s in earlier)
    return max(0, settings.daily_cap - today)


async def submit(
    urls: Sequence[str],
    settings: SubmitSettings,
    fetch: FetchSettings,
    *,
    room: int,
    now: dt.datetime,
    backend: FetchBackend | None = None,
) -> SubmitSummary:
    """Submit `urls` whose addresses are public, one at a time, at most `room` of them
    (each recorded as submitted at `now`). Hosts are looked up in order, each once, only
    until `room` are submitted; the first submission the endpoint does not answer ends the
    round, and the links not looked at are left waiting."""
    delays = {settings.host: 60.0 / settings.requests_per_minute}
    done: list[Submission] = []
    public: dict[str, bool] = {}
    looked = private = 0
    if room > 0 and urls:
        async with opened(backend, fetch, host_delays=delays) as fetcher:
            for url in urls:
                if len(done) >= room:
                    break
                looked += 1
                if not await _public_cached(url, fetch.resolve, public):
                    private += 1
                    continue
                done.append(await _submit_one(fetcher, settings.url, url, now))
                if done[-1].code is None:
                    break
    return SubmitSummary(tuple(done), len(urls) - looked, private)


async def _public_cached(url: str, resolve: Mapping[str, str], known: dict[str, bool]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host not in known:
        known[host] = await _public(url, resolve)
    return known[host]


async def _submit_one(fetcher: FetchBackend, endpoint: str, url: str, now: dt.datetime) -> Submission:
    capture = await fetcher.fetch(f"{endpoint}{url}", follow=False)
    try:
        result = capture.result
        accepted = result.code is not None and 200 <= result.code < 400
        detail = f"answered {result.code}" if result.code else f"{result.status}: {result.detail}"
        return Submission(url, now, result.code, accepted, detail)
    finally:
        capture.close()


async def _public(url: str, resolve: Mapping[str, str]) -> bool:
    """Every address the URL's host has is public (a host that does not resolve is not)."""
    host = (urlsplit(url).hostname or "").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    given = resolve.get(host)
    try:
        literal = ipaddress.ip_address(given or host)
        return is_public(literal)
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(is_public(ipaddress.ip_address(str(entry[4][0]).split("%")[0])) for entry in found)
