"""TimeMaps read in one pass: a large one in bounded memory, one over the size limit, a paged one,
and the scanner itself on entries cut at every place a chunk can end."""

from __future__ import annotations

import datetime as dt
import gzip
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.bodies import decoded_chunks
from archiver.config import ArchiveSettings
from archiver.restore.sources import Nearest
from archiver.restore.sources.timemap import Memento, entries, read_timemap
from tests.conftest import Web
from tests.test_restore import POST_DATE, Server, _all_dead, _project, picture, serve

IMAGE = "http://photos.test/diagram.png"
START = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
WANTED = dt.datetime.fromisoformat(f"{POST_DATE}T23:59:59+00:00")  # the end of the citing post's day
ARCHIVED_404 = WANTED.replace(second=0)  # the nearest capture before it: an archived error
USABLE = ARCHIVED_404 - dt.timedelta(minutes=1)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _entry(base: str, when: dt.datetime, url: str = IMAGE) -> str:
    return f'<{base}{_stamp(when)}/{url}>; rel="memento"; datetime="{when.strftime("%a, %d %b %Y %H:%M:%S GMT")}"'


def timemap(base: str, size: int, start: dt.datetime = START) -> bytes:
    """A pywb-shaped TimeMap of at least `size` bytes: one memento a minute from `start`."""
    lines = [f'<{base}timemap/link/{IMAGE}>; rel="self"; type="application/link-format"', f'<{IMAGE}>; rel="original"']
    written, when = 0, start
    while written < size:
        lines.append(_entry(base, when))
        written += len(lines[-1]) + 2
        when += dt.timedelta(minutes=1)
    return ",\n".join(lines).encode() + b"\n"


