"""Scheduled runs check only the links that are due, asking with the validators a server
gave; a 304 Not Modified is alive, stored as a revisit that replays the page captured before."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver import fetch as fetch_module
from archiver import job, schedule
from archiver.config import ScheduleSettings, load_config
from archiver.history import History, dead_policy
from archiver.model import Check, LinkVerdict, PriorCapture, RecordLocation, Status, Validators, Verdict
from archiver.pack import ARCHIVE_DIR
from archiver.times import timestamp14, utc_now
from tests.conftest import Web, write_blog
from tests.pywb import serving

HOUR = dt.timedelta(hours=1)


class Clock:
    """The run's clock (checks, schedule and WARC dates follow it), moved by hand."""

    def __init__(self) -> None:
        self.start = utc_now() - dt.timedelta(days=30)
        self.moved = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return self.start + self.moved


def _verdict(verdict: Verdict, failures: int, checked_at: dt.datetime) -> LinkVerdict:
    check = Check("http://a.test/", checked_at, Status.OK, 200, "http://a.test/", 1, "", None)
    return LinkVerdict("http://a.test/", verdict, check, 1, failures, None, None, None)


@pytest.mark.parametrize(
    ("verdict", "failures", "days"),
    [(Verdict.ALIVE, 0, 7), (Verdict.RECOVERED, 0, 7), (Verdict.FAILING, 1, 0), (Verdict.FAILING, 2, 1),
     (Verdict.DEAD, 5, 7), (Verdict.UNKNOWN, 0, 1)],
)  # fmt: skip
def test_each_verdict_is_due_after_its_own_interval(verdict: Verdict, failures: int, days: int) -> None:
    checked = dt.datetime(2026, 3, 1, 3, 0, 5, tzinfo=dt.UTC)

    assert schedule.next_due(_verdict(verdict, failures, checked), ScheduleSettings()) == checked + dt.timedelta(days)
    assert schedule.next_due(None, ScheduleSettings()) is None  # never checked: at once


def test_a_daily_job_started_a_little_early_still_does_the_work_due() -> None:
    checked = dt.datetime(2026, 3, 1, 3, 0, 40, tzinfo=dt.UTC)  # the check, 40 s after the job started
    url = "http://a.test/"
    cited = [(url, _verdict(Verdict.FAILING, 2, checked))]
    next_day = schedule.plan(cited, checked + dt.timedelta(days=1, seconds=-40), ScheduleSettings())
    too_soon = schedule.plan(cited, checked + dt.timedelta(hours=20), ScheduleSettings())

    assert next_day.due == (url,)
    assert (too_soon.due, too_soon.not_due) == ((), 1)
    assert too_soon.next_due == checked + dt.timedelta(days=1)


