"""Gzip of WARC records: MB/s and size by library and level, on realistic HTML.

    python bench/bench_gzip.py [--records 40] [--kilobytes 100] [--repeat 3]

Compresses each record (a realistic page from bench/realistic_pages.py behind WARC and
HTTP headers) as its own gzip member, as a WARC writer does, with Python's zlib (warcio's
GzippingWrapper uses level 9), python-isal (`isal.isal_zlib`, levels 0 to 3) and
python-zlib-ng (`zlib_ng.zlib_ng`), where installed. Every member is decompressed again
with Python's gzip module and compared with its input. Prints input MB per second of
compressing (best of --repeat) and the compressed size as a share of the input.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

from realistic_pages import page

GZIP_WBITS = zlib.MAX_WBITS + 16  # a gzip header and trailer around the deflate stream
LEVELS = {"zlib": (1, 6, 9), "isal.isal_zlib": (0, 1, 2, 3), "zlib_ng.zlib_ng": (1, 6, 9)}


def records(count: int, kilobytes: int) -> list[bytes]:
    """WARC response records' bytes (headers and page), one per seed."""
    made = []
    for seed in range(count):
        body = page(seed, kilobytes)
        head = (
            f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: http://h{seed}.bench.test/html/{seed}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(body) + 120}\r\n\r\n"
            f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        made.append(head.encode() + body + b"\r\n\r\n")
    return made


def member(compressobj: Callable[..., Any], level: int, record: bytes) -> bytes:
    """One record as a gzip member, written in 16 KiB pieces as warcio writes it."""
    compressor = compressobj(level, zlib.DEFLATED, GZIP_WBITS)
    pieces = [compressor.compress(record[start : start + 16384]) for start in range(0, len(record), 16384)]
    return b"".join(pieces) + bytes(compressor.flush())


def measure(compressobj: Callable[..., Any], level: int, inputs: list[bytes], repeat: int) -> tuple[float, float]:
    """Best MB/s over `repeat` passes, and the compressed share of the input."""
    best, members = float("inf"), []
    for _ in range(repeat):
        started = time.perf_counter()
        members = [member(compressobj, level, record) for record in inputs]
        best = min(best, time.perf_counter() - started)
    for record, packed in zip(inputs, members, strict=True):
        assert gzip.decompress(packed) == record, "a member did not decompress to its record"
    size = sum(map(len, inputs))
    return size / best / 1e6, sum(map(len, members)) / size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--kilobytes", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    inputs = records(args.records, args.kilobytes)
    print(f"{len(inputs)} records of about {args.kilobytes} KB, {sum(map(len, inputs)) / 1e6:.1f} MB in all")
    print("| library | level | MB/s | compressed size |")
    print("|---|---:|---:|---:|")
    for name, levels in LEVELS.items():
        try:
            compressobj = importlib.import_module(name).compressobj
        except ImportError:
            print(f"| {name} | not installed | | |")
            continue
        for level in levels:
            rate, share = measure(compressobj, level, inputs, args.repeat)
            print(f"| {name} | {level} | {rate:.1f} | {share:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
