"""Find the URLs a Markdown post cites, with the CommonMark parser markdown-it-py.

Links, images, reference-style links, autolinks and bare URLs come from the parser's
tokens; raw HTML (blocks and inline tags) goes to the HTML extractor; WordPress
shortcodes come from the shortcode plugin. Line numbers come from each block's source
map plus the line breaks seen inside it.

Where each URL's text is comes from the parser too: the inline rules that make links,
images, autolinks, bare URLs and raw HTML are wrapped to note the range they consumed
(and markdown-it's own helpers find the destination in it), the reference-definition
rule to note where each definition's URL is. An inline rule reads its block's content,
which has lost the block's indentation, quote markers or table pipes; each content line
is found again on its source line to map positions back.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import normalizeReference
from markdown_it.rules_block import StateBlock, reference
from markdown_it.rules_inline import StateInline, autolink, backtick, html_inline, image, link, linkify
from markdown_it.token import Token

from archiver.extract.html import (
    URL_ELEMENTS,
    ClosingTags,
    TagPlace,
    bare_url_detector,
    element_references,
    fragment_references,
    is_written_url,
    parse_html,
    tag_place,
)
from archiver.extract.positions import NO_DELETIONS, Deletions, InFile, Position
from archiver.extract.reference import Reference, tidy_text
from archiver.extract.shortcodes import shortcode_plugin, stripped_range
from archiver.model import Form, LinkKind, SourceSpan, SpanContext

# Jekyll posts write `{{ site.url }}/assets/...`. The variable stands for the site's
# root, so dropping it leaves a root-relative URL that resolves against the post.
_SITE_VARIABLE = re.compile(r"\{\{[ \t]*site\.(?:url|baseurl)[ \t]*\}\}")
InlineRule = Callable[[StateInline, bool], bool]
BlockRule = Callable[[StateBlock, int, int, bool], bool]
Note = Callable[[StateInline, int, Token], None]
Range = tuple[int, int]
_DEFINITIONS = "archiver_definitions"  # the env key: each reference label's URL range in the source
_BREAKS = frozenset({"softbreak", "hardbreak"})
_CLOSING_ANCHOR = re.compile(r"</a\s*>", re.IGNORECASE)
_OPENING_ANCHOR = re.compile(r"<a[\s>]", re.IGNORECASE)


# Blockquotes and lists nested deeper than this (a list level counts two) are not read,
# and the post gets a warning naming the line: markdown-it parses nesting recursively, and
# 200 levels stay well inside Python's recursion limit (CommonMark's preset stops at 20).
MAX_NESTING = 200
_CUT_LINES = "archiver-cut-lines"  # where the nesting limit cut a post, in the parser's env


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"linkify": True, "maxNesting": MAX_NESTING})
    md.enable(["linkify", "table", "strikethrough"])
    md.block.tokenize = _noting_cuts(md.block.tokenize)  # type: ignore[method-assign,assignment]
    md.linkify = bare_url_detector()
    md.use(shortcode_plugin)
    md.inline.ruler.at("backticks", _keeping_line_count(backtick))
    md.inline.ruler.at("link", _keeping_line_count(link, _noting_link(1)))
    md.inline.ruler.at("image", _keeping_line_count(image, _noting_link(2)))
    for name, rule in (("autolink", autolink), ("html_inline", html_inline), ("linkify", linkify)):
        md.inline.ruler.at(name, _keeping_line_count(rule, _noting_range))
    md.block.ruler.at("reference", _noting_definitions(reference))
    # Keep URLs as written (after Markdown unescaping): no percent-encoding or
    # punycode, and no silent dropping of javascript: or data: links, which the
    # extractor lists as skipped instead.
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.normalizeLinkText = lambda link: link  # type: ignore[method-assign]
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def _noting_cuts(tokenize: Callable[[StateBlock, int, int], None]) -> Callable[[StateBlock, int, int], None]:
    """The block tokenizer, noting the first line of what it skips for being nested too deep."""

    def noting(state: StateBlock, start_line: int, end_line: int) -> None:
        if state.level >= state.md.options.maxNesting:
            line = state.skipEmptyLines(start_line)
            if line < end_line and state.sCount[line] >= state.blkIndent:
                state.env.setdefault(_CUT_LINES, []).append(line + 1)
        tokenize(state, start_line, end_line)

    return noting


def _keeping_line_count(rule: InlineRule, note: Note | None = None) -> InlineRule:
    """Wrap an inline rule so that the line breaks it consumes stay countable.

    Code spans turn line breaks into spaces, and a link's destination, title or
    reference label may span lines without leaving a break token. Whatever the rule
    consumed beyond the breaks its tokens show is noted in the last token's
    `meta["newlines"]`, so that `lines_in` over all tokens counts every source line.
    `note` is told where the rule started and its first token, to note what it consumed.
    """

    def counting(state: StateInline, silent: bool) -> bool:
        start, tokens_before = state.pos, len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > tokens_before:
            shown = sum(lines_in(token) for token in state.tokens[tokens_before:])
            hidden = state.src.count("\n", start, state.pos) - shown
            if hidden > 0:
                last = state.tokens[-1]
                last.meta["newlines"] = last.meta.get("newlines", 0) + hidden
            if note is not None:
                made = (token for token in state.tokens[tokens_before:] if token.type != "text")  # not pending text
                note(state, start, next(made))
        return True

    return counting


def _noting_range(state: StateInline, start: int, token: Token) -> None:
    """Note the range an autolink, a bare URL or an HTML tag takes in the inline source."""
    if token.markup == "linkify":  # the rule starts at `://`, its scheme already read as text
        start = state.pos - len(state.tokens[-2].content)
    token.meta["range"] = (start, state.pos)


def _noting_link(opening: int) -> Note:
    """Note the range of a link (`opening` 1, for `[`) or image (2, `![`), and either where
    its destination is or the label of the reference definition it uses."""

    def note(state: StateInline, start: int, token: Token) -> None:
        end, src = state.pos, state.src
        if token.type == "image":
            label_end = start + opening + len(token.content)  # the image's content is its label
        else:
            old_pos, state.pos = state.pos, start
            label_end = state.md.helpers.parseLinkLabel(state, start, True)
            state.pos = old_pos
        token.meta["range"] = (start, end)
        token.meta["label_range"] = (start + opening, label_end)
        destination = _destination(state, token, label_end + 1, end) if src.startswith("(", label_end + 1) else None
        if destination is not None:
            token.meta["destination"] = destination
            return
        following = src[label_end + 2 : end - 1] if src.startswith("[", label_end + 1) and end > label_end + 1 else ""
        token.meta["label"] = normalizeReference(following or src[start + opening : label_end])

    return note


def _destination(state: StateInline, token: Token, opening: int, end: int) -> Range | None:
    """Where the destination of an inline link whose `(` is at `opening` is, without `<>`."""
    src, position = state.src, opening + 1
    while position < end and src[position] in " \t\n":
        position += 1
    if not src.startswith(")", end - 1):
        return None
    href = str(token.attrs.get("href", token.attrs.get("src", "")))
    if href and src.startswith(href, position) and src[position + len(href)] in " \t\n)":
        return position, position + len(href)  # written as it reads: no escapes, entities or <>
    found = state.md.helpers.parseLinkDestination(src, position, state.posMax)
    if not found.ok or found.pos > end:
        return None
    if src.startswith("<", position):
        return position + 1, found.pos - 1
    return position, found.pos


def _noting_definitions(rule: BlockRule) -> BlockRule:
    """Wrap the reference-definition rule to note where each label's URL is in the source."""

    def noting(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        if not rule(state, start_line, end_line, silent):
            return False
        if not silent:
            _note_definition(state, start_line)
        return True

    return noting


def _note_definition(state: StateBlock, start_line: int) -> None:
    """Read the definition on lines start_line..state.line again, as the rule read them."""
    starts = [state.bMarks[line] + state.tShift[line] for line in range(start_line, state.line)]
    pieces = [
        state.src[start : state.eMarks[line] + 1]
        for start, line in zip(starts, range(start_line, state.line), strict=True)
    ]
    string = "".join(pieces)
    label_end = _definition_label_end(string)
    position = label_end + 2
    while position < len(string) and string[position] in " \t\n":
        position += 1
    found = state.md.helpers.parseLinkDestination(string, position, len(string))
    start, end = (position + 1, found.pos - 1) if string.startswith("<", position) else (position, found.pos)
    offsets = _Pieces(starts, pieces)
    label = normalizeReference(string[1:label_end])
    state.env.setdefault(_DEFINITIONS, {}).setdefault(label, (offsets.source(start), offsets.source(end)))


def _definition_label_end(string: str) -> int:
    position = 1
    while string[position] != "]":
        position += 2 if string[position] == "\\" else 1
    return position


@dataclass(frozen=True)
class _Pieces:
    """Text made of pieces of the source, each starting at a known source offset."""

    starts: list[int]
    pieces: list[str]

    def source(self, position: int) -> int:
        for start, piece in zip(self.starts, self.pieces, strict=True):
            if position <= len(piece):
                return start + position
            position -= len(piece)
        return self.starts[-1] + len(self.pieces[-1])


def lines_in(token: Token) -> int:
    """How many source line breaks a token stands for, its nested tokens included."""
    if token.type in _BREAKS:
        return 1
    count = int(token.meta.get("newlines", 0)) if token.meta else 0
    if token.type in ("html_inline", "wp_shortcode"):
        count += token.content.count("\n")
    return count + sum(lines_in(child) for child in token.children or ())


_PARSER = _parser()


def markdown_references(
    body: str, in_file: InFile | None = None, cut_lines: list[int] | None = None
) -> Iterator[Reference]:
    """The references in a Markdown body; line 1 is the body's first line. Spans are in
    the file's bytes when `in_file` says where `body` is, else in positions of `body`.
    `cut_lines` gets the lines where what is nested deeper than `MAX_NESTING` begins."""
    text, site_variables = _without_site_variables(body)
    in_text = (in_file or InFile(_same, b"")).after(site_variables)
    source = _Source(text)
    env: dict[str, Any] = {}
    tokens = _PARSER.parse(text, env)
    if cut_lines is not None:
        cut_lines += env.get(_CUT_LINES, [])
    definitions = {label: _moved(at, in_text.offset) for label, at in env.get(_DEFINITIONS, {}).items()}
    for token in tokens:
        if token.map is None:
            continue
        first_line = token.map[0] + 1
        if token.type == "inline":
            first_line += _blank_lines_stripped(source.lines, token.map[0], token.map[1])
            origin = source.origin_of(token.content, first_line - 1)
            walk = _InlineWalk(
                first_line, token.content, in_text.after(origin) if origin else None, in_file is not None
            )
            walk.definitions = definitions
            yield from walk.references(token.children or [])
        elif token.type == "html_block":
            origin = source.origin_of(token.content, token.map[0])
            in_block = in_text.after(origin) if origin else None
            for found in fragment_references(token.content, first_line):
                yield replace(found, span=in_block.span(found.span) if found.span and in_block else None)


def _same(position: int) -> int:
    return position


def _without_site_variables(body: str) -> tuple[str, Deletions]:
    if "{{" not in body:
        return body, NO_DELETIONS
    runs = [match.span() for match in _SITE_VARIABLE.finditer(body)]
    return _SITE_VARIABLE.sub("", body), Deletions.of(runs)


def _moved(at: Range, position: Position) -> Range:
    return position(at[0]), position(at[1])


class _Source:
    """The Markdown source as lines, and where a block's content lines are in it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self._taken: dict[int, int] = {}  # how far each line was read: table cells share one

    def origin_of(self, content: str, first_index: int) -> Position | None:
        """Where each position of a block's content is in the source, its first line on
        line `first_index` (from 0); None when a content line is not found on its line."""
        at_content: list[int] = []
        at_source: list[int] = []
        position = 0
        for index, piece in enumerate(content.split("\n"), start=first_index):
            anchors = self._found(piece, index) if index < len(self.lines) else []
            if not anchors:
                return None
            at_content += [position + content_at for content_at, _ in anchors]
            at_source += [source_at for _, source_at in anchors]
            position += len(piece) + 1
        return _Aligned(at_content, at_source).source

    def _found(self, piece: str, index: int) -> list[tuple[int, int]]:
        core = piece.lstrip(" \t")
        lead = len(piece) - len(core)
        start, end = max(self.starts[index], self._taken.get(index, 0)), self.starts[index] + len(self.lines[index])
        found = self.text.find(core, start, end)
        anchors = [(lead, found)] if found != -1 else _with_escaped_pipes(self.text, core, start, end, lead)
        if anchors:
            self._taken[index] = anchors[-1][1] + len(core) - anchors[-1][0] + lead
        return anchors


def _with_escaped_pipes(text: str, core: str, start: int, end: int, lead: int) -> list[tuple[int, int]]:
    """Where a table cell's content is, when the source escaped a `|` in it as `\\|`."""
    at = text.find(core.split("|", 1)[0], start, end)
    if at == -1 or "|" not in core:
        return []
    anchors = [(lead, at)]
    index, position = 0, at
    while index < len(core) and position < end:
        if text[position] == core[index]:
            index, position = index + 1, position + 1
        elif text.startswith("\\|", position) and core[index] == "|":
            position += 1
            anchors.append((lead + index, position))
        else:
            return []
    return anchors if index == len(core) else []


@dataclass(frozen=True)
class _Aligned:
    """Positions of a content mapped to a source from points where they are known to match."""

    at_content: list[int]
    at_source: list[int]

    def source(self, position: int) -> int:
        index = max(bisect.bisect_right(self.at_content, position) - 1, 0)
        return self.at_source[index] + position - self.at_content[index]


def _blank_lines_stripped(lines: list[str], start: int, end: int) -> int:
    """Leading lines of a block that are only (Unicode) white space.

    The parser strips a paragraph's content, so a first line of, say, U+2028 alone
    disappears without a line break token; this counts what it took.
    """
    count = 0
    while start + count < end and not lines[start + count].strip():
        count += 1
    return count


@dataclass
class _OpenLink:
    """A link whose text is still being read: where its reference sits and its text."""

    index: int  # in the walk's found references; -1 for a link that is not recorded
    keeps_text: bool = True
    html: bool = False  # an HTML <a> rather than a Markdown link
    text: list[str] = field(default_factory=list)
    end: int | None = None  # of a Markdown link, in the inline source


_SHORTCODE_APPEND = "an archived link cannot be added inside a shortcode"


@dataclass
class _InlineWalk:
    """Walks one paragraph's inline tokens, keeping track of the line and open links.

    `src` is the paragraph's inline content and `origin` maps its positions to the
    source; spans are noted in the content's positions and mapped when recorded.
    """

    line: int
    src: str = ""
    in_file: InFile | None = None  # where `src` is in the file (or the body)
    in_bytes: bool = False  # the file's: note the bytes written at each span
    definitions: dict[str, Range] = field(default_factory=dict)  # in the source's positions
    found: list[Reference] = field(default_factory=list)
    open_links: list[_OpenLink] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    cursor: int = 0  # where the last token with a known range ended
    _closing: ClosingTags | None = None

    def __post_init__(self) -> None:
        self.first_line = self.line

    def references(self, children: Sequence[Token]) -> list[Reference]:
        for position, token in enumerate(children):
            self._visit(token, children[position + 1] if position + 1 < len(children) else None)
            self.line += lines_in(token)
        for open_link in self.open_links:
            self._close(open_link)
        return self.found

    def _visit(self, token: Token, following: Token | None) -> None:
        kind = token.type
        if kind in _BREAKS:
            self._add_text(" ")
        elif kind in ("text", "code_inline"):
            self._add_text(token.content)
        elif kind == "link_open":
            self._open_link(token, following)
        elif kind == "link_close":
            self._close_last(html=False)
        elif kind == "image":
            self._image(token)
        elif kind == "html_inline":
            self._html_inline(token)
        elif kind == "wp_shortcode":
            self._shortcode(token)
        elif kind == "wp_caption_open":
            self.captions.append(tidy_text(str(token.meta.get("caption", ""))))
        elif kind == "wp_caption_close" and self.captions:
            self.captions.pop()
        if token.meta and "range" in token.meta:
            self.cursor = max(self.cursor, token.meta["range"][1])

    def _add_text(self, text: str) -> None:
        for open_link in self.open_links:
            open_link.text.append(text)

    def _open_link(self, token: Token, following: Token | None) -> None:
        form = {"linkify": Form.BARE, "autolink": Form.AUTOLINK}.get(token.markup, Form.MARKDOWN)
        if form is Form.BARE and not (following is not None and is_written_url(following.content)):
            self.open_links.append(_OpenLink(-1))  # a bare domain name ("Amazon.com"): prose, not a link
            return
        written = following.content if form is Form.BARE and following is not None else None
        span = self._link_span(token, form, written)
        self.found.append(
            Reference(str(token.attrs["href"]), LinkKind.LINK, form, self.line, written=written, span=span)
        )
        end = token.meta["range"][1] if form is Form.MARKDOWN and "range" in token.meta else None
        self.open_links.append(_OpenLink(len(self.found) - 1, keeps_text=form is Form.MARKDOWN, end=end))

    def _link_span(self, token: Token, form: Form, written: str | None) -> SourceSpan | None:
        if form is Form.MARKDOWN:
            return self._markdown_span(token)
        if "range" in token.meta:
            start, end = token.meta["range"]
        elif written is not None and (start := self.src.find(written, self.cursor)) != -1:
            end = start + len(written)  # a bare URL the parser found in text after the inline rules ran
            self.cursor = end
        else:
            return None
        url = (start + 1, end - 1) if form is Form.AUTOLINK else (start, end)
        context = SpanContext.AUTOLINK if form is Form.AUTOLINK else SpanContext.BARE
        return self._span(url, context, (start, end))

    def _markdown_span(self, token: Token) -> SourceSpan | None:
        """The span of a Markdown link or image: its destination, or the definition it uses."""
        meta = token.meta
        if "range" not in meta:
            return None
        if "destination" in meta:
            label = meta["label_range"]
            shown = self.src[label[0] : label[1]].strip() == self.src[slice(*meta["destination"])]
            label_text = (
                stripped_range(self.src, *label) if shown and meta["destination"][1] > meta["destination"][0] else None
            )
            return self._span(meta["destination"], SpanContext.DESTINATION, meta["range"], label_text)
        definition = self.definitions.get(meta.get("label", ""))
        usage = self._span(meta["range"], SpanContext.DESTINATION, meta["range"])
        if usage is None or definition is None:
            return None
        written = self.in_file.data[definition[0] : definition[1]] if self.in_file and self.in_bytes else b""
        return replace(usage, start=definition[0], end=definition[1], written=written)

    def _span(
        self, url: Range, context: SpanContext, construct: Range, shown: Range | None = None
    ) -> SourceSpan | None:
        """A span noted in the inline content's positions, mapped to the source's."""
        if self.in_file is None:
            return None
        append_at, no_append = self._append_point(construct[1])
        return self._placed(
            SourceSpan(url[0], url[1], context, construct, append_at, no_append, (shown,) if shown else ())
        )

    def _placed(self, span: SourceSpan) -> SourceSpan | None:
        """A span noted in the inline content's positions, in the file's (or the body's)."""
        if self.in_file is None:
            return None
        return self.in_file.span(span) if self.in_bytes else span.mapped(self.in_file.offset)

    def _append_point(self, end: int) -> tuple[int | None, str]:
        """After the construct, or after the outermost link around it: an archived link
        may not go inside a link (an image in a link is the link's text)."""
        point = next((link.end for link in self.open_links if not link.html and link.end is not None), end)
        if not any(link.html for link in self.open_links):
            return point, ""
        closing = self._closing_tags().after("a", point)
        if closing is None:
            line = self.first_line + self._closing_tags().line_of(point) - 1
            return None, f"the </a> ending the element is not on line {line}"
        return closing, ""

    def _closing_tags(self) -> ClosingTags:
        if self._closing is None:
            self._closing = ClosingTags.of(self.src)
        return self._closing

    def _close_last(self, html: bool) -> None:
        """Close the innermost open link of the kind named: an HTML `<a>` or a Markdown link."""
        for position in range(len(self.open_links) - 1, -1, -1):
            if self.open_links[position].html is html:
                self._close(self.open_links.pop(position))
                return

    def _close(self, open_link: _OpenLink) -> None:
        if open_link.index < 0:
            return
        reference = self.found[open_link.index]
        text = tidy_text("".join(open_link.text)) if open_link.keeps_text else ""
        self.found[open_link.index] = replace(reference, text=text or reference.text or self._caption())

    def _image(self, token: Token) -> None:
        alt = tidy_text(token.content) or self._caption()
        span = self._markdown_span(token)
        self.found.append(Reference(str(token.attrs["src"]), LinkKind.IMAGE, Form.MARKDOWN, self.line, alt, span=span))
        self._add_text(token.content)

    def _html_inline(self, token: Token) -> None:
        if _CLOSING_ANCHOR.match(token.content):
            self._close_last(html=True)
        else:
            self._html_tags(token)

    def _html_tags(self, token: Token) -> None:
        """Record an inline tag's references; an `<a>` stays open to collect its text."""
        html = token.content
        anchor = -1
        for tag in parse_html(html).find_all(True, recursive=False):
            for found in element_references(tag, self.line, self._tag_place(token, tag.name)):
                span = self._placed(found.span) if found.span else None
                self.found.append(replace(found, text=found.text or self._caption(), span=span))
                if tag.name == "a":
                    anchor = len(self.found) - 1
            if tag.name == "img":
                self._add_text(str(tag.get("alt") or ""))  # an image's alt is the text of a link around it
        if _OPENING_ANCHOR.match(html):
            self._close_last(html=True)  # as in a browser, an <a> ends any <a> still open
            self.open_links.append(_OpenLink(anchor, html=True))

    def _tag_place(self, token: Token, name: str) -> TagPlace | None:
        if name not in URL_ELEMENTS or "range" not in token.meta:
            return None
        in_anchor = name != "a" and any(link.html for link in self.open_links)
        place = tag_place(self._closing_tags(), token.meta["range"][0], name, in_anchor, self.first_line)
        if place is None or place.append_at is None or in_anchor or name == "a":
            return place
        point, no_append = self._append_point(place.append_at)
        return replace(place, append_at=point, no_append=no_append)

    def _shortcode(self, token: Token) -> None:
        construct = token.meta["range"]
        for (url, kind), at in zip(token.meta["urls"], token.meta["spans"], strict=True):
            span = self._placed(SourceSpan(at[0], at[1], SpanContext.SHORTCODE, construct, None, _SHORTCODE_APPEND))
            self.found.append(Reference(url, kind, Form.SHORTCODE, self.line, self._caption(), span=span))

    def _caption(self) -> str:
        return self.captions[-1] if self.captions else ""
