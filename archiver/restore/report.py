"""The restore report: what was restored, what was found nowhere, and every capture
rejected, with the reason. Written beside the health report as `restore.json` (schema
`archiver/restore`, version 1) and `restore.md`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.atomic import write_text_atomically
from archiver.redact import Redactor
from archiver.restore.values import RestoreState, RestoreSummary
from archiver.times import utc_iso, utc_now

SCHEMA_NAME = "archiver/restore"
SCHEMA_VERSION = 1
RESTORE_FILES = {"json": "restore.json", "markdown": "restore.md"}


def write_all(summary: RestoreSummary, folder: Path, shown: Redactor) -> list[Path]:
    """Write restore.json and restore.md into `folder`, secrets in URLs `shown` as `***`;
    the files written."""
    document = shown.value(to_document(summary))
    paths = [folder / RESTORE_FILES["json"], folder / RESTORE_FILES["markdown"]]
    write_text_atomically(paths[0], json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    write_text_atomically(paths[1], to_markdown(document))
    return paths


def to_document(summary: RestoreSummary) -> dict[str, Any]:
    """The report as a JSON-ready document."""
    outcomes = [
        {
            "url": o.url,
            "kind": o.kind.value,
            "verdict": o.verdict.value,
            "state": o.state.value,
            "new_url": o.new_url or None,
            "source": o.source or None,
            "capture": o.capture_address or None,
            "captured_at": o.captured_at or None,
            "reused": o.reused,
            "found_as": o.found_as or None,
            "renamed_from": o.renamed_from or None,
            "rejected": [asdict(r) for r in o.rejections],
            "unavailable": list(o.unavailable),
            "not_asked": list(o.remembered),
        }
        for o in summary.restorations
    ]
    return {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "generated_by": f"archiver {__version__}",
        "generated_at": utc_iso(utc_now(), "seconds", zulu=True),
        "totals": {state.value: sum(o["state"] == state for o in outcomes) for state in RestoreState},
        "posts_changed": [str(edit.path) for edit in summary.changed_posts],
        "posts_not_repaired": list(summary.problems),
        "outcomes": outcomes,
    }


def to_markdown(document: dict[str, Any]) -> str:
    """A short Markdown summary: totals, then each URL with what became of it."""
    totals = document["totals"]
    lines = [
        f"## Restore: {len(document['outcomes'])} URLs",
        "",
        " · ".join(f"**{totals[state]}** {state}" for state in RestoreState),
        "",
    ]
    if document["outcomes"]:
        lines += ["| state | URL | now | from |", "|---|---|---|---|"]
    for outcome in document["outcomes"]:
        how = f", {outcome['found_as']}" if outcome["found_as"] else ""
        origin = f"{outcome['source']}{how}, {outcome['captured_at']}" if outcome["source"] else ""
        lines.append(f"| {outcome['state']} | {_cell(outcome['url'])} | {_cell(outcome['new_url'] or '')} | {origin} |")
    rejected = [(o["url"], r) for o in document["outcomes"] for r in o["rejected"]]
    if rejected:
        lines += ["", "### Rejected captures", ""]
        lines += [f"- {_cell(url)}: {_cell(r['address'])} ({r['captured_at']}): {r['reason']}" for url, r in rejected]
    unavailable = [problem for o in document["outcomes"] for problem in o["unavailable"]]
    if unavailable:
        lines += ["", "### Archives that could not answer", ""]
        lines += [f"- {_cell(problem)}" for problem in unavailable]
    remembered = [(o["url"], note) for o in document["outcomes"] for note in o["not_asked"]]
    if remembered:
        lines += ["", "### Not asked again yet", ""]
        lines += [f"- {_cell(url)}: {note}" for url, note in remembered]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return f"`{text}`".replace("|", "\\|") if text else ""
