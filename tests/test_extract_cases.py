"""Each messy case found in real blog exports, pinned to the links it must give.

The fixture posts in tests/fixtures/posts/ are modelled on the shared corpus's README:
WordPress front matter, escaped parentheses, apostrophes, images inside links,
autolinks, bare URLs with trailing punctuation in reader comments, shortcodes,
mojibake, URL shorteners, raw HTML, reference-style links and HTML posts.
"""

from __future__ import annotations

import re
from pathlib import Path

from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.model import Form, LinkKind, SkipReason
from tests.conftest import FIXTURE_POSTS, by_url, extract_one, lines_of

WORDPRESS = FIXTURE_POSTS / "wordpress-export.md"


def test_front_matter_link_is_the_post_address_and_the_base_for_relative_urls() -> None:
    extraction = extract_one(WORDPRESS)
    links = by_url(extraction)

    assert extraction.posts[0].address == "http://blog.example.org/2010/05/walled-gardens/"
    assert links["http://blog.example.org/2010/04/"].internal
    assert links["http://blog.example.org/2010/about/"].occurrences[0].source == "../../about/"


def test_date_comes_from_wordpress_created_field() -> None:
    post = extract_one(WORDPRESS).posts[0]

    assert post.date is not None
    assert post.date.isoformat() == "2010-05-14"
    assert post.title == "Walled gardens, clouds and a reader's comments"


def test_backslash_escaped_parentheses_are_part_of_the_url() -> None:
    link = by_url(extract_one(WORDPRESS))["http://en.wikipedia.org/wiki/Walled_garden_(technology)"]

    assert (link.occurrences[0].line, link.occurrences[0].text) == (12, "walled garden")


def test_apostrophes_stay_in_the_url_and_a_link_may_span_lines() -> None:
    links = by_url(extract_one(WORDPRESS))

    assert lines_of(links["http://en.wikipedia.org/wiki/Gall's_law"]) == [13]
    book = links["https://en.wikipedia.org/wiki/The_Innovator's_Dilemma"]
    assert (book.occurrences[0].line, book.occurrences[0].text) == (13, "the book")


def test_image_wrapped_in_a_link_to_itself_is_one_image_cited_twice() -> None:
    link = by_url(extract_one(WORDPRESS))["http://www.blog.example.org/wp-content/uploads/2010/05/deck.003.jpg"]

    assert link.kind is LinkKind.IMAGE
    assert [(o.kind, o.line, o.text) for o in link.occurrences] == [
        (LinkKind.LINK, 16, "Product deck slide 3"),
        (LinkKind.IMAGE, 16, "Product deck slide 3"),
    ]


def test_image_wrapped_in_a_link_elsewhere_gives_both_urls() -> None:
    links = by_url(extract_one(WORDPRESS))

    assert links["http://static.example.net/big.png"].kind is LinkKind.LINK
    assert links["http://static.example.net/big.png"].occurrences[0].text == "A diagram"
    assert links["http://www.blog.example.org/wp-content/uploads/2010/05/small.png"].kind is LinkKind.IMAGE


def test_jekyll_site_url_variable_resolves_against_the_site() -> None:
    link = by_url(extract_one(WORDPRESS))["http://blog.example.org/assets/logo.png"]

    assert (link.kind, link.internal, link.occurrences[0].line) == (LinkKind.IMAGE, True, 20)


def test_url_shorteners_and_autolinks_are_listed_as_written() -> None:
    links = by_url(extract_one(WORDPRESS))

    assert links["http://bit.ly/7H3xv"].occurrences[0].form is Form.BARE
    assert links["http://tinyurl.com/nz2qb3"].occurrences[0].form is Form.BARE
    assert links["http://is.gd/abc"].occurrences[0].form is Form.AUTOLINK
    assert {lines_of(links[u])[0] for u in ("http://bit.ly/7H3xv", "http://is.gd/abc")} == {22}


