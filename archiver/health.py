"""Health: capture -> status. Tell a live page from one that only looks alive.

The fetcher says what the server answered. This stage says what the answer means:

- a **soft-404**: the page answers 200, but so does a path on the same site that cannot
  exist, with the same content; or the URL was redirected to the site's front page;
- a **parked domain**: a for-sale or placeholder page from a parking service;
- a **bot wall**: a challenge page (Cloudflare, captchas ...) stands in front of the
  content; like 401, 403 and a 429 that never cleared, it is "unknown, needs a human",
  never dead;
- an http -> https upgrade on the same host and path is simply ok.

Pages are read from the captured body (decoded, the first MiB only) as text and title.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import secrets
import zlib
from dataclasses import dataclass, replace
from posixpath import splitext
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from bs4 import BeautifulSoup

from archiver.fetch import Capture, Exchange, Fetcher
from archiver.model import FetchResult, Status

READ_LIMIT = 1024 * 1024
_COMPARED_CHARACTERS = 4000
SIMILAR_ENOUGH = 0.9  # pages this alike (0 to 1, difflib's ratio) are the same page
DRIFTED_BELOW = 0.8  # a page whose text is less alike than this to its last capture has drifted

SHORT_PAGE = 1500  # characters of visible text: a placeholder, a challenge, an error page

# Parking services and domain marketplaces: phrases of their pages (read in the title,
# or anywhere in a short page) and the scripts they load.
_PARKED_PHRASES = re.compile(
    r"this domain (name )?(is|may be) for sale|buy this domain|the domain .{0,40} is for sale|domain (is )?parked"
    r"|parked (free|domain)|this (web )?page is parked|domain for sale"
)
_PARKING_SCRIPTS = re.compile(r"<script[^>]+src=[\"']?[^\"'>]*(sedoparking|parkingcrew|bodis|above\.com)[./]")
_PARKING_HOSTS = ("sedo.com", "dan.com", "afternic.com", "hugedomains.com", "parkingcrew.net", "bodis.com")
# Challenge pages: their titles and the phrases of their short bodies. Looked for only
# in answers that refused the content (401, 403, 429, 503) or in short pages.
_WALL_TITLES = re.compile(r"^(just a moment|attention required|access denied|are you a robot|security check"
                          r"|ddos-guard|one more step|please wait)")  # fmt: skip
_WALL_PHRASES = re.compile(
    r"checking your browser|enable (javascript and )?cookies to continue|verify (that )?you are (a )?human"
    r"|are you a robot|ddos protection by|request unsuccessful\. incapsula"
)
_REFUSING_CODES = frozenset({401, 403, 429, 503})
# What "not found" pages say, which a page that merely shares a template does not.
_MISSING_PHRASES = re.compile(
    r"not found|\b404\b|doesn.t exist|does not exist|no longer (available|exists)|could(n.t| not) (be )?found?"
    r"|can(no|.)t be found|not here|page you (were )?(looking for|requested)|nothing (was )?found|oops"
)


@dataclass(frozen=True)
class Page:
    """What a captured answer says, for comparing: its title and its text, normalised."""

    title: str
    text: str
    html: str


def read_page(exchange: Exchange) -> Page:
    """The page of an exchange's body, decoded; the body is left where it was."""
    position = exchange.body.tell()
    exchange.body.seek(0)
    raw = exchange.body.read(READ_LIMIT)
    exchange.body.seek(position)
    return page_of(raw, exchange.header("Content-Encoding"), exchange.header("Content-Type"))


def page_of(raw: bytes, content_encoding: str | None, content_type: str | None) -> Page:
    """The page of a body as stored (content-encoding still applied)."""
    html = _decoded(raw[:READ_LIMIT], content_encoding).decode(_charset(content_type), errors="replace")
    soup = BeautifulSoup(html, "html.parser")
    for hidden in soup(["script", "style", "noscript"]):
        hidden.decompose()
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    return Page(title=title, text=" ".join(soup.get_text(" ").split()).lower(), html=html.lower())


@dataclass(frozen=True)
class MissingPage:
    """What a site answers for a page that cannot exist, when it does not say 404."""

    page: Page
    path: str
    final_url: str
    sent_elsewhere: bool  # redirected to another page, not merely to https or a trailing slash


class Classifier:
    """Sorts fetch results into health statuses, probing each site once for its soft-404."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._probes: dict[str, asyncio.Task[MissingPage | None]] = {}

    async def finish(self, capture: Capture) -> Capture:
        """The capture, its result classified (a `Fetcher.fetch_all` finisher)."""
        return replace(capture, result=await self.classify(capture))

    async def classify(self, capture: Capture) -> FetchResult:
        """The capture's result with the status its content shows."""
        result = capture.result
        if not capture.exchanges or result.code is None:
            return result
        page = read_page(capture.exchanges[-1])
        status, detail = status_by_content(result, page)
        if status is None and 200 <= result.code < 300:
            status, detail = await self._by_comparison(result, page)
        if status is None and _only_upgraded(result):
            status, detail = Status.OK, "upgraded to https"
        return replace(result, status=status, detail=detail) if status is not None else result

    async def _by_comparison(self, result: FetchResult, page: Page) -> tuple[Status | None, str]:
        missing = await self._missing_page(result.url)
        if missing is None:  # the site says 404 for what does not exist: its 200s are real
            return None, result.detail
        if missing.sent_elsewhere:  # the site sends missing pages somewhere: did it send this one there?
            if len(result.hops) > 1 and _same_place(result.final_url, missing.final_url):
                return Status.SOFT_404, f"redirected where missing pages go, {missing.final_url}"
            return None, result.detail
        if _looks_missing(page, missing, urlsplit(result.url).path):
            return Status.SOFT_404, "answers like a page that cannot exist on the same site"
        return None, result.detail

    async def _missing_page(self, url: str) -> MissingPage | None:
        origin, extension = _origin_and_extension(url)
        key = f"{origin}/*{extension}"  # one probe per site and kind of page
        if key not in self._probes:
            probe_url = f"{origin}/archiver-probe-{secrets.token_hex(8)}{extension}"
            self._probes[key] = asyncio.ensure_future(self._probe(probe_url))
        return await self._probes[key]

    async def _probe(self, url: str) -> MissingPage | None:
        """What the site answers for a path that cannot exist; None when it says so (4xx)."""
        capture = await self._fetcher.fetch(url, urgent=True)  # every capture of the site waits on it
        try:
            code = capture.result.code
            if code is None or not 200 <= code < 300 or not capture.exchanges:
                return None
            page = read_page(capture.exchanges[-1])
            final_url = capture.result.final_url
            return MissingPage(page, urlsplit(url).path, final_url, not _same_place(url, final_url))
        finally:
            capture.close()


