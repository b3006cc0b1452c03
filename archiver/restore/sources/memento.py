"""Public web archives as a place to find captures, asked through the Memento protocol.

From an archive the original bytes are always taken through the `id_` form of a
memento's address, never the page the archive rewrote for display. Every request to an
archive goes through the fetch backend, with its limits, retries, Retry-After handling
and the archive's own request rate.

Where the archive has a CDX server (`ArchiveSettings.cdx_url`), the captures of all the
URLs about to be looked up are asked for in one query per site (`cdx`, `prepare`). A URL
that query did not cover (no CDX server, one that failed, an answer cut short) has its
captures listed by its TimeMap, read from the spooled answer in one pass (`timemap`), of
which only the captures nearest the wanted time are kept; a paged TimeMap's other pages
are read nearest that time first, as long as they could hold a nearer capture. Without a
CDX answer for its site, a renamed image is looked for at its WordPress address only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from urllib.parse import urlencode, urljoin, urlsplit

from archiver.bodies import decoded_chunks, payload_within
from archiver.config import CDX_AUTO, ArchiveSettings
from archiver.model import Capture, FetchBackend, FetchResult
from archiver.pack import url_key
from archiver.restore.renamed import wordpress_addresses
from archiver.restore.sources.base import Candidate, Lookup, Nearest, Retrieved, Wanted
from archiver.restore.sources.cdx import CDX_PAGE_ROWS, CDX_PAGES, Row, SiteRows, read_page, site_of, site_query
from archiver.restore.sources.cdx import Page as CdxPage
from archiver.restore.sources.timemap import Memento, Page, TimeMap, http_date, read_timemap

_log = logging.getLogger(__name__)

_MEMENTO_ADDRESS = re.compile(r"^(?P<base>.*?/)(?P<timestamp>\d{14})(?:[a-z]{2}_)?/(?P<url>.+)$")
_ARCHIVE_REDIRECTS = 5  # an archive's own redirects (to the exact timestamp) followed per capture
TIMEMAP_PAGES = 10  # documents of a paged TimeMap read per lookup, those nearest the wanted time first
_TIMEMAP_CHUNK = 64 * 1024
_NO_CDX_THERE = ("answered 404", "not CDX")  # the endings of what says an archive has no CDX server


class WebArchive:
    """A public web archive with Wayback-style addresses, asked through the Memento protocol."""

    def __init__(self, settings: ArchiveSettings, backend: FetchBackend, limit: int) -> None:
        """`limit` is the most payload bytes taken from one capture."""
        self.name = settings.name
        self._base = settings.url
        self._cdx = settings.cdx_url
        self._cdx_guessed = settings.cdx == CDX_AUTO  # not named in the configuration: it may not be there
        self._backend = backend
        self._limit = limit
        self._sites: dict[str, SiteRows] = {}  # what the CDX server said, by site

    async def prepare(self, wanted: Sequence[Wanted]) -> None:
        """Ask the CDX server, one query per site, for the captures of every URL of `wanted`."""
        by_site: dict[str, list[Wanted]] = defaultdict(list)
        for one in wanted:
            by_site[site_of(one.url)].append(one)
        for site, group in by_site.items():
            known = self._sites.get(site)
            if not self._cdx or (known is not None and all(known.covers(one.url) for one in group)):
                continue
            rows = SiteRows(group)
            problem = await self._ask_cdx(site_query(group), rows)
            if problem:  # no CDX server there, or not one to rely on: TimeMaps from now on
                absent = self._cdx_guessed and problem.endswith(_NO_CDX_THERE)  # as archives without one answer
                _log.log(logging.INFO if absent else logging.WARNING,
                         "%s: %s; looking URLs up by their TimeMaps instead", self.name, problem)  # fmt: skip
                self._cdx = ""
                continue
            self._sites[site] = rows

    async def _ask_cdx(self, query: dict[str, str], rows: SiteRows) -> str:
        """Read a site's CDX answer, page by page, into `rows`; the problem, "" when none."""
        params = {**query, "output": "json", "limit": str(CDX_PAGE_ROWS), "showResumeKey": "true"}
        for _ in range(CDX_PAGES):
            answer = await self._cdx_page(f"{self._cdx}?{urlencode(params)}", rows)
            if isinstance(answer, str):
                return answer
            page, cut = answer
            if not page.resume_key or cut:
                if cut or page.rows >= CDX_PAGE_ROWS:
                    rows.cut_at = rows.last_key
                return ""
            params["resumeKey"] = page.resume_key
        rows.cut_at = rows.last_key
        return ""

    async def _cdx_page(self, address: str, rows: SiteRows) -> tuple[CdxPage, bool] | str:
        """One page of a CDX answer read into `rows`, and whether it was cut at the size limit."""
        capture = await self._backend.fetch(address)
        try:
            result = capture.result
            if result.code == 404:
                return f"the CDX server {_NO_CDX_THERE[0]}"
            if result.code != 200 or not capture.exchanges:
                return f"the CDX server {_answer(result)}"
            exchange = capture.exchanges[-1]
            kind = (exchange.header("Content-Type") or "").split(";")[0].strip().lower()
            if not _may_be_cdx(kind):
                return f"the CDX server answered with {kind}, {_NO_CDX_THERE[1]}"
            exchange.body.seek(0)
            body = iter(partial(exchange.body.read, _TIMEMAP_CHUNK), b"")
            chunks = decoded_chunks(body, exchange.header("Content-Encoding"), self._limit)
            try:  # a site's answer runs to a million rows: read off the event loop
                return await asyncio.to_thread(read_page, chunks, rows), exchange.truncated
            except ValueError as error:
                return f"the CDX server's answer cannot be read ({error})"
        finally:
            capture.close()

    async def same_named(self, url: str, near: dt.datetime) -> Lookup:
        """Captures of other addresses of the site with the file name of `url`: those the CDX
        answer for its site listed, else those of its WordPress address."""
        site = self._sites.get(site_of(url))
        if site is not None:
            return Lookup(tuple(self._from_row(row.url, row) for row in site.same_named(url)))
        found: list[Candidate] = []
        for address in wordpress_addresses(url):
            lookup = await self.lookup(address, near)
            if lookup.problem:
                return lookup
            found.extend(lookup.candidates)
        return Lookup(tuple(found))

    async def lookup(self, url: str, near: dt.datetime) -> Lookup:
        """The captures of `url` nearest `near` (see `Nearest`): those the CDX answer for its
        site listed, else those its TimeMap lists, following a paged TimeMap's pages nearest
        `near` first."""
        site = self._sites.get(site_of(url))
        if site is not None and site.covers(url):
            return Lookup(tuple(self._from_row(url, row) for row in site.rows_of(url)))
        kept: Nearest[Memento] = Nearest(near)
        pages = [Page(f"{self._base}timemap/link/{url}", None, None)]
        seen = {pages[0].target}
        for read in range(TIMEMAP_PAGES):
            if not pages:
                break
            page = pages.pop(0)
            if read and not kept.could_take(page.start, page.end):
                continue
            timemap = await self._timemap(url, page.target, kept)
            if isinstance(timemap, str) and not read:
                return Lookup(problem=timemap)
            if isinstance(timemap, TimeMap):
                pages.extend(p for p in self._pages_of(page.target, timemap) if p.target not in seen)
                seen.update(p.target for p in pages)
                pages.sort(key=lambda p: _distance(p, near))
        return Lookup(tuple(c for m in kept.items() if (c := self._candidate(url, m)) is not None))

    async def _timemap(self, url: str, address: str, kept: Nearest[Memento]) -> TimeMap | str | None:
        """One TimeMap document read into `kept`; the archive's problem; None when it has no captures.

        A TimeMap over `fetch.max_body_mb` is read as far as that limit: the mementos read
        are as good as any, and the rest are the ones left out."""
        capture = await self._backend.fetch(address)
        try:
            result = capture.result
            if result.code == 404:
                return None
            if result.code != 200 or not capture.exchanges:
                return f"{self.name}: the TimeMap for {url} {_answer(result)}"
            exchange = capture.exchanges[-1]
            if exchange.truncated:
                _log.info("%s: the TimeMap for %s is read to its first %s bytes", self.name, url, f"{self._limit:,}")
            exchange.body.seek(0)
            body = iter(partial(exchange.body.read, _TIMEMAP_CHUNK), b"")
            return read_timemap(decoded_chunks(body, exchange.header("Content-Encoding"), self._limit), kept)
        finally:
            capture.close()

    def _pages_of(self, address: str, timemap: TimeMap) -> Iterator[Page]:
        """The other pages a TimeMap lists, as absolute addresses on the archive's own host."""
        for page in timemap.pages:
            with contextlib.suppress(ValueError):
                target = urljoin(address, page.target)
                if urlsplit(target).netloc == urlsplit(self._base).netloc:
                    yield replace(page, target=target)

    def _from_row(self, url: str, row: Row) -> Candidate:
        address = f"{self._base}{row.timestamp}/{row.url}"
        status = int(row.status) if row.status.isdigit() else None
        return Candidate(url, row.when, self.name, address, raw_address=_original_bytes_address(address), status=status)

    def _candidate(self, url: str, memento: Memento) -> Candidate | None:
        try:
            address = urljoin(self._base, memento.target)
            elsewhere = urlsplit(address).netloc != urlsplit(self._base).netloc
        except ValueError:
            return None  # one malformed entry hides one capture, not the others
        if elsewhere:
            return None  # only the archive's own captures: its rate limit is the one configured
        return Candidate(url, memento.when, self.name, address, raw_address=_original_bytes_address(address))

    async def retrieve(self, candidate: Candidate) -> Retrieved:
        """The original bytes of a memento, through its `id_` address."""
        address = candidate.raw_address
        for _ in range(_ARCHIVE_REDIRECTS):
            capture = await self._backend.fetch(address, follow=False)
            try:
                retrieved, address = self._read(candidate, capture)
            finally:
                capture.close()
            if retrieved is not None:
                return retrieved
        return Retrieved(
            candidate, candidate.when, problem=f"{self.name} redirected more than {_ARCHIVE_REDIRECTS} times"
        )

    def _read(self, candidate: Candidate, capture: Capture) -> tuple[Retrieved | None, str]:
        """The capture's answer, or None and the archive address it redirects to."""
        result = capture.result
        if result.code is None or not capture.exchanges:
            return self._failed(candidate, f"{result.status}: {result.detail}"), ""
        exchange = capture.exchanges[-1]
        stated = http_date(exchange.header("Memento-Datetime"))
        if stated is None and result.code >= 400:  # the archive's own error page, not a capture
            return self._failed(candidate, f"answered {result.code} for {exchange.url}, not with a capture"), ""
        when = stated or candidate.when
        location = exchange.location()
        if location is not None:
            try:
                return self._redirected(candidate, when, result.code, exchange.url, location)
            except ValueError as error:
                return Retrieved(candidate, when, problem=f"a redirect to an invalid URL {location!r}: {error}"), ""
        body = _payload(capture, self._limit)
        if body is None:
            return Retrieved(candidate, when, problem=f"the payload is over {self._limit:,} bytes"), ""
        return Retrieved(candidate, when, code=result.code, content_type=exchange.header("Content-Type"), body=body), ""

    def _redirected(
        self, candidate: Candidate, when: dt.datetime, code: int, address: str, location: str
    ) -> tuple[Retrieved | None, str]:
        """A redirect inside the archive to the same URL is followed (None and the address);
        any other is a captured redirect, whose target is an URL of the original web."""
        target = urljoin(address, location)
        inside = _MEMENTO_ADDRESS.match(target) if target.startswith(self._base) else None
        if inside is not None and _same_url(inside["url"], candidate.url):
            return None, target  # the archive's own redirect to the capture it has
        original = inside["url"] if inside is not None else urljoin(candidate.url, location)
        return Retrieved(candidate, when, code=code, redirect_to=original), ""

    def _failed(self, candidate: Candidate, why: str) -> Retrieved:
        return Retrieved(candidate, candidate.when, problem=f"{self.name}: {why}", place_failed=True)


