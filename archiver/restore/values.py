"""The values a restore works with and answers in: what to restore, and what became of each URL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from archiver.model import ArchiveAnswer, LinkKind, Verdict
from archiver.restore.edit import Edit


@dataclass(frozen=True)
class Scope:
    """What to restore."""

    links: bool = False  # links as well as images
    include_failing: bool = False  # failing as well as dead
    dry_run: bool = False  # look everything up, write nothing


class RestoreState(StrEnum):
    """What restoring one URL came to."""

    RESTORED = "restored"
    REJECTED = "rejected"  # only unusable captures were found
    NOT_FOUND = "not-found"
    UNAVAILABLE = "unavailable"  # a place could not answer, and none had a capture


@dataclass(frozen=True)
class Rejection:
    """A capture that was found and not used, with the reason."""

    source: str
    address: str
    captured_at: str
    reason: str


@dataclass(frozen=True)
class Restoration:
    """What restoring one URL came to."""

    url: str
    kind: LinkKind
    verdict: Verdict
    new_url: str = ""  # what posts now point at; "" when nothing usable was found
    source: str = ""  # where the capture came from
    capture_address: str = ""  # where a reader sees the capture: a memento, or a WARC file and offset
    captured_at: str = ""
    reused: bool = False  # the file was restored by an earlier run
    rejections: tuple[Rejection, ...] = ()
    unavailable: tuple[str, ...] = ()  # places that could not be asked, with why
    renamed_from: str = ""  # the old address the file was found under by its name; "" for the URL itself
    remembered: tuple[str, ...] = ()  # archives not asked: they had no capture when asked not long ago

    @property
    def found_as(self) -> str:
        """How the capture was found, in words: "by file name, from {old URL}", or ""."""
        return f"by file name, from {self.renamed_from}" if self.renamed_from else ""

    @property
    def restored(self) -> bool:
        """A usable capture was found."""
        return bool(self.new_url)

    @property
    def state(self) -> RestoreState:
        """Restored; rejected (only unusable captures); unavailable (a place could not
        answer and none had one); or not found."""
        if self.restored:
            return RestoreState.RESTORED
        if self.rejections:
            return RestoreState.REJECTED
        return RestoreState.UNAVAILABLE if self.unavailable else RestoreState.NOT_FOUND


@dataclass(frozen=True)
class RestoreSummary:
    """What a restore did."""

    restorations: tuple[Restoration, ...]
    edits: tuple[Edit, ...]
    dry_run: bool
    assets: Path
    problems: tuple[str, ...] = ()  # posts that could not be repaired, each with why
    stale_temporaries: int = 0  # temporary files an interrupted restore had left, removed
    answers: tuple[ArchiveAnswer, ...] = ()  # what web archives answered, for the history to remember

    @property
    def changed_posts(self) -> tuple[Edit, ...]:
        """The posts that were (or, in a dry run, would be) changed."""
        return tuple(edit for edit in self.edits if edit.changed)

    def __str__(self) -> str:
        counts = Counter(restoration.state for restoration in self.restorations)
        verb = "would change" if self.dry_run else "changed"
        stale = (
            f"removed {self.stale_temporaries} temporary files an interrupted restore left; "
            if self.stale_temporaries
            else ""
        )
        return (
            f"{stale}{len(self.restorations)} URLs to restore: {counts[RestoreState.RESTORED]} restored, "
            f"{counts[RestoreState.REJECTED]} with only unusable captures, "
            f"{counts[RestoreState.NOT_FOUND]} not found anywhere, "
            f"{counts[RestoreState.UNAVAILABLE]} not asked (archive unavailable); "
            f"{verb} {len(self.changed_posts)} posts"
        )
