"""Search every place for each dead URL's captures, politely, and settle placeholders.

The places are asked in turn, each about every URL no earlier place restored, all at
once (`ArchiveSource.prepare`: one CDX query per site where the archive has a CDX
server). Among a place's captures the one nearest the citing post's date is tried first,
those from before it ahead of those after (`by_preference`). Each capture is judged
(`verify`); the first good one wins, and the rejected ones are kept with their reasons.
An image with no usable capture of its own URL is looked for under its file name
elsewhere on its site (`renamed`), the likeliest old addresses first.

Identical bytes standing in for several different files of one host (in this restore,
or restored by an earlier one) are a placeholder: their digest is banned, remembered
for later restores, and those URLs are searched again. A web archive that had no
capture of a URL is not asked about it again until `Memory.retry_after` has passed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from archiver.model import REDIRECT_CODES, Link, LinkKind, LinkVerdict
from archiver.pack import url_key
from archiver.restore.renamed import likeness
from archiver.restore.sources import (
    OWN_ARCHIVE,
    ArchiveSource,
    Candidate,
    Lookup,
    Retrieved,
    Sources,
    Wanted,
    by_preference,
)
from archiver.restore.values import Rejection
from archiver.restore.verify import Accepted, Judgement, Rejected, judge_image, judge_page, placeholder_redirect
from archiver.sites import site_key
from archiver.times import utc_iso

_log = logging.getLogger(__name__)

TRIES_PER_PLACE = 5  # captures tried per place and URL before moving on: archives rate-limit hard
REDIRECTS_FOLLOWED = 3  # captured redirects followed from one capture
REDIRECT_CAPTURES_TRIED = 3  # captures of a redirect's target tried, nearest the redirect first
RENAMED_TRIES_PER_ADDRESS = 2  # captures tried of each old address of a renamed image
_PLACEHOLDER_ROUNDS = 3


@dataclass
class Chosen:
    """The capture chosen for a URL, with what it holds."""

    retrieved: Retrieved
    judgement: Accepted
    first: Candidate  # the capture of the URL itself (or of its old address), before any captured redirect
    renamed: bool = False  # found under the file's old address

    @property
    def renamed_from(self) -> str:
        """The old address the file was found under; "" when found under its own URL."""
        return self.first.url if self.renamed else ""


@dataclass
class Search:
    """One URL's search: its result so far and what was turned down."""

    link: Link
    verdict: LinkVerdict
    target: dt.datetime
    chosen: Chosen | None = None
    rejections: list[Rejection] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    answered: dict[str, bool] = field(default_factory=dict)  # web archive -> whether it had any capture
    remembered: list[str] = field(default_factory=list)  # archives not asked: they had nothing not long ago


@dataclass(frozen=True)
class Memory:
    """What earlier restores learned, and what this one goes by."""

    now: dt.datetime
    not_archived: Mapping[tuple[str, str], dt.datetime] = field(default_factory=dict)  # (URL, archive) -> asked at
    retry_after: dt.timedelta = dt.timedelta(0)  # how long a "no capture" holds
    placeholders: Mapping[str, str] = field(default_factory=dict)  # payload SHA-256 -> why it is a placeholder
    # URL -> (SHA-256 of the file restored for it, the address those bytes were found under)
    restored: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    renamed: bool = True  # look for images under their file name elsewhere on the site


