"""The links of an extraction kept in a SQLite file instead of in memory.

A run over a large blog needs its links again and again (links.json, the plan, the
fetch, the WARC metadata of each capture, results.jsonl, the reports), but never all of
them at once: a `LinkStore` takes each post's citations as it is read and gives the
links back one at a time, in the order they were first cited, or one by its URL. At
100,000 links the links and their citations held in memory came to 47 MB; the store
keeps a bounded page cache and its file (a temporary one beside the output, removed
when the store closes, and by the next run if this one is killed).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Collection, Container, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from archiver.atomic import temporary_beside
from archiver.errors import OutputError
from archiver.model import KIND_PRECEDENCE, Form, Link, LinkKind, Occurrence, Post, Problem, Skip, SkipReason

__all__ = ["Citation", "LinkStore", "StoredExtraction"]

STORE_NAME = "links.sqlite"  # what the temporary file is named after, beside the output
_KINDS = tuple(LinkKind)
_BATCH = 2_000  # citations written in one transaction

_SCHEMA = """
CREATE TABLE links (
    id INTEGER PRIMARY KEY,  -- in the order of first citation
    url TEXT NOT NULL UNIQUE,
    internal INTEGER NOT NULL,
    kinds INTEGER NOT NULL,  -- a bit per LinkKind it is cited as
    skip_reason TEXT,
    skip_detail TEXT
);
CREATE TABLE occurrences (
    seq INTEGER PRIMARY KEY,
    link INTEGER NOT NULL,
    post BLOB NOT NULL,  -- the post's path as the file system has it (os.fsencode)
    line INTEGER NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    form TEXT NOT NULL,
    source TEXT,  -- NULL: the URL as written is the link's own
    fragment TEXT NOT NULL
);
CREATE INDEX occurrences_of ON occurrences (link, seq);
"""
_UPSERT = (
    "INSERT INTO links (url, internal, kinds, skip_reason, skip_detail) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (url) DO UPDATE SET internal = internal OR excluded.internal, kinds = kinds | excluded.kinds"
)
_OCCURRENCE = (
    "INSERT INTO occurrences (link, post, line, text, kind, form, source, fragment)"
    " SELECT id, ?, ?, ?, ?, ?, ?, ? FROM links WHERE url = ?"
)
_COLUMNS = (
    "SELECT l.url, l.internal, l.kinds, l.skip_reason, l.skip_detail,"
    " o.post, o.line, o.text, o.kind, o.form, o.source, o.fragment"
    " FROM links l JOIN occurrences o ON o.link = l.id"
)


@dataclass(frozen=True, slots=True)
class Citation:
    """One occurrence of a URL as a post is read: what the link it joins is known as."""

    url: str
    occurrence: Occurrence
    internal: bool
    skip: Skip | None


class LinkStore:
    """Links and their occurrences in a temporary SQLite file in `folder`, made when the
    first citations are written or read (so that reading no post makes no folder).

    Any fault of the file (a full disk, a damaged file) raises OutputError, naming the folder.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._closing = contextlib.ExitStack()
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._posts: dict[bytes, Path] = {}  # one Path per post, shared by its occurrences
        self._pending: list[Citation] = []

    def __enter__(self) -> LinkStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close and remove the file."""
        self._closed = True
        if self._db is not None:
            self._db.close()
            self._db = None
        self._closing.close()

    def cite(self, citations: Iterable[Citation]) -> None:
        """Add citations, in the order the posts cite them: a URL met again gains the
        occurrence, is internal when any citation says so, and keeps its first skip."""
        self._pending.extend(citations)
        if len(self._pending) >= _BATCH:
            self._flush()

    def add(self, link: Link) -> None:
        """Add a whole link (of an extraction made in memory). A link is kept as its
        citations, so one that has none (no extractor makes such a link) is not kept."""
        self.cite(Citation(link.url, occurrence, link.internal, link.skip) for occurrence in link.occurrences)

    def links(self, *, fetchable: bool | None = None) -> Iterator[Link]:
        """The links in the order they were first cited; with `fetchable`, only those that
        are (True) or are not (False) fetched."""
        with self._faults():
            rows = self._read().execute(f"{_COLUMNS}{_where(fetchable, 'l.')} ORDER BY l.id, o.seq")
            for _, group in groupby(rows, key=_url_of):
                yield self._link(list(group))

    def get(self, url: str) -> Link | None:
        """The link of `url`, None when no post cites it."""
        with self._faults():
            rows = self._read().execute(f"{_COLUMNS} WHERE l.url = ? ORDER BY o.seq", (url,)).fetchall()
        return self._link(rows) if rows else None

    def urls(self, *, fetchable: bool | None = None) -> Iterator[str]:
        """The links' URLs (with `fetchable`, as for `links`), in the order first cited."""
        with self._faults():
            for (url,) in self._read().execute(f"SELECT url FROM links{_where(fetchable)} ORDER BY id"):
                yield str(url)

    @property
    def fetched_urls(self) -> Container[str]:
        """The URLs of the links fetched, to ask whether one is (a query each time)."""
        return _FetchedUrls(self)

    def fetches(self, url: str) -> bool:
        """Whether `url` is the URL of a link fetched (cited, and not skipped)."""
        query = "SELECT 1 FROM links WHERE url = ? AND skip_reason IS NULL"
        with self._faults():
            return self._read().execute(query, (url,)).fetchone() is not None

    def count(self, *, fetchable: bool | None = None) -> int:
        """How many links there are (with `fetchable`, as for `links`)."""
        with self._faults():
            return int(self._read().execute(f"SELECT count(*) FROM links{_where(fetchable)}").fetchone()[0])

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise ValueError("the store of links is closed")
        if self._db is None:
            path = self._closing.enter_context(temporary_beside(self._folder / STORE_NAME))
            with self._faults():
                self._db = sqlite3.connect(path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=MEMORY")  # a scratch file: nothing to keep after a crash
                self._db.execute("PRAGMA synchronous=OFF")
                self._db.executescript(_SCHEMA)
        return self._db

    def _read(self) -> sqlite3.Connection:
        """The connection, every citation added so far written."""
        self._flush()
        return self._connection()

    def _flush(self) -> None:
        if not self._pending:
            return
        db = self._connection()
        with self._faults():
            db.execute("BEGIN")
            try:
                db.executemany(_UPSERT, map(_link_row, self._pending))
                db.executemany(_OCCURRENCE, map(_occurrence_row, self._pending))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        self._pending = []

    @contextlib.contextmanager
    def _faults(self) -> Iterator[None]:
        """Faults of the file (or of a text SQLite cannot hold) as OutputError, naming the folder."""
        try:
            yield
        except (sqlite3.Error, UnicodeError) as error:
            raise OutputError(f"{self._folder}: cannot keep the extracted links there: {error}") from error

    def _link(self, rows: list[Any]) -> Link:
        url, internal, kinds, skip_reason, skip_detail = rows[0][:5]
        skip = Skip(SkipReason(skip_reason), skip_detail) if skip_reason is not None else None
        kind = next(k for k in KIND_PRECEDENCE if kinds & (1 << _KINDS.index(k)))
        occurrences = tuple(
            Occurrence(
                self._post(post), line, text, LinkKind(kind_of), Form(form), url if source is None else source, fragment
            )
            for *_, post, line, text, kind_of, form, source, fragment in rows
        )
        return Link(url, kind, bool(internal), occurrences, skip)

    def _post(self, name: bytes) -> Path:
        path = self._posts.get(name)
        if path is None:
            path = self._posts[name] = Path(os.fsdecode(name))
        return path


def _where(fetchable: bool | None, table: str = "") -> str:
    """The condition that keeps the links fetched (True), the skipped ones (False), or all (None)."""
    if fetchable is None:
        return ""
    return f" WHERE {table}skip_reason IS {'' if fetchable else 'NOT '}NULL"


def _url_of(row: Any) -> str:
    return str(row[0])


def _link_row(citation: Citation) -> tuple[object, ...]:
    skip = citation.skip
    kinds = 1 << _KINDS.index(citation.occurrence.kind)
    return (citation.url, citation.internal, kinds, skip.reason.value if skip else None, skip.detail if skip else None)


def _occurrence_row(citation: Citation) -> tuple[object, ...]:
    o = citation.occurrence
    source = None if o.source == citation.url else o.source
    return (os.fsencode(o.post), o.line, o.text, o.kind.value, o.form.value, source, o.fragment, citation.url)


@dataclass(frozen=True)
class _FetchedUrls(Container[str]):
    store: LinkStore

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self.store.fetches(url)


@dataclass(frozen=True)
class _Links(Collection[Link]):
    """The store's links (or its fetched or its skipped ones), gone through as often as
    needed and never held at once."""

    store: LinkStore
    fetchable: bool | None = None

    def __iter__(self) -> Iterator[Link]:
        return self.store.links(fetchable=self.fetchable)

    def __len__(self) -> int:
        return self.store.count(fetchable=self.fetchable)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, Link):
            return False
        found = self.store.get(item.url)
        return found == item and (self.fetchable is None or found.fetchable is self.fetchable)


@dataclass(frozen=True)
class StoredExtraction:
    """An extraction whose links are in a `LinkStore` (see `archiver.model.Extracted`)."""

    posts: tuple[Post, ...]
    problems: tuple[Problem, ...]
    store: LinkStore

    @property
    def links(self) -> Collection[Link]:
        """Every link, in the order of first citation."""
        return _Links(self.store)

    @property
    def fetchable(self) -> Collection[Link]:
        """The links later stages fetch."""
        return _Links(self.store, fetchable=True)

    @property
    def skipped(self) -> Collection[Link]:
        """The links listed but not fetched, each with its reason."""
        return _Links(self.store, fetchable=False)
