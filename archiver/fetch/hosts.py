"""What the fetcher learns about hosts during a run: which are unreachable or hung, what robots.txt says."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable
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
    """Remembers host names that do not resolve, origins that refuse connections, and
    origins that time out before they answer (on connect, or waiting for the first byte).

    A name or an origin that has failed to resolve or to connect on two attempts (the
    first failure and one confirming attempt), or that has timed out before answering on
    `hung_after` attempts in a row (as many as one URL is given, and at least two), is known bad: its
    remaining URLs get the same status without a connection, and a detail that says why.
    One that answers is forgotten. A timeout once the answer has begun (a slow body) says
    the host is there, and is not held against it.
    """

    def __init__(self, hung_after: int = _CONFIRMATIONS) -> None:
        self._failures: dict[str, _HostFailures] = {}
        self._hung_after = hung_after

    def record(self, host: str, origin: str, status: Status, detail: str, answered: bool = False) -> None:
        """Note the outcome of one connection attempt to `origin` (scheme, host and port);
        `answered` when the failure came after the answer had begun."""
        if answered or (status not in _UNREACHABLE and status is not Status.TIMEOUT):
            self._failures.pop(host, None)
            self._failures.pop(origin, None)
            return
        key = host if status is Status.DNS_FAILURE else origin  # a closed port says nothing of the others
        known = self._failures.get(key)
        if known is None or known.status is not status:
            self._failures[key] = _HostFailures(status, detail, 1)
        else:
            known.count, known.detail = known.count + 1, detail

    def verdict(self, host: str, origin: str) -> tuple[Status, str] | None:
        """The status every URL of `origin` gets now, or None while it is not known bad."""
        for key in (host, origin):
            known = self._failures.get(key)
            if known is not None and known.count >= self._needed(known.status):
                return known.status, self._why(key, known)
        return None

    def _needed(self, status: Status) -> int:
        return self._hung_after if status is Status.TIMEOUT else _CONFIRMATIONS

    @staticmethod
    def _why(key: str, known: _HostFailures) -> str:
        if known.status is Status.TIMEOUT:
            times = f" {known.count} times in a row" if known.count > 1 else ""
            return f"{key} timed out{times} earlier in this run: {known.detail}"
        return f"{key} failed {known.count} times in this run: {known.detail}"


class HostQueue:
    """The URLs of a run still to start, by host, in the order they are to start.

    First the first URL of every host, in the order the hosts first appear; then the next
    URL of each host in turn, passing over a host that already has `lanes` URLs started
    and not finished, so that the URLs waiting for one host never stand in front of
    another host's (nor fill the fetcher's window). Each host keeps its own URLs in their
    order.
    """

    def __init__(self, urls: Iterable[str], host_of: Callable[[str], str], lanes: int) -> None:
        self._host_of = host_of
        self._lanes = lanes
        self._waiting: dict[str, deque[str]] = {}
        for url in urls:
            self._waiting.setdefault(host_of(url), deque()).append(url)
        self._unasked = deque(self._waiting)
        self._turns: deque[str] = deque()
        self._started: Counter[str] = Counter()

    def __bool__(self) -> bool:
        """True while some URL is still to start."""
        return bool(self._waiting)

    def take(self, first_only: bool = False) -> str | None:
        """The next URL to start: the first of a host not yet asked, else (unless `first_only`)
        the next of the hosts in turn that may start one; None when none may now."""
        if self._unasked:
            return self._take(self._unasked.popleft())
        return self._take(self._turns.popleft()) if self._turns and not first_only else None

    def finished(self, url: str) -> None:
        """A URL taken from the queue is done: its host may start another."""
        host = self._host_of(url)
        self._started[host] -= 1
        if self._started[host] == self._lanes - 1 and host in self._waiting:
            self._turns.append(host)

    def _take(self, host: str) -> str:
        waiting = self._waiting[host]
        url = waiting.popleft()
        self._started[host] += 1
        if not waiting:
            del self._waiting[host]
        elif self._started[host] < self._lanes:
            self._turns.append(host)
        return url


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
