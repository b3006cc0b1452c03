"""Repair posts: write a new address in place of a dead URL, or an "archived" link after it.

`plan_edit` reads one post and works out its new bytes from `Replacement`s, each naming
an `Occurrence` the extractor found and the address that repairs it; `apply_edit`
writes them. Only the URL text changes, or an archived link is inserted: front matter,
line endings, a byte-order mark, bytes that are not valid UTF-8 and everything else
stay as they were.

A URL is looked for on the line the extractor reported, so a mention of it in code
(which the extractor does not report) is left alone. A few forms put the URL text on
another line: the definition of a reference-style link, a Markdown link whose text is
wrapped over lines, an HTML tag whose attributes are. A replacement that cannot be
placed is skipped with its reason; planning again on a repaired post skips each one as
"already repaired".
"""

from __future__ import annotations

import bisect
import difflib
import functools
import html
import re
import stat
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from archiver.atomic import write_bytes_atomically
from archiver.errors import InputError, OutputError
from archiver.model import Form, Occurrence

ALREADY_REPAIRED = "already repaired"

_Span = tuple[int, int]
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as the extractor counts lines
_HTML_SUFFIXES = (".html", ".htm")
# Characters that carry a URL on, or that may not stand right before one.
_URL_CHARACTERS = frozenset("-_~/#%+=&@$\\")
_TRAILING_PUNCTUATION = frozenset(".,:;!?*'")
_NOT_BEFORE_URL = frozenset("/.-_~%+@&#?\\")
_AMPERSAND = r"(?:&amp;|&#0*38;|&#[xX]0*26;|&)"
_SITE_VARIABLES = re.compile(r"(?:\{\{[ \t]*site\.(?:url|baseurl)[ \t]*\}\})+$")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
_CODE_ELEMENT = re.compile(r"<(code|kbd|samp|tt|pre|script|style|textarea|title)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE)
_DEFINITION = re.compile(r" {0,3}\[((?:[^\[\]\\]|\\.)+)\]:[ \t]*<?")
_LABEL = re.compile(r"\[[^\[\]]*\]")
_LINK_TAIL = re.compile(r"""[ \t]*(?:(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\))[ \t]*)?\)""")
_START_TAG = re.compile(r"""<([a-zA-Z][\w-]*)(?=[\s/>])(?:"[^"]*"|'[^']*'|[^'">])*>""")
_DESTINATION_OPENING = re.compile(r"\]\([ \t]*<?$")
_ARCHIVED_LINK = re.compile(r' \(<a href="(?P<html>[^"]*)">archived</a>\)| \(\[archived\]\((?P<md>[^()\s]*)\)\)')
_ANCHOR_OPENING = re.compile(r"<a[\s>]", re.IGNORECASE)
_ANCHOR_CLOSING = re.compile(r"</a\s*>", re.IGNORECASE)
_VOID_ELEMENTS = frozenset({"img", "embed", "area", "input", "br", "hr", "wbr"})
_MEDIA_CHILDREN = frozenset({"source", "track", "param"})  # shown only through their parent element


@dataclass(frozen=True)
class Replacement:
    """One citation of a dead URL and the address that repairs it."""

    occurrence: Occurrence
    new_url: str
    append: bool = False  # keep the original link and add an "archived" link right after it


@dataclass(frozen=True)
class Edit:
    """What repairing one post changes."""

    path: Path
    before: bytes
    after: bytes
    applied: tuple[Replacement, ...]
    skipped: tuple[tuple[Replacement, str], ...]  # each with the reason

    @property
    def changed(self) -> bool:
        """True when the post's bytes would change."""
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff of the change, for people to read; empty when nothing changes."""
        if not self.changed:
            return ""
        codec = _codec_of(self.before)
        old, new = _display_lines(self.before, codec), _display_lines(self.after, codec)
        name = _shown(self.path)
        lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm="")
        return "\n".join(lines) + "\n"


def plan_edit(path: Path, replacements: Sequence[Replacement]) -> Edit:
    """Work out how repairing `path` with `replacements` changes it; nothing is written.

    Raises InputError, naming the path, when the post cannot be read.
    """
    before = _read(path)
    codec = _codec_of(before)
    try:
        text = codec.decode(before)
    except UnicodeDecodeError:
        reason = f"not valid {codec.encoding.upper()}; left as it is"
        return Edit(path, before, before, (), tuple((replacement, reason) for replacement in replacements))
    plan = _Plan(_Post.of(path, text))
    for replacement in replacements:
        plan.add(replacement)
    after = codec.encode(plan.text()) if plan.splices else before
    return Edit(path, before, after, tuple(plan.applied), tuple(plan.skipped))


def apply_edit(edit: Edit) -> None:
    """Write an edit's new bytes in one step, keeping the file's permission bits.

    An edit that changes nothing writes nothing. Raises OutputError, naming the path,
    when the file cannot be written or no longer holds the bytes the edit was planned on.
    """
    if not edit.changed:
        return
    target = edit.path.resolve()  # through a symbolic link, so the link stays one
    if _bytes_now(edit.path, target) != edit.before:
        raise OutputError(f"{edit.path}: changed since it was read; not rewritten")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError as error:
        raise OutputError(f"{edit.path}: cannot write: {error.strerror or error}") from error
    write_bytes_atomically(target, edit.after, mode)


# Reading and writing bytes


@dataclass(frozen=True)
class _Codec:
    """How a post's bytes become text and back again, byte for byte."""

    bom: bytes
    encoding: str
    errors: str

    def decode(self, data: bytes) -> str:
        return data[len(self.bom) :].decode(self.encoding, self.errors)

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.encoding, self.errors)


