"""A real HTTP/1.1 server on loopback that misbehaves the way the web does.

It runs in a thread with its own event loop and listens on several loopback addresses
(one per test host name) and, with TLS, on more. Every route is answered for any host
name; the server counts requests per path and the peak of concurrent requests per
host, so tests can check retries and politeness.

Routes: /ok.html, /image.png, /gzip, /chunked, /redirect/N (a chain of N hops to
/ok.html), /loop/a and /loop/b, /status/CODE, /flaky/CODE/N (CODE for the first N
requests, with Retry-After: 1, then 200), /reset (a reset mid-body), /hang, /slow,
/huge/BYTES, /noise/BYTES[/key] (bytes that do not compress), /hold/SECONDS (for
concurrency), /notice/SECONDS (a live page, after SECONDS, that says something was not
found: the health check probes its site), /to/URL (a redirect to any URL, of any scheme
or none, percent-encoded in the path), a
/robots.txt that disallows /private/ (broken on hosts named broken-robots*, too long on
huge-robots*, with a wildcard on wildcard-robots*, with overlapping rules on
longest-robots*, redirected to mailto: on mailto-robots*), /utf8-headers and
/utf8-redirect (header bytes that are not latin-1),
/no-location/CODE (a redirect without Location), /odd-retry-after (Retry-After: 0xB2),
/whoami (a page naming the scheme, host and port it was asked on), and a small blog
under /blog/: two posts (/blog/posts/one.html, two.html), an RSS feed (/blog/feed.xml),
an Atom feed (/blog/atom.xml), a feed that is not well-formed (/blog/broken-feed.xml),
a sitemap (/blog/sitemap.xml, and gzipped as a file at /blog/sitemap.xml.gz), a sitemap
index naming it (/blog/sitemap-index.xml) and an XML document with an entity bomb
(/blog/bomb.xml).

A listener may answer TLS and plain HTTP on one port (told apart by the first byte a
client sends), and two addresses may share a port number, so that URLs that differ only
in scheme or `www.` share a SURT key, as `http://example.com/` and
`https://www.example.com/` do on the default ports.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import socket
import ssl
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
HTML = b"<!doctype html><html><head><title>OK</title></head><body><p>Hello, archive.</p></body></html>\n"
GZIP_TEXT = b"compressed text, stored as it came off the wire\n" * 50
CHUNKS = [b"first chunk\n", b"1\r\nlooks like a chunk header\n", b"last chunk\n"]


def body_of(size: int) -> bytes:
    """Deterministic bytes of a given size, so tests can compare what was stored."""
    seed = hashlib.sha256(str(size).encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class Response:
    """What a route sends; `raw` handlers write the socket themselves."""

    code: int = 200
    body: bytes = b""
    headers: Sequence[tuple[str, str | bytes]] = field(default_factory=list)  # str is sent as UTF-8
    chunked: list[bytes] | None = None


Handler = Callable[[str, "Connection"], Awaitable[Response | None]]


@dataclass
class Connection:
    """The request being answered: its host and the stream to write to."""

    host: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    target: str = ""  # what the request asked for, its query included


class MisbehavingServer:
    """The server; start() binds each address given and returns the port of each."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str]] = Counter()
        self.peak: dict[str, int] = defaultdict(int)
        self.peak_total = 0
        self.headers: dict[tuple[str, str], dict[str, str]] = {}
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._active: dict[str, int] = defaultdict(int)
        self.connections = 0  # connections opened to the server
        self.tls_port = 0  # where /upgrade sends plain requests
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._listeners: list[socket.socket] = []

    def start(self, address: str, context: ssl.SSLContext | None = None, port: int = 0, plain_too: bool = False) -> int:
        """Listen on `address` (on `port`, or one the system chooses); return the port.
        With `context`, connections speak TLS; with `plain_too` as well, plain HTTP is
        answered on the same port."""
        if not self._thread.is_alive():
            self._thread.start()
        listen = self._listen_both(address, context, port) if plain_too else self._listen(address, context, port)
        return asyncio.run_coroutine_threadsafe(listen, self._loop).result(timeout=10)

    def stop(self) -> None:
        """Close every listener and stop the loop."""
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def reset_counts(self) -> None:
        """Forget peaks and arrival times, for a test that measures them."""
        self.peak.clear()
        self.peak_total = 0
        self.arrivals.clear()

    async def _listen(self, address: str, context: ssl.SSLContext | None, port: int) -> int:
        server = await asyncio.start_server(self._serve, address, port, ssl=context)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _listen_both(self, address: str, context: ssl.SSLContext | None, port: int) -> int:
        listener = socket.create_server((address, port))
        listener.setblocking(False)
        self._listeners.append(listener)
        self._loop.create_task(self._accept_both(listener, context))
        return int(listener.getsockname()[1])

    async def _accept_both(self, listener: socket.socket, context: ssl.SSLContext | None) -> None:
        while True:
            connection, _ = await self._loop.sock_accept(listener)
            self._loop.create_task(self._serve_either(connection, context))

    async def _serve_either(self, connection: socket.socket, context: ssl.SSLContext | None) -> None:
        """Serve a connection over TLS when its first byte opens a TLS handshake (0x16), else plainly."""
        while True:
            try:
                first = connection.recv(1, socket.MSG_PEEK)
                break
            except BlockingIOError:
                await asyncio.sleep(0.001)
        tls = context if first == b"\x16" else None
        try:
            await self._loop.connect_accepted_socket(self._streams, connection, ssl=tls)
        except (ConnectionError, ssl.SSLError):
            connection.close()

    def _streams(self) -> asyncio.StreamReaderProtocol:
        return asyncio.StreamReaderProtocol(asyncio.StreamReader(), self._serve)

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for listener in self._listeners:
            listener.close()
        handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; end quietly instead of logging the cancellation
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        _, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        host = headers.get("host", "").rsplit(":", 1)[0]
        self.hits[(host, target)] += 1
        self.headers[(host, target)] = headers
        self.arrivals[host].append(time.monotonic())
        self._active[host] += 1
        self.peak[host] = max(self.peak[host], self._active[host])
        self.peak_total = max(self.peak_total, sum(self._active.values()))
        try:
            response = await self._route(target, Connection(host, reader, writer, target))
        finally:
            self._active[host] -= 1
        if response is None:
            return False
        await _send(writer, response)
        return headers.get("connection", "").lower() != "close"

    async def _route(self, target: str, connection: Connection) -> Response | None:
        path = target.split("?", 1)[0]
        site = _SITES.get(connection.host.split(".", 1)[0])
        if site is not None:
            return site(self, target, connection)
        for prefix, handler in _ROUTES:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return await handler(self, path.removeprefix(prefix), connection)
        return Response(404, b"<html><body>Not found</body></html>", [("Content-Type", "text/html")])


