"""Fetch throughput and memory, measured against peers in the same run.

    python bench/bench_fetch.py [--urls 2400] [--hosts 100] [--latency 0.05] [--wget-urls 400]

Starts bench/latency_server.py in its own process (every answer after ~latency seconds;
`--hosts` names all resolving to 127.0.0.2) and measures, over the same URL list:

  archiver run            extract-free `archiver run`: fetch, WARC, index, results file
  fetcher, per-host pools the fetcher alone, with its pool per host (what run uses)
  fetcher, one shared pool the fetcher alone, with one pool of `concurrency` connections
  aiohttp GET loop        a bare asynchronous GET loop, same limits: Python's ceiling here
  wget --warc-file        GNU wget writing a WARC, over the first --wget-urls URLs

then the peak memory (maximum resident set) of `archiver run` archiving one streamed
1 GB body (--stream-mb to change it).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from archiver import job
from archiver.config import Config, ExtractSettings, FetchSettings
from archiver.fetch import Fetcher
from archiver.fetch.network import AddressPolicy, GuardedBackend
from archiver.fetch.transport import _GuardedHostTransport, tls_context
from archiver.model import Extraction, Form, Link, LinkKind, Occurrence

HERE = Path(__file__).resolve().parent
ADDRESS = "127.0.0.2"


def start_server(latency: float, *options: str) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, str(HERE / "latency_server.py"), "--bind", ADDRESS, "--latency", str(latency), *options]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def host_names(count: int) -> list[str]:
    return [f"h{index}.bench.test" for index in range(count)]


def page_urls(port: int, count: int, hosts: list[str]) -> list[str]:
    return [f"http://{hosts[index % len(hosts)]}:{port}/page/{index}" for index in range(count)]


def fetch_settings(hosts: list[str]) -> FetchSettings:
    return FetchSettings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),), resolve=dict.fromkeys(hosts, ADDRESS))


def extraction_of(urls: list[str]) -> Extraction:
    def link(index: int, url: str) -> Link:
        occurrence = Occurrence(Path("bench.md"), index + 1, "", LinkKind.LINK, Form.MARKDOWN, url)
        return Link(url, LinkKind.LINK, False, (occurrence,))

    return Extraction((), tuple(link(i, url) for i, url in enumerate(urls)), ())


def time_archiver_run(urls: list[str], settings: FetchSettings, folder: Path) -> float:
    config = Config(source=None, post_paths=(), output_dir=folder, extract=ExtractSettings(), fetch=settings)
    started = time.perf_counter()
    summary = job.run(config, extraction=extraction_of(urls))
    elapsed = time.perf_counter() - started
    assert summary.ok == len(urls), summary
    return elapsed


def time_fetcher(urls: list[str], settings: FetchSettings, shared_pool: bool) -> float:
    async def run() -> float:
        transport = None
        if shared_pool:
            backend = GuardedBackend(AddressPolicy(settings.allow_networks), settings.resolve)
            transport = _GuardedHostTransport(tls_context(None), backend, settings.concurrency)
        started = time.perf_counter()
        ok = 0
        async with Fetcher(settings, transport) as fetcher:
            async for capture in fetcher.fetch_all(urls):
                ok += capture.result.status.is_ok
                capture.close()
        assert ok == len(urls)
        return time.perf_counter() - started

    return asyncio.run(run())


class FixedResolver(AbstractResolver):
    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=ADDRESS, port=port, family=socket.AF_INET, proto=0, flags=0)]

    async def close(self) -> None:
        return None


def time_aiohttp(urls: list[str], concurrency: int, per_host: int, *, all_ok: bool = True) -> float:
    """Seconds of a bare aiohttp GET loop over the URLs; with `all_ok`, every answer must be 200."""

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host, resolver=FixedResolver())
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.perf_counter()

            async def get(url: str) -> int:
                async with session.get(url) as response:
                    await response.read()
                    return response.status

            statuses = await asyncio.gather(*(get(url) for url in urls))
            assert not all_ok or all(status == 200 for status in statuses)
            return time.perf_counter() - started

    return asyncio.run(run())


def time_wget(urls: list[str], folder: Path) -> float:
    listing = folder / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    command = [
        "wget",
        "--quiet",
        "--no-verbose",
        "-O",
        "/dev/null",
        "--warc-file",
        str(folder / "wget"),
        "-i",
        str(listing),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def peak_memory_mb(port: int, megabytes: int, folder: Path) -> tuple[float, float]:
    """Peak resident memory of `archiver run` archiving one streamed body, and its seconds."""
    script = textwrap.dedent(
        f"""
        import ipaddress, pathlib
        from archiver import job
        from archiver.config import Config, ExtractSettings, FetchSettings
        from archiver.model import Extraction, Form, Link, LinkKind, Occurrence
        url = "http://stream.bench.test:{port}/stream/{megabytes * 1_000_000}"
        occurrence = Occurrence(pathlib.Path("bench.md"), 1, "", LinkKind.LINK, Form.MARKDOWN, url)
        fetch = FetchSettings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
                              resolve={{"stream.bench.test": "{ADDRESS}"}}, max_body_mb={megabytes * 2},
                              read_timeout=120, total_timeout=3600)
        config = Config(source=None, post_paths=(), output_dir=pathlib.Path(r"{folder}"),
                        extract=ExtractSettings(), fetch=fetch)
        summary = job.run(config, extraction=Extraction((), (Link(url, LinkKind.LINK, False, (occurrence,)),), ()))
        assert summary.ok == 1 and summary.bytes == {megabytes * 1_000_000}, summary
        """
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True)
    elapsed = time.perf_counter() - started
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=2400)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--wget-urls", type=int, default=400)
    parser.add_argument("--stream-mb", type=int, default=1000)
    args = parser.parse_args()
    server, port = start_server(args.latency)
    try:
        hosts = host_names(args.hosts)
        urls = page_urls(port, args.urls, hosts)
        settings = fetch_settings(hosts)
        rows: list[tuple[str, int, float]] = []
        with tempfile.TemporaryDirectory() as folder:
            rows.append(("archiver run", len(urls), time_archiver_run(urls, settings, Path(folder) / "run")))
            rows.append(("fetcher, per-host pools", len(urls), time_fetcher(urls, settings, shared_pool=False)))
            rows.append(("fetcher, one shared pool", len(urls), time_fetcher(urls, settings, shared_pool=True)))
            rows.append(("aiohttp GET loop", len(urls), time_aiohttp(urls, settings.concurrency, settings.per_host)))
            by_address = [url.replace(url.split("/")[2].split(":")[0], ADDRESS, 1) for url in urls[: args.wget_urls]]
            rows.append(("wget --warc-file", len(by_address), time_wget(by_address, Path(folder))))
            memory, seconds = peak_memory_mb(port, args.stream_mb, Path(folder) / "stream")
        _report(args, rows, memory, seconds)
    finally:
        server.kill()
    return 0


def _report(args: Any, rows: list[tuple[str, int, float]], memory: float, seconds: float) -> None:
    print(f"{args.urls} URLs on {args.hosts} host names, {args.latency * 1000:.0f} ms latency per answer")
    print(f"| {'client':26} | URLs | seconds | URLs/s |")
    print(f"|{'-' * 28}|-----:|--------:|-------:|")
    for name, count, elapsed in rows:
        print(f"| {name:26} | {count:4} | {elapsed:7.2f} | {count / elapsed:6.0f} |")
    print(f"peak memory archiving a {args.stream_mb} MB streamed body: {memory:.0f} MB ({seconds:.1f} s)")


if __name__ == "__main__":
    sys.exit(main())
