"""A run without a network counts for nothing: the offline guard (`archiver.reach`), its
mark in the history, the report's notice and the exit code; and what is not an outage."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from archiver import cli, reach
from archiver import fetch as fetch_module
from archiver.cli import ExitCode
from archiver.fetch.errors import CONNECT_TIMEOUT_DETAIL, READ_TIMEOUT_DETAIL, status_for_error
from archiver.fetch.network import NAME_RESOLUTION_FAILED, ResolverFailed
from archiver.history import History
from archiver.model import Check, FetchResult, Hop, Status
from archiver.times import utc_now
from tests.conftest import Web

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
NOWHERE = "127.0.0.66"  # a loopback address nothing listens on: every connection is refused


def _result(url: str, status: Status, code: int | None = None, detail: str = "") -> FetchResult:
    hops = (Hop(url, code),) if code is not None else ()
    return FetchResult(url, status, code, url, hops, 1, 0.0, NOW, detail=detail)


def _failed_at_dns(host: str) -> FetchResult:
    return _result(f"http://{host}/a", Status.DNS_FAILURE, detail=f"{host}: Name or service not known")


def test_three_hosts_failing_at_dns_or_connect_and_none_answering_is_an_unreachable_network() -> None:
    results = [
        _failed_at_dns("a.example"),
        _result("http://b.example/x", Status.REFUSED, detail="Connection refused"),
        _result("http://b.example/y", Status.REFUSED, detail="Connection refused"),
        _result("https://c.example/", Status.TIMEOUT, detail=CONNECT_TIMEOUT_DETAIL),
    ]

    found = reach.unreachable(results)

    assert found == reach.Unreachable(hosts=3, at_dns=1, at_connect=2)
    assert str(found) == (
        "the network looked unreachable: 3 of 3 hosts failed at DNS/connect (1 at DNS, 2 at connect); "
        "this run does not count"
    )


def test_hosts_the_run_learned_time_out_on_connect_count_as_failing_at_connect() -> None:
    learned = "timed out 3 times in a row earlier in this run"
    results = [
        _result(
            f"http://{name}.example/{i}",
            Status.TIMEOUT,
            detail=f"http://{name}.example {learned}: {CONNECT_TIMEOUT_DETAIL}",
        )
        for name in "abc"
        for i in range(2)
    ]  # every URL of each host ended on what the run had learned
    read = _result("http://d.example/", Status.TIMEOUT, detail=f"http://d.example {learned}: {READ_TIMEOUT_DETAIL}")

    assert reach.unreachable(results) == reach.Unreachable(hosts=3, at_dns=0, at_connect=3)
    assert reach.reached(read)  # it took the connection: the network was there


@pytest.mark.parametrize(
    "answered",
    [
        _result("http://d.example/", Status.NOT_FOUND, 404),  # a dead page is an answer
        _result("http://d.example/", Status.TIMEOUT, detail="no data within the read timeout"),  # connected
        _result("https://d.example/", Status.TLS_ERROR, detail="certificate verify failed"),  # connected
        _result("http://d.example/", Status.RESET, detail="peer closed connection"),
    ],
)
def test_one_host_that_answered_anything_means_the_network_was_there(answered: FetchResult) -> None:
    results = [_failed_at_dns(f"{name}.example") for name in "abc"] + [answered]

    assert reach.unreachable(results) is None


def test_fewer_than_three_hosts_failing_is_what_a_few_dead_sites_look_like() -> None:
    results = [_failed_at_dns("a.example"), _failed_at_dns("a.example"), _failed_at_dns("b.example")]

    assert reach.unreachable(results) is None
    assert reach.unreachable([]) is None


def test_a_canary_that_answers_makes_the_run_count_and_one_that_does_not_only_if_nothing_else_answered() -> None:
    every_host_down = [_failed_at_dns(f"{name}.example") for name in "abcdef"]
    canary_up = _result("https://blog.example/", Status.OK, 200)
    canary_down = _failed_at_dns("blog.example")
    one_host_up = [*every_host_down, _result("http://g.example/", Status.OK, 200)]

    assert reach.unreachable(every_host_down, [canary_down, canary_up]) is None  # the gone hosts are simply gone
    assert reach.unreachable(one_host_up, [canary_down]) is None  # the canary's own host is down
    assert reach.unreachable(every_host_down[:1], [canary_down]) == reach.Unreachable(1, 1, 0, by_canaries=True)
    assert reach.unreachable([], [canary_down, None]) == reach.Unreachable(2, 1, 0, by_canaries=True)
    assert "2 of 2 configured canary URLs failed" in str(reach.unreachable([], [canary_down, None]))


@pytest.mark.parametrize(
    "neutral",
    [
        _result("http://localhost:4000/", Status.BLOCKED, detail="localhost resolves to 127.0.0.1"),
        _result("http://e.example/doc", Status.DISALLOWED, detail="disallowed by robots.txt"),
        _result("http://e.example/x", Status.UNSUPPORTED, detail="not a fetchable URL"),
        _result("http://e.example/y", Status.TIMEOUT, detail="no complete answer within 120 s"),
        _result("http://e.example/z", Status.NETWORK_ERROR, detail="internal error: ValueError()"),
    ],
)
def test_what_the_fetcher_refused_or_cannot_place_says_nothing_either_way(neutral: FetchResult) -> None:
    down = [_failed_at_dns(f"{name}.example") for name in "abc"]

    assert reach.unreachable([*down, neutral]) == reach.Unreachable(3, 3, 0)
    assert reach.unreachable([*down[:2], neutral]) is None  # two failing hosts: not enough, the other says nothing
    assert not reach.reached(neutral)


def test_a_stored_check_is_judged_as_a_fetch_result_is() -> None:
    answered = Check("http://a.example/", NOW, Status.NOT_FOUND, 404, "http://a.example/", 1, "", None, None)
    redirected_then_failed = Check("http://b.example/", NOW, Status.DNS_FAILURE, None, "http://c.example/", 1,
                                   "c.example: Name or service not known", None, None)  # fmt: skip

    assert reach.reached(answered)
    assert reach.reached(redirected_then_failed)  # b.example answered with a redirect
    assert reach.unreachable([answered, *[_failed_at_dns(f"{name}.example") for name in "xyz"]]) is None


def test_a_resolver_that_does_not_answer_is_a_network_error_at_dns() -> None:
    cause = ResolverFailed(f"a.example: {NAME_RESOLUTION_FAILED}: Temporary failure in name resolution")
    error = httpx.ConnectError("connect failed")
    error.__cause__ = cause

    status, detail = status_for_error(error)

    assert status is Status.NETWORK_ERROR
    assert reach.failed_at_dns(_result("http://a.example/", status, detail=detail))
    assert not reach.failed_at_dns(_result("http://a.example/", Status.NETWORK_ERROR, detail="internal error"))


class Clock:
    """The fetcher's clock, moved by whole days (checks are dated by it)."""

    def __init__(self) -> None:
        self.start = utc_now() - dt.timedelta(days=5)
        self.days = 0.0

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(days=self.days)


