"""One capture second per URL key in an output folder, so that a replay address names one capture.

A replay address is `{replay_url}{timestamp}/{url}` with a 14-digit timestamp, and
replay tools find the capture by the URL's SURT key, which leaves out the scheme and a
leading `www.`: `http://example.com/` and `https://www.example.com/` have one key. pywb
2.10 does not tell captures under one key apart by their URL: a replay asks the index
for the key with `closest={timestamp}` (`matchType=exact` means the exact key), sorts the
lines by their distance in seconds alone (a stable sort: ties stay in index order, that
is by the text of the `url` field), never compares the `url` field with the URL asked
for, and serves the first line whose record it can load. Two captures under one key in
one second: the address of the second shows the first, and no address shows the second.

So the packer gives every response and revisit record (each redirect hop is one) a
WARC-Date in a second that no other record of its key in the folder has: the fetch's own
time, or when that second is taken, that time moved forward by as many whole seconds as
needed. Such a record keeps the fetch's own time in an `Archiver-Fetch-Date` field (the
history keeps it as the check's time too); WARC-Date still tells, to within those few
seconds, when the capture was made, and it is what indexes, revisit records and replay
addresses name. The seconds taken are read from every index in the folder (those of
earlier runs included) and kept for the records this packer writes, whose files are
indexed only when they close.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from archiver.pack.folder import index_entries, url_key
from archiver.times import timestamp14, utc_now

_SECOND = dt.timedelta(seconds=1)


class CaptureSeconds:
    """The seconds in which each URL key already has a capture in an output folder."""

    def __init__(self, folder: Path, since: dt.datetime | None = None) -> None:
        """Of the folder's indexes, only lines from `since` (by default, now) on are read,
        until a time before it is claimed: captures are dated when they are fetched."""
        self._folder = folder
        self._since = timestamp14(since or utc_now())
        # The hash of each (key, timestamp) taken, read when first needed: 77 B a record in
        # the set, where the text "{key} {timestamp}" took 147 B. Two pairs that share a hash
        # can only move a capture further forward, never put two in one second. (Hashes of
        # strings differ from process to process: the set is never kept nor sent elsewhere.)
        self._taken: set[int] | None = None

    def claim(self, url: str, when: dt.datetime) -> dt.datetime:
        """`when`, or `when` moved forward by whole seconds into a second where `url`'s key
        has no capture yet (the fewest, but for a rare shared hash); that second is taken
        from now on."""
        if self._taken is None or timestamp14(when) < self._since:
            self._read_indexes(min(self._since, timestamp14(when)))
        assert self._taken is not None
        key = url_key(url)
        while hash((key, timestamp14(when))) in self._taken:
            when += _SECOND
        self._taken.add(hash((key, timestamp14(when))))
        return when

    def _read_indexes(self, since: str) -> None:
        found = {hash((key, rest[:14])) for key, rest in index_entries(self._folder) if rest[:14] >= since}
        self._taken = (self._taken or set()) | found
        self._since = since
