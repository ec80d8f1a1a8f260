"""Where a webhook may point: an https URL of a public address, checked after resolving it.

The check runs when a subscription is registered and again before every delivery, which
then connects to the very address checked (a name that resolved to a public address when
registered may resolve to a private one later). ``backfeed.webhooks.allow_private_targets``
lifts it, for development and tests: any http or https URL, any address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ClientError

Resolver = Callable[[str, int], list[str]]
MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts, and the addresses it may be delivered to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (the system's resolver)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _public(address: str) -> bool:
    """Whether an address is one on the internet: not private, loopback, link-local,
    multicast, reserved or unspecified (an IPv4 address mapped in IPv6 as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class TargetRefused(ClientError):
    """A URL that a webhook may not deliver to (400)."""

    code = "webhook_target_refused"


def _refused(url: str, reason: str) -> TargetRefused:
    return TargetRefused(f"url {url!r} {reason}", "url")


def parse_target(url: str, allow_private: bool) -> Target:
    """The parts of a webhook URL, refused (:class:`TargetRefused`) unless it is an
    absolute https URL (http too with ``allow_private``) with a host and no credentials."""
    if len(url) > MAX_URL_LENGTH:
        raise _refused(url[:50] + "…", f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused(url, "is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise _refused(url, f"must start with {' or '.join(s + '://' for s in schemes)}")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise _refused(url, "must name a host, without a user name or password")
    if parts.fragment:
        raise _refused(url, "must not have a fragment (#)")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, parts.hostname, port or default_port, ())


def check_target(url: str, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """:func:`parse_target`, and the host resolved: every address it resolves to must be
    public unless ``allow_private``. The target with the addresses to connect to."""
    target = parse_target(url, allow_private)
    try:
        addresses = tuple(dict.fromkeys(resolver(target.host, target.port)))
    except (OSError, UnicodeError):
        raise _refused(url, "names a host that does not resolve") from None
    if not addresses:
        raise _refused(url, "names a host that does not resolve")
    if not allow_private and not all(_public(address) for address in addresses):
        raise _refused(
            url, "points at a private, loopback, link-local or multicast address, not allowed"
        )
    return Target(target.url, target.scheme, target.host, target.port, addresses)
