"""A hung host (it takes the connection and never answers) among many live ones: it costs
one timeout sequence in a run, not one per URL, and its URLs say why; a host that
answers slowly is not taken for one."""

from __future__ import annotations

import asyncio

from archiver.fetch import Fetcher
from archiver.fetch.errors import CONNECT_TIMEOUT_DETAIL, READ_TIMEOUT_DETAIL
from archiver.fetch.hosts import HostMemory
from archiver.model import FetchResult, Status
from tests.conftest import Web

LIVE_HOSTS = [f"live{i}.test" for i in range(30)]


def _fetch(web: Web, urls: list[str], **settings: object) -> dict[str, FetchResult]:
    names = dict.fromkeys([*LIVE_HOSTS, "hung.test"], web.addresses["alpha.test"])

    async def run() -> dict[str, FetchResult]:
        async with Fetcher(web.settings(resolve=names, **settings)) as fetcher:
            results = {}
            async for capture in fetcher.fetch_all(urls):
                capture.close()
                results[capture.result.url] = capture.result
            return results

    return asyncio.run(run())


def test_a_hung_host_costs_one_timeout_sequence_and_its_urls_say_why(web: Web) -> None:
    port = web.ports["alpha.test"]
    live = [f"http://{host}:{port}/ok.html?hung-run-{i}" for i in range(2) for host in LIVE_HOSTS]
    hung = [f"http://hung.test:{port}/hang?url-{i}" for i in range(5)]

    by_url = _fetch(web, live + hung, per_host=1, attempts=3, read_timeout=0.3)

    asked = sum(count for (host, _), count in web.server.hits.items() if host == "hung.test")
    remembered = f"http://hung.test:{port} timed out 3 times in a row earlier in this run: {READ_TIMEOUT_DETAIL}"
    assert asked == 3  # one URL's worth of attempts, not 5 x 3
    assert {by_url[url].status for url in hung} == {Status.TIMEOUT}
    assert sum(by_url[url].attempts for url in hung) == 3
    assert {by_url[url].detail for url in hung} == {remembered}
    assert {by_url[url].status for url in live} == {Status.OK}


def test_the_next_run_asks_a_host_that_hung_in_the_last_one_again(web: Web) -> None:
    port = web.ports["alpha.test"]
    hung = [f"http://hung.test:{port}/hang?next-run-{i}" for i in range(3)]
    _fetch(web, hung, per_host=1, attempts=1, read_timeout=0.2)

    again = _fetch(web, hung, per_host=1, attempts=1, read_timeout=0.2)

    # Two timeouts make a host known hung, even with one attempt a URL; each run asks it twice.
    assert sum(web.server.hits[("hung.test", f"/hang?next-run-{i}")] for i in range(3)) == 4
    assert sorted(result.detail for result in again.values()) == [
        f"http://hung.test:{port} timed out 2 times in a row earlier in this run: {READ_TIMEOUT_DETAIL}",
        READ_TIMEOUT_DETAIL,
        READ_TIMEOUT_DETAIL,
    ]


def test_a_body_that_stalls_is_not_held_against_its_host(web: Web) -> None:
    port = web.ports["alpha.test"]
    slow = [f"http://live0.test:{port}/slow?stalls-{i}" for i in range(4)]  # the head at once, then a pause

    by_url = _fetch(web, slow, per_host=1, attempts=1, read_timeout=0.1)

    assert {by_url[url].status for url in slow} == {Status.TIMEOUT}
    assert {by_url[url].detail for url in slow} == {READ_TIMEOUT_DETAIL}  # each asked, none from memory
    assert sum(web.server.hits[("live0.test", f"/slow?stalls-{i}")] for i in range(4)) == 4


def test_timeouts_in_a_row_make_a_host_known_hung_and_an_answer_between_them_does_not() -> None:
    host, origin = "slow.example", "https://slow.example"
    memory = HostMemory(hung_after=3)
    for _ in range(2):
        memory.record(host, origin, Status.TIMEOUT, CONNECT_TIMEOUT_DETAIL)
    memory.record(host, origin, Status.OK, "")
    for _ in range(2):
        memory.record(host, origin, Status.TIMEOUT, CONNECT_TIMEOUT_DETAIL)
    before = memory.verdict(host, origin)
    memory.record(host, origin, Status.TIMEOUT, CONNECT_TIMEOUT_DETAIL)

    assert before is None  # two in a row since it answered
    assert memory.verdict(host, origin) == (
        Status.TIMEOUT,
        f"{origin} timed out 3 times in a row earlier in this run: {CONNECT_TIMEOUT_DETAIL}",
    )
    assert memory.verdict(host, "https://slow.example:8443") is None  # another port of the host is not known