class LargeArchive(Server):
    """A web archive with a capture of IMAGE every minute from 2016 on, listed in one TimeMap of
    `size` bytes (gzipped when asked for); the capture nearest the post is an archived 404."""

    body = b""
    encoding: dict[str, str] = {"Content-Encoding": "gzip"}  # noqa: RUF012 - set by the test

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if "/timemap/link/" in self.path:
            self.answer(200, self.body, "application/link-format", self.encoding)
            return
        stamp = self.path.split("/web/", 1)[1][:14]
        when = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
        memento = {"Memento-Datetime": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        if when == ARCHIVED_404:
            self.answer(404, b"<html><title>404 Not Found</title></html>", "text/html", memento)
        else:
            self.answer(200, picture(f"#{when.minute * 4:02x}{when.hour * 10:02x}80"), "image/png", memento)


@pytest.fixture
def large(request: pytest.FixtureRequest) -> Iterator[str]:
    """LargeArchive serving a TimeMap of `request.param` bytes; the archive's base URL."""
    with serve(LargeArchive) as address:
        base = f"{address}/web/"
        LargeArchive.body, LargeArchive.encoding = (
            gzip.compress(timemap(base, request.param), 1),
            {"Content-Encoding": "gzip"},
        )
        yield base


@pytest.mark.parametrize("large", [20_000_000], indirect=True)
def test_a_20_mb_timemap_is_read_in_bounded_memory_and_the_nearest_usable_capture_restored(
    tmp_path: Path, web: Web, large: str
) -> None:
    project = _project(tmp_path, web, (ArchiveSettings(name="Large", url=large, requests_per_minute=6000.0),),
                       text=f"---\ndate: {POST_DATE}\n---\n![D]({IMAGE})\n")  # fmt: skip
    project.config = project.config.model_copy(update={"fetch": web.settings(max_body_mb=30)})
    _all_dead(project, [IMAGE])

    tracemalloc.start()
    try:
        (outcome,) = project.run().restorations
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (outcome.state, outcome.captured_at) == ("restored", USABLE.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [r.captured_at for r in outcome.rejections] == [ARCHIVED_404.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert peak < 8_000_000, f"{peak:,} bytes at the peak for a 20 MB TimeMap"


@pytest.mark.parametrize("large", [0], indirect=True)
def test_a_timemap_over_the_size_limit_is_read_as_far_as_the_limit(tmp_path: Path, web: Web, large: str) -> None:
    project = _project(tmp_path, web, (ArchiveSettings(name="Large", url=large, requests_per_minute=6000.0),),
                       text=f"---\ndate: {POST_DATE}\n---\n![D]({IMAGE})\n")  # fmt: skip
    LargeArchive.body, LargeArchive.encoding = timemap(large, 1_000_000), {}
    project.config = project.config.model_copy(update={"fetch": web.settings(max_body_mb=0.05)})
    _all_dead(project, [IMAGE])

    (outcome,) = project.run().restorations

    assert outcome.state == "restored"  # the latest capture of those read, not "unavailable"
    whole = LargeArchive.body[: project.config.fetch.max_body_bytes].count(b'GMT"')  # entries read to their end
    assert outcome.captured_at == (START + dt.timedelta(minutes=whole - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")


class PagedArchive(Server):
    """A web archive whose TimeMap is an index of three pages, a year each (2014, 2015, 2016),
    as the Memento paging convention lists them: `rel="timemap"` with `from` and `until`."""

    asked: list[str] = []  # noqa: RUF012 - one list per test, set by the test

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.asked.append(self.path)
        base = f"http://{self.headers['Host']}/web/"
        if self.path == f"/web/timemap/link/{IMAGE}":
            pages = [f'<{base}timemap/link/{year}/{IMAGE}>; rel="timemap"; type="application/link-format"; '
                     f'from="Wed, 01 Jan {year} 00:00:00 GMT"; until="Wed, 31 Dec {year} 23:59:59 GMT"'
                     for year in (2014, 2015, 2016)]  # fmt: skip
            self.answer(200, ",\n".join(pages).encode(), "application/link-format")
        elif "/timemap/link/" in self.path:
            year = int(self.path.split("/timemap/link/", 1)[1][:4])
            months = [dt.datetime(year, month, 15, tzinfo=dt.UTC) for month in range(1, 13)]
            self.answer(200, ",\n".join(_entry(base, m) for m in months).encode(), "application/link-format")
        else:
            stamp = self.path.split("/web/", 1)[1][:14]
            when = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
            memento = {"Memento-Datetime": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}
            self.answer(200, picture(f"#{when.month * 20:02x}4080"), "image/png", memento)


def test_a_paged_timemap_is_read_from_the_page_of_the_wanted_time(tmp_path: Path, web: Web) -> None:
    PagedArchive.asked = []
    with serve(PagedArchive) as address:
        archives = (ArchiveSettings(name="Paged", url=f"{address}/web/", requests_per_minute=6000.0),)
        project = _project(tmp_path, web, archives, text=f"---\ndate: 2015-06-20\n---\n![D]({IMAGE})\n")
        _all_dead(project, [IMAGE])
        (outcome,) = project.run().restorations

    assert (outcome.state, outcome.captured_at) == ("restored", "2015-06-15T00:00:00Z")
    timemaps = [path for path in PagedArchive.asked if "/timemap/" in path]
    # the index, then 2015; 2014 and 2016 could still hold nearer captures on one side, and are read
    assert timemaps[:2] == [f"/web/timemap/link/{IMAGE}", f"/web/timemap/link/2015/{IMAGE}"]
    assert sorted(timemaps[2:]) == [f"/web/timemap/link/2014/{IMAGE}", f"/web/timemap/link/2016/{IMAGE}"]


# --- the scanner ------------------------------------------------------------------------

TRICKY = (
    b'<http://a.test/web/20150101000000/http://x.test/a,b.png>; rel="memento"; '
    b'datetime="Thu, 01 Jan 2015 00:00:00 GMT",\n'
    b"<unterminated; rel=\n"
    b'<http://a.test/web/20160101000000/http://x.test/p.png>;rel="first memento";'
    b'datetime="Fri, 01 Jan 2016 00:00:00 GMT"'
    b'; title="a \\"quoted\\" ; title, with <brackets>"\n'  # no comma: entries on lines of their own
    b"\x00\x01 not an entry at all\n"
    b'<http://a.test/web/timemap/link/2/http://x.test/p.png>; rel="timemap"; from="Sat, 01 Jan 2022 00:00:00 GMT"\n'
)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(TRICKY)])
def test_entries_cut_anywhere_by_a_chunk_read_as_when_whole(size: int) -> None:
    chunks = [TRICKY[at : at + size] for at in range(0, len(TRICKY), size)]

    found = [
        (e.target, sorted(e.rel), e.attributes.get("datetime"), e.attributes.get("title")) for e in entries(chunks)
    ]

    assert found == [
        ("http://a.test/web/20150101000000/http://x.test/a,b.png", ["memento"], "Thu, 01 Jan 2015 00:00:00 GMT", None),
        ("http://a.test/web/20160101000000/http://x.test/p.png", ["first", "memento"],
         "Fri, 01 Jan 2016 00:00:00 GMT", 'a "quoted" ; title, with <brackets>'),
        ("http://a.test/web/timemap/link/2/http://x.test/p.png", ["timemap"], None, None),
    ]  # fmt: skip


def test_only_the_nearest_mementos_on_each_side_are_kept() -> None:
    base = "http://a.test/web/"
    near = START + dt.timedelta(minutes=500, seconds=30)
    kept: Nearest[Memento] = Nearest(near, keep=3)

    read = read_timemap([timemap(base, 200_000)], kept)

    minutes = [int((m.when - START).total_seconds() // 60) for m in kept.items()]
    assert read.entries > 1000
    assert minutes == [500, 501, 499, 502, 498, 503]  # nearest first, three before and three after
    assert not kept.could_take(None, START + dt.timedelta(minutes=497))
    assert kept.could_take(None, START + dt.timedelta(minutes=499))


def test_a_compressed_body_is_inflated_piece_by_piece_within_the_limit() -> None:
    body = b"0123456789" * 100_000
    packed = gzip.compress(body)
    chunks = [packed[at : at + 1000] for at in range(0, len(packed), 1000)]

    pieces = list(decoded_chunks(chunks, "gzip", 654_321))

    assert b"".join(pieces) == body[:654_321]
    assert max(map(len, pieces)) <= 256 * 1024
    assert b"".join(decoded_chunks([b"not gzip at all"], "gzip", 100)) == b"not gzip at all"
