"""Times as the archiver writes them: ISO 8601, in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Literal

Precision = Literal["auto", "seconds", "microseconds"]


def utc_now() -> dt.datetime:
    """The current time, in UTC."""
    return dt.datetime.now(dt.UTC)


def timestamp14(when: dt.datetime) -> str:
    """`when` in UTC as the 14 digits of a Wayback address or a WARC file name: YYYYMMDDhhmmss."""
    return when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")


def utc_iso(when: dt.datetime, timespec: Precision = "auto", zulu: bool = False) -> str:
    """`when` in UTC as ISO 8601 text, to `timespec`; with `zulu`, ending in `Z` instead of
    `+00:00` (as WARC-Date and the restore manifest write it)."""
    text = when.astimezone(dt.UTC).isoformat(timespec=timespec)
    return text.removesuffix("+00:00") + "Z" if zulu else text
