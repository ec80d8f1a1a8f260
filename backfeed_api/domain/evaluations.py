"""Voting: gather the engine's state with a constant number of queries, apply its effects."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, literal, not_, select, update
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from protocol import NO_USER, EvaluationEffects, EvaluationState, Party, Voters

from ..catalog import ServedContract
from ..models import Contract, Evaluation, LedgerEntry, User
from .contributions import require_contribution
from .ledger import Cause, apply_changes, expire_users
from .locking import lock_contract, next_action
from .users import require_user


def as_party(user: User) -> Party:
    """A user as the engine sees a single participant."""
    return Party(
        id=user.id,
        reputation=user.reputation,
        tokens=user.tokens,
        referrer_id=NO_USER if user.referrer_id is None else user.referrer_id,
        created_at=user.created_at.timestamp(),
    )


def _active_votes(session: Session, contribution_id: int):
    """Every active vote on the contribution with its voter's balances, in one query."""
    return session.execute(
        select(
            Evaluation.id,
            Evaluation.evaluator_id,
            Evaluation.value,
            User.reputation,
            User.referrer_id,
            User.created_at,
        )
        .join(User, User.id == Evaluation.evaluator_id)
        .where(Evaluation.contribution_id == contribution_id, Evaluation.active)
    ).all()


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


def evaluate(
    session: Session,
    contract: ServedContract,
    now: datetime,
    evaluator_id: int,
    contribution_id: int,
    value: float,
) -> tuple[Evaluation, bool]:
    """Record a vote and apply its rewards and fees; return the standing evaluation and
    whether it was created (a repeat of the active vote creates nothing)."""
    rules = contract.rules
    row = lock_contract(session, contract.row_id)
    evaluator = require_user(session, contract, evaluator_id, "evaluator_id")
    contribution = require_contribution(session, contract, contribution_id)
    kind = rules.contribution_type(contribution.type)
    value = rules.check_value(kind, value)
    contributor = session.get(User, contribution.contributor_id)

    votes = _active_votes(session, contribution.id)
    own = next((vote for vote in votes if vote.evaluator_id == evaluator.id), None)
    others = [vote for vote in votes if vote.evaluator_id != evaluator.id]
    non_voter_reputation = 0.0
    if rules.needs_non_voter_reputation:
        non_voter_reputation = session.scalar(
            select(func.coalesce(func.sum(User.reputation), 0.0)).where(
                _non_voters(row.id, contribution.id, evaluator.id)
            )
        )
    state = EvaluationState(
        contribution_type=kind,
        max_score=contribution.max_score,
        token_fund=contribution.token_fund,
        evaluator=as_party(evaluator),
        contributor=as_party(contributor),
        value=value,
        previous_value=None if own is None else own.value,
        voters=Voters.of(
            ids=[vote.evaluator_id for vote in others],
            reputations=[vote.reputation for vote in others],
            values=[vote.value for vote in others],
            referrer_ids=[
                NO_USER if vote.referrer_id is None else vote.referrer_id for vote in others
            ],
            created_at=[vote.created_at.timestamp() for vote in others],
        ),
        total_reputation=row.total_reputation,
        now=now.timestamp(),
        non_voter_reputation=float(non_voter_reputation),
    )
    effects = rules.evaluate(state)
    if not effects.recorded:
        return session.get(Evaluation, own.id), False

    if own is not None:
        session.execute(
            update(Evaluation)
            .where(Evaluation.id == own.id)
            .values(active=False, superseded_at=now)
        )
    else:
        row.evaluation_count += 1
    evaluation = Evaluation(
        contract_id=row.id,
        contribution_id=contribution.id,
        evaluator_id=evaluator.id,
        value=value,
        active=True,
        seq=next_action(row),
        created_at=now,
    )
    session.add(evaluation)
    session.flush()
    cause = Cause("evaluation", evaluation.id)
    if effects.non_voter_factor is not None:
        _scale_non_voters(session, row, cause, effects, contribution.id, now)
    apply_changes(session, row, cause, effects.changes, now)
    contribution.max_score = effects.max_score
    contribution.token_fund = effects.token_fund
    return evaluation, True


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
