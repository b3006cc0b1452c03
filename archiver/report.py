"""Report: history -> JSON, CSV, Markdown and an HTML page people read, summary first.

A report joins the latest extraction (which posts cite which URL, where) with each
URL's verdict from the history, the verdicts as they stood before the latest run (what
changed), and the restore results when `restore.json` is beside it. The JSON document is
versioned (`archiver/report`, version 1; see docs/report-json.md). The HTML page is one
file with no external assets up to `Report.single_file_links` links; above that it is a
summary page and its table's data in `report-data-N.js` files beside it, loaded as
scripts on demand (browsers refuse `fetch()` of `file://`, but load a script). Each
link's entry (as report.json lists it) is made once, from its row, and the summary is
counted as the entries are made, keeping only bounded lists, so its size never depends on
the number of links; a large report's entries are spooled to a file and each format reads
them from there. Every value from posts or servers is escaped.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from archiver import __version__
from archiver.atomic import write_lines_atomically, write_text_atomically
from archiver.errors import OutputError
from archiver.model import Check, DeadPolicy, Extraction, Link, LinkKind, LinkVerdict, Post, Verdict
from archiver.pack import replay_address
from archiver.redact import Redactor
from archiver.times import timestamp14, utc_iso

_log = logging.getLogger(__name__)

SCHEMA_NAME = "archiver/report"
SCHEMA_VERSION = 1
UNCHECKED = "unchecked"
VERDICTS = (*[v.value for v in Verdict], UNCHECKED)
SINGLE_FILE_LINKS = 5000  # above this, report.html is a summary and its table is in data files
DATA_PAGE_ROWS = 2000  # links per data file
DATA_FILE = "report-data-{}.js"
RESTORE_FILE = "restore.json"  # written by `archiver restore` (archiver/restore/report.py)
MIN_LINKS_TO_RANK = 5  # a post with fewer links is not ranked by its share of rot
RANKED = 10  # posts and hosts named in the summary
LISTED = 10  # links named under each change and restore outcome in the summary
MARKDOWN_LINKS = 100  # failing links listed in report.md
_WORST_FIRST = ("dead", "failing", "unknown", "alive", "recovered", UNCHECKED)
_SEVERITY = {"dead": 0, "failing": 1, "unknown": 2, "recovered": 3, "alive": 4, UNCHECKED: 5}
_ENTRY_INDENT = "    "  # report.json's link entries: each on a line of its own, so indented
_CUT = 240  # characters of a citation's text or a detail kept in the HTML table
CSV_COLUMNS = (
    "url", "kind", "internal", "host", "verdict", "status", "code", "final_url", "checked_at", "checks",
    "failures_in_a_row", "dead_since", "last_seen_alive", "detail", "capture", "posts", "changes",
)  # fmt: skip


class Change(StrEnum):
    """What became of a link since the run before the latest one."""

    NEWLY_DEAD = "newly-dead"
    NEWLY_FAILING = "newly-failing"
    RECOVERED = "recovered"
    DRIFTED = "drifted"


def changes_of(now: LinkVerdict | None, before: LinkVerdict | None) -> tuple[Change, ...]:
    """How a link's verdict moved from `before` (None: not checked then) to `now`."""
    if now is None:
        return ()
    was = before.verdict if before else None
    changes = []
    if now.verdict is Verdict.DEAD and was is not Verdict.DEAD:
        changes.append(Change.NEWLY_DEAD)
    if now.verdict is Verdict.FAILING and was not in (Verdict.FAILING, Verdict.DEAD):
        changes.append(Change.NEWLY_FAILING)
    if now.verdict in (Verdict.ALIVE, Verdict.RECOVERED) and was in (Verdict.DEAD, Verdict.FAILING):
        changes.append(Change.RECOVERED)
    if now.latest.drifted_from and (before is None or before.latest.drifted_from != now.latest.drifted_from):
        changes.append(Change.DRIFTED)
    return tuple(changes)


