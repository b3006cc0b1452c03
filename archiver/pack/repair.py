"""Finish what a killed run left in the WARC folder, and say which captures were whole.

A killed run leaves its last file under its `.open` name, perhaps torn inside a record.
Repair cuts it after the metadata record that ends its last whole capture, gives it its
final name and an index, and reads those captures back from their records, so that the
history can be brought to agree with the WARC files.
"""

from __future__ import annotations

import datetime as dt
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import OutputError
from archiver.model import FetchResult, Hop, RecordLocation, Status
from archiver.pack.folder import ARCHIVE_DIR, INDEX_DIR, OPEN_SUFFIX, index_into

_REPAIR_CHUNK = 1024 * 1024
_INFLATE_STEP = 4 * 1024 * 1024  # inflate a highly compressed body a few MiB at a time
_HEAD_BYTES = 64 * 1024  # of each record: its WARC headers, and a metadata record's fields


@dataclass
class _Member:
    """One gzip member of a WARC file: one record, with the start of its text."""

    start: int
    end: int
    head: bytes


def repair(folder: Path, keep: Callable[[list[FetchResult]], None] | None = None) -> list[FetchResult]:
    """Finish what a killed run left: cut each `.open` file after its last whole capture,
    give it its final name and an index; index any closed file that lacks one.

    Returns the results of the captures found whole in the repaired files (read from
    their metadata records), so that the history can be brought to agree with them;
    `keep` is given each file's results before the file gets its final name, so that a
    repair killed at any moment is done again by the next, until the history has them.
    """
    archive, recovered = folder / ARCHIVE_DIR, []
    for unfinished in sorted(archive.glob(f"*.warc.gz{OPEN_SUFFIX}")) if archive.is_dir() else []:
        with _finishing(unfinished):
            recovered += _repair_one(unfinished, folder, keep or (lambda _: None))
    for warc in sorted(archive.glob("*.warc.gz")) if archive.is_dir() else []:
        if not (folder / INDEX_DIR / (warc.name + ".cdxj")).exists():
            with _finishing(warc):
                index_into(folder / INDEX_DIR, warc)
    return recovered


