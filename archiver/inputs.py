"""Inputs: what the command line names -> the posts to read. Files, folders, globs,
standard input, and live pages, sitemaps and feeds.

`parse_inputs` sorts the arguments: an absolute http(s) URL is a page to fetch, `-` is
standard input, a pattern with `*`, `?` or `[` is a glob (`**` crosses folders), and
anything else a file or folder. `read_inputs` reads them all into one `Extraction`.

A URL is fetched through the same guarded fetcher as every link (address policy, body
size limit, retries) and read by what it turns out to be: a sitemap (its pages are
fetched; gzipped too), a sitemap index (its sitemaps, then their pages), an RSS or Atom feed (the
page of each entry), else a post itself (HTML, or Markdown when served as text). Each
page becomes a post whose address is the page's URL, so its relative links resolve as
a browser resolves them. Sitemaps are parsed with defusedxml and feeds with feedparser,
after defusedxml has refused entity declarations, so a hostile document cannot expand
or reach outside; a feed that is not well-formed XML is read by feedparser's loose
parser, as feed readers do. A URL that cannot be fetched or read is a `Problem`, and the rest go on.
"""

from __future__ import annotations

import asyncio
import glob
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from itertools import islice
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

import defusedxml
import defusedxml.ElementTree as SafeElementTree
import feedparser

from archiver import fetch
from archiver.bodies import payload_within
from archiver.config import ExtractSettings, FetchSettings, absolute_http_url
from archiver.extract import extract
from archiver.model import Capture, Extraction, FetchBackend, FetchResult, PostDocument, Problem

STDIN = "-"
STDIN_NAME = Path("<stdin>")
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MAX_LISTED = 50_000  # URLs one sitemap or feed may list (the sitemap protocol's limit)
_FEED_ROOTS = frozenset({"rss", "feed", "RDF"})
_GZIP_MAGIC = b"\x1f\x8b"
_HOSTILE_XML = (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden)


@dataclass(frozen=True)
class Inputs:
    """What the command line names: post paths (globs expanded), URLs, and standard input."""

    paths: tuple[Path, ...] = ()
    urls: tuple[str, ...] = ()
    stdin: bool = False
    problems: tuple[Problem, ...] = ()  # arguments that name nothing

    @property
    def given(self) -> bool:
        """True when the command line names anything to read."""
        return bool(self.paths or self.urls or self.stdin or self.problems)


def parse_inputs(arguments: Sequence[str]) -> Inputs:
    """Sort the command line's inputs; a path that does not exist, or a glob that matches
    nothing, is a problem named by the argument, and the others are kept."""
    paths: list[Path] = []
    urls: list[str] = []
    problems: list[Problem] = []
    for argument in arguments:
        if argument == STDIN:
            continue
        if _is_url(argument):
            urls.append(argument)
        elif glob.has_magic(argument):
            matches = sorted(Path(m) for m in glob.glob(str(Path(argument).expanduser()), recursive=True))
            paths += matches
            problems += [] if matches else [Problem(Path(argument), "the pattern matches no file")]
        elif Path(argument).expanduser().exists():
            paths.append(Path(argument).expanduser())
        else:
            problems.append(Problem(Path(argument), "no such file or folder"))
    return Inputs(tuple(paths), tuple(urls), STDIN in arguments, tuple(problems))


def _is_url(argument: str) -> bool:
    try:
        absolute_http_url(argument)
    except ValueError:
        return False
    return True