@dataclass(frozen=True)
class Row:
    """One link in the report: where it is cited, what its history says, and what it said
    before the latest run (`compared`: whether there was a run before it)."""

    link: Link
    verdict: LinkVerdict | None
    previous: LinkVerdict | None = None
    compared: bool = False

    @property
    def verdict_name(self) -> str:
        return self.verdict.verdict.value if self.verdict else UNCHECKED

    @property
    def status_name(self) -> str:
        return self.verdict.latest.status.value if self.verdict else UNCHECKED

    @property
    def host(self) -> str:
        return host_of(self.link.url)

    @property
    def changes(self) -> tuple[Change, ...]:
        return changes_of(self.verdict, self.previous) if self.compared else ()


def host_of(url: str) -> str:
    """The host name of a URL, lowercase, without port or user."""
    _, separator, rest = url.partition("://")
    if not separator:
        return urlsplit(url).hostname or ""
    return _hostname(re.split("[/?#]", rest, maxsplit=1)[0])


@functools.lru_cache(maxsize=4096)  # a blog cites a few hosts many times; splitting is what a report spends most on
def _hostname(netloc: str) -> str:
    return urlsplit(f"//{netloc}").hostname or ""


@dataclass(frozen=True)
class RestoreResults:
    """What the latest `archiver restore` said (read from restore.json)."""

    generated_at: str
    totals: dict[str, int]
    restored: tuple[tuple[str, str], ...]  # (url, where it is now)
    rejected: tuple[tuple[str, tuple[str, ...]], ...]  # (url, why each capture was refused)
    not_found: tuple[str, ...]


