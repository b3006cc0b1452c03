"""`archiver run` end to end: the WARC files it writes, read back with warcio and replayed in pywb."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import multiprocessing
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver import export, job, pack
from archiver.beside import Beside
from archiver.config import Config, ExtractSettings, PackSettings
from archiver.errors import InputError, OutputError
from archiver.history import History
from archiver.model import FetchResult
from archiver.pack import ARCHIVE_DIR, INDEX_DIR, OPEN_SUFFIX, index_all
from archiver.redact import Redactor
from tests.conftest import Web
from tests.pywb import serving
from tests.webserver import CHUNKS, GZIP_TEXT, HTML, PNG, body_of

PATHS = ["/ok.html", "/image.png", "/gzip", "/chunked", "/redirect/3", "/status/404", "/huge/500000", "/reset"]
WARC_NAME = re.compile(r"^archiver-\d{14}-\d{5}-[^-]+\.warc\.gz$")


@dataclass(frozen=True)
class Archived:
    """An output folder written by one run, and what the run returned."""

    folder: Path
    summary: job.RunSummary
    urls: dict[str, str]  # path on the test server -> URL


def _project(web: Web, folder: Path, pack: PackSettings | None = None) -> tuple[Config, dict[str, str]]:
    urls = {path: web.url("alpha.test", path) for path in PATHS}
    urls["/flaky"] = web.url("beta.test", "/flaky/503/1/pack")
    urls["/secure"] = web.url("secure.test", "/image.png")
    post = folder / "posts" / "post.md"
    post.parent.mkdir(parents=True)
    body = "".join(f"Line [{path}]({url}).\n\n" for path, url in urls.items())
    post.write_text("---\ntitle: P\nlink: https://blog.example.org/p/\n---\n" + body, encoding="utf-8")
    config = Config(
        source=None,
        post_paths=(post,),
        output_dir=folder / "out",
        extract=ExtractSettings(),
        fetch=web.settings(),
        pack=pack or PackSettings(),
    )
    return config, urls


@pytest.fixture(scope="module")
def archived(web: Web, tmp_path_factory: pytest.TempPathFactory) -> Archived:
    folder = tmp_path_factory.mktemp("run")
    config, urls = _project(web, folder)
    summary = job.run(config)
    return Archived(config.output_dir, summary, urls)


def _records(warc: Path) -> list[dict[str, Any]]:
    """Every record of a WARC file: its type, WARC headers, HTTP headers and stored payload."""
    records = []
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            records.append(
                {
                    "type": record.rec_type,
                    "warc": dict(record.rec_headers.headers),
                    "http": dict(record.http_headers.headers) if record.http_headers else {},
                    "status": record.http_headers.get_statuscode() if record.http_headers else None,
                    "payload": record.raw_stream.read(),
                }
            )
    return records


def _warcs(folder: Path) -> list[Path]:
    return sorted((folder / ARCHIVE_DIR).glob("*.warc.gz"))


def test_files_are_named_by_the_iipc_convention_and_closed(archived: Archived) -> None:
    names = [path.name for path in (archived.folder / ARCHIVE_DIR).iterdir()]

    assert names
    assert all(WARC_NAME.match(name) for name in names), names
    assert sorted(p.name for p in (archived.folder / INDEX_DIR).iterdir()) == [f"{n}.cdxj" for n in sorted(names)]


def test_warcio_check_passes(archived: Archived) -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = Checker(argparse.Namespace(inputs=[str(p) for p in _warcs(archived.folder)], verbose=True)).process_all()

    assert code == 0, output.getvalue()
    assert "digest pass" in output.getvalue()
    assert "failed" not in output.getvalue()


def _gzip_members(data: bytes) -> list[tuple[int, bytes]]:
    """Each gzip member of a file: where it starts and what it decompresses to (Python's zlib)."""
    members, offset = [], 0
    while offset < len(data):
        inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
        members.append((offset, inflater.decompress(data[offset:])))
        assert inflater.eof, f"the gzip member at {offset} has no end"
        offset = len(data) - len(inflater.unused_data)
    return members


def test_each_record_is_a_standard_gzip_member_of_its_own(archived: Archived) -> None:
    for warc in _warcs(archived.folder):
        data = warc.read_bytes()
        members = _gzip_members(data)
        types = [re.search(rb"\r\nWARC-Type: (\w+)\r\n", member).group(1).decode() for _, member in members]  # type: ignore[union-attr]

        assert types == [record["type"] for record in _records(warc)]
        assert all(member.startswith(b"WARC/1.1\r\n") and member.endswith(b"\r\n\r\n") for _, member in members)
        assert gzip.decompress(data) == b"".join(member for _, member in members)
        # a gzip header (1f 8b, deflate) with XFL 0: a level between 2 and 8 (3 by default)
        assert all(data[offset : offset + 3] == b"\x1f\x8b\x08" and data[offset + 8] == 0 for offset, _ in members)


@pytest.mark.parametrize(("level", "flag"), [(1, 4), (9, 2)])  # XFL: 4 says "fastest", 2 "smallest"
def test_the_compression_level_is_the_configured_one(web: Web, tmp_path: Path, level: int, flag: int) -> None:
    config, _ = _project(web, tmp_path, PackSettings(compression_level=level))
    job.run(config)

    for warc in _warcs(config.output_dir):
        data = warc.read_bytes()
        assert {data[offset + 8] for offset, _ in _gzip_members(data)} == {flag}


def test_each_file_opens_with_warcinfo_naming_itself(archived: Archived) -> None:
    for warc in _warcs(archived.folder):
        first = _records(warc)[0]
        assert first["type"] == "warcinfo"
        assert first["warc"]["WARC-Filename"] == warc.name
        assert b"software: archiver/" in first["payload"]


def test_every_response_has_its_request_and_the_peer_address(archived: Archived) -> None:
    records = [r for warc in _warcs(archived.folder) for r in _records(warc)]
    responses = {r["warc"]["WARC-Record-ID"]: r for r in records if r["type"] == "response"}
    requests = [r for r in records if r["type"] == "request"]

    # 9 URLs answered, plus 3 more hops of the redirect chain; an attempt that was retried is not kept
    assert len(requests) == len(responses) == 12
    for request in requests:
        response = responses[request["warc"]["WARC-Concurrent-To"]]
        assert request["warc"]["WARC-Target-URI"] == response["warc"]["WARC-Target-URI"]
        assert request["warc"]["WARC-Date"] == response["warc"]["WARC-Date"]
        assert response["warc"]["WARC-IP-Address"].startswith("127.0.0.")
        assert response["warc"]["WARC-Payload-Digest"].startswith("sha1:")


def _response(archived: Archived, key: str) -> dict[str, Any]:
    url = archived.urls.get(key, key)
    records = [r for warc in _warcs(archived.folder) for r in _records(warc)]
    return next(r for r in records if r["type"] == "response" and r["warc"]["WARC-Target-URI"] == url)


def test_payloads_are_the_bytes_the_server_sent(archived: Archived) -> None:
    assert _response(archived, "/ok.html")["payload"] == HTML
    assert _response(archived, "/image.png")["payload"] == PNG
    assert _response(archived, "/secure")["payload"] == PNG
    assert _response(archived, "/gzip")["payload"] == gzip.compress(GZIP_TEXT, mtime=0)
    assert _response(archived, "/status/404")["status"] == "404"


def test_headers_are_consistent_with_the_stored_body(archived: Archived) -> None:
    gzipped, chunked = _response(archived, "/gzip"), _response(archived, "/chunked")

    assert gzipped["http"]["Content-Encoding"] == "gzip"
    assert gzipped["http"]["Content-Length"] == str(len(gzipped["payload"]))
    assert chunked["payload"] == b"".join(CHUNKS)
    assert "Transfer-Encoding" not in chunked["http"]
    assert chunked["http"]["X-Orig-Transfer-Encoding"] == "chunked"
    assert chunked["http"]["Content-Length"] == str(len(b"".join(CHUNKS)))


def test_a_body_cut_at_the_size_limit_is_marked_truncated(archived: Archived) -> None:
    huge = _response(archived, "/huge/500000")

    assert huge["warc"]["WARC-Truncated"] == "length"
    assert huge["payload"] == body_of(500000)[:200_000]
    assert huge["http"]["Content-Length"] == "200000"


def test_each_hop_of_a_redirect_chain_is_stored(archived: Archived) -> None:
    redirect = archived.urls["/redirect/3"]
    base = redirect.removesuffix("/redirect/3")
    statuses = [_response(archived, base + path)["status"] for path in ("/redirect/3", "/redirect/2", "/redirect/1")]

    assert statuses == ["301", "301", "301"]
    assert _response(archived, base + "/redirect/1")["http"]["Location"] == "/ok.html"


def test_metadata_names_the_citing_posts_and_the_outcome(archived: Archived) -> None:
    records = [r for warc in _warcs(archived.folder) for r in _records(warc)]
    metadata = {r["warc"]["WARC-Target-URI"]: r["payload"].decode() for r in records if r["type"] == "metadata"}

    assert len(metadata) == len(archived.urls)
    assert "fetch-status: reset\r\n" in metadata[archived.urls["/reset"]]
    assert "attempts: 3\r\n" in metadata[archived.urls["/reset"]]
    assert "cited-by: " in metadata[archived.urls["/ok.html"]]
    assert "post.md:5\r\n" in metadata[archived.urls["/ok.html"]]
    assert "final-url: " in metadata[archived.urls["/redirect/3"]]


def test_results_file_points_at_each_capture(archived: Archived) -> None:
    lines = (archived.folder / job.RESULTS_FILE).read_text(encoding="utf-8").splitlines()
    header, results = json.loads(lines[0]), {r["url"]: r for r in map(json.loads, lines[1:])}

    assert header == {"schema": "archiver/results", "version": 1}
    assert set(results) == set(archived.urls.values())
    assert results[archived.urls["/flaky"]]["attempts"] == 2
    assert results[archived.urls["/reset"]]["warc"] is None
    located = results[archived.urls["/redirect/3"]]
    assert located["status"] == "redirected"
    assert [hop["code"] for hop in located["hops"]] == [301, 301, 301, 200]
    with (archived.folder / ARCHIVE_DIR / located["warc"]["filename"]).open("rb") as stream:
        stream.seek(located["warc"]["offset"])
        record = next(iter(ArchiveIterator(stream)))
        assert record.rec_headers.get_header("WARC-Target-URI") == located["final_url"]
        assert record.raw_stream.read() == HTML


def test_summary_counts(archived: Archived) -> None:
    summary = archived.summary

    assert (summary.urls, summary.ok, summary.failed, summary.unknown, summary.retried) == (10, 8, 2, 0, 2)
    assert str(summary).startswith("10 URLs fetched: 8 ok, 2 failed (not-found 1, reset 1), 0 unknown, 2 retried;")


def test_files_rotate_at_the_configured_size(web: Web, tmp_path: Path) -> None:
    config, _ = _project(web, tmp_path, PackSettings(rotate_mb=0.004))

    job.run(config)

    warcs = _warcs(config.output_dir)
    assert len(warcs) >= 3
    assert [_records(warc)[0]["type"] for warc in warcs] == ["warcinfo"] * len(warcs)
    assert len({_records(w)[0]["warc"]["WARC-Filename"] for w in warcs}) == len(warcs)
    assert Checker(argparse.Namespace(inputs=[str(w) for w in warcs], verbose=False)).process_all() == 0


@pytest.mark.parametrize("beside", [False, True])
def test_every_file_of_a_run_is_indexed_when_it_ends_as_an_index_made_afresh(
    web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, beside: bool
) -> None:
    config, _ = _project(web, tmp_path, PackSettings(rotate_mb=0.004))  # files closed mid-run, and the last at its end
    if beside:
        monkeypatch.setattr(job, "_INDEX_BESIDE_BYTES", 0)  # the last file indexed in a process of its own

    job.run(config)

    warcs = _warcs(config.output_dir)
    index_all(tmp_path / "afresh", warcs)
    made = sorted(path.name for path in (config.output_dir / INDEX_DIR).iterdir())
    assert made == sorted(f"{warc.name}.cdxj" for warc in warcs)
    for warc in warcs:
        name = f"{warc.name}.cdxj"
        assert (config.output_dir / INDEX_DIR / name).read_bytes() == (
            tmp_path / "afresh" / INDEX_DIR / name
        ).read_bytes()


def _written_here(path: Path, text: str) -> str:
    """Write `text` to `path`; in a process beside the run, hang first until killed."""
    if multiprocessing.parent_process() is not None:
        time.sleep(600)
    path.write_text(text, encoding="utf-8")
    return text


def test_work_beside_the_run_hands_back_what_it_returned_and_what_it_raised(tmp_path: Path) -> None:
    indexed = Beside(index_all, tmp_path, [])
    missing = Beside(index_all, tmp_path, [tmp_path / "no-such.warc.gz"])

    assert indexed.result() is None
    with pytest.raises(OutputError, match=r"no-such\.warc\.gz: cannot index the WARC file"):
        missing.result()  # raised in the other process, as in this one


def test_work_beside_the_run_is_done_here_when_its_process_dies_and_stops_when_told(tmp_path: Path) -> None:
    died = Beside(_written_here, tmp_path / "a.txt", "done here")
    stopped = Beside(_written_here, tmp_path / "b.txt", "never")
    for process in multiprocessing.active_children():
        if process.name == "archiver-beside" and process is not stopped._process:
            process.kill()  # dies before it answers

    assert died.result() == "done here"
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "done here"
    stopped.stop()
    assert not (tmp_path / "b.txt").exists()
    with pytest.raises(ChildProcessError, match="_written_here was stopped"):
        stopped.result()
    assert not [p for p in multiprocessing.active_children() if p.name == "archiver-beside"]


def test_a_run_stopped_while_it_writes_its_reports_leaves_its_last_index_to_the_next_run(
    web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = _project(web, tmp_path)
    monkeypatch.setattr(job, "_INDEX_BESIDE_BYTES", 0)  # the last file indexed in a process of its own

    def stopped(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(job, "_write_reports", stopped)
        with pytest.raises(KeyboardInterrupt):
            job.run(config)
    assert not [p for p in multiprocessing.active_children() if p.name == "archiver-beside"]  # stopped with it
    job.run(config)

    warcs = _warcs(config.output_dir)
    index_all(tmp_path / "afresh", warcs)
    assert len(warcs) == 2
    for warc in warcs:
        name = f"{warc.name}.cdxj"
        assert (config.output_dir / INDEX_DIR / name).read_bytes() == (
            tmp_path / "afresh" / INDEX_DIR / name
        ).read_bytes()


# --- replay in a real pywb ---------------------------------------------------------


@pytest.fixture(scope="module")
def pywb(archived: Archived, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A pywb serving the run's output folder as the collection `web`."""
    with serving(archived.folder, tmp_path_factory.mktemp("pywb")) as base:
        yield base


def _replay(base: str, timestamp: str, url: str) -> tuple[int, dict[str, str], bytes]:
    with httpx.stream("GET", f"{base}/web/{timestamp}id_/{url}", headers={"Accept-Encoding": "gzip"}) as response:
        return response.status_code, dict(response.headers), b"".join(response.iter_raw())


def test_pywb_replays_every_capture_byte_for_byte(archived: Archived, pywb: str) -> None:
    responses = [r for warc in _warcs(archived.folder) for r in _records(warc) if r["type"] == "response"]

    for response in responses:
        url, date = response["warc"]["WARC-Target-URI"], response["warc"]["WARC-Date"]
        timestamp = re.sub(r"\D", "", date)[:14]
        code, headers, body = _replay(pywb, timestamp, url)
        assert code == int(response["status"]), url
        assert body == response["payload"], url
        if code in (301, 302):
            assert headers["location"].endswith(response["http"]["Location"]), url


def test_pywb_replays_what_the_server_sent(archived: Archived, pywb: str) -> None:
    gzipped = _response(archived, "/gzip")
    timestamp = re.sub(r"\D", "", gzipped["warc"]["WARC-Date"])[:14]

    assert _replay(pywb, timestamp, archived.urls["/gzip"])[2] == gzip.compress(GZIP_TEXT, mtime=0)
    assert _replay(pywb, timestamp, archived.urls["/ok.html"])[2] == HTML


def test_header_bytes_are_stored_as_they_came_off_the_wire(web: Web, tmp_path: Path) -> None:
    config, _ = _project(web, tmp_path)
    url = web.url("alpha.test", "/utf8-headers")
    link_only = config.model_copy(update={"post_paths": (_post_citing(tmp_path, url),)})

    job.run(link_only)

    (warc,) = _warcs(link_only.output_dir)
    assert b'Content-Disposition: attachment; filename="caf\xc3\xa9.txt"\r\n' in gzip.decompress(warc.read_bytes())
    assert Checker(argparse.Namespace(inputs=[str(warc)], verbose=False)).process_all() == 0


def test_a_redirect_to_mailto_is_stored_like_any_redirect(web: Web, tmp_path: Path) -> None:
    config, _ = _project(web, tmp_path)
    url = web.url("alpha.test", "/to/" + quote("mailto:editor@example.org", safe=""))
    config = config.model_copy(update={"post_paths": (_post_citing(tmp_path, url),)})

    job.run(config)

    (warc,) = _warcs(config.output_dir)
    (redirect,) = [r for r in _records(warc) if r["type"] == "response"]
    assert (redirect["warc"]["WARC-Target-URI"], redirect["status"]) == (url, "302")
    assert redirect["http"]["Location"] == "mailto:editor@example.org"
    assert Checker(argparse.Namespace(inputs=[str(warc)], verbose=False)).process_all() == 0
    (line,) = (config.output_dir / job.RESULTS_FILE).read_text(encoding="utf-8").splitlines()[1:]
    result = json.loads(line)
    assert (result["status"], [hop["code"] for hop in result["hops"]]) == ("unsupported", [302])
    (check,) = _checks(config, [url])[url]
    assert check.stored_at is not None
    assert check.stored_at.offset == result["warc"]["offset"]


def _post_citing(folder: Path, *urls: str) -> Path:
    post = folder / "single" / "post.md"
    post.parent.mkdir()
    post.write_text("".join(f"[link]({url})\n\n" for url in urls), encoding="utf-8")
    return post


def test_a_second_run_over_unchanged_content_writes_revisits_that_replay(web: Web, tmp_path: Path) -> None:
    urls = [web.url("alpha.test", p) for p in ("/ok.html", "/image.png", "/gzip", "/redirect/2")]
    changing = web.url("beta.test", "/flaky/503/1/changes")  # answers 503 first, then 200: a changed page
    post = tmp_path / "posts" / "post.md"
    post.parent.mkdir()
    post.write_text("".join(f"[{i}]({u})\n\n" for i, u in enumerate([*urls, changing])), encoding="utf-8")
    config = Config(source=None, post_paths=(post,), output_dir=tmp_path / "out", extract=ExtractSettings(),
                    fetch=web.settings(attempts=1))  # fmt: skip

    first = job.run(config)
    before = set(_warcs(config.output_dir))
    second = job.run(config)

    new_records = [r for warc in sorted(set(_warcs(config.output_dir)) - before) for r in _records(warc)]
    finals = {r["warc"]["WARC-Target-URI"]: r for r in new_records if r["type"] in ("response", "revisit")}
    assert first.bytes_saved == 0
    assert second.bytes_saved == len(HTML) * 2 + len(PNG) + len(gzip.compress(GZIP_TEXT, mtime=0))
    for url in (*urls[:3], web.url("alpha.test", "/ok.html")):
        assert finals[url]["type"] == "revisit", url
        assert finals[url]["payload"] == b""
        assert finals[url]["warc"]["WARC-Profile"].endswith("/revisit/identical-payload-digest")
    assert finals[changing]["type"] == "response"  # 503 the first time, 200 now: stored in full
    assert finals[changing]["payload"] == b"recovered"
    with serving(config.output_dir, tmp_path / "pywb") as base:
        for url, expected in ((urls[0], HTML), (urls[1], PNG), (urls[2], gzip.compress(GZIP_TEXT, mtime=0))):
            timestamp = re.sub(r"\D", "", finals[url]["warc"]["WARC-Date"])[:14]
            assert _replay(base, timestamp, url)[2] == expected, url


def test_a_repair_killed_before_the_history_has_its_captures_is_done_again_by_the_next(
    archived: Archived, tmp_path: Path
) -> None:
    first = _warcs(archived.folder)[0]
    (tmp_path / ARCHIVE_DIR).mkdir()
    unfinished = tmp_path / ARCHIVE_DIR / (first.name + OPEN_SUFFIX)
    shutil.copy(first, unfinished)  # as a killed run leaves it

    def killed_here(_: list[FetchResult]) -> None:
        raise KeyboardInterrupt  # the repairing run dies before its history has the captures

    with pytest.raises(KeyboardInterrupt):
        pack.repair(tmp_path, killed_here)
    assert unfinished.exists()  # still unfinished: the next repair finds it again
    kept: list[FetchResult] = []
    recovered = pack.repair(tmp_path, kept.extend)

    assert kept == recovered
    assert {result.url for result in kept} >= {archived.urls["/ok.html"]}
    assert not unfinished.exists()
    assert (tmp_path / ARCHIVE_DIR / first.name).exists()


def test_a_recovered_capture_keeps_its_hops_and_size(archived: Archived, tmp_path: Path) -> None:
    (tmp_path / ARCHIVE_DIR).mkdir()
    for warc in _warcs(archived.folder):
        shutil.copy(warc, tmp_path / ARCHIVE_DIR / (warc.name + OPEN_SUFFIX))  # as a killed run leaves them

    recovered = {result.url: result for result in pack.repair(tmp_path)}

    with History.open(archived.folder) as history:
        checks = {url: history.checks(url)[-1] for url in recovered}
    assert [hop.code for hop in recovered[archived.urls["/redirect/3"]].hops] == [301, 301, 301, 200]
    for url, result in recovered.items():
        assert (result.hops, result.size) == (checks[url].hops, checks[url].size), url


@pytest.mark.parametrize("lost", ["warc_record_id", "warc_date", "warc_target_uri"])
def test_a_capture_whose_identity_the_history_lost_is_stored_again_never_revisited(
    web: Web, tmp_path: Path, lost: str
) -> None:
    url = web.url("alpha.test", "/ok.html")
    post = tmp_path / "posts" / "post.md"
    post.parent.mkdir()
    post.write_text(f"[ok]({url})\n", encoding="utf-8")
    config = Config(source=None, post_paths=(post,), output_dir=tmp_path / "out", extract=ExtractSettings(),
                    fetch=web.settings())  # fmt: skip
    job.run(config)
    with sqlite3.connect(config.output_dir / "history.sqlite") as db:  # as an older archiver's repair left it
        db.execute(f"UPDATE checks SET {lost} = ''")
    before = set(_warcs(config.output_dir))

    second = job.run(config)

    new_records = [r for warc in sorted(set(_warcs(config.output_dir)) - before) for r in _records(warc)]
    (final,) = [r for r in new_records if r["type"] in ("response", "revisit")]
    assert final["type"] == "response"  # a revisit would refer to a record nobody can find
    assert final["payload"] == HTML
    assert second.bytes_saved == 0


def test_export_makes_a_wacz_that_validates_with_a_page_per_cited_url(web: Web, tmp_path: Path) -> None:
    config, urls = _project(web, tmp_path)
    summary = job.run(config)
    archived = Archived(config.output_dir, summary, urls)
    target = tmp_path / "blog.wacz"

    pages = export.export_wacz(archived.folder, archived.folder / job.LINKS_FILE, target, Redactor(()))

    export.validate_wacz(target)
    wacz_command = Path(sys.executable).parent / "wacz"
    checked = subprocess.run([wacz_command, "validate", "-f", str(target)], capture_output=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(target) as wacz:
        names = set(wacz.namelist())
        listed = [json.loads(line) for line in wacz.read("pages/pages.jsonl").decode().splitlines()]
    assert {f"archive/{warc.name}" for warc in _warcs(archived.folder)} <= names
    assert {"datapackage.json", "pages/pages.jsonl"} <= names
    assert any(name.startswith("indexes/") for name in names)
    assert listed[0]["format"] == "json-pages-1.0"
    captured = {url for key, url in archived.urls.items() if key not in ("/reset",)}
    ended_at = {archived.urls["/redirect/3"]: archived.urls["/ok.html"]}  # a redirect is listed as where it ended
    assert sorted(page["url"] for page in listed[1:]) == sorted(ended_at.get(url, url) for url in captured)
    assert len({(page["url"], page["ts"]) for page in listed[1:]}) == pages == len(captured)
    assert all(page["title"].endswith("(cited in P)") for page in listed[1:])


def test_validation_fails_on_a_broken_wacz(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wacz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")

    with pytest.raises(OutputError, match="wacz validate failed"):
        export.validate_wacz(broken)


def test_export_without_warc_files_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no WARC files to export"):
        export.export_wacz(tmp_path, tmp_path / "links.json", tmp_path / "out.wacz", Redactor(()))


def test_a_page_whose_text_changed_is_flagged_as_drifted_and_a_new_date_is_not(web: Web, tmp_path: Path) -> None:
    rewritten, redated = web.url("alpha.test", "/changing/drift-test"), web.url("alpha.test", "/dated/drift-test")
    config, _ = _project(web, tmp_path)
    config = config.model_copy(update={"post_paths": (_post_citing(tmp_path, rewritten, redated),)})

    job.run(config)
    second = job.run(config)

    assert second.report is not None
    drifted = {entry["url"]: entry["drifted_from"] for entry in second.report.entries}
    first_capture = {url: checks[0].checked_at.isoformat() for url, checks in _checks(config, [rewritten]).items()}
    assert drifted[rewritten] == first_capture[rewritten]
    assert drifted[redated] is None
    document = json.loads((config.output_dir / "report.json").read_text(encoding="utf-8"))
    assert {link["url"]: link["drifted_from"] for link in document["links"]}[rewritten] == first_capture[rewritten]
    assert document["changes"]["drifted"] == [rewritten]  # since the run before, whose verdicts the report compares


def test_drift_compares_a_compressed_page_with_its_stored_capture_decoded_alike(web: Web, tmp_path: Path) -> None:
    """The page fetched now and the one read back from the WARC file go through one decoder,
    so an x-gzip page with only a new date is not drifted, and a rewritten one is."""
    rewritten = web.url("alpha.test", "/changing-xgzip/drift-test")
    redated = web.url("alpha.test", "/dated-xgzip/drift-test")
    config, _ = _project(web, tmp_path)
    config = config.model_copy(update={"post_paths": (_post_citing(tmp_path, rewritten, redated),)})

    job.run(config)
    second = job.run(config)

    assert second.report is not None
    drifted = {entry["url"]: entry["drifted_from"] for entry in second.report.entries}
    assert drifted[redated] is None
    assert drifted[rewritten] == _checks(config, [rewritten])[rewritten][0].checked_at.isoformat()


def _checks(config: Config, urls: list[str]) -> dict[str, list[Any]]:
    with History.open(config.output_dir) as history:
        return {url: history.checks(url) for url in urls}
