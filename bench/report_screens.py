"""The screenshots of docs/report.md: the report over the shared corpus's links.

    python bench/report_screens.py [--posts /work/shared/corpus/posts] [--out docs]

Extracts the corpus's posts, then records four runs two days apart in a real history,
each link's statuses drawn from its URL's hash (no network: the web is simulated): most
alive, some dead for long, some dying in the last run, some back, some failing for the
first time, some behind a bot wall, some whose text drifted. Writes the report and
restore.json (a few restored, rejected and not found), and saves the first screen and
the table filtered by verdict `dead` at 1,366 x 768 as report-summary.png and
report-filtered.png.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.browser

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from archiver import report
from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.history import History
from archiver.model import DeadPolicy, FetchResult, LinkKind, RecordLocation, Status, Verdict
from archiver.redact import Redactor
from archiver.restore import report as restore_report
from archiver.restore.values import Rejection, Restoration, RestoreSummary
from tests.browser import chromium

DAY0 = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)
OK, GONE, TIMEOUT, WALL = Status.OK, Status.NOT_FOUND, Status.TIMEOUT, Status.BOT_WALL
# share of links (in hundredths, by hash) -> statuses in the four runs
PLANS = ((9, (GONE, GONE, GONE, GONE)), (12, (OK, GONE, GONE, GONE)), (14, (GONE, GONE, GONE, OK)),
         (18, (OK, OK, OK, TIMEOUT)), (21, (OK, OK, OK, WALL)), (100, (OK, OK, OK, OK)))  # fmt: skip


def plan(url: str) -> tuple[Status, ...]:
    """The statuses of a URL's four checks."""
    return next(statuses for limit, statuses in PLANS if _share(url) < limit)


def _share(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 100


def main() -> None:
    """Write the report and save the two screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=Path, default=Path("/work/shared/corpus/posts"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        page = _write(args.posts, Path(folder))
        _screens(page, args.out)


def _write(posts: Path, folder: Path) -> Path:
    extraction = extract([posts], ExtractSettings())
    urls = [link.url for link in extraction.fetchable]
    with History.open(folder) as history:
        for run in range(4):
            history.record_run("run", DAY0 + dt.timedelta(days=2 * run), (_result(url, run) for url in urls))
        verdicts, previous = history.verdicts(DeadPolicy()), history.previous_verdicts(DeadPolicy())
    dead = [verdict.url for verdict in verdicts if verdict.verdict is Verdict.DEAD]
    restore_report.write_all(_restore(dead, folder), folder, Redactor(()))
    now = DAY0 + dt.timedelta(days=6, hours=1)
    built = report.build(extraction, verdicts, DeadPolicy(), "http://localhost:8080/web/", now, previous=previous,
                         restore=report.read_restore(folder))  # fmt: skip
    report.write_all(built, folder)
    print(f"{len(urls)} links in {len(extraction.posts)} posts: {built.totals()}")
    return folder / "report.html"


def _result(url: str, run: int) -> FetchResult:
    status = plan(url)[run]
    drifted = "2026-11-01" if run == 3 and status is OK and _share(url + "#drift") < 3 else ""
    stored = RecordLocation("archiver-1.warc.gz", 0, 10) if status is OK else None
    code = {OK: 200, GONE: 404, WALL: 403}.get(status)
    return FetchResult(url, status, code, url, (), 1, 0.1, DAY0 + dt.timedelta(days=2 * run), stored_at=stored,
                       drifted_from=drifted)  # fmt: skip


def _restore(dead: list[str], folder: Path) -> RestoreSummary:
    def restoration(index: int, url: str) -> Restoration:
        if index % 3 == 0:
            return Restoration(url, LinkKind.IMAGE, Verdict.DEAD, new_url=f"/assets/{index}.png", source="own archive")
        if index % 3 == 1:
            refused = Rejection("wayback", f"https://web.archive.org/web/2015/{url}", "2015-06-01",
                                "the capture is the site's 404 page")  # fmt: skip
            return Restoration(url, LinkKind.IMAGE, Verdict.DEAD, rejections=(refused,))
        return Restoration(url, LinkKind.IMAGE, Verdict.DEAD)

    outcomes = tuple(restoration(index, url) for index, url in enumerate(dead[:12]))
    return RestoreSummary(outcomes, (), False, folder / "assets")


def _screens(page: Path, out: Path) -> None:
    with chromium() as browser:
        browser.set_window_size(1366, 768)
        browser.get(page.as_uri())
        WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#links tbody tr"))
        browser.save_screenshot(str(out / "report-summary.png"))
        Select(browser.find_element(By.ID, "filter-verdict")).select_by_visible_text("dead")
        WebDriverWait(browser, 30).until(lambda d: "match" in d.find_element(By.ID, "shown").text)
        browser.execute_script("document.getElementById('table-title').scrollIntoView()")
        browser.save_screenshot(str(out / "report-filtered.png"))


if __name__ == "__main__":
    main()
