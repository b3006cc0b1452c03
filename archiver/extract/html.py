"""Find the URLs an HTML document or fragment cites, with BeautifulSoup.

Used for HTML posts and for the raw HTML inside Markdown. Each element that points
somewhere (`a`, `img` with `srcset`, `iframe`, `video`, `audio`, `source`, `embed`,
`object`, Flash-era `param` ...) gives a `Reference`; bare URLs in text, outside links
and code, are found with linkify-it, the same detector the Markdown parser uses.

Each reference records where its URL's text is in the HTML source: BeautifulSoup gives
where each start tag begins, and the standard library parser's own grammar (the one
BeautifulSoup parses with) finds each attribute's value in the tag.
"""

from __future__ import annotations

import bisect
import html.parser
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from html import unescape
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag
from linkify_it import LinkifyIt

from archiver.extract.positions import InFile
from archiver.extract.reference import Reference, tidy_text
from archiver.model import Form, LinkKind, SourceSpan, SpanContext

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
# The standard library parser's grammar of a start tag, which BeautifulSoup's "html.parser" reads with.
_TAG_NAME: re.Pattern[str] = vars(html.parser)["tagfind_tolerant"]
_TAG_ATTRIBUTE: re.Pattern[str] = vars(html.parser)["attrfind_tolerant"]
_TAG_END: re.Pattern[str] = vars(html.parser)["locatestarttagend_tolerant"]
_VOID_ELEMENTS = frozenset({"img", "embed", "area", "input", "br", "hr", "wbr"})
_MEDIA_CHILDREN = frozenset({"source", "track", "param"})  # shown only through their parent element
URL_ELEMENTS = frozenset({*_SINGLE_URL_ATTRIBUTES, "source", "param"})  # elements whose attributes may cite URLs


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
    """The references in an HTML fragment of a Markdown post that starts on `first_line`."""
    return list(_references(html, parse_html(html), first_line, SpanContext.BARE))


def page(html: str, first_line: int = 1, in_file: InFile | None = None) -> HtmlPage:
    """The references of a whole HTML document, with its `<base>`, address and title;
    spans are in the file's bytes when `in_file` says where `html` is, else in `html`."""
    soup = parse_html(html)
    references = _references(html, soup, first_line, SpanContext.HTML_TEXT)
    if in_file is not None:
        references = (replace(found, span=in_file.span(found.span)) if found.span else found for found in references)
    return HtmlPage(
        references=tuple(references),
        base_href=_attribute(soup.find("base"), "href"),
        address=_canonical_address(soup),
        title=tidy_text(soup.title.get_text()) if soup.title else None,
    )


@dataclass(frozen=True)
class StartTag:
    """Where an element's start tag is in the source, and the value of each attribute
    (without its quotes or surrounding white space)."""

    start: int
    end: int  # just past its `>`
    values: dict[str, tuple[int, int]]


def start_tag(text: str, start: int) -> StartTag | None:
    """The start tag at `start` of `text`, read as the standard library parser reads it."""
    located, name = _TAG_END.match(text, start), _TAG_NAME.match(text, start + 1)
    if located is None or name is None:
        return None
    end = located.end()
    end += 2 if text.startswith("/>", end) else int(text.startswith(">", end))
    values: dict[str, tuple[int, int]] = {}
    position = name.end()
    while position < end and (attribute := _TAG_ATTRIBUTE.match(text, position)):
        if attribute.group(2):
            values[attribute.group(1).lower()] = _unquoted(text, *attribute.span(3))
        position = attribute.end()
    return StartTag(start, end, values)


def _unquoted(text: str, start: int, end: int) -> tuple[int, int]:
    if end - start >= 2 and text[start] in "'\"" and text[end - 1] == text[start]:
        start, end = start + 1, end - 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@dataclass
class ClosingTags:
    """Where the end tags of a source are: the end of the first `</name>` after a point on its line."""

    text: str
    line_starts: list[int]
    _found: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> ClosingTags:
        return cls(text, [0, *(match.end() for match in re.finditer("\n", text))])

    def line_of(self, offset: int) -> int:
        """The line (from 1) that `offset` is on."""
        return bisect.bisect_right(self.line_starts, offset)

    def after(self, name: str, start: int) -> int | None:
        """Just past the first `</name>` from `start` to the end of its line; None when there is none."""
        if name not in self._found:
            closing = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE)
            self._found[name] = [match.end() for match in closing.finditer(self.text)]
        ends = self._found[name]
        index = bisect.bisect_right(ends, start)
        line = self.line_of(start)
        line_end = self.line_starts[line] if line < len(self.line_starts) else len(self.text) + 1
        return ends[index] if index < len(ends) and ends[index] <= line_end else None


