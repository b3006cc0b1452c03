"""Health statuses from content: soft-404s, parked domains, bot walls, https upgrades."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver import job
from archiver.config import Config, ExtractSettings
from archiver.fetch import Fetcher
from archiver.health import (
    _MISSING_PHRASES,
    Classifier,
    Evidence,
    Page,
    needs_probe,
    says_missing,
    similarity,
    text_says_missing,
)
from archiver.model import FetchResult, Hop, Status
from tests.conftest import Web

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def classify_all(web: Web, urls: list[str]) -> dict[str, FetchResult]:
    """Fetch and classify the URLs as `archiver run` does; the results by URL."""

    async def run() -> dict[str, FetchResult]:
        results = {}
        async with Fetcher(web.settings()) as fetcher:
            async for capture in fetcher.fetch_all(urls, then=Classifier(fetcher).finish):
                results[capture.result.url] = capture.result
                capture.close()
        return results

    return asyncio.run(run())


def plain(web: Web, host: str, path: str) -> str:
    return f"http://{host}:{web.ports['alpha.test']}{path}"


@pytest.fixture(scope="module")
def health(web: Web) -> dict[str, FetchResult]:
    urls = [
        plain(web, "soft.test", "/real-article"),
        plain(web, "soft.test", "/2014/10/a-post-that-was-deleted/"),
        plain(web, "front.test", "/old/moved-page.html"),
        plain(web, "front.test", "/about"),
        plain(web, "prose.test", "/2012/spam"),
        plain(web, "captcha404.test", "/gone"),
        plain(web, "template.test", "/short-post"),
        plain(web, "template.test", "/deleted"),
        plain(web, "app.test", "/dashboard"),
        plain(web, "slash.test", "/deleted-post"),
        plain(web, "slash.test", "/real"),
        plain(web, "home.test", "/index.html"),
        plain(web, "parked.test", "/blog/post"),
        plain(web, "walled.test", "/article"),
        f"http://upgrade.test:{web.ports['upgrade.test']}/page?id=7",
        web.url("alpha.test", "/ok.html"),
        web.url("alpha.test", "/status/404"),
        web.url("alpha.test", "/redirect/2"),
    ]
    return classify_all(web, urls)


@pytest.mark.parametrize(
    "case",
    [
        ("soft.test", "/real-article", Status.OK, ""),
        ("soft.test", "/2014/10/a-post-that-was-deleted/", Status.SOFT_404, "answers like a page that cannot exist"),
        ("front.test", "/old/moved-page.html", Status.SOFT_404, "a deep link sent to the site's front page"),
        ("front.test", "/about", Status.OK, ""),
        ("parked.test", "/blog/post", Status.PARKED, "a parking page answered"),
        ("walled.test", "/article", Status.BOT_WALL, "a challenge page answered (Just a moment...)"),
        # live pages that only look suspicious stay live
        ("prose.test", "/2012/spam", Status.OK, ""),
        ("template.test", "/short-post", Status.OK, ""),
        ("app.test", "/dashboard", Status.OK, ""),
        ("home.test", "/index.html", Status.REDIRECTED, ""),
        ("slash.test", "/real", Status.REDIRECTED, ""),
        # a real 404 stays a 404, captcha or not; soft-404s behind templates and slashes are found
        ("captcha404.test", "/gone", Status.NOT_FOUND, ""),
        ("template.test", "/deleted", Status.SOFT_404, "the page says it is not there (Page not found)"),
        ("slash.test", "/deleted-post", Status.SOFT_404, "answers like a page that cannot exist"),
    ],
)
def test_content_shows_what_the_status_code_hides(
    web: Web, health: dict[str, FetchResult], case: tuple[str, str, Status, str]
) -> None:
    host, path, status, detail = case
    result = health[plain(web, host, path)]

    assert result.status is status, result.detail
    assert result.detail.startswith(detail)


AUDIT_CASES = [
    # a site whose 404s are real, but one removed article answers 200 "Page not found"
    ("removed.test", "/2015/removed-article", Status.SOFT_404, "the page says it is not there (Page not found"),
    ("removed.test", "/2015/live-article", Status.OK, ""),
    # removed deep links sent to the front page while random paths 404
    ("frontlinks.test", "/2008/04/03/story/", Status.SOFT_404, "a deep link sent to the site's front page"),
    ("frontlinks.test", "/wiki/REST", Status.SOFT_404, "a deep link sent to the site's front page"),
    ("frontlinks.test", "/en/old-page", Status.SOFT_404, "a deep link sent to the site's front page"),
    ("frontlinks.test", "/", Status.OK, ""),
    ("frontlinks.test", "/moved-article", Status.REDIRECTED, ""),
    # an article about 404 pages, with a long body
    ("history.test", "/404-history", Status.OK, ""),
    # a deep link sent to a login page: a person has to look
    ("members.test", "/reports/q3", Status.ACCESS_DENIED, "sent to a login page"),
]


def test_soft_404s_by_what_a_page_says_and_where_a_deep_link_lands_twice_alike(web: Web) -> None:
    urls = [plain(web, host, path) for host, path, _, _ in AUDIT_CASES]

    first, second = classify_all(web, urls), classify_all(web, urls)

    found = {url: (first[url].status, first[url].detail) for url in urls}
    for (host, path, status, detail), url in zip(AUDIT_CASES, urls, strict=True):
        assert found[url][0] is status, (host, path, found[url])
        assert found[url][1].startswith(detail), (host, path, found[url])
    assert {url: (second[url].status, second[url].detail) for url in urls} == found


def test_a_link_to_the_front_page_only_upgraded_to_https_is_not_where_missing_pages_go(web: Web) -> None:
    front = f"http://upgrade.test:{web.ports['upgrade.test']}/"
    gone = f"http://upgrade.test:{web.ports['upgrade.test']}/gone/article"

    results = classify_all(web, [front, gone])

    assert (results[front].status, results[front].detail) == (Status.OK, "upgraded to https")
    assert results[gone].status is Status.SOFT_404


def test_an_upgrade_to_https_on_the_same_host_and_path_is_ok(web: Web, health: dict[str, FetchResult]) -> None:
    result = health[f"http://upgrade.test:{web.ports['upgrade.test']}/page?id=7"]

    assert (result.status, result.detail) == (Status.OK, "upgraded to https")
    assert [hop.code for hop in result.hops] == [301, 200]


def test_ordinary_answers_keep_their_status(web: Web, health: dict[str, FetchResult]) -> None:
    assert health[web.url("alpha.test", "/ok.html")].status is Status.OK
    assert health[web.url("alpha.test", "/status/404")].status is Status.NOT_FOUND
    assert health[web.url("alpha.test", "/redirect/2")].status is Status.REDIRECTED


def test_bot_walls_and_denials_are_unknown_never_failures() -> None:
    for status in (Status.BOT_WALL, Status.ACCESS_DENIED, Status.RATE_LIMITED):
        assert status.is_unknown
        assert not status.is_failure
    for status in (Status.SOFT_404, Status.PARKED, Status.NOT_FOUND, Status.DNS_FAILURE, Status.TIMEOUT):
        assert status.is_failure


def test_similarity_ignores_numbers_and_the_probe_name() -> None:
    missing = Page("Oops", "sorry! we looked everywhere but /archiver-probe-0a1b2c3d4e5f6a7b is not here")
    asked = Page("Oops", "sorry! we looked everywhere but /2014/10/ is not here")
    article = Page("Post", "a long article about clouds, with 2014 figures and many other words in it")

    assert similarity(asked, missing) >= 0.9
    assert similarity(article, missing) < 0.5


def test_a_run_over_every_failure_mode_gets_each_verdict_right(web: Web, tmp_path: Path) -> None:
    live = [
        web.url("alpha.test", "/ok.html"),
        web.url("alpha.test", "/image.png"),
        web.url("alpha.test", "/redirect/3"),
        web.url("beta.test", "/flaky/503/1/verdicts"),
        web.url("beta.test", "/flaky/429/1/verdicts"),
        web.url("secure.test", "/ok.html"),
        f"http://upgrade.test:{web.ports['upgrade.test']}/moved",
        plain(web, "soft.test", "/real-article"),
    ]
    failing = [
        web.url("alpha.test", "/status/404"),
        web.url("alpha.test", "/status/410"),
        web.url("alpha.test", "/status/500"),
        web.url("alpha.test", "/loop/a"),
        web.url("alpha.test", "/reset"),
        web.url("badtls.test", "/ok.html"),
        "http://gone-domain.invalid/post",
        plain(web, "soft.test", "/deleted-post"),
        plain(web, "front.test", "/deleted-post"),
        plain(web, "parked.test", "/"),
    ]
    unknown = [plain(web, "walled.test", "/article"), web.url("alpha.test", "/status/403")]
    post = tmp_path / "posts" / "post.md"
    post.parent.mkdir()
    post.write_text("".join(f"[link {i}]({url})\n\n" for i, url in enumerate(live + failing + unknown)), "utf-8")
    config = Config(source=None, post_paths=(post,), output_dir=tmp_path / "out", extract=ExtractSettings(),
                    fetch=web.settings())  # fmt: skip

    summary = job.run(config)

    assert summary.report is not None
    verdicts = {entry["url"]: entry["verdict"] for entry in summary.report.entries}
    assert {url: verdicts[url] for url in live} == dict.fromkeys(live, "alive")
    assert {url: verdicts[url] for url in failing} == dict.fromkeys(failing, "failing")
    assert {url: verdicts[url] for url in unknown} == dict.fromkeys(unknown, "unknown")


def test_the_probe_jumps_the_queue_but_the_host_limit_holds(web: Web, tmp_path: Path) -> None:
    urls = [web.url("beta.test", f"/notice/0.1/probe-queue-{i}") for i in range(12)]
    post = tmp_path / "post.md"
    post.write_text("".join(f"[{i}]({url})\n\n" for i, url in enumerate(urls)), "utf-8")
    config = Config(source=None, post_paths=(post,), output_dir=tmp_path / "out", extract=ExtractSettings(),
                    fetch=web.settings(per_host=2))  # fmt: skip
    web.server.reset_counts()

    summary = job.run(config)

    probes = [target for host, target in web.server.hits if host == "beta.test" and "archiver-probe" in target]
    assert summary.ok == 12
    assert len(probes) >= 1
    assert web.server.peak["beta.test"] <= 2


def test_a_site_is_probed_only_when_a_page_could_be_its_not_found_page(web: Web) -> None:
    says_nothing_missing = [
        web.url("secure.test", "/ok.html"),
        f"http://upgrade.test:{web.ports['upgrade.test']}/page?id=8",
    ]  # only upgraded: not moved
    says_missing = [web.url("beta.test", "/notice/0/only-probe")]
    moved = [web.url("alpha.test", "/redirect/2")]  # does the site send missing pages where this one went?
    before = Counter(web.server.hits)

    results = classify_all(web, says_nothing_missing + says_missing + moved)

    probed = sorted(host for host, target in web.server.hits - before if "archiver-probe-" in target)
    assert probed == ["alpha.test", "beta.test"]
    assert [results[url].status for url in says_nothing_missing + says_missing + moved] == [
        Status.OK, Status.OK, Status.OK, Status.REDIRECTED]  # fmt: skip


@pytest.mark.parametrize(
    ("title", "missing"),
    [("404 - Page not found", True), ("Error 404 | Example", True), ("Example | 404", True), ("HTTP 404", True),
     ("Erreur 404 | Mon blog", True), ("Fehler 404", True), ("Mon blog \u2013 404", True),
     ("Seite nicht gefunden", True), ("Página no encontrada", True), ("Route 404 bus timetable", False),
     ("The 404 Club: members", False), ("Boeing 737-404", False), ("Atlanta (404)", False),
     ("Found: the lost notebook", False)],
)  # fmt: skip
def test_a_short_page_is_missing_by_its_title_only_when_the_title_says_so(title: str, missing: bool) -> None:
    url = "http://example.com/a"
    result = FetchResult(url, Status.OK, 200, url, (Hop(url, 200),), 1, 0.0, NOW)

    finding = says_missing(Evidence(result, Page(title, "a short page of timetables and notes")))

    assert (finding is not None and finding.status is Status.SOFT_404) is missing, finding


@pytest.mark.parametrize(
    ("text", "probed"),
    [("error 404: sorry about that", True), ("404 not found", True), ("we couldn't find that page", True),
     ("nothing was found at this address", True), ("there were 404 people at the conference", False),
     ("page 404 of the report lists the figures", False), ("a post about clouds and servers", False),
     ("the deal: $404.99 for two", False)],
)  # fmt: skip
def test_a_page_that_stayed_put_gets_its_site_probed_only_when_it_says_something_is_missing(
    text: str, probed: bool
) -> None:
    url = "http://example.com/a"
    result = FetchResult(url, Status.OK, 200, url, (Hop(url, 200),), 1, 0.0, NOW)
    moved = FetchResult(url, Status.REDIRECTED, 200, "http://example.com/b", (Hop(url, 301), Hop(url, 200)), 1, 0.0,
                        NOW)  # fmt: skip

    assert needs_probe(result, Page("A page", text)) is probed
    assert needs_probe(result, Page("Erreur 404 | Mon blog", "a long text " * 1000))  # its title says so
    assert needs_probe(moved, Page("A page", text))  # was it sent where missing pages go?


def test_similarity_counts_the_words_two_texts_share_in_order() -> None:
    """Twice the common subsequence of words over all the words: 'a b c d' and 'a b c e' share 'a b c'."""
    assert similarity(Page("t", "a b c d"), Page("t", "a b c e")) == pytest.approx(0.75)
    assert similarity(Page("t", "a b c d"), Page("t", "d c b a")) == pytest.approx(0.25)
    assert similarity(Page("t", "one long word"), Page("t", "one longer word")) == pytest.approx(2 / 3)
    assert similarity(Page("t", "same words"), Page("other", "same, words!")) == 1.0


def test_every_run_asks_a_site_the_same_probe_path_and_another_site_another(web: Web, tmp_path: Path) -> None:
    urls = [web.url("alpha.test", "/notice/0/same-probe"), web.url("beta.test", "/notice/0/same-probe")]
    post = tmp_path / "post.md"
    post.write_text("".join(f"[{i}]({url})\n\n" for i, url in enumerate(urls)), "utf-8")

    def probes_of_a_run(run: int) -> dict[str, list[str]]:
        config = Config(source=None, post_paths=(post,), output_dir=tmp_path / f"out-{run}",
                        extract=ExtractSettings(), fetch=web.settings())  # fmt: skip
        before = Counter(web.server.hits)
        job.run(config)
        asked = [(host, target) for host, target in web.server.hits - before if "archiver-probe-" in target]
        return {host: [target for probed, target in asked if probed == host] for host in ("alpha.test", "beta.test")}

    first, second = probes_of_a_run(1), probes_of_a_run(2)

    assert first == second
    assert len(first["alpha.test"]) == len(first["beta.test"]) == 1
    assert first["alpha.test"] != first["beta.test"]


_FRAGMENTS = ("not found", "404", "error 404", "erreur code : 404", "http 404", "- 404", "404 page", "404.", "4040",
              "could not be found", "couldn't be foun", "can't find", "unable to find", "page you were looking for",
              "oops", "does not exist", "no longer exists", "not here", "found", "find", "exist", "word", "page",
              "error", "could", "can", "the", "-", "·", ":", "1", "2026")  # fmt: skip


@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40), st.sampled_from(("", " ", "x")))
@settings(max_examples=400, deadline=None)
def test_looking_near_the_key_words_finds_what_a_search_of_the_whole_text_finds(parts: list[str], glue: str) -> None:
    text = glue.join(parts)

    assert text_says_missing(text) is bool(_MISSING_PHRASES.search(text))
