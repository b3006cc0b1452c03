"""Find the captures of a URL and read back what each one holds.

Two kinds of place are asked, in order: our own WARC files, through their CDXJ indexes,
and public web archives that speak the Memento protocol (RFC 7089) with Wayback-style
addresses (the Internet Archive; pywb). From an archive the original bytes are always
taken through the `id_` form of a memento's address, never the page the archive
rewrote for display. Every request to an archive goes through the `Fetcher`, with its
limits, retries, Retry-After handling and the archive's own request rate.

A place that cannot answer is a value (`Lookup.problem`), never an exception.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import surt
from httplink import Link, parse_link_header
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.config import ArchiveSettings
from archiver.fetch import REDIRECT_CODES, Capture, Fetcher
from archiver.model import Status, WarcLocation
from archiver.pack import ARCHIVE_DIR, INDEX_DIR

OWN_ARCHIVE = "own archive"
_MEMENTO_ADDRESS = re.compile(r"^(?P<base>.*?/)(?P<timestamp>\d{14})(?:[a-z]{2}_)?/(?P<url>.+)$")
_ARCHIVE_REDIRECTS = 5  # an archive's own redirects (to the exact timestamp) followed per capture
_TIMESTAMP = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class Candidate:
    """A capture of a URL that may hold what the URL used to serve."""

    url: str  # the URL the capture is of
    when: dt.datetime  # when it was captured, UTC
    source: str  # OWN_ARCHIVE or the name of a web archive
    address: str  # where a reader sees it: a memento's address, or the WARC file and offset
    raw_address: str = ""  # where its original bytes are: the `id_` address (web archives)
    location: WarcLocation | None = None  # its record (own archive)

    @property
    def timestamp(self) -> str:
        """The capture time as the 14 digits of a Wayback address."""
        return self.when.strftime(_TIMESTAMP)


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


class OwnArchive:
    """Our own WARC files, found through the CDXJ index of each."""

    def __init__(self, folder: Path, replay_url: str, limit: int) -> None:
        """`folder` is the output folder; `replay_url` where its captures are replayed ("" for
        nowhere); `limit` the most payload bytes read from one capture."""
        self.name = OWN_ARCHIVE
        self._folder = folder
        self._replay_url = replay_url
        self._limit = limit
        self._index: dict[str, list[str]] | None = None

    async def lookup(self, url: str) -> Lookup:
        """Every stored response for `url` (revisits add no payload and are left out)."""
        entries = self._entries().get(_url_key(url), [])
        return Lookup(tuple(c for c in map(self._candidate, entries) if c is not None))

    async def retrieve(self, candidate: Candidate) -> Retrieved:
        """The stored answer of a capture."""
        assert candidate.location is not None, "a capture of the own archive has a record"
        path = self._folder / ARCHIVE_DIR / candidate.location.filename
        try:
            with path.open("rb") as stream:
                stream.seek(candidate.location.offset)
                record = next(iter(ArchiveIterator(stream)))
                headers = record.http_headers
                if headers is None:
                    raise ValueError(f"a {record.rec_type} record, not an HTTP response")
                body = record.content_stream().read(self._limit + 1)
                code = int(headers.get_statuscode() or 0) or None
        except (OSError, StopIteration, ArchiveLoadFailed, zlib.error, EOFError, ValueError) as error:
            return Retrieved(candidate, candidate.when, problem=f"{path}: cannot read the record: {error}")
        if len(body) > self._limit:
            return Retrieved(candidate, candidate.when, problem=f"the payload is over {self._limit:,} bytes")
        location = headers.get_header("Location") if code in REDIRECT_CODES else None
        return Retrieved(
            candidate,
            candidate.when,
            code=code,
            content_type=headers.get_header("Content-Type"),
            body=body,
            redirect_to=_absolute(candidate.url, location),
        )

    def _entries(self) -> dict[str, list[str]]:
        if self._index is None:
            self._index = {}
            for key, rest in _index_lines(self._folder / INDEX_DIR):
                self._index.setdefault(key, []).append(rest)
        return self._index

    def _candidate(self, entry: str) -> Candidate | None:
        timestamp, _, fields = entry.partition(" ")
        try:
            record = json.loads(fields)
            location = WarcLocation(record["filename"], int(record["offset"]), int(record["length"]))
            when = _parse_timestamp(timestamp)
        except (ValueError, KeyError, TypeError):
            return None
        if record.get("mime") == "warc/revisit" or "method" in record or "status" not in record:
            return None
        address = f"{self._replay_url}{timestamp}/{record['url']}" if self._replay_url else ""
        return Candidate(str(record["url"]), when, OWN_ARCHIVE, address or f"{location.filename}#{location.offset}",
                         location=location)  # fmt: skip


def _index_lines(indexes: Path) -> Iterator[tuple[str, str]]:
    for index in sorted(indexes.glob("*.cdxj")):
        try:
            with index.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    key, _, rest = line.rstrip("\n").partition(" ")
                    if rest:
                        yield key, rest
        except OSError:
            continue  # an index that cannot be read hides its captures; the others still count


def _url_key(url: str) -> str:
    try:
        return str(surt.surt(url))
    except Exception:  # noqa: BLE001 - surt raises bare exceptions for odd URLs; cdxj-indexer then keys by the URL
        return url


class WebArchive:
    """A public web archive with Wayback-style addresses, asked through the Memento protocol."""

    def __init__(self, settings: ArchiveSettings, fetcher: Fetcher, limit: int) -> None:
        """`limit` is the most payload bytes taken from one capture."""
        self.name = settings.name
        self._base = settings.url
        self._fetcher = fetcher
        self._limit = limit

    async def lookup(self, url: str) -> Lookup:
        """The captures the archive's TimeMap lists for `url`."""
        capture = await self._fetcher.fetch(f"{self._base}timemap/link/{url}")
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
            capture = await self._fetcher.fetch(address, follow=False)
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
    raw = exchange.body.read(limit + 1)
    coding = (exchange.header("Content-Encoding") or "").strip().lower()
    body = _inflated(raw, coding, limit) if coding in ("gzip", "x-gzip", "deflate") else raw
    return None if body is None or len(body) > limit else body


def _inflated(raw: bytes, coding: str, limit: int) -> bytes | None:
    window = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(window)
        body = inflater.decompress(raw, limit + 1)
    except zlib.error:
        return raw  # not compressed after all: take the bytes as they came
    return None if inflater.unconsumed_tail else body


def _memento_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _parse_timestamp(timestamp: str) -> dt.datetime:
    return dt.datetime.strptime(timestamp[:14].ljust(14, "0"), _TIMESTAMP).replace(tzinfo=dt.UTC)


def _same_url(first: str, second: str) -> bool:
    """The two addresses name one resource, as archives index them (scheme and www. aside)."""
    return _url_key(first) == _url_key(second)


def _absolute(base: str, location: str | None) -> str | None:
    if location is None:
        return None
    try:
        return urljoin(base, location)
    except ValueError:
        return None
