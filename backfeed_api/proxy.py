"""The reverse proxy's ``X-Forwarded-*`` headers, believed from the proxy alone (a Paste filter).

Behind the reverse proxy, the server sees every request come from the proxy's address. The
service needs the client's: login throttling counts failures per client address, and
``Location`` headers and contract URLs carry the public scheme, host and port. gunicorn
leaves ``REMOTE_ADDR`` as the peer that connected (it only takes the scheme from a trusted
proxy), so ``production.ini`` puts this filter in front of the application
(``filter-with = proxy`` in ``[app:main]``, ``use = egg:backfeed-api#proxy`` in
``[filter:proxy]``).

The filter is waitress's own handling of these headers, with waitress's settings:
``trusted_proxy`` (the proxy's address), ``trusted_proxy_count``, ``trusted_proxy_headers``
(which of ``x-forwarded-for``, ``x-forwarded-host``, ``x-forwarded-proto``,
``x-forwarded-port``, ``x-forwarded-by`` and ``forwarded`` to believe) and
``clear_untrusted_proxy_headers``. From the trusted address, the headers named replace the
client address, host, scheme and port of the request; from any other, and the headers not
named, they are removed before the application sees them, so a client cannot claim another
address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from waitress.adjustments import Adjustments
from waitress.proxy_headers import proxy_headers_middleware

SETTINGS = (
    "trusted_proxy",
    "trusted_proxy_count",
    "trusted_proxy_headers",
    "clear_untrusted_proxy_headers",
    "log_untrusted_proxy_headers",
)

WSGIApp = Callable[..., Any]


def filter_factory(
    global_conf: Mapping[str, Any], **settings: str
) -> Callable[[WSGIApp], WSGIApp]:
    """The ``paste.filter_factory`` ``egg:backfeed-api#proxy``: the settings are checked as
    waitress checks them (a ValueError for an unknown one or a bad value), at start-up."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings of the proxy filter: {', '.join(unknown)}")
    adjustments = Adjustments(**settings)

    def wrap(app: WSGIApp) -> WSGIApp:
        return proxy_headers_middleware(
            app,
            trusted_proxy=adjustments.trusted_proxy,
            trusted_proxy_count=adjustments.trusted_proxy_count,
            trusted_proxy_headers=adjustments.trusted_proxy_headers,
            clear_untrusted=adjustments.clear_untrusted_proxy_headers,
            log_untrusted=adjustments.log_untrusted_proxy_headers,
        )

    return wrap
