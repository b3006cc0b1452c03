"""Repair posts: write a new address in place of a dead URL, or an "archived" link after it.

`plan_edit` reads one post and works out its new bytes from `Replacement`s, each naming
an `Occurrence` the extractor found and the address that repairs it; `apply_edit`
(in `archiver.restore.edit`) writes them. The extractor recorded where each URL's text
is (`Occurrence.span`), what it stands in and where an archived link would go; this
module only chooses the new text: the address escaped for what it stands in, or the
archived link, and splices it in. Front matter, line endings, a byte-order mark, bytes
that are not valid UTF-8 and everything else stay as they were.

A span is trusted only when the post still holds the URL's text at it, and what cites
it starts on the occurrence's line. Planning again on a post repaired since it was read
finds the new address (or an archived link) instead; each earlier repair so found
accounts for the bytes it added, so that the spans after it are looked for where they
moved, and each such replacement is skipped as "already repaired". Nothing is written
at a span that moved: a post changed otherwise since it was read is left to a fresh
extraction.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from archiver.model import Occurrence, SourceSpan, SpanContext
from archiver.restore.edit import Edit, PostBytes, apply_edit

__all__ = ["ALREADY_REPAIRED", "Edit", "Replacement", "apply_edit", "plan_edit"]

ALREADY_REPAIRED = "already repaired"

_HTML_CONTEXTS = frozenset({SpanContext.HTML_ATTRIBUTE, SpanContext.HTML_TEXT})
# The archived links this module writes, one after another, each with its address.
_ARCHIVED_LINK = re.compile(r' \(<a href="(?P<html>[^"]*)">archived</a>\)| \(\[archived\]\((?P<md>[^()\s]*)\)\)')
_ARCHIVED_LINKS_READ = 2000  # characters after an append point where archived links are looked for


@dataclass(frozen=True)
class Replacement:
    """One citation of a dead URL and the address that repairs it."""

    occurrence: Occurrence
    new_url: str
    append: bool = False  # keep the original link and add an "archived" link right after it


def plan_edit(path: Path, replacements: Sequence[Replacement]) -> Edit:
    """Work out how repairing `path` with `replacements` changes it; nothing is written.

    Raises InputError, naming the path, when the post cannot be read.
    """
    post = PostBytes.read(path)
    undecodable = post.undecodable()
    if undecodable:
        reason = f"{undecodable}; left as it is"
        return Edit(path, post.data, post.data, (), tuple((replacement, reason) for replacement in replacements))
    wanted = [_unusable(post, replacement) or _Wanted.of(replacement, post) for replacement in replacements]
    usable = [item for item in wanted if isinstance(item, _Wanted)]
    seen = dict(zip(map(id, usable), _Reading(post).read(usable), strict=True))
    plan = _Plan(post)
    for replacement, item in zip(replacements, wanted, strict=True):
        plan.add(replacement, item if isinstance(item, str) else _splices_for(post, item, seen[id(item)]))
    return Edit(path, post.data, plan.after(), tuple(plan.applied), tuple(plan.skipped))


# What each replacement writes


def _written(address: str, context: SpanContext) -> str:
    """`address` as written where a URL stands in `context`: escaped for HTML, or with what
    would end a Markdown URL percent-encoded."""
    if context in _HTML_CONTEXTS:
        return html.escape(address)
    return _percent_encoded(address, " ()" if context is SpanContext.DESTINATION else " ")


def _archived_link(address: str, context: SpanContext) -> str:
    """The "archived" link added after a construct whose URL stands in `context`."""
    if context in _HTML_CONTEXTS:
        return f' (<a href="{html.escape(address)}">archived</a>)'
    return f" ([archived]({_percent_encoded(address, ' ()')}))"


def _percent_encoded(address: str, characters: str) -> str:
    return "".join(f"%{ord(char):02X}" if char in characters else char for char in address)


@dataclass(frozen=True)
class _Wanted:
    """What one replacement looks for in the post and what it writes there, as bytes."""

    replacement: Replacement
    span: SourceSpan
    new: bytes  # the new address, as written in the span's context
    link: bytes  # the archived link
    link_text: str

    @classmethod
    def of(cls, replacement: Replacement, post: PostBytes) -> _Wanted:
        span = replacement.occurrence.span
        assert span is not None  # _unusable said so
        address = _address_for(replacement, span.written.decode(post.codec.encoding, post.codec.errors))
        new, link = _written(address, span.context), _archived_link(address, span.context)
        return cls(replacement, span, post.codec.encode(new), post.codec.encode(link), link)


def _address_for(replacement: Replacement, written_url: str) -> str:
    """The new address, with the fragment the written URL had."""
    fragment = replacement.occurrence.fragment
    if fragment and written_url.endswith(f"#{fragment}") and "#" not in replacement.new_url:
        return f"{replacement.new_url}#{fragment}"
    return replacement.new_url


def _unusable(post: PostBytes, replacement: Replacement) -> str | None:
    occurrence = replacement.occurrence
    if occurrence.post != post.path and occurrence.post.resolve() != post.path.resolve():
        return f"the occurrence is in {occurrence.post}, not in this post"
    if not occurrence.source.strip():
        return "the occurrence has no URL text"
    if not replacement.new_url.strip() or any(char in replacement.new_url for char in "\r\n"):
        return "the new address is empty or spans lines"
    if occurrence.span is None:
        return f"where the URL text is on line {occurrence.line} is not known"
    return None


# Checking each span against the post as it is now


class _Found(Enum):
    """What stands at a span in the post now."""

    AS_WRITTEN = "as written"  # the URL's text, as when the post was read
    REPAIRED = "repaired"  # the new address
    MISSING = "missing"


@dataclass(frozen=True)
class _At:
    """What stands at one span, and how far it moved since the post was read."""

    found: _Found
    moved: int = 0


_NOTHING = _At(_Found.MISSING)


@dataclass
class _Seen:
    """What one replacement found: at its URL text, at what its link shows, after its append point."""

    url: _At = _NOTHING
    shown: list[_At] = field(default_factory=list)
    links_after: tuple[tuple[str, str], ...] = ()  # archived links there, each with its address
    links_moved: int = 0
    construct_moved: int = 0  # how far what cites the URL moved, when the URL did


@dataclass(frozen=True)
class _Growth:
    """An earlier repair found in the post: from `offset` on (`after` it, for an inserted
    archived link), the post is `added` bytes longer than when it was read."""

    offset: int
    added: int
    after: bool

    def moves(self, offset: int) -> bool:
        return offset > self.offset if self.after else offset >= self.offset


@dataclass
class _Reading:
    """Reads the replacements' spans in the post, in the order they stand in it."""

    post: PostBytes
    _growth: dict[tuple[int, bool], _Growth] = field(default_factory=dict)

    def read(self, wanted: Sequence[_Wanted]) -> list[_Seen]:
        seen = [_Seen() for _ in wanted]
        for _, index, which in sorted(_looks(wanted)):
            item, found = wanted[index], seen[index]
            if which == _POINT:
                found.links_after, found.links_moved = self._links_after(item.span.append_at or 0)
            elif which == _URL:
                found.url = self._text_at(item.span.start, item.span.end, item)
            else:
                found.shown.append(self._text_at(*item.span.shown[which], item))
        for item, found in zip(wanted, seen, strict=True):
            found.construct_moved = self._moved(item.span.construct[0]) if found.url.moved else 0
        return seen

    def _moved(self, offset: int) -> int:
        """How far the repairs found so far moved what was at `offset`."""
        return sum(growth.added for growth in self._growth.values() if growth.moves(offset))

    def _candidates(self, offset: int) -> dict[int, None]:
        """Where a span may stand now: where it was, or moved by the repairs found before it."""
        return dict.fromkeys((0, self._moved(offset)))

    def _text_at(self, start: int, end: int, item: _Wanted) -> _At:
        for moved in self._candidates(start):
            if self.post.holds(start + moved, item.span.written):
                return _At(_Found.AS_WRITTEN, moved)
            if self.post.holds(start + moved, item.new):
                self._growth.setdefault((end, False), _Growth(end, len(item.new) - (end - start), after=False))
                return _At(_Found.REPAIRED, moved)
        return _NOTHING

    def _links_after(self, point: int) -> tuple[tuple[tuple[str, str], ...], int]:
        for moved in self._candidates(point):
            links = _archived_links(self.post.text_from(point + moved, _ARCHIVED_LINKS_READ))
            if links:
                added = len(self.post.codec.encode("".join(link for link, _ in links)))
                self._growth.setdefault((point, True), _Growth(point, added, after=True))
                return links, moved
        return (), 0


