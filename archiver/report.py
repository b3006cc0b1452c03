"""Report: history -> JSON, CSV, Markdown and a self-contained HTML page people read.

A report joins the latest extraction (which posts cite which URL, where) with each
URL's verdict from the history. The JSON document is versioned (`archiver/report`,
version 1; see docs/report-json.md); the HTML page is one file with no external assets,
every value from posts or servers escaped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from archiver import __version__
from archiver.atomic import write_text_atomically
from archiver.model import Check, DeadPolicy, Extraction, Link, LinkVerdict, Post, Verdict
from archiver.pack import replay_address
from archiver.times import timestamp14, utc_iso

SCHEMA_NAME = "archiver/report"
SCHEMA_VERSION = 1
UNCHECKED = "unchecked"
_MARKDOWN_ROWS = 50
CSV_COLUMNS = (
    "url", "kind", "internal", "host", "verdict", "status", "code", "final_url", "checked_at", "checks",
    "failures_in_a_row", "dead_since", "last_seen_alive", "detail", "capture", "posts",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One link in the report: where it is cited and what its history says."""

    link: Link
    verdict: LinkVerdict | None

    @property
    def verdict_name(self) -> str:
        return self.verdict.verdict.value if self.verdict else UNCHECKED

    @property
    def host(self) -> str:
        return urlsplit(self.link.url).hostname or ""


@dataclass(frozen=True)
class Report:
    """Everything a report shows, computed once for every format."""

    rows: tuple[Row, ...]
    posts: tuple[Post, ...]
    policy: DeadPolicy
    generated_at: dt.datetime
    replay_url: str
    unreachable: str = ""  # why the latest run does not count, when the network looked unreachable

    def count(self, verdict: str) -> int:
        return sum(row.verdict_name == verdict for row in self.rows)

    def totals(self) -> dict[str, int]:
        """How many links have each verdict, every verdict named."""
        return {verdict: self.count(verdict) for verdict in (*[v.value for v in Verdict], UNCHECKED)}

    def failing(self, verdicts: Iterable[str]) -> bool:
        """True when any link has one of these verdicts."""
        wanted = set(verdicts)
        return any(row.verdict_name in wanted for row in self.rows)


def build(
    extraction: Extraction,
    verdicts: Iterable[LinkVerdict],
    policy: DeadPolicy,
    replay_url: str,
    now: dt.datetime,
    *,
    unreachable: str = "",
) -> Report:
    """The report of the links an extraction found, with the verdicts of their history;
    `unreachable` says why the latest run does not count, when it does not."""
    by_url = {verdict.url: verdict for verdict in verdicts}
    rows = tuple(Row(link, by_url.get(link.url)) for link in extraction.fetchable)
    return Report(rows, extraction.posts, policy, now, replay_url, unreachable)


def write_all(report: Report, folder: Path) -> list[Path]:
    """Write every format of `FORMATS` into `folder`; the files written."""
    paths = []
    for filename, writer in FORMATS.values():
        write_text_atomically(folder / filename, writer(report))
        paths.append(folder / filename)
    return paths


def to_json(report: Report) -> str:
    """The report as a JSON document of schema `archiver/report` version 1."""
    return json.dumps(_document(report), ensure_ascii=False, indent=2) + "\n"


