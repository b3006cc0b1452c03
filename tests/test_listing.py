"""The JSON document follows its published schema; CSV and JSON are stable."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from archiver.config import ExtractSettings
from archiver.extract import extract
from archiver.extract.listing import CSV_COLUMNS, SCHEMA_NAME, SCHEMA_VERSION, from_json, to_csv, to_json
from archiver.model import Extraction
from tests.conftest import FIXTURE_POSTS, SEED_POST


@pytest.fixture(scope="module")
def fixtures_extraction() -> Extraction:
    return extract([FIXTURE_POSTS, SEED_POST], ExtractSettings())


def _schema() -> dict[str, object]:
    text = resources.files("archiver").joinpath("schemas/extract-v1.json").read_text(encoding="utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


def test_json_validates_against_the_published_schema(fixtures_extraction: Extraction) -> None:
    document = json.loads(to_json(fixtures_extraction))

    jsonschema.Draft202012Validator(_schema(), format_checker=jsonschema.FormatChecker()).validate(document)
    assert (document["schema"], document["version"]) == (SCHEMA_NAME, SCHEMA_VERSION)
    assert {link["skip"]["reason"] for link in document["links"] if link["skip"]} == {
        "scheme", "invalid",
    }  # fmt: skip


def test_schema_rejects_a_document_missing_a_field(fixtures_extraction: Extraction) -> None:
    document = json.loads(to_json(fixtures_extraction))
    del document["links"][0]["occurrences"][0]["line"]

    with pytest.raises(jsonschema.ValidationError, match="'line' is a required property"):
        jsonschema.validate(document, _schema())


def test_json_totals_agree_with_its_lists(fixtures_extraction: Extraction) -> None:
    document = json.loads(to_json(fixtures_extraction))
    fetched = [link for link in document["links"] if link["skip"] is None]

    assert document["totals"]["links"] == len(fetched)
    assert document["totals"]["images"] == sum(link["kind"] == "image" for link in fetched)
    assert document["totals"]["skipped"] == len(document["links"]) - len(fetched)
    assert document["totals"]["occurrences"] == sum(len(link["occurrences"]) for link in document["links"])
    assert document["totals"]["posts"] == len(document["posts"]) == 8


def test_output_is_identical_across_runs() -> None:
    first = extract([FIXTURE_POSTS, SEED_POST], ExtractSettings())
    second = extract([FIXTURE_POSTS, SEED_POST], ExtractSettings())

    assert to_json(first) == to_json(second)
    assert to_csv(first) == to_csv(second)


def test_csv_header_and_row_count(fixtures_extraction: Extraction) -> None:
    lines = to_csv(fixtures_extraction).splitlines()

    assert tuple(lines[0].split(",")) == CSV_COLUMNS
    assert len(lines) - 1 == sum(len(link.occurrences) for link in fixtures_extraction.links)


def test_json_reads_back_to_the_same_extraction(fixtures_extraction: Extraction) -> None:
    assert from_json(to_json(fixtures_extraction)) == fixtures_extraction


def test_reading_back_refuses_another_document() -> None:
    with pytest.raises(ValueError, match="not an archiver/extract version 1 document"):
        from_json('{"schema": "something/else", "version": 1}')
