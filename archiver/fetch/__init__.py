"""Fetch: links -> captures. Retrieve each URL politely and safely, keeping the exact bytes.

`Fetcher.fetch(url)` follows redirects itself (each hop is an `Exchange`, its body
streamed to a temporary file as it arrives, never held whole in memory), retries where
a retry can help, and returns a `Capture`: the `FetchResult` and the exchanges of the
final attempt. A failing URL is a status in the result, never an exception.

Politeness and safety: a global and a per-host concurrency limit, an optional delay
between requests to one host, an honest User-Agent, optional robots.txt; connections
only to public addresses (see `network`), TLS always verified, a `user:password@` in a
URL or a redirect never sent (it is dropped from the URL). A host whose name does not
resolve, that refuses connections, or that times out before it answers is learned once
per run (see `hosts.HostMemory`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

from archiver import __version__
from archiver.config import FetchSettings
from archiver.fetch.errors import status_for_error
from archiver.fetch.hosts import HostMemory, HostQueue, HostSlots, RobotsRules
from archiver.fetch.network import AddressPolicy, GuardedBackend
from archiver.fetch.retry import retry_after_seconds, should_retry, wait_policy
from archiver.fetch.transport import (
    HostPoolTransport,
    SingleExchangeClient,
    idle_pools_for,
    proxy_choice,
    tls_context,
)
from archiver.model import (
    REDIRECT_CODES,
    Capture,
    Exchange,
    FetchBackend,
    FetchResult,
    Finisher,
    Hop,
    Status,
    Validators,
)
from archiver.redact import without_userinfo
from archiver.times import utc_now

__all__ = ["Fetcher", "opened", "user_agent", "user_agent_of"]

_log = logging.getLogger(__name__)

_SPOOL_IN_MEMORY = 1024 * 1024
_WINDOW_PER_SLOT = 4  # fetches started ahead, per slot of the global concurrency limit
_CHUNK_LIMIT = 64 * 1024
_TARGET_SHOWN = 200  # characters of a redirect target kept in a detail (a data: URL can be megabytes)


def user_agent(contact: str | None) -> str:
    """The User-Agent every request sends: the tool's name and version, and a contact."""
    return f"archiver/{__version__} (link archiver{'; +' + contact if contact else ''})"


def user_agent_of(settings: FetchSettings) -> str:
    """The User-Agent of these settings: the configured one, else archiver's own with the contact."""
    return settings.user_agent or user_agent(settings.contact)


@dataclass
class _Attempt:
    """One try at a URL, following its redirects."""

    status: Status
    code: int | None
    final_url: str
    exchanges: list[Exchange] = field(default_factory=list)
    detail: str = ""
    retry_after: float | None = None
    urgent: bool = False  # goes to the front of the host's queue (see Fetcher.fetch)
    contacted: bool = False  # True once a request of this attempt reached the network
    answering: bool = False  # True once the current request's answer has begun
    from_memory: bool = False  # True when the attempt ended on what the run knew of a host

    def discard(self) -> None:
        for exchange in self.exchanges:
            exchange.body.close()

    def end(self, status: Status, detail: str) -> bool:
        """End the attempt without an answer to its current request; always False."""
        self.status, self.code, self.detail = status, None, detail
        return False


