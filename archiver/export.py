"""Export: the archive as one WACZ file that ReplayWeb.page opens.

The WACZ holds every closed WARC file, a CDXJ index built by the `wacz` package, and a
pages list: one entry per cited URL that has a capture, titled from the posts that cite
it, so that the archive opens on a list of what the blog links to. An entry names the
capture's stored record by its own URL and WARC-Date (for a redirected URL, the page it
ended at), the pair the index lists it under and that names it alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from archiver.errors import InputError, OutputError
from archiver.extract.listing import read_extraction
from archiver.history import History
from archiver.model import Link, Post, RecordLocation
from archiver.pack import ARCHIVE_DIR
from archiver.redact import Redactor

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Cited pages"}
_TITLE_LIMIT = 200


def export_wacz(output_dir: Path, links_file: Path, target: Path, shown: Redactor) -> int:
    """Write the WACZ file of an output folder; how many pages it lists. `shown` is how
    links.json shows secrets in URLs: its links are matched with the history's exact URLs
    as they are shown (a page of the WACZ is, like its WARC files, the exact URL)."""
    warcs = sorted((output_dir / ARCHIVE_DIR).glob("*.warc.gz"))
    if not warcs:
        raise InputError(f"{output_dir / ARCHIVE_DIR}: no WARC files to export; run `archiver run` first")
    extraction = read_extraction(links_file)
    with History.open(output_dir) as history:
        full = history.latest_full_captures()
        exact = {shown.text(url): url for url in full}
        links = [replace(link, url=exact.get(link.url, link.url)) for link in extraction.fetchable]
        stored_at = {url: prior.stored_at for url, prior in full.items()}
        stored_at |= _latest_revisits(history, links)
    pages = list(_pages(links, extraction.posts, stored_at))
    with tempfile.TemporaryDirectory() as scratch:
        pages_file = Path(scratch) / "pages.jsonl"
        pages_file.write_text("".join(json.dumps(page) + "\n" for page in [PAGES_HEADER, *pages]), encoding="utf-8")
        _wacz("create", "-o", str(target), "-p", str(pages_file), *map(str, warcs))
    return len(pages)


def validate_wacz(path: Path) -> None:
    """Check a WACZ file with the `wacz` package's validator; OutputError when it fails."""
    _wacz("validate", "-f", str(path))


def _pages(
    links: Iterable[Link], cited_in: Iterable[Post], stored_at: dict[str, RecordLocation]
) -> Iterable[dict[str, str]]:
    posts = {post.path: post for post in cited_in}
    for link in links:
        record = stored_at.get(link.url)
        if record is not None and record.date:
            yield {"url": record.target_uri or link.url, "ts": record.date, "title": _title(link, posts)}


def _title(link: Link, posts: dict[Path, Post]) -> str:
    first = link.occurrences[0]
    post = posts.get(first.post)
    cited_in = post.title if post and post.title else first.post.name
    text = first.text or link.url
    return f"{text} (cited in {cited_in})"[:_TITLE_LIMIT]


def _latest_revisits(history: History, links: Iterable[Link]) -> dict[str, RecordLocation]:
    """Links whose latest capture is a revisit: the revisit stands for them too."""
    found = {}
    for link in links:
        stored = [check.stored_at for check in history.checks(link.url) if check.stored_at is not None]
        if stored and stored[-1].revisit:
            found[link.url] = stored[-1]
    return found


def _wacz(*args: str) -> None:
    """Run the `wacz` package's command in a process of its own (it prints, and leaves
    temporary files for the garbage collector)."""
    command = [sys.executable, "-c", "import sys; from wacz.main import main; sys.exit(main(sys.argv[1:]))", *args]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        output = (finished.stdout + finished.stderr).strip()[-500:]
        raise OutputError(f"wacz {args[0]} failed ({finished.returncode}): {output}")
