"""Repairing posts: only the URL text changes, on the line the extractor reported.

Each test writes a small post, runs the real extractor on it for the occurrences (so
lines and `source` values are the ones a restore gets), and plans or applies an edit.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import InputError, OutputError
from archiver.model import Form, Occurrence
from archiver.restore.edit import KEPT_SUFFIX
from archiver.restore.rewrite import ALREADY_REPAIRED, Edit, Replacement, apply_edit, plan_edit
from tests.conftest import by_url, extract_one

BASE = "http://blog.example.org/"
DEAD = "http://dead.example/img.png"
NEW = "https://archive.test/web/2015/img.png"
FRONT = "---\ntitle: A post\nlink: http://blog.example.org/2015/a-post/\n---\n\n"


def write_post(folder: Path, content: str | bytes, name: str = "post.md") -> Path:
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def occurrences(path: Path, url: str = DEAD) -> tuple[Occurrence, ...]:
    return by_url(extract_one(path, base_url=BASE))[url].occurrences


def replacements(path: Path, url: str = DEAD, new: str = NEW, append: bool = False) -> list[Replacement]:
    return [Replacement(occurrence, new, append) for occurrence in occurrences(path, url)]


def repair(path: Path, url: str = DEAD, new: str = NEW, append: bool = False) -> Edit:
    return plan_edit(path, replacements(path, url, new, append))


def reasons(edit: Edit) -> list[str]:
    return [reason for _, reason in edit.skipped]


# Only the URL text changes


def test_only_the_url_text_changes_and_nothing_is_written(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + 'Intro   \n\n![a slide](http://dead.example/img.png "Slide")\t\n\nThe end.')

    edit = repair(path)

    assert edit.after == edit.before.replace(DEAD.encode(), NEW.encode())
    assert (len(edit.applied), edit.skipped, edit.changed) == (1, (), True)
    assert path.read_bytes() == edit.before


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["crlf", "lone-cr"])
def test_crlf_and_lone_cr_line_endings_are_kept_and_counted_as_the_extractor_does(tmp_path: Path, ending: str) -> None:
    lines = ["---", "title: A post", "---", "", "One line.", "", "![a slide](http://dead.example/img.png)  ", ""]
    path = write_post(tmp_path, ending.join(lines))

    edit = repair(path)

    assert [o.line for o in occurrences(path)] == [7]
    assert edit.after == ending.join(lines).replace(DEAD, NEW).encode()


def test_a_utf8_bom_and_invalid_bytes_round_trip(tmp_path: Path) -> None:
    content = (
        b"\xef\xbb\xbf" + FRONT.encode() + b"Caf\xe9 \xed\xa0\x80\n\n\xff ![x](http://dead.example/img.png) \xfe\n"
    )
    path = write_post(tmp_path, content)

    edit = repair(path)

    assert edit.after == content.replace(DEAD.encode(), NEW.encode())


@pytest.mark.parametrize(("encoding", "bom"), [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_posts_keep_their_bom_and_byte_order(tmp_path: Path, encoding: str, bom: bytes) -> None:
    content = FRONT + "Été\r\n\r\n![x](http://dead.example/img.png)\r\n"
    path = write_post(tmp_path, bom + content.encode(encoding))

    edit = repair(path)

    assert edit.after == bom + content.replace(DEAD, NEW).encode(encoding)


def test_a_post_that_cannot_be_decoded_is_left_alone(tmp_path: Path) -> None:
    path = write_post(tmp_path, b"\xff\xfe" + (FRONT + "![x](http://dead.example/img.png)\n").encode("utf-16-le"))
    found = replacements(path)
    path.write_bytes(path.read_bytes() + b"!")  # UTF-16 comes in pairs of bytes

    edit = plan_edit(path, found)

    assert not edit.changed
    assert reasons(edit) == ["not valid UTF-16-LE; left as it is"]


# Finding the URL text


@pytest.mark.parametrize("ampersand", ["&amp;", "&#038;", "&#38;", "&"])
def test_html_attributes_match_every_way_of_writing_an_ampersand(tmp_path: Path, ampersand: str) -> None:
    dead = "http://dead.example/img.png?w=1&h=2"
    path = write_post(tmp_path, f'<p><img src="http://dead.example/img.png?w=1{ampersand}h=2" alt="x"></p>\n', "p.html")

    edit = repair(path, dead, "https://archive.test/img.png?a=1&b=2")

    assert occurrences(path, dead)[0].form is Form.HTML
    assert edit.after == b'<p><img src="https://archive.test/img.png?a=1&amp;b=2" alt="x"></p>\n'


def test_a_reference_style_link_is_repaired_in_its_definition(tmp_path: Path) -> None:
    content = FRONT + 'See [the deck][Deck].\n\n[deck]: http://dead.example/img.png "The deck"\n'
    path = write_post(tmp_path, content)

    edit = repair(path)

    assert occurrences(path)[0].line == 6
    assert edit.after == content.replace(DEAD, NEW).encode()


def test_a_link_whose_text_is_wrapped_is_repaired_on_the_next_line(tmp_path: Path) -> None:
    content = FRONT + "A [walled\ngarden](http://dead.example/img.png) here.\n"
    path = write_post(tmp_path, content)

    assert repair(path).after == content.replace(DEAD, NEW).encode()


def test_an_html_tag_spread_over_lines_is_repaired(tmp_path: Path) -> None:
    content = FRONT + '<img\n  alt="a slide"\n  src="http://dead.example/img.png">\n'
    path = write_post(tmp_path, content)

    assert repair(path).after == content.replace(DEAD, NEW).encode()


def test_a_jekyll_site_variable_before_the_url_goes_with_it(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![logo]({{ site.url }}/assets/logo.png)\n")

    edit = repair(path, "http://blog.example.org/assets/logo.png", "/assets/restored/logo.png")

    assert edit.after == (FRONT + "![logo](/assets/restored/logo.png)\n").encode()


def test_an_occurrence_whose_line_does_not_hold_the_url_is_skipped_naming_the_line(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n\nNothing here.\n")
    moved = dataclasses.replace(occurrences(path)[0], line=8)

    edit = plan_edit(path, [Replacement(moved, NEW)])

    assert not edit.changed
    assert reasons(edit) == ["the URL text is not on line 8"]


@pytest.mark.parametrize(
    "other",
    [
        "http://dead.example/img.png.bak",
        "http://dead.example/img.pngs",
        "http://dead.example/img.png?size=2",
        "http://mirror.example/http://dead.example/img.png",
    ],
)
def test_only_whole_urls_are_replaced(tmp_path: Path, other: str) -> None:
    content = FRONT + f"![x](http://dead.example/img.png) and {other} too.\n"
    path = write_post(tmp_path, content)

    edit = repair(path)

    assert edit.after == content.replace(f"({DEAD})", f"({NEW})").encode()


def test_a_url_ending_a_sentence_is_a_whole_url(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "It was at http://dead.example/img.png. Or (http://dead.example/img.png).\n")

    edit = repair(path)

    assert edit.after == (FRONT + f"It was at {NEW}. Or ({NEW}).\n").encode()


def test_an_image_wrapped_in_a_link_to_itself_is_replaced_twice(tmp_path: Path) -> None:
    content = FRONT + "[![a slide](http://dead.example/img.png)](http://dead.example/img.png)\n"
    path = write_post(tmp_path, content)

    edit = repair(path)

    assert edit.after == content.replace(DEAD, NEW).encode()
    assert len(edit.applied) == 2


def test_code_that_mentions_the_url_on_the_same_line_is_left_alone(tmp_path: Path) -> None:
    content = FRONT + "![x](http://dead.example/img.png) is written `http://dead.example/img.png`.\n"
    path = write_post(tmp_path, content)

    assert repair(path).after == content.replace(f"({DEAD})", f"({NEW})").encode()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[results](http://dead.example/page#results)", "[results](https://archive.test/page#results)"),
        ('<a href="http://dead.example/page#results">r</a>', '<a href="https://archive.test/page#results">r</a>'),
    ],
)
def test_a_fragment_is_kept_after_the_new_address(tmp_path: Path, line: str, expected: str) -> None:
    path = write_post(tmp_path, FRONT + line + "\n")

    edit = repair(path, "http://dead.example/page", "https://archive.test/page")

    assert edit.after == (FRONT + expected + "\n").encode()


def test_spaces_and_parentheses_are_percent_encoded_in_markdown_links(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")

    edit = repair(path, new="/assets/a slide (1).png")

    assert edit.after == (FRONT + "![x](/assets/a%20slide%20%281%29.png)\n").encode()


# Adding an archived link


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('[slides](DEAD "Deck") here', '[slides](DEAD "Deck") ([archived](NEW)) here'),
        ("![a slide](DEAD)", "![a slide](DEAD) ([archived](NEW))"),
        ("[![a slide](DEAD)](DEAD)", "[![a slide](DEAD)](DEAD) ([archived](NEW))"),
        ("<DEAD> here", "<DEAD> ([archived](NEW)) here"),
        ("see DEAD.", "see DEAD ([archived](NEW))."),
        ('A <a href="DEAD">deck</a>.', 'A <a href="DEAD">deck</a> (<a href="NEW">archived</a>).'),
        ('<p><img src="DEAD"> x</p>', '<p><img src="DEAD"> (<a href="NEW">archived</a>) x</p>'),
        (
            '<p><a href="/d"><img src="DEAD"></a></p>',
            '<p><a href="/d"><img src="DEAD"></a> (<a href="NEW">archived</a>)</p>',
        ),
    ],
    ids=["link", "image", "image-in-link", "autolink", "bare", "html-link", "html-image", "html-image-in-link"],
)
def test_an_archived_link_follows_the_construct(tmp_path: Path, line: str, expected: str) -> None:
    def filled(text: str) -> str:
        return FRONT + text.replace("DEAD", DEAD).replace("NEW", NEW) + "\n"

    path = write_post(tmp_path, filled(line))

    edit = repair(path, append=True)

    assert edit.after == filled(expected).encode()


def test_an_archived_link_follows_the_usage_of_a_reference_style_link(tmp_path: Path) -> None:
    definition = "\n\n[deck]: http://dead.example/img.png\n"
    path = write_post(tmp_path, FRONT + "See [the deck][Deck] and more." + definition)

    edit = repair(path, append=True)

    assert edit.after == (FRONT + f"See [the deck][Deck] ([archived]({NEW})) and more." + definition).encode()


def test_an_archived_link_follows_an_html_post_s_bare_url(tmp_path: Path) -> None:
    path = write_post(tmp_path, "<p>See http://dead.example/img.png today.</p>\n", "p.html")

    edit = repair(path, new="https://archive.test/?a=1&b=2", append=True)

    assert (
        edit.after == f'<p>See {DEAD} (<a href="https://archive.test/?a=1&amp;b=2">archived</a>) today.</p>\n'.encode()
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('<a href="http://dead.example/img.png">\nslides</a>\n', "the </a> ending the element is not on line 6"),
        ("[embed]http://dead.example/img.png[/embed]\n", "an archived link cannot be added inside a shortcode"),
    ],
)
def test_an_archived_link_that_has_no_place_is_skipped(tmp_path: Path, content: str, reason: str) -> None:
    path = write_post(tmp_path, FRONT + content)

    edit = repair(path, append=True)

    assert not edit.changed
    assert reasons(edit) == [reason]


def test_a_url_cited_as_a_link_and_bare_on_one_line_gets_an_archived_link_after_each(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + f"A [recap]({DEAD}) and again: {DEAD} here.\n")

    edit = repair(path, append=True)

    archived = f" ([archived]({NEW}))"
    assert edit.after == (FRONT + f"A [recap]({DEAD}){archived} and again: {DEAD}{archived} here.\n").encode()


def test_html_link_text_is_replaced_and_code_is_not(tmp_path: Path) -> None:
    content = f'<p><a href="{DEAD}">{DEAD}</a> is written <code>{DEAD}</code>.</p>\n'
    path = write_post(tmp_path, content, "p.html")

    replaced, appended = repair(path), repair(path, append=True)

    assert replaced.after == f'<p><a href="{NEW}">{NEW}</a> is written <code>{DEAD}</code>.</p>\n'.encode()
    archived = f' (<a href="{NEW}">archived</a>)'
    assert appended.after == content.replace("</a>", "</a>" + archived).encode()


def test_each_written_url_is_escaped_for_what_it_stands_in(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + f'![a]({DEAD}) <img src="{DEAD}">\n')

    edit = repair(path, new="https://archive.test/?a=1&b=2")

    assert (
        edit.after
        == (FRONT + '![a](https://archive.test/?a=1&b=2) <img src="https://archive.test/?a=1&amp;b=2">\n').encode()
    )


# Idempotence and conflicts


@pytest.mark.parametrize("append", [False, True], ids=["replace", "append"])
def test_repairing_a_repaired_post_changes_nothing(tmp_path: Path, append: bool) -> None:
    content = (
        FRONT + '![a](http://dead.example/img.png) and [ref][r]\n\n<p><a href="http://dead.example/img.png">i</a></p>\n'
    )
    path = write_post(tmp_path, content + "\n[r]: http://dead.example/img.png\n")
    found = replacements(path, new="https://archive.test/img?a=1&b=2", append=append)
    apply_edit(plan_edit(path, found))

    again = plan_edit(path, found)

    assert not again.changed
    assert (again.applied, reasons(again)) == ((), [ALREADY_REPAIRED] * 3)


def test_archived_links_for_two_urls_after_one_link_are_each_added_once(tmp_path: Path) -> None:
    line = "[![a slide](http://dead.example/img.png)](http://dead.example/page)"
    path = write_post(tmp_path, FRONT + line + "\n")
    found = replacements(path, append=True) + replacements(path, "http://dead.example/page", "/p", append=True)
    apply_edit(plan_edit(path, found))

    again = plan_edit(path, found)

    assert path.read_text() == FRONT + line + f" ([archived]({NEW})) ([archived](/p))\n"
    assert (again.changed, reasons(again)) == (False, [ALREADY_REPAIRED] * 2)


def test_two_addresses_for_one_url_on_one_line_keep_the_first(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")
    occurrence = occurrences(path)[0]
    first, same, other = Replacement(occurrence, NEW), Replacement(occurrence, NEW), Replacement(occurrence, "/x.png")

    edit = plan_edit(path, [first, same, other])

    assert edit.after == (FRONT + f"![x]({NEW})\n").encode()
    assert (edit.applied, edit.skipped) == ((first, same), ((other, "overlaps another replacement on line 6"),))


def test_an_occurrence_in_another_post_is_skipped(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")
    elsewhere = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n", "other.md")

    edit = plan_edit(path, replacements(elsewhere))

    assert reasons(edit) == [f"the occurrence is in {elsewhere}, not in this post"]


def test_planning_a_missing_post_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "gone.md"))):
        plan_edit(tmp_path / "gone.md", [])


# Diffs and writing


def test_the_diff_shows_the_changed_line(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\r\n")

    edit = repair(path)

    shown = path.as_posix().lstrip("/")  # tmp_path is outside the current folder
    assert edit.diff().startswith(f"--- a/{shown}\n+++ b/{shown}\n@@ ")
    assert f"\n-![x]({DEAD})\n+![x]({NEW})\n" in edit.diff()
    assert plan_edit(path, []).diff() == ""


def test_apply_edit_writes_the_new_bytes_and_keeps_the_mode(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")
    path.chmod(0o640)
    edit = repair(path)

    apply_edit(edit)

    assert path.read_bytes() == edit.after
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["post.md"]


def test_apply_edit_refuses_a_post_changed_since_it_was_read(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")
    edit = repair(path)
    path.write_text(FRONT + "![x](http://dead.example/img.png)\n\nA new paragraph.\n")

    with pytest.raises(OutputError, match=re.escape(f"{path}: changed since it was read")):
        apply_edit(edit)
    assert path.read_text().endswith("A new paragraph.\n")


def test_apply_edit_raises_output_error_naming_a_post_it_cannot_write(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")
    edit = repair(path)
    path.unlink()
    path.mkdir()

    with pytest.raises(OutputError, match=re.escape(str(path))):
        apply_edit(edit)


def test_apply_edit_writes_nothing_for_an_edit_that_changes_nothing(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "No links.\n")
    edit = plan_edit(path, [])
    path.unlink()

    apply_edit(edit)

    assert not path.exists()


# Every byte outside the replaced spans stays


MESSY_DEAD = "http://dead.example/img.png?w=1&h=2"
MESSY_WRITTEN = (MESSY_DEAD.encode(), MESSY_DEAD.replace("&", "&amp;").encode())
FILLER = st.builds(
    bytes.__add__,
    st.text(alphabet="abc XYZ é€.,;!?", max_size=20).map(str.encode),
    st.sampled_from([b"", b"\xff", b"\xc3(", b"\xed\xa0\x80", b"   "]),
)
ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r"])


def messy_lines(filler: list[bytes]) -> list[bytes]:
    """A post with front matter, the dead URL in an image, in code and in HTML, and filler."""
    return [
        b"---",
        b"title: Messy",
        b"---",
        b"",
        *filler,
        b"",
        b"![a slide](" + MESSY_DEAD.encode() + b") is `" + MESSY_DEAD.encode() + b"`  ",
        b"",
        b"Inline code: `" + MESSY_DEAD.encode() + b"` alone.",
        b"",
        b"```",
        MESSY_DEAD.encode(),
        b"```",
        b"",
        b'<p><img src="' + MESSY_WRITTEN[1] + b'" alt="x"></p>',
        b"",
        *filler,
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filler=st.lists(FILLER, max_size=4), endings=st.lists(ENDINGS, min_size=1), bom=st.booleans())
def test_every_byte_outside_the_replaced_spans_is_unchanged(
    tmp_path: Path, filler: list[bytes], endings: list[bytes], bom: bool
) -> None:
    """Cut at each new address, the new post must be the old one cut at a written form
    of the dead URL: then every other byte is where it was, whatever the line endings,
    BOM or invalid bytes, and the mentions in code (three of them) are still there."""
    lines = messy_lines(filler)
    content = (b"\xef\xbb\xbf" if bom else b"") + b"".join(
        line + endings[index % len(endings)] for index, line in enumerate(lines)
    )
    path = write_post(tmp_path, content)

    edit = repair(path, MESSY_DEAD)

    pieces = edit.after.split(NEW.encode())
    either_written = b"(?:" + b"|".join(re.escape(written) for written in MESSY_WRITTEN) + b")"
    assert re.fullmatch(either_written.join(re.escape(piece) for piece in pieces), edit.before, re.DOTALL)
    assert (len(pieces) - 1, edit.after.count(MESSY_DEAD.encode())) == (2, 3)


def test_an_archived_link_to_another_capture_of_the_url_counts_as_repaired(tmp_path: Path) -> None:
    earlier = f"https://archive.test/web/20140101000000/{DEAD}"
    later = f"https://archive.test/web/20150101000000/{DEAD}"
    path = write_post(tmp_path, FRONT + f"See [it]({DEAD}) ([archived]({earlier})).\n")

    edit = repair(path, new=later, append=True)

    assert not edit.changed
    assert reasons(edit) == [ALREADY_REPAIRED]


# Spans: the extractor says where the URL is, the post is checked to still hold it


def test_a_post_changed_since_it_was_read_is_left_alone_naming_the_line(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "![x](http://dead.example/img.png)\n")
    found = replacements(path)
    path.write_bytes(path.read_bytes().replace(b"![x]", b"A new line.\n\n![an image]"))

    edit = plan_edit(path, found)

    assert not edit.changed
    assert reasons(edit) == ["the URL text is not on line 6"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [("[DEAD](DEAD)", "[NEW](NEW)"), ('<a href="DEAD">DEAD</a>', '<a href="NEW">NEW</a>')],
    ids=["markdown", "html"],
)
def test_a_link_showing_its_own_address_shows_the_new_one(tmp_path: Path, line: str, expected: str) -> None:
    path = write_post(tmp_path, FRONT + line.replace("DEAD", DEAD) + "\n")
    found = replacements(path)

    edit = plan_edit(path, found)
    apply_edit(edit)

    assert edit.after == (FRONT + expected.replace("NEW", NEW) + "\n").encode()
    assert reasons(plan_edit(path, found)) == [ALREADY_REPAIRED]


def test_a_jekyll_site_variable_in_an_html_attribute_goes_with_the_url(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + '<img src="{{ site.url }}/assets/logo.png" alt="logo">\n')

    edit = repair(path, "http://blog.example.org/assets/logo.png", "/assets/restored/logo.png")

    assert edit.after == (FRONT + '<img src="/assets/restored/logo.png" alt="logo">\n').encode()


def test_a_replaced_image_and_an_archived_link_on_one_line_are_each_found_again(tmp_path: Path) -> None:
    path = write_post(tmp_path, FRONT + "[![a](http://dead.example/img.png)](http://dead.example/page) and more\n")
    found = replacements(path) + replacements(path, "http://dead.example/page", "/p", append=True)
    apply_edit(plan_edit(path, found))

    again = plan_edit(path, found)

    assert path.read_text() == FRONT + f"[![a]({NEW})](http://dead.example/page) ([archived](/p)) and more\n"
    assert (again.changed, reasons(again)) == (False, [ALREADY_REPAIRED] * 2)


def test_every_corpus_citation_is_repaired_at_its_span_and_found_repaired_again(corpus: Path, tmp_path: Path) -> None:
    """Each occurrence of each corpus post, replaced on its own: only its span changes;
    then all of a post's occurrences at once, and planned again: all already repaired."""
    new = "https://archive.test/web/2015/x?a=1&b=2"
    for post in sorted(corpus.glob("*")):
        path = write_post(tmp_path, post.read_bytes(), post.name)
        found = [Replacement(o, new) for link in extract_one(path).links for o in link.occurrences if link.fetchable]
        for replacement in found:
            span, where = replacement.occurrence.span, f"{post.name}:{replacement.occurrence.line}"
            assert span is not None, where
            edit = plan_edit(path, [replacement])
            changed = [(span.start, span.end), *span.shown]
            first, kept = min(start for start, _ in changed), len(edit.before) - max(end for _, end in changed)
            assert edit.skipped == (), where
            assert edit.after[:first] == edit.before[:first], where
            assert edit.after[len(edit.after) - kept :] == edit.before[len(edit.before) - kept :], where
            assert edit.after[span.start :].startswith(b"https://archive.test/web/2015/x?a=1&"), where
        apply_edit(plan_edit(path, found))
        again = plan_edit(path, found)
        assert not again.changed, post.name
        assert {reason for _, reason in again.skipped} <= {ALREADY_REPAIRED}, post.name


