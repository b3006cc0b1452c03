"""A run with hung hosts among many live ones: does it take longer than it must?

    python bench/bench_hung.py [--urls 2400] [--hosts 400] [--timeout 10] [--attempts 3]

Starts bench/latency_server.py in its own process: realistic pages of about 10 KB
(`/html/10/N`), each answer after ~latency seconds, a 404 for any other path, and no
answer at all on host names starting with `hung` (the connection is taken, the request
read, and nothing sent). Of the `--urls` URLs, 10 are on hung hosts (five hosts with one
URL, one with five), put last in the list; the rest are spread over `--hosts` live host
names. `archiver run` fetches them all with `read_timeout` set to `--timeout` and
`--attempts` attempts (page requisites off: this measures the schedule, not the
requisites).

No run can end before a hung host with one URL has timed out on each of its attempts:
the unavoidable time is the start (until the run's first request, to any host) plus
attempts x timeout plus the retries' backoff (tenacity's exponential wait with jitter:
backoff x 2^n plus up to `backoff` more; the most it can be is used). The goal is a run
within 1.1 times that. Also printed: how many requests the hung hosts received (one
timeout sequence per hung host is the least), and when each was first asked.
"""

from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from archiver import job
from archiver.config import Config, ExtractSettings, FetchSettings, PackSettings
from archiver.model import Extraction, Form, Link, LinkKind, Occurrence

HERE = Path(__file__).resolve().parent
ADDRESS = "127.0.0.2"
HUNG_HOST_URLS = (1, 1, 1, 1, 1, 5)  # URLs on each hung host: those with one URL set the unavoidable time


def start_server(latency: float, hung_log: Path) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, str(HERE / "latency_server.py"), "--bind", ADDRESS, "--latency", str(latency)]
    server = subprocess.Popen([*command, "--not-found", "--hung-log", str(hung_log)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def url_list(args: argparse.Namespace, port: int) -> tuple[list[str], list[str]]:
    """The live URLs, then the hung ones; and every host name."""
    hung_names = [f"hung{index}.bench.test" for index in range(len(HUNG_HOST_URLS))]
    hung = [
        f"http://{name}:{port}/html/10/{i}"
        for name, n in zip(hung_names, HUNG_HOST_URLS, strict=True)
        for i in range(n)
    ]
    live_names = [f"h{index}.bench.test" for index in range(args.hosts)]
    live = [f"http://{live_names[i % args.hosts]}:{port}/html/10/{i}" for i in range(args.urls - len(hung))]
    return live + hung, live_names + hung_names


def extraction_of(urls: list[str]) -> Extraction:
    def link(index: int, url: str) -> Link:
        occurrence = Occurrence(Path("bench.md"), index + 1, "", LinkKind.LINK, Form.MARKDOWN, url)
        return Link(url, LinkKind.LINK, False, (occurrence,))

    return Extraction((), tuple(link(i, url) for i, url in enumerate(urls)), ())


def most_backoff(settings: FetchSettings) -> float:
    """The longest the retries of one URL can wait in all (the wait policy's bound)."""
    waits = (settings.backoff * 2**retry + settings.backoff for retry in range(settings.attempts - 1))
    return float(sum(min(wait, settings.backoff_max) for wait in waits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=2400)
    parser.add_argument("--hosts", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--attempts", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        hung_log = Path(folder) / "hung.log"
        server, port = start_server(args.latency, hung_log)
        try:
            urls, names = url_list(args, port)
            fetch = FetchSettings(
                allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
                resolve=dict.fromkeys(names, ADDRESS),
                read_timeout=args.timeout,
                attempts=args.attempts,
            )
            config = Config(
                source=None,
                post_paths=(),
                output_dir=Path(folder) / "run",
                extract=ExtractSettings(),
                fetch=fetch,
                pack=PackSettings(requisites=False),
            )
            started = time.monotonic()
            summary = job.run(config, extraction=extraction_of(urls))
            wall = time.monotonic() - started
        finally:
            server.kill()
        lines = (line.split() for line in hung_log.read_text().splitlines())
        asked = [(host, float(at) - started) for host, at in lines]
    _report(args, str(summary), wall, asked, most_backoff(fetch))
    return 0


def _report(
    args: argparse.Namespace, summary: str, wall: float, asked: list[tuple[str, float]], backoff: float
) -> None:
    first: dict[str, float] = {}
    for host, at in asked:
        first.setdefault(host, at)
    run_start = first.pop("*")  # the first request the server saw, to any host
    asked = [(host, at) for host, at in asked if host != "*"]
    start = run_start  # a hung host cannot be asked before the run asks anything
    unavoidable = start + args.attempts * args.timeout + backoff
    live = args.urls - sum(HUNG_HOST_URLS)
    print(f"{args.urls} URLs: {live} on {args.hosts} live hosts, {args.latency * 1000:.0f} ms")
    print(f"  and {sum(HUNG_HOST_URLS)} on {len(HUNG_HOST_URLS)} hung hosts {HUNG_HOST_URLS}, last in the list")
    print(f"  read timeout {args.timeout:g} s, {args.attempts} attempts")
    print(f"  {summary}")
    print(f"hung hosts: {len(asked)} requests, per host {sorted(Counter(host for host, _ in asked).values())}")
    print(f"first request of the run at {run_start:.2f} s; hung hosts first asked at", end=" ")
    print(f"{', '.join(f'{at:.2f}' for at in sorted(first.values()))} s")
    print(f"unavoidable: {start:.2f} s start + {args.attempts} x {args.timeout:g} s + {backoff:.1f} s backoff")
    print(f"wall {wall:.1f} s against unavoidable {unavoidable:.1f} s: {wall / unavoidable:.2f}x (goal 1.10x)")


if __name__ == "__main__":
    sys.exit(main())
