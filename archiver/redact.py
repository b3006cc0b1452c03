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
import enum
import re
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

MARK = "***"

_USERINFO = re.compile(r"(?<=://)[^\s/?#@\[\]]+@")
_PARAM = re.compile(r"(?<=[?&;])([^\s=&;#?\"'<>]+)=([^\s&;#\"'<>]*)")
_NAME_PARTS = re.compile(r"[^a-z0-9]+")
_REDACTED = re.compile(rf"://{re.escape(MARK)}@|=({re.escape(MARK)})(?=[&;#]|$)")

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

    def is_secret(self, name: str) -> bool:
        """True when a query parameter of this name is taken for a secret."""
        return any(part.endswith(self._words) for part in _NAME_PARTS.split(name.lower()) if part)

    def text(self, text: str) -> str:
        """`text` with every userinfo and every secret parameter's value in it replaced."""
        if "@" in text:
            text = _USERINFO.sub(MARK + "@", text)
        if "=" in text and self._words:
            text = _PARAM.sub(self._param, text)
        return text

    def _param(self, match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        return f"{name}={MARK}" if value and self.is_secret(name) else match.group(0)

    def value(self, value: _T) -> _T:
        """`value` with every string in it redacted: a string, or a frozen dataclass, a
        tuple, list or dict of them, to any depth (enums, paths, numbers kept as they are)."""
        return _redacted(value, self.text)  # type: ignore[no-any-return]


def _redacted(value: Any, text: Any) -> Any:
    if isinstance(value, str):
        return value if isinstance(value, enum.Enum) else text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            old = getattr(value, field.name)
            new = _redacted(old, text)
            if new is not old and new != old:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple):
        items = tuple(_redacted(item, text) for item in value)
        return items if items != value else value
    if isinstance(value, list):
        return [_redacted(item, text) for item in value]
    if isinstance(value, dict):
        return {_redacted(key, text): _redacted(item, text) for key, item in value.items()}
    return value
