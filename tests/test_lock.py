"""One run at a time per output folder; a lock left by a killed run is free again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver.errors import LockedError
from archiver.lock import LOCK_FILE, exclusive
from tests.conftest import HOLD_LOCK


def _holder(folder: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.communicate()


def test_a_second_run_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    expected = rf"in use by another run \(archiver run, process {holder.pid} on "
    try:
        with pytest.raises(LockedError, match=expected), exclusive(tmp_path, "run"):
            pass
    finally:
        _stop(holder)


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    _stop(holder)

    with exclusive(tmp_path, "run"):
        assert f"process {os.getpid()} " in (tmp_path / LOCK_FILE).read_text()


def test_the_lock_is_free_after_a_run_ends(tmp_path: Path) -> None:
    with exclusive(tmp_path, "run"):
        pass
    started = time.monotonic()
    with exclusive(tmp_path, "check"):
        assert "archiver check" in (tmp_path / LOCK_FILE).read_text()
    assert time.monotonic() - started < 5