_URL, _POINT = -1, -2  # what a look is at, besides the index of a shown text


def _looks(wanted: Sequence[_Wanted]) -> list[tuple[int, int, int]]:
    """Where each replacement looks: (offset, index, what) for its URL text, its append
    point when it adds an archived link, and each text of its link that shows the URL."""
    looks: list[tuple[int, int, int]] = []
    for index, item in enumerate(wanted):
        looks.append((item.span.start, index, _URL))
        if item.replacement.append and item.span.append_at is not None:
            looks.append((item.span.append_at, index, _POINT))
        if not item.replacement.append:
            looks += [(start, index, which) for which, (start, _) in enumerate(item.span.shown)]
    return looks


def _archived_links(text: str) -> tuple[tuple[str, str], ...]:
    """The archived links at the start of `text`, one after another (several URLs may share
    an append point), each with its address."""
    found: list[tuple[str, str]] = []
    position = 0
    while match := _ARCHIVED_LINK.match(text, position):
        found.append((match.group(), html.unescape(match["html"]) if match["html"] is not None else match["md"]))
        position = match.end()
    return tuple(found)


# The plan of changes


@dataclass(frozen=True)
class _Splice:
    """Bytes to put in place of `data[start:end]` (an insertion when they are equal)."""

    start: int
    end: int
    data: bytes

    def overlaps(self, other: _Splice) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass
