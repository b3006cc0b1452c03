"""`kill -9` at any moment loses nothing that was complete; the next run finishes the job."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver.pack import ARCHIVE_DIR
from archiver.pack import verify as pack_verify
from tests.conftest import Web, write_blog
from tests.pywb import serving

TRIALS = 10
SINGLE_KILLS = 2  # each trial of the double kill starts with a single kill at a random moment too


def _project(web: Web, folder: Path) -> list[str]:
    """A post citing 40 URLs on two hosts, slow enough that fetching takes about 2.5 s."""
    urls = [web.url(host, f"/hold/0.3/crash-{host}-{i}") for host in ("alpha.test", "beta.test") for i in range(16)]
    urls += [web.url("alpha.test", p) for p in ("/ok.html", "/image.png", "/gzip", "/chunked", "/redirect/3")]
    urls += [web.url("beta.test", p) for p in ("/status/404", "/status/410", "/huge/300000")]
    fetch, more = "  per_host: 2\n  max_body_mb: 1\n", "pack:\n  rotate_mb: 0.004\noutput:\n  dir: out\n"
    write_blog(folder, web, urls, fetch, more)
    return urls


def _archiver_run(folder: Path, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", *options], cwd=folder, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _records(folder: Path) -> list[tuple[str, str, str]]:
    """(type, target URI, file) of every record in every WARC file of the run's output."""
    found = []
    for warc in sorted((folder / "out" / ARCHIVE_DIR).glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or "", warc.name))
    return found


@pytest.mark.parametrize("trial", range(SINGLE_KILLS))
def test_a_run_killed_at_a_random_moment_is_finished_by_the_next(web: Web, tmp_path: Path, trial: int) -> None:
    urls = _project(web, tmp_path)
    killed = _archiver_run(tmp_path)
    time.sleep(random.Random(trial).uniform(0.4, 2.0))
    killed.send_signal(signal.SIGKILL)
    _, stderr = killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL, stderr.decode()  # it was still running

    finished = _archiver_run(tmp_path)
    _, stderr = finished.communicate(timeout=120)

    assert finished.returncode == 0, stderr.decode()
    archive = tmp_path / "out" / ARCHIVE_DIR
    assert not list(archive.glob("*.open"))
    warcs = sorted(str(path) for path in archive.glob("*.warc.gz"))
    with contextlib.redirect_stdout(io.StringIO()) as output:
        assert Checker(argparse.Namespace(inputs=warcs, verbose=False)).process_all() == 0, output.getvalue()
    records = _records(tmp_path)
    metadata = Counter(uri for kind, uri, _ in records if kind == "metadata")
    assert metadata == Counter(urls)  # every URL captured once: none missing, none doubled
    _assert_history_agrees(tmp_path, urls, records)
    _assert_results_list_the_whole_run(tmp_path, urls)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_run_killed_and_the_run_that_recovers_it_killed_too_keep_every_capture_whole(
    web: Web, tmp_path: Path, trial: int
) -> None:
    urls = _project(web, tmp_path)
    moments = random.Random(1000 + trial)
    for wait in (moments.uniform(0.4, 1.8), moments.uniform(0.05, 0.9)):  # the run, then the one that repairs it
        killed = _archiver_run(tmp_path)
        time.sleep(wait)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)

    finished = _archiver_run(tmp_path)
    _, stderr = finished.communicate(timeout=120)

    assert finished.returncode == 0, stderr.decode()
    records = _records(tmp_path)
    assert Counter(uri for kind, uri, _ in records if kind == "metadata") == Counter(urls)
    _assert_history_agrees(tmp_path, urls, records)
    _assert_every_capture_is_identified(tmp_path)
    _assert_results_list_the_whole_run(tmp_path, urls)
    if trial in REPLAYED:
        _assert_the_next_runs_revisits_replay(tmp_path)


REPLAYED = (0, 5)  # trials whose archive is run over again and replayed in pywb (seconds each)


def _assert_the_next_runs_revisits_replay(folder: Path) -> None:
    """A run over the same, unchanged answers writes revisits of the recovered captures,
    each referring to a record that is there, and pywb replays each as its payload."""
    before = set((folder / "out" / ARCHIVE_DIR).glob("*.warc.gz"))
    again = _archiver_run(folder, "--all")  # every link, though none is due yet
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr.decode()
    revisits = []
    for warc in sorted(set((folder / "out" / ARCHIVE_DIR).glob("*.warc.gz")) - before):
        with warc.open("rb") as stream:
            revisits += [(r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Date"))
                         for r in ArchiveIterator(stream) if r.rec_type == "revisit"]  # fmt: skip
    held = [(url, date) for url, date in revisits if "/hold/" in url]
    assert len(held) == 32  # every slow URL answered the same again
    assert not [f for f in pack_verify.folder_findings(folder / "out") if "refers to" in f.problem]
    with serving(folder / "out", folder / "pywb") as base:
        for url, date in held:
            timestamp = re.sub(r"\D", "", date)[:14]
            with httpx.stream("GET", f"{base}/web/{timestamp}id_/{url}") as response:
                assert (response.status_code, response.read()) == (200, b"held"), url


def _assert_results_list_the_whole_run(folder: Path, urls: list[str]) -> None:
    """results.jsonl has a line for every URL of the run, those done before the kill too."""
    lines = (folder / "out" / "results.jsonl").read_text(encoding="utf-8").splitlines()
    results = [json.loads(line) for line in lines[1:]]
    assert sorted(result["url"] for result in results) == sorted(urls)
    redirected = next(result for result in results if result["url"].endswith("/redirect/3"))
    assert [hop["code"] for hop in redirected["hops"]] == [301, 301, 301, 200]


def _assert_every_capture_is_identified(folder: Path) -> None:
    """Each check that names a record names it whole: the record at that place has that ID,
    date and target URI, so that a revisit can refer to it."""
    with sqlite3.connect(folder / "out" / "history.sqlite") as db:
        rows = db.execute(
            "SELECT url, warc_filename, warc_offset, warc_record_id, warc_date, warc_target_uri, warc_revisit"
            " FROM checks WHERE warc_filename IS NOT NULL"
        ).fetchall()
    assert rows
    for url, filename, offset, record_id, date, target, revisit in rows:
        with (folder / "out" / ARCHIVE_DIR / filename).open("rb") as stream:
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
        headers = record.rec_headers
        assert record.rec_type == ("revisit" if revisit else "response"), url
        assert (headers.get_header("WARC-Record-ID"), headers.get_header("WARC-Date")) == (record_id, date), url
        assert target, url
        assert headers.get_header("WARC-Target-URI") == target, url


def _assert_history_agrees(folder: Path, urls: list[str], records: list[tuple[str, str, str]]) -> None:
    with sqlite3.connect(folder / "out" / "history.sqlite") as db:
        runs = db.execute("SELECT id, finished_at FROM runs").fetchall()
        checks = db.execute("SELECT url, final_url, warc_filename FROM checks").fetchall()
    responses = {(uri, name) for kind, uri, name in records if kind == "response"}
    assert len(runs) == 1
    assert runs[0][1] is not None  # the interrupted run was resumed and finished
    assert sorted(url for url, _, _ in checks) == sorted(urls)
    for url, final_url, filename in checks:
        if filename is not None:
            assert (final_url, filename) in responses, url
