"""What a real pywb answers as a stand-in public web archive (tests/pywb.py `web_archive`).

These pin the Memento behaviour the archiver relies on when it looks for old captures,
so that a pywb upgrade which changes them fails here first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.pywb import Memento, web_archive, write_mementos

IMAGE = "http://x.test/a.png"
GONE = "http://x.test/gone.png"
MOVED = "http://x.test/moved.png"
QUERY = "http://x.test/a.png?w=1&h=2"
NEVER = "http://x.test/never.png"
BYTES = b"\x89PNG\r\n\x1a\n\x00\xff two \r\n"  # line ends and bytes that are not text survive
MEMENTOS = (
    Memento(IMAGE, "20140101000000", b"one"),
    Memento(IMAGE, "20150615120000", BYTES),
    Memento(IMAGE, "20170101000000", b"three"),
    Memento(GONE, "20140101000000", b"image"),
    Memento(GONE, "20160101000000", b"<h1>Not Found</h1>", status=404, content_type="text/html"),
    Memento(MOVED, "20160101000000", status=302, content_type="text/html", location="http://y.test/new.png"),
    Memento(QUERY, "20160101000000", b"query"),
)
MARCH_2016 = {"Accept-Datetime": "Tue, 01 Mar 2016 00:00:00 GMT"}
TIMEMAP_MEMENTO = re.compile(r'<([^>]+)>; rel="memento"; datetime="([^"]+)"')


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The archive's base URL, "http://127.0.0.1:PORT/web/"."""
    with web_archive(MEMENTOS, tmp_path_factory.mktemp("archive")) as base:
        yield base


def _timemap(base: str, url: str) -> list[tuple[str, str]]:
    response = httpx.get(f"{base}timemap/link/{url}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/link-format"
    return TIMEMAP_MEMENTO.findall(response.text)


def test_timemap_lists_every_capture_with_its_datetime(archive: str) -> None:
    assert _timemap(archive, IMAGE) == [
        (f"{archive}20140101000000/{IMAGE}", "Wed, 01 Jan 2014 00:00:00 GMT"),
        (f"{archive}20150615120000/{IMAGE}", "Mon, 15 Jun 2015 12:00:00 GMT"),
        (f"{archive}20170101000000/{IMAGE}", "Sun, 01 Jan 2017 00:00:00 GMT"),
    ]


def test_timemap_lists_captured_errors_and_redirects_without_their_status(archive: str) -> None:
    assert [datetime for _, datetime in _timemap(archive, GONE)] == [
        "Wed, 01 Jan 2014 00:00:00 GMT",
        "Fri, 01 Jan 2016 00:00:00 GMT",
    ]
    assert _timemap(archive, MOVED) == [(f"{archive}20160101000000/{MOVED}", "Fri, 01 Jan 2016 00:00:00 GMT")]


def test_timemap_of_a_url_never_captured_is_an_empty_404(archive: str) -> None:
    response = httpx.get(f"{archive}timemap/link/{NEVER}")

    assert (response.status_code, response.content) == (404, b"")


def test_a_query_string_goes_in_the_path_as_it_is(archive: str) -> None:
    assert [url for url, _ in _timemap(archive, QUERY)] == [f"{archive}20160101000000/{QUERY}"]
    assert httpx.get(f"{archive}20160101000000id_/{QUERY}").content == b"query"


def test_id_returns_the_original_bytes_and_content_type(archive: str) -> None:
    response = httpx.get(f"{archive}20150615120000id_/{IMAGE}")

    assert response.status_code == 200
    assert response.content == BYTES
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Memento-Datetime"] == "Mon, 15 Jun 2015 12:00:00 GMT"


def test_an_inexact_timestamp_redirects_to_the_closest_capture(archive: str) -> None:
    response = httpx.get(f"{archive}2015id_/{IMAGE}")

    assert response.status_code == 307
    assert response.headers["Location"] == f"{archive}20150615120000id_/{IMAGE}"


def test_an_archived_404_replays_as_404_with_its_memento_datetime(archive: str) -> None:
    captured = httpx.get(f"{archive}20160101000000id_/{GONE}")
    never = httpx.get(f"{archive}20160101000000id_/{NEVER}")

    assert (captured.status_code, captured.content) == (404, b"<h1>Not Found</h1>")
    assert captured.headers["Memento-Datetime"] == "Fri, 01 Jan 2016 00:00:00 GMT"
    assert never.status_code == 404
    assert "Memento-Datetime" not in never.headers  # not archived: pywb's own error page


def test_an_archived_redirect_replays_with_its_original_location(archive: str) -> None:
    response = httpx.get(f"{archive}20160101000000id_/{MOVED}")

    assert response.status_code == 302
    assert response.headers["Location"] == "http://y.test/new.png"


def test_the_timegate_redirects_to_the_closest_memento(archive: str) -> None:
    response = httpx.get(f"{archive}{IMAGE}", headers=MARCH_2016)

    assert response.status_code == 307
    assert response.headers["Location"] == f"{archive}20150615120000/{IMAGE}"
    assert response.headers["Vary"] == "accept-datetime"


def test_without_redirects_the_timegate_answers_with_the_memento_and_its_location(tmp_path: Path) -> None:
    with web_archive(MEMENTOS, tmp_path, redirect_to_exact=False) as base:
        timegate = httpx.get(f"{base}{IMAGE}", headers=MARCH_2016)
        inexact = httpx.get(f"{base}2015id_/{IMAGE}")

    assert (timegate.status_code, timegate.content) == (200, BYTES)
    assert timegate.headers["Content-Location"] == f"{base}20150615120000/{IMAGE}"
    assert (inexact.status_code, inexact.content) == (200, BYTES)
    assert inexact.headers["Content-Location"] == f"{base}20150615120000id_/{IMAGE}"


def test_mementos_are_written_as_a_crawler_writes_responses(tmp_path: Path) -> None:
    warc = tmp_path / "mementos.warc.gz"

    write_mementos([MEMENTOS[5]], warc)

    with warc.open("rb") as stream:
        records = list(ArchiveIterator(stream))
        response = records[-1]
        assert [record.rec_type for record in records] == ["warcinfo", "response"]
        assert response.rec_headers.get_header("WARC-Target-URI") == MOVED
        assert response.rec_headers.get_header("WARC-Date") == "2016-01-01T00:00:00Z"
        assert response.http_headers.statusline == "302 Found"
        assert response.http_headers.get_header("Location") == "http://y.test/new.png"
        assert response.http_headers.get_header("Content-Length") == "0"
