"""The command line, run as a user runs it: in a subprocess, checking output and exit code."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.cli import ExitCode, build_parser, main
from tests.conftest import FIXTURE_POSTS, HOLD_LOCK, REPO, SEED_POST, Web

CONSOLE_SCRIPT = Path(sys.executable).parent / "archiver"


def archiver(*args: str | Path, cwd: Path = REPO, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m archiver` with `args` (and `stdin` on its standard input) and capture its output."""
    command = [sys.executable, "-m", "archiver", *map(str, args)]
    given = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False, **given)


# The example post's hosts, sent to a loopback address where nothing listens: a run
# fetches nothing from the internet, and every URL is refused the same way every time.
EXAMPLE_HOSTS = ("www.emc.com", "www.slideshare.net", "www.cloudscaling.com", "en.wikipedia.org",
                 "www.channelregister.co.uk", "cloudarchitectmusings.com")  # fmt: skip
OFFLINE = {
    "allow_networks: []": "allow_networks: [127.0.0.0/8]",
    "resolve: {}": "resolve: {" + ", ".join(f"{host}: 127.0.0.9" for host in EXAMPLE_HOSTS) + "}",
    "backoff: 1": "backoff: 0",
}


def _project(folder: Path, web: Web | None = None) -> Path:
    """A copy of the bundled config and example post in `folder`, kept off the internet;
    with the test `web`, one of its pages is the canary: the network is up, and the
    refused hosts are simply down."""
    shutil.copytree(REPO / "examples", folder / "examples")
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    replacements = dict(OFFLINE)
    if web is not None:
        replacements["canaries: []"] = f"canaries: [{web.url('alpha.test', '/ok.html')}]"
        replacements["resolve: {}"] = OFFLINE["resolve: {}"].replace("{", "{alpha.test: 127.0.0.2, ", 1)
    for default, offline in replacements.items():
        assert default in text
        text = text.replace(default, offline)
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    return folder


def test_console_script_and_module_both_answer_version() -> None:
    script = subprocess.run([CONSOLE_SCRIPT, "--version"], capture_output=True, text=True, check=False)
    module = archiver("--version")

    assert script.returncode == module.returncode == ExitCode.OK
    assert script.stdout == module.stdout
    assert module.stdout.startswith("archiver ")


