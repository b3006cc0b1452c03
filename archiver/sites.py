"""Which site a URL belongs to, for comparing hosts the way people do: without `www.`."""

from __future__ import annotations

from urllib.parse import urlsplit


def site_key(url: str) -> str:
    """The URL's host, lower-case, without a leading `www.`."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def on_host(host: str, domain: str) -> bool:
    """`host` is `domain` or one of its subdomains."""
    return host == domain or host.endswith("." + domain)
