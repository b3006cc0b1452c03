"""The HTML standard's srcset grammar and WordPress's shortcode attribute grammar."""

from __future__ import annotations

import pytest

from archiver.extract.html import srcset_urls
from archiver.extract.shortcodes import parse_attributes


@pytest.mark.parametrize(
    ("srcset", "urls"),
    [
        ("a.png", ["a.png"]),
        ("a.png 1x, b.png 2x", ["a.png", "b.png"]),
        ("a.png 300w,b.png 600w", ["a.png", "b.png"]),
        ("a.png,b.png", ["a.png,b.png"]),  # no space: one URL, as the standard parses it
        ("https://x.example/a,comma.jpg 600w, y.jpg 2x", ["https://x.example/a,comma.jpg", "y.jpg"]),
        ("  a.png  1x ,  b.png  ", ["a.png", "b.png"]),
        ("a.png (1x, 2x), b.png", ["a.png", "b.png"]),
        ("", []),
        (" , , ", []),
    ],
)
def test_srcset_urls(srcset: str, urls: list[str]) -> None:
    assert srcset_urls(srcset) == urls


@pytest.mark.parametrize(
    ("text", "named", "positional"),
    [
        (' width="600" height="400"', {"width": "600", "height": "400"}, []),
        (" id='a' Caption=\"Two words\"", {"id": "a", "caption": "Two words"}, []),
        (" align=left https://youtu.be/x", {"align": "left"}, ["https://youtu.be/x"]),
        ("=https://www.youtube.com/watch?v=abc&w=640", {}, ["https://www.youtube.com/watch?v=abc&w=640"]),
        (' "quoted positional"', {}, ["quoted positional"]),
        ("", {}, []),
    ],
)
def test_parse_attributes(text: str, named: dict[str, str], positional: list[str]) -> None:
    assert parse_attributes(text) == (named, positional)
