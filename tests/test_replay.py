"""Exact replay: URLs that share a SURT key, captured in the same second, each replay as
their own capture in a real pywb, and every address the archiver prints leads there."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import re
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trustme
from warcio.archiveiterator import ArchiveIterator

from archiver import job
from archiver.config import Config, ExtractSettings, FetchSettings, PackSettings, ReportConfig
from archiver.fetch import Fetcher
from archiver.model import Capture, Exchange, FetchResult, Finisher, Hop, RecordLocation, Status, Validators
from archiver.pack import ARCHIVE_DIR, INDEX_DIR, OPEN_SUFFIX, WarcPacker, repair
from archiver.pack.writer import FETCH_DATE
from archiver.restore.sources.own import OwnArchive
from archiver.times import utc_now
from tests.conftest import Web
from tests.pywb import serving
from tests.webserver import MisbehavingServer

# Two names on addresses of their own, one port number on both, TLS and plain HTTP on it:
# http://x.test:P/, http://www.x.test:P/, https://x.test:P/ and https://www.x.test:P/
# are four URLs with one SURT key, "test,x:P)/".
TWIN_HOSTS = {"x.test": "127.0.0.6", "www.x.test": "127.0.0.7"}
UNUSED_REPLAY = "http://replay.invalid/web/"
WHEN = dt.datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Twins:
    """The four URLs that share a key, and what each serves."""

    urls: tuple[str, ...]
    ca_file: Path

    def page_of(self, url: str) -> str:
        """The text only `url`'s page holds: its scheme, host and port (see /whoami)."""
        return url.removesuffix("whoami") + "</p>"


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twins]:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("twin-tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*TWIN_HOSTS).configure_cert(context)
    server = MisbehavingServer()
    port = server.start(TWIN_HOSTS["x.test"], context, plain_too=True)
    server.start(TWIN_HOSTS["www.x.test"], context, port=port, plain_too=True)
    urls = tuple(f"{scheme}://{host}:{port}/whoami" for scheme in ("http", "https") for host in TWIN_HOSTS)
    yield Twins(urls, ca_file)
    server.stop()


class OneSecond:
    """The real fetcher, with every exchange and check dated to one instant: as if each URL
    had been fetched within one second (as twins often are; here always).
    Its connections close when `fetch_all` ends, inside the run's event loop."""

    def __init__(self, settings: FetchSettings) -> None:
        self._fetcher = Fetcher(settings)
        self._when = utc_now().replace(microsecond=250_000)

    async def fetch(
        self, url: str, urgent: bool = False, follow: bool = True, validators: Validators | None = None
    ) -> Capture:
        return self._dated(await self._fetcher.fetch(url, urgent, follow, validators))

    async def fetch_all(
        self, urls: Iterable[str], then: Finisher | None = None, validators: Mapping[str, Validators] | None = None
    ) -> AsyncIterator[Capture]:
        async def dated_then(capture: Capture) -> Capture:
            return await then(self._dated(capture)) if then is not None else self._dated(capture)

        try:
            async for capture in self._fetcher.fetch_all(urls, then=dated_then, validators=validators):
                yield capture
        finally:
            await self._fetcher.aclose()

    async def aclose(self) -> None:
        """Nothing left to close: `fetch_all` closed the connections."""

    def _dated(self, capture: Capture) -> Capture:
        exchanges = tuple(replace(exchange, date=self._when) for exchange in capture.exchanges)
        return replace(capture, result=replace(capture.result, checked_at=self._when), exchanges=exchanges)


def _config(web: Web, twins: Twins, folder: Path) -> Config:
    post = folder / "posts" / "post.md"
    post.parent.mkdir(parents=True)
    post.write_text("".join(f"[{i}]({url})\n\n" for i, url in enumerate(twins.urls)), encoding="utf-8")
    fetch = web.settings(resolve=TWIN_HOSTS, ca_bundle=twins.ca_file)
    return Config(source=None, post_paths=(post,), output_dir=folder / "out", extract=ExtractSettings(),
                  fetch=fetch, report=ReportConfig(replay_url=UNUSED_REPLAY))  # fmt: skip


def _run_in_one_second(config: Config) -> job.RunSummary:
    return job.run(config, backend=OneSecond(config.fetch))


def _index_lines(folder: Path) -> list[tuple[str, str, dict[str, object]]]:
    lines = []
    for index in sorted((folder / INDEX_DIR).glob("*.cdxj")):
        for line in index.read_text(encoding="utf-8").splitlines():
            key, timestamp, fields = line.split(" ", 2)
            lines.append((key, timestamp, json.loads(fields)))
    return lines


def _get(address: str) -> tuple[int, str]:
    response = httpx.get(address, headers={"Accept-Encoding": "identity"})
    return response.status_code, response.text


def test_urls_sharing_a_key_and_a_second_each_replay_as_themselves(web: Web, twins: Twins, tmp_path: Path) -> None:
    config = _config(web, twins, tmp_path)

    _run_in_one_second(config)

    captures = [(key, ts, f) for key, ts, f in _index_lines(config.output_dir) if str(f["url"]).endswith("/whoami")]
    assert sorted(str(f["url"]) for _, _, f in captures) == sorted(twins.urls)
    assert len({key for key, _, _ in captures}) == 1, "the twins share one SURT key"
    with serving(config.output_dir, tmp_path / "pywb", memento=True) as base:
        for _, timestamp, fields in captures:
            url = str(fields["url"])
            code, text = _get(f"{base}/web/{timestamp}id_/{url}")
            assert (code, text) == (200, f"<html><body><p>{twins.page_of(url)}</body></html>"), url

        replay = f"{base}/web/"
        report = job.regenerate_report(config.model_copy(update={"report": ReportConfig(replay_url=replay)}))
        document = json.loads((config.output_dir / "report.json").read_text(encoding="utf-8"))
        links = {link["url"]: link["capture"]["replay"] for link in document["links"]}
        for url in twins.urls:
            code, text = _get(links[url])
            assert code == 200, links[url]
            assert twins.page_of(url) in text, links[url]
            assert [other for other in twins.urls if other != url and twins.page_of(other) in text] == []
        assert report.replay_url == replay

        own = OwnArchive(config.output_dir, replay, 100_000)
        for candidate in asyncio.run(own.lookup(twins.urls[0], dt.datetime.now(dt.UTC))).candidates:
            code, text = _get(candidate.address)
            assert (code, twins.page_of(candidate.url) in text) == (200, True), candidate.address


def test_a_replay_address_names_the_timestamp_of_its_record(web: Web, twins: Twins, tmp_path: Path) -> None:
    config = _config(web, twins, tmp_path)

    _run_in_one_second(config)

    stamps = {str(f["url"]): ts for _, ts, f in _index_lines(config.output_dir)}
    document = json.loads((config.output_dir / "report.json").read_text(encoding="utf-8"))
    for link in document["links"]:
        address = link["capture"]["replay"]
        timestamp, url = re.fullmatch(re.escape(UNUSED_REPLAY) + r"(\d{14})/(.+)", address).groups()  # type: ignore[union-attr]
        assert stamps[url] == timestamp, address


# --- the packer: a second of its own for each record of a key ---------------------------


def _exchange(url: str, body: bytes, code: int = 200, location: str | None = None) -> Exchange:
    headers = (("Content-Type", "text/plain"),) + ((("Location", location),) if location else ())
    digest = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")
    return Exchange(
        url=url, method="GET", target=urlsplit(url).path, request_headers=(("Host", urlsplit(url).netloc),),
        http_version="HTTP/1.1", code=code, reason="OK" if code == 200 else "Moved Permanently",
        response_headers=headers, body=io.BytesIO(body), body_size=len(body), payload_digest=digest,
        truncated=False, peer=None, date=WHEN,
    )  # fmt: skip


def _capture(*exchanges: Exchange) -> Capture:
    first, last = exchanges[0], exchanges[-1]
    hops = tuple(Hop(exchange.url, exchange.code, exchange.location()) for exchange in exchanges)
    result = FetchResult(first.url, Status.OK, last.code, last.url, hops, 1, 0.0, WHEN,
                         payload_digest=last.payload_digest)  # fmt: skip
    return Capture(result, exchanges)


def _dates(folder: Path) -> list[tuple[str, str, str, str | None]]:
    """(type, target URI, WARC-Date, Archiver-Fetch-Date) of every request, response and revisit record."""
    found = []
    for warc in sorted((folder / ARCHIVE_DIR).glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("request", "response", "revisit"):
                    get = record.rec_headers.get_header
                    found.append((record.rec_type, get("WARC-Target-URI"), get("WARC-Date"), get(FETCH_DATE)))
    return found


def test_records_of_one_key_fetched_in_one_second_get_seconds_of_their_own_across_runs(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with WarcPacker(folder, PackSettings()) as first_run:
        plain = first_run.write(_capture(_exchange("http://x.test/", b"plain")), ())
        first_run.write(_capture(_exchange("http://www.x.test/", b"", 301, "https://x.test/"),
                                 _exchange("https://x.test/", b"secure")), ())  # fmt: skip
    with WarcPacker(folder, PackSettings()) as later_run:  # in the same second, as far as the dates go
        again = later_run.write(_capture(_exchange("http://x.test/", b"plain")), (), previous=plain)
        other = later_run.write(_capture(_exchange("http://other.test/", b"other")), ())

    keyed = sorted(_index_lines(folder))
    assert [(key, timestamp, fields["url"]) for key, timestamp, fields in keyed] == [
        ("test,other)/", "20260301120000", "http://other.test/"),
        ("test,x)/", "20260301120000", "http://x.test/"),
        ("test,x)/", "20260301120001", "http://www.x.test/"),  # a redirect hop is a capture too
        ("test,x)/", "20260301120002", "https://x.test/"),
        ("test,x)/", "20260301120003", "http://x.test/"),  # the later run's revisit
    ]
    fetched = "2026-03-01T12:00:00.250000Z"
    assert _dates(folder) == [
        ("response", "http://x.test/", fetched, None),
        ("request", "http://x.test/", fetched, None),
        ("response", "http://www.x.test/", "2026-03-01T12:00:01.250000Z", fetched),
        ("request", "http://www.x.test/", "2026-03-01T12:00:01.250000Z", fetched),
        ("response", "https://x.test/", "2026-03-01T12:00:02.250000Z", fetched),
        ("request", "https://x.test/", "2026-03-01T12:00:02.250000Z", fetched),
        ("revisit", "http://x.test/", "2026-03-01T12:00:03.250000Z", fetched),
        ("request", "http://x.test/", "2026-03-01T12:00:03.250000Z", fetched),
        ("response", "http://other.test/", fetched, None),
        ("request", "http://other.test/", fetched, None),
    ]
    assert FETCH_DATE == "Archiver-Fetch-Date"
    assert [(where.date, where.revisit) for where in (plain, again, other) if where is not None] == [
        (fetched, False), ("2026-03-01T12:00:03.250000Z", True), (fetched, False)]  # fmt: skip


def test_a_repaired_capture_is_known_by_the_date_its_record_was_given(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with WarcPacker(folder, PackSettings()) as killed_run:
        killed_run.write(_capture(_exchange("http://x.test/", b"plain")), ())
        moved = killed_run.write(_capture(_exchange("https://www.x.test/", b"secure")), ())
        (warc,) = (folder / ARCHIVE_DIR).glob(f"*{OPEN_SUFFIX}")
        left = warc.read_bytes()
    warc.write_bytes(left)  # the file as a kill would have left it: open, not indexed
    for closed in (folder / ARCHIVE_DIR).glob("*.warc.gz"):
        closed.unlink()
    for index in (folder / INDEX_DIR).glob("*.cdxj"):
        index.unlink()

    recovered = repair(folder)

    assert [result.stored_at for result in recovered][-1] == moved
    assert isinstance(moved, RecordLocation)
    assert moved.date == "2026-03-01T12:00:01.250000Z"
