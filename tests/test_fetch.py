"""The fetcher against a real local server that fails in every way the web does."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import itertools
import logging
import resource
import subprocess
import sys
from collections.abc import Iterable, Iterator
from urllib.parse import quote

import httpx
import pytest

from archiver.config import FetchSettings
from archiver.fetch import Fetcher
from archiver.fetch import transport as transport_module
from archiver.fetch.hosts import HostQueue, HostSlots
from archiver.fetch.network import AddressPolicy, GuardedBackend, is_public
from archiver.fetch.transport import HostPoolTransport, tls_context
from archiver.model import Capture, FetchResult, Status
from tests.conftest import Web
from tests.proxy import recording_proxy
from tests.webserver import CHUNKS, GZIP_TEXT, HTML, PNG, body_of


def fetch_all(settings: FetchSettings, urls: Iterable[str]) -> dict[str, Capture]:
    """Fetch the URLs with a new fetcher; the captures by URL (the caller closes them)."""

    async def run() -> dict[str, Capture]:
        async with Fetcher(settings) as fetcher:
            return {capture.result.url: capture async for capture in fetcher.fetch_all(urls)}

    return asyncio.run(run())


def fetch_results(settings: FetchSettings, urls: Iterable[str]) -> dict[str, FetchResult]:
    """Fetch the URLs with a new fetcher; the results by URL."""
    captures = fetch_all(settings, urls)
    for capture in captures.values():
        capture.close()
    return {url: capture.result for url, capture in captures.items()}


def fetch_one(settings: FetchSettings, url: str) -> FetchResult:
    return fetch_results(settings, [url])[url]


def _body(capture: Capture) -> bytes:
    body = capture.exchanges[-1].body
    body.seek(0)
    return body.read()


# (host, path, status, code, attempts, hop codes)
CASES = [
    ("alpha.test", "/ok.html", Status.OK, 200, 1, [200]),
    ("alpha.test", "/image.png", Status.OK, 200, 1, [200]),
    ("alpha.test", "/gzip", Status.OK, 200, 1, [200]),
    ("alpha.test", "/chunked", Status.OK, 200, 1, [200]),
    ("alpha.test", "/slow", Status.OK, 200, 1, [200]),
    ("alpha.test", "/redirect/3", Status.REDIRECTED, 200, 1, [301, 301, 301, 200]),
    ("alpha.test", "/loop/a", Status.REDIRECT_LOOP, 302, 1, [302, 302]),
    ("alpha.test", "/status/404", Status.NOT_FOUND, 404, 1, [404]),
    ("alpha.test", "/status/410", Status.GONE, 410, 1, [410]),
    ("alpha.test", "/status/403", Status.ACCESS_DENIED, 403, 1, [403]),
    ("alpha.test", "/status/400", Status.CLIENT_ERROR, 400, 1, [400]),
    ("alpha.test", "/status/500", Status.SERVER_ERROR, 500, 3, [500]),
    ("alpha.test", "/flaky/503/1/cases", Status.OK, 200, 2, [200]),
    ("alpha.test", "/flaky/429/1/cases", Status.OK, 200, 2, [200]),
    ("alpha.test", "/flaky/429/5/cases", Status.RATE_LIMITED, 429, 3, [429]),
    ("alpha.test", "/reset", Status.RESET, None, 3, []),
    ("beta.test", "/hang", Status.TIMEOUT, None, 3, []),  # alone on its host: not learned as hung
    ("alpha.test", "/huge/500000", Status.TOO_LARGE, 200, 1, [200]),
    ("alpha.test", "/to/" + quote("ftp://files.example.org/x", safe=""), Status.UNSUPPORTED, 302, 1, [302]),
    ("alpha.test", "/to/" + quote("http://[oops/", safe=""), Status.UNSUPPORTED, 302, 1, [302]),
    ("alpha.test", "/no-location/301", Status.BROKEN_REDIRECT, 301, 1, [301]),
    ("alpha.test", "/odd-retry-after", Status.SERVER_ERROR, 503, 3, [503]),
    ("alpha.test", "/utf8-redirect", Status.REDIRECTED, 200, 1, [302, 200]),
    ("secure.test", "/ok.html", Status.OK, 200, 1, [200]),
    ("badtls.test", "/ok.html", Status.TLS_ERROR, None, 1, []),
]


@pytest.fixture(scope="module")
def captures(web: Web) -> Iterator[dict[str, Capture]]:
    """Every case fetched in one run, concurrently, as `archiver run` does."""
    urls = [web.url(host, path) for host, path, *_ in CASES] + ["http://no-such-host.invalid/page"]
    fetched = fetch_all(web.settings(), urls)
    yield fetched
    for capture in fetched.values():
        capture.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{host}{path}" for host, path, *_ in CASES])
def test_every_failure_mode_gets_its_status_and_attempt_count(
    web: Web, captures: dict[str, Capture], case: tuple[str, str, Status, int | None, int, list[int]]
) -> None:
    host, path, status, code, attempts, hops = case
    result = captures[web.url(host, path)].result

    assert (result.status, result.code, result.attempts) == (status, code, attempts), result.detail
    assert [hop.code for hop in result.hops] == hops


def test_a_name_that_does_not_resolve_is_not_retried(captures: dict[str, Capture]) -> None:
    result = captures["http://no-such-host.invalid/page"].result

    assert (result.status, result.attempts) == (Status.DNS_FAILURE, 1)
    assert "no-such-host.invalid" in result.detail


def test_bodies_are_kept_as_they_came_off_the_wire(web: Web, captures: dict[str, Capture]) -> None:
    assert _body(captures[web.url("alpha.test", "/ok.html")]) == HTML
    assert _body(captures[web.url("alpha.test", "/image.png")]) == PNG
    assert _body(captures[web.url("alpha.test", "/gzip")]) == gzip.compress(GZIP_TEXT, mtime=0)
    assert _body(captures[web.url("alpha.test", "/chunked")]) == b"".join(CHUNKS)
    assert _body(captures[web.url("secure.test", "/ok.html")]) == HTML


def test_gzip_and_chunked_headers_are_recorded_as_sent(web: Web, captures: dict[str, Capture]) -> None:
    gzipped = captures[web.url("alpha.test", "/gzip")].exchanges[0]
    chunked = captures[web.url("alpha.test", "/chunked")].exchanges[0]

    assert gzipped.header("Content-Encoding") == "gzip"
    assert chunked.header("Transfer-Encoding") == "chunked"
    assert gzipped.peer == "127.0.0.2"


def test_a_body_over_the_cap_keeps_what_was_read(web: Web, captures: dict[str, Capture]) -> None:
    capture = captures[web.url("alpha.test", "/huge/500000")]

    assert capture.exchanges[0].truncated
    assert _body(capture) == body_of(500000)[:200_000]
    assert capture.result.size == 200_000


def test_redirect_chain_records_every_hop(web: Web, captures: dict[str, Capture]) -> None:
    result = captures[web.url("alpha.test", "/redirect/3")].result

    assert [hop.location for hop in result.hops] == ["/redirect/2", "/redirect/1", "/ok.html", None]
    assert result.final_url == web.url("alpha.test", "/ok.html")


def test_retry_honours_retry_after(web: Web) -> None:
    url = web.url("beta.test", "/flaky/503/1/retry-after")

    result = fetch_one(web.settings(backoff=0, backoff_max=0), url)

    arrivals = web.server.arrivals["beta.test"][-2:]
    assert (result.status, result.attempts) == (Status.OK, 2)
    assert arrivals[1] - arrivals[0] >= 0.9  # the server asked for 1 s


def test_user_agent_names_the_tool_and_the_contact(web: Web, captures: dict[str, Capture]) -> None:
    headers = web.server.headers[("alpha.test", "/ok.html")]

    assert headers["user-agent"].startswith("archiver/")
    assert "+https://blog.example.org/archiving" in headers["user-agent"]
    assert headers["accept-encoding"] == "gzip, deflate"


def test_no_host_sees_more_concurrent_requests_than_its_limit(web: Web) -> None:
    urls = [web.url(host, f"/hold/0.1/limit-{i}") for host in ("alpha.test", "beta.test") for i in range(12)]
    web.server.reset_counts()

    results = fetch_results(web.settings(per_host=3, concurrency=5), urls)

    assert all(result.status is Status.OK for result in results.values())
    assert web.server.peak["alpha.test"] == 3
    assert web.server.peak["beta.test"] == 3
    assert web.server.peak_total <= 5


def test_per_host_delay_spaces_requests(web: Web) -> None:
    urls = [web.url("beta.test", f"/ok.html?delay={i}") for i in range(3)]
    web.server.reset_counts()

    fetch_results(web.settings(host_delay=0.3), urls)

    arrivals = sorted(web.server.arrivals["beta.test"])
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(arrivals))


def test_a_refusing_host_is_learned_once(web: Web) -> None:
    settings = web.settings(per_host=1, resolve={"refusing.test": "127.0.0.9"})
    urls = [f"http://refusing.test:9/page-{i}" for i in range(5)]

    results = fetch_results(settings, urls).values()

    assert {result.status for result in results} == {Status.REFUSED}
    assert sorted(result.attempts for result in results) == [0, 0, 0, 1, 1]
    assert all(r.detail.startswith("http://refusing.test:9 failed 2 times") for r in results if r.attempts == 0)


def test_a_name_that_does_not_resolve_is_learned_after_one_confirming_attempt(web: Web) -> None:
    urls = [f"http://gone-for-good.invalid/page-{i}" for i in range(5)]

    results = fetch_results(web.settings(per_host=1), urls).values()

    assert {result.status for result in results} == {Status.DNS_FAILURE}
    assert sorted(result.attempts for result in results) == [0, 0, 0, 1, 1]


def test_robots_txt_is_obeyed_when_asked(web: Web) -> None:
    allowed, disallowed = web.url("alpha.test", "/ok.html"), web.url("alpha.test", "/private/secret")

    obeying = fetch_results(web.settings(robots=True), [allowed, disallowed])
    ignoring = fetch_one(web.settings(), disallowed)

    assert obeying[allowed].status is Status.OK
    assert (obeying[disallowed].status, obeying[disallowed].detail) == (Status.DISALLOWED, "disallowed by robots.txt")
    assert ignoring.status is Status.NOT_FOUND


def test_private_address_behind_a_name_is_refused_without_connecting(web: Web) -> None:
    results = fetch_results(web.settings(), ["http://private.test/", "http://metadata.test/latest/meta-data/"])

    for result in results.values():
        assert (result.status, result.attempts) == (Status.BLOCKED, 1)
        assert "not a public address" in result.detail


def test_loopback_is_refused_unless_allowed(web: Web) -> None:
    url = web.url("alpha.test", "/ok.html")

    strict = fetch_one(web.settings(allow_networks=()), url)
    literal = fetch_one(web.settings(allow_networks=()), url.replace("alpha.test", "127.0.0.2"))

    assert strict.status is Status.BLOCKED
    assert literal.status is Status.BLOCKED


def test_redirect_to_an_internal_address_is_refused(web: Web) -> None:
    internal = web.url("alpha.test", "/ok.html").replace("alpha.test", "127.0.0.2")
    url = web.url("beta.test", "/to/" + quote(internal, safe=""))
    only_beta = (ipaddress.ip_network("127.0.0.3/32"),)

    result = fetch_one(web.settings(allow_networks=only_beta), url)

    assert result.status is Status.BLOCKED
    assert [hop.code for hop in result.hops] == [302]
    assert "127.0.0.2" in result.detail


@pytest.mark.parametrize(
    ("target", "scheme"),
    [
        ("mailto:editor@example.org?subject=Hello", "mailto"),
        ("javascript:alert(document.cookie)", "javascript"),
        ("data:text/html;base64,PGgxPmhpPC9oMT4=", "data"),
        ("about:blank", "about"),
        ("ftp://files.example.org/x", "ftp"),
        ("MAILTO:editor@example.org", "mailto"),
    ],
)
def test_a_redirect_to_another_scheme_is_unsupported_with_its_hop_kept(
    web: Web, caplog: pytest.LogCaptureFixture, target: str, scheme: str
) -> None:
    url = web.url("alpha.test", "/to/" + quote(target, safe=""))

    result = fetch_one(web.settings(), url)

    assert (result.status, result.code, result.attempts) == (Status.UNSUPPORTED, 302, 1)
    assert [(hop.url, hop.code, hop.location) for hop in result.hops] == [(url, 302, target)]
    assert f"the scheme {scheme}: is not http(s)" in result.detail
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.parametrize("target", ["http://[oops/", "http://alpha.test:99999/page", "https:///no-host"])
def test_a_redirect_to_a_location_that_is_no_url_is_unsupported_with_its_hop_kept(
    web: Web, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    url = web.url("alpha.test", "/to/" + quote(target, safe=""))

    result = fetch_one(web.settings(), url)

    assert (result.status, result.code) == (Status.UNSUPPORTED, 302), result.detail
    assert [hop.location for hop in result.hops] == [target]
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_long_data_url_is_shortened_in_the_detail(web: Web) -> None:
    target = "data:image/png;base64," + "A" * 5000
    result = fetch_one(web.settings(), web.url("alpha.test", "/to/" + quote(target, safe="")))

    assert result.status is Status.UNSUPPORTED
    assert result.hops[0].location == target
    assert len(result.detail) < 300


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of the cloud metadata address
        ("64:ff9b::5db8:d822", True),  # NAT64 of a public address
        ("64:ff9b:1::1", False),  # local-use NAT64
        ("::a00:1", False),  # IPv4-compatible 10.0.0.1
        ("::ffff:0:a00:1", False),  # IPv4-translated 10.0.0.1
        ("fec0::1", False),  # site-local
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_allow_list_opens_only_its_networks() -> None:
    policy = AddressPolicy([ipaddress.ip_network("10.20.0.0/16")])

    assert policy.permits(ipaddress.ip_address("10.20.3.4"))
    assert not policy.permits(ipaddress.ip_address("10.21.3.4"))
    assert policy.permits(ipaddress.ip_address("93.184.216.34"))


def test_ssl_cert_file_is_honoured_when_no_bundle_is_configured(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    url = web.url("secure.test", "/ok.html")

    without = fetch_one(web.settings(ca_bundle=None), url)
    monkeypatch.setenv("SSL_CERT_FILE", str(web.ca_file))
    with_env = fetch_one(web.settings(ca_bundle=None), url)

    assert (without.status, without.attempts) == (Status.TLS_ERROR, 1)
    assert "certificate verify failed" in without.detail
    assert with_env.status is Status.OK


def test_every_host_is_asked_first_then_each_in_turn_within_its_lanes() -> None:
    urls = ["http://a.test/1", "http://a.test/2", "http://a.test/3", "http://a.test/4", "http://b.test/1",
            "http://c.test/1", "http://b.test/2", "http://b.test/3"]  # fmt: skip
    queue = HostQueue(urls, lambda url: url.split("/")[2], lanes=2)

    firsts = [queue.take(), queue.take(), queue.take()]
    in_turn = [queue.take(), queue.take(), queue.take()]  # a and b: two each at most
    queue.finished("http://a.test/1")
    after_one = [queue.take(), queue.take()]
    queue.finished("http://b.test/1")
    only_firsts = queue.take(first_only=True)  # b.test/3 may start, but it is no host's first URL

    assert firsts == ["http://a.test/1", "http://b.test/1", "http://c.test/1"]
    assert in_turn == ["http://a.test/2", "http://b.test/2", None]
    assert after_one == ["http://a.test/3", None]
    assert (only_firsts, queue.take(), queue.take()) == (None, "http://b.test/3", None)
    assert queue  # a.test/4 is still to start


def test_many_urls_of_one_host_do_not_hold_up_the_others(web: Web) -> None:
    slow = [web.url("alpha.test", f"/hold/0.1/queue-{i}") for i in range(12)]  # more than the window of 8
    quick = [web.url("beta.test", f"/ok.html?queue={i}") for i in range(16)]

    async def order() -> list[str]:
        async with Fetcher(web.settings(per_host=1, concurrency=2)) as fetcher:
            finished = []
            async for capture in fetcher.fetch_all(slow + quick):
                finished.append(capture.result.url)
                capture.close()
            return finished

    finished = asyncio.run(order())

    assert set(finished[: len(quick) + 1]) >= set(quick)  # beta's URLs do not wait for alpha's


@pytest.mark.parametrize(
    ("url", "status", "attempts"),
    [
        ("http://xn--a.example/page", Status.UNSUPPORTED, 0),  # IDNA refuses it: nothing is sent
        ("http://[::1/", Status.UNSUPPORTED, 0),
        ("http://alpha.test:99999/", Status.UNSUPPORTED, 0),
        ("http://a..b/", Status.DNS_FAILURE, 1),  # no such name can exist
        ("http://" + "a" * 64 + ".example/", Status.DNS_FAILURE, 1),
    ],
)
def test_a_url_that_cannot_be_fetched_is_a_status_and_the_run_goes_on(
    web: Web, url: str, status: Status, attempts: int
) -> None:
    fine = web.url("alpha.test", "/ok.html")

    results = fetch_results(web.settings(), [url, fine])

    assert (results[url].status, results[url].attempts) == (status, attempts), results[url].detail
    assert results[fine].status is Status.OK


def test_waiting_for_a_slot_does_not_count_against_the_timeout(web: Web) -> None:
    urls = [web.url("alpha.test", f"/hold/0.4/queue-timeout-{i}") for i in range(8)]

    results = fetch_results(web.settings(per_host=2, total_timeout=1.0), urls)

    assert [(r.status, r.attempts) for r in results.values()] == [(Status.OK, 1)] * 8


def test_a_closed_port_does_not_condemn_the_host(web: Web) -> None:
    closed = [f"http://alpha.test:9/closed-{i}" for i in range(3)]
    open_port = web.url("alpha.test", "/ok.html?after-closed-port")

    results = fetch_results(web.settings(per_host=1), [*closed, open_port])

    assert {results[url].status for url in closed} == {Status.REFUSED}
    assert results[open_port].status is Status.OK


def test_a_redirect_into_a_host_known_down_is_not_retried(web: Web) -> None:
    settings = web.settings(resolve={**web.addresses, "down.test": "127.0.0.9"})
    redirect = web.url("alpha.test", "/to/" + quote("http://down.test:9/page", safe=""))

    async def run() -> FetchResult:
        async with Fetcher(settings) as fetcher:
            (await fetcher.fetch("http://down.test:9/first")).close()
            capture = await fetcher.fetch(redirect)
            capture.close()
            return capture.result

    result = asyncio.run(run())

    assert (result.status, result.attempts, [hop.code for hop in result.hops]) == (Status.REFUSED, 1, [302])
    assert "failed 2 times in this run" in result.detail


def test_header_bytes_that_are_not_latin_1_are_kept(web: Web, captures: dict[str, Capture]) -> None:
    utf8 = fetch_all(web.settings(), [web.url("alpha.test", "/utf8-headers")])
    exchange = next(iter(utf8.values())).exchanges[0]
    followed = captures[web.url("alpha.test", "/utf8-redirect")].result

    assert exchange.header("Content-Disposition") == 'attachment; filename="caf\xc3\xa9.txt"'  # one char a byte
    assert followed.hops[-1].url.endswith("/caf%C3%A9")  # UTF-8, percent-encoded, as a browser follows it
    for capture in utf8.values():
        capture.close()


def test_robots_txt_that_errors_disallows_and_a_huge_one_is_read_only_in_part(web: Web) -> None:
    settings = web.settings(
        robots=True, resolve={**web.addresses, "broken-robots.test": "127.0.0.2", "huge-robots.test": "127.0.0.2"}
    )
    port = web.ports["alpha.test"]
    broken, huge = f"http://broken-robots.test:{port}/ok.html", f"http://huge-robots.test:{port}/ok.html"

    results = fetch_results(settings, [broken, huge])

    assert (results[broken].status, results[broken].detail) == (Status.DISALLOWED, "disallowed by robots.txt")
    assert results[huge].status is Status.OK


def test_robots_txt_moved_to_mailto_counts_as_no_robots_txt(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    settings = web.settings(robots=True, resolve={**web.addresses, "mailto-robots.test": "127.0.0.2"})
    url = f"http://mailto-robots.test:{web.ports['alpha.test']}/ok.html"

    result = fetch_one(settings, url)

    assert result.status is Status.OK, result.detail
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_robots_txt_wildcards_and_the_longest_matching_rule_decide(web: Web) -> None:
    """RFC 9309: `*` matches any characters and `$` the end of the path; of an Allow and a
    Disallow that both match, the longer decides."""
    names = ("wildcard-robots.test", "longest-robots.test")
    settings = web.settings(robots=True, resolve={**web.addresses, **dict.fromkeys(names, "127.0.0.2")})
    port = web.ports["alpha.test"]
    pdf, pdf_page = f"http://wildcard-robots.test:{port}/doc.pdf", f"http://wildcard-robots.test:{port}/doc.pdf.html"
    allowed, disallowed = f"http://longest-robots.test:{port}/a/b/c", f"http://longest-robots.test:{port}/a/x"

    results = fetch_results(settings, [pdf, pdf_page, allowed, disallowed])

    assert {url: results[url].status for url in (pdf, pdf_page, allowed, disallowed)} == {
        pdf: Status.DISALLOWED,
        pdf_page: Status.NOT_FOUND,  # asked, and the server has no such page
        allowed: Status.NOT_FOUND,
        disallowed: Status.DISALLOWED,
    }


def test_pools_of_hosts_that_are_done_are_closed(web: Web) -> None:
    names = {f"host{i}.test": "127.0.0.2" for i in range(100)}
    settings = web.settings(per_host=1, concurrency=8, resolve=names)
    backend = GuardedBackend(AddressPolicy(settings.allow_networks), settings.resolve)
    transport = HostPoolTransport(tls_context(None), backend, 1, idle_pools_kept=10)
    urls = [f"http://{name}:{web.ports['alpha.test']}/ok.html" for name in names]

    async def run() -> int:
        async with Fetcher(settings, transport) as fetcher:
            async for capture in fetcher.fetch_all(urls):
                assert capture.result.status is Status.OK
                capture.close()
            return transport.open_pools

    assert asyncio.run(run()) <= 10 + 8


def test_a_hosts_next_url_reuses_its_connection_though_hundreds_of_hosts_were_asked_between(web: Web) -> None:
    names = {f"reused{i}.test": "127.0.0.2" for i in range(150)}
    settings = web.settings(per_host=1, concurrency=8, resolve=names)
    backend = GuardedBackend(AddressPolicy(settings.allow_networks), settings.resolve)
    transport = HostPoolTransport(tls_context(None), backend, 1, idle_pools_kept=400)
    # every host is asked once before any is asked again: 149 other hosts between a host's two URLs
    urls = [f"http://{name}:{web.ports['alpha.test']}/ok.html?{turn}" for turn in (1, 2) for name in names]

    async def run() -> None:
        async with Fetcher(settings, transport) as fetcher:
            async for capture in fetcher.fetch_all(urls):
                assert capture.result.status is Status.OK
                capture.close()

    opened = web.server.connections
    asyncio.run(run())
    assert web.server.connections - opened == len(names)


def _refused_by(hosts: int, scheme: str) -> tuple[dict[str, str], list[httpx.Request]]:
    """Host names whose address refuses connections, and a request to each."""
    names = {f"{scheme}-refusing{i}.test": "127.0.0.9" for i in range(hosts)}
    return names, [httpx.Request("GET", f"{scheme}://{name}:9/") for name in names]


async def _sent(transport: HostPoolTransport, requests: list[httpx.Request]) -> None:
    for request in requests:
        with pytest.raises(httpx.ConnectError):
            await transport.handle_async_request(request)


def test_idle_https_pools_are_kept_fewer_than_plain_ones(web: Web) -> None:
    tls_names, tls_requests = _refused_by(100, "https")
    plain_names, plain_requests = _refused_by(100, "http")
    settings = web.settings(resolve={**tls_names, **plain_names})
    backend = GuardedBackend(AddressPolicy(settings.allow_networks), settings.resolve)
    transport = HostPoolTransport(tls_context(None), backend, 1, idle_pools_kept=200)  # 64 HTTPS, 136 plain

    async def run() -> tuple[int, int]:
        await _sent(transport, tls_requests)
        https_only = transport.open_pools
        await _sent(transport, plain_requests)
        both = transport.open_pools
        await transport.aclose()
        return https_only, both

    assert asyncio.run(run()) == (64, 64 + 100)


def test_pools_idle_longer_than_the_keep_alive_are_closed(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    names, requests = _refused_by(10, "http")
    settings = web.settings(resolve=names)
    backend = GuardedBackend(AddressPolicy(settings.allow_networks), settings.resolve)
    transport = HostPoolTransport(tls_context(None), backend, 1, idle_pools_kept=400)

    async def run() -> tuple[int, int]:
        await _sent(transport, requests[:9])
        kept = transport.open_pools
        monkeypatch.setattr(transport_module, "_KEEPALIVE_SECONDS", 0.0)  # every idle pool has outlived it
        await _sent(transport, requests[9:])
        return kept, transport.open_pools

    assert asyncio.run(run()) == (9, 1)


# (soft limit, hard limit) -> idle pools of 4 connections beside 64 at work, and the soft limit after
@pytest.mark.parametrize(
    ("soft", "hard", "pools", "raised"), [(300, 20_000, 3968, 16_384), (1024, 1024, 128, 1024), (256, 256, 8, 256)]
)
def test_idle_pools_are_as_many_as_the_open_file_limit_leaves_room_for(
    soft: int, hard: int, pools: int, raised: int
) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < hard:
        pytest.skip(f"the hard limit of open files here is below {hard}")
    program = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        "from archiver.fetch.transport import idle_pools_for\n"
        "print(idle_pools_for(4, 64), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    printed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout

    assert printed.split() == [str(pools), str(raised)]


def test_an_urgent_request_goes_to_the_front_of_the_host_queue() -> None:
    async def order() -> list[str]:
        slots, served = HostSlots(1), []

        async def request(name: str, urgent: bool) -> None:
            async with slots.held(urgent):
                served.append(name)
                await asyncio.sleep(0.01)

        first = asyncio.ensure_future(request("first", False))
        await asyncio.sleep(0)
        queued = [asyncio.ensure_future(request(f"queued-{i}", False)) for i in range(3)]
        await asyncio.sleep(0)
        probe = asyncio.ensure_future(request("probe", True))
        await asyncio.gather(first, probe, *queued)
        return served

    assert asyncio.run(order()) == ["first", "probe", "queued-0", "queued-1", "queued-2"]


def test_through_a_proxy_every_request_goes_there_and_the_guard_still_refuses_what_it_can_see(web: Web) -> None:
    url = web.url("alpha.test", "/ok.html")
    with recording_proxy(web.addresses) as proxy:
        allowed = fetch_one(web.settings(proxy=proxy.url, user_agent="audit/1.0"), url)
        sent = list(proxy.requests)
        refused = fetch_one(web.settings(proxy=proxy.url, allow_networks=()), url)
        literal = fetch_one(web.settings(proxy=proxy.url), "http://169.254.169.254/latest/meta-data/")
        tunnelled = fetch_one(web.settings(proxy=proxy.url), web.url("secure.test", "/ok.html"))
        untrusted = fetch_one(web.settings(proxy=proxy.url), web.url("badtls.test", "/ok.html"))

    assert (allowed.status, allowed.code) == (Status.OK, 200)
    assert sent == [(url, "audit/1.0")]
    assert (tunnelled.status, untrusted.status) == (Status.OK, Status.TLS_ERROR)  # verified through the tunnel
    assert refused.status is literal.status is Status.BLOCKED
    assert "alpha.test resolves to 127.0.0.2, which is not a public address" in refused.detail
    secure, bad = (f"CONNECT {host}:{web.ports[host]}" for host in ("secure.test", "badtls.test"))
    assert [request for request, _ in proxy.requests] == [url, secure, bad]  # nothing refused reached the proxy


def test_trust_env_takes_the_proxy_from_the_environment_unless_no_proxy_names_the_host(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = web.url("alpha.test", "/ok.html")
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with recording_proxy(web.addresses) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        ignored = fetch_one(web.settings(), url)
        after_ignored = len(proxy.requests)
        trusted = fetch_one(web.settings(trust_env=True), url)
        after_trusted = len(proxy.requests)
        monkeypatch.setenv("NO_PROXY", "alpha.test")
        bypassed = fetch_one(web.settings(trust_env=True), url)

    assert ignored.status is trusted.status is bypassed.status is Status.OK
    assert (after_ignored, after_trusted, len(proxy.requests)) == (0, 1, 1)


def test_every_host_is_asked_while_the_consumer_holds_up_the_window(web: Web) -> None:
    """Hosts' first URLs may run a window beyond the consumer: with a window of 4 and the
    consumer busy with its first capture, the last of six hosts is still asked."""
    names = {f"crowd{i}.test": "127.0.0.2" for i in range(6)}
    port = web.ports["alpha.test"]
    urls = [f"http://crowd0.test:{port}/ok.html?busy-{i}" for i in range(10)]
    urls += [f"http://{name}:{port}/ok.html?busy" for name in names]

    async def asked_while_busy() -> bool:
        async with Fetcher(web.settings(concurrency=1, resolve=names)) as fetcher:
            captures = fetcher.fetch_all(urls)
            (await anext(captures)).close()
            for _ in range(500):  # the consumer is busy: the fetches already started go on
                if web.server.hits[("crowd5.test", "/ok.html?busy")]:
                    break
                await asyncio.sleep(0.01)
            asked = web.server.hits[("crowd5.test", "/ok.html?busy")] == 1
            async for capture in captures:
                capture.close()
            return asked

    web.server.reset_counts()
    assert asyncio.run(asked_while_busy())
    assert web.server.peak_total == 1  # the global limit holds all the same
