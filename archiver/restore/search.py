"""Search every place for each dead URL's captures, politely, and settle placeholders.

Among a place's captures the one nearest the citing post's date is tried first, those
from before it ahead of those after (`by_preference`). Each capture is judged
(`verify`); the first good one wins, and the rejected ones are kept with their reasons.
Identical bytes standing in for several different files of one host are a placeholder:
their digest is banned and those URLs are searched again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from archiver.model import Link, LinkKind, LinkVerdict
from archiver.restore.sources import ArchiveSource, Candidate, Lookup, Retrieved, Sources, by_preference
from archiver.restore.values import Rejection
from archiver.restore.verify import Accepted, Judgement, Rejected, judge_image, judge_page, placeholder_redirect
from archiver.sites import site_key
from archiver.times import utc_iso

_log = logging.getLogger(__name__)

TRIES_PER_PLACE = 5  # captures tried per place and URL before moving on: archives rate-limit hard
REDIRECTS_FOLLOWED = 3  # captured redirects followed from one capture
REDIRECT_CAPTURES_TRIED = 3  # captures of a redirect's target tried, nearest the redirect first
_PLACEHOLDER_ROUNDS = 3


@dataclass
class Chosen:
    """The capture chosen for a URL, with what it holds."""

    retrieved: Retrieved
    judgement: Accepted
    first: Candidate  # the capture of the URL itself, before any captured redirect


@dataclass
class Search:
    """One URL's search: its result so far and what was turned down."""

    link: Link
    verdict: LinkVerdict
    target: dt.datetime
    chosen: Chosen | None = None
    rejections: list[Rejection] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


