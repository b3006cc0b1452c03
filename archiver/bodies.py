"""Bodies as they came off the wire: undo a gzip or deflate Content-Encoding, within a limit."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

_WINDOWS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_RAW_DEFLATE = -zlib.MAX_WBITS  # what some servers send as "deflate"
_INFLATED_PIECE = 256 * 1024  # the most bytes one decompress call gives


@dataclass(frozen=True)
class Decoded:
    """A body with its content-encoding undone, cut at the limit."""

    data: bytes
    complete: bool  # all that was given decoded within the limit (a cut-off stream counts as given)


def decoded_body(raw: bytes, content_encoding: str | None, limit: int) -> Decoded | None:
    """The first `limit` bytes of a body with its content-encoding undone; None when the
    bytes are not the compressed data the encoding claims. A body without an encoding, or
    with one not known here, is taken as it is."""
    window = _WINDOWS.get((content_encoding or "").strip().lower())
    if window is None:
        return Decoded(raw[:limit], len(raw) <= limit)
    for attempt in (window, _RAW_DEFLATE):
        inflater = zlib.decompressobj(attempt)
        try:
            data = inflater.decompress(raw, limit + 1)
        except zlib.error:
            continue
        return Decoded(data[:limit], len(data) <= limit and not inflater.unconsumed_tail)
    return None


def payload_within(raw: bytes, content_encoding: str | None, limit: int) -> bytes | None:
    """A payload with its content-encoding undone, when it fits in `limit` bytes (None when
    it does not). Bytes that are not the compressed data their encoding claims are taken
    as they came."""
    decoded = decoded_body(raw, content_encoding, limit)
    if decoded is None:
        return raw if len(raw) <= limit else None
    return decoded.data if decoded.complete else None


def decoded_chunks(raw: Iterable[bytes], content_encoding: str | None, limit: int) -> Iterator[bytes]:
    """A body's bytes with its content-encoding undone, piece by piece, `limit` bytes in all.

    As `payload_within` decodes a whole body, so this decodes one read in chunks, holding
    no more than a chunk (and its inflated pieces) at a time: bytes that are not the
    compressed data their encoding claims are taken as they came, and a stream that turns
    out corrupt part way ends there.
    """
    chunks = iter(raw)
    first = next(chunks, b"")
    window = _WINDOWS.get((content_encoding or "").strip().lower())
    inflater = _inflater_for(first, window) if window is not None else None
    pieces = chain([first], chunks) if inflater is None else _inflated(inflater, chain([first], chunks))
    left = limit
    for piece in pieces:
        if left <= 0:
            return
        yield piece[:left]
        left -= len(piece)


def _inflater_for(first: bytes, window: int) -> zlib._Decompress | None:
    """A decompressor for the stream whose first bytes are `first`, or None when no window fits."""
    for attempt in (window, _RAW_DEFLATE):
        try:
            zlib.decompressobj(attempt).decompress(first, _INFLATED_PIECE)
        except zlib.error:
            continue
        return zlib.decompressobj(attempt)
    return None


def _inflated(inflater: zlib._Decompress, chunks: Iterable[bytes]) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield inflater.decompress(chunk, _INFLATED_PIECE)
            while inflater.unconsumed_tail:  # a small chunk can inflate to a great deal
                yield inflater.decompress(inflater.unconsumed_tail, _INFLATED_PIECE)
    except zlib.error:
        return
