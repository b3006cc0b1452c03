"""Write files so that a reader, or a crash, never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from archiver.errors import OutputError


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


_UMASK = _read_umask()  # read once, at import, before any thread could be creating files


def write_text_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a crash leaves the old file or the new one.

    Raises OutputError, naming the path, when it cannot be written.
    """
    try:
        _write(path, text)
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror or error}") from error


def make_folder(path: Path) -> None:
    """Create an output folder and its parents; OutputError, naming it, when that fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{path}: cannot create the folder: {error.strerror or error}") from error


def _write(path: Path, text: str) -> None:
    make_folder(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it the usual mode
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
