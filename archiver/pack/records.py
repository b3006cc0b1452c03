"""Read a stored answer back from the WARC files: its status, headers and payload."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.model import RecordLocation
from archiver.pack.folder import ARCHIVE_DIR


class UnreadableRecord(Exception):  # noqa: N818 - reads as what it is: `except UnreadableRecord`
    """The record at a location cannot be read as an HTTP response; the message says why."""


@dataclass(frozen=True)
class StoredAnswer:
    """An HTTP response as stored: its status code, its headers and its payload."""

    code: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes  # with chunking and content-encoding undone, as far as it was read

    def header(self, name: str) -> str | None:
        """A response header's value, or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def read_answer(folder: Path, location: RecordLocation, limit: int) -> StoredAnswer:
    """The response stored at `location` in the output folder `folder`, with the first
    `limit` bytes of its payload. Raises UnreadableRecord, naming the file, when the record
    is missing, damaged or not an HTTP response."""
    path = folder / ARCHIVE_DIR / location.filename
    try:
        with path.open("rb") as stream:
            stream.seek(location.offset)
            record = next(iter(ArchiveIterator(stream)))
            headers = record.http_headers
            if headers is None:
                raise ValueError(f"a {record.rec_type} record, not an HTTP response")
            body = record.content_stream().read(limit)
    except (OSError, StopIteration, ArchiveLoadFailed, zlib.error, EOFError, ValueError) as error:
        raise UnreadableRecord(f"{path}: cannot read the record: {error}") from error
    code = int(headers.get_statuscode() or 0) or None
    return StoredAnswer(code, tuple(headers.headers), body)
