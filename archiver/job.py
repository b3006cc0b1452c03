"""The jobs: the main one (extract -> fetch -> classify -> pack -> history -> report), and restore.

Every fetchable URL is fetched once however many posts cite it, and its answer
classified (soft-404, parked, bot wall ...); each captured HTML page gets its requisites
(stylesheets, scripts, images) fetched, and each capture is written to the WARC files
with them as soon as it completes (on a worker thread, so fetching goes on). The run ends with a
per-URL results file, the checks added to the history, and the reports written from it.
A check (`store=False`) does the same without writing WARC files.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import itertools
import json
import multiprocessing
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Container, Coroutine, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from archiver import fetch, health, pack, reach, report, schedule
from archiver import restore as restore_stage
from archiver import submit as submit_stage
from archiver.atomic import make_folder, remove_stale_temporaries, temporary_beside, write_lines_atomically
from archiver.beside import Beside
from archiver.config import Config
from archiver.extract import LinkStore, StoredExtraction, extract, extract_stored
from archiver.extract.listing import json_chunks as links_json_chunks
from archiver.extract.listing import read_extraction
from archiver.fetch import user_agent_of
from archiver.health import Classifier
from archiver.history import History, dead_policy
from archiver.model import (
    NOT_MODIFIED,
    Capture,
    Check,
    DeadPolicy,
    Exchange,
    Extracted,
    Extraction,
    FetchBackend,
    FetchResult,
    Finisher,
    Link,
    LinkVerdict,
    Occurrence,
    PriorCapture,
    RecordLocation,
    Status,
    Validators,
    Verdict,
)
from archiver.pack import WarcPacker
from archiver.pack import verify as pack_verify
from archiver.pack.verify import FolderFinding
from archiver.redact import Redactor
from archiver.report import Report
from archiver.requisites import RequisiteFetcher, RequisiteTally
from archiver.restore import RestoreSummary, Scope
from archiver.times import utc_iso, utc_now

LINKS_FILE = "links.json"
RESULTS_FILE = "results.jsonl"
CHECK_RESULTS_FILE = "check-results.jsonl"  # a check keeps the capture locations of the last run
RESULTS_SCHEMA = "archiver/results"
RESULTS_VERSION = 1

Progress = Callable[[FetchResult], None]
Phase = Callable[[str, int], None]  # the phase a run is in, and how many URLs it fetches
FETCH_PHASE, REQUISITES_PHASE, REPORT_PHASE = "fetch", "requisites", "report"
# Pages fetching their requisites at once, per slot of the global concurrency: each holds up
# to `pack.max_requisite_mb` until it is written; 8 pages at 64 slots kept every slot busy.
_REQUISITE_PAGES_PER_SLOT = 8
# Starting a process to index in takes about 0.7 s, and indexing goes at about 31 MB/s:
# smaller files are indexed in the run's own process.
_INDEX_BESIDE_BYTES = 32_000_000
_T = TypeVar("_T")
_V = TypeVar("_V")


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
    requisites: RequisiteTally = field(default_factory=RequisiteTally)
    unreachable: str = ""  # why the run does not count, when the network looked unreachable
    stale_temporaries: int = 0  # temporary files an interrupted run had left, removed
    not_due: int = 0  # links left for a later run (archiver.schedule)
    next_due: dt.datetime | None = None  # when the first of them is due
    not_modified: int = 0  # URLs a server said had not changed since their last capture (304)
    report: Report | None = None
    submitted: str = ""  # what offering live links to an archive did (`submit.enabled`)

    def __str__(self) -> str:
        failures = f" ({', '.join(f'{name} {count}' for name, count in self.failures)})" if self.failures else ""
        resumed = f"resumed an interrupted run ({self.resumed} URLs done before); " if self.resumed else ""
        stale = (
            f"removed {self.stale_temporaries} temporary files an interrupted run left; "
            if self.stale_temporaries
            else ""
        )
        return (
            f"{resumed}{stale}{self.urls} URLs fetched: {self.ok} ok{self._not_modified()}, "
            f"{self.failed} failed{failures}, {self.unknown} unknown, "
            f"{self.retried} retried{self._not_due()}; "
            f"{self.bytes:,} bytes, {self.bytes_saved:,} of them not stored again (revisits), "
            f"in {len(self.warc_files)} WARC files; {self.seconds:.1f} s{self._requisites()}"
            f"{f'; {self.unreachable}' if self.unreachable else ''}"
            f"{f'; {self.submitted}' if self.submitted else ''}"
        )

    def _not_modified(self) -> str:
        return f" ({self.not_modified} not modified)" if self.not_modified else ""

    def _not_due(self) -> str:
        if not self.not_due:
            return ""
        return f"; {self.not_due} links not due yet (the next on {utc_iso(self.next_due or utc_now(), 'seconds')})"

    def _requisites(self) -> str:
        tally = self.requisites
        if not (tally.fetched or tally.failed or tally.skipped):
            return ""
        return (f"; page requisites: {tally.fetched} fetched ({tally.bytes:,} bytes), {tally.failed} failed, "
                f"{tally.skipped} beyond the per-page bounds")  # fmt: skip


def run(
    config: Config,
    progress: Progress | None = None,
    extraction: Extraction | None = None,
    store: bool = True,
    backend: FetchBackend | None = None,
    *,
    only_due: bool = False,
    offer: bool = True,
    phase: Phase | None = None,
    extracted: Callable[[Extracted], None] | None = None,
) -> RunSummary:
    """Extract the configured posts, fetch every link (with `only_due`, every link that
    `archiver.schedule` says is due), classify it, pack the captures (with `store`), add
    the checks to the history and write the reports; then (with `store` and `offer`, when
    `submit.enabled`) offer the live links to an archive: not for the posts of a command
    line's own inputs, nor for `archiver check`.

    `backend` fetches instead of a `Fetcher` built from `config.fetch` (the caller closes it);
    `phase` is told when the run moves on to fetching, to pages' requisites alone, and to the
    report, with the number of URLs the run fetches; `extracted` is given what the posts
    cite once they are read (the links kept on disk, in a scratch file beside the output).
    """
    phase = phase or _no_phase
    refuse_in_a_starting_process()
    # before this run writes its first file: a scratch file this process's id left is stale
    stale = remove_stale_temporaries([config.output_dir, config.output_dir / pack.INDEX_DIR])  # spools, sort runs
    with LinkStore(config.output_dir) as links:
        kept = _kept_in(links, config, extraction)
        if extracted is not None:
            extracted(kept)
        summary = _run_kept(config, kept, progress, store, backend, only_due=only_due, offer=offer, phase=phase)
    return replace(summary, stale_temporaries=stale)


def _kept_in(links: LinkStore, config: Config, extraction: Extraction | None) -> StoredExtraction:
    """The configured posts' links (or those of `extraction`) kept in `links`."""
    if extraction is None:
        return extract_stored(config.post_paths, config.extract, links)
    for link in extraction.links:
        links.add(link)
    return StoredExtraction(extraction.posts, extraction.problems, links)