# A post edited while it is rewritten

EDITOR = """
import os, random, sys, time
path, how, stop, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
saves = 0
while not os.path.exists(stop):
    line = f"edit {saves}\\n".encode()
    if how == "append":
        handle = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(handle, line)
        os.close(handle)
    else:  # as editors that save to a new file and rename it over the old one
        with open(path, "rb") as old:
            data = old.read()
        with open(f"{path}.save", "wb") as new:
            new.write(data + line)
        os.replace(f"{path}.save", path)
    saves += 1
    time.sleep(random.random() * pause)
print(saves)
"""


# An editor that saves by renaming a new file over the post in the microseconds between
# the last comparison and restore's own rename is overwritten (docs/restore.md says so): a
# race this test could lose under load, so it runs only the appending editors, whose
# saves restore keeps even then.
@pytest.mark.parametrize(("how", "pause"), [("append", 0.0), ("append", 0.002)])
def test_an_edit_saved_while_the_post_is_rewritten_is_never_lost(tmp_path: Path, how: str, pause: float) -> None:
    outcomes: list[str] = []
    trial = 0
    # 15 trials; with a pause between saves, more (up to 60) until one finds the time to
    # repair, however loaded the machine: the race must be run, not only refused.
    while trial < 15 or (pause and not {"repaired", "the edit is kept in"} & set(outcomes) and trial < 60):
        trial += 1
        path = write_post(tmp_path, FRONT + f"![a]({DEAD})\n" + "Some text.\n" * 40, f"post{trial}.md")
        found, stop = replacements(path), tmp_path / f"stop{trial}"
        editor = subprocess.Popen([sys.executable, "-c", EDITOR, str(path), how, str(stop), str(pause)],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        while b"edit 0" not in path.read_bytes():
            time.sleep(0.0005)
        try:
            outcomes.append(_repaired_or_reported(path, found))
        finally:
            stop.touch()
            saves = int(editor.communicate(timeout=30)[0])
        kept = path.with_name(path.name + KEPT_SUFFIX)
        text = path.read_text() + (kept.read_text() if kept.exists() else "")
        assert [n for n in range(saves) if f"edit {n}\n" not in text] == [], f"trial {trial}"
        if outcomes[-1] == "repaired" and how == "append":
            assert NEW in path.read_text()
    assert set(outcomes) <= {"repaired", "changed since it was read", "the edit is kept in"}
    if pause:  # between saves there is time to repair: not every trial merely refused
        assert {"repaired", "the edit is kept in"} & set(outcomes), outcomes


def _repaired_or_reported(path: Path, found: list[Replacement]) -> str:
    try:
        apply_edit(plan_edit(path, found))
    except OutputError as error:
        return next(
            (why for why in ("changed since it was read", "the edit is kept in") if why in str(error)), str(error)
        )
    return "repaired"