class Finder:
    """Searches every place for every pending URL, politely, and settles placeholders."""

    def __init__(
        self, sources: Sources, searches: list[Search], reject_digests: frozenset[str], memory: Memory
    ) -> None:
        self._sources = sources
        self._searches = searches
        self._reject_digests = reject_digests
        self._memory = memory
        self._lookups: dict[tuple[str, str, dt.datetime, bool], Lookup] = {}
        self._retrieved: dict[tuple[str, str], Retrieved] = {}
        self._refusals: dict[tuple[str, str], str] = {}  # captures judged unusable: their bytes are let go
        self.banned: dict[str, str] = dict(memory.placeholders)  # payload SHA-256 -> why it is a placeholder

    async def run(self) -> None:
        """Search for every URL; search again for those whose find turned out a placeholder."""
        await self._search_all(self._searches)
        for _ in range(_PLACEHOLDER_ROUNDS):
            again = self._find_placeholders()
            if not again:
                break
            await self._search_all(again)

    async def _search_all(self, searches: list[Search]) -> None:
        """Ask each place in turn about every search no earlier place settled."""
        for search in searches:
            search.chosen, search.rejections, search.unavailable = None, [], []
            search.answered, search.remembered = {}, []
        for place in self._sources.places:
            pending = [s for s in searches if s.chosen is None and place in self._sources.of(s.link)]
            asking = [s for s in pending if not self._remembered(place, s)]
            renamed = self._memory.renamed
            wanted = [Wanted(s.link.url, s.target, renamed and s.link.kind is LinkKind.IMAGE) for s in asking]
            try:
                await place.prepare(wanted)
            except Exception:  # noqa: BLE001 - a fault in asking at once leaves each URL to its own lookup
                _log.exception("unexpected error asking %s about %d URLs at once", place.name, len(wanted))
            await asyncio.gather(*(self._search(place, s) for s in asking))

    def _remembered(self, place: ArchiveSource, search: Search) -> bool:
        """The place had no capture of the URL not long ago: not asked again yet (noted)."""
        asked = self._memory.not_archived.get((search.link.url, place.name))
        if place.name == OWN_ARCHIVE or asked is None or self._memory.now - asked >= self._memory.retry_after:
            return False
        again = utc_iso(asked + self._memory.retry_after, "seconds", zulu=True)
        when = utc_iso(asked, "seconds", zulu=True)
        search.remembered.append(f"{place.name}: had no capture when asked at {when}; asked again from {again}")
        return True

    async def _search(self, place: ArchiveSource, search: Search) -> None:
        try:
            await self._search_in(place, search)
        except Exception as error:  # noqa: BLE001 - a fault with one URL must not end the restore
            _log.exception("unexpected error restoring %s", search.link.url)
            search.chosen = None
            search.unavailable.append(f"internal error looking for {search.link.url}: {error!r}")

    async def _search_in(self, place: ArchiveSource, search: Search) -> bool:
        """Try the place's captures of the URL in order of preference, then (an image)
        those of its old addresses; True once one is usable."""
        lookup = await self._lookup(place, search.link.url, search.target)
        if lookup.problem:
            search.unavailable.append(lookup.problem)
            return False
        tries = by_preference(lookup.candidates, search.target)[:TRIES_PER_PLACE]
        found = await self._first_usable(place, tries, search)
        if found is None and self._memory.renamed and search.link.kind is LinkKind.IMAGE:
            renamed = await self._lookup(place, search.link.url, search.target, renamed=True)
            if renamed.problem:
                search.unavailable.append(renamed.problem)
                return False
            lookup = Lookup(lookup.candidates + renamed.candidates)
            found = await self._first_usable(place, _likeliest(search, renamed.candidates), search, renamed=True)
        search.answered[place.name] = bool(lookup.candidates)
        search.chosen = found if isinstance(found, Chosen) else None
        return search.chosen is not None

    async def _first_usable(
        self, place: ArchiveSource, candidates: list[Candidate], search: Search, renamed: bool = False
    ) -> Chosen | str | None:
        """The first usable capture among `candidates`; the place's problem if it stopped answering."""
        for candidate in candidates:
            found = await self._try(place, candidate, search)
            if isinstance(found, str):  # the place stopped answering: the next place, not the next capture
                search.unavailable.append(found)
                return found
            if found is not None:
                return replace(found, renamed=renamed)
        return None

    async def _lookup(self, place: ArchiveSource, url: str, near: dt.datetime, renamed: bool = False) -> Lookup:
        key = (place.name, url, near, renamed)
        if key not in self._lookups:
            self._lookups[key] = await (place.same_named(url, near) if renamed else place.lookup(url, near))
        return self._lookups[key]

    async def _retrieve(self, place: ArchiveSource, candidate: Candidate) -> Retrieved:
        key = _key(candidate)
        if key not in self._retrieved:
            self._retrieved[key] = await place.retrieve(candidate)
        return self._retrieved[key]

    async def _try(self, place: ArchiveSource, candidate: Candidate, search: Search) -> Chosen | str | None:
        """The capture, following its captured redirects, if it holds the real thing; the
        place's problem when the place itself failed; None when the capture is unusable."""
        listed = candidate.status
        if listed is not None and listed != 200 and listed not in REDIRECT_CODES:  # refused unread: one request less
            when = utc_iso(candidate.when, "seconds", zulu=True)
            reason = f"the archived answer is {listed}, not 200"
            search.rejections.append(Rejection(candidate.source, candidate.address, when, reason))
            return None
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
        if isinstance(judgement, Accepted) and judgement.sha256 in self.banned:
            return Rejected(self.banned[judgement.sha256])
        return judgement

    def _find_placeholders(self) -> list[Search]:
        """The searches whose image turned out to be a placeholder: the same bytes found for
        differently named files of one host, in this restore or restored by an earlier one.
        Their digests are banned from now on."""
        by_bytes: dict[tuple[str, str], list[Search]] = defaultdict(list)
        for search in self._searches:
            if search.chosen is not None and search.link.kind is LinkKind.IMAGE:
                by_bytes[(site_key(search.link.url), search.chosen.judgement.sha256)].append(search)
        judged = {search.link.url for search in self._searches}
        earlier: dict[tuple[str, str], set[str]] = defaultdict(set)
        for url, (digest, found_under) in self._memory.restored.items():
            if url not in judged:  # a file restored again must not ban its own bytes
                earlier[(site_key(url), digest)].add(_file_name(found_under))
        again: list[Search] = []
        for (host, digest), group in by_bytes.items():
            # a renamed image is named by the old address its bytes came from: two posts citing
            # one file under two names are not a placeholder
            names = {_file_name(s.chosen.first.url) for s in group if s.chosen} | earlier[(host, digest)]
            if len(names) > 1:
                self.banned[digest] = f"the same bytes stand for {len(names)} different images of {host}: a placeholder"
                again.extend(group)
        return again


def _likeliest(search: Search, candidates: tuple[Candidate, ...]) -> list[Candidate]:
    """The captures of a dead image's old addresses to try: the likeliest address first
    (`renamed.Likeness`), each address's captures in order of preference."""
    by_address: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_address[url_key(candidate.url)].append(candidate)
    ranked = []
    for group in by_address.values():
        alike = likeness(search.link.url, group[0].url)
        if alike is not None:
            ranked.append((alike, by_preference(group, search.target)[:RENAMED_TRIES_PER_ADDRESS]))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return [candidate for _, group in ranked for candidate in group][:TRIES_PER_PLACE]


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
