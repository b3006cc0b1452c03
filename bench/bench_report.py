"""How long the HTML report takes to write and to open, at a realistic size.

    python bench/bench_report.py [--links 100000] [--runs 3] [--opens 5] [--single]

Generates a history of `--links` links over `--runs` runs two days apart in a real
SQLite history (tests/report_history.py: 20 links a post, 40 a host), times the
verdicts and each report format, then opens report.html from file:// in headless
Chromium at 1,366 x 768, `--opens` times, and reads from the page's own clock
(Performance API, from navigation start): the first contentful paint, when the first
page of the table was shown (the page's `links-shown` mark), the load event, and the
page's height. Then
the time from choosing a status filter to the filtered rows shown, which reads every
data file. With `--single`, the page is written as one self-contained file whatever its
size (what report.html was before it was split), for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.report_history and tests.browser

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from archiver import report
from tests.browser import chromium
from tests.report_history import generate

_TIMES = """
const paint = performance.getEntriesByName("first-contentful-paint")[0];
const shown = performance.getEntriesByName("links-shown")[0];
const navigation = performance.getEntriesByType("navigation")[0];
return [paint ? paint.startTime : null, shown ? shown.startTime : null, navigation.loadEventEnd,
        document.documentElement.scrollHeight];
"""


def main() -> None:
    """Run the benchmark and print what it measured."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--opens", type=int, default=5)
    parser.add_argument("--single", action="store_true", help="write report.html as one file, whatever its size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        built = _write(Path(folder), args.links, args.runs, args.single)
        _open(Path(folder) / "report.html", built, args.opens)


def _write(folder: Path, links: int, runs: int, single: bool) -> report.Report:
    started = time.perf_counter()
    built = generate(folder, links, runs).report
    print(f"{links} links, {runs} runs: history recorded and verdicts drawn in {time.perf_counter() - started:.1f} s")
    if single:
        built = replace(built, single_file_links=links)
    for name, (filename, writer) in report.FORMATS.items():
        started = time.perf_counter()
        (folder / filename).write_text(writer(built), encoding="utf-8")
        print(f"  {name:9} {time.perf_counter() - started:5.2f} s  {(folder / filename).stat().st_size / 1e6:6.2f} MB")
    started = time.perf_counter()
    files: list[tuple[Path, str]] = []
    for name, text in report.html_data_files(built):
        (folder / name).write_text(text, encoding="utf-8")
        files.append((folder / name, name))
    if files:
        size = sum(path.stat().st_size for path, _ in files) / 1e6
        print(f"  data      {time.perf_counter() - started:5.2f} s  {size:6.2f} MB in {len(files)} files")
    return built


def _open(page: Path, built: report.Report, opens: int) -> None:
    with chromium() as browser:
        browser.set_window_size(1366, 768)
        measured = [_open_once(browser, page) for _ in range(opens)]
        filtered = _filter(browser, built)
    for label, index in (("first contentful paint", 0), ("first table page shown", 1), ("load event", 2)):
        values = [value for m in measured if (value := m[index]) is not None]
        print(f"{label:24} median {statistics.median(values):7.0f} ms, range {min(values):.0f} to {max(values):.0f} ms")
    print(f"{'status filter applied':24} {filtered:7.0f} ms (every data file read, rows matched and shown)")
    print(f"{'page height':24} {measured[0][3]} px at 1,366 px wide")


def _open_once(browser: WebDriver, page: Path) -> tuple[float | None, float | None, float, int]:
    browser.get("about:blank")
    browser.get(page.as_uri())
    WebDriverWait(browser, 120).until(lambda d: d.execute_script(_TIMES)[1] is not None)
    paint, shown, load, height = browser.execute_script(_TIMES)
    return paint, shown, load, height


def _filter(browser: WebDriver, built: report.Report) -> float:
    wanted = report.summarize(built).by_status.get("not-found", 0)
    started = browser.execute_script("return performance.now()")
    Select(browser.find_element(By.ID, "filter-status")).select_by_visible_text("not-found")
    expected = f"{wanted} of {len(built.entries)} links match"
    WebDriverWait(browser, 300, poll_frequency=0.02).until(lambda d: d.find_element(By.ID, "shown").text == expected)
    return float(browser.execute_script("return performance.now()")) - float(started)


if __name__ == "__main__":
    main()
