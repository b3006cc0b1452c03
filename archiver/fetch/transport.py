"""The HTTP transport: one small connection pool per host, each behind the address guard,
and the client that sends one exchange at a time through it.

httpcore's pool does work proportional to its size on every request, so one pool of 64
connections shared by all hosts slows down as concurrency grows. A pool per host, sized
to the per-host limit, keeps every pool small however many hosts run at once. A host
that `fetch.proxy` (or, with `fetch.trust_env`, the environment) sends through a proxy
gets a proxy pool instead, its host checked by the guard before each request.
"""

from __future__ import annotations

import os
import resource
import ssl
import urllib.request
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import certifi
import httpcore
import httpx

from archiver.fetch.network import GuardedBackend

_KEEPALIVE_SECONDS = 15.0
DEFAULT_IDLE_POOLS_KEPT = 64
# What a run holds open besides its connections: WARC and temporary files, databases, pipes.
_FILES_BESIDE_CONNECTIONS = 256
_MOST_IDLE_POOLS = 4096
_OPEN_FILES_WANTED = 16_384
_Origin = tuple[str, str, int | None]
ProxyChoice = Callable[[str, str], str | None]  # (scheme, host) -> the proxy's URL, or None: direct


def no_proxy(_: str, __: str) -> None:
    """Every request goes direct."""
    return


def proxy_choice(proxy: str | None, trust_env: bool) -> ProxyChoice:
    """Which proxy a request takes: `proxy` for all, else (with `trust_env`) the one the
    standard variables name for its scheme (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), unless
    NO_PROXY names its host; else none."""
    if proxy:
        return lambda _, __: proxy
    if not trust_env:
        return no_proxy
    proxies = urllib.request.getproxies_environment()

    def from_environment(scheme: str, host: str) -> str | None:
        chosen = proxies.get(scheme) or proxies.get("all")
        if chosen is None or urllib.request.proxy_bypass(host):
            return None
        return chosen

    return from_environment


def idle_pools_for(connections_per_host: int, concurrency: int) -> int:
    """How many idle host pools a fetcher can keep open: as many as the open-file limit
    (raised first, see `open_files_limit`) leaves room for, each with up to
    `connections_per_host` connections, beside the `concurrency` connections at work and
    the run's files; at least 8, at most 4,096.

    A fetcher asks every host once before it asks any host again, so with more hosts than
    idle pools kept, every request but a host's first opened a new connection (10,000 of
    them for 10,000 URLs on 1,000 hosts, against 1,000 once the pools were kept)."""
    room = open_files_limit() - concurrency - _FILES_BESIDE_CONNECTIONS
    return max(8, min(_MOST_IDLE_POOLS, room // connections_per_host))


def open_files_limit() -> int:
    """The process's limit of open files, its soft limit first raised toward the hard one
    (up to 16,384), as Go's runtime does at start: the soft limit of 1,024 many systems
    still give is a default kept for old programs, and the hard limit is what is allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, _OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # a system that allows less than it says (macOS's OPEN_MAX)
            return soft
        return wanted
    return _OPEN_FILES_WANTED if soft == resource.RLIM_INFINITY else soft


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


class _ProxiedHostTransport(httpx.AsyncHTTPTransport):
    """httpx's transport sending one host's requests through a proxy. The connection to
    the proxy is not guarded (the proxy is the user's choice); the host asked for is
    checked before each request, as far as the guard can see it (`check_through_proxy`)."""

    def __init__(self, context: ssl.SSLContext, backend: GuardedBackend, connections: int, proxy: str) -> None:
        super().__init__(verify=context, trust_env=False)
        self._guard = backend
        parts = urlsplit(proxy)
        auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        address = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        self._pool = httpcore.AsyncHTTPProxy(
            proxy_url=address,
            proxy_auth=auth,
            ssl_context=context,
            proxy_ssl_context=context if parts.scheme == "https" else None,
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=_KEEPALIVE_SECONDS,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            await self._guard.check_through_proxy(request.url.host, request.url.port or 0)
        except httpcore.ConnectError as refused:
            raise httpx.ConnectError(str(refused), request=request) from refused
        return await super().handle_async_request(request)


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
        proxies: ProxyChoice = no_proxy,
    ) -> None:
        self._context = context
        self._backend = backend
        self._connections = connections_per_host
        self._proxies = proxies
        self._idle_pools_kept = idle_pools_kept
        self._pools: dict[_Origin, httpx.AsyncHTTPTransport] = {}
        self._in_use: Counter[_Origin] = Counter()
        # the pools no request is using, the one idle longest first: closing some is a pop, not a search
        self._idle: OrderedDict[_Origin, None] = OrderedDict()

    @property
    def open_pools(self) -> int:
        """How many host pools are open now."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            await self._close_idle_pools()
            pool = self._pools[key] = self._pool_for(request.url.scheme, request.url.host)
        self._idle.pop(key, None)
        self._in_use[key] += 1
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            self._done_with(key)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, lambda: self._done_with(key))
        return response

    def _pool_for(self, scheme: str, host: str) -> httpx.AsyncHTTPTransport:
        proxy = self._proxies(scheme, host)
        if proxy is None:
            return _GuardedHostTransport(self._context, self._backend, self._connections)
        return _ProxiedHostTransport(self._context, self._backend, self._connections, proxy)

    def _done_with(self, key: _Origin) -> None:
        self._in_use[key] -= 1
        if self._in_use[key] <= 0 and key in self._pools:
            self._idle[key] = None

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()
        self._idle.clear()

    async def _close_idle_pools(self) -> None:
        closing = []
        # taken out before the first await, so that no other request can pick one up meanwhile
        while self._idle and len(self._idle) >= self._idle_pools_kept:
            key, _ = self._idle.popitem(last=False)
            del self._in_use[key]
            closing.append(self._pools.pop(key))
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
            if "set-cookie" in response.headers:  # the cookie jar's own look costs more than the whole send
                self._client.cookies.extract_cookies(response)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def aclose(self) -> None:
        """Close the transport's connections."""
        self._closed = True
        await self._client.aclose()
