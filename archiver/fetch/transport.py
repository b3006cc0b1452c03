"""The HTTP transport: one small connection pool per host, each behind the address guard.

httpcore's pool does work proportional to its size on every request, so one pool of 64
connections shared by all hosts slows down as concurrency grows. A pool per host, sized
to the per-host limit, keeps every pool small however many hosts run at once.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import certifi
import httpcore
import httpx

from archiver.fetch.network import GuardedBackend

_KEEPALIVE_SECONDS = 15.0


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
    """Sends each request through the pool of its own scheme, host and port."""

    def __init__(self, context: ssl.SSLContext, backend: GuardedBackend, connections_per_host: int) -> None:
        self._context = context
        self._backend = backend
        self._connections = connections_per_host
        self._pools: dict[tuple[str, str, int | None], _GuardedHostTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _GuardedHostTransport(self._context, self._backend, self._connections)
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()