@pytest.mark.parametrize("command", [[], ["run"], ["extract"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = archiver(*command, "--help")

    assert result.returncode == ExitCode.OK
    assert result.stdout.startswith(f"usage: archiver {' '.join(command)}".rstrip())
    assert ("--config" in result.stdout) is bool(command)


def test_run_on_the_bundled_config_writes_the_links_file(tmp_path: Path, web: Web) -> None:
    project = _project(tmp_path, web)

    result = archiver("run", cwd=project)

    assert result.returncode == ExitCode.OK, result.stderr
    assert "13 links (3 images, 6 internal) in 1 post;" in result.stdout
    document = json.loads((project / "archives" / "links.json").read_text(encoding="utf-8"))
    assert document["totals"]["links"] == 13
    assert [p["path"] for p in document["posts"]] == ["examples/posts/2014-10-28-an-openstack-dream-team.md"]


def test_extract_table_lists_every_link_and_a_summary(tmp_path: Path) -> None:
    result = archiver("extract", SEED_POST, cwd=tmp_path)

    assert result.returncode == ExitCode.OK, result.stderr
    assert "http://www.channelregister.co.uk/2014/10/15/core_divisional_duo_at_emc/" in result.stdout
    assert "2014-10-28-an-openstack-dream-team.md:88" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert sum(" image " in row for row in rows) == 3
    assert result.stdout.rstrip().endswith("13 links (3 images, 6 internal) in 1 post; 0 skipped; 0 problems")


def test_extract_csv_has_one_row_per_occurrence(tmp_path: Path) -> None:
    result = archiver("extract", "--format", "csv", FIXTURE_POSTS / "wordpress-export.md", cwd=tmp_path)

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.returncode == ExitCode.OK
    wiki = next(row for row in rows if "Walled_garden" in row["url"])
    assert (wiki["line"], wiki["text"], wiki["form"]) == ("12", "walled garden", "markdown")
    mail = [row for row in rows if row["url"] == "mailto:dana@example.com"]
    assert [row["skip_reason"] for row in mail] == ["scheme", "scheme"]


def test_extract_json_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "links.json"

    result = archiver("extract", "--format", "json", "-o", target, FIXTURE_POSTS, cwd=tmp_path)

    assert result.returncode == ExitCode.OK
    assert result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["totals"]["posts"] == 7


def test_bad_posts_warn_on_stderr_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"\x00\x01binary")
    broken = "---\ntitle: [unclosed\nlink: http://x.example/\n---\n[ok](http://ok.example.com/)\n"
    (tmp_path / "b.md").write_text(broken, encoding="utf-8")

    result = archiver("extract", "--format", "json", tmp_path, cwd=tmp_path)

    assert result.returncode == ExitCode.OK
    assert f"archiver: warning: {tmp_path / 'a.md'}: binary data" in result.stderr
    assert f"archiver: warning: {tmp_path / 'b.md'}:3: front matter is not valid YAML" in result.stderr
    assert json.loads(result.stdout)["links"][0]["url"] == "http://ok.example.com/"


def test_bad_config_exits_3_with_file_and_key_and_no_traceback(tmp_path: Path) -> None:
    project = _project(tmp_path)
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("max_size_mb: 64", "max_size_mb: lots"))

    result = archiver("run", cwd=project)

    assert result.returncode == ExitCode.BAD_INPUT
    assert "config.yaml: posts.max_size_mb: Input should be a valid number" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("default", "wrong", "message"),
    [
        (
            "concurrency: 64",
            "concurrency: 999999999999999999999999999999",
            "fetch.concurrency: must be from 1 to 10,000",
        ),
        ("host_delay: 0", "host_delay: .nan", "fetch.host_delay: must be from 0 to 86,400, not nan"),
        ("total_timeout: 120", "total_timeout: .inf", "fetch.total_timeout: must be more than 0 and at most 86,400"),
        ("dead_after_days: 3", "dead_after_days: -1", "health.dead_after_days: must be from 0 to 36,500, not -1"),
    ],
)
def test_a_number_out_of_range_exits_3_naming_file_key_and_range(
    tmp_path: Path, default: str, wrong: str, message: str
) -> None:
    project = _project(tmp_path)
    config = project / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert default in text
    config.write_text(text.replace(default, wrong), encoding="utf-8")

    result = archiver("run", cwd=project)

    assert result.returncode == ExitCode.BAD_INPUT
    assert f"config.yaml: {message}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["extract", "no/such/post.md"], "no/such/post.md: no such file or folder"),
        (["run", "--config", "missing.yaml"], "missing.yaml: configuration file not found"),
        (["run"], "config.yaml: no configuration file in this folder; give the posts to archive (archiver run"),
        (["extract", "--format", "xml", "x.md"], "invalid choice: 'xml'"),
        (["extract", "--base-url", "example.org", "x.md"], "must be an absolute http(s) URL"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_exits_3(tmp_path: Path, args: list[str], message: str) -> None:
    result = archiver(*args, cwd=tmp_path)

    assert result.returncode == ExitCode.BAD_INPUT
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_extract_with_base_url_option_resolves_relative_links(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text("![a](/img/a.png)\n", encoding="utf-8")

    result = archiver("extract", "--format", "json", "--base-url", "https://site.example/", "p.md", cwd=tmp_path)

    link = json.loads(result.stdout)["links"][0]
    assert (link["url"], link["internal"], link["skip"]) == ("https://site.example/img/a.png", True, None)


def test_table_shows_text_with_brackets_and_colons_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text("[see [/x] and [bold]it[/bold] :smile:](http://a.example/)\n", encoding="utf-8")

    result = archiver("extract", "p.md", cwd=tmp_path)

    assert result.returncode == ExitCode.OK, result.stderr
    assert "see [/x] and [bold]it[/bold] :smile:" in result.stdout


def test_an_unwritable_output_exits_3_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be", encoding="utf-8")
    target = tmp_path / "blocker" / "links.json"

    result = archiver("extract", "--format", "json", "-o", target, SEED_POST, cwd=tmp_path)

    assert result.returncode == ExitCode.BAD_INPUT
    assert f"archiver: error: {tmp_path / 'blocker'}: cannot create the folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_writes_history_and_reports_but_no_warc(tmp_path: Path, web: Web) -> None:
    project = _project(tmp_path, web)

    result = archiver("check", cwd=project)

    assert result.returncode == ExitCode.OK, result.stderr
    assert "13 URLs fetched: 0 ok, 13 failed (refused 13), 0 unknown" in result.stdout
    assert "verdicts: 0 alive, 13 failing, 0 dead" in result.stdout
    names = {path.name for path in (project / "archives").iterdir()}
    assert {"history.sqlite", "report.html", "report.json", "report.csv", "report.md", "check-results.jsonl"} <= names
    assert "archive" not in names
    assert "results.jsonl" not in names  # that file keeps the capture locations of the last run


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory, web: Web) -> Path:
    """A project after one `archiver check` (13 failing links), for tests to copy."""
    project = _project(tmp_path_factory.mktemp("checked"), web)
    assert archiver("check", cwd=project).returncode == ExitCode.OK
    return project


@pytest.mark.parametrize(("fail_on", "code"), [("never", ExitCode.OK), ("dead", ExitCode.OK), ("failing", 2)])
def test_fail_on_sets_the_exit_code(tmp_path: Path, fail_on: str, code: int, checked: Path) -> None:
    project = shutil.copytree(checked, tmp_path / "project")

    result = archiver("report", "--fail-on", fail_on, cwd=project)

    assert result.returncode == code, result.stderr
    assert "13 failing" in result.stdout


def test_report_before_any_run_names_the_missing_file(tmp_path: Path) -> None:
    project = _project(tmp_path)

    result = archiver("report", cwd=project)

    assert result.returncode == ExitCode.BAD_INPUT
    assert "links.json: cannot read the last extraction" in result.stderr


def test_fail_on_dead_exits_2_once_a_link_is_dead(tmp_path: Path, web: Web) -> None:
    project = _project(tmp_path, web)
    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("dead_after_checks: 3", "dead_after_checks: 1")
                      .replace("dead_after_days: 3", "dead_after_days: 0"), encoding="utf-8")  # fmt: skip

    result = archiver("check", "--fail-on", "dead", cwd=project)

    assert result.returncode == 2, result.stderr
    assert "13 dead" in result.stdout


