"""Sort a failed exchange into a status: the one constructor from an exception."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx

from archiver.fetch.network import AddressBlocked, NameNotFound, ResolverFailed
from archiver.model import Status

# Looked for anywhere in the exception's chain of causes, in this order.
_CAUSES: tuple[tuple[type[BaseException], Status], ...] = (
    (NameNotFound, Status.DNS_FAILURE),
    (ResolverFailed, Status.NETWORK_ERROR),
    (AddressBlocked, Status.BLOCKED),
    (ssl.SSLError, Status.TLS_ERROR),
    (ConnectionRefusedError, Status.REFUSED),
)
CONNECT_TIMEOUT_DETAIL = "no connection within the connect timeout"
READ_TIMEOUT_DETAIL = "no data within the read timeout"
# Then the kind of httpx error itself.
_TIMEOUT_DETAILS = {
    httpx.ConnectTimeout: CONNECT_TIMEOUT_DETAIL,
    httpx.ReadTimeout: READ_TIMEOUT_DETAIL,
    httpx.WriteTimeout: "could not send within the timeout",
    httpx.PoolTimeout: "no free connection within the timeout",
}
_ERRORS: tuple[tuple[type[httpx.HTTPError] | tuple[type[httpx.HTTPError], ...], Status], ...] = (
    (httpx.UnsupportedProtocol, Status.UNSUPPORTED),
    ((httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError), Status.RESET),
)


def status_for_error(error: httpx.HTTPError) -> tuple[Status, str]:
    """The status and a readable detail for an exception raised by an exchange."""
    causes = list(_chain(error))
    detail = _detail(causes) or type(error).__name__
    for cause_type, status in _CAUSES:
        matching = next((cause for cause in causes if isinstance(cause, cause_type)), None)
        if matching is not None:
            return status, str(matching).strip() or detail
    if isinstance(error, httpx.TimeoutException):
        return Status.TIMEOUT, _TIMEOUT_DETAILS.get(type(error), "timed out")
    for error_type, status in _ERRORS:
        if isinstance(error, error_type):
            return status, detail
    return Status.NETWORK_ERROR, detail


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _detail(causes: list[BaseException]) -> str:
    """The most specific message in the chain: the deepest one that says something."""
    return next((str(cause).strip() for cause in reversed(causes) if str(cause).strip()), "")
