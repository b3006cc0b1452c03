"""Secrets in URLs: a user:password@ is never sent nor stored, and a query parameter named
like a secret is shown as *** everywhere but in the WARC files, which keep the URL asked."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import ExitCode
from archiver.config import DEFAULT_SECRET_PARAMS
from archiver.model import LinkKind, Status, Verdict
from archiver.redact import Redactor, holds_redaction, without_userinfo
from archiver.restore import report as restore_report
from archiver.restore.assets import Assets, StoredAsset
from archiver.restore.values import Rejection, Restoration, RestoreSummary
from tests.conftest import Web, write_blog
from tests.test_cli import archiver
from tests.test_fetch import fetch_one

SHOWN = Redactor(DEFAULT_SECRET_PARAMS)
SECRETS = (b"hunter2", b"SEKRET")


@pytest.mark.parametrize(
    "name",
    ["token", "access_token", "apiKey", "API_KEY", "client_secret", "X-Amz-Signature", "X-Amz-Credential", "sig",
     "password", "oauth", "auth", "csrftoken"],
)  # fmt: skip
def test_parameters_named_like_secrets_are_secrets(name: str) -> None:
    assert SHOWN.is_secret(name)
    assert SHOWN.text(f"https://x.test/a?{name}=abc123&page=2") == f"https://x.test/a?{name}=***&page=2"


@pytest.mark.parametrize("name", ["author", "keyword", "page", "q", "utm_source", "signup", "tokens_left"])
def test_other_parameters_are_shown(name: str) -> None:
    url = f"https://x.test/a?{name}=abc123"

    assert not SHOWN.is_secret(name)
    assert SHOWN.text(url) == url
    assert not holds_redaction(url)


def test_redaction_finds_urls_inside_text_and_is_stable() -> None:
    text = 'redirect to https://bob:pw@x.test/b?sig=1a2b;key=9 (was "http://x.test/?token=t&ok=1#top")'
    once = SHOWN.text(text)

    assert once == 'redirect to https://***@x.test/b?sig=***;key=*** (was "http://x.test/?token=***&ok=1#top")'
    assert SHOWN.text(once) == once
    assert holds_redaction("http://x.test/?token=***&ok=1")
    assert Redactor(()).text("http://x.test/?token=t") == "http://x.test/?token=t"  # no words: nothing hidden
    assert without_userinfo("https://bob:pw@x.test:8443/a?b") == "https://x.test:8443/a?b"


def test_no_secret_is_sent_or_shown_and_the_warc_keeps_the_exact_url(tmp_path: Path, web: Web) -> None:
    port = web.ports["alpha.test"]
    token_url = f"http://alpha.test:{port}/ok.html?access_token=SEKRET1&page=2"
    urls = [
        f"http://user:hunter2@alpha.test:{port}/ok.html",
        token_url,
        f"http://alpha.test:{port}/credential-redirect",  # to http://bob:SEKRET2@…/image.png?sig=SEKRET3
        f"http://alpha.test:{port}/status/404?apiKey=SEKRET4",
    ]
    write_blog(tmp_path, web, urls, fetch="  backoff: 0\n  attempts: 1\n")
    out = tmp_path / "archives"

    ran = archiver("run", "--log", tmp_path / "run.log", cwd=tmp_path)
    reported = archiver("report", cwd=tmp_path)
    exported = archiver("export", "--wacz", tmp_path / "blog.wacz", cwd=tmp_path)

    assert ran.returncode == reported.returncode == ExitCode.OK, ran.stderr + reported.stderr
    assert exported.returncode == ExitCode.OK, exported.stderr
    assert "post.md:1: a URL names a user or password (user:password@host); it is neither sent nor stored" in ran.stderr
    sent = {target: headers for (host, target), headers in web.server.headers.items() if host == "alpha.test"}
    assert "authorization" not in sent["/ok.html"]
    assert "authorization" not in sent["/image.png?sig=SEKRET3"]  # the redirect's userinfo is dropped too
    shown = [out / name for name in ("report.html", "report.json", "report.csv", "report.md", "links.json",
                                     "results.jsonl")] + [tmp_path / "run.log"]  # fmt: skip
    for path in shown:
        assert not any(secret in path.read_bytes() for secret in SECRETS), path
    for output in (ran, reported, exported):
        assert not any(secret.decode() in output.stdout + output.stderr for secret in SECRETS)
    links = {link["url"]: link for link in json.loads((out / "report.json").read_text("utf-8"))["links"]}
    shown_token_url = token_url.replace("SEKRET1", "***")
    assert links[shown_token_url]["status"] == "ok"  # matched with the history's exact URL
    assert links[shown_token_url]["capture"]["replay"] == ""  # its capture is indexed under the exact URL
    assert links[f"http://alpha.test:{port}/ok.html"]["capture"]["replay"].endswith(f"alpha.test:{port}/ok.html")
    assert links[f"http://alpha.test:{port}/status/404?apiKey=***"]["status"] == "not-found"
    with zipfile.ZipFile(tmp_path / "blog.wacz") as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
    assert token_url in {page["url"] for page in pages}  # the WACZ is an archive: the exact URL
    requested, credentials = _warc_requests(out / "archive")
    assert token_url in requested
    assert f"http://alpha.test:{port}/image.png?sig=SEKRET3" in requested
    assert not credentials


def _warc_requests(folder: Path) -> tuple[set[str], list[str]]:
    """The URLs the WARC files' request records name, and any credential a record holds."""
    requested, credentials = set(), []
    for path in folder.glob("*.warc.gz"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "request":
                    requested.add(record.rec_headers.get_header("WARC-Target-URI"))
                    raw = record.content_stream().read()
                    credentials += [path.name] if b"authorization" in raw.lower() or b"hunter2" in raw else []
    return requested, credentials


def test_the_fetcher_never_sends_a_credential_it_is_given(web: Web) -> None:
    url = web.url("alpha.test", "/ok.html?given=1").replace("http://", "http://user:hunter2@")

    result = fetch_one(web.settings(), url)

    assert result.status is Status.OK
    assert result.final_url == web.url("alpha.test", "/ok.html?given=1")
    assert "authorization" not in web.server.headers[("alpha.test", "/ok.html?given=1")]


def test_the_restore_report_shows_no_secret(tmp_path: Path) -> None:
    signed = "http://cdn.example/photo.jpg?X-Amz-Signature=SEKRET5&w=300"
    rejected = Rejection("wayback", f"http://web.archive.org/web/2010id_/{signed}", "2010-01-01", "a placeholder")
    summary = RestoreSummary(
        restorations=(Restoration(signed, LinkKind.IMAGE, Verdict.DEAD, rejections=(rejected,)),),
        edits=(),
        dry_run=False,
        assets=tmp_path / "assets",
    )

    written = restore_report.write_all(summary, tmp_path, SHOWN)

    assert [path.name for path in written] == ["restore.json", "restore.md"]
    for path in written:
        assert "X-Amz-Signature=***&w=300" in path.read_text("utf-8"), path
        assert b"SEKRET" not in path.read_bytes(), path


def test_the_published_manifest_shows_no_secret_and_still_finds_the_file(tmp_path: Path) -> None:
    signed = "http://cdn.example/photo.png?sig=SEKRET6"
    assets = Assets(tmp_path / "assets", "/assets/restored/", SHOWN)
    path, local = assets.planned(signed, ".png")
    body = b"\x89PNG the restored bytes"
    asset = StoredAsset(signed, str(path), local, "Internet Archive", f"http://web.archive.org/web/2010id_/{signed}",
                        "2010-01-01T00:00:00Z", hashlib.sha256(body).hexdigest(), "image/png", len(body),
                        "2026-12-01T00:00:00Z")  # fmt: skip

    assets.store(asset, body)
    assets.save()
    again = Assets(tmp_path / "assets", "/assets/restored/", SHOWN)

    assert b"SEKRET" not in (tmp_path / "assets" / "manifest.json").read_bytes()
    found = again.stored(signed)
    assert found is not None
    assert found.url == "http://cdn.example/photo.png?sig=***"


def test_two_links_that_differ_only_in_a_secret_keep_their_own_verdicts(tmp_path: Path, web: Web) -> None:
    opens, fails = web.url("alpha.test", "/keyed?token=good"), web.url("alpha.test", "/keyed?token=wrong")
    write_blog(tmp_path, web, [opens, fails], fetch="  backoff: 0\n  attempts: 1\n")
    out = tmp_path / "archives"

    ran = archiver("run", "--fail-on", "failing", cwd=tmp_path)
    from_run = json.loads((out / "report.json").read_text("utf-8"))["links"]
    reported = archiver("report", "--fail-on", "failing", cwd=tmp_path)
    from_links_file = json.loads((out / "report.json").read_text("utf-8"))["links"]

    assert ran.returncode == reported.returncode == ExitCode.DEAD_LINKS, ran.stderr + reported.stderr
    assert sorted((link["url"], link["status"]) for link in from_run) == [
        (web.url("alpha.test", "/keyed?token=***"), "not-found"),
        (web.url("alpha.test", "/keyed?token=***"), "ok"),
    ]
    assert {link["status"] for link in from_links_file} == {"not-found"}  # alike once redacted: the worst of both


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("https://user:p@ss@host.test/x", "https://***@host.test/x"),  # the host is after the last "@"
        ("https://app.test/callback#access_token=T0K&token_type=bearer", "https://app.test/callback#access_token=***&token_type=***"),
        ("access_token=T0K&state=1", "access_token=***&state=1"),  # an occurrence's fragment, kept without "#"
        ("mail bob@example.com about https://a.test/x?q=1", "mail bob@example.com about https://a.test/x?q=1"),
    ],
)  # fmt: skip
def test_userinfo_with_an_at_sign_and_secrets_in_fragments_are_hidden(written: str, shown: str) -> None:
    assert SHOWN.text(written) == shown
