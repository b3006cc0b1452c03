"""Submitting live links to a save endpoint: a local one that writes down every request."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import socket
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from archiver import job, submit
from archiver.atomic import write_text_atomically
from archiver.config import Config, ExtractSettings, HealthSettings, SubmitSettings, load_config
from archiver.extract import extract
from archiver.extract.listing import to_json
from archiver.history import History, dead_policy
from archiver.model import FetchResult, Status, Submission
from archiver.redact import Redactor
from tests.conftest import Web, write_blog
from tests.test_restore import Server, serve

ALIVE = ["http://public.example/a", "http://public.example/b", "http://www.public.example/c"]
DEAD = "http://public.example/gone"
PRIVATE = ["http://10.0.0.5/wiki", "http://intranet.example/", "http://localhost:8000/notes"]
RECENT = "http://recent.example/page"
SECRET = "http://public.example/doc?access_token=abc123"
UNCITED = "http://public.example/no-longer-cited"
NOW = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


class SaveEndpoint(Server):
    """A save endpoint: its first answer is 429 with Retry-After; it notes each request and when."""

    asked: list[tuple[float, str]] = []  # noqa: RUF012 - one list per test, set by the test

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.asked.append((time.monotonic(), self.path))
        if len(self.asked) == 1:
            self.answer(429, b"slow down", "text/plain", {"Retry-After": "1"})
        else:
            self.answer(302, b"", "text/plain", {"Location": "/web/20261102120000/" + self.path.split("/save/", 1)[1]})


def _blog(folder: Path, web: Web, endpoint: str, daily_cap: int) -> Config:
    post = folder / "posts" / "post.md"
    post.parent.mkdir(parents=True)
    post.write_text(
        "".join(f"[{i}]({url})\n\n" for i, url in enumerate([*ALIVE, DEAD, *PRIVATE, RECENT, SECRET])), "utf-8"
    )
    resolve = {"public.example": "93.184.216.34", "www.public.example": "93.184.216.34",
               "recent.example": "93.184.216.35", "intranet.example": "192.168.1.2"}  # fmt: skip
    config = Config(
        source=None, post_paths=(post,), output_dir=folder / "out", extract=ExtractSettings(),
        fetch=web.settings(resolve=resolve, retry_after_max=5.0),
        health=HealthSettings(dead_after_checks=1, dead_after_days=0),
        submit=SubmitSettings(enabled=True, url=f"{endpoint}/save/", requests_per_minute=120, daily_cap=daily_cap),
    )  # fmt: skip
    config.output_dir.mkdir()
    write_text_atomically(config.output_dir / job.LINKS_FILE, to_json(extract(config.post_paths, config.extract)))
    when = NOW - dt.timedelta(hours=1)
    checks = [
        FetchResult(url, Status.OK, 200, url, (), 1, 0.0, when) for url in [*ALIVE, *PRIVATE, RECENT, UNCITED, SECRET]
    ]
    checks.append(FetchResult(DEAD, Status.NOT_FOUND, 404, DEAD, (), 1, 0.0, when))
    with History.open(config.output_dir) as history:
        history.record_run("run", when, checks)
        history.add_submissions([Submission(RECENT, NOW - dt.timedelta(days=2), 302, True, "answered 302")])
    return config


def test_only_live_public_links_without_secrets_not_submitted_lately_go_out_at_the_rate(
    tmp_path: Path, web: Web
) -> None:
    SaveEndpoint.asked = []
    with serve(SaveEndpoint) as endpoint:
        config = _blog(tmp_path, web, endpoint, daily_cap=2)
        first = job.submit_live_links(config, NOW)
        again = job.submit_live_links(config, NOW + dt.timedelta(hours=1))
        next_day = job.submit_live_links(config, NOW + dt.timedelta(days=1, minutes=1))

    paths = [path for _, path in SaveEndpoint.asked]
    assert paths == [f"/save/{ALIVE[0]}", f"/save/{ALIVE[0]}", f"/save/{ALIVE[1]}", f"/save/{ALIVE[2]}"]
    times = [moment for moment, _ in SaveEndpoint.asked]
    assert times[1] - times[0] >= 1.0  # Retry-After
    assert min(later - earlier for earlier, later in itertools.pairwise(times[:3])) >= 0.4  # 120 a minute, in one run
    assert [(s.url, s.accepted) for s in first.submissions] == [(ALIVE[0], True), (ALIVE[1], True)]
    assert (first.waiting, first.private) == (1, 3)  # the daily cap; never the private addresses
    assert again.submissions == ()  # the cap holds for 24 hours
    assert [s.url for s in next_day.submissions] == [ALIVE[2]]  # the others were submitted lately
    with History.open(config.output_dir) as history:
        kept = history.submissions(NOW - dt.timedelta(days=30))
    assert [s.url for s in kept] == [RECENT, ALIVE[0], ALIVE[1], ALIVE[2]]
    assert str(first) == (
        "submitted 2 live links to the archive (2 accepted), 1 left for a later run, "
        "3 of those looked at not offered for their private addresses"
    )


def test_submitting_is_off_by_default() -> None:
    assert not Config(source=None, post_paths=(), output_dir=Path(), extract=ExtractSettings()).submit.enabled


def test_a_run_offers_its_live_links_and_never_those_on_private_addresses(tmp_path: Path, web: Web) -> None:
    SaveEndpoint.asked = []
    urls = [web.url("alpha.test", "/ok.html"), web.url("beta.test", "/ok.html")]  # alive, on loopback
    with serve(SaveEndpoint) as endpoint:
        write_blog(tmp_path, web, urls, more=f"submit: {{enabled: true, url: '{endpoint}/save/'}}\n")
        summary = job.run(load_config(tmp_path / "config.yaml"))

    assert SaveEndpoint.asked == []
    assert summary.submitted.endswith(
        "0 left for a later run, 2 of those looked at not offered for their private addresses"
    )


def test_neither_a_check_nor_a_run_over_a_command_lines_own_posts_offers_anything(tmp_path: Path, web: Web) -> None:
    urls = [web.url("alpha.test", "/ok.html"), web.url("beta.test", "/ok.html")]
    with serve(SaveEndpoint) as endpoint:
        write_blog(tmp_path, web, urls, more=f"submit: {{enabled: true, url: '{endpoint}/save/'}}\n")
        config = load_config(tmp_path / "config.yaml")
        checked = job.run(config, store=False)
        given = job.run(config, offer=False)  # as `archiver run PATH|URL|-` asks
        configured = job.run(config)

    assert (checked.submitted, given.submitted) == ("", "")
    assert configured.submitted.startswith("submitted 0 live links")  # offered, though loopback is never sent


class Accepting(Server):
    """A save endpoint that takes every request at once and notes each."""

    asked: list[str] = []  # noqa: RUF012 - one list per test, set by the test

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.asked.append(self.path)
        self.answer(302, b"", "text/plain", {"Location": "/web/20261102120000/"})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_submission_the_endpoint_never_answered_ends_the_round_and_takes_no_room(web: Web) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/save/"
    settings = SubmitSettings(enabled=True, url=url, requests_per_minute=6000, daily_cap=5)
    fetch = web.settings(resolve={"public.example": "93.184.216.34", "www.public.example": "93.184.216.34"})
    summary = asyncio.run(submit.submit(ALIVE, settings, fetch, room=5, now=NOW))

    assert [(s.url, s.code, s.accepted) for s in summary.submissions] == [(ALIVE[0], None, False)]
    assert (summary.waiting, summary.private) == (2, 0)  # the others wait for the endpoint to come back
    assert submit.room_today(summary.submissions, settings, NOW) == 5  # it reached no one


def test_a_failed_submission_is_offered_again_after_a_day_an_accepted_one_after_resubmit_after_days(
    tmp_path: Path, web: Web
) -> None:
    config = _blog(tmp_path, web, "http://127.0.0.1:9", daily_cap=5)
    earlier = [
        Submission(ALIVE[0], NOW - dt.timedelta(hours=2), None, False, "timeout: no answer"),
        Submission(ALIVE[1], NOW - dt.timedelta(hours=25), 503, False, "answered 503"),
        Submission(ALIVE[2], NOW - dt.timedelta(hours=25), 302, True, "answered 302"),
        Submission(RECENT, NOW - dt.timedelta(days=2), 302, True, "answered 302"),
    ]
    with History.open(config.output_dir) as history:
        verdicts = {v.url: v for v in history.verdicts(dead_policy(config.health))}
    links = extract(config.post_paths, config.extract).fetchable
    due = submit.due(links, verdicts, earlier, config.submit, now=NOW, shown=Redactor(config.report.secret_params))

    assert ALIVE[0] not in due  # failed two hours ago: tried again tomorrow
    assert ALIVE[1] in due  # failed over a day ago
    assert ALIVE[2] not in due  # accepted lately
    assert RECENT not in due
    assert submit.room_today(earlier, config.submit, NOW) == 5  # the unanswered one takes no room; the others are older


def test_addresses_are_looked_up_once_a_host_and_only_until_the_room_is_used(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    public = submit._public

    async def counted(url: str, resolve: Mapping[str, str]) -> bool:
        looked_up.append(url)
        return await public(url, resolve)

    monkeypatch.setattr(submit, "_public", counted)
    Accepting.asked = []
    urls = [PRIVATE[1], ALIVE[0], ALIVE[1], PRIVATE[0], ALIVE[2]]
    fetch = web.settings(resolve={"public.example": "93.184.216.34", "intranet.example": "192.168.1.2"})
    with serve(Accepting) as endpoint:
        settings = SubmitSettings(enabled=True, url=f"{endpoint}/save/", requests_per_minute=6000)
        none = asyncio.run(submit.submit(urls, settings, fetch, room=0, now=NOW))
        assert (none.submissions, none.waiting, none.private, looked_up) == ((), 5, 0, [])
        two = asyncio.run(submit.submit(urls, settings, fetch, room=2, now=NOW))

    assert Accepting.asked == [f"/save/{ALIVE[0]}", f"/save/{ALIVE[1]}"]
    assert looked_up == [PRIVATE[1], ALIVE[0]]  # public.example once; nothing after the room was used
    assert (two.waiting, two.private) == (2, 1)
