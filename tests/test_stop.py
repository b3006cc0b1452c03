"""SIGTERM and SIGHUP stop `archiver run`, `check` and `restore` as Ctrl-C does: cleanly,
saying so, with the shell's exit code; the next run resumes where the stopped one was."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
from warcio.checker import Checker

from archiver import stop
from archiver.cli import ExitCode
from archiver.config import ArchiveSettings
from archiver.pack import ARCHIVE_DIR
from tests.conftest import Web, write_blog
from tests.forked import Forks
from tests.test_crash import _records
from tests.test_restore import Server, _all_dead, _project, _write_config, picture, serve

URLS_PER_HOST = 16
DEADLINE_SECONDS = 60  # only so that a broken run cannot hang the tests


def _blog(web: Web, folder: Path, route: str = "/hold/0.3") -> list[str]:
    """A post citing 32 slow URLs of `route` on two hosts (2 at a time each): a run takes 2.4 s
    at least, most of it still to come when its first checks are stored."""
    tag = folder.name
    hosts = ("alpha.test", "beta.test")
    urls = [web.url(host, f"{route}/{tag}-{i}") for host in hosts for i in range(URLS_PER_HOST)]
    write_blog(folder, web, urls, "  per_host: 2\n", "pack:\n  rotate_mb: 0.004\noutput:\n  dir: out\n")
    return urls


def _archiver(folder: Path, *args: str, job_of_its_own: bool = False) -> subprocess.Popen[str]:
    """`archiver ARGS` in `folder`; with `job_of_its_own`, in a process group of its own, as
    a shell starts a job (a signal to the group reaches the parser processes too)."""
    command = [sys.executable, "-m", "archiver", *args]
    # Hangup and Ctrl-C as a command started from a terminal has them, whatever the test run
    # has: under nohup, or in the background, they are ignored, and a run rightly keeps a
    # signal ignored that it was started with ignored (what is ignored stays so in the child).
    with _handled(signal.SIGHUP, signal.SIG_DFL), _handled(signal.SIGINT, signal.default_int_handler):
        return subprocess.Popen(
            command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=job_of_its_own,
        )  # fmt: skip


def _resumed(runs: Forks, folder: Path, *args: str) -> tuple[int | None, str, str]:
    """`archiver ARGS` in `folder` run to its end, forked ready-imported (tests/forked.py; no
    signal is sent to it): its exit code, standard output and standard error."""
    with runs.run(folder, *args) as run:
        out, err = run.communicate(timeout=DEADLINE_SECONDS * 2)
    return run.returncode, out.decode(), err.decode()


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)


def _stored_checks(folder: Path) -> list[str]:
    """The URLs of the checks in the output's history (none before it exists)."""
    try:
        with contextlib.closing(sqlite3.connect(folder / "out" / "history.sqlite")) as db:
            return [url for (url,) in db.execute("SELECT url FROM checks")]
    except sqlite3.Error:
        return []


def _unfinished_runs(folder: Path) -> int:
    with contextlib.closing(sqlite3.connect(folder / "out" / "history.sqlite")) as db:
        return int(db.execute("SELECT count(*) FROM runs WHERE finished_at IS NULL").fetchone()[0])


def _warcio_check(paths: list[Path]) -> None:
    with contextlib.redirect_stdout(io.StringIO()) as output:
        assert Checker(argparse.Namespace(inputs=list(map(str, paths)), verbose=False)).process_all() == 0, (
            output.getvalue()
        )


def _stopped(process: subprocess.Popen[str], by: signal.Signals, folder: Path) -> list[str]:
    """Send `by` once some checks are stored and the run is far from done; the checks
    stored when it ended."""
    _wait_for(lambda: len(_stored_checks(folder)) >= 6, process)
    process.send_signal(by)
    _, stderr = process.communicate(timeout=DEADLINE_SECONDS)
    expected = {signal.SIGTERM: ExitCode.TERMINATED, signal.SIGHUP: ExitCode.HANGUP}[by]
    assert (process.returncode, stderr) == (expected, f"archiver: stopped by {by.name}\n")
    return _stored_checks(folder)


