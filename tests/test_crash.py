"""`kill -9` at any moment loses nothing that was complete; the next run finishes the job."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import random
import re
import signal
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver.pack import ARCHIVE_DIR
from archiver.pack import verify as pack_verify
from tests.conftest import Web, write_blog
from tests.forked import Forks, wait_for_the_lock
from tests.pywb import serving

TRIALS = 8  # each pair of KILLS twice
SINGLE_KILLS = 2  # each trial of the double kill starts with a single kill at a random moment too
HOLD, HELD = 0.15, 16  # seconds each slow URL is held; slow URLs per host, fetched 2 at a time
LARGE = 600_000  # bytes of each body that does not compress: a record written in many pieces
REPAIRING = 0.05  # a run resumes the history and repairs the WARC files in its first ms of work
POLL = 0.0005  # seconds between two looks at what a run has done (a large record takes ~10 ms)

# Where a run is killed (`_moment`): in its first REPAIRING s, where a run that finds a
# killed one's work resumes its history and repairs its files (which takes a few ms); while
# it writes a large record (tearing it); or just as the history holds a number of checks
# more, amid the writes of the captures answered with the last of them (each capture is
# several records, each flushed as it is written).
KILLS = (("writing", "repairing"), ("writing", "writing"), ("writing", "stored"), ("stored", "repairing"))


def _project(web: Web, folder: Path) -> list[str]:
    """A post citing 44 URLs on two hosts, slow enough that fetching takes 1.2 s at least:
    on each, 16 held HOLD s each (2 at a time) with 2 large bodies among them, then quick ones.
    WARC files rotate at 8 kB: a few captures each, so that a large record torn by a kill
    comes after whole captures in its file (which the repair cuts it from)."""
    urls = []
    for host in ("alpha.test", "beta.test"):
        held = [web.url(host, f"/hold/{HOLD}/crash-{host}-{i}") for i in range(HELD)]
        large = [web.url(host, f"/noise/{LARGE + i}/crash-{host}") for i in range(2)]
        urls += [*held[:2], large[0], *held[2:6], large[1], *held[6:]]
    urls += [web.url("alpha.test", p) for p in ("/ok.html", "/image.png", "/gzip", "/chunked", "/redirect/3")]
    urls += [web.url("beta.test", p) for p in ("/status/404", "/status/410", "/huge/300000")]
    fetch, more = "  per_host: 2\n  max_body_mb: 1\n", "pack:\n  rotate_mb: 0.008\noutput:\n  dir: out\n"
    write_blog(folder, web, urls, fetch, more)
    return urls


Moment = Callable[[Path], Callable[[], bool]]  # given the folder as the run takes its lock: is it the moment?


def _moment(kind: str, moments: random.Random) -> Moment:
    """A moment of a run's work of the `kind` (see KILLS), drawn from `moments`: the first
    REPAIRING s of it, or a moment as it writes captures (which its reports come after)."""
    if kind == "repairing":
        return partial(_after, moments.uniform(0, REPAIRING))
    if kind == "writing":
        return partial(_writing_a_large_record, moments.randrange(16_384, LARGE // 2))
    return partial(_stored_more, moments.randint(1, 12))


def _after(seconds: float, _: Path) -> Callable[[], bool]:
    """Once `seconds` have passed since the run took the lock."""
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


def _writing_a_large_record(size: int, folder: Path) -> Callable[[], bool]:
    """Once a WARC file the run opened holds `size` bytes or more: only a large record makes
    one that large (they rotate at 8 kB), and it is being written (its file still open)."""
    archive = folder / "out" / ARCHIVE_DIR
    left = set(archive.glob("*.open"))  # by a killed run, for this one to repair

    def reached() -> bool:
        for path in set(archive.glob("*.open")) - left:
            with contextlib.suppress(FileNotFoundError):  # closed as it was looked at
                if path.stat().st_size >= size:
                    return True
        return False

    return reached


def _stored_more(checks: int, folder: Path) -> Callable[[], bool]:
    """Once the history holds `checks` checks more than as the run took the lock (those
    its repair recovered included)."""
    target = _checks(folder) + checks
    return lambda: _checks(folder) >= target


def _checks(folder: Path) -> int:
    """The checks in the output's history (none before it exists)."""
    history = (folder / "out" / "history.sqlite").as_uri()
    try:
        with contextlib.closing(sqlite3.connect(f"{history}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM checks").fetchone()[0])
    except sqlite3.Error:
        return 0


