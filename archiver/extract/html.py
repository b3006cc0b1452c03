"""Find the URLs an HTML document or fragment cites, with BeautifulSoup.

Used for HTML posts and for the raw HTML inside Markdown. Each element that points
somewhere (`a`, `img` with `srcset`, `iframe`, `video`, `audio`, `source`, `embed`,
`object`, Flash-era `param` ...) gives a `Reference`; bare URLs in text, outside links
and code, are found with linkify-it, the same detector the Markdown parser uses.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag
from linkify_it import LinkifyIt

from archiver.extract.reference import Reference, tidy_text
from archiver.model import Form, LinkKind

# Lazy-loading plugins (common in WordPress) move the real image address into data-*.
_IMAGE_ATTRIBUTES = ("src", "data-src", "data-lazy-src", "data-original")
_IMAGE_SRCSETS = ("srcset", "data-srcset", "data-lazy-srcset")
_SINGLE_URL_ATTRIBUTES: dict[str, tuple[tuple[str, LinkKind], ...]] = {
    "a": (("href", LinkKind.LINK),),
    "area": (("href", LinkKind.LINK),),
    "img": tuple((name, LinkKind.IMAGE) for name in _IMAGE_ATTRIBUTES),
    "iframe": (("src", LinkKind.EMBED),),
    "embed": (("src", LinkKind.EMBED),),
    "object": (("data", LinkKind.EMBED),),
    "video": (("src", LinkKind.MEDIA), ("poster", LinkKind.IMAGE)),
    "audio": (("src", LinkKind.MEDIA),),
    "track": (("src", LinkKind.MEDIA),),
}
_FLASH_PARAMS = frozenset({"movie", "src", "url"})
_LINK_TEXT_LIMIT = 300
_NO_BARE_URLS = frozenset({"a", "code", "pre", "script", "style", "textarea", "kbd", "samp", "title"})


@dataclass(frozen=True)
class HtmlPage:
    """What a whole HTML document says about itself besides its references."""

    references: tuple[Reference, ...]
    base_href: str | None
    address: str | None
    title: str | None


def bare_url_detector() -> LinkifyIt:
    """A linkify-it that finds URLs written with a scheme or starting with `www.`."""
    detector = LinkifyIt()
    detector.set({"fuzzy_email": False})
    return detector


_DETECTOR = bare_url_detector()


def is_written_url(text: str) -> bool:
    """True for text a reader sees as a URL: with a scheme, or starting with `www.`."""
    return "://" in text or text.lower().startswith("www.")


def parse_html(html: str) -> BeautifulSoup:
    """Parse HTML with a parser that records each element's line."""
    return BeautifulSoup(html, "html.parser")


def fragment_references(html: str, first_line: int) -> list[Reference]:
    """The references in an HTML fragment that starts on `first_line` of its post."""
    return list(_references(html, parse_html(html), first_line))


def page(html: str, first_line: int = 1) -> HtmlPage:
    """The references of a whole HTML document, with its `<base>`, address and title."""
    soup = parse_html(html)
    return HtmlPage(
        references=tuple(_references(html, soup, first_line)),
        base_href=_attribute(soup.find("base"), "href"),
        address=_canonical_address(soup),
        title=tidy_text(soup.title.get_text()) if soup.title else None,
    )


class _SourceIndex:
    """Offsets in the source: where each line and each element starts."""

    def __init__(self, text: str, soup: BeautifulSoup) -> None:
        self._line_starts = [0, *(match.end() for match in re.finditer("\n", text))]
        self.tag_starts = sorted(self.offset_of(tag) for tag in soup.find_all(True))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset)

    def offset_of(self, tag: Tag) -> int:
        line = min(tag.sourceline or 1, len(self._line_starts))
        return self._line_starts[line - 1] + (tag.sourcepos or 0)

    def next_tag_after(self, offset: int, default: int) -> int:
        position = bisect.bisect_right(self.tag_starts, offset)
        return self.tag_starts[position] if position < len(self.tag_starts) else default


def _references(html: str, soup: BeautifulSoup, first_line: int) -> Iterator[Reference]:
    # The parser records where each element starts, but not where text starts (and it
    # folds white-space-only text), so a bare URL is found again in the source, between
    # the element before it and the next one.
    index = _SourceIndex(html, soup)
    allowed = _BareUrlScope()
    cursor = 0
    for node in soup.descendants:
        if isinstance(node, Tag):
            cursor = max(cursor, index.offset_of(node))
            yield from element_references(node, first_line + index.line_of(cursor) - 1)
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString) and allowed(node):
            for match in _bare_url_matches(str(node)):
                # an entity such as &amp; is decoded in the text: look for what precedes it
                written = match.raw.split("&", 1)[0]
                found = html.find(written, cursor, index.next_tag_after(cursor, len(html)))
                cursor = found + len(written) if found != -1 else cursor
                line = first_line + index.line_of(found if found != -1 else cursor) - 1
                yield Reference(match.url, LinkKind.LINK, Form.BARE, line, written=match.raw)


