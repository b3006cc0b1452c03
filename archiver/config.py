"""Load and validate `config.yaml` once, into typed, frozen settings.

Each stage receives only its own section. Every default lives here as a named
constant, shared by the command line and the bundled `config.yaml`. Any problem with
the file (unreadable, not YAML, an unknown key, a wrong type, a path that does not
exist) raises one `ConfigError` that names the file and the key.
"""

from __future__ import annotations

import difflib
import glob
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archiver.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("config.yaml")
DEFAULT_OUTPUT_DIR = Path("archives")
DEFAULT_MAX_POST_MB = 64.0
POST_SUFFIXES = (".md", ".markdown", ".html", ".htm")

DEFAULT_CONCURRENCY = 64
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
DEFAULT_REPLAY_URL = "http://localhost:8080/web/"
DEFAULT_WARC_PREFIX = "archiver"
DEFAULT_WARC_ROTATE_MB = 1000.0
DEFAULT_RECAPTURE_AFTER_DAYS = 90.0
DEFAULT_ASSETS_DIR = "assets/restored"
DEFAULT_ASSETS_URL = "/assets/restored/"
DEFAULT_ARCHIVE_NAME = "Internet Archive"
DEFAULT_ARCHIVE_URL = "https://web.archive.org/web/"
DEFAULT_ARCHIVE_REQUESTS_PER_MINUTE = 20.0
LinkStyle = Literal["replace", "append"]
DEFAULT_LINK_STYLE: LinkStyle = "append"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PostsConfig(_Section):
    """Where the posts are and how to read them."""

    paths: list[str] = Field(min_length=1)
    base_url: str | None = None
    max_size_mb: float = Field(default=DEFAULT_MAX_POST_MB, gt=0)

    @field_validator("base_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        return None if value is None else absolute_http_url(value)


def absolute_http_url(value: str) -> str:
    """`value` when it is an absolute http(s) URL; ValueError saying so otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    return value


class LinksConfig(_Section):
    """Which cited URLs are fetched: regular expressions searched in the URL."""

    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("include", "exclude")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {error}") from None
        return patterns


class FetchConfig(_Section):
    """How URLs are fetched: limits, timeouts, retries, politeness and safety."""

    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1)
    per_host: int = Field(default=DEFAULT_PER_HOST, ge=1)
    host_delay: float = Field(default=DEFAULT_HOST_DELAY, ge=0)
    connect_timeout: float = Field(default=DEFAULT_CONNECT_TIMEOUT, gt=0)
    read_timeout: float = Field(default=DEFAULT_READ_TIMEOUT, gt=0)
    total_timeout: float = Field(default=DEFAULT_TOTAL_TIMEOUT, gt=0)
    attempts: int = Field(default=DEFAULT_ATTEMPTS, ge=1)
    retry_codes: list[int] = Field(default_factory=lambda: list(DEFAULT_RETRY_CODES))
    backoff: float = Field(default=DEFAULT_BACKOFF_SECONDS, ge=0)
    backoff_max: float = Field(default=DEFAULT_BACKOFF_MAX_SECONDS, ge=0)
    retry_after_max: float = Field(default=DEFAULT_RETRY_AFTER_MAX_SECONDS, ge=0)
    max_redirects: int = Field(default=DEFAULT_MAX_REDIRECTS, ge=0)
    max_body_mb: float = Field(default=DEFAULT_MAX_BODY_MB, gt=0)
    contact: str | None = None
    robots: bool = False
    ca_bundle: str | None = None
    allow_networks: list[str] = Field(default_factory=list)
    resolve: dict[str, str] = Field(default_factory=dict)

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as error:
                raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8: {error}") from None
        return networks

    @field_validator("resolve")
    @classmethod
    def _addresses(cls, mapping: dict[str, str]) -> dict[str, str]:
        for host, address in mapping.items():
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{host}: {address!r} is not an IP address") from None
        return mapping


class PackConfig(_Section):
    """How captures are written: WARC file names and rotation."""

    prefix: str = Field(default=DEFAULT_WARC_PREFIX, pattern=r"^[A-Za-z0-9._-]+$")
    rotate_mb: float = Field(default=DEFAULT_WARC_ROTATE_MB, gt=0)
    recapture_after_days: float = Field(default=DEFAULT_RECAPTURE_AFTER_DAYS, ge=0)


class HealthConfig(_Section):
    """When a failing link is called dead."""

    dead_after_checks: int = Field(default=DEFAULT_DEAD_AFTER_CHECKS, ge=1)
    dead_after_days: float = Field(default=DEFAULT_DEAD_AFTER_DAYS, ge=0)


class ReportConfig(_Section):
    """How reports point at the archive."""

    replay_url: str = DEFAULT_REPLAY_URL


class ArchiveConfig(_Section):
    """A public web archive that speaks the Memento protocol, with Wayback-style URLs."""

    name: str = Field(min_length=1)
    url: str
    requests_per_minute: float = Field(default=DEFAULT_ARCHIVE_REQUESTS_PER_MINUTE, gt=0)

    @field_validator("url")
    @classmethod
    def _base(cls, value: str) -> str:
        absolute_http_url(value)
        return value if value.endswith("/") else value + "/"


class RestoreConfig(_Section):
    """Where restored files go, how posts refer to them, and which archives are asked."""

    assets_dir: str = DEFAULT_ASSETS_DIR
    assets_url: str = DEFAULT_ASSETS_URL
    link_style: LinkStyle = DEFAULT_LINK_STYLE
    archives: list[ArchiveConfig] = Field(
        default_factory=lambda: [ArchiveConfig(name=DEFAULT_ARCHIVE_NAME, url=DEFAULT_ARCHIVE_URL)]
    )
    reject_digests: list[str] = Field(default_factory=list)

    @field_validator("assets_url")
    @classmethod
    def _folder_url(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("reject_digests")
    @classmethod
    def _sha256(cls, digests: list[str]) -> list[str]:
        for digest in digests:
            if not re.fullmatch(r"(sha256:)?[0-9a-fA-F]{64}", digest):
                raise ValueError(f"{digest!r} is not a SHA-256 digest (64 hexadecimal digits)")
        return [digest.lower().removeprefix("sha256:") for digest in digests]


class OutputConfig(_Section):
    """Where archives, indexes and reports are written."""

    dir: str = str(DEFAULT_OUTPUT_DIR)


class _File(_Section):
    posts: PostsConfig
    links: LinksConfig = LinksConfig()
    fetch: FetchConfig = FetchConfig()
    pack: PackConfig = PackConfig()
    health: HealthConfig = HealthConfig()
    report: ReportConfig = ReportConfig()
    restore: RestoreConfig = RestoreConfig()
    output: OutputConfig = OutputConfig()


class ExtractSettings(BaseModel):
    """The extractor's slice of the configuration."""

    model_config = ConfigDict(frozen=True)

    base_url: str | None = None
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    max_post_bytes: int = int(DEFAULT_MAX_POST_MB * 1024 * 1024)


class FetchSettings(BaseModel):
    """The fetcher's slice of the configuration."""

    model_config = ConfigDict(frozen=True)

    concurrency: int = DEFAULT_CONCURRENCY
    per_host: int = DEFAULT_PER_HOST
    host_delay: float = DEFAULT_HOST_DELAY
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    retry_codes: frozenset[int] = frozenset(DEFAULT_RETRY_CODES)
    backoff: float = DEFAULT_BACKOFF_SECONDS
    backoff_max: float = DEFAULT_BACKOFF_MAX_SECONDS
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX_SECONDS
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 1024 * 1024)
    contact: str | None = None
    robots: bool = False
    ca_bundle: Path | None = None
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    resolve: dict[str, str] = Field(default_factory=dict)


