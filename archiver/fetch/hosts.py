"""What the fetcher learns about hosts during a run: which are unreachable, what robots.txt says."""

from __future__ import annotations

import urllib.robotparser
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from archiver.model import Status

_UNREACHABLE = frozenset({Status.DNS_FAILURE, Status.REFUSED})
_CONFIRMATIONS = 2  # the failure that taught us, and one confirming attempt
_ROBOTS_MAX_BYTES = 512 * 1024


@dataclass
class _HostFailures:
    status: Status
    detail: str
    count: int


class HostMemory:
    """Remembers hosts whose name does not resolve or that refuse connections.

    After a host has failed that way on two attempts (the first failure and one
    confirming attempt), its remaining URLs get the same status without a connection.
    A host that answers once is forgotten.
    """

    def __init__(self) -> None:
        self._failures: dict[str, _HostFailures] = {}

    def record(self, host: str, status: Status, detail: str) -> None:
        """Note the outcome of one connection attempt to `host`."""
        if status not in _UNREACHABLE:
            self._failures.pop(host, None)
            return
        known = self._failures.get(host)
        if known is None or known.status is not status:
            self._failures[host] = _HostFailures(status, detail, 1)
        else:
            known.count += 1

    def verdict(self, host: str) -> tuple[Status, str] | None:
        """The status every URL on `host` gets now, or None while the host is not known bad."""
        known = self._failures.get(host)
        if known is None or known.count < _CONFIRMATIONS:
            return None
        return known.status, f"host failed {known.count} times in this run: {known.detail}"


class RobotsRules:
    """robots.txt of each host, fetched once per run; a missing or broken file allows all."""

    def __init__(self, client: httpx.AsyncClient, agent: str) -> None:
        self._client = client
        self._agent = agent
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}

    async def allows(self, url: str, slot: AbstractAsyncContextManager[None]) -> bool:
        """True when the host's robots.txt lets this tool fetch `url`."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = self._parsers.get(origin)
        if parser is None:
            async with slot:
                parser = self._parsers[origin] = await self._load(origin)
        return parser.can_fetch(self._agent, url)

    async def _load(self, origin: str) -> urllib.robotparser.RobotFileParser:
        parser = urllib.robotparser.RobotFileParser()
        try:
            response = await self._client.get(f"{origin}/robots.txt")
        except httpx.HTTPError:
            parser.parse([])
            return parser
        text = response.content[:_ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
        parser.parse(text.splitlines() if response.status_code == 200 else [])
        return parser
