"""Rate limits: how many logins, writes and reads one client may make in a window.

Every request routed to the API is charged to one client and one of three limits:

- a login (``POST /{contract}/auth``) to ``backfeed.rate_limit_logins``, always by the client
  address: a login ignores any token;
- another ``POST`` or a ``DELETE`` to ``backfeed.rate_limit_writes``, a batch of votes as
  many writes as it holds votes (:func:`charge_items`);
- a ``GET``, ``HEAD`` or ``OPTIONS`` to ``backfeed.rate_limit_reads``.

The client is the user that the request's valid bearer token speaks for (every token of one
user, however many logins made them, is one client), else the token itself (its stored id;
the development token is one client), and otherwise, an absent or refused token included,
the client address
(an IPv6 address by its /64 network, which one host usually holds whole). The charge is
taken once Pyramid has found the route, before it looks the URL's contract up (a made-up
contract name is a read charged like any other, then a 404) and before the view runs: before
any password hash, contract lock or write. Over the limit the answer is a ``429`` in the
JSON error shape, with ``Retry-After``; every charged answer carries the
``RateLimit-Policy`` and ``RateLimit`` header fields of the IETF httpapi draft
(``"writes";q=300;w=60`` and ``"writes";r=299;t=60``), so a client can slow down before it
is refused.

The counts are fixed windows of the ``limits`` library: one counter per client and limit,
which starts with the client's first request and expires after the window. A fixed window
costs one counter and one increment per request whatever the limit, where a moving window
keeps an entry per request counted; its price, up to twice the quota across the end of one
window and the start of the next, is acceptable for limits meant to stop floods. The window's
end is the counter's expiry, so ``Retry-After`` and ``t`` say when counting restarts (rounded
up to the second: waiting that long is enough).

The counters live in ``backfeed.rate_limit_storage_url``: in this process's memory by
default (one process, ``pserve development.ini``), in Redis when several processes serve
(``production.ini``), so that every process counts against the same limits. When the store
fails (Redis unreachable, or slower than :data:`STORE_TIMEOUT`), requests are served without
limits for :data:`PAUSE_SECONDS`, and a warning is logged: the limits protect the service's
capacity, so the service stays up rather than refusing every request for want of a counter.
Passwords stay guarded meanwhile by the login throttle, counted in the database.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import storage_from_string
from pyramid.config import Configurator
from pyramid.events import BeforeTraversal
from pyramid.httpexceptions import HTTPTooManyRequests

from protocol import ConfigurationError

from ..settings import RateLimits, rate_limits

log = logging.getLogger(__name__)

LOGINS, WRITES, READS = "logins", "writes", "reads"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_ROUTE = "auth"
CHARGED = "backfeed_api.rate_limit"
"""The environ key of a request's charge, kept for pyramid_retry's further attempts."""
STORE_TIMEOUT = 0.25
"""Seconds to wait for Redis, to connect or to answer, before serving without limits."""
PAUSE_SECONDS = 5.0
"""How long a process serves without limits after the store failed, before trying again."""
IPV6_NETWORK = 64


def address_key(address: str | None) -> str:
    """The part of a canonical client address (``request.client_address``) that counts: an
    IPv4 address, or an IPv6 address's /64; requests with no readable address share one."""
    if address is None:
        return ""
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_NETWORK), strict=False))
    return address


def limit_of(request) -> str:
    """Which limit the request is charged to: :data:`LOGINS`, :data:`WRITES` or
    :data:`READS`."""
    if request.method in READ_METHODS:
        return READS
    route = request.matched_route
    if route is not None and route.name == LOGIN_ROUTE and request.method == "POST":
        return LOGINS
    return WRITES


def client_of(request, limit: str) -> str:
    """Whom the request is charged to: the user its valid token speaks for, else the token,
    else its address (see the module)."""
    if limit != LOGINS:
        identity = request.identity
        if identity is not None and identity.user_id is not None:
            return f"user:{identity.contract_id}:{identity.user_id}"
        userid = request.authenticated_userid  # ``token:<id>``, or ``settings``
        if userid is not None:
            return userid
    return "address:" + address_key(request.client_address)


@dataclass(frozen=True)
class Charge:
    """A request's charge to one limit: whether it was allowed, and what is left."""

    name: str
    quota: int
    window: int
    remaining: int
    reset_after: int
    """Seconds until the window ends and the count starts again: at least 1, at most the
    window, and never short (Redis keeps expiries in whole seconds, rounded down)."""
    allowed: bool

    def headers(self) -> dict[str, str]:
        """The draft's ``RateLimit-Policy`` (the limit) and ``RateLimit`` (what is left)."""
        return {
            "RateLimit-Policy": f'"{self.name}";q={self.quota};w={self.window}',
            "RateLimit": f'"{self.name}";r={self.remaining};t={self.reset_after}',
        }


