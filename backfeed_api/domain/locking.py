"""Serialising writes per contract with a lock on its row."""

from __future__ import annotations

from functools import cache

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from ..models import Contract, Contribution


def lock_contract(session: Session, contract_id: int) -> Contract:
    """Lock the contract row until the transaction ends and return it, freshly read.

    PostgreSQL takes a row lock (``SELECT … FOR UPDATE``); SQLite has no row locks, so a
    no-op ``UPDATE`` takes the database write lock instead, the same effect as
    ``BEGIN IMMEDIATE``. Writes on other contracts proceed in parallel on PostgreSQL.
    """
    _lock_sqlite(session, contract_id)
    return session.scalars(
        select(Contract)
        .where(Contract.id == contract_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def lock_contract_with(
    session: Session, contract_id: int, contribution_id: int
) -> tuple[Contract, Contribution | None]:
    """Lock the contract as :func:`lock_contract` does and read, in the same statement, its
    contribution ``contribution_id`` (None when the contract has no such contribution)."""
    _lock_sqlite(session, contract_id)
    parameters = {"contract": contract_id, "contribution": contribution_id}
    contract, contribution = session.execute(_lock_with_statement(), parameters).one()
    return contract, contribution


@cache
def _lock_with_statement():
    """The query of :func:`lock_contract_with`, built once."""
    return (
        select(Contract, Contribution)
        .outerjoin(
            Contribution,
            and_(
                Contribution.id == bindparam("contribution"),
                Contribution.contract_id == Contract.id,
            ),
        )
        .where(Contract.id == bindparam("contract"))
        .with_for_update(of=Contract)
        .execution_options(populate_existing=True)
    )


def _lock_sqlite(session: Session, contract_id: int) -> None:
    """SQLite: take the database write lock now, with a no-op update of the contract row."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Contract).where(Contract.id == contract_id).values(kind=Contract.kind)
        )


def next_action(contract: Contract) -> int:
    """Number the action being applied under the lock: the contract's commit order."""
    contract.action_count += 1
    return contract.action_count