_UTF8 = _Codec(b"", "utf-8", "surrogateescape")
_CODECS = (
    _Codec(b"\xef\xbb\xbf", "utf-8", "surrogateescape"),
    _Codec(b"\xff\xfe", "utf-16-le", "surrogatepass"),
    _Codec(b"\xfe\xff", "utf-16-be", "surrogatepass"),
)


def _codec_of(data: bytes) -> _Codec:
    return next((codec for codec in _CODECS if data.startswith(codec.bom)), _UTF8)


def _shown(path: Path) -> str:
    """The path as a diff names it: relative to the current folder when it is inside it."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix().lstrip("/")


def _display_lines(data: bytes, codec: _Codec) -> list[str]:
    lines = _LINE_BREAK.split(data[len(codec.bom) :].decode(codec.encoding, errors="replace"))
    return lines[:-1] if lines[-1] == "" else lines


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror or error}") from error


def _bytes_now(path: Path, target: Path) -> bytes:
    try:
        return target.read_bytes()
    except OSError as error:
        raise OutputError(f"{path}: cannot read it again before writing: {error.strerror or error}") from error


# The post as text, and the plan of changes to it


@dataclass(frozen=True)
class _Post:
    """A post's text and the span of each line, without its line break."""

    path: Path
    text: str
    lines: tuple[_Span, ...]

    @classmethod
    def of(cls, path: Path, text: str) -> _Post:
        starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]
        ends = [match.start() for match in _LINE_BREAK.finditer(text)] + [len(text)]
        return cls(path, text, tuple(zip(starts, ends, strict=True)))

    @property
    def is_html(self) -> bool:
        return self.path.suffix.lower() in _HTML_SUFFIXES

    def line(self, number: int) -> _Span | None:
        """The span of a line, counted from 1; None past the end."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else None

    def line_number_at(self, offset: int) -> int:
        return bisect.bisect_right(self.lines, offset, key=lambda span: span[0])

    def line_around(self, offset: int) -> _Span:
        return self.lines[self.line_number_at(offset) - 1]

    @functools.cached_property
    def definitions(self) -> tuple[tuple[str, int, int], ...]:
        """Each reference definition's label, where its URL may start, and where its line ends."""
        found = ((_DEFINITION.match(self.text, start, end), end) for start, end in self.lines)
        return tuple((match.group(1), match.end(), end) for match, end in found if match)

    def paragraph(self, number: int) -> _Span:
        """From the start of a line to the end of the last line before a blank one."""
        last = number
        while last < len(self.lines) and self.text[slice(*self.lines[last])].strip():
            last += 1
        return self.lines[number - 1][0], self.lines[last - 1][1]


@dataclass(frozen=True)
class _Splice:
    """Text to put in place of `text[start:end]` (an insertion when they are equal)."""

    start: int
    end: int
    text: str

    def overlaps(self, other: _Splice) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass
