"""Pages are parsed in parser processes; where those fail, in this process, and the run goes on."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from archiver import pages
from archiver.model import Page

URL = "http://blog.example/post"
HTML = b"<html><head><title>A post</title><link rel=stylesheet href=/s.css></head><body><p>Words.</p></body></html>"


def test_a_page_is_parsed_in_another_process(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)

    async def parsed() -> tuple[Page, int]:
        page = await pages._in_parser(pages.page_of, HTML, None, "text/html", URL, url=URL)
        worker = await pages._in_parser(os.getpid, url=URL)
        return page, worker

    page, worker = asyncio.run(parsed())

    assert page == Page("A post", "a post words.", (), ("http://blog.example/s.css",))
    assert worker != os.getpid()
    assert pool.usable
    pool.give_up("the test is over")


def test_when_the_parser_processes_die_pages_are_read_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = pages._ParserPool()
    monkeypatch.setattr(pages, "_PARSERS", pool)
    worker = pool.executor().submit(os.getpid).result(timeout=60)
    os.kill(worker, signal.SIGKILL)

    async def parsed() -> list[Page]:
        return [await pages._in_parser(pages.page_of, HTML, None, "text/html", URL, url=URL) for _ in range(2)]

    with caplog.at_level(logging.WARNING, logger="archiver.pages"):
        first, second = asyncio.run(parsed())

    assert first == second == pages.page_of(HTML, None, "text/html", URL)
    assert not pool.usable
    assert [record.getMessage() for record in caplog.records if "parser processes failed" in record.getMessage()]
    assert len(caplog.records) == 1  # said once, not once a page