class Fetcher:
    """Fetches URLs with the limits, retries and safety rules of its settings."""

    def __init__(
        self,
        settings: FetchSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        host_delays: dict[str, float] | None = None,
    ) -> None:
        """`transport` replaces the per-host guarded pools, for measuring alternatives;
        `host_delays` gives some hosts (web archives) their own delay instead of `host_delay`."""
        self._settings = settings
        self._host_delays = host_delays or {}
        backend = GuardedBackend(AddressPolicy(settings.allow_networks), settings.resolve)
        proxies = proxy_choice(settings.proxy, settings.trust_env)
        transport = transport or HostPoolTransport(
            tls_context(settings.ca_bundle),
            backend,
            settings.per_host,
            idle_pools_for(settings.per_host, settings.concurrency),
            proxies=proxies,
        )
        timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        headers = {"User-Agent": user_agent_of(settings), "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
        self._client = SingleExchangeClient(transport, timeout, headers)
        self._global = asyncio.Semaphore(settings.concurrency)
        # A single timeout is not enough to call a host hung, even when URLs get one attempt.
        self._hosts = HostMemory(hung_after=max(2, settings.attempts))
        self._host_slots: dict[str, HostSlots] = {}
        self._next_request_at: dict[str, float] = {}
        self._held_until: dict[str, float] = {}  # a rate-limited host's Retry-After, for all its requests
        self._robots = RobotsRules(self._client, user_agent_of(settings)) if settings.robots else None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def fetch_all(
        self, urls: Iterable[str], then: Finisher | None = None, validators: Mapping[str, Validators] | None = None
    ) -> AsyncIterator[Capture]:
        """Fetch every URL once, yielding captures as they complete; `then`, when given,
        finishes each capture inside its own task (so that its awaits run concurrently).
        A URL in `validators` is asked with a conditional request.

        Every host's first URL is started before any host's second, and a host never has
        more than a few of its URLs started at once (see `HostQueue`): so no host waits
        behind another host's queue, however the URLs are ordered. Only a window of
        fetches runs ahead of the consumer, so that captures not yet written cannot pile
        up; hosts' first URLs may fill a second window, so that where there are more hosts
        than one window holds, a slow consumer does not keep the last of them from being
        asked (a hung host among them, whose timeouts the whole run waits for).
        """
        lanes = self._settings.per_host * _WINDOW_PER_SLOT  # a host's share: as many per slot as the window's
        queue = HostQueue(dict.fromkeys(urls), _host_or_nothing, lanes)
        running: set[asyncio.Task[Capture]] = set()
        unyielded: list[asyncio.Task[Capture]] = []
        window = self._settings.concurrency * _WINDOW_PER_SLOT
        known = validators if validators is not None else {}  # may be worked out a URL at a time
        try:
            while True:
                self._start_more(queue, running, window, then, known)
                if not running:
                    return
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                unyielded = list(done)
                while unyielded:
                    yield unyielded.pop().result()
        finally:
            await _stopped(running, unyielded)

    def _start_more(
        self,
        queue: HostQueue,
        running: set[asyncio.Task[Capture]],
        window: int,
        then: Finisher | None,
        validators: Mapping[str, Validators],
    ) -> None:
        """Start URLs while the window has room; hosts' first URLs may fill a second one."""
        while len(running) < 2 * window:
            url = queue.take(first_only=len(running) >= window)
            if url is None:
                return
            running.add(asyncio.ensure_future(self._fetch_and_finish(url, then, queue, validators.get(url))))

    async def _fetch_and_finish(
        self, url: str, then: Finisher | None, queue: HostQueue, validators: Validators | None
    ) -> Capture:
        try:
            capture = await self.fetch(url, validators=validators)
        finally:
            queue.finished(url)
        if then is None:
            return capture
        try:
            return await then(capture)
        except BaseException:
            capture.close()
            raise

    async def fetch(
        self, url: str, urgent: bool = False, follow: bool = True, validators: Validators | None = None
    ) -> Capture:
        """Fetch one URL, following redirects (unless not to `follow` them) and retrying
        where that can help. With `validators` (what the server said of the answer
        captured before), the first request is conditional: a 304 says it is unchanged.

        An `urgent` fetch (a probe that other captures wait on) goes to the front of the
        host's queue instead of waiting behind the host's other URLs.
        """
        started, checked_at = time.monotonic(), utc_now()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.attempts),
            wait=wait_policy(self._settings.backoff, self._settings.backoff_max, self._settings.retry_after_max),
            retry=retry_if_result(self._worth_retrying),
            before_sleep=_discard_attempt,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        try:
            attempt: _Attempt = await retrying(self._attempt, url, urgent, follow, validators)
        except Exception as error:  # noqa: BLE001 - a fault with one URL must not end a nightly run
            _log.exception("unexpected error fetching %s", url)
            attempt = _Attempt(Status.NETWORK_ERROR, None, url, detail=f"internal error: {error!r}")
        contacted = int(retrying.statistics.get("attempt_number", 1)) - (0 if attempt.contacted else 1)
        return Capture(
            result=FetchResult(
                url=url,
                status=attempt.status,
                code=attempt.code,
                final_url=attempt.final_url,
                hops=tuple(Hop(e.url, e.code, e.location()) for e in attempt.exchanges),
                attempts=contacted,
                duration=time.monotonic() - started,
                checked_at=checked_at,
                detail=attempt.detail,
                size=sum(e.body_size for e in attempt.exchanges),
                payload_digest=attempt.exchanges[-1].payload_digest if attempt.exchanges else "",
                validators=Validators.of(attempt.exchanges[-1].response_headers) if attempt.exchanges else Validators(),
            ),
            exchanges=tuple(attempt.exchanges),
        )

    def _worth_retrying(self, attempt: _Attempt) -> bool:
        # An answer from what the run already knows about a host would not change.
        return not attempt.from_memory and should_retry(attempt, self._settings.retry_codes)

    async def _attempt(self, url: str, urgent: bool, follow: bool, validators: Validators | None) -> _Attempt:
        attempt = _Attempt(Status.NETWORK_ERROR, None, without_userinfo(url), urgent=urgent)
        visited = {attempt.final_url}
        conditional = validators.request_headers() if validators else {}
        while await self._exchange_into(attempt, conditional if not attempt.exchanges else {}) and follow:
            location = attempt.exchanges[-1].location()
            if location is None:
                break
            try:
                target = without_userinfo(_without_fragment(urljoin(attempt.final_url, location)))
            except ValueError as error:
                attempt.status, attempt.detail = Status.UNSUPPORTED, f"redirect to an invalid URL {location!r}: {error}"
                break
            if not self._may_follow(attempt, target, visited):
                break
            visited.add(target)
            attempt.final_url = target
        return attempt

    def _may_follow(self, attempt: _Attempt, target: str, visited: set[str]) -> bool:
        if urlsplit(target).scheme not in ("http", "https"):
            attempt.status, attempt.detail = Status.UNSUPPORTED, _not_http_detail(target)
        elif (problem := _url_problem(target)) is not None:
            attempt.status, attempt.detail = Status.UNSUPPORTED, f"redirect to an invalid URL {target!r}: {problem}"
        elif target in visited:
            attempt.status, attempt.detail = Status.REDIRECT_LOOP, f"redirect back to {target}"
        elif len(attempt.exchanges) > self._settings.max_redirects:
            attempt.status = Status.TOO_MANY_REDIRECTS
            attempt.detail = f"more than {self._settings.max_redirects} redirects"
        else:
            return True
        return False

    async def _exchange_into(self, attempt: _Attempt, headers: Mapping[str, str]) -> bool:
        """Make one exchange for the attempt's current URL, with these extra request
        `headers`; False when the attempt is over."""
        url = attempt.final_url
        try:
            host, origin = _host_and_origin(url)
            request = self._client.build_request(url, headers=headers)
        except (httpx.InvalidURL, ValueError) as error:  # ValueError covers hosts that IDNA refuses
            return attempt.end(Status.UNSUPPORTED, f"not a fetchable URL: {error}")
        refusal = await self._robots.refusal(url, self._slot(host, attempt.urgent)) if self._robots else None
        if refusal is not None:
            return attempt.end(*refusal)
        try:
            exchange = await self._exchange_in_slot(attempt, request, host, origin)
        except TimeoutError:
            detail = f"no complete answer within {self._settings.total_timeout:g} s"
            self._hosts.record(host, origin, Status.TIMEOUT, detail, answered=attempt.answering)
            return attempt.end(Status.TIMEOUT, detail)
        except httpx.HTTPError as error:
            status, detail = status_for_error(error)
            self._hosts.record(host, origin, status, detail, answered=attempt.answering)
            return attempt.end(status, detail)
        if exchange is None:
            return False
        self._hosts.record(host, origin, Status.OK, "")
        self._take(attempt, exchange)
        if exchange.code in (429, 503):  # without Retry-After, as long as the longest backoff
            self._hold_host(host, attempt.retry_after or self._settings.backoff_max)
        return not exchange.truncated and attempt.status is not Status.BROKEN_REDIRECT

    async def _exchange_in_slot(
        self, attempt: _Attempt, request: httpx.Request, host: str, origin: str
    ) -> Exchange | None:
        """The exchange, made once the host has a slot; None when the host is known bad."""
        async with self._slot(host, attempt.urgent):
            # asked inside the slot, so that URLs queued behind a failing one learn from it
            known = self._hosts.verdict(host, origin)
            if known is not None:
                attempt.from_memory = True
                attempt.end(*known)
                return None
            attempt.contacted, attempt.answering = True, False
            async with asyncio.timeout(self._settings.total_timeout):  # the exchange, not the wait for a slot
                return await self._exchange(request, attempt)

    @staticmethod
    def _take(attempt: _Attempt, exchange: Exchange) -> None:
        attempt.exchanges.append(exchange)
        attempt.code = exchange.code
        attempt.retry_after = retry_after_seconds(exchange.header("Retry-After"))
        if exchange.truncated:
            attempt.status = Status.TOO_LARGE
            attempt.detail = f"stopped after {exchange.body_size} bytes, over the size limit"
        elif exchange.code in REDIRECT_CODES and exchange.location() is None:
            attempt.status, attempt.detail = Status.BROKEN_REDIRECT, f"{exchange.code} without a Location header"
        else:
            attempt.status, attempt.detail = Status.from_code(exchange.code, len(attempt.exchanges) > 1), ""

    @asynccontextmanager
    async def _slot(self, host: str, urgent: bool = False) -> AsyncIterator[None]:
        slots = self._host_slots.setdefault(host, HostSlots(self._settings.per_host))
        async with slots.held(urgent), self._global:  # the host first: a waiting request must not hold a global slot
            await self._wait_turn(host)
            yield

    async def _wait_turn(self, host: str) -> None:
        delay = self._host_delays.get(host, self._settings.host_delay)
        while True:
            now = time.monotonic()
            start = max(now, self._held_until.get(host, now), self._next_request_at.get(host, now))
            if delay > 0:
                self._next_request_at[host] = start + delay
            if start > now:
                await asyncio.sleep(start - now)
            if self._held_until.get(host, 0.0) <= time.monotonic():  # not told to wait meanwhile
                return

    def _hold_host(self, host: str, seconds: float) -> None:
        """Keep every request to a rate-limited host (one with its own delay, such as a web
        archive) waiting for as long as its Retry-After asks, up to the configured ceiling."""
        if host not in self._host_delays:
            return
        until = time.monotonic() + min(seconds, self._settings.retry_after_max)
        self._held_until[host] = max(self._held_until.get(host, 0.0), until)

    async def _exchange(self, request: httpx.Request, attempt: _Attempt) -> Exchange:
        date = utc_now()
        response = await self._client.send(request)
        attempt.answering = True
        try:
            peer = _peer_address(response)
            body, size, digest, truncated = await self._spool(response)
        finally:
            await response.aclose()
        return Exchange(
            url=str(request.url),
            method=request.method,
            target=request.url.raw_path.decode("ascii"),
            request_headers=_latin1_pairs(request.headers.raw),
            http_version=response.http_version,
            code=response.status_code,
            reason=response.reason_phrase,
            response_headers=_latin1_pairs(response.headers.raw),
            body=body,
            body_size=size,
            payload_digest=digest,
            truncated=truncated,
            peer=peer,
            date=date,
        )

    async def _spool(self, response: httpx.Response) -> tuple[IO[bytes], int, str, bool]:
        body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - handed on
        digest, size, limit = hashlib.sha1(), 0, self._settings.max_body_bytes
        try:
            async for chunk in response.aiter_raw(_CHUNK_LIMIT):
                kept = chunk[: max(0, limit - size)]
                body.write(kept)
                digest.update(kept)
                size += len(kept)
                if len(kept) < len(chunk):
                    return _rewound(body), size, _sha1_label(digest), True
        except BaseException:
            body.close()
            raise
        return _rewound(body), size, _sha1_label(digest), False


