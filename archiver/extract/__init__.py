"""Extract: posts -> links. Which URLs does the blog depend on, and where is each cited?

`extract()` reads every post (Markdown with YAML front matter, or HTML), finds each URL
it cites, resolves it against the post's own address, normalises it, and gathers the
citations of one URL from every post into one `Link`. URLs that are not fetched
(`mailto:`, excluded by the config, an anchor on the post itself ...) are kept as
skipped links, each with its reason. Problems with a post are collected, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from archiver.config import ExtractSettings
from archiver.extract.html import page
from archiver.extract.markdown import markdown_references
from archiver.extract.reference import Reference
from archiver.extract.sources import PostSource, discover, front_matter_text, post_date, read_post
from archiver.extract.urls import ResolvedUrl, resolve, site_key
from archiver.model import (
    KIND_PRECEDENCE,
    Extraction,
    Link,
    Occurrence,
    Post,
    Problem,
    Skip,
    SkipReason,
)

__all__ = ["extract"]

_ADDRESS_KEYS = ("link", "permalink", "canonical_url")
_log = logging.getLogger(__name__)


def extract(paths: Iterable[Path], settings: ExtractSettings) -> Extraction:
    """Read every post under `paths` and gather the links they cite.

    Raises InputError only when a given path does not exist; each unreadable or broken
    post becomes a Problem and the others are still read.
    """
    collector = _Collector(settings)
    posts: list[Post] = []
    problems: list[Problem] = []
    for path in discover(paths):
        source = read_post(path, settings.max_post_bytes)
        if isinstance(source, Problem):
            problems.append(source)
            continue
        problems.extend(source.problems)
        post, post_problems = collector.add(source)
        posts.append(post)
        problems.extend(post_problems)
    return Extraction(posts=tuple(posts), links=collector.links(), problems=tuple(problems))


@dataclass(frozen=True)
class _PostReading:
    """A parsed post: its references and the address they resolve against."""

    references: tuple[Reference, ...]
    address: str | None
    base: str | None
    title: str | None


@dataclass
class _Collector:
    """Gathers the occurrences of each URL across posts, in order of first citation."""

    settings: ExtractSettings
    occurrences: dict[tuple[str, Skip | None], list[Occurrence]] = field(default_factory=dict)
    internal: dict[tuple[str, Skip | None], bool] = field(default_factory=dict)

    def add(self, source: PostSource) -> tuple[Post, list[Problem]]:
        reading, problems = _read(source, self.settings.base_url)
        own_url = _own_url(reading.address)
        cited: set[str] = set()
        for reference in reading.references:
            key, occurrence, internal = self._place(source.path, reference, reading, own_url)
            self.occurrences.setdefault(key, []).append(occurrence)
            self.internal[key] = self.internal.get(key, False) or internal
            if key[1] is None:
                cited.add(key[0])
        date = post_date(source)
        return Post(source.path, reading.address, reading.title, date, len(cited)), problems

    def _place(
        self, post: Path, reference: Reference, reading: _PostReading, own_url: str | None
    ) -> tuple[tuple[str, Skip | None], Occurrence, bool]:
        resolved = resolve(reference.url, reading.base)
        occurrence = Occurrence(
            post=post,
            line=reference.line,
            text=reference.text,
            kind=reference.kind,
            form=reference.form,
            source=reference.written or reference.url,
            fragment=resolved.fragment if isinstance(resolved, ResolvedUrl) else "",
        )
        if isinstance(resolved, Skip):
            return (reference.url.strip(), resolved), occurrence, False
        internal = resolved.relative or (reading.base is not None and site_key(resolved.url) == site_key(reading.base))
        return (resolved.url, self._policy(resolved.url, own_url)), occurrence, internal

    def _policy(self, url: str, own_url: str | None) -> Skip | None:
        if url == own_url:
            return Skip(SkipReason.SAME_PAGE, "an anchor on the post itself")
        for pattern in self.settings.exclude:
            if pattern.search(url):
                return Skip(SkipReason.EXCLUDED, f"matches the links.exclude pattern {pattern.pattern}")
        if self.settings.include and not any(p.search(url) for p in self.settings.include):
            return Skip(SkipReason.NOT_INCLUDED, "matches none of links.include")
        return None

    def links(self) -> tuple[Link, ...]:
        return tuple(self._link(key, found) for key, found in self.occurrences.items())

    def _link(self, key: tuple[str, Skip | None], found: list[Occurrence]) -> Link:
        kinds = {occurrence.kind for occurrence in found}
        kind = next(k for k in KIND_PRECEDENCE if k in kinds)
        return Link(url=key[0], kind=kind, internal=self.internal[key], occurrences=tuple(found), skip=key[1])


def _read(source: PostSource, base_url: str | None) -> tuple[_PostReading, list[Problem]]:
    problems: list[Problem] = []
    address = _front_matter_address(source, base_url, problems)
    title = front_matter_text(source, "title")
    try:
        if not source.is_html:
            references = tuple(markdown_references(source.body))
            return _PostReading(references, address, address or base_url, title), problems
        html = page(source.body)
    except Exception as error:  # noqa: BLE001 - a parser crash on one hostile post must not stop the run
        _log.debug("parser failure on %s", source.path, exc_info=True)
        problems.append(Problem(source.path, f"could not be parsed ({type(error).__name__}: {error}); skipped"))
        return _PostReading((), address, address, title), problems
    address = address or _absolute(html.address, base_url)
    base = address or base_url
    if html.base_href and base:
        base = urljoin(base, html.base_href)
    return _PostReading(html.references, address, base, title or html.title), problems


def _front_matter_address(source: PostSource, base_url: str | None, problems: list[Problem]) -> str | None:
    for key in _ADDRESS_KEYS:
        value = front_matter_text(source, key)
        if value is None:
            continue
        address = _absolute(value, base_url)
        if address is None:
            message = f"front-matter {key} {value!r} is not an absolute http(s) URL; ignored"
            problems.append(Problem(source.path, message))
        return address
    return None


def _absolute(url: str | None, base_url: str | None) -> str | None:
    """`url` made absolute against `base_url`; None when it is not an http(s) URL."""
    if not url:
        return None
    resolved = resolve(url, base_url)
    if isinstance(resolved, Skip):
        return None
    return urljoin(base_url, url.strip()) if resolved.relative and base_url else url.strip()


def _own_url(address: str | None) -> str | None:
    if address is None:
        return None
    resolved = resolve(address, None)
    return resolved.url if isinstance(resolved, ResolvedUrl) else None
