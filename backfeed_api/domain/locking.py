"""Serialising writes per contract with a lock on its row, and logins per username."""

from __future__ import annotations

import hashlib
from functools import cache

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from ..models import Contract


def lock_contract(session: Session, contract_id: int) -> Contract:
    """Lock the contract row until the transaction ends and return it, freshly read.

    PostgreSQL takes a row lock (``SELECT … FOR UPDATE``); SQLite has no row locks, so a
    no-op ``UPDATE`` takes the database write lock instead, the same effect as
    ``BEGIN IMMEDIATE``. Writes on other contracts proceed in parallel on PostgreSQL.
    """
    _lock_sqlite(session, contract_id)
    return session.scalars(_lock_statement(), {"contract": contract_id}).one()


@cache
def _lock_statement():
    """The query of :func:`lock_contract`, built once (SQLAlchemy reuses its compiled form).

    It reads nothing but the contract row: under READ COMMITTED, the rows a ``FOR UPDATE``
    query reads from *other* tables come from the snapshot taken before it waited for the
    lock, so anything else must be read by the statements that follow it.
    """
    return (
        select(Contract)
        .where(Contract.id == bindparam("contract"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_contract_row(session: Session, contract_id: int) -> Row:
    """Lock the contract row as :func:`lock_contract` does, and return its columns as a plain
    row rather than a loaded object: the cheaper read, for a vote that writes the row back
    with a statement of its own."""
    _lock_sqlite(session, contract_id)
    return session.execute(_lock_row_statement(), {"contract": contract_id}).one()


@cache
def _lock_row_statement():
    """The query of :func:`lock_contract_row`, built once."""
    contracts = Contract.__table__
    return select(contracts).where(contracts.c.id == bindparam("contract")).with_for_update()


def _lock_sqlite(session: Session, contract_id: int) -> None:
    """SQLite: take the database write lock now, with a no-op update of the contract row."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Contract).where(Contract.id == contract_id).values(kind=Contract.kind)
        )


def lock_username(session: Session, contract_id: int, username: str) -> None:
    """Hold the logins of one username of a contract until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock on a 64-bit hash of the contract and
    the username, so logins of other usernames proceed in parallel; SQLite takes its write
    lock (as :func:`lock_contract` does). Either way, whatever a login then reads and writes
    happens as if no other login of that username ran at the same time.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(f"login\0{contract_id}\0{username}".encode(), digest_size=8)
        key = int.from_bytes(digest.digest(), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))
    else:
        _lock_sqlite(session, contract_id)


def next_action(contract: Contract) -> int:
    """Number the action being applied under the lock: the contract's commit order."""
    contract.action_count += 1
    return contract.action_count
