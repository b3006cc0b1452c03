"""Progress: on a terminal, the phase, rate, time left and running counts, on a simulated
clock; nothing without a terminal or with --quiet; the phases a run goes through."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from rich.console import Console

from archiver import job, progress
from archiver.config import load_config
from archiver.model import FetchResult, Status
from tests.conftest import Web, write_blog


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _result(status: Status, code: int | None = None, detail: str = "") -> FetchResult:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return FetchResult(f"https://x.example/{status.value}", status, code, "", (), 1, 0.1, when, detail)


def _terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)


def test_on_a_terminal_the_bar_shows_phase_counts_rate_and_time_left() -> None:
    clock, console = _Clock(), _terminal()
    with progress.shown(console, clock=clock) as shown:
        shown.phase("fetch", 10)
        for status in (Status.OK, Status.NOT_FOUND, Status.OK, Status.BOT_WALL):
            clock.now += 0.5
            shown.checked(_result(status))
        shown.phase("requisites", 10)
        assert shown.bar is not None
        text = _rendered(shown.bar.get_renderable())

    assert "requisites" in text
    assert "4/10" in text
    assert "2 ok 1 failed 1 unknown" in text
    assert "2.0/s ETA 0:00:03" in text


def test_without_a_terminal_or_when_quiet_nothing_is_shown_but_verbose_lines() -> None:
    plain = Console(file=io.StringIO(), width=160)
    with progress.shown(plain) as silent:
        silent.phase("fetch", 1)
        silent.checked(_result(Status.OK, 200))
    with progress.shown(_terminal(), quiet=True) as quiet:
        quiet.checked(_result(Status.OK, 200))
    with progress.shown(plain, verbose=True) as verbose:
        verbose.checked(_result(Status.NOT_FOUND, 404))
        verbose.checked(_result(Status.TIMEOUT, detail="no data within the read timeout"))

    assert silent.bar is quiet.bar is None
    assert plain.file.getvalue().splitlines() == [  # type: ignore[attr-defined]
        "not-found 404 https://x.example/not-found",
        "timeout https://x.example/timeout (no data within the read timeout)",
    ]


def test_a_run_says_when_it_fetches_and_when_it_writes_the_report(tmp_path: Path, web: Web) -> None:
    write_blog(tmp_path, web, [web.url("alpha.test", "/ok.html"), web.url("beta.test", "/status/404")])
    phases: list[tuple[str, int]] = []

    job.run(load_config(tmp_path / "config.yaml"), store=False, phase=lambda name, total: phases.append((name, total)))

    assert phases == [("fetch", 2), ("report", 2)]


def test_the_requisites_phase_begins_when_only_requisites_are_left() -> None:
    said: list[str] = []
    phases = job._Phases(2, lambda name, _: said.append(name))

    phases.moved()
    phases.moved(in_requisites=1)  # one page fetches its requisites, another URL is still fetched
    phases.moved(done=1)
    phases.moved(in_requisites=1)
    phases.moved(in_requisites=-1, done=1)
    phases.moved(in_requisites=-1)

    assert said == ["fetch", "requisites"]


def _rendered(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(renderable)
    assert len(console.file.getvalue().splitlines()) == 1  # type: ignore[attr-defined]
    return " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]