def _run_kept(
    config: Config,
    extraction: StoredExtraction,
    progress: Progress | None,
    store: bool,
    backend: FetchBackend | None,
    *,
    only_due: bool,
    offer: bool,
    phase: Phase,
) -> RunSummary:
    """`run`, its links kept in `extraction.store`."""
    make_folder(config.output_dir)
    shown = Redactor(config.report.secret_params)
    write_lines_atomically(config.output_dir / LINKS_FILE, links_json_chunks(extraction, shown))
    with History.open(config.output_dir) as history, _long_lived():
        run_id, done = history.resume_or_start("run" if store else "check", utc_now())

        def recovered(results: list[FetchResult]) -> None:  # whole in the WARC files, unknown to the history
            for result in results:
                if result.url not in done:
                    history.add_check(run_id, result)
                    done.add(result.url)

        pack.repair(config.output_dir, recovered)
        planned = _plan(config, extraction.store.urls(fetchable=True), history, only_due)
        pending = tuple(url for url in planned.due if url not in done)
        archive = config.output_dir / pack.ARCHIVE_DIR
        earlier = _Earlier(
            _StillStored(archive, history.latest_full_capture, lambda: history.latest_full_captures().items()),
            _still_stored(archive, history.latest_requisite_captures()),
            history.add_requisite_capture,
            extraction.store.fetched_urls,
        )
        recorded = both(partial(history.add_check, run_id), progress)
        # an interrupted run is judged whole, what it did before included: all of it is in the history
        judged = partial(history.each_run_check, run_id)
        phases = _Phases(len(pending), phase)
        summary = asyncio.run(
            _archive(config, pending, extraction.store.get, recorded, store=store, earlier=earlier, backend=backend,
                     judged=judged, phases=phases, witnesses=planned.witnesses)
        )  # fmt: skip
        summary = replace(summary, not_due=planned.not_due, next_due=planned.next_due)
        indexing = _indexing(config.output_dir, summary.warc_files)
        phase(REPORT_PHASE, len(pending))
        try:
            history.finish_run(run_id, summary.unreachable)
            lines = results_lines(
                history.each_run_check(run_id, by_url=True), extraction.store.get, shown, summary.unreachable
            )
            write_lines_atomically(config.output_dir / (RESULTS_FILE if store else CHECK_RESULTS_FILE), lines)
            report = _write_reports(config, extraction, history)
            offered = offer and store and config.submit.enabled and not summary.unreachable
            submitted = str(_submit_with(config, extraction, history, utc_now())) if offered else ""
            if indexing is not None:
                indexing.result()
        except BaseException:
            if indexing is not None:  # a run ended early leaves its last file to the next run's repair
                indexing.stop()
            raise
        return replace(summary, resumed=len(done), report=report, submitted=submitted)