def read_inputs(
    inputs: Inputs,
    settings: ExtractSettings,
    fetching: FetchSettings,
    *,
    stdin: IO[bytes] | None = None,
    backend: FetchBackend | None = None,
    redact: Callable[[str], str] = str,
) -> Extraction:
    """Every post the inputs name, read into one extraction: the files, the pages the
    URLs lead to (fetched with `backend`, else a `Fetcher` of `fetching`, and named
    through `redact`, which hides what a URL carries of secrets), and standard input (a
    post, or a list of URLs, one a line) read from `stdin`."""
    documents: list[PostDocument] = []
    problems = list(inputs.problems)
    if inputs.urls:
        pages, unread = asyncio.run(fetch_posts(inputs.urls, fetching, backend, redact, settings.max_post_bytes))
        documents += pages
        problems += unread
    if inputs.stdin and stdin is not None:
        documents.append(stdin_post(stdin.read()))
    extraction = extract(inputs.paths, settings, documents, spans=False)  # a run's or a check's: never rewritten
    return replace(extraction, problems=(*problems, *extraction.problems))


def stdin_post(data: bytes) -> PostDocument:
    """What standard input gave, as a post: HTML when it starts with a tag, else Markdown
    (where a list of URLs, one a line, is a post citing each)."""
    return PostDocument(STDIN_NAME, None, data, data.lstrip().startswith(b"<"))


class _Role(Enum):
    """What a fetched URL may be taken for."""

    GIVEN = "given"  # named on the command line: a page, a sitemap, an index or a feed
    SITEMAP = "sitemap"  # listed by a sitemap index: a sitemap
    PAGE = "page"  # listed by a sitemap or a feed: a post


@dataclass(frozen=True)
class _Listing:
    """The addresses a sitemap, a sitemap index or a feed lists, and what each is."""

    urls: tuple[str, ...]
    role: _Role


async def fetch_posts(
    urls: Iterable[str],
    settings: FetchSettings,
    backend: FetchBackend | None = None,
    redact: Callable[[str], str] = str,
    post_limit: int | None = None,
) -> tuple[list[PostDocument], list[Problem]]:
    """The posts `urls` lead to, fetched round by round (the URLs given, the sitemaps an
    index lists, the pages a sitemap or feed lists), each URL once, each named by
    `page_name` through `redact`; and what could not be fetched or read. A page larger
    than `post_limit` bytes is skipped, as a post file would be; a sitemap or feed lists
    at most `MAX_LISTED` URLs, so do all of them together, and only an index named on the
    command line is followed to its sitemaps (an index a sitemap index lists is not)."""
    documents: list[PostDocument] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    limit = min(settings.max_body_bytes, post_limit or settings.max_body_bytes)
    pending = dict.fromkeys(urls, _Role.GIVEN)
    async with fetch.opened(backend, settings) as fetcher:
        while pending:
            seen.update(pending)
            listed: dict[str, _Role] = {}
            async for capture in fetcher.fetch_all(pending):
                try:
                    found = _read_capture(capture, pending[capture.result.url], limit, redact)
                finally:
                    capture.close()
                if isinstance(found, PostDocument):
                    documents.append(found)
                elif isinstance(found, Problem):
                    problems.append(found)
                else:
                    listed.update((url, found.role) for url in found.urls if url not in seen)
            room = max(0, MAX_LISTED - len(seen))  # in all, the limit of one sitemap
            if len(listed) > room:
                problems.append(Problem(Path("-"), f"the inputs list more than {MAX_LISTED:,} URLs; the rest not read"))
            pending = dict(islice(listed.items(), room))
    return sorted(documents, key=lambda d: d.name.as_posix()), problems


