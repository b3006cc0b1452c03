"""Where captures of a dead URL come from: each place is an `ArchiveSource`.

Two kinds of place are asked, in order: our own WARC files, through their CDXJ indexes
(`own`), and public web archives that speak the Memento protocol (RFC 7089) with
Wayback-style addresses (`memento`: the Internet Archive; pywb), asked through their
CDX server for many URLs at once where they have one (`cdx`). `open_sources` builds
them, in the order they are asked; a new kind of place is a new implementation of
`ArchiveSource`, built there.

A place that cannot answer is a value (`Lookup.problem`), never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from archiver.config import ArchiveSettings
from archiver.model import FetchBackend, Link, LinkKind
from archiver.restore.sources.base import (
    OWN_ARCHIVE,
    ArchiveSource,
    Candidate,
    Lookup,
    Nearest,
    Retrieved,
    Wanted,
    by_preference,
    public_address,
)
from archiver.restore.sources.memento import WebArchive
from archiver.restore.sources.own import OwnArchive

__all__ = [
    "OWN_ARCHIVE",
    "ArchiveSource",
    "Candidate",
    "Lookup",
    "Nearest",
    "OwnArchive",
    "Retrieved",
    "Sources",
    "Wanted",
    "WebArchive",
    "by_preference",
    "open_sources",
]


@dataclass(frozen=True)
class Sources:
    """The places to ask, in order, for an image and for a link."""

    for_images: tuple[ArchiveSource, ...]
    for_links: tuple[ArchiveSource, ...]

    def of(self, link: Link) -> tuple[ArchiveSource, ...]:
        """The places to ask for `link`."""
        return self.for_images if link.kind is LinkKind.IMAGE else self.for_links

    @property
    def places(self) -> tuple[ArchiveSource, ...]:
        """Every place, in the order they are asked."""
        return tuple(dict.fromkeys((*self.for_images, *self.for_links)))


def open_sources(
    folder: Path, replay_url: str, archives: Iterable[ArchiveSettings], backend: FetchBackend, limit: int
) -> Sources:
    """Our own WARC files in the output `folder`, then each web archive; `limit` is the most
    payload bytes read from one capture. A link is only pointed at our own archive when its
    replay address (`replay_url`) is one that readers can reach."""
    own = OwnArchive(folder, replay_url, limit)
    webs = tuple(WebArchive(settings, backend, limit) for settings in archives)
    return Sources((own, *webs), ((own,) if public_address(replay_url) else ()) + webs)
