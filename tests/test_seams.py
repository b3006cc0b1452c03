"""The seams other work plugs into: a fetch backend standing in for the Fetcher, and the
ordered health rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver import job
from archiver.config import Config, ExtractSettings
from archiver.health import Classifier, Evidence, Finding, Rule
from archiver.history import History
from archiver.model import Capture, Exchange, FetchResult, Finisher, Hop, Status, Validators
from archiver.pack import ARCHIVE_DIR

PARKED = b"<html><head><title>example.invalid is for sale</title></head><body>Buy this domain.</body></html>"
ARTICLE = b"<html><head><title>An article</title></head><body>" + b"<p>Real words.</p>" * 200 + b"</body></html>"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _capture(url: str, code: int, body: bytes) -> Capture:
    exchange = Exchange(
        url=url, method="GET", target="/", request_headers=(("Host", "x"),), http_version="HTTP/1.1",
        code=code, reason="OK" if code == 200 else "Not Found",
        response_headers=(("Content-Type", "text/html; charset=utf-8"),), body=io.BytesIO(body),
        body_size=len(body), payload_digest=f"sha1:{len(body)}", truncated=False, peer=None, date=NOW,
    )  # fmt: skip
    result = FetchResult(url, Status.from_code(code), code, url, (Hop(url, code),), 1, 0.0, NOW,
                         size=len(body), payload_digest=exchange.payload_digest)  # fmt: skip
    return Capture(result, (exchange,))


class StandIn:
    """A fetch backend that answers from a table, and says 404 for anything else."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.asked: list[str] = []
        self.closed = False

    async def fetch(
        self, url: str, urgent: bool = False, follow: bool = True, validators: Validators | None = None
    ) -> Capture:
        self.asked.append(url)
        body = self.pages.get(url)
        return _capture(url, 200, body) if body is not None else _capture(url, 404, b"gone")

    async def fetch_all(
        self, urls: Iterable[str], then: Finisher | None = None, validators: Mapping[str, Validators] | None = None
    ) -> AsyncIterator[Capture]:
        for url in urls:
            capture = await self.fetch(url)
            yield await then(capture) if then is not None else capture

    async def aclose(self) -> None:
        self.closed = True


def test_a_stand_in_backend_fetches_for_the_main_job_and_its_answers_are_classified_and_stored(
    tmp_path: Path,
) -> None:
    parked, article = "http://parked.invalid/", "http://news.invalid/story"
    post = tmp_path / "post.md"
    post.write_text(f"[a]({parked}) and [b]({article}).\n", encoding="utf-8")
    config = Config(source=None, post_paths=(post,), output_dir=tmp_path / "out", extract=ExtractSettings())
    backend = StandIn({parked: PARKED, article: ARTICLE})

    summary = job.run(config, backend=backend)

    with History.open(config.output_dir) as history:
        statuses = {url: history.checks(url)[-1].status for url in (parked, article)}
    assert statuses == {parked: Status.PARKED, article: Status.OK}  # .invalid hosts: only the stand-in answers
    assert sorted(u for u in backend.asked if "archiver-probe" not in u) == [article, parked]
    assert not backend.closed  # the caller owns what it passed in
    (warc,) = summary.warc_files
    with warc.open("rb") as stream:
        stored = {r.rec_headers.get_header("WARC-Target-URI"): r.content_stream().read()
                  for r in ArchiveIterator(stream) if r.rec_type == "response"}  # fmt: skip
    assert stored == {parked: PARKED, article: ARTICLE}
    assert (config.output_dir / ARCHIVE_DIR / warc.name).is_file()


def _classified(rules: tuple[Rule, ...]) -> FetchResult:
    classifier = Classifier(StandIn({}), rules=rules)
    return asyncio.run(classifier.classify(_capture("http://a.invalid/", 200, ARTICLE)))


def test_the_first_finding_with_a_status_decides_and_notes_are_kept_from_any_rule() -> None:
    def no_opinion(_: Evidence) -> Finding | None:
        return None

    def gone(_: Evidence) -> Finding | None:
        return Finding(Status.GONE, "said so")

    def fine(_: Evidence) -> Finding | None:
        return Finding(Status.OK, "ok by this rule")

    def noted(_: Evidence) -> Finding | None:
        return Finding(None, drifted_from="2020-01-01T00:00:00+00:00")

    result = _classified((Rule(no_opinion), Rule(gone), Rule(fine), Rule(noted)))

    assert (result.status, result.detail, result.drifted_from) == (Status.GONE, "said so", "2020-01-01T00:00:00+00:00")
    assert _classified((Rule(no_opinion),)).status is Status.OK
    assert _classified((Rule(fine), Rule(gone))).detail == "ok by this rule"
