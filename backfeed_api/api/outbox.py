"""The events of the actions, written as the API answers them.

An action's event holds the answer document of its ``POST``, rendered by the presenters,
plus the balances it moved (:func:`backfeed_api.domain.events.record`). The views write
their events through :class:`ActionEvents`, and so does the demo seeding
(:func:`backfeed_api.domain.demo.seed_community` takes one), so that a seeded community has
the same feed as one made through the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from ..domain import events
from ..domain.catalog import ServedContract
from ..domain.evaluations import VoteOutcome
from ..domain.events import Change
from ..models import Contribution, User
from .presenters import Presenter


class ActionEvents:
    """Renders each applied action as its answer and writes its event, in the action's own
    transaction (the caller holds the contract lock, as every action does)."""

    def __init__(self, session: Session, contract: ServedContract) -> None:
        self.session = session
        self.contract = contract

    def user(self, now: datetime, new: User, changes: Sequence[Change]) -> dict:
        """The answer to the creation of ``new``; its ``user.created`` event written."""
        rendered = Presenter(self.session, self.contract, now).user(new)
        events.record(self.session, self.contract, "user.created", rendered, changes, now)
        return rendered

    def contribution(self, now: datetime, new: Contribution, changes: Sequence[Change]) -> dict:
        """The answer to the creation of ``new``; its ``contribution.created`` event
        written."""
        rendered = Presenter(self.session, self.contract, now).contribution(new)
        events.record(self.session, self.contract, "contribution.created", rendered, changes, now)
        return rendered

    def vote(self, now: datetime, outcome: VoteOutcome) -> dict:
        """The answer to a vote applied; its ``evaluation.created`` event written when the
        vote was recorded (a repeat changes nothing and has none)."""
        presenter = Presenter(self.session, self.contract, now, outcome.total_reputation)
        rendered = presenter.vote(outcome)
        if outcome.created:
            events.record(
                self.session, self.contract, "evaluation.created", rendered, outcome.changes, now
            )
        return rendered