class _Plan:
    """The splices that repair one post, and which replacements they come from."""

    post: _Post
    splices: list[_Splice] = field(default_factory=list)
    applied: list[Replacement] = field(default_factory=list)
    skipped: list[tuple[Replacement, str]] = field(default_factory=list)

    def add(self, replacement: Replacement) -> None:
        outcome = _splices_for(self.post, replacement)
        if isinstance(outcome, str):
            self.skipped.append((replacement, outcome))
            return
        # Several citations on one line share their splices: the same splice is made once.
        new = [splice for splice in outcome if splice not in self.splices]
        if any(splice.overlaps(other) for splice in new for other in self.splices):
            reason = f"overlaps another replacement on line {replacement.occurrence.line}"
            self.skipped.append((replacement, reason))
            return
        self.splices.extend(new)
        self.applied.append(replacement)

    def text(self) -> str:
        parts: list[str] = []
        cursor = 0
        for splice in sorted(self.splices, key=lambda splice: (splice.start, splice.end)):
            parts += [self.post.text[cursor : splice.start], splice.text]
            cursor = splice.end
        return "".join([*parts, self.post.text[cursor:]])


def _splices_for(post: _Post, replacement: Replacement) -> list[_Splice] | str:
    """The splices one replacement makes, or why it cannot be made."""
    occurrence = replacement.occurrence
    unusable = _unusable(post, replacement)
    if unusable:
        return unusable
    found = _locate(post, occurrence, _written_forms(occurrence.source.strip(), occurrence.form is Form.MARKDOWN))
    if found is None:
        repaired = not replacement.append and _is_repaired(post, replacement)
        return ALREADY_REPAIRED if repaired else f"the URL text is not on line {occurrence.line}"
    citations = _citations(post, occurrence.line, found)
    if replacement.append:
        return _appending(post, replacement, citations)
    return [_replacing(post, replacement, citation) for citation in citations]


def _unusable(post: _Post, replacement: Replacement) -> str | None:
    occurrence = replacement.occurrence
    if occurrence.post != post.path and occurrence.post.resolve() != post.path.resolve():
        return f"the occurrence is in {occurrence.post}, not in this post"
    if not occurrence.source.strip():
        return "the occurrence has no URL text"
    if not replacement.new_url.strip() or _LINE_BREAK.search(replacement.new_url):
        return "the new address is empty or spans lines"
    if replacement.append and occurrence.form is Form.SHORTCODE:
        return "an archived link cannot be added inside a shortcode"
    return None


def _is_repaired(post: _Post, replacement: Replacement) -> bool:
    """True when the new address already stands where the URL text would be."""
    occurrence = replacement.occurrence
    written = sorted({context.written(replacement.new_url) for context in _Context}, key=len, reverse=True)
    fragment = f"(?:#{re.escape(occurrence.fragment)})?" if occurrence.fragment else ""
    pattern = re.compile(f"(?:{'|'.join(map(re.escape, written))}){fragment}")
    return _locate(post, occurrence, _UrlText(pattern)) is not None


# Finding the URL text


@dataclass(frozen=True)
class _UrlText:
    """The ways one URL may be written, found only where it stands as a whole URL."""

    pattern: re.Pattern[str]

    def within(self, text: str, start: int, end: int) -> list[_Span]:
        matches = self.pattern.finditer(text, start, end)
        return [match.span() for match in matches if _stands_alone(text, *match.span())]

    def at(self, text: str, start: int, end: int) -> _Span | None:
        match = self.pattern.match(text, start, end)
        return match.span() if match and _stands_alone(text, *match.span()) else None


@functools.lru_cache(maxsize=1024)
def _written_forms(url: str, markdown: bool) -> _UrlText:
    """`url` as it may be written: `&` as an entity, and in Markdown with backslash escapes."""
    return _UrlText(re.compile("".join(_written_character(char, markdown) for char in url)))


def _written_character(char: str, markdown: bool) -> str:
    written = _AMPERSAND if char == "&" else re.escape(char)
    return rf"\\?{written}" if markdown and char in string.punctuation else written


