"""Restore: find captures of dead images and links, keep them, and repair the posts.

`restore(config, scope)` takes every image the history calls dead (`--links`: links too;
`--include-failing`: failing ones too) that a post still cites, and looks for a capture
of it: first in our own WARC files, then in each configured web archive. Among a place's
captures the one nearest the citing post's date is tried first, those from before it
ahead of those after. Each capture is judged (`verify`); the first good one wins, and the
rejected ones are kept with their reasons. Identical bytes standing in for several
different files of one host are a placeholder and are rejected too.

Images are stored in the assets folder (`assets`) and the posts then point at them;
links point at the archived copy, by replacing the URL or by an "archived" link after it
(`restore.link_style`). Files are written before posts are changed, so an interrupted
restore leaves nothing pointing at a file that is not there; a second restore reuses the
stored files and changes nothing more. A dry run looks everything up, writes nothing and
returns the edits, whose diffs say what would change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from archiver.config import Config, RestoreSettings
from archiver.errors import InputError, OutputError
from archiver.extract import extract
from archiver.fetch import Fetcher
from archiver.fetch.network import is_public
from archiver.history import DeadPolicy, History, LinkVerdict, Verdict
from archiver.model import Extraction, Link, LinkKind
from archiver.restore import report
from archiver.restore.assets import Assets, StoredAsset, iso, now_iso
from archiver.restore.captures import Candidate, Lookup, OwnArchive, Retrieved, WebArchive, by_preference
from archiver.restore.edit import Edit, apply_edit
from archiver.restore.rewrite import Replacement, plan_edit
from archiver.restore.verify import Accepted, Judgement, Rejected, judge_image, judge_page, placeholder_redirect

__all__ = ["Outcome", "Rejection", "RestoreSummary", "Scope", "restore"]

_log = logging.getLogger(__name__)

TRIES_PER_PLACE = 5  # captures tried per place and URL before moving on: archives rate-limit hard
REDIRECTS_FOLLOWED = 3  # captured redirects followed from one capture
REDIRECT_CAPTURES_TRIED = 3  # captures of a redirect's target tried, nearest the redirect first
_PLACEHOLDER_ROUNDS = 3


@dataclass(frozen=True)
class Scope:
    """What to restore."""

    links: bool = False  # links as well as images
    include_failing: bool = False  # failing as well as dead
    dry_run: bool = False  # look everything up, write nothing


@dataclass(frozen=True)
class Rejection:
    """A capture that was found and not used, with the reason."""

    source: str
    address: str
    captured_at: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """What restoring one URL came to."""

    url: str
    kind: LinkKind
    verdict: Verdict
    new_url: str = ""  # what posts now point at; "" when nothing usable was found
    source: str = ""  # where the capture came from
    capture: str = ""  # the capture's address
    captured_at: str = ""
    reused: bool = False  # the file was restored by an earlier run
    rejections: tuple[Rejection, ...] = ()
    unavailable: tuple[str, ...] = ()  # places that could not be asked, with why

    @property
    def restored(self) -> bool:
        """A usable capture was found."""
        return bool(self.new_url)

    @property
    def state(self) -> str:
        """restored; rejected (only unusable captures); unavailable (a place could not
        answer and none had one); or not-found."""
        if self.restored:
            return "restored"
        if self.rejections:
            return "rejected"
        return "unavailable" if self.unavailable else "not-found"


@dataclass(frozen=True)
class RestoreSummary:
    """What a restore did."""

    outcomes: tuple[Outcome, ...]
    edits: tuple[Edit, ...]
    dry_run: bool
    assets: Path
    problems: tuple[str, ...] = ()  # posts that could not be repaired, each with why

    @property
    def changed_posts(self) -> tuple[Edit, ...]:
        """The posts that were (or, in a dry run, would be) changed."""
        return tuple(edit for edit in self.edits if edit.changed)

    def __str__(self) -> str:
        counts: dict[str, int] = defaultdict(int)
        for outcome in self.outcomes:
            counts[outcome.state] += 1
        verb = "would change" if self.dry_run else "changed"
        return (
            f"{len(self.outcomes)} URLs to restore: {counts['restored']} restored, "
            f"{counts['rejected']} with only unusable captures, {counts['not-found']} not found anywhere, "
            f"{counts['unavailable']} not asked (archive unavailable); {verb} {len(self.changed_posts)} posts"
        )


@dataclass
class _Found:
    """The capture chosen for a URL, with what it holds."""

    retrieved: Retrieved
    judgement: Accepted
    first: Candidate  # the capture of the URL itself, before any captured redirect


@dataclass
class _Search:
    """One URL's search: its result so far and what was turned down."""

    link: Link
    verdict: LinkVerdict
    target: dt.datetime
    found: _Found | None = None
    rejections: list[Rejection] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)