class RateLimiter:
    """The three limits of the settings, counted in their store by fixed windows.

    A window is counted as ``limits``'s ``FixedWindowRateLimiter`` counts it, one counter
    that its first increment creates with the window's expiry, but read from the increment
    itself: one round trip to Redis fewer than ``hit`` then ``get_window_stats``, and the
    count this request made rather than one read after other requests.
    """

    def __init__(self, settings: RateLimits) -> None:
        try:
            storage = storage_from_string(
                settings.storage_url,
                key_prefix=settings.key_prefix,
                wrap_exceptions=True,
                socket_timeout=STORE_TIMEOUT,
                socket_connect_timeout=STORE_TIMEOUT,
            )
        except ValueError as error:  # a Redis URL that redis-py cannot read
            raise ConfigurationError(f"backfeed.rate_limit_storage_url: {error}") from None
        self.storage = storage
        self.limits: dict[str, RateLimitItem] = {
            LOGINS: settings.logins,
            WRITES: settings.writes,
            READS: settings.reads,
        }
        self.paused_until = 0.0

    def charge(self, limit: str, client: str, cost: int = 1) -> Charge | None:
        """Count ``cost`` requests of ``client`` against ``limit`` (one, but for a batch);
        None when the store failed (then nothing is counted, see the module)."""
        if time.monotonic() < self.paused_until:
            return None
        item = self.limits[limit]
        # A bounded key whatever the client sent.
        digest = hashlib.sha256(client.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        key = item.key_for(limit, digest)
        try:
            used = self.storage.incr(key, item.get_expiry(), amount=cost)
            reset_time = self.storage.get_expiry(key)
        except StorageError as error:
            self.paused_until = time.monotonic() + PAUSE_SECONDS
            log.warning(
                "rate limits are off for %.0f s: their store failed: %s",
                PAUSE_SECONDS,
                error.storage_error,
            )
            return None
        return Charge(
            name=limit,
            quota=item.amount,
            window=item.get_expiry(),
            remaining=max(0, item.amount - used),
            reset_after=min(item.get_expiry(), math.ceil(reset_time - time.time()) + 1),
            allowed=used <= item.amount,
        )


REFUSALS = {
    LOGINS: "too many logins from this address",
    WRITES: "too many writes from this client",
    READS: "too many reads from this client",
}


def charge_request(event: BeforeTraversal) -> None:
    """Charge the routed request to its limit; refuse it with a 429 when over the limit.

    Every answer to it, the refusal included, gets the ``RateLimit`` header fields.
    """
    request = event.request
    if CHARGED in request.environ:  # a further attempt of pyramid_retry: charged already
        charge = request.environ[CHARGED]
    else:
        limit = limit_of(request)
        charge = request.registry["rate_limiter"].charge(limit, client_of(request, limit))
        request.environ[CHARGED] = charge
    _answer(request, charge)


CHARGED_ITEMS = "backfeed_api.rate_limit_items"
"""The environ key of a batch's further charge, kept for pyramid_retry's further attempts."""


def charge_items(request, count: int) -> None:
    """Charge a write that holds ``count`` items (a batch of votes) as ``count`` writes: the
    request itself was charged one when it was routed, this charges the others, before any
    of them is applied, and refuses the whole request with a 429 when they pass the limit."""
    limiter: RateLimiter | None = request.registry.get("rate_limiter")
    if limiter is None or count <= 1:
        return
    if CHARGED_ITEMS in request.environ:
        charge = request.environ[CHARGED_ITEMS]
    else:
        charge = limiter.charge(WRITES, client_of(request, WRITES), cost=count - 1)
        request.environ[CHARGED_ITEMS] = charge
    _answer(request, charge)


def _answer(request, charge: Charge | None) -> None:
    """Put the charge's fields on every answer to the request; refuse it when over."""
    if charge is None:
        return
    request.add_response_callback(lambda _, response: response.headers.update(charge.headers()))
    if not charge.allowed:
        raise HTTPTooManyRequests(
            f"{REFUSALS[charge.name]}; try again in {charge.reset_after} s",
            headers={"Retry-After": str(charge.reset_after)},
        )


def includeme(config: Configurator) -> None:
    """Install the limits of the settings, unless ``backfeed.rate_limits`` is false."""
    settings = rate_limits(config.get_settings())
    if not settings.enabled:
        return
    limiter = config.registry["rate_limiter"] = RateLimiter(settings)
    if not limiter.storage.check():
        # Not the URL: it may hold Redis's password.
        log.warning("the rate limits' store does not answer: no limits until it does")
    config.add_subscriber(charge_request, BeforeTraversal)