def test_mojibake_text_is_kept_and_does_not_break_the_link() -> None:
    link = by_url(extract_one(WORDPRESS))["http://mojibake.example.com/caf%C3%A9"]

    assert link.occurrences[0].text == "a link â€” with it"


def test_bare_urls_in_comments_lose_trailing_punctuation_but_keep_their_query() -> None:
    links = by_url(extract_one(WORDPRESS))

    thread = links["http://example.com/thread.jspa?messageID=51028&"]
    assert (thread.occurrences[0].line, thread.occurrences[0].fragment) == (28, "51028")
    assert lines_of(links["http://example.com/in-parens"]) == [29]
    assert lines_of(links["http://example.com/truncated-url"]) == [29]
    www = links["http://www.example.com/page"]
    assert (www.occurrences[0].source, www.occurrences[0].line) == ("www.example.com/page", 29)


def test_bare_domain_names_in_prose_are_not_links() -> None:
    urls = set(by_url(extract_one(WORDPRESS)))

    assert not any("amazon" in url.lower() or "node.js" in url for url in urls)


def test_comment_anchor_to_the_post_itself_is_not_an_outbound_link() -> None:
    links = by_url(extract_one(WORDPRESS))

    assert "http://blog.example.org/2010/05/walled-gardens/" not in links
    assert not any(o.source == "#302" for link in links.values() for o in link.occurrences)