def restore(config: Config, scope: Scope) -> RestoreSummary:
    """Restore what the configured posts cite and the history calls dead."""
    extraction = extract(config.post_paths, config.extract)
    with History.open(config.output_dir) as history:
        verdicts = {v.url: v for v in history.verdicts(DeadPolicy.of(config.health))}
    wanted = {Verdict.DEAD, Verdict.FAILING} if scope.include_failing else {Verdict.DEAD}
    kinds = {LinkKind.IMAGE, LinkKind.LINK} if scope.links else {LinkKind.IMAGE}
    dates = {post.path: post.date for post in extraction.posts}
    searches = [
        _Search(link, verdicts[link.url], _target_date(link, dates, verdicts[link.url]))
        for link in extraction.fetchable
        if link.kind in kinds and link.url in verdicts and verdicts[link.url].verdict in wanted
    ]
    assets = Assets(config.restore.assets_dir, config.restore.assets_url)
    reused = {s.link.url: stored for s in searches if (stored := assets.stored(s.link.url)) is not None}
    pending = [s for s in searches if s.link.url not in reused]
    asyncio.run(_Finder(config, pending).run())
    outcomes = [_outcome(s, assets, reused.get(s.link.url)) for s in searches]
    if not scope.dry_run:
        _store(assets, pending, outcomes)
    edits, problems = _repair(extraction, outcomes, config.restore, scope.dry_run)
    summary = RestoreSummary(tuple(outcomes), tuple(edits), scope.dry_run, assets.folder, tuple(problems))
    if not scope.dry_run:
        report.write_all(summary, config.output_dir)
    return summary


def _target_date(link: Link, dates: dict[Path, dt.date | None], verdict: LinkVerdict) -> dt.datetime:
    """The moment whose content we want back: the end of the day of the earliest post citing
    the URL; without a dated post, when the URL was last seen alive; else now."""
    cited = [d for o in link.occurrences if (d := dates.get(o.post)) is not None]
    if cited:
        return dt.datetime.combine(min(cited), dt.time.max, tzinfo=dt.UTC)
    return verdict.last_seen_alive or dt.datetime.now(dt.UTC)


