"""Applying balance changes: every change updates the user and writes a ledger entry.

This is the only code that changes balances after a user is created. Whatever the number of
users changed, the work is a fixed number of statements: on PostgreSQL a single one, which
updates the balances from arrays of deltas and writes the ledger entries from the updated
rows; elsewhere (SQLite, in process) an ``executemany`` for each of the two tables.

Deltas and the ledger are in balances; the users' stored reputation is in units of the
contract's scale (:mod:`.scale`), which the writes take as ``scale``. A vote with a
collective loss also writes, for each voter it spared, the stored reputation multiplied by
``carry`` (the loss's factor undone) and an exemption row (``spared_by``, see
:class:`~backfeed_api.models.LedgerExemption`); a spared voter whose balances do not change
gets no ledger entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import numpy as np
from sqlalchemy import (
    BigInteger,
    Double,
    String,
    Text,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import NullType
from zope.sqlalchemy import mark_changed

from protocol import BalanceChanges
from protocol.explanations import Term, entry_terms

from ..models import ContractRow, LedgerEntry, LedgerExemption, User, dialect_of
from ..models.arrays import PgArray, float8_array, int8_array
from ..models.meta import UTCDateTime

USERS = User.__table__
LEDGER = LedgerEntry.__table__
EXEMPTIONS = LedgerExemption.__table__
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
    "terms",
    "inputs",
]


@dataclass(frozen=True)
class Cause:
    """What made balances change: a user's creation, a contribution or an evaluation."""

    type: str
    id: int


@dataclass(frozen=True)
class Entries:
    """Balance changes with what explains each changed user: the mask of the action's terms
    that changed it and its own inputs as JSON (None when it has none)."""

    changes: BalanceChanges
    masks: np.ndarray
    inputs: list[str | None]

    @classmethod
    def of(cls, changes: BalanceChanges, terms: Sequence[Term]) -> Entries:
        """The changes made by ``terms`` (the first terms of the action's explanation)."""
        found = entry_terms(terms, changes.user_ids)
        return cls(changes, found.masks, own_inputs_json(found.own_inputs, len(changes)))

    @classmethod
    def by_one(cls, changes: BalanceChanges, position: int) -> Entries:
        """Changes all made by the term at ``position`` alone, without own inputs."""
        masks = np.full(len(changes), 1 << position, dtype=np.int64)
        return cls(changes, masks, [None] * len(changes))

    def subset(self, keep: np.ndarray) -> Entries:
        """The entries where ``keep`` (booleans, one per entry) is true."""
        changes = BalanceChanges(
            self.changes.user_ids[keep], self.changes.reputation[keep], self.changes.tokens[keep]
        )
        inputs = [value for value, kept in zip(self.inputs, keep.tolist(), strict=True) if kept]
        return Entries(changes, self.masks[keep], inputs)

    def __len__(self) -> int:
        return len(self.changes)


def own_inputs_json(own: dict[str, np.ndarray], size: int) -> list[str | None]:
    """Each entry's own inputs (columns by name, NaN where absent) as a JSON object.

    Written by hand rather than by :func:`json.dumps` per entry, which a vote rewarding
    thousands of voters would pay for each: a finite float's ``repr`` is its JSON."""
    if not own:
        return [None] * size
    columns = []
    for name, column in own.items():
        key = json.dumps(name)
        present = (~np.isnan(column)).tolist()
        columns.append(
            [
                f"{key}: {value!r}" if known else None
                for value, known in zip(column.tolist(), present, strict=True)
            ]
        )
    rows = []
    for parts in zip(*columns, strict=True):
        kept = [part for part in parts if part is not None]
        rows.append("{" + ", ".join(kept) + "}" if kept else None)
    return rows


def apply_changes(
    session: Session,
    contract: ContractRow,
    cause: Cause,
    entries: Entries,
    now: datetime,
) -> None:
    """Add the deltas to the users' balances and to the contract totals, and record them."""
    changes = entries.changes
    if not len(changes):
        return
    contract.total_reputation += float(np.sum(changes.reputation))
    contract.total_tokens += float(np.sum(changes.tokens))
    write_changes(session, contract.id, cause, entries, now, scale=contract.reputation_scale)


