"""Serialising writes per contract with a lock on its row, and logins per username."""

from __future__ import annotations

import hashlib
from functools import cache

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from ..models import ContractRow, dialect_of


def lock_contract(session: Session, contract_id: int) -> ContractRow:
    """Lock the contract row until the transaction ends and return it, freshly read.

    PostgreSQL takes a row lock (``SELECT … FOR UPDATE``); SQLite has no row locks, so the
    database's write lock is taken first instead (:meth:`.Dialect.take_write_lock`). Writes
    on other contracts proceed in parallel on PostgreSQL.
    """
    dialect_of(session).take_write_lock(session)
    return session.scalars(_lock_statement(), {"contract": contract_id}).one()


@cache
def _lock_statement():
    """The query of :func:`lock_contract`, built once (SQLAlchemy reuses its compiled form).

    It reads nothing but the contract row: under READ COMMITTED, the rows a ``FOR UPDATE``
    query reads from *other* tables come from the snapshot taken before it waited for the
    lock, so anything else must be read by the statements that follow it.
    """
    return (
        select(ContractRow)
        .where(ContractRow.id == bindparam("contract"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_contract_row(session: Session, contract_id: int) -> Row:
    """Lock the contract row as :func:`lock_contract` does, and return its columns as a plain
    row rather than a loaded object: the cheaper read, for a vote that writes the row back
    with a statement of its own."""
    dialect_of(session).take_write_lock(session)
    return session.execute(_lock_row_statement(), {"contract": contract_id}).one()


@cache
def _lock_row_statement():
    """The query of :func:`lock_contract_row`, built once."""
    contracts = ContractRow.__table__
    return select(contracts).where(contracts.c.id == bindparam("contract")).with_for_update()


def lock_username(session: Session, contract_id: int, username: str) -> None:
    """Hold the logins of one username of a contract until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock on a 64-bit hash of the contract and
    the username, so logins of other usernames proceed in parallel; SQLite takes its write
    lock (as :func:`lock_contract` does). Either way, whatever a login then reads and writes
    happens as if no other login of that username ran at the same time.
    """
    dialect_of(session).lock_key(session, lock_key("login", contract_id, username))


def lock_key(*parts: object) -> int:
    """A 64-bit key for :meth:`.Dialect.lock_key`: a hash of ``parts``, the first naming
    what is locked, so that locks of different purposes never share a key."""
    digest = hashlib.blake2b("\0".join(map(str, parts)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def next_action(contract: ContractRow) -> int:
    """Number the action being applied under the lock: the contract's commit order."""
    contract.action_count += 1
    return contract.action_count
