"""Read the WARC folder back for `archiver verify`: what each record is, and what is amiss
in the files themselves (unfinished, unindexed, unreadable, revisits that point nowhere).

The history's side (does each check name a record that is there, as it says?) is the
job's to compare (`job.verify`); this module only reads the files, never changes them,
except to index a closed file that has no index.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.errors import OutputError
from archiver.model import RecordLocation
from archiver.pack.folder import ARCHIVE_DIR, INDEX_DIR, OPEN_SUFFIX, index_into
from archiver.pack.records import READ_FAULTS, readable_error
from archiver.pack.repair import whole_length

_FULL_RECORDS = frozenset({"response", "resource"})  # what a revisit may refer to


@dataclass(frozen=True)
class RecordIdentity:
    """What a record's WARC headers say it is."""

    kind: str
    record_id: str
    date: str
    target_uri: str
    payload_digest: str = ""


@dataclass(frozen=True)
class FolderFinding:
    """Something amiss in the WARC files themselves; `fixed` when verifying set it right."""

    path: Path
    problem: str
    fixed: bool = False


def identity_at(folder: Path, location: RecordLocation) -> RecordIdentity | str:
    """The identity of the record at `location` in the output folder, or why it cannot be read."""
    path = folder / ARCHIVE_DIR / location.filename
    try:
        if location.offset + location.length > path.stat().st_size:
            return f"{path} ends before offset {location.offset + location.length}"
        with path.open("rb") as stream:
            stream.seek(location.offset)
            headers = next(iter(ArchiveIterator(stream))).rec_headers
            return RecordIdentity(
                headers.get_header("WARC-Type") or "", headers.get_header("WARC-Record-ID") or "",
                headers.get_header("WARC-Date") or "", headers.get_header("WARC-Target-URI") or "",
                headers.get_header("WARC-Payload-Digest") or "",
            )  # fmt: skip
    except READ_FAULTS as error:
        return f"{path}: no record at offset {location.offset}: {readable_error(error)}"


def folder_findings(folder: Path) -> list[FolderFinding]:
    """What is amiss in the WARC files: files an interrupted run left unfinished, closed
    files without an index (indexed now), files that cannot be read to the end, and
    revisit records whose `WARC-Refers-To` names no full record in the folder."""
    archive = folder / ARCHIVE_DIR
    findings = [FolderFinding(path, "left unfinished by an interrupted run; the next run finishes it")
                for path in sorted(archive.glob(f"*{OPEN_SUFFIX}"))]  # fmt: skip
    full_ids: set[str] = set()
    revisits: list[tuple[Path, str, str]] = []
    for warc in sorted(archive.glob("*.warc.gz")):
        findings += _indexed(folder, warc)
        whole, size = whole_length(warc), warc.stat().st_size
        if whole < size:
            damage = f"damaged: only its first {whole:,} of {size:,} bytes are whole records"
            findings.append(FolderFinding(warc, damage))
        try:
            for kind, record_id, refers_to, uri in _headers_of(warc):
                if kind in _FULL_RECORDS:
                    full_ids.add(record_id)
                elif kind == "revisit":
                    revisits.append((warc, refers_to, uri))
        except READ_FAULTS as error:
            findings.append(FolderFinding(warc, f"cannot be read to the end: {readable_error(error)}"))
    findings += [FolderFinding(warc, f"a revisit of {uri} refers to {refers_to or 'no record'}, which is not here")
                 for warc, refers_to, uri in revisits if refers_to not in full_ids]  # fmt: skip
    return findings


def _indexed(folder: Path, warc: Path) -> list[FolderFinding]:
    if (folder / INDEX_DIR / (warc.name + ".cdxj")).exists():
        return []
    try:
        index_into(folder / INDEX_DIR, warc)
    except (*READ_FAULTS, OutputError) as error:  # OutputError: no scratch file can be made beside the index
        return [FolderFinding(warc, f"has no index, and cannot be indexed: {readable_error(error)}")]
    return [FolderFinding(warc, "had no index; indexed", fixed=True)]


def _headers_of(warc: Path) -> Iterator[tuple[str, str, str, str]]:
    """Type, record ID, WARC-Refers-To and target URI of every record, payloads skipped."""
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            headers = record.rec_headers
            yield (headers.get_header("WARC-Type") or "", headers.get_header("WARC-Record-ID") or "",
                   headers.get_header("WARC-Refers-To") or "", headers.get_header("WARC-Target-URI") or "")  # fmt: skip
