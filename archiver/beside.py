"""Work done beside a run, in processes of its own: how they treat the signals that stop
the run, how they end with it, and `Beside`, one piece of work in a process started for it.

The parser processes (`archiver.pages`) start with `started_beside_the_run`; a run's last
WARC file is indexed in a `Beside` while the run writes its reports.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

__all__ = ["Beside", "started_beside_the_run"]

_log = logging.getLogger(__name__)
_Done = TypeVar("_Done")


def started_beside_the_run() -> None:
    """In a process beside the run, first: Ctrl-C, SIGTERM and SIGHUP reach every process of
    a terminal's job or a service's group, and the run that started the process decides
    what they mean (it stops, and the process with it)."""
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, signal.SIG_IGN)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """End as soon as the run that started this process ends, however it ended (a killed
    run must leave nothing behind, holding its terminal or its pipes)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def end_with_parent() -> None:
        wait([sentinel])  # readable once the parent is gone
        os._exit(0)

    threading.Thread(target=end_with_parent, name="archiver-parent-watch", daemon=True).start()


class Beside(Generic[_Done]):
    """`work(*arguments)` in a process of its own (spawned), started at once, for CPU-heavy
    work a run does beside its own. Where no process can be started, or the process dies
    before it answers, the work is done in this process instead."""

    def __init__(self, work: Callable[..., _Done], *arguments: object) -> None:
        self._work, self._arguments = work, arguments
        self._outcome: tuple[bool, object] | None = None
        self._process: BaseProcess | None = None
        try:
            context = multiprocessing.get_context("spawn")
            self._receiving, sending = context.Pipe(duplex=False)
            process = context.Process(target=_beside, args=(sending, work, arguments), name="archiver-beside")
            process.daemon = True  # never outlives the run
            process.start()
            sending.close()
            self._process = process
        except (OSError, RuntimeError) as error:  # no processes here (a sandbox, a script starting a run on import)
            _log.debug("%s in this process: %r", getattr(work, "__name__", work), error)
            self._outcome = _outcome_of(work, arguments)

    def result(self) -> _Done:
        """Wait for the work: what it returned, or raise what it raised."""
        if self._outcome is None:
            try:
                self._outcome = self._receiving.recv()
            except EOFError:  # the process died before it could answer
                self._outcome = _outcome_of(self._work, self._arguments)
            self._join()
        done, value = self._outcome
        if not done:
            assert isinstance(value, BaseException)
            raise value
        return value  # type: ignore[return-value]

    def stop(self) -> None:
        """Stop the work where it stands (its process is killed); nothing once it is done."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self._join()
        if self._outcome is None:
            self._outcome = (False, ChildProcessError(f"{getattr(self._work, '__name__', self._work)} was stopped"))

    def _join(self) -> None:
        if self._process is not None:
            self._process.join()
            self._receiving.close()
            self._process = None


def _beside(sending: Connection, work: Callable[..., object], arguments: tuple[object, ...]) -> None:
    started_beside_the_run()
    sending.send(_outcome_of(work, arguments))
    sending.close()


def _outcome_of(work: Callable[..., object], arguments: tuple[object, ...]) -> tuple[bool, object]:
    """(True, what `work` returned) or (False, what it raised)."""
    try:
        return True, work(*arguments)
    except Exception as error:  # noqa: BLE001 - handed to whoever waits for the work
        return False, error
