"""A blog of many links on one machine: `archiver run`'s peak memory and rate, against a bare GET loop.

    python bench/bench_scale.py [--sizes 10000 100000] [--hosts 1000] [--latency 0.05] [--kb 20]
                                [--missing 0.1] [--skip-loop] [--again]

For each size N: a folder of N / 100 Markdown posts citing 100 links each, over --hosts
host names served by bench/latency_server.py in its own process (every answer after about
--latency seconds): realistic pages of about --kb KB, each its own (bench/realistic_pages.py),
and a share --missing of links to pages that answer a real 404. `archiver run --all` runs
over it as a user runs it, in a process of its own, from the posts (extraction, fetch,
health, WARC, history, results and reports); page requisites are off (each realistic page
names about 50 of them, which would make the run 50 times as many requests). Printed:
wall time, URLs/s, the peak resident memory of the run's process (its largest process:
the parser processes are smaller) and when, in the run, it was reached; the sizes of what
it wrote; then a bare aiohttp GET loop over the same URLs with the same limits, and
`archiver run`'s rate as a share of the loop's. The CPU time of both is printed too, with
the server's beside it: the run's processes (its own, the parser processes and the one that
indexes beside it) and its own process alone, and from them the fastest any run of that CPU
could go on this machine's cores (its own process on one core, everything on all of them,
the server included, as it shares them here). With --again, each first run is followed
at once by a scheduled `archiver run` over the same folder (the links due: the failing
ones, whose first failure is asked again), with its time and peak memory.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench_fetch import ADDRESS, start_server, time_aiohttp

HERE = Path(__file__).resolve().parent
LINKS_PER_POST = 100


@dataclass(frozen=True)
class Measured:
    """One `archiver run`: its seconds, peak memory, when the peak came, and its output."""

    seconds: float
    peak_mb: float
    peak_at: float  # the share of the run's wall time at which the peak was first reached
    output_mb: dict[str, float]
    exit_code: int
    fetched: int  # URLs the run fetched, as its summary says
    cpu: float  # CPU seconds of the run's processes: its own and every process it started
    own_cpu: float  # CPU seconds of the run's own process (its last sample, 0.2 s at most before it ended)
    server_cpu: float  # CPU seconds the local server spent meanwhile


def host_names(count: int) -> list[str]:
    return [f"s{index}.scale.test" for index in range(count)]


def blog(folder: Path, port: int, size: int, hosts: list[str], *, kilobytes: int, missing: float) -> list[str]:
    """Write the posts and config.yaml of a blog citing `size` links; the URLs, in order."""
    posts = folder / "posts"
    posts.mkdir(parents=True)
    every_missing = round(1 / missing) if missing else 0
    urls = []
    for index in range(size):
        path = f"/missing/{index}" if every_missing and index % every_missing == 0 else f"/html/{kilobytes}/{index}"
        urls.append(f"http://{hosts[index % len(hosts)]}:{port}{path}")
    for number in range(0, size, LINKS_PER_POST):
        lines = [f"---\ntitle: Post {number}\ndate: 2015-0{1 + number % 9}-01\n---\n"]
        cited = range(number, min(size, number + LINKS_PER_POST))
        lines += [f"A sentence citing [page {i}]({urls[i]}).\n" for i in cited]
        (posts / f"post-{number:07d}.md").write_text("\n".join(lines), encoding="utf-8")
    resolve = ", ".join(f"{host}: {ADDRESS}" for host in hosts)
    (folder / "config.yaml").write_text(
        "posts:\n  paths: [posts]\n  base_url: http://blog.scale.test/\n"
        f"fetch:\n  allow_networks: [127.0.0.0/8]\n  resolve: {{{resolve}}}\n"
        "pack:\n  requisites: false\noutput:\n  dir: out\n",
        encoding="utf-8",
    )
    return urls


def run_archiver(folder: Path, server_pid: int, *, every_link: bool = True) -> Measured:
    """`archiver run --all` (or, without `every_link`, as a scheduled job runs it: the links
    due) over the blog in `folder`, its memory and CPU sampled every 0.2 s."""
    command = [sys.executable, "-m", "archiver", "run", *(["--all"] if every_link else []), "--quiet"]
    server_before, children_before = cpu_seconds(server_pid), _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    own_cpu = [0.0]
    sampler = threading.Thread(target=_sample, args=(process, started, samples, own_cpu), daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    cpu, server_cpu = _children_cpu() - children_before, cpu_seconds(server_pid) - server_before
    if process.returncode != 0:
        print(stdout, stderr, file=sys.stderr)
    peak = max(samples, default=(0.0, 0.0), key=lambda sample: sample[1])
    fetched = re.search(r"(\d+) URLs fetched", stdout)
    return Measured(seconds, peak[1], peak[0] / seconds, _output_sizes(folder / "out"), process.returncode,
                    int(fetched[1]) if fetched else -1, cpu, own_cpu[0], server_cpu)  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """The user and system CPU seconds of a running process (from /proc; 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime, fields 14 and 15


def _children_cpu() -> float:
    """The CPU seconds of every ended process this one waited for, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _sample(
    process: subprocess.Popen[str], started: float, samples: list[tuple[float, float]], own_cpu: list[float]
) -> None:
    """The process's peak resident memory so far (VmHWM) and its CPU time, every 0.2 s until it ends."""
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            text = status.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                samples.append((time.perf_counter() - started, int(line.split()[1]) / 1024))
        own_cpu[0] = cpu_seconds(process.pid) or own_cpu[0]
        time.sleep(0.2)


def _output_sizes(out: Path) -> dict[str, float]:
    sizes = {"WARC files": sum(f.stat().st_size for f in (out / "archive").glob("*")) / 1e6}
    for name in ("history.sqlite", "report.html", "report.json", "report.csv", "results.jsonl", "links.json"):
        path = out / name
        sizes[name] = path.stat().st_size / 1e6 if path.exists() else 0.0
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--kb", type=int, default=20)
    parser.add_argument("--missing", type=float, default=0.1, help="share of links to pages that answer 404")
    parser.add_argument("--skip-loop", action="store_true", help="do not time the aiohttp loop")
    parser.add_argument("--again", action="store_true",
                        help="after each run, a scheduled `archiver run` over the same folder at once")  # fmt: skip
    args = parser.parse_args()
    server, port = start_server(args.latency, "--not-found")
    hosts = host_names(args.hosts)
    results: list[tuple[int, Measured, Loop | None]] = []
    try:
        for size in args.sizes:
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as scratch:
                urls = blog(Path(scratch), port, size, hosts, kilobytes=args.kb, missing=args.missing)
                measured = run_archiver(Path(scratch), server.pid)
                again = run_archiver(Path(scratch), server.pid, every_link=False) if args.again else None
            loop = None if args.skip_loop else time_loop(urls, server.pid)
            results.append((size, measured, loop))
            _print_one(size, measured, loop)
            if again is not None:
                print(f"  then a scheduled run at once: {again.fetched:,} URLs due, {again.seconds:.1f} s "
                      f"(exit {again.exit_code}), peak RSS {again.peak_mb:.0f} MB")  # fmt: skip
    finally:
        server.kill()
    if len(results) > 1:
        smallest, largest = results[0][1].peak_mb, results[-1][1].peak_mb
        print(f"peak memory at {results[-1][0]:,} URLs is {largest / smallest:.2f} times that at {results[0][0]:,}")
    return 0


@dataclass(frozen=True)
class Loop:
    """The bare aiohttp GET loop: its seconds, its CPU seconds and the server's meanwhile."""

    seconds: float
    cpu: float
    server_cpu: float


def time_loop(urls: list[str], server_pid: int) -> Loop:
    """The aiohttp loop over `urls` (in this process), with the limits `archiver run` has by default."""
    before, server_before = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server_pid)
    seconds = time_aiohttp(urls, 64, 4, all_ok=False)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Loop(seconds, cpu, cpu_seconds(server_pid) - server_before)


