"""Reach: did a run reach the network at all?

On a machine whose network is down (a laptop off Wi-Fi, a CI runner without egress)
every URL fails at DNS or at connect, and without this check every link would count a
failure toward "dead". A run is judged unreachable when:

- canary URLs are configured (`fetch.canaries`) and none of them answered anything; when
  they are configured they alone decide, so a blog whose every cited host is gone can
  still be audited;
- else, when at least `MIN_HOSTS` hosts were tried and not one of them answered: every
  URL of every host failed at DNS or at connect. A resolver hiccup on one host, or one
  site down, is an outage of that site, not of the network.

Such a run is marked in the history and does not count (`History.finish_run`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.fetch.errors import CONNECT_TIMEOUT_DETAIL
from archiver.fetch.network import NAME_RESOLUTION_FAILED
from archiver.model import FetchResult, Status

__all__ = ["MIN_HOSTS", "Unreachable", "failed_at_connect", "failed_at_dns", "reached", "unreachable"]

MIN_HOSTS = 3  # fewer hosts than this all failing is what a few dead sites look like


@dataclass(frozen=True)
class Unreachable:
    """Why a run looked like it had no network: what was tried, and how it failed."""

    hosts: int  # hosts tried (or canaries, when they decided)
    at_dns: int
    at_connect: int
    by_canaries: bool = False

    def __str__(self) -> str:
        tried = "configured canary URLs" if self.by_canaries else "hosts"
        return (
            f"the network looked unreachable: {self.hosts} of {self.hosts} {tried} failed at DNS/connect "
            f"({self.at_dns} at DNS, {self.at_connect} at connect); this run does not count"
        )


def failed_at_dns(result: FetchResult) -> bool:
    """The URL's host name did not resolve (no such name, or no resolver answered)."""
    if result.hops or result.code is not None:
        return False
    return result.status is Status.DNS_FAILURE or (
        result.status is Status.NETWORK_ERROR and NAME_RESOLUTION_FAILED in result.detail
    )


def failed_at_connect(result: FetchResult) -> bool:
    """No connection to the URL's host could be made (refused, unreachable, timed out)."""
    if result.hops or result.code is not None or failed_at_dns(result):
        return False
    if result.status is Status.TIMEOUT:
        return result.detail == CONNECT_TIMEOUT_DETAIL
    return result.status in (Status.REFUSED, Status.NETWORK_ERROR)


def reached(result: FetchResult) -> bool:
    """The fetch got past DNS and connect: some server took part in it."""
    return not failed_at_dns(result) and not failed_at_connect(result)


def unreachable(results: Iterable[FetchResult], canaries: Sequence[FetchResult] = ()) -> Unreachable | None:
    """Why the run looked like it had no network; None when it reached it (or cannot tell)."""
    if canaries:
        return None if any(map(reached, canaries)) else _failed(canaries, by_canaries=True)
    by_host: dict[str, list[FetchResult]] = {}
    for result in results:
        by_host.setdefault(urlsplit(result.url).hostname or "", []).append(result)
    if len(by_host) < MIN_HOSTS or any(reached(result) for group in by_host.values() for result in group):
        return None
    return _failed([group[0] for group in by_host.values()])


def _failed(results: Sequence[FetchResult], by_canaries: bool = False) -> Unreachable:
    at_dns = sum(map(failed_at_dns, results))
    return Unreachable(len(results), at_dns, len(results) - at_dns, by_canaries)
