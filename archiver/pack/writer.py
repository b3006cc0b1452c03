"""Write captures into WARC files that standard tools read, and index each file as it closes.

Each file opens with a `warcinfo` record. Each HTTP exchange, redirect hops included,
is a `request` and a `response` record (linked by `WARC-Concurrent-To`, with the peer's
`WARC-IP-Address` and digests); each URL gets a `metadata` record naming the posts that
cite it and how the fetch ended. A page's requisites are written just before it, each
with a metadata record naming the page (`requisite-of`), and the page's metadata lists
every requisite with what became of it (`requisite: URL STATE DETAIL`). The response
body is stored exactly as it came off the wire (content-encoding kept, chunk framing
removed) and the headers are made consistent with it: `Transfer-Encoding` becomes
`X-Orig-Transfer-Encoding` and `Content-Length` is the stored length; a body cut at the
size limit is marked `WARC-Truncated: length`.
Each response or revisit record (and its request) is dated in a second that no other
record of its URL's SURT key in the folder has, so that its replay address names it
alone (`seconds` says why and how).

Each record is its own gzip member, compressed with zlib-ng (the same standard gzip as
zlib's, faster) at `pack.compression_level`: 3 by default, about 1.75 times as fast as
level 6 on real HTML for files about 9% larger (`bench/bench_gzip.py`).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from archiver import __version__
from archiver.atomic import fsync_folder
from archiver.config import PackSettings
from archiver.errors import OutputError
from archiver.model import NOT_MODIFIED, Capture, Exchange, Occurrence, RecordLocation, Requisite
from archiver.pack.folder import ARCHIVE_DIR, INDEX_DIR, OPEN_SUFFIX, index_into
from archiver.pack.seconds import CaptureSeconds
from archiver.times import timestamp14, utc_iso, utc_now

_WARC_VERSION = "1.1"
_NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
_SYNC_SECONDS = 1.0  # a power cut loses at most about this much of what was written
_REPLACED_HEADERS = frozenset({"transfer-encoding", "content-length"})
FETCH_DATE = "Archiver-Fetch-Date"  # the fetch's own time, on a record whose WARC-Date had to move
_GZIP_WBITS = zlib_ng.MAX_WBITS + 16  # a gzip header and trailer around the deflate stream


class WarcPacker:
    """Writes captures into WARC files under `folder`, rotating them at the configured size.
    Each file is indexed as it closes; with `index_last` False, the last (closed by `close`,
    not by rotation) is not, and the caller indexes it (until it has, a later run's repair
    would)."""

    def __init__(
        self, folder: Path, settings: PackSettings, info: dict[str, str] | None = None, *, index_last: bool = True
    ) -> None:
        self._index_last = index_last
        self._archive = folder / ARCHIVE_DIR
        self._indexes = folder / INDEX_DIR
        self._settings = settings
        self._info = {"software": f"archiver/{__version__}", "format": "WARC File Format 1.1",
                      "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                      **(info or {})}  # fmt: skip
        self._serial = 0
        self._file: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._name = ""
        self._synced_at = time.monotonic()
        self._seconds = CaptureSeconds(folder)
        self.closed_files: list[Path] = []
        self.bytes_saved = 0  # payload bytes not stored again thanks to revisit records

    def __enter__(self) -> WarcPacker:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is None:
            self.close()
        else:
            self._abandon()

    def write(
        self,
        capture: Capture,
        cited_by: Sequence[Occurrence],
        previous: RecordLocation | None = None,
        requisite_of: str = "",
    ) -> RecordLocation | None:
        """Write a capture's exchanges and its metadata (the posts citing it, or with
        `requisite_of` the page it is a requisite of; and what became of its requisites);
        where its final response is stored. Its requisites are written by `write_requisite`.

        When `previous` is an earlier full capture of the same payload, the final answer
        is written as a revisit record referring to it instead of storing the body again.
        A final 304 Not Modified (to a conditional request) with `previous` is written as
        a server-not-modified revisit without HTTP headers (the capture's result carrying
        the earlier payload's digest): replay then shows the earlier answer, headers and
        payload, where a 304's own headers would replay as an empty 304. The 304's status
        and validators are kept in the metadata record.
        Raises OutputError, naming the file, when it cannot be written (a full disk).
        """
        with self._writing():
            return self._write(capture, cited_by, previous, requisite_of)

    def _write(
        self, capture: Capture, cited_by: Sequence[Occurrence], previous: RecordLocation | None, requisite_of: str
    ) -> RecordLocation | None:
        writer = self._writer_for_next_record()
        location = None
        for index, exchange in enumerate(capture.exchanges):
            final = index == len(capture.exchanges) - 1
            same = final and previous is not None and previous.can_be_revisited and not exchange.truncated
            unchanged = capture.result.payload_digest if final and exchange.code == NOT_MODIFIED else ""
            location = self._write_exchange(writer, exchange, previous if same else None, unchanged)
        if location is not None and location.revisit:
            self.bytes_saved += capture.exchanges[-1].body_size
        fields = [("requisite-of", requisite_of)] if requisite_of else []
        fields += [("cited-by", f"{o.post.as_posix()}:{o.line}") for o in cited_by]
        fields += [("requisite", _requisite_field(requisite)) for requisite in capture.requisites]
        self._write_metadata(writer, capture, fields, location.record_id if location else None)
        self._flush(sync=time.monotonic() - self._synced_at >= _SYNC_SECONDS)
        return location

    def write_requisite(
        self, capture: Capture, page_url: str, previous: RecordLocation | None = None
    ) -> RecordLocation | None:
        """Write a requisite's exchanges and its metadata, which names the page that needs it
        (so that it is never taken for a link); where its final response is stored."""
        return self.write(replace(capture, requisites=()), (), previous, requisite_of=page_url)

    def close(self) -> None:
        """Close the current file: flush, sync, rename to its final name, index it (unless
        not `index_last`). Raises OutputError, naming the file, when that cannot be done."""
        with self._writing():
            self._close(index=self._index_last)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write (a full disk, an I/O error) into an OutputError naming the file."""
        try:
            yield
        except OSError as error:
            where = self._archive / (self._name + OPEN_SUFFIX) if self._name else self._archive
            raise OutputError(f"{where}: cannot write the WARC file: {error.strerror or error}") from error

    def _close(self, *, index: bool) -> None:
        if self._file is None:
            return
        self._flush(sync=True)
        self._file.close()
        final = self._archive / self._name
        os.replace(self._archive / (self._name + OPEN_SUFFIX), final)
        fsync_folder(self._archive)
        if index:
            self._index(final)
        self.closed_files.append(final)
        self._file = self._writer = None

    def _abandon(self) -> None:
        """Stop writing after a failure: keep what is on disk under its `.open` name, for
        the next run's repair (on a full disk, what is still buffered may not fit)."""
        if self._file is not None:
            with suppress(OSError):
                self._file.close()
            self._file = self._writer = None

    def _writer_for_next_record(self) -> WARCWriter:
        if self._file is not None and self._file.tell() >= self._settings.rotate_bytes:
            with self._writing():
                self._close(index=True)
        if self._writer is None:
            self._open()
        assert self._writer is not None
        return self._writer

    def _open(self) -> None:
        self._archive.mkdir(parents=True, exist_ok=True)
        self._name = self._next_name()
        self._file = open(self._archive / (self._name + OPEN_SUFFIX), "xb")  # noqa: SIM115 - closed in close()
        self._writer = _GzipMemberWriter(self._file, self._settings.compression_level, warc_version=_WARC_VERSION)
        self._writer.write_record(self._writer.create_warcinfo_record(self._name, self._info))

    def _next_name(self) -> str:
        stamp = timestamp14(utc_now())
        host = socket.gethostname().replace("-", "_") or "localhost"
        while True:
            self._serial += 1
            name = f"{self._settings.prefix}-{stamp}-{self._serial:05d}-{host}.warc.gz"
            if not (self._archive / name).exists() and not (self._archive / (name + OPEN_SUFFIX)).exists():
                return name

    def _write_exchange(
        self, writer: WARCWriter, exchange: Exchange, original: RecordLocation | None, unchanged: str = ""
    ) -> RecordLocation:
        """Write an exchange: its response (or, with `original`, a revisit of it; with
        `unchanged`, the digest of the payload a 304 says is unchanged) and its request."""
        common = {**self._dates(exchange), **({"WARC-IP-Address": exchange.peer} if exchange.peer else {})}
        if original is not None and unchanged:
            response = _not_modified(writer, exchange.url, unchanged, original, common)
        elif original is not None:
            response = _revisit(writer, exchange, original, common)
        else:
            response = writer.create_warc_record(
                exchange.url, "response", payload=exchange.body, length=exchange.body_size,
                http_headers=_response_headers(exchange),
                warc_headers_dict={**common, "WARC-Payload-Digest": exchange.payload_digest,
                                   **({"WARC-Truncated": "length"} if exchange.truncated else {})},
            )  # fmt: skip
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request = writer.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(), length=0,
            http_headers=_WireHeaders(f"{exchange.method} {exchange.target} HTTP/1.1",
                                      list(exchange.request_headers), is_http_request=True),
            warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
        )  # fmt: skip
        assert self._file is not None
        offset = self._file.tell()
        writer.write_record(response)
        length = self._file.tell() - offset
        writer.write_record(request)
        date = common["WARC-Date"]
        return RecordLocation(self._name, offset, length, response_id, date, exchange.url, original is not None)

    def _dates(self, exchange: Exchange) -> dict[str, str]:
        """The exchange's WARC-Date, in a second of its own for its URL key, and the
        fetch's own time when that had to move."""
        when = self._seconds.claim(exchange.url, exchange.date)
        moved = {FETCH_DATE: _warc_date(exchange.date)} if when != exchange.date else {}
        return {"WARC-Date": _warc_date(when), **moved}

    def _write_metadata(
        self, writer: WARCWriter, capture: Capture, more: list[tuple[str, str]], response_id: str | None
    ) -> None:
        result = capture.result
        fields = [("fetch-status", result.status.value), ("attempts", str(result.attempts))]
        fields += [("http-status", str(result.code))] if result.code is not None else []
        fields += [("final-url", result.final_url)] if result.final_url != result.url else []
        fields += [("detail", result.detail)] if result.detail else []
        fields += [("etag", result.validators.etag)] if result.validators.etag else []
        fields += [("last-modified", result.validators.last_modified)] if result.validators.last_modified else []
        fields += more
        body = "".join(f"{name}: {_one_line(value)}\r\n" for name, value in fields).encode("utf-8")
        headers = {"WARC-Date": _warc_date(result.checked_at)}
        if response_id is not None:
            headers["WARC-Concurrent-To"] = response_id
        record = writer.create_warc_record(
            result.url, "metadata", payload=io.BytesIO(body), length=len(body),
            warc_content_type="application/warc-fields", warc_headers_dict=headers,
        )  # fmt: skip
        writer.write_record(record)

    def _flush(self, sync: bool) -> None:
        """Hand what was written to the system (enough to survive the process being
        killed); with `sync`, to the disk too (enough to survive a power cut)."""
        if self._file is None:
            return
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
            self._synced_at = time.monotonic()

    def _index(self, warc: Path) -> None:
        index_into(self._indexes, warc)


