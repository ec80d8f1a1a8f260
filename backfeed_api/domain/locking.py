"""Serialising writes per contract with a lock on its row."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Contract


def lock_contract(session: Session, contract_id: int) -> Contract:
    """Lock the contract row until the transaction ends and return it, freshly read.

    PostgreSQL takes a row lock (``SELECT … FOR UPDATE``); SQLite has no row locks, so a
    no-op ``UPDATE`` takes the database write lock instead, the same effect as
    ``BEGIN IMMEDIATE``. Writes on other contracts proceed in parallel on PostgreSQL.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Contract).where(Contract.id == contract_id).values(kind=Contract.kind)
        )
    return session.scalars(
        select(Contract)
        .where(Contract.id == contract_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def next_action(contract: Contract) -> int:
    """Number the action being applied under the lock: the contract's commit order."""
    contract.action_count += 1
    return contract.action_count
