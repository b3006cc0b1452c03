"""Reports built from a real history, and the HTML page driven in headless Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path
from unittest.mock import patch

import jsonschema
import pytest
from markdown_it import MarkdownIt
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from archiver import report
from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.history import History
from archiver.model import DeadPolicy, Extraction, FetchResult, LinkKind, RecordLocation, Status, Verdict
from archiver.redact import Redactor
from archiver.restore import report as restore_report
from archiver.restore.values import Rejection, Restoration, RestoreSummary
from tests.browser import chromium

DAY0 = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
HOSTILE_TEXT = "<script>alert(1)</script>"

# url -> statuses of its checks on days 0, 2, 4
HISTORIES = {
    "http://alive.example/ok": [Status.OK, Status.OK, Status.OK],
    "http://dead.example/gone": [Status.NOT_FOUND, Status.NOT_FOUND, Status.GONE],
    "http://failing.example/x": [Status.OK, Status.OK, Status.TIMEOUT],
    "http://walled.example/y": [Status.OK, Status.BOT_WALL, Status.BOT_WALL],
    "http://soft.example/z": [Status.SOFT_404, Status.SOFT_404, Status.SOFT_404],
}


def _posts(folder: Path) -> Extraction:
    (folder / "posts").mkdir()
    (folder / "posts" / "2009-05-01-old.md").write_text(
        "---\ntitle: An old post\n---\n"
        "[\\<script\\>alert(1)\\</script\\>](http://dead.example/gone) and [fine](http://alive.example/ok)\n"
        "[soft](http://soft.example/z)\n",
        encoding="utf-8",
    )
    (folder / "posts" / "2014-10-28-new.md").write_text(
        f"---\ntitle: 'A newer post {HOSTILE_TEXT}'\n---\n[x](http://failing.example/x) [y](http://walled.example/y)\n"
        "[never checked](http://unchecked.example/)\n",
        encoding="utf-8",
    )
    return extract([folder / "posts"], ExtractSettings())


def _check(url: str, day: int, status: Status) -> FetchResult:
    code = 200 if status.is_ok or status in (Status.SOFT_404, Status.BOT_WALL) else None
    captured = RecordLocation("archiver-1.warc.gz", 100 * day, 50) if status.is_ok else None
    return FetchResult(url, status, code, url, (), 1, 0.1, DAY0 + dt.timedelta(days=day), stored_at=captured)


@pytest.fixture
def built(tmp_path: Path) -> report.Report:
    extraction = _posts(tmp_path)
    with History.open(tmp_path / "out") as history:
        for index, day in enumerate((0, 2, 4)):
            results = [_check(url, day, statuses[index]) for url, statuses in HISTORIES.items()]
            history.record_run("run", DAY0 + dt.timedelta(days=day), results)
        verdicts, previous = history.verdicts(DeadPolicy()), history.previous_verdicts(DeadPolicy())
    now = DAY0 + dt.timedelta(days=5)
    return report.build(extraction, verdicts, DeadPolicy(), "http://localhost:8080/web/", now, previous=previous)


def test_json_report_has_each_link_with_its_verdict_and_dates(built: report.Report) -> None:
    document = json.loads(report.to_json(built))
    links = {link["url"]: link for link in document["links"]}

    assert (document["schema"], document["version"]) == ("archiver/report", 1)
    assert {url: link["verdict"] for url, link in links.items()} == {
        "http://dead.example/gone": "dead",
        "http://alive.example/ok": "alive",
        "http://soft.example/z": "dead",
        "http://failing.example/x": "failing",
        "http://walled.example/y": "unknown",
        "http://unchecked.example/": "unchecked",
    }
    dead = links["http://dead.example/gone"]
    assert (dead["status"], dead["dead_since"], dead["last_seen_alive"]) == ("gone", DAY0.isoformat(), None)
    assert links["http://failing.example/x"]["last_seen_alive"] == (DAY0 + dt.timedelta(days=2)).isoformat()
    assert links["http://alive.example/ok"]["capture"]["replay"] == (
        "http://localhost:8080/web/20260105030000/http://alive.example/ok"
    )
    assert document["totals"]["by_verdict"] == {"dead": 2, "alive": 1, "failing": 1, "unknown": 1, "unchecked": 1}


def test_views_by_post_host_and_year(built: report.Report) -> None:
    document = json.loads(report.to_json(built))

    assert [(p["title"], p["dead"], p["links"]) for p in document["posts"]] == [
        ("An old post", 2, 3),
        (f"A newer post {HOSTILE_TEXT}", 0, 3),
    ]
    assert document["hosts"][0]["dead"] == 1
    assert [(y["year"], y["links"], y["dead"], y["failing"]) for y in document["rot_by_year"]] == [
        (2009, 3, 2, 0),
        (2014, 3, 0, 1),
    ]


def test_markdown_lists_what_to_act_on_by_post(built: report.Report) -> None:
    markdown = report.to_markdown(built)

    assert "**2** dead · **1** failing · **1** unknown · **1** alive" in markdown
    assert "Statuses: **1** ok" in markdown or "**1** ok" in markdown
    assert "**2** newly-dead · **1** newly-failing · **0** recovered · **0** drifted" in markdown
    old_post = markdown.index("**An old post** `")
    assert markdown.index("- line 4: **dead**, gone: <http://dead.example/gone>") > old_post
    assert markdown.index("- line 5: **dead**, soft-404 (200): <http://soft.example/z>") > old_post
    assert "- line 4: **failing**, timeout: <http://failing.example/x>" in markdown
    assert "alive.example" not in markdown


def test_changes_since_the_previous_run(built: report.Report) -> None:
    document = json.loads(report.to_json(built))
    links = {link["url"]: link for link in document["links"]}

    assert document["changes"]["since"] == (DAY0 + dt.timedelta(days=2)).isoformat()
    assert document["changes"]["newly-dead"] == ["http://dead.example/gone", "http://soft.example/z"]
    assert document["changes"]["newly-failing"] == ["http://failing.example/x"]
    assert (links["http://dead.example/gone"]["previous_verdict"], links["http://dead.example/gone"]["changes"]) == (
        "failing",
        ["newly-dead"],
    )
    assert links["http://walled.example/y"]["changes"] == []
    assert links["http://unchecked.example/"]["previous_verdict"] == "unchecked"


def test_no_changes_without_an_earlier_run(tmp_path: Path) -> None:
    extraction = _posts(tmp_path)
    with History.open(tmp_path / "out") as history:
        history.record_run("run", DAY0, [_check("http://failing.example/x", 0, Status.TIMEOUT)])
        assert history.previous_verdicts(DeadPolicy()) is None
        built = report.build(extraction, history.verdicts(DeadPolicy()), DeadPolicy(), "", DAY0)

    document = json.loads(report.to_json(built))
    assert document["changes"] == {"since": None, "newly-dead": [], "newly-failing": [], "recovered": [], "drifted": []}
    assert "No earlier run to compare with." in report.to_markdown(built)


def test_csv_has_a_row_per_link(built: report.Report) -> None:
    rows = list(csv.DictReader(io.StringIO(report.to_csv(built))))

    assert len(rows) == 6
    dead = next(r for r in rows if r["url"] == "http://dead.example/gone")
    assert dead["posts"].endswith("2009-05-01-old.md:4")
    assert (dead["internal"], dead["changes"]) == ("false", "newly-dead")
    assert {row["internal"] for row in rows} == {"false"}  # one spelling of booleans, as extract's CSV


def test_html_escapes_everything_from_posts_and_servers(built: report.Report) -> None:
    html = report.to_html(built)

    assert HOSTILE_TEXT not in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html  # in the table's data, as JSON
    assert "<link" not in html  # self-contained: nothing loaded from elsewhere
    assert 'src="' not in html
    assert not list(report.html_data_files(built))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as driver:
        yield driver


def _urls_shown(browser: WebDriver) -> list[str]:
    links = browser.find_elements(By.CSS_SELECTOR, "#links tbody tr a.url")
    return [str(link.get_attribute("textContent")) for link in links]


def _wait_for(browser: WebDriver, element_id: str, text: str) -> None:
    WebDriverWait(browser, 10, poll_frequency=0.02).until(
        lambda driver: driver.find_element(By.ID, element_id).text == text
    )


def test_html_report_renders_every_link_and_filters_by_status(
    built: report.Report, browser: object, tmp_path: Path
) -> None:
    assert isinstance(browser, WebDriver)
    page = tmp_path / "report.html"
    page.write_text(report.to_html(built), encoding="utf-8")
    browser.get(page.as_uri())

    assert sorted(_urls_shown(browser)) == sorted(entry["url"] for entry in built.entries)
    assert _urls_shown(browser)[:2] == ["http://dead.example/gone", "http://soft.example/z"]  # worst first
    Select(browser.find_element(By.ID, "filter-status")).select_by_visible_text("gone")
    _wait_for(browser, "shown", "1 of 6 links match")
    assert _urls_shown(browser) == ["http://dead.example/gone"]
    row = browser.find_element(By.CSS_SELECTOR, "#links tbody tr")
    assert HOSTILE_TEXT in str(row.find_element(By.CSS_SELECTOR, ".cited").get_attribute("title"))  # text, never run
    Select(browser.find_element(By.ID, "filter-status")).select_by_visible_text("all")
    Select(browser.find_element(By.ID, "filter-verdict")).select_by_visible_text("dead")
    _wait_for(browser, "shown", "2 of 6 links match")


def test_html_report_sorts_by_a_column(built: report.Report, browser: object, tmp_path: Path) -> None:
    assert isinstance(browser, WebDriver)
    page = tmp_path / "report.html"
    page.write_text(report.to_html(built), encoding="utf-8")
    browser.get(page.as_uri())

    browser.find_element(By.CSS_SELECTOR, "#links th[data-key='url'] button").click()
    _wait_for(browser, "shown", "6 of 6 links match")
    assert _urls_shown(browser) == sorted(entry["url"] for entry in built.entries)
    assert browser.find_element(By.CSS_SELECTOR, "#links th[data-key='url']").get_attribute("aria-sort") == "ascending"


def test_json_report_follows_its_published_schema(built: report.Report) -> None:
    text = resources.files("archiver").joinpath("schemas/report-v1.json").read_text(encoding="utf-8")
    document = json.loads(report.to_json(built))

    jsonschema.Draft202012Validator(json.loads(text), format_checker=jsonschema.FormatChecker()).validate(document)


def test_a_replay_link_names_its_record_as_the_index_does(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "post.md").write_text("[moved](http://moved.example/a)\n", encoding="utf-8")
    extraction = extract([folder], ExtractSettings())
    # the final hop's record, dated two seconds after the check began (its second was taken)
    stored = RecordLocation("archiver-1.warc.gz", 900, 50, "<urn:uuid:1>", "2026-01-01T03:00:02.250000Z",
                            "https://www.moved.example/a")  # fmt: skip
    checked = FetchResult("http://moved.example/a", Status.REDIRECTED, 200, "https://www.moved.example/a", (), 1,
                          0.1, DAY0, stored_at=stored)  # fmt: skip
    with History.open(tmp_path / "out") as history:
        history.record_run("run", DAY0, [checked])
        verdicts = history.verdicts(DeadPolicy())
    built = report.build(extraction, verdicts, DeadPolicy(), "http://replay.example/web", DAY0)

    (link,) = json.loads(report.to_json(built))["links"]
    assert link["capture"]["replay"] == "http://replay.example/web/20260101030002/https://www.moved.example/a"
    assert link["capture"]["captured_at"] == DAY0.isoformat()  # when the check was made


def test_markdown_cells_survive_pipes_backticks_and_angle_brackets(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "a|b `x`.md").write_text("[l](http://odd.example/a|b?q=<x>)\n", encoding="utf-8")
    extraction = extract([folder], ExtractSettings())
    with History.open(tmp_path / "out") as history:
        history.record_run("run", DAY0, [_check("http://odd.example/a|b?q=<x>", 0, Status.NOT_FOUND)])
        built = report.build(extraction, history.verdicts(DeadPolicy()), DeadPolicy(), "", DAY0)

    tokens = MarkdownIt("commonmark").parse(report.to_markdown(built))
    children = [child for token in tokens if token.type == "inline" for child in token.children or []]

    assert [child.attrs.get("href") for child in children if child.type == "link_open"] == [
        "http://odd.example/a%7Cb?q=%3Cx%3E"  # the whole URL, | and <> in it (percent-encoded by the renderer)
    ]
    assert [child.content for child in children if child.type == "code_inline"] == [(folder / "a|b `x`.md").as_posix()]


def test_html_escapes_values_inside_attributes(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / 'x"><img src=y onerror=alert(1)>.md').write_text("[l](http://attr.example/)\n", encoding="utf-8")
    extraction = extract([folder], ExtractSettings())
    built = report.build(extraction, [], DeadPolicy(), "", DAY0)

    html = report.to_html(built)

    assert "onerror=alert(1)>" not in html
    assert 'x\\"\\u003e\\u003cimg src=y onerror=alert(1)\\u003e.md' in html


def _restore_summary(tmp_path: Path) -> RestoreSummary:
    rejected = Rejection("wayback", "http://web.archive.org/web/2010/http://dead.example/gone", "2010-01-01",
                         "the capture is a parking page")  # fmt: skip
    return RestoreSummary(
        restorations=(
            Restoration("http://soft.example/z", LinkKind.IMAGE, Verdict.DEAD, new_url="/assets/z.png", source="own"),
            Restoration("http://dead.example/gone", LinkKind.LINK, Verdict.DEAD, rejections=(rejected,)),
            Restoration(f"http://lost.example/{HOSTILE_TEXT}", LinkKind.IMAGE, Verdict.DEAD),
        ),
        edits=(),
        dry_run=False,
        assets=tmp_path / "assets",
    )


def test_restore_results_from_restore_json_are_in_the_report(built: report.Report, tmp_path: Path) -> None:
    restore_report.write_all(_restore_summary(tmp_path), tmp_path, Redactor(()))
    with_restore = replace(built, restore=report.read_restore(tmp_path))

    restored = json.loads(report.to_json(with_restore))["restore"]
    assert (restored["totals"]["restored"], restored["totals"]["rejected"], restored["totals"]["not-found"]) == (
        1,
        1,
        1,
    )
    assert restored["rejected"] == [{"url": "http://dead.example/gone", "reasons": ["the capture is a parking page"]}]
    assert restored["not_found"] == [f"http://lost.example/{HOSTILE_TEXT}"]
    html = report.to_html(with_restore)
    assert "the capture is a parking page" in html
    assert "http://lost.example/&lt;script&gt;" in html
    assert HOSTILE_TEXT not in html


def test_an_unreadable_restore_json_is_named_and_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "restore.json").write_text('{"schema": "archiver/restore", "outcomes": [', encoding="utf-8")

    assert report.read_restore(tmp_path) is None
    assert str(tmp_path / "restore.json") in caplog.text
    assert report.read_restore(tmp_path / "elsewhere") is None  # no restore yet: nothing to say


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "null",
        '"archiver/restore"',
        '{"schema": "archiver/restore", "generated_at": "2026-11-01T00:00:00Z", "totals": [], "outcomes": []}',
        '{"schema": "archiver/restore", "generated_at": "2026-11-01T00:00:00Z", "totals": {}, "outcomes": {}}',
        '{"schema": "archiver/restore", "generated_at": "2026-11-01T00:00:00Z", "totals": {}, "outcomes": ["x"]}',
    ],
)
def test_a_restore_json_of_another_shape_is_named_and_left_out(
    text: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "restore.json").write_text(text, encoding="utf-8")

    assert report.read_restore(tmp_path) is None
    assert str(tmp_path / "restore.json") in caplog.text


def test_a_large_report_keeps_its_table_in_data_files_beside_the_page(built: report.Report, tmp_path: Path) -> None:
    (tmp_path / "report-data-9.js").write_text("left by a larger report", encoding="utf-8")
    paged = replace(built, single_file_links=2)
    with patch.object(report, "DATA_PAGE_ROWS", 4):
        written = {path.name for path in report.write_all(paged, tmp_path)}
        html = (tmp_path / "report.html").read_text(encoding="utf-8")

    assert {"report-data-1.js", "report-data-2.js"} <= written
    assert sorted(path.name for path in tmp_path.glob("report-data-*.js")) == ["report-data-1.js", "report-data-2.js"]
    assert "archiverReport.page(" not in html  # the summary page holds no rows
    assert "alive.example" not in html
    first = (tmp_path / "report-data-1.js").read_text(encoding="utf-8")
    assert first.startswith("archiverReport.page(0,")
    assert HOSTILE_TEXT not in first
    assert first.index("http://dead.example/gone") < first.index("http://failing.example/x")  # worst first