class PackSettings(BaseModel):
    """The packer's slice of the configuration."""

    model_config = ConfigDict(frozen=True)

    prefix: str = DEFAULT_WARC_PREFIX
    rotate_bytes: int = int(DEFAULT_WARC_ROTATE_MB * 1_000_000)
    recapture_after_days: float = DEFAULT_RECAPTURE_AFTER_DAYS


class HealthSettings(BaseModel):
    """The health and history slice of the configuration."""

    model_config = ConfigDict(frozen=True)

    dead_after_checks: int = DEFAULT_DEAD_AFTER_CHECKS
    dead_after_days: float = DEFAULT_DEAD_AFTER_DAYS


class ReportSettings(BaseModel):
    """The report slice of the configuration."""

    model_config = ConfigDict(frozen=True)

    replay_url: str = DEFAULT_REPLAY_URL


@dataclass(frozen=True)
class ArchiveSettings:
    """One web archive to ask for captures."""

    name: str
    url: str  # the base every Wayback-style address starts with, ending in "/"
    requests_per_minute: float = DEFAULT_ARCHIVE_REQUESTS_PER_MINUTE

    @property
    def host(self) -> str:
        """The host name requests to this archive go to."""
        return urlsplit(self.url).hostname or ""


DEFAULT_ARCHIVES = (ArchiveSettings(DEFAULT_ARCHIVE_NAME, DEFAULT_ARCHIVE_URL),)


