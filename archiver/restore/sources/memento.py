"""Public web archives as a place to find captures, asked through the Memento protocol.

From an archive the original bytes are always taken through the `id_` form of a
memento's address, never the page the archive rewrote for display. Every request to an
archive goes through the fetch backend, with its limits, retries, Retry-After handling
and the archive's own request rate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

from httplink import Link, parse_link_header

from archiver.bodies import payload_within
from archiver.config import ArchiveSettings
from archiver.model import Capture, FetchBackend, Status
from archiver.pack import url_key
from archiver.restore.sources.base import Candidate, Lookup, Retrieved

_MEMENTO_ADDRESS = re.compile(r"^(?P<base>.*?/)(?P<timestamp>\d{14})(?:[a-z]{2}_)?/(?P<url>.+)$")
_ARCHIVE_REDIRECTS = 5  # an archive's own redirects (to the exact timestamp) followed per capture


class WebArchive:
    """A public web archive with Wayback-style addresses, asked through the Memento protocol."""

    def __init__(self, settings: ArchiveSettings, backend: FetchBackend, limit: int) -> None:
        """`limit` is the most payload bytes taken from one capture."""
        self.name = settings.name
        self._base = settings.url
        self._backend = backend
        self._limit = limit

    async def lookup(self, url: str) -> Lookup:
        """The captures the archive's TimeMap lists for `url`."""
        capture = await self._backend.fetch(f"{self._base}timemap/link/{url}")
        try:
            result = capture.result
            if result.code == 404:
                return Lookup()
            if result.code != 200 or not capture.exchanges or result.status is Status.TOO_LARGE:
                answer = f"answered {result.code}" if result.code else f"{result.status}: {result.detail}"
                if result.status is Status.TOO_LARGE:
                    answer = f"is over {self._limit:,} bytes"
                return Lookup(problem=f"{self.name}: the TimeMap for {url} {answer}")
            text = _payload(capture, self._limit)
        finally:
            capture.close()
        if text is None:
            return Lookup(problem=f"{self.name}: the TimeMap for {url} is over {self._limit:,} bytes")
        return Lookup(tuple(self._mementos(url, text.decode("utf-8", errors="replace"))))

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
        stated = _memento_datetime(exchange.header("Memento-Datetime"))
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

    def _mementos(self, url: str, timemap: str) -> Iterator[Candidate]:
        for link in _links_of(timemap):
            when = _memento_datetime(link["datetime"]) if "datetime" in link else None
            if "memento" not in link.rel or when is None:
                continue
            try:
                address = urljoin(self._base, link.target)
                elsewhere = urlsplit(address).netloc != urlsplit(self._base).netloc
            except ValueError:
                continue  # one malformed entry hides one capture, not the others
            if elsewhere:
                continue  # only the archive's own captures: its rate limit is the one configured
            yield Candidate(url, when, self.name, address, raw_address=_original_bytes_address(address))


def _links_of(timemap: str) -> list[Link]:
    """The entries of a TimeMap; when the whole does not parse, each line that does."""
    try:
        return list(parse_link_header(timemap).links)
    except ValueError:
        pass
    links: list[Link] = []
    for line in timemap.splitlines():
        with contextlib.suppress(ValueError):
            links.extend(parse_link_header(line.strip().rstrip(",")).links)
    return links


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


def _memento_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _same_url(first: str, second: str) -> bool:
    """The two addresses name one resource, as archives index them (scheme and www. aside)."""
    return url_key(first) == url_key(second)
