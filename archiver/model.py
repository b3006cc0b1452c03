"""The shared vocabulary: the values that flow from one pipeline stage to the next.

The values are frozen dataclasses and enums (an `Exchange` holds its spooled body, which
`Capture.close` releases), plus `FetchBackend`, the protocol every fetcher follows. Enum
values are stable lowercase strings: they are written to JSON and CSV and read back by
other tools.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

from archiver.config import DEFAULT_DEAD_AFTER_CHECKS, DEFAULT_DEAD_AFTER_DAYS


class LinkKind(StrEnum):
    """What a URL is to the post that cites it."""

    LINK = "link"
    IMAGE = "image"
    MEDIA = "media"
    EMBED = "embed"


# When one URL is cited in several ways (an image also linked to), the Link takes the
# kind a reader would miss most if it rotted: an image over a plain link.
KIND_PRECEDENCE: tuple[LinkKind, ...] = (
    LinkKind.IMAGE,
    LinkKind.MEDIA,
    LinkKind.EMBED,
    LinkKind.LINK,
)


class Form(StrEnum):
    """How a reference is written in the post's source."""

    MARKDOWN = "markdown"  # [text](url), ![alt](url) and their reference-style forms
    AUTOLINK = "autolink"  # <http://...>
    BARE = "bare"  # a URL in running text
    HTML = "html"  # an attribute of an HTML element
    SHORTCODE = "shortcode"  # a WordPress shortcode such as [embed]url[/embed]


class SkipReason(StrEnum):
    """Why a URL cited by a post is listed but not fetched."""

    SCHEME = "scheme"  # not http or https: mailto:, javascript:, data: ...
    INVALID = "invalid"  # cannot be a URL: no host, a bad port ...
    NO_BASE = "no-base"  # relative, and neither the post nor the config gives a base
    EXCLUDED = "excluded"  # matches an exclude pattern of the config
    NOT_INCLUDED = "not-included"  # include patterns are set and none matches


@dataclass(frozen=True, slots=True)
class Skip:
    """The reason a URL is not fetched, with a human-readable detail."""

    reason: SkipReason
    detail: str