def _may_be_cdx(media_type: str) -> bool:
    """A CDX server answers in text or JSON (pywb: text/x-ndjson; the Internet Archive:
    text/plain or application/json), never in HTML, which is an error page."""
    plain = media_type.startswith("text/") and media_type != "text/html"
    return not media_type or plain or media_type.endswith("json")


def _original_bytes_address(memento: str) -> str:
    """The `id_` form of a Wayback-style memento address: the capture's bytes as archived."""
    match = _MEMENTO_ADDRESS.match(memento)
    if match is None:
        return memento
    return f"{match['base']}{match['timestamp']}id_/{match['url']}"


def _payload(capture: Capture, limit: int) -> bytes | None:
    """The final answer's body with its content-encoding undone; None when over `limit`."""
    exchange = capture.exchanges[-1]
    if exchange.truncated:
        return None
    exchange.body.seek(0)
    return payload_within(exchange.body.read(limit + 1), exchange.header("Content-Encoding"), limit)


def _distance(page: Page, near: dt.datetime) -> dt.timedelta:
    """How far the span a page covers is from `near`; a page that does not say, the farthest."""
    if page.start is None and page.end is None:
        return dt.timedelta.max
    if page.end is not None and page.end < near:
        return near - page.end
    if page.start is not None and page.start > near:
        return page.start - near
    return dt.timedelta(0)


def _same_url(first: str, second: str) -> bool:
    """The two addresses name one resource, as archives index them (scheme and www. aside)."""
    return url_key(first) == url_key(second)


def _answer(result: FetchResult) -> str:
    """What an archive answered that is not a document to read, in a few words."""
    return f"answered {result.code}" if result.code else f"{result.status}: {result.detail}"