def write_changes(
    session: Session,
    contract_id: int,
    cause: Cause,
    entries: Entries,
    now: datetime,
    *,
    scale: float,
    carry: float = 1.0,
    spared_by: int | None = None,
) -> None:
    """Add the deltas to the users' balances and record them in the ledger (the contract
    totals are the caller's); with ``spared_by``, the users are the voters that collective
    loss spared (see the module). The caller holds the contract lock, so the balances the
    deltas apply to are the current ones and the ledger's balances-after are exact."""
    changes = entries.changes
    if not len(changes):
        return
    if dialect_of(session).writes_in_one_statement:
        session.execute(
            _write_statement(spared_by is not None),
            {
                **balance_parameters(entries, scale, carry),
                **ledger_parameters(contract_id, cause.type, now),
                "ledger_cause_id": cause.id,
                **({} if spared_by is None else {"spared_by": spared_by}),
            },
        )
    else:
        _write_row_by_row(session, contract_id, cause, entries, now, scale, carry, spared_by)
    mark_changed(session)
    expire_users(session, set(changes.user_ids.tolist()))


def balance_parameters(
    entries: Entries, scale: float, carry: float = 1.0
) -> dict[str, PgArray | list | float]:
    """The parameters of :func:`changed_balances`: the changes and their terms as four
    arrays in PostgreSQL's binary form (:mod:`..models.arrays`) and their own inputs as
    text, the contract's scale and the carry of the stored reputations (see the module)."""
    changes = entries.changes
    return {
        "delta_ids": int8_array(changes.user_ids),
        "delta_reputation": float8_array(changes.reputation),
        "delta_tokens": float8_array(changes.tokens),
        "delta_terms": int8_array(entries.masks),
        "delta_inputs": entries.inputs,
        "delta_scale": scale,
        "delta_carry": carry,
    }


def ledger_parameters(contract_id: int, cause_type: str, now: datetime) -> dict:
    """The parameters of :func:`ledger_entries`. (No parameter is named after a column:
    SQLAlchemy would take it for a value to set in the statement's UPDATE.)"""
    return {"ledger_contract_id": contract_id, "ledger_cause_type": cause_type, "ledger_now": now}


def changed_balances():
    """PostgreSQL: a CTE that adds the deltas (array parameters, see
    :func:`balance_parameters`) to the users' balances and returns ``id, d_rep, d_tok,
    reputation, tokens`` (the balances after, reputation as stored) and the entry's
    ``terms`` and ``inputs`` per changed user.

    The stored reputation becomes ``reputation * carry + d_rep / scale``: ``reputation +
    d_rep`` exactly when both are 1, as in every contract without collective losses."""
    deltas = (
        func.unnest(  # typed by their values (NullType: no cast, no conversion)
            bindparam("delta_ids", type_=NullType()),
            bindparam("delta_reputation", type_=NullType()),
            bindparam("delta_tokens", type_=NullType()),
            bindparam("delta_terms", type_=NullType()),
            cast(bindparam("delta_inputs", type_=NullType()), ARRAY(Text())),
        )
        .table_valued("id", "d_rep", "d_tok", "terms", "inputs")
        .render_derived(name="deltas")
    )
    return (
        update(USERS)
        .where(USERS.c.id == deltas.c.id)
        .values(
            reputation=USERS.c.reputation * bindparam("delta_carry", type_=Double())
            + deltas.c.d_rep / bindparam("delta_scale", type_=Double()),
            tokens=USERS.c.tokens + deltas.c.d_tok,
        )
        .returning(
            USERS.c.id,
            deltas.c.d_rep,
            deltas.c.d_tok,
            USERS.c.reputation,
            USERS.c.tokens,
            deltas.c.terms,
            deltas.c.inputs,
        )
        .cte("changed")
    )


def ledger_entries(changed, cause_id: ColumnElement, *, only_changes: bool = False):
    """The insert of one ledger entry per row of a :func:`changed_balances` CTE (parameters:
    :func:`ledger_parameters` and ``delta_scale``), or per row whose balances changed; the
    cause's id is an SQL expression, which may be the id of a row inserted by the same
    statement."""
    rows = select(
        bindparam("ledger_contract_id", type_=BigInteger),
        changed.c.id,
        bindparam("ledger_cause_type", type_=String()),
        cause_id,
        changed.c.d_rep,
        changed.c.d_tok,
        changed.c.reputation * bindparam("delta_scale", type_=Double()),
        changed.c.tokens,
        bindparam("ledger_now", type_=UTCDateTime()),
        changed.c.terms,
        changed.c.inputs,
    )
    if only_changes:
        rows = rows.where(or_(changed.c.d_rep != 0, changed.c.d_tok != 0))
    return insert(LEDGER).from_select(LEDGER_COLUMNS, rows)