def to_csv(report: Report) -> str:
    """One CSV row per link."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for link in _document(report)["links"]:
        capture = link["capture"]
        posts = "; ".join(f"{p['post']}:{p['line']}" for p in link["citations"])
        writer.writerow({**link, "capture": capture["replay"] if capture else "", "posts": posts})
    return buffer.getvalue()


def to_markdown(report: Report) -> str:
    """A short summary, for a pull request or an issue: totals and the links to act on."""
    document = _document(report)
    totals = document["totals"]["by_verdict"]
    lines = [
        f"## Link health: {document['totals']['links']} links",
        "",
        " · ".join(f"**{totals.get(v, 0)}** {v}" for v in (*[v.value for v in Verdict], UNCHECKED)),
        "",
    ]
    if report.unreachable:
        lines[1:1] = ["", f"> **The latest run does not count:** {report.unreachable}."]
    order = {"dead": 0, "failing": 1}
    worst = sorted((x for x in document["links"] if x["verdict"] in order), key=lambda x: order[x["verdict"]])
    if worst:
        lines += ["| verdict | status | URL | cited in |", "|---|---|---|---|"]
        lines += [_markdown_row(link) for link in worst[:_MARKDOWN_ROWS]]
        if len(worst) > _MARKDOWN_ROWS:
            lines.append(f"\n… and {len(worst) - _MARKDOWN_ROWS} more in report.html.")
    return "\n".join(lines) + "\n"


def to_html(report: Report) -> str:
    """The self-contained HTML page."""
    document = _document(report)
    template = _templates().get_template("report.html.j2")
    return template.render(
        report=document,
        verdicts=[*[v.value for v in Verdict], UNCHECKED],
        statuses=sorted({link["status"] for link in document["links"]}),
        hosts=sorted({link["host"] for link in document["links"]}),
        chart=_year_chart(document["rot_by_year"]),
    )


Writer = Callable[[Report], str]
# Every report format, by name: the file it is written to and its writer. A new format goes here.
FORMATS: dict[str, tuple[str, Writer]] = {
    "json": ("report.json", to_json),
    "csv": ("report.csv", to_csv),
    "markdown": ("report.md", to_markdown),
    "html": ("report.html", to_html),
}


def link_entries(report: Report) -> list[dict[str, Any]]:
    """The report's links as report.json's `links` entries, for other documents that share them."""
    posts = {post.path: post for post in report.posts}
    return [_link(row, posts, report.replay_url) for row in report.rows]


def _document(report: Report) -> dict[str, Any]:
    posts = {post.path: post for post in report.posts}
    links = [_link(row, posts, report.replay_url) for row in report.rows]
    return {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "generated_by": f"archiver {__version__}",
        "generated_at": utc_iso(report.generated_at),
        "policy": {"dead_after_checks": report.policy.checks, "dead_after_days": report.policy.days},
        "latest_run_unreachable": report.unreachable or None,
        "totals": {
            "links": len(links),
            "by_verdict": dict(Counter(link["verdict"] for link in links).most_common()),
            "by_status": dict(Counter(link["status"] for link in links).most_common()),
        },
        "links": links,
        "posts": _by_post(links, report.posts),
        "hosts": _by_host(links),
        "rot_by_year": _by_year(links, posts),
    }


def _link(row: Row, posts: dict[Path, Post], replay_url: str) -> dict[str, Any]:
    verdict = row.verdict
    latest = verdict.latest if verdict else None
    archived = verdict.last_archived if verdict else None
    return {
        "url": row.link.url,
        "kind": row.link.kind.value,
        "internal": row.link.internal,
        "host": row.host,
        "verdict": row.verdict_name,
        "status": latest.status.value if latest else UNCHECKED,
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


def _citation(path: Path, line: int, text: str, posts: dict[Path, Post]) -> dict[str, Any]:
    post = posts.get(path)
    return {
        "post": path.as_posix(),
        "line": line,
        "text": text,
        "title": post.title if post else None,
        "year": post.date.year if post and post.date else None,
    }


def _by_post(links: list[dict[str, Any]], posts: tuple[Post, ...]) -> list[dict[str, Any]]:
    counts: dict[str, Counter[str]] = {post.path.as_posix(): Counter() for post in posts}
    for link in links:
        for cited_in in {citation["post"] for citation in link["citations"]}:
            counts.setdefault(cited_in, Counter())[link["verdict"]] += 1
    by_path = {post.path.as_posix(): post for post in posts}
    rows = [
        _tally({"post": path, "title": by_path[path].title if path in by_path else None}, c)
        for path, c in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["dead"], -row["failing"], row["post"]))


def _by_host(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[str, Counter[str]] = {}
    for link in links:
        counts.setdefault(link["host"], Counter())[link["verdict"]] += 1
    rows = [_tally({"host": host}, c) for host, c in counts.items()]
    return sorted(rows, key=lambda row: (-row["dead"], -row["failing"], row["host"]))


def _by_year(links: list[dict[str, Any]], posts: dict[Path, Post]) -> list[dict[str, Any]]:
    counts: dict[int, Counter[str]] = {}
    for link in links:
        for year in {citation["year"] for citation in link["citations"] if citation["year"]}:
            counts.setdefault(year, Counter())[link["verdict"]] += 1
    return [_tally({"year": year}, counts[year]) for year in sorted(counts)]


def _tally(row: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
    return {
        **row,
        "links": sum(counts.values()),
        **{v.value: counts[v.value] for v in Verdict},
        UNCHECKED: counts[UNCHECKED],
    }


def _year_chart(years: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bar geometry for the link-rot-by-year chart: the share of each year's links that rot."""
    bars = []
    for index, year in enumerate(years):
        links = year["links"] or 1
        dead, failing = year["dead"] / links, year["failing"] / links
        geometry = {"x": 40 + index * 44, "dead_height": round(dead * 160), "failing_height": round(failing * 160)}
        bars.append({**year, **geometry, "rotten": round((dead + failing) * 100)})
    return bars


def _markdown_row(link: dict[str, Any]) -> str:
    cited = ", ".join(_code(f"{c['post'].rsplit('/', 1)[-1]}:{c['line']}") for c in link["citations"][:3])
    cells = (link["verdict"], link["status"], _autolink(link["url"]), cited)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"  # a | would end the cell


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