def _indexing(folder: Path, files: Iterable[Path]) -> Beside[None] | None:
    """Index the run's WARC files that have no index yet (the last one: the packer indexes
    each file it rotates): in a process of its own, started now so that it works while
    this one writes the reports (at 10,000 links: 2.4 s of a 38 s run), when they are
    large enough to be worth the process; otherwise here, at once."""
    unindexed = [file.absolute() for file in files if not (folder / pack.INDEX_DIR / f"{file.name}.cdxj").exists()]
    if sum(file.stat().st_size for file in unindexed) >= _INDEX_BESIDE_BYTES:
        return Beside(pack.index_all, folder.absolute(), unindexed)
    pack.index_all(folder, unindexed)
    return None


_FROZEN_AT_IMPORT = gc.get_freeze_count()  # CPython 3.12 starts with some objects frozen


@contextlib.contextmanager
def _long_lived() -> Iterator[None]:
    """What is made so far (the modules, the configuration, the URLs to fetch) lives as
    long as the run: the collector of reference cycles need not go through it again and
    again (at 10,000 links, 1.6 s of its 2.5 s were such passes)."""
    if gc.get_freeze_count() > _FROZEN_AT_IMPORT:  # frozen already (by a caller, a run around this one)
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def submit_live_links(
    config: Config, now: dt.datetime | None = None, backend: FetchBackend | None = None
) -> submit_stage.SubmitSummary:
    """Offer the live links the configured posts cite to the archive of `config.submit`
    (see `archiver.submit`); `now` stands in for the clock."""
    extraction = extract(config.post_paths, config.extract, spans=False)  # links.json shows secrets redacted
    with History.open(config.output_dir) as history:
        return _submit_with(config, extraction, history, now or utc_now(), backend=backend)


def _submit_with(
    config: Config, extraction: Extracted, history: History, now: dt.datetime, *, backend: FetchBackend | None = None
) -> submit_stage.SubmitSummary:
    settings = config.submit
    by_url = {v.url: v for v in history.verdicts(dead_policy(config.health))}
    earlier = history.submissions(now - dt.timedelta(days=max(1.0, settings.resubmit_after_days)))
    shown = Redactor(config.report.secret_params)
    urls = submit_stage.due(extraction.fetchable, by_url, earlier, settings, now=now, shown=shown)
    room = submit_stage.room_today(earlier, settings, now)
    summary = asyncio.run(submit_stage.submit(urls, settings, config.fetch, room=room, now=now, backend=backend))
    history.add_submissions(summary.submissions)
    return summary


def restore(
    config: Config, scope: Scope, backend: FetchBackend | None = None, now: dt.datetime | None = None
) -> RestoreSummary:
    """Restore what the configured posts cite and the history calls dead (see `archiver.restore`);
    what the archives answered is kept in the history (unless a dry run). `now` stands in for the clock."""
    refuse_in_a_starting_process()
    extraction = extract(config.post_paths, config.extract)
    stale = 0 if scope.dry_run else _remove_stale_temporaries(config, extraction)
    with History.open(config.output_dir) as history:
        verdicts = {v.url: v for v in history.verdicts(dead_policy(config.health))}
        answers = history.archive_answers()
    summary = restore_stage.restore(
        extraction, verdicts, scope, settings=config.restore, fetch=config.fetch, output_dir=config.output_dir,
        replay_url=config.report.replay_url, backend=backend, answers=answers, now=now,
        shown=Redactor(config.report.secret_params),
    )  # fmt: skip
    if summary.answers and not scope.dry_run:
        with History.open(config.output_dir) as history:
            history.remember_answers(summary.answers)
    return replace(summary, stale_temporaries=stale)


def _plan(config: Config, urls: Iterable[str], history: History, only_due: bool) -> schedule.Plan:
    """The URLs of the links to check now: all of them, or (`only_due`) those due."""
    if not only_due:
        return schedule.Plan(tuple(urls), 0, None)
    first, second = itertools.tee(urls)  # read side by side: tee holds next to nothing
    verdicts = history.verdicts_of(first, dead_policy(config.health))
    cited = ((url, now) for url, (now, _) in zip(second, verdicts, strict=True))
    stored = _Lookup(history.last_stored_at, lambda: history.last_stored().items())
    return schedule.plan(cited, utc_now(), config.schedule, stored)