def test_a_second_run_exits_at_once_with_the_lock_message(tmp_path: Path) -> None:
    project = _project(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(project / "archives")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        result = archiver("run", cwd=project)
    finally:
        holder.kill()
        holder.communicate()

    assert result.returncode == ExitCode.LOCKED
    assert f"is in use by another run (archiver run, process {holder.pid} on " in result.stderr
    assert not (project / "archives" / "links.json").exists()  # it stopped before doing anything


def test_quiet_prints_only_the_summary_line_and_the_log_has_every_url(tmp_path: Path, web: Web) -> None:
    project = _project(tmp_path, web)
    (project / "examples" / "posts" / "broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")

    result = archiver("run", "--quiet", "--log", "run.log", cwd=project)

    assert result.returncode == ExitCode.OK, result.stderr
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("13 URLs fetched: 0 ok, 13 failed (refused 13)")
    assert result.stdout.rstrip().endswith("0 alive, 13 failing, 0 dead, 0 recovered, 0 unknown, 0 unchecked")
    assert result.stderr == ""
    events = [json.loads(line) for line in (project / "run.log").read_text(encoding="utf-8").splitlines()]
    assert [e["event"] for e in events] == ["start", "warning"] + ["checked"] * 13 + ["summary"]
    assert events[1]["path"].endswith("broken.md")
    assert {e["status"] for e in events if e["event"] == "checked"} == {"refused"}
    assert events[-1]["verdicts"]["failing"] == 13
    assert events[-1]["exit_code"] == 0


@pytest.mark.parametrize("document", ["README.md", "docs/operations.md"])
def test_every_exit_code_is_in_the_documented_tables(document: str) -> None:
    rows = {line.split("|")[1].strip() for line in (REPO / document).read_text(encoding="utf-8").splitlines()
            if line.startswith("| ")}  # fmt: skip

    assert {str(int(code)) for code in ExitCode} <= rows


@pytest.mark.parametrize("command", ["run", "check", "report", "export", "verify", "restore"])
def test_every_command_on_an_archive_folder_lists_output_dir_in_its_help(command: str) -> None:
    text = _help(command)

    assert "--output DIR" in text
    assert "--config FILE" in text


@pytest.mark.parametrize("command", ["run", "check"])
def test_run_and_check_list_their_inputs_and_settings_in_their_help(command: str) -> None:
    text = _help(command)

    for option in (
        "PATH|GLOB|URL|-",
        "sitemap",
        "feed",
        "--format {text,json,markdown,junit}",
        "-o FILE",
        "--timeout SECONDS",
        "--max-concurrency N",
        "--per-host N",
        "--attempts N",
        "--include REGEX",
        "--exclude REGEX",
        "--user-agent TEXT",
        "--proxy URL",
        "--allow NETWORK",
        "--verbose",
        "--quiet",
    ):
        assert option in text, option


def _help(command: str) -> str:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return " ".join(subcommands.choices[command].format_help().split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check"], "give the posts to check (archiver check PATH|GLOB|URL|- ...) or --config FILE"),
        (["report"], "give the archive folder (archiver report --output DIR) or --config FILE"),
        (["export", "--wacz", "a.wacz"], "give the archive folder (archiver export --wacz FILE --output DIR)"),
        (["verify"], "give the archive folder (archiver verify --output DIR) or --config FILE"),
        (["restore"], "give --config FILE: restore rewrites the posts the configuration names"),
        (["check", "post.md", "--timeout", "0"], "--timeout: must be more than 0 and at most 86,400, not 0.0"),
        (["check", "post.md", "--per-host", "0"], "--per-host: must be from 1 to 1,000, not 0"),
        (["check", "post.md", "--exclude", "("], "--exclude: '(' is not a valid regular expression"),
        (["check", "missing.md", "posts/*.md"], "missing.md: no such file or folder; posts/*.md: the pattern matches"),
    ],
)
def test_a_missing_config_or_a_bad_option_says_what_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "post.md").write_text("[a](http://a.example/)\n", encoding="utf-8")

    code = main(args)

    assert code == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "archives").exists()