@dataclass(frozen=True)
class TagPlace:
    """An element's start tag in its source, and where an archived link would follow the element."""

    source: str
    tag: StartTag
    append_at: int | None
    no_append: str  # why there is no place, when append_at is None
    shown: tuple[tuple[int, int], ...] = ()  # an `<a>`'s text, where it is its `href` as written


def tag_place(closing: ClosingTags, start: int, name: str, in_anchor: bool, first_line: int = 1) -> TagPlace | None:
    """The start tag of element `name` at `start`, and where an archived link goes after it:
    after the element, or after the `<a>` it is in, when the end tag is on the line."""
    tag = start_tag(closing.text, start)
    if tag is None:
        return None
    if name in _MEDIA_CHILDREN:
        return TagPlace(
            closing.text, tag, None, f"the URL is in a <{name}> element, where an archived link would not show"
        )
    end = tag.end if name in _VOID_ELEMENTS else closing.after(name, tag.end)
    if end is not None and in_anchor:
        name, end = "a", closing.after("a", end)
    if end is None:
        line = first_line + closing.line_of(tag.end) - 1
        return TagPlace(closing.text, tag, None, f"the </{name}> ending the element is not on line {line}")
    return TagPlace(closing.text, tag, end, "", _shown_text(closing.text, tag) if name == "a" else ())


def _shown_text(text: str, tag: StartTag) -> tuple[tuple[int, int], ...]:
    """The text of an `<a>` up to the next tag, when it is the `href` as written."""
    if "href" not in tag.values:
        return ()
    following = text.find("<", tag.end)
    start, end = _unquoted(text, tag.end, following if following != -1 else len(text))
    href = text[slice(*tag.values["href"])]
    return ((start, end),) if href and text[start:end] == href else ()


class _SourceIndex:
    """Offsets in the source: where each line and each element starts."""

    def __init__(self, text: str, soup: BeautifulSoup) -> None:
        self.closing = ClosingTags.of(text)
        self._line_starts = self.closing.line_starts
        self.tag_starts = sorted(self.offset_of(tag) for tag in soup.find_all(True))

    def line_of(self, offset: int) -> int:
        return self.closing.line_of(offset)

    def offset_of(self, tag: Tag) -> int:
        line = min(tag.sourceline or 1, len(self._line_starts))
        return self._line_starts[line - 1] + (tag.sourcepos or 0)

    def next_tag_after(self, offset: int, default: int) -> int:
        position = bisect.bisect_right(self.tag_starts, offset)
        return self.tag_starts[position] if position < len(self.tag_starts) else default


def _references(html: str, soup: BeautifulSoup, first_line: int, bare: SpanContext) -> Iterator[Reference]:
    # The parser records where each element starts, but not where text starts (and it
    # folds white-space-only text), so a bare URL is found again in the source, between
    # the element before it and the next one.
    index = _SourceIndex(html, soup)
    allowed = _bare_url_scope()
    in_anchor = _anchor_scope()
    cursor = 0
    for node in soup.descendants:
        if isinstance(node, Tag):
            cursor = max(cursor, index.offset_of(node))
            place = None
            if node.name in URL_ELEMENTS:
                place = tag_place(index.closing, index.offset_of(node), node.name, in_anchor(node), first_line)
            yield from element_references(node, first_line + index.line_of(cursor) - 1, place)
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString) and allowed(node):
            for match in _bare_url_matches(str(node)):
                # an entity such as &amp; is decoded in the text: look for what precedes it
                written = match.raw.split("&", 1)[0]
                limit = index.next_tag_after(cursor, len(html))
                found = html.find(written, cursor, limit)
                cursor = found + len(written) if found != -1 else cursor
                line = first_line + index.line_of(found if found != -1 else cursor) - 1
                span = _bare_span(html, found, limit, match.raw, bare) if found != -1 else None
                yield Reference(match.url, LinkKind.LINK, Form.BARE, line, written=match.raw, span=span)


def _bare_span(html: str, start: int, limit: int, url: str, context: SpanContext) -> SourceSpan | None:
    """The span of a bare URL whose text starts at `start`: `url` as the source writes it."""
    end = start + len(url) if html.startswith(url, start) else _entity_written_end(html, start, limit, url)
    return SourceSpan(start, end, context, (start, end), end) if end is not None else None


def _entity_written_end(html: str, start: int, limit: int, url: str) -> int | None:
    """Where `url` ends in the source when it is written there with entities (`&amp;`)."""
    for end in range(start + len(url), limit + 1):
        if unescape(html[start:end]) == url:
            return end
    return None


