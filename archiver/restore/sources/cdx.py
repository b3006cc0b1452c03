"""Ask a Wayback-style archive's CDX server for the captures of many URLs in one query.

One query per site: `matchType=host` (the host with or without `www.`, either scheme,
as the SURT key has it) when renamed files are looked for, since they may be anywhere on
the site, or when a path holds an escape (`%2F`: its folder unescaped would not hold it);
else `matchType=prefix` on the longest folder the site's URLs share, as written. A row
counts only when its own URL is of the wanted site, whatever key the archive gives it. The
answer is read in one pass as it comes: pywb's `output=json` (a JSON object a line), the
Internet Archive's (a JSON array a line, the first naming the fields, a resume key after
an empty one), CDXJ and plain CDX lines. Only the rows of the URLs asked about are kept
(the `NEAREST_KEPT` nearest each side of the wanted time, `Nearest`), and, for renamed
files, those of other addresses of the site with the same file name (`renamed`), so
memory stays bounded however large the site.

Large answers are paged: `CDX_PAGE_ROWS` rows a page, the next asked with the resume key
the Internet Archive gives (`showResumeKey`), at most `CDX_PAGES` pages. An archive that
gives no resume key (pywb) answers one page; when it is full, the rows are sorted by key,
so the URLs whose keys come after its last row are left to their TimeMaps.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.pack import url_key
from archiver.restore.renamed import Likeness, likeness, name_key
from archiver.restore.sources.base import Nearest, Wanted
from archiver.sites import site_key

CDX_PAGE_ROWS = 10_000  # rows asked for per page
CDX_PAGES = 20  # pages read per site
RENAMED_KEPT = 20  # other addresses with the same file name kept per dead image, the likeliest
_FIELD_NAMES = {"original": "url", "statuscode": "status", "mimetype": "mime"}  # the Internet Archive's names
_PLAIN_FIELDS = ("urlkey", "timestamp", "url", "mime", "status", "digest", "length")


@dataclass(frozen=True)
class Row:
    """One capture a CDX answer lists."""

    url: str
    timestamp: str  # 14 digits
    key: str = ""  # its SURT key, as the archive gives it
    status: str = ""  # the captured answer's code, as the archive gives it ("-" or "" when it does not say)

    @property
    def when(self) -> dt.datetime:
        """When the capture was made, in UTC."""
        stamp = self.timestamp
        parts = (int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10]), int(stamp[10:12]))
        return dt.datetime(*parts, int(stamp[12:14]), tzinfo=dt.UTC)


def site_of(url: str) -> str:
    """The site a URL is asked about under: its host without `www.`, and its port if it names one."""
    try:
        port = urlsplit(url).port
    except ValueError:
        port = None
    return f"{site_key(url)}:{port}" if port else site_key(url)


def site_query(wanted: Sequence[Wanted]) -> dict[str, str]:
    """The query parameters that ask for the captures of all `wanted` URLs (of one site)."""
    site = site_of(wanted[0].url)
    folder = _shared_folder(wanted)
    if folder is None:
        return {"url": site, "matchType": "host"}
    return {"url": f"{site}{folder}", "matchType": "prefix"}


def _shared_folder(wanted: Sequence[Wanted]) -> str | None:
    """The longest folder, as written, that every wanted URL's path starts with; None when
    the whole host is asked for: renamed files may be anywhere on it, and an escape (`%2F`,
    `%3F`) in a path may be canonicalised differently by the archive than by us."""
    paths = [urlsplit(w.url).path for w in wanted]
    if any(w.renamed for w in wanted) or any("%" in path for path in paths):
        return None
    shared: list[str] = []
    for parts in zip(*(path.split("/")[:-1] for path in paths), strict=False):
        if len(set(parts)) > 1:
            break
        shared.append(parts[0])
    return "/".join(shared) + "/"


class SiteRows:
    """What a site's CDX answer said of the URLs wanted of it."""

    def __init__(self, wanted: Sequence[Wanted]) -> None:
        self._exact: dict[str, Nearest[Row]] = {url_key(w.url): Nearest(w.near) for w in wanted}
        self._site = site_key(wanted[0].url)
        self._folder = _shared_folder(wanted)  # what the query asked for: None for the whole host
        self._by_name: dict[str, list[Wanted]] = defaultdict(list)
        for w in wanted:
            if w.renamed:
                self._by_name[name_key(w.url)].append(w)
        self._others: dict[str, dict[str, tuple[Likeness, Nearest[Row]]]] = defaultdict(dict)
        self.cut_at: str | None = None  # rows were read only as far as this key
        self.last_key = ""
        self._archive_keys: bool | None = None  # whether the archive's keys are ours (None: not seen yet)

    def add(self, row: Row) -> None:
        """Keep the row if it is of a wanted URL, or may be one's renamed file."""
        key = self.last_key = self._key(row)
        exact = self._exact.get(key)
        others = self._by_name.get(name_key(row.url), ())
        if exact is None and not others:
            return
        try:
            when = row.when  # only for the rows kept: a date costs more than the rest of the row
        except ValueError:
            return  # a timestamp that is no date (a month 13) hides its row
        if exact is not None and site_key(row.url) == self._site:  # an archive's key alone never names a site
            exact.add(when, row)
        for w in others:
            self._add_other(w, key, row, when)

    def _key(self, row: Row) -> str:
        """The row's SURT key: the archive's, once its first row shows that it computes them as
        we do (one costs 60 µs, more than the rest of the row), except for the URLs where
        canonical forms differ most (a query, an escape)."""
        if self._archive_keys is None and row.key:
            self._archive_keys = row.key == url_key(row.url)
        if self._archive_keys and row.key and "?" not in row.url and "%" not in row.url:
            return row.key
        return url_key(row.url)

    def _add_other(self, wanted: Wanted, key: str, row: Row, when: dt.datetime) -> None:
        kept = self._others[wanted.url]
        if key not in kept:
            alike = likeness(wanted.url, row.url)
            if alike is None:
                return
            if len(kept) >= RENAMED_KEPT:
                worst = min(kept, key=lambda k: kept[k][0])
                if kept[worst][0] >= alike:
                    return
                del kept[worst]
            kept[key] = (alike, Nearest(wanted.near))
        kept[key][1].add(when, row)

    def covers(self, url: str) -> bool:
        """The answer listed every capture of `url`: the query asked for it (its whole host,
        or a folder its path is in) and the pages read reached past its key."""
        key = url_key(url)
        path = urlsplit(url).path or "/"
        asked = self._folder is None or ("%" not in path and path.startswith(self._folder))
        return asked and key in self._exact and (self.cut_at is None or key < self.cut_at)

    def rows_of(self, url: str) -> list[Row]:
        """The captures of `url`, nearest its wanted time first."""
        kept = self._exact.get(url_key(url))
        return kept.items() if kept is not None else []

    def same_named(self, url: str) -> list[Row]:
        """The captures of other addresses of the site with the file name of `url`."""
        return [row for _, kept in self._others.get(url, {}).values() for row in kept.items()]


