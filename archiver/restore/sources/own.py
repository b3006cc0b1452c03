"""Our own WARC files as a place to find captures, through the CDXJ index of each."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from archiver.bodies import payload_within
from archiver.model import REDIRECT_CODES, RecordLocation
from archiver.pack import index_entries, read_answer, replay_address, url_key
from archiver.restore.renamed import likeness, name_key
from archiver.restore.sources.base import (
    OWN_ARCHIVE,
    Candidate,
    Lookup,
    Nearest,
    Retrieved,
    Wanted,
    absolute_url,
    parse_timestamp,
)


class OwnArchive:
    """Our own WARC files, found through the CDXJ index of each."""

    def __init__(self, folder: Path, replay_url: str, limit: int) -> None:
        """`folder` is the output folder; `replay_url` where its captures are replayed ("" for
        nowhere); `limit` the most payload bytes read from one capture."""
        self.name = OWN_ARCHIVE
        self._folder = folder
        self._replay_url = replay_url
        self._limit = limit
        self._index: dict[str, list[str]] | None = None
        self._by_name: dict[str, set[str]] | None = None  # index keys by file name (`renamed.name_key`)

    async def prepare(self, wanted: Sequence[Wanted]) -> None:
        """Nothing to ask: the indexes are read once, on the first lookup."""

    async def same_named(self, url: str, near: dt.datetime) -> Lookup:
        """The stored responses of other addresses of the site with the file name of `url`."""
        kept: Nearest[Candidate] = Nearest(near)
        for key in self._names().get(name_key(url), ()):
            for candidate in map(self._candidate, self._entries()[key]):
                if candidate is not None and likeness(url, candidate.url) is not None:
                    kept.add(candidate.when, candidate)
        return Lookup(tuple(kept.items()))

    def _names(self) -> dict[str, set[str]]:
        if self._by_name is None:
            self._by_name = {}
            for key, entries in self._entries().items():
                path = key.partition(")")[2].split("?", 1)[0]
                if entries and path:
                    self._by_name.setdefault(name_key(f"http://x{path}"), set()).add(key)
        return self._by_name

    async def lookup(self, url: str, near: dt.datetime) -> Lookup:
        """The stored responses for `url` nearest `near` (revisits add no payload and are left out)."""
        kept: Nearest[Candidate] = Nearest(near)
        for candidate in map(self._candidate, self._entries().get(url_key(url), [])):
            if candidate is not None:
                kept.add(candidate.when, candidate)
        return Lookup(tuple(kept.items()))

    async def retrieve(self, candidate: Candidate) -> Retrieved:
        """The stored answer of a capture."""
        assert candidate.stored_at is not None, "a capture of the own archive has a record"
        answer = read_answer(self._folder, candidate.stored_at, self._limit + 1)
        if answer.problem:
            return Retrieved(candidate, candidate.when, problem=answer.problem)
        body = payload_within(answer.body, answer.header("Content-Encoding"), self._limit)
        if body is None:
            return Retrieved(candidate, candidate.when, problem=f"the payload is over {self._limit:,} bytes")
        location = answer.header("Location") if answer.code in REDIRECT_CODES else None
        return Retrieved(
            candidate,
            candidate.when,
            code=answer.code,
            content_type=answer.header("Content-Type"),
            body=body,
            redirect_to=absolute_url(candidate.url, location),
        )

    def _entries(self) -> dict[str, list[str]]:
        if self._index is None:
            self._index = {}
            for key, rest in index_entries(self._folder):
                self._index.setdefault(key, []).append(rest)
        return self._index

    def _candidate(self, entry: str) -> Candidate | None:
        timestamp, _, fields = entry.partition(" ")
        try:
            record = json.loads(fields)
            location = RecordLocation(record["filename"], int(record["offset"]), int(record["length"]))
            when = parse_timestamp(timestamp)
        except (ValueError, KeyError, TypeError):
            return None
        if record.get("mime") == "warc/revisit" or "method" in record or "status" not in record:
            return None
        address = replay_address(self._replay_url, timestamp, str(record["url"]))
        return Candidate(str(record["url"]), when, OWN_ARCHIVE, address or f"{location.filename}#{location.offset}",
                         stored_at=location)  # fmt: skip
