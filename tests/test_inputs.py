"""Inputs: arguments sorted into paths, URLs and standard input; live pages, sitemaps and
feeds fetched from the local test server and read as posts with their own URLs."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from archiver.config import ExtractSettings, FetchSettings
from archiver.inputs import Inputs, fetch_posts, page_name, parse_inputs, read_inputs, stdin_post
from archiver.model import PostDocument, Problem
from archiver.redact import Redactor
from tests.conftest import Web


def _posts(web: Web, *paths: str, settings: FetchSettings | None = None) -> tuple[list[PostDocument], list[Problem]]:
    urls = [web.url("alpha.test", path) for path in paths]
    return asyncio.run(fetch_posts(urls, settings or web.settings()))


def test_arguments_are_sorted_and_what_names_nothing_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "posts" / "deep").mkdir(parents=True)
    for name in ("posts/a.md", "posts/deep/b.md", "posts/c.txt"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")

    inputs = parse_inputs([f"{tmp_path}/posts/**/*.md", "https://blog.example/feed", "-", "gone.md", "none/*.md"])

    assert inputs.paths == (tmp_path / "posts" / "a.md", tmp_path / "posts" / "deep" / "b.md")
    assert (inputs.urls, inputs.stdin) == (("https://blog.example/feed",), True)
    assert [str(problem) for problem in inputs.problems] == [
        "gone.md: no such file or folder",
        "none/*.md: the pattern matches no file",
    ]


@pytest.mark.parametrize(
    "given",
    [
        ("/blog/sitemap.xml", "/blog/atom.xml"),
        ("/blog/sitemap-index.xml",),
        ("/blog/sitemap.xml.gz",),
        ("/blog/broken-feed.xml",),
    ],
)
def test_a_sitemap_and_an_atom_feed_lead_to_their_posts_each_fetched_once(web: Web, given: tuple[str, ...]) -> None:
    documents, problems = _posts(web, *given)

    assert problems == []
    site = f"alpha.test:{web.ports['alpha.test']}"
    assert [(str(d.name), d.address, d.html) for d in documents] == [
        (f"{site}/blog/posts/one.html", f"http://{site}/blog/posts/one.html", True),
        (f"{site}/blog/posts/two.html", f"http://{site}/blog/posts/two.html", True),
    ]
    assert web.server.hits[("alpha.test", "/blog/posts/one.html")] >= 1


def test_what_cannot_be_fetched_or_read_is_named_by_its_url(web: Web) -> None:
    documents, problems = _posts(web, "/blog/bomb.xml", "/status/404", "/huge/300000")

    assert documents == []
    messages = sorted(problem.message for problem in problems)
    assert messages == [
        f"{web.url('alpha.test', '/blog/bomb.xml')} declares XML entities, which are refused; skipped",
        f"{web.url('alpha.test', '/huge/300000')} is larger than fetch.max_body_mb or posts.max_size_mb; skipped",
        f"{web.url('alpha.test', '/status/404')} could not be fetched (not-found 404); skipped",
    ]


def test_a_fetched_post_resolves_its_links_against_its_own_url(web: Web) -> None:
    inputs = Inputs(urls=(web.url("alpha.test", "/blog/posts/one.html"),))

    extraction = read_inputs(inputs, ExtractSettings(base_url="https://elsewhere.example/"), web.settings())

    assert [post.address for post in extraction.posts] == [web.url("alpha.test", "/blog/posts/one.html")]
    assert [link.url for link in extraction.links] == [
        web.url("alpha.test", path) for path in ("/ok.html", "/image.png", "/status/404")
    ]
    assert all(link.internal for link in extraction.links)


def test_standard_input_is_a_markdown_post_or_an_html_one() -> None:
    markdown = read_inputs(
        Inputs(stdin=True), ExtractSettings(), FetchSettings(), stdin=io.BytesIO(b"https://a.example/\n")
    )

    assert [(link.url, link.occurrences[0].line) for link in markdown.links] == [("https://a.example/", 1)]
    assert [str(post.path) for post in markdown.posts] == ["<stdin>"]
    assert stdin_post(b"  <p><a href='x'>x</a></p>").html
    assert not stdin_post(b"# Title\n").html


def test_a_fetched_post_is_named_by_its_host_and_path_without_secrets() -> None:
    assert page_name("https://bob:SEKRET@blog.example:8443/2019/a-post/?p=2#top") == Path(
        "blog.example:8443/2019/a-post/?p=2"
    )
    assert page_name("https://blog.example") == Path("blog.example")
    hidden = Redactor(["token"]).text
    assert page_name("https://blog.example/?p=2&token=SEKRET", hidden) == Path("blog.example/?p=2&token=***")


def test_a_feed_that_names_a_file_on_this_machine_is_never_read_from_it(web: Web) -> None:
    documents, problems = _posts(web, "/blog/path-feed.xml")

    assert documents == []
    (problem,) = problems
    assert "is not well-formed XML" in problem.message  # not the local file's feed, whose link would be asked
    assert web.server.hits[("local-file.example", "/leak")] == 0


def test_only_an_index_named_on_the_command_line_is_followed_to_its_sitemaps(web: Web) -> None:
    documents, problems = _posts(web, "/blog/index-of-index.xml")

    assert documents == []
    assert [problem.message for problem in problems] == [
        f"{web.url('alpha.test', '/blog/sitemap-index.xml')} is a sitemap index listed by another; not followed"
    ]
