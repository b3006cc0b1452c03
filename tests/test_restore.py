"""`archiver restore` end to end: captures in a real pywb standing in for the Wayback
Machine, captures in our own WARC files, and the posts repaired byte for byte."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from archiver import job, restore
from archiver.cli import main
from archiver.config import ArchiveSettings, Config, ExtractSettings, HealthSettings, PackSettings, RestoreSettings
from archiver.history import History
from archiver.model import FetchResult, Status
from archiver.restore import repairs, rewrite
from archiver.restore.assets import MANIFEST_FILE, asset_path
from tests.conftest import Web
from tests.pywb import Memento, web_archive

POST_DATE = "2016-03-01"


def picture(color: str, size: tuple[int, int] = (40, 30), kind: str = "PNG") -> bytes:
    """A small real image."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, kind)
    return buffer.getvalue()


GOOD_2012, GOOD_2015, GOOD_2019 = picture("red"), picture("green"), picture("blue")
AFTER_2017, AFTER_2020 = picture("orange"), picture("purple")
BUCKET_A, BUCKET_B = picture("navy", kind="JPEG"), picture("olive", kind="JPEG")
PLACEHOLDER = picture("gray", (120, 80))
MOVED = picture("teal", (16, 16), "GIF")
QUERY = picture("maroon")
ESSAY = b"<html><title>Essay</title><body>" + b"A long essay. " * 40 + b"</body></html>"
NOT_FOUND_PAGE = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"

IMAGES = {
    "closest": "http://photos.test/diagram.png",
    "after": "http://photos.test/after.png",
    "archived-404": "http://photos.test/gone.png",
    "bucket-a": "http://bucket.test/albums/a.jpg",
    "bucket-b": "http://bucket.test/albums/b.jpg",
    "removed": "http://imgur.test/x.png",
    "moved": "http://photos.test/moved.gif",
    "query": "http://photos.test/chart.php?id=7&size=large",
    "never": "http://photos.test/never.png",
    "soft-404": "http://photos.test/soft.png",
}
PAGE = "http://photos.test/essay.html"
MEMENTOS = [
    Memento(IMAGES["closest"], "20120101000000", GOOD_2012),
    Memento(IMAGES["closest"], "20150615120000", GOOD_2015),
    Memento(IMAGES["closest"], "20190101000000", GOOD_2019),
    Memento(IMAGES["after"], "20200101000000", AFTER_2020),
    Memento(IMAGES["after"], "20170301000000", AFTER_2017),
    Memento(IMAGES["archived-404"], "20151001000000", NOT_FOUND_PAGE, status=404, content_type="text/html"),
    # a photo host that served one "update your account" picture for every hotlinked image
    Memento(IMAGES["bucket-a"], "20160201000000", PLACEHOLDER),
    Memento(IMAGES["bucket-b"], "20160201000000", PLACEHOLDER),
    Memento(IMAGES["bucket-a"], "20140101000000", BUCKET_A, content_type="image/jpeg"),
    Memento(IMAGES["bucket-b"], "20140101000000", BUCKET_B, content_type="image/jpeg"),
    # an image host that redirects deleted images to its "removed" picture
    Memento(IMAGES["removed"], "20160220000000", status=302, location="http://imgur.test/removed.png"),
    Memento("http://imgur.test/removed.png", "20160220000001", PLACEHOLDER),
    Memento(IMAGES["moved"], "20160101000000", status=301, location="http://cdn.photos.test/moved.gif"),
    Memento("http://cdn.photos.test/moved.gif", "20160101000005", MOVED, content_type="image/gif"),
    # before the redirect was captured, but much further from it than the capture above
    Memento("http://cdn.photos.test/moved.gif", "20100101000000", NOT_FOUND_PAGE, status=404, content_type="text/html"),
    Memento(IMAGES["query"], "20151111000000", QUERY),
    Memento(IMAGES["soft-404"], "20150101000000", NOT_FOUND_PAGE, content_type="text/html"),
    Memento(PAGE, "20150505000000", ESSAY, content_type="text/html; charset=utf-8"),
]
POST = f"""---
title: Diagrams
date: {POST_DATE}
---
Intro paragraph, untouched.\r
![Diagram]({IMAGES["closest"]})\r
<img src="{IMAGES["query"].replace("&", "&amp;")}" alt="chart">\r
![After]({IMAGES["after"]}) and ![Gone]({IMAGES["archived-404"]})
![A]({IMAGES["bucket-a"]}) ![B]({IMAGES["bucket-b"]})
![X]({IMAGES["removed"]}) ![M]({IMAGES["moved"]})
![N]({IMAGES["never"]}) ![S]({IMAGES["soft-404"]})
Read [the essay]({PAGE}) too. In code: `{IMAGES["closest"]}`.
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real pywb holding MEMENTOS as the collection `web`; its base URL."""
    with web_archive(MEMENTOS, tmp_path_factory.mktemp("wayback")) as base:
        yield base