def test_one_link_per_url_when_one_post_anchors_itself_and_another_links_to_it(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nlink: http://blog.example.org/a/\n---\n[top](#top)\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("[see a](http://blog.example.org/a/#top)\n", encoding="utf-8")

    extraction = extract([tmp_path], ExtractSettings())

    assert [(link.url, link.fetchable, len(link.occurrences)) for link in extraction.links] == [
        ("http://blog.example.org/a/", True, 1)
    ]
    assert [post.link_count for post in extraction.posts] == [0, 1]


def test_mailto_in_autolink_and_markdown_is_skipped_with_its_reason() -> None:
    link = by_url(extract_one(WORDPRESS))["mailto:dana@example.com"]

    assert link.skip is not None
    assert link.skip.reason is SkipReason.SCHEME
    assert [o.form for o in link.occurrences] == [Form.AUTOLINK, Form.MARKDOWN]
    assert "mailto" in link.skip.detail


def test_wordpress_post_gives_exactly_the_expected_fetchable_urls() -> None:
    fetchable = [link.url for link in extract_one(WORDPRESS).fetchable]

    assert fetchable == [
        "http://en.wikipedia.org/wiki/Walled_garden_(technology)",
        "http://en.wikipedia.org/wiki/Gall's_law",
        "https://en.wikipedia.org/wiki/The_Innovator's_Dilemma",
        "http://www.blog.example.org/wp-content/uploads/2010/05/deck.003.jpg",
        "http://static.example.net/big.png",
        "http://www.blog.example.org/wp-content/uploads/2010/05/small.png",
        "http://blog.example.org/2010/04/",
        "http://blog.example.org/2010/about/",
        "http://blog.example.org/assets/logo.png",
        "http://bit.ly/7H3xv",
        "http://tinyurl.com/nz2qb3",
        "http://is.gd/abc",
        "http://mojibake.example.com/caf%C3%A9",
        "http://example.com/thread.jspa?messageID=51028&",
        "http://example.com/in-parens",
        "http://example.com/truncated-url",
        "http://www.example.com/page",
        "http://dana.example.com/",
    ]


def test_wordpress_shortcodes_embed_caption_video_audio_youtube() -> None:
    extraction = extract_one(FIXTURE_POSTS / "shortcodes.md")
    found = [(link.url, link.kind, link.occurrences[0].line, link.occurrences[0].text) for link in extraction.links]

    assert found == [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", LinkKind.EMBED, 6, ""),
        (
            "https://blog.example.org/assets/media/2009/08/model.jpg",
            LinkKind.IMAGE,
            8,
            "Subscription Modeling (click to download)",
        ),
        ("http://blog.example.org/big.jpg", LinkKind.LINK, 10, "Small"),
        ("http://blog.example.org/small.jpg", LinkKind.IMAGE, 10, "Small"),
        ("https://www.youtube.com/watch?v=abc123&w=640", LinkKind.EMBED, 12, ""),
        ("https://media.example.org/clip.mp4", LinkKind.MEDIA, 14, ""),
        ("https://media.example.org/clip.jpg", LinkKind.IMAGE, 14, ""),
        ("https://media.example.org/talk.mp3", LinkKind.MEDIA, 16, ""),
        ("https://example.com/not-a-shortcode", LinkKind.LINK, 18, "embed"),
    ]
    assert extraction.links[0].occurrences[0].form is Form.SHORTCODE


def test_raw_html_inside_markdown() -> None:
    extraction = extract_one(FIXTURE_POSTS / "raw-html.md")
    found = {link.url: (link.kind, link.occurrences[0].line) for link in extraction.links}

    assert found == {
        "https://inline.example.com/a?x=1&y=2": (LinkKind.LINK, 6),
        "https://blog.example.org/img/inline.png": (LinkKind.IMAGE, 7),
        "https://img.example.com/a.jpg": (LinkKind.IMAGE, 10),
        "https://img.example.com/a-300.jpg": (LinkKind.IMAGE, 10),
        "https://img.example.com/a,comma.jpg": (LinkKind.IMAGE, 10),
        "https://player.example.com/embed/1": (LinkKind.EMBED, 13),
        "https://media.example.com/v.webm": (LinkKind.MEDIA, 14),
        "https://media.example.com/v.jpg": (LinkKind.IMAGE, 14),
        "https://media.example.com/v.mp4": (LinkKind.MEDIA, 15),
        "https://media.example.com/a.ogg": (LinkKind.MEDIA, 17),
        "https://img.example.com/p.webp": (LinkKind.IMAGE, 18),
        "https://img.example.com/p.jpg": (LinkKind.IMAGE, 18),
        "https://flash.example.com/movie.swf": (LinkKind.EMBED, 19),
        "https://flash.example.com/obj.swf": (LinkKind.EMBED, 20),
        "https://flash.example.com/param.swf": (LinkKind.EMBED, 20),
        "https://bare.example.com/in-html": (LinkKind.LINK, 21),
    }
    inline = by_url(extraction)["https://inline.example.com/a?x=1&y=2"].occurrences[0]
    assert (inline.text, inline.form) == ("an inline anchor", Form.HTML)


def test_reference_style_links_are_found_at_their_use_and_code_is_not_read() -> None:
    extraction = extract_one(FIXTURE_POSTS / "references.md")
    found = [(link.url, link.kind, lines_of(link), link.occurrences[0].text) for link in extraction.links]

    assert found == [
        ("https://docs.example.com/guide", LinkKind.LINK, [6], "full form"),
        ("https://collapsed.example.com/a b", LinkKind.LINK, [6], "collapsed"),
        ("https://shortcut.example.com/", LinkKind.LINK, [6], "shortcut"),
        ("https://blog.example.org/images/diagram.svg", LinkKind.IMAGE, [7], "diagram"),
    ]


def test_url_forms_are_normalised_minimally() -> None:
    links = by_url(extract_one(FIXTURE_POSTS / "urls.md"))

    upper = links["http://www.example.com/Path/Keeps/Case?Q=1"]
    assert upper.occurrences[0].fragment == "Frag"
    assert upper.occurrences[0].source == "HTTP://WWW.Example.COM:80/Path/Keeps/Case?Q=1#Frag"
    assert "https://example.com/a" in links
    assert "http://example.com:8080/a" in links
    assert "http://bücher.example/straße?q=ä" in links
    assert "http://xn--bcher-kva.example/" in links
    assert "http://[2001:db8::1]/x" in links
    assert "http://example.org/" in links
    assert not links["https://cdn.example.com/lib.js"].internal


def test_non_http_schemes_and_invalid_urls_are_skipped_with_reasons() -> None:
    links = by_url(extract_one(FIXTURE_POSTS / "urls.md"))

    reasons = {url: link.skip.reason for url, link in links.items() if link.skip is not None}
    assert reasons == {
        "javascript:void(0)": SkipReason.SCHEME,
        "tel:+15555550100": SkipReason.SCHEME,
        "data:image/png;base64,iVBORw0KGgo=": SkipReason.SCHEME,
        "ftp://ftp.example.com/pub/file.txt": SkipReason.SCHEME,
        "http://example.com:99999/": SkipReason.INVALID,
    }
    assert "https://blog.example.org/urls/" not in links  # [empty](), [self](#top) and its full address


def test_html_page_uses_canonical_address_base_href_and_title() -> None:
    extraction = extract_one(FIXTURE_POSTS / "page.html")
    found = [(link.url, link.kind, lines_of(link), link.occurrences[0].text) for link in extraction.links]

    assert extraction.posts[0].address == "https://blog.example.org/2012/html-post/"
    assert extraction.posts[0].title == "An HTML post"
    assert found == [
        ("https://static.example.org/base/relative/page.html", LinkKind.LINK, [10], "the page"),
        ("https://other.example.com/x", LinkKind.LINK, [11], "another & more"),
        ("https://bare.example.net/one", LinkKind.LINK, [12], ""),
        ("http://bare.example.net/two", LinkKind.LINK, [13], ""),
        ("https://static.example.org/base/img/photo.jpg", LinkKind.IMAGE, [16], "Photo"),
        ("https://www.blog.example.org/about/", LinkKind.LINK, [17], "About"),
    ]
    internal = [link.url for link in extraction.links if link.internal]
    assert internal == [
        "https://static.example.org/base/relative/page.html",  # written relative
        "https://static.example.org/base/img/photo.jpg",
        "https://www.blog.example.org/about/",  # the post's own site, whatever <base> says
    ]


def test_html_post_with_front_matter_keeps_true_line_numbers() -> None:
    extraction = extract_one(FIXTURE_POSTS / "fragment.html")
    found = [(link.url, lines_of(link), link.internal) for link in extraction.links]

    assert extraction.posts[0].title == "Jekyll HTML post"
    assert found == [
        ("https://fragment.example.com/", [5], False),
        ("https://blog.example.org/img/f.png", [6], True),
    ]


def test_base_url_setting_resolves_posts_without_an_address(tmp_path: Path) -> None:
    text = (FIXTURE_POSTS / "references.md").read_text(encoding="utf-8")
    post = tmp_path / "no-address.md"
    post.write_text(text.replace("link: https://blog.example.org/references/\n", ""), encoding="utf-8")

    without = by_url(extract_one(post))
    with_base = by_url(extract_one(post, base_url="https://configured.example.org/blog/"))

    skip = without["/images/diagram.svg"].skip
    assert skip is not None
    assert skip.reason is SkipReason.NO_BASE
    assert "base_url" in skip.detail
    assert with_base["https://configured.example.org/images/diagram.svg"].internal
    assert not with_base["https://docs.example.com/guide"].internal


def test_include_and_exclude_patterns_skip_with_the_pattern_named() -> None:
    include, exclude = re.compile(r"example\."), re.compile(r"^http://(bit\.ly|is\.gd)/")
    links = by_url(extract_one(WORDPRESS, include=(include,), exclude=(exclude,)))

    shortener = links["http://is.gd/abc"].skip
    assert shortener is not None
    assert shortener.reason is SkipReason.EXCLUDED
    assert exclude.pattern in shortener.detail
    gall = links["http://en.wikipedia.org/wiki/Gall's_law"].skip
    assert gall is not None
    assert gall.reason is SkipReason.NOT_INCLUDED
    assert links["http://static.example.net/big.png"].fetchable


def test_lines_stay_true_after_a_code_span_that_spans_lines(tmp_path: Path) -> None:
    post = tmp_path / "code.md"
    post.write_text("Some `code that\nspans\nlines` and\n[a link](http://after.example/) here.\n", encoding="utf-8")

    (link,) = extract_one(post).links

    assert lines_of(link) == [4]


def test_lines_stay_true_for_bare_urls_after_folded_white_space_in_html(tmp_path: Path) -> None:
    post = tmp_path / "folded.html"
    post.write_text(
        "<p>one</p>\n\n\n</a>text http://bare.example/x\n<b>b</b>\n\nhttp://bare.example/y\n", encoding="utf-8"
    )

    lines = {link.url: lines_of(link) for link in extract_one(post).links}

    assert lines == {"http://bare.example/x": [4], "http://bare.example/y": [7]}


def test_lines_stay_true_when_link_syntax_spans_lines(tmp_path: Path) -> None:
    post = tmp_path / "multiline.md"
    post.write_text(
        '[a](\nhttp://a.example/) [b](http://b.example/ "title\non two lines") http://c.example/\n'
        "[r][label\nx] ![i](\n/i.png) http://d.example/\n\n[label x]: http://ref.example/\n",
        encoding="utf-8",
    )

    lines = {link.url: lines_of(link) for link in extract_one(post, base_url="http://s.example/").links}

    assert lines == {
        "http://a.example/": [1],
        "http://b.example/": [2],
        "http://c.example/": [3],
        "http://ref.example/": [4],
        "http://s.example/i.png": [5],
        "http://d.example/": [6],
    }


def test_a_stray_closing_tag_does_not_cut_a_markdown_link_text(tmp_path: Path) -> None:
    post = tmp_path / "anchors.md"
    post.write_text(
        '[outer <a href="http://in.example/">inner</a> more</a> end](http://outer.example/)\n'
        '<a href="http://x.example/">x <a href="http://y.example/">y</a>\n',
        encoding="utf-8",
    )

    texts = {link.url: link.occurrences[0].text for link in extract_one(post).links}

    assert texts == {
        "http://outer.example/": "outer inner more end",
        "http://in.example/": "inner",
        "http://x.example/": "x",  # a new <a> ends the one still open, as in a browser
        "http://y.example/": "y",
    }


def test_protocol_relative_address_and_fallback_to_permalink(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nlink: //blog.example.org/a/\n---\n![x](img.png)\n", encoding="utf-8")
    (tmp_path / "b.md").write_text(
        "---\nlink: ftp://old.example.org/b/\npermalink: https://blog.example.org/b/\n---\n![x](img.png)\n",
        encoding="utf-8",
    )

    extraction = extract([tmp_path], ExtractSettings(base_url="https://blog.example.org/"))

    assert [post.address for post in extraction.posts] == ["https://blog.example.org/a/", "https://blog.example.org/b/"]
    assert [link.url for link in extraction.links] == [
        "https://blog.example.org/a/img.png",
        "https://blog.example.org/b/img.png",
    ]
    assert [str(problem) for problem in extraction.problems] == [
        f"{tmp_path / 'b.md'}: front-matter link 'ftp://old.example.org/b/' is not an absolute http(s) URL; ignored"
    ]


def test_a_malformed_base_href_is_ignored(tmp_path: Path) -> None:
    post = tmp_path / "badbase.html"
    post.write_text('<base href="http://[bad/"><a href="page.html">p</a>', encoding="utf-8")

    extraction = extract_one(post, base_url="https://blog.example.org/")

    assert [link.url for link in extraction.links] == ["https://blog.example.org/page.html"]
    assert extraction.problems == ()
