"""Runs of `python -m archiver ARGS` forked from a Python that has made its imports already.

Starting Python and importing what `python -m archiver` imports costs a run most of a
second of CPU before it does anything. The tests that start run after run to see what
they leave in an output folder (killed at chosen moments, on a full disk, resuming a
stopped run) start them from `Forks`: a Python that made those imports once and then
forks a process for each run, which runs the command as `python -m archiver ARGS` does,
in its folder, with its own standard output and error. Each run is a real process,
killed and waited for as with `subprocess.Popen`; only its start-up is shared: it has the
environment, the standard input, the signal handling at start and the hash seed of the
forking Python, which has those of the test process as it was started. The tests of the
command itself (`tests/test_cli.py`, and the runs `tests/test_stop.py` sends a signal)
start it as a user does.

`wait_for_the_lock` tells when a run has begun its work, so that a moment chosen for a
signal lands in that work, not in its start-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archiver.lock import LOCK_FILE

DEADLINE_SECONDS = 60  # only so that a broken run cannot hang the tests

# The forking Python; argv: the file descriptor of its end of the control socket. A request
# is {"cwd", "args"} with the run's standard output and error as file descriptors; each
# answer is {"started": pid}, then {"ended": pid, "returncode"} once the run has ended.
_SERVER = """
import json, os, runpy, select, socket, sys
import archiver.cli  # what `python -m archiver` imports before it does anything


def serve(control):
    # The request of a forked run, in the run's process; None here once the tests are done.
    poller, children = select.poll(), {}
    poller.register(control, select.POLLIN)
    while True:
        for ready, _ in poller.poll():
            if ready in children:
                pid = children.pop(ready)
                poller.unregister(ready)
                os.close(ready)
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                control.send(json.dumps({"ended": pid, "returncode": code}).encode())
                continue
            message, streams, _, _ = socket.recv_fds(control, 1 << 16, 2)
            if not message:
                return None
            pid = os.fork()
            if pid == 0:
                control.close()
                for pidfd in children:
                    os.close(pidfd)
                return json.loads(message), streams
            for stream in streams:
                os.close(stream)
            pidfd = os.pidfd_open(pid)
            children[pidfd] = pid
            poller.register(pidfd, select.POLLIN)
            control.send(json.dumps({"started": pid}).encode())


job = serve(socket.socket(fileno=int(sys.argv[1])))
if job is not None:  # as `python -m archiver ARGS` in the request's folder
    request, streams = job
    del job
    os.chdir(request["cwd"])
    for number, stream in zip((1, 2), streams):
        os.dup2(stream, number)
        os.close(stream)
    sys.path[0] = os.getcwd()
    sys.argv[1:] = request["args"]
    runpy.run_module("archiver", run_name="__main__", alter_sys=True)
"""


class Forks:
    """The forking Python, for the runs of a test session."""

    def __init__(self) -> None:
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._server = subprocess.Popen(
                [sys.executable, "-c", _SERVER, str(theirs.fileno())], pass_fds=(theirs.fileno(),)
            )
        self._ended: dict[int, int] = {}

    def run(self, folder: Path, *args: str, stdout: bool = True) -> Forked:
        """`python -m archiver ARGS` in `folder`, started now; its standard output (to
        /dev/null without `stdout`) and error are read by `communicate` (its standard
        input is this process's)."""
        request = json.dumps({"cwd": str(folder), "args": list(args)}).encode()
        error = os.pipe()
        output = os.pipe() if stdout else (-1, os.open(os.devnull, os.O_WRONLY))
        try:
            socket.send_fds(self._control, [request], [output[1], error[1]])
        finally:
            os.close(output[1])
            os.close(error[1])
        answer = self._answer(time.monotonic() + DEADLINE_SECONDS)
        while "started" not in answer:
            answer = self._answer(time.monotonic() + DEADLINE_SECONDS)
        return Forked(self, int(answer["started"]), output[0], error[0])

    def returncode(self, pid: int, deadline: float | None) -> int | None:
        """The exit code of the run `pid` (minus the signal that killed it), waiting for it
        until `deadline` (not at all with None): None if it has not ended by then."""
        while pid not in self._ended:
            if deadline is None and not select.select([self._control], [], [], 0)[0]:
                return None
            self._answer(deadline or time.monotonic() + DEADLINE_SECONDS)
        return self._ended[pid]

    def _answer(self, deadline: float) -> dict[str, Any]:
        self._control.settimeout(max(0.0, deadline - time.monotonic()))
        try:
            message = self._control.recv(1 << 16)
        except TimeoutError:
            raise subprocess.TimeoutExpired("archiver (forked)", DEADLINE_SECONDS) from None
        assert message, f"the forking Python ended (exit code {self._server.wait()})"
        answer: dict[str, Any] = json.loads(message)
        if "ended" in answer:
            self._ended[int(answer["ended"])] = int(answer["returncode"])
        return answer

    def close(self) -> None:
        self._control.close()  # the forking Python ends
        self._server.wait(timeout=DEADLINE_SECONDS)


class Forked:
    """One forked run, handled as `subprocess.Popen` handles a process: `poll`,
    `send_signal`, and `communicate`, which reads its standard output and error to their
    end and waits for it to end."""

    def __init__(self, forks: Forks, pid: int, stdout: int, stderr: int) -> None:
        self.pid, self._forks = pid, forks
        self._read = {stdout: b"", stderr: b""}  # what was read of each (stdout -1: none)
        self._open = {stream for stream in self._read if stream >= 0}
        self._stdout, self._stderr = stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._forks.returncode(self.pid, None)
        return self.returncode

    def send_signal(self, number: signal.Signals) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended this instant: `communicate` says how
                os.kill(self.pid, number)

    def communicate(self, timeout: float) -> tuple[bytes, bytes]:
        deadline = time.monotonic() + timeout
        while self._open:
            readable = select.select(list(self._open), [], [], max(0.0, deadline - time.monotonic()))[0]
            if not readable:
                raise subprocess.TimeoutExpired("archiver (forked)", timeout)
            for stream in readable:
                chunk = os.read(stream, 1 << 16)
                self._read[stream] += chunk
                if not chunk:
                    os.close(stream)
                    self._open.remove(stream)
        self.returncode = self._forks.returncode(self.pid, deadline)
        return self._read[self._stdout], self._read[self._stderr]

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *_: object) -> None:
        """A run a failed test left running is killed."""
        self.send_signal(signal.SIGKILL)
        self.communicate(DEADLINE_SECONDS)


@contextlib.contextmanager
def forks() -> Iterator[Forks]:
    """The forking Python, ended afterwards."""
    server = Forks()
    try:
        yield server
    finally:
        server.close()


def wait_for_the_lock(run: Forked, output: Path) -> None:
    """Return once `run` holds the lock of the output folder `output` (the lock file
    names the process that holds it): the run has begun its work."""
    lock, holder = output / LOCK_FILE, f"process {run.pid} ".encode()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        with contextlib.suppress(FileNotFoundError):
            if holder in lock.read_bytes():
                return
        assert run.poll() is None, f"the run ended before it took the lock: {run.communicate(DEADLINE_SECONDS)}"
        assert time.monotonic() < deadline, "the run never took the lock"
        time.sleep(0.001)
