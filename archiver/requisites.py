"""Requisites: a captured page -> what a browser loads to show it, fetched once per run.

For each captured HTML page, the addresses `archiver.pages` found in it (stylesheets,
scripts, images and their `srcset` candidates, icons, preloads, posters, and what its
inline CSS uses) are fetched through the same backend as the links: the same limits,
politeness, address guard, size cap and retries. Every stylesheet fetched is read in turn
for what it imports and uses, level by level, so `a.css` importing `b.css` importing
`a.css` ends there.

Only pages that answered as live ones get their requisites (not a 404, a soft-404, a
parking page or a bot wall, whose scripts are the parking service's or the wall's). A URL
is fetched once in a run: the first page that needs it fetches it, later pages list it as
shared (naming that page), and a URL that is itself a link of the blog is captured as a
link. Each page is bounded by `pack.max_requisites_per_page` fetches and
`pack.max_requisite_mb` stored; what is beyond is listed with its reason, not fetched (or
not stored, and left for another page to store). A few pages fetch their requisites at a
time, so that what the run holds before writing it stays bounded. Requisites are not
links: they never enter the history's checks or the reports, and their failures never
make a link fail; the run summary counts them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, replace

from archiver.config import PackSettings
from archiver.model import Capture, FetchBackend, Requisite, RequisiteState, Status
from archiver.pages import is_stylesheet, read_stylesheet_off_loop

STYLESHEET_DEPTH = 8  # levels of stylesheets importing stylesheets that are followed


@dataclass(frozen=True)
class RequisiteTally:
    """What the requisites of a run came to, in numbers."""

    fetched: int = 0  # stored, whatever their code
    failed: int = 0  # no answer, an error answer (4xx, 5xx) or over the size cap
    skipped: int = 0  # beyond a page's bounds
    bytes: int = 0  # of the answers stored

    def plus(self, requisites: Sequence[Requisite]) -> RequisiteTally:
        """This tally with a page's requisites added."""
        stored = [r for r in requisites if r.state is RequisiteState.STORED and r.capture is not None]
        failing = sum(r.capture.result.status.is_failure for r in stored if r.capture is not None)
        bounded = (RequisiteState.OVER_COUNT, RequisiteState.OVER_BUDGET)
        return RequisiteTally(
            fetched=self.fetched + len(stored),
            failed=self.failed + failing + sum(r.state in (RequisiteState.FAILED, RequisiteState.OVER_SIZE)
                                               for r in requisites),
            skipped=self.skipped + sum(r.state in bounded for r in requisites),
            bytes=self.bytes + sum(r.capture.result.size for r in stored if r.capture is not None),
        )  # fmt: skip


@dataclass
class _Bounds:
    """What one page may still fetch and store."""

    fetches: int
    bytes: int