async def _send(writer: asyncio.StreamWriter, response: Response) -> None:
    reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}.get(response.code, "Status")
    head = [f"HTTP/1.1 {response.code} {reason}".encode()]
    head += [k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) for k, v in response.headers]
    if response.chunked is not None:
        head.append(b"Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in response.chunked) + b"0\r\n\r\n"
    else:
        head.append(b"Content-Length: %d" % len(response.body))
        body = response.body
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()


def _fixed(response: Response) -> Handler:
    async def handler(_: str, __: Connection) -> Response:
        return response

    return handler


async def _redirect(rest: str, _: Connection) -> Response:
    remaining = int(rest)
    target = "/ok.html" if remaining <= 1 else f"/redirect/{remaining - 1}"
    return Response(301, b"", [("Location", target)])


async def _loop(rest: str, _: Connection) -> Response:
    return Response(302, b"", [("Location", "/loop/b" if rest == "a" else "/loop/a")])


async def _status(rest: str, _: Connection) -> Response:
    return Response(int(rest), f"status {rest}".encode(), [("Content-Type", "text/plain")])


async def _to(rest: str, _: Connection) -> Response:
    return Response(302, b"", [("Location", unquote(rest))])


async def _whoami(_: str, connection: Connection) -> Response:
    scheme = "https" if connection.writer.get_extra_info("ssl_object") is not None else "http"
    port = connection.writer.get_extra_info("sockname")[1]
    page = f"<html><body><p>{scheme}://{connection.host}:{port}/</p></body></html>"
    return Response(200, page.encode(), [("Content-Type", "text/html; charset=utf-8")])


BLOG_POSTS = {
    "one.html": '<html><head><title>One</title></head><body><p><a href="/ok.html">ok</a> and '
    '<img src="../../image.png" alt="pic"> and <a href="/status/404">gone</a></p></body></html>',
    "two.html": '<html><head><title>Two</title></head><body><a href="/redirect/1">moved</a></body></html>',
}
_XML = [("Content-Type", "application/xml")]


def _blog_documents(site: str) -> dict[str, Response]:
    """The blog's feeds and sitemaps, naming its posts by their absolute addresses on `site`."""
    posts = [f"{site}/blog/posts/{name}" for name in BLOG_POSTS]
    items = "".join(f"<item><title>{url}</title><link>{url}</link></item>" for url in posts)
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>{items}</channel></rss>'
    atom = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>'
            '<entry><title>One</title><link href="/blog/posts/one.html"/><id>1</id></entry></feed>')  # fmt: skip
    urls = "".join(f"<url><loc>{url}</loc></url>" for url in posts)
    namespace = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    sitemap = f'<?xml version="1.0" encoding="UTF-8"?><urlset {namespace}>{urls}</urlset>'
    nested = f"<sitemap><loc>{site}/blog/sitemap.xml</loc></sitemap>"
    index = f'<?xml version="1.0"?><sitemapindex {namespace}>{nested}</sitemapindex>'
    bomb = '<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><urlset>&b;</urlset>'
    broken = rss.replace("<title>Blog</title>", "<title>Tom & Jerry</title>")  # a bare &: not well-formed
    twice = f'<?xml version="1.0"?><sitemapindex {namespace}><sitemap><loc>{site}/blog/sitemap-index.xml</loc>' \
            "</sitemap></sitemapindex>"  # fmt: skip
    local_file = str(Path(__file__).parent / "fixtures" / "local-feed.xml")  # not XML: a path on the machine
    feeds = {"feed.xml": rss, "atom.xml": atom, "sitemap.xml": sitemap, "sitemap-index.xml": index, "bomb.xml": bomb,
             "broken-feed.xml": broken, "index-of-index.xml": twice, "path-feed.xml": local_file}  # fmt: skip
    pages = {
        f"posts/{name}": Response(200, page.encode(), [("Content-Type", "text/html")])
        for name, page in BLOG_POSTS.items()
    }
    gzipped = Response(200, gzip.compress(sitemap.encode(), mtime=0), [("Content-Type", "application/gzip")])
    return {**{name: Response(200, text.encode(), _XML) for name, text in feeds.items()}, **pages,
            "sitemap.xml.gz": gzipped}  # fmt: skip