class RestoreSettings(BaseModel):
    """The restore slice of the configuration."""

    model_config = ConfigDict(frozen=True)

    assets_dir: Path = Path(DEFAULT_ASSETS_DIR)
    assets_url: str = DEFAULT_ASSETS_URL
    link_style: LinkStyle = DEFAULT_LINK_STYLE
    archives: tuple[ArchiveSettings, ...] = DEFAULT_ARCHIVES
    reject_digests: frozenset[str] = frozenset()


class Config(BaseModel):
    """The whole validated configuration, with paths made absolute."""

    model_config = ConfigDict(frozen=True)

    source: Path | None
    post_paths: tuple[Path, ...]
    output_dir: Path
    extract: ExtractSettings
    fetch: FetchSettings = FetchSettings()
    pack: PackSettings = PackSettings()
    health: HealthSettings = HealthSettings()
    report: ReportSettings = ReportSettings()
    restore: RestoreSettings = RestoreSettings()


def load_config(path: Path) -> Config:
    """Read, validate and resolve the configuration file at `path`."""
    raw = _read_yaml(path)
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(path, _describe(error, raw)) from None
    base = path.parent
    post_paths = tuple(_resolve_post_path(path, base, index, entry) for index, entry in enumerate(parsed.posts.paths))
    return Config(
        source=path,
        post_paths=tuple(p for group in post_paths for p in group),
        output_dir=base / parsed.output.dir,
        extract=_extract_settings(parsed.posts, parsed.links),
        fetch=_fetch_settings(path, parsed.fetch),
        pack=PackSettings(
            prefix=parsed.pack.prefix,
            rotate_bytes=int(parsed.pack.rotate_mb * 1_000_000),
            recapture_after_days=parsed.pack.recapture_after_days,
        ),
        health=HealthSettings(**parsed.health.model_dump()),
        report=ReportSettings(replay_url=parsed.report.replay_url),
        restore=_restore_settings(base, parsed.restore),
    )


def _restore_settings(base: Path, restore: RestoreConfig) -> RestoreSettings:
    return RestoreSettings(
        assets_dir=base / restore.assets_dir,
        assets_url=restore.assets_url,
        link_style=restore.link_style,
        archives=tuple(ArchiveSettings(a.name, a.url, a.requests_per_minute) for a in restore.archives),
        reject_digests=frozenset(restore.reject_digests),
    )


def _fetch_settings(config: Path, fetch: FetchConfig) -> FetchSettings:
    values = fetch.model_dump(exclude={"max_body_mb", "ca_bundle", "allow_networks", "retry_codes"})
    ca_bundle = config.parent / fetch.ca_bundle if fetch.ca_bundle else None
    if ca_bundle is not None and not ca_bundle.is_file():
        raise ConfigError(config, f"{fetch.ca_bundle!r} is not a file (looked for {ca_bundle})", "fetch.ca_bundle")
    return FetchSettings(
        **values,
        retry_codes=frozenset(fetch.retry_codes),
        max_body_bytes=int(fetch.max_body_mb * 1024 * 1024),
        ca_bundle=ca_bundle,
        allow_networks=tuple(ipaddress.ip_network(n, strict=False) for n in fetch.allow_networks),
    )


def default_config(post_paths: Iterable[Path], base_url: str | None = None) -> Config:
    """Settings for a run without a configuration file."""
    return Config(
        source=None,
        post_paths=tuple(post_paths),
        output_dir=DEFAULT_OUTPUT_DIR,
        extract=ExtractSettings(base_url=base_url),
    )


def _extract_settings(posts: PostsConfig, links: LinksConfig) -> ExtractSettings:
    return ExtractSettings(
        base_url=posts.base_url,
        include=tuple(re.compile(p) for p in links.include),
        exclude=tuple(re.compile(p) for p in links.exclude),
        max_post_bytes=int(posts.max_size_mb * 1024 * 1024),
    )


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
