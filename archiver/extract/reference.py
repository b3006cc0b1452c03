"""A URL as the parsers find it, before it is resolved against the post's address."""

from __future__ import annotations

from dataclasses import dataclass

from archiver.model import Form, LinkKind, SourceSpan


@dataclass(frozen=True)
class Reference:
    """One URL written in a post: the URL, what cites it and where.

    `written` is the URL's text in the post when it differs from `url`, as for a bare
    `www.example.com` whose URL is `http://www.example.com`. `span` is where the URL's
    text is, in the text the parser was given.
    """

    url: str
    kind: LinkKind
    form: Form
    line: int
    text: str = ""
    written: str | None = None
    span: SourceSpan | None = None


def tidy_text(text: str) -> str:
    """Link or alt text on one line, with runs of white space made single spaces."""
    return " ".join(text.split())
