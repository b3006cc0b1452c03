"""Bulk lookups: an archive's CDX server asked once per site instead of a TimeMap per URL,
paged when large; and what archives answered remembered across restores."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from archiver import job, restore
from archiver.bodies import decoded_chunks
from archiver.config import ArchiveSettings, Config
from archiver.history import History
from archiver.pack import url_key
from archiver.restore.sources import cdx, memento
from archiver.restore.sources.base import Wanted
from archiver.restore.sources.cdx import SiteRows, read_page, site_query
from tests.conftest import Web
from tests.pywb import Memento, web_archive
from tests.test_restore import Server, _all_dead, _project, picture, serve

HOSTS = ("one.test", "two.test", "www.three.test")
URLS = [f"http://{HOSTS[n % 3]}/photos/{n // 3}/image-{n}.png" for n in range(100)]
FOUND_NOWHERE = URLS[::10]  # 10 of them were never captured
IMAGES = {url: picture(f"#{n:02x}{(n * 7) % 256:02x}{(n * 13) % 256:02x}", (8, 8)) for n, url in enumerate(URLS)}
MEMENTOS = [Memento(url, "20150101000000", IMAGES[url]) for url in URLS if url not in FOUND_NOWHERE]
GONE = "http://two.test/photos/gone.png"
MEMENTOS.append(Memento(GONE, "20150101000000", b"<h1>Not Found</h1>", status=404, content_type="text/html"))
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


@contextlib.contextmanager
def counting(archive: str) -> Iterator[tuple[str, list[str]]]:
    """A proxy in front of the archive that writes down every request the archive gets;
    its base URL (the Host header goes through, so the archive's addresses name the proxy)."""
    asked: list[str] = []
    origin = archive.removesuffix("/web/")
    client = httpx.Client()

    class Proxy(Server):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            asked.append(self.path)
            answer = client.get(origin + self.path, headers={"Host": self.headers["Host"]})
            kept = {k: v for k, v in answer.headers.items() if k.lower() in ("location", "memento-datetime", "link")}
            self.answer(answer.status_code, answer.content, answer.headers.get("Content-Type", ""), kept)

    with client, serve(Proxy) as address:
        yield f"{address}/web/", asked


def _restore(config: Config, now: dt.datetime = NOW) -> tuple[restore.RestoreSummary, list[str]]:
    archive = config.restore.archives[0]
    with counting(archive.url) as (address, asked):
        proxied = (archive.model_copy(update={"url": address}),)
        config = config.model_copy(update={"restore": config.restore.model_copy(update={"archives": proxied})})
        return job.restore(config, restore.Scope(), now=now), asked


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with web_archive(MEMENTOS, tmp_path_factory.mktemp("wayback")) as base:
        yield base


def _blog(folder: Path, web: Web, archive: str, urls: list[str]) -> Config:
    settings = ArchiveSettings(name="Test Wayback", url=archive, requests_per_minute=6000)
    project = _project(folder, web, (settings,), text="".join(f"![i]({url})\n" for url in urls))
    _all_dead(project, urls)
    return project.config


def test_a_hundred_images_on_three_hosts_cost_three_cdx_queries_and_one_fetch_each(
    tmp_path: Path, web: Web, archive: str
) -> None:
    config = _blog(tmp_path, web, archive, URLS)

    summary, asked = _restore(config)

    states = {o.url: o.state for o in summary.restorations}
    assert [url for url, state in states.items() if state != "restored"] == FOUND_NOWHERE
    cdx = [path for path in asked if path.startswith("/web/cdx?")]
    assert sorted(parse_qs(urlsplit(path).query)["url"][0] for path in cdx) == ["one.test", "three.test", "two.test"]
    fetched = sorted(f"/web/20150101000000id_/{url}" for url in URLS if url not in FOUND_NOWHERE)
    assert sorted(set(asked) - set(cdx)) == fetched
    assert len(asked) == 3 + 90
    restored = [o for o in summary.restorations if o.restored]
    assert all((config.restore.assets_dir / o.new_url.removeprefix("/assets/restored/")).read_bytes()
               == IMAGES[o.url] for o in restored)  # fmt: skip


def test_a_capture_the_cdx_answer_lists_as_an_error_is_refused_unread(tmp_path: Path, web: Web, archive: str) -> None:
    config = _blog(tmp_path, web, archive, [GONE])

    summary, asked = _restore(config)

    (outcome,) = summary.restorations
    assert outcome.state == "rejected"
    assert [r.reason for r in outcome.rejections] == ["the archived answer is 404, not 200"]
    assert [path.split("?")[0] for path in asked] == ["/web/cdx"]


def test_urls_found_nowhere_are_not_asked_again_until_the_retry_period_passes(
    tmp_path: Path, web: Web, archive: str
) -> None:
    config = _blog(tmp_path, web, archive, FOUND_NOWHERE)
    _restore(config)
    with History.open(config.output_dir) as history:
        assert {(a.url, a.answer) for a in history.archive_answers()} == {(u, "not-archived") for u in FOUND_NOWHERE}

    days = config.restore.retry_not_found_days
    soon, asked_soon = _restore(config, NOW + dt.timedelta(days=days - 1))
    later, asked_later = _restore(config, NOW + dt.timedelta(days=days))

    assert asked_soon == []
    assert {o.state for o in soon.restorations} == {"not-found"}
    (note,) = soon.restorations[0].remembered
    assert note.startswith("Test Wayback: had no capture when asked at 2026-11-02T00:00:00Z; asked again from")
    assert len(asked_later) == 3  # one CDX query per host again
    assert all(o.remembered == () for o in later.restorations)
    document = json.loads((config.output_dir / "restore.json").read_text(encoding="utf-8"))
    assert document["outcomes"][0]["not_asked"] == []


def test_an_answer_cut_at_its_page_size_leaves_the_rest_to_timemaps(
    tmp_path: Path, web: Web, archive: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memento, "CDX_PAGE_ROWS", 4)  # pywb gives no resume key: one page of 4 rows
    urls = [url for url in URLS if url.startswith("http://one.test/")][:8]
    config = _blog(tmp_path, web, archive, urls)

    summary, asked = _restore(config)

    assert [o.state for o in summary.restorations] == ["not-found"] + ["restored"] * 7
    cdx, timemaps = [p for p in asked if p.startswith("/web/cdx?")], [p for p in asked if "/timemap/" in p]
    assert len(cdx) == 1
    last = sorted(url_key(m.url) for m in MEMENTOS if m.url.startswith("http://one.test/"))[3]  # the page's last row
    covered = {url for url in urls if url_key(url) < last}  # the last key's rows may go on past the page
    assert 0 < len(covered) < len(urls)
    assert sorted(timemap.split("/timemap/link/", 1)[1] for timemap in timemaps) == sorted(set(urls) - covered)


class PagingArchive(Server):
    """The Internet Archive's CDX server: JSON arrays, a header row, and `limit` rows a page
    followed by an empty row and the resume key; it holds a capture of every image named."""

    rows: list[str] = []  # noqa: RUF012 - set by the test
    asked: list[str] = []  # noqa: RUF012 - set by the test

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.asked.append(self.path)
        if self.path.startswith("/cdx/"):
            query = parse_qs(urlsplit(self.path).query)
            start, limit = int(query.get("resumeKey", ["0"])[0]), int(query["limit"][0])
            page = [["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]]
            page += [["k", "20150101000000", url, "image/png", "200", "-", "1"] for url in self.rows[start:][:limit]]
            if start + limit < len(self.rows):
                page += [[], [str(start + limit)]]
            text = "[" + ",\n".join(json.dumps(row) for row in page) + "]\n"
            self.answer(200, text.encode(), "application/json")
        else:
            url = self.path.split("id_/", 1)[1]
            self.answer(200, picture(f"#{sum(url.encode()) % 256:02x}4080"), "image/png",
                        {"Memento-Datetime": "Thu, 01 Jan 2015 00:00:00 GMT"})  # fmt: skip


def test_a_large_answer_is_read_page_by_page_with_its_resume_keys(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memento, "CDX_PAGE_ROWS", 3)
    urls = [f"http://paged.test/p/{n}.png" for n in range(7)]
    PagingArchive.rows, PagingArchive.asked = sorted(urls), []
    with serve(PagingArchive) as address:
        settings = ArchiveSettings(
            name="Paging", url=f"{address}/web/", cdx=f"{address}/cdx/search/cdx", requests_per_minute=6000
        )
        project = _project(tmp_path, web, (settings,), text="".join(f"![i]({url})\n" for url in urls))
        _all_dead(project, urls)
        summary = job.restore(project.config, restore.Scope())

    assert {o.state for o in summary.restorations} == {"restored"}
    pages = [path for path in PagingArchive.asked if path.startswith("/cdx/")]
    assert [parse_qs(urlsplit(p).query).get("resumeKey") for p in pages] == [None, ["3"], ["6"]]
    assert len(PagingArchive.asked) == 3 + 7  # three pages, no TimeMap, one capture each


def test_every_form_of_cdx_line_is_read_and_a_malformed_one_hides_only_itself() -> None:
    near = dt.datetime(2015, 6, 1, tzinfo=dt.UTC)
    wanted = [Wanted("http://a.test/x.png", near)]
    lines = [
        '{"urlkey": "test,a)/x.png", "timestamp": "20150101000000", "url": "http://a.test/x.png"}',
        "test,a)/x.png 20150201000000 " + json.dumps({"url": "https://a.test/x.png", "status": "200"}),
        "not a row at all {",
        "test,a)/x.png 20150301000000 http://www.a.test/x.png image/png 200 SHA1 123",
    ]
    rows = SiteRows(wanted)

    page = read_page([("\n".join(lines) + "\n").encode()], rows)

    assert (page.rows, page.resume_key) == (3, "")
    assert [row.timestamp for row in rows.rows_of("http://a.test/x.png")] == [
        "20150301000000", "20150201000000", "20150101000000",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not a CDX answer"):
        read_page([b"<html>an error page</html>\n"], SiteRows(wanted))


def test_a_site_is_asked_for_by_its_host_without_www_and_its_port() -> None:
    near = dt.datetime(2015, 6, 1, tzinfo=dt.UTC)
    images = [
        Wanted("http://www.a.test:8080/photos/2015/x.png", near),
        Wanted("https://a.test:8080/photos/y.png", near),
    ]

    assert site_query(images) == {"url": "a.test:8080/photos/", "matchType": "prefix"}
    assert site_query([Wanted(images[0].url, near, renamed=True)]) == {"url": "a.test:8080", "matchType": "host"}


@pytest.mark.parametrize("escape", ["%2F", "%3F", "%23"])
def test_a_folder_with_an_escape_is_asked_for_by_its_host_and_its_captures_are_listed(escape: str) -> None:
    near = dt.datetime(2015, 6, 1, tzinfo=dt.UTC)
    url = f"http://a.test/photos/a{escape}b/x.png"
    wanted = [Wanted(url, near), Wanted("http://a.test/photos/y.png", near)]
    rows = SiteRows(wanted)
    line = {"urlkey": url_key(url), "timestamp": "20150101000000", "url": url}

    read_page([(json.dumps(line) + "\n").encode()], rows)

    assert site_query(wanted) == {"url": "a.test", "matchType": "host"}  # the folder unescaped holds no such URL
    assert rows.covers(url)
    assert [row.timestamp for row in rows.rows_of(url)] == ["20150101000000"]
    assert site_query(wanted[1:]) == {"url": "a.test/photos/", "matchType": "prefix"}


def test_an_archive_listing_another_sites_capture_under_the_wanted_key_is_not_believed() -> None:
    near = dt.datetime(2015, 6, 1, tzinfo=dt.UTC)
    wanted = [Wanted("http://a.test/x.png", near), Wanted("http://a.test/y.png", near)]
    lines = [
        {"urlkey": "test,a)/x.png", "timestamp": "20150101000000", "url": "http://a.test/x.png"},  # keys as ours
        {"urlkey": "test,a)/y.png", "timestamp": "20150201000000", "url": "http://evil.test/y.png"},
        {"urlkey": "test,a)/y.png", "timestamp": "20150301000000", "url": "http://www.a.test/y.png"},
    ]
    rows = SiteRows(wanted)

    read_page(["".join(json.dumps(line) + "\n" for line in lines).encode()], rows)

    assert [row.url for row in rows.rows_of("http://a.test/y.png")] == ["http://www.a.test/y.png"]


def test_a_long_answer_without_newlines_is_read_as_one_line_in_the_size_limit() -> None:
    near = dt.datetime(2015, 6, 1, tzinfo=dt.UTC)
    piece = b"x" * 1000
    limit = 4_000_000
    chunks = decoded_chunks(itertools.repeat(piece, 100_000), None, limit)  # 100 MB offered, the limit read
    seen: list[int] = []

    def counted() -> Iterator[bytes]:
        for chunk in chunks:
            seen.append(len(chunk))
            yield chunk

    page = read_page(counted(), SiteRows([Wanted("http://a.test/x.png", near)]))

    assert sum(seen) == limit
    assert (page.rows, len(page.resume_key)) == (0, limit)  # one word: the plain form's resume key
    lines = list(cdx._lines([b"ab", b"c\nde", b"f", b"\n", b"\xc3", b"\xa9g\nh"]))
    assert lines == ["abc", "def", "\u00e9g", "h"]  # a line across chunks, and a character across them
