"""config.yaml is validated once; every mistake is one clear error naming file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archiver.config import DEFAULT_MAX_POST_MB, load_config
from archiver.errors import ConfigError
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
            r"fetcher: unknown key \(known keys: fetch, links, output, pack, posts\); did you mean 'fetch'",
        ),
        ("posts:\n  paths: posts\n", r"posts\.paths: Input should be a valid list"),
        ("posts:\n  paths: []\n", r"posts\.paths: List should have at least 1 item"),
        ("posts:\n  paths: [posts]\n  max_size_mb: big\n", r"posts\.max_size_mb: Input should be a valid number"),
        ("posts:\n  paths: [posts]\n  max_size_mb: 0\n", r"posts\.max_size_mb: Input should be greater than 0"),
        ("posts:\n  paths: [posts]\n  base_url: blog.example.org\n", r"posts\.base_url: must be an absolute http"),
        ("posts:\n  paths: [posts]\nlinks:\n  include: ['(']\n", r"links\.include: '\(' is not a valid regular"),
        ("posts:\n  paths: [posts, missing/]\n", r"posts\.paths\[1\]: 'missing/' does not exist"),
        ("posts:\n  paths: ['nothing/*.md']\n", r"posts\.paths\[0\]: the pattern 'nothing/\*\.md' matches no file"),
        ("output:\n  dir: out\n", r"posts: required key is missing"),
        ("posts: [a\n", r"not valid YAML \(line 2\)"),
        ("- just\n- a list\n", r"must be a mapping"),
        ("posts:\n  paths: [posts]\n  base_url: 2020-02-30\n", r"a value cannot be read: day is out of range"),
        ("", r"must be a mapping"),
    ],
)
def test_bad_config_gives_one_error_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _config(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    message = str(raised.value)
    assert message.startswith(str(path))
    assert re.search(expected, message), message


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    path = _config(tmp_path, "posts:\n  paths: [posts]\n  max_size_mb: -1\nlinks:\n  exclude: 3\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert "posts.max_size_mb" in str(raised.value)
    assert "links.exclude" in str(raised.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml")