class Finder:
    """Searches every place for every pending URL, politely, and settles placeholders."""

    def __init__(self, sources: Sources, searches: list[Search], reject_digests: frozenset[str]) -> None:
        self._sources = sources
        self._searches = searches
        self._reject_digests = reject_digests
        self._lookups: dict[tuple[str, str, dt.datetime], Lookup] = {}
        self._retrieved: dict[tuple[str, str], Retrieved] = {}
        self._refusals: dict[tuple[str, str], str] = {}  # captures judged unusable: their bytes are let go
        self._banned: dict[str, str] = {}  # payload SHA-256 -> why it is a placeholder

    async def run(self) -> None:
        """Search for every URL; search again for those whose find turned out a placeholder."""
        await asyncio.gather(*(self._search(s) for s in self._searches))
        for _ in range(_PLACEHOLDER_ROUNDS):
            again = self._find_placeholders()
            if not again:
                break
            await asyncio.gather(*(self._search(s) for s in again))

    async def _search(self, search: Search) -> None:
        search.chosen, search.rejections, search.unavailable = None, [], []
        try:
            for place in self._sources.of(search.link):
                if await self._search_in(place, search):
                    return
        except Exception as error:  # noqa: BLE001 - a fault with one URL must not end the restore
            _log.exception("unexpected error restoring %s", search.link.url)
            search.chosen = None
            search.unavailable.append(f"internal error looking for {search.link.url}: {error!r}")

    async def _search_in(self, place: ArchiveSource, search: Search) -> bool:
        """Try the place's captures in order of preference; True once one is usable."""
        lookup = await self._lookup(place, search.link.url, search.target)
        if lookup.problem:
            search.unavailable.append(lookup.problem)
            return False
        for candidate in by_preference(lookup.candidates, search.target)[:TRIES_PER_PLACE]:
            found = await self._try(place, candidate, search)
            if isinstance(found, str):  # the place stopped answering: the next place, not the next capture
                search.unavailable.append(found)
                return False
            if found is not None:
                search.chosen = found
                return True
        return False

    async def _lookup(self, place: ArchiveSource, url: str, near: dt.datetime) -> Lookup:
        key = (place.name, url, near)
        if key not in self._lookups:
            self._lookups[key] = await place.lookup(url, near)
        return self._lookups[key]

    async def _retrieve(self, place: ArchiveSource, candidate: Candidate) -> Retrieved:
        key = _key(candidate)
        if key not in self._retrieved:
            self._retrieved[key] = await place.retrieve(candidate)
        return self._retrieved[key]

    async def _try(self, place: ArchiveSource, candidate: Candidate, search: Search) -> Chosen | str | None:
        """The capture, following its captured redirects, if it holds the real thing; the
        place's problem when the place itself failed; None when the capture is unusable."""
        retrieved = await self._retrieve(place, candidate)
        for _ in range(REDIRECTS_FOLLOWED):
            if retrieved.place_failed:
                return retrieved.problem
            if retrieved.redirect_to is None:
                break
            refusal = _refused_redirect(search.link, retrieved.redirect_to)
            followed = None if refusal else await self._follow(place, retrieved)
            if followed is None:
                _reject(search, retrieved, refusal or f"redirected to {retrieved.redirect_to}, which has no capture")
                return None
            retrieved = followed
        if retrieved.place_failed:
            return retrieved.problem
        judgement = self._judge(search.link, retrieved)
        if isinstance(judgement, Rejected):
            self._refusals[_key(retrieved.candidate)] = judgement.reason
            self._retrieved[_key(retrieved.candidate)] = replace(retrieved, body=b"")
            _reject(search, retrieved, judgement.reason)
            return None
        return Chosen(retrieved, judgement, candidate)

    async def _follow(self, place: ArchiveSource, retrieved: Retrieved) -> Retrieved | None:
        """The capture of a captured redirect's target nearest the redirect's own capture."""
        assert retrieved.redirect_to is not None
        lookup = await self._lookup(place, retrieved.redirect_to, retrieved.when)
        nearest = sorted(lookup.candidates, key=lambda c: abs(c.when - retrieved.when))
        followed = None
        for candidate in nearest[:REDIRECT_CAPTURES_TRIED]:
            followed = await self._retrieve(place, candidate)
            if followed.code == 200 or followed.place_failed:
                break
        return followed

    def _judge(self, link: Link, retrieved: Retrieved) -> Judgement:
        refused = self._refusals.get(_key(retrieved.candidate))
        if refused is not None:
            return Rejected(refused)
        if link.kind is not LinkKind.IMAGE:
            return judge_page(retrieved)
        judgement = judge_image(retrieved, self._reject_digests)
        if isinstance(judgement, Accepted) and judgement.sha256 in self._banned:
            return Rejected(self._banned[judgement.sha256])
        return judgement

    def _find_placeholders(self) -> list[Search]:
        """The searches whose image turned out to be a placeholder: the same bytes found for
        differently named files of one host. Their digests are banned from now on."""
        by_bytes: dict[tuple[str, str], list[Search]] = defaultdict(list)
        for search in self._searches:
            if search.chosen is not None and search.link.kind is LinkKind.IMAGE:
                by_bytes[(site_key(search.link.url), search.chosen.judgement.sha256)].append(search)
        again: list[Search] = []
        for (host, digest), group in by_bytes.items():
            names = {_file_name(s.link.url) for s in group}
            if len(names) > 1:
                self._banned[digest] = (
                    f"the same bytes stand for {len(names)} different images of {host}: a placeholder"
                )
                again.extend(group)
        return again


def _reject(search: Search, retrieved: Retrieved, reason: str) -> None:
    candidate = retrieved.candidate
    when = utc_iso(retrieved.when, "seconds", zulu=True)
    search.rejections.append(Rejection(candidate.source, candidate.address, when, reason))


def _key(candidate: Candidate) -> tuple[str, str]:
    return candidate.source, candidate.raw_address or candidate.address


def _refused_redirect(link: Link, target: str) -> str:
    """Why a captured redirect from `link` to `target` cannot lead to its content ("" when it can)."""
    if placeholder_redirect(link.url, target):
        return f"redirected to {target}, a placeholder"
    if link.kind is not LinkKind.IMAGE and _is_front_page(target) and not _is_front_page(link.url):
        return f"redirected to the front page {target}, not the page"
    return ""


def _is_front_page(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def _file_name(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
