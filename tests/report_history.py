"""A generated blog and history for report tests and bench/bench_report.py: posts over
the years, links on many hosts, three runs two days apart in a real SQLite history.

Each link's statuses over the runs follow from its index, so a test knows the verdicts
and the changes: the `NEWLY_DEAD`, `NEWLY_FAILING`, `RECOVERED` and `DRIFTED` indexes
change in the last run, every 50th link (from 1) was dead before it, every 97th (from 2)
turns unknown, and the last `UNCHECKED` links were never checked.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archiver import report
from archiver.history import History, verdict_of
from archiver.model import (
    Check,
    DeadPolicy,
    Extraction,
    FetchResult,
    Form,
    Link,
    LinkKind,
    Occurrence,
    Post,
    RecordLocation,
    Status,
)

DAY0 = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
POLICY = DeadPolicy(checks=2, days=1)  # dead after two failures a day apart: three runs show every verdict
NEWLY_DEAD = (10, 110, 210, 310, 410, 510, 610)
NEWLY_FAILING = (20, 120, 220, 320, 420, 520)
RECOVERED = (30, 130, 230, 330, 430)  # dead, then good in the last run
DRIFTED = (40, 140, 240, 340)
UNCHECKED = 10
LINKS_PER_POST = 20
_OK, _BAD, _WALL = Status.OK, Status.NOT_FOUND, Status.BOT_WALL


@dataclass(frozen=True)
class Blog:
    """The generated extraction and the report built over its history."""

    extraction: Extraction
    report: report.Report


def statuses(index: int, links: int) -> tuple[Status, Status, Status] | None:
    """The statuses of a link's three checks; None: never checked."""
    if index >= links - UNCHECKED:
        return None
    if index in NEWLY_DEAD:
        return _OK, _BAD, _BAD
    if index in NEWLY_FAILING:
        return _OK, _OK, _BAD
    if index in RECOVERED or index % 50 == 1:
        return (_BAD, _BAD, _OK) if index in RECOVERED else (_BAD, _BAD, _BAD)
    return (_OK, _OK, _WALL) if index % 97 == 2 else (_OK, _OK, _OK)


def url_of(index: int) -> str:
    """The URL of link `index`: 40 links a host, the second host's name holding the first's
    (`www.host0.example`), as a site's names do."""
    host = index // 40
    return f"http://{'www.host0' if host == 1 else f'host{host}'}.example/page/{index}"


@functools.cache  # one Path per post, shared by its links
def post_path(number: int) -> Path:
    """The path of the post numbered `number`."""
    return Path(f"posts/{2012 + number % 14}-03-01-post-{number}.md")


def extraction_of(links: int) -> Extraction:
    """`links` links, `LINKS_PER_POST` to a post, on one host per 40 links (`url_of`)."""
    posts = tuple(
        Post(post_path(n), None, f"Post number {n}", dt.date(2012 + n % 14, 3, 1), LINKS_PER_POST)
        for n in range(-(-links // LINKS_PER_POST))
    )
    return Extraction(posts, tuple(_link(index) for index in range(links)), ())


def _link(index: int) -> Link:
    url = url_of(index)
    kind = LinkKind.IMAGE if index % 7 == 0 else LinkKind.LINK
    where = Occurrence(post_path(index // LINKS_PER_POST), 3 + index % LINKS_PER_POST, f"link {index}", kind,
                       Form.MARKDOWN, url)  # fmt: skip
    return Link(url, kind, False, (where,))


def results(links: int, run: int) -> Iterator[FetchResult]:
    """The checks of run `run` (0, 1 or 2)."""
    when = DAY0 + dt.timedelta(days=2 * run)
    for index in range(links):
        planned = statuses(index, links)
        if planned is None:
            continue
        status = planned[run]
        stored = RecordLocation("archiver-1.warc.gz", index * 10, 10) if status is _OK else None
        drift = "2026-01-01" if run == 2 and index in DRIFTED else ""
        code = 404 if status is _BAD else 200
        yield FetchResult(url_of(index), status, code, "", (), 1, 0.01, when,
                          stored_at=stored, drifted_from=drift)  # fmt: skip


def generate(folder: Path, links: int, runs: int = 3, replay_url: str = "http://localhost:8080/web/") -> Blog:
    """Record the first `runs` of the three runs over `links` generated links in
    `folder`'s history; the report as it stands after them."""
    extraction = extraction_of(links)
    with History.open(folder) as history:
        for run in range(runs):
            history.record_run("run", DAY0 + dt.timedelta(days=2 * run), results(links, run))
        verdicts, previous = history.verdicts(POLICY), history.previous_verdicts(POLICY)
    now = DAY0 + dt.timedelta(days=2 * runs - 2, hours=1)
    return Blog(extraction, report.build(extraction, verdicts, POLICY, replay_url, now, previous=previous))


def first_run_report(links: int) -> report.Report:
    """The report after the first run alone, its verdicts drawn by the history's own rule
    from generated checks (for sizes where writing them to SQLite first would cost seconds)."""
    extraction = extraction_of(links)
    verdicts = [verdict_of([check], POLICY) for check in _first_checks(links)]
    return report.build(extraction, verdicts, POLICY, "http://localhost:8080/web/", DAY0 + dt.timedelta(hours=1))


def _first_checks(links: int) -> Iterator[Check]:
    for index in range(links):
        planned = statuses(index, links)
        if planned is not None:
            good = planned[0] is _OK
            stored = RecordLocation("archiver-1.warc.gz", index * 10, 10) if good else None
            yield Check(url_of(index), DAY0, planned[0], 200 if good else 404, "",
                        1, "", None, stored)  # fmt: skip