class _Finder:
    """Searches every place for every pending URL, politely, and settles placeholders."""

    def __init__(self, config: Config, searches: list[_Search]) -> None:
        self._config = config
        self._searches = searches
        self._lookups: dict[tuple[str, str], Lookup] = {}
        self._retrieved: dict[tuple[str, str], Retrieved] = {}
        self._refusals: dict[tuple[str, str], str] = {}  # captures judged unusable: their bytes are let go
        self._banned: dict[str, str] = {}  # payload SHA-256 -> why it is a placeholder

    async def run(self) -> None:
        if not self._searches:
            return
        settings = self._config.restore
        limit = self._config.fetch.max_body_bytes
        delays = {a.host: 60.0 / a.requests_per_minute for a in settings.archives}
        fetch_settings = self._config.fetch.model_copy(update={"host_delays": delays})
        async with Fetcher(fetch_settings) as fetcher:
            self._own = OwnArchive(self._config.output_dir, self._config.report.replay_url, limit)
            self._archives = [WebArchive(a, fetcher, limit) for a in settings.archives]
            await asyncio.gather(*(self._search(s) for s in self._searches))
            for _ in range(_PLACEHOLDER_ROUNDS):
                again = self._find_placeholders()
                if not again:
                    break
                await asyncio.gather(*(self._search(s) for s in again))

    async def _search(self, search: _Search) -> None:
        search.found, search.rejections, search.unavailable = None, [], []
        try:
            for place in self._places(search.link):
                if await self._search_in(place, search):
                    return
        except Exception as error:  # noqa: BLE001 - a fault with one URL must not end the restore
            _log.exception("unexpected error restoring %s", search.link.url)
            search.found = None
            search.unavailable.append(f"internal error looking for {search.link.url}: {error!r}")

    async def _search_in(self, place: OwnArchive | WebArchive, search: _Search) -> bool:
        """Try the place's captures in order of preference; True once one is usable."""
        lookup = await self._lookup(place, search.link.url)
        if lookup.problem:
            search.unavailable.append(lookup.problem)
            return False
        for candidate in by_preference(lookup.candidates, search.target)[:TRIES_PER_PLACE]:
            found = await self._try(place, candidate, search)
            if isinstance(found, str):  # the place stopped answering: the next place, not the next capture
                search.unavailable.append(found)
                return False
            if found is not None:
                search.found = found
                return True
        return False

    def _places(self, link: Link) -> list[OwnArchive | WebArchive]:
        own_usable = link.kind is LinkKind.IMAGE or _public_address(self._config.report.replay_url)
        return ([self._own] if own_usable else []) + list(self._archives)

    async def _lookup(self, place: OwnArchive | WebArchive, url: str) -> Lookup:
        key = (place.name, url)
        if key not in self._lookups:
            self._lookups[key] = await place.lookup(url)
        return self._lookups[key]

    async def _retrieve(self, place: OwnArchive | WebArchive, candidate: Candidate) -> Retrieved:
        key = _key(candidate)
        if key not in self._retrieved:
            self._retrieved[key] = await place.retrieve(candidate)
        return self._retrieved[key]

    async def _try(self, place: OwnArchive | WebArchive, candidate: Candidate, search: _Search) -> _Found | str | None:
        """The capture, following its captured redirects, if it holds the real thing; the
        place's problem when the place itself failed; None when the capture is unusable."""
        retrieved = await self._retrieve(place, candidate)
        for _ in range(REDIRECTS_FOLLOWED):
            if retrieved.place_failed:
                return retrieved.problem
            if retrieved.redirect_to is None:
                break
            refusal = _refused_redirect(search.link, retrieved.redirect_to)
            followed = None if refusal else await self._follow(place, retrieved)
            if followed is None:
                _reject(search, retrieved, refusal or f"redirected to {retrieved.redirect_to}, which has no capture")
                return None
            retrieved = followed
        if retrieved.place_failed:
            return retrieved.problem
        judgement = self._judge(search.link, retrieved)
        if isinstance(judgement, Rejected):
            self._refusals[_key(retrieved.candidate)] = judgement.reason
            self._retrieved[_key(retrieved.candidate)] = replace(retrieved, body=b"")
            _reject(search, retrieved, judgement.reason)
            return None
        return _Found(retrieved, judgement, candidate)

    async def _follow(self, place: OwnArchive | WebArchive, retrieved: Retrieved) -> Retrieved | None:
        """The capture of a captured redirect's target nearest the redirect's own capture."""
        assert retrieved.redirect_to is not None
        lookup = await self._lookup(place, retrieved.redirect_to)
        nearest = sorted(lookup.candidates, key=lambda c: abs(c.when - retrieved.when))
        followed = None
        for candidate in nearest[:REDIRECT_CAPTURES_TRIED]:
            followed = await self._retrieve(place, candidate)
            if followed.code == 200 or followed.place_failed:
                break
        return followed

    def _judge(self, link: Link, retrieved: Retrieved) -> Judgement:
        refused = self._refusals.get(_key(retrieved.candidate))
        if refused is not None:
            return Rejected(refused)
        if link.kind is not LinkKind.IMAGE:
            return judge_page(retrieved)
        judgement = judge_image(retrieved, self._config.restore.reject_digests)
        if isinstance(judgement, Accepted) and judgement.sha256 in self._banned:
            return Rejected(self._banned[judgement.sha256])
        return judgement

    def _find_placeholders(self) -> list[_Search]:
        """The searches whose image turned out to be a placeholder: the same bytes found for
        differently named files of one host. Their digests are banned from now on."""
        by_bytes: dict[tuple[str, str], list[_Search]] = defaultdict(list)
        for search in self._searches:
            if search.found is not None and search.link.kind is LinkKind.IMAGE:
                by_bytes[(_host(search.link.url), search.found.judgement.sha256)].append(search)
        again: list[_Search] = []
        for (host, digest), group in by_bytes.items():
            names = {_file_name(s.link.url) for s in group}
            if len(names) > 1:
                self._banned[digest] = (
                    f"the same bytes stand for {len(names)} different images of {host}: a placeholder"
                )
                again.extend(group)
        return again


def _reject(search: _Search, retrieved: Retrieved, reason: str) -> None:
    candidate = retrieved.candidate
    search.rejections.append(Rejection(candidate.source, candidate.address, iso(retrieved.when), reason))


