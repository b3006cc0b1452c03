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
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from archiver.config import ExtractSettings
from archiver.errors import OutputError
from archiver.extract.html import page
from archiver.extract.markdown import MAX_NESTING, markdown_references
from archiver.extract.positions import InFile
from archiver.extract.reference import Reference
from archiver.extract.sources import PostSource, discover, front_matter_text, post_date, post_source, read_post
from archiver.extract.stored import Citation, LinkStore, StoredExtraction
from archiver.extract.urls import ResolvedUrl, resolve
from archiver.model import (
    KIND_PRECEDENCE,
    Extraction,
    Link,
    Occurrence,
    Post,
    PostDocument,
    Problem,
    Skip,
    SkipReason,
)
from archiver.redact import has_userinfo
from archiver.sites import site_key

__all__ = ["LinkStore", "StoredExtraction", "extract", "extract_stored"]

_ADDRESS_KEYS = ("link", "permalink", "canonical_url")
_log = logging.getLogger(__name__)


def extract(
    paths: Iterable[Path], settings: ExtractSettings, documents: Iterable[PostDocument] = (), *, spans: bool = True
) -> Extraction:
    """Read every post under `paths`, then each post of `documents` (read from bytes: a
    fetched page, standard input), and gather the links they cite. Without `spans`, the
    occurrences do not keep where their text is in the post (`Occurrence.span`, which only
    a rewrite of the post needs: 39 of the 86 MB an extraction of 100,000 links held).

    Raises InputError only when a given path does not exist; each unreadable or broken
    post becomes a Problem and the others are still read.
    """
    held = _InMemory()
    posts, problems = _read_all(paths, documents, _Collector(settings, held, spans))
    return Extraction(posts=posts, links=held.links(), problems=problems)


def extract_stored(
    paths: Iterable[Path], settings: ExtractSettings, store: LinkStore, documents: Iterable[PostDocument] = ()
) -> StoredExtraction:
    """What `extract` finds (without text positions), its links kept in `store` as each
    post is read, so that they are never all in memory.

    Raises InputError only when a given path does not exist, OutputError when the store
    cannot be written.
    """
    posts, problems = _read_all(paths, documents, _Collector(settings, store, spans=False))
    return StoredExtraction(posts=posts, problems=problems, store=store)


def _read_all(
    paths: Iterable[Path], documents: Iterable[PostDocument], collector: _Collector
) -> tuple[tuple[Post, ...], tuple[Problem, ...]]:
    posts: list[Post] = []
    problems: list[Problem] = []
    readers = [(path, partial(_read_post, path)) for path in discover(paths)]
    readers += [(document.name, partial(_read_document, document)) for document in documents]
    for name, read in readers:
        try:
            post, post_problems = read(collector)
        except OutputError:
            raise
        except Exception as error:  # noqa: BLE001 - one hostile post must not stop the run
            _log.debug("failure reading %s", name, exc_info=True)
            post, post_problems = None, [Problem(name, f"could not be read ({type(error).__name__}: {error}); skipped")]
        posts.extend([post] if post else [])
        problems.extend(post_problems)
    return tuple(posts), tuple(problems)


def _read_post(path: Path, collector: _Collector) -> tuple[Post | None, list[Problem]]:
    return _read_source(read_post(path, collector.settings.max_post_bytes), collector, None)


def _read_document(document: PostDocument, collector: _Collector) -> tuple[Post | None, list[Problem]]:
    limit = collector.settings.max_post_bytes
    if len(document.data) > limit:
        return None, [Problem(document.name, f"over posts.max_size_mb ({limit:,} bytes); skipped")]
    return _read_source(post_source(document.name, document.data, document.html), collector, document.address)


def _read_source(
    source: PostSource | Problem, collector: _Collector, address: str | None
) -> tuple[Post | None, list[Problem]]:
    """A post read from its source; `address`, when given, is its own URL (a fetched page's)."""
    if isinstance(source, Problem):
        return None, [source]
    reading, problems = _parse(source, address or collector.settings.base_url)
    if address is not None:
        reading = replace(reading, address=address, site=address)
    cited = collector.add(source, reading)
    post = Post(source.path, reading.address, reading.title, post_date(source), cited)
    return post, [*source.problems, *problems, *_credentials(source, reading)]


def _credentials(source: PostSource, reading: _PostReading) -> list[Problem]:
    """A warning for each URL that names a user or password, which is dropped from it."""
    return [
        Problem(source.path, _CREDENTIAL, reference.line)
        for reference in reading.references
        if has_userinfo(reference.url.strip())
    ]


@dataclass(frozen=True)
class _PostReading:
    """A parsed post: its references, its address, and what they resolve against."""

    references: tuple[Reference, ...]
    address: str | None
    base: str | None  # what relative URLs resolve against (an HTML <base> may move it)
    site: str | None  # the post's own site, for telling internal links from external ones
    title: str | None


