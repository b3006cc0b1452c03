"""Read a TimeMap (RFC 7089: `application/link-format`) in one pass, keeping what can matter.

A TimeMap of a much-captured URL runs to hundreds of megabytes. The link-format parsers
at hand (httplink, LinkHeader) take the whole text at once, and httplink's time grows
with the square of it (4.9 s for 4 MB), so the entries are scanned here instead: the
text is decoded chunk by chunk, one regular-expression match reads one entry (possessive
quantifiers, so a malformed entry costs its own length, never a rescan), and a failed
match skips to the next `<`. Of the mementos only the nearest `NEAREST_KEPT` before the
wanted time and as many after it are kept (`Nearest`), with the links to the TimeMap's
other pages (`rel="timemap"`, with the `from` and `until` they cover, as paged TimeMaps
list them), so memory stays bounded however long the TimeMap is.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.utils
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from archiver.restore.sources.base import Nearest

_LONGEST_ENTRY = 64 * 1024  # characters of one entry waited for before it is taken as malformed
_ENTRY = re.compile(
    r"[\s,]*+<(?P<target>[^<>\s]*+)>"
    r'(?P<params>(?:\s*+;\s*+[^\s;,="<>]++(?:\s*+=\s*+(?:"(?:[^"\\]|\\.)*+"|[^\s;,"<>]*+))?+)*+)'
)
_PARAM = re.compile(r';\s*([^\s;,="<>]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;,"<>]*)))?')
_ESCAPED = re.compile(r"\\(.)")
_NEXT = re.compile(r"\s*+(.)", re.DOTALL)
_HTTP_DATE = re.compile(r"\w{3}, (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One link of a TimeMap: its target as written, its relations and its attributes."""

    target: str
    rel: frozenset[str]
    attributes: dict[str, str]


@dataclass(frozen=True)
class Memento:
    """A capture the TimeMap lists: its address as written, and its datetime."""

    target: str
    when: dt.datetime


@dataclass(frozen=True)
class Page:
    """Another page of a paged TimeMap, with the span of time it covers when it says."""

    target: str
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass(frozen=True)
class TimeMap:
    """What one TimeMap document gave: the mementos kept, its other pages, and how many entries it had."""

    mementos: tuple[Memento, ...]
    pages: tuple[Page, ...]
    entries: int


def read_timemap(chunks: Iterable[bytes], kept: Nearest[Memento]) -> TimeMap:
    """Scan a TimeMap's bytes, adding its mementos to `kept` (only the nearest stay, so one
    `kept` can gather several pages) and listing its other pages."""
    pages: list[Page] = []
    count = 0
    for entry in entries(chunks):
        count += 1
        if "memento" in entry.rel and (when := http_date(entry.attributes.get("datetime"))) is not None:
            kept.add(when, Memento(entry.target, when))
        elif "timemap" in entry.rel and "self" not in entry.rel:
            start, end = http_date(entry.attributes.get("from")), http_date(entry.attributes.get("until"))
            pages.append(Page(entry.target, start, end))
    return TimeMap(tuple(kept.items()), tuple(pages), count)


def entries(chunks: Iterable[bytes]) -> Iterator[Entry]:
    """The links of a link-format document given in pieces (UTF-8; bad bytes replaced)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = ""
    for chunk in chunks:
        text += decoder.decode(chunk)
        position = yield from _complete_entries(text, final=False)
        text = text[position:]
    text += decoder.decode(b"", final=True)
    yield from _complete_entries(text, final=True)


def _complete_entries(text: str, final: bool) -> Generator[Entry, None, int]:
    """The entries of `text` that are surely whole; returns where the rest (to wait for) begins."""
    position = 0
    while position < len(text):
        match = _ENTRY.match(text, position)
        if match is not None and (final or _whole(text, match.end())):
            yield _entry(match["target"], match["params"])
            position = match.end()
            continue
        if not final and len(text) - position < _LONGEST_ENTRY:
            return position  # perhaps cut by the chunk's end: wait for more
        following = text.find("<", position + 1)
        if following < 0:
            return len(text)
        position = following  # a malformed entry hides itself, not the ones after it
    return position


def _whole(text: str, end: int) -> bool:
    """True when the entry ending at `end` cannot go on: the next entry or a comma follows,
    or so much else that it is not an entry cut short."""
    after = _NEXT.match(text, end)
    return (after is not None and after[1] in ",<") or len(text) - end >= _LONGEST_ENTRY


def _entry(target: str, params: str) -> Entry:
    attributes: dict[str, str] = {}
    for name, quoted, bare in _PARAM.findall(params):
        value = _ESCAPED.sub(r"\1", quoted) if quoted else bare
        attributes.setdefault(name.lower(), value)  # RFC 8288: the first occurrence counts
    return Entry(target, frozenset(attributes.get("rel", "").lower().split()), attributes)


def http_date(value: str | None) -> dt.datetime | None:
    """An HTTP date (a Memento-Datetime, a TimeMap's datetime, from or until) in UTC; None
    when there is none or it is not a date."""
    if not value:
        return None
    fixed = _HTTP_DATE.fullmatch(value)
    month = _MONTHS.get(fixed[2]) if fixed else None
    if fixed is not None and month is not None:  # the usual form, read without email.utils' cost
        try:
            day, year, hour, minute, second = (int(fixed[n]) for n in (1, 3, 4, 5, 6))
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        except ValueError:
            return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None
