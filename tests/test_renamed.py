"""Renamed images: a blog moved from WordPress cites its images at new addresses, and a
real pywb (with its CDX server) holds them under the old ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver import restore
from archiver.config import ArchiveSettings, ExtractSettings
from archiver.restore.assets import MANIFEST_FILE
from archiver.restore.renamed import Likeness, likeness, name_key, wordpress_addresses
from tests.conftest import Web
from tests.pywb import Memento, web_archive
from tests.test_restore import Project, _all_dead, _project, picture

SITE = "https://site.test/"
FULL, SMALL, OTHER_YEAR = picture("red", kind="JPEG"), picture("green", (20, 12), "JPEG"), picture("blue", kind="JPEG")
SAME_MONTH, OLD_MONTH = picture("yellow"), picture("black")
VARIANT_ONLY, ELSEWHERE = picture("pink"), picture("cyan", kind="JPEG")
OLD = "http://www.site.test/wp-content/uploads"
MEMENTOS = [
    Memento(f"{OLD}/2015/02/x.jpg", "20150301000000", FULL, content_type="image/jpeg"),
    Memento(f"{OLD}/2015/02/x-1024x646.jpg", "20150301000001", SMALL, content_type="image/jpeg"),
    Memento(f"{OLD}/2013/07/x.jpg", "20150301000002", OTHER_YEAR, content_type="image/jpeg"),  # another photo
    Memento("https://site.test/images/2011/01/w.png", "20150301000000", OLD_MONTH),
    Memento("https://site.test/images/2014/03/w.png", "20150301000001", SAME_MONTH),
    Memento("https://site.test/wp-content/uploads/2016/05/z-1024x646.png", "20160601000000", VARIANT_ONLY),
    Memento("http://other.test/assets/media/2015/02/y.jpg", "20150301000000", ELSEWHERE, content_type="image/jpeg"),
]
CITED = {
    "x": "https://site.test/assets/media/2015/02/x.jpg",
    "w": "https://site.test/assets/2014/03/w.png",
    "z": "https://site.test/assets/media/2016/05/z.png",
    "y": "https://site.test/assets/media/2015/02/y.jpg",
}
POST = "---\ndate: 2016-03-01\n---\n" + "".join(
    f"![{name}]({{{{ site.url }}}}{url.removeprefix(SITE.rstrip('/'))})\n" for name, url in CITED.items()
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with web_archive(MEMENTOS, tmp_path_factory.mktemp("wayback")) as base:
        yield base


def _blog(folder: Path, web: Web, archive: str, **restore_settings: object) -> Project:
    project = _project(folder, web, (ArchiveSettings(name="Test Wayback", url=archive, requests_per_minute=6000),),
                       text=POST)  # fmt: skip
    settings = project.config.restore.model_copy(update=restore_settings)
    project.config = project.config.model_copy(update={"extract": ExtractSettings(base_url=SITE), "restore": settings})
    _all_dead(project, list(CITED.values()))
    return project


def _file(project: Project, outcome: restore.Restoration) -> bytes:
    prefix = project.config.restore.assets_url
    return (project.config.restore.assets_dir / outcome.new_url.removeprefix(prefix)).read_bytes()


def test_an_image_is_found_under_its_wordpress_address_and_restored_byte_for_byte(
    tmp_path: Path, web: Web, archive: str
) -> None:
    blog = _blog(tmp_path, web, archive)

    outcomes = blog.restorations(blog.run())

    x = outcomes[CITED["x"]]
    assert (x.state, x.source, x.renamed_from) == ("restored", "Test Wayback", f"{OLD}/2015/02/x.jpg")
    assert _file(blog, x) == FULL  # the full size, not the -1024x646 variant, nor 2013's x.jpg
    assert x.found_as == f"by file name, from {OLD}/2015/02/x.jpg"
    assert x.new_url.encode() in blog.post.read_bytes()
    manifest = json.loads((blog.config.restore.assets_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    entries = {entry["url"]: entry for entry in manifest["assets"]}
    assert entries[CITED["x"]]["renamed_from"] == f"{OLD}/2015/02/x.jpg"
    document = json.loads((blog.config.output_dir / "restore.json").read_text(encoding="utf-8"))
    by_url = {o["url"]: o for o in document["outcomes"]}
    assert by_url[CITED["x"]]["found_as"] == f"by file name, from {OLD}/2015/02/x.jpg"
    markdown = (blog.config.output_dir / "restore.md").read_text(encoding="utf-8")
    assert f"Test Wayback, by file name, from {OLD}/2015/02/x.jpg" in markdown


def test_the_same_month_wins_a_size_variant_serves_and_another_site_is_never_used(
    tmp_path: Path, web: Web, archive: str
) -> None:
    blog = _blog(tmp_path, web, archive)

    outcomes = blog.restorations(blog.run())

    assert _file(blog, outcomes[CITED["w"]]) == SAME_MONTH  # 2014/03, not 2011/01
    assert _file(blog, outcomes[CITED["z"]]) == VARIANT_ONLY
    assert outcomes[CITED["z"]].renamed_from == "https://site.test/wp-content/uploads/2016/05/z-1024x646.png"
    assert outcomes[CITED["y"]].state == "not-found"  # only other.test has a y.jpg


def test_with_match_renamed_off_only_exact_urls_count(tmp_path: Path, web: Web, archive: str) -> None:
    blog = _blog(tmp_path, web, archive, match_renamed=False)

    outcomes = blog.restorations(blog.run())

    assert {outcome.state for outcome in outcomes.values()} == {"not-found"}
    assert blog.post.read_bytes() == blog.original


def test_likeness_ranks_the_old_addresses_of_one_file() -> None:
    dead = "https://blog.test/assets/media/2015/02/photo.jpg"

    assert likeness(dead, "http://www.blog.test/wp-content/uploads/2015/02/photo.jpg") == Likeness(True, True, True, 2)
    assert likeness(dead, "http://blog.test/wp-content/uploads/2015/02/photo-300x200.jpg") == Likeness(
        True, True, False, 2
    )
    assert likeness(dead, "http://blog.test/2013/07/photo.jpg") == Likeness(False, False, True, 0)
    assert likeness(dead, "http://elsewhere.test/wp-content/uploads/2015/02/photo.jpg") is None
    assert likeness(dead, "http://blog.test/wp-content/uploads/2015/02/other.jpg") is None
    assert likeness(dead, "http://www.blog.test/assets/media/2015/02/photo.jpg") is None  # the same address
    assert name_key("http://a.test/Photo-1024x646.JPG") == "photo.jpg"
    assert wordpress_addresses(dead) == ["https://blog.test/wp-content/uploads/2015/02/photo.jpg"]
    assert wordpress_addresses("https://blog.test/assets/photo.jpg") == []


def test_a_renamed_file_cited_under_its_old_name_or_restored_again_is_no_placeholder(
    tmp_path: Path, web: Web, archive: str
) -> None:
    blog = _blog(tmp_path, web, archive)
    manifest_file = blog.config.restore.assets_dir / MANIFEST_FILE
    z = blog.restorations(blog.run())[CITED["z"]]
    old_name = "https://site.test/wp-content/uploads/2016/05/z-1024x646.png"  # the very file, cited as it was
    blog.post.with_name("2016-03-02-more.md").write_text(f"---\ndate: 2016-03-01\n---\n![z]({old_name})\n", "utf-8")
    _all_dead(blog, [old_name])

    cited_as_it_was = blog.restorations(blog.run())[old_name]

    assert cited_as_it_was.state == "restored"  # z's file is named by its old address, the same name
    assert _file(blog, cited_as_it_was) == VARIANT_ONLY
    # z's file is gone, and the manifest says it came from z's own URL: found renamed now, it is no other image
    (blog.config.restore.assets_dir / z.new_url.removeprefix(blog.config.restore.assets_url)).unlink()
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    for entry in manifest["assets"]:
        if entry["url"] == CITED["z"]:
            del entry["renamed_from"]
    manifest_file.write_text(json.dumps(manifest), "utf-8")
    blog.post.write_bytes(blog.original)

    again = blog.restorations(blog.run())[CITED["z"]]

    assert again.state == "restored"
    assert _file(blog, again) == VARIANT_ONLY
    assert json.loads(manifest_file.read_text(encoding="utf-8"))["placeholders"] == []