@contextmanager
def _finishing(path: Path) -> Iterator[None]:
    """A file that cannot be finished (a full disk) is an OutputError naming it; what is
    on disk stays as it was, for a later run."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"{path}: cannot finish what an interrupted run left: {error.strerror or error}") from error


def _repair_one(unfinished: Path, folder: Path, keep: Callable[[list[FetchResult]], None]) -> list[FetchResult]:
    members = list(_whole_members(unfinished))
    kept = _up_to_last_capture(members)
    if not kept:  # not even its warcinfo record is whole: nothing to keep
        unfinished.unlink()
        return []
    os.truncate(unfinished, kept[-1].end)
    final = unfinished.with_name(unfinished.name.removesuffix(OPEN_SUFFIX))
    captures = _captures_in(kept, final.name)
    keep(captures)
    os.replace(unfinished, final)
    index_into(folder / INDEX_DIR, final)
    return captures


def whole_length(path: Path) -> int:
    """How many bytes at the start of a WARC file are whole gzip members (its records)."""
    return max((member.end for member in _whole_members(path)), default=0)


def _whole_members(path: Path) -> Iterator[_Member]:
    """The gzip members of a file that are complete, in order; a torn last one is left out."""
    with path.open("rb") as stream:
        offset, buffer = 0, b""
        while True:
            inflater, head, consumed = zlib.decompressobj(16 + zlib.MAX_WBITS), b"", 0
            while not inflater.eof:
                if not buffer:
                    buffer = stream.read(_REPAIR_CHUNK)
                    if not buffer:
                        return  # the file ends inside this member: it is torn
                before = len(buffer)
                try:
                    text = inflater.decompress(buffer, _INFLATE_STEP)
                except zlib.error:
                    return  # not a gzip member: garbage after the last whole one
                head += text[: max(0, _HEAD_BYTES - len(head))]
                buffer = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
                consumed += before - len(buffer)
            yield _Member(offset, offset + consumed, head)
            offset += consumed


def _up_to_last_capture(members: list[_Member]) -> list[_Member]:
    """The members up to the metadata record that ends the last whole capture."""
    ends = [i for i, member in enumerate(members) if _warc_headers(member.head).get("warc-type") == "metadata"]
    return members[: ends[-1] + 1] if ends else []


def _captures_in(members: list[_Member], filename: str) -> list[FetchResult]:
    """The links' captures in whole members: each is its exchanges' response (or revisit)
    records, redirect hops first, then the metadata record that ends it."""
    responses: dict[str, tuple[_Member, dict[str, str]]] = {}
    exchanges: list[_Member] = []  # the responses since the last metadata record: this capture's hops
    captures = []
    for member in members:
        headers = _warc_headers(member.head)
        if headers.get("warc-type") in ("response", "revisit"):
            responses[headers.get("warc-record-id", "")] = (member, headers)
            exchanges.append(member)
        elif headers.get("warc-type") == "metadata":
            fields = _fields(member.head)
            hops, exchanges = tuple(map(_hop, exchanges)), []
            if "requisite-of" in fields:  # what a page needs, not a link of the blog
                continue
            response = responses.get(headers.get("warc-concurrent-to", ""))
            captures.append(_recovered(headers, fields, response, filename, hops))
    return captures


def _hop(member: _Member) -> Hop:
    """One exchange of a capture, from its response record: the URL, code and Location."""
    url = _warc_headers(member.head).get("warc-target-uri", "")
    code, headers = _http_head(member.head)
    return Hop(url, code, headers.get("location"))


def _http_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and headers of the HTTP answer a response record holds."""
    block = head.split(b"\r\n\r\n", 2)[1] if head.count(b"\r\n\r\n") >= 2 else b""
    status, *lines = block.decode("latin-1").split("\r\n")
    parts = status.split(" ", 2)
    code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return code, {name.strip().lower(): value.strip() for name, value in pairs}


def _recovered(
    headers: dict[str, str],
    fields: dict[str, str],
    response: tuple[_Member, dict[str, str]] | None,
    filename: str,
    hops: tuple[Hop, ...],
) -> FetchResult:
    location = _location(response[0], response[1], filename) if response else None
    code, url = fields.get("http-status"), headers.get("warc-target-uri", "")
    size = _http_head(response[0].head)[1].get("content-length", "0") if response else "0"
    return FetchResult(
        url=url,
        status=Status(fields.get("fetch-status", Status.NETWORK_ERROR.value)),
        code=int(code) if code and code.isdigit() else None,
        final_url=fields.get("final-url", url),
        hops=hops,
        size=int(size) if size.isdigit() else 0,
        attempts=int(fields.get("attempts", "1")),
        duration=0.0,
        checked_at=dt.datetime.fromisoformat(headers.get("warc-date", "").replace("Z", "+00:00")),
        detail=fields.get("detail", ""),
        payload_digest=response[1].get("warc-payload-digest", "") if response else "",
        stored_at=location,
    )


def _location(member: _Member, headers: dict[str, str], filename: str) -> RecordLocation:
    """Where a final response or revisit record is, and what its WARC headers say of it,
    as the packer told the history when it wrote it."""
    return RecordLocation(
        filename, member.start, member.end - member.start, headers.get("warc-record-id", ""),
        headers.get("warc-date", ""), headers.get("warc-target-uri", ""), headers.get("warc-type") == "revisit",
    )  # fmt: skip


def _warc_headers(head: bytes) -> dict[str, str]:
    block = head.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    pairs = (line.split(":", 1) for line in block.split("\r\n")[1:] if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def _fields(head: bytes) -> dict[str, str]:
    """The `name: value` lines of a metadata record's block (the first of each name)."""
    block = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        name, _, value = line.partition(": ")
        fields.setdefault(name, value)
    return fields
