"""A post file's bytes: how they decode, and an `Edit` of them, shown as a diff and written.

A post's bytes are never decoded and encoded again as a whole: `PostBytes` reads text
at given offsets and encodes new text the way the file is written (its byte-order mark,
UTF-8 or UTF-16), so that an edit changes only the bytes it replaces.
"""

from __future__ import annotations

import bisect
import difflib
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from archiver.atomic import write_bytes_atomically
from archiver.errors import InputError, OutputError

if TYPE_CHECKING:
    from archiver.restore.rewrite import Replacement

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as the extractor counts lines
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")  # the same, in UTF-8, where these bytes are never part of a character


@dataclass(frozen=True)
class Codec:
    """How a post's bytes become text and back again, byte for byte."""

    bom: bytes
    encoding: str
    errors: str

    def decode(self, data: bytes) -> str:
        """The text of a whole post."""
        return data[len(self.bom) :].decode(self.encoding, self.errors)

    def encode(self, text: str) -> bytes:
        """Text as the post writes it, without the byte-order mark."""
        return text.encode(self.encoding, self.errors)


_UTF8 = Codec(b"", "utf-8", "surrogateescape")
_CODECS = (
    Codec(b"\xef\xbb\xbf", "utf-8", "surrogateescape"),
    Codec(b"\xff\xfe", "utf-16-le", "surrogatepass"),
    Codec(b"\xfe\xff", "utf-16-be", "surrogatepass"),
)


def codec_of(data: bytes) -> Codec:
    """The codec a post's bytes are written in: from a byte-order mark, else UTF-8."""
    return next((codec for codec in _CODECS if data.startswith(codec.bom)), _UTF8)


