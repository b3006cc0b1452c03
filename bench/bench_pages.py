"""Pages of realistic size: parse time per page, and `archiver run` against a bare GET loop.

    python bench/bench_pages.py [--pages 40] [--urls 600] [--hosts 50] [--latency 0.05] [--size 100]
                                [--only parse|run]

Pages come from bench/realistic_pages.py: about 10, 100 and 500 KB of HTML with the
elements, requisites, entities and non-ASCII text of a real article, each page its own.

Part A, parse time per page. For each size, the median and 90th percentile of the
milliseconds per page of `archiver.pages.page_of` (what a run uses) and, side by side,
of HTML parsers doing one job: the title, the visible text (without script, style and
noscript) and the page's requisites (stylesheet, icon and preload links, script src, img
src and srcset, source srcset, video poster, image inputs). The parsers' answers are
compared on every page; a disagreement is printed as a warning. The old selectolax
HTMLParser (Modest) is timed where the installed selectolax still has it (before 1.0).

Part B, on pages of --size KB: `archiver run` (fetch, classify, WARC, index, history,
results) against a bare aiohttp GET loop, over the same URLs with the same limits, both
against bench/latency_server.py in its own process (its unknown paths, such as the health
check's probe, answer 404).
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lxml.html
from bench_fetch import ADDRESS, extraction_of, fetch_settings, host_names, start_server, time_aiohttp
from bs4 import BeautifulSoup, Tag
from realistic_pages import page
from selectolax.lexbor import LexborHTMLParser

from archiver import job, pages
from archiver.config import Config, ExtractSettings, FetchSettings, PackSettings
from archiver.pack import index_entries

SIZES = (10, 100, 500)
CONTENT_TYPE = "text/html; charset=utf-8"
HIDDEN = ("script", "style", "noscript")
REQUISITE_TAGS = ("link", "script", "img", "source", "video", "input")
REQUISITE_RELS = frozenset({"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload"})


@dataclass(frozen=True)
class Parsed:
    """What a parser makes of a page: its title, its visible text (lower case, spaced
    once) and the URLs of its requisites, in document order."""

    title: str
    text: str
    requisites: tuple[str, ...] | None  # None: this reader does not look for them


def requisites_of(tag: str, attribute: Callable[[str], str | None]) -> list[str]:
    """The requisite URLs one element names, whichever parser read it."""
    if tag == "link":
        rels = set((attribute("rel") or "").lower().split())
        return _present(attribute("href")) if rels & REQUISITE_RELS else []
    if tag == "img":
        return _present(attribute("src")) + _srcset(attribute("srcset"))
    if tag == "source":
        return _srcset(attribute("srcset"))
    if tag == "video":
        return _present(attribute("poster"))
    if tag == "input":
        return _present(attribute("src")) if (attribute("type") or "").lower() == "image" else []
    return _present(attribute("src"))  # script


def _present(url: str | None) -> list[str]:
    return [url.strip()] if url and url.strip() else []


def _srcset(srcset: str | None) -> list[str]:
    candidates = (candidate.split() for candidate in (srcset or "").split(","))
    return [words[0] for words in candidates if words]


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def archiver_page_of(raw: bytes) -> Parsed:
    """`archiver.pages.page_of`, as a run calls it: title, text and the requisites, resolved
    against the page's address (so not compared with the others' URLs as written)."""
    found = pages.page_of(raw, None, CONTENT_TYPE, "http://bench.test/article/1")
    return Parsed(found.title, found.text, None)


def soup_parsed(raw: bytes, builder: str = "html.parser") -> Parsed:
    """BeautifulSoup, with the given tree builder."""
    soup = BeautifulSoup(_decoded(raw), builder)

    def attribute(element: Tag) -> Callable[[str], str | None]:
        def value(name: str) -> str | None:
            found = element.get(name)
            return " ".join(found) if isinstance(found, list) else found

        return value

    requisites = [url for e in soup.find_all(REQUISITE_TAGS) for url in requisites_of(e.name, attribute(e))]
    for hidden in soup(HIDDEN):
        hidden.decompose()
    title = soup.title.get_text() if soup.title else ""
    return Parsed(_spaced(title), _spaced(soup.get_text(" ")).lower(), tuple(requisites))


def selectolax_parsed(raw: bytes, parser: Callable[[str], Any] = LexborHTMLParser) -> Parsed:
    """selectolax, with lexbor (LexborHTMLParser) or Modest (the old HTMLParser)."""
    tree = parser(_decoded(raw))
    elements = tree.css(", ".join(REQUISITE_TAGS))
    requisites = [url for e in elements for url in requisites_of(e.tag, e.attributes.get)]
    title = tree.css_first("title")
    tree.strip_tags(list(HIDDEN))
    text = tree.root.text(separator=" ") if tree.root is not None else ""
    return Parsed(_spaced(title.text() if title else ""), _spaced(text).lower(), tuple(requisites))


def lxml_parsed(raw: bytes) -> Parsed:
    """lxml.html (libxml2's HTML parser)."""
    document = lxml.html.document_fromstring(_decoded(raw))
    requisites = [url for e in document.iter(*REQUISITE_TAGS) for url in requisites_of(str(e.tag), e.get)]
    for hidden in list(document.iter(*HIDDEN)):
        hidden.drop_tree()
    title = document.find(".//title")
    text = " ".join(document.itertext())
    return Parsed(_spaced(title.text_content() if title is not None else ""), _spaced(text).lower(), tuple(requisites))


def readers() -> dict[str, Callable[[bytes], Parsed]]:
    """The readers to time, by name; the old selectolax HTMLParser (Modest) only where the
    installed selectolax still has it (it was removed in selectolax 1.0)."""
    found: dict[str, Callable[[bytes], Parsed]] = {
        "archiver.pages.page_of": archiver_page_of,
        "BeautifulSoup html.parser": soup_parsed,
        "BeautifulSoup lxml": lambda raw: soup_parsed(raw, "lxml"),
        "selectolax LexborHTMLParser": selectolax_parsed,
    }
    try:
        modest = importlib.import_module("selectolax.parser").HTMLParser
    except ImportError:
        modest = None
    if modest is not None:
        found["selectolax HTMLParser (modest)"] = lambda raw: selectolax_parsed(raw, modest)
    found["lxml.html"] = lxml_parsed
    return found


@dataclass(frozen=True)
class ParseTimes:
    """Milliseconds per page of each reader, for pages of one size."""

    kilobytes: int
    pages: int
    mean_bytes: float
    elements: float
    by_reader: dict[str, list[float]]


def time_parsers(kilobytes: int, count: int, timed: Mapping[str, Callable[[bytes], Parsed]]) -> ParseTimes:
    """Each reader over the same `count` pages, reader order rotated from page to page."""
    pages = [page(seed, kilobytes) for seed in range(count)]
    names = list(timed)
    by_reader: dict[str, list[float]] = {name: [] for name in names}
    for reader in timed.values():
        reader(pages[0])  # warm
    for index, raw in enumerate(pages):
        answers: dict[str, Parsed] = {}
        for name in names[index % len(names) :] + names[: index % len(names)]:
            started = time.perf_counter()
            answers[name] = timed[name](raw)
            by_reader[name].append((time.perf_counter() - started) * 1000)
        warn_on_disagreement(kilobytes, index, answers)
    elements = statistics.fmean(len(LexborHTMLParser(raw).css("*")) for raw in pages)
    return ParseTimes(kilobytes, count, statistics.fmean(map(len, pages)), elements, by_reader)


def warn_on_disagreement(kilobytes: int, seed: int, answers: Mapping[str, Parsed]) -> None:
    """Print where a reader's answer differs from BeautifulSoup html.parser's (the
    requisites in any order: Modest lists them selector by selector; of the text, as much
    as `archiver.pages.page_of` keeps)."""
    reference = answers["BeautifulSoup html.parser"]
    for name, answer in answers.items():
        problems = []
        if answer.title != reference.title:
            problems.append(f"title {answer.title!r} != {reference.title!r}")
        compared = len(answer.text) if name == "archiver.pages.page_of" else None  # it keeps the first TEXT_LIMIT
        if "".join(answer.text.split()) != "".join(reference.text[:compared].split()):
            problems.append(f"text differs ({len(answer.text)} != {len(reference.text)} characters)")
        if answer.requisites is not None and sorted(answer.requisites) != sorted(reference.requisites or ()):
            problems.append(f"other requisites ({len(answer.requisites)}, not {len(reference.requisites or ())})")
        if problems:
            print(f"warning: {name} on the {kilobytes} KB page {seed}: {'; '.join(problems)}", file=sys.stderr)


def percentile(values: Iterable[float], fraction: float) -> float:
    """The value below which `fraction` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def print_parse_times(results: list[ParseTimes]) -> None:
    for result in results:
        print(f"{result.kilobytes} KB pages: {result.pages} pages, {result.mean_bytes / 1000:.0f} KB "
              f"and {result.elements:.0f} elements each on average")  # fmt: skip
    sizes = " | ".join(f"{r.kilobytes} KB median | {r.kilobytes} KB p90" for r in results)
    print(f"| reader, ms per page | {sizes} |")
    print("|---|" + "---:|" * (2 * len(results)))
    for name in results[0].by_reader:
        cells = " | ".join(
            f"{statistics.median(r.by_reader[name]):.2f} | {percentile(r.by_reader[name], 0.9):.2f}" for r in results
        )
        print(f"| {name} | {cells} |")


def run_urls(port: int, count: int, hosts: list[str], kilobytes: int) -> list[str]:
    return [f"http://{hosts[index % len(hosts)]}:{port}/html/{kilobytes}/{index}" for index in range(count)]


def time_archiver(urls: list[str], settings: FetchSettings, folder: Path, requisites: bool) -> tuple[float, int]:
    """Seconds of `archiver run` over the URLs (with or without page requisites), and how
    many requests it made for requisites."""
    config = Config(source=None, post_paths=(), output_dir=folder, extract=ExtractSettings(), fetch=settings,
                    pack=PackSettings(requisites=requisites))  # fmt: skip
    started = time.perf_counter()
    summary = job.run(config, extraction=extraction_of(urls))
    elapsed = time.perf_counter() - started
    assert summary.ok == len(urls), summary
    return elapsed, summary.requisites.fetched + summary.requisites.failed


def requisite_urls(folder: Path, pages: set[str]) -> list[str]:
    """Every URL the run stored that is not one of its pages: the requisites, as fetched."""
    found = []
    for _, rest in index_entries(folder):
        entry = json.loads(rest.split(" ", 1)[1])
        if entry.get("mime") != "warc/revisit" and entry["url"] not in pages and "status" in entry:
            found.append(entry["url"])
    return sorted(set(found))


def compare_run(args: argparse.Namespace) -> None:
    """Part B: `archiver run` against the aiohttp loop over the same URLs: pages only
    (requisites off), then pages with their requisites (the loop given the same URLs)."""
    server, port = start_server(args.latency, "--not-found")
    try:
        hosts = host_names(args.hosts)
        urls = run_urls(port, args.urls, hosts, args.size)
        settings = fetch_settings(hosts)
        with tempfile.TemporaryDirectory() as folder:
            bare, _ = time_archiver(urls, settings, Path(folder) / "bare", requisites=False)
            full, requisite_requests = time_archiver(urls, settings, Path(folder) / "full", requisites=True)
            every_url = urls + requisite_urls(Path(folder) / "full", set(urls))
        loop_pages = time_aiohttp(urls, settings.concurrency, settings.per_host)
        loop_all = time_aiohttp(every_url, settings.concurrency, settings.per_host, all_ok=False)
    finally:
        server.kill()
    print(f"{args.urls} URLs of {args.size} KB pages on {args.hosts} host names at {ADDRESS}, "
          f"{args.latency * 1000:.0f} ms latency per answer, "
          f"{settings.concurrency} at once, {settings.per_host} per host")  # fmt: skip
    print("| client | requests | seconds | requests/s |")
    print("|---|---:|---:|---:|")
    rows = (("archiver run, requisites off", len(urls), bare), ("aiohttp GET loop, the pages", len(urls), loop_pages),
            ("archiver run, with requisites", len(urls) + requisite_requests, full),
            ("aiohttp GET loop, pages and requisites", len(every_url), loop_all))  # fmt: skip
    for name, requests, seconds in rows:
        print(f"| {name} | {requests} | {seconds:.2f} | {requests / seconds:.0f} |")
    print(
        f"pages only: archiver run reaches {loop_pages / bare:.1%} of the aiohttp loop's rate; "
        f"with requisites, {loop_all / full * (len(urls) + requisite_requests) / len(every_url):.1%}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=40, help="pages of 10 KB timed (fewer of the larger sizes)")
    parser.add_argument("--urls", type=int, default=600)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--size", type=int, default=100, help="KB per page in part B")
    parser.add_argument("--only", choices=("parse", "run"), help="run one part only")
    args = parser.parse_args()
    if args.only != "run":
        timed = readers()
        counts = {10: args.pages, 100: max(5, args.pages // 2), 500: max(3, args.pages // 6)}
        print_parse_times([time_parsers(size, counts[size], timed) for size in SIZES])
    if args.only != "parse":
        compare_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