async def _blog(rest: str, connection: Connection) -> Response:
    port = connection.writer.get_extra_info("sockname")[1]
    document = _blog_documents(f"http://{connection.host}:{port}").get(rest)
    return document or Response(404, b"<html><body>Not found</body></html>", [("Content-Type", "text/html")])


async def _credential_redirect(_: str, connection: Connection) -> Response:
    """A redirect to a URL with a user, a password and a signed query, on the same host."""
    port = connection.writer.get_extra_info("sockname")[1]
    return Response(302, b"", [("Location", f"http://bob:SEKRET2@{connection.host}:{port}/image.png?sig=SEKRET3")])


async def _keyed(_: str, connection: Connection) -> Response:
    """A page only the right key opens (/keyed?token=good); any other key is a 404."""
    if "token=good" in connection.target.split("?", 1)[-1]:
        return Response(200, HTML, [("Content-Type", "text/html; charset=utf-8")])
    return Response(404, b"<html><body>No such key</body></html>", [("Content-Type", "text/html")])


async def _no_location(rest: str, _: Connection) -> Response:
    return Response(int(rest), b"moved, but where?", _TEXT)


async def _noise(rest: str, _: Connection) -> Response:
    """BYTES that do not compress (the same for the same size), to fill a disk."""
    size = int(rest.split("/", 1)[0])
    return Response(200, random.Random(size).randbytes(size), [("Content-Type", "application/octet-stream")])


