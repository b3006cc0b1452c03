"""config.yaml is validated once; every mistake is one clear error naming file and key."""

from __future__ import annotations

import ipaddress
import math
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from archiver.config import (
    DEFAULT_ASSETS_DIR,
    DEFAULT_MAX_POST_MB,
    ArchiveSettings,
    ExtractSettings,
    FetchSettings,
    HealthSettings,
    Overrides,
    PackSettings,
    ReportSettings,
    RestoreSettings,
    default_config,
    load_config,
    with_overrides,
)
from archiver.errors import ConfigError, OptionError
from tests.conftest import REPO


def _config(folder: Path, text: str) -> Path:
    (folder / "posts").mkdir(exist_ok=True)
    (folder / "posts" / "a.md").write_text("[a](http://a.example/)\n", encoding="utf-8")
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_config_loads_and_points_at_the_example_post() -> None:
    config = load_config(REPO / "config.yaml")

    assert [p.name for p in config.post_paths] == ["posts"]
    assert config.post_paths[0].resolve() == (REPO / "examples" / "posts").resolve()
    assert config.extract.base_url == "http://cloudscaling.com/"
    assert config.output_dir.resolve() == (REPO / "archives").resolve()
    assert config.extract.max_post_bytes == int(DEFAULT_MAX_POST_MB * 1024 * 1024)


def test_bundled_config_documents_the_default_fetch_and_pack_settings() -> None:
    config = load_config(REPO / "config.yaml")

    assert config.fetch == FetchSettings()
    assert config.pack == PackSettings()
    assert config.health == HealthSettings()
    assert config.report == ReportSettings()
    assert config.restore == RestoreSettings(assets_dir=REPO / DEFAULT_ASSETS_DIR)


def test_restore_settings_are_read_and_checked(tmp_path: Path) -> None:
    text = (
        "posts:\n  paths: [posts]\nrestore:\n  assets_dir: site/img\n  assets_url: /img\n  link_style: replace\n"
        "  archives: [{name: Local, url: 'http://127.0.0.1:8080/web', requests_per_minute: 6}]\n"
        f"  reject_digests: ['sha256:{'A' * 64}']\n"
    )

    restore = load_config(_config(tmp_path, text)).restore

    assert (restore.assets_dir, restore.assets_url, restore.link_style) == (tmp_path / "site/img", "/img/", "replace")
    assert restore.archives == (
        ArchiveSettings(name="Local", url="http://127.0.0.1:8080/web/", requests_per_minute=6.0),
    )
    assert restore.reject_digests == frozenset({"a" * 64})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("  link_style: inline\n", "restore.link_style: Input should be 'replace' or 'append'"),
        ("  archives: [{name: X, url: 'ftp://x/'}]\n", "restore.archives[0].url: must be an absolute http(s) URL"),
        ("  archives: [{name: X, url: 'http://x/', requests_per_minute: 0}]\n", "requests_per_minute"),
        ("  reject_digests: [abc]\n", "restore.reject_digests: 'abc' is not a SHA-256 digest"),
    ],
)
def test_bad_restore_settings_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(_config(tmp_path, "posts:\n  paths: [posts]\nrestore:\n" + section))