def _stands_alone(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    return not (before.isalnum() or before in _NOT_BEFORE_URL) and not _continues_url(text, end)


def _continues_url(text: str, position: int) -> bool:
    """True when the URL text goes on at `position`: `.bak`, `s`, `?size=2`, but not `.` at a sentence end."""
    while position < len(text) and text[position] in _TRAILING_PUNCTUATION:
        position += 1
    return position < len(text) and (text[position].isalnum() or text[position] in _URL_CHARACTERS)


@dataclass(frozen=True)
class _Found:
    """Where an occurrence's URL text is: on its line (or in a tag or link wrapped over
    the next lines), and in the definition of a reference-style link used there."""

    spans: tuple[_Span, ...]
    reference: tuple[_Span, _Span] | None = None  # the URL in the definition, and the usage `[text][label]`


def _locate(post: _Post, occurrence: Occurrence, url: _UrlText) -> _Found | None:
    line = post.line(occurrence.line)
    if line is None:
        return None
    spans = _outside_code(post, url.within(post.text, *line), line)
    if occurrence.form is Form.HTML:
        spans = spans or _in_tags_from(post, line, url)
    if occurrence.form is not Form.MARKDOWN:
        return _Found(spans) if spans else None
    spans = spans or _in_wrapped_link(post, occurrence.line, url)
    reference = _in_definition(post, occurrence.line, url)
    return _Found(spans, reference) if spans or reference else None


def _outside_code(post: _Post, spans: list[_Span], line: _Span) -> tuple[_Span, ...]:
    """The spans that are not code on the line."""
    literal = [] if post.is_html else [match.span() for match in _CODE_SPAN.finditer(post.text, *line)]
    elements = [match.span(2) for match in _CODE_ELEMENT.finditer(post.text, *line)]
    return tuple(span for span in spans if not _is_code(post.text, line[0], span, literal, elements))


def _is_code(text: str, line_start: int, span: _Span, literal: list[_Span], elements: list[_Span]) -> bool:
    """True in a Markdown code span (`` `http://…` ``), or in the text (not an attribute) of an HTML `<code>` …"""
    in_element_text = _within(span, elements) and _tag_around(text, line_start, span) is None
    return _within(span, literal) or in_element_text


def _within(span: _Span, ranges: list[_Span]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in ranges)


def _in_tags_from(post: _Post, line: _Span, url: _UrlText) -> tuple[_Span, ...]:
    """The URL in the attributes of HTML tags that start on the line and go on over others."""
    return tuple(span for tag in _start_tags(post.text, *line) for span in url.within(post.text, *tag.span()))


def _start_tags(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    for tag in _START_TAG.finditer(text, start):
        if tag.start() >= end:
            return
        yield tag


def _in_wrapped_link(post: _Post, number: int, url: _UrlText) -> tuple[_Span, ...]:
    """The destination of a Markdown link whose text starts on line `number` and wraps."""
    _, end = post.paragraph(number)
    for span in url.within(post.text, post.lines[number - 1][1], end):
        if _DESTINATION_OPENING.search(post.text, post.line_around(span[0])[0], span[0]):
            return (span,)
    return ()


def _in_definition(post: _Post, number: int, url: _UrlText) -> tuple[_Span, _Span] | None:
    """The URL in a reference definition whose label is used on line `number`, and the usage."""
    area = post.paragraph(number)
    for label, start, end in post.definitions:
        at = url.at(post.text, start, end)
        usage = _usage(post.text, area, label) if at else None
        if at and usage:
            return at, usage
    return None


def _usage(text: str, area: _Span, label: str) -> _Span | None:
    """Where `[text][label]`, `[label][]` or `[label]` stands in `area`, up to its last `]`."""
    words = r"\s+".join(re.escape(word) for word in label.split())
    found = re.compile(rf"\[{words}\]", re.IGNORECASE).search(text, *area)
    if found is None:
        return None
    following = _LABEL.match(text, found.end(), area[1])
    return found.start(), following.end() if following else found.end()


# What stands around a written URL, and how a new address is written there


class _Context(Enum):
    """What a written URL stands in."""

    HTML_ATTRIBUTE = "html-attribute"
    HTML_TEXT = "html-text"  # a bare URL in an HTML post
    DESTINATION = "destination"  # of a Markdown link or image, or of a reference definition
    AUTOLINK = "autolink"
    BARE = "bare"

    @property
    def is_html(self) -> bool:
        return self in (_Context.HTML_ATTRIBUTE, _Context.HTML_TEXT)

    def written(self, address: str) -> str:
        """`address` as written here: escaped for HTML, or with what would end a Markdown URL encoded."""
        if self.is_html:
            return html.escape(address)
        return _percent_encoded(address, " ()" if self is _Context.DESTINATION else " ")

    def archived_link(self, address: str) -> str:
        if self.is_html:
            return f' (<a href="{html.escape(address)}">archived</a>)'
        return f" ([archived]({_percent_encoded(address, ' ()')}))"


@dataclass(frozen=True)
class _Citation:
    """One written URL to repair; a reference definition's comes with the usage `[text][label]`."""

    span: _Span
    context: _Context
    usage: _Span | None = None


def _citations(post: _Post, number: int, found: _Found) -> list[_Citation]:
    line_start = post.lines[number - 1][0]
    citations = [_Citation(span, _context(post, line_start, span)) for span in found.spans]
    if found.reference:
        definition, usage = found.reference
        citations.append(_Citation(definition, _Context.DESTINATION, usage))
    return citations


def _context(post: _Post, line_start: int, span: _Span) -> _Context:
    """What the URL at `span` stands in; `line_start` is where its occurrence's line starts."""
    if _tag_around(post.text, line_start, span) is not None:
        return _Context.HTML_ATTRIBUTE
    if post.is_html:
        return _Context.HTML_TEXT
    start = _with_site_variable(post, span[0])
    if _DESTINATION_OPENING.search(post.text, post.line_around(start)[0], start):
        return _Context.DESTINATION
    if post.text.endswith("<", 0, start) and post.text.startswith(">", span[1]):
        return _Context.AUTOLINK
    return _Context.BARE


def _tag_around(text: str, line_start: int, span: _Span) -> re.Match[str] | None:
    """The HTML start tag that holds `span` and starts on the line at `line_start` or after."""
    return next((tag for tag in _start_tags(text, line_start, span[0] + 1) if tag.end() >= span[1]), None)


def _replacing(post: _Post, replacement: Replacement, citation: _Citation) -> _Splice:
    address = _address_for(replacement, post.text[slice(*citation.span)])
    start = citation.span[0] if post.is_html else _with_site_variable(post, citation.span[0])
    return _Splice(start, citation.span[1], citation.context.written(address))


def _address_for(replacement: Replacement, written: str) -> str:
    """The new address, with the fragment the written URL had."""
    fragment = replacement.occurrence.fragment
    if fragment and written.endswith(f"#{fragment}") and "#" not in replacement.new_url:
        return f"{replacement.new_url}#{fragment}"
    return replacement.new_url


def _with_site_variable(post: _Post, start: int) -> int:
    """Where a URL starts once a Jekyll `{{ site.url }}` written before it is counted in:
    the new address is absolute, and the variable would stand in front of it."""
    variables = _SITE_VARIABLES.search(post.text, post.line_around(start)[0], start)
    return variables.start() if variables else start


def _percent_encoded(address: str, characters: str) -> str:
    return "".join(f"%{ord(char):02X}" if char in characters else char for char in address)


# Adding an archived link


def _appending(post: _Post, replacement: Replacement, citations: list[_Citation]) -> list[_Splice] | str:
    """An archived link after each construct that cites the URL, unless it is there already."""
    links: dict[int, str] = {}
    reasons: list[str] = []
    for citation in citations:
        point = _append_point(post, replacement.occurrence.line, citation)
        if isinstance(point, str):
            reasons.append(point)
            continue
        address = _address_for(replacement, post.text[slice(*citation.span)])
        links.setdefault(point, citation.context.archived_link(address))
    original = replacement.occurrence.source
    new = [
        _Splice(point, point, link)
        for point, link in links.items()
        if not any(
            there == link or _archives_the_same(address, original) for there, address in _archived_links(post, point)
        )
    ]
    if new:
        return new
    return ALREADY_REPAIRED if links else reasons[0]


def _archived_links(post: _Post, point: int) -> list[tuple[str, str]]:
    """The archived links that follow `point`, one after another (several URLs may share a
    point), each with its address."""
    found: list[tuple[str, str]] = []
    while match := _ARCHIVED_LINK.match(post.text, point):
        found.append((match.group(), html.unescape(match["html"]) if match["html"] is not None else match["md"]))
        point = match.end()
    return found


def _archives_the_same(address: str, original: str) -> bool:
    """An archived link already there points at a capture of the same URL (a Wayback-style
    address ends with it), though perhaps another capture than this restore chose."""
    return bool(original) and address.endswith("/" + original)


def _append_point(post: _Post, number: int, citation: _Citation) -> int | str:
    """Where the construct citing the URL ends, or why that is not known."""
    span, context = citation.span, citation.context
    line_start = post.lines[number - 1][0]
    if citation.usage is not None:
        return _markdown_point(post, citation.usage, citation.usage[1])
    if context is _Context.HTML_ATTRIBUTE:
        return _html_point(post, line_start, span)
    if context is _Context.HTML_TEXT:
        return _outside_anchor(post, line_start, span[0], span[1])
    point = _markdown_point(post, span, _markdown_end(post.text, span, context, post.line_around(span[0])[1]))
    return _outside_anchor(post, line_start, span[0], point) if isinstance(point, int) else point


def _markdown_end(text: str, span: _Span, context: _Context, line_end: int) -> int | None:
    """The end of a Markdown link, autolink or bare URL whose URL text is at `span`."""
    if context is _Context.BARE:
        return span[1]
    if context is _Context.AUTOLINK:
        return span[1] + 1
    closes = text.startswith(">", span[1], line_end)
    tail = _LINK_TAIL.match(text, span[1] + 1 if closes else span[1], line_end)
    return tail.end() if tail else None


def _markdown_point(post: _Post, span: _Span, end: int | None) -> int | str:
    """After the construct, or after the link whose text holds it (an image in a link)."""
    line_start, line_end = post.line_around(span[0])
    depth = _bracket_depth(post.text, line_start, span[0])
    if depth:
        end = _enclosing_link_end(post.text, span[1], line_end, depth)
    return end if end is not None else f"the link does not end on line {post.line_number_at(span[0])}"


def _brackets(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Each unescaped `[` (+1) and `]` (-1) in the range, with its offset."""
    for index in range(start, end):
        if text[index] in "[]" and (index == 0 or text[index - 1] != "\\"):
            yield index, 1 if text[index] == "[" else -1


def _bracket_depth(text: str, start: int, end: int) -> int:
    depth = 0
    for _, step in _brackets(text, start, end):
        depth = max(0, depth + step)
    return depth


def _enclosing_link_end(text: str, start: int, end: int, depth: int) -> int | None:
    for index, step in _brackets(text, start, end):
        depth += step
        if depth == 0:
            return _after_link_text(text, index + 1, end)
    return None


def _after_link_text(text: str, start: int, end: int) -> int | None:
    """The end of a link whose text ends just before `start`: `(url "title")`, `[label]` or nothing."""
    if not text.startswith("(", start, end):
        label = _LABEL.match(text, start, end)
        return label.end() if label else start
    tail = _LINK_TAIL.match(text, _destination_end(text, start + 1, end), end)
    return tail.end() if tail else None


def _destination_end(text: str, start: int, end: int) -> int:
    """The end of a link destination: `<…>`, or up to white space or an unbalanced `)`."""
    if text.startswith("<", start, end):
        closing = text.find(">", start, end)
        return closing + 1 if closing != -1 else end
    position, depth = start, 0
    while position < end and not text[position].isspace():
        char = text[position]
        if char == ")" and depth == 0:
            break
        depth += (char == "(") - (char == ")")
        position += 2 if char == "\\" else 1
    return min(position, end)


def _html_point(post: _Post, line_start: int, span: _Span) -> int | str:
    """After the element whose tag holds the URL, or after the `<a>` around it."""
    tag = _tag_around(post.text, line_start, span)
    if tag is None:
        return f"the HTML tag holding the URL does not start on line {post.line_number_at(line_start)}"
    name = tag.group(1).lower()
    if name in _MEDIA_CHILDREN:
        return f"the URL is in a <{name}> element, where an archived link would not show"
    end = tag.end() if name in _VOID_ELEMENTS else _element_end(post, name, tag.end())
    return _outside_anchor(post, line_start, tag.start(), end) if isinstance(end, int) else end


def _outside_anchor(post: _Post, line_start: int, start: int, end: int) -> int | str:
    """`end`, or after the `</a>` of an `<a>` still open at `start`: an archived link may not go inside a link."""
    return _element_end(post, "a", end) if _inside_anchor(post.text, line_start, start) else end


def _element_end(post: _Post, name: str, start: int) -> int | str:
    """After the `</name>` that follows `start` on its line, or why it is not there."""
    end = _closing_tag_end(post, name, start)
    return end if end is not None else f"the </{name}> ending the element is not on line {post.line_number_at(start)}"


def _closing_tag_end(post: _Post, name: str, start: int) -> int | None:
    """The end of `</name>` after `start` on the same line; None when it is not there."""
    closing = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE).search(
        post.text, start, post.line_around(start)[1]
    )
    return closing.end() if closing else None


def _inside_anchor(text: str, start: int, end: int) -> bool:
    """True when an `<a>` opened in the range is still open at its end."""
    opened = [match.start() for match in _ANCHOR_OPENING.finditer(text, start, end)]
    closed = [match.start() for match in _ANCHOR_CLOSING.finditer(text, start, end)]
    return bool(opened) and (not closed or closed[-1] < opened[-1])