def _revisit(writer: WARCWriter, exchange: Exchange, original: RecordLocation, common: dict[str, str]) -> Any:
    """A revisit record (identical-payload-digest profile): the headers, and where the payload is."""
    record = writer.create_revisit_record(
        exchange.url, exchange.payload_digest, original.target_uri, original.date,
        http_headers=_response_headers(exchange),
    )  # fmt: skip
    for name, value in {**common, "WARC-Refers-To": original.record_id, "WARC-Truncated": "length"}.items():
        record.rec_headers.replace_header(name, value)
    return record


def _not_modified(writer: WARCWriter, url: str, digest: str, original: RecordLocation, common: dict[str, str]) -> Any:
    """A revisit record (server-not-modified profile) with no HTTP headers, of `original`,
    whose payload has `digest`."""
    record = writer.create_revisit_record(url, digest, original.target_uri, original.date)
    for name, value in {**common, "WARC-Refers-To": original.record_id, "WARC-Profile": _NOT_MODIFIED_PROFILE}.items():
        record.rec_headers.replace_header(name, value)
    return record


class _GzipMember:
    """One record's gzip member, as warcio's GzippingWrapper writes it, compressed by zlib-ng."""

    def __init__(self, out: BinaryIO, level: int) -> None:
        self._out = out
        self._compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, _GZIP_WBITS)

    def write(self, data: bytes) -> None:
        self._out.write(self._compressor.compress(data))

    def flush(self) -> None:
        """End the member (called once, after the record's last bytes)."""
        self._out.write(self._compressor.flush())
        self._out.flush()


