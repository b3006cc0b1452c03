"""Shared fixtures: the repository's example and fixture posts, and the shared corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.model import Extraction, Link

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_POSTS = FIXTURES / "posts"
SEED_POST = REPO / "examples" / "posts" / "2014-10-28-an-openstack-dream-team.md"
CORPUS = Path(os.environ.get("ARCHIVER_CORPUS", REPO.parent / "shared" / "corpus" / "posts"))


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real posts; tests using it skip where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (set ARCHIVER_CORPUS to its posts folder)")
    return CORPUS


def extract_one(path: Path, **settings: object) -> Extraction:
    """Extract a single post with default settings, or the ones given."""
    return extract([path], ExtractSettings.model_validate(settings))


def by_url(extraction: Extraction) -> dict[str, Link]:
    """The extraction's links keyed by URL (a skipped one by the URL as written)."""
    return {link.url: link for link in extraction.links}


def lines_of(link: Link) -> list[int]:
    """The line of each occurrence, in order."""
    return [occurrence.line for occurrence in link.occurrences]