@dataclass
class Page:
    """What one page of an answer came to: its rows, and the key of the next page."""

    rows: int = 0
    resume_key: str = ""


def read_page(chunks: Iterable[bytes], into: SiteRows) -> Page:
    """Read one page of a CDX answer into `into`; ValueError when its first line is not CDX."""
    reader, page = _LineReader(), Page()
    for number, line in enumerate(_lines(chunks)):
        try:
            read = reader.read(line)
        except (ValueError, KeyError, TypeError, IndexError):
            if number == 0:
                raise ValueError(f"not a CDX answer: {line[:60]!r}") from None
            continue  # one malformed row hides one capture, not the others
        if isinstance(read, Row):
            page.rows += 1
            into.add(read)
        elif read:
            page.resume_key = read
    return page


class _LineReader:
    """Reads the lines of one CDX answer, whichever form it has."""

    def __init__(self) -> None:
        self._fields: list[str] | None = None

    def read(self, line: str) -> Row | str | None:
        """A row; a resume key; "" for an empty line (or the empty row before a resume key); None for a header."""
        text = line.strip().removesuffix(",")
        if text.startswith("[["):
            text = text[1:]
        if text.endswith("]]"):
            text = text[:-1]
        if not text or text == "[]":
            return ""
        if text.startswith("{"):
            return _row(json.loads(text))
        if text.startswith("["):
            return self._array(json.loads(text))
        if " {" in text:  # CDXJ: key, timestamp, then JSON
            key, timestamp, fields = text.split(" ", 2)
            return _row({"urlkey": key, "timestamp": timestamp, **json.loads(fields)})
        parts = text.split(" ")
        if len(parts) == 1:
            return parts[0]  # a resume key, in the plain form
        return _row(dict(zip(_PLAIN_FIELDS, parts, strict=False)))

    def _array(self, values: list[str]) -> Row | str | None:
        if self._fields is None:
            self._fields = [_FIELD_NAMES.get(name, name) for name in values]
            if "timestamp" not in self._fields:
                raise ValueError("no timestamp field")
            return None
        if len(values) == 1:
            return str(values[0])
        return _row(dict(zip(self._fields, values, strict=False)))


def _row(fields: dict[str, object]) -> Row:
    url = str(fields.get("url") or fields["original"])
    timestamp = str(fields["timestamp"])
    if not (timestamp.isdigit() and 4 <= len(timestamp) <= 14):
        raise ValueError(f"not a timestamp: {timestamp!r}")
    status = fields.get("status") or fields.get("statuscode") or ""
    return Row(url, timestamp.ljust(14, "0"), str(fields.get("urlkey") or ""), str(status))


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The answer's lines. Only each new chunk is split, the unfinished line kept in pieces:
    an answer without newlines costs its length, not its length squared."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail: list[str] = []
    for chunk in chunks:
        text = decoder.decode(chunk)
        if "\n" not in text:
            tail.append(text)
            continue
        first, *whole, last = text.split("\n")
        yield "".join([*tail, first])
        yield from whole
        tail = [last]
    tail.append(decoder.decode(b"", final=True))
    rest = "".join(tail)
    if rest.strip():
        yield rest