async def _huge(rest: str, _: Connection) -> Response:
    return Response(200, body_of(int(rest)), [("Content-Type", "application/octet-stream")])


async def _reset(_: str, connection: Connection) -> None:
    writer = connection.writer
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/plain\r\n\r\npartial")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _hang(_: str, connection: Connection) -> None:
    await connection.reader.read(1)  # say nothing until the client gives up and closes


async def _slow(_: str, connection: Connection) -> None:
    writer = connection.writer
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\nContent-Type: text/plain\r\n\r\n")
    for _chunk in range(3):
        await asyncio.sleep(0.2)
        writer.write(b"slow body\n")
        await writer.drain()
    writer.close()


async def _hold(rest: str, _: Connection) -> Response:
    await asyncio.sleep(float(rest.split("/", maxsplit=1)[0]))
    return Response(200, b"held", [("Content-Type", "text/plain")])


async def _notice(rest: str, _: Connection) -> Response:
    """A live page that says something is missing, after SECONDS: its site gets probed."""
    await asyncio.sleep(float(rest.split("/", maxsplit=1)[0]))
    body = b"<html><head><title>Moved</title></head><body><p>The old page was not found; this is the new one.</p>"
    return Response(200, body + b"</body></html>", [("Content-Type", "text/html; charset=utf-8")])


class _Flaky:
    """CODE for the first N requests of each host and path, then 200 (/flaky/CODE/N/any-key)."""

    async def __call__(self, server: MisbehavingServer, rest: str, connection: Connection) -> Response:
        code, times = (int(part) for part in rest.split("/")[:2])
        seen = server.hits[(connection.host, f"/flaky/{rest}")]
        if seen <= times:
            return Response(code, b"try again", [("Retry-After", "1"), ("Content-Type", "text/plain")])
        return Response(200, b"recovered", [("Content-Type", "text/plain")])


class _Validated:
    """A page that gives an ETag and a Last-Modified (/validated/NAME), and answers a
    conditional request that sends either of them back with 304 Not Modified."""

    ETAG = '"v1"'
    LAST_MODIFIED = "Tue, 01 Sep 2026 10:00:00 GMT"

    async def __call__(self, server: MisbehavingServer, rest: str, connection: Connection) -> Response:
        asked = server.headers[(connection.host, f"/validated/{rest}")]
        validators = [("ETag", self.ETAG), ("Last-Modified", self.LAST_MODIFIED)]
        if asked.get("if-none-match") == self.ETAG or asked.get("if-modified-since") == self.LAST_MODIFIED:
            return Response(304, b"", validators)
        page = f"<html><head><title>{rest}</title></head><body><p>The page {rest}, unchanged.</p></body></html>"
        return Response(200, page.encode(), [("Content-Type", "text/html; charset=utf-8"), *validators])


def _plain(handler: Handler) -> Callable[[MisbehavingServer, str, Connection], Awaitable[Response | None]]:
    async def route(_: MisbehavingServer, rest: str, connection: Connection) -> Response | None:
        return await handler(rest, connection)

    return route


_TEXT = [("Content-Type", "text/plain")]
_GZIPPED = Response(200, gzip.compress(GZIP_TEXT, mtime=0), [*_TEXT, ("Content-Encoding", "gzip")])
_ROBOTS = Response(200, b"User-agent: *\nDisallow: /private/\n", _TEXT)


