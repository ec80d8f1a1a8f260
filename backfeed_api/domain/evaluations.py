"""Voting: gather the engine's state with a constant number of queries, apply its effects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import (
    DateTime,
    and_,
    func,
    insert,
    literal,
    not_,
    null,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from protocol import (
    NO_USER,
    BalanceChanges,
    EvaluationEffects,
    EvaluationState,
    Party,
    UnknownUser,
    Voters,
)

from ..catalog import ServedContract
from ..models import Contract, Contribution, Evaluation, LedgerEntry, User
from .contributions import find_contribution, unknown_contribution
from .ledger import Cause, apply_changes, expire_users
from .locking import lock_contract, next_action

USERS = User.__table__
EVALUATIONS = Evaluation.__table__


@dataclass(frozen=True)
class VoteOutcome:
    """A vote as it stands after being applied, with what its answer shows.

    ``voted`` is the reputation behind each value on the contribution after the vote and
    ``total_reputation`` the contract's total after it, both known without reading them back.
    """

    evaluation: Evaluation
    created: bool
    contribution: Contribution
    voted: dict[float, float]
    total_reputation: float


def _party(row) -> Party:
    """A user row of :func:`_parties` as the engine sees a single participant."""
    return Party(
        id=row.id,
        reputation=row.reputation,
        tokens=row.tokens,
        referrer_id=NO_USER if row.referrer_id is None else row.referrer_id,
        created_at=row.created_at.replace(tzinfo=UTC).timestamp(),
    )


EPOCH = datetime(1970, 1, 1)
SECOND = timedelta(seconds=1)


def _epoch_seconds(moments) -> np.ndarray:
    """Naive UTC datetimes as seconds since the epoch (the fastest exact conversion)."""
    return np.array([(moment - EPOCH) / SECOND for moment in moments], np.float64)


def _parties(session: Session, contract_id: int, contribution_id: int, named: list[int]):
    """In one query: every user with an active vote on the contribution (with the vote), and
    the ``named`` users of the contract (evaluator, contributor) with no vote columns.

    Creation times come back naive (UTC), without the per-row time-zone conversion, since
    a contribution may have many thousands of voters.
    """
    user_columns = (
        USERS.c.id,
        USERS.c.reputation,
        USERS.c.tokens,
        USERS.c.referrer_id,
        type_coerce(USERS.c.created_at, DateTime()).label("created_at"),
    )
    voters = (
        select(*user_columns, EVALUATIONS.c.id.label("evaluation_id"), EVALUATIONS.c.value)
        .join(USERS, USERS.c.id == EVALUATIONS.c.evaluator_id)
        .where(EVALUATIONS.c.contribution_id == contribution_id, EVALUATIONS.c.active)
    )
    others = select(*user_columns, null().label("evaluation_id"), null().label("value")).where(
        USERS.c.id.in_(named), USERS.c.contract_id == contract_id
    )
    return session.execute(union_all(voters, others)).all()


def _split_parties(rows, evaluator_id: int):
    """The rows of :func:`_parties` as: the named users by id, the evaluator's active vote
    (or None), and the other voters' rows."""
    named, own, others = {}, None, []
    for row in rows:
        if row[5] is None:  # no evaluation: a named user
            named[row[0]] = row
        elif row[0] == evaluator_id:
            own = row
        else:
            others.append(row)
    return named, own, others


def _non_voters(contract_id: int, contribution_id: int, evaluator_id: int):
    """The condition selecting the users with no active vote on the contribution."""
    voted = select(Evaluation.evaluator_id).where(
        Evaluation.contribution_id == contribution_id, Evaluation.active
    )
    return and_(
        User.contract_id == contract_id,
        User.id != evaluator_id,
        not_(User.id.in_(voted)),
    )


def _sum_by_value(values: np.ndarray, reputations: np.ndarray) -> dict[float, float]:
    """The reputation behind each voted value."""
    distinct, position = np.unique(values, return_inverse=True)
    sums = np.bincount(position, weights=reputations, minlength=distinct.shape[0])
    return dict(zip(distinct.tolist(), sums.tolist(), strict=True))


def _after(ids: np.ndarray, reputations: np.ndarray, changes: BalanceChanges) -> np.ndarray:
    """The reputations of ``ids`` once ``changes`` (sorted, unique ids) are applied."""
    position = np.searchsorted(changes.user_ids, ids)
    position[position >= len(changes)] = 0
    hit = len(changes) > 0 and changes.user_ids[position] == ids
    return reputations + np.where(hit, changes.reputation[position] if len(changes) else 0, 0)


