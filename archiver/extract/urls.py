"""Turn a URL as written in a post into the normalised absolute URL the archiver keys on.

Normalising changes as little as possible: the scheme and host are lower-cased, a
default port is dropped, the fragment is set apart and a `user:password@` is dropped
(the fetcher never sends one, so it is no part of what is fetched, and a credential is
never stored; see `archiver.redact`). Everything else (percent
escapes, case of the path, a trailing slash, a non-ASCII host) stays as written,
because two spellings a server may treat differently must not be merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from archiver.model import Skip, SkipReason

FETCHED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_DISPLAY_LIMIT = 80


@dataclass(frozen=True)
class ResolvedUrl:
    """An absolute http(s) URL without fragment, the fragment, and whether it was written
    relative to the post's own site (no scheme and no host)."""

    url: str
    fragment: str
    relative: bool


def resolve(written: str, base: str | None) -> ResolvedUrl | Skip:
    """Resolve `written` against `base` and normalise it, or say why it cannot be fetched."""
    written = written.strip()
    try:
        parts = urlsplit(written)
    except ValueError as error:
        return Skip(SkipReason.INVALID, f"{_shorten(written)}: {error}")
    relative = not parts.scheme and not parts.netloc
    if not parts.scheme:
        if base is None:
            return Skip(SkipReason.NO_BASE, "relative URL and the post has no address; set posts.base_url")
        try:
            parts = urlsplit(urljoin(base, written))
        except ValueError as error:
            return Skip(SkipReason.INVALID, f"{_shorten(written)}: {error}")
    scheme = parts.scheme.lower()
    if scheme not in FETCHED_SCHEMES:
        return Skip(SkipReason.SCHEME, f"{scheme}: URLs are not fetched")
    return _normalised(parts, scheme, relative, written)


def _normalised(parts: SplitResult, scheme: str, relative: bool, written: str) -> ResolvedUrl | Skip:
    try:
        port = parts.port
    except ValueError:
        return Skip(SkipReason.INVALID, f"{_shorten(written)}: the port is not a number from 0 to 65535")
    host = parts.hostname
    if not host:
        return Skip(SkipReason.INVALID, f"{_shorten(written)}: no host name")
    netloc = _netloc(host, None if port == DEFAULT_PORTS[scheme] else port)
    url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    if parts.query == "" and written.split("#", 1)[0].endswith("?"):
        url += "?"  # urlunsplit drops an empty query, which a server may see differently
    return ResolvedUrl(url=url, fragment=parts.fragment, relative=relative)


def _netloc(host: str, port: int | None) -> str:
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return f"{host}:{port}" if port is not None else host


def _shorten(text: str) -> str:
    return text if len(text) <= _DISPLAY_LIMIT else text[: _DISPLAY_LIMIT - 1] + "…"
