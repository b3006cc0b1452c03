"""URL resolution and minimal normalisation."""

from __future__ import annotations

import pytest

from archiver.extract.urls import ResolvedUrl, resolve
from archiver.model import Skip, SkipReason
from archiver.sites import site_key

BASE = "https://blog.example.org/2010/05/post/"


@pytest.mark.parametrize(
    ("written", "url", "fragment"),
    [
        ("HTTP://Example.COM/A/b?Q=Z", "http://example.com/A/b?Q=Z", ""),
        ("http://example.com:80/x", "http://example.com/x", ""),
        ("https://example.com:443/x", "https://example.com/x", ""),
        ("http://example.com:443/x", "http://example.com:443/x", ""),
        ("https://example.com:80/x", "https://example.com:80/x", ""),
        ("http://example.com", "http://example.com/", ""),
        ("http://example.com/a%20b/%7Euser", "http://example.com/a%20b/%7Euser", ""),
        ("http://example.com/a/../b/./c", "http://example.com/a/../b/./c", ""),
        ("http://example.com/x?", "http://example.com/x?", ""),
        ("http://example.com/x#", "http://example.com/x", ""),
        ("http://example.com/x?a=1#Part-2", "http://example.com/x?a=1", "Part-2"),
        ("http://User:Pass@Example.com:8080/", "http://example.com:8080/", ""),  # a credential is dropped
        ("http://BÜCHER.example/Ä", "http://bücher.example/Ä", ""),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/", ""),
        ("  http://example.com/padded  ", "http://example.com/padded", ""),
        ("/root/relative", "https://blog.example.org/root/relative", ""),
        ("../sibling/", "https://blog.example.org/2010/05/sibling/", ""),
        ("//cdn.example.net/lib.js", "https://cdn.example.net/lib.js", ""),
        ("#comments", "https://blog.example.org/2010/05/post/", "comments"),
    ],
)
def test_resolve_normalises_scheme_host_and_port_only(written: str, url: str, fragment: str) -> None:
    resolved = resolve(written, BASE)

    assert isinstance(resolved, ResolvedUrl)
    assert (resolved.url, resolved.fragment) == (url, fragment)


@pytest.mark.parametrize(
    ("written", "relative"),
    [("/a", True), ("a", True), ("#x", True), ("//cdn.example.net/a", False), ("http://x.example/", False)],
)
def test_relative_means_on_the_post_own_site(written: str, relative: bool) -> None:
    resolved = resolve(written, BASE)

    assert isinstance(resolved, ResolvedUrl)
    assert resolved.relative is relative


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("mailto:someone@example.com", SkipReason.SCHEME),
        ("MAILTO:someone@example.com", SkipReason.SCHEME),
        ("javascript:void(0)", SkipReason.SCHEME),
        ("tel:+15555550100", SkipReason.SCHEME),
        ("data:image/gif;base64,R0lGODlh", SkipReason.SCHEME),
        ("ftp://ftp.example.com/file", SkipReason.SCHEME),
        ("file:///etc/passwd", SkipReason.SCHEME),
        ("http://example.com:99999/", SkipReason.INVALID),
        ("http://example.com:port/", SkipReason.INVALID),
        ("http:///no-host", SkipReason.INVALID),
        ("http://[::1/", SkipReason.INVALID),
    ],
)
def test_unfetchable_urls_are_skipped_with_a_reason(written: str, reason: SkipReason) -> None:
    resolved = resolve(written, BASE)

    assert isinstance(resolved, Skip)
    assert resolved.reason is reason
    assert resolved.detail


def test_relative_url_without_base_is_skipped() -> None:
    resolved = resolve("/images/a.png", None)

    assert resolved == Skip(SkipReason.NO_BASE, "relative URL and the post has no address; set posts.base_url")


def test_site_key_ignores_www_and_case() -> None:
    assert site_key("http://WWW.Example.org/a") == site_key("https://example.org/") == "example.org"
    assert site_key("http://static.example.org/") != site_key("http://example.org/")