def _key(candidate: Candidate) -> tuple[str, str]:
    return candidate.source, candidate.raw_address or candidate.address


def _refused_redirect(link: Link, target: str) -> str:
    """Why a captured redirect from `link` to `target` cannot lead to its content ("" when it can)."""
    if placeholder_redirect(link.url, target):
        return f"redirected to {target}, a placeholder"
    if link.kind is not LinkKind.IMAGE and _is_front_page(target) and not _is_front_page(link.url):
        return f"redirected to the front page {target}, not the page"
    return ""


def _is_front_page(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def _outcome(search: _Search, assets: Assets, stored: StoredAsset | None) -> Outcome:
    link, verdict = search.link, search.verdict.verdict
    if stored is not None:
        return Outcome(link.url, link.kind, verdict, stored.local_url, stored.source, stored.capture,
                       stored.captured_at, reused=True)  # fmt: skip
    rejections, unavailable = tuple(search.rejections), tuple(search.unavailable)
    if search.found is None:
        return Outcome(link.url, link.kind, verdict, rejections=rejections, unavailable=unavailable)
    found = search.found
    taken = found.retrieved.candidate  # after captured redirects: the capture whose bytes these are
    is_image = link.kind is LinkKind.IMAGE
    # a reader following a link goes through the original URL's capture, redirect and all
    new_url = assets.planned(link.url, found.judgement.extension)[1] if is_image else found.first.address
    return Outcome(link.url, link.kind, verdict, new_url, taken.source, taken.address, iso(found.retrieved.when),
                   rejections=rejections, unavailable=unavailable)  # fmt: skip


def _store(assets: Assets, searches: list[_Search], outcomes: list[Outcome]) -> None:
    """Write every newly restored image and the manifest."""
    by_url = {o.url: o for o in outcomes}
    stored = 0
    for search in searches:
        found = search.found
        if found is None or search.link.kind is not LinkKind.IMAGE:
            continue
        outcome = by_url[search.link.url]
        path, local_url = assets.planned(search.link.url, found.judgement.extension)
        asset = StoredAsset(
            url=search.link.url, path=str(path), local_url=local_url, source=outcome.source,
            capture=outcome.capture, captured_at=outcome.captured_at, sha256=found.judgement.sha256,
            content_type=found.judgement.content_type, size=len(found.retrieved.body), restored_at=now_iso(),
        )  # fmt: skip
        assets.store(asset, found.retrieved.body)
        stored += 1
    if stored:
        assets.save()


def _repair(
    extraction: Extraction, outcomes: Sequence[Outcome], settings: RestoreSettings, dry_run: bool
) -> tuple[list[Edit], list[str]]:
    """Point each post's citations of restored URLs at their new address."""
    links = {link.url: link for link in extraction.links}
    by_post: dict[Path, list[Replacement]] = defaultdict(list)
    for outcome in outcomes:
        if not outcome.restored:
            continue
        append = outcome.kind is not LinkKind.IMAGE and settings.link_style == "append"
        for occurrence in links[outcome.url].occurrences:
            by_post[occurrence.post].append(Replacement(occurrence, outcome.new_url, append=append))
    edits, problems = [], []
    for post, replacements in sorted(by_post.items()):
        try:
            edit = plan_edit(post, replacements)
            if edit.changed and not dry_run:
                apply_edit(edit)
        except (InputError, OutputError) as error:  # this post stays as it was; the others are repaired
            problems.append(str(error))
            continue
        edits.append(edit)
    return edits, problems


def _public_address(url: str) -> bool:
    """The address can be reached by a blog's readers: not localhost, not a private network."""
    host = urlsplit(url).hostname or ""
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return is_public(ipaddress.ip_address(host))
    except ValueError:
        return True


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _file_name(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]


def summary_lines(summary: RestoreSummary) -> list[str]:
    """One line per URL, for the terminal."""
    lines = []
    for outcome in summary.outcomes:
        if outcome.restored:
            origin = "already restored" if outcome.reused else f"from {outcome.source}, captured {outcome.captured_at}"
            lines.append(f"restored  {outcome.url} -> {outcome.new_url} ({origin})")
        else:
            lines.append(f"{outcome.state:<9} {outcome.url}")
        lines.extend(f"    rejected {r.address} ({r.captured_at}): {r.reason}" for r in outcome.rejections)
        lines.extend(f"    {problem}" for problem in outcome.unavailable)
    return lines
