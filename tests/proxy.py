"""A forward HTTP proxy on loopback that records every request it is sent, for tests.

It answers plain-HTTP requests in absolute form (`GET http://host:port/path HTTP/1.1`),
as a client configured with a proxy sends them, by making the request itself and
relaying the answer; `CONNECT host:port` (for https) by joining the two connections; in
both cases
with host names looked up in `resolve` first (as the test hosts
need). Each request's URL and User-Agent is kept in `requests`.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "proxy-authorization"})


@dataclass
class RecordingProxy:
    """The proxy's address and what it was asked for."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)  # (URL, User-Agent)


@contextmanager
def recording_proxy(resolve: Mapping[str, str] | None = None) -> Iterator[RecordingProxy]:
    """A proxy listening on 127.0.0.1, on a port of its own, for the length of the block."""
    addresses = dict(resolve or {})
    proxy = RecordingProxy("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            proxy.requests.append((self.path, self.headers.get("User-Agent", "")))
            target = urlsplit(self.path)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            host = target.hostname or ""
            upstream = http.client.HTTPConnection(addresses.get(host, host), target.port or 80, timeout=5)
            try:
                upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
                answer = upstream.getresponse()
                body = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_CONNECT(self) -> None:
            proxy.requests.append((f"CONNECT {self.path}", self.headers.get("User-Agent", "")))
            host, _, port = self.path.rpartition(":")
            upstream = socket.create_connection((addresses.get(host, host), int(port)), timeout=5)
            self.send_response(200)
            self.end_headers()
            self.close_connection = True
            with upstream:
                _join(self.connection, upstream)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _join(client: socket.socket, upstream: socket.socket) -> None:
    """Pass bytes both ways until either side closes."""
    while True:
        readable, _, _ = select.select([client, upstream], [], [], 5)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (upstream if source is client else client).sendall(data)
