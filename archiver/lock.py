"""One run at a time per output folder.

The lock is an advisory `flock` on `<output>/.lock`, which the operating system drops
when the process holding it ends, however it ends (`kill -9` included): a lock left by
a dead run is simply free again. The file names the holder (process id, host, start
time) so that a second run can say who is in its way. Local file systems only: `flock`
on network file systems is not to be trusted.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from archiver.atomic import make_folder
from archiver.errors import LockedError, OutputError
from archiver.times import utc_iso, utc_now

LOCK_FILE = ".lock"


@contextmanager
def exclusive(folder: Path, command: str) -> Iterator[None]:
    """Hold the output folder's lock for the body; LockedError when another run holds it."""
    make_folder(folder)
    path = folder / LOCK_FILE
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputError(f"{path}: cannot open the lock file: {error.strerror or error}") from error
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"{folder} is in use by another run ({_holder(handle)}); try again when it ends"
            ) from None
        _describe_holder(handle, command)
        yield
    finally:
        os.close(handle)  # closing drops the lock


def _describe_holder(handle: int, command: str) -> None:
    started = utc_iso(utc_now(), "seconds")
    text = f"archiver {command}, process {os.getpid()} on {socket.gethostname()}, since {started}\n"
    # Who holds the lock is only for another run's message: the lock holds without it, so a
    # full disk is left for the first write the run needs to say.
    with suppress(OSError):
        os.ftruncate(handle, 0)
        os.pwrite(handle, text.encode(), 0)


def _holder(handle: int) -> str:
    text = os.pread(handle, 512, 0).decode("utf-8", errors="replace").strip()
    return text or "holder unknown"
