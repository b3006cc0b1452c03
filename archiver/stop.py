"""SIGTERM and SIGHUP stop a job the way Ctrl-C (SIGINT) does.

systemd, `timeout` and CI runners stop a process with SIGTERM, and a closed terminal
sends SIGHUP; either ends Python at once by default, with nothing cleaned up. Within
`stopping()`, each is handed to whatever answers SIGINT at that moment. Inside
`asyncio.run`, that cancels the main task: the fetches in flight are dropped, the
record being written is finished, the `with` blocks close the WARC writer, the history
and the lock, and KeyboardInterrupt is raised once all of that has unwound. Elsewhere
KeyboardInterrupt is raised at once. A second signal, as a second Ctrl-C, stops at
once. `Stop.signal` then says which signal it was, for the message and the exit code.

A signal that was ignored when the process started (`nohup` ignores SIGHUP) stays
ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass
class Stop:
    """Which stop signal arrived; None while none has (or when it was Ctrl-C)."""

    signal: signal.Signals | None = None


@contextmanager
def stopping() -> Iterator[Stop]:
    """Within the body, SIGTERM and SIGHUP stop as SIGINT does; the handlers before are
    put back afterwards. Outside the main thread (where no handler can be set), nothing changes."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    handler = _handler(stop)
    taken = [number for number in STOP_SIGNALS if signal.getsignal(number) is signal.SIG_DFL]
    for number in taken:
        signal.signal(number, handler)
    try:
        yield stop
    finally:
        for number in taken:
            signal.signal(number, signal.SIG_DFL)


def _handler(stop: Stop) -> Callable[[int, FrameType | None], None]:
    def stop_as_interrupted(number: int, frame: FrameType | None) -> None:
        stop.signal = signal.Signals(number)
        interrupt = signal.getsignal(signal.SIGINT)
        if not callable(interrupt):  # SIGINT ignored (a background job of a script): stop all the same
            raise KeyboardInterrupt
        interrupt(signal.SIGINT, frame)

    return stop_as_interrupted
