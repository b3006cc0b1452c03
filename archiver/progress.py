"""How far a run has got, on a terminal: the phase, a bar, URLs done of all, the rate,
the time left, and the running counts of ok, failed and unknown.

The phases are those of a run: extract (reading posts, fetching the pages, sitemaps and
feeds named on the command line), fetch, requisites (only pages' requisites are still
being fetched) and report. Nothing is shown unless standard error is a terminal; `-v`
prints one line per URL as it finishes, above the bar (or alone, without a terminal).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from archiver.model import FetchResult

Phase = Callable[[str], None]
Checked = Callable[[FetchResult], None]
EXTRACT, FETCH, REQUISITES, REPORT = "extract", "fetch", "requisites", "report"


class _Rate(ProgressColumn):
    """URLs a second, over rich's recent window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-/s" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")


class _TimeLeft(TimeRemainingColumn):
    """The time left at the current rate, after "ETA"."""

    def render(self, task: Task) -> Text:
        return Text.assemble("ETA ", super().render(task))


def columns() -> tuple[ProgressColumn, ...]:
    """What the bar shows, left to right; it fits in 80 columns."""
    counts = ("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/] "
              "[yellow]{task.fields[unknown]} unknown[/]")  # fmt: skip
    return (
        TextColumn("{task.fields[phase]:<10}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn(counts),
        _Rate(),
        _TimeLeft(),
        TimeElapsedColumn(),
    )


@dataclass
class RunProgress:
    """A run's bar: `phase` names what the run does now, `checked` counts one URL done."""

    bar: Progress | None
    verbose: Callable[[str], None] | None
    task: TaskID | None = None
    counts: Counter[str] = field(default_factory=Counter)
    redact: Callable[[str], str] = str  # what a line shows of a URL's secrets

    def phase(self, name: str, total: int) -> None:
        """The run has moved on to phase `name`, and fetches `total` URLs in all."""
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, total=total, phase=name)
            self.bar.start_task(self.task)

    def checked(self, result: FetchResult) -> None:
        """One URL is done."""
        if self.verbose is not None:
            self.verbose(self.redact(describe(result)))
        if self.bar is None or self.task is None:
            return
        kind = "ok" if result.status.is_ok else "unknown" if result.status.is_unknown else "failed"
        self.counts[kind] += 1
        counts = self.counts
        self.bar.update(self.task, advance=1, ok=counts["ok"], failed=counts["failed"], unknown=counts["unknown"])


def describe(result: FetchResult) -> str:
    """One line about a finished URL: its status, code, URL and what went wrong."""
    code = f" {result.code}" if result.code else ""
    detail = f" ({result.detail})" if result.detail and not result.status.is_ok else ""
    return f"{result.status.value}{code} {result.url}{detail}"


@contextmanager
def shown(
    console: Console,
    *,
    quiet: bool = False,
    verbose: bool = False,
    clock: Callable[[], float] | None = None,
    redact: Callable[[str], str] = str,
) -> Iterator[RunProgress]:
    """A run's progress on `console`: a bar when it is a terminal and not `quiet`, and
    with `verbose` a line per URL (on the terminal above the bar), shown through `redact`;
    `clock` tells the time in seconds for the rate and the time left (default: a
    monotonic clock)."""
    if quiet or not console.is_terminal:
        yield RunProgress(None, _printer(console) if verbose and not quiet else None, redact=redact)
        return
    with Progress(*columns(), console=console, transient=True, get_time=clock) as bar:
        task = bar.add_task("run", total=None, start=False, phase=EXTRACT, ok=0, failed=0, unknown=0)
        yield RunProgress(bar, _printer(bar.console) if verbose else None, task, redact=redact)


def _printer(console: Console) -> Callable[[str], None]:
    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    return say