async def _robots(_: str, connection: Connection) -> Response:
    if connection.host.startswith("broken-robots"):
        return Response(500, b"robots.txt is broken", _TEXT)
    if connection.host.startswith("huge-robots"):  # the rule comes after the first 512 KiB
        return Response(200, b"# padding\n" * 100_000 + b"User-agent: *\nDisallow: /\n", _TEXT)
    if connection.host.startswith("wildcard-robots"):  # RFC 9309's * and $
        return Response(200, b"User-agent: *\nDisallow: /*.pdf$\n", _TEXT)
    if connection.host.startswith("longest-robots"):  # the longest matching rule decides
        return Response(200, b"User-agent: *\nDisallow: /a\nAllow: /a/b\n", _TEXT)
    if connection.host.startswith("mailto-robots"):  # moved to a URL no client can join
        return Response(301, b"", [("Location", "mailto:webmaster@example.org")])
    return _ROBOTS


_UTF8_HEADERS = Response(200, b"download", [*_TEXT, ("Content-Disposition", 'attachment; filename="caf\u00e9.txt"')])


class _Changing:
    """/changing/KEY: a new article at every visit. /dated/KEY: the same article, a new date.
    /changing-xgzip/ and /dated-xgzip/: the same, compressed as `Content-Encoding: x-gzip`."""

    def __init__(self, rewritten: bool, x_gzip: bool = False) -> None:
        self._rewritten = rewritten
        self._x_gzip = x_gzip

    async def __call__(self, server: MisbehavingServer, rest: str, connection: Connection) -> Response:
        prefix = ("changing" if self._rewritten else "dated") + ("-xgzip" if self._x_gzip else "")
        visit = server.hits[(connection.host, f"/{prefix}/{rest}")]
        article = _ARTICLES[visit % len(_ARTICLES)] if self._rewritten else _ARTICLES[0]
        body = (
            f"<html><head><title>Article</title></head><body><p>Updated 2026-01-{visit:02d}.</p>{article}</body></html>"
        ).encode()
        if self._x_gzip:
            return Response(
                200, gzip.compress(body, mtime=0), [("Content-Type", "text/html"), ("Content-Encoding", "x-gzip")]
            )
        return Response(200, body, [("Content-Type", "text/html")])


_ARTICLES = (
    "<p>The cloud is a way of running computers that someone else owns, billed by the hour, scaled on demand.</p>",
    "<p>This domain has been repurposed: we now sell garden furniture, outdoor grills and patio umbrellas.</p>",
)

_ROUTES: list[tuple[str, Callable[[MisbehavingServer, str, Connection], Awaitable[Response | None]]]] = [
    ("/ok.html", _plain(_fixed(Response(200, HTML, [("Content-Type", "text/html; charset=utf-8")])))),
    ("/image.png", _plain(_fixed(Response(200, PNG, [("Content-Type", "image/png")])))),
    ("/gzip", _plain(_fixed(_GZIPPED))),
    ("/chunked", _plain(_fixed(Response(200, chunked=CHUNKS, headers=_TEXT)))),
    ("/redirect/", _plain(_redirect)),
    ("/loop/", _plain(_loop)),
    ("/status/", _plain(_status)),
    ("/flaky/", _Flaky()),
    ("/validated/", _Validated()),
    ("/reset", _plain(_reset)),
    ("/hang", _plain(_hang)),
    ("/slow", _plain(_slow)),
    ("/huge/", _plain(_huge)),
    ("/noise/", _plain(_noise)),
    ("/hold/", _plain(_hold)),
    ("/notice/", _plain(_notice)),
    ("/to/", _plain(_to)),
    ("/credential-redirect", _plain(_credential_redirect)),
    ("/keyed", _plain(_keyed)),
    ("/robots.txt", _plain(_robots)),
    ("/changing/", _Changing(rewritten=True)),
    ("/dated/", _Changing(rewritten=False)),
    ("/changing-xgzip/", _Changing(rewritten=True, x_gzip=True)),
    ("/dated-xgzip/", _Changing(rewritten=False, x_gzip=True)),
    ("/utf8-headers", _plain(_fixed(_UTF8_HEADERS))),
    ("/utf8-redirect", _plain(_fixed(Response(302, b"", [("Location", "/caf\u00e9")])))),
    ("/caf%C3%A9", _plain(_fixed(Response(200, "café page".encode(), _TEXT)))),
    ("/no-location/", _plain(_no_location)),
    ("/whoami", _plain(_whoami)),
    ("/blog/", _plain(_blog)),
    ("/odd-retry-after", _plain(_fixed(Response(503, b"busy", [*_TEXT, ("Retry-After", b"\xb2")])))),
]