class _GzipMemberWriter(WARCWriter):  # type: ignore[misc]
    """warcio's WARC writer, each record written through a `_GzipMember`."""

    def __init__(self, out: BinaryIO, level: int, **options: Any) -> None:
        super().__init__(out, gzip=False, **options)  # the member does the gzip
        self._level = level

    def write_record(self, record: Any, params: object = None) -> None:
        self._write_warc_record(_GzipMember(self.out, self._level), record)


class _WireHeaders(StatusAndHeaders):  # type: ignore[misc]
    """HTTP headers written back as the bytes that came off the wire.

    The fetcher reads header bytes as latin-1, one character a byte; warcio would
    percent-encode any that are not ASCII, which changes what the server sent.
    """

    def to_ascii_bytes(self, filter_func: Callable[..., object] | None = None) -> bytes:
        return bytes(self.to_str(filter_func).encode("latin-1")) + b"\r\n"


def _response_headers(exchange: Exchange) -> StatusAndHeaders:
    headers = [(name, value) for name, value in exchange.response_headers if name.lower() not in _REPLACED_HEADERS]
    headers += [
        ("X-Orig-Transfer-Encoding", v) for k, v in exchange.response_headers if k.lower() == "transfer-encoding"
    ]
    headers.append(("Content-Length", str(exchange.body_size)))
    # replay tools expect HTTP/1.x status lines; an HTTP/2 exchange is stored as 1.1
    return _WireHeaders(f"{exchange.code} {exchange.reason}".strip(), headers, protocol="HTTP/1.1")


def _requisite_field(requisite: Requisite) -> str:
    """A requisite as its metadata line: its address, what became of it, and why."""
    return f"{requisite.url} {requisite.state.value}" + (f" {requisite.detail}" if requisite.detail else "")


def _warc_date(when: dt.datetime) -> str:
    return utc_iso(when, "microseconds", zulu=True)


def _one_line(value: str) -> str:
    return " ".join(value.split())