def test_fetch_settings_are_read(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not checked here", encoding="utf-8")
    text = (
        "posts:\n  paths: [posts]\nfetch:\n  per_host: 2\n  max_body_mb: 1\n  ca_bundle: ca.pem\n"
        "  allow_networks: [10.20.0.0/16]\n  resolve: {blog.test: 127.0.0.2}\n  retry_codes: [503]\n"
    )

    fetch = load_config(_config(tmp_path, text)).fetch

    assert (fetch.per_host, fetch.max_body_bytes, fetch.ca_bundle) == (2, 1024 * 1024, tmp_path / "ca.pem")
    assert fetch.allow_networks == (ipaddress.ip_network("10.20.0.0/16"),)
    assert (fetch.resolve, fetch.retry_codes) == ({"blog.test": "127.0.0.2"}, frozenset({503}))


def test_paths_are_relative_to_the_config_file_and_globs_expand(tmp_path: Path) -> None:
    (tmp_path / "posts" / "deep").mkdir(parents=True)
    (tmp_path / "posts" / "deep" / "b.md").write_text("x", encoding="utf-8")
    path = _config(tmp_path, "posts:\n  paths: ['posts/**/*.md']\noutput:\n  dir: out\n")

    config = load_config(path)

    assert sorted(p.name for p in config.post_paths) == ["a.md", "b.md"]
    assert config.output_dir == tmp_path / "out"


def test_patterns_are_compiled(tmp_path: Path) -> None:
    path = _config(tmp_path, "posts:\n  paths: [posts]\nlinks:\n  exclude: ['^https?://ads\\.']\n")

    config = load_config(path)

    assert config.extract.exclude == (re.compile(r"^https?://ads\."),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "posts:\n  paths: [posts]\n  base_ulr: http://x/\n",
            r"posts\.base_ulr: unknown key .*did you mean 'base_url'",
        ),
        (
            "posts:\n  paths: [posts]\nfetcher: {}\n",
            r"fetcher: unknown key \(known keys: fetch, health, links, output, pack, posts, report, restore,"
            r" schedule, submit\)",
        ),
        ("posts:\n  paths: posts\n", r"posts\.paths: Input should be a valid list"),
        ("posts:\n  paths: []\n", r"posts\.paths: List should have at least 1 item"),
        ("posts:\n  paths: [posts]\n  max_size_mb: big\n", r"posts\.max_size_mb: Input should be a valid number"),
        (
            "posts:\n  paths: [posts]\n  max_size_mb: 0\n",
            r"posts\.max_size_mb: must be more than 0 and at most 1,000,000, not 0$",
        ),
        ("posts:\n  paths: [posts]\n  base_url: blog.example.org\n", r"posts\.base_url: must be an absolute http"),
        ("posts:\n  paths: [posts]\nlinks:\n  include: ['(']\n", r"links\.include: '\(' is not a valid regular"),
        ("posts:\n  paths: [posts, missing/]\n", r"posts\.paths\[1\]: 'missing/' does not exist"),
        ("posts:\n  paths: ['nothing/*.md']\n", r"posts\.paths\[0\]: the pattern 'nothing/\*\.md' matches no file"),
        ("output:\n  dir: out\n", r"posts: required key is missing"),
        ("posts: [a\n", r"not valid YAML \(line 2\)"),
        ("- just\n- a list\n", r"must be a mapping"),
        ("posts:\n  paths: [posts]\n  base_url: 2020-02-30\n", r"a value cannot be read: day is out of range"),
        ("", r"must be a mapping"),
        (
            "posts:\n  paths: [posts]\nfetch:\n  per_host: 0\n",
            r"fetch\.per_host: must be from 1 to 1,000, not 0$",
        ),
        (
            "posts:\n  paths: [posts]\nfetch:\n  allow_networks: [intranet]\n",
            r"fetch\.allow_networks: 'intranet' is not a network",
        ),
        (
            "posts:\n  paths: [posts]\nfetch:\n  resolve: {a.test: nowhere}\n",
            r"fetch\.resolve: a\.test: 'nowhere' is not an IP",
        ),
        (
            "posts:\n  paths: [posts]\nfetch:\n  ca_bundle: missing.pem\n",
            r"fetch\.ca_bundle: 'missing\.pem' is not a file",
        ),
        ("posts:\n  paths: [posts]\npack:\n  prefix: 'a b'\n", r"pack\.prefix: String should match pattern"),
        ("posts:\n  paths: [posts]\nlinks:\n  include: [3]\n", r"links\.include\[0\]: Input should be a valid string$"),
        (
            "posts:\n  paths: [posts]\nfetch:\n  retry_codes: 503\n",
            r"fetch\.retry_codes: Input should be a valid list$",
        ),
        ("posts:\n  paths: [posts]\nfetch:\n  ca_bundle: 3\n", r"fetch\.ca_bundle: Input should be a valid string$"),
        (
            "posts:\n  paths: [posts]\nfetch:\n  ca_bundle: ./missing.pem\n",
            r"fetch\.ca_bundle: '\./missing\.pem' is not a file",
        ),
        (
            "posts:\n  paths: [posts]\nfetch:\n  host_delays: {a.test: 1}\n",
            r"fetch\.host_delays: unknown key .*did you mean 'host_delay'",
        ),
        (
            "posts:\n  paths: [posts]\nfetch: 3\n",
            r"fetch: Input should be a valid dictionary or instance of FetchConfig",
        ),
    ],
)
def test_bad_config_gives_one_error_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _config(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    message = str(raised.value)
    assert message.startswith(str(path))
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            "fetch:\n  concurrency: 999999999999999999999999999999",
            r"fetch\.concurrency: must be from 1 to 10,000, not 9{30}$",
        ),
        ("fetch:\n  host_delay: .nan", r"fetch\.host_delay: must be from 0 to 86,400, not nan$"),
        ("fetch:\n  total_timeout: .inf", r"fetch\.total_timeout: must be more than 0 and at most 86,400, not inf$"),
        ("fetch:\n  backoff: -1", r"fetch\.backoff: must be from 0 to 86,400, not -1$"),
        ("fetch:\n  concurrency: .nan", r"fetch\.concurrency: must be from 1 to 10,000, not nan$"),
        (
            "fetch:\n  max_body_mb: " + "9" * 400,
            r"fetch\.max_body_mb: must be more than 0 and at most 1,000,000, not 9{30}…$",
        ),
        ("fetch:\n  attempts: 101", r"fetch\.attempts: must be from 1 to 100, not 101$"),
        (
            "fetch:\n  retry_codes: [503, 999]",
            r"fetch\.retry_codes: 999 is not an HTTP status code \(from 100 to 599\)$",
        ),
        ("pack:\n  rotate_mb: -.inf", r"pack\.rotate_mb: must be more than 0 and at most 1,000,000, not -inf$"),
        ("health:\n  dead_after_days: 36501", r"health\.dead_after_days: must be from 0 to 36,500, not 36501$"),
        (
            "restore:\n  archives: [{name: X, url: 'http://x/', requests_per_minute: .nan}]",
            r"restore\.archives\[0\]\.requests_per_minute: must be from 0\.01 to 60,000, not nan$",
        ),
    ],
)
def test_a_number_out_of_its_range_names_file_key_and_range(tmp_path: Path, setting: str, expected: str) -> None:
    path = _config(tmp_path, f"posts:\n  paths: [posts]\n{setting}\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(raised.value).startswith(f"{path}: ")
    assert re.search(expected, str(raised.value)), str(raised.value)


_SECTIONS = (ExtractSettings, FetchSettings, PackSettings, HealthSettings, ArchiveSettings)
_NUMBERS = [
    (section, name)
    for section in _SECTIONS
    for name, field in section.model_fields.items()
    if field.annotation in (int, float)
]


@pytest.mark.parametrize(("section", "name"), _NUMBERS, ids=[f"{s.__name__}.{n}" for s, n in _NUMBERS])
def test_every_number_has_a_finite_range(section: type[BaseModel], name: str) -> None:
    required = {"name": "X", "url": "http://x/"} if section is ArchiveSettings else {}
    default = section.model_fields[name].default

    for wrong in (10**30, -(10**30), math.nan, math.inf):
        with pytest.raises(ValidationError, match=f"{name}\n  Value error, must be "):
            section.model_validate({**required, name: wrong})
    assert getattr(section.model_validate({**required, name: default}), name) == default


def test_the_ends_of_a_range_are_taken() -> None:
    fetch = FetchSettings(concurrency=10_000, per_host=1_000, total_timeout=86_400, attempts=100, max_redirects=0)

    assert (fetch.concurrency, fetch.per_host, fetch.total_timeout, fetch.attempts) == (10_000, 1_000, 86_400, 100)
    assert HealthSettings(dead_after_days=36_500, dead_after_checks=10_000).dead_after_days == 36_500


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    path = _config(tmp_path, "posts:\n  paths: [posts]\n  max_size_mb: -1\nlinks:\n  exclude: 3\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert "posts.max_size_mb" in str(raised.value)
    assert "links.exclude" in str(raised.value)


def test_several_mistakes_are_listed_in_the_order_of_the_file(tmp_path: Path) -> None:
    text = (
        "posts:\n  paths: []\n  max_size_mb: -1\nlinks:\n  exclude: 3\nfetch:\n  per_host: 0\n"
        "restore:\n  link_style: inline\noutput:\n  dir: 3\n"
    )

    with pytest.raises(ConfigError) as raised:
        load_config(_config(tmp_path, text))

    keys = [line.split(":")[0] for line in str(raised.value).splitlines()[1:]]
    assert keys == [
        "  posts.paths",
        "  posts.max_size_mb",
        "  links.exclude",
        "  fetch.per_host",
        "  restore.link_style",
        "  output.dir",
    ]


def test_settings_made_in_python_are_checked_and_converted_as_the_file_is() -> None:
    fetch = FetchSettings.model_validate({"allow_networks": ["10.0.0.0/8"], "retry_codes": [503], "max_body_mb": 2})

    assert (fetch.allow_networks, fetch.retry_codes) == ((ipaddress.ip_network("10.0.0.0/8"),), frozenset({503}))
    assert fetch.max_body_bytes == 2 * 1024 * 1024
    assert PackSettings(rotate_mb=2).rotate_bytes == 2_000_000
    assert ExtractSettings.model_validate({"include": ["^a"], "max_size_mb": 1}).include == (re.compile("^a"),)
    assert ExtractSettings(max_size_mb=1).max_post_bytes == 1024 * 1024
    for wrong in ({"per_host": "2"}, {"per_host": 0}, {"host_delays": {"a.test": 1.0}}):
        with pytest.raises(ValidationError, match=next(iter(wrong))):
            FetchSettings.model_validate(wrong)


def test_settings_given_in_the_stage_s_form_are_converted_and_checked_item_by_item() -> None:
    given: dict[str, Any] = {"include": ("^a", re.compile("b"))}
    assert ExtractSettings(**given).include == (re.compile("^a"), re.compile("b"))
    given = {"allow_networks": ("10.0.0.0/8",)}
    assert FetchSettings(**given).allow_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    given = {"archives": ({"name": "A", "url": "http://a.test/web"},)}
    archives = RestoreSettings(**given).archives
    assert [(archive.name, archive.url) for archive in archives] == [("A", "http://a.test/web/")]
    assert RestoreSettings(reject_digests=frozenset({"sha256:" + "A" * 64})).reject_digests == {"a" * 64}
    for wrong in ({"include": ("(",)}, {"retry_codes": frozenset({"503"})}, {"allow_networks": ("nowhere",)}):
        settings = ExtractSettings if "include" in wrong else FetchSettings
        with pytest.raises(ValidationError, match=next(iter(wrong))):
            settings.model_validate(wrong)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml")


def test_options_take_the_place_of_keys_and_add_to_lists() -> None:
    config = load_config(REPO / "config.yaml")
    overrides = Overrides(
        values={"--timeout": 5.0, "--max-concurrency": 8, "--per-host": 2, "--attempts": 1,
                "--user-agent": "audit/1.0", "--proxy": "http://proxy.example:3128"},
        include=("^https://",), exclude=("tracker",), allow=("10.0.0.0/8",), output_dir=Path("elsewhere"),
    )  # fmt: skip

    changed = with_overrides(config, overrides)

    fetch = changed.fetch
    assert (fetch.total_timeout, fetch.connect_timeout, fetch.read_timeout) == (5.0, 5.0, 5.0)
    assert (fetch.concurrency, fetch.per_host, fetch.attempts) == (8, 2, 1)
    assert (fetch.user_agent, fetch.proxy) == ("audit/1.0", "http://proxy.example:3128")
    assert fetch.allow_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert [p.pattern for p in changed.extract.include] == ["^https://"]
    assert [p.pattern for p in changed.extract.exclude] == ["tracker"]
    assert changed.output_dir == Path("elsewhere")
    assert (changed.post_paths, changed.pack) == (config.post_paths, config.pack)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (Overrides(values={"--timeout": 0.0}), "--timeout: must be more than 0 and at most 86,400, not 0.0"),
        (Overrides(values={"--max-concurrency": 10_001}), "--max-concurrency: must be from 1 to 10,000, not 10001"),
        (Overrides(values={"--per-host": 0}), "--per-host: must be from 1 to 1,000, not 0"),
        (Overrides(values={"--attempts": 101}), "--attempts: must be from 1 to 100, not 101"),
        (Overrides(values={"--proxy": "socks5://p:1080"}), "--proxy: must be an absolute http(s) URL"),
        (Overrides(values={"--user-agent": ""}), "--user-agent: String should have at least 1 character"),
        (Overrides(exclude=("([",)), "--exclude: '([' is not a valid regular expression"),
        (Overrides(allow=("intranet",)), "--allow: 'intranet' is not a network such as 10.0.0.0/8"),
    ],
)
def test_an_option_out_of_its_keys_range_is_refused_by_the_option_name(overrides: Overrides, message: str) -> None:
    with pytest.raises(OptionError) as raised:
        with_overrides(default_config(()), overrides)

    assert str(raised.value).startswith(message)


def test_proxy_and_trust_env_are_read_from_the_file(tmp_path: Path) -> None:
    text = "posts:\n  paths: [posts]\nfetch:\n  proxy: http://proxy.example:3128\n  trust_env: true\n"

    fetch = load_config(_config(tmp_path, text)).fetch

    assert (fetch.proxy, fetch.trust_env, fetch.user_agent) == ("http://proxy.example:3128", True, None)
