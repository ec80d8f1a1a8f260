"""Applying balance changes: every change updates the user and writes a ledger entry.

This is the only code that changes balances after a user is created. Whatever the number of
users changed, the work is a fixed number of statements: on PostgreSQL a single one, which
updates the balances from arrays of deltas and writes the ledger entries from the updated
rows; elsewhere (SQLite, in process) an ``executemany`` for each of the two tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import numpy as np
from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import NullType
from zope.sqlalchemy import mark_changed

from protocol import BalanceChanges

from ..models import Contract, LedgerEntry, User
from ..models.arrays import PgArray, float8_array, int8_array
from ..models.meta import UTCDateTime

USERS = User.__table__
LEDGER = LedgerEntry.__table__
LEDGER_COLUMNS = [
    "contract_id",
    "user_id",
    "cause_type",
    "cause_id",
    "reputation_delta",
    "tokens_delta",
    "reputation",
    "tokens",
    "created_at",
]


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
    """Add the deltas to the users' balances and to the contract totals, and record them."""
    if not len(changes):
        return
    contract.total_reputation += float(np.sum(changes.reputation))
    contract.total_tokens += float(np.sum(changes.tokens))
    write_changes(session, contract.id, cause, changes, now)


def write_changes(
    session: Session, contract_id: int, cause: Cause, changes: BalanceChanges, now: datetime
) -> None:
    """Add the deltas to the users' balances and record them in the ledger (the contract
    totals are the caller's). The caller holds the contract lock, so the balances the deltas
    apply to are the current ones and the ledger's balances-after are exact."""
    if not len(changes):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            _write_statement(),
            {
                **balance_parameters(changes),
                **ledger_parameters(contract_id, cause.type, now),
                "ledger_cause_id": cause.id,
            },
        )
    else:
        _write_row_by_row(session, contract_id, cause, changes, now)
    mark_changed(session)
    expire_users(session, set(changes.user_ids.tolist()))


def balance_parameters(changes: BalanceChanges) -> dict[str, PgArray]:
    """The parameters of :func:`changed_balances`: the changes as three arrays in
    PostgreSQL's binary form (:mod:`..models.arrays`)."""
    return {
        "delta_ids": int8_array(changes.user_ids),
        "delta_reputation": float8_array(changes.reputation),
        "delta_tokens": float8_array(changes.tokens),
    }


def ledger_parameters(contract_id: int, cause_type: str, now: datetime) -> dict:
    """The parameters of :func:`ledger_entries`. (No parameter is named after a column:
    SQLAlchemy would take it for a value to set in the statement's UPDATE.)"""
    return {"ledger_contract_id": contract_id, "ledger_cause_type": cause_type, "ledger_now": now}


def changed_balances():
    """PostgreSQL: a CTE that adds the deltas (three array parameters, see
    :func:`balance_parameters`) to the users' balances and returns ``id, d_rep, d_tok,
    reputation, tokens`` (the balances after) per changed user."""
    deltas = (
        func.unnest(  # typed by their values (NullType: no cast, no conversion)
            bindparam("delta_ids", type_=NullType()),
            bindparam("delta_reputation", type_=NullType()),
            bindparam("delta_tokens", type_=NullType()),
        )
        .table_valued("id", "d_rep", "d_tok")
        .render_derived(name="deltas")
    )
    return (
        update(USERS)
        .where(USERS.c.id == deltas.c.id)
        .values(
            reputation=USERS.c.reputation + deltas.c.d_rep,
            tokens=USERS.c.tokens + deltas.c.d_tok,
        )
        .returning(USERS.c.id, deltas.c.d_rep, deltas.c.d_tok, USERS.c.reputation, USERS.c.tokens)
        .cte("changed")
    )


def ledger_entries(changed, cause_id: ColumnElement):
    """The insert of one ledger entry per row of a :func:`changed_balances` CTE (parameters:
    :func:`ledger_parameters`); the cause's id is an SQL expression, which may be the id of
    a row inserted by the same statement."""
    return insert(LEDGER).from_select(
        LEDGER_COLUMNS,
        select(
            bindparam("ledger_contract_id", type_=BigInteger),
            changed.c.id,
            bindparam("ledger_cause_type", type_=String()),
            cause_id,
            changed.c.d_rep,
            changed.c.d_tok,
            changed.c.reputation,
            changed.c.tokens,
            bindparam("ledger_now", type_=UTCDateTime()),
        ),
    )


@cache
def _write_statement():
    """Built once: SQLAlchemy then reuses its compiled form without walking it again."""
    return ledger_entries(changed_balances(), bindparam("ledger_cause_id", type_=BigInteger))


def _write_row_by_row(
    session: Session, contract_id: int, cause: Cause, changes: BalanceChanges, now: datetime
) -> None:
    """Any database: read the balances, then write them and the ledger with executemany."""
    ids = changes.user_ids.tolist()
    current = {
        row.id: (row.reputation, row.tokens)
        for row in session.execute(
            select(USERS.c.id, USERS.c.reputation, USERS.c.tokens).where(USERS.c.id.in_(ids))
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
    write_balances(session, contract_id, cause, rows, now)


def expire_users(session: Session, user_ids: set[int] | None = None) -> None:
    """Forget loaded balances that bulk statements changed (all users when ids is None)."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, User) and (user_ids is None or instance.id in user_ids):
            session.expire(instance)


def write_balances(
    session: Session, contract_id: int, cause: Cause, rows: list[dict], now: datetime
) -> None:
    """Store new balances and their ledger entries (``user_id, d_rep, d_tok, *_after``)."""
    session.connection().execute(
        update(USERS)
        .where(USERS.c.id == bindparam("user_id"))
        .values(reputation=bindparam("rep_after"), tokens=bindparam("tok_after")),
        rows,
    )
    session.execute(
        insert(LedgerEntry),
        [
            {
                "contract_id": contract_id,
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
