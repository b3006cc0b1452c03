"""Find the URLs a Markdown post cites, with the CommonMark parser markdown-it-py.

Links, images, reference-style links, autolinks and bare URLs come from the parser's
tokens; raw HTML (blocks and inline tags) goes to the HTML extractor; WordPress
shortcodes come from the shortcode plugin. Line numbers come from each block's source
map plus the line breaks seen inside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline, backtick, image, link
from markdown_it.token import Token

from archiver.extract.html import (
    bare_url_detector,
    element_references,
    fragment_references,
    is_written_url,
    parse_html,
)
from archiver.extract.reference import Reference, tidy_text
from archiver.extract.shortcodes import shortcode_plugin
from archiver.model import Form, LinkKind

# Jekyll posts write `{{ site.url }}/assets/...`. The variable stands for the site's
# root, so dropping it leaves a root-relative URL that resolves against the post.
_SITE_VARIABLE = re.compile(r"\{\{[ \t]*site\.(?:url|baseurl)[ \t]*\}\}")
InlineRule = Callable[[StateInline, bool], bool]
_BREAKS = frozenset({"softbreak", "hardbreak"})
_CLOSING_ANCHOR = re.compile(r"</a\s*>", re.IGNORECASE)
_OPENING_ANCHOR = re.compile(r"<a[\s>]", re.IGNORECASE)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table", "strikethrough"])
    md.linkify = bare_url_detector()
    md.use(shortcode_plugin)
    for rule, original in (("backticks", backtick), ("link", link), ("image", image)):
        md.inline.ruler.at(rule, _keeping_line_count(original))
    # Keep URLs as written (after Markdown unescaping): no percent-encoding or
    # punycode, and no silent dropping of javascript: or data: links, which the
    # extractor lists as skipped instead.
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.normalizeLinkText = lambda link: link  # type: ignore[method-assign]
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def _keeping_line_count(rule: InlineRule) -> InlineRule:
    """Wrap an inline rule so that the line breaks it consumes stay countable.

    Code spans turn line breaks into spaces, and a link's destination, title or
    reference label may span lines without leaving a break token. Whatever the rule
    consumed beyond the breaks its tokens show is noted in the last token's
    `meta["newlines"]`, so that `lines_in` over all tokens counts every source line.
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
        return True

    return counting


def lines_in(token: Token) -> int:
    """How many source line breaks a token stands for, its nested tokens included."""
    if token.type in _BREAKS:
        return 1
    count = int(token.meta.get("newlines", 0)) if token.meta else 0
    if token.type in ("html_inline", "wp_shortcode"):
        count += token.content.count("\n")
    return count + sum(lines_in(child) for child in token.children or ())


_PARSER = _parser()


def markdown_references(body: str) -> Iterator[Reference]:
    """The references in a Markdown body; line 1 is the body's first line."""
    text = _SITE_VARIABLE.sub("", body)
    lines = text.split("\n")
    for token in _PARSER.parse(text):
        if token.map is None:
            continue
        first_line = token.map[0] + 1
        if token.type == "inline":
            first_line += _blank_lines_stripped(lines, token.map[0], token.map[1])
            yield from _InlineWalk(first_line).references(token.children or [])
        elif token.type == "html_block":
            yield from fragment_references(token.content, first_line)


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


@dataclass
class _InlineWalk:
    """Walks one paragraph's inline tokens, keeping track of the line and open links."""

    line: int
    found: list[Reference] = field(default_factory=list)
    open_links: list[_OpenLink] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)

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
            self._html_inline(token.content)
        elif kind == "wp_shortcode":
            self._shortcode(token)
        elif kind == "wp_caption_open":
            self.captions.append(tidy_text(str(token.meta.get("caption", ""))))
        elif kind == "wp_caption_close" and self.captions:
            self.captions.pop()

    def _add_text(self, text: str) -> None:
        for open_link in self.open_links:
            open_link.text.append(text)

    def _open_link(self, token: Token, following: Token | None) -> None:
        form = {"linkify": Form.BARE, "autolink": Form.AUTOLINK}.get(token.markup, Form.MARKDOWN)
        if form is Form.BARE and not (following is not None and is_written_url(following.content)):
            self.open_links.append(_OpenLink(-1))  # a bare domain name ("Amazon.com"): prose, not a link
            return
        written = following.content if form is Form.BARE and following is not None else None
        self.found.append(Reference(str(token.attrs["href"]), LinkKind.LINK, form, self.line, written=written))
        self.open_links.append(_OpenLink(len(self.found) - 1, keeps_text=form is Form.MARKDOWN))

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
        self.found.append(Reference(str(token.attrs["src"]), LinkKind.IMAGE, Form.MARKDOWN, self.line, alt))
        self._add_text(token.content)

    def _html_inline(self, html: str) -> None:
        if _CLOSING_ANCHOR.match(html):
            self._close_last(html=True)
        else:
            self._html_tags(html)

    def _html_tags(self, html: str) -> None:
        """Record an inline tag's references; an `<a>` stays open to collect its text."""
        anchor = -1
        for tag in parse_html(html).find_all(True, recursive=False):
            for reference in element_references(tag, self.line):
                self.found.append(replace(reference, text=reference.text or self._caption()))
                if tag.name == "a":
                    anchor = len(self.found) - 1
            if tag.name == "img":
                self._add_text(str(tag.get("alt") or ""))  # an image's alt is the text of a link around it
        if _OPENING_ANCHOR.match(html):
            self._close_last(html=True)  # as in a browser, an <a> ends any <a> still open
            self.open_links.append(_OpenLink(anchor, html=True))

    def _shortcode(self, token: Token) -> None:
        for url, kind in token.meta["urls"]:
            self.found.append(Reference(url, kind, Form.SHORTCODE, self.line, self._caption()))

    def _caption(self) -> str:
        return self.captions[-1] if self.captions else ""
