"""Pages are parsed in parser processes; where those fail, in this process, and the run goes on."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import time
import weakref
from pathlib import Path
from typing import Any

import pytest

from archiver import job, pages
from archiver.config import Config, ExtractSettings
from archiver.model import Page

URL = "http://blog.example/post"
EMPTY = Page("", "")
HTML = b"<html><head><title>A post</title><link rel=stylesheet href=/s.css></head><body><p>Words.</p></body></html>"


def test_a_page_is_parsed_in_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)

    async def parsed() -> tuple[Page, int]:
        page = await pages._in_parser(pages.page_of, HTML, None, "text/html", URL, url=URL, failed=EMPTY)
        worker = await pages._in_parser(os.getpid, url=URL, failed=0)
        return page, worker

    page, worker = asyncio.run(parsed())

    assert page == Page("A post", "a post words.", (), ("http://blog.example/s.css",))
    assert worker != os.getpid()
    assert pool.usable
    pool.shutdown()


def test_when_the_parser_processes_die_pages_are_read_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)
    worker = pool.executor().submit(os.getpid).result(timeout=60)
    os.kill(worker, signal.SIGKILL)

    async def parsed() -> list[Page]:
        return [
            await pages._in_parser(pages.page_of, HTML, None, "text/html", URL, url=URL, failed=EMPTY) for _ in range(2)
        ]

    with caplog.at_level(logging.WARNING, logger="archiver.pages"):
        first, second = asyncio.run(parsed())

    assert first == second == pages.page_of(HTML, None, "text/html", URL)
    assert not pool.usable
    assert [record.getMessage() for record in caplog.records if "parser processes failed" in record.getMessage()]
    assert len(caplog.records) == 1  # said once, not once a page


class _CountedTrips:
    """The pool's executor, counting the trips work makes to it."""

    def __init__(self, executor: Any) -> None:
        self.executor, self.trips = executor, 0

    def submit(self, *arguments: Any) -> Any:
        self.trips += 1
        return self.executor.submit(*arguments)


def test_pages_read_at_the_same_time_share_trips_to_a_parser_and_each_gets_its_own(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)
    counted = _CountedTrips(pool.executor())
    monkeypatch.setattr(pool, "executor", lambda: counted)
    bodies: list[object] = [HTML.replace(b"A post", f"Post {i}".encode()) for i in range(40)]
    bodies[17] = "not bytes"  # breaks the parser

    async def parsed() -> list[Page]:
        return await asyncio.gather(
            *(pages._in_parser(pages.page_of, body, None, "text/html", URL, url=f"{URL}{i}", failed=EMPTY)
              for i, body in enumerate(bodies))
        )  # fmt: skip

    with caplog.at_level(logging.WARNING, logger="archiver.pages"):
        read = asyncio.run(parsed())

    assert [page.title for page in read] == [f"Post {i}" if i != 17 else "" for i in range(40)]
    assert read[17] == EMPTY
    assert [record.getMessage()[: len(URL) + 3] for record in caplog.records] == [f"{URL}17 "]
    assert counted.trips <= 40 // pages._BATCH_MOST + 1
    pool.shutdown()


def test_pages_read_together_when_the_parser_processes_die_are_all_read_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)
    worker = pool.executor().submit(os.getpid).result(timeout=60)
    os.kill(worker, signal.SIGKILL)

    async def parsed() -> list[Page]:
        reads = (
            pages._in_parser(pages.page_of, HTML, None, "text/html", URL, url=URL, failed=EMPTY) for _ in range(20)
        )
        return await asyncio.gather(*reads)

    with caplog.at_level(logging.WARNING, logger="archiver.pages"):
        read = asyncio.run(parsed())

    assert read == [pages.page_of(HTML, None, "text/html", URL)] * 20
    assert not pool.usable
    assert len(caplog.records) == 1


def _slow_note(path: str, number: int) -> int:
    """Note `number` in the file at `path`, after 50 ms of work."""
    time.sleep(0.05)
    with open(path, "a", encoding="utf-8") as notes:
        notes.write(f"{number}\n")
    return number


def test_reads_a_stopped_run_no_longer_waits_for_are_not_parsed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)
    monkeypatch.setattr(type(pool), "workers", property(lambda _: 1))
    notes = tmp_path / "notes"
    loops = []

    async def stopped() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        reads = [
            asyncio.ensure_future(pages._in_parser(_slow_note, str(notes), i, url=URL, failed=-1)) for i in range(48)
        ]
        await asyncio.sleep(0.02)  # three trips of 16 sent: the first being read (0.8 s), the others waiting
        for read in reads:
            read.cancel()
        await asyncio.gather(*reads, return_exceptions=True)

    asyncio.run(stopped())
    pool.executor().shutdown(wait=True)  # whatever is still queued is read before it ends
    pool.shutdown()

    assert len(notes.read_text().split()) <= 32  # the last trip, which no process had taken, was called off
    gc.collect()
    assert loops[0]() is None  # the batch kept nothing of the run's loop


def test_a_body_that_breaks_the_parser_is_one_urls_problem(caplog: pytest.LogCaptureFixture) -> None:
    async def parsed() -> Page:
        return await pages._in_parser(pages.page_of, "not bytes", None, "text/html", URL, url=URL, failed=EMPTY)

    with caplog.at_level(logging.WARNING, logger="archiver.pages"):
        page = asyncio.run(parsed())

    assert page == EMPTY
    (message,) = [record.getMessage() for record in caplog.records]
    assert message.startswith(f"{URL} could not be read as a page (AttributeError(")


def test_css_nested_deeper_than_pythons_stack_is_read() -> None:
    css = "a { background: " + "(" * 5000 + "url(deep.png)" + ")" * 5000 + " }"
    html = f"<html><style>{css}</style><body style='x: {'[' * 5000}url(body.png)'></body></html>".encode()

    assert pages.stylesheet_references(css, URL) == ("http://blog.example/deep.png",)
    assert pages.page_of(html, None, "text/html", URL).requisites == (
        "http://blog.example/deep.png",
        "http://blog.example/body.png",
    )


def test_a_job_started_while_a_parser_process_starts_is_refused_before_it_touches_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # what spawn sets while it imports a script's __main__ in a new parser process
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    config = Config(source=None, post_paths=(), output_dir=tmp_path / "out", extract=ExtractSettings())

    with pytest.raises(RuntimeError, match="parser process was starting"):
        job.run(config)

    assert not (tmp_path / "out").exists()
