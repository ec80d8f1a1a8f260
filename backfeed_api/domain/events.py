"""The outbox: one event per committed action, written in the action's own transaction.

Every action that changes a contract calls :func:`record` once it is applied, before its
transaction commits: a refused or rolled-back action leaves no event, a committed one always
has its event. The action holds the contract lock, so a contract's events get increasing ids
in commit order, and a reader that has seen the event ``n`` never later finds one below it.
Webhook deliveries (:mod:`.webhooks`) and the feed (:func:`list_events`) read from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, func, insert, select
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from protocol import BalanceChanges

from ..models import Event, dialect_of
from ..models.notifications import CHANNEL

if TYPE_CHECKING:  # the catalog records the versions the settings make, with their events
    from .catalog import ServedContract

EVENT_TYPES = ("user.created", "contribution.created", "evaluation.created", "contract.updated")
"""The types of event an action records; :func:`record` takes others from later actions."""
EVENTS = Event.__table__


@dataclass(frozen=True)
class ContractRef:
    """A contract named by its row id alone, for an event recorded before it is served."""

    row_id: int


@dataclass(frozen=True)
class Change:
    """One balance an action moved: the deltas and the balances after them. ``user_id`` is
    None for a collective loss, whose deltas are the summed loss of every user it applied
    to and whose balances are what they hold after it (as in the ledger)."""

    user_id: int | None
    reputation_delta: float
    tokens_delta: float
    reputation: float
    tokens: float

    def document(self) -> dict[str, Any]:
        """The change as the event shows it (``dataclasses.asdict`` is slower: a vote may
        move the balances of thousands)."""
        return {
            "user_id": self.user_id,
            "reputation_delta": self.reputation_delta,
            "tokens_delta": self.tokens_delta,
            "reputation": self.reputation,
            "tokens": self.tokens,
        }


def record(
    session: Session,
    contract: ServedContract | ContractRef,
    type_name: str,
    data: dict[str, Any],
    changes: Sequence[Change],
    now: datetime,
) -> None:
    """Write the event of the action just applied: ``data`` is its answer document, to which
    the balances it moved are added as ``changes``. The caller holds the contract lock.

    On PostgreSQL the same statement tells the listeners (``NOTIFY``, sent on commit) that
    the contract has a new event, so long-polls and workers wake at once.
    """
    values = {
        "contract_id": contract.row_id,
        "type": type_name,
        "data": {**data, "changes": [change.document() for change in changes]},
        "created_at": now,
    }
    if dialect_of(session).notifies:
        session.execute(_notifying_insert(), values)
    else:
        session.execute(insert(EVENTS), values)
    mark_changed(session)


@cache
def _notifying_insert():
    """The insert of :func:`record` that also notifies the contract's listeners."""
    return insert(EVENTS).returning(func.pg_notify(CHANNEL, cast(EVENTS.c.contract_id, String)))


def moved(
    changes: BalanceChanges,
    balances: dict[int, tuple[float, float]],
    scale: float,
    collective: Change | None = None,
) -> list[Change]:
    """The changes an action applied, with each user's balances after them: ``balances``
    holds them as the users' rows do (reputation in units of the contract's ``scale``). A
    collective loss, if any, comes last."""
    listed = [
        Change(user_id, d_rep, d_tok, balances[user_id][0] * scale, balances[user_id][1])
        for user_id, d_rep, d_tok in zip(
            changes.user_ids.tolist(),
            changes.reputation.tolist(),
            changes.tokens.tolist(),
            strict=True,
        )
    ]
    return [*listed, collective] if collective is not None else listed


@dataclass(frozen=True)
class EventPage:
    """Events after a cursor, oldest first, and how many match in all."""

    items: list[Event]
    total: int


def list_events(
    session: Session,
    contract: ServedContract,
    after: int,
    limit: int,
    types: Sequence[str] = (),
) -> EventPage:
    """The contract's events with an id above ``after``, oldest first, of ``types`` (every
    type when empty)."""
    where = [Event.contract_id == contract.row_id, Event.id > after]
    if types:
        where.append(Event.type.in_(types))
    items = list(session.scalars(select(Event).where(*where).order_by(Event.id).limit(limit)))
    total = len(items)
    if total == limit:
        total = session.scalar(select(func.count()).select_from(Event).where(*where))
    return EventPage(items, total)


def latest_event_id(session: Session, contract_id: int) -> int:
    """The id of the contract's newest event, 0 when it has none."""
    newest = session.scalar(select(func.max(Event.id)).where(Event.contract_id == contract_id))
    return newest or 0
