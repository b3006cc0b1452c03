"""History: every check of every URL, across runs, in SQLite; and the verdicts drawn from it.

One check says what a URL answered once. A verdict says what a person should believe:

    alive       the latest check was good
    failing     the latest checks failed, but not yet enough of them, or not for long enough
    dead        failed on at least N checks spread over at least D days (defaults 3 and 3),
                with no good check in between: one bad night is never enough
    recovered   good again after being dead (until it has been good for N checks)
    unknown     the latest check could not see the content (access denied, rate limited,
                a bot wall, our own policy): a person has to look; never dead

Checks whose status is unknown neither extend nor break a failing streak. A run in which
the network itself was unreachable (`archiver.reach`) is kept, marked, and counts for
nothing: its checks are in `checks()` but in no verdict. The database
(WAL, one transaction per run) carries its schema version and is upgraded in place.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from archiver.config import HealthSettings
from archiver.errors import OutputError
from archiver.model import (
    ArchiveAnswer,
    Check,
    DeadPolicy,
    FetchResult,
    Hop,
    LinkVerdict,
    PriorCapture,
    RecordLocation,
    Status,
    Submission,
    Validators,
    Verdict,
)
from archiver.times import utc_iso, utc_now

HISTORY_FILE = "history.sqlite"
SCHEMA_VERSION = 9

# Each entry upgrades the schema from the version before it; never edit a released one.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,               -- run (captures stored) or check (health only)
            started_at TEXT NOT NULL,
            finished_at TEXT
        )""",
        """CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            url TEXT NOT NULL,
            checked_at TEXT NOT NULL,         -- ISO 8601, UTC
            status TEXT NOT NULL,             -- archiver.model.Status value
            code INTEGER,
            final_url TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            detail TEXT NOT NULL,
            payload_digest TEXT,
            warc_filename TEXT,
            warc_offset INTEGER,
            warc_length INTEGER
        )""",
        "CREATE INDEX checks_by_url ON checks (url, run_id, id)",
    ),
    2: (  # what a revisit record needs to refer to a capture
        "ALTER TABLE checks ADD COLUMN warc_record_id TEXT",
        "ALTER TABLE checks ADD COLUMN warc_date TEXT",
        "ALTER TABLE checks ADD COLUMN warc_target_uri TEXT",
        "ALTER TABLE checks ADD COLUMN warc_revisit INTEGER NOT NULL DEFAULT 0",
    ),
    3: ("ALTER TABLE checks ADD COLUMN drifted_from TEXT",),  # content drift since the last capture
    4: (  # the latest full capture of each page requisite, for revisits; requisites are not checks
        """CREATE TABLE requisites (
            url TEXT PRIMARY KEY,
            payload_digest TEXT NOT NULL,
            captured_at TEXT NOT NULL,
            warc_filename TEXT NOT NULL,
            warc_offset INTEGER NOT NULL,
            warc_length INTEGER NOT NULL,
            warc_record_id TEXT NOT NULL,
            warc_date TEXT NOT NULL,
            warc_target_uri TEXT NOT NULL
        )""",
    ),
    5: ("ALTER TABLE runs ADD COLUMN unreachable TEXT",),  # why a run does not count (the network was down)
    6: (  # the rest of what a results file says of a check, so that a resumed run can write the whole run's
        "ALTER TABLE checks ADD COLUMN hops TEXT",  # JSON: [[url, code, location or null], ...]
        "ALTER TABLE checks ADD COLUMN duration REAL",
        "ALTER TABLE checks ADD COLUMN size INTEGER",
    ),
    7: (  # the final answer's validators, sent back by a later conditional request
        "ALTER TABLE checks ADD COLUMN etag TEXT",
        "ALTER TABLE checks ADD COLUMN last_modified TEXT",
        "CREATE INDEX checks_by_run ON checks (run_id, id)",  # a run's checks, read at its end
    ),
    8: (  # what web archives answered restore's lookups: a URL found nowhere is not asked again too soon
        """CREATE TABLE IF NOT EXISTS archive_answers (
            url TEXT NOT NULL,
            archive TEXT NOT NULL,            -- the archive's name
            asked_at TEXT NOT NULL,           -- ISO 8601, UTC
            answer TEXT NOT NULL,             -- archiver.model.NOT_ARCHIVED
            PRIMARY KEY (url, archive)
        )""",
    ),
    9: (  # live links offered to a public archive's save endpoint
        """CREATE TABLE IF NOT EXISTS submissions (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            submitted_at TEXT NOT NULL,       -- ISO 8601, UTC
            code INTEGER,
            accepted INTEGER NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS submissions_by_time ON submissions (submitted_at)",
    ),
}
# The checks verdicts are drawn from: those of runs that reached the network.
_COUNTED = "run_id IN (SELECT id FROM runs WHERE unreachable IS NULL)"
_BUSY_SECONDS = 60  # how long to wait for another run holding the database


def dead_policy(settings: HealthSettings) -> DeadPolicy:
    """The policy the configuration sets."""
    return DeadPolicy(settings.dead_after_checks, settings.dead_after_days)


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _writing(method: Callable[Concatenate[History, _P], _T]) -> Callable[Concatenate[History, _P], _T]:
    """A method that writes the history: a database error (a full disk, an I/O error)
    becomes an OutputError naming the file."""

    @functools.wraps(method)
    def written(history: History, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(history, *args, **kwargs)
        except sqlite3.Error as error:
            raise OutputError(f"{history.path}: cannot write the history: {error}") from error

    return written


class History:
    """The SQLite store of checks; open it with `History.open(folder)`."""

    def __init__(self, connection: sqlite3.Connection, path: Path = Path(HISTORY_FILE)) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, folder: Path) -> History:
        """Open (creating or upgrading) the history in an output folder."""
        path = folder / HISTORY_FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_SECONDS)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # with WAL: a kill loses no commit
            connection.execute("PRAGMA foreign_keys=ON")
            _migrate(connection)
        except sqlite3.DatabaseError as error:
            raise OutputError(f"{path}: cannot use the history database: {error}") from error
        return cls(connection, path)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @_writing
    def record_run(self, kind: str, started_at: dt.datetime, results: Iterable[FetchResult]) -> int:
        """Store a whole run's results at once, in one transaction; its id."""
        with self._transaction():
            run_id = self._start(kind, started_at)
            self._db.executemany(_INSERT_CHECK, (_row(run_id, result) for result in results))
            self._finish(run_id)
        return run_id

    @_writing
    def resume_or_start(self, kind: str, started_at: dt.datetime) -> tuple[int, set[str]]:
        """The run to add checks to: the last one of this kind if it was interrupted (with
        the URLs it had checked), else a new one."""
        with self._transaction():
            row = self._db.execute(
                "SELECT id FROM runs WHERE kind = ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1", (kind,)
            ).fetchone()
            if row is None:
                return self._start(kind, started_at), set()
            done = {url for (url,) in self._db.execute("SELECT url FROM checks WHERE run_id = ?", (row[0],))}
            return int(row[0]), done

    @_writing
    def add_check(self, run_id: int, result: FetchResult) -> None:
        """Store one check as soon as it is made (its own transaction: a kill loses nothing stored)."""
        self._db.execute(_INSERT_CHECK, _row(run_id, result))

    @_writing
    def finish_run(self, run_id: int, unreachable: str = "") -> None:
        """Mark a run complete: a later run starts afresh instead of resuming it. A run
        that found the network `unreachable` (why, in words) is marked not to count."""
        with self._transaction():
            self._finish(run_id)
            if unreachable:
                self._db.execute("UPDATE runs SET unreachable = ? WHERE id = ?", (unreachable, run_id))

    def last_run_unreachable(self) -> str:
        """Why the run that finished last does not count; "" when it counts (or there is none)."""
        row = self._db.execute(
            "SELECT unreachable FROM runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return str(row[0]) if row is not None and row[0] else ""

    def _start(self, kind: str, started_at: dt.datetime) -> int:
        run_id = self._db.execute(
            "INSERT INTO runs (kind, started_at) VALUES (?, ?)", (kind, utc_iso(started_at))
        ).lastrowid
        assert run_id is not None
        return run_id

    def _finish(self, run_id: int) -> None:
        self._db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (utc_iso(utc_now()), run_id))

    def stored_checks(self) -> Iterator[tuple[int, Check]]:
        """Every check that names a stored record, with the check's own id."""
        rows = self._db.execute(f"SELECT id, {_COLUMNS} FROM checks WHERE warc_filename IS NOT NULL ORDER BY id")
        for row in rows.fetchall():
            yield int(row[0]), _check(row[1:])

    @_writing
    def set_location(self, check_id: int, location: RecordLocation | None) -> None:
        """Point a check at the record where its answer really is, or (None) at none."""
        where = _location_columns(location)[:-1]
        self._db.execute(
            "UPDATE checks SET warc_filename = ?, warc_offset = ?, warc_length = ?, warc_record_id = ?,"
            " warc_date = ?, warc_target_uri = ? WHERE id = ?", (*where, check_id),
        )  # fmt: skip

    def run_checks(self, run_id: int) -> list[Check]:
        """The checks one run has stored so far, in the order they were made."""
        return list(self.each_run_check(run_id))

    def each_run_check(self, run_id: int, by_url: bool = False) -> Iterator[Check]:
        """The checks one run has stored so far, read one by one (never all held at once),
        in the order they were made, or (`by_url`) in URL order and then so."""
        order = "url, id" if by_url else "id"
        for row in self._db.execute(f"{_SELECT_CHECK} WHERE run_id = ? ORDER BY {order}", (run_id,)):
            yield _check(row)

    def checks(self, url: str) -> list[Check]:
        """Every check of a URL, in the order the runs were made (the clock may have jumped)."""
        rows = self._db.execute(f"{_SELECT_CHECK} WHERE url = ? ORDER BY run_id, id", (url,))
        return [_check(row) for row in rows]

    def latest_full_captures(self) -> dict[str, PriorCapture]:
        """For each URL, its latest capture that stored the payload (not a revisit): where it
        is, its payload digest and when it was made."""
        rows = self._db.execute(f"{_SELECT_CHECK} WHERE {_FULL_CAPTURE} ORDER BY url, run_id, id")
        return {check.url: prior for check in map(_check, rows) if (prior := _prior(check)) is not None}

    def latest_full_capture(self, url: str) -> PriorCapture | None:
        """`latest_full_captures` of one URL (read on its own: a run asks a URL at a time,
        and all of a large history's captures held at once took 0.87 KB a URL)."""
        query = f"{_SELECT_CHECK} WHERE url = ? AND {_FULL_CAPTURE} ORDER BY run_id DESC, id DESC LIMIT 1"
        row = self._db.execute(query, (url,)).fetchone()
        return None if row is None else _prior(_check(row))

    def latest_requisite_captures(self) -> dict[str, PriorCapture]:
        """For each page requisite, its latest capture that stored the payload."""
        rows = self._db.execute(
            "SELECT url, payload_digest, captured_at, warc_filename, warc_offset, warc_length, warc_record_id,"
            " warc_date, warc_target_uri FROM requisites"
        )
        return {
            str(url): PriorCapture(
                RecordLocation(str(name), int(offset), int(length), str(record_id), str(date), str(target)),
                str(digest), dt.datetime.fromisoformat(str(captured_at)),
            )
            for url, digest, captured_at, name, offset, length, record_id, date, target in rows
        }  # fmt: skip

    @_writing
    def add_requisite_capture(self, url: str, capture: PriorCapture) -> None:
        """Remember a requisite's full capture (one stored again, not a revisit)."""
        stored = capture.stored_at
        self._db.execute(
            "INSERT OR REPLACE INTO requisites VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (url, capture.payload_digest, utc_iso(capture.captured_at), stored.filename, stored.offset,
             stored.length, stored.record_id, stored.date, stored.target_uri),
        )  # fmt: skip

    def archive_answers(self) -> list[ArchiveAnswer]:
        """What web archives last answered restore's lookups, one per URL and archive."""
        rows = self._db.execute("SELECT url, archive, asked_at, answer FROM archive_answers ORDER BY url, archive")
        return [ArchiveAnswer(str(url), str(archive), dt.datetime.fromisoformat(str(asked_at)), str(answer))
                for url, archive, asked_at, answer in rows]  # fmt: skip

    @_writing
    def remember_answers(self, answers: Iterable[ArchiveAnswer]) -> None:
        """Keep what archives answered, each replacing the earlier answer for its URL and archive."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO archive_answers VALUES (?, ?, ?, ?)",
                ((a.url, a.archive, utc_iso(a.asked_at), a.answer) for a in answers),
            )

    def submissions(self, since: dt.datetime) -> list[Submission]:
        """The links offered to an archive since a moment, oldest first."""
        rows = self._db.execute(
            "SELECT url, submitted_at, code, accepted, detail FROM submissions WHERE submitted_at >= ? ORDER BY id",
            (utc_iso(since),),
        )
        return [Submission(str(url), dt.datetime.fromisoformat(str(at)), None if code is None else int(code),
                           bool(accepted), str(detail)) for url, at, code, accepted, detail in rows]  # fmt: skip

    @_writing
    def add_submissions(self, submissions: Iterable[Submission]) -> None:
        """Keep what was offered to an archive, and its answers."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO submissions (url, submitted_at, code, accepted, detail) VALUES (?, ?, ?, ?, ?)",
                ((s.url, utc_iso(s.submitted_at), s.code, int(s.accepted), s.detail) for s in submissions),
            )

    def last_stored(self) -> dict[str, dt.datetime]:
        """When each URL was last checked by a run that stored its captures (and counts)."""
        rows = self._db.execute(
            "SELECT url, MAX(checked_at) FROM checks WHERE run_id IN"
            " (SELECT id FROM runs WHERE kind = 'run' AND unreachable IS NULL) GROUP BY url"
        )
        return {str(url): dt.datetime.fromisoformat(str(when)) for url, when in rows}

    def last_stored_at(self, url: str) -> dt.datetime | None:
        """`last_stored` of one URL: None when no such run checked it."""
        query = (
            "SELECT MAX(c.checked_at) FROM checks c JOIN runs r ON r.id = c.run_id"
            " WHERE c.url = ? AND r.kind = 'run' AND r.unreachable IS NULL"
        )  # a join, not IN (...): the subquery would be read again for every URL
        (when,) = self._db.execute(query, (url,)).fetchone()
        return None if when is None else dt.datetime.fromisoformat(str(when))

    def verdicts(self, policy: DeadPolicy) -> list[LinkVerdict]:
        """The verdict of every URL ever checked, in URL order."""
        return [verdict_of(checks, policy) for checks in self._grouped()]

    def previous_verdicts(self, policy: DeadPolicy) -> tuple[dt.datetime, list[LinkVerdict]] | None:
        """The verdicts as they stood before the latest run that counts, and when the run
        before it started; None when fewer than two runs count."""
        run = self.previous_run()
        if run is None:
            return None
        previous = [verdict_of(checks, policy) for checks in self._grouped("run_id <= ?", (run[0],))]
        return run[1], previous

    def previous_run(self) -> tuple[int, dt.datetime] | None:
        """The run before the latest one that counts (its id, and when it started); None
        when fewer than two runs count."""
        row = self._db.execute(
            f"SELECT id, started_at FROM runs WHERE id IN (SELECT DISTINCT run_id FROM checks WHERE {_COUNTED})"
            " ORDER BY id DESC LIMIT 1 OFFSET 1"
        ).fetchone()
        return None if row is None else (int(row[0]), dt.datetime.fromisoformat(str(row[1])))

    def verdicts_of(
        self, urls: Iterable[str], policy: DeadPolicy, before: int | None = None
    ) -> Iterator[tuple[LinkVerdict | None, LinkVerdict | None]]:
        """For each URL, in the order given: its verdict now, and (with `before`, a run id)
        its verdict as it stood after that run; None where it had not been checked. Read a
        URL at a time, so that a report of any size never holds every verdict at once."""
        counted = {int(run_id) for (run_id,) in self._db.execute("SELECT id FROM runs WHERE unreachable IS NULL")}
        query = f"SELECT run_id, {_COLUMNS} FROM checks WHERE url = ? ORDER BY run_id, id"
        for url in urls:
            rows = [row for row in self._db.execute(query, (url,)) if row[0] in counted]
            checks = [_check(row[1:]) for row in rows]
            earlier = [] if before is None else [c for row, c in zip(rows, checks, strict=True) if row[0] <= before]
            yield (verdict_of(checks, policy) if checks else None, verdict_of(earlier, policy) if earlier else None)

    def _grouped(self, only: str = "1", parameters: tuple[object, ...] = ()) -> Iterator[list[Check]]:
        group: list[Check] = []
        query = f"{_SELECT_CHECK} WHERE {_COUNTED} AND {only} ORDER BY url, run_id, id"
        for row in self._db.execute(query, parameters):
            check = _check(row)
            if group and group[-1].url != check.url:
                yield group
                group = []
            group.append(check)
        if group:
            yield group

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def verdict_of(checks: Sequence[Check], policy: DeadPolicy) -> LinkVerdict:
    """A URL's verdict from its checks, oldest first (at least one)."""
    latest = checks[-1]
    seen = [check for check in checks if not check.status.is_unknown]  # unknowns say nothing either way
    alive_times = [check.checked_at for check in seen if check.status.is_ok]
    archived = [check for check in checks if check.stored_at is not None]
    streak = _trailing(seen, failing=True)
    verdict, dead_since = _judge(latest, seen, streak, policy)
    return LinkVerdict(
        url=latest.url,
        verdict=verdict,
        latest=latest,
        checks=len(checks),
        failures_in_a_row=len(streak),
        dead_since=dead_since,
        last_seen_alive=alive_times[-1] if alive_times else None,
        last_archived=archived[-1] if archived else None,
    )


