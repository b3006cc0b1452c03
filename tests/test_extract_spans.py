"""Where each URL's text is: the real extractor on real files, checked against the bytes.

Every occurrence records the byte offsets of its URL's text in the post file, and what
cites it: `raw[start:end]` must be the URL exactly as written there, whatever the
encoding, line ends, front matter, escapes or form.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from markdown_it.common.utils import unescapeAll

from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.model import Extraction, Occurrence, SourceSpan, SpanContext
from tests.conftest import extract_one

FRONT = "---\ntitle: A post\nlink: http://blog.example.org/2015/a-post/\n---\n\n"
_SITE_VARIABLE = re.compile(r"\{\{[ \t]*site\.(?:url|baseurl)[ \t]*\}\}")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def write(folder: Path, content: str | bytes, name: str = "post.md") -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def occurrences(extraction: Extraction) -> list[Occurrence]:
    return [occurrence for link in extraction.links for occurrence in link.occurrences]


def span_of(path: Path, source: str, index: int = 0) -> SourceSpan:
    """The span of the `index`-th occurrence whose URL is written `source`."""
    found = [o for o in occurrences(extract_one(path)) if o.source == source]
    span = found[index].span
    assert span is not None
    return span


def at(path: Path, start: int, end: int, encoding: str = "utf-8") -> str:
    return path.read_bytes()[start:end].decode(encoding, errors="surrogateescape")


def written(path: Path, source: str, index: int = 0, encoding: str = "utf-8") -> str:
    span = span_of(path, source, index)
    assert path.read_bytes()[span.start : span.end] == span.written
    return at(path, span.start, span.end, encoding)


# Each form


@pytest.mark.parametrize(
    ("line", "source", "expected"),
    [
        ('[a](http://x.example/a "T")', "http://x.example/a", "http://x.example/a"),
        ("![a](<http://x.example/a b>)", "http://x.example/a b", "http://x.example/a b"),
        (r"[a](http://x.example/a\_b\(1\))", "http://x.example/a_b(1)", r"http://x.example/a\_b\(1\)"),
        ("[a](http://x.example/?a=1&amp;b=2)", "http://x.example/?a=1&b=2", "http://x.example/?a=1&amp;b=2"),
        ("see <http://x.example/auto> now", "http://x.example/auto", "http://x.example/auto"),
        ("see http://x.example/bare, now", "http://x.example/bare", "http://x.example/bare"),
        ("see www.example.com/fuzzy now", "www.example.com/fuzzy", "www.example.com/fuzzy"),
        ('an <img alt="a" src="http://x.example/i.png"> here', "http://x.example/i.png", "http://x.example/i.png"),
        ('<img src="/s.png" srcset="/a.png 1x, /b.png 2x">', "/b.png", "/b.png"),
        ("[embed] http://x.example/v [/embed]", "http://x.example/v", "http://x.example/v"),
        ('[video mp4="http://x.example/v.mp4"]', "http://x.example/v.mp4", "http://x.example/v.mp4"),
        ("![logo]({{ site.url }}/assets/logo.png)", "/assets/logo.png", "{{ site.url }}/assets/logo.png"),
        ("> a quote [q](http://x.example/q)", "http://x.example/q", "http://x.example/q"),
        ("- an item\n  and [i](http://x.example/i)", "http://x.example/i", "http://x.example/i"),
        ("| a | b |\n|--|--|\n| x \\| y | [c](http://x.example/c) |", "http://x.example/c", "http://x.example/c"),
        ("# A [heading](http://x.example/h) #", "http://x.example/h", "http://x.example/h"),
    ],
    ids=[
        "link",
        "angle-brackets",
        "escapes",
        "entity",
        "autolink",
        "bare",
        "www",
        "inline-html",
        "srcset",
        "embed-shortcode",
        "video-shortcode",
        "site-url",
        "blockquote",
        "list",
        "table-cell",
        "heading",
    ],
)
def test_each_markdown_form_records_the_url_as_written(tmp_path: Path, line: str, source: str, expected: str) -> None:
    path = write(tmp_path, FRONT + "Intro.\n\n" + line + "\n")

    assert written(path, source) == expected


def test_a_reference_style_link_records_the_definition_and_the_usage(tmp_path: Path) -> None:
    path = write(tmp_path, FRONT + "See [the deck][Deck] here.\n\n[deck]:\n   <http://x.example/d>  'T'\n")

    span = span_of(path, "http://x.example/d")

    assert at(path, span.start, span.end) == "http://x.example/d"
    assert (at(path, *span.construct), span.context) == ("[the deck][Deck]", SpanContext.DESTINATION)
    assert span.append_at == span.construct[1]


def test_a_wrapped_link_and_a_tag_over_lines_start_on_the_occurrence_line(tmp_path: Path) -> None:
    path = write(tmp_path, FRONT + 'A [walled\ngarden](http://x.example/w) and <img\n  src="http://x.example/i">\n')

    link, image = span_of(path, "http://x.example/w"), span_of(path, "http://x.example/i")

    assert at(path, *link.construct) == "[walled\ngarden](http://x.example/w)"
    assert at(path, *image.construct) == '<img\n  src="http://x.example/i">'
    assert at(path, image.start, image.end) == "http://x.example/i"


# Encodings, line ends and front matter


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "lone-cr"])
def test_line_endings_map_to_the_bytes(tmp_path: Path, ending: str) -> None:
    content = ending.join(["---", "title: t", "---", "", "Été [a](http://x.example/a)", "", "http://x.example/b", ""])
    path = write(tmp_path, content)

    assert [written(path, url) for url in ("http://x.example/a", "http://x.example/b")] == [
        "http://x.example/a",
        "http://x.example/b",
    ]


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")]
)
def test_a_bom_and_utf16_map_to_the_bytes(tmp_path: Path, encoding: str, bom: bytes) -> None:
    content = FRONT + "Été 😀 [a](http://x.example/é)\r\n\r\nhttp://x.example/b\r\n"
    path = write(tmp_path, bom + content.encode(encoding))

    assert written(path, "http://x.example/é", encoding=encoding) == "http://x.example/é"
    assert written(path, "http://x.example/b", encoding=encoding) == "http://x.example/b"


def test_invalid_utf8_maps_to_the_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, FRONT.encode() + b"Caf\xe9 \xed\xa0\x80 [a](http://x.example/\xff\xc3) http://x.example/b\n")

    span = span_of(path, "http://x.example/\ufffd\ufffd")

    assert path.read_bytes()[span.start : span.end] == b"http://x.example/\xff\xc3"
    assert written(path, "http://x.example/b") == "http://x.example/b"


# HTML posts


def test_html_attributes_and_text_are_recorded_as_written(tmp_path: Path) -> None:
    content = (
        "<html><body>\r\n<p><a href='http://x.example/?a=1&amp;b=2'>http://x.example/?a=1&amp;b=2</a>"
        ' and http://x.example/t?q=1&amp;r=2.</p>\r\n<p><a href="/d"><img SRC=" /i.png "></a></p></body></html>'
    )
    path = write(tmp_path, content, "p.html")

    link = span_of(path, "http://x.example/?a=1&b=2")
    assert at(path, link.start, link.end) == "http://x.example/?a=1&amp;b=2"
    assert [at(path, *shown) for shown in link.shown] == ["http://x.example/?a=1&amp;b=2"]
    assert (link.context, at(path, link.append_at or 0, (link.append_at or 0) + 5)) == (
        SpanContext.HTML_ATTRIBUTE,
        " and ",
    )
    text = span_of(path, "http://x.example/t?q=1&r=2")
    assert (at(path, text.start, text.end), text.context) == ("http://x.example/t?q=1&amp;r=2", SpanContext.HTML_TEXT)
    image = span_of(path, "/i.png")
    assert at(path, image.start, image.end) == "/i.png"
    assert at(path, image.append_at or 0, (image.append_at or 0) + 4) == "</p>"  # after the link around it


# Where an archived link goes


@pytest.mark.parametrize(
    ("line", "source", "after"),
    [
        ('[a](http://x.example/a "T") more', "http://x.example/a", '[a](http://x.example/a "T")'),
        ("[![i](/i.png)](/page) more", "/i.png", "[![i](/i.png)](/page)"),
        ("see http://x.example/b. more", "http://x.example/b", "see http://x.example/b"),
        ('<a href="/x"><img src="/i.png"></a> more', "/i.png", '<a href="/x"><img src="/i.png"></a>'),
        ('<p><img src="/i.png"> x</p>', "/i.png", '<p><img src="/i.png">'),
    ],
)
def test_the_append_point_follows_the_construct(tmp_path: Path, line: str, source: str, after: str) -> None:
    path = write(tmp_path, FRONT + line + "\n")

    span = span_of(path, source)

    assert span.append_at is not None
    assert at(path, len(FRONT), span.append_at) == after


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('<a href="http://x.example/a">\nslides</a>\n', "the </a> ending the element is not on line 6"),
        ('<video><source src="http://x.example/a"></video>\n', "where an archived link would not show"),
        ("[embed]http://x.example/a[/embed]\n", "an archived link cannot be added inside a shortcode"),
    ],
)
def test_no_append_point_says_why(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path, FRONT + content)

    span = span_of(path, "http://x.example/a")

    assert (span.append_at, reason in span.no_append) == (None, True)


# The whole corpus


def as_read(written: str, span: SourceSpan) -> str:
    """What the extractor reads from a URL's written text, in the context it stands in."""
    if span.context in (SpanContext.HTML_ATTRIBUTE, SpanContext.HTML_TEXT):
        return html.unescape(written)
    if span.context is SpanContext.DESTINATION:
        return unescapeAll(_SITE_VARIABLE.sub("", written))
    return written


def line_of(data: bytes, offset: int) -> int:
    return len(_LINE_BREAK.findall(data, 0, offset)) + 1


def test_every_corpus_span_holds_its_url_and_starts_on_its_line(corpus: Path) -> None:
    found = occurrences(extract([corpus], ExtractSettings()))

    assert found
    for occurrence in found:
        span, data = occurrence.span, occurrence.post.read_bytes()
        assert span is not None, f"{occurrence.post.name}:{occurrence.line}: {occurrence.source}"
        text = data[span.start : span.end].decode()
        assert as_read(text, span) == occurrence.source, f"{occurrence.post.name}:{occurrence.line}"
        assert line_of(data, span.construct[0]) == occurrence.line, f"{occurrence.post.name}: {occurrence.source}"
