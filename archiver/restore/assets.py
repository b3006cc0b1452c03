"""Keep restored files beside the blog, under names no URL can abuse, with a manifest.

A file's name comes from its URL: the host as a folder, then a readable stem from the
last path segment and twelve hex digits of the URL's SHA-256, so that two different
URLs never share a file and no URL (`../../etc/passwd`, a 300-character path, a query
string) can name a file outside the assets folder. `manifest.json` in that folder says,
for each file, which URL it replaces, where it was found (and under which old address,
for a file found by its name), when that capture was made and its SHA-256; and which
digests were found to be placeholders, so that later restores refuse them too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from archiver.atomic import write_bytes_atomically, write_text_atomically
from archiver.errors import InputError
from archiver.redact import Redactor

MANIFEST_FILE = "manifest.json"
MANIFEST_SCHEMA = "archiver/restored-assets"
MANIFEST_VERSION = 1
_STEM_CHARACTERS = 60
_HASH_DIGITS = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MANIFEST_KEYS = {"capture_address": "capture"}  # the manifest's names for fields that differ


@dataclass(frozen=True)
class StoredAsset:
    """One restored file, as the manifest lists it."""

    url: str  # the dead URL it stands in for
    path: str  # relative to the assets folder, with forward slashes
    local_url: str  # how posts refer to it
    source: str  # "own archive" or the web archive's name
    capture_address: str  # the capture's address: a memento, or a WARC file and offset
    captured_at: str  # ISO 8601, UTC
    sha256: str
    content_type: str
    size: int
    restored_at: str  # ISO 8601, UTC
    renamed_from: str = ""  # the old address the file was found under by its name; "" for the URL itself


def asset_path(url: str, extension: str) -> PurePosixPath:
    """The file name, relative to the assets folder, for the content of `url`."""
    parts = urlsplit(url)
    host = _safe(parts.hostname or "", lowercase=True) or "no-host"
    name = unquote(parts.path).rstrip("/").rsplit("/", 1)[-1]
    stem = _safe(name.rsplit(".", 1)[0] if "." in name else name)[:_STEM_CHARACTERS].strip("._-") or "file"
    digest = hashlib.sha256(url.encode("utf-8", errors="surrogatepass")).hexdigest()[:_HASH_DIGITS]
    return PurePosixPath(host, f"{stem}-{digest}.{extension}")


def _safe(text: str, lowercase: bool = False) -> str:
    text = _UNSAFE.sub("-", text.lower() if lowercase else text)
    return re.sub(r"\.{2,}", ".", text).strip("._-")


class Assets:
    """The assets folder and its manifest."""

    def __init__(self, folder: Path, url_prefix: str, shown: Redactor) -> None:
        """`url_prefix` is the address the folder is served at, ending in "/". The folder
        is published with the blog: its manifest lists each URL with its secrets `shown`
        as `***`, and a URL is looked up in the same form."""
        self.folder = folder
        self._prefix = url_prefix
        self._shown = shown
        self._manifest = self.folder / MANIFEST_FILE
        self._entries, self.placeholders = _read_manifest(self._manifest)

    def stored(self, url: str) -> StoredAsset | None:
        """The file already restored for `url`, when it is still there, unchanged."""
        entry = self._entries.get(self._shown.text(url))
        if entry is None:
            return None
        try:
            body = (self.folder / entry.path).read_bytes()
        except OSError:
            return None
        return entry if hashlib.sha256(body).hexdigest() == entry.sha256 else None

    def digests(self, leaving_out: Iterable[str] = ()) -> dict[str, tuple[str, str]]:
        """The SHA-256 of every file restored so far and the address its bytes were found
        under (its old address when renamed), by the URL it stands in for; none for the
        URLs `leaving_out`."""
        left_out = {self._shown.text(url) for url in leaving_out}
        return {url: (entry.sha256, entry.renamed_from or entry.url)
                for url, entry in self._entries.items() if url not in left_out}  # fmt: skip

    def planned(self, url: str, extension: str) -> tuple[PurePosixPath, str]:
        """Where the file for `url` goes, and the address posts will use for it."""
        path = asset_path(url, extension)
        return path, f"{self._prefix}{path}"

    def store(self, asset: StoredAsset, body: bytes) -> None:
        """Write one file (atomically) and list it; `save` writes the manifest."""
        target = self.folder / asset.path
        if not target.resolve().is_relative_to(self.folder.resolve()):
            raise AssertionError(f"{asset.path} escapes the assets folder")  # asset_path makes this impossible
        write_bytes_atomically(target, body)
        listed = self._shown.value(asset)
        self._entries[listed.url] = listed

    def save(self) -> None:
        """Write the manifest, every file restored so far in URL order."""
        document = {
            "schema": MANIFEST_SCHEMA,
            "version": MANIFEST_VERSION,
            "assets": [_manifest_entry(self._entries[url]) for url in sorted(self._entries)],
            "placeholders": [{"sha256": digest, "reason": why} for digest, why in sorted(self.placeholders.items())],
        }
        write_text_atomically(self._manifest, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _read_manifest(path: Path) -> tuple[dict[str, StoredAsset], dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, {}
    except OSError as error:
        raise InputError(f"{path}: cannot read the manifest: {error.strerror or error}") from error
    try:
        document: Any = json.loads(text)
        if document.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"not an archiver manifest (schema {document.get('schema')!r})")
        assets = {entry["url"]: _stored_asset(entry) for entry in document["assets"]}
        return assets, {str(p["sha256"]): str(p["reason"]) for p in document.get("placeholders", [])}
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise InputError(f"{path}: the manifest cannot be read ({error}); move it aside to start afresh") from None


def _manifest_entry(asset: StoredAsset) -> dict[str, Any]:
    entry = {_MANIFEST_KEYS.get(name, name): value for name, value in asdict(asset).items()}
    if not asset.renamed_from:
        del entry["renamed_from"]  # found under its own URL: as manifests always said
    return entry


def _stored_asset(entry: dict[str, Any]) -> StoredAsset:
    fields = {name: field for field, name in _MANIFEST_KEYS.items()}
    return StoredAsset(**{fields.get(key, key): value for key, value in entry.items()})