def _hits(web: Web, url: str) -> int:
    host, _, path = url.removeprefix("http://").partition("/")
    return web.server.hits[(host.split(":")[0], "/" + path)]


@pytest.mark.parametrize("by", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_run_ends_cleanly_and_the_next_resumes_it(
    runs: Forks, web: Web, tmp_path: Path, by: signal.Signals
) -> None:
    urls = _blog(web, tmp_path)

    stored = _stopped(_archiver(tmp_path, "run"), by, tmp_path)

    assert 0 < len(stored) < len(urls)
    assert _unfinished_runs(tmp_path) == 1  # committed, to be resumed
    archive = tmp_path / "out" / ARCHIVE_DIR
    _warcio_check(sorted(archive.iterdir()))  # closed files and the one left open: every record whole
    assert _lock_is_free(tmp_path / "out" / ".lock")

    code, out, err = _resumed(runs, tmp_path, "run")

    assert code == ExitCode.OK, err
    assert "resumed an interrupted run (" in out
    assert not list(archive.glob("*.open"))
    _warcio_check(sorted(archive.glob("*.warc.gz")))
    assert sorted(_stored_checks(tmp_path)) == sorted(urls)  # every URL checked once, over both runs
    assert [url for url in stored if _hits(web, url) != 1] == []  # what was stored was not fetched again
    metadata = [uri for kind, uri, _ in _records(tmp_path) if kind == "metadata"]
    assert sorted(metadata) == sorted(urls)
    assert _unfinished_runs(tmp_path) == 0


def _lock_is_free(path: Path) -> bool:
    with path.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@pytest.mark.parametrize(
    ("by", "code", "message"),
    [(signal.SIGINT, ExitCode.INTERRUPTED, "archiver: interrupted\n"),
     (signal.SIGTERM, ExitCode.TERMINATED, "archiver: stopped by SIGTERM\n")],
    ids=["Ctrl-C", "SIGTERM"],
)  # fmt: skip
def test_a_signal_to_the_whole_job_stops_it_with_one_line_from_the_run_alone(
    web: Web, tmp_path: Path, by: signal.Signals, code: ExitCode, message: str
) -> None:
    """As a terminal's Ctrl-C or systemd's stop does: the parser processes get it too."""
    _blog(web, tmp_path, route="/notice/0.3")  # pages, read in parser processes
    running = _archiver(tmp_path, "run", job_of_its_own=True)
    _wait_for(lambda: len(_stored_checks(tmp_path)) >= 6, running)

    os.killpg(running.pid, by)
    _, stderr = running.communicate(timeout=DEADLINE_SECONDS)

    assert (running.returncode, stderr) == (code, message)
    _warcio_check(sorted((tmp_path / "out" / ARCHIVE_DIR).iterdir()))


def test_a_stopped_check_ends_cleanly_and_the_next_resumes_it(runs: Forks, web: Web, tmp_path: Path) -> None:
    urls = _blog(web, tmp_path)

    stored = _stopped(_archiver(tmp_path, "check"), signal.SIGTERM, tmp_path)

    assert 0 < len(stored) < len(urls)
    assert _unfinished_runs(tmp_path) == 1
    code, _, err = _resumed(runs, tmp_path, "check")

    assert code == ExitCode.OK, err
    assert sorted(_stored_checks(tmp_path)) == sorted(urls)
    assert [url for url in stored if _hits(web, url) != 1] == []
    assert not (tmp_path / "out" / ARCHIVE_DIR).exists()


class SlowArchive(Server):
    """A web archive that takes its time over every TimeMap, holding one capture of each
    URL (a picture of its own); it counts the requests it was sent."""

    requests = 0

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        SlowArchive.requests += 1
        with contextlib.suppress(ConnectionError):  # a restore stopped meanwhile hangs up
            self._answer_slowly()

    def _answer_slowly(self) -> None:
        if "/timemap/link/" in self.path:
            time.sleep(0.3)
            url = self.path.split("/timemap/link/", 1)[1]
            link = f'<http://{self.headers["Host"]}/web/20150101000000/{url}>; rel="memento"; '
            link += 'datetime="Thu, 01 Jan 2015 00:00:00 GMT"'
            self.answer(200, link.encode(), "application/link-format")
        else:
            image = picture("#" + hashlib.sha256(self.path.encode()).hexdigest()[:6])  # one of its own per URL
            self.answer(200, image, "image/png", {"Memento-Datetime": "Thu, 01 Jan 2015 00:00:00 GMT"})


def test_a_stopped_restore_leaves_the_posts_as_they_were_and_the_next_repairs_them(
    runs: Forks, tmp_path: Path, web: Web
) -> None:
    images = [f"http://photos.test/slow-{n}.png" for n in range(20)]
    SlowArchive.requests = 0
    with serve(SlowArchive) as address:
        slow = ArchiveSettings(name="Slow", url=f"{address}/web/", requests_per_minute=6000.0)
        project = _project(tmp_path, web, (slow,), text="".join(f"![{n}]({url})\n" for n, url in enumerate(images)))
        _all_dead(project, images)
        config = _write_config(project)
        stopped = _archiver(tmp_path, "restore", "--config", config)
        _wait_for(lambda: SlowArchive.requests >= 3, stopped)
        stopped.send_signal(signal.SIGTERM)
        _, stderr = stopped.communicate(timeout=DEADLINE_SECONDS)

        assert (stopped.returncode, stderr) == (ExitCode.TERMINATED, "archiver: stopped by SIGTERM\n")
        assert project.post.read_bytes() == project.original
        assert sorted(os.listdir(project.post.parent)) == [project.post.name]  # no half-written copy beside it

        code, _, stderr = _resumed(runs, tmp_path, "restore", "--config", config)

    assert code == ExitCode.OK, stderr
    text = project.post.read_text(encoding="utf-8")
    assert [url for url in images if url in text] == []
    assert text.count("](/assets/restored/photos.test/slow-") == len(images)


def test_stop_signals_are_handed_to_the_interrupt_handler_and_put_back_afterwards() -> None:
    cleaned_up: list[bool] = []

    async def a_long_job() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(DEADLINE_SECONDS)
        finally:
            cleaned_up.append(True)

    with stop.stopping() as stopped, pytest.raises(KeyboardInterrupt):
        asyncio.run(a_long_job())

    assert (stopped.signal, cleaned_up) == (signal.SIGTERM, [True])  # asyncio.run unwound the job first
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@contextlib.contextmanager
def _handled(
    number: signal.Signals, handler: signal.Handlers | Callable[[int, FrameType | None], object]
) -> Iterator[None]:
    previous = signal.signal(number, handler)
    try:
        yield
    finally:
        signal.signal(number, previous)


def test_a_signal_ignored_before_stays_ignored() -> None:
    with _handled(signal.SIGHUP, signal.SIG_IGN), stop.stopping() as stopped:
        os.kill(os.getpid(), signal.SIGHUP)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL

    assert stopped.signal is None


def _signalled_and_waiting(number: signal.Signals) -> None:
    os.kill(os.getpid(), number)
    time.sleep(DEADLINE_SECONDS)  # the handler runs as soon as the signal arrives


def test_with_ctrl_c_ignored_a_stop_signal_still_stops() -> None:
    with (
        _handled(signal.SIGHUP, signal.SIG_DFL),  # as from a terminal, whatever the test run has
        _handled(signal.SIGINT, signal.SIG_IGN),
        stop.stopping() as stopped,
        pytest.raises(KeyboardInterrupt),
    ):
        _signalled_and_waiting(signal.SIGHUP)

    assert stopped.signal is signal.SIGHUP
