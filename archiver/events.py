"""A JSON-lines log of what a run did, for machines watching a scheduled job.

Each line is one event: `{"time": ..., "event": ..., ...}`. Events: `start`, `warning`
(a post read only in part), `checked` (one per URL: status, code, attempts, seconds,
where its capture is), `summary` (the run's totals and verdicts). Lines are appended and
flushed one by one, so a killed run leaves a readable log. Secrets in URLs are shown as
`***` (see `archiver.redact`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from archiver.errors import OutputError
from archiver.model import FetchResult, Problem
from archiver.redact import Redactor
from archiver.times import utc_iso, utc_now


class EventLog:
    """Appends events to a file; a log that was not asked for writes nothing."""

    def __init__(self, path: Path | None, shown: Redactor) -> None:
        self._stream: TextIO | None = None
        self._shown = shown
        if path is not None:
            try:
                self._stream = path.open("a", encoding="utf-8")
            except OSError as error:
                raise OutputError(f"{path}: cannot open the log: {error.strerror or error}") from error

    def close(self) -> None:
        """Close the file."""
        if self._stream is not None:
            self._stream.close()

    def event(self, name: str, **fields: Any) -> None:
        """Write one event line."""
        if self._stream is None:
            return
        line = {"time": utc_iso(utc_now()), "event": name, **self._shown.value(fields)}
        self._stream.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self._stream.flush()

    def warning(self, problem: Problem) -> None:
        """A post that could not be read, or only in part."""
        self.event("warning", path=problem.path.as_posix(), line=problem.line, message=problem.message)

    def checked(self, result: FetchResult) -> None:
        """One URL's outcome."""
        stored = result.stored_at
        self.event(
            "checked", url=result.url, status=result.status.value, code=result.code, attempts=result.attempts,
            seconds=round(result.duration, 3), detail=result.detail,
            warc=f"{stored.filename}@{stored.offset}" if stored else None,
        )  # fmt: skip
