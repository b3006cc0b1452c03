"""Output: a run's verdicts as `archiver check` and `archiver run` write them to standard
output (or `-o FILE`) with `--format json|markdown|junit`, for a script or a CI system.

Built from the run's `report.Report`, so every format
says what report.json says: the JSON document (`archiver/verdicts`, version 1; see
docs/report-json.md) holds report.json's own `links` entries, made by `report.link_entries`;
Markdown is report.md's; in JUnit XML each link is a test case, failing when its verdict
is `dead` or `failing`, skipped when `unknown` or `unchecked`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from archiver import __version__
from archiver.report import Report, link_entries, to_markdown
from archiver.times import utc_iso

SCHEMA_NAME = "archiver/verdicts"
SCHEMA_VERSION = 1
FAILED_VERDICTS = ("dead", "failing")
SKIPPED_VERDICTS = ("unknown", "unchecked")


def to_json(report: Report, command: str) -> str:
    """The results as one JSON document, its links those of report.json."""
    links = list(link_entries(report))
    document = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "generated_by": f"archiver {__version__}",
        "generated_at": utc_iso(report.generated_at),
        "command": command,
        "latest_run_unreachable": report.unreachable or None,
        "totals": {
            "links": len(links),
            "by_verdict": report.totals(),
            "by_status": dict(Counter(link["status"] for link in links).most_common()),
        },
        "links": links,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_junit(report: Report, command: str) -> str:
    """The results as JUnit XML: one test suite, one test case per link."""
    links = list(link_entries(report))
    suite = ElementTree.Element("testsuite", {
        "name": f"archiver {command}", "tests": str(len(links)), "errors": "0",
        "failures": str(sum(link["verdict"] in FAILED_VERDICTS for link in links)),
        "skipped": str(sum(link["verdict"] in SKIPPED_VERDICTS for link in links)),
        "timestamp": utc_iso(report.generated_at),
    })  # fmt: skip
    for link in links:
        suite.append(_test_case(link))
    root = ElementTree.Element("testsuites", {"name": "archiver"})
    root.append(suite)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _test_case(link: dict[str, Any]) -> ElementTree.Element:
    case = ElementTree.Element("testcase", {"classname": _xml(link["host"] or link["kind"]), "name": _xml(link["url"])})
    code = f" {link['code']}" if link["code"] else ""
    message = f"{link['verdict']}: {link['status']}{code}"
    cited = "\n".join(f"{c['post']}:{c['line']}" for c in link["citations"])
    if link["verdict"] in FAILED_VERDICTS:
        failure = ElementTree.SubElement(case, "failure", {"type": link["status"], "message": message})
        failure.text = _xml("\n".join(filter(None, [link["detail"], f"cited in:\n{cited}" if cited else ""])))
    elif link["verdict"] in SKIPPED_VERDICTS:
        ElementTree.SubElement(case, "skipped", {"message": message})
    return case


# What XML 1.0 cannot hold at all, not even escaped: most control characters, lone surrogates.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """`text` with what XML cannot hold shown as U+FFFD (a URL or a detail may carry it)."""
    return _NOT_XML.sub("\ufffd", text)


def to_markdown_summary(report: Report, _: str) -> str:
    """The results as report.md gives them."""
    return to_markdown(report)


# Every format but text (which the command line writes itself), by name.
FORMATS: dict[str, Callable[[Report, str], str]] = {
    "json": to_json,
    "markdown": to_markdown_summary,
    "junit": to_junit,
}
