"""The command line without a configuration file: posts, globs, standard input, live pages,
feeds and sitemaps named as inputs; results as JSON or JUnit XML; an archive folder
copied elsewhere; a proxy. Each test runs in a temporary folder with no config.yaml:
in a subprocess as a user runs it, or, where the process itself is not what is tested,
through `main` in this one (a subprocess costs about a second of imports)."""

from __future__ import annotations

import json
import shutil
import zipfile
from importlib import resources
from pathlib import Path
from xml.dom import minidom
from xml.etree import ElementTree

import jsonschema
import pytest
from referencing import Registry, Resource

from archiver import job, output, report
from archiver.cli import ExitCode, main
from archiver.config import Overrides, default_config, with_overrides
from archiver.model import DeadPolicy, Extraction, Form, Link, LinkKind, Occurrence
from archiver.times import utc_now
from tests.conftest import Web
from tests.proxy import recording_proxy
from tests.test_cli import archiver

LOOPBACK = ("--allow", "127.0.0.0/8")


def _local(web: Web, path: str) -> str:
    """A URL on the test server by its address, so that no name needs resolving."""
    return f"http://127.0.0.2:{web.ports['alpha.test']}{path}"


def _post(folder: Path, *urls: str, name: str = "post.md") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    post = folder / name
    post.write_text("".join(f"[link {i}]({url})\n\n" for i, url in enumerate(urls)), encoding="utf-8")
    return post


def test_check_a_post_as_json_lists_every_url_as_report_json_does(tmp_path: Path, web: Web) -> None:
    urls = [_local(web, "/ok.html"), _local(web, "/status/404"), _local(web, "/image.png")]
    _post(tmp_path, *urls)

    result = archiver("check", "post.md", "--format", "json", *LOOPBACK, cwd=tmp_path)

    assert result.returncode == ExitCode.OK, result.stderr
    document = json.loads(result.stdout)
    _verdicts_schema().validate(document)
    assert (document["schema"], document["command"]) == ("archiver/verdicts", "check")
    assert {link["url"]: link["status"] for link in document["links"]} == dict(
        zip(urls, ["ok", "not-found", "ok"], strict=True)
    )
    report = json.loads((tmp_path / "archives" / "report.json").read_text(encoding="utf-8"))
    assert document["links"] == report["links"]
    assert not (tmp_path / "config.yaml").exists()


def test_check_a_glob_of_posts_as_junit_xml_to_a_file(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _post(tmp_path / "posts", _local(web, "/ok.html"), name="a.md")
    _post(tmp_path / "posts" / "2024" / "deep", _local(web, "/status/410"), name="b.md")
    _post(tmp_path / "posts", _local(web, "/status/500"), name="not-a-post.txt")

    monkeypatch.chdir(tmp_path)

    code = main(["check", "posts/**/*.md", "--format", "junit", "-o", "results.xml", *LOOPBACK])

    assert code == ExitCode.OK
    assert capsys.readouterr().out == ""
    suite = ElementTree.parse(tmp_path / "results.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {_local(web, "/ok.html"), _local(web, "/status/410")}
    failure = cases[_local(web, "/status/410")].find("failure")
    assert failure is not None
    assert failure.get("type") == "gone"
    assert "posts/2024/deep/b.md:1" in (failure.text or "")


def test_check_reads_a_list_of_urls_on_standard_input(tmp_path: Path, web: Web) -> None:
    urls = [_local(web, "/ok.html"), _local(web, "/redirect/2")]

    result = archiver("check", "-", "--format", "json", *LOOPBACK, cwd=tmp_path, stdin="\n".join(urls) + "\n")

    assert result.returncode == ExitCode.OK, result.stderr
    links = json.loads(result.stdout)["links"]
    assert [(link["url"], link["status"]) for link in links] == [(urls[0], "ok"), (urls[1], "redirected")]
    assert [(c["post"], c["line"]) for link in links for c in link["citations"]] == [("<stdin>", 1), ("<stdin>", 2)]


@pytest.mark.parametrize("document", ["/blog/feed.xml", "/blog/sitemap.xml"])
def test_check_a_live_blog_through_its_feed_or_sitemap(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], document: str
) -> None:
    monkeypatch.chdir(tmp_path)

    code = main(["check", _local(web, document), "--format", "json", *LOOPBACK])

    assert code == ExitCode.OK
    links = {link["url"]: link for link in json.loads(capsys.readouterr().out)["links"]}
    expected = ["/ok.html", "/image.png", "/status/404", "/redirect/1"]  # relative in the posts
    assert set(links) == {_local(web, path) for path in expected}
    one = f"127.0.0.2:{web.ports['alpha.test']}/blog/posts/one.html"
    assert [c["post"] for c in links[_local(web, "/image.png")]["citations"]] == [one]
    assert links[_local(web, "/status/404")]["status"] == "not-found"


def test_a_live_page_the_guard_refuses_is_named(tmp_path: Path, web: Web, capsys: pytest.CaptureFixture[str]) -> None:
    feed = _local(web, "/blog/feed.xml")

    code = main(["check", feed, "--output", str(tmp_path / "archive"), "--quiet"])

    assert code == ExitCode.BAD_INPUT
    errors = capsys.readouterr().err
    assert f"{feed} could not be fetched (blocked: 127.0.0.2 resolves to 127.0.0.2, which is not a public" in errors
    assert errors.startswith("archiver: error: no post could be read from the inputs given (")


def test_report_and_export_work_on_a_copied_archive_without_config_or_posts(tmp_path: Path, web: Web) -> None:
    post = _post(tmp_path / "blog", _local(web, "/ok.html"), _local(web, "/status/404"))
    overrides = Overrides(allow=("127.0.0.0/8",), output_dir=tmp_path / "blog" / "archive")
    job.run(with_overrides(default_config([post]), overrides))
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "blog" / "archive", elsewhere / "copy")
    shutil.rmtree(tmp_path / "blog")
    (elsewhere / "copy" / "report.json").unlink()

    report = archiver("report", "--output", "copy", cwd=elsewhere)
    export = archiver("export", "--wacz", "blog.wacz", "--output", "copy", cwd=elsewhere)

    assert report.returncode == ExitCode.OK, report.stderr
    totals = json.loads((elsewhere / "copy" / "report.json").read_text(encoding="utf-8"))["totals"]["by_verdict"]
    assert totals == {"alive": 1, "failing": 1}
    assert export.returncode == ExitCode.OK, export.stderr
    assert "wrote blog.wacz: 2 pages" in export.stdout
    with zipfile.ZipFile(elsewhere / "blog.wacz") as wacz:
        assert "datapackage.json" in wacz.namelist()


