"""The main job: extract -> fetch -> classify -> pack -> history -> report.

Every fetchable URL is fetched once however many posts cite it, and its answer
classified (soft-404, parked, bot wall ...); each capture is written to the WARC files as
soon as it completes (on a worker thread, so fetching goes on). The run ends with a
per-URL results file, the checks added to the history, and the reports written from it.
A check (`store=False`) does the same without writing WARC files.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from archiver import health, pack, report
from archiver.atomic import make_folder, write_text_atomically
from archiver.config import Config
from archiver.errors import InputError
from archiver.extract import extract
from archiver.extract.listing import from_json, to_json
from archiver.fetch import Capture, Fetcher, user_agent
from archiver.health import Classifier
from archiver.history import DeadPolicy, History
from archiver.model import Extraction, FetchResult, Link, WarcLocation
from archiver.pack import WarcPacker
from archiver.report import Report

LINKS_FILE = "links.json"
RESULTS_FILE = "results.jsonl"
CHECK_RESULTS_FILE = "check-results.jsonl"  # a check keeps the capture locations of the last run
RESULTS_SCHEMA = "archiver/results"
RESULTS_VERSION = 1

Progress = Callable[[FetchResult], None]
EarlierCaptures = dict[str, tuple[WarcLocation, str, dt.datetime]]


@dataclass(frozen=True)
class RunSummary:
    """What a run did, in numbers."""

    urls: int
    ok: int
    failed: int
    unknown: int
    retried: int
    bytes: int
    seconds: float
    warc_files: tuple[Path, ...]
    failures: tuple[tuple[str, int], ...] = ()  # status name and count, most common first
    resumed: int = 0  # URLs an interrupted run had already done, not fetched again
    bytes_saved: int = 0  # payload bytes written as revisit records instead of again
    report: Report | None = None

    def __str__(self) -> str:
        failures = f" ({', '.join(f'{name} {count}' for name, count in self.failures)})" if self.failures else ""
        resumed = f"resumed an interrupted run ({self.resumed} URLs done before); " if self.resumed else ""
        return (
            f"{resumed}{self.urls} URLs fetched: {self.ok} ok, {self.failed} failed{failures}, {self.unknown} unknown, "
            f"{self.retried} retried; "
            f"{self.bytes:,} bytes, {self.bytes_saved:,} of them not stored again (revisits), "
            f"in {len(self.warc_files)} WARC files; {self.seconds:.1f} s"
        )


def run(
    config: Config, progress: Progress | None = None, extraction: Extraction | None = None, store: bool = True
) -> RunSummary:
    """Extract the configured posts, fetch every link, classify it, pack the captures (with
    `store`), add the checks to the history and write the reports."""
    extraction = extraction or extract(config.post_paths, config.extract)
    make_folder(config.output_dir)
    write_text_atomically(config.output_dir / LINKS_FILE, to_json(extraction))
    recovered = pack.repair(config.output_dir)
    with History.open(config.output_dir) as history:
        run_id, done = history.resume_or_start("run" if store else "check", dt.datetime.now(dt.UTC))
        for result in recovered:  # whole in the WARC files, but the kill came before the history heard of it
            if result.url not in done:
                history.add_check(run_id, result)
                done.add(result.url)
        pending = tuple(link for link in extraction.fetchable if link.url not in done)
        record = partial(history.add_check, run_id)
        earlier = history.latest_full_captures()
        summary, _ = asyncio.run(_archive(config, pending, both(record, progress), store, earlier))
        history.finish_run(run_id)
        return replace(summary, resumed=len(done), report=_write_reports(config, extraction, history))


def both(first: Progress, second: Progress | None) -> Progress:
    """One progress callback that calls two (the second may be None)."""

    def call_both(result: FetchResult) -> None:
        first(result)
        if second is not None:
            second(result)

    return call_both


def regenerate_report(config: Config) -> Report:
    """The reports again, from the last extraction and the history, without fetching."""
    links = config.output_dir / LINKS_FILE
    try:
        extraction = from_json(links.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"{links}: cannot read the last extraction ({error}); run `archiver run` first") from None
    with History.open(config.output_dir) as history:
        return _write_reports(config, extraction, history)


def _write_reports(config: Config, extraction: Extraction, history: History) -> Report:
    policy = DeadPolicy.of(config.health)
    now = dt.datetime.now(dt.UTC)
    built = report.build(extraction, history.verdicts(policy), policy, config.report.replay_url, now)
    report.write_all(built, config.output_dir)
    return built


async def _archive(
    config: Config, links: tuple[Link, ...], progress: Progress, store: bool, earlier: EarlierCaptures
) -> tuple[RunSummary, list[FetchResult]]:
    started = time.monotonic()
    fresh_after = dt.timedelta(days=config.pack.recapture_after_days)
    by_url = {link.url: link for link in links}
    results: list[FetchResult] = []
    info = {"http-header-user-agent": user_agent(config.fetch.contact), "robots": _robots_policy(config)}
    with WarcPacker(config.output_dir, config.pack, info) if store else nullcontext() as packer:
        async with Fetcher(config.fetch) as fetcher:
            async for capture in fetcher.fetch_all(by_url, then=Classifier(fetcher).finish):
                try:
                    before = earlier.get(capture.result.url)
                    previous = _same_payload(capture.result, before, fresh_after)
                    result = await asyncio.to_thread(_drift_of, config.output_dir, capture, before, previous)
                    occurrences = by_url[result.url].occurrences
                    stored = replace(capture, result=result)
                    location = await asyncio.to_thread(packer.write, stored, occurrences, previous) if packer else None
                finally:
                    capture.close()
                results.append(replace(result, capture=location))
                progress(results[-1])
    results_file = RESULTS_FILE if store else CHECK_RESULTS_FILE
    write_text_atomically(config.output_dir / results_file, results_jsonl(results, by_url))
    files = tuple(packer.closed_files) if packer else ()
    summary = _summary(results, time.monotonic() - started, files)
    return replace(summary, bytes_saved=packer.bytes_saved if packer else 0), results


def _drift_of(
    folder: Path, capture: Capture, before: tuple[WarcLocation, str, dt.datetime] | None, same: WarcLocation | None
) -> FetchResult:
    """The capture's result, marked as drifted when its text differs substantially from the
    last capture's (text, not bytes: a changed advert or date does not count)."""
    final = capture.exchanges[-1] if capture.exchanges else None
    if before is None or same is not None or final is None or before[1] == capture.result.digest:
        return capture.result
    if "html" not in (final.header("Content-Type") or ""):
        return capture.result
    raw, encoding, content_type = pack.stored_payload(folder, before[0], health.READ_LIMIT)
    if not raw or not health.drift(health.read_page(final), health.page_of(raw, encoding, content_type)):
        return capture.result
    return replace(capture.result, drifted_from=before[2].isoformat())


def _same_payload(
    result: FetchResult, earlier: tuple[WarcLocation, str, dt.datetime] | None, fresh_after: dt.timedelta
) -> WarcLocation | None:
    """The earlier full capture this one may refer to, when its payload is the same and
    that capture is recent enough (after `recapture_after_days`, the payload is stored again)."""
    if earlier is None or not result.digest:
        return None
    location, digest, captured_at = earlier
    return location if digest == result.digest and result.checked_at - captured_at < fresh_after else None


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
    failures = Counter(result.status.value for result in results if result.status.is_failure)
    return RunSummary(
        urls=len(results),
        ok=sum(result.status.is_ok for result in results),
        failed=sum(failures.values()),
        unknown=sum(result.status.is_unknown for result in results),
        retried=sum(result.attempts > 1 for result in results),
        bytes=sum(result.size for result in results),
        seconds=seconds,
        warc_files=files,
        failures=tuple(sorted(failures.items(), key=lambda item: (-item[1], item[0]))),
    )


def _robots_policy(config: Config) -> str:
    return "obey" if config.fetch.robots else "ignore"