@dataclass(frozen=True)
class PostBytes:
    """A post file's bytes, read as text at given offsets."""

    path: Path
    data: bytes
    codec: Codec

    @classmethod
    def read(cls, path: Path) -> PostBytes:
        """Read a post; raises InputError, naming the path, when it cannot be read."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InputError(f"{path}: cannot read: {error.strerror or error}") from error
        return cls(path, data, codec_of(data))

    def undecodable(self) -> str | None:
        """Why the post cannot be decoded (UTF-16 with an odd byte), or None."""
        try:
            self.codec.decode(self.data)
        except UnicodeDecodeError:
            return f"not valid {self.codec.encoding.upper()}"
        return None

    def holds(self, offset: int, written: bytes) -> bool:
        """True when `written` stands at `offset`."""
        return offset >= len(self.codec.bom) and self.data.startswith(written, offset)

    def text_from(self, offset: int, characters: int) -> str:
        """About `characters` characters of text from `offset` on (fewer at the end)."""
        size = characters * (2 if self.codec.encoding.startswith("utf-16") else 4)
        return self.data[offset : offset + size].decode(self.codec.encoding, self.codec.errors)

    def text_at(self, start: int, end: int) -> str:
        """The text of the bytes from `start` to `end`."""
        return self.data[start:end].decode(self.codec.encoding, self.codec.errors)

    def line_at(self, offset: int) -> int:
        """The line (from 1) that `offset` is on, as the extractor counts lines."""
        return bisect.bisect_right(self._line_starts, offset)

    @cached_property
    def _line_starts(self) -> list[int]:
        bom = len(self.codec.bom)
        if self.codec.encoding == "utf-8":
            return [bom, *(match.end() for match in _LINE_BREAK_BYTES.finditer(self.data, bom))]
        text, starts, offset, previous = self.codec.decode(self.data), [bom], bom, 0
        for match in _LINE_BREAK.finditer(text):
            offset += len(self.codec.encode(text[previous : match.end()]))
            starts.append(offset)
            previous = match.end()
        return starts


@dataclass(frozen=True)
class Edit:
    """What repairing one post changes."""

    path: Path
    before: bytes
    after: bytes
    applied: tuple[Replacement, ...]
    skipped: tuple[tuple[Replacement, str], ...]  # each with the reason

    @property
    def changed(self) -> bool:
        """True when the post's bytes would change."""
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff of the change, for people to read; empty when nothing changes."""
        if not self.changed:
            return ""
        codec = codec_of(self.before)
        old, new = _display_lines(self.before, codec), _display_lines(self.after, codec)
        name = _shown(self.path)
        lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm="")
        return "\n".join(lines) + "\n"


KEPT_SUFFIX = ".edited-during-restore"  # beside a post: an edit saved into it while it was being replaced


def apply_edit(edit: Edit) -> None:
    """Write an edit's new bytes in one step, keeping the file's permission bits.

    An edit that changes nothing writes nothing. Raises OutputError, naming the path,
    when the file cannot be written or no longer holds the bytes the edit was planned on:
    that is checked before the new bytes are written, and again once they are written and
    synced, just before they replace the post, so that an edit saved meanwhile (in place,
    or by an editor that replaces the file) is kept and reported instead of overwritten.
    An edit written into the old file after that last look, by an editor that had it open,
    is saved beside the post (`KEPT_SUFFIX`) and reported.
    """
    if not edit.changed:
        return
    target = edit.path.resolve()  # through a symbolic link, so the link stays one
    with _Watch(edit, target) as watch:
        watch.check()
        write_bytes_atomically(target, edit.after, watch.mode, before_replace=watch.check)
        watch.replaced()


class _Watch:
    """The post as the edit was planned on it, watched until the new bytes are in its place."""

    def __init__(self, edit: Edit, target: Path) -> None:
        self._edit, self._target = edit, target
        self._seen: os.stat_result | None = None
        self._old: BinaryIO | None = None  # the file last found unchanged, open so it can be read after the rename

    def __enter__(self) -> _Watch:
        return self

    def __exit__(self, *_: object) -> None:
        if self._old is not None:
            self._old.close()

    @property
    def mode(self) -> int:
        """The post's permission bits."""
        assert self._seen is not None
        return stat.S_IMODE(self._seen.st_mode)

    def check(self) -> None:
        """OutputError unless the post holds the bytes the edit was planned on, and is the
        file, of the size and times, it was at the last check."""
        self.__exit__()
        try:
            self._old = self._target.open("rb")
            data, opened = self._old.read(), os.fstat(self._old.fileno())
            now = self._target.stat()  # last, and cheapest: what a rename or write since the read changes
        except OSError as error:
            raise OutputError(
                f"{self._edit.path}: cannot read it again before writing: {error.strerror or error}"
            ) from error
        if data != self._edit.before or any(_identity(s) != _identity(now) for s in (opened, self._seen or now)):
            raise OutputError(f"{self._edit.path}: changed since it was read; not rewritten")
        self._seen = now

    def replaced(self) -> None:
        """Once the new bytes are in place: an edit written into the old file after the last
        check (by an editor that had it open) is saved beside the post, and OutputError says where."""
        assert self._old is not None
        assert self._seen is not None
        if _identity(os.fstat(self._old.fileno())) == _identity(self._seen):
            return
        self._old.seek(0)
        kept = _free_name(self._target.with_name(self._target.name + KEPT_SUFFIX))
        write_bytes_atomically(kept, self._old.read(), self.mode)
        why = f"changed while it was being rewritten; the edit is kept in {kept}"
        raise EditKeptBesideError(f"{self._edit.path}: {why}")


class EditKeptBesideError(OutputError):
    """The post was rewritten, but an edit saved into the old file meanwhile is kept beside it."""


def _free_name(path: Path) -> Path:
    """`path`, or `path.1`, `path.2` … when an earlier restore kept an edit there already."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.{number}")
    return candidate


def _identity(status: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is written or replaced: its device and inode, size and
    modification time (not the change time, which the rename itself changes: one link fewer)."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _shown(path: Path) -> str:
    """The path as a diff names it: relative to the current folder when it is inside it."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix().lstrip("/")


def _display_lines(data: bytes, codec: Codec) -> list[str]:
    lines = _LINE_BREAK.split(data[len(codec.bom) :].decode(codec.encoding, errors="replace"))
    return lines[:-1] if lines[-1] == "" else lines
