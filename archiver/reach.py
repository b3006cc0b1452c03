"""Reach: did a run reach the network at all?

On a machine whose network is down (a laptop off Wi-Fi, a CI runner without egress)
every URL fails at DNS or at connect, and without this check every link would count a
failure toward "dead". A run is judged unreachable when nothing in it reached a server
(no answer, no TLS handshake, no connection that broke mid-answer) and either:

- canary URLs are configured (`fetch.canaries`) and none of them answered: a canary that
  answers makes the run count, so a blog whose every cited host is gone can still be
  audited, and a run where other hosts answered counts even when the canary's is down;
- or, without canaries, at least `MIN_HOSTS` hosts were tried and every URL of every one
  of them failed at DNS or at connect. A resolver hiccup on one host, or one site down
  among live ones, is an outage of that site, not of the network.

What says nothing either way (a URL the fetcher refused to fetch: a private address, an
unsupported scheme, robots.txt) is left out. The whole run is judged, its checks from
before an interruption included. Such a run is marked in the history and does not count
(`History.finish_run`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import urlsplit

from archiver.fetch.errors import CONNECT_TIMEOUT_DETAIL, READ_TIMEOUT_DETAIL
from archiver.fetch.network import NAME_RESOLUTION_FAILED
from archiver.model import Status

__all__ = ["MIN_HOSTS", "Outcome", "Unreachable", "failed_at_connect", "failed_at_dns", "reached", "unreachable"]

MIN_HOSTS = 3  # fewer hosts than this all failing is what a few dead sites look like
_CONNECTED = frozenset({Status.TLS_ERROR, Status.RESET})  # the host took the connection, then failed


class Outcome(Protocol):
    """What one fetch ended in, as a `FetchResult` or a stored `Check` tells it."""

    @property
    def url(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def code(self) -> int | None: ...
    @property
    def final_url(self) -> str: ...
    @property
    def detail(self) -> str: ...


CONFIGURED = "configured canary URLs"
WITNESSES = "sites of links alive at their last check (asked for robots.txt, as no canary is configured)"


@dataclass(frozen=True)
class Unreachable:
    """Why a run looked like it had no network: what was tried, and how it failed."""

    hosts: int  # hosts tried (or canaries, when they decided)
    at_dns: int
    at_connect: int
    by_canaries: bool = False
    canaries_are: str = CONFIGURED  # what the canaries were, when they decided

    def __str__(self) -> str:
        tried = self.canaries_are if self.by_canaries else "hosts"
        return (
            f"the network looked unreachable: {self.hosts} of {self.hosts} {tried} failed at DNS/connect "
            f"({self.at_dns} at DNS, {self.at_connect} at connect); this run does not count"
        )


def _answered(outcome: Outcome) -> bool:
    return outcome.code is not None or outcome.final_url != outcome.url  # an answer, or a redirect followed


def failed_at_dns(outcome: Outcome) -> bool:
    """The URL's host name did not resolve (no such name, or no resolver answered)."""
    if _answered(outcome):
        return False
    return outcome.status is Status.DNS_FAILURE or (
        outcome.status is Status.NETWORK_ERROR and NAME_RESOLUTION_FAILED in outcome.detail
    )


def failed_at_connect(outcome: Outcome) -> bool:
    """No connection to the URL's host could be made (refused, unreachable, timed out)."""
    if _answered(outcome) or failed_at_dns(outcome):
        return False
    if outcome.status is Status.TIMEOUT:  # the detail of a host the run learned was timing out ends so too
        return outcome.detail.endswith(CONNECT_TIMEOUT_DETAIL)
    return outcome.status is Status.REFUSED or (
        outcome.status is Status.NETWORK_ERROR and not outcome.detail.startswith("internal error")
    )


def reached(outcome: Outcome) -> bool:
    """A server took part in the fetch: it answered, or took the connection and then failed."""
    if _answered(outcome) or outcome.status in _CONNECTED:
        return True
    return outcome.status is Status.TIMEOUT and outcome.detail.endswith(READ_TIMEOUT_DETAIL)


def unreachable(
    outcomes: Iterable[Outcome], canaries: Sequence[Outcome | None] = (), canaries_are: str = CONFIGURED
) -> Unreachable | None:
    """Why the run looked like it had no network; None when it reached it (or cannot tell).
    A canary that could not be fetched at all is given as None; `canaries_are` says what
    they were (`CONFIGURED`, or `WITNESSES`)."""
    failed_hosts: dict[str, Outcome] = {}
    for outcome in outcomes:
        if reached(outcome):
            return None
        if failed_at_dns(outcome) or failed_at_connect(outcome):
            failed_hosts.setdefault(urlsplit(outcome.url).hostname or "", outcome)
    if canaries:
        answers = [canary for canary in canaries if canary is not None]
        if any(map(reached, answers)):
            return None
        return replace(_failed(answers, len(canaries), by_canaries=True), canaries_are=canaries_are)
    return _failed(list(failed_hosts.values()), len(failed_hosts)) if len(failed_hosts) >= MIN_HOSTS else None


def _failed(outcomes: Sequence[Outcome], tried: int, by_canaries: bool = False) -> Unreachable:
    return Unreachable(tried, sum(map(failed_at_dns, outcomes)), sum(map(failed_at_connect, outcomes)), by_canaries)
