"""Where the fetcher may connect: name resolution and the address policy, at connect time.

Every TCP connection the HTTP client opens goes through `GuardedBackend`. It resolves
the host itself (after any `resolve` override, like curl's `--resolve`), refuses every
address that is not public unless an allowed network contains it, and connects to the
address it checked. Because the check is made on the address actually connected to,
DNS rebinding and redirects to internal hosts are caught as well as direct links.

Through a proxy the proxy resolves and connects, so the guard cannot see the address
used: `GuardedBackend.check_through_proxy` checks, before each request, what this
machine can see of the host (an address literal, a `resolve` override, what the local
resolver answers), and lets a name the local resolver does not know go to the proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping

import httpcore

from archiver.fetch.streams import AsyncioBackend

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_CARRYING_IPV4_IN_LAST_32_BITS = tuple(
    ipaddress.IPv6Network(n)
    for n in ("::ffff:0:0/96", "::/96", "::ffff:0:0:0/96", "64:ff9b::/96")  # mapped, compatible, translated, NAT64
)
_NEVER_PUBLIC_V6 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b:1::/48", "fec0::/10"))  # local NAT64, site-local
_NO_SUCH_NAME = frozenset(code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None)


class NameNotFound(httpcore.ConnectError):
    """The host name does not resolve (NXDOMAIN or no address)."""


class ResolverFailed(httpcore.ConnectError):
    """No resolver answered for the host name (none reachable, or a temporary failure)."""


NAME_RESOLUTION_FAILED = "name resolution failed"  # in the message of every ResolverFailed


class AddressBlocked(httpcore.ConnectError):
    """Every address of the host is one the policy refuses to connect to."""


def is_public(address: IPAddress) -> bool:
    """True for a globally routable unicast address.

    Loopback, private, link-local (cloud metadata at 169.254.169.254 included), shared,
    multicast, reserved and unspecified addresses are not public, nor are IPv6 addresses
    that carry one of them (IPv4-mapped, IPv4-compatible, IPv4-translated, 6to4, NAT64)
    or that reach a local network (site-local, local-use NAT64).
    """
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NEVER_PUBLIC_V6):
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that do."""
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _CARRYING_IPV4_IN_LAST_32_BITS):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


class AddressPolicy:
    """Which addresses the fetcher may connect to: public ones, and the allowed networks."""

    def __init__(self, allowed: Iterable[IPNetwork] = ()) -> None:
        self._allowed = tuple(allowed)

    def permits(self, address: IPAddress) -> bool:
        """True when a connection to `address` is allowed."""
        return is_public(address) or any(address in network for network in self._allowed)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, then connects."""

    def __init__(self, policy: AddressPolicy, overrides: Mapping[str, str] | None = None) -> None:
        self._policy = policy
        self._overrides = {host.lower(): address for host, address in (overrides or {}).items()}
        self._inner = AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        permitted = [address for address in addresses if self._policy.permits(address)]
        if not permitted:
            shown = ", ".join(str(a) for a in addresses)
            raise AddressBlocked(f"{host} resolves to {shown}, which is not a public address and is not allowed")
        return await self._connect_first(permitted, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def check_through_proxy(self, host: str, port: int, timeout: float | None = None) -> None:
        """Raise AddressBlocked when a request to `host` sent through a proxy would reach
        an address the policy refuses, as far as this machine can tell: the proxy
        connects by name, so only an address literal, a `resolve` override or what the
        local resolver answers can be checked (every address it gives must be permitted).
        A name the local resolver does not know is left to the proxy, which may know it."""
        try:
            addresses = await self._resolve(host, port, timeout)
        except (NameNotFound, ResolverFailed, httpcore.ConnectTimeout):
            return
        refused = [address for address in addresses if not self._policy.permits(address)]
        if refused:
            shown = ", ".join(str(a) for a in refused)
            raise AddressBlocked(f"{host} resolves to {shown}, which is not a public address and is not allowed")

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        host = host.strip("[]").lower()
        literal = self._overrides.get(host, host)
        try:
            return [ipaddress.ip_address(literal)]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(timeout):
                infos = await asyncio.get_running_loop().getaddrinfo(literal, port, type=socket.SOCK_STREAM)
        except UnicodeError as error:  # an empty or over-long label: no such name can exist
            raise NameNotFound(f"{host}: not a valid host name ({error})") from error
        except socket.gaierror as error:
            if error.errno in _NO_SUCH_NAME:
                raise NameNotFound(f"{host}: {error.strerror or error}") from error
            raise ResolverFailed(f"{host}: {NAME_RESOLUTION_FAILED}: {error.strerror or error}") from error
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"{host}: name resolution timed out") from error
        return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))

    async def _connect_first(
        self,
        addresses: list[IPAddress],
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failure:
                error = failure
        assert error is not None  # addresses is never empty here
        raise error