def _project(folder: Path, web: Web) -> tuple[Path, Path, dict[str, str]]:
    """A post citing three live pages on three hosts and one dead one, and two configs on
    one output folder: the test web as it is, and the same web with the network gone."""
    links = {
        "alpha": web.url("alpha.test", "/ok.html"),
        "beta": web.url("beta.test", "/ok.html"),
        "secure": web.url("secure.test", "/ok.html"),
        "dead": web.url("alpha.test", "/status/404"),
    }
    (folder / "posts").mkdir()
    body = "\n\n".join(f"See [{name}]({url})." for name, url in links.items())
    (folder / "posts" / "post.md").write_text(f"---\ntitle: Links\ndate: 2020-01-01\n---\n{body}\n", encoding="utf-8")
    hosts = {"alpha.test": "127.0.0.2", "beta.test": "127.0.0.3", "secure.test": "127.0.0.4"}
    online = _config(folder / "online.yaml", web, hosts)
    offline = _config(folder / "offline.yaml", web, dict.fromkeys(hosts, NOWHERE))
    return online, offline, links


def _config(path: Path, web: Web, resolve: dict[str, str], fetch: str = "") -> Path:
    """A config file for the project, fetching through `resolve`, with more `fetch` lines."""
    addresses = ", ".join(f"{host}: {address}" for host, address in resolve.items())
    path.write_text(
        "posts:\n  paths: [posts]\n"
        "fetch:\n  allow_networks: [127.0.0.0/8]\n"
        f"  resolve: {{{addresses}}}\n  ca_bundle: {web.ca_file}\n"
        f"  backoff: 0\n  connect_timeout: 2\n  read_timeout: 2\n  attempts: 2\n{fetch}"
        "output:\n  dir: archives\n",
        encoding="utf-8",
    )
    return path