def test_check_through_a_proxy_sends_every_request_there(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [_local(web, "/ok.html"), _local(web, "/status/404")]
    _post(tmp_path, *urls)
    monkeypatch.chdir(tmp_path)

    with recording_proxy() as proxy:
        code = main(["check", "post.md", "--proxy", proxy.url, "-u", "audit/1.0", "--format", "json", *LOOPBACK])

    assert code == ExitCode.OK
    assert sorted(proxy.requests) == [(url, "audit/1.0") for url in sorted(urls)]
    assert [link["status"] for link in json.loads(capsys.readouterr().out)["links"]] == ["ok", "not-found"]


def test_check_as_markdown_prints_report_md(
    tmp_path: Path, web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _post(tmp_path, _local(web, "/ok.html"), _local(web, "/status/500"))
    monkeypatch.chdir(tmp_path)

    code = main(["check", "post.md", "--format", "markdown", "--attempts", "1", *LOOPBACK])

    assert code == ExitCode.OK
    assert capsys.readouterr().out == (tmp_path / "archives" / "report.md").read_text(encoding="utf-8")


def _verdicts_schema() -> jsonschema.Draft202012Validator:
    """The verdicts document's JSON Schema, with report.json's, whose link entries it uses."""
    schemas = resources.files("archiver") / "schemas"
    report, verdicts = (json.loads((schemas / name).read_text(encoding="utf-8"))
                        for name in ("report-v1.json", "verdicts-v1.json"))  # fmt: skip
    registry = Registry().with_resource("archiver/report/1", Resource.from_contents(report))
    return jsonschema.Draft202012Validator(verdicts, registry=registry, format_checker=jsonschema.FormatChecker())


def test_junit_output_is_well_formed_xml_whatever_a_url_carries() -> None:
    url = "http://x.example/c\x02d\x1b"  # control characters survive extraction in an href
    occurrence = Occurrence(Path("post.md"), 3, "odd\x0c", LinkKind.LINK, Form.MARKDOWN, url)
    extraction = Extraction((), (Link(url, LinkKind.LINK, False, (occurrence,)),), ())
    built = report.build(extraction, [], DeadPolicy(), "", utc_now())

    document = minidom.parseString(output.to_junit(built, ""))  # a stricter parser than ElementTree

    (case,) = document.getElementsByTagName("testcase")
    assert case.getAttribute("name") == "http://x.example/c\ufffdd\ufffd"