def page_name(url: str, redact: Callable[[str], str] = str) -> Path:
    """What a fetched post is called in messages and reports: its host, path and query
    (never a user or password the URL carries), through `redact`."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return Path(redact(host + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")))


def _read_capture(
    capture: Capture, role: _Role, limit: int, redact: Callable[[str], str]
) -> PostDocument | _Listing | Problem:
    result, final = capture.result, capture.final
    name = page_name(result.url, redact)
    if not result.status.is_ok or final is None:
        return Problem(name, f"{result.url} could not be fetched ({describe(result)}); skipped")
    final.body.seek(0)
    data = payload_within(final.body.read(), final.header("Content-Encoding"), limit)
    if data is not None and data.startswith(_GZIP_MAGIC):  # sitemap.xml.gz, served as a gzip file
        data = payload_within(data, "gzip", limit)
    if data is None or final.truncated:
        return Problem(name, f"{result.url} is larger than fetch.max_body_mb or posts.max_size_mb; skipped")
    content_type = (final.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if role is not _Role.PAGE and _looks_like_xml(data, content_type):
        return _read_listing(data, result.final_url, role, name)
    return PostDocument(name, result.final_url, data, html=not content_type.startswith("text/plain")
                        and not content_type.startswith("text/markdown"))  # fmt: skip


def describe(result: FetchResult) -> str:
    """A failed fetch in a few words: its status, code and detail."""
    code = f" {result.code}" if result.code else ""
    return f"{result.status.value}{code}{f': {result.detail}' if result.detail else ''}"


def _looks_like_xml(data: bytes, content_type: str) -> bool:
    head = data.lstrip()[:200].lower()
    is_xml_type = content_type.endswith("xml") and "html" not in content_type
    return is_xml_type or (head.startswith(b"<?xml") and b"<html" not in head and b"<!doctype html" not in head)


def _read_listing(data: bytes, base: str, role: _Role, name: Path) -> _Listing | PostDocument | Problem:
    """What an XML document lists: a sitemap's pages, an index's sitemaps, a feed's entries.
    An XML document that is none of them is read as a post (XHTML)."""
    try:
        root = SafeElementTree.fromstring(data)
    except _HOSTILE_XML:
        return Problem(name, f"{base} declares XML entities, which are refused; skipped")
    except ElementTree.ParseError as error:
        links = _feed_links(data, base) if role is _Role.GIVEN else []  # feedparser reads a broken feed loosely
        if links:
            return _listing(base, links, _Role.PAGE, name)
        return Problem(name, f"{base} is not well-formed XML ({error}); skipped")
    kind = root.tag.rpartition("}")[2]
    if kind in ("urlset", "sitemapindex"):
        return _sitemap(root, kind, base, role, name)
    if kind in _FEED_ROOTS and role is _Role.GIVEN:
        return _listing(base, _feed_links(data, base), _Role.PAGE, name)
    return PostDocument(name, base, data, html=True)


def _sitemap(root: ElementTree.Element, kind: str, base: str, role: _Role, name: Path) -> _Listing | Problem:
    """The pages a sitemap lists, or the sitemaps of an index named on the command line."""
    if kind == "sitemapindex" and role is not _Role.GIVEN:
        return Problem(name, f"{base} is a sitemap index listed by another; not followed")
    locations = [_text(loc) for loc in root.iter(f"{_SITEMAP_NS}loc")] or [_text(loc) for loc in root.iter("loc")]
    return _listing(base, locations, _Role.SITEMAP if kind == "sitemapindex" else _Role.PAGE, name)


def _listing(base: str, listed: Sequence[str], role: _Role, name: Path) -> _Listing | Problem:
    """What a sitemap, index or feed lists, made absolute; a Problem when it lists more than
    `MAX_LISTED` (the sitemap protocol's own limit)."""
    if len(listed) > MAX_LISTED:
        return Problem(name, f"{base} lists {len(listed):,} URLs, more than {MAX_LISTED:,}; skipped")
    return _Listing(_absolute(base, listed), role)


def _feed_links(data: bytes, base: str) -> list[str]:
    # A file object: given bytes, feedparser first tries them as a file name or a URL to open.
    parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-location": base})
    return [str(entry.get("link", "")) for entry in parsed.entries if entry.get("link")]


def _text(element: ElementTree.Element) -> str:
    return (element.text or "").strip()


def _absolute(base: str, urls: Iterable[str]) -> tuple[str, ...]:
    """The http(s) URLs among `urls`, made absolute against `base`, each once."""
    absolute = (urljoin(base, url) for url in urls if url)
    return tuple(dict.fromkeys(url for url in absolute if _is_url(url)))
