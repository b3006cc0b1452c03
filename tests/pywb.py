"""A real pywb for tests: replaying an output folder, or standing in for a public web archive.

`serving` runs pywb over a folder laid out as the packer writes it (archive/ + indexes/).
`web_archive` builds such a folder from a list of `Memento`s, the way a crawler would
have captured them, and serves it at the Wayback Machine's paths: `{base}{ts}id_/{url}`,
`{base}timemap/link/{url}`, and the TimeGate `{base}{url}`.

pywb lives in its own venv (`.venv-pywb`, or ARCHIVER_PYWB pointing at its `wayback`);
tests that need it skip when it is missing, or fail when ARCHIVER_REQUIRE_PYWB is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from cdxj_indexer import CDXJIndexer
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.pack import ARCHIVE_DIR, INDEX_DIR
from tests.conftest import REPO

PYWB = Path(os.environ.get("ARCHIVER_PYWB", REPO / ".venv-pywb" / "bin" / "wayback"))
COLLECTION = "web"  # the Wayback Machine's path prefix, so URLs have the same shape
# Unframed replay, so a memento and the TimeGate answer with the capture, not pywb's frame page;
# enable_memento (Memento-Datetime, Link, TimeMap) is pywb's default too, stated for clarity.
MEMENTO_CONFIG = "framed_replay: false\nenable_memento: true\n"
# A TimeGate, or a timestamp that is not a capture's, answers 307 to the exact memento (as the
# Internet Archive answers 302) instead of the closest memento with a Content-Location.
REDIRECT_CONFIG = "redirect_to_exact: true\n"
STARTUP_SECONDS = 30
WARC_NAME = "mementos.warc.gz"


@dataclass(frozen=True)
class Memento:
    """One capture to put in the test archive."""

    url: str
    timestamp: str  # 14 digits, YYYYMMDDhhmmss
    body: bytes = b""
    status: int = 200
    content_type: str = "image/png"
    location: str | None = None  # for a captured redirect


@contextlib.contextmanager
def serving(output: Path, root: Path, *, memento: bool = False, redirect_to_exact: bool = False) -> Iterator[str]:
    """Run a real pywb over an output folder (as the collection `web`); its base URL,
    "http://127.0.0.1:PORT". With `memento`, replay is unframed and TimeGate and TimeMap
    answer; with `redirect_to_exact`, inexact requests redirect to the exact memento."""
    _require_pywb()
    (root / "collections").mkdir(parents=True)
    (root / "collections" / COLLECTION).symlink_to(output.resolve())
    config = (MEMENTO_CONFIG if memento else "") + (REDIRECT_CONFIG if redirect_to_exact else "")
    if config:
        (root / "config.yaml").write_text(config, encoding="utf-8")
    port, log = _free_port(), root / "pywb.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(PYWB), "--bind", "127.0.0.1", "--port", str(port), "-d", str(root)],
            cwd=root,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _wait_until_ready(process, f"http://127.0.0.1:{port}", log)
    finally:
        _stop(process)


@contextlib.contextmanager
def web_archive(mementos: Iterable[Memento], root: Path, *, redirect_to_exact: bool = True) -> Iterator[str]:
    """A real pywb on 127.0.0.1 with a collection named `web` holding these captures; yields
    the archive's base URL, "http://127.0.0.1:PORT/web/" (the shape of https://web.archive.org/web/).

    Like the Wayback Machine it redirects a TimeGate or an inexact timestamp to the exact
    memento; `redirect_to_exact=False` answers with the closest memento and a Content-Location."""
    collection = root / "collection"
    write_mementos(mementos, collection / ARCHIVE_DIR / WARC_NAME)
    _index(collection)
    with serving(collection, root / "pywb", memento=True, redirect_to_exact=redirect_to_exact) as base:
        yield f"{base}/{COLLECTION}/"


def write_mementos(mementos: Iterable[Memento], warc: Path) -> None:
    """A gzipped WARC file with one response record per memento (warcio), the way a crawler writes them."""
    warc.parent.mkdir(parents=True, exist_ok=True)
    with warc.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(writer.create_warcinfo_record(warc.name, {"software": "archiver tests"}))
        for memento in mementos:
            writer.write_record(_response(writer, memento))


def _response(writer: WARCWriter, memento: Memento) -> object:
    headers = [("Content-Type", memento.content_type), ("Content-Length", str(len(memento.body)))]
    if memento.location is not None:
        headers.append(("Location", memento.location))
    status_line = f"{memento.status} {HTTPStatus(memento.status).phrase}"
    return writer.create_warc_record(
        memento.url,
        "response",
        payload=io.BytesIO(memento.body),
        length=len(memento.body),
        http_headers=StatusAndHeaders(status_line, headers, protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": warc_date(memento.timestamp)},
    )


def warc_date(timestamp: str) -> str:
    """The WARC-Date for a 14-digit timestamp: "20160301120000" -> "2016-03-01T12:00:00Z"."""
    moment = dt.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _index(collection: Path) -> None:
    """A sorted CDXJ index of every WARC file in the collection, where pywb looks for it."""
    (collection / INDEX_DIR).mkdir(parents=True, exist_ok=True)
    warcs = sorted(str(warc) for warc in (collection / ARCHIVE_DIR).iterdir())
    CDXJIndexer(str(collection / INDEX_DIR / "index.cdxj"), warcs, sort=True).process_all()


def _require_pywb() -> None:
    if PYWB.exists():
        return
    if os.environ.get("ARCHIVER_REQUIRE_PYWB"):
        pytest.fail(f"pywb is required but not found at {PYWB}")
    pytest.skip(f"pywb not found at {PYWB} (install it in .venv-pywb or set ARCHIVER_PYWB)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pywb exited with {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + "/", timeout=1).status_code == 200:
                return base
        time.sleep(0.1)
    pytest.fail(f"pywb did not answer within {STARTUP_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
