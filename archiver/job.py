"""The main job: extract -> fetch -> pack, over the configured posts.

Every fetchable URL is fetched once however many posts cite it; each capture is written
to the WARC files as soon as it completes (on a worker thread, so fetching goes on),
and the run ends with a per-URL results file beside the WARCs and a summary.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archiver.atomic import make_folder, write_text_atomically
from archiver.config import Config
from archiver.extract import extract
from archiver.extract.listing import to_json
from archiver.fetch import Fetcher, user_agent
from archiver.health import Classifier
from archiver.model import Extraction, FetchResult, Link
from archiver.pack import WarcPacker

LINKS_FILE = "links.json"
RESULTS_FILE = "results.jsonl"
RESULTS_SCHEMA = "archiver/results"
RESULTS_VERSION = 1

Progress = Callable[[FetchResult], None]


@dataclass(frozen=True)
class RunSummary:
    """What a run did, in numbers."""

    urls: int
    ok: int
    failed: int
    retried: int
    bytes: int
    seconds: float
    warc_files: tuple[Path, ...]
    failures: tuple[tuple[str, int], ...] = ()  # status name and count, most common first

    def __str__(self) -> str:
        failures = f" ({', '.join(f'{name} {count}' for name, count in self.failures)})" if self.failures else ""
        return (
            f"{self.urls} URLs fetched: {self.ok} ok, {self.failed} failed{failures}, {self.retried} retried; "
            f"{self.bytes:,} bytes in {len(self.warc_files)} WARC files; {self.seconds:.1f} s"
        )


def run(config: Config, progress: Progress | None = None, extraction: Extraction | None = None) -> RunSummary:
    """Extract the configured posts, fetch every link and pack the captures."""
    extraction = extraction or extract(config.post_paths, config.extract)
    make_folder(config.output_dir)
    write_text_atomically(config.output_dir / LINKS_FILE, to_json(extraction))
    return asyncio.run(_archive(config, extraction.fetchable, progress or (lambda _: None)))


async def _archive(config: Config, links: tuple[Link, ...], progress: Progress) -> RunSummary:
    started = time.monotonic()
    by_url = {link.url: link for link in links}
    results: list[FetchResult] = []
    info = {"http-header-user-agent": user_agent(config.fetch.contact), "robots": _robots_policy(config)}
    with WarcPacker(config.output_dir, config.pack, info) as packer:
        async with Fetcher(config.fetch) as fetcher:
            async for capture in fetcher.fetch_all(by_url, then=Classifier(fetcher).finish):
                try:
                    cited_by = by_url[capture.result.url].occurrences
                    location = await asyncio.to_thread(packer.write, capture, cited_by)
                finally:
                    capture.close()
                results.append(replace(capture.result, capture=location))
                progress(results[-1])
    write_text_atomically(config.output_dir / RESULTS_FILE, results_jsonl(results, by_url))
    return _summary(results, time.monotonic() - started, tuple(packer.closed_files))


def results_jsonl(results: list[FetchResult], links: dict[str, Link]) -> str:
    """The per-URL results file: a header line, then one JSON object per URL, in URL order."""
    header = {"schema": RESULTS_SCHEMA, "version": RESULTS_VERSION}
    lines = [json.dumps(header)]
    lines += [json.dumps(_result(r, links[r.url]), ensure_ascii=False) for r in sorted(results, key=lambda r: r.url)]
    return "\n".join(lines) + "\n"


def _result(result: FetchResult, link: Link) -> dict[str, Any]:
    capture = result.capture
    return {
        "url": result.url,
        "kind": link.kind.value,
        "status": result.status.value,
        "code": result.code,
        "final_url": result.final_url,
        "hops": [{"url": hop.url, "code": hop.code, "location": hop.location} for hop in result.hops],
        "attempts": result.attempts,
        "duration": round(result.duration, 3),
        "checked_at": result.checked_at.isoformat(),
        "detail": result.detail,
        "size": result.size,
        "warc": {"filename": capture.filename, "offset": capture.offset, "length": capture.length} if capture else None,
        "cited_by": len(link.occurrences),
    }


def _summary(results: list[FetchResult], seconds: float, files: tuple[Path, ...]) -> RunSummary:
    ok = sum(result.status.is_ok for result in results)
    failures = Counter(result.status.value for result in results if not result.status.is_ok)
    return RunSummary(
        urls=len(results),
        ok=ok,
        failed=len(results) - ok,
        retried=sum(result.attempts > 1 for result in results),
        bytes=sum(result.size for result in results),
        seconds=seconds,
        warc_files=files,
        failures=tuple(sorted(failures.items(), key=lambda item: (-item[1], item[0]))),
    )


def _robots_policy(config: Config) -> str:
    return "obey" if config.fetch.robots else "ignore"
