"""The 143 real posts of the shared corpus (skipped where ../shared/corpus is absent)."""

from __future__ import annotations

import re
from pathlib import Path

from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.model import Form, LinkKind
from tests.conftest import SEED_POST, by_url, extract_one


def test_every_corpus_post_extracts_without_a_problem(corpus: Path) -> None:
    extraction = extract([corpus], ExtractSettings())

    assert len(extraction.posts) == 143
    assert extraction.problems == ()
    assert all(post.address and post.address.startswith("http://cloudscaling.com/") for post in extraction.posts)
    assert all(post.date is not None for post in extraction.posts)
    assert len(extraction.fetchable) > 400


def test_every_http_url_written_in_the_corpus_is_found(corpus: Path) -> None:
    """A cross-check that shares no code with the extractor: every http(s) URL text that
    appears in a Markdown link destination or alone in prose is extracted."""
    extraction = extract([corpus], ExtractSettings())
    written = {occurrence.source for link in extraction.links for occurrence in link.occurrences}
    destination = re.compile(r"\]\((https?://[^\s)\"]+)")
    for path in sorted(corpus.glob("*.md")):
        for url in destination.findall(path.read_text(encoding="utf-8")):
            if "\\" not in url:  # escaped parentheses are checked by their own test
                assert url in written, f"{path.name}: {url}"


def test_corpus_escaped_parentheses(corpus: Path) -> None:
    links = by_url(extract_one(corpus / "2012-02-16-open-cloud-confusion.md"))

    assert "http://en.wikipedia.org/wiki/Hacker_(computer_security)" in links


def test_corpus_caption_shortcode_with_jekyll_site_url(corpus: Path) -> None:
    links = by_url(extract_one(corpus / "2009-08-21-subscription-modeling-cloud-performance.md"))

    image = links["http://cloudscaling.com/assets/media/2009/08/subscription-model-table.jpg"]
    assert image.kind is LinkKind.IMAGE
    assert image.internal
    assert image.occurrences[0].text == "Subscription Modeling"


def test_corpus_reader_comments_with_bare_urls_and_anchors(corpus: Path) -> None:
    links = by_url(extract_one(corpus / "2009-10-01-amazons-ec2-generating-220m-annually.md"))

    thread = links["http://developer.amazonwebservices.com/connect/thread.jspa?messageID=51028&"]
    assert [(o.line, o.form) for o in thread.occurrences] == [(85, Form.MARKDOWN), (256, Form.BARE)]
    assert "http://cloudscaling.com/blog/cloud-computing/amazons-ec2-generating-220m-annually/" not in links


def test_corpus_seed_post_matches_the_shipped_example(corpus: Path) -> None:
    shipped = [link.url for link in extract_one(SEED_POST).links]
    in_corpus = [link.url for link in extract_one(corpus / SEED_POST.name).links]

    assert shipped == in_corpus
    assert len(shipped) == 13