class SpanContext(StrEnum):
    """What the text of a URL stands in, which says how another address is written there."""

    HTML_ATTRIBUTE = "html-attribute"  # the value of an HTML attribute, in an HTML or a Markdown post
    HTML_TEXT = "html-text"  # a bare URL in the text of an HTML post
    DESTINATION = "destination"  # of a Markdown link or image, or of a reference definition
    AUTOLINK = "autolink"  # <http://...>
    BARE = "bare"  # a URL in running Markdown text (or in the text of raw HTML in Markdown)
    SHORTCODE = "shortcode"  # in a WordPress shortcode


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """Where the text of a URL stands in a post file, as offsets into the file's bytes.

    `start:end` is the URL as written (entities, backslash escapes, a Jekyll `{{ site.url }}`
    before it and all); `construct` is what cites it and starts on the occurrence's line:
    the link, image, tag, autolink or shortcode, or for a reference-style link the usage
    `[text][label]` (the URL then stands in the definition). `append_at` is where an
    "archived" link goes, after the construct or after a link around it.
    """

    start: int
    end: int
    context: SpanContext
    construct: tuple[int, int]
    append_at: int | None = None
    no_append: str = ""  # why an archived link has no place, when append_at is None
    shown: tuple[tuple[int, int], ...] = ()  # the link's text, where it is the URL as written
    written: bytes = b""  # the bytes at start:end when the post was read

    def mapped(self, position: Callable[[int], int], data: bytes | None = None) -> SourceSpan:
        """The span with each offset passed through `position`, from one text to another;
        with the file's `data` when the offsets are in its bytes, which it notes as written."""
        start, end = position(self.start), position(self.end)
        return SourceSpan(
            start,
            end,
            self.context,
            (position(self.construct[0]), position(self.construct[1])),
            None if self.append_at is None else position(self.append_at),
            self.no_append,
            tuple((position(start), position(end)) for start, end in self.shown),
            self.written if data is None else data[start:end],
        )


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place where a post cites a URL."""

    post: Path
    line: int
    text: str
    kind: LinkKind
    form: Form
    source: str  # the URL exactly as written, after Markdown/HTML unescaping
    fragment: str = ""
    # Where its text is in the post's bytes: not part of what the occurrence is (links.json
    # does not keep it, and an occurrence read back from there is the same occurrence).
    span: SourceSpan | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Link:
    """One cited URL, normalised, with every place that cites it.

    `url` is the normalised absolute URL without its fragment (fragments belong to the
    occurrences). A skipped link keeps the text it was written with as its `url`.
    """

    url: str
    kind: LinkKind
    internal: bool
    occurrences: tuple[Occurrence, ...]
    skip: Skip | None = None

    @property
    def fetchable(self) -> bool:
        """True when later stages should fetch this URL."""
        return self.skip is None


@dataclass(frozen=True, slots=True)
class Problem:
    """A warning about an input file: the run goes on without (part of) it."""

    path: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Post:
    """A post that was read: its address on the web and what it is called."""

    path: Path
    address: str | None  # the post's own URL, from its front matter
    title: str | None
    date: dt.date | None
    link_count: int


@dataclass(frozen=True, slots=True)
class PostDocument:
    """A post given as bytes rather than a file: a page fetched from its URL, or standard input."""

    name: Path  # what messages and reports call it: the page's host and path, or <stdin>
    address: str | None  # the post's own URL, which its relative links resolve against
    data: bytes
    html: bool


@dataclass(frozen=True, slots=True)
class Extraction:
    """Everything the extractor found in a set of posts."""

    posts: tuple[Post, ...]
    links: tuple[Link, ...]
    problems: tuple[Problem, ...]

    @property
    def fetchable(self) -> tuple[Link, ...]:
        """The links later stages fetch."""
        return tuple(link for link in self.links if link.fetchable)

    @property
    def skipped(self) -> tuple[Link, ...]:
        """The links listed but not fetched, each with its reason."""
        return tuple(link for link in self.links if not link.fetchable)


class Extracted(Protocol):
    """What an extraction found: an `Extraction` in memory, or one whose links are kept
    on disk (`archiver.extract.StoredExtraction`), gone through a link at a time."""

    @property
    def posts(self) -> tuple[Post, ...]: ...

    @property
    def problems(self) -> tuple[Problem, ...]: ...

    @property
    def links(self) -> Collection[Link]: ...

    @property
    def fetchable(self) -> Collection[Link]: ...

    @property
    def skipped(self) -> Collection[Link]: ...


class Status(StrEnum):
    """The outcome of fetching one URL: every outcome a user can act on has its own value."""

    OK = "ok"
    REDIRECTED = "redirected"  # answered, after one or more redirects
    NOT_FOUND = "not-found"  # 404
    GONE = "gone"  # 410
    ACCESS_DENIED = "access-denied"  # 401, 403
    RATE_LIMITED = "rate-limited"  # 429 on every attempt
    CLIENT_ERROR = "client-error"  # another 4xx
    SERVER_ERROR = "server-error"  # 5xx on every attempt
    DNS_FAILURE = "dns-failure"  # the host name does not resolve
    REFUSED = "refused"  # the connection was refused
    TIMEOUT = "timeout"
    TLS_ERROR = "tls-error"  # certificate verification or handshake failed
    RESET = "reset"  # the connection broke during the exchange
    NETWORK_ERROR = "network-error"  # another transport failure
    REDIRECT_LOOP = "redirect-loop"
    TOO_MANY_REDIRECTS = "too-many-redirects"
    BROKEN_REDIRECT = "broken-redirect"  # a 3xx answer without a Location to follow
    TOO_LARGE = "too-large"  # the body passed the size cap; what was read is kept
    BLOCKED = "blocked"  # the name leads to an address the fetcher may not reach (private, loopback ...)
    DISALLOWED = "disallowed"  # robots.txt asks tools like this one to stay away
    UNSUPPORTED = "unsupported"  # a redirect to a scheme that is not fetched, an invalid URL
    SOFT_404 = "soft-404"  # answers, but with what the site says for a page that does not exist
    PARKED = "parked"  # the domain serves a parking or for-sale page
    BOT_WALL = "bot-wall"  # a challenge page stands in front of the content
    UNRECOGNIZED = "unrecognized"  # a status stored by a newer archiver

    @classmethod
    def from_code(cls, code: int, redirected: bool = False) -> Status:
        """The status of a final HTTP answer with this status code."""
        if code < 400:
            return cls.REDIRECTED if redirected else cls.OK
        return _CODE_STATUS.get(code) or (cls.CLIENT_ERROR if code < 500 else cls.SERVER_ERROR)

    @property
    def is_ok(self) -> bool:
        """The URL answered with content."""
        return self in (Status.OK, Status.REDIRECTED, Status.TOO_LARGE)

    @property
    def is_unknown(self) -> bool:
        """We could not see the content: access denied, rate limited, a bot wall, robots.txt.
        A person has to look; such a link is never called dead. (A name that now leads to a
        private address, as expired domains sinkholed to 127.0.0.1 do, is a failure.)"""
        return self in _UNKNOWN

    @property
    def is_failure(self) -> bool:
        """The link is not serving its content, as far as we can tell."""
        return not self.is_ok and not self.is_unknown


_CODE_STATUS = {
    401: Status.ACCESS_DENIED,
    403: Status.ACCESS_DENIED,
    404: Status.NOT_FOUND,
    410: Status.GONE,
    429: Status.RATE_LIMITED,
}
_UNKNOWN = frozenset(
    {Status.ACCESS_DENIED, Status.RATE_LIMITED, Status.BOT_WALL, Status.DISALLOWED, Status.UNRECOGNIZED}
)


REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Hop:
    """One HTTP exchange of a fetch: a redirect on the way, or the final answer."""

    url: str
    code: int
    location: str | None = None


@dataclass(frozen=True, slots=True)
class RecordLocation:
    """Where a capture's final response (or revisit) record is stored in the WARC files,
    and what a later revisit record needs to refer to it."""

    filename: str
    offset: int
    length: int
    record_id: str = ""
    date: str = ""  # the record's WARC-Date
    target_uri: str = ""  # the record's WARC-Target-URI
    revisit: bool = False  # a revisit record: the payload is stored in an earlier capture

    @property
    def can_be_revisited(self) -> bool:
        """A full capture whose identity is whole: a revisit record can refer to it."""
        return not self.revisit and bool(self.record_id and self.date and self.target_uri)


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies the representation it sent (its ETag and
    Last-Modified headers), which a later request can send back to be told "not modified"."""

    etag: str = ""
    last_modified: str = ""

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)

    @classmethod
    def of(cls, headers: Iterable[tuple[str, str]]) -> Validators:
        """The validators among a response's headers (the first of each)."""
        found: dict[str, str] = {}
        for name, value in headers:
            found.setdefault(name.lower(), value.strip())
        etag, modified = found.get("etag", ""), found.get("last-modified", "")
        return cls(*(value if _sendable(value) else "" for value in (etag, modified)))

    def request_headers(self) -> dict[str, str]:
        """The headers of a conditional request (RFC 9110, 13.1): If-None-Match and If-Modified-Since."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        return headers | ({"If-Modified-Since": self.last_modified} if self.last_modified else {})


NOT_MODIFIED = 304


def _sendable(value: str) -> bool:
    """Whether a validator can be sent back as it came: visible ASCII (RFC 9110 allows
    other bytes in an ETag, which an HTTP client will not send)."""
    return value.isascii() and value.isprintable()


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What fetching one URL gave: its status, the redirect chain and the cost."""

    url: str
    status: Status
    code: int | None
    final_url: str
    hops: tuple[Hop, ...]
    attempts: int
    duration: float
    checked_at: dt.datetime
    detail: str = ""
    size: int = 0
    payload_digest: str = ""  # of the final answer's payload, as in WARC-Payload-Digest
    stored_at: RecordLocation | None = None
    drifted_from: str = ""  # the date of the last capture, when the text has changed substantially since
    validators: Validators = Validators()  # of the final answer


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its response; the body as it came off the wire, spooled.

    The body keeps its content-encoding; chunked framing is already removed.
    """

    url: str
    method: str
    target: str
    request_headers: tuple[tuple[str, str], ...]
    http_version: str
    code: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    body: IO[bytes]
    body_size: int
    payload_digest: str
    truncated: bool
    peer: str | None
    date: dt.datetime

    def location(self) -> str | None:
        """The redirect target, when this is a redirect (UTF-8 bytes read as a browser reads them)."""
        if self.code not in REDIRECT_CODES:
            return None
        value = self.header("Location")
        if value is None:
            return None
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return value

    def header(self, name: str) -> str | None:
        """A response header's value, or None."""
        return next((value for key, value in self.response_headers if key.lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class Capture:
    """A fetched URL: its result and the exchanges of its final attempt, bodies spooled.

    What the packer writes and the health rules read; `close()` releases the bodies.
    """

    result: FetchResult
    exchanges: tuple[Exchange, ...]
    page: Page | None = None  # the final answer read as a page, once health has read it
    requisites: tuple[Requisite, ...] = ()  # what the page needs to look like itself, when fetched

    @property
    def final(self) -> Exchange | None:
        """The exchange that gave the final answer, when there was one."""
        return self.exchanges[-1] if self.exchanges else None

    def close(self) -> None:
        """Release the spooled bodies, the requisites' too."""
        for exchange in self.exchanges:
            exchange.body.close()
        for requisite in self.requisites:
            if requisite.capture is not None:
                requisite.capture.close()


@dataclass(frozen=True, slots=True)
class Page:
    """What a captured answer says: its title, its visible text (whitespace collapsed, in
    lower case, the first `pages.TEXT_LIMIT` characters), the addresses of its scripts,
    and its requisites (absolute http(s) addresses of what a browser loads to show it, in
    document order, each once)."""

    title: str
    text: str
    scripts: tuple[str, ...] = ()
    requisites: tuple[str, ...] = ()
    heading: str = ""  # the first <h1>, whitespace collapsed


class RequisiteState(StrEnum):
    """What became of one requisite of a captured page."""

    STORED = "stored"  # fetched for this page; its answer (whatever its code) is stored
    SHARED = "shared"  # fetched once in the run for another page, or a link of the blog itself
    FAILED = "failed"  # no answer to store: a network error, a timeout, robots.txt, the address guard
    OVER_SIZE = "over-size"  # larger than the size cap of a fetch: not stored
    OVER_COUNT = "over-count"  # beyond the page's number of requisites: not fetched
    OVER_BUDGET = "over-budget"  # beyond the page's total bytes of requisites: not stored


@dataclass(frozen=True, slots=True)
class Requisite:
    """One requisite of a captured page: its address, what became of it, and (stored) its
    capture, written to the WARC files beside the page."""

    url: str
    state: RequisiteState
    capture: Capture | None = None
    detail: str = ""  # the answer's code, or why it was not stored


class Verdict(StrEnum):
    """What to believe about a link, from its history."""

    ALIVE = "alive"
    FAILING = "failing"
    DEAD = "dead"
    RECOVERED = "recovered"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeadPolicy:
    """How much failure makes a link dead."""

    checks: int = DEFAULT_DEAD_AFTER_CHECKS  # failed checks in a row, at the least
    days: float = DEFAULT_DEAD_AFTER_DAYS  # spread over this many days, at the least


@dataclass(frozen=True, slots=True)
class Check:
    """One stored check of a URL."""

    url: str
    checked_at: dt.datetime
    status: Status
    code: int | None
    final_url: str
    attempts: int
    detail: str
    payload_digest: str | None
    stored_at: RecordLocation | None = None  # where the answer is stored in the WARC files
    drifted_from: str | None = None  # when the last capture before a substantial change of text was made
    hops: tuple[Hop, ...] = ()  # not kept by histories older than schema version 6
    duration: float = 0.0
    size: int = 0
    validators: Validators = Validators()  # not kept by histories older than schema version 7


@dataclass(frozen=True, slots=True)
class LinkVerdict:
    """A URL's verdict with the dates that explain it."""

    url: str
    verdict: Verdict
    latest: Check
    checks: int
    failures_in_a_row: int
    dead_since: dt.datetime | None
    last_seen_alive: dt.datetime | None
    last_archived: Check | None  # the latest check whose answer is stored in the WARC files


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """An HTTP response read back from the WARC files: its code, headers and payload as
    stored (content-encoding kept), or why it could not be read."""

    code: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    problem: str = ""  # the record is missing, damaged or not a response; the rest is then empty

    def header(self, name: str) -> str | None:
        """A response header's value, or None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class PriorCapture:
    """A URL's latest full capture (not a revisit), as a later capture compares with it."""

    stored_at: RecordLocation
    payload_digest: str
    captured_at: dt.datetime
    validators: Validators = Validators()  # what its answer's server gave, for a conditional request
    status: Status = Status.OK  # what the check that made it found (a 304 says only "the same again")


@dataclass(frozen=True, slots=True)
class ArchiveAnswer:
    """What a web archive answered when asked for a URL's captures, remembered across
    restores so that a URL it had none of is not asked again too soon."""

    url: str
    archive: str  # the archive's name
    asked_at: dt.datetime
    answer: str  # NOT_ARCHIVED: the archive had no capture of the URL (nor of its file elsewhere)


NOT_ARCHIVED = "not-archived"


@dataclass(frozen=True, slots=True)
class Submission:
    """A live link offered to a public archive's save endpoint, and its answer."""

    url: str
    submitted_at: dt.datetime
    code: int | None  # the endpoint's answer; None when none came
    accepted: bool  # a 2xx or 3xx answer
    detail: str


Finisher = Callable[[Capture], Awaitable[Capture]]


class FetchBackend(Protocol):
    """What fetches URLs for the pipeline: the `Fetcher`, or anything that stands in for it."""

    async def fetch(
        self, url: str, urgent: bool = False, follow: bool = True, validators: Validators | None = None
    ) -> Capture:
        """Fetch one URL (following redirects unless not to `follow` them); `urgent` ahead of
        its host's queue; with `validators`, a conditional request."""
        ...

    def fetch_all(
        self, urls: Iterable[str], then: Finisher | None = None, validators: Mapping[str, Validators] | None = None
    ) -> AsyncIterator[Capture]:
        """Fetch every URL once, yielding captures as they complete, each finished by
        `then`; those in `validators` with a conditional request."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
