"""What every place that holds captures shares: the values it answers with, and the protocol."""

from __future__ import annotations

import datetime as dt
import heapq
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from archiver.fetch.network import is_public
from archiver.model import RecordLocation
from archiver.times import timestamp14

OWN_ARCHIVE = "own archive"
# Captures a lookup keeps on each side of the wanted time: far more than are ever tried
# (search.TRIES_PER_PLACE), and what a TimeMap of a million entries is cut down to.
NEAREST_KEPT = 50
_TIMESTAMP = "%Y%m%d%H%M%S"
_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Candidate:
    """A capture of a URL that may hold what the URL used to serve."""

    url: str  # the URL the capture is of
    when: dt.datetime  # when it was captured, UTC
    source: str  # OWN_ARCHIVE or the name of a web archive
    address: str  # where a reader sees it: a memento's address, or the WARC file and offset
    raw_address: str = ""  # where its original bytes are: the `id_` address (web archives)
    stored_at: RecordLocation | None = None  # its record (own archive)
    status: int | None = None  # the captured answer's code, where the listing says it (a CDX row)

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
class Wanted:
    """A URL whose captures are wanted, nearest a moment; with `renamed`, those of the
    same file elsewhere on its site too."""

    url: str
    near: dt.datetime
    renamed: bool = False


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


class Nearest(Generic[_Item]):
    """The items nearest a moment, gathered one at a time: up to `keep` on or before it and
    as many after it, so that `by_preference` and the nearest-either-way order both find
    among them what they would find among all."""

    def __init__(self, near: dt.datetime, keep: int = NEAREST_KEPT) -> None:
        self.near = near
        self._keep = keep
        self._added = 0
        # heaps with the farthest kept on top: (negated distance, order added, item)
        self._before: list[tuple[dt.timedelta, int, _Item]] = []
        self._after: list[tuple[dt.timedelta, int, _Item]] = []

    def add(self, when: dt.datetime, item: _Item) -> None:
        """Keep `item`, dated `when`, if it is among the nearest so far."""
        heap = self._before if when <= self.near else self._after
        entry = (-abs(self.near - when), self._added, item)
        self._added += 1
        if len(heap) < self._keep:
            heapq.heappush(heap, entry)
        elif entry[0] > heap[0][0]:
            heapq.heapreplace(heap, entry)

    def items(self) -> list[_Item]:
        """The items kept, nearest first."""
        return [item for _, _, item in sorted(self._before + self._after, key=lambda e: (-e[0], e[1]))]

    def could_take(self, start: dt.datetime | None, end: dt.datetime | None) -> bool:
        """True when an item dated between `start` and `end` (None: unbounded) could still be kept."""
        if end is not None and end <= self.near:
            return self._room(self._before, self.near - end)
        if start is not None and start > self.near:
            return self._room(self._after, start - self.near)
        return True

    def _room(self, heap: list[tuple[dt.timedelta, int, _Item]], distance: dt.timedelta) -> bool:
        return len(heap) < self._keep or distance < -heap[0][0]


class ArchiveSource(Protocol):
    """A place that holds captures: it lists those of a URL, and reads back what one holds."""

    @property
    def name(self) -> str:
        """What the place is called in reports."""
        ...

    async def lookup(self, url: str, near: dt.datetime) -> Lookup:
        """The captures the place holds for `url` (the `NEAREST_KEPT` on each side of
        `near`), or why it could not say."""
        ...

    async def retrieve(self, candidate: Candidate) -> Retrieved:
        """What one of its captures holds."""
        ...

    async def prepare(self, wanted: Sequence[Wanted]) -> None:
        """Get ready to look up all of `wanted` (a place that can list many URLs at once
        asks for them now, in few requests); lookups work without it."""
        ...

    async def same_named(self, url: str, near: dt.datetime) -> Lookup:
        """The captures of other addresses of the site of `url` that may hold its file
        under its old name (`archiver.restore.renamed`), or why the place could not say."""
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
