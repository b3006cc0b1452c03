"""Bad posts never stop a run: each gets a warning naming the file, the rest are read."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest

from archiver.config import ExtractSettings
from archiver.errors import InputError
from archiver.extract import extract
from archiver.extract.sources import LARGE_POST_BYTES, split_front_matter
from archiver.model import Extraction

GOOD = "---\ntitle: Good\nlink: https://good.example.org/post/\n---\n\n[fine](https://ok.example.com/{name})\n"


def _write(folder: Path, name: str, content: bytes | str) -> Path:
    path = folder / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _extract_with_good_neighbours(folder: Path, name: str, content: bytes | str) -> Extraction:
    _write(folder, "a-good.md", GOOD.format(name="a"))
    _write(folder, name, content)
    _write(folder, "z-good.md", GOOD.format(name="z"))
    return extract([folder], ExtractSettings())


def _messages(extraction: Extraction, name: str) -> list[tuple[int | None, str]]:
    return [(p.line, p.message) for p in extraction.problems if p.path.name == name]


def _neighbours_read(extraction: Extraction) -> bool:
    urls = {link.url for link in extraction.links}
    return {"https://ok.example.com/a", "https://ok.example.com/z"} <= urls


def test_broken_front_matter_warns_with_line_and_still_reads_the_body(tmp_path: Path) -> None:
    post = "---\ntitle: [unclosed\nlink: http://x.example/\n---\n\n[a](http://body.example.com/)\n"
    extraction = _extract_with_good_neighbours(tmp_path, "broken.md", post)

    ((line, message),) = _messages(extraction, "broken.md")
    assert line == 3
    assert "front matter is not valid YAML" in message
    body = next(link for link in extraction.links if link.url == "http://body.example.com/")
    assert body.occurrences[0].line == 6
    assert _neighbours_read(extraction)


def test_front_matter_that_is_not_a_mapping_or_never_closed(tmp_path: Path) -> None:
    _write(tmp_path, "list.md", "---\n- a\n- b\n---\n[a](http://list.example.com/)\n")
    _write(tmp_path, "open.md", "---\ntitle: x\n\n[a](http://open.example.com/)\n")
    extraction = extract([tmp_path], ExtractSettings())

    assert _messages(extraction, "list.md") == [(2, "front matter is not a mapping of keys to values; ignored")]
    assert _messages(extraction, "open.md") == [(1, "front matter opened with '---' is never closed; read as body")]
    lines = {link.url: link.occurrences[0].line for link in extraction.links}
    assert lines == {"http://list.example.com/": 5, "http://open.example.com/": 4}


def test_invalid_utf8_is_decoded_with_replacement_and_warned_with_its_line(tmp_path: Path) -> None:
    post = b"---\ntitle: Caf\xc3\xa9\n---\nline four\ncaf\xe9 [x](http://latin1.example.com/)\n"
    extraction = _extract_with_good_neighbours(tmp_path, "latin1.md", post)

    ((line, message),) = _messages(extraction, "latin1.md")
    assert line == 5
    assert "not valid UTF-8" in message
    link = next(link for link in extraction.links if link.url == "http://latin1.example.com/")
    assert link.occurrences[0].line == 5
    assert extraction.posts[1].title == "Café"
    assert _neighbours_read(extraction)


def test_binary_file_with_a_post_extension_is_skipped(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    extraction = _extract_with_good_neighbours(tmp_path, "image.md", png)

    assert _messages(extraction, "image.md") == [(None, "binary data, not a text post; skipped")]
    assert [post.path.name for post in extraction.posts] == ["a-good.md", "z-good.md"]
    assert _neighbours_read(extraction)


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"])
def test_empty_file_is_skipped_with_a_warning(tmp_path: Path, content: bytes) -> None:
    extraction = _extract_with_good_neighbours(tmp_path, "empty.markdown", content)

    assert _messages(extraction, "empty.markdown") == [(None, "empty file; skipped")]
    assert _neighbours_read(extraction)


def test_large_post_is_read_in_full_with_a_warning(tmp_path: Path) -> None:
    prose = "Words without links, repeated to make a long comment thread. " * 16 + "\n\n"
    links = "".join(f"A [link {i}](https://big.example.com/{i}).\n\n" for i in range(100))
    body = prose * ((9 * 1024 * 1024) // len(prose))  # past LARGE_POST_BYTES (8 MB)
    post = "---\ntitle: Big\n---\n" + links + body + "Last [one](https://big.example.com/last).\n"
    extraction = _extract_with_good_neighbours(tmp_path, "big.md", post)

    ((_, message),) = _messages(extraction, "big.md")
    assert len(post) > LARGE_POST_BYTES
    assert "unusually large post" in message
    big = [link for link in extraction.links if link.url.startswith("https://big.example.com/")]
    assert len(big) == 101
    assert big[-1].occurrences[0].line == post.count("\n")
    assert _neighbours_read(extraction)


def test_post_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    _write(tmp_path, "huge.md", "x" * 2048)
    _write(tmp_path, "small.md", GOOD.format(name="small"))
    extraction = extract([tmp_path], ExtractSettings(max_size_mb=1 / 1024))

    ((_, message),) = _messages(extraction, "huge.md")
    assert "over posts.max_size_mb" in message
    assert [link.url for link in extraction.links] == ["https://ok.example.com/small"]


def test_crlf_and_utf16_posts_keep_true_line_numbers(tmp_path: Path) -> None:
    crlf = (
        b"---\r\ntitle: c\r\nlink: http://c.example/\r\n---\r\n\r\n[a](http://crlf.example.com/)\r\nx\r\n[b](/rel)\r\n"
    )
    _write(tmp_path, "crlf.md", crlf)
    _write(tmp_path, "utf16.md", "---\ntitle: u\n---\n\n[a](http://utf16.example.com/)\n".encode("utf-16"))
    extraction = extract([tmp_path], ExtractSettings())

    lines = {link.url: link.occurrences[0].line for link in extraction.links}
    assert lines == {"http://crlf.example.com/": 6, "http://c.example/rel": 8, "http://utf16.example.com/": 5}
    assert extraction.problems == ()


def test_folder_named_like_a_post_is_searched_not_read(tmp_path: Path) -> None:
    folder = _write(tmp_path, "a-folder.md", "")
    folder.unlink()
    folder.mkdir()
    _write(folder, "inside.md", GOOD.format(name="inside"))
    extraction = _extract_with_good_neighbours(tmp_path, "b.md", GOOD.format(name="b"))

    assert extraction.problems == ()
    assert [post.path.name for post in extraction.posts] == ["inside.md", "a-good.md", "b.md", "z-good.md"]


def test_missing_path_raises_input_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.md"

    with pytest.raises(InputError, match=r"nowhere\.md"):
        extract([missing], ExtractSettings())


def test_front_matter_keeps_line_count_of_the_body() -> None:
    meta, body, problems = split_front_matter(Path("p.md"), "---\na: 1\nb: 2\n---\nbody line 5\n")

    assert meta == {"a": 1, "b": 2}
    assert body.split("\n")[4] == "body line 5"
    assert problems == []


def test_a_front_matter_value_yaml_cannot_build_is_a_warning(tmp_path: Path) -> None:
    post = "---\ntitle: Bad date\ndate: 2020-02-30\n---\n[a](http://date.example.com/)\n"
    extraction = _extract_with_good_neighbours(tmp_path, "date.md", post)

    ((line, message),) = _messages(extraction, "date.md")
    assert line == 2
    assert "cannot be read (day is out of range for month)" in message
    assert "http://date.example.com/" in {link.url for link in extraction.links}
    assert _neighbours_read(extraction)


def test_a_post_the_parser_cannot_handle_is_skipped_and_the_rest_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No known input crashes the parsers; this stands in for the next one that does.
    extract_module = importlib.import_module("archiver.extract")
    real = extract_module.markdown_references

    def crash_on_poison(body: str, *where: Any) -> object:
        if "poison" in body:
            raise RecursionError("maximum recursion depth exceeded")
        return real(body, *where)

    monkeypatch.setattr(extract_module, "markdown_references", crash_on_poison)
    extraction = _extract_with_good_neighbours(tmp_path, "poison.md", "poison [a](http://p.example.com/)\n")

    assert _messages(extraction, "poison.md") == [
        (None, "could not be read (RecursionError: maximum recursion depth exceeded); skipped")
    ]
    assert "http://p.example.com/" not in {link.url for link in extraction.links}
    assert [post.path.name for post in extraction.posts] == ["a-good.md", "z-good.md"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("quote-50.md", ">" * 50 + " [deep](https://deep.example.org/quote)\n"),
        ("list-60.md", "".join("  " * i + "- level\n" for i in range(60)) + "  " * 60 + "- [deep](https://deep.example.org/list)\n"),
    ],
)  # fmt: skip
def test_links_nested_as_deep_as_posts_go_are_found(tmp_path: Path, name: str, body: str) -> None:
    extraction = _extract_with_good_neighbours(tmp_path, name, body)

    assert any(link.url.startswith("https://deep.example.org/") for link in extraction.links)
    assert _messages(extraction, name) == []


def test_what_is_nested_past_the_limit_is_warned_with_its_line(tmp_path: Path) -> None:
    body = (
        "Intro.\n\n" + ">" * 250 + " [too deep](https://deep.example.org/cut)\n\n[after](https://after.example.org/)\n"
    )

    extraction = _extract_with_good_neighbours(tmp_path, "too-deep.md", body)

    assert _messages(extraction, "too-deep.md") == [(3, (
        "blockquotes or lists nested more than 200 levels deep (a list level counts two); the links inside are "
        "not read"))]  # fmt: skip
    assert "https://after.example.org/" in {link.url for link in extraction.links}
    assert _neighbours_read(extraction)


def test_a_fifo_or_a_device_among_the_posts_is_warned_and_skipped_unopened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")  # opening it for reading would wait for a writer forever
    (tmp_path / "zero.md").symlink_to("/dev/zero")  # reading it would never end

    extraction = _extract_with_good_neighbours(tmp_path, "plain.md", GOOD.format(name="plain"))

    assert _messages(extraction, "pipe.md") == [(None, "not a regular file (a named pipe); skipped")]
    assert _messages(extraction, "zero.md") == [(None, "not a regular file (a character device); skipped")]
    assert _neighbours_read(extraction)
