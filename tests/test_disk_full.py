"""A full disk ends a run with a message naming the file and exit 3, no traceback; once
there is room again, the next run recovers what was left and finishes the job.

The output folder is put on a tmpfs of a few megabytes (mounting one needs root; the
tests skip, saying so, where that is not allowed)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from archiver.cli import ExitCode
from archiver.pack import ARCHIVE_DIR
from tests.conftest import Web, write_blog
from tests.forked import Forks


class SmallDisk:
    """A tmpfs mounted for one test, which can be filled and given more room."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, kilobytes: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={kilobytes}k", str(self.path)], check=True)

    def fill(self, leave_kilobytes: int) -> Path:
        """A file taking all the room but `leave_kilobytes`."""
        filler = self.path / "filler"
        handle = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            with contextlib.suppress(OSError):
                while True:
                    os.write(handle, b"\0" * 4096)
        finally:
            os.close(handle)
        os.truncate(filler, max(0, filler.stat().st_size - leave_kilobytes * 1024))
        return filler


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the disk-full tests: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _project(folder: Path, disk: SmallDisk, web: Web, urls: list[str]) -> None:
    fetch = "  max_body_mb: 5\n  backoff: 0\n"
    write_blog(folder, web, urls, fetch, f"pack:\n  requisites: false\noutput:\n  dir: {disk.path / 'out'}\n")


def _archiver(runs: Forks, folder: Path, command: str = "run") -> subprocess.CompletedProcess[str]:
    """`archiver COMMAND` in `folder`, forked ready-imported (tests/forked.py), to its end."""
    with runs.run(folder, command) as run:
        stdout, stderr = run.communicate(timeout=120)
    assert run.returncode is not None
    return subprocess.CompletedProcess(["archiver", command], run.returncode, stdout.decode(), stderr.decode())


def _assert_ended_cleanly(result: subprocess.CompletedProcess[str], names: str) -> None:
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "Traceback" not in result.stderr
    assert "client has been closed" not in result.stderr
    assert names in result.stderr, result.stderr


def _metadata_records(folder: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    warcs = sorted(str(path) for path in (folder / ARCHIVE_DIR).glob("*.warc.gz"))
    with contextlib.redirect_stdout(io.StringIO()) as output:
        assert Checker(argparse.Namespace(inputs=warcs, verbose=False)).process_all() == 0, output.getvalue()
    for warc in warcs:
        with open(warc, "rb") as stream:
            found.update(r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                         if r.rec_type == "metadata")  # fmt: skip
    return found


def test_a_warc_file_that_fills_the_disk_ends_the_run_and_the_next_finishes_it(
    runs: Forks, tmp_path: Path, disk: SmallDisk, web: Web
) -> None:
    urls = [web.url("alpha.test", f"/noise/600000/{i}") for i in range(6)]  # 3.6 MB that do not compress
    _project(tmp_path, disk, web, urls)

    full = _archiver(runs, tmp_path)

    _assert_ended_cleanly(full, "cannot write the WARC file: No space left on device")
    assert f"{disk.path / 'out' / ARCHIVE_DIR}" in full.stderr
    disk.resize(50_000)
    again = _archiver(runs, tmp_path)
    assert again.returncode == ExitCode.OK, again.stderr
    assert _metadata_records(disk.path / "out") == Counter(urls)  # each captured once, none lost


def test_a_history_that_fills_the_disk_ends_the_check_and_the_next_finishes_it(
    runs: Forks, tmp_path: Path, disk: SmallDisk, web: Web
) -> None:
    urls = [web.url("alpha.test", f"/status/404?page={i}") for i in range(400)]
    _project(tmp_path, disk, web, urls)
    disk.resize(20_000)
    assert _archiver(runs, tmp_path, "check").returncode == ExitCode.OK  # the history exists, and what a check writes
    filler = disk.fill(leave_kilobytes=300)  # room for links.json and the links kept, not for a night of checks

    full = _archiver(runs, tmp_path, "check")

    _assert_ended_cleanly(full, "history.sqlite: cannot write the history: database or disk is full")
    filler.unlink()
    again = _archiver(runs, tmp_path, "check")
    assert again.returncode == ExitCode.OK, again.stderr
    assert "resumed an interrupted run" in again.stdout


def test_a_disk_without_a_byte_left_ends_the_run_before_it_starts(
    runs: Forks, tmp_path: Path, disk: SmallDisk, web: Web
) -> None:
    urls = [web.url("alpha.test", "/ok.html"), web.url("beta.test", "/ok.html")]
    _project(tmp_path, disk, web, urls)
    (disk.path / "out").mkdir()
    filler = disk.fill(leave_kilobytes=0)

    full = _archiver(runs, tmp_path)

    _assert_ended_cleanly(full, f"{disk.path / 'out'}: cannot keep the extracted links there: database or disk is full")
    filler.unlink()
    again = _archiver(runs, tmp_path)
    assert again.returncode == ExitCode.OK, again.stderr
    assert _metadata_records(disk.path / "out") == Counter(urls)