class RequisiteFetcher:
    """Fetches the requisites of captured pages, each URL once in the run."""

    def __init__(
        self, backend: FetchBackend, settings: PackSettings, links: Container[str], pages_at_once: int = 8
    ) -> None:
        """`links` are the blog's own links, which are captured as links, not as requisites.
        At most `pages_at_once` pages fetch their requisites at a time, which bounds what
        the run holds before it is written (each page's by `pack.max_requisite_mb`)."""
        self._backend = backend
        self._settings = settings
        self._links = links
        self._fetched_for: dict[str, str] = {}  # requisite -> the page it was fetched for
        self._pages = asyncio.Semaphore(max(1, pages_at_once))

    async def finish(self, capture: Capture) -> Capture:
        """The capture with its page's requisites fetched (a `fetch_all` finisher), when it
        is a page that answered as a live one: not a soft-404, a parking page or a wall."""
        page = capture.page
        if page is None or not page.requisites or not capture.result.status.is_ok:
            return capture
        async with self._pages:
            return replace(capture, requisites=await self.fetched(page.requisites, capture.result.url))

    async def fetched(self, wanted: Sequence[str], page_url: str) -> tuple[Requisite, ...]:
        """The requisites of the page `page_url`, which wants `wanted`, with what its
        stylesheets use."""
        bounds = _Bounds(self._settings.max_requisites_per_page, self._settings.max_requisite_bytes)
        found: list[Requisite] = []
        listed: set[str] = set()
        level = list(wanted)
        try:
            for _ in range(STYLESHEET_DEPTH + 1):
                new = [url for url in dict.fromkeys(level) if url not in listed]
                listed.update(new)
                this_level = await self._fetched_level(new, bounds, page_url)
                found += this_level
                level = await self._used_by_stylesheets(this_level)
            too_deep = f"imported more than {STYLESHEET_DEPTH} stylesheets deep"
            found += [Requisite(url, RequisiteState.OVER_COUNT, detail=too_deep) for url in dict.fromkeys(level)
                      if url not in listed]  # fmt: skip
        except BaseException:
            _close(requisite.capture for requisite in found)
            raise
        return tuple(found)

    async def _fetched_level(self, urls: Sequence[str], bounds: _Bounds, page_url: str) -> list[Requisite]:
        """The requisites of one level, in order: those this page fetches are fetched at once."""
        decided: dict[str, Requisite] = {}
        to_fetch: list[str] = []
        for url in urls:
            if url in self._fetched_for or url in self._links:  # the dict first: the links may be a query
                decided[url] = Requisite(url, RequisiteState.SHARED, detail=self._shared_detail(url))
            elif bounds.fetches <= 0:
                decided[url] = Requisite(
                    url, RequisiteState.OVER_COUNT, detail="beyond the page's number of requisites"
                )
            else:
                self._fetched_for[url] = page_url
                bounds.fetches -= 1
                to_fetch.append(url)
        for capture in await _all_fetched(self._backend, to_fetch):
            requisite = _judged(capture, bounds)
            if requisite.state is RequisiteState.OVER_BUDGET:
                del self._fetched_for[requisite.url]  # another page, with room for it, may store it
            decided[requisite.url] = requisite
        return [decided[url] for url in urls]

    def _shared_detail(self, url: str) -> str:
        if url in self._links:
            return "a link of the blog, captured as a link"
        return f"fetched for {self._fetched_for[url]}"

    async def _used_by_stylesheets(self, requisites: Sequence[Requisite]) -> list[str]:
        """What the stylesheets among `requisites` import and use, in order."""
        used: list[str] = []
        for requisite in requisites:
            capture = requisite.capture
            final = capture.final if capture is not None else None
            if final is not None and 200 <= final.code < 300 and is_stylesheet(final):
                used += await read_stylesheet_off_loop(final)
        return used


async def _all_fetched(backend: FetchBackend, urls: Sequence[str]) -> list[Capture]:
    """Every URL fetched at once; if this is cancelled, what was already fetched is released."""
    fetches = [asyncio.ensure_future(backend.fetch(url)) for url in urls]
    try:
        return await asyncio.gather(*fetches)
    except BaseException:
        for fetch in fetches:
            fetch.cancel()
        done = [fetch for fetch in fetches if fetch.done() and not fetch.cancelled() and fetch.exception() is None]
        _close(fetch.result() for fetch in done)
        raise


def _close(captures: Iterable[Capture | None]) -> None:
    for capture in captures:
        if capture is not None:
            capture.close()


def _judged(capture: Capture, bounds: _Bounds) -> Requisite:
    """What becomes of one fetched requisite: stored, or why not (its capture released)."""
    result = capture.result
    if result.status is Status.TOO_LARGE:
        state, detail = RequisiteState.OVER_SIZE, result.detail
    elif not capture.exchanges:
        state, detail = RequisiteState.FAILED, f"{result.status.value}: {result.detail}".rstrip(": ")
    elif result.size > bounds.bytes:
        state, detail = RequisiteState.OVER_BUDGET, f"{result.size} bytes, beyond the page's total of requisites"
    else:
        bounds.bytes -= result.size
        return Requisite(result.url, RequisiteState.STORED, capture, str(result.code))
    capture.close()
    return Requisite(result.url, state, detail=detail)