@cache
def _write_statement(sparing: bool):
    """Built once per form: SQLAlchemy then reuses its compiled form without walking it
    again. ``sparing``: the users are spared voters, with an exemption row each (parameter
    ``spared_by``)."""
    changed = changed_balances()
    entries = ledger_entries(
        changed, bindparam("ledger_cause_id", type_=BigInteger), only_changes=sparing
    )
    if not sparing:
        return entries
    return (
        insert(EXEMPTIONS)
        .from_select(
            ["user_id", "ledger_id", "reputation", "tokens"],
            select(
                changed.c.id,
                bindparam("spared_by", type_=BigInteger),
                changed.c.reputation * bindparam("delta_scale", type_=Double()),
                changed.c.tokens,
            ),
        )
        .add_cte(entries.cte("entries"))
    )


def _write_row_by_row(
    session: Session,
    contract_id: int,
    cause: Cause,
    entries: Entries,
    now: datetime,
    scale: float,
    carry: float,
    spared_by: int | None,
) -> None:
    """Any database: read the balances, then write them and the ledger with executemany."""
    changes = entries.changes
    ids = changes.user_ids.tolist()
    current = {
        row.id: (row.reputation, row.tokens)
        for row in session.execute(
            select(USERS.c.id, USERS.c.reputation, USERS.c.tokens).where(USERS.c.id.in_(ids))
        )
    }
    rows = []
    for user_id, d_rep, d_tok, terms, inputs in zip(
        ids,
        changes.reputation.tolist(),
        changes.tokens.tolist(),
        entries.masks.tolist(),
        entries.inputs,
        strict=True,
    ):
        reputation, tokens = current[user_id]
        rows.append(
            {
                "user_id": user_id,
                "d_rep": d_rep,
                "d_tok": d_tok,
                "rep_after": reputation * carry + d_rep / scale,
                "tok_after": tokens + d_tok,
                "terms": terms,
                "inputs": inputs,
            }
        )
    write_balances(session, contract_id, cause, rows, now, scale=scale, spared_by=spared_by)


def expire_users(session: Session, user_ids: set[int] | None = None) -> None:
    """Forget loaded balances that bulk statements changed (all users when ids is None)."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, User) and (user_ids is None or instance.id in user_ids):
            session.expire(instance)


def write_balances(
    session: Session,
    contract_id: int,
    cause: Cause,
    rows: list[dict],
    now: datetime,
    *,
    scale: float,
    spared_by: int | None = None,
) -> None:
    """Store new balances and their ledger entries (``user_id, d_rep, d_tok, *_after``,
    ``rep_after`` as stored, ``terms`` and ``inputs``); with ``spared_by``, an exemption
    row for each and a ledger entry only for the rows that change a balance."""
    session.connection().execute(
        update(USERS)
        .where(USERS.c.id == bindparam("user_id"))
        .values(reputation=bindparam("rep_after"), tokens=bindparam("tok_after")),
        rows,
    )
    entries = [
        {
            "contract_id": contract_id,
            "user_id": row["user_id"],
            "cause_type": cause.type,
            "cause_id": cause.id,
            "reputation_delta": row["d_rep"],
            "tokens_delta": row["d_tok"],
            "reputation": row["rep_after"] * scale,
            "tokens": row["tok_after"],
            "created_at": now,
            "terms": row["terms"],
            "inputs": row["inputs"],
        }
        for row in rows
        if spared_by is None or row["d_rep"] or row["d_tok"]
    ]
    if entries:
        # every row in one executemany: the ORM would group rows by which values are None
        session.execute(insert(LedgerEntry).execution_options(render_nulls=True), entries)
    if spared_by is not None:
        session.execute(
            insert(LedgerExemption),
            [
                {
                    "user_id": row["user_id"],
                    "ledger_id": spared_by,
                    "reputation": row["rep_after"] * scale,
                    "tokens": row["tok_after"],
                }
                for row in rows
            ],
        )
    mark_changed(session)


def find_entry(session: Session, contract_id: int, entry_id: int) -> LedgerEntry | None:
    """The ledger entry ``entry_id`` of this contract (a user's or a collective one), or
    None."""
    return session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.id == entry_id, LedgerEntry.contract_id == contract_id
        )
    ).one_or_none()
