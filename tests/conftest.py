"""Shared fixtures: the repository's example and fixture posts, and the shared corpus."""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from archiver.config import ExtractSettings, FetchSettings
from archiver.extract import extract
from archiver.model import Extraction, Link
from tests.forked import Forks, forks
from tests.webserver import MisbehavingServer

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_POSTS = FIXTURES / "posts"
SEED_POST = REPO / "examples" / "posts" / "2014-10-28-an-openstack-dream-team.md"
# A process that takes an output folder's lock, says "held", and keeps it for a minute.
HOLD_LOCK = """
import pathlib, sys, time
from archiver.lock import exclusive
with exclusive(pathlib.Path(sys.argv[1]), "run"):
    print("held", flush=True)
    time.sleep(60)
"""
CORPUS = Path(os.environ.get("ARCHIVER_CORPUS", REPO.parent / "shared" / "corpus" / "posts"))


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real posts; tests using it skip where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS} (set ARCHIVER_CORPUS to its posts folder)")
    return CORPUS


def extract_one(path: Path, **settings: object) -> Extraction:
    """Extract a single post with default settings, or the ones given."""
    return extract([path], ExtractSettings.model_validate(settings))


def by_url(extraction: Extraction) -> dict[str, Link]:
    """The extraction's links keyed by URL (a skipped one by the URL as written)."""
    return {link.url: link for link in extraction.links}


def lines_of(link: Link) -> list[int]:
    """The line of each occurrence, in order."""
    return [occurrence.line for occurrence in link.occurrences]


@dataclass(frozen=True)
class Web:
    """The misbehaving server as the fetcher sees it: host names, ports and settings."""

    server: MisbehavingServer
    ports: dict[str, int]
    addresses: dict[str, str]
    ca_file: Path

    def url(self, host: str, path: str) -> str:
        """An absolute URL on one of the test hosts."""
        scheme = "https" if host in TLS_HOSTS else "http"
        return f"{scheme}://{host}:{self.ports[host]}{path}"

    def settings(self, **overrides: Any) -> FetchSettings:
        """Fetch settings for the test hosts: loopback allowed, short waits and timeouts."""
        values: dict[str, Any] = {
            "allow_networks": (ipaddress.ip_network("127.0.0.0/8"),),
            "resolve": {
                **self.addresses,
                **dict.fromkeys(SITE_HOSTS, "127.0.0.2"),
                **dict.fromkeys(OUTSIDE_HOSTS, "127.0.0.9"),
                "upgrade.test": "127.0.0.4",
                "private.test": "10.0.0.1",
                "metadata.test": "169.254.169.254",
            },
            "ca_bundle": self.ca_file,
            "backoff": 0.05,
            "backoff_max": 0.1,
            "retry_after_max": 1.5,
            "connect_timeout": 2.0,
            "read_timeout": 0.5,
            "total_timeout": 5.0,
            "max_body_mb": 200_000 / (1024 * 1024),  # 200 000 bytes
            "contact": "https://blog.example.org/archiving",
        }
        return FetchSettings(**{**values, **overrides})


# Whole misbehaving sites, served on alpha's address (tests/webserver.py picks the site by name).
SITE_HOSTS = ("soft.test", "front.test", "parked.test", "walled.test", "prose.test", "captcha404.test",
              "template.test", "app.test", "slash.test", "home.test", "styled.test", "cdn.test",
              "removed.test", "frontlinks.test", "history.test", "members.test")  # fmt: skip
# Hosts the test pages name as requisites, kept off the internet: nothing listens there.
OUTSIDE_HOSTS = ("www.sedoparking.com", "www.google.com")
# Each test host has an address of its own on the loopback network.
PLAIN_HOSTS = {"alpha.test": "127.0.0.2", "beta.test": "127.0.0.3"}
TLS_HOSTS = {"secure.test": "127.0.0.4", "badtls.test": "127.0.0.5"}


def write_blog(folder: Path, web: Web, urls: list[str], fetch: str = "", more: str = "") -> None:
    """A post in `folder`/posts citing `urls`, and a config.yaml fetching alpha.test and
    beta.test of the test `web`, with more `fetch` lines and `more` sections after them."""
    (folder / "posts").mkdir()
    (folder / "posts" / "post.md").write_text("".join(f"[{i}]({url})\n\n" for i, url in enumerate(urls)), "utf-8")
    resolve = ", ".join(f"{host}: {web.addresses[host]}" for host in PLAIN_HOSTS)
    (folder / "config.yaml").write_text(
        f"posts:\n  paths: [posts]\nfetch:\n  allow_networks: [127.0.0.0/8]\n  resolve: {{{resolve}}}\n{fetch}{more}",
        encoding="utf-8",
    )


@pytest.fixture(scope="session")
def runs() -> Iterator[Forks]:
    """Runs of `python -m archiver` forked ready-imported (tests/forked.py), for the session:
    they have the environment of the first test that asks for them (no test changes it)."""
    with forks() as server:
        yield server


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The misbehaving HTTP server, on plain and TLS hosts, for the whole session."""
    trusted, untrusted = trustme.CA(), trustme.CA()
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    trusted.cert_pem.write_to_path(str(ca_file))
    server = MisbehavingServer()
    ports = {host: server.start(address) for host, address in PLAIN_HOSTS.items()}
    ports["secure.test"] = server.start(TLS_HOSTS["secure.test"], _server_tls(trusted, "secure.test", "upgrade.test"))
    server.tls_port = ports["secure.test"]
    ports["upgrade.test"] = server.start(TLS_HOSTS["secure.test"])  # plain HTTP beside the TLS port
    ports["badtls.test"] = server.start(TLS_HOSTS["badtls.test"], _server_tls(untrusted, "badtls.test"))
    yield Web(server, ports, {**PLAIN_HOSTS, **TLS_HOSTS}, ca_file)
    server.stop()


def _server_tls(ca: trustme.CA, *hosts: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hosts).configure_cert(context)
    return context
