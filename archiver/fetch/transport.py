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
import time
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
# Each TLS connection asyncio holds keeps a read buffer of 256 KiB (about 430 KiB in all,
# measured): this many idle HTTPS pools cost about 27 MB; plain ones cost little.
_MOST_IDLE_TLS_POOLS = 64
# What a run holds open besides its connections: WARC and temporary files, databases, pipes.
_FILES_BESIDE_CONNECTIONS = 256
_MOST_IDLE_POOLS = 4096
_OPEN_FILES_WANTED = 16_384
_OPEN_FILES_MACOS = 10_240  # OPEN_MAX, where asking for more than it is refused
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
    (raised first, see `open_files_limit`) leaves room for beside the run's files, every
    pool (those of the `concurrency` requests at work too) holding up to
    `connections_per_host` connections; at least 8, at most 4,096.

    A fetcher asks every host once before it asks any host again, so with more hosts than
    idle pools kept, every request but a host's first opened a new connection (10,000 of
    them for 10,000 URLs on 1,000 hosts, against 1,000 once the pools were kept)."""
    room = (open_files_limit() - _FILES_BESIDE_CONNECTIONS) // connections_per_host - concurrency
    return max(8, min(_MOST_IDLE_POOLS, room))


def open_files_limit() -> int:
    """The process's limit of open files, its soft limit first raised toward the hard one
    (up to 16,384; on macOS, whose hard limit may say more than it allows, to 10,240 when
    more is refused). The soft limit of 1,024 many systems still give is kept for old
    programs that `select()`; the hard limit is what a program may use. The processes a
    run starts inherit the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _OPEN_FILES_WANTED
    for asked in (_OPEN_FILES_WANTED, _OPEN_FILES_MACOS):
        wanted = asked if hard == resource.RLIM_INFINITY else min(hard, asked)
        if soft >= wanted:
            return soft
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            continue
        return wanted
    return soft


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

    A pool keeps its idle connections open, so pools that sit idle are closed, the one
    idle longest first, once more than `idle_pools_kept` of them do (of which at most 64
    HTTPS ones, for their memory, or half of them if fewer): a blog citing thousands of
    hosts must not run out of file descriptors. A pool idle longer than its connections'
    keep-alive is closed too: they would not be used again.
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
        tls_kept = min(_MOST_IDLE_TLS_POOLS, idle_pools_kept // 2)
        self._pools: dict[_Origin, httpx.AsyncHTTPTransport] = {}
        self._in_use: Counter[_Origin] = Counter()
        # the pools no request is using and since when, the one idle longest first (so
        # that closing some is a pop, not a search): plain ones, and HTTPS ones
        self._idle_plain, self._idle_tls = _Idle(idle_pools_kept - tls_kept), _Idle(tls_kept)

    @property
    def open_pools(self) -> int:
        """How many host pools are open now."""
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            await self._close_idle_pools(making=key)
            pool = self._pools.get(key)  # another request for the host may have made it meanwhile
            if pool is None:
                pool = self._pools[key] = self._pool_for(request.url.scheme, request.url.host)
        self._idle_of(key).pop(key, None)
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

    def _idle_of(self, key: _Origin) -> _Idle:
        return self._idle_tls if key[0] == "https" else self._idle_plain

    def _done_with(self, key: _Origin) -> None:
        self._in_use[key] -= 1
        if self._in_use[key] <= 0 and key in self._pools:
            self._idle_of(key)[key] = time.monotonic()

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        self._idle_plain.clear()
        self._idle_tls.clear()
        for pool in pools:
            await pool.aclose()

    async def _close_idle_pools(self, making: _Origin) -> None:
        """Close the idle pools to close before the pool of `making` is made."""
        # taken out before the first await, so that no other request can pick one up meanwhile
        expired = time.monotonic() - _KEEPALIVE_SECONDS
        closing = []
        for idle in (self._idle_plain, self._idle_tls):
            for key in idle.to_close(expired, room_for_one=idle is self._idle_of(making)):
                del self._in_use[key]
                closing.append(self._pools.pop(key))
        for pool in closing:
            await pool.aclose()


class _Idle(OrderedDict[_Origin, float]):
    """Idle pools and since when (monotonic), the one idle longest first."""

    def __init__(self, kept: int) -> None:
        super().__init__()
        self.kept = kept

    def to_close(self, idle_before: float, *, room_for_one: bool) -> list[_Origin]:
        """Taken out: the pools idle since before `idle_before`, and the longest idle
        beyond `kept` (beyond one fewer, to make `room_for_one` more)."""
        keys = []
        most = self.kept - 1 if room_for_one else self.kept
        while self and (len(self) > most or next(iter(self.values())) < idle_before):
            keys.append(self.popitem(last=False)[0])
        return keys


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
            if "set-cookie" in response.headers:  # most answers set none; the jar's own look takes 14 µs
                self._client.cookies.extract_cookies(response)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def aclose(self) -> None:
        """Close the transport's connections."""
        self._closed = True
        await self._client.aclose()
