"""What every place that holds captures shares: the values it answers with, and the protocol."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from archiver.fetch.network import is_public
from archiver.model import RecordLocation
from archiver.times import timestamp14

OWN_ARCHIVE = "own archive"
_TIMESTAMP = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class Candidate:
    """A capture of a URL that may hold what the URL used to serve."""

    url: str  # the URL the capture is of
    when: dt.datetime  # when it was captured, UTC
    source: str  # OWN_ARCHIVE or the name of a web archive
    address: str  # where a reader sees it: a memento's address, or the WARC file and offset
    raw_address: str = ""  # where its original bytes are: the `id_` address (web archives)
    stored_at: RecordLocation | None = None  # its record (own archive)

    @property
    def timestamp(self) -> str:
        """The capture time as the 14 digits of a Wayback address."""
        return timestamp14(self.when)


@dataclass(frozen=True)
class Retrieved:
    """What a capture holds: the captured answer's code, type and payload (decoded)."""

    candidate: Candidate
    when: dt.datetime  # the exact capture time, as the archive states it
    code: int | None = None
    content_type: str | None = None
    body: bytes = b""
    redirect_to: str | None = None  # a captured redirect's target, an absolute URL of the original web
    problem: str = ""  # why the capture could not be read; the other fields are then empty
    place_failed: bool = False  # the problem is the archive's (down, rate-limiting), not the capture's


@dataclass(frozen=True)
class Lookup:
    """The captures a place holds for a URL, or why it could not say."""

    candidates: tuple[Candidate, ...] = ()
    problem: str = ""


def by_preference(candidates: Iterable[Candidate], target: dt.datetime) -> list[Candidate]:
    """The captures to try in order: the latest on or before `target` first, going back in
    time, then those after it, nearest first."""
    before = sorted((c for c in candidates if c.when <= target), key=lambda c: target - c.when)
    after = sorted((c for c in candidates if c.when > target), key=lambda c: c.when - target)
    return before + after


class ArchiveSource(Protocol):
    """A place that holds captures: it lists those of a URL, and reads back what one holds."""

    @property
    def name(self) -> str:
        """What the place is called in reports."""
        ...

    async def lookup(self, url: str) -> Lookup:
        """The captures the place holds for `url`, or why it could not say."""
        ...

    async def retrieve(self, candidate: Candidate) -> Retrieved:
        """What one of its captures holds."""
        ...


def parse_timestamp(timestamp: str) -> dt.datetime:
    """The time of a 14-digit (or shorter) Wayback timestamp, in UTC."""
    return dt.datetime.strptime(timestamp[:14].ljust(14, "0"), _TIMESTAMP).replace(tzinfo=dt.UTC)


def absolute_url(base: str, location: str | None) -> str | None:
    """`location` made absolute against `base`; None when there is none or it is not a URL."""
    if location is None:
        return None
    try:
        return urljoin(base, location)
    except ValueError:
        return None


def public_address(url: str) -> bool:
    """The address can be reached by a blog's readers: not localhost, not a private network."""
    host = urlsplit(url).hostname or ""
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return is_public(ipaddress.ip_address(host))
    except ValueError:
        return True
