"""httpcore's network streams on asyncio's own streams.

httpcore reaches asyncio through anyio, whose cancel scopes and task lookups around each
connect, read and write were about a third of the time a run spent in its HTTP client
(py-spy, 10,000 links); on these streams the same run took 45-47 s of CPU instead of
50-54 s. This backend gives httpcore the same interface (`AsyncNetworkBackend`,
`AsyncNetworkStream`) on `asyncio.open_connection`, with `asyncio.timeout` for the
timeouts, raising the exceptions httpcore's own backends raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore._utils import is_socket_readable  # the check httpcore's own backends make

_NO_TIMEOUT = 365 * 86400.0  # what asyncio's TLS handshake is given when httpcore gives no timeout


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP connection (TLS once `start_tls` has been called)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as error:
            raise httpcore.ReadTimeout(str(error)) from error
        except OSError as error:
            raise httpcore.ReadError(str(error)) from error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as error:
            raise httpcore.WriteTimeout(str(error)) from error
        except (OSError, RuntimeError) as error:  # RuntimeError: written to after the transport closed
            raise httpcore.WriteError(str(error)) from error

    def _has_input(self) -> bool:
        """Bytes, an end or an error the stream has read ahead (asyncio reads a socket
        as soon as it can, so the socket alone may look quiet)."""
        reader = self._reader
        return bool(getattr(reader, "_buffer", b"")) or reader.at_eof() or reader.exception() is not None

    async def aclose(self) -> None:
        # As anyio closes: a transport left to close itself later still holds its socket
        # when the loop ends, and a peer that reads nothing keeps it from ever closing.
        transport = self._writer.transport
        if transport.is_closing():
            return
        if transport.can_write_eof():
            with contextlib.suppress(OSError):
                transport.write_eof()
        transport.close()
        await asyncio.sleep(0)
        transport.abort()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(
                    ssl_context, server_hostname=server_hostname, ssl_handshake_timeout=timeout or _NO_TIMEOUT
                )
        except TimeoutError as error:
            await self.aclose()
            raise httpcore.ConnectTimeout(str(error)) from error
        except (OSError, EOFError) as error:  # ssl.SSLError is an OSError
            await self.aclose()
            raise httpcore.ConnectError(str(error)) from error
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":  # an idle connection the server said something on, or closed, is not reused
            return self._has_input() or is_socket_readable(self._writer.get_extra_info("socket"))
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(str(error)) from error
        except OSError as error:
            raise httpcore.ConnectError(str(error)) from error
        stream = AsyncioStream(reader, writer)
        try:
            for option in socket_options or ():
                writer.get_extra_info("socket").setsockopt(*option)
        except OSError as error:
            await stream.aclose()
            raise httpcore.ConnectError(str(error)) from error
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
