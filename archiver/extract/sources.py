"""Find post files and read them: decoding, front matter, and what is wrong with them.

Nothing here raises for a bad post. A file that cannot be a post (binary, empty, too
large) is skipped with a `Problem`; a file that is damaged (invalid UTF-8, broken front
matter) is read as far as it can be, with a `Problem` saying what was lost.
"""

from __future__ import annotations

import datetime as dt
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from archiver.config import POST_SUFFIXES
from archiver.errors import InputError
from archiver.extract.positions import NO_DELETIONS, Deletions, Position, composed, crlf_deletions, decode
from archiver.model import Problem

LARGE_POST_BYTES = 8 * 1024 * 1024
_BINARY_SNIFF_BYTES = 8192
_FENCES = ("---", "...")
_DATE_KEYS = ("date", "created_gmt", "created")
_DATE_IN_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's loader is several times faster
# What PyYAML raises for a well-formed value it cannot build, such as the date 2020-02-30.
_YAML_VALUE_ERRORS = (ValueError, OverflowError, TypeError, RecursionError)
_NEWLINES = re.compile(r"\r\n?")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


@dataclass(frozen=True)
class PostSource:
    """A post's text, split into front matter and body, with what went wrong reading it."""

    path: Path
    front_matter: Mapping[str, Any]
    body: str  # front-matter lines are kept as blank lines, so line numbers stay true
    problems: tuple[Problem, ...]
    data: bytes  # the file's bytes
    origin: Position  # the offset in `data` of each position in `body`
    html: bool | None = None  # None: told by the file name's suffix

    @property
    def is_html(self) -> bool:
        """True when the post is written in HTML rather than Markdown."""
        return self.html if self.html is not None else self.path.suffix.lower() in (".html", ".htm")


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every post file under `paths`, each once, folders searched recursively in name order."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            found.update(dict.fromkeys(_posts_in(path)))
        elif path.exists():
            found[path] = None
        else:
            raise InputError(f"{path}: no such file or folder")
    return list(found)


def _posts_in(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.suffix.lower() in POST_SUFFIXES and not path.is_dir():
            yield path  # a fifo or a device too: read_post says why it skips one


def read_post(path: Path, max_bytes: int) -> PostSource | Problem:
    """Read and decode one post; a Problem instead when it cannot be a post at all."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # never opened: a fifo would block, a device never end
            return Problem(path, f"not a regular file ({_file_kind(status.st_mode)}); skipped")
        size = status.st_size
        if size > max_bytes:
            return Problem(path, f"{_megabytes(size)} is over posts.max_size_mb ({_megabytes(max_bytes)}); skipped")
        data = path.read_bytes()
    except OSError as error:
        return Problem(path, f"cannot read: {error.strerror or error}")
    return post_source(path, data)


def post_source(path: Path, data: bytes, html: bool | None = None) -> PostSource | Problem:
    """A post read from its bytes, `path` naming it (a file, or what stands for a page or
    standard input); `html` says what it is written in when its name does not."""
    size = len(data)
    refusal = _refusal(data)
    if refusal:
        return Problem(path, refusal)
    decoded = decode(data)
    problems = _decode(path, data)[1] if decoded.replaced else []
    crlf = crlf_deletions(decoded.text)
    text = _NEWLINES.sub("\n", decoded.text)
    if size > LARGE_POST_BYTES:
        problems.append(Problem(path, f"unusually large post ({_megabytes(size)}); read in full"))
    front_matter, body, front_problems, blanked = _split_front_matter(path, text)
    origin = composed(blanked, crlf, decoded.byte_offsets())
    return PostSource(path, front_matter, body, tuple(problems + front_problems), data, origin, html)


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a file")


def _refusal(data: bytes) -> str | None:
    if not data.strip():
        return "empty file; skipped"
    if not any(data.startswith(bom) for bom, _ in _BOMS) and b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return "binary data, not a text post; skipped"
    return None


def _decode(path: Path, data: bytes) -> tuple[str, list[Problem]]:
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding), []
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        warning = f"not valid {encoding.upper()} (first bad byte at offset {error.start}); replaced with U+FFFD"
        return data.decode(encoding, errors="replace"), [Problem(path, warning, line)]


def split_front_matter(path: Path, text: str) -> tuple[Mapping[str, Any], str, list[Problem]]:
    """Split YAML front matter (between `---` lines at the top) from the body.

    `text` has `\\n` line ends. The body keeps one empty line for each front-matter line. Broken front matter gives
    a Problem and an empty mapping; the body is still returned.
    """
    return _split_front_matter(path, text)[:3]


def _split_front_matter(path: Path, text: str) -> tuple[Mapping[str, Any], str, list[Problem], Deletions]:
    """As `split_front_matter`, with what blanking the front-matter lines deleted."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, text, [], NO_DELETIONS
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in _FENCES), None)
    if end is None:
        return (
            {},
            text,
            [Problem(path, "front matter opened with '---' is never closed; read as body", 1)],
            NO_DELETIONS,
        )
    blanked = "\n" * (end + 1) + "\n".join(lines[end + 1 :])
    meta, problem = _parse_front_matter(path, "\n".join(lines[1:end]))
    return meta, blanked, [problem] if problem else [], _blanked_lines(lines[: end + 1])


def _blanked_lines(lines: list[str]) -> Deletions:
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    return Deletions.of((start, start + len(line)) for start, line in zip(starts, lines, strict=False))


def _parse_front_matter(path: Path, yaml_text: str) -> tuple[Mapping[str, Any], Problem | None]:
    try:
        meta = yaml.load(yaml_text, Loader=_YamlLoader)
    except _YAML_VALUE_ERRORS as error:
        return {}, Problem(path, f"front matter has a value that cannot be read ({error}); ignored", 2)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None  # +1 for 1-based, +1 for the opening fence
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        return {}, Problem(path, f"front matter is not valid YAML ({reason}); ignored", line)
    if meta is None:
        return {}, None
    if not isinstance(meta, dict):
        return {}, Problem(path, "front matter is not a mapping of keys to values; ignored", 2)
    return {str(key): value for key, value in meta.items()}, None


def front_matter_text(source: PostSource, key: str) -> str | None:
    """A front-matter value as text, or None when absent or not a plain value."""
    value = source.front_matter.get(key)
    if isinstance(value, (str, int, float)) and str(value).strip():
        return str(value).strip()
    return None


def post_date(source: PostSource) -> dt.date | None:
    """When the post was written: its front matter, else a Jekyll `YYYY-MM-DD-` file name."""
    for key in _DATE_KEYS:
        value = source.front_matter.get(key)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and (parsed := _parse_date(value)):
            return parsed
    match = _DATE_IN_NAME.match(source.path.name)
    return _parse_date("-".join(match.groups())) if match else None


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(text.strip()[:10].replace("/", "-")).date()
    except ValueError:
        return None


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
