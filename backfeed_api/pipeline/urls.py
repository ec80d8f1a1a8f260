"""The base of the absolute URLs the service gives out: ``backfeed.public_url`` when it is set.

Pyramid builds absolute URLs (``request.route_url``, and so the ``Location`` of a created
object and the contract URLs of ``GET /``) on ``request.application_url``, which WebOb reads
from the request: its ``Host`` header, or the ``X-Forwarded-*`` headers a trusted proxy
passed on. With ``backfeed.public_url`` set, the request's ``application_url`` and
``host_url`` are that URL instead, whatever the request says; idempotent replays keep their
``Location`` relative to it (:mod:`backfeed_api.pipeline.idempotency`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pyramid.config import Configurator

from ..settings import PUBLIC_URL


def includeme(config: Configurator) -> None:
    """Put ``backfeed.public_url``, when it is set, under every absolute URL."""
    base = PUBLIC_URL.read(config.get_settings())
    if base is None:
        return
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    config.add_request_method(lambda request: base, "application_url", property=True)
    config.add_request_method(lambda request: origin, "host_url", property=True)
