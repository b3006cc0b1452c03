"""Restore: find captures of dead images and links, keep them, and repair the posts.

`restore(...)` takes every image that the posts of an extraction still cite and whose
verdict (from the history) is dead (`--links`: links too; `--include-failing`: failing
ones too), and looks for a capture of it (`search`): first in our own WARC files, then
in each configured web archive (`sources`), each asked about all the URLs at once where
it can (a CDX query per site). Among a place's captures the one nearest the citing post's
date is tried first, those from before it ahead of those after. Each capture is judged
(`verify`); the first good one wins, and the rejected ones are kept with their reasons.
An image without a usable capture of its own URL is looked for under its file name
elsewhere on its site (`renamed`, `restore.match_renamed`). Identical bytes standing in
for several different files of one host are a placeholder and are rejected too; their
digests are kept in the manifest for later restores. What the archives answered comes
back in the summary (`RestoreSummary.answers`), for the history to keep: an archive
that had nothing for a URL is not asked again before `restore.retry_not_found_days`.

Images are stored in the assets folder (`assets`) and the posts then point at them;
links point at the archived copy, by replacing the URL or by an "archived" link after it
(`restore.link_style`). Files are written before posts are changed, so an interrupted
restore leaves nothing pointing at a file that is not there; a second restore reuses the
stored files and changes nothing more. A dry run looks everything up, writes nothing and
returns the edits, whose diffs say what would change.

The modules: `values` (what a restore answers in), `sources` (where captures come
from), `search`, `verify`, `assets` (storing files), `repairs` and `rewrite` (repairing
posts), `report` (restore.json and restore.md) and `terminal` (the lines printed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from archiver.config import FetchSettings, RestoreSettings
from archiver.fetch import opened
from archiver.model import NOT_ARCHIVED, ArchiveAnswer, Extraction, FetchBackend, Link, LinkKind, LinkVerdict, Verdict
from archiver.redact import Redactor
from archiver.restore import report
from archiver.restore.assets import Assets, StoredAsset
from archiver.restore.repairs import repair_posts
from archiver.restore.search import Finder, Memory, Search
from archiver.restore.sources import OWN_ARCHIVE, open_sources
from archiver.restore.terminal import summary_lines
from archiver.restore.values import Rejection, Restoration, RestoreState, RestoreSummary, Scope
from archiver.times import utc_iso, utc_now

__all__ = ["Rejection", "Restoration", "RestoreState", "RestoreSummary", "Scope", "restore", "summary_lines"]


def restore(
    extraction: Extraction,
    verdicts: Mapping[str, LinkVerdict],
    scope: Scope,
    *,
    settings: RestoreSettings,
    fetch: FetchSettings,
    output_dir: Path,
    replay_url: str,
    backend: FetchBackend | None = None,
    answers: Iterable[ArchiveAnswer] = (),
    now: dt.datetime | None = None,
    shown: Redactor | None = None,
) -> RestoreSummary:
    """Restore what the posts of `extraction` cite and `verdicts` call dead (or failing).

    Captures are looked for in the WARC files of `output_dir` (replayed at `replay_url`)
    and the archives of `settings`, through `backend` (default: a `Fetcher` of `fetch`,
    each archive at its own request rate), except where `answers` (what archives answered
    earlier restores) say an archive had nothing not long before `now` (default: the
    clock's time); the restore report is written to `output_dir`, secrets in URLs `shown`
    as `***` (by default, with none of the configured words: every URL as it is).
    """
    now = now or utc_now()
    searches = _searches(extraction, verdicts, scope)
    shown = shown or Redactor(())
    assets = Assets(settings.assets_dir, settings.assets_url, shown)
    reused = {s.link.url: stored for s in searches if (stored := assets.stored(s.link.url)) is not None}
    pending = [s for s in searches if s.link.url not in reused]
    learned = dict(assets.placeholders)
    if pending:
        places = _Places(settings, fetch, output_dir, replay_url)
        memory = _memory(settings, assets, answers, now, [s.link.url for s in pending])
        learned = asyncio.run(_search_all(pending, places, backend, memory))
    restorations = [_restoration(s, assets, reused.get(s.link.url)) for s in searches]
    if not scope.dry_run:
        _store(assets, pending, restorations, learned)
    edits, problems = repair_posts(extraction, restorations, settings.link_style, scope.dry_run)
    summary = RestoreSummary(tuple(restorations), tuple(edits), scope.dry_run, assets.folder, tuple(problems),
                             answers=tuple(_answers(pending, now)))  # fmt: skip
    if not scope.dry_run:
        report.write_all(summary, output_dir, shown)
    return summary


def _memory(
    settings: RestoreSettings, assets: Assets, answers: Iterable[ArchiveAnswer], now: dt.datetime, judged: list[str]
) -> Memory:
    """What the search goes by: earlier answers, placeholders and files (but those of the
    URLs `judged` now: a file restored again never bans its own bytes), and the settings."""
    return Memory(
        now=now,
        not_archived={(a.url, a.archive): a.asked_at for a in answers if a.answer == NOT_ARCHIVED},
        retry_after=dt.timedelta(days=settings.retry_not_found_days),
        placeholders=assets.placeholders,
        restored=assets.digests(leaving_out=judged),
        renamed=settings.match_renamed,
    )


def _answers(searches: Iterable[Search], now: dt.datetime) -> list[ArchiveAnswer]:
    """What each web archive answered this restore: whether it had any capture of each URL."""
    return [ArchiveAnswer(s.link.url, archive, now, "archived" if had else NOT_ARCHIVED)
            for s in searches for archive, had in s.answered.items() if archive != OWN_ARCHIVE]  # fmt: skip


def _searches(extraction: Extraction, verdicts: Mapping[str, LinkVerdict], scope: Scope) -> list[Search]:
    """A search for each cited URL in scope whose verdict asks for it."""
    wanted = {Verdict.DEAD, Verdict.FAILING} if scope.include_failing else {Verdict.DEAD}
    kinds = {LinkKind.IMAGE, LinkKind.LINK} if scope.links else {LinkKind.IMAGE}
    dates = {post.path: post.date for post in extraction.posts}
    return [
        Search(link, verdicts[link.url], _target_date(link, dates, verdicts[link.url]))
        for link in extraction.fetchable
        if link.kind in kinds and link.url in verdicts and verdicts[link.url].verdict in wanted
    ]


@dataclass(frozen=True)
class _Places:
    """Where captures are looked for, and how."""

    settings: RestoreSettings
    fetch: FetchSettings
    output_dir: Path  # our own WARC files
    replay_url: str  # where they are replayed


async def _search_all(
    searches: list[Search], places: _Places, backend: FetchBackend | None, memory: Memory
) -> dict[str, str]:
    """Search for every URL; the placeholders known afterwards (SHA-256 -> why)."""
    delays = {archive.host: 60.0 / archive.requests_per_minute for archive in places.settings.archives}
    async with opened(backend, places.fetch, host_delays=delays) as fetcher:
        archives, limit = places.settings.archives, places.fetch.max_body_bytes
        sources = open_sources(places.output_dir, places.replay_url, archives, fetcher, limit)
        finder = Finder(sources, searches, places.settings.reject_digests, memory)
        await finder.run()
        return finder.banned


def _target_date(link: Link, dates: dict[Path, dt.date | None], verdict: LinkVerdict) -> dt.datetime:
    """The moment whose content we want back: the end of the day of the earliest post citing
    the URL; without a dated post, when the URL was last seen alive; else now."""
    cited = [d for o in link.occurrences if (d := dates.get(o.post)) is not None]
    if cited:
        return dt.datetime.combine(min(cited), dt.time.max, tzinfo=dt.UTC)
    return verdict.last_seen_alive or utc_now()


def _restoration(search: Search, assets: Assets, stored: StoredAsset | None) -> Restoration:
    link, verdict = search.link, search.verdict.verdict
    if stored is not None:
        return Restoration(link.url, link.kind, verdict, stored.local_url, stored.source, stored.capture_address,
                           stored.captured_at, reused=True, renamed_from=stored.renamed_from)  # fmt: skip
    rejections, unavailable = tuple(search.rejections), tuple(search.unavailable)
    if search.chosen is None:
        return Restoration(link.url, link.kind, verdict, rejections=rejections, unavailable=unavailable,
                           remembered=tuple(search.remembered))  # fmt: skip
    found = search.chosen
    taken = found.retrieved.candidate  # after captured redirects: the capture whose bytes these are
    is_image = link.kind is LinkKind.IMAGE
    # a reader following a link goes through the original URL's capture, redirect and all
    new_url = assets.planned(link.url, found.judgement.extension)[1] if is_image else found.first.address
    captured_at = utc_iso(found.retrieved.when, "seconds", zulu=True)
    return Restoration(link.url, link.kind, verdict, new_url, taken.source, taken.address, captured_at,
                       rejections=rejections, unavailable=unavailable, renamed_from=found.renamed_from)  # fmt: skip


def _store(assets: Assets, searches: list[Search], restorations: list[Restoration], learned: dict[str, str]) -> None:
    """Write every newly restored image, and the manifest with the placeholders `learned`."""
    by_url = {r.url: r for r in restorations}
    stored = 0
    for search in searches:
        found = search.chosen
        if found is None or search.link.kind is not LinkKind.IMAGE:
            continue
        restoration = by_url[search.link.url]
        path, local_url = assets.planned(search.link.url, found.judgement.extension)
        asset = StoredAsset(
            url=search.link.url, path=str(path), local_url=local_url, source=restoration.source,
            capture_address=restoration.capture_address, captured_at=restoration.captured_at,
            sha256=found.judgement.sha256, content_type=found.judgement.content_type,
            size=len(found.retrieved.body), restored_at=utc_iso(utc_now(), "seconds", zulu=True),
            renamed_from=restoration.renamed_from,
        )  # fmt: skip
        assets.store(asset, found.retrieved.body)
        stored += 1
    if stored or learned != assets.placeholders:
        assets.placeholders = dict(learned)
        assets.save()