def _judge(
    latest: Check, seen: list[Check], streak: list[Check], policy: DeadPolicy
) -> tuple[Verdict, dt.datetime | None]:
    if latest.status.is_unknown:
        return Verdict.UNKNOWN, None
    if streak:
        if _is_dead(streak, policy):
            return Verdict.DEAD, streak[0].checked_at
        return Verdict.FAILING, None
    good = _trailing(seen, failing=False)
    before = _trailing(seen[: len(seen) - len(good)], failing=True)
    if before and _is_dead(before, policy) and len(good) < policy.checks:
        return Verdict.RECOVERED, None
    return Verdict.ALIVE, None


def _is_dead(streak: list[Check], policy: DeadPolicy) -> bool:
    spread = streak[-1].checked_at - streak[0].checked_at
    return len(streak) >= policy.checks and spread >= dt.timedelta(days=policy.days)


def _trailing(checks: list[Check], failing: bool) -> list[Check]:
    """The checks at the end of `checks` that all failed (or all did not)."""
    count = 0
    for check in reversed(checks):
        if check.status.is_failure is not failing:
            break
        count += 1
    return checks[len(checks) - count :]


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring the schema up to date, in one transaction that another process cannot race."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]  # read again once holding the lock
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this archiver knows ({SCHEMA_VERSION})"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[step]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {step}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


