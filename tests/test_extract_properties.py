"""Properties that hold for any input: the extractor never raises on a post's content,
every occurrence points at a line of its post, and a bare URL or autolink is written on
the line it is reported at."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.model import Form

PIECES = st.sampled_from(
    [
        "[text](http://a.example/x)", "![alt](/img.png)", "<http://auto.example/>", "http://bare.example/p.",
        "www.www.example", "[ref][r]", "\n[r]: http://ref.example/\n", "<a href='http://h.example/'>", "</a>",
        "<img srcset='a.png 1x, b.png 2x'>", "[embed]http://e.example/[/embed]", "[caption caption='c']",
        "[/caption]", "`code http://c.example/`", "\n```\nhttp://fence.example/\n```\n", "\n", "\n\n", "\r\n",
        " ", "(", ")", "[", "]", "<", ">", "\\", "*", "_", "&amp;", "{{ site.url }}", "<!-- ", " -->", "---\n",
        "mailto:x@y.example", "javascript:alert(1)", "é", "\u2028", "\x00", "](\n", ' "t\nt")', "[a\nb]",
        "[l](\nhttp://m.example/)", "<!DOCTYPE html>", "&lt;",
    ]
)  # fmt: skip
POSTS = st.lists(PIECES | st.text(max_size=8), max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=POSTS, html=st.booleans())
def test_any_post_is_read_without_raising_and_lines_are_real(tmp_path: Path, body: str, html: bool) -> None:
    post = tmp_path / ("post.html" if html else "post.md")
    post.write_text("---\nlink: http://site.example/p/\n---\n" + body, encoding="utf-8", errors="surrogatepass")

    extraction = extract([post], ExtractSettings())

    text = post.read_text(encoding="utf-8", errors="replace").replace("{{ site.url }}", "")  # stands for the site
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for link in extraction.links:
        for occurrence in link.occurrences:
            assert 1 <= occurrence.line <= len(lines)
            if occurrence.form in (Form.BARE, Form.AUTOLINK) and "&" not in occurrence.source:  # &amp; is decoded
                assert occurrence.source in lines[occurrence.line - 1]