def _conditions(
    urls: Iterable[str], earlier: Mapping[str, PriorCapture], now: dt.datetime, fresh_after: dt.timedelta
) -> Mapping[str, Validators]:
    """The validators to send back for each link a conditional request can confirm: its
    last full capture is of the URL itself (not of a page it redirected to), was found
    alive (a 304 is judged by no rule: it carries no page), can be revisited, is recent
    enough not to be stored again, and its server gave validators. Worked out for a URL
    when it is asked for (a large blog's would all be held otherwise), which should be
    one of `urls`: going through the mapping lists only those."""
    listed = tuple(urls)
    find = partial(_condition, earlier=earlier, now=now, fresh_after=fresh_after)
    return _Lookup(find, lambda: ((url, found) for url in listed if (found := find(url)) is not None))


def _condition(
    url: str, *, earlier: Mapping[str, PriorCapture], now: dt.datetime, fresh_after: dt.timedelta
) -> Validators | None:
    prior = earlier.get(url)
    if prior is None or not prior.validators or not prior.stored_at.can_be_revisited:
        return None
    if prior.status is not Status.OK:  # a 304 would say only "the same soft-404 (parking page ...) again"
        return None
    if prior.stored_at.target_uri == url and now - prior.captured_at < fresh_after:
        return prior.validators
    return None


class _Lookup(Mapping[str, _V]):
    """A mapping read a key at a time (`find`, None for a key it lacks), never held whole;
    going through it (`every`) reads it all."""

    def __init__(self, find: Callable[[str], _V | None], every: Callable[[], Iterable[tuple[str, _V]]]) -> None:
        self._find = find
        self._every = every

    def __getitem__(self, key: str) -> _V:
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._every())

    def __len__(self) -> int:
        return sum(1 for _ in self._every())

    def __bool__(self) -> bool:  # not len(): that would read it all
        return True


def _remove_stale_temporaries(config: Config, extraction: Extraction) -> int:
    """Remove what an interrupted restore left half written: beside the posts, in the
    assets folder and in the output folder (the caller holds the output folder's lock)."""
    beside_posts = {folder for post in extraction.posts for folder in (post.path.parent, post.path.resolve().parent)}
    folders = [config.output_dir, *sorted(beside_posts)]  # a post behind a link is written where it is
    return remove_stale_temporaries(folders, recursive=[config.restore.assets_dir])


@dataclass(frozen=True)
class VerifySummary:
    """What `verify` found: how many checks name a record, and what was amiss (each
    finding says whether it was set right)."""

    checks: int
    findings: tuple[FolderFinding, ...]

    @property
    def unfixed(self) -> tuple[FolderFinding, ...]:
        """What verifying could not set right."""
        return tuple(finding for finding in self.findings if not finding.fixed)

    def __str__(self) -> str:
        fixed = len(self.findings) - len(self.unfixed)
        return (f"{self.checks} stored checks verified against the WARC files: {fixed} set right, "
                f"{len(self.unfixed)} that cannot be")  # fmt: skip


def verify(config: Config) -> VerifySummary:
    """Check that the history and the WARC files agree, and set right what can be: a check
    whose record is there but whose identity the history lost gets it back from the record;
    one whose record is not there is no longer pointed at it (so that no revisit refers to
    a record nobody can find); a closed file without an index is indexed. Named, not set
    right: files an interrupted run left (the next run finishes them), files that cannot
    be read, revisit records that point at no record in the folder."""
    findings: list[FolderFinding] = []
    with History.open(config.output_dir) as history:
        stored = list(history.stored_checks())
        for check_id, check in stored:
            finding = _verified(config.output_dir, check)
            if finding is not None:
                history.set_location(check_id, finding[1])
                findings.append(finding[0])
    findings += pack_verify.folder_findings(config.output_dir)
    return VerifySummary(len(stored), tuple(findings))


def _verified(folder: Path, check: Check) -> tuple[FolderFinding, RecordLocation | None] | None:
    """What is amiss with where a check says its answer is, and where the history should
    say it is instead; None when they agree."""
    location = check.stored_at
    assert location is not None
    where = folder / pack.ARCHIVE_DIR / location.filename
    if not where.exists() and where.with_name(where.name + pack.OPEN_SUFFIX).exists():
        return None  # still being written, or left by a kill: the next run finishes it (named as such)
    found = pack_verify.identity_at(folder, location)
    if isinstance(found, str) or not _same_capture(found, location, check):
        why = found if isinstance(found, str) else f"a {found.kind} record of {found.target_uri} at that offset"
        return FolderFinding(where, f"the history's capture of {check.url} is not there ({why}); "
                             "no longer pointed at", fixed=True), None  # fmt: skip
    if (found.record_id, found.date, found.target_uri) == (location.record_id, location.date, location.target_uri):
        return None
    whole = replace(location, record_id=found.record_id, date=found.date, target_uri=found.target_uri)
    return FolderFinding(where, f"the history's capture of {check.url} had lost its record's identity; "
                         "read back from the record", fixed=True), whole  # fmt: skip


