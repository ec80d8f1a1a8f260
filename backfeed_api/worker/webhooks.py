"""The worker's first job: deliver the events of every due webhook subscription.

Each call claims one due subscription (:func:`backfeed_api.domain.webhooks.claim`), checks
and resolves its URL, sends its next events in order outside any transaction, stopping at
the first failure or when the lease would run out before another attempt could end, and
records the attempts
(:func:`~backfeed_api.domain.webhooks.finish`).
"""

from __future__ import annotations

import random

from ..domain import webhooks
from ..domain.webhook_targets import TargetRefused
from ..domain.webhooks import Attempt, Claim
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

    def __call__(self) -> bool:
        """Deliver to one due subscription; whether there was one."""
        context = self.context
        lease = self.options.timeout_seconds * LEASE_TIMEOUTS
        with context.session_factory() as session, session.begin():
            claims = webhooks.claim(session, context.clock(), lease, limit=1)
        for held in claims:
            self._deliver(held)
        return bool(claims)

    def _deliver(self, held: Claim) -> None:
        context = self.context
        with context.session_factory() as session:
            events = webhooks.pending_events(session, held, BATCH)
        attempts: list[Attempt] = []
        done = held.last_event_id
        try:
            target = self.sender.target(held)
        except TargetRefused as refusal:
            target = refusal
        for event in events:
            if held.types and event.type not in held.types:
                done = event.id
                continue
            now = context.clock()
            if (held.leased_until - now).total_seconds() < self.options.timeout_seconds * 2:
                break
            attempt = self.sender.send(held, target, event, now)
            attempts.append(attempt)
            if not attempt.delivered:
                break
            done = event.id
        with context.session_factory() as session, session.begin():
            webhooks.finish(session, held, attempts, done, context.clock(), self.rng)

    def close(self) -> None:
        """Close the connections."""
        self.sender.close()
