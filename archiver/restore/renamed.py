"""Find a dead image under the address it had before its site moved: the same file name
elsewhere on the same site.

A blog moved from WordPress to a static site cites `/assets/media/2015/02/photo.jpg`
where archives hold `http://www.blog/wp-content/uploads/2015/02/photo.jpg`, often beside
its size variants (`photo-1024x646.jpg`). An old address is a candidate when it is on the
same site (the host with or without `www.`, either scheme: `sites.site_key`) and its file
name is the dead one's, a size variant aside; never on another site. Candidates are
ranked by `Likeness`: the WordPress uploads folder of the same year and month first,
then the same `YYYY/MM` folders, the same name before a size variant, then the most
path segments shared at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from archiver.pack import url_key
from archiver.sites import site_key

WORDPRESS_UPLOADS = "wp-content/uploads"
_SIZE_VARIANT = re.compile(r"^(?P<stem>.+)-\d{1,5}x\d{1,5}(?P<extension>\.[A-Za-z0-9]+)$")
_YEAR_MONTH = re.compile(r"/((?:19|20)\d\d)/(0[1-9]|1[0-2])/")


@dataclass(frozen=True, order=True)
class Likeness:
    """How much an old address looks like a dead image's former one; more is likelier."""

    wordpress_month: bool  # in WordPress's uploads folder of the dead path's year and month
    same_month: bool  # the same YYYY/MM folders
    same_name: bool  # the very name, not a size variant of it
    shared_tail: int  # folders shared at the end of the two paths, the name aside


def file_name(url: str) -> str:
    """The last segment of a URL's path, decoded."""
    # string operations, not urlsplit: this is asked of every row of a site's CDX answer
    address = url.partition("#")[0].partition("?")[0]
    host_starts = address.find("//") + 2 if "//" in address else 0
    path_starts = address.find("/", host_starts)
    trimmed = address.rstrip("/")
    if path_starts < 0 or len(trimmed) <= path_starts:
        return ""
    name = trimmed.rsplit("/", 1)[-1]
    return unquote(name) if "%" in name else name


def name_key(url: str) -> str:
    """What two names of one file share: the name without a size variant, in lower case."""
    name = file_name(url)
    variant = _SIZE_VARIANT.match(name)
    return (f"{variant['stem']}{variant['extension']}" if variant else name).lower()


def likeness(dead: str, old: str) -> Likeness | None:
    """How much `old` looks like where the image at `dead` used to be; None when it cannot
    be the same file: another site, another name, or the same address."""
    try:
        if site_key(dead) != site_key(old) or url_key(dead) == url_key(old):
            return None
    except ValueError:
        return None
    if not file_name(dead) or name_key(dead) != name_key(old):
        return None
    dead_path, old_path = unquote(urlsplit(dead).path), unquote(urlsplit(old).path)
    month = _year_month(dead_path)
    same_month = month is not None and month == _year_month(old_path)
    wordpress = month is not None and same_month and f"/{WORDPRESS_UPLOADS}/{month[0]}/{month[1]}/" in old_path
    return Likeness(wordpress, same_month, file_name(dead) == file_name(old), _shared_tail(dead_path, old_path))


def wordpress_addresses(dead: str) -> list[str]:
    """Where WordPress kept the image at `dead` (its uploads folder of the path's year and
    month), for archives that cannot list a site's captures; [] when the path has no month."""
    parts = urlsplit(dead)
    month = _year_month(unquote(parts.path))
    if month is None or not file_name(dead):
        return []
    name = parts.path.rstrip("/").rsplit("/", 1)[-1]
    candidate = f"{parts.scheme}://{parts.netloc}/{WORDPRESS_UPLOADS}/{month[0]}/{month[1]}/{name}"
    return [] if url_key(candidate) == url_key(dead) else [candidate]


def _year_month(path: str) -> tuple[str, str] | None:
    found = _YEAR_MONTH.search(path)
    return (found[1], found[2]) if found else None


def _shared_tail(first: str, second: str) -> int:
    folders = first.split("/")[:-1], second.split("/")[:-1]
    shared = 0
    for mine, theirs in zip(reversed(folders[0]), reversed(folders[1]), strict=False):
        if not mine or mine != theirs:
            break
        shared += 1
    return shared
