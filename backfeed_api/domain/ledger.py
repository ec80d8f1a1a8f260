"""Applying balance changes: every change updates the user and writes a ledger entry.

This is the only code that changes balances after a user is created. The updates and the
ledger rows are written with one bulk statement each, whatever the number of users changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from protocol import BalanceChanges

from ..models import Contract, LedgerEntry, User


@dataclass(frozen=True)
class Cause:
    """What made balances change: a user's creation, a contribution or an evaluation."""

    type: str
    id: int


def apply_changes(
    session: Session,
    contract: Contract,
    cause: Cause,
    changes: BalanceChanges,
    now: datetime,
) -> None:
    """Add the deltas to the users' balances and to the contract totals, and record them.

    The caller holds the contract lock, so the balances read here are the current ones.
    """
    if not len(changes):
        return
    ids = changes.user_ids.tolist()
    current = {
        row.id: (row.reputation, row.tokens)
        for row in session.execute(
            select(User.id, User.reputation, User.tokens).where(User.id.in_(ids))
        )
    }
    rows = []
    for user_id, d_rep, d_tok in zip(
        ids, changes.reputation.tolist(), changes.tokens.tolist(), strict=True
    ):
        reputation, tokens = current[user_id]
        rows.append(
            {
                "user_id": user_id,
                "d_rep": d_rep,
                "d_tok": d_tok,
                "rep_after": reputation + d_rep,
                "tok_after": tokens + d_tok,
            }
        )
    contract.total_reputation += float(np.sum(changes.reputation))
    contract.total_tokens += float(np.sum(changes.tokens))
    write_balances(session, contract, cause, rows, now)
    expire_users(session, set(ids))


def expire_users(session: Session, user_ids: set[int] | None = None) -> None:
    """Forget loaded balances that bulk statements changed (all users when ids is None)."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, User) and (user_ids is None or instance.id in user_ids):
            session.expire(instance)


def write_balances(
    session: Session, contract: Contract, cause: Cause, rows: list[dict], now: datetime
) -> None:
    """Store new balances and their ledger entries (``user_id, d_rep, d_tok, *_after``)."""
    session.connection().execute(
        update(User.__table__)
        .where(User.__table__.c.id == bindparam("user_id"))
        .values(reputation=bindparam("rep_after"), tokens=bindparam("tok_after")),
        rows,
    )
    session.execute(
        insert(LedgerEntry),
        [
            {
                "contract_id": contract.id,
                "user_id": row["user_id"],
                "cause_type": cause.type,
                "cause_id": cause.id,
                "reputation_delta": row["d_rep"],
                "tokens_delta": row["d_tok"],
                "reputation": row["rep_after"],
                "tokens": row["tok_after"],
                "created_at": now,
            }
            for row in rows
        ],
    )
    mark_changed(session)