def _same_capture(found: pack_verify.RecordIdentity, location: RecordLocation, check: Check) -> bool:
    """The record at a check's location is its capture: the right kind, of the URL the
    check says (the page a redirected link ended at), with its payload when both say it."""
    expected = "revisit" if location.revisit else "response"
    uri = location.target_uri or check.final_url
    digest_agrees = not (check.payload_digest and found.payload_digest) or check.payload_digest == found.payload_digest
    return found.kind == expected and found.target_uri == uri and digest_agrees


def refuse_in_a_starting_process() -> None:
    """Raise when called while a parser process is starting: a script that starts a job
    when it is imported (no `if __name__ == "__main__":`) is imported again by each process
    `spawn` starts, and that copy must not touch the output folder the real run is using."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # set by spawn while it imports __main__
        raise RuntimeError("archiver: a job was started while a parser process was starting; start it under "
                           "`if __name__ == '__main__':`")  # fmt: skip


def both(first: Progress, second: Progress | None) -> Progress:
    """One progress callback that calls two (the second may be None)."""

    def call_both(result: FetchResult) -> None:
        first(result)
        if second is not None:
            second(result)

    return call_both


def regenerate_report(config: Config) -> Report:
    """The reports again, from the last extraction and the history, without fetching."""
    extraction = read_extraction(config.output_dir / LINKS_FILE)
    with History.open(config.output_dir) as history:
        return _write_reports(config, extraction, history, exact=False)


def _write_reports(config: Config, extraction: Extracted, history: History, *, exact: bool = True) -> Report:
    """Write the reports of the history's verdicts, now and before the latest run, secrets
    in URLs shown as `***`; the report, its entries read back from report.json. With
    `exact`, `extraction` has the URLs as cited: each link's verdicts are read from the
    history a link at a time, and its row redacted once they are matched. Otherwise (read
    back from links.json) it is redacted already, and matched with the verdicts as they
    are shown: where several cited URLs look the same once redacted, each is given the
    worst of their verdicts, so that a failing link is never hidden."""
    policy, shown = dead_policy(config.health), Redactor(config.report.secret_params)
    before = history.previous_run()
    links = extraction.fetchable
    rows = _rows(links, history, policy, before) if exact else _rows_as_shown(links, history, policy, shown, before)
    with temporary_beside(config.output_dir / report.FORMATS["json"][0]) as spool:
        built = report.from_rows(
            rows, extraction.posts, policy, config.report.replay_url, utc_now(), shown=shown, spool=spool,
            unreachable=history.last_run_unreachable(), previous_run=before[1] if before else None,
            restore=report.read_restore(config.output_dir),
        )  # fmt: skip
        report.write_all(built, config.output_dir)
    return report.written(built, config.output_dir)


def _rows(
    links: Iterable[Link], history: History, policy: DeadPolicy, before: tuple[int, dt.datetime] | None
) -> Iterator[report.Row]:
    first, second = itertools.tee(links)  # read side by side: tee holds next to nothing
    pairs = history.verdicts_of((link.url for link in first), policy, before[0] if before else None)
    for link, (now, then) in zip(second, pairs, strict=True):
        yield report.Row(link, now, then, before is not None)


def _rows_as_shown(
    links: Iterable[Link], history: History, policy: DeadPolicy, shown: Redactor, before: tuple[int, dt.datetime] | None
) -> Iterator[report.Row]:
    verdicts = {verdict.url: verdict for verdict in _worst_as_shown(history.verdicts(policy), shown)}
    previous = history.previous_verdicts(policy)
    earlier = {verdict.url: verdict for verdict in _worst_as_shown(previous[1], shown)} if previous else {}
    for link in links:
        yield report.Row(link, verdicts.get(link.url), earlier.get(link.url), before is not None)


def _worst_as_shown(verdicts: Iterable[LinkVerdict], shown: Redactor) -> list[LinkVerdict]:
    """The verdicts by their URLs as `shown`, the worst kept where several look the same."""
    kept: dict[str, LinkVerdict] = {}
    for verdict in verdicts:
        url = shown.text(verdict.url)
        other = kept.get(url)
        if other is None or _SEVERITY[verdict.verdict] > _SEVERITY[other.verdict]:
            kept[url] = replace(verdict, url=url)
    return list(kept.values())


_SEVERITY = {Verdict.ALIVE: 0, Verdict.RECOVERED: 1, Verdict.UNKNOWN: 2, Verdict.FAILING: 3, Verdict.DEAD: 4}


def _no_phase(_: str, __: int) -> None:
    return None


@dataclass
class _Phases:
    """Tells `say` when only pages' requisites are still being fetched: every URL is
    either done or its page is fetching requisites (from then on, nothing else is)."""

    total: int
    say: Phase
    done: int = 0
    in_requisites: int = 0
    current: str = ""

    def moved(self, done: int = 0, in_requisites: int = 0) -> None:
        """`done` more URLs are done, `in_requisites` more pages fetch their requisites."""
        self.done += done
        self.in_requisites += in_requisites
        if self.current == REQUISITES_PHASE or (self.current and self.done >= self.total):
            return  # no URL is left to fetch, and none comes back; the report is said by the run itself
        now = REQUISITES_PHASE if self.in_requisites and self.done + self.in_requisites >= self.total else FETCH_PHASE
        if now != self.current:
            self.current = now
            self.say(now, self.total)

    def watching(self, finish: Finisher) -> Finisher:
        """`finish` (the requisites' finisher), counted while it runs."""

        async def watched(capture: Capture) -> Capture:
            self.moved(in_requisites=1)
            try:
                return await finish(capture)
            finally:
                self.moved(in_requisites=-1)

        return watched


@dataclass(frozen=True)
class _Earlier:
    """What earlier runs stored, for revisits and drift, and where a run's new requisite
    captures are remembered; and the blog's links (never fetched as requisites)."""

    links: _StillStored
    requisites: Mapping[str, PriorCapture]
    remember_requisite: Callable[[str, PriorCapture], None]
    link_urls: Container[str]


async def _archive(
    config: Config,
    urls: tuple[str, ...],
    cited: Callable[[str], Link | None],
    progress: Progress,
    *,
    store: bool,
    earlier: _Earlier,
    backend: FetchBackend | None,
    judged: Callable[[], Iterable[reach.Outcome]],
    phases: _Phases | None = None,
    witnesses: tuple[str, ...] = (),
) -> RunSummary:
    """Fetch, finish and store the links of `urls` (`cited` gives each one's link, for
    the citations stored beside its capture), telling `progress` of each result as it comes;
    the run's summary. Whether the network was unreachable is judged from what `judged`
    gives at the end (every outcome of the run, those of an interrupted part before it
    too) and the canaries fetched beside it: the configured ones, else the `witnesses`."""
    started = time.monotonic()
    phases = phases or _Phases(len(urls), _no_phase)
    phases.moved()
    fresh_after = dt.timedelta(days=config.pack.recapture_after_days)
    conditions = _conditions(urls, earlier.links, utc_now(), fresh_after)
    counted = _Counts()
    tally = RequisiteTally()
    info = {"http-header-user-agent": user_agent_of(config.fetch), "robots": _robots_policy(config)}
    with WarcPacker(config.output_dir, config.pack, info, index_last=False) if store else nullcontext() as packer:
        async with fetch.opened(backend, config.fetch) as fetcher:
            with_requisites = packer is not None and config.pack.requisites
            stored_page = partial(health.stored_page, config.output_dir)
            finish: Finisher = Classifier(fetcher, earlier.links, stored_page, requisites=with_requisites).finish
            if with_requisites:
                pages_at_once = max(1, config.fetch.concurrency // _REQUISITE_PAGES_PER_SLOT)
                requisites = RequisiteFetcher(fetcher, config.pack, earlier.link_urls, pages_at_once)
                finish = chained(finish, phases.watching(requisites.finish))
            canaries = asyncio.ensure_future(_canaries(fetcher, config.fetch.canaries or witnesses))
            try:
                async with _closing(fetcher.fetch_all(urls, then=finish, validators=conditions)) as captures:
                    async for capture in captures:
                        tally = tally.plus(capture.requisites)
                        link = cited(capture.result.url)
                        occurrences = link.occurrences if link else ()
                        result = await _kept(capture, packer, occurrences, earlier, fresh_after)
                        counted.add(result)
                        progress(result)
                        phases.moved(done=1)
            except BaseException:
                canaries.cancel()
                await asyncio.gather(canaries, return_exceptions=True)
                raise
            canaries_are = reach.CONFIGURED if config.fetch.canaries else reach.WITNESSES
            unreachable = reach.unreachable(judged(), await canaries, canaries_are)
    why = str(unreachable or "")
    files = tuple(packer.closed_files) if packer else ()
    summary = counted.summary(time.monotonic() - started, files)
    saved = packer.bytes_saved if packer else 0
    return replace(summary, bytes_saved=saved, requisites=tally, unreachable=why)


@asynccontextmanager
async def _closing(captures: AsyncIterator[Capture]) -> AsyncIterator[AsyncIterator[Capture]]:
    """The captures, closed (their fetches stopped) when the body ends however it ends, so
    that nothing still fetches once the client is closed."""
    try:
        yield captures
    finally:
        close = getattr(captures, "aclose", None)
        if close is not None:
            await close()


async def _kept(
    capture: Capture,
    packer: WarcPacker | None,
    occurrences: tuple[Occurrence, ...],
    earlier: _Earlier,
    fresh_after: dt.timedelta,
) -> FetchResult:
    """The capture's result with where it is stored (with `packer`, on a worker thread);
    the requisites stored in full are remembered for later revisits."""
    location: RecordLocation | None = None
    remembered: list[tuple[str, PriorCapture]] = []
    prior = earlier.links.get(capture.result.url)
    earlier.links.forget(capture.result.url)  # asked for by the conditions, the drift rule and here
    capture, unchanged = _not_modified(capture, prior)
    try:
        if packer is not None:
            previous = prior.stored_at if unchanged and prior else _same_payload(capture.result, prior, fresh_after)
            stored = partial(_store, packer, capture, occurrences, previous=previous,
                             earlier_requisites=earlier.requisites, fresh_after=fresh_after)  # fmt: skip
            location, remembered = await _to_the_end(asyncio.to_thread(stored))
    finally:
        capture.close()
    for url, requisite_capture in remembered:
        earlier.remember_requisite(url, requisite_capture)
    return replace(capture.result, stored_at=location)


def _not_modified(capture: Capture, prior: PriorCapture | None) -> tuple[Capture, bool]:
    """The capture, and whether it is a 304 Not Modified to a conditional request: its
    result then carries its last capture's payload digest, and says since when."""
    final = capture.final
    if prior is None or final is None or final.code != NOT_MODIFIED or not _conditional(final):
        return capture, False
    detail = f"not modified since its capture of {utc_iso(prior.captured_at, 'seconds')}"
    return replace(capture, result=replace(capture.result, payload_digest=prior.payload_digest, detail=detail)), True


def _conditional(exchange: Exchange) -> bool:
    return any(name.lower() in ("if-none-match", "if-modified-since") for name, _ in exchange.request_headers)


async def _to_the_end(work: Coroutine[Any, Any, _T]) -> _T:
    """What `work` returns. Cancelled meanwhile (a run stopped by a signal), it still waits
    for `work` to end before the cancellation goes on: the records a thread is writing
    must not be cut short by their file being closed, nor their bodies closed under them."""
    running = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # the run is stopping; what the write says matters no more
            await running
        raise


async def _canaries(fetcher: FetchBackend, urls: tuple[str, ...]) -> list[FetchResult | None]:
    """What the canary URLs answered (fetched beside the run, never stored); None for one
    the backend failed on."""

    async def answer(url: str) -> FetchResult:
        capture = await fetcher.fetch(url, urgent=True)
        capture.close()
        return capture.result

    answers = await asyncio.gather(*map(answer, urls), return_exceptions=True)
    return [answer if isinstance(answer, FetchResult) else None for answer in answers]


def _still_stored(archive: Path, captures: Mapping[str, PriorCapture]) -> dict[str, PriorCapture]:
    """The captures whose records are still wholly in their WARC files (see `_StillStored`)."""
    whole = _WholeRecords(archive)
    return {url: capture for url, capture in captures.items() if whole(capture)}


class _StillStored(_Lookup[PriorCapture]):
    """Each URL's latest full capture (`find`), read from the history a URL at a time,
    when its record is still wholly in its WARC file: the history is committed at once, a
    WARC file synced about once a second, so after a power cut the history can name a
    record that repair cut off; a revisit must never point at it."""

    def __init__(
        self,
        archive: Path,
        find: Callable[[str], PriorCapture | None],
        every: Callable[[], Iterable[tuple[str, PriorCapture]]],
    ) -> None:
        self._whole = _WholeRecords(archive)
        self._read = find
        self._in_flight: dict[str, PriorCapture | None] = {}  # read once per URL fetched, until `forget`
        super().__init__(self._found, lambda: ((url, capture) for url, capture in every() if self._whole(capture)))

    def forget(self, url: str) -> None:
        """`url` is done with: its capture is read again if asked for again."""
        self._in_flight.pop(url, None)

    def _found(self, url: str) -> PriorCapture | None:
        if url not in self._in_flight:
            found = self._read(url)
            self._in_flight[url] = found if found is not None and self._whole(found) else None
        return self._in_flight[url]


class _WholeRecords:
    """Whether a capture's record ends within its WARC file (each file's size read once)."""

    def __init__(self, archive: Path) -> None:
        self._archive = archive
        self._sizes: dict[str, int] = {}

    def __call__(self, capture: PriorCapture) -> bool:
        name = capture.stored_at.filename
        if name not in self._sizes:
            try:
                self._sizes[name] = (self._archive / name).stat().st_size
            except OSError:
                self._sizes[name] = -1
        return capture.stored_at.offset + capture.stored_at.length <= self._sizes[name]


def chained(first: Finisher, then: Finisher) -> Finisher:
    """One finisher that runs two in turn."""

    async def both_finishers(capture: Capture) -> Capture:
        return await then(await first(capture))

    return both_finishers


def _store(
    packer: WarcPacker,
    capture: Capture,
    cited_by: tuple[Occurrence, ...],
    *,
    previous: RecordLocation | None,
    earlier_requisites: Mapping[str, PriorCapture],
    fresh_after: dt.timedelta,
) -> tuple[RecordLocation | None, list[tuple[str, PriorCapture]]]:
    """Write a capture's requisites, then the capture; where it is stored, and the
    requisites whose payload was stored in full (for later revisits)."""
    remembered = []
    for requisite in capture.requisites:
        if requisite.capture is None:
            continue
        result = requisite.capture.result
        same = _same_payload(result, earlier_requisites.get(result.url), fresh_after)
        where = packer.write_requisite(requisite.capture, capture.result.url, same)
        if where is not None and not where.revisit and result.payload_digest:
            remembered.append((result.url, PriorCapture(where, result.payload_digest, result.checked_at)))
    return packer.write(capture, cited_by, previous), remembered


def _same_payload(
    result: FetchResult, earlier: PriorCapture | None, fresh_after: dt.timedelta
) -> RecordLocation | None:
    """The earlier full capture this one may refer to, when its payload is the same and
    that capture is recent enough (after `recapture_after_days`, the payload is stored again)."""
    if earlier is None or not result.payload_digest:
        return None
    fresh = result.checked_at - earlier.captured_at < fresh_after
    return earlier.stored_at if earlier.payload_digest == result.payload_digest and fresh else None


def results_lines(
    checks: Iterable[Check], cited: Callable[[str], Link | None], shown: Redactor, unreachable: str = ""
) -> Iterator[str]:
    """The lines of a run's results file, from its checks in URL order (those made before an
    interruption included), read as they come: a header line (saying why the run does not
    count, when the network looked `unreachable`), then one JSON object per URL (with what
    `cited` says of its link), secrets in its URLs `shown` as `***`."""
    header: dict[str, object] = {"schema": RESULTS_SCHEMA, "version": RESULTS_VERSION}
    if unreachable:
        header["unreachable"] = unreachable
    yield json.dumps(header) + "\n"
    latest: Check | None = None
    for check in checks:  # a URL is checked once per run; the last word if not
        if latest is not None and latest.url != check.url:
            yield json.dumps(shown.value(_result(latest, cited(latest.url))), ensure_ascii=False) + "\n"
        latest = check
    if latest is not None:
        yield json.dumps(shown.value(_result(latest, cited(latest.url))), ensure_ascii=False) + "\n"


def _result(check: Check, link: Link | None) -> dict[str, Any]:
    stored = check.stored_at
    return {
        "url": check.url,
        "kind": link.kind.value if link else None,  # None: no longer cited by the posts
        "status": check.status.value,
        "code": check.code,
        "final_url": check.final_url,
        "hops": [{"url": hop.url, "code": hop.code, "location": hop.location} for hop in check.hops],
        "attempts": check.attempts,
        "duration": round(check.duration, 3),
        "checked_at": utc_iso(check.checked_at),
        "detail": check.detail,
        "size": check.size,
        "warc": {"filename": stored.filename, "offset": stored.offset, "length": stored.length} if stored else None,
        "cited_by": len(link.occurrences) if link else 0,
    }


@dataclass
class _Counts:
    """A run's results, counted as they come (none of them kept)."""

    urls: int = 0
    ok: int = 0
    unknown: int = 0
    retried: int = 0
    bytes: int = 0
    not_modified: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def add(self, result: FetchResult) -> None:
        """Count one result."""
        self.urls += 1
        self.ok += result.status.is_ok
        self.unknown += result.status.is_unknown
        self.retried += result.attempts > 1
        self.bytes += result.size
        self.not_modified += result.code == NOT_MODIFIED
        if result.status.is_failure:
            self.failures[result.status.value] += 1

    def summary(self, seconds: float, files: tuple[Path, ...]) -> RunSummary:
        """The run's summary, in these numbers."""
        return RunSummary(
            urls=self.urls, ok=self.ok, failed=sum(self.failures.values()), unknown=self.unknown,
            retried=self.retried, bytes=self.bytes, seconds=seconds, warc_files=files,
            failures=tuple(sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))),
            not_modified=self.not_modified,
        )  # fmt: skip


def _robots_policy(config: Config) -> str:
    return "obey" if config.fetch.robots else "ignore"