def _print_one(size: int, measured: Measured, loop: Loop | None) -> None:
    rate = size / measured.seconds
    print(f"{size:,} URLs on 1,000 hosts: archiver run {measured.seconds:.1f} s ({rate:.0f} URLs/s, exit "
          f"{measured.exit_code}), peak RSS {measured.peak_mb:.0f} MB, first reached at "
          f"{measured.peak_at:.0%} of the run")  # fmt: skip
    print("  wrote " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in measured.output_mb.items()))
    cores = os.cpu_count() or 1
    # its own process cannot use more than one core, and all of the CPU cannot use more than all of them
    fastest = size / max(measured.own_cpu, (measured.cpu + measured.server_cpu) / cores)
    print(f"  CPU: the run's processes {measured.cpu:.1f} s ({1000 * measured.cpu / size:.2f} ms a URL), its own "
          f"process {measured.own_cpu:.1f} s, the server {measured.server_cpu:.1f} s; no run of that CPU on "
          f"{cores} cores passes {fastest:.0f} URLs/s")  # fmt: skip
    if loop is not None:
        loop_rate = size / loop.seconds
        print(f"  aiohttp GET loop {loop.seconds:.1f} s ({loop_rate:.0f} URLs/s), CPU {loop.cpu:.1f} s "
              f"({1000 * loop.cpu / size:.2f} ms a URL), the server {loop.server_cpu:.1f} s; archiver run at "
              f"{rate / loop_rate:.0%} of it, and at most {fastest / loop_rate:.0%} with that CPU")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
