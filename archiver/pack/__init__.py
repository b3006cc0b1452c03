"""Pack: captures -> WARC files that standard tools read, with a CDXJ index of each.

The WARC folder belongs to this stage: `writer` writes captures (revisit records for
unchanged payloads), `seconds` dates each of their records in a second of its own for
its URL's SURT key (so that a replay address names one capture), `repair` finishes what
a killed run left, `records` reads a stored answer back (for restore's own archive and
the drift rule), and `folder` names the layout, the index keys and replay addresses::

    archive/{prefix}-{YYYYMMDDhhmmss}-{serial}-{host}.warc.gz   closed, complete files
    archive/….warc.gz.open                                      the file being written
    indexes/{same name}.cdxj                                    one sorted index per file

A pywb collection can point straight at the output folder.
"""

from archiver.pack.folder import (
    ARCHIVE_DIR,
    INDEX_DIR,
    OPEN_SUFFIX,
    index_all,
    index_entries,
    replay_address,
    url_key,
)
from archiver.pack.records import read_answer
from archiver.pack.repair import repair
from archiver.pack.writer import WarcPacker

__all__ = [
    "ARCHIVE_DIR",
    "INDEX_DIR",
    "OPEN_SUFFIX",
    "WarcPacker",
    "index_all",
    "index_entries",
    "read_answer",
    "repair",
    "replay_address",
    "url_key",
]
