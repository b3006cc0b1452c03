"""The HTTP transport: one small connection pool per host, each behind the address guard,
and the client that sends one exchange at a time through it.

httpcore's pool does work proportional to its size on every request, so one pool of 64
connections shared by all hosts slows down as concurrency grows. A pool per host, sized
to the per-host limit, keeps every pool small however many hosts run at once.
"""

from __future__ import annotations

import os
import ssl
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import certifi
import httpcore
import httpx

from archiver.fetch.network import GuardedBackend

_KEEPALIVE_SECONDS = 15.0
DEFAULT_IDLE_POOLS_KEPT = 64
_Origin = tuple[str, str, int | None]


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A verifying TLS context: the configured bundle, else `SSL_CERT_FILE`, else certifi's."""
    cafile = ca_bundle or os.environ.get("SSL_CERT_FILE") or certifi.where()
    context = ssl.create_default_context(cafile=str(cafile))
    context.set_alpn_protocols(["http/1.1"])
    return context


class _GuardedHostTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its pool connecting through the guarded backend."""

    def __init__(self, context: ssl.SSLContext, backend: GuardedBackend, connections: int) -> None:
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=_KEEPALIVE_SECONDS,
            network_backend=backend,
        )


class HostPoolTransport(httpx.AsyncBaseTransport):
    """Sends each request through the pool of its own scheme, host and port.

    A pool keeps its idle connections open, so pools of hosts that are done are closed,
    least recently used first, once more than `idle_pools_kept` of them sit idle: a blog
    citing thousands of hosts must not run out of file descriptors.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        backend: GuardedBackend,
        connections_per_host: int,
        idle_pools_kept: int = DEFAULT_IDLE_POOLS_KEPT,
    ) -> None:
        self._context = context
        self._backend = backend
        self._connections = connections_per_host
        self._idle_pools_kept = idle_pools_kept
        self._pools: OrderedDict[_Origin, _GuardedHostTransport] = OrderedDict()
        self._in_use: Counter[_Origin] = Counter()

    @property
    def open_pools(self) -> int:
        """How many host pools are open now."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            await self._close_idle_pools()
            pool = self._pools[key] = _GuardedHostTransport(self._context, self._backend, self._connections)
        self._pools.move_to_end(key)
        self._in_use[key] += 1
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            self._in_use[key] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, lambda: self._done_with(key))
        return response

    def _done_with(self, key: _Origin) -> None:
        self._in_use[key] -= 1

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()

    async def _close_idle_pools(self) -> None:
        idle = [key for key in self._pools if self._in_use[key] <= 0]  # least recently used first
        # taken out before the first await, so that no other request can pick one up meanwhile
        closing = [self._pools.pop(key) for key in idle[: max(0, len(idle) - self._idle_pools_kept + 1)]]
        for pool in closing:
            await pool.aclose()


class _Released(httpx.AsyncByteStream):
    """A response body that reports, once, when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, on_close: Callable[[], object]) -> None:
        self._inner = inner
        self._on_close: Callable[[], object] | None = on_close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()  # the inner iterator itself: nothing added per chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._on_close is not None:
                self._on_close()
                self._on_close = None


class SingleExchangeClient:
    """httpx's client for building requests and keeping cookies, sending each request as
    one exchange straight through the transport.

    The fetcher follows redirects itself. httpx's own `send`, even when not following
    them, builds the next request from every Location it sees, and raises once the
    answer has come when it cannot (`mailto:`, `javascript:`, `data:`, `about:`, a
    Location that is no URL), closing the answer unread: so it is never asked to.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout, headers: dict[str, str]) -> None:
        self._transport = transport
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers, trust_env=False)
        self._closed = False

    def build_request(self, url: str, headers: Mapping[str, str] | None = None) -> httpx.Request:
        """A GET request for `url`, with the client's headers (and these more), cookies and timeouts."""
        return self._client.build_request("GET", url, headers=headers)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The answer to `request` alone, its body still to be read (the caller closes it)."""
        if self._closed:  # as httpx's own client: a closed client opens no connection again
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            self._client.cookies.extract_cookies(response)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def aclose(self) -> None:
        """Close the transport's connections."""
        self._closed = True
        await self._client.aclose()