class _BareUrlScope:
    """Whether text may hold bare URLs: not inside a link, code, a script ... at any depth.

    Each element's answer is kept, so deep nesting costs one step per text node.
    """

    def __init__(self) -> None:
        self._known: dict[int, bool] = {}

    def __call__(self, node: NavigableString) -> bool:
        return self._element_allows(node.parent)

    def _element_allows(self, element: Tag | None) -> bool:
        pending: list[Tag] = []
        answer = True
        while element is not None:
            known = self._known.get(id(element))
            if known is not None:
                answer = known
                break
            if element.name in _NO_BARE_URLS:
                answer = False
                break
            pending.append(element)
            element = element.parent
        for visited in pending:
            self._known[id(visited)] = answer
        return answer


def element_references(tag: Tag, line: int) -> Iterator[Reference]:
    """The references one element makes through its attributes."""
    text = _element_text(tag)
    for attribute, kind in _SINGLE_URL_ATTRIBUTES.get(tag.name, ()):
        if (value := _attribute(tag, attribute)) is not None:
            yield Reference(value, kind, Form.HTML, line, text)
    if tag.name in ("img", "source"):
        kind = LinkKind.IMAGE if tag.name == "img" or _in_picture(tag) else LinkKind.MEDIA
        if tag.name == "source" and (src := _attribute(tag, "src")) is not None:
            yield Reference(src, kind, Form.HTML, line, text)
        for attribute in _IMAGE_SRCSETS:
            for url in srcset_urls(_attribute(tag, attribute) or ""):
                yield Reference(url, LinkKind.IMAGE, Form.HTML, line, text)
    flash_movie = tag.name == "param" and (_attribute(tag, "name") or "").lower() in _FLASH_PARAMS
    if flash_movie and (value := _attribute(tag, "value")) is not None:
        yield Reference(value, LinkKind.EMBED, Form.HTML, line, text)


def srcset_urls(srcset: str) -> list[str]:
    """The image URLs of a `srcset` value, per the HTML standard's parsing rules.

    A candidate is a URL (a run of non-space characters, with trailing commas cut)
    and optional descriptors up to the next comma outside parentheses.
    """
    urls: list[str] = []
    position, length = 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            position = _skip_descriptors(srcset, position)
        if url:
            urls.append(url)
    return urls


def _skip_descriptors(srcset: str, position: int) -> int:
    depth = 0
    while position < len(srcset):
        char = srcset[position]
        depth += (char == "(") - (char == ")")
        if char == "," and depth <= 0:
            return position + 1
        position += 1
    return position


def _bare_url_matches(text: str) -> list[Any]:
    if "://" not in text and "www." not in text.lower():
        return []
    return [match for match in _DETECTOR.match(text) or () if is_written_url(match.raw)]


def _element_text(tag: Tag) -> str:
    if tag.name in ("a", "area"):
        text = _text_start(tag) or _first_image_alt(tag) or _attribute(tag, "title") or _attribute(tag, "alt")
        return tidy_text(text or "")
    return tidy_text(_attribute(tag, "alt") or _attribute(tag, "title") or "")


def _text_start(tag: Tag) -> str:
    """The first part of an element's text: enough for a link text, bounded however
    much an unclosed `<a>` swallows."""
    parts: list[str] = []
    size = 0
    for node in _first_nodes(tag):
        if isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            parts.append(str(node))
            size += len(node)
            if size >= _LINK_TEXT_LIMIT:
                break
    return " ".join(parts)[:_LINK_TEXT_LIMIT]


def _first_image_alt(tag: Tag) -> str | None:
    """The alt text of an image near the start of an element (a linked image's text)."""
    for node in _first_nodes(tag):
        if isinstance(node, Tag) and node.name == "img":
            return _attribute(node, "alt")
    return None


def _first_nodes(tag: Tag) -> Iterator[PageElement]:
    """An element's first few hundred descendants, in document order.

    Walks the children lists itself: BeautifulSoup's `descendants` first finds the last
    descendant, which on a deep tree of unclosed tags costs the whole tree every time.
    """
    stack: list[PageElement] = list(reversed(tag.contents))
    for _ in range(_LINK_TEXT_LIMIT):
        if not stack:
            return
        node = stack.pop()
        yield node
        if isinstance(node, Tag):
            stack.extend(reversed(node.contents))


def _in_picture(tag: Tag) -> bool:
    return tag.parent is not None and tag.parent.name == "picture"


def _canonical_address(soup: BeautifulSoup) -> str | None:
    for link in soup.find_all("link", href=True):
        if "canonical" in (link.get("rel") or []):
            return _attribute(link, "href")
    return _attribute(soup.find("meta", attrs={"property": "og:url"}), "content")


def _attribute(tag: object, name: str) -> str | None:
    if not isinstance(tag, Tag):
        return None
    value = tag.get(name)
    if isinstance(value, list):  # multi-valued attributes such as class or rel
        value = " ".join(value)
    return value.strip() if value is not None and value.strip() else None
