"""Read a stored answer back from the WARC files: its status, headers and payload as stored."""

from __future__ import annotations

import zlib
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.model import RecordLocation, StoredAnswer
from archiver.pack.folder import ARCHIVE_DIR

# What reading a record of a damaged or missing WARC file raises.
READ_FAULTS = (OSError, StopIteration, ArchiveLoadFailed, zlib.error, EOFError, ValueError)


def readable_error(error: BaseException) -> str:
    """An error's message without the raw bytes some WARC readers put in it (a damaged
    file's contents have no place in a message)."""
    text = str(error) or type(error).__name__
    return text if text.isprintable() and len(text) <= 200 else f"{type(error).__name__} (damaged data)"


def read_answer(folder: Path, location: RecordLocation, limit: int) -> StoredAnswer:
    """The response stored at `location` in the output folder `folder`, with the first
    `limit` bytes of its payload as stored (content-encoding kept: `bodies` undoes it).
    A record that is missing, damaged or not an HTTP response is an answer whose
    `problem` names the file and says why."""
    path = folder / ARCHIVE_DIR / location.filename
    try:
        with path.open("rb") as stream:
            stream.seek(location.offset)
            record = next(iter(ArchiveIterator(stream)))
            headers = record.http_headers
            if headers is None:
                raise ValueError(f"a {record.rec_type} record, not an HTTP response")
            body = record.raw_stream.read(limit)
            code = int(headers.get_statuscode() or 0) or None
    except READ_FAULTS as error:
        return StoredAnswer(None, (), b"", problem=f"{path}: cannot read the record: {readable_error(error)}")
    return StoredAnswer(code, tuple(headers.headers), body)
