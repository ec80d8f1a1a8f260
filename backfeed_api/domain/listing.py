"""Paginated lists of users, contributions and evaluations (a user's ledger: :mod:`.history`).

Each list is served by an index (see the models). The unfiltered totals come from the counters
on the contract row; a filtered total is a ``COUNT`` over the index of that filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..models import ContractRow, ContractVersion, Contribution, Evaluation, User
from .catalog import ServedContract
from .ranking import RankedPage


@dataclass(frozen=True)
class IdWindow:
    """Exclusive bounds on the ids of a list's items: ``since_id < id < max_id``, either
    left out (None)."""

    since_id: int | None = None
    max_id: int | None = None

    def __bool__(self) -> bool:
        return self.since_id is not None or self.max_id is not None

    def conditions(self, column) -> list:
        """The conditions keeping the ids of ``column`` inside the window."""
        found = []
        if self.since_id is not None:
            found.append(column > self.since_id)
        if self.max_id is not None:
            found.append(column < self.max_id)
        return found


EVERY_ID = IdWindow()


@dataclass(frozen=True)
class Page:
    """Some rows of a list and how many the whole list holds."""

    items: list[Any]
    total: int
    ranking: RankedPage | None = None


def _counter(session: Session, contract: ServedContract, column) -> int:
    return session.scalar(select(column).where(ContractRow.id == contract.row_id))


def _count(session: Session, query: Select) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def _ordering(column, descending: bool, tiebreak):
    return (column.desc(), tiebreak.desc()) if descending else (column.asc(), tiebreak.asc())


USER_ORDER = {"reputation": User.reputation, "tokens": User.tokens, "time": User.id}


def list_users(
    session: Session,
    contract: ServedContract,
    order_by: str,
    start: int,
    limit: int,
    window: IdWindow = EVERY_ID,
) -> Page:
    """Users of the contract: a leaderboard by reputation or tokens, or by creation."""
    descending = order_by.startswith("-")
    column = USER_ORDER[order_by.lstrip("-")]
    query = select(User).where(User.contract_id == contract.row_id, *window.conditions(User.id))
    rows = session.scalars(
        query.order_by(*_ordering(column, descending, User.id)).offset(start).limit(limit)
    )
    total = (
        _count(session, query) if window else _counter(session, contract, ContractRow.user_count)
    )
    return Page(list(rows), total)


def list_contributions(
    session: Session,
    contract: ServedContract,
    now: datetime,
    *,
    order_by: str,
    start: int,
    limit: int,
    contributor_id: int | None = None,
    type_name: str | None = None,
    window: IdWindow = EVERY_ID,
) -> Page:
    """Contributions of the contract, filtered, by score (from current reputation) or time."""
    conditions = [Contribution.contract_id == contract.row_id, *window.conditions(Contribution.id)]
    if contributor_id is not None:
        conditions.append(Contribution.contributor_id == contributor_id)
    if type_name is not None:
        conditions.append(Contribution.type == type_name)
    filtered = contributor_id is not None or type_name is not None or bool(window)
    descending = order_by.startswith("-")
    if order_by.lstrip("-") == "score":
        ranked = contract.votes.rank(
            session,
            contract.rules,
            now,
            descending=descending,
            start=start,
            limit=limit,
            contributor_id=contributor_id,
            type_name=type_name,
            window=(window.since_id, window.max_id),
        )
        by_id = {
            c.id: c
            for c in session.scalars(select(Contribution).where(Contribution.id.in_(ranked.ids)))
        }
        return Page([by_id[i] for i in ranked.ids], ranked.total, ranked)
    query = select(Contribution).where(*conditions)
    rows = session.scalars(
        query.order_by(*_ordering(Contribution.id, descending, Contribution.id))
        .offset(start)
        .limit(limit)
    )
    total = (
        _count(session, query)
        if filtered
        else _counter(session, contract, ContractRow.contribution_count)
    )
    return Page(list(rows), total)


def list_evaluations(
    session: Session,
    contract: ServedContract,
    *,
    start: int,
    limit: int,
    contribution_id: int | None = None,
    evaluator_id: int | None = None,
    value: float | None = None,
    include_superseded: bool = False,
    window: IdWindow = EVERY_ID,
) -> Page:
    """Votes of the contract, oldest first, filtered; superseded votes only on request."""
    conditions = [Evaluation.contract_id == contract.row_id, *window.conditions(Evaluation.id)]
    if not include_superseded:
        conditions.append(Evaluation.active)
    if contribution_id is not None:
        conditions.append(Evaluation.contribution_id == contribution_id)
    if evaluator_id is not None:
        conditions.append(Evaluation.evaluator_id == evaluator_id)
    if value is not None:
        conditions.append(Evaluation.value == value)
    query = select(Evaluation).where(*conditions)
    # seq is the contract's commit order, the same as id order, and what its indexes end with
    rows = session.scalars(query.order_by(Evaluation.seq).offset(start).limit(limit))
    unfiltered = len(conditions) == 2 and not include_superseded and not window
    total = (
        _counter(session, contract, ContractRow.evaluation_count)
        if unfiltered
        else _count(session, query)
    )
    return Page(list(rows), total)


def list_versions(
    session: Session, contract: ServedContract, start: int, limit: int, window: IdWindow = EVERY_ID
) -> Page:
    """The versions of the contract's configuration, oldest first; the id window bounds their
    numbers."""
    query = select(ContractVersion).where(
        ContractVersion.contract_id == contract.row_id,
        *window.conditions(ContractVersion.version),
    )
    rows = session.scalars(query.order_by(ContractVersion.version).offset(start).limit(limit))
    return Page(list(rows), _count(session, query))
