"""Load and validate `config.yaml` once, into typed, frozen settings.

Each section of the file is one class and each key one field, declared once: the file
is validated against the class, strictly (a value of another type is an error, never
converted), and the class is what the section's stage receives, by the stage's name
for it (`FetchSettings` is `FetchConfig`; the extractor's joins `posts:` and `links:`).
What a stage reads in another form than the file writes is converted as it is read
(patterns compiled, networks parsed, lists made tuples and sets, paths made absolute)
or derived as a property (`max_body_bytes` from `max_body_mb`).

Every default lives here as a named constant, shared by the command line and the
bundled `config.yaml`. Every number has a range of sane values (`_within`), wide enough
for any real use and finite, so that a slip of the keyboard is told apart from a choice
before a stage trips over it. Any problem with the file (unreadable, not YAML, an unknown
key, a wrong type or range, a path that does not exist) raises one `ConfigError` that
names the file and the key.

Command-line options that stand for keys (`--timeout`, `--max-concurrency` ...) come as
`Overrides`; `with_overrides` validates each section they change again, by the same
class, so an option out of range is refused as the file's value would be, with an
`OptionError` that names the option.
"""

from __future__ import annotations

import difflib
import glob
import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import CoreSchema, core_schema

from archiver.errors import ConfigError, OptionError

DEFAULT_CONFIG_FILE = Path("config.yaml")
DEFAULT_OUTPUT_DIR = Path("archives")
DEFAULT_MAX_POST_MB = 64.0
POST_SUFFIXES = (".md", ".markdown", ".html", ".htm")

DEFAULT_CONCURRENCY = 64
MAX_CANARIES = 20
DEFAULT_PER_HOST = 4
DEFAULT_HOST_DELAY = 0.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_TOTAL_TIMEOUT = 120.0
DEFAULT_ATTEMPTS = 3  # initial request + 2 retries = 3 requests
DEFAULT_RETRY_CODES = (408, 429, 500, 502, 503, 504)
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_BACKOFF_MAX_SECONDS = 30.0
DEFAULT_RETRY_AFTER_MAX_SECONDS = 120.0
DEFAULT_MAX_REDIRECTS = 10
DEFAULT_MAX_BODY_MB = 100.0
DEFAULT_DEAD_AFTER_CHECKS = 3
DEFAULT_DEAD_AFTER_DAYS = 3.0
# How many days after its last check a link is due again, by its verdict (archiver.schedule).
DEFAULT_ALIVE_DAYS = 7.0
DEFAULT_FAILING_DAYS = 1.0
DEFAULT_DEAD_DAYS = 7.0
DEFAULT_UNKNOWN_DAYS = 1.0
DEFAULT_REPLAY_URL = "http://localhost:8080/web/"
# Query parameters named like these hold secrets (see archiver.redact).
DEFAULT_SECRET_PARAMS = ("token", "key", "secret", "password", "passwd", "sig", "signature", "auth", "credential")
MAX_SECRET_PARAMS = 100
DEFAULT_WARC_PREFIX = "archiver"
DEFAULT_WARC_ROTATE_MB = 1000.0
DEFAULT_RECAPTURE_AFTER_DAYS = 90.0
DEFAULT_MAX_REQUISITES_PER_PAGE = 100
DEFAULT_COMPRESSION_LEVEL = 3
DEFAULT_MAX_REQUISITE_MB = 25.0
DEFAULT_ASSETS_DIR = "assets/restored"
DEFAULT_ASSETS_URL = "/assets/restored/"
DEFAULT_ARCHIVE_NAME = "Internet Archive"
DEFAULT_ARCHIVE_URL = "https://web.archive.org/web/"
DEFAULT_ARCHIVE_REQUESTS_PER_MINUTE = 20.0
CDX_AUTO, CDX_OFF = "auto", "off"  # an archive's `cdx`: found from its address, or none (TimeMaps only)
DEFAULT_MATCH_RENAMED = True
DEFAULT_RETRY_NOT_FOUND_DAYS = 30.0
DEFAULT_SUBMIT_URL = "https://web.archive.org/save/"  # the Internet Archive's Save Page Now
DEFAULT_SUBMIT_REQUESTS_PER_MINUTE = 2.0
DEFAULT_SUBMIT_DAILY_CAP = 100
DEFAULT_RESUBMIT_AFTER_DAYS = 30.0
MAX_SUBMIT_DAILY_CAP = 100_000
LinkStyle = Literal["replace", "append"]
DEFAULT_LINK_STYLE: LinkStyle = "append"