_COLUMN_NAMES = (
    "url", "checked_at", "status", "code", "final_url", "attempts", "detail", "payload_digest",
    "warc_filename", "warc_offset", "warc_length", "warc_record_id", "warc_date", "warc_target_uri", "warc_revisit",
    "drifted_from", "hops", "duration", "size", "etag", "last_modified",
)  # fmt: skip
_COLUMNS = ", ".join(_COLUMN_NAMES)
_INSERT_CHECK = f"INSERT INTO checks (run_id, {_COLUMNS}) VALUES ({', '.join('?' * (len(_COLUMN_NAMES) + 1))})"
_SELECT_CHECK = f"SELECT {_COLUMNS} FROM checks"
_FULL_CAPTURE = (
    "warc_filename IS NOT NULL AND warc_filename <> '' AND warc_revisit = 0"
    " AND payload_digest IS NOT NULL AND payload_digest <> ''"
    " AND warc_record_id <> '' AND warc_date <> '' AND warc_target_uri <> ''"  # a whole identity, or none
)


def _prior(check: Check) -> PriorCapture | None:
    if check.stored_at is None or check.payload_digest is None:  # as the queries ask
        return None
    return PriorCapture(check.stored_at, check.payload_digest, check.checked_at, check.validators, check.status)


def _location_columns(stored: RecordLocation | None) -> tuple[object, ...]:
    """The warc_* columns of a check, in order, for where its answer is stored."""
    if stored is None:
        return None, None, None, None, None, None, 0
    return (stored.filename, stored.offset, stored.length, stored.record_id, stored.date, stored.target_uri,
            int(stored.revisit))  # fmt: skip


