"""`archiver verify`: the history and the WARC files agree, or what does not is set right or named."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from unittest.mock import patch

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver import cli, job, pack
from archiver.cli import ExitCode
from archiver.config import Config, ExtractSettings
from archiver.history import History
from archiver.pack import ARCHIVE_DIR, INDEX_DIR, OPEN_SUFFIX
from tests.conftest import Web


def _run_once(web: Web, folder: Path) -> Config:
    urls = [web.url("alpha.test", path) for path in ("/ok.html", "/image.png", "/redirect/2", "/status/404")]
    post = folder / "posts" / "post.md"
    post.parent.mkdir(parents=True)
    post.write_text("".join(f"[{i}]({url})\n\n" for i, url in enumerate(urls)), encoding="utf-8")
    config = Config(source=None, post_paths=(post,), output_dir=folder / "out", extract=ExtractSettings(),
                    fetch=web.settings())  # fmt: skip
    job.run(config)
    return config


def _warcs(config: Config) -> list[Path]:
    return sorted((config.output_dir / ARCHIVE_DIR).glob("*.warc.gz"))


def _sql(config: Config, statement: str) -> None:
    with sqlite3.connect(config.output_dir / "history.sqlite") as db:
        db.execute(statement)


def test_an_archive_the_run_left_as_it_should_agrees(web: Web, tmp_path: Path) -> None:
    config = _run_once(web, tmp_path)

    summary = job.verify(config)

    assert summary.checks == 4  # every answer is stored, the 404 too
    assert summary.findings == ()


def test_a_lost_identity_is_read_back_from_the_record_and_then_revisits_refer_to_it(web: Web, tmp_path: Path) -> None:
    config = _run_once(web, tmp_path)
    with History.open(config.output_dir) as history:
        whole = {check.url: check.stored_at for _, check in history.stored_checks()}
    _sql(config, "UPDATE checks SET warc_record_id = '', warc_date = ''")  # as an older repair left them

    summary = job.verify(config)

    assert len(summary.findings) == 4
    assert all(finding.fixed and "lost its record's identity" in finding.problem for finding in summary.findings)
    with History.open(config.output_dir) as history:
        assert {check.url: check.stored_at for _, check in history.stored_checks()} == whole
    before = set(_warcs(config))
    job.run(config)
    kinds = []
    for warc in sorted(set(_warcs(config)) - before):
        with warc.open("rb") as stream:
            kinds += [record.rec_type for record in ArchiveIterator(stream)]
    assert "revisit" in kinds


def test_a_check_whose_record_is_not_there_is_no_longer_pointed_at(web: Web, tmp_path: Path) -> None:
    config = _run_once(web, tmp_path)
    _sql(config, "UPDATE checks SET warc_offset = warc_offset + 7 WHERE url LIKE '%/ok.html'")

    summary = job.verify(config)

    (finding,) = summary.findings
    assert finding.fixed
    assert "/ok.html is not there" in finding.problem
    with History.open(config.output_dir) as history:
        (check,) = history.checks(web.url("alpha.test", "/ok.html"))
    assert check.stored_at is None
    assert job.verify(config).findings == ()  # set right for good


def test_what_cannot_be_set_right_is_named_and_the_command_exits_3(
    web: Web, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _run_once(web, tmp_path)
    job.run(config)  # unchanged answers: revisits of the first run's records
    first, *_ = _warcs(config)
    first.unlink()  # the records the revisits refer to are gone
    (config.output_dir / INDEX_DIR / (first.name + ".cdxj")).unlink()
    second = _warcs(config)[0]
    (config.output_dir / INDEX_DIR / (second.name + ".cdxj")).unlink()
    damaged = config.output_dir / ARCHIVE_DIR / "archiver-20200101000000-00001-host.warc.gz"
    damaged.write_bytes(second.read_bytes()[:200] + b"\x1f\x8b\x08\x00garbage\xff\xfe" * 50)
    (config.output_dir / ARCHIVE_DIR / ("archiver-20200101000001-00001-host.warc.gz" + OPEN_SUFFIX)).write_bytes(b"")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"posts:\n  paths: [posts]\noutput:\n  dir: {config.output_dir}\n", encoding="utf-8")

    code = cli.main(["verify", "--config", str(config_file)])
    out, err = capsys.readouterr()

    assert code == ExitCode.BAD_INPUT
    assert "refers to <urn:uuid:" in err
    assert ", which is not here" in err
    assert f"{damaged}: damaged: only its first " in err
    assert "garbage" not in err
    assert "left unfinished by an interrupted run; the next run finishes it" in err
    assert f"archiver: fixed: {second}: had no index; indexed" in err
    assert (config.output_dir / INDEX_DIR / (second.name + ".cdxj")).exists()
    assert "is not there" in err  # the first run's checks pointed at the file that is gone
    assert "that cannot be" in out


def test_a_damaged_record_is_named_in_plain_words_not_its_bytes(web: Web, tmp_path: Path) -> None:
    config = _run_once(web, tmp_path)
    with History.open(config.output_dir) as history:
        location = next(check.stored_at for _, check in history.stored_checks() if check.url.endswith("/ok.html"))
    assert location is not None
    warc = config.output_dir / ARCHIVE_DIR / location.filename
    data = bytearray(warc.read_bytes())
    data[location.offset + 20 : location.offset + 60] = bytes(range(200, 240))  # inside its gzip member
    warc.write_bytes(bytes(data))

    answer = pack.read_answer(config.output_dir, location, 1000)

    assert answer.problem.startswith(f"{warc}: cannot read the record: ")
    assert answer.problem.isprintable()
    assert any(finding.problem.startswith("damaged: ") for finding in job.verify(config).findings)


def test_checks_in_a_file_an_interrupted_run_left_open_are_left_for_the_next_run(web: Web, tmp_path: Path) -> None:
    config = _run_once(web, tmp_path)
    (warc,) = _warcs(config)
    warc.rename(warc.with_name(warc.name + OPEN_SUFFIX))  # as a run killed before closing it leaves it
    (config.output_dir / INDEX_DIR / (warc.name + ".cdxj")).unlink()
    with History.open(config.output_dir) as history:
        stored = {check.url: check.stored_at for _, check in history.stored_checks()}

    summary = job.verify(config)

    assert [finding.problem for finding in summary.findings] == [
        "left unfinished by an interrupted run; the next run finishes it"]  # fmt: skip
    with History.open(config.output_dir) as history:
        assert {check.url: check.stored_at for _, check in history.stored_checks()} == stored
    job.run(config)  # repairs it, and checks again
    assert job.verify(config).findings == ()


def test_a_file_that_cannot_be_indexed_is_named_and_the_others_still_verified(web: Web, tmp_path: Path) -> None:
    config = _run_once(web, tmp_path)
    warc = _warcs(config)[0]
    (config.output_dir / INDEX_DIR / (warc.name + ".cdxj")).unlink()

    # no scratch file can be made beside the index (as on a folder the run may not write)
    with patch("tempfile.mkstemp", side_effect=PermissionError(13, "Permission denied")):
        summary = job.verify(config)

    assert [(finding.path, finding.fixed) for finding in summary.findings] == [(warc, False)]
    assert summary.findings[0].problem.startswith("has no index, and cannot be indexed")
    assert summary.checks > 0