# Whole sites, chosen by the first label of the host name: how real sites misbehave.
# Each is given the request target, query included.
_SOFT_404_PAGE = (
    "<html><head><title>Oops</title></head><body><h1>Sorry!</h1>"
    "<p>We looked everywhere but {path} is not here. Try the search box.</p></body></html>"
)


def _soft_404_site(_: MisbehavingServer, path: str, __: Connection) -> Response:
    """Answers 200 for everything; only /real-article is a real page."""
    if path == "/real-article":
        return Response(200, HTML, [("Content-Type", "text/html")])
    return Response(200, _SOFT_404_PAGE.format(path=path).encode(), [("Content-Type", "text/html")])


def _front_page_site(_: MisbehavingServer, path: str, __: Connection) -> Response:
    """Sends every missing page to its front page."""
    if path == "/":
        return Response(200, b"<html><head><title>Home</title></head><body>Welcome home</body></html>", [])
    if path == "/about":
        return Response(200, HTML, [("Content-Type", "text/html")])
    return Response(301, b"", [("Location", "/")])


_PARKING_PAGE = (
    b"<html><head><title>parked.test</title></head><body><h1>parked.test</h1>"
    b"<p>This domain may be for sale. Buy this domain today!</p>"
    b"<script src='https://www.sedoparking.com/frmpark/x.js'></script></body></html>"
)
_CHALLENGE_PAGE = (
    b"<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing"
    b" the site.</h1><form id='challenge-form' action='/?__cf_chl_f_tk=x'></form></body></html>"
)


def _parked_site(_: MisbehavingServer, __: str, ___: Connection) -> Response:
    return Response(200, _PARKING_PAGE, [("Content-Type", "text/html")])


def _walled_site(_: MisbehavingServer, __: str, ___: Connection) -> Response:
    return Response(403, _CHALLENGE_PAGE, [("Content-Type", "text/html"), ("Server", "cloudflare")])


def _upgrading_site(server: MisbehavingServer, path: str, connection: Connection) -> Response:
    """Plain HTTP that moves everything to the same host and path over TLS, where it is
    served; over TLS, missing pages (the probe's, /gone...) are sent to the front page."""
    if connection.writer.get_extra_info("ssl_object") is not None:
        if path.startswith(("/archiver-probe-", "/gone")):
            return Response(301, b"", [("Location", "/")])
        return Response(200, HTML, [("Content-Type", "text/html")])
    return Response(301, b"", [("Location", f"https://upgrade.test:{server.tls_port}{path}")])


_TEMPLATE = (
    "<nav>" + " ".join(f"<a href='/section-{i}'>Section {i} of our long navigation</a>" for i in range(60)) + "</nav>"
)
_HTML = [("Content-Type", "text/html")]


def _page(title: str, body: str) -> Response:
    return Response(200, f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode(), _HTML)


def _prose_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Live articles that talk about captchas and domain marketplaces."""
    return _page(
        "How we stopped spam",
        "<p>We added a CAPTCHA to the contact form. Are you a robot? Our form now asks.</p>"
        "<p>We also bought our old name back from HugeDomains and Afternic, where the domain was for sale.</p>"
        "<script src='https://www.google.com/recaptcha/api.js'></script>"
        "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>",
    )


def _captcha_404_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """A missing page whose error page embeds a captcha widget."""
    body = (
        b"<html><head><title>Not found</title></head><body>No such page.<div class='g-recaptcha'></div></body></html>"
    )
    return Response(404, body, _HTML)


def _template_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Answers 200 with its big shared template; a short real post among missing pages."""
    if target == "/short-post":
        return _page("A short post", _TEMPLATE + "<p>Brief note: we moved offices.</p>")
    return _page("Page not found", _TEMPLATE + f"<p>Sorry, {target} was not found.</p>")