def _report(folder: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((folder / "archives" / "report.json").read_text(encoding="utf-8"))
    return document


def test_three_offline_runs_over_four_days_call_nothing_dead_and_the_next_run_goes_on_as_if_they_never_were(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    online, offline, links = _project(tmp_path, web)
    clock = Clock()
    monkeypatch.setattr(fetch_module, "utc_now", clock)

    for day in (0, 1.5, 4):  # three failures over four days: dead, by the default policy, were they counted
        clock.days = day
        code = cli.main(["run", "--config", str(offline), "--fail-on", "failing"])
        out, err = capsys.readouterr()

        assert code == ExitCode.UNREACHABLE
        message = "the network looked unreachable: 3 of 3 hosts failed at DNS/connect (0 at DNS, 3 at connect)"
        assert f"archiver: warning: {message}; this run does not count" in err
        assert "0 alive, 0 failing, 0 dead, 0 recovered, 0 unknown, 4 unchecked" in out
        report = _report(tmp_path)
        assert report["latest_run_unreachable"] == f"{message}; this run does not count"
        assert "The latest run does not count" in (tmp_path / "archives" / "report.md").read_text(encoding="utf-8")
        header = json.loads((tmp_path / "archives" / "results.jsonl").read_text(encoding="utf-8").split("\n")[0])
        assert header["unreachable"] == f"{message}; this run does not count"

    with History.open(tmp_path / "archives") as history:
        assert [check.status for check in history.checks(links["dead"])] == [Status.REFUSED] * 3  # kept, marked

    restored = cli.main(["restore", "--config", str(offline), "--links", "--include-failing", "--dry-run"])
    assert restored == ExitCode.OK
    assert capsys.readouterr().out.startswith("0 URLs to restore:")  # it acts only on runs that count

    clock.days = 5
    code = cli.main(["run", "--config", str(online), "--fail-on", "dead"])
    out, err = capsys.readouterr()

    assert code == ExitCode.OK, err
    assert "unreachable" not in err
    verdicts = {link["url"]: (link["verdict"], link["failures_in_a_row"]) for link in _report(tmp_path)["links"]}  # type: ignore[attr-defined]
    assert verdicts == {
        links["alpha"]: ("alive", 0),
        links["beta"]: ("alive", 0),
        links["secure"]: ("alive", 0),
        links["dead"]: ("failing", 1),  # its first counted failure; the three refusals were not the site's
    }
    assert _report(tmp_path)["latest_run_unreachable"] is None
    header = json.loads((tmp_path / "archives" / "results.jsonl").read_text(encoding="utf-8").split("\n")[0])
    assert "unreachable" not in header


def test_one_host_down_among_live_ones_is_an_outage_of_that_host_and_the_run_counts(
    tmp_path: Path, web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, links = _project(tmp_path, web)
    hosts = {"alpha.test": "127.0.0.2", "beta.test": NOWHERE, "secure.test": "127.0.0.4"}
    config = _config(tmp_path / "partial.yaml", web, hosts)

    code = cli.main(["run", "--config", str(config)])
    out, err = capsys.readouterr()

    assert code == ExitCode.OK, err
    assert "unreachable" not in err + out
    verdicts = {link["url"]: link["verdict"] for link in _report(tmp_path)["links"]}  # type: ignore[attr-defined]
    assert verdicts[links["beta"]] == "failing"
    assert verdicts[links["alpha"]] == "alive"


def test_a_resumed_run_that_reached_the_network_before_it_was_interrupted_still_counts(
    tmp_path: Path, web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    _, offline, links = _project(tmp_path, web)
    with History.open(tmp_path / "archives") as history:  # a run interrupted after one good check
        run_id, _ = history.resume_or_start("run", NOW)
        history.add_check(run_id, _result(links["alpha"], Status.OK, 200))

    code = cli.main(["run", "--config", str(offline)])
    out, err = capsys.readouterr()

    assert code == ExitCode.OK, err
    assert "resumed an interrupted run (1 URLs done before)" in out
    verdicts = {link["url"]: link["verdict"] for link in _report(tmp_path)["links"]}  # type: ignore[attr-defined]
    assert verdicts == {links["alpha"]: "alive", links["beta"]: "failing", links["secure"]: "failing",
                        links["dead"]: "failing"}  # fmt: skip


def test_a_canary_that_answers_makes_a_run_of_refused_hosts_count_and_one_that_does_not_makes_it_not(
    tmp_path: Path, web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, links = _project(tmp_path, web)
    hosts_down = {"alpha.test": NOWHERE, "beta.test": NOWHERE, "secure.test": NOWHERE}
    canary = f"  canaries: [http://canary.test:{web.ports['alpha.test']}/ok.html]\n"
    canary_up = _config(tmp_path / "up.yaml", web, {**hosts_down, "canary.test": "127.0.0.2"}, canary)
    canary_down = _config(tmp_path / "down.yaml", web, {**hosts_down, "canary.test": NOWHERE}, canary)

    assert cli.main(["run", "--config", str(canary_up)]) == ExitCode.OK
    assert "unreachable" not in capsys.readouterr().err
    verdicts = {link["url"]: link["verdict"] for link in _report(tmp_path)["links"]}  # type: ignore[attr-defined]
    assert verdicts == dict.fromkeys(links.values(), "failing")

    assert cli.main(["run", "--config", str(canary_down)]) == ExitCode.UNREACHABLE
    assert "1 of 1 configured canary URLs failed at DNS/connect (0 at DNS, 1 at connect)" in capsys.readouterr().err


def test_with_robots_obeyed_a_host_that_cannot_be_reached_fails_as_unreachable_not_disallowed(
    tmp_path: Path, web: Web, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, links = _project(tmp_path, web)
    hosts = {"alpha.test": NOWHERE, "beta.test": NOWHERE, "secure.test": NOWHERE}
    config = _config(tmp_path / "robots.yaml", web, hosts, "  robots: true\n")

    code = cli.main(["run", "--config", str(config)])

    assert code == ExitCode.UNREACHABLE, capsys.readouterr().err
    with History.open(tmp_path / "archives") as history:
        (check,) = history.checks(links["alpha"])
    assert check.status is Status.REFUSED
    assert check.detail.startswith("robots.txt could not be fetched: ")
