"""A real headless Chromium for tests (Debian's chromium and chromium-driver, driven by selenium).

Tests that need it skip when it is missing, or fail when ARCHIVER_REQUIRE_BROWSER is set.
With `network_log`, the browser keeps Chrome's performance log, so a test can see every
request the page made and how each ended.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip


@contextlib.contextmanager
def chromium(network_log: bool = False) -> Iterator[webdriver.Chrome]:
    """A headless Chromium, closed afterwards."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("ARCHIVER_REQUIRE_BROWSER"):
            pytest.fail("Chromium and chromedriver are required but not installed")
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in _FLAGS:
        options.add_argument(flag)
    if network_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class Request:
    """One request a page made, as Chrome's network log tells it."""

    url: str
    status: int | None  # None: it never got an answer
    failure: str = ""  # Chrome's reason, when it failed


def requests_made(driver: webdriver.Chrome) -> list[Request]:
    """Every request of the network log since it was last read, in order."""
    sent: dict[str, str] = {}
    status: dict[str, int] = {}
    failed: dict[str, str] = {}
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]  # selenium leaves it untyped
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.responseReceived":
            status[params["requestId"]] = int(params["response"]["status"])
        elif message["method"] == "Network.loadingFailed":
            failed[params["requestId"]] = str(params.get("errorText", ""))
    return [Request(url, status.get(key), failed.get(key, "")) for key, url in sent.items()]