def _app_site(_: MisbehavingServer, __: str, ___: Connection) -> Response:
    """A single-page app: every route is the same shell, filled in by JavaScript."""
    return _page("App", "<div id='root'></div><script src='/app.js'></script>")


def _slash_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Adds a trailing slash to every path, then answers 200 for anything."""
    if not target.endswith("/"):
        return Response(301, b"", [("Location", target + "/")])
    if target == "/real/":
        return Response(200, HTML, _HTML)
    return _page("Oops", f"<p>Sorry! We looked everywhere but {target} is not here.</p>")


def _home_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """An ordinary site: /index.html moves to /, missing pages are 404."""
    if target == "/":
        return _page("Home", "<p>Welcome home.</p>")
    if target == "/index.html":
        return Response(301, b"", [("Location", "/")])
    return Response(404, b"not found", _TEXT)


# A page with every kind of requisite; /page2 shares some. The stylesheets import each
# other (a loop), one image 404s, one is over the tests' size cap (200 000 bytes), one is on
# another host (cdn.test). /clean is a page whose every requisite answers 200.
STYLED_PAGE = """<!doctype html><html><head><title>Styled page</title>
<link rel="stylesheet" href="/css/a.css"><link rel="icon" href="/favicon.ico">
<link rel="preload" href="/fonts/preloaded.woff2" as="font"><link rel="canonical" href="/page">
<script src="/app.js"></script><script>var inline = "/not-a-requisite.js";</script>
<style>@import "/css/c.css"; .hero { background: url('/img/style-bg.png') }</style></head>
<body><h1>Styled</h1><p>An article with <a href="/elsewhere">a link</a>.</p>
<img src="/img/photo.png" srcset="/img/photo-2x.png 2x, /img/photo,3x.png 3x">
<picture><source srcset="/img/pic.webp" type="image/webp"><img src="/img/pic.png" alt=""></picture>
<video poster="/img/poster.png"><source src="/media/clip.mp4"></video>
<input type="image" src="/img/button.png" alt="go"><div style="background-image: url(/img/div-bg.png)"></div>
<img src="//cdn.test:{port}/img/cdn.png"><img src="/img/missing.png"><img src="/img/big.png">
<img src="data:image/png;base64,iVBORw0KGgo="><a href="/img/linked.png">not loaded</a>
</body></html>"""
_STYLED_PAGE_2 = """<!doctype html><html><head><title>Another styled page</title>
<link rel="stylesheet" href="/css/a.css"><script src="/app.js"></script></head>
<body><p>Shares a.css and app.js.</p><img src="/img/second.png"></body></html>"""
_CLEAN_PAGE = """<!doctype html><html><head><title>Clean page</title>
<link rel="stylesheet" href="/css/clean.css"><link rel="icon" href="data:,"><script src="/clean.js"></script></head>
<body><h1 id="title">Clean</h1><img src="/img/clean.png" srcset="/img/clean-2x.png 2x">
<div class="bg">background</div><img src="//cdn.test:{port}/img/clean-cdn.png"></body></html>"""
_STYLESHEETS = {
    "/css/a.css": '@import url("b.css");\nbody { background: url(/img/a-bg.png) no-repeat }\n',
    "/css/b.css": '@import "a.css";\n@font-face { font-family: F; src: url(fonts/font.woff2) format("woff2") }\n',
    "/css/c.css": ".c { color: red }\n",
    "/css/clean.css": '@import "clean-more.css";\n.bg { background: url("../img/clean-bg.png") }\n',
    "/css/clean-more.css": "h1 { color: #333 }\n",
}


def _styled_site(_: MisbehavingServer, target: str, connection: Connection) -> Response:
    """Pages with requisites of every kind, and the requisites."""
    port = str(connection.writer.get_extra_info("sockname")[1])
    pages = {"/page": STYLED_PAGE, "/page2": _STYLED_PAGE_2, "/clean": _CLEAN_PAGE}
    if target in pages:
        return Response(200, pages[target].replace("{port}", port).encode(), _HTML)
    return _styled_requisite(target)


def _styled_requisite(target: str) -> Response:
    if target in _STYLESHEETS:
        return Response(200, _STYLESHEETS[target].encode(), [("Content-Type", "text/css")])
    if target.endswith(".js"):
        return Response(200, b"document.documentElement.dataset.ran = 'yes';\n",
                        [("Content-Type", "application/javascript")])  # fmt: skip
    if target == "/img/big.png":
        return Response(200, body_of(300_000), [("Content-Type", "image/png")])
    if target.startswith(("/img/", "/favicon")) and "missing" not in target:
        return Response(200, PNG, [("Content-Type", "image/png")])
    if "/fonts/" in target:
        return Response(200, body_of(100), [("Content-Type", "font/woff2")])
    return Response(404, b"<html><body>Not found</body></html>", _HTML)


def _cdn_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Another host serving images."""
    return Response(200, PNG, [("Content-Type", "image/png")])


