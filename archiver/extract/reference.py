"""A URL as the parsers find it, before it is resolved against the post's address."""

from __future__ import annotations

from dataclasses import dataclass

from archiver.model import Form, LinkKind


@dataclass(frozen=True)
class Reference:
    """One URL written in a post: the text of the URL, what cites it and where."""

    url: str
    kind: LinkKind
    form: Form
    line: int
    text: str = ""


def tidy_text(text: str) -> str:
    """Link or alt text on one line, with runs of white space made single spaces."""
    return " ".join(text.split())