def evaluate(
    session: Session,
    contract: ServedContract,
    now: datetime,
    evaluator_id: int,
    contribution_id: int,
    value: float,
) -> VoteOutcome:
    """Record a vote and apply its rewards and fees. A repeat of the active vote creates
    nothing and changes nothing (``created`` false).

    A constant number of statements whatever the number of users and earlier voters: lock
    the contract, read the contribution, read every party in one query, write.
    """
    rules = contract.rules
    row = lock_contract(session, contract.row_id)
    contribution = find_contribution(session, contract, contribution_id)
    named_ids = (
        [evaluator_id] if contribution is None else [evaluator_id, contribution.contributor_id]
    )
    named, own, others = _split_parties(
        _parties(session, row.id, contribution_id, named_ids), evaluator_id
    )
    if evaluator_id not in named:
        raise UnknownUser(
            f"evaluator_id {evaluator_id} is not a user of this contract", "evaluator_id"
        )
    if contribution is None:
        raise unknown_contribution(contribution_id)
    kind = rules.contribution_type(contribution.type)
    value = rules.check_value(kind, value)
    columns = list(zip(*others, strict=True)) if others else [()] * 7
    voters = Voters.of(
        ids=columns[0],
        reputations=columns[1],
        values=columns[6],
        referrer_ids=[NO_USER if r is None else r for r in columns[3]],
        created_at=_epoch_seconds(columns[4]),
    )
    evaluator = _party(named[evaluator_id])
    non_voter_reputation = 0.0
    if rules.needs_non_voter_reputation:
        non_voter_reputation = session.scalar(
            select(func.coalesce(func.sum(User.reputation), 0.0)).where(
                _non_voters(row.id, contribution.id, evaluator_id)
            )
        )
    state = EvaluationState(
        contribution_type=kind,
        max_score=contribution.max_score,
        token_fund=contribution.token_fund,
        evaluator=evaluator,
        contributor=_party(named[contribution.contributor_id]),
        value=value,
        previous_value=None if own is None else own.value,
        voters=voters,
        total_reputation=row.total_reputation,
        now=now.timestamp(),
        non_voter_reputation=float(non_voter_reputation),
    )
    effects = rules.evaluate(state)
    voter_ids = np.append(voters.ids, evaluator.id)
    voted = _sum_by_value(
        np.append(voters.values, value),
        _after(voter_ids, np.append(voters.reputations, evaluator.reputation), effects.changes),
    )
    if not effects.recorded:
        standing = session.get(Evaluation, own.evaluation_id)
        return VoteOutcome(standing, False, contribution, voted, row.total_reputation)

    if own is not None:
        session.execute(
            update(EVALUATIONS)
            .where(EVALUATIONS.c.id == own.evaluation_id)
            .values(active=False, superseded_at=now)
        )
    else:
        row.evaluation_count += 1
    evaluation = Evaluation(
        contract_id=row.id,
        contribution_id=contribution.id,
        evaluator_id=evaluator_id,
        value=value,
        active=True,
        seq=next_action(row),
        created_at=now,
        superseded_at=None,
    )
    evaluation.id = _insert_evaluation(session, evaluation)
    cause = Cause("evaluation", evaluation.id)
    if effects.non_voter_factor is not None:
        _scale_non_voters(session, row, cause, effects, contribution.id, now)
    apply_changes(session, row, cause, effects.changes, now)
    contribution.max_score = effects.max_score
    contribution.token_fund = effects.token_fund
    return VoteOutcome(evaluation, True, contribution, voted, row.total_reputation)


def _insert_evaluation(session: Session, evaluation: Evaluation) -> int:
    """Store a new vote with a Core insert, without flushing the session (the contract and
    contribution rows are written once, at commit), and return its id."""
    values = {column.key: getattr(evaluation, column.key) for column in EVALUATIONS.c}
    del values["id"]
    return (
        session.connection()
        .execute(insert(EVALUATIONS).values(values).returning(EVALUATIONS.c.id))
        .scalar_one()
    )


def _scale_non_voters(
    session: Session,
    row: Contract,
    cause: Cause,
    effects: EvaluationEffects,
    contribution_id: int,
    now: datetime,
) -> None:
    """Multiply every non-voter's reputation by the effects' factor, set-based, with ledger
    entries; the evaluator's own vote is already stored, so it is not a non-voter."""
    factor = effects.non_voter_factor
    condition = and_(_non_voters(row.id, contribution_id, -1), User.reputation != 0)
    session.execute(
        insert(LedgerEntry).from_select(
            [
                "contract_id",
                "user_id",
                "cause_type",
                "cause_id",
                "reputation_delta",
                "tokens_delta",
                "reputation",
                "tokens",
                "created_at",
            ],
            select(
                literal(row.id),
                User.id,
                literal(cause.type),
                literal(cause.id),
                User.reputation * factor - User.reputation,
                literal(0.0),
                User.reputation * factor,
                User.tokens,
                literal(now, LedgerEntry.created_at.type),
            ).where(condition),
        )
    )
    session.execute(
        update(User).where(condition).values(reputation=User.reputation * factor),
        execution_options={"synchronize_session": False},
    )
    mark_changed(session)
    expire_users(session)
    row.total_reputation += effects.non_voter_delta


def find_evaluation(
    session: Session, contract: ServedContract, evaluation_id: int
) -> Evaluation | None:
    """The evaluation ``evaluation_id`` of this contract, active or superseded, or None."""
    return session.scalars(
        select(Evaluation).where(
            Evaluation.id == evaluation_id, Evaluation.contract_id == contract.row_id
        )
    ).one_or_none()
