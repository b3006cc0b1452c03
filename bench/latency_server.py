"""A local web server for benchmarks: realistic latency, many host names, streamed bodies.

    python bench/latency_server.py --bind 127.0.0.2 --port 0 --latency 0.05

Prints the port on its first line, then serves until killed:
  /page/N          about 10 KB of HTML after `latency` seconds (jittered by ±20%)
  /stream/BYTES    BYTES of body, streamed in 1 MiB pieces, never held in memory
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys

PAGE = (b"<!doctype html><html><head><title>Page</title></head><body>" + b"<p>Text of a cited page.</p>" * 360
        + b"</body></html>\n")  # fmt: skip
PIECE = bytes(range(256)) * 4096  # 1 MiB


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            await asyncio.sleep(latency * random.uniform(0.8, 1.2))
            if target.startswith("/stream/"):
                await stream(writer, int(target.removeprefix("/stream/")))
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)
                )
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def stream(writer: asyncio.StreamWriter, size: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % size)
    sent = 0
    while sent < size:
        piece = PIECE[: min(len(PIECE), size - sent)]
        writer.write(piece)
        await writer.drain()
        sent += len(piece)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default="127.0.0.2")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    server = await asyncio.start_server(lambda r, w: serve(r, w, args.latency), args.bind, args.port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