def similarity(page: Page, other: Page, page_path: str = "", other_path: str = "") -> float:
    """How alike two pages are, from 0 to 1, ignoring numbers (dates, counters, ids) and
    the path each was asked for, which a "not found" page often repeats."""
    first, second = _comparable(page, page_path), _comparable(other, other_path)
    if not first and not second:
        return 1.0
    return difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()


def status_by_content(result: FetchResult, page: Page) -> tuple[Status | None, str]:
    """A parked domain or a bot wall, told by the page itself; (None, detail) when it is neither."""
    asked_host = (urlsplit(result.url).hostname or "").removeprefix("www.")
    final_host = (urlsplit(result.final_url).hostname or "").removeprefix("www.")
    on_marketplace = any(final_host == host or final_host.endswith("." + host) for host in _PARKING_HOSTS)
    if on_marketplace and final_host != asked_host:
        return Status.PARKED, f"redirected to the domain marketplace {final_host}"
    if _is_wall(result.code, page):
        return Status.BOT_WALL, f"a challenge page answered ({page.title or 'untitled'}); needs a human"
    if result.code is not None and 200 <= result.code < 300 and _is_parked(page):
        return Status.PARKED, f"a parking page answered ({page.title or 'untitled'})"
    return None, result.detail


def _is_wall(code: int | None, page: Page) -> bool:
    title = page.title.lower()
    if code in _REFUSING_CODES:
        return bool(_WALL_TITLES.search(title) or _WALL_PHRASES.search(page.text))
    return len(page.text) < SHORT_PAGE and bool(_WALL_TITLES.search(title))


def _is_parked(page: Page) -> bool:
    short = len(page.text) < SHORT_PAGE
    return (
        bool(_PARKED_PHRASES.search(page.title.lower()))
        or (short and bool(_PARKED_PHRASES.search(page.text)))
        or bool(_PARKING_SCRIPTS.search(page.html))
    )


def _looks_missing(page: Page, missing: MissingPage, path: str) -> bool:
    """The page is the site's "not found" page: the same title, nearly the same text, and
    that text says something is missing (a page that only shares a template does not)."""
    return (
        page.title.lower() == missing.page.title.lower()
        and similarity(page, missing.page, path, missing.path) >= SIMILAR_ENOUGH
        and bool(_MISSING_PHRASES.search(f"{missing.page.title.lower()} {missing.page.text}"))
    )


def _same_place(url: str, other: str) -> bool:
    """Two URLs name the same page, whatever the scheme, a `www.` or a trailing slash."""
    first, second = urlsplit(url), urlsplit(other)

    def key(parts: SplitResult) -> tuple[str, str, str]:
        host = (parts.hostname or "").removeprefix("www.")
        return host, parts.path.rstrip("/") or "/", parts.query

    return key(first) == key(second)


def _only_upgraded(result: FetchResult) -> bool:
    if result.status is not Status.REDIRECTED:
        return False
    asked, landed = urlsplit(result.url), urlsplit(result.final_url)
    return (asked.scheme, landed.scheme) == ("http", "https") and (asked.hostname, asked.path, asked.query) == (
        landed.hostname,
        landed.path,
        landed.query,
    )


def _origin_and_extension(url: str) -> tuple[str, str]:
    """The URL's site (scheme://host:port) and its file extension, which a probe copies so
    that the same part of the server answers it."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), splitext(parts.path.rsplit("/", 1)[-1])[1]


def _comparable(page: Page, path: str) -> str:
    text = page.text
    for echoed in {unquote(path).lower(), unquote(path).lower().strip("/")} - {""}:
        text = text.replace(echoed, " ")
    text = re.sub(r"archiver-probe-[0-9a-f]+|\d+", " ", text)
    return " ".join(text.split())[:_COMPARED_CHARACTERS]


def _decoded(raw: bytes, encoding: str | None) -> bytes:
    coding = (encoding or "").strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        return raw
    window = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
    try:
        return zlib.decompressobj(window).decompress(raw, READ_LIMIT)
    except zlib.error:
        try:
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, READ_LIMIT)  # raw deflate
        except zlib.error:
            return b""


def drift(now: Page, before: Page) -> bool:
    """The text changed substantially: more than a changed date, counter or advert."""
    return similarity(now, before) < DRIFTED_BELOW


def _charset(content_type: str | None) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"
