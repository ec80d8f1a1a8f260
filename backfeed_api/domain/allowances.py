"""What the daily evaluation allowances count: an evaluator's evaluations since the UTC day
began, in all and on one contributor's contributions.

Read under the contract lock by the vote itself, so two votes of one evaluator cannot both
see the count before the other: the engine's ``check_allowances`` then decides.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import ContractParameters

from ..models import Contribution, Evaluation


def day_start(now: datetime) -> datetime:
    """Midnight UTC of the day of ``now`` (an aware UTC datetime)."""
    return datetime.combine(now.date(), time(), tzinfo=now.tzinfo)


def counts_allowances(params: ContractParameters) -> bool:
    """Whether the contract sets an allowance, so that votes must count their day."""
    return (
        params.evaluations_per_day is not None
        or params.evaluations_per_contributor_per_day is not None
    )


def evaluations_today(
    session: Session, contract_id: int, evaluator_id: int, contributor_id: int, now: datetime
) -> tuple[int, int]:
    """How many evaluations (every recorded vote, a superseded one included) the evaluator
    cast in the contract since midnight UTC, and how many of them on the contributor's
    contributions."""
    on_contributor = func.count().filter(Contribution.contributor_id == contributor_id)
    total, paired = session.execute(
        select(func.count(), on_contributor)
        .select_from(Evaluation)
        .join(Contribution, Contribution.id == Evaluation.contribution_id)
        .where(
            Evaluation.contract_id == contract_id,
            Evaluation.evaluator_id == evaluator_id,
            Evaluation.created_at >= day_start(now),
        )
    ).one()
    return int(total), int(paired or 0)