@dataclass
class Project:
    """A blog with one post, an output folder whose history calls every cited URL dead."""

    config: Config
    post: Path
    site: Path
    original: bytes = field(default=b"")

    def run(self, **scope: bool) -> restore.RestoreSummary:
        return job.restore(self.config, restore.Scope(**scope))

    def restorations(self, summary: restore.RestoreSummary) -> dict[str, restore.Restoration]:
        return {outcome.url: outcome for outcome in summary.restorations}


def _project(folder: Path, web: Web, archives: tuple[ArchiveSettings, ...], text: str = POST) -> Project:
    post = folder / "site" / "_posts" / "2016-03-01-diagrams.md"
    post.parent.mkdir(parents=True)
    post.write_bytes(text.encode("utf-8"))
    config = Config(
        source=None,
        post_paths=(post.parent,),
        output_dir=folder / "archives",
        extract=ExtractSettings(base_url="https://blog.example.org/"),
        fetch=web.settings(),
        health=HealthSettings(dead_after_checks=1, dead_after_days=0),
        restore=RestoreSettings(assets_dir=folder / "site" / "assets" / "restored", archives=archives),
    )
    return Project(config, post, folder / "site", post.read_bytes())


def _all_dead(project: Project, urls: list[str]) -> None:
    """A history in which every URL failed its one check (dead, with this test's policy)."""
    when = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    results = [FetchResult(url, Status.DNS_FAILURE, None, url, (), 1, 0.0, when, "gone") for url in urls]
    with History.open(project.config.output_dir) as history:
        history.record_run("run", when, results)


@pytest.fixture
def blog(tmp_path: Path, web: Web, archive: str) -> Project:
    project = _project(tmp_path, web, (ArchiveSettings(name="Test Wayback", url=archive, requests_per_minute=6000.0),))
    _all_dead(project, [*IMAGES.values(), PAGE])
    return project


def _restored_file(project: Project, outcome: restore.Restoration) -> bytes:
    prefix = project.config.restore.assets_url
    assert outcome.new_url.startswith(prefix)
    return (project.config.restore.assets_dir / outcome.new_url.removeprefix(prefix)).read_bytes()


def test_each_image_is_restored_byte_exactly_from_the_capture_nearest_the_post(blog: Project) -> None:
    outcomes = blog.restorations(blog.run())

    assert _restored_file(blog, outcomes[IMAGES["closest"]]) == GOOD_2015  # not 2012, not 2019
    assert outcomes[IMAGES["closest"]].captured_at == "2015-06-15T12:00:00Z"
    assert _restored_file(blog, outcomes[IMAGES["after"]]) == AFTER_2017  # nothing before: the nearest after
    assert _restored_file(blog, outcomes[IMAGES["query"]]) == QUERY
    assert _restored_file(blog, outcomes[IMAGES["moved"]]) == MOVED  # through the captured redirect
    assert outcomes[IMAGES["moved"]].new_url.endswith(".gif")
    assert {outcomes[url].source for url in (IMAGES["closest"], IMAGES["after"])} == {"Test Wayback"}