class Entries(Protocol):
    """The links of a report as report.json lists them, in the extraction's order: read
    again by each format, and counted."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class SpooledEntries:
    """Entries in a file, read back from it each time they are gone through (so that no
    format holds them all): the lines that start with `indent` and `{`, each an entry
    (a spool's lines, or report.json's links, each on a line of its own)."""

    path: Path
    count: int
    indent: str = ""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        start = self.indent + "{"
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.startswith(start):
                    yield json.loads(line.rstrip().removesuffix(","))

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class Report:
    """Everything a report shows, computed once for every format: the link entries, and
    the summary counted from them."""

    entries: Entries
    summary: Summary
    posts: tuple[Post, ...]
    policy: DeadPolicy
    generated_at: dt.datetime
    replay_url: str
    unreachable: str = ""  # why the latest run does not count, when the network looked unreachable
    previous_run: dt.datetime | None = None  # when the run the changes are counted from started
    restore: RestoreResults | None = None
    single_file_links: int = SINGLE_FILE_LINKS

    def count(self, verdict: str) -> int:
        return self.summary.by_verdict.get(verdict, 0)

    def totals(self) -> dict[str, int]:
        """How many links have each verdict, every verdict named."""
        return {verdict: self.count(verdict) for verdict in VERDICTS}

    def failing(self, verdicts: Iterable[str]) -> bool:
        """True when any link has one of these verdicts."""
        return any(self.count(verdict) for verdict in verdicts)

    @property
    def paged(self) -> bool:
        """Whether report.html keeps its table in data files beside it."""
        return len(self.entries) > self.single_file_links


def build(
    extraction: Extraction,
    verdicts: Iterable[LinkVerdict],
    policy: DeadPolicy,
    replay_url: str,
    now: dt.datetime,
    *,
    unreachable: str = "",
    previous: tuple[dt.datetime, Iterable[LinkVerdict]] | None = None,
    restore: RestoreResults | None = None,
) -> Report:
    """The report of the links an extraction found, with the verdicts of their history;
    `unreachable` says why the latest run does not count, when it does not; `previous`
    is when the run before the latest started and the verdicts as they stood then."""
    by_url = {verdict.url: verdict for verdict in verdicts}
    before = {verdict.url: verdict for verdict in previous[1]} if previous else {}
    rows = (
        Row(link, by_url.get(link.url), before.get(link.url), previous is not None) for link in extraction.fetchable
    )
    since = previous[0] if previous else None
    return from_rows(
        rows, extraction.posts, policy, replay_url, now, unreachable=unreachable, previous_run=since, restore=restore
    )


def from_rows(
    rows: Iterable[Row],
    posts: tuple[Post, ...],
    policy: DeadPolicy,
    replay_url: str,
    now: dt.datetime,
    *,
    unreachable: str = "",
    previous_run: dt.datetime | None = None,
    restore: RestoreResults | None = None,
    shown: Redactor | None = None,
    spool: Path | None = None,
) -> Report:
    """The report of `rows` (the extraction's links, in its order, with their verdicts),
    each row gone through once: its entry made and counted into the summary. With
    `shown`, every text in the report is redacted (a row before its entry is made, so a
    redacted URL gets no replay address). With `spool`, the entries are written to that
    file as they are made and read back from it by each format, never all held at once."""
    posts = shown.value(posts) if shown else posts  # their titles are in each entry's citations
    by_path = {post.path: post for post in posts}
    counts = _Counts(posts={path.as_posix(): Counter() for path in by_path})

    def entries() -> Iterator[dict[str, Any]]:
        for row in rows:
            entry = link_entry(shown.value(row) if shown else row, by_path, replay_url)
            counts.add(entry)
            yield entry

    kept: Entries
    if spool is None:
        kept = tuple(entries())
    else:
        _spool(spool, entries())
        kept = SpooledEntries(spool, counts.links)
    report = Report(kept, counts.summary(by_path), posts, policy, now, replay_url, unreachable, previous_run, restore)
    return replace(shown.value(replace(report, entries=())), entries=kept) if shown else report


def _spool(path: Path, entries: Iterable[dict[str, Any]]) -> None:
    try:
        with path.open("w", encoding="utf-8") as spool:
            for entry in entries:
                spool.write(_dumped(entry) + "\n")
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror or error}") from error


def written(report: Report, folder: Path) -> Report:
    """`report`, its entries read from the report.json `write_all` wrote into `folder`
    (each time they are gone through: while the folder's lock is held)."""
    return replace(report, entries=SpooledEntries(folder / FORMATS["json"][0], len(report.entries), _ENTRY_INDENT))


def read_restore(folder: Path) -> RestoreResults | None:
    """The results of the latest restore, from `restore.json` in `folder`; None when there
    is none, or (with a warning naming the file) when it cannot be read."""
    path = folder / RESTORE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return _restore_results(document)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        _log.warning("%s: not a restore report the health report can show (%s); restore results left out", path, error)
        return None


def _restore_results(document: object) -> RestoreResults:
    """The results a `restore.json` document holds; ValueError when it is not one."""
    if not isinstance(document, dict):
        raise ValueError(f"the document is {type(document).__name__}, not an object")
    if document.get("schema") != "archiver/restore":
        raise ValueError(f"schema is {document.get('schema')!r}, not 'archiver/restore'")
    if not isinstance(document.get("totals"), dict):
        raise ValueError("its totals are not an object")
    outcomes = document.get("outcomes")
    if not isinstance(outcomes, list) or not all(isinstance(o, dict) for o in outcomes):
        raise ValueError("its outcomes are not a list of objects")
    return RestoreResults(
        generated_at=str(document["generated_at"]),
        totals={str(state): int(count) for state, count in document["totals"].items()},
        restored=tuple((str(o["url"]), str(o["new_url"] or "")) for o in outcomes if o["state"] == "restored"),
        rejected=tuple((str(o["url"]), _reasons(o)) for o in outcomes if o["state"] == "rejected"),
        not_found=tuple(str(o["url"]) for o in outcomes if o["state"] == "not-found"),
    )


def _reasons(outcome: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(rejection["reason"]) for rejection in outcome["rejected"])


def write_all(report: Report, folder: Path) -> list[Path]:
    """Write every format of `FORMATS` into `folder` (the HTML page's data files first);
    the files written. Data files an earlier, larger report left are removed."""
    paths = []
    for name, text in html_data_files(report):
        write_text_atomically(folder / name, text)
        paths.append(folder / name)
    for filename, writer in FORMATS.values():
        write_lines_atomically(folder / filename, _STREAMED.get(writer, _whole(writer))(report))
        paths.append(folder / filename)
    for stale in set(folder.glob(DATA_FILE.format("*"))) - set(paths):
        stale.unlink(missing_ok=True)
    return paths


def link_entry(row: Row, posts: Mapping[Path, Post], replay_url: str) -> dict[str, Any]:
    """One link as report.json (and the command line's JSON) lists it; `posts` by path."""
    verdict = row.verdict
    latest = verdict.latest if verdict else None
    archived = verdict.last_archived if verdict else None
    return {
        "url": row.link.url,
        "kind": row.link.kind.value,
        "internal": row.link.internal,
        "host": row.host,
        "verdict": row.verdict_name,
        "status": row.status_name,
        "code": latest.code if latest else None,
        "final_url": latest.final_url if latest else None,
        "checked_at": _optional_time(latest.checked_at if latest else None),
        "checks": verdict.checks if verdict else 0,
        "failures_in_a_row": verdict.failures_in_a_row if verdict else 0,
        "dead_since": _optional_time(verdict.dead_since if verdict else None),
        "last_seen_alive": _optional_time(verdict.last_seen_alive if verdict else None),
        "detail": latest.detail if latest else "",
        "capture": _capture(archived, replay_url) if archived else None,
        "drifted_from": latest.drifted_from if latest else None,
        "citations": [_citation(o.post, o.line, o.text, posts) for o in row.link.occurrences],
        "previous_verdict": (row.previous.verdict.value if row.previous else UNCHECKED) if row.compared else None,
        "changes": [change.value for change in row.changes],
    }


def link_entries(report: Report) -> Iterator[dict[str, Any]]:
    """Every link of the report as report.json lists it, in the extraction's order."""
    return iter(report.entries)


def to_json(report: Report) -> str:
    """The report as a JSON document of schema `archiver/report` version 1."""
    return "".join(json_chunks(report))


def json_chunks(report: Report) -> Iterator[str]:
    """`to_json`'s document, made as it is written: one link entry at a time (each on a
    line of its own), never the whole document, nor every entry, held at once."""
    summary = summarize(report)
    head = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "generated_by": f"archiver {__version__}",
        "generated_at": utc_iso(report.generated_at),
        "policy": {"dead_after_checks": report.policy.checks, "dead_after_days": report.policy.days},
        "latest_run_unreachable": report.unreachable or None,
        "totals": {"links": summary.links, "by_verdict": summary.by_verdict, "by_status": summary.by_status},
    }
    yield "{\n" + "".join(f"  {_dumped(key)}: {_dumped(value)},\n" for key, value in head.items()) + '  "links": ['
    changed: dict[str, list[str]] = {change.value: [] for change in Change}
    for index, link in enumerate(link_entries(report)):
        yield ("\n" if index == 0 else ",\n") + _ENTRY_INDENT + _dumped(link)
        for change in link["changes"]:
            changed[change].append(link["url"])
    tail = {
        "posts": summary.posts,
        "hosts": summary.hosts,
        "rot_by_year": summary.years,
        "changes": {"since": _optional_time(report.previous_run), **changed},
        "restore": _restore_document(report.restore) if report.restore else None,
    }
    yield ("\n  ]" if summary.links else "]") + "".join(
        f",\n  {_dumped(key)}: {_dumped(value)}" for key, value in tail.items()
    )
    yield "\n}\n"


def _dumped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def to_csv(report: Report) -> str:
    """One CSV row per link; booleans are written `true` and `false`."""
    return "".join(csv_chunks(report))


def csv_chunks(report: Report) -> Iterator[str]:
    """`to_csv`'s text, made as it is written, a row at a time."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for link in link_entries(report):
        capture = link["capture"]
        posts = "; ".join(f"{p['post']}:{p['line']}" for p in link["citations"])
        cells = {**link, "capture": capture["replay"] if capture else "", "posts": posts}
        writer.writerow({**_csv_cells(cells), "changes": " ".join(link["changes"])})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _csv_cells(cells: dict[str, Any]) -> dict[str, Any]:
    return {name: ("true" if value else "false") if isinstance(value, bool) else value for name, value in cells.items()}


def to_markdown(report: Report) -> str:
    """A summary short enough for a pull request: counts per verdict and status, what
    changed since the last run, then the failing links grouped by post, with line numbers."""
    summary = summarize(report)
    lines = [f"## Link health: {summary.links} links in {len(report.posts)} posts", ""]
    if report.unreachable:
        lines += [f"> **The latest run does not count:** {report.unreachable}.", ""]
    lines += [_counts_line(summary.by_verdict, _WORST_FIRST), "", "Statuses: " + _counts_line(summary.by_status), ""]
    lines += _markdown_changes(report, summary)
    lines += _markdown_failing(report)
    return "\n".join(lines).rstrip("\n") + "\n"


def to_html(report: Report) -> str:
    """The HTML page: the summary, then the table (its data inline, or in data files)."""
    summary = summarize(report)
    template = _templates().get_template("report.html.j2")
    inline = () if report.paged else [_script_json(page) for page in _data_pages(report)]
    config = {"links": len(report.entries), "pages": _page_count(report), "pageRows": DATA_PAGE_ROWS, "file": DATA_FILE}
    return template.render(
        report=report, summary=summary, verdicts=VERDICTS, changes=[c.value for c in Change],
        kinds=[k.value for k in LinkKind], chart=year_chart(summary.years), ranked=RANKED, listed=LISTED,
        min_links=MIN_LINKS_TO_RANK, config=_script_json(config), inline_pages=inline,
        generated=_readable_time(report.generated_at),
        since=_readable_time(report.previous_run) if report.previous_run else "",
    )  # fmt: skip


def html_data_files(report: Report) -> Iterator[tuple[str, str]]:
    """The data files beside a paged report.html (none for a single-file page): each
    file's name and text, a script that hands its page of table rows to the page."""
    if not report.paged:
        return
    for index, page in enumerate(_data_pages(report)):
        yield DATA_FILE.format(index + 1), f"archiverReport.page({index},{_script_json(page)});\n"


def _whole(writer: Writer) -> Callable[[Report], Iterable[str]]:
    return lambda report: (writer(report),)


Writer = Callable[[Report], str]
# Every report format, by name: the file it is written to and its writer. A new format goes here.
FORMATS: dict[str, tuple[str, Writer]] = {
    "json": ("report.json", to_json),
    "csv": ("report.csv", to_csv),
    "markdown": ("report.md", to_markdown),
    "html": ("report.html", to_html),
}
# The formats written as they are made (a large blog's JSON and CSV run to 100 MB and more).
_STREAMED: dict[Writer, Callable[[Report], Iterable[str]]] = {to_json: json_chunks, to_csv: csv_chunks}


@dataclass(frozen=True)
class Summary:
    """What the report's summary says, counted in one pass over the rows: totals, the
    changes since the last run (with the first `LISTED` links of each), and tallies by
    post, host and the post's year (worst first)."""

    links: int
    by_verdict: dict[str, int]
    by_status: dict[str, int]
    changes: dict[str, int]
    changed: dict[str, list[dict[str, str]]]
    posts: list[dict[str, Any]]
    hosts: list[dict[str, Any]]
    years: list[dict[str, Any]]

    @property
    def ranked_posts(self) -> list[dict[str, Any]]:
        """The posts with enough links to rank by their share of rot, worst first."""
        return [post for post in self.posts if post["links"] >= MIN_LINKS_TO_RANK]


@dataclass
class _Counts:
    """The summary's tallies, a link entry at a time."""

    links: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    changed: dict[str, list[dict[str, str]]] = field(default_factory=lambda: {c.value: [] for c in Change})
    posts: dict[str, Counter[str]] = field(default_factory=dict)  # by the post's path, as entries name it
    hosts: dict[str, Counter[str]] = field(default_factory=dict)
    years: dict[int, Counter[str]] = field(default_factory=dict)

    def add(self, entry: dict[str, Any]) -> None:
        verdict = entry["verdict"]
        self.links += 1
        self.verdicts[verdict] += 1
        self.statuses[entry["status"]] += 1
        self.hosts.setdefault(entry["host"], Counter())[verdict] += 1
        citations = entry["citations"]
        for post in {citation["post"] for citation in citations}:
            self.posts.setdefault(post, Counter())[verdict] += 1
        for year in {citation["year"] for citation in citations if citation["year"] is not None}:
            self.years.setdefault(year, Counter())[verdict] += 1
        for change in entry["changes"]:
            self.changes[change] += 1
            if len(self.changed[change]) < LISTED:
                self.changed[change].append(_changed_link(entry))

    def summary(self, posts: Mapping[Path, Post]) -> Summary:
        titles = {path.as_posix(): post.title for path, post in posts.items()}
        post_rows = [_tally({"post": path, "title": titles.get(path)}, c) for path, c in self.posts.items()]
        host_rows = [_tally({"host": host}, c) for host, c in self.hosts.items()]
        return Summary(
            links=self.links,
            by_verdict=dict(self.verdicts.most_common()),
            by_status=dict(self.statuses.most_common()),
            changes={change.value: self.changes[change.value] for change in Change},
            changed=self.changed,
            posts=sorted(post_rows, key=_worst_share),
            hosts=sorted(host_rows, key=lambda row: (-row["rotten"], -row["rotten_share"], row["host"])),
            years=[_tally({"year": year}, self.years[year]) for year in sorted(self.years)],
        )


def summarize(report: Report) -> Summary:
    """The report's summary (counted from its entries when it was built)."""
    return report.summary


def _worst_share(post: dict[str, Any]) -> tuple[bool, float, int, str]:
    """Posts with enough links first, then by their share of rot, then by its count."""
    return post["links"] < MIN_LINKS_TO_RANK, -post["rotten_share"], -post["rotten"], post["post"]


def _changed_link(entry: dict[str, Any]) -> dict[str, str]:
    first = entry["citations"][0] if entry["citations"] else None
    cited = f"{PurePosixPath(first['post']).name}:{first['line']}" if first else ""
    return {"url": entry["url"], "verdict": entry["verdict"], "status": entry["status"], "cited": cited}


def _restore_document(results: RestoreResults) -> dict[str, Any]:
    return {
        "generated_at": results.generated_at,
        "totals": results.totals,
        "restored": [{"url": url, "new_url": new_url or None} for url, new_url in results.restored],
        "rejected": [{"url": url, "reasons": list(reasons)} for url, reasons in results.rejected],
        "not_found": list(results.not_found),
    }


def _capture(check: Check, replay_url: str) -> dict[str, Any]:
    stored = check.stored_at
    assert stored is not None, "an archived check is stored"
    return {
        "filename": stored.filename,
        "offset": stored.offset,
        "length": stored.length,
        "captured_at": utc_iso(check.checked_at),
        "replay": replay_address(replay_url, *_indexed_as(check)),
    }


def _indexed_as(check: Check) -> tuple[str, str]:
    """The timestamp and URL the indexes list the check's stored record under: its own
    WARC-Date and target URL (the page a redirect ended at). A check recorded without them
    (by an archiver that did not keep them) is named by its own time and URL."""
    stored = check.stored_at
    if stored is None or not stored.date or not stored.target_uri:
        return timestamp14(check.checked_at), check.url
    return timestamp14(dt.datetime.fromisoformat(stored.date)), stored.target_uri


def _citation(path: Path, line: int, text: str, posts: Mapping[Path, Post]) -> dict[str, Any]:
    post = posts.get(path)
    return {
        "post": path.as_posix(),
        "line": line,
        "text": text,
        "title": post.title if post else None,
        "year": post.date.year if post and post.date else None,
    }


def _tally(row: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
    links = sum(counts.values())
    rotten = counts["dead"] + counts["failing"]
    return {
        **row,
        "links": links,
        **{v.value: counts[v.value] for v in Verdict},
        UNCHECKED: counts[UNCHECKED],
        "rotten": rotten,
        "rotten_share": round(rotten / links, 4) if links else 0.0,
    }


_PLOT = {"left": 48, "top": 24, "height": 160, "bar": 36, "step": 58}


def year_chart(years: list[dict[str, Any]]) -> dict[str, Any]:
    """The geometry of the link-rot-by-year chart: for each year, stacked bars of the
    share of its links that are dead and failing; the axis ticks; the chart's size."""
    left, top, height, step = _PLOT["left"], _PLOT["top"], _PLOT["height"], _PLOT["step"]
    bars = []
    for index, year in enumerate(years):
        links = year["links"] or 1
        dead, failing = round(year["dead"] / links * height), round(year["failing"] / links * height)
        x = left + 8 + index * step
        bars.append({**year, "x": x, "middle": x + _PLOT["bar"] // 2, "dead_y": top + height - dead,
                     "dead_height": dead, "failing_y": top + height - dead - failing, "failing_height": failing,
                     "percent": round(year["rotten"] / links * 100)})  # fmt: skip
    ticks = [{"y": top + height - round(share * height), "label": f"{round(share * 100)}%"}
             for share in (0, 0.25, 0.5, 0.75, 1)]  # fmt: skip
    width = left + 16 + max(len(years), 1) * step
    return {"bars": bars, "ticks": ticks, "width": width, "left": left, "top": top, "bottom": top + height,
            "bar_width": _PLOT["bar"], "height": top + height + 40}  # fmt: skip


def _table_order(report: Report) -> Iterator[dict[str, Any]]:
    """The table's rows: the worst verdicts first, in the extraction's order within each
    (the entries gone through once for each verdict the report has)."""
    for verdict in sorted(report.summary.by_verdict, key=_SEVERITY.__getitem__):
        yield from (entry for entry in report.entries if entry["verdict"] == verdict)


def _page_count(report: Report) -> int:
    return max(1, -(-len(report.entries) // DATA_PAGE_ROWS))


def _data_pages(report: Report) -> Iterator[dict[str, Any]]:
    """The table's rows in pages of `DATA_PAGE_ROWS`, compact: each page names the posts
    it cites once, and each row is an array (its fields are read by the page's script)."""
    titles = {post.path.as_posix(): post.title for post in report.posts}
    ordered = _table_order(report)
    page = list(itertools.islice(ordered, DATA_PAGE_ROWS))
    while True:
        yield _data_page(page, titles)
        page = list(itertools.islice(ordered, DATA_PAGE_ROWS))
        if not page:
            return


def _data_page(entries: list[dict[str, Any]], titles: Mapping[str, str | None]) -> dict[str, Any]:
    cited: dict[str, int] = {}
    encoded = [_data_row(entry, cited) for entry in entries]
    return {"posts": [[path, titles.get(path)] for path in cited], "rows": encoded}


def _data_row(entry: dict[str, Any], cited: dict[str, int]) -> list[Any]:
    """url, kind, host, verdict, status, code, detail, checked, dead since, last seen
    alive, changes, drifted from, replay address, captured, citations [post, line, text]."""
    citations = [[cited.setdefault(c["post"], len(cited)), c["line"], c["text"][:_CUT]] for c in entry["citations"]]
    capture = entry["capture"]
    return [
        entry["url"], entry["kind"], entry["host"], entry["verdict"], entry["status"], entry["code"],
        entry["detail"][:_CUT], _day(entry["checked_at"]), _day(entry["dead_since"]), _day(entry["last_seen_alive"]),
        entry["changes"], (entry["drifted_from"] or "")[:10], capture["replay"] if capture else "",
        _day(capture["captured_at"] if capture else None), citations,
    ]  # fmt: skip


def _script_json(value: Any) -> Markup:
    """JSON that is safe inside a <script> element: nothing in it can end the element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for character, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                               ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(character, escaped)
    return Markup(text)  # every character that could end the script is escaped above


def _counts_line(counts: Mapping[str, int], order: Iterable[str] = ()) -> str:
    names = [*order, *sorted(set(counts) - set(order), key=lambda name: (-counts[name], name))]
    return " · ".join(f"**{counts.get(name, 0)}** {name}" for name in names) or "none"


def _markdown_changes(report: Report, summary: Summary) -> list[str]:
    if report.previous_run is None:
        return ["No earlier run to compare with.", ""]
    lines = [f"### Since the run of {_readable_time(report.previous_run)}", ""]
    lines += [_counts_line(summary.changes, [c.value for c in Change]), ""]
    for change in (Change.NEWLY_DEAD, Change.NEWLY_FAILING, Change.RECOVERED):
        named = summary.changed[change.value][:10]
        lines += [f"- {change.value}: {_autolink(link['url'])} ({link['status']})" for link in named]
    return [*lines, ""] if lines[-1] else lines


def _markdown_failing(report: Report) -> list[str]:
    by_post: dict[str, list[tuple[int, str]]] = {}  # each failing citation's line and list item
    if report.count("dead") or report.count("failing"):
        for entry in report.entries:
            if entry["verdict"] in ("dead", "failing"):
                for citation in entry["citations"]:
                    line = citation["line"]
                    by_post.setdefault(citation["post"], []).append((line, _markdown_item(line, entry)))
    if not by_post:
        return ["No dead or failing links."]
    titles = {post.path.as_posix(): post.title for post in report.posts}
    lines, listed = ["### Dead and failing links, by post", ""], 0
    for path, cited in sorted(by_post.items(), key=lambda item: (-len(item[1]), item[0])):
        if listed >= MARKDOWN_LINKS:
            break
        title = f"**{_escape_markdown(titles[path] or '')}** " if titles.get(path) else ""
        lines += [f"{title}{_code(path)}", ""]
        for _, item in sorted(cited, key=lambda item: item[0])[: MARKDOWN_LINKS - listed]:
            lines.append(item)
            listed += 1
        lines.append("")
    total = sum(len(cited) for cited in by_post.values())
    if total > listed:
        lines.append(f"… and {total - listed} more in report.html.")
    return lines


def _markdown_item(line: int, entry: dict[str, Any]) -> str:
    code, status = entry["code"], entry["status"]
    shown = f"{status} ({code})" if code else status
    return f"- line {line}: **{entry['verdict']}**, {shown}: {_autolink(entry['url'])}"


def _escape_markdown(text: str) -> str:
    """Text with every character Markdown could read as markup backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", text)


def _autolink(url: str) -> str:
    """A Markdown autolink of the URL; what would end it early is percent-encoded."""
    return "<" + url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20") + ">"


def _code(text: str) -> str:
    """A Markdown code span holding `text`, whatever backticks it contains."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("archiver", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _optional_time(when: dt.datetime | None) -> str | None:
    return utc_iso(when) if when else None


def _day(when: str | None) -> str:
    """The day of a time as entries give it (`2026-01-05T08:00:00Z`), or ""."""
    return when[:10] if when else ""


def _readable_time(when: dt.datetime) -> str:
    """A time as people read it: `2026-01-05 08:00 UTC`."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
