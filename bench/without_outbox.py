"""A bench-only switch: ``pyramid.includes = bench.without_outbox`` makes the actions of
that server write no event, so that the webhook bench can time a vote with and without the
outbox in the same run. Never part of the service: every action of it writes its event."""

from __future__ import annotations

from pyramid.config import Configurator

from backfeed_api.domain import events


def _write_nothing(*_args, **_kwargs) -> None:
    """What :func:`backfeed_api.domain.events.record` does on this server: nothing."""


def includeme(config: Configurator) -> None:
    """Replace the outbox's one write, which every action calls through its module."""
    events.record = _write_nothing