def test_bad_captures_are_rejected_with_their_reasons(blog: Project) -> None:
    outcomes = blog.restorations(blog.run())

    gone = outcomes[IMAGES["archived-404"]]
    assert (gone.state, [r.reason for r in gone.rejections]) == ("rejected", ["the archived answer is 404, not 200"])
    soft = outcomes[IMAGES["soft-404"]]
    assert soft.state == "rejected"
    assert "text/html document" in soft.rejections[0].reason
    removed = outcomes[IMAGES["removed"]]
    assert removed.state == "rejected"
    assert removed.rejections[0].reason == "redirected to http://imgur.test/removed.png, a placeholder"
    assert outcomes[IMAGES["never"]].state == "not-found"
    assert outcomes[IMAGES["never"]].rejections == ()


def test_one_picture_standing_in_for_several_images_is_a_placeholder(blog: Project) -> None:
    outcomes = blog.restorations(blog.run())

    for key, expected in (("bucket-a", BUCKET_A), ("bucket-b", BUCKET_B)):
        outcome = outcomes[IMAGES[key]]
        assert _restored_file(blog, outcome) == expected  # the 2014 capture, not the nearer 2016 placeholder
        assert outcome.captured_at == "2014-01-01T00:00:00Z"
        assert [r.captured_at for r in outcome.rejections] == ["2016-02-01T00:00:00Z"]
        assert "the same bytes stand for 2 different images of bucket.test" in outcome.rejections[0].reason


