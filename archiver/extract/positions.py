"""Where a position in the text the parsers read comes from in the post file's bytes.

The parsers read a post's text after it was decoded (invalid bytes replaced with U+FFFD,
a byte-order mark dropped), its line ends made `\\n` and its front matter blanked; the
Markdown parser also reads it without Jekyll's `{{ site.url }}`. Each step only deletes
runs of characters or puts one character in place of some bytes, so every position maps
back to one byte offset. A position where something was deleted maps to the start of
what was deleted: a URL that follows a deleted `{{ site.url }}` starts with it.
"""

from __future__ import annotations

import bisect
import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from archiver.model import SourceSpan

Position = Callable[[int], int]
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_DECODERS: dict[str, Callable[[memoryview, str, bool], tuple[str, int]]] = {
    "utf-8": codecs.utf_8_decode,
    "utf-16-le": codecs.utf_16_le_decode,
    "utf-16-be": codecs.utf_16_be_decode,
}
_CHUNK = 256  # characters between two known byte offsets: bounds the work of one look-up
_CRLF = re.compile("\r\n")


@dataclass(frozen=True)
class Deletions:
    """A text made from another by deleting runs of characters, mapping positions back."""

    at: tuple[int, ...]  # where each run was deleted, in the new text
    deleted: tuple[int, ...]  # characters deleted up to and including that run

    @classmethod
    def of(cls, runs: Iterable[tuple[int, int]]) -> Deletions:
        """The deletions of `runs`, (start, end) ranges of the old text in increasing order."""
        at: list[int] = []
        deleted: list[int] = []
        total = 0
        for start, end in runs:
            if end > start:
                at.append(start - total)
                total += end - start
                deleted.append(total)
        return cls(tuple(at), tuple(deleted))

    def original(self, position: int) -> int:
        """Where `position` of the new text is in the old one."""
        index = bisect.bisect_left(self.at, position) - 1
        return position + (self.deleted[index] if index >= 0 else 0)


NO_DELETIONS = Deletions((), ())


@dataclass(frozen=True)
class Decoded:
    """A post's bytes decoded, and where each character came from."""

    text: str
    encoding: str  # of the characters after the byte-order mark: utf-8, utf-16-le or utf-16-be
    bom: int  # its length in bytes
    replaced: tuple[tuple[int, int, int], ...]  # each U+FFFD put for invalid bytes: position, start, end
    size: int  # of the data in bytes

    def byte_offsets(self) -> Position:
        """A function from a position in `text` to its offset in the bytes."""
        if not self.replaced and self.text.isascii():
            unit = 1 if self.encoding == "utf-8" else 2
            return lambda position: self.bom + position * unit
        return _ByteIndex(self).offset


def decode(data: bytes) -> Decoded:
    """Decode a post's bytes as Python's errors="replace" does, noting each replacement.

    The encoding comes from a byte-order mark, else UTF-8.
    """
    bom, encoding = next(((len(mark), name) for mark, name in _BOMS if data.startswith(mark)), (0, "utf-8"))
    decoder = _DECODERS[encoding]
    view = memoryview(data)[bom:]
    parts: list[str] = []
    replaced: list[tuple[int, int, int]] = []
    length, cursor = 0, 0
    while True:
        try:
            parts.append(decoder(view[cursor:], "strict", True)[0])
            break
        except UnicodeDecodeError as error:
            good = decoder(view[cursor : cursor + error.start], "strict", True)[0]
            parts += [good, "\ufffd"]
            length += len(good)
            replaced.append((length, bom + cursor + error.start, bom + cursor + error.end))
            length += 1
            cursor += error.end
    return Decoded("".join(parts), encoding, bom, tuple(replaced), len(data))


class _ByteIndex:
    """Byte offsets of positions in a decoded text, from offsets known every few hundred characters."""

    def __init__(self, decoded: Decoded) -> None:
        self._text, self._encoding = decoded.text, decoded.encoding
        self._positions: list[int] = []
        self._offsets: list[int] = []
        position, offset = 0, decoded.bom
        for replaced_at, start, end in (*decoded.replaced, (len(decoded.text), decoded.size, decoded.size)):
            offset = self._add_run(position, replaced_at, offset)
            self._positions.append(replaced_at)
            self._offsets.append(start)
            position, offset = replaced_at + 1, end

    def _add_run(self, start: int, end: int, offset: int) -> int:
        for chunk in range(start, end, _CHUNK):
            self._positions.append(chunk)
            self._offsets.append(offset)
            offset += len(self._text[chunk : min(chunk + _CHUNK, end)].encode(self._encoding))
        return offset

    def offset(self, position: int) -> int:
        index = bisect.bisect_right(self._positions, position) - 1
        known = self._positions[index]
        return self._offsets[index] + len(self._text[known:position].encode(self._encoding))


def crlf_deletions(text: str) -> Deletions:
    """What making `\\r\\n` line ends `\\n` deletes: each `\\r` of a pair."""
    if "\r\n" not in text:
        return NO_DELETIONS
    return Deletions.of((match.start(), match.start() + 1) for match in _CRLF.finditer(text))


def composed(*steps: Position | Deletions) -> Position:
    """One position map from the steps a text went through, the last step's text first."""
    needed = [step.original if isinstance(step, Deletions) else step for step in steps if step != NO_DELETIONS]
    if len(needed) == 1:
        return needed[0]
    first, then = needed[0], composed(*needed[1:])
    return lambda value: then(first(value))


@dataclass(frozen=True)
class InFile:
    """Where a parser's text is in its post file: the byte offset of each of its positions,
    and the file's bytes."""

    offset: Position
    data: bytes

    def after(self, *steps: Position | Deletions) -> InFile:
        """Where a text made from this one by `steps` (its own first) is in the file."""
        return InFile(composed(*steps, self.offset), self.data)

    def span(self, span: SourceSpan) -> SourceSpan:
        """A span of the parser's text, in the file's bytes."""
        return span.mapped(self.offset, self.data)
