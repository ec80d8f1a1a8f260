"""The worker's first job: deliver the events of every due webhook subscription.

Each call claims one due subscription (:func:`backfeed_api.domain.webhooks.claim`) and reads
its next events in the same short transaction, checks and resolves its URL, sends the events
in order outside any transaction, stopping at the first failure or when the lease would run
out before another attempt could end, and records the attempts
(:func:`~backfeed_api.domain.webhooks.finish`): two transactions of two statements per
claim, whatever the number of events it delivers, each on a connection of its own from the
pool and in SQLAlchemy Core: a claim is a few rows, and an ORM session around each cost as
much as the rest of a delivery.
"""

from __future__ import annotations

import random

from ..domain import webhooks
from ..domain.webhooks import Attempt, Claim, PendingEvent
from .delivery import Sender
from .runner import WorkerContext

BATCH = 100
"""The most events sent to one subscription per claim."""
LEASE_TIMEOUTS = 3
"""A claim's lease, in delivery timeouts: long enough for the attempt under way to end."""


class WebhookRunner:
    """Delivers webhooks for one worker thread, over its own connections."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.options = context.events
        self.sender = Sender(self.options)
        self.rng = random.Random()
        self.engine = context.session_factory.kw["bind"]

    def __call__(self) -> bool:
        """Deliver to one due subscription; whether there was one."""
        context = self.context
        lease = self.options.timeout_seconds * LEASE_TIMEOUTS
        with self.engine.begin() as connection:
            claims = webhooks.claim(connection, context.clock(), lease, limit=1)
            batches = [(held, webhooks.pending_events(connection, held, BATCH)) for held in claims]
        for held, events in batches:
            self._deliver(held, events)
        return bool(claims)

    def _deliver(self, held: Claim, events: list[PendingEvent]) -> None:
        """Send the events, with no connection to the database held, then record the
        attempts."""
        context = self.context
        attempts: list[Attempt] = []
        done = held.last_event_id
        destination = self.sender.destination(held)
        for event in events:
            if held.types and event.type not in held.types:
                done = event.id
                continue
            now = context.clock()
            if (held.leased_until - now).total_seconds() < self.options.timeout_seconds * 2:
                break
            attempt = self.sender.send(destination, event, now)
            attempts.append(attempt)
            if not attempt.delivered:
                break
            done = event.id
        with self.engine.begin() as connection:
            webhooks.finish(connection, held, attempts, done, context.clock(), self.rng)

    def close(self) -> None:
        """Close the connections."""
        self.sender.close()