def test_a_placeholder_is_recognised_against_an_earlier_restore_and_remembered(
    tmp_path: Path, web: Web, archive: str
) -> None:
    archives = (ArchiveSettings(name="Test Wayback", url=archive, requests_per_minute=6000.0),)
    project = _project(tmp_path, web, archives, text=f"---\ndate: {POST_DATE}\n---\n![A]({IMAGES['bucket-a']})\n")
    _all_dead(project, [IMAGES["bucket-a"], IMAGES["bucket-b"]])
    (first,) = project.run().restorations  # alone, the nearest capture's placeholder cannot be told apart
    later = project.post.with_name("2016-03-02-more.md")
    later.write_bytes(f"---\ndate: {POST_DATE}\n---\n![B]({IMAGES['bucket-b']})\n".encode())

    (second,) = project.run().restorations

    assert _restored_file(project, first) == PLACEHOLDER
    assert _restored_file(project, second) == BUCKET_B  # the same bytes as a's file: a placeholder, refused
    assert "the same bytes stand for 2 different images of bucket.test" in second.rejections[0].reason
    manifest = json.loads((project.config.restore.assets_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    digest = __import__("hashlib").sha256(PLACEHOLDER).hexdigest()
    assert [entry["sha256"] for entry in manifest["placeholders"]] == [digest]
    assert {entry["url"] for entry in manifest["assets"]} == {IMAGES["bucket-a"], IMAGES["bucket-b"]}  # none lost


def test_the_post_changes_only_in_the_restored_urls(blog: Project) -> None:
    outcomes = blog.restorations(blog.run())

    expected = blog.original.decode("utf-8")
    for key in ("closest", "after", "bucket-a", "bucket-b", "moved"):
        expected = expected.replace(f"({IMAGES[key]})", f"({outcomes[IMAGES[key]].new_url})")
    expected = expected.replace(IMAGES["query"].replace("&", "&amp;"), outcomes[IMAGES["query"]].new_url)
    assert blog.post.read_bytes() == expected.encode("utf-8")
    assert f"`{IMAGES['closest']}`".encode() in blog.post.read_bytes()  # code is not a citation
    assert PAGE.encode() in blog.post.read_bytes()  # links only with --links


def test_the_manifest_says_where_each_file_came_from(blog: Project) -> None:
    blog.run()

    manifest = json.loads((blog.config.restore.assets_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    entries = {entry["url"]: entry for entry in manifest["assets"]}
    assert set(entries) == {IMAGES[k] for k in ("closest", "after", "bucket-a", "bucket-b", "moved", "query")}
    closest = entries[IMAGES["closest"]]
    assert closest["source"] == "Test Wayback"
    assert closest["capture"].endswith(f"/web/20150615120000/{IMAGES['closest']}")
    assert closest["captured_at"] == "2015-06-15T12:00:00Z"
    assert closest["content_type"] == "image/png"
    assert (blog.config.restore.assets_dir / closest["path"]).read_bytes() == GOOD_2015
    assert closest["sha256"] == __import__("hashlib").sha256(GOOD_2015).hexdigest()


def test_a_dry_run_prints_the_diff_and_changes_nothing(blog: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["restore", "--config", _write_config(blog), "--dry-run"])

    out = capsys.readouterr().out
    assert code == 0
    assert blog.post.read_bytes() == blog.original
    assert not blog.config.restore.assets_dir.exists()
    assert not (blog.config.output_dir / "restore.json").exists()
    assert f"-![Diagram]({IMAGES['closest']})" in out
    assert "+![Diagram](/assets/restored/photos.test/diagram-" in out
    assert "would change 1 posts" in out


def test_a_second_restore_changes_nothing_and_asks_only_about_what_is_still_missing(blog: Project) -> None:
    first = blog.restorations(blog.run())
    repaired = blog.post.read_bytes()
    files = sorted(p.relative_to(blog.site) for p in blog.site.rglob("*"))

    with counting_archive() as (address, requests):
        second = job.restore(_with_archive(blog.config, address), restore.Scope())

    assert blog.post.read_bytes() == repaired
    assert sorted(p.relative_to(blog.site) for p in blog.site.rglob("*")) == files
    assert second.changed_posts == ()
    unrestored = {IMAGES[k] for k in ("archived-404", "soft-404", "removed", "never")}
    assert {o.url for o in second.restorations} == unrestored  # the others are no longer cited
    timemaps = [path for path in requests if path.startswith("/web/timemap/link/")]
    assert {path.removeprefix("/web/timemap/link/") for path in timemaps} == unrestored
    assert [path.split("?")[0] for path in requests if path not in timemaps] == ["/web/cdx"]  # 404: no CDX server
    assert first[IMAGES["closest"]].new_url.encode() in repaired


def test_a_file_restored_before_is_reused_for_a_new_post_without_asking(blog: Project) -> None:
    first = blog.restorations(blog.run())
    later = blog.post.with_name("2017-01-01-again.md")
    later.write_bytes(f"---\ndate: 2017-01-01\n---\nAgain: ![D]({IMAGES['closest']})\n".encode())

    with counting_archive() as (address, requests):
        second = blog.restorations(job.restore(_with_archive(blog.config, address), restore.Scope()))

    assert second[IMAGES["closest"]].reused
    new_url = first[IMAGES["closest"]].new_url
    assert later.read_bytes() == f"---\ndate: 2017-01-01\n---\nAgain: ![D]({new_url})\n".encode()
    assert not any(IMAGES["closest"] in path for path in requests)


def _with_archive(config: Config, address: str) -> Config:
    archives = (ArchiveSettings(name="Counting", url=address, requests_per_minute=6000.0),)
    return config.model_copy(update={"restore": config.restore.model_copy(update={"archives": archives})})


def test_links_get_an_archived_link_after_them_or_in_their_place(blog: Project) -> None:
    appended = blog.restorations(blog.run(links=True))[PAGE]

    assert appended.new_url.endswith(f"/web/20150505000000/{PAGE}")
    assert f"Read [the essay]({PAGE}) ([archived]({appended.new_url})) too.".encode() in blog.post.read_bytes()

    blog.post.write_bytes(blog.original)
    replaced = blog.config.model_copy(
        update={"restore": blog.config.restore.model_copy(update={"link_style": "replace"})}
    )
    job.restore(replaced, restore.Scope(links=True))
    assert f"Read [the essay]({appended.new_url}) too.".encode() in blog.post.read_bytes()


def _write_config(project: Project) -> str:
    archive = project.config.restore.archives[0]
    folder = project.site.parent
    settings = project.config.fetch
    text = f"""
posts: {{paths: [{project.post.parent}], base_url: "https://blog.example.org/"}}
fetch:
  allow_networks: ["127.0.0.0/8"]
  resolve: {json.dumps(settings.resolve)}
  connect_timeout: 2
  read_timeout: 2
  backoff: 0.05
health: {{dead_after_checks: 1, dead_after_days: 0}}
restore:
  assets_dir: site/assets/restored
  archives: [{{name: "{archive.name}", url: "{archive.url}", requests_per_minute: 6000}}]
output: {{dir: archives}}
"""
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- our own WARC files ---------------------------------------------------------------


class Server(BaseHTTPRequestHandler):
    """A request handler that answers in one call and keeps quiet about it."""

    def answer(self, code: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in {"Content-Type": kind, "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def counting_archive() -> Iterator[tuple[str, list[str]]]:
    """A web archive that has nothing and writes down every request it gets."""
    requests: list[str] = []

    class Handler(Server):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.answer(404, b"", "text/plain")

    with serve(Handler) as address:
        yield f"{address}/web/", requests


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1; its address. It is shut down on leaving."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


OWN_IMAGE = picture("gold", (64, 48))


class ImageSite(Server):
    """A blog's image host: one picture, at any path."""

    def do_GET(self) -> None:
        self.answer(200, OWN_IMAGE, "image/png")


def test_images_captured_by_an_earlier_run_come_back_from_our_own_warcs(tmp_path: Path, web: Web) -> None:
    with counting_archive() as (archive, requests):
        with serve(ImageSite) as site:
            url = f"{site}/uploads/photo.png"
            project = _project(tmp_path, web, (ArchiveSettings(name="Elsewhere", url=archive),),
                               text=f"---\ndate: 2020-01-01\n---\n![Photo]({url})\n")  # fmt: skip
            job.run(project.config)  # captured while the host was up
        job.run(project.config, store=False)  # the host is gone: one failed check, dead by this policy

        summary = project.run()

    (outcome,) = summary.restorations
    assert (outcome.state, outcome.source) == ("restored", "own archive")
    assert _restored_file(project, outcome) == OWN_IMAGE
    assert project.post.read_bytes() == f"---\ndate: 2020-01-01\n---\n![Photo]({outcome.new_url})\n".encode()
    assert requests == []


def test_an_archive_that_cannot_answer_is_reported_as_such(tmp_path: Path, web: Web) -> None:
    with serve(ImageSite) as address:
        pass  # the port is closed again
    down = ArchiveSettings(name="Down", url=f"{address}/web/", requests_per_minute=6000.0)
    project = _project(tmp_path, web, (down,), text=f"![P]({IMAGES['never']})\n")
    _all_dead(project, [IMAGES["never"]])

    (outcome,) = project.run().restorations

    assert outcome.state == "unavailable"
    assert outcome.unavailable[0].startswith(f"Down: the TimeMap for {IMAGES['never']} refused")
    assert project.post.read_bytes() == project.original


# --- file names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.test/../../etc/passwd",
        "http://evil.test/a/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "http://evil.test/" + "x" * 300 + ".png",
        "http://evil.test/img.png?size=large&user=../../root",
        "http://../x.png",
        "http://evil.test/%00%0a.png",
    ],
)
def test_a_hostile_url_names_a_file_inside_the_assets_folder(url: str, tmp_path: Path) -> None:
    path = asset_path(url, "png")

    assert not path.is_absolute()
    assert ".." not in path.parts
    assert len(path.parts) == 2
    assert all(len(part) <= 100 for part in path.parts)
    assert (tmp_path / path).resolve().is_relative_to(tmp_path)
    assert path.name.endswith(".png")


def test_different_urls_never_share_a_file() -> None:
    urls = [
        "http://a.test/img.png",
        "http://a.test/img.png?size=2",
        "https://a.test/img.png",
        "http://a.test/other/img.png",
        "http://a.test/img%20.png",
        "http://a.test/img .png",
    ]
    assert len({asset_path(url, "png") for url in urls}) == len(urls)
    assert asset_path(urls[0], "png") == PurePosixPath("a.test", asset_path(urls[0], "png").name)


def test_a_hostile_url_is_restored_inside_the_assets_folder(tmp_path: Path, web: Web) -> None:
    with counting_archive() as (archive, _):
        with serve(ImageSite) as site:
            hostile = f"{site}/a/%2E%2E%2F%2E%2E%2F{'y' * 300}.png?next=../../etc/passwd"
            project = _project(
                tmp_path, web, (ArchiveSettings(name="Elsewhere", url=archive),), text=f"![H]({hostile})\n"
            )
            job.run(project.config)
        job.run(project.config, store=False)
        (outcome,) = project.run().restorations

    stored = [p for p in project.config.restore.assets_dir.rglob("*") if p.is_file() and p.name != MANIFEST_FILE]
    assert [p.read_bytes() for p in stored] == [OWN_IMAGE]
    assert stored[0].parent.parent == project.config.restore.assets_dir
    assert outcome.new_url.endswith(stored[0].name)


# --- politeness ---------------------------------------------------------------------


class StrictArchive(Server):
    """A web archive that rate-limits: its first answer is 429 with Retry-After; it holds one
    capture of every URL asked, a picture of its own, and notes when each request came."""

    times: list[float] = []  # noqa: RUF012 - one list per test, set by the test

    def do_GET(self) -> None:
        self.times.append(time.monotonic())
        if len(self.times) == 1:
            self.answer(429, b"slow down", "text/plain", {"Retry-After": "1"})
        elif "/timemap/link/" in self.path:
            url = self.path.split("/timemap/link/", 1)[1]
            link = f'<http://{self.headers["Host"]}/web/20150101000000/{url}>; rel="memento"; '
            link += 'datetime="Thu, 01 Jan 2015 00:00:00 GMT"'
            self.answer(200, link.encode(), "application/link-format")
        else:
            shade = sum(self.path.encode()) % 256
            image = picture(f"#{shade:02x}8040")
            self.answer(200, image, "image/png", {"Memento-Datetime": "Thu, 01 Jan 2015 00:00:00 GMT"})


def test_archives_are_asked_at_their_rate_and_retry_after_is_honoured(tmp_path: Path, web: Web) -> None:
    StrictArchive.times = []
    urls = [f"http://photos.test/p{n}.png" for n in range(3)]
    with serve(StrictArchive) as address:
        strict = ArchiveSettings(name="Strict", url=f"{address}/web/", requests_per_minute=300, cdx="off")
        archives = (strict,)  # one request each 0.2 s, TimeMaps only
        project = _project(tmp_path, web, archives, text="".join(f"![p]({url})\n" for url in urls))
        _all_dead(project, urls)
        fetch = web.settings(retry_after_max=5.0)
        summary = job.restore(project.config.model_copy(update={"fetch": fetch}), restore.Scope())

    assert [o.state for o in summary.restorations] == ["restored"] * 3
    times = StrictArchive.times
    assert len(times) == 7  # the refused TimeMap, its retry, two more TimeMaps and three captures
    assert times[1] - times[0] >= 1.0  # Retry-After
    assert min(later - earlier for earlier, later in itertools.pairwise(times)) >= 0.19


# --- command line and report ----------------------------------------------------------


def test_the_command_says_what_became_of_each_url_and_writes_the_report(
    blog: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["restore", "--config", _write_config(blog)])

    out = capsys.readouterr().out
    assert code == 0
    assert f"restored  {IMAGES['closest']} -> /assets/restored/photos.test/diagram-" in out
    assert f"not-found {IMAGES['never']}" in out
    assert "rejected" in out
    assert "the archived answer is 404, not 200" in out
    assert out.rstrip().endswith("changed 1 posts")
    document = json.loads((blog.config.output_dir / "restore.json").read_text(encoding="utf-8"))
    assert (document["schema"], document["version"]) == ("archiver/restore", 1)
    assert document["totals"] == {"restored": 6, "rejected": 3, "not-found": 1, "unavailable": 0}
    by_url = {o["url"]: o for o in document["outcomes"]}
    assert by_url[IMAGES["closest"]]["captured_at"] == "2015-06-15T12:00:00Z"
    assert by_url[IMAGES["removed"]]["rejected"][0]["reason"].endswith("a placeholder")
    markdown = (blog.config.output_dir / "restore.md").read_text(encoding="utf-8")
    assert "**6** restored · **3** rejected · **1** not-found · **0** unavailable" in markdown
    assert "### Rejected captures" in markdown


def test_failing_urls_wait_for_include_failing(tmp_path: Path, web: Web, archive: str) -> None:
    project = _project(tmp_path, web, (ArchiveSettings(name="Test Wayback", url=archive, requests_per_minute=6000.0),),
                       text=f"---\ndate: {POST_DATE}\n---\n![D]({IMAGES['closest']})\n")  # fmt: skip
    project.config = project.config.model_copy(update={"health": HealthSettings(dead_after_checks=2)})
    _all_dead(project, [IMAGES["closest"]])  # one failure: failing, not dead, under this policy

    assert project.run().restorations == ()
    assert project.post.read_bytes() == project.original

    (outcome,) = project.run(include_failing=True).restorations
    assert outcome.state == "restored"
    assert outcome.new_url.encode() in project.post.read_bytes()


def test_a_post_edited_during_the_restore_is_left_alone_and_the_others_are_repaired(
    blog: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = blog.post.with_name("2016-03-02-more.md")
    other.write_bytes(f"---\ndate: 2016-03-02\n---\n![D]({IMAGES['closest']})\n".encode())
    planned = rewrite.plan_edit

    def someone_edits_the_first_post(post: Path, replacements: list[rewrite.Replacement]) -> rewrite.Edit:
        edit = planned(post, replacements)
        if post == blog.post:  # an editor saves the post after it was read
            post.write_bytes(post.read_bytes() + b"A new paragraph.\n")
        return edit

    monkeypatch.setattr(repairs, "plan_edit", someone_edits_the_first_post)
    code = main(["restore", "--config", _write_config(blog)])

    assert code == 3
    assert blog.post.read_bytes() == blog.original + b"A new paragraph.\n"
    assert f"{blog.post}: changed since it was read; not rewritten" in capsys.readouterr().err
    assert b"/assets/restored/photos.test/diagram-" in other.read_bytes()


# --- a hostile or failing archive ---------------------------------------------------------

GOOD_TIMEMAP_ENTRY = '<{base}20150101000000/{url}>; rel="memento"; datetime="Thu, 01 Jan 2015 00:00:00 GMT"'


class HostileArchive(Server):
    """A web archive whose answers are broken in the ways archives' answers break."""

    def do_GET(self) -> None:
        base = f"http://{self.headers['Host']}/web/"
        if "/timemap/link/" in self.path:
            url = self.path.split("/timemap/link/", 1)[1]
            entries = [
                '<http://[::1/web/20140101000000/x>; rel="memento"; datetime="Wed, 01 Jan 2014 00:00:00 GMT"',
                f'<{base}99991231000000/{url}>; rel="memento"; datetime="Fri, 31 Dec 9999 23:59:59 -0100"',
                GOOD_TIMEMAP_ENTRY.format(base=base, url=url),
                GOOD_TIMEMAP_ENTRY.format(base="http://elsewhere.test/web/", url=url).replace("2015", "2016"),
                "<unterminated; rel=",
            ]
            if url.endswith("garbage.png"):
                entries = ["\x00\x01 not a timemap at all"]
            self.answer(200, "\n".join(entries).encode(), "application/link-format")
        elif "badhost" in self.path:
            self.answer(302, b"", "text/plain", {"Location": "http://[oops/b.png"})
        elif "busy" in self.path:
            self.answer(503, b"busy", "text/plain")  # the archive's own trouble: no Memento-Datetime
        else:
            image = picture(f"#{sum(self.path.encode()) % 256:02x}6699")
            self.answer(200, image, "image/png", {"Memento-Datetime": "Thu, 01 Jan 2015 00:00:00 GMT"})


def test_a_hostile_archive_costs_a_url_its_restore_never_the_run(tmp_path: Path, web: Web) -> None:
    urls = {name: f"http://photos.test/{name}.png" for name in ("fine", "garbage", "badhost", "busy")}
    with serve(HostileArchive) as address:
        hostile = ArchiveSettings(name="Hostile", url=f"{address}/web/", requests_per_minute=6000.0)
        project = _project(tmp_path, web, (hostile,), text="".join(f"![x]({url})\n" for url in urls.values()))
        _all_dead(project, list(urls.values()))
        outcomes = project.restorations(project.run())

    assert outcomes[urls["fine"]].state == "restored"  # past the malformed entries, and one on another host
    assert outcomes[urls["fine"]].captured_at == "2015-01-01T00:00:00Z"
    assert outcomes[urls["garbage"]].state == "not-found"
    assert outcomes[urls["badhost"]].state == "rejected"
    assert (
        outcomes[urls["badhost"]].rejections[0].reason.startswith("a redirect to an invalid URL 'http://[oops/b.png'")
    )
    busy = outcomes[urls["busy"]]
    assert (busy.state, busy.rejections) == ("unavailable", ())  # the archive's trouble, not the capture's
    assert busy.unavailable[0].startswith("Hostile: answered 503")


def moving_picture(path: str) -> bytes:
    return picture("#00ff00" if path.endswith("photo.png") else "#0000ff", (32, 32))


class MovingSite(Server):
    """An image host that moved its pictures: /old/… redirects to /new/…, where each has its own."""

    def do_GET(self) -> None:
        if self.path.startswith("/old/"):
            self.answer(301, b"", "text/plain", {"Location": "/new/" + self.path.removeprefix("/old/")})
        else:
            self.answer(200, moving_picture(self.path), "image/png")


def test_own_captures_behind_a_redirect_or_stored_as_revisits_come_back(tmp_path: Path, web: Web) -> None:
    with counting_archive() as (archive, requests):
        with serve(MovingSite) as site:
            moved, plain = f"{site}/old/photo.png", f"{site}/new/other.png"
            project = _project(tmp_path, web, (ArchiveSettings(name="Elsewhere", url=archive),),
                               text=f"![M]({moved})\n![P]({plain})\n")  # fmt: skip
            config = project.config.model_copy(update={"pack": PackSettings(recapture_after_days=30)})
            job.run(config)
            job.run(config)  # unchanged: the second captures are revisit records
        job.run(config, store=False)
        outcomes = project.restorations(job.restore(config, restore.Scope()))

    revisits = 0
    for warc in (config.output_dir / "archive").glob("*.warc.gz"):
        with warc.open("rb") as stream:
            revisits += sum(record.rec_type == "revisit" for record in ArchiveIterator(stream))
    assert revisits == 2  # the newest captures of both hold no payload
    assert [outcomes[url].state for url in (moved, plain)] == ["restored", "restored"]
    assert _restored_file(project, outcomes[moved]) == moving_picture("/new/photo.png")
    assert _restored_file(project, outcomes[plain]) == moving_picture("/new/other.png")
    assert requests == []


# --- what a killed restore leaves -----------------------------------------------------------

KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from archiver.atomic import write_bytes_atomically
write_bytes_atomically(Path(sys.argv[1]), b"half", before_replace=lambda: os.kill(os.getpid(), signal.SIGKILL))
"""


def _killed_while_writing(path: Path) -> Path:
    """The temporary file a process killed while writing `path` leaves behind."""
    before = set(path.parent.glob(".*"))
    subprocess.run([sys.executable, "-c", KILLED_WRITE, str(path)], check=False)
    (left,) = set(path.parent.glob(".*")) - before
    return left


def test_a_restore_removes_the_temporary_files_a_killed_one_left_and_nothing_else(
    tmp_path: Path, web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    with counting_archive() as (archive, _):
        project = _project(
            tmp_path, web, (ArchiveSettings(name="Empty", url=archive),), text=f"![N]({IMAGES['never']})\n"
        )
        _all_dead(project, [IMAGES["never"]])
        host = project.config.restore.assets_dir / "photos.test"
        host.mkdir(parents=True)
        stale = [_killed_while_writing(project.post), _killed_while_writing(host / "diagram-1a2b3c4d5e6f.png"),
                 _killed_while_writing(project.config.output_dir / "restore.json")]  # fmt: skip
        name = project.post.name
        users = [project.post.with_name(f".{name}.archiver-notes.tmp"), project.post.with_name(f".{name}.abc12345.tmp"),
                 project.post.with_name(f".{name}.archiver-{os.getppid()}-abcd1234.tmp")]  # fmt: skip
        for path in users:
            path.write_text("mine")

        code = main(["restore", "--config", _write_config(project)])

    assert code == 0
    assert [path for path in stale if path.exists()] == []
    assert [path.read_text() for path in users] == ["mine"] * 3  # not the pattern, or a running process's
    assert "removed 3 temporary files an interrupted restore left" in capsys.readouterr().out
