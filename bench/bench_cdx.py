"""Time and peak memory of reading a site's CDX answer, as restore asks a web archive for one.

    python bench/bench_cdx.py [--rows 10000 100000 1000000] [--wanted 108]

A pywb-shaped answer (`output=json`: one JSON object a line, about 330 bytes each) of
the captures of a whole site, `--rows` of them, is read with `cdx.read_page` into the
rows kept for `--wanted` dead images of that site, renamed files looked for too (every
wanted image has a same-named old WordPress address among the rows). Printed per size:
seconds (the answer's bytes made as it is read included), MB read, tracemalloc's peak of
Python allocations (a second reading, traced), the rows read and the renamed candidates kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import tracemalloc
from collections.abc import Iterator

from archiver.restore.sources.base import Wanted
from archiver.restore.sources.cdx import SiteRows, read_page

NEAR = dt.datetime(2016, 3, 1, tzinfo=dt.UTC)
_CHUNK = 64 * 1024


def answer(rows: int, wanted: int) -> Iterator[bytes]:
    """The answer's bytes in chunks: `rows` captures, pages and images of one site."""
    buffer: list[bytes] = []
    for n in range(rows):
        if n % 50 < wanted and n // 50 < 1:  # the old addresses of the wanted images, early in the key order
            path = f"/wp-content/uploads/2015/02/photo-{n % 50}.jpg"
            url = f"http://www.blog.example{path}"
        else:
            path = f"/{n // 1000}/page-{n}.html"
            url = f"https://blog.example{path}"
        fields = {"urlkey": f"example,blog){path}", "timestamp": f"2015{n % 12 + 1:02d}01000000", "url": url,
                  "mime": "text/html", "status": "200", "digest": "sha1:X", "length": "1234"}  # fmt: skip
        buffer.append(json.dumps(fields).encode() + b"\n")
        if len(buffer) == 200:
            yield b"".join(buffer)
            buffer = []
    yield b"".join(buffer)


def measure(rows: int, wanted: int) -> None:
    dead = "https://blog.example/assets/media/2015/02/photo-{}.jpg"
    urls = [Wanted(dead.format(n), NEAR, renamed=True) for n in range(wanted)]
    size = sum(len(chunk) for chunk in answer(rows, min(wanted, 50)))
    kept = SiteRows(urls)
    started = time.perf_counter()
    page = read_page(answer(rows, min(wanted, 50)), kept)
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second reading, traced (tracemalloc slows it several times over)
    read_page(answer(rows, min(wanted, 50)), SiteRows(urls))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    renamed = sum(len(kept.same_named(w.url)) for w in urls)
    print(f"{rows:>9,} rows  {size / 1e6:7.1f} MB  {seconds:6.2f} s  {seconds / (size / 1e6):.3f} s/MB  "
          f"traced peak {peak / 1e6:5.1f} MB  rows read {page.rows:,}  renamed candidates kept {renamed}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--wanted", type=int, default=108)
    arguments = parser.parse_args()
    for rows in arguments.rows:
        measure(rows, arguments.wanted)


if __name__ == "__main__":
    main()
