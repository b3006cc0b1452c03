"""Extraction throughput: posts per second over the shared corpus.

    python bench/bench_extract.py [--corpus DIR] [--repeat N]

Reads every post of the corpus N times (default 5) in one process and prints the best
and median rate, plus a synthetic check that time grows linearly with post size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from archiver.config import ExtractSettings
from archiver.extract import extract

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "posts"
PARAGRAPH = "Prose with a [link](http://example.com/{i}) and http://bare.example.com/{i}, and ![i](/i/{i}.png).\n\n"
# Inputs that once took time growing with the square of their size.
HOSTILE = {
    "unclosed <a> in HTML": ("p.html", '<a href="http://n.example/">x '),
    "unclosed <a> in Markdown": ("p.md", '<a href="http://m.example/">x '),
    "[embed] never closed": ("p.md", "[embed]http://x.example/a "),
    "bare URLs with &amp;": ("p.html", "text http://e.example/?a=1&amp;b=2 more\n"),
    "deep <div> nesting": ("p.html", "<div>"),
}


def corpus_rates(corpus: Path, repeat: int) -> tuple[int, int, list[float]]:
    """Posts, links and seconds per full pass over the corpus."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        extraction = extract([corpus], ExtractSettings())
        timings.append(time.perf_counter() - started)
    return len(extraction.posts), len(extraction.links), timings


def scaling(sizes: tuple[int, ...]) -> list[tuple[float, float]]:
    """Megabytes and seconds for synthetic posts of growing size."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for paragraphs in sizes:
            post = Path(folder) / f"p{paragraphs}.md"
            post.write_text(
                "---\nlink: http://b.example/p/\n---\n" + "".join(PARAGRAPH.format(i=i) for i in range(paragraphs))
            )
            started = time.perf_counter()
            extract([post], ExtractSettings())
            results.append((post.stat().st_size / 1e6, time.perf_counter() - started))
    return results


def hostile(repeats: tuple[int, ...]) -> list[tuple[str, list[float]]]:
    """Seconds to read each hostile input at growing repeat counts."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (file_name, piece) in HOSTILE.items():
            seconds = []
            for count in repeats:
                post = Path(folder) / file_name
                post.write_text(piece * count)
                started = time.perf_counter()
                extract([post], ExtractSettings())
                seconds.append(time.perf_counter() - started)
            results.append((name, seconds))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}; give --corpus DIR", file=sys.stderr)
        return 3
    posts, links, timings = corpus_rates(args.corpus, args.repeat)
    best, median = min(timings), statistics.median(timings)
    print(f"corpus: {posts} posts, {links} links, {args.repeat} passes")
    print(f"  best   {best:.3f} s  = {posts / best:,.0f} posts/s")
    print(f"  median {median:.3f} s  = {posts / median:,.0f} posts/s")
    print("scaling (one post, link-dense):")
    for megabytes, seconds in scaling((5_000, 10_000, 20_000, 40_000)):
        print(f"  {megabytes:6.2f} MB  {seconds:6.2f} s  {seconds / megabytes:5.2f} s/MB")
    repeats = (4_000, 8_000, 16_000)
    print(f"hostile inputs, seconds at {', '.join(map(str, repeats))} repeats (linear: doubling each time):")
    for name, timings in hostile(repeats):
        print(f"  {name:28} " + "  ".join(f"{t:6.2f}" for t in timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
