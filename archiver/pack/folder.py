"""The WARC folder's layout, and the CDXJ index kept beside each closed file.

archive/{prefix}-{YYYYMMDDhhmmss}-{serial}-{host}.warc.gz   closed, complete files
archive/….warc.gz.open                                      the file being written
indexes/{same name}.cdxj                                    one sorted index per file
"""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import surt
from cdxj_indexer import CDXJIndexer

from archiver.atomic import temporary_beside
from archiver.errors import OutputError
from archiver.redact import holds_redaction

ARCHIVE_DIR = "archive"
INDEX_DIR = "indexes"
OPEN_SUFFIX = ".open"
# Index lines sorted in memory at once; more are sorted in runs on disk and merged (a WARC
# file of 100,000 pages has about 30 MB of them, which would be held all at once).
_SORTED_IN_MEMORY = 4 * 1024 * 1024


def index_into(indexes: Path, warc: Path) -> None:
    """Write the sorted CDXJ index of one WARC file into the `indexes` folder, in one step:
    cdxj-indexer's lines, sorted in bounded memory beside the index."""
    indexes.mkdir(parents=True, exist_ok=True)
    target = indexes / (warc.name + ".cdxj")
    partial = target.with_suffix(".cdxj.tmp")
    try:
        with temporary_beside(target) as unsorted:
            CDXJIndexer(str(unsorted), [str(warc)]).process_all()
            _sort_lines(unsorted, partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk leaves no half index behind
        raise


def index_all(folder: Path, warcs: Iterable[Path]) -> None:
    """`index_into` the output `folder`'s indexes, for each of `warcs` in turn; OutputError,
    naming the file, when an index cannot be written (a full disk)."""
    for warc in warcs:
        try:
            index_into(folder / INDEX_DIR, warc)
        except OSError as error:
            raise OutputError(f"{warc}: cannot index the WARC file: {error.strerror or error}") from error


def _sort_lines(source: Path, target: Path) -> None:
    """`source`'s lines sorted into `target`, a repeated line once (as cdxj-indexer's own
    sort), sorted `_SORTED_IN_MEMORY` bytes at a time into runs beside `target` that are
    then merged: the lines of a large file are never all held at once."""
    with contextlib.ExitStack() as runs, source.open("rb") as lines:
        merged = []
        while chunk := lines.readlines(_SORTED_IN_MEMORY):
            chunk.sort()
            run = runs.enter_context(temporary_beside(target))
            run.write_bytes(b"".join(chunk))
            merged.append(runs.enter_context(run.open("rb")))
        with target.open("wb") as out:
            previous = None
            for line in heapq.merge(*merged):
                if line != previous:
                    out.write(line)
                previous = line


def url_key(url: str) -> str:
    """The key the indexes file a URL under: its SURT, as cdxj-indexer writes it."""
    try:
        return str(surt.surt(url))
    except Exception:  # noqa: BLE001 - surt raises bare exceptions for odd URLs; cdxj-indexer then keys by the URL
        return url


def replay_address(replay_url: str, timestamp: str, url: str) -> str:
    """Where a replay tool at `replay_url` shows the capture of `url` that the indexes list
    at `timestamp` (14 digits); "" when there is no replay tool, or when `url` had a secret
    taken out (the capture is indexed under the exact URL, which is not shown)."""
    return f"{replay_url.rstrip('/')}/{timestamp}/{url}" if replay_url and not holds_redaction(url) else ""


def index_entries(folder: Path) -> Iterator[tuple[str, str]]:
    """Every line of the output folder's CDXJ indexes, as its key (SURT) and the rest."""
    for index in sorted((folder / INDEX_DIR).glob("*.cdxj")):
        try:
            with index.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    key, _, rest = line.rstrip("\n").partition(" ")
                    if rest:
                        yield key, rest
        except OSError:
            continue  # an index that cannot be read hides its captures; the others still count
