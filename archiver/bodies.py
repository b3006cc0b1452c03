"""Bodies as they came off the wire: undo a gzip or deflate Content-Encoding, within a limit."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

_WINDOWS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_RAW_DEFLATE = -zlib.MAX_WBITS  # what some servers send as "deflate"


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
