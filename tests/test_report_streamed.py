"""The run's reports are made a link at a time: each link's verdicts read from the
history on their own, its entry spooled to a file and read back by each format. What
they say must be what a report built from the whole history at once says."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

from cdxj_indexer import CDXJIndexer
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver import job, report
from archiver.atomic import temporary_beside
from archiver.config import Config, ExtractSettings, load_config
from archiver.extract import extract
from archiver.history import History
from archiver.model import FetchResult, Status
from archiver.pack import folder as pack_folder
from tests import report_history

LINKS = 700
REPLAY = "http://localhost:8080/web/"


def _config(folder: Path) -> Config:
    (folder / "posts").mkdir(exist_ok=True)
    path = folder / "config.yaml"
    policy = report_history.POLICY
    path.write_text(
        "posts:\n  paths: [posts]\noutput:\n  dir: out\n"
        f"health:\n  dead_after_checks: {policy.checks}\n  dead_after_days: {policy.days}\n"
        f"report:\n  replay_url: {REPLAY}\n",
        encoding="utf-8",
    )
    return load_config(path)


def _offline_run(history: History) -> None:
    """A fourth run in which every link failed, marked as not counting (the network was down)."""
    when = report_history.DAY0 + dt.timedelta(days=5)
    failed = (FetchResult(report_history.url_of(i), Status.NETWORK_ERROR, None, "", (), 1, 0.0, when)
              for i in range(LINKS))  # fmt: skip
    run_id = history.record_run("run", when, failed)
    history.finish_run(run_id, "no host answered")


def test_the_streamed_report_says_what_the_whole_history_says(tmp_path: Path) -> None:
    config = _config(tmp_path)
    blog = report_history.generate(config.output_dir, LINKS, replay_url=REPLAY)
    with History.open(config.output_dir) as history:
        _offline_run(history)
        whole = report.build(
            blog.extraction, history.verdicts(report_history.POLICY), report_history.POLICY, REPLAY,
            report_history.DAY0, previous=history.previous_verdicts(report_history.POLICY),
            unreachable=history.last_run_unreachable(),
        )  # fmt: skip
        streamed = job._write_reports(config, blog.extraction, history)

    written = json.loads((config.output_dir / "report.json").read_text(encoding="utf-8"))
    expected = json.loads(report.to_json(whole))
    written.pop("generated_at"), expected.pop("generated_at")
    assert written == expected
    assert written["changes"]["newly-dead"] == [report_history.url_of(i) for i in report_history.NEWLY_DEAD]
    assert (config.output_dir / "report.csv").read_text(encoding="utf-8") == report.to_csv(whole)
    assert (config.output_dir / "report.md").read_text(encoding="utf-8") == report.to_markdown(whole)
    assert list(report._data_pages(streamed)) == list(report._data_pages(whole))  # the table, worst first
    assert list(streamed.entries) == list(whole.entries)  # read back from report.json
    assert streamed.totals() == whole.totals()
    assert streamed.summary == whole.summary
    assert not list(config.output_dir.glob(".*.tmp"))  # the spool is gone


def test_a_secret_in_a_post_s_title_is_in_no_report_file(tmp_path: Path) -> None:
    config = _config(tmp_path)
    blog = report_history.generate(config.output_dir, 60, replay_url=REPLAY)
    secret = "https://x.example/?token=TITLESECRET"
    titled = tuple(replace(post, title=f"{post.title} {secret}") for post in blog.extraction.posts)
    with History.open(config.output_dir) as history:
        streamed = job._write_reports(config, replace(blog.extraction, posts=titled), history)

    written = {path.name: path.read_text(encoding="utf-8") for path in config.output_dir.glob("report*")}
    assert set(written) == {"report.json", "report.csv", "report.md", "report.html"}
    assert all("TITLESECRET" not in text for text in written.values())
    assert "?token=***" in written["report.json"]  # the title is there, its secret not
    assert all("TITLESECRET" not in json.dumps(entry) for entry in streamed.entries)


def test_verdicts_read_a_link_at_a_time_are_the_whole_history_s(tmp_path: Path) -> None:
    report_history.generate(tmp_path, LINKS)
    urls = [report_history.url_of(i) for i in range(LINKS)] + ["http://never.example/checked"]
    with History.open(tmp_path) as history:
        _offline_run(history)
        now = {verdict.url: verdict for verdict in history.verdicts(report_history.POLICY)}
        previous = history.previous_verdicts(report_history.POLICY)
        run = history.previous_run()
        assert previous is not None
        assert run is not None
        assert run[1] == previous[0]
        before = {verdict.url: verdict for verdict in previous[1]}
        pairs = list(history.verdicts_of(urls, report_history.POLICY, run[0]))

    assert pairs == [(now.get(url), before.get(url)) for url in urls]
    assert pairs[-1] == (None, None)
    assert sum(after is not None for after, _ in pairs) == LINKS - report_history.UNCHECKED


def test_an_extraction_without_spans_is_the_same_extraction(tmp_path: Path) -> None:
    posts = Path(__file__).parent / "fixtures" / "posts"
    with_spans = extract([posts], ExtractSettings())
    without = extract([posts], ExtractSettings(), spans=False)

    occurrences = [o for link in without.links for o in link.occurrences]
    assert without == with_spans  # a span is not part of what an occurrence is
    assert len(occurrences) > 20
    assert all(o.span is None for o in occurrences)
    assert any(o.span is not None for link in with_spans.links for o in link.occurrences)


def _warc_of(path: Path, pages: int) -> None:
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for index in range(pages):
            url = f"http://host{index % 37}.example/page/{(index * 7919) % pages}"
            body = f"<p>page {index}</p>".encode()
            fields = [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
            headers = StatusAndHeaders("200 OK", fields, protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                               http_headers=headers)  # fmt: skip
            writer.write_record(record)


def test_an_index_sorted_in_runs_on_disk_is_the_index_sorted_at_once(tmp_path: Path) -> None:
    warc = tmp_path / "big.warc.gz"
    _warc_of(warc, 600)
    CDXJIndexer(str(tmp_path / "library.cdxj"), [str(warc)], sort=True).process_all()  # its own sort, in memory
    counted = patch.object(pack_folder, "temporary_beside", wraps=temporary_beside)
    with patch.object(pack_folder, "_SORTED_IN_MEMORY", 4096), counted as scratch:  # about 15 lines a run
        pack_folder.index_into(tmp_path / "in-runs", warc)

    by_library = (tmp_path / "library.cdxj").read_text(encoding="utf-8").splitlines()
    in_runs = (tmp_path / "in-runs" / "big.warc.gz.cdxj").read_text(encoding="utf-8").splitlines()
    assert scratch.call_count > 20  # sorted in runs written beside the index, then merged
    assert len(by_library) == 600
    assert in_runs == by_library
    assert [path.name for path in (tmp_path / "in-runs").iterdir()] == ["big.warc.gz.cdxj"]  # no run left


def test_a_run_removes_the_scratch_files_a_killed_run_left_beside_the_indexes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left = config.output_dir / "indexes" / f".x.warc.gz.cdxj.archiver-{gone.pid}-abcd1234.tmp"
    left.parent.mkdir(parents=True)
    left.write_text("a run of index lines", encoding="utf-8")

    summary = job.run(config)

    assert summary.stale_temporaries == 1
    assert not left.exists()