class _AncestorAnswer:
    """A yes or no about an element that its nearest deciding ancestor gives: the first
    ancestor whose name is in `deciding` answers `inside`, and an element with none of
    them answers `not inside`. Each element's answer is kept, so deep nesting costs one
    step per node."""

    def __init__(self, deciding: frozenset[str], inside: bool) -> None:
        self._deciding = deciding
        self._inside = inside
        self._known: dict[int, bool] = {}

    def of(self, element: Tag | None) -> bool:
        """The answer for `element` itself and its ancestors."""
        pending: list[Tag] = []
        answer = not self._inside
        while element is not None:
            known = self._known.get(id(element))
            if known is not None or element.name in self._deciding:
                answer = known if known is not None else self._inside
                break
            pending.append(element)
            element = element.parent
        for visited in pending:
            self._known[id(visited)] = answer
        return answer


def _anchor_scope() -> Callable[[Tag], bool]:
    """Whether an element is inside an `<a>`."""
    answers = _AncestorAnswer(frozenset({"a"}), inside=True)
    return lambda tag: answers.of(tag.parent)


def _bare_url_scope() -> Callable[[NavigableString], bool]:
    """Whether text may hold bare URLs: not inside a link, code, a script ... at any depth."""
    answers = _AncestorAnswer(_NO_BARE_URLS, inside=False)
    return lambda node: answers.of(node.parent)


def element_references(tag: Tag, line: int, place: TagPlace | None = None) -> Iterator[Reference]:
    """The references one element makes through its attributes; `place` is where its start
    tag is in the source, for the span of each URL."""
    text = _element_text(tag)
    spans = _AttributeSpans(place)
    for attribute, kind in _SINGLE_URL_ATTRIBUTES.get(tag.name, ()):
        if (value := _attribute(tag, attribute)) is not None:
            yield Reference(value, kind, Form.HTML, line, text, span=spans.of(attribute))
    if tag.name in ("img", "source"):
        kind = LinkKind.IMAGE if tag.name == "img" or _in_picture(tag) else LinkKind.MEDIA
        if tag.name == "source" and (src := _attribute(tag, "src")) is not None:
            yield Reference(src, kind, Form.HTML, line, text, span=spans.of("src"))
        for attribute in _IMAGE_SRCSETS:
            urls = srcset_urls(_attribute(tag, attribute) or "")
            for url, span in zip(urls, spans.of_srcset(attribute, urls), strict=True):
                yield Reference(url, LinkKind.IMAGE, Form.HTML, line, text, span=span)
    flash_movie = tag.name == "param" and (_attribute(tag, "name") or "").lower() in _FLASH_PARAMS
    if flash_movie and (value := _attribute(tag, "value")) is not None:
        yield Reference(value, LinkKind.EMBED, Form.HTML, line, text, span=spans.of("value"))


@dataclass(frozen=True)
class _AttributeSpans:
    """The spans of an element's attribute values, from where its start tag is."""

    place: TagPlace | None

    def of(self, attribute: str, within: tuple[int, int] | None = None) -> SourceSpan | None:
        place = self.place
        value = within or (place.tag.values.get(attribute) if place else None)
        if place is None or value is None:
            return None
        shown = place.shown if attribute == "href" else ()
        construct = (place.tag.start, place.tag.end)
        context = SpanContext.HTML_ATTRIBUTE
        return SourceSpan(*value, context, construct, place.append_at, place.no_append, shown)

    def of_srcset(self, attribute: str, urls: list[str]) -> list[SourceSpan | None]:
        """The span of each URL of a srcset, when the source writes each as its value gives it."""
        value = self.place.tag.values.get(attribute) if self.place else None
        if value is None or self.place is None:
            return [None] * len(urls)
        source = self.place.source
        written = [(value[0] + start, value[0] + end) for start, end in srcset_ranges(source[slice(*value)])]
        if [unescape(source[slice(*span)]) for span in written] != urls:
            return [None] * len(urls)
        return [self.of(attribute, span) for span in written]


def srcset_urls(srcset: str) -> list[str]:
    """The image URLs of a `srcset` value, per the HTML standard's parsing rules.

    A candidate is a URL (a run of non-space characters, with trailing commas cut)
    and optional descriptors up to the next comma outside parentheses.
    """
    return [srcset[start:end] for start, end in srcset_ranges(srcset)]


def srcset_ranges(srcset: str) -> list[tuple[int, int]]:
    """Where each URL of a `srcset` value is in it, as `srcset_urls` reads them."""
    ranges: list[tuple[int, int]] = []
    position, length = 0, len(srcset)
    while position < length:
        while position < length and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < length and not srcset[position].isspace():
            position += 1
        end = position
        if srcset.endswith(",", start, end):
            while end > start and srcset[end - 1] == ",":
                end -= 1
        else:
            position = _skip_descriptors(srcset, position)
        if end > start:
            ranges.append((start, end))
    return ranges


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
