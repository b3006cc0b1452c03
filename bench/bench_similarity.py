"""What comparing two pages costs, and a run over a host that answers one template for every path.

    python bench/bench_similarity.py [--urls 2400] [--hosts 100] [--latency 0.05] [--difflib-urls 0]

First the cost of one comparison of page texts of 4, 40 and 400 thousand characters
(texts of bench/realistic_pages.py pages as `archiver.pages.page_of` reads them, joined
until long enough), for three kinds of pair: a text and the same text with a sentence
added (what a soft-404 or a drift check mostly compares), a text and the same with its
middle third replaced, and two unrelated texts of the same vocabulary. Each is timed
with difflib's `SequenceMatcher(autojunk=False).ratio()` of characters (what
`health.similarity` used) and with `health.text_similarity`, rapidfuzz's
`Indel.normalized_similarity` of words (what it uses); difflib is skipped where one
comparison would take minutes.

Then `archiver.job.run` over `--urls` URLs on `--hosts` host names served by
bench/latency_server.py, twice:
- without `--not-found`: every path, the soft-404 probe included, answers the same titled
  ~10 KB page, which says nothing is missing: every URL is alive (and, since such a page
  cannot be a "not found" page, its site is not probed);
- on `template*` hosts: every path answers the site's ~8 KB "Nothing was found at PATH"
  template with 200, suggesting other posts for each path, so every URL's page is
  compared with the probe's in full (no two texts are equal) and is a soft-404.
With `--difflib-urls N`, the second run over the first N URLs with `health.similarity`
put back on difflib (4,000 characters of each text, as before).
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench_fetch import extraction_of, fetch_settings, host_names, page_urls, start_server
from realistic_pages import page

from archiver import health, job
from archiver.config import Config, ExtractSettings
from archiver.pages import page_of

SIZES = (4_000, 40_000, 400_000)
DIFFLIB_UP_TO = 40_000  # one unrelated pair of 400,000 characters would take difflib hours
DIFFLIB_COMPARED = 4_000  # characters of each text health.similarity compared on difflib
Ratio = Callable[[str, str], float]


def difflib_ratio(first: str, second: str) -> float:
    """The ratio `health.similarity` computed before: difflib, junk heuristic off."""
    return difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()


def indel_ratio(first: str, second: str) -> float:
    """The ratio `health.similarity` computes now: rapidfuzz's, of words."""
    return health.text_similarity(first, second)


def page_text(first_seed: int, characters: int) -> str:
    """Visible text of realistic pages, from `first_seed` on, joined to `characters` long."""
    texts: list[str] = []
    seed = first_seed
    while sum(len(text) + 1 for text in texts) < characters:
        texts.append(page_of(page(seed, 100), None, "text/html").text)
        seed += 1
    return " ".join(texts)[:characters]


def pairs(characters: int) -> dict[str, tuple[str, str]]:
    """The kinds of pair compared, each of two texts of about `characters`."""
    text = page_text(1, characters)
    middle = characters // 2
    edited = text[:middle] + " a sentence the page did not have before. " + text[middle:]
    other = page_text(5_000, characters)
    third = characters // 3
    rewritten = text[:third] + other[third : 2 * third] + text[2 * third :]
    return {"same text, a sentence added": (text, edited), "a third rewritten": (text, rewritten),
            "unrelated texts": (text, other)}  # fmt: skip


def milliseconds_per_comparison(ratio: Ratio, first: str, second: str, budget: float = 1.0) -> tuple[float, float]:
    """The median time of one comparison over at least three (and about `budget` seconds),
    and the ratio it found."""
    times: list[float] = []
    value = 0.0
    while len(times) < 3 or (sum(times) < budget and len(times) < 1000):
        started = time.perf_counter()
        value = ratio(first, second)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000, value


def compare_costs() -> None:
    """Print the cost of one comparison for each size, kind of pair and ratio."""
    print("| characters | pair | difflib ms | rapidfuzz, words ms | difflib ratio | rapidfuzz, words ratio |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in SIZES:
        for kind, (first, second) in pairs(size).items():
            fast, fast_value = milliseconds_per_comparison(indel_ratio, first, second)
            slow, slow_value = (float("nan"), float("nan"))
            if size <= DIFFLIB_UP_TO:
                slow, slow_value = milliseconds_per_comparison(difflib_ratio, first, second)
            print(f"| {size:,} | {kind} | {slow:.3f} | {fast:.3f} | {slow_value:.3f} | {fast_value:.3f} |")


@contextmanager
def similarity_by(ratio: Ratio) -> Iterator[None]:
    """The health rules comparing words with `ratio` (of the first 4,000 characters of
    each text's words, as `health.similarity` compared on difflib), for the run inside."""
    original = health._words_similarity

    def words_similarity(words: Sequence[str], other: Sequence[str]) -> float:
        first, second = " ".join(words)[:DIFFLIB_COMPARED], " ".join(other)[:DIFFLIB_COMPARED]
        return 1.0 if not first and not second else ratio(first, second)

    health._words_similarity = words_similarity
    try:
        yield
    finally:
        health._words_similarity = original


def urls_per_second(urls: list[str], hosts: list[str], folder: Path, *, soft_404: bool = False) -> float:
    """URLs per second of `archiver run` over the URLs, every one of them alive (or, with
    `soft_404`, every one a soft-404)."""
    config = Config(source=None, post_paths=(), output_dir=folder, extract=ExtractSettings(),
                    fetch=fetch_settings(hosts))  # fmt: skip
    started = time.perf_counter()
    summary = job.run(config, extraction=extraction_of(urls))
    elapsed = time.perf_counter() - started
    expected = dict(summary.failures).get("soft-404", 0) if soft_404 else summary.ok
    assert expected == len(urls), summary
    return len(urls) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=2400)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--difflib-urls", type=int, default=0, help="also run this many URLs on difflib")
    args = parser.parse_args()
    compare_costs()
    server, port = start_server(args.latency)  # no --not-found: the probe gets the template too
    try:
        hosts = host_names(args.hosts)
        urls = page_urls(port, args.urls, hosts)
        templates = [f"template{index}.bench.test" for index in range(args.hosts)]
        removed = [f"http://{templates[i % len(templates)]}:{port}/removed/{i}" for i in range(args.urls)]
        with tempfile.TemporaryDirectory() as folder:
            rate = urls_per_second(urls, hosts, Path(folder) / "run")
            print(f"archiver run, one page that says nothing is missing for every path: {len(urls)} URLs, "
                  f"{rate:.0f} URLs/s")  # fmt: skip
            rate = urls_per_second(removed, templates, Path(folder) / "template", soft_404=True)
            print(f"archiver run, a not-found template for every path, compared in full: {len(removed)} URLs, "
                  f"{rate:.0f} URLs/s")  # fmt: skip
            if args.difflib_urls:
                with similarity_by(difflib_ratio):
                    some = removed[: args.difflib_urls]
                    rate = urls_per_second(some, templates, Path(folder) / "difflib", soft_404=True)
                print(f"the same on difflib: {args.difflib_urls} URLs, {rate:.1f} URLs/s")
    finally:
        server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
