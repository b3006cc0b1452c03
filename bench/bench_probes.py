"""How many soft-404 probes a run asks, and whether asking fewer changes any status.

    python bench/bench_probes.py [--hosts 600] [--latency 0.05]

A simulated web on bench/latency_server.py, as many blogs cite it: most hosts are cited a
few times. Each host is one of three kinds (bench/latency_server.py): `real` sites answer
404 for what does not exist, `template` sites answer their "Nothing was found" template
with 200 (soft-404s only the probe comparison catches), `front` sites send every missing
page to their front page. Each host is cited for three realistic live pages of 30 KB
(`/html/30/N`) and one removed page (`/old/N`).

The same URLs are checked (`archiver check`, nothing stored) twice: as the health stage
decides now (`health.needs_probe`: a site is asked for a page that cannot exist only when
a page was sent elsewhere or says something is missing) and with every site of a 2xx
answer asked (as before). Printed: the probes each asked, the time, and every URL whose
status differs between the two (there should be none).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

from bench_fetch import extraction_of, fetch_settings, start_server

from archiver import health, job
from archiver.config import Config, ExtractSettings
from archiver.fetch import Fetcher
from archiver.model import Capture, FetchResult, Finisher, Validators

KINDS = ("real", "template", "front")


class CountingFetcher:
    """A `Fetcher` that counts the probes it is asked for."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self.probes = 0

    async def fetch(
        self, url: str, urgent: bool = False, follow: bool = True, validators: Validators | None = None
    ) -> Capture:
        self.probes += "/archiver-probe-" in url
        return await self.fetcher.fetch(url, urgent, follow, validators)

    def fetch_all(
        self, urls: Iterable[str], then: Finisher | None = None, validators: Mapping[str, Validators] | None = None
    ) -> AsyncIterator[Capture]:
        return self.fetcher.fetch_all(urls, then, validators)

    async def aclose(self) -> None:
        await self.fetcher.aclose()


def web(port: int, hosts: int) -> tuple[list[str], list[str]]:
    """The host names and the URLs cited on them."""
    names = [f"{KINDS[index % len(KINDS)]}{index}.bench.test" for index in range(hosts)]
    urls = []
    for index, name in enumerate(names):
        urls += [f"http://{name}:{port}/html/30/{index * 4 + page}" for page in range(3)]
        urls.append(f"http://{name}:{port}/old/{index}")
    return names, urls


def check(urls: list[str], names: list[str], folder: Path) -> tuple[dict[str, FetchResult], int, float]:
    """The results of `archiver check` over the URLs, the probes it asked, its seconds."""
    settings = fetch_settings(names)
    config = Config(source=None, post_paths=(), output_dir=folder, extract=ExtractSettings(), fetch=settings)
    results: dict[str, FetchResult] = {}
    backend = CountingFetcher(Fetcher(settings))
    started = time.perf_counter()
    job.run(config, lambda result: results.__setitem__(result.url, result), extraction_of(urls), store=False,
            backend=backend)  # fmt: skip
    return results, backend.probes, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    server, port = start_server(args.latency, "--not-found")
    try:
        names, urls = web(port, args.hosts)
        with tempfile.TemporaryDirectory() as folder:
            now, probes_now, seconds_now = check(urls, names, Path(folder) / "now")
            original = health.needs_probe
            health.needs_probe = lambda result, page: True
            try:
                before, probes_before, seconds_before = check(urls, names, Path(folder) / "before")
            finally:
                health.needs_probe = original
    finally:
        server.kill()
    print(f"{len(urls)} URLs on {len(names)} hosts ({', '.join(KINDS)} alike)")
    print(f"every site of a 2xx answer probed: {probes_before} probes, {seconds_before:.1f} s")
    print(f"probed only when it can matter:    {probes_now} probes, {seconds_now:.1f} s")
    print("statuses:", dict(Counter(result.status.value for result in now.values()).most_common()))
    differ = [url for url in urls if (now[url].status, now[url].detail) != (before[url].status, before[url].detail)]
    print(f"URLs whose status or detail differs: {len(differ)}")
    for url in differ[:20]:
        was, became = before[url], now[url]
        print(f"  {url}: {was.status.value} ({was.detail}) -> {became.status.value} ({became.detail})")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
