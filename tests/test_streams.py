"""httpcore's network streams on asyncio (archiver/fetch/streams.py), against real sockets."""

from __future__ import annotations

import asyncio

import httpcore
import pytest

from archiver.fetch.streams import AsyncioBackend


async def _idle_connection(said: bytes, close: bool) -> tuple[bool, bool]:
    """Whether an idle connection reads as readable before and after the server, having
    answered nothing, says `said` (and with `close`, closes)."""
    spoken = asyncio.Event()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await spoken.wait()
            if said:
                writer.write(said)
                await writer.drain()
            if not close:
                await reader.read()  # until the client closes
        finally:
            writer.close()

    listening = await asyncio.start_server(server, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        await asyncio.sleep(0.1)
        before = bool(stream.get_extra_info("is_readable"))
        spoken.set()
        await asyncio.sleep(0.2)  # asyncio reads what arrives into the stream's buffer at once
        after = bool(stream.get_extra_info("is_readable"))
        await stream.aclose()
        listening.close()
    return before, after


@pytest.mark.parametrize(("said", "close"), [(b"HTTP/1.1 408 Request Timeout\r\n\r\n", False), (b"", True)])
def test_an_idle_connection_the_server_spoke_on_or_closed_is_readable(said: bytes, close: bool) -> None:
    # httpcore reuses an idle connection only when it is not readable: stale bytes would be
    # read as the answer to the next request, of another link
    assert asyncio.run(_idle_connection(said, close)) == (False, True)


def test_a_refused_connection_is_a_connect_error_caused_by_the_refusal() -> None:
    async def refused() -> None:
        listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        listening.close()
        await listening.wait_closed()
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)

    with pytest.raises(httpcore.ConnectError) as raised:
        asyncio.run(refused())
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
