"""What of a URL is a secret, and how it is kept out of what the archiver shows.

Two parts of a URL can carry a credential: the userinfo (`https://user:password@host/`)
and a query parameter (`?access_token=…`, `&X-Amz-Signature=…`). The userinfo is dropped
where a URL is first read (`without_userinfo`): the fetcher never sends it, so it is not
part of what was fetched, and it is neither stored nor shown. A query parameter is part
of the address a server answers, so the fetcher requests it and the WARC files keep the
exact URL requested, as an archive must; everything else the archiver writes for people
and scripts to read (the reports, `results.jsonl`, `links.json`, the log, warnings)
shows its value as `***` (`Redactor`).

A parameter is taken for a secret when a part of its name (split at anything that is
not a letter or digit, in any case) ends with one of the words of `report.secret_params`:
with the default words, `token`, `access_token`, `apiKey`, `client_secret`, `X-Amz-Signature` and
`oauth` are, `author`, `keyword` and `page` are not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable
from pathlib import PosixPath, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

MARK = "***"

# Up to the last "@" before the host, as URL parsers read it (a password may hold an "@").
_USERINFO = re.compile(r"(?<=://)[^\s/?#\[\]]+@")
# A parameter of a query, of a fragment (OAuth's implicit flow returns its token there), or
# a text that is a fragment alone (an occurrence keeps its fragment without the "#").
_PARAM = re.compile(r"(?:(?<=[?&;#])|^)([^\s=&;#?\"'<>]+)=([^\s&;#\"'<>]*)")
_NAME_PARTS = re.compile(r"[^a-z0-9]+")
_REDACTED = re.compile(rf"://{re.escape(MARK)}@|=({re.escape(MARK)})(?=[&;#]|$)")

_NAMES_KEPT = 10_000
_T = TypeVar("_T")


def without_userinfo(url: str) -> str:
    """`url` without its `user:password@` part (unchanged when it has none, or when it
    cannot be read as a URL: fetching it will say what is wrong)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def has_userinfo(url: str) -> bool:
    """True when `url` names a user (and maybe a password) before its host."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


def holds_redaction(url: str) -> bool:
    """True when `url` had a secret taken out by a `Redactor` (it names no real address)."""
    return _REDACTED.search(url) is not None


class Redactor:
    """Shows the secrets in URLs, wherever they stand in a text, as `***`."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = tuple(sorted({word.lower() for word in words}))
        self._names: dict[str, bool] = {}  # parameter names already judged (a few kinds repeat)

    def is_secret(self, name: str) -> bool:
        """True when a query parameter of this name is taken for a secret."""
        known = self._names.get(name)
        if known is None:
            known = any(part.endswith(self._words) for part in _NAME_PARTS.split(name.lower()) if part)
            if len(self._names) < _NAMES_KEPT:
                self._names[name] = known
        return known

    def text(self, text: str) -> str:
        """`text` with every userinfo and every secret parameter's value in it replaced."""
        shown = text
        if "@" in shown:
            shown = _USERINFO.sub(MARK + "@", shown)
        if "=" in shown and self._words:
            shown = _PARAM.sub(self._param, shown)
        return text if shown == text else shown

    def _param(self, match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        return f"{name}={MARK}" if value and self.is_secret(name) else match.group(0)

    def value(self, value: _T) -> _T:
        """`value` with every string in it redacted: a string, or a frozen dataclass, a
        tuple, list or dict of them, to any depth (enums, paths, numbers kept as they are;
        `value` itself when nothing in it changed)."""
        return _redacted(value, self.text)  # type: ignore[no-any-return]


_ATOMS = frozenset({int, float, bool, type(None), bytes, dt.datetime, dt.date, PurePosixPath, PosixPath})
_FIELDS: dict[type, tuple[str, ...]] = {}  # the field names of each dataclass met, () for other types


def _redacted(value: Any, text: Callable[[str], str]) -> Any:
    """`value` with `text` applied to each string in it; `value` itself when none changed.
    (Dispatched on the exact type, because it runs over every verdict of a large history.)"""
    kind = type(value)
    if kind is str:
        return text(value)
    if kind in _ATOMS or isinstance(value, enum.Enum):
        return value
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value)) if _is_record(value) else ()
    if names:
        changes = {}
        for name in names:
            old = getattr(value, name)
            new = _redacted(old, text)
            if new is not old and new != old:
                changes[name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple | list):
        items = [_redacted(item, text) for item in value]
        return value if items == list(value) else type(value)(items)
    if isinstance(value, dict):
        return {_redacted(key, text): _redacted(item, text) for key, item in value.items()}
    return value


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)
