"""A local web server for benchmarks: realistic latency, many host names, streamed bodies.

    python bench/latency_server.py --bind 127.0.0.2 --port 0 --latency 0.05

Prints the port on its first line, then serves until killed, each answer after `latency`
seconds (jittered by ±20%):
  /page/N          about 10 KB of HTML, the same for every N
  /html/KB/N       a realistic page of about KB kilobytes, its own for each N (bench/realistic_pages.py)
  /style/..., /img/..., /js/...   a small stylesheet, PNG or script: a page's requisites
  /stream/BYTES    BYTES of body, streamed in 1 MiB pieces, never held in memory
  anything else    the 10 KB page again; with --not-found, a 404 (as most sites answer a
                   path that cannot exist, such as the health check's probe)

except on hosts whose name starts with one of these (the kinds of site bench/bench_probes.py
mixes), for paths other than the above:
  template...      200, the site's template saying the path was not found (a soft-404)
  front...         a 302 to /, which answers the site's front page
  real...          a 404
  hung...          nothing at all: the connection is taken, the request read, and no answer
                   ever sent (with --hung-log FILE, each such request is noted there as
                   "host monotonic-seconds", the clock every process of the machine shares,
                   and the first request the server gets, to any host, as "* seconds")
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
import zlib
from typing import TextIO

from realistic_pages import CSS, JS, PNG, page

PAGE = (b"<!doctype html><html><head><title>Page</title></head><body>" + b"<p>Text of a cited page.</p>" * 360
        + b"</body></html>\n")  # fmt: skip
PIECE = bytes(range(256)) * 4096  # 1 MiB
HTML = "text/html; charset=utf-8"
REQUISITES = {"/style/": ("text/css", CSS), "/img/": ("image/png", PNG), "/js/": ("text/javascript", JS)}
SUGGESTED = (b"clouds", b"storage", b"networks", b"servers", b"archives", b"history", b"links", b"pages", b"blogs",
             b"images", b"redirects", b"captures", b"records", b"indexes", b"replays", b"posts")  # fmt: skip
FIRST_NOTED = False  # whether the first request has been noted in the hung log
HOST = re.compile(rb"\r\nhost: *([^:\r]+)", re.IGNORECASE)
TEMPLATE_NOT_FOUND = (b"<!doctype html><html><head><title>Example site</title></head><body><nav>"
                      + b"<a href='/'>Home</a> <a href='/about'>About</a> <a href='/archive'>Archive</a> " * 30
                      + b"</nav><main><h2>Sorry</h2><p>Nothing was found at %s.</p>"
                      + b"<p>Perhaps one of these: %s</p></main>"
                      + b"<footer>" + b"<a href='/tag'>a tag</a> " * 200 + b"</footer></body></html>")  # fmt: skip
NOT_FOUND = b"<!doctype html><html><head><title>Not found</title></head><body><h1>404 Not Found</h1></body></html>"


async def serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, not_found: bool, hung: TextIO | None
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            host = HOST.search(head)
            if hung is not None and not FIRST_NOTED:
                note(hung, "*")
            if host and host.group(1).startswith(b"hung"):
                await hang(reader, host.group(1).decode(), hung)
                return
            await asyncio.sleep(latency * random.uniform(0.8, 1.2))
            if target.startswith("/stream/"):
                await stream(writer, int(target.removeprefix("/stream/")))
            else:
                code, content_type, body, extra = answer_on(host.group(1).decode() if host else "", target, not_found)
                writer.write(b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s"
                             % (code.encode(), content_type.encode(), len(body), extra, body))  # fmt: skip
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def hang(reader: asyncio.StreamReader, host: str, log: TextIO | None) -> None:
    """Say nothing until the client gives up and closes the connection."""
    if log is not None:
        note(log, host)
    while await reader.read(4096):
        pass


def note(log: TextIO, host: str) -> None:
    """Write down that `host` was asked, and when."""
    global FIRST_NOTED  # noqa: PLW0603 - one server per process
    FIRST_NOTED = True
    log.write(f"{host} {time.monotonic():.6f}\n")
    log.flush()


def answer_on(host: str, target: str, not_found: bool) -> tuple[str, str, bytes, bytes]:
    """`answer`, as the kind of site the host name says answers it; and extra header lines."""
    path = target.split("?", 1)[0]
    known = path.startswith(("/page/", "/html/", *REQUISITES))
    if known or not host.startswith(("template", "front", "real")):
        return (*answer(target, not_found), b"")
    if host.startswith("real"):
        return "404 Not Found", HTML, NOT_FOUND, b""
    if host.startswith("template"):
        return "200 OK", HTML, TEMPLATE_NOT_FOUND % (path.encode(), suggestions(path)), b""
    if path == "/":
        return "200 OK", HTML, page(len(host), 30), b""
    return "302 Found", HTML, b"", b"Location: /\r\n"


def suggestions(path: str) -> bytes:
    """Posts a not-found page suggests for a path: other words for every path."""
    rng = random.Random(zlib.crc32(path.encode()))
    return b" ".join(b"<a href='/p'>%s</a>" % rng.choice(SUGGESTED) for _ in range(8))


def answer(target: str, not_found: bool) -> tuple[str, str, bytes]:
    """The status line's code and reason, the content type and the body for a path."""
    path = target.split("?", 1)[0]
    if path.startswith("/page/"):
        return "200 OK", "text/html", PAGE
    if path.startswith("/html/"):
        kilobytes, seed = path.removeprefix("/html/").split("/", 1)
        return "200 OK", HTML, page(int(seed), int(kilobytes))
    for prefix, (content_type, body) in REQUISITES.items():
        if path.startswith(prefix):
            return "200 OK", content_type, body
    return ("404 Not Found", HTML, NOT_FOUND) if not_found else ("200 OK", "text/html", PAGE)


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
    parser.add_argument("--not-found", action="store_true", help="answer unknown paths with a 404")
    parser.add_argument("--hung-log", help="note each request to a hung... host in this file")
    args = parser.parse_args()
    hung = open(args.hung_log, "a", encoding="utf-8") if args.hung_log else None  # noqa: SIM115 - for the whole run
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, args.latency, args.not_found, hung), args.bind, args.port, backlog=4096
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
