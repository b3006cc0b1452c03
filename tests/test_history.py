"""Verdicts across runs, on a simulated clock, stored in a real SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.errors import OutputError
from archiver.history import _MIGRATIONS, SCHEMA_VERSION, History
from archiver.model import DeadPolicy, FetchResult, Hop, RecordLocation, Status, Validators, Verdict

URL = "http://example.org/page"
DAY0 = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)


def result(day: float, status: Status, url: str = URL, captured: bool = False) -> FetchResult:
    code = {Status.OK: 200, Status.NOT_FOUND: 404, Status.ACCESS_DENIED: 403}.get(status)
    return FetchResult(
        url=url,
        status=status,
        code=code,
        final_url=url,
        hops=(),
        attempts=1,
        duration=0.1,
        checked_at=DAY0 + dt.timedelta(days=day),
        stored_at=RecordLocation("a.warc.gz", 10, 20) if captured else None,
    )


def run_on(history: History, day: float, *results: FetchResult) -> None:
    history.record_run("run", DAY0 + dt.timedelta(days=day), results)


def verdict(history: History, url: str = URL) -> tuple[Verdict, dt.datetime | None, dt.datetime | None]:
    found = {v.url: v for v in history.verdicts(DeadPolicy())}[url]
    return found.verdict, found.dead_since, found.last_seen_alive


def test_alive_then_failing_then_dead_then_recovered(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        run_on(history, 0, result(0, Status.OK, captured=True))
        assert verdict(history) == (Verdict.ALIVE, None, DAY0)

        run_on(history, 1, result(1, Status.NOT_FOUND))
        assert verdict(history) == (Verdict.FAILING, None, DAY0)

        run_on(history, 2, result(2, Status.NOT_FOUND))
        assert verdict(history)[0] is Verdict.FAILING  # three failures are needed

        run_on(history, 3, result(3, Status.NOT_FOUND))
        assert verdict(history)[0] is Verdict.FAILING  # three checks, but only two days apart

        run_on(history, 4, result(4, Status.DNS_FAILURE))
        assert verdict(history) == (Verdict.DEAD, DAY0 + dt.timedelta(days=1), DAY0)

        run_on(history, 5, result(5, Status.OK))
        assert verdict(history) == (Verdict.RECOVERED, None, DAY0 + dt.timedelta(days=5))

        run_on(history, 6, result(6, Status.OK))
        run_on(history, 7, result(7, Status.OK))
        assert verdict(history)[0] is Verdict.ALIVE  # good for three checks: simply alive again


def test_a_run_marked_unreachable_is_kept_but_counts_for_no_verdict(tmp_path: Path) -> None:
    why = "the network looked unreachable: 4 of 4 hosts failed at DNS/connect (4 at DNS, 0 at connect)"
    with History.open(tmp_path) as history:
        run_on(history, 0, result(0, Status.OK))
        for day in (1, 2, 3, 4):
            run_id, _ = history.resume_or_start("run", DAY0 + dt.timedelta(days=day))
            history.add_check(run_id, result(day, Status.DNS_FAILURE))
            history.finish_run(run_id, why)
        assert verdict(history) == (Verdict.ALIVE, None, DAY0)  # four failures over four days, none counted
        assert history.last_run_unreachable() == why
        assert len(history.checks(URL)) == 5

        run_on(history, 5, result(5, Status.NOT_FOUND))
        found = history.verdicts(DeadPolicy())[0]
        assert (found.verdict, found.failures_in_a_row, found.checks) == (Verdict.FAILING, 1, 2)
        assert history.last_run_unreachable() == ""


def test_the_verdicts_before_the_latest_run_that_counts(tmp_path: Path) -> None:
    other = "http://example.org/other"
    with History.open(tmp_path) as history:
        run_on(history, 0, result(0, Status.OK), result(0, Status.OK, other))
        assert history.previous_verdicts(DeadPolicy()) is None  # one run: nothing to compare with
        run_on(history, 2, result(2, Status.NOT_FOUND))  # the other URL is not checked again
        run_id, _ = history.resume_or_start("run", DAY0 + dt.timedelta(days=4))
        history.add_check(run_id, result(4, Status.DNS_FAILURE))
        history.finish_run(run_id, "the network looked unreachable")

        previous = history.previous_verdicts(DeadPolicy())

    assert previous is not None
    since, verdicts = previous
    assert since == DAY0  # the run before the latest that counts (the unreachable one does not)
    assert {v.url: (v.verdict, v.checks) for v in verdicts} == {URL: (Verdict.ALIVE, 1), other: (Verdict.ALIVE, 1)}


def test_a_check_keeps_its_hops_duration_size_and_validators(tmp_path: Path) -> None:
    hops = (Hop(URL, 301, "/b"), Hop("http://a.example/b", 200))
    validators = Validators('W/"x1"', "Tue, 01 Sep 2026 10:00:00 GMT")
    with History.open(tmp_path) as history:
        checked = replace(result(0, Status.REDIRECTED), hops=hops, duration=1.25, size=5120, validators=validators)
        run_on(history, 0, checked)
        (check,) = history.checks(URL)

    assert (check.hops, check.duration, check.size, check.validators) == (hops, 1.25, 5120, validators)


def test_many_failures_in_one_day_are_not_dead(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        for hour in range(6):
            run_on(history, hour / 24, result(hour / 24, Status.TIMEOUT))

        assert verdict(history)[0] is Verdict.FAILING


def test_a_good_check_breaks_the_streak(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        for day, status in enumerate([Status.NOT_FOUND, Status.NOT_FOUND, Status.OK, Status.NOT_FOUND, Status.GONE]):
            run_on(history, day * 2, result(day * 2, status))

        assert verdict(history)[0] is Verdict.FAILING


def test_unknown_checks_never_make_a_link_dead(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        for day in range(0, 10, 2):
            run_on(history, day, result(day, Status.ACCESS_DENIED))

        assert verdict(history)[0] is Verdict.UNKNOWN


def test_unknown_checks_do_not_break_a_failing_streak(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        for day, status in enumerate([Status.NOT_FOUND, Status.BOT_WALL, Status.NOT_FOUND, Status.NOT_FOUND]):
            run_on(history, day * 2, result(day * 2, status))

        assert verdict(history) == (Verdict.DEAD, DAY0, None)


def test_policy_is_configurable(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        run_on(history, 0, result(0, Status.NOT_FOUND))
        run_on(history, 0.5, result(0.5, Status.NOT_FOUND))
        verdicts = {v.url: v.verdict for v in history.verdicts(DeadPolicy(checks=2, days=0.5))}

    assert verdicts[URL] is Verdict.DEAD


def test_checks_survive_reopening_and_keep_where_the_capture_is(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        run_on(history, 0, result(0, Status.OK, captured=True), result(0, Status.GONE, url="http://example.org/gone"))
    with History.open(tmp_path) as history:
        checks = history.checks(URL)
        found = {v.url: v for v in history.verdicts(DeadPolicy())}

    assert [(c.status, *((c.stored_at.filename, c.stored_at.offset, c.stored_at.length) if c.stored_at else ()))
            for c in checks] == [(Status.OK, "a.warc.gz", 10, 20)]  # fmt: skip
    assert found[URL].last_archived == checks[0]
    assert found["http://example.org/gone"].verdict is Verdict.FAILING


def test_schema_version_is_recorded_and_a_newer_one_is_refused(tmp_path: Path) -> None:
    History.open(tmp_path).close()
    with sqlite3.connect(tmp_path / "history.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(OutputError, match="newer than this archiver knows"):
        History.open(tmp_path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "history.sqlite").write_bytes(b"not a database" * 100)

    with pytest.raises(OutputError, match=r"history\.sqlite: cannot use the history database"):
        History.open(tmp_path)


def test_a_status_from_a_newer_archiver_reads_as_unrecognized(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        run_on(history, 0, result(0, Status.OK))
    with sqlite3.connect(tmp_path / "history.sqlite") as connection:
        connection.execute("UPDATE checks SET status = 'archived-elsewhere'")
    with History.open(tmp_path) as history:
        assert verdict(history)[0] is Verdict.UNKNOWN
        assert history.checks(URL)[0].status is Status.UNRECOGNIZED


def test_the_order_of_runs_wins_over_a_clock_that_went_back(tmp_path: Path) -> None:
    with History.open(tmp_path) as history:
        run_on(history, 1, result(1, Status.NOT_FOUND))
        run_on(history, 0.2, result(0.2, Status.OK))  # the clock was corrected between the runs

        assert verdict(history)[0] is Verdict.ALIVE
        assert [c.status for c in history.checks(URL)] == [Status.NOT_FOUND, Status.OK]


def test_processes_opening_a_new_history_at_once_do_not_collide(tmp_path: Path) -> None:
    script = (
        "import sys, pathlib; from archiver.history import History; History.open(pathlib.Path(sys.argv[1])).close()"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stderr=subprocess.PIPE) for _ in range(6)
    ]

    errors = [process.communicate(timeout=60)[1].decode() for process in processes]

    assert [process.returncode for process in processes] == [0] * 6, errors
    with sqlite3.connect(tmp_path / "history.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_1_history_is_upgraded_in_place_keeping_its_checks(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "history.sqlite") as connection:
        for statement in _MIGRATIONS[1]:
            connection.execute(statement)
        connection.execute("PRAGMA user_version = 1")
        connection.execute(
            "INSERT INTO runs (kind, started_at, finished_at) VALUES ('run', ?, ?)", (DAY0.isoformat(),) * 2
        )
        connection.execute(
            "INSERT INTO checks (run_id, url, checked_at, status, code, final_url, attempts, detail,"
            " payload_digest, warc_filename, warc_offset, warc_length)"
            " VALUES (1, ?, ?, 'ok', 200, ?, 1, '', 'sha1:X', 'a.warc.gz', 0, 9)",
            (URL, DAY0.isoformat(), URL),
        )

    with History.open(tmp_path) as history:
        (check,) = history.checks(URL)
        (verdict,) = history.verdicts(DeadPolicy())  # the old run counts

    assert check.stored_at is not None
    assert (check.status, check.stored_at.filename, check.payload_digest) == (Status.OK, "a.warc.gz", "sha1:X")
    assert not check.stored_at.revisit
    assert verdict.verdict is Verdict.ALIVE
    assert (check.hops, check.duration, check.size) == ((), 0.0, 0)  # not kept before version 6
    assert not check.validators  # not kept before version 7
    with sqlite3.connect(tmp_path / "history.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 9
