"""The service's notion of "now", replaceable in the registry for tests and simulations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pyramid.config import Configurator

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z``, as every answer shows times."""
    return moment.isoformat().replace("+00:00", "Z")


def includeme(config: Configurator) -> None:
    """Expose ``request.now``: one timestamp for everything a request writes."""
    config.registry.setdefault("clock", utc_now)
    config.add_request_method(lambda request: request.registry["clock"](), "now", reify=True)