# The upper ends of the ranges: each far beyond any real use, and short of where a
# stage would fail on the number itself (islice on an int that is no index, a timer
# past the end of time, a byte count past what a file can hold).
MAX_CONCURRENCY = 10_000  # each request holds a socket, and most systems let a process open 1,024 to 65,536
MAX_PER_HOST = 1_000  # no site takes a thousand requests at once from one client
MAX_SECONDS = 86_400.0  # a day: timeouts, delays, backoff and Retry-After
MAX_ATTEMPTS = 100
MAX_REDIRECTS = 1_000  # browsers give up after 20, curl after 50
MAX_MEGABYTES = 1_000_000.0  # a terabyte: a post, a body, a WARC file
MAX_DAYS = 36_500.0  # a century
MAX_CHECKS = 10_000  # a check a day for 27 years
MAX_REQUISITES_PER_PAGE = 10_000
MAX_REQUISITE_MB = 100_000.0
MIN_ARCHIVE_REQUESTS_PER_MINUTE = 0.01  # one request every 100 minutes
MAX_ARCHIVE_REQUESTS_PER_MINUTE = 60_000.0  # a thousand a second: only an archive of one's own takes that
HTTP_CODES = (100, 599)


def _within(low: float, high: float, *, above: bool = False) -> WrapValidator:
    """The sane values of a numeric setting: from `low` (or, when `above`, more than
    `low`) to `high`, never NaN or infinite; a number outside is refused with the range,
    before its type is checked (an integer too large for a float is out of range too)."""
    lowest, highest = _number(low), _number(high)
    words = f"more than {lowest} and at most {highest}" if above else f"from {lowest} to {highest}"

    def inside(value: float) -> bool:
        finite = not isinstance(value, float) or math.isfinite(value)
        return finite and (value > low if above else value >= low) and value <= high

    def check(value: Any, validate: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool) and not inside(value):
            shown = str(value) if len(str(value)) <= 30 else str(value)[:30] + "…"
            raise ValueError(f"must be {words}, not {shown}")
        return validate(value)

    return WrapValidator(check)


def _number(bound: float) -> str:
    """A bound of a range as a message shows it: 10,000 or 0.01."""
    return f"{int(bound):,}" if float(bound).is_integer() else f"{bound:g}"