def test_runs_check_what_is_due_and_a_304_is_an_alive_revisit_that_replays(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"http://alpha.test:{web.ports['alpha.test']}"
    paths = {"validated": "/validated/scheduled", "plain": "/ok.html?scheduled", "missing": "/status/404?scheduled"}
    urls = {name: base + path for name, path in paths.items()}
    write_blog(tmp_path, web, list(urls.values()), fetch="  backoff: 0\n  attempts: 1\n")
    config = load_config(tmp_path / "config.yaml")
    clock = Clock()
    monkeypatch.setattr(fetch_module, "utc_now", clock)
    monkeypatch.setattr(job, "utc_now", clock)

    def hits() -> dict[str, int]:
        return {name: web.server.hits[("alpha.test", path)] for name, path in paths.items()}

    first = job.run(config, only_due=True)
    clock.moved = HOUR
    paths["new"] = "/validated/scheduled-new"
    (tmp_path / "posts" / "more.md").write_text(f"[new]({base}{paths['new']})\n", encoding="utf-8")
    an_hour_later = job.run(config, only_due=True)
    after_an_hour = hits()
    clock.moved = 2 * HOUR
    two_hours_later = job.run(config, only_due=True)
    clock.moved = dt.timedelta(days=7, hours=1)
    a_week_later = job.run(config, only_due=True)
    after_a_week = hits()
    asked = web.server.headers[("alpha.test", paths["validated"])]
    clock.moved = dt.timedelta(days=7, hours=2)
    everything = job.run(config)

    assert first.urls == 3
    assert after_an_hour == {"validated": 1, "plain": 1, "missing": 2, "new": 1}  # the first failure, again
    assert (an_hour_later.urls, an_hour_later.not_due) == (2, 2)
    assert (two_hours_later.urls, two_hours_later.not_due) == (0, 4)  # failing twice: daily from now on
    assert "4 links not due yet" in str(two_hours_later)
    assert after_a_week == {"validated": 2, "plain": 2, "missing": 3, "new": 2}
    assert asked["if-none-match"] == '"v1"'
    assert asked["if-modified-since"] == "Tue, 01 Sep 2026 10:00:00 GMT"
    assert (a_week_later.urls, a_week_later.not_modified) == (4, 2)
    assert everything.urls == 4
    with History.open(config.output_dir) as history:
        checks = history.checks(urls["validated"])
        verdicts = {verdict.url: verdict for verdict in history.verdicts(dead_policy(config.health))}
    original, unchanged = checks[0], checks[2]
    assert (unchanged.status, unchanged.code) == (Status.OK, 304)
    assert unchanged.detail.startswith("not modified since its capture of ")
    assert unchanged.payload_digest == original.payload_digest
    assert verdicts[urls["validated"]].verdict is Verdict.ALIVE
    assert unchanged.stored_at is not None
    assert unchanged.stored_at.revisit
    assert _revisit_profile(config.output_dir, unchanged).endswith("/warc/1.1/revisit/server-not-modified")
    assert not job.verify(config).unfixed
    with serving(config.output_dir, tmp_path / "pywb") as replay:
        when = timestamp14(dt.datetime.fromisoformat(unchanged.stored_at.date))
        replayed = httpx.get(f"{replay}/web/{when}id_/{urls['validated']}", timeout=30)
    assert replayed.status_code == 200
    assert b"<p>The page scheduled, unchanged.</p>" in replayed.content  # the page of the first capture


def _revisit_profile(folder: Path, check: Check) -> str:
    """The WARC-Profile of the revisit record a check names (which has no HTTP headers)."""
    assert check.stored_at is not None
    with (folder / ARCHIVE_DIR / check.stored_at.filename).open("rb") as stream:
        stream.seek(check.stored_at.offset)
        record = next(iter(ArchiveIterator(stream)))
    assert record.rec_type == "revisit"
    assert record.http_headers is None
    return str(record.rec_headers.get_header("WARC-Profile"))


def test_a_link_checked_only_by_archiver_check_is_due_for_the_next_run(tmp_path: Path, web: Web) -> None:
    url = web.url("alpha.test", "/ok.html?checked-first")
    write_blog(tmp_path, web, [url], fetch="  backoff: 0\n  attempts: 1\n")
    config = load_config(tmp_path / "config.yaml")

    checked = job.run(config, store=False)
    ran = job.run(config, only_due=True)
    again = job.run(config, only_due=True)

    assert (checked.urls, ran.urls, again.urls) == (1, 1, 0)  # check stores nothing: the run captures it
    assert len(ran.warc_files) == 1


def test_validators_come_only_from_an_answer_judged_alive_and_only_as_they_can_be_sent() -> None:
    now = utc_now()
    location = RecordLocation("a.warc.gz", 0, 10, "<urn:uuid:1>", "2026-01-01T00:00:00Z", "http://a.test/")
    validators = Validators('"v1"', "")
    alive = PriorCapture(location, "sha1:X", now, validators, Status.OK)
    soft_404 = PriorCapture(location, "sha1:X", now, validators, Status.SOFT_404)
    url = "http://a.test/"
    fresh = dt.timedelta(days=90)

    assert job._conditions([url], {url: alive}, now, fresh) == {url: validators}
    assert job._conditions([url], {url: soft_404}, now, fresh) == {}  # a 304 would make it alive
    assert job._conditions([url], {url: alive}, now + fresh, fresh) == {}  # due to be stored in full
    assert Validators.of([("ETag", '"caf\xe9"'), ("Last-Modified", "Tue, 01 Sep 2026 10:00:00 GMT")]) == Validators(
        "", "Tue, 01 Sep 2026 10:00:00 GMT"
    )


def test_a_small_scheduled_run_on_a_machine_gone_offline_does_not_count(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    alive = [web.url("alpha.test", f"/ok.html?witness-{i}") for i in range(3)]
    write_blog(tmp_path, web, alive, fetch="  backoff: 0\n  attempts: 1\n")
    online = load_config(tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text("utf-8")
    # Offline: every name leads where nothing listens (refused), as a machine without a network does.
    (tmp_path / "offline.yaml").write_text(text.replace("127.0.0.2", "127.0.0.9").replace("127.0.0.3", "127.0.0.9"))
    offline = load_config(tmp_path / "offline.yaml")
    clock = Clock()
    monkeypatch.setattr(fetch_module, "utc_now", clock)
    monkeypatch.setattr(job, "utc_now", clock)
    job.run(online, only_due=True)
    clock.moved = HOUR
    new = web.url("beta.test", "/ok.html?witnessed")
    (tmp_path / "posts" / "new.md").write_text(f"[new]({new})\n", encoding="utf-8")

    cut_off = job.run(offline, only_due=True)  # one new link due, on one host: too few to tell alone

    assert (cut_off.urls, cut_off.not_due) == (1, 3)
    assert "sites of links alive at their last check" in cut_off.unreachable
    assert web.server.hits[("alpha.test", "/ok.html?witness-0")] == 1  # the links themselves are not asked
    with History.open(online.output_dir) as history:
        assert history.last_run_unreachable()
        assert {verdict.url for verdict in history.verdicts(dead_policy(online.health))} == set(alive)