_LONG_ARTICLE = "".join(
    f"<p>In {1992 + i} the web's error pages changed again: servers, browsers and designers each left a mark on"
    " how a missing page is told, from the bare status line to the illustrated apology.</p>"
    for i in range(40)
)


def _removed_article_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Real 404s for what does not exist, but one removed article answers 200 "Page not found"."""
    if target == "/2015/removed-article":
        return _page("Page not found | removed.test", _TEMPLATE + "<h1>Page not found</h1><p>Sorry about that.</p>")
    if target == "/2015/live-article":
        return _page("A live article", _TEMPLATE + "<h1>Clouds</h1><p>An article about clouds.</p>")
    return Response(404, b"<html><body>Not found</body></html>", _HTML)


def _front_redirect_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Removed deep links are sent to the front page; other missing paths are real 404s."""
    sent_on = {"/2008/04/03/story/": "/", "/wiki/REST": "/", "/dave/": "/", "/en/old-page": "/en/",
               "/moved-article": "/articles/moved-article"}  # fmt: skip
    pages = {"/": ("Home of a site", "<h1>Welcome</h1><p>The front page.</p>"), "/en/": ("Home", "<h1>Welcome</h1>"),
             "/articles/moved-article": ("A moved article", "<h1>Moved</h1><p>It lives here now.</p>")}  # fmt: skip
    if target in sent_on:
        return Response(302, b"", [("Location", sent_on[target])])
    if target in pages:
        return _page(*pages[target])
    return Response(404, b"<html><body>Not found</body></html>", _HTML)


def _history_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """A long article about 404 pages; missing paths are real 404s."""
    if target == "/404-history":
        return _page("A history of the 404 page", "<h1>404: a history of the page not found</h1>" + _LONG_ARTICLE)
    return Response(404, b"<html><body>Not found</body></html>", _HTML)


def _members_site(_: MisbehavingServer, target: str, __: Connection) -> Response:
    """Reports behind a login page."""
    if target.startswith("/reports/"):
        return Response(302, b"", [("Location", f"/login?next={target}")])
    if target.startswith("/login"):
        return _page("Sign in", "<h1>Sign in</h1><form><input name=user><input name=password></form>")
    return Response(404, b"<html><body>Not found</body></html>", _HTML)


_SITES: dict[str, Callable[[MisbehavingServer, str, Connection], Response]] = {
    "removed": _removed_article_site,
    "frontlinks": _front_redirect_site,
    "history": _history_site,
    "members": _members_site,
    "styled": _styled_site,
    "cdn": _cdn_site,
    "prose": _prose_site,
    "captcha404": _captcha_404_site,
    "template": _template_site,
    "app": _app_site,
    "slash": _slash_site,
    "home": _home_site,
    "soft": _soft_404_site,
    "front": _front_page_site,
    "parked": _parked_site,
    "walled": _walled_site,
    "upgrade": _upgrading_site,
}
