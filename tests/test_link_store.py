"""A run's links kept on disk (`LinkStore`) say what an extraction held in memory says."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver import job
from archiver.config import ExtractSettings, load_config
from archiver.errors import InputError
from archiver.extract import LinkStore, extract, extract_stored, stored
from archiver.extract.listing import json_chunks
from archiver.history import History
from archiver.model import Extraction, LinkKind
from archiver.redact import Redactor
from tests.conftest import FIXTURE_POSTS, SEED_POST, Web, write_blog

SETTINGS = ExtractSettings.model_validate({"base_url": "https://blog.test/", "exclude": [r"\.excluded\.test/"]})


def _messy_posts(folder: Path) -> Path:
    """Posts citing one URL from several posts and as several kinds, links that are skipped
    in one post only, internal links, the same URL written two ways, and a secret."""
    folder.mkdir()
    shared = "https://shared.test/page"
    (folder / "a.md").write_text(
        "---\ntitle: A ?token=s3cret\n---\n"
        f"[first]({shared}) and ![a picture]({shared})\n"
        "[mail](mailto:someone@example.test) [out](https://a.excluded.test/x)\n"
        "[secret](https://api.test/v1?token=s3cret) [own](https://blog.test/about)\n"
        "<https://auto.test/> and bare https://bare.test/path. [theirs](https://other.test/x)\n",
        encoding="utf-8",
    )
    (folder / "0-other.md").write_text(  # another site's post, read first: its link to its own site is internal
        "---\ntitle: D\nlink: https://other.test/d/\n---\n[ours](https://other.test/x)\n", encoding="utf-8"
    )
    (folder / "b.md").write_text(
        "---\ntitle: B\n---\n"
        f"[again]({shared}#part) [case](HTTPS://Shared.test/page) [rel](/about)\n"
        "[written differently](https://auto.test:443/) [](https://empty-text.test/)\n",
        encoding="utf-8",
    )
    (folder / "c.html").write_text(
        '<html><head><title>C</title></head><body><a href="https://shared.test/page">third</a>'
        '<img src="https://img.test/a.png"><iframe src="https://embed.test/v"></iframe></body></html>',
        encoding="utf-8",
    )
    odd_name = os.fsencode(folder) + b"/caf\xe9-latin-1.md"  # a file name that is not UTF-8
    with open(odd_name, "wb") as post:
        post.write(b"---\ntitle: E\n---\n[odd](https://odd-name.test/)\n")
    return folder


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    return _messy_posts(tmp_path / "posts")


def _assert_same(stored_paths: list[Path], folder: Path) -> None:
    in_memory = extract(stored_paths, SETTINGS, spans=False)
    with LinkStore(folder) as store:
        kept = extract_stored(stored_paths, SETTINGS, store)

        assert list(kept.links) == list(in_memory.links)
        assert list(kept.fetchable) == list(in_memory.fetchable)
        assert list(kept.skipped) == list(in_memory.skipped)
        assert (len(kept.links), len(kept.fetchable), len(kept.skipped)) == (
            len(in_memory.links), len(in_memory.fetchable), len(in_memory.skipped),
        )  # fmt: skip
        assert (kept.posts, kept.problems) == (in_memory.posts, in_memory.problems)
        for link in in_memory.links:
            assert store.get(link.url) == link
            assert (link.url in store.fetched_urls) is link.fetchable
        shown = Redactor(("token",))
        assert "".join(json_chunks(kept, shown)) == "".join(json_chunks(shown.value(in_memory)))


def test_stored_links_are_the_links_extracted_in_memory(messy: Path, tmp_path: Path) -> None:
    _assert_same([messy, FIXTURE_POSTS, SEED_POST], tmp_path / "out")

    in_memory = extract([messy], SETTINGS, spans=False)
    shared = next(link for link in in_memory.links if link.url == "https://shared.test/page")
    assert shared.kind is LinkKind.IMAGE
    assert len(shared.occurrences) == 5  # cited from three posts, two ways
    assert {link.skip.reason.value for link in in_memory.skipped if link.skip} == {"scheme", "excluded"}
    theirs = next(link for link in in_memory.links if link.url == "https://other.test/x")
    assert theirs.internal
    assert [o.post.name for o in theirs.occurrences] == ["0-other.md", "a.md"]
    odd = next(link for link in in_memory.links if link.url == "https://odd-name.test/")
    assert os.fsencode(odd.occurrences[0].post.name) == b"caf\xe9-latin-1.md"


def test_stored_links_of_the_corpus_are_the_links_extracted_in_memory(corpus: Path, tmp_path: Path) -> None:
    _assert_same([corpus], tmp_path / "out")


def test_the_store_file_is_removed_when_closed_and_made_only_when_a_link_is_cited(messy: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with LinkStore(folder) as store, pytest.raises(InputError):
        extract_stored([tmp_path / "no-such-post.md"], SETTINGS, store)
    assert not folder.exists()

    with LinkStore(folder) as store:
        extract_stored([messy], SETTINGS, store)
        assert store.get("https://shared.test/page") is not None
        assert store.get("https://not-cited.test/") is None
        assert "https://not-cited.test/" not in store.fetched_urls
        assert len(list(folder.iterdir())) == 1
    assert list(folder.iterdir()) == []


def test_a_run_given_an_extraction_keeps_its_links_as_they_are(messy: Path, tmp_path: Path) -> None:
    extraction: Extraction = extract([messy], SETTINGS)
    with LinkStore(tmp_path / "out") as store:
        for link in extraction.links:
            store.add(link)
        assert [store.get(link.url) for link in extraction.links] == list(extraction.links)  # spans aside
        assert list(store.urls(fetchable=True)) == [link.url for link in extraction.fetchable]


def test_a_run_keeps_its_links_beside_the_output_and_sweeps_only_what_others_left(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [web.url("alpha.test", f"/ok.html?n={n}") for n in range(5)] + [web.url("beta.test", "/status/404")]
    write_blog(tmp_path, web, urls, more="pack:\n  requisites: false\noutput:\n  dir: out\n")
    config = load_config(tmp_path / "config.yaml")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left = config.output_dir / f".links.sqlite.archiver-{gone.pid}-abcd1234.tmp"
    left.parent.mkdir()
    left.write_bytes(b"what a killed run kept")
    monkeypatch.setattr(stored, "_BATCH", 1)  # the run's own file is made at its first citation

    summary = job.run(config)

    assert summary.stale_temporaries == 1
    assert not left.exists()
    assert (summary.urls, summary.ok) == (6, 5)
    listed = json.loads((config.output_dir / "links.json").read_text(encoding="utf-8"))
    assert [link["url"] for link in listed["links"]] == urls
    results = (config.output_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(json.loads(line)["cited_by"] for line in results) == [1] * 6
    assert not [path for path in config.output_dir.iterdir() if path.name.startswith(".links.sqlite")]


def _kinds_of(output: Path, url: str) -> list[str]:
    kinds = []
    for warc in sorted((output / "archive").glob("*.warc.gz")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_headers.get_header("WARC-Target-URI") == url and record.rec_type in (
                    "response",
                    "revisit",
                ):
                    kinds.append(record.rec_type)
    return kinds


@pytest.mark.parametrize("cut_off", [False, True])
def test_a_capture_read_from_the_history_a_link_at_a_time_is_revisited_only_while_whole(
    tmp_path: Path, web: Web, cut_off: bool
) -> None:
    url = web.url("alpha.test", "/ok.html?revisit")
    write_blog(tmp_path, web, [url], more="pack:\n  requisites: false\noutput:\n  dir: out\n")
    config = load_config(tmp_path / "config.yaml")
    job.run(config)
    if cut_off:  # the history names a record beyond its file, as a power cut can leave it
        with sqlite3.connect(config.output_dir / "history.sqlite") as connection:
            connection.execute("UPDATE checks SET warc_offset = warc_offset + 100000000 WHERE url = ?", (url,))
        connection.close()

    job.run(config)

    assert _kinds_of(config.output_dir, url) == (["response", "response"] if cut_off else ["response", "revisit"])


def test_a_run_over_a_history_reads_it_a_link_at_a_time(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [web.url("alpha.test", "/ok.html?again"), web.url("beta.test", "/status/404?again")]
    write_blog(tmp_path, web, urls, more="pack:\n  requisites: false\noutput:\n  dir: out\n")
    config = load_config(tmp_path / "config.yaml")
    job.run(config)

    def held_whole(*_: object) -> None:
        raise AssertionError("every URL's earlier captures or dates read at once")

    monkeypatch.setattr(History, "latest_full_captures", held_whole)
    monkeypatch.setattr(History, "last_stored", held_whole)
    scheduled = job.run(config, only_due=True)  # the failing link is due again at once, the live one is not
    every = job.run(config)

    assert (scheduled.urls, scheduled.not_due) == (1, 1)
    assert (every.urls, every.failed) == (2, 1)
    assert _kinds_of(config.output_dir, urls[0]) == ["response", "revisit"]
