"""Write files so that a reader, or a crash, never sees half of one.

A file is written to a temporary file beside it, `.{name}.archiver-{process id}-{random}.tmp`,
then renamed over it. A killed process leaves its temporary files behind;
`remove_stale_temporaries` removes those of processes that are gone, matching that
pattern only, and is called by the jobs while they hold the output folder's lock.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from archiver.errors import OutputError


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_UMASK = _read_umask()  # read once, at import, before any thread could be creating files
_TEMPORARY = re.compile(r"\..+\.archiver-(?P<pid>\d+)-[a-z0-9_]{8}\.tmp")  # as _temporary_beside names them


def write_text_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step: a crash leaves the old file or the new one.

    Raises OutputError, naming the path, when it cannot be written.
    """
    write_bytes_atomically(path, text.encode("utf-8"))


def write_lines_atomically(path: Path, lines: Iterable[str]) -> None:
    """Replace `path` with `lines` (UTF-8), written as they come (never all held at once),
    in one step: a crash leaves the old file or the new one. Raises OutputError, naming the
    path, when it cannot be written."""
    try:
        _write(path, (line.encode("utf-8") for line in lines), 0o666 & ~_UMASK, None)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror or error}") from error


def write_bytes_atomically(
    path: Path, data: bytes, mode: int | None = None, *, before_replace: Callable[[], object] | None = None
) -> None:
    """Replace `path` with `data` in one step, with permission bits `mode` (default: as a new
    file gets them). Raises OutputError, naming the path, when it cannot be written.

    `before_replace` is called once the new bytes are written and synced, immediately
    before they take the path's place; when it raises, the path is left as it is and the
    exception goes on."""
    try:
        _write(path, (data,), 0o666 & ~_UMASK if mode is None else mode, before_replace)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror or error}") from error


@contextlib.contextmanager
def temporary_beside(path: Path) -> Iterator[Path]:
    """A scratch file beside `path`, named as this module names the files it writes
    first (so that one an interrupted run left is found and removed); removed on leaving."""
    make_folder(path.parent)
    try:
        handle, name = _temporary_beside(path)
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write: {error.strerror or error}") from error
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _temporary_beside(path: Path) -> tuple[int, str]:
    """A new private file beside `path`, named as `_TEMPORARY` finds it: its handle and name."""
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.archiver-{os.getpid()}-", suffix=".tmp")


def make_folder(path: Path) -> None:
    """Create an output folder and its parents; OutputError, naming it, when that fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create the folder: {error.strerror or error}") from error


def _write(path: Path, chunks: Iterable[bytes], mode: int, before_replace: Callable[[], object] | None) -> None:
    make_folder(path.parent)
    handle, temporary = _temporary_beside(path)
    try:
        os.fchmod(handle, mode)  # mkstemp makes the file private
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    # The new file is in place by now: a folder that cannot be synced only makes the
    # rename less certain to survive a power cut, which is no reason to report failure.
    with contextlib.suppress(OSError):
        fsync_folder(folder)


def fsync_folder(folder: Path) -> None:
    """Make the names in `folder` (a file just created or renamed) survive a power cut."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def remove_stale_temporaries(folders: Iterable[Path], recursive: Iterable[Path] = ()) -> int:
    """Remove the temporary files (named as this module names them) that processes now gone
    left in `folders`, and in `recursive` and the folders under them; how many were removed."""
    candidates = [entry for folder in folders for entry in _entries(folder, "*")]
    candidates += [entry for folder in recursive for entry in _entries(folder, "**/*")]
    removed = 0
    for path in dict.fromkeys(candidates):
        match = _TEMPORARY.fullmatch(path.name)
        if match is None or _running(int(match["pid"])) or not path.is_file():
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def _entries(folder: Path, pattern: str) -> list[Path]:
    try:
        return list(folder.glob(pattern)) if folder.is_dir() else []
    except OSError:
        return []


def _running(pid: int) -> bool:
    """True when another process of that id is running. This process's own id counts as
    gone: it has written nothing yet when the jobs call this, and a container restarts a
    command under the same id as the run that was killed."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True
