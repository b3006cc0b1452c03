"""Write an Extraction for people (a table) and for programs (JSON, CSV).

The JSON document follows the versioned schema in `archiver/schemas/extract-v1.json`
(described in `docs/extract-json.md`); later stages and other tools read it. Its
content depends only on the posts, never on when or where it was made, so two runs
over the same posts give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

from rich.console import Console
from rich.table import Table

from archiver.errors import InputError
from archiver.model import Extracted, Extraction, Form, Link, LinkKind, Occurrence, Post, Problem, Skip, SkipReason
from archiver.redact import Redactor

_T = TypeVar("_T")
SCHEMA_NAME = "archiver/extract"
SCHEMA_VERSION = 1
CSV_COLUMNS = (
    "url", "link_kind", "internal", "skip_reason", "skip_detail",
    "post", "line", "kind", "form", "text", "source", "fragment",
)  # fmt: skip
_WHERE_SHOWN = 2
_WIDE_OUTPUT = 4096  # rich sizes a table to its content: no folded URLs in a pipe


def to_json(extraction: Extraction) -> str:
    """The extraction as a JSON document of schema `archiver/extract` version 1."""
    return "".join(json_chunks(extraction))


def json_chunks(extraction: Extracted, shown: Redactor | None = None) -> Iterator[str]:
    """`to_json`'s document, made as it is written: a post, a link or a problem a line,
    never the whole document held at once (a large blog's runs to tens of megabytes);
    with `shown`, every text in it redacted."""
    redact = shown.value if shown else _as_it_is
    head = {"schema": SCHEMA_NAME, "version": SCHEMA_VERSION, "totals": totals(extraction)}
    yield "{\n" + "".join(f"  {_dumped(key)}: {_dumped(value)},\n" for key, value in head.items())
    yield from _json_list("posts", map(_post, redact(extraction.posts)))
    yield ",\n"
    yield from _json_list("links", (_link(redact(link)) for link in extraction.links))
    yield ",\n"
    yield from _json_list("problems", map(_problem, redact(extraction.problems)))
    yield "\n}\n"


def _as_it_is(value: _T) -> _T:
    return value


def _json_list(name: str, entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield f"  {_dumped(name)}: ["
    written = 0
    for written, entry in enumerate(entries, start=1):
        yield ("\n    " if written == 1 else ",\n    ") + _dumped(entry)
    yield "\n  ]" if written else "]"


def _dumped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def read_extraction(path: Path) -> Extraction:
    """Read back the extraction a run wrote to `path` (links.json); InputError, naming the
    file, when it is missing or is not one."""
    try:
        return from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read the last extraction ({error}); run `archiver run` first") from None


def from_json(text: str) -> Extraction:
    """Read back a document written by `to_json` (ValueError when it is not one)."""
    document = json.loads(text)
    if document.get("schema") != SCHEMA_NAME or document.get("version") != SCHEMA_VERSION:
        raise ValueError(f"not an {SCHEMA_NAME} version {SCHEMA_VERSION} document")
    return Extraction(
        posts=tuple(_post_from(post) for post in document["posts"]),
        links=tuple(_link_from(link) for link in document["links"]),
        problems=tuple(Problem(Path(p["path"]), p["message"], p["line"]) for p in document["problems"]),
    )


def _post_from(post: dict[str, Any]) -> Post:
    date = dt.date.fromisoformat(post["date"]) if post["date"] else None
    return Post(Path(post["path"]), post["address"], post["title"], date, post["links"])


def _link_from(link: dict[str, Any]) -> Link:
    skip = Skip(SkipReason(link["skip"]["reason"]), link["skip"]["detail"]) if link["skip"] else None
    occurrences = tuple(
        Occurrence(
            Path(o["post"]), o["line"], o["text"], LinkKind(o["kind"]), Form(o["form"]), o["source"], o["fragment"]
        )
        for o in link["occurrences"]
    )
    return Link(link["url"], LinkKind(link["kind"]), link["internal"], occurrences, skip)


def totals(extraction: Extracted) -> dict[str, int]:
    """Counts a summary line and the JSON document share (in one pass over the links)."""
    counts = dict.fromkeys(("links", "images", "internal", "skipped", "occurrences"), 0)
    for link in extraction.links:
        counts["occurrences"] += len(link.occurrences)
        if not link.fetchable:
            counts["skipped"] += 1
            continue
        counts["links"] += 1
        counts["images"] += link.kind is LinkKind.IMAGE
        counts["internal"] += link.internal
    return {"posts": len(extraction.posts), **counts, "problems": len(extraction.problems)}


def to_csv(extraction: Extraction) -> str:
    """One CSV row per occurrence, with its link's URL and status in every row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for link in extraction.links:
        for occurrence in link.occurrences:
            writer.writerow(_csv_row(link, occurrence))
    return buffer.getvalue()


def write_table(extraction: Extraction, stream: TextIO) -> None:
    """A table of links, one of skipped links, and a summary line, for reading."""
    width = None if stream.isatty() else _WIDE_OUTPUT
    # text from posts is shown as it is: "[b]" or ":smile:" in a link text are not markup
    console = Console(file=stream, width=width, highlight=False, markup=False, emoji=False)
    if extraction.fetchable:
        console.print(_links_table(extraction.fetchable))
    if extraction.skipped:
        console.print(_skipped_table(extraction.skipped))
    console.print(summary(extraction), markup=False)


def summary(extraction: Extracted) -> str:
    """One line: how many posts, links, images, skipped links and problems."""
    counts = totals(extraction)
    return (
        f"{_count(counts['links'], 'link')} ({_count(counts['images'], 'image')}, {counts['internal']} internal) "
        f"in {_count(counts['posts'], 'post')}; {counts['skipped']} skipped; {_count(counts['problems'], 'problem')}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _links_table(links: tuple[Link, ...]) -> Table:
    table = Table(title="Links", title_justify="left")
    for column in ("Kind", "URL", "Cited at", "Text"):
        table.add_column(column, overflow="fold")
    for link in links:
        scope = "internal " if link.internal else ""
        table.add_row(scope + link.kind.value, link.url, _where(link), link.occurrences[0].text)
    return table


def _skipped_table(links: tuple[Link, ...]) -> Table:
    table = Table(title="Skipped (not fetched)", title_justify="left")
    for column in ("Reason", "URL", "Cited at", "Detail"):
        table.add_column(column, overflow="fold")
    for link in links:
        reason, detail = (link.skip.reason.value, link.skip.detail) if link.skip else ("", "")
        table.add_row(reason, link.url, _where(link), detail)
    return table


def _where(link: Link) -> str:
    places = [f"{o.post.name}:{o.line}" for o in link.occurrences[:_WHERE_SHOWN]]
    more = len(link.occurrences) - _WHERE_SHOWN
    return ", ".join(places) + (f" (+{more} more)" if more > 0 else "")


def _post(post: Post) -> dict[str, Any]:
    return {
        "path": _path(post.path),
        "address": post.address,
        "title": post.title,
        "date": post.date.isoformat() if post.date else None,
        "links": post.link_count,
    }


def _link(link: Link) -> dict[str, Any]:
    return {
        "url": link.url,
        "kind": link.kind.value,
        "internal": link.internal,
        "skip": {"reason": link.skip.reason.value, "detail": link.skip.detail} if link.skip else None,
        "occurrences": [_occurrence(occurrence) for occurrence in link.occurrences],
    }


def _occurrence(occurrence: Occurrence) -> dict[str, Any]:
    return {
        "post": _path(occurrence.post),
        "line": occurrence.line,
        "kind": occurrence.kind.value,
        "form": occurrence.form.value,
        "text": occurrence.text,
        "source": occurrence.source,
        "fragment": occurrence.fragment,
    }


def _problem(problem: Problem) -> dict[str, Any]:
    return {"path": _path(problem.path), "line": problem.line, "message": problem.message}


def _csv_row(link: Link, occurrence: Occurrence) -> tuple[Any, ...]:
    skip_reason = link.skip.reason.value if link.skip else ""
    skip_detail = link.skip.detail if link.skip else ""
    return (
        link.url, link.kind.value, str(link.internal).lower(), skip_reason, skip_detail,
        _path(occurrence.post), occurrence.line, occurrence.kind.value, occurrence.form.value,
        occurrence.text, occurrence.source, occurrence.fragment,
    )  # fmt: skip


def _path(path: Path) -> str:
    return path.as_posix()