class _Sink(Protocol):
    def cite(self, citations: Iterable[Citation]) -> None: ...


@dataclass
class _InMemory:
    """Gathers the occurrences of each URL across posts, in order of first citation."""

    occurrences: dict[str, list[Occurrence]] = field(default_factory=dict)
    internal: dict[str, bool] = field(default_factory=dict)
    skips: dict[str, Skip | None] = field(default_factory=dict)

    def cite(self, citations: Iterable[Citation]) -> None:
        for item in citations:
            self.occurrences.setdefault(item.url, []).append(item.occurrence)
            self.internal[item.url] = self.internal.get(item.url, False) or item.internal
            self.skips.setdefault(item.url, item.skip)

    def links(self) -> tuple[Link, ...]:
        return tuple(self._link(url, found) for url, found in self.occurrences.items())

    def _link(self, url: str, found: list[Occurrence]) -> Link:
        kinds = {occurrence.kind for occurrence in found}
        kind = next(k for k in KIND_PRECEDENCE if k in kinds)
        return Link(url=url, kind=kind, internal=self.internal[url], occurrences=tuple(found), skip=self.skips[url])


@dataclass
class _Collector:
    """Places each post's references and hands them to where the links are gathered."""

    settings: ExtractSettings
    into: _Sink
    spans: bool = True

    def add(self, source: PostSource, reading: _PostReading) -> int:
        """Add a post's references; how many distinct URLs to fetch it cites."""
        own_url = _own_url(reading.address)
        placed = [self._place(source, reference, reading) for reference in reading.references]
        outbound = [p for p in placed if p.url != own_url]  # an anchor on the post itself is not a link out
        self.into.cite(outbound)
        return len({item.url for item in outbound if item.skip is None})

    def _place(self, source: PostSource, reference: Reference, reading: _PostReading) -> Citation:
        resolved = resolve(reference.url, reading.base)
        written = reference.written or reference.url
        occurrence = Occurrence(
            post=source.path,
            line=reference.line,
            text=reference.text,
            kind=reference.kind,
            form=reference.form,
            # most links are written as they are normalised: one string kept for both
            source=resolved.url if isinstance(resolved, ResolvedUrl) and resolved.url == written else written,
            fragment=resolved.fragment if isinstance(resolved, ResolvedUrl) else "",
            span=reference.span if self.spans else None,
        )
        if isinstance(resolved, Skip):
            return Citation(reference.url.strip(), occurrence, False, resolved)
        on_site = reading.site is not None and site_key(resolved.url) == site_key(reading.site)
        return Citation(resolved.url, occurrence, resolved.relative or on_site, self._policy(resolved.url))

    def _policy(self, url: str) -> Skip | None:
        for pattern in self.settings.exclude:
            if pattern.search(url):
                return Skip(SkipReason.EXCLUDED, f"matches the links.exclude pattern {pattern.pattern}")
        if self.settings.include and not any(p.search(url) for p in self.settings.include):
            return Skip(SkipReason.NOT_INCLUDED, "matches none of links.include")
        return None


_CREDENTIAL = "a URL names a user or password (user:password@host); it is neither sent nor stored"
_TOO_DEEP = (f"blockquotes or lists nested more than {MAX_NESTING} levels deep (a list level counts two); "
             "the links inside are not read")  # fmt: skip


def _parse(source: PostSource, base_url: str | None) -> tuple[_PostReading, list[Problem]]:
    problems: list[Problem] = []
    address = _front_matter_address(source, base_url, problems)
    title = front_matter_text(source, "title")
    if not source.is_html:
        cut_lines: list[int] = []
        references = tuple(markdown_references(source.body, InFile(source.origin, source.data), cut_lines))
        problems += [Problem(source.path, _TOO_DEEP, line) for line in cut_lines]
        return _PostReading(references, address, address or base_url, address or base_url, title), problems
    html = page(source.body, in_file=InFile(source.origin, source.data))
    address = address or _absolute(html.address, base_url)
    site = address or base_url
    base = _absolute(html.base_href, site) if html.base_href else site
    return _PostReading(html.references, address, base or site, site, title or html.title), problems


def _front_matter_address(source: PostSource, base_url: str | None, problems: list[Problem]) -> str | None:
    for key in _ADDRESS_KEYS:
        value = front_matter_text(source, key)
        if value is None:
            continue
        address = _absolute(value, base_url)
        if address is not None:
            return address
        problems.append(Problem(source.path, f"front-matter {key} {value!r} is not an absolute http(s) URL; ignored"))
    return None


def _absolute(url: str | None, base_url: str | None) -> str | None:
    """`url` made absolute against `base_url` and normalised; None when it is not an http(s) URL."""
    if not url:
        return None
    resolved = resolve(url, base_url)
    return resolved.url if isinstance(resolved, ResolvedUrl) else None


def _own_url(address: str | None) -> str | None:
    return _absolute(address, None)
