"""Page requisites: found in each captured page, fetched once per run, bounded, stored beside
the page, never taken for links; and a replayed page that looks like the page."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver import job, pack, pages
from archiver.config import Config, ExtractSettings, PackSettings
from archiver.extract.html import srcset_urls
from archiver.history import History, dead_policy
from archiver.model import Status
from archiver.pack import ARCHIVE_DIR, OPEN_SUFFIX
from archiver.pages import page_of, stylesheet_references
from archiver.requisites import RequisiteTally
from archiver.times import timestamp14
from tests.browser import chromium, requests_made
from tests.conftest import Web
from tests.pywb import serving
from tests.webserver import STYLED_PAGE

STYLED = "styled.test"
# What /page needs, in document order, then what its stylesheets import and use, level by level.
PAGE_REQUISITES = [
    "/css/a.css", "/favicon.ico", "/fonts/preloaded.woff2", "/app.js", "/css/c.css", "/img/style-bg.png",
    "/img/photo.png", "/img/photo-2x.png", "/img/photo,3x.png", "/img/pic.webp", "/img/pic.png",
    "/img/poster.png", "/img/button.png", "/img/div-bg.png", "cdn", "/img/missing.png", "/img/big.png",
]  # fmt: skip
FROM_STYLESHEETS = ["/css/b.css", "/img/a-bg.png", "/css/fonts/font.woff2"]


def on_site(web: Web, host: str, path: str) -> str:
    return f"http://{host}:{web.ports['alpha.test']}{path}"


def records(folder: Path) -> list[Any]:
    """(type, target URI, WARC headers, HTTP status, payload) of every record in the folder."""
    found = []
    for warc in sorted((folder / ARCHIVE_DIR).glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                status = record.http_headers.get_statuscode() if record.http_headers else None
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                              dict(record.rec_headers.headers), status, record.content_stream().read()))  # fmt: skip
    return found


def metadata_fields(payload: bytes) -> list[tuple[str, str]]:
    lines = payload.decode("utf-8").split("\r\n")
    return [(name, value) for name, _, value in (line.partition(": ") for line in lines if line)]


def project(web: Web, folder: Path, urls: list[str], pack_settings: PackSettings | None = None) -> Config:
    post = folder / "posts" / "post.md"
    post.parent.mkdir(parents=True, exist_ok=True)
    post.write_text("".join(f"[link {i}]({url})\n\n" for i, url in enumerate(urls)), "utf-8")
    return Config(source=None, post_paths=(post,), output_dir=folder / "out", extract=ExtractSettings(),
                  fetch=web.settings(), pack=pack_settings or PackSettings())  # fmt: skip


def test_a_page_names_what_a_browser_loads_to_show_it_and_nothing_else(web: Web) -> None:
    base = on_site(web, STYLED, "/page")

    page = page_of(STYLED_PAGE.replace("{port}", str(web.ports["alpha.test"])).encode(), None, "text/html", base)

    cdn = f"http://cdn.test:{web.ports['alpha.test']}/img/cdn.png"
    expected = [cdn if path == "cdn" else on_site(web, STYLED, path) for path in PAGE_REQUISITES]
    assert list(page.requisites) == expected
    assert page.title == "Styled page"
    assert "an article with a link" in page.text
    assert "not-a-requisite" not in page.text  # scripts are not text


def test_a_page_read_without_its_requisites_says_everything_else_it_says_with_them(web: Web) -> None:
    base = on_site(web, STYLED, "/page")
    html = STYLED_PAGE.replace("{port}", str(web.ports["alpha.test"])).encode()

    full, bare = page_of(html, None, "text/html", base), page_of(html, None, "text/html", base, requisites=False)

    assert full.requisites
    assert bare.requisites == ()
    assert full.scripts == (on_site(web, STYLED, "/app.js"),)
    assert (bare.title, bare.heading, bare.text, bare.scripts) == (full.title, full.heading, full.text, full.scripts)


def test_a_run_that_fetches_no_requisites_reads_none_and_one_that_does_reads_them(
    web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    reading = pages.read_page_off_loop

    async def counted(*arguments: Any, **options: Any) -> Any:
        page = await reading(*arguments, **options)
        read.append(len(page.requisites))
        return page

    monkeypatch.setattr("archiver.health.read_page_off_loop", counted)
    page = on_site(web, STYLED, "/page")

    job.run(project(web, tmp_path / "off", [page], PackSettings(requisites=False)))
    assert read == [0]
    job.run(project(web, tmp_path / "on", [page]))
    assert read[1] == len(PAGE_REQUISITES)


def test_a_base_element_moves_relative_requisites_and_only_html_has_them() -> None:
    html = b'<html><head><base href="http://cdn.example/assets/"><link rel=stylesheet href="site.css"></head>'
    html += b'<body><img src="a.png#frag"><img src="javascript:void(0)"><img src="mailto:x@y"></body></html>'

    assert page_of(html, None, "text/html", "http://blog.example/post").requisites == (
        "http://cdn.example/assets/site.css",
        "http://cdn.example/assets/a.png",
    )
    assert page_of(html, None, "text/plain", "http://blog.example/post").requisites == ()


def test_lazy_images_and_old_background_attributes_are_requisites_and_media_streams_are_not() -> None:
    html = b"""<body background="paper.gif"><table background="cell.gif"><tr><td>x</td></tr></table>
    <img src="placeholder.gif" data-src="lazy.jpg" data-srcset="lazy-2x.jpg 2x">
    <video src="film.mp4" poster="still.jpg"><track src="subs.vtt"></video><iframe src="embed.html"></iframe>
    <audio><source src="song.mp3"></audio></body>"""

    found = page_of(html, None, "text/html; charset=utf-8", "http://blog.example/").requisites

    names = ("paper.gif", "cell.gif", "placeholder.gif", "lazy.jpg", "lazy-2x.jpg", "still.jpg")
    assert found == tuple(f"http://blog.example/{name}" for name in names)


def test_srcset_is_split_as_the_html_standard_says() -> None:
    assert srcset_urls("a.png 1x, b.png 2x") == ["a.png", "b.png"]
    assert srcset_urls("/w_100,h_50/c.jpg 100w, /w_200,h_100/c.jpg 200w") == ["/w_100,h_50/c.jpg", "/w_200,h_100/c.jpg"]
    assert srcset_urls("d.png, e.png 2x") == ["d.png", "e.png"]
    assert srcset_urls("  f.png  (max-width: 3px, 4px) 1x ,g.png") == ["f.png", "g.png"]
    assert srcset_urls("") == []


def test_a_stylesheet_names_its_imports_and_every_url_it_uses() -> None:
    css = """@charset "utf-8"; @import "base.css" screen; @import url(print.css) print;
    /* url(commented.png) */
    @media (min-width: 1px) { .a { background: url( 'wide.png' ) } }
    @font-face { src: url(f.woff2) format("woff2"), url("data:font/woff;base64,AA") }
    .b { content: "url(not-a-url.png)"; background-image: image-set(url(x1.png) 1x, url(x2.png) 2x) }"""

    assert stylesheet_references(css, "http://site.example/css/main.css") == tuple(
        f"http://site.example/css/{name}"
        for name in ("base.css", "print.css", "wide.png", "f.woff2", "x1.png", "x2.png")
    )


@dataclass(frozen=True)
class Styled:
    config: Config
    summary: job.RunSummary
    hits: dict[str, int]  # requests per path on styled.test during the run
    pages: list[str]


@pytest.fixture(scope="module")
def styled(web: Web, tmp_path_factory: pytest.TempPathFactory) -> Styled:
    pages = [on_site(web, STYLED, "/page"), on_site(web, STYLED, "/page2")]
    cited_image = on_site(web, STYLED, "/img/photo.png")  # also a requisite of /page
    config = project(web, tmp_path_factory.mktemp("styled"), [*pages, cited_image])
    before = {path: count for (host, path), count in web.server.hits.items() if host == STYLED}
    summary = job.run(config)
    hits = {path: count - before.get(path, 0) for (host, path), count in web.server.hits.items() if host == STYLED}
    return Styled(config, summary, hits, pages)


def test_every_requisite_is_fetched_once_however_many_pages_and_stylesheets_share_it(styled: Styled) -> None:
    wanted = [path for path in PAGE_REQUISITES + FROM_STYLESHEETS + ["/img/second.png"] if path != "cdn"]

    assert {path: styled.hits.get(path, 0) for path in wanted} == dict.fromkeys(wanted, 1)
    assert "/media/clip.mp4" not in styled.hits  # streamed by a player on demand, not part of the look
    assert "/img/linked.png" not in styled.hits  # only linked to
    assert "/not-a-requisite.js" not in styled.hits


def test_requisites_are_stored_beside_their_page_and_the_bounded_ones_are_listed(styled: Styled, web: Web) -> None:
    found = records(styled.config.output_dir)
    responses = {uri: status for kind, uri, _, status, _ in found if kind == "response"}
    page_metadata = next(p for kind, uri, _, _, p in found if kind == "metadata" and uri == styled.pages[0])
    listed = {value.split(" ")[0]: value.split(" ")[1:] for name, value in metadata_fields(page_metadata)
              if name == "requisite"}  # fmt: skip

    assert responses[on_site(web, STYLED, "/css/b.css")] == "200"
    assert responses[f"http://cdn.test:{web.ports['alpha.test']}/img/cdn.png"] == "200"  # another host
    assert responses[on_site(web, STYLED, "/img/missing.png")] == "404"  # replays as the 404 it was
    assert on_site(web, STYLED, "/img/big.png") not in responses  # over the size cap: not stored
    assert listed[on_site(web, STYLED, "/img/big.png")][0] == "over-size"
    second_metadata = next(p for kind, uri, _, _, p in found if kind == "metadata" and uri == styled.pages[1])
    css = on_site(web, STYLED, "/css/a.css")
    listed_by_second = {value.split(" ")[0]: value.split(" ")[1] for name, value in metadata_fields(second_metadata)
                        if name == "requisite"}  # fmt: skip
    # whichever page came first stored the stylesheet they share; the other lists it as shared
    assert sorted([listed[css][0], listed_by_second[css]]) == ["shared", "stored"]
    assert listed[on_site(web, STYLED, "/img/photo.png")][0] == "shared"  # a link of the blog, captured as one
    assert listed[on_site(web, STYLED, "/img/missing.png")] == ["stored", "404"]
    # the loop a.css -> b.css -> a.css ends: a.css is listed once
    assert [name for name, value in metadata_fields(page_metadata) if value.startswith(f"{css} ")] == ["requisite"]


def test_a_requisite_names_its_page_and_is_never_a_link_of_the_blog(styled: Styled, web: Web) -> None:
    found = records(styled.config.output_dir)
    css = on_site(web, STYLED, "/css/c.css")
    css_metadata = next(p for kind, uri, _, _, p in found if kind == "metadata" and uri == css)
    with History.open(styled.config.output_dir) as history:
        checked = {verdict.url for verdict in history.verdicts(dead_policy(styled.config.health))}
    report_urls = {entry["url"] for entry in styled.summary.report.entries} if styled.summary.report else set()

    assert ("requisite-of", styled.pages[0]) in metadata_fields(css_metadata)
    assert checked == report_urls == {*styled.pages, on_site(web, STYLED, "/img/photo.png")}
    assert styled.summary.ok == 3  # a 404 requisite does not make its page fail


def test_the_run_summary_counts_requisites(styled: Styled) -> None:
    tally = styled.summary.requisites
    stored = (
        len(PAGE_REQUISITES) + len(FROM_STYLESHEETS) + 1 - 2
    )  # /page2's image; photo.png is a link, big.png too big

    assert (tally.fetched, tally.failed, tally.skipped) == (stored, 2, 0)  # missing.png 404, big.png over the cap
    assert tally.bytes > 0
    assert "page requisites: " in str(styled.summary)


def test_a_page_is_bounded_in_number_and_bytes_of_requisites(web: Web, tmp_path: Path) -> None:
    page = on_site(web, STYLED, "/page")
    counted = project(web, tmp_path / "count", [page], PackSettings(max_requisites_per_page=3))
    sized = project(web, tmp_path / "size", [page], PackSettings(max_requisite_mb=200 / (1024 * 1024)))

    by_count = job.run(counted).requisites
    by_size = job.run(sized).requisites

    assert (by_count.fetched, by_count.skipped) == (3, len(PAGE_REQUISITES) - 3 + 2)  # and what a.css uses
    assert by_size.bytes <= 200
    assert by_size.skipped > 0


def test_an_unchanged_requisite_is_a_revisit_in_the_next_run(styled: Styled, web: Web, tmp_path: Path) -> None:
    folder = tmp_path / "again"
    shutil.copytree(styled.config.output_dir, folder / "out")
    config = project(web, folder, styled.pages)

    job.run(config)

    css = on_site(web, STYLED, "/css/a.css")
    kinds = [headers.get("WARC-Profile", kind) for kind, uri, headers, _, _ in records(folder / "out") if uri == css
             and kind in ("response", "revisit")]  # fmt: skip
    assert kinds[0] == "response"
    assert kinds[1].endswith("identical-payload-digest")


def test_a_check_fetches_no_requisites(web: Web, tmp_path: Path) -> None:
    config = project(web, tmp_path, [on_site(web, STYLED, "/page2")])
    before = web.server.hits[(STYLED, "/img/second.png")]

    summary = job.run(config, store=False)

    assert summary.ok == 1
    assert web.server.hits[(STYLED, "/img/second.png")] == before
    assert summary.requisites.fetched == 0


def test_repairing_a_killed_run_never_takes_a_requisite_for_a_link(styled: Styled, tmp_path: Path) -> None:
    (warc,) = sorted((styled.config.output_dir / ARCHIVE_DIR).glob("*.warc.gz"))
    (tmp_path / ARCHIVE_DIR).mkdir()
    shutil.copy(warc, tmp_path / ARCHIVE_DIR / (warc.name + OPEN_SUFFIX))  # as a killed run leaves it

    recovered = pack.repair(tmp_path)

    assert {result.url for result in recovered} == {*styled.pages, styled.pages[0].replace("/page", "/img/photo.png")}
    assert all(result.status is Status.OK for result in recovered)


def test_a_run_killed_between_a_pages_requisites_and_the_page_recovers_neither_as_a_link(
    styled: Styled, tmp_path: Path
) -> None:
    (warc,) = sorted((styled.config.output_dir / ARCHIVE_DIR).glob("*.warc.gz"))
    with warc.open("rb") as stream:
        records = ArchiveIterator(stream)
        cut = next(records.get_record_offset() for record in records if record.rec_type == "response"
                   and record.rec_headers.get_header("WARC-Target-URI") == styled.pages[0])  # fmt: skip
    (tmp_path / ARCHIVE_DIR).mkdir()
    torn = tmp_path / ARCHIVE_DIR / (warc.name + OPEN_SUFFIX)
    torn.write_bytes(warc.read_bytes()[:cut])  # the requisites written, the page not yet

    recovered = {result.url for result in pack.repair(tmp_path)}

    assert styled.pages[0] not in recovered
    assert recovered <= {*styled.pages, styled.pages[0].replace("/page", "/img/photo.png")}
    with (tmp_path / ARCHIVE_DIR / warc.name).open("rb") as stream:
        kept = [record.rec_headers.get_header("WARC-Target-URI") for record in ArchiveIterator(stream)]
    assert styled.pages[0].replace("/page", "/css/c.css") in kept  # the requisites stay in the archive


def test_a_replayed_page_loads_everything_from_the_archive(web: Web, tmp_path: Path) -> None:
    clean = on_site(web, STYLED, "/clean")
    config = project(web, tmp_path, [clean])
    job.run(config)
    with History.open(config.output_dir) as history:
        (check,) = history.checks(clean)
    assert check.stored_at is not None
    timestamp = timestamp14(dt.datetime.fromisoformat(check.stored_at.date.replace("Z", "+00:00")))

    with serving(config.output_dir, tmp_path / "pywb", memento=True) as base, chromium(network_log=True) as browser:
        browser.get(f"{base}/web/{timestamp}/{clean}")
        looks = browser.execute_script(
            """const images = [...document.images];
            return {ran: document.documentElement.dataset.ran,
                    color: getComputedStyle(document.getElementById('title')).color,
                    background: getComputedStyle(document.querySelector('.bg')).backgroundImage,
                    images: images.length, drawn: images.filter(i => i.complete && i.naturalWidth > 0).length};"""
        )
        made = requests_made(browser)

    replay = urlsplit(base).netloc
    archived = [request for request in made if "/web/" in request.url]
    assert looks == {"ran": "yes", "color": "rgb(51, 51, 51)", "background": looks["background"], "images": 2,
                     "drawn": 2}  # fmt: skip
    assert "clean-bg.png" in looks["background"]
    assert [request.url for request in made if urlsplit(request.url).netloc != replay] == []  # nothing left the replay
    assert [request for request in made if request.status != 200 or request.failure] == []
    for path in ("/css/clean.css", "/css/clean-more.css", "/clean.js", "/img/clean.png", "/img/clean-bg.png",
                 "/img/clean-cdn.png"):  # fmt: skip
        assert any(request.url.endswith(path) for request in archived), path


def test_a_page_that_is_not_alive_gets_no_requisites(web: Web, tmp_path: Path) -> None:
    parked = on_site(web, "parked.test", "/for-sale")  # its parking script is on another host
    missing = on_site(web, STYLED, "/gone")  # a 404 page

    summary = job.run(project(web, tmp_path, [parked, missing]))

    assert summary.requisites == RequisiteTally()
    assert summary.failed == 2


def test_a_requisite_the_history_remembers_beyond_its_file_is_stored_again(
    styled: Styled, web: Web, tmp_path: Path
) -> None:
    folder = tmp_path / "again"
    shutil.copytree(styled.config.output_dir, folder / "out")
    css = on_site(web, STYLED, "/css/a.css")
    with sqlite3.connect(folder / "out" / "history.sqlite") as connection:  # as a power cut can leave it
        connection.execute("UPDATE requisites SET warc_offset = warc_offset + 100000000 WHERE url = ?", (css,))

    job.run(project(web, folder, styled.pages))

    kinds = [kind for kind, uri, _, _, _ in records(folder / "out") if uri == css and kind in ("response", "revisit")]
    assert kinds == ["response", "response"]
