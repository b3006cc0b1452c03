"""Where `archiver run` spends its CPU time, by kind of work, from a py-spy profile.

    py-spy record -r 200 -f raw -o run.raw -- python bench/bench_pages.py --only run --urls 300
    python bench/profile_breakdown.py run.raw --urls 300

Reads py-spy's raw (collapsed) stacks, keeps those of the `archiver run` part (the
aiohttp loop and the page generator are left out) and those of threads at work (a thread
waiting for work or for the network is idle), and sorts each sample into the first kind
of work whose frames it holds. Prints each kind's share of the samples and its CPU time
per URL. The kinds are checked in order, so a digest taken while writing a WARC record
counts as a digest, not as writing.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# A kind of work and the frames (substrings of py-spy's "function (file:line)") that show it.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("parsing: lexbor and tinycss2 in archiver.pages", ("archiver/pages.py", "selectolax", "tinycss2")),
    ("similarity: rapidfuzz in health.text_similarity", ("text_similarity (archiver/health.py",)),
    ("gzip of WARC records (zlib-ng)", ("GzippingWrapper", "_GzipMember")),
    ("digests: sha1 in the fetcher", ("_spool (archiver/fetch/__init__.py:334", "_sha1_label")),
    ("digests: warcio's block digest", ("ensure_digest",)),
    ("indexing: CDXJ of each closed WARC", ("index_into",)),
    ("WARC record headers and copies (warcio)", ("warcio/",)),
    ("spooling the body to a temporary file", ("_spool (archiver/fetch", "tempfile.py")),
    ("history: SQLite", ("archiver/history.py", "sqlite3")),
    ("results file: JSON", ("json/", "results_jsonl")),
    ("reports", ("archiver/report.py", "jinja2")),
    ("HTTP: httpx, httpcore, h11", ("httpx/", "httpcore/", "h11/")),
    ("fetcher's own code (slots, retries, results)", ("archiver/fetch/", "tenacity/")),
    ("Python start-up: imports", ("<frozen importlib",)),
    ("asyncio event loop and sockets", ("asyncio/", "selectors.py", "socket.py", "ssl.py")),
)
LEFT_OUT = ("time_aiohttp", "realistic_pages.py")
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py:81)", "select (selectors.py", "wait (threading.py")


def kind_of(frames: list[str]) -> str:
    """The first kind of work whose frames the stack holds."""
    for kind, markers in KINDS:
        if any(marker in frame for frame in frames for marker in markers):
            return kind
    return "other"


def breakdown(raw: Path) -> Counter[str]:
    """Samples of each kind of work (and of "idle")."""
    samples: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or any(part in stack for part in LEFT_OUT):
            continue
        frames = stack.split(";")
        idle = not frames[-1] or any(frames[-1].startswith(leaf) for leaf in IDLE_LEAVES)
        samples["idle" if idle else kind_of(frames)] += int(count)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw", type=Path, help="py-spy record -f raw output")
    parser.add_argument("--urls", type=int, required=True, help="URLs the profiled run fetched")
    parser.add_argument("--rate", type=int, default=200, help="py-spy's samples per second (-r)")
    args = parser.parse_args()
    samples = breakdown(args.raw)
    samples.pop("idle", None)
    busy = sum(samples.values())
    seconds = busy / args.rate
    print(f"{busy} samples at work, {seconds:.1f} CPU seconds, {seconds / args.urls * 1e6:.0f} µs per URL")
    print("| kind of work | share | µs per URL |")
    print("|---|---:|---:|")
    for kind, count in samples.most_common():
        print(f"| {kind} | {count / busy:.1%} | {count / args.rate / args.urls * 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
