"""The HTML report driven in headless Chromium over generated histories: 3,000 links
across three runs, and 100,000 links after one, each a summary page whose table is read
from data files beside it, on demand (the self-contained page is driven in test_report)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from archiver import report
from tests.browser import chromium
from tests.report_history import (
    DRIFTED,
    NEWLY_DEAD,
    NEWLY_FAILING,
    RECOVERED,
    first_run_report,
    generate,
    post_path,
    statuses,
    url_of,
)

LAPTOP = (1366, 768)
TABLE_PAGE = 50  # rows the page shows at once


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        driver.set_window_size(*LAPTOP)
        yield driver


def _text(browser: WebDriver, selector: str) -> list[str]:
    return [str(node.get_attribute("textContent")) for node in browser.find_elements(By.CSS_SELECTOR, selector)]


def _wait_for_text(browser: WebDriver, element_id: str, text: str) -> None:
    WebDriverWait(browser, 20, poll_frequency=0.02).until(
        lambda driver: driver.find_element(By.ID, element_id).text == text
    )


def _wait_for_rows(browser: WebDriver, count: int) -> None:
    WebDriverWait(browser, 20, poll_frequency=0.02).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#links tbody tr")) == count
    )


def _url(index: int) -> str:
    return url_of(index)


def test_the_summary_matches_report_json_and_the_table_filters_and_pages(browser: WebDriver, tmp_path: Path) -> None:
    blog = generate(tmp_path, 3000)
    report.write_all(replace(blog.report, single_file_links=1000), tmp_path)  # two data files
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    browser.get((tmp_path / "report.html").as_uri())
    _wait_for_rows(browser, TABLE_PAGE)

    cards = browser.find_elements(By.CSS_SELECTOR, "#totals .card")
    shown = {card.get_attribute("data-verdict"): int(card.find_element(By.CLASS_NAME, "number").text) for card in cards}
    assert shown == {verdict: document["totals"]["by_verdict"].get(verdict, 0) for verdict in shown}
    assert set(shown) >= {"dead", "failing", "unknown", "alive"}
    for change, indexes in (("newly-dead", NEWLY_DEAD), ("newly-failing", NEWLY_FAILING),
                            ("recovered", RECOVERED), ("drifted", DRIFTED)):  # fmt: skip
        listed = _text(browser, f"#changes details[data-change='{change}'] li .url")
        assert listed == [_url(index) for index in indexes] == document["changes"][change]
        assert _text(browser, f"#changes details[data-change='{change}'] .count") == [str(len(indexes))]

    browser.find_element(By.ID, "filter-post").send_keys(post_path(15).as_posix())
    Select(browser.find_element(By.ID, "filter-status")).select_by_visible_text("not-found")
    _wait_for_text(browser, "shown", "2 of 3000 links match")
    assert _scripts(browser) == ["report-data-1.js", "report-data-2.js"]  # filtering reads every file
    assert _text(browser, "#links tbody a.url") == [_url(301), _url(310)]  # dead before, newly dead

    browser.refresh()
    Select(browser.find_element(By.ID, "filter-status")).select_by_visible_text("not-found")
    not_found = document["totals"]["by_status"]["not-found"]
    _wait_for_text(browser, "shown", f"{not_found} of 3000 links match")
    assert browser.find_element(By.ID, "page-info").text == f"page 1 of 2 (links 1\N{EN DASH}{TABLE_PAGE})"
    browser.find_element(By.ID, "page-next").click()
    _wait_for_rows(browser, not_found - TABLE_PAGE)
    assert (
        browser.find_element(By.ID, "page-info").text == f"page 2 of 2 (links {TABLE_PAGE + 1}\N{EN DASH}{not_found})"
    )
    assert browser.find_element(By.ID, "page-next").get_attribute("disabled") == "true"
    assert set(_text(browser, "#links tbody td:nth-child(2) .badge")) == {"not-found 404"}
    assert browser.execute_script("return document.documentElement.scrollWidth") <= browser.execute_script(
        "return document.documentElement.clientWidth"
    )  # no horizontal scroll at 1,366 px

    browser.find_element(By.CSS_SELECTOR, "#worst-hosts button.show").click()  # the summary leads to the table
    worst = document["hosts"][0]
    _wait_for_text(browser, "shown", f"{worst['links']} of 3000 links match")
    assert browser.find_element(By.ID, "filter-host").get_attribute("value") == worst["host"]
    assert browser.find_element(By.ID, "filter-status").get_attribute("value") == ""
    assert set(_text(browser, "#links tbody td:nth-child(4) .cut")) == {"host0.example"}  # not www.host0.example
    browser.find_element(By.ID, "filter-host").clear()
    browser.find_element(By.ID, "filter-host").send_keys("host0.example")  # typed: a search
    _wait_for_text(browser, "shown", "80 of 3000 links match")


def test_a_report_of_100000_links_shows_its_summary_first_and_reads_rows_on_demand(
    browser: WebDriver, tmp_path: Path
) -> None:
    links = 100_000
    built = first_run_report(links)
    (tmp_path / "report.html").write_text(report.to_html(built), encoding="utf-8")
    for name, text in report.html_data_files(built):
        (tmp_path / name).write_text(text, encoding="utf-8")
    first = Counter(
        planned[0].value if planned else "unchecked" for planned in (statuses(i, links) for i in range(links))
    )

    assert (tmp_path / "report.html").stat().st_size < 64_000  # the summary, whatever the number of rows
    assert len(list(tmp_path.glob("report-data-*.js"))) == links // report.DATA_PAGE_ROWS
    browser.get((tmp_path / "report.html").as_uri())
    _wait_for_rows(browser, TABLE_PAGE)

    assert _scripts(browser) == ["report-data-1.js"]  # the first page's rows only
    summary, table = (browser.find_element(By.ID, name).location["y"] for name in ("totals", "links"))
    assert summary < table
    cards = browser.find_elements(By.CSS_SELECTOR, "#totals .card")
    assert {c.get_attribute("data-verdict"): int(c.find_element(By.CLASS_NAME, "number").text) for c in cards} == {
        "dead": 0, "failing": first["not-found"], "unknown": 0, "alive": first["ok"], "unchecked": first["unchecked"]
    }  # fmt: skip
    browser.find_element(By.ID, "page-next").click()
    _wait_for_text(browser, "page-info", "page 2 of 2000 (links 51\N{EN DASH}100)")
    assert _scripts(browser) == ["report-data-1.js"]
    browser.find_element(By.ID, "page-last").click()
    _wait_for_text(browser, "page-info", f"page 2000 of 2000 (links {links - TABLE_PAGE + 1}\N{EN DASH}{links})")
    assert _scripts(browser) == ["report-data-1.js", "report-data-50.js"]
    assert set(_text(browser, "#links tbody td:first-child .badge")) == {"alive", "unchecked"}  # worst first


def _scripts(browser: WebDriver) -> list[str]:
    """The data files the page has asked for."""
    return [
        str(node.get_attribute("src")).rsplit("/", 1)[-1]
        for node in browser.find_elements(By.CSS_SELECTOR, "script[src]")
    ]
