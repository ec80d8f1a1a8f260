"""The outbox: one event per committed action, written in the action's own transaction.

Every action that changes a contract calls :func:`record` once it is applied, before its
transaction commits: a refused or rolled-back action leaves no event, a committed one always
has its event. The action holds the contract lock, so a contract's events get increasing ids
in commit order, and a reader that has seen the event ``n`` never later finds one below it.
Webhook deliveries (:mod:`.webhooks`) and the feed (:func:`list_events`) read from here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import JSON, String, Text, bindparam, cast, func, insert, select
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from protocol import BalanceChanges

from ..models import Event, dialect_of
from ..models.notifications import CHANNEL
from .catalog import ServedContract

EVENT_TYPES = ("user.created", "contribution.created", "evaluation.created")
"""The types of event an action records; :func:`record` takes others from later actions."""
EVENTS = Event.__table__


class Change(NamedTuple):
    """One balance an action moved: the deltas and the balances after them. ``user_id`` is
    None for a collective loss, whose deltas are the summed loss of every user it applied
    to and whose balances are what they hold after it (as in the ledger). The numbers are
    Python's own (``int`` or ``float``), as JSON writes them.

    A tuple, not a dataclass: a vote may move the balances of thousands, and each is made
    and written once."""

    user_id: int | None
    reputation_delta: float
    tokens_delta: float
    reputation: float
    tokens: float


_CHANGE = (
    '{"user_id": %r, "reputation_delta": %r, "tokens_delta": %r, "reputation": %r, "tokens": %r}'
)
_COLLECTIVE = (
    '{"user_id": null, "reputation_delta": %r, "tokens_delta": %r, "reputation": %r, "tokens": %r}'
)
"""A change as JSON, written as :func:`json.dumps` writes it (``repr`` of an int or a float
is its JSON), several times faster than building a dict per change and encoding those."""


def event_json(data: dict[str, Any], changes: Sequence[Change]) -> str:
    """The JSON text of an event's data: ``data`` with the ``changes`` as its last member."""
    head = json.dumps({**{k: v for k, v in data.items() if k != "changes"}, "changes": []})
    listed = ", ".join(
        [
            _CHANGE % change if change.user_id is not None else _COLLECTIVE % change[1:]
            for change in changes
        ]
    )
    return f"{head[:-3]}[{listed}]}}"


def record(
    session: Session,
    contract: ServedContract,
    type_name: str,
    data: dict[str, Any],
    changes: Sequence[Change],
    now: datetime,
) -> None:
    """Write the event of the action just applied: ``data`` is its answer document, to which
    the balances it moved are added as ``changes``. The caller holds the contract lock.

    On PostgreSQL the same statement tells the listeners (``NOTIFY``, sent on commit) that
    the contract has a new event, so long-polls and workers wake at once. The data goes as
    JSON text made here (:func:`event_json`), not through the column type's encoder.
    """
    values = {
        "contract_id": contract.row_id,
        "type": type_name,
        "data": event_json(data, changes),
        "created_at": now,
    }
    session.execute(_insert(dialect_of(session).notifies), values)
    mark_changed(session)


@cache
def _insert(notifies: bool):
    """The insert of :func:`record`, its data given as JSON text; on PostgreSQL (which
    ``notifies``) cast to ``json`` and notifying the contract's listeners."""
    text = bindparam("data", type_=Text)
    if not notifies:  # SQLite keeps JSON as text
        return insert(EVENTS).values(data=text)
    return (
        insert(EVENTS)
        .values(data=cast(text, JSON))
        .returning(func.pg_notify(CHANNEL, cast(EVENTS.c.contract_id, String)))
    )


def moved(
    changes: BalanceChanges,
    balances: dict[int, tuple[float, float]],
    scale: float,
    collective: Change | None = None,
) -> list[Change]:
    """The changes an action applied, with each user's balances after them: ``balances``
    holds them as the users' rows do (reputation in units of the contract's ``scale``). A
    collective loss, if any, comes last."""
    user_ids = changes.user_ids.tolist()
    after = [balances[user_id] for user_id in user_ids]
    listed = list(
        map(
            Change,
            user_ids,
            changes.reputation.tolist(),
            changes.tokens.tolist(),
            [reputation * scale for reputation, _ in after],
            [tokens for _, tokens in after],
        )
    )
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
