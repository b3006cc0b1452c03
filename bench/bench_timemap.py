"""Time and peak memory of reading a large TimeMap, as restore asks a web archive for one.

    python bench/bench_timemap.py [--sizes 1 4 16 20 100] [--max-body-mb 200]

A server in its own process streams a TimeMap of the given size (one memento a minute
from 2000 on, as pywb writes them, about 130 bytes each), and each size is looked up in
a process of its own (`WebArchive.lookup` through the `Fetcher`, wanted time in the middle
of the span), so that its peak resident set is its own. Printed per size: seconds,
peak RSS, tracemalloc's peak of Python allocations (a second lookup, traced), the
mementos kept and the capture tried first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from archiver.config import ArchiveSettings, FetchSettings
from archiver.fetch import Fetcher
from archiver.restore.sources import WebArchive, by_preference

START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
URL = "http://photos.example/diagram.png"


def timemap_lines(base: str, url: str, size: int) -> Iterator[bytes]:
    """A pywb-shaped TimeMap of about `size` bytes: one memento a minute from START."""
    yield f'<{base}timemap/link/{url}>; rel="self"; type="application/link-format",\n'.encode()
    yield f'<{url}>; rel="original",\n'.encode()
    written, minute = 0, 0
    while written < size:
        when = START + dt.timedelta(minutes=minute)
        stamp, date = when.strftime("%Y%m%d%H%M%S"), when.strftime("%a, %d %b %Y %H:%M:%S GMT")
        line = f'<{base}{stamp}/{url}>; rel="memento"; datetime="{date}",\n'.encode()
        written += len(line)
        minute += 1
        yield line


def minutes_in(size: int) -> int:
    """How many mementos `timemap_lines` writes for `size` bytes."""
    return sum(1 for line in timemap_lines("http://127.0.0.1:1/web/", URL, size) if b'rel="memento"' in line)


def serve() -> None:
    """Serve TimeMaps of `?size=` bytes at /web/timemap/link/{url} until killed."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, size = self.path.partition("?size=")
            base = f"http://{self.headers['Host']}/web/"
            url = path.split("/timemap/link/", 1)[1]
            self.send_response(200)
            self.send_header("Content-Type", "application/link-format")
            self.end_headers()
            batch: list[bytes] = []
            for line in timemap_lines(base, url, int(size)):
                batch.append(line)
                if len(batch) == 500:
                    self.wfile.write(b"".join(batch))
                    batch = []
            self.wfile.write(b"".join(batch))

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


async def lookup(port: int, size: int, max_body_mb: float, near: dt.datetime) -> tuple[int, str]:
    settings = FetchSettings(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),), max_body_mb=max_body_mb, read_timeout=120,
        total_timeout=3600,
    )  # fmt: skip
    async with Fetcher(settings) as fetcher:
        archive = WebArchive(ArchiveSettings(name="Bench", url=f"http://127.0.0.1:{port}/web/"), fetcher,
                             settings.max_body_bytes)  # fmt: skip
        found = await archive.lookup(f"{URL}?size={size}", near)
    assert not found.problem, found.problem
    first = by_preference(found.candidates, near)[0]
    return len(found.candidates), first.timestamp


def one(port: int, megabytes: float, max_body_mb: float) -> None:
    """Measure one size in this process and print one line of the table."""
    size = int(megabytes * 1_000_000)
    near = START + dt.timedelta(minutes=minutes_in(size) // 2, seconds=30)
    started = time.perf_counter()
    kept, first = asyncio.run(lookup(port, size, max_body_mb, near))
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    asyncio.run(lookup(port, size, max_body_mb, near))
    traced = tracemalloc.get_traced_memory()[1] / 1_000_000
    tracemalloc.stop()
    print(f"| {megabytes:g} MB | {seconds:.2f} s | {seconds / megabytes:.2f} s/MB | {rss:.0f} MB | "
          f"{traced:.1f} MB | {kept} | {first} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 4, 16, 20, 100], help="TimeMap sizes, MB")
    parser.add_argument("--max-body-mb", type=float, default=200.0, help="fetch.max_body_mb for the lookups")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one", type=float, nargs=2, metavar=("PORT", "MB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.one:
        one(int(args.one[0]), args.one[1], args.max_body_mb)
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        print("| TimeMap | time | per MB | peak RSS | traced peak | kept | tried first |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for megabytes in args.sizes:
            subprocess.run([sys.executable, __file__, "--one", port, str(megabytes),
                            "--max-body-mb", str(args.max_body_mb)], check=True)  # fmt: skip
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