class _Plan:
    """The splices that repair one post, and which replacements they come from."""

    post: PostBytes
    splices: list[_Splice] = field(default_factory=list)
    applied: list[Replacement] = field(default_factory=list)
    skipped: list[tuple[Replacement, str]] = field(default_factory=list)

    def add(self, replacement: Replacement, made: list[_Splice] | str) -> None:
        if isinstance(made, str):
            self.skipped.append((replacement, made))
            return
        # Several citations may share their splices (one archived link after a link around
        # an image of the same URL): the same splice is made once.
        new = [splice for splice in made if splice not in self.splices]
        if any(splice.overlaps(other) for splice in new for other in self.splices):
            self.skipped.append((replacement, f"overlaps another replacement on line {replacement.occurrence.line}"))
            return
        self.splices.extend(new)
        self.applied.append(replacement)

    def after(self) -> bytes:
        data, parts, cursor = self.post.data, [], 0
        for splice in sorted(self.splices, key=lambda splice: (splice.start, splice.end)):
            parts += [data[cursor : splice.start], splice.data]
            cursor = splice.end
        return b"".join([*parts, data[cursor:]])


def _splices_for(post: PostBytes, item: _Wanted, seen: _Seen) -> list[_Splice] | str:
    """The splices one replacement makes, or why it cannot be made."""
    occurrence, span, url = item.replacement.occurrence, item.span, seen.url
    not_there = f"the URL text is not on line {occurrence.line}"
    if url.found is _Found.MISSING or post.line_at(span.construct[0] + seen.construct_moved) != occurrence.line:
        return not_there
    if item.replacement.append:
        return not_there if url.found is _Found.REPAIRED else _appending(item, seen, not_there)
    if url.found is _Found.REPAIRED:
        return ALREADY_REPAIRED
    if url.moved:
        return not_there  # the post changed before the URL since it was read: the span is stale
    shown = [at for at, found in zip(span.shown, seen.shown, strict=True) if found == _At(_Found.AS_WRITTEN)]
    return [_Splice(start, end, item.new) for start, end in [(span.start, span.end), *shown]]


def _appending(item: _Wanted, seen: _Seen, not_there: str) -> list[_Splice] | str:
    """An archived link after the construct that cites the URL, unless one is there already."""
    point = item.span.append_at
    if point is None:
        return item.span.no_append
    original = item.replacement.occurrence.source
    if any(there == item.link_text or _archives_the_same(address, original) for there, address in seen.links_after):
        return ALREADY_REPAIRED
    if seen.url.moved or seen.links_moved:
        return not_there  # the post changed since it was read: the append point is stale
    return [_Splice(point, point, item.link)]


def _archives_the_same(address: str, original: str) -> bool:
    """An archived link already there points at a capture of the same URL (a Wayback-style
    address ends with it), though perhaps another capture than this restore chose."""
    return bool(original) and address.endswith("/" + original)