def _from_file(written: Any, convert: Callable[[Any], Any]) -> GetPydanticSchema:
    """Mark a field that the file writes as `written` and its stage reads as `convert`
    makes it: a value is checked as `written`, so that a mistake gets pydantic's own
    message and place (`links.include[0]: Input should be a valid string`), then
    converted. A value given in Python in the stage's form (a tuple, frozenset or Path,
    which YAML never gives) is converted item by item, which checks it too: `convert`
    takes both what the file writes and what it makes."""

    def schema(stored: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        given = get_origin(stored) or stored
        from_file = core_schema.chain_schema(
            [handler.generate_schema(written), core_schema.no_info_plain_validator_function(convert)]
        )

        def read(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if not isinstance(value, given):
                return validate(value)
            return convert(list(value) if isinstance(value, tuple | frozenset) else value)

        return core_schema.no_info_wrap_validator_function(read, from_file)

    return GetPydanticSchema(schema)


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _pattern(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {error}") from None


def _network(network: str | _Network) -> _Network:
    if isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return network
    try:
        return ipaddress.ip_network(network, strict=False)
    except ValueError as error:
        raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8: {error}") from None


def _codes(codes: list[int]) -> frozenset[int]:
    low, high = HTTP_CODES
    for code in codes:
        if type(code) is not int or not low <= code <= high:
            raise ValueError(f"{code!r} is not an HTTP status code (from {low} to {high})")
    return frozenset(codes)


def _sha256_digests(digests: list[str]) -> frozenset[str]:
    for digest in digests:
        if not re.fullmatch(r"(sha256:)?[0-9a-fA-F]{64}", digest):
            raise ValueError(f"{digest!r} is not a SHA-256 digest (64 hexadecimal digits)")
    return frozenset(digest.lower().removeprefix("sha256:") for digest in digests)


def _words(words: list[str]) -> tuple[str, ...]:
    for word in words:
        if not re.fullmatch(r"[A-Za-z0-9]{1,64}", word):
            raise ValueError(f"{word!r} is not a word of 1 to 64 letters and digits")
    return tuple(dict.fromkeys(word.lower() for word in words))


_Patterns = Annotated[tuple[re.Pattern[str], ...], _from_file(list[str], lambda p: tuple(map(_pattern, p)))]
_Networks = Annotated[tuple[_Network, ...], _from_file(list[str], lambda n: tuple(map(_network, n)))]
_Codes = Annotated[frozenset[int], _from_file(list[int], _codes)]
_Digests = Annotated[frozenset[str], _from_file(list[str], _sha256_digests)]
_Path = Annotated[Path, _from_file(str, Path)]  # written as text
_Words = Annotated[tuple[str, ...], _from_file(list[str], _words)]


def _urls(urls: list[str]) -> tuple[str, ...]:
    return tuple(map(absolute_http_url, urls))


_Urls = Annotated[tuple[str, ...], _from_file(list[str], _urls)]


def absolute_http_url(value: str) -> str:
    """`value` when it is an absolute http(s) URL; ValueError saying so otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    return value


class _Section(BaseModel):
    """A section of the file and what its stage receives: an unknown key is an error, a
    value of another type is never converted, and nothing changes once read."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _PostPaths(_Section):
    """Where the posts are: files, folders or glob patterns, relative to the file."""

    paths: list[str] = Field(min_length=1)


class _PostReading(_Section):
    """How posts are read."""

    base_url: str | None = None
    max_size_mb: Annotated[float, _within(0, MAX_MEGABYTES, above=True)] = DEFAULT_MAX_POST_MB

    @field_validator("base_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        return None if value is None else absolute_http_url(value)

    @property
    def max_post_bytes(self) -> int:
        """Posts larger than this many bytes are skipped."""
        return int(self.max_size_mb * 1024 * 1024)


class LinksConfig(_Section):
    """Which cited URLs are fetched: regular expressions searched in the URL."""

    include: _Patterns = ()
    exclude: _Patterns = ()


class ExtractSettings(_PostReading, LinksConfig):
    """The extractor's slice: how posts are read (from `posts:`) and which links are fetched (`links:`)."""


class PostsConfig(_PostReading, _PostPaths):  # pydantic takes the last base's fields first: paths, as in the file
    """Where the posts are and how to read them."""


def _folder(info: ValidationInfo) -> Path:
    """The folder relative paths start from: the configuration file's, given as the
    validation context, else the current one."""
    return info.context if isinstance(info.context, Path) else Path()


class FetchConfig(_Section):
    """How URLs are fetched: limits, timeouts, retries, politeness and safety."""

    concurrency: Annotated[int, _within(1, MAX_CONCURRENCY)] = DEFAULT_CONCURRENCY
    per_host: Annotated[int, _within(1, MAX_PER_HOST)] = DEFAULT_PER_HOST
    host_delay: Annotated[float, _within(0, MAX_SECONDS)] = DEFAULT_HOST_DELAY
    connect_timeout: Annotated[float, _within(0, MAX_SECONDS, above=True)] = DEFAULT_CONNECT_TIMEOUT
    read_timeout: Annotated[float, _within(0, MAX_SECONDS, above=True)] = DEFAULT_READ_TIMEOUT
    total_timeout: Annotated[float, _within(0, MAX_SECONDS, above=True)] = DEFAULT_TOTAL_TIMEOUT
    attempts: Annotated[int, _within(1, MAX_ATTEMPTS)] = DEFAULT_ATTEMPTS
    retry_codes: _Codes = frozenset(DEFAULT_RETRY_CODES)
    backoff: Annotated[float, _within(0, MAX_SECONDS)] = DEFAULT_BACKOFF_SECONDS
    backoff_max: Annotated[float, _within(0, MAX_SECONDS)] = DEFAULT_BACKOFF_MAX_SECONDS
    retry_after_max: Annotated[float, _within(0, MAX_SECONDS)] = DEFAULT_RETRY_AFTER_MAX_SECONDS
    max_redirects: Annotated[int, _within(0, MAX_REDIRECTS)] = DEFAULT_MAX_REDIRECTS
    max_body_mb: Annotated[float, _within(0, MAX_MEGABYTES, above=True)] = DEFAULT_MAX_BODY_MB
    contact: str | None = None
    robots: bool = False
    ca_bundle: _Path | None = None
    allow_networks: _Networks = ()
    resolve: dict[str, str] = Field(default_factory=dict)
    canaries: _Urls = Field(default=(), max_length=MAX_CANARIES)  # see archiver.reach
    user_agent: str | None = Field(default=None, min_length=1)  # None: archiver's own, with `contact`
    proxy: str | None = None  # every request goes through this HTTP(S) proxy
    trust_env: bool = False  # use HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY when `proxy` is not set

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        absolute_http_url(value)
        return value

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _bundle_file(cls, entry: object, info: ValidationInfo) -> object:
        # Checked here rather than once read, so that the message quotes the entry as written.
        if not isinstance(entry, str):
            return entry
        if not entry:
            return None
        bundle = _folder(info) / entry
        if not bundle.is_file():
            raise ValueError(f"{entry!r} is not a file (looked for {bundle})")
        return bundle

    @field_validator("resolve")
    @classmethod
    def _addresses(cls, mapping: dict[str, str]) -> dict[str, str]:
        for host, address in mapping.items():
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{host}: {address!r} is not an IP address") from None
        return mapping

    @property
    def max_body_bytes(self) -> int:
        """A body is cut at this many bytes."""
        return int(self.max_body_mb * 1024 * 1024)


class PackConfig(_Section):
    """How captures are written: WARC file names and rotation."""

    prefix: str = Field(default=DEFAULT_WARC_PREFIX, pattern=r"^[A-Za-z0-9._-]+$")
    rotate_mb: Annotated[float, _within(0, MAX_MEGABYTES, above=True)] = DEFAULT_WARC_ROTATE_MB
    recapture_after_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_RECAPTURE_AFTER_DAYS
    compression_level: Annotated[int, _within(1, 9)] = DEFAULT_COMPRESSION_LEVEL  # gzip, of each record
    requisites: bool = True  # capture what each HTML page needs to look like itself
    max_requisites_per_page: Annotated[int, _within(0, MAX_REQUISITES_PER_PAGE)] = DEFAULT_MAX_REQUISITES_PER_PAGE
    max_requisite_mb: Annotated[float, _within(0, MAX_REQUISITE_MB)] = DEFAULT_MAX_REQUISITE_MB  # per page, in all

    @property
    def rotate_bytes(self) -> int:
        """A new WARC file is started once the current one reaches this many bytes."""
        return int(self.rotate_mb * 1_000_000)

    @property
    def max_requisite_bytes(self) -> int:
        """The most bytes of requisites stored for one page."""
        return int(self.max_requisite_mb * 1024 * 1024)


class HealthConfig(_Section):
    """When a failing link is called dead."""

    dead_after_checks: Annotated[int, _within(1, MAX_CHECKS)] = DEFAULT_DEAD_AFTER_CHECKS
    dead_after_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_DEAD_AFTER_DAYS


class ScheduleConfig(_Section):
    """When `archiver run` checks a link again, by what its history says of it."""

    alive_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_ALIVE_DAYS
    failing_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_FAILING_DAYS
    dead_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_DEAD_DAYS
    unknown_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_UNKNOWN_DAYS


class ReportConfig(_Section):
    """How reports point at the archive, and which query parameters they never show."""

    replay_url: str = DEFAULT_REPLAY_URL
    secret_params: _Words = Field(default=DEFAULT_SECRET_PARAMS, max_length=MAX_SECRET_PARAMS)


class ArchiveConfig(_Section):
    """A public web archive that speaks the Memento protocol, with Wayback-style URLs."""

    name: str = Field(min_length=1)
    url: str  # the base every Wayback-style address starts with, made to end in "/"
    requests_per_minute: Annotated[float, _within(MIN_ARCHIVE_REQUESTS_PER_MINUTE, MAX_ARCHIVE_REQUESTS_PER_MINUTE)] = (
        DEFAULT_ARCHIVE_REQUESTS_PER_MINUTE
    )
    cdx: str = CDX_AUTO  # its CDX endpoint: "auto" (from `url`), "off", or the endpoint's address

    @field_validator("url")
    @classmethod
    def _base(cls, value: str) -> str:
        absolute_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("cdx")
    @classmethod
    def _cdx(cls, value: str) -> str:
        if value in (CDX_AUTO, CDX_OFF):
            return value
        try:
            return absolute_http_url(value)
        except ValueError:
            raise ValueError(f'must be "{CDX_AUTO}", "{CDX_OFF}" or an absolute http(s) URL, got {value!r}') from None

    @property
    def cdx_url(self) -> str:
        """The CDX endpoint asked for many URLs at once; "" for none. Found from a
        Wayback-style address: the Internet Archive's `/cdx/search/cdx`, else pywb's `{url}cdx`."""
        if self.cdx == CDX_OFF:
            return ""
        if self.cdx != CDX_AUTO:
            return self.cdx
        parts = urlsplit(self.url)
        if parts.hostname == "web.archive.org":
            return f"{parts.scheme}://{parts.netloc}/cdx/search/cdx"
        return f"{self.url}cdx"

    @property
    def host(self) -> str:
        """The host name requests to this archive go to."""
        return urlsplit(self.url).hostname or ""


DEFAULT_ARCHIVES = (ArchiveConfig(name=DEFAULT_ARCHIVE_NAME, url=DEFAULT_ARCHIVE_URL),)
_Archives = Annotated[
    tuple[ArchiveConfig, ...], _from_file(list[ArchiveConfig], lambda archives: tuple(map(_archive, archives)))
]


def _archive(archive: ArchiveConfig | dict[str, Any]) -> ArchiveConfig:
    return archive if isinstance(archive, ArchiveConfig) else ArchiveConfig.model_validate(archive)


class RestoreConfig(_Section):
    """Where restored files go, how posts refer to them, and which archives are asked."""

    assets_dir: _Path = Path(DEFAULT_ASSETS_DIR)  # made absolute by load_config
    assets_url: str = DEFAULT_ASSETS_URL
    link_style: LinkStyle = DEFAULT_LINK_STYLE
    archives: _Archives = DEFAULT_ARCHIVES
    reject_digests: _Digests = frozenset()
    match_renamed: bool = DEFAULT_MATCH_RENAMED  # the same file name elsewhere on the same site, when the URL has none
    retry_not_found_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_RETRY_NOT_FOUND_DAYS

    @field_validator("assets_url")
    @classmethod
    def _folder_url(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class SubmitConfig(_Section):
    """Offering the live links the posts cite to a public archive's save endpoint (opt-in)."""

    enabled: bool = False
    url: str = DEFAULT_SUBMIT_URL  # each link is appended to it
    requests_per_minute: Annotated[float, _within(MIN_ARCHIVE_REQUESTS_PER_MINUTE, MAX_ARCHIVE_REQUESTS_PER_MINUTE)] = (
        DEFAULT_SUBMIT_REQUESTS_PER_MINUTE
    )
    daily_cap: Annotated[int, _within(0, MAX_SUBMIT_DAILY_CAP)] = DEFAULT_SUBMIT_DAILY_CAP
    resubmit_after_days: Annotated[float, _within(0, MAX_DAYS)] = DEFAULT_RESUBMIT_AFTER_DAYS

    @field_validator("url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return absolute_http_url(value)

    @property
    def host(self) -> str:
        """The host name submissions go to."""
        return urlsplit(self.url).hostname or ""


class OutputConfig(_Section):
    """Where archives, indexes and reports are written."""

    dir: str = str(DEFAULT_OUTPUT_DIR)


# Each stage is given its section of the file, by the name the stage knows it by. The
# classes keep their sections' names because a message can quote one: "fetch: Input
# should be a valid dictionary or instance of FetchConfig".
FetchSettings = FetchConfig
PackSettings = PackConfig
HealthSettings = HealthConfig
ScheduleSettings = ScheduleConfig
ReportSettings = ReportConfig
ArchiveSettings = ArchiveConfig
RestoreSettings = RestoreConfig
SubmitSettings = SubmitConfig


class _StageSections(BaseModel):
    """The sections the stages receive as the file gives them, in the file and in `Config`."""

    fetch: FetchConfig = FetchConfig()
    pack: PackConfig = PackConfig()
    health: HealthConfig = HealthConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    report: ReportConfig = ReportConfig()
    restore: RestoreConfig = RestoreConfig()
    submit: SubmitConfig = SubmitConfig()


class _PostSections(_Section):
    """The sections `load_config` turns into the post paths and the extractor's settings."""

    posts: PostsConfig
    links: LinksConfig = LinksConfig()


class _File(_StageSections, _PostSections):  # fields in the file's order (the last base's come first)
    output: OutputConfig = OutputConfig()


class Config(_StageSections):
    """The whole validated configuration, with paths made absolute."""

    model_config = ConfigDict(frozen=True)

    source: Path | None
    post_paths: tuple[Path, ...]
    output_dir: Path
    extract: ExtractSettings


def load_config(path: Path) -> Config:
    """Read, validate and resolve the configuration file at `path`."""
    raw = _read_yaml(path)
    try:
        parsed = _File.model_validate(raw, context=path.parent)
    except ValidationError as error:
        raise ConfigError(path, _describe(error, raw)) from None
    base = path.parent
    post_paths = tuple(_resolve_post_path(path, base, index, entry) for index, entry in enumerate(parsed.posts.paths))
    return Config(
        source=path,
        post_paths=tuple(p for group in post_paths for p in group),
        output_dir=base / parsed.output.dir,
        extract=_extract_settings(parsed.posts, parsed.links),
        fetch=parsed.fetch,
        pack=parsed.pack,
        health=parsed.health,
        schedule=parsed.schedule,
        report=parsed.report,
        restore=parsed.restore.model_copy(update={"assets_dir": base / parsed.restore.assets_dir}),
        submit=parsed.submit,
    )


def default_config(post_paths: Iterable[Path], base_url: str | None = None) -> Config:
    """Settings for a run without a configuration file."""
    return Config(
        source=None,
        post_paths=tuple(post_paths),
        output_dir=DEFAULT_OUTPUT_DIR,
        extract=ExtractSettings(base_url=base_url),
    )


# What a command-line option sets: (section, key) in the configuration, validated by the
# section's own rules, so that a value out of range is refused as the file's would be.
OPTION_KEYS: dict[str, tuple[str, str]] = {
    "--max-concurrency": ("fetch", "concurrency"),
    "--per-host": ("fetch", "per_host"),
    "--attempts": ("fetch", "attempts"),
    "--user-agent": ("fetch", "user_agent"),
    "--proxy": ("fetch", "proxy"),
    "--timeout": ("fetch", "total_timeout"),
}


@dataclass(frozen=True)
class Overrides:
    """Settings given on the command line, which take the place of the configuration's."""

    values: Mapping[str, Any] = field(default_factory=dict)  # by option, from OPTION_KEYS
    include: tuple[str, ...] = ()  # added to links.include
    exclude: tuple[str, ...] = ()  # added to links.exclude
    allow: tuple[str, ...] = ()  # added to fetch.allow_networks
    output_dir: Path | None = None
    base_url: str | None = None  # posts.base_url


def with_overrides(config: Config, overrides: Overrides) -> Config:
    """`config` with the command line's settings in place of its own, each checked by
    the rules of its key; a bad one raises `OptionError` naming the option."""
    fetch = _overridden(config.fetch, _fetch_changes(config.fetch, overrides))
    extract_changes = _list_changes(config.extract, overrides)
    if overrides.base_url is not None:
        extract_changes["base_url"] = ("--base-url", overrides.base_url)
    extract = _overridden(config.extract, extract_changes)
    changes: dict[str, Any] = {"fetch": fetch, "extract": extract}
    if overrides.output_dir is not None:
        changes["output_dir"] = overrides.output_dir
    return config.model_copy(update=changes)


_Model = TypeVar("_Model", bound=BaseModel)


def _fetch_changes(fetch: FetchConfig, overrides: Overrides) -> dict[str, tuple[str, Any]]:
    """The fetch keys the options change, each with the option that changes it."""
    changes = {OPTION_KEYS[option][1]: (option, value) for option, value in overrides.values.items()
               if value is not None and OPTION_KEYS[option][0] == "fetch"}  # fmt: skip
    if "total_timeout" in changes:  # one timeout bounds the others too, as lychee's --timeout does
        option, seconds = changes["total_timeout"]
        if isinstance(seconds, int | float) and seconds > 0:
            for key in ("connect_timeout", "read_timeout"):
                changes[key] = (option, min(getattr(fetch, key), seconds))
    if overrides.allow:
        changes["allow_networks"] = ("--allow", (*fetch.allow_networks, *overrides.allow))
    return changes


def _list_changes(extract: ExtractSettings, overrides: Overrides) -> dict[str, tuple[str, Any]]:
    changes: dict[str, tuple[str, Any]] = {}
    for key, added in (("include", overrides.include), ("exclude", overrides.exclude)):
        if added:
            changes[key] = (f"--{key}", (*getattr(extract, key), *added))
    return changes


def _overridden(section: _Model, changes: Mapping[str, tuple[str, Any]]) -> _Model:
    if not changes:
        return section
    values = {**dict(section), **{key: value for key, (_, value) in changes.items()}}
    try:
        return type(section).model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        option = changes.get(str(first["loc"][0]), ("", None))[0] if first["loc"] else ""
        raise OptionError(option or _dotted(first["loc"]), first["msg"].removeprefix("Value error, ")) from None


def _extract_settings(posts: PostsConfig, links: LinksConfig) -> ExtractSettings:
    reading = {key: value for key, value in posts if key in _PostReading.model_fields}
    return ExtractSettings(**reading, **dict(links))


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, f"cannot read the configuration file: {error}") from None
    try:
        data = yaml.safe_load(text)
    except (ValueError, OverflowError, TypeError, RecursionError) as error:
        raise ConfigError(path, f"a value cannot be read: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(path, f"not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "the configuration must be a mapping of keys to values, such as 'posts:'")
    return data


def _resolve_post_path(config: Path, base: Path, index: int, entry: str) -> list[Path]:
    key = f"posts.paths[{index}]"
    candidate = base / Path(entry).expanduser()
    if glob.has_magic(entry):
        matches = sorted(Path(m) for m in glob.glob(str(candidate), recursive=True))
        if not matches:
            raise ConfigError(config, f"the pattern {entry!r} matches no file", key)
        return matches
    if not candidate.exists():
        raise ConfigError(config, f"{entry!r} does not exist (looked for {candidate})", key)
    return [candidate]


def _describe(error: ValidationError, raw: Mapping[str, Any]) -> str:
    lines = [_describe_one(e["loc"], e["type"], e["msg"], raw) for e in error.errors()]
    return lines[0] if len(lines) == 1 else "\n  " + "\n  ".join(lines)


def _describe_one(loc: tuple[int | str, ...], kind: str, message: str, raw: Mapping[str, Any]) -> str:
    key = _dotted(loc)
    if kind == "extra_forbidden":
        return f"{key}: unknown key{_suggestion(loc, raw)}"
    if kind == "missing":
        return f"{key}: required key is missing"
    return f"{key}: {message.removeprefix('Value error, ')}"


def _dotted(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _suggestion(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    model: type[BaseModel] = _File
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known keys: {', '.join(known)}){hint}"
