"""The demo community at start-up (``backfeed.demo``), with the events the API writes."""

from __future__ import annotations

from pyramid.config import Configurator

from ..domain.demo import seed_empty_contracts
from .outbox import ActionEvents


def includeme(config: Configurator) -> None:
    """With ``backfeed.demo``, seed every empty contract at start-up and log the logins;
    each action writes its event as through the API (:class:`.outbox.ActionEvents`)."""
    seed_empty_contracts(config, ActionEvents)