def _killed_at(runs: Forks, folder: Path, moment: Moment) -> None:
    """`archiver run` in `folder`, killed at `moment` of its work, which begins as it takes
    the output folder's lock (a kill in its start-up would test only that nothing was done);
    it must still be running then."""
    with runs.run(folder, "run", stdout=False) as killed:
        wait_for_the_lock(killed, folder / "out")
        reached, deadline = moment(folder), time.monotonic() + 60
        while not reached():
            assert killed.poll() is None, "the run ended before the moment came"
            assert time.monotonic() < deadline, "the moment never came"
            time.sleep(POLL)
        killed.send_signal(signal.SIGKILL)
        _, stderr = killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL, stderr.decode()  # it was still running


def _finished(runs: Forks, folder: Path, *options: str) -> tuple[int | None, str]:
    """`archiver run OPTIONS` in `folder`, run to its end: its exit code and standard error."""
    with runs.run(folder, "run", *options, stdout=False) as finished:
        _, stderr = finished.communicate(timeout=120)
    return finished.returncode, stderr.decode()


def _assert_every_file_is_whole(folder: Path) -> None:
    """Each WARC file of the run's output is whole gzip members to its end: nothing torn is
    left (warcio reads a torn last record as far as it goes, without a word)."""
    for warc in sorted((folder / "out" / ARCHIVE_DIR).glob("*.warc.gz")):
        try:
            gzip.decompress(warc.read_bytes())
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            pytest.fail(f"{warc.name}: {error}")


def _records(folder: Path) -> list[tuple[str, str, str]]:
    """(type, target URI, file) of every record in every WARC file of the run's output."""
    found = []
    for warc in sorted((folder / "out" / ARCHIVE_DIR).glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or "", warc.name))
    return found


@pytest.mark.parametrize("trial", range(SINGLE_KILLS))
def test_a_run_killed_at_a_random_moment_is_finished_by_the_next(
    runs: Forks, web: Web, tmp_path: Path, trial: int
) -> None:
    urls = _project(web, tmp_path)
    _killed_at(runs, tmp_path, _moment(("writing", "stored")[trial], random.Random(trial)))

    code, stderr = _finished(runs, tmp_path)

    assert code == 0, stderr
    archive = tmp_path / "out" / ARCHIVE_DIR
    assert not list(archive.glob("*.open"))
    warcs = sorted(str(path) for path in archive.glob("*.warc.gz"))
    with contextlib.redirect_stdout(io.StringIO()) as output:
        assert Checker(argparse.Namespace(inputs=warcs, verbose=False)).process_all() == 0, output.getvalue()
    _assert_every_file_is_whole(tmp_path)
    records = _records(tmp_path)
    metadata = Counter(uri for kind, uri, _ in records if kind == "metadata")
    assert metadata == Counter(urls)  # every URL captured once: none missing, none doubled
    _assert_history_agrees(tmp_path, urls, records)
    _assert_results_list_the_whole_run(tmp_path, urls)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_run_killed_and_the_run_that_recovers_it_killed_too_keep_every_capture_whole(
    runs: Forks, web: Web, tmp_path: Path, trial: int
) -> None:
    urls = _project(web, tmp_path)
    moments = random.Random(1000 + trial)
    for kind in KILLS[trial % len(KILLS)]:  # the run, then the one that repairs it
        _killed_at(runs, tmp_path, _moment(kind, moments))

    code, stderr = _finished(runs, tmp_path)

    assert code == 0, stderr
    _assert_every_file_is_whole(tmp_path)
    records = _records(tmp_path)
    assert Counter(uri for kind, uri, _ in records if kind == "metadata") == Counter(urls)
    _assert_history_agrees(tmp_path, urls, records)
    _assert_every_capture_is_identified(tmp_path)
    _assert_results_list_the_whole_run(tmp_path, urls)
    if trial in REPLAYED:
        _assert_the_next_runs_revisits_replay(runs, tmp_path)


REPLAYED = (0, 5)  # trials whose archive is run over again and replayed in pywb (seconds each)


def _assert_the_next_runs_revisits_replay(runs: Forks, folder: Path) -> None:
    """A run over the same, unchanged answers writes revisits of the recovered captures,
    each referring to a record that is there, and pywb replays each as its payload (pywb
    starts as the run does: it reads the indexes at each request, made after the run)."""
    before = set((folder / "out" / ARCHIVE_DIR).glob("*.warc.gz"))
    with (
        runs.run(folder, "run", "--all", stdout=False) as again,  # every link, though none is due yet
        serving(folder / "out", folder / "pywb") as base,
    ):
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