def _row(run_id: int, result: FetchResult) -> tuple[object, ...]:
    where = _location_columns(result.stored_at)
    return (
        run_id, result.url, utc_iso(result.checked_at), result.status.value, result.code, result.final_url,
        result.attempts, result.detail, result.payload_digest or None, *where, result.drifted_from or None,
        json.dumps([[hop.url, hop.code, hop.location] for hop in result.hops]), result.duration, result.size,
        result.validators.etag or None, result.validators.last_modified or None,
    )  # fmt: skip


def _check(row: tuple[object, ...]) -> Check:
    url, checked_at, status, code, final_url, attempts, detail, digest, filename, offset, length = row[:11]
    record_id, warc_date, target_uri, revisit, drifted_from, hops, duration, size, etag, last_modified = row[11:]
    return Check(
        url=str(url),
        checked_at=dt.datetime.fromisoformat(str(checked_at)),
        status=_status(str(status)),
        code=int(str(code)) if code is not None else None,
        final_url=str(final_url),
        attempts=int(str(attempts)),
        detail=str(detail),
        payload_digest=str(digest) if digest else None,
        stored_at=RecordLocation(str(filename), int(str(offset)), int(str(length)), str(record_id or ""),
                             str(warc_date or ""), str(target_uri or ""), bool(revisit)) if filename else None,
        drifted_from=str(drifted_from) if drifted_from else None,
        hops=tuple(Hop(str(url), int(code), location) for url, code, location in json.loads(str(hops or "[]"))),
        duration=float(str(duration or 0)),
        size=int(str(size or 0)),
        validators=Validators(str(etag or ""), str(last_modified or "")),
    )  # fmt: skip


def _status(value: str) -> Status:
    """A stored status; one written by a newer archiver reads as unrecognized, not an error."""
    try:
        return Status(value)
    except ValueError:
        return Status.UNRECOGNIZED
