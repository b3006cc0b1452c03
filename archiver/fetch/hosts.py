"""What the fetcher learns about hosts during a run: which are unreachable, what robots.txt says."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from protego import Protego

from archiver.fetch.errors import status_for_error
from archiver.fetch.transport import SingleExchangeClient
from archiver.model import Status

_UNREACHABLE = frozenset({Status.DNS_FAILURE, Status.REFUSED})
_CONFIRMATIONS = 2  # the failure that taught us, and one confirming attempt
_ROBOTS_MAX_BYTES = 512 * 1024
_DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


@dataclass
class _HostFailures:
    status: Status
    detail: str
    count: int


class HostMemory:
    """Remembers host names that do not resolve, and origins that refuse connections.

    After one has failed that way on two attempts (the first failure and one
    confirming attempt), its remaining URLs get the same status without a connection.
    One that answers is forgotten.
    """

    def __init__(self) -> None:
        self._failures: dict[str, _HostFailures] = {}

    def record(self, host: str, origin: str, status: Status, detail: str) -> None:
        """Note the outcome of one connection attempt to `origin` (scheme, host and port)."""
        if status not in _UNREACHABLE:
            self._failures.pop(host, None)
            self._failures.pop(origin, None)
            return
        key = host if status is Status.DNS_FAILURE else origin  # a closed port says nothing of the others
        known = self._failures.get(key)
        if known is None or known.status is not status:
            self._failures[key] = _HostFailures(status, detail, 1)
        else:
            known.count += 1

    def verdict(self, host: str, origin: str) -> tuple[Status, str] | None:
        """The status every URL of `origin` gets now, or None while it is not known bad."""
        for key in (host, origin):
            known = self._failures.get(key)
            if known is not None and known.count >= _CONFIRMATIONS:
                return known.status, f"{key} failed {known.count} times in this run: {known.detail}"
        return None


class RobotsRules:
    """robots.txt of each origin, fetched once per run, read as RFC 9309 says (by protego:
    `*` and `$` in paths, the longest matching rule decides).

    A 4xx answer allows everything; a 5xx answer or a broken exchange disallows
    everything; only the first 512 KiB of the file are read. A host that cannot be
    reached at all (its name does not resolve, no connection) is not disallowed: its URLs
    are refused with that failure, which is what they would have met.
    """

    def __init__(self, client: SingleExchangeClient, agent: str) -> None:
        self._client = client
        self._agent = agent
        self._rules: dict[str, Protego | tuple[Status, str]] = {}

    async def refusal(self, url: str, slot: AbstractAsyncContextManager[None]) -> tuple[Status, str] | None:
        """Why `url` must not be fetched (disallowed, or its host unreachable); None when it may."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        rules = self._rules.get(origin)
        if rules is None:
            async with slot:
                rules = self._rules[origin] = await self._load(origin)
        if isinstance(rules, tuple):
            return rules
        return None if rules.can_fetch(url, self._agent) else (Status.DISALLOWED, "disallowed by robots.txt")

    async def _load(self, origin: str) -> Protego | tuple[Status, str]:
        try:
            code, text = await self._read(f"{origin}/robots.txt")
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            status, detail = status_for_error(error)
            return status, f"robots.txt could not be fetched: {detail}"
        except httpx.HTTPError:
            code, text = 503, ""
        if code >= 500:
            return Protego.parse(_DISALLOW_ALL)
        return Protego.parse(text if 200 <= code < 300 else "")

    async def _read(self, url: str) -> tuple[int, str]:
        body = bytearray()
        response = await self._client.send(self._client.build_request(url))
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= _ROBOTS_MAX_BYTES:
                    break
        finally:
            await response.aclose()
        return response.status_code, bytes(body[:_ROBOTS_MAX_BYTES]).decode("utf-8", errors="replace")


class HostSlots:
    """A host's concurrency limit, where an urgent request goes to the front of the queue.

    A probe that many captures wait on must not queue behind them, yet the host must
    never see more requests at once than its limit: so the probe jumps the queue
    instead of getting a slot of its own.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def held(self, urgent: bool) -> AsyncIterator[None]:
        """Hold one slot for the body."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if self._free > 0 and not self._urgent and not self._normal:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # granted just as it was cancelled: pass the slot on
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1