@asynccontextmanager
async def opened(
    given: FetchBackend | None, settings: FetchSettings, host_delays: Mapping[str, float] | None = None
) -> AsyncIterator[FetchBackend]:
    """The backend `given` (its owner closes it), or a `Fetcher` of `settings`, with a
    delay between requests to each host of `host_delays`, closed afterwards."""
    if given is not None:
        yield given
        return
    async with Fetcher(settings, host_delays=dict(host_delays or {})) as fetcher:
        yield fetcher


def _host_and_origin(url: str) -> tuple[str, str]:
    """The host name and the scheme://host:port of a URL; ValueError when it has none."""
    parts = urlsplit(url)
    parts.port  # noqa: B018 - raises ValueError for a port out of range
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    return parts.hostname, f"{parts.scheme}://{parts.netloc}"


def _url_problem(url: str) -> str | None:
    """What keeps an http(s) URL from being fetched (no host, a port out of range), or None."""
    try:
        _host_and_origin(url)
    except ValueError as error:
        return str(error)
    return None


def _host_or_nothing(url: str) -> str:
    """The URL's host name; "" for a URL without one (fetching it will say what is wrong)."""
    try:
        return _host_and_origin(url)[0]
    except ValueError:
        return ""


def _discard_attempt(state: RetryCallState) -> None:
    if state.outcome is not None and not state.outcome.failed:
        state.outcome.result().discard()


def _peer_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    address = stream.get_extra_info("server_addr") if stream is not None else None
    return str(address[0]) if address else None


def _latin1_pairs(raw: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    return tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)


def _rewound(body: IO[bytes]) -> IO[bytes]:
    body.seek(0)
    return body


def _sha1_label(digest: hashlib._Hash) -> str:
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def _not_http_detail(target: str) -> str:
    """Why a redirect to another scheme is not followed, naming the scheme."""
    shown = target if len(target) <= _TARGET_SHOWN else target[:_TARGET_SHOWN] + "…"
    return f"redirect to {shown}: the scheme {urlsplit(target).scheme}: is not http(s)"


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


async def _stopped(running: set[asyncio.Task[Capture]], finished: list[asyncio.Task[Capture]]) -> None:
    """Stop the fetches still running and release every capture nobody will take, before
    the client closes: a run that ends on a fault (a full disk) ends quietly."""
    for task in running:
        task.cancel()
    outcomes = await asyncio.gather(*running, *finished, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Capture):
            outcome.close()
