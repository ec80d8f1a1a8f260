"""The client address of a request, as the service counts and stores it.

waitress puts the address in ``REMOTE_ADDR``: the socket's peer, or behind the reverse proxy
the address the proxy passes in ``X-Forwarded-For`` (``trusted_proxy`` in
``production.ini``). Either way it is text a client may have shaped, so it is read as an IP
address and nothing else: one that does not parse counts as no address at all, and one
that does is kept in its canonical form (at most 39 characters), so that one client is
one address however it was written.
"""

from __future__ import annotations

import ipaddress

from pyramid.config import Configurator


def parse_address(text: str | None) -> str | None:
    """``text`` as a canonical IP address, or None when it is not one.

    IPv6 is written compressed and in lower case; an IPv4 address mapped into IPv6
    (``::ffff:192.0.2.1``) is the IPv4 address; an IPv6 zone (``%eth0``) is dropped, since
    it only names an interface of this machine.
    """
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        address = ipaddress.IPv6Address(int(address))  # without its zone
    return str(address)


def client_address(request) -> str | None:
    """The address of the request's client, canonical, or None when it has no readable one
    (see the module). Login throttling and rate limits both key on it."""
    return parse_address(request.remote_addr)


def includeme(config: Configurator) -> None:
    """Expose :func:`client_address` as ``request.client_address``, read once per request."""
    config.add_request_method(client_address, "client_address", reify=True)
