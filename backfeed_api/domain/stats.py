"""Contribution statistics and ranking, from the voters' *current* reputation.

A score depends on the reputation every voter has now, which moves with each fee and reward
anywhere in the contract, so nothing derived from it is stored: voted reputation is summed
per contribution and value by one aggregate query, and the scores are computed with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import ContractRules
from protocol.state import SECONDS_PER_DAY
from protocol.stats import normalised
from protocol.stats import quality as contribution_quality

from ..models import ContractRow, Contribution, Evaluation, User


def voted_reputation(
    session: Session, contract_id: int, contribution_ids: Iterable[int]
) -> dict[int, dict[float, float]]:
    """``V(c, x)`` for each listed contribution ``c`` of the contract and each value ``x``
    voted on it; the stored reputations are multiplied by the contract's scale read by the
    same statement."""
    ids = list(set(contribution_ids))
    result: dict[int, dict[float, float]] = {cid: {} for cid in ids}
    if not ids:
        return result
    rows = session.execute(
        select(
            Evaluation.contribution_id,
            Evaluation.value,
            func.sum(User.reputation) * contract_scale(contract_id),
        )
        .join(User, User.id == Evaluation.evaluator_id)
        .where(Evaluation.contribution_id.in_(ids), Evaluation.active)
        .group_by(Evaluation.contribution_id, Evaluation.value)
    )
    for contribution_id, value, reputation in rows:
        result[contribution_id][value] = float(reputation)
    return result


def contract_scale(contract_id: int):
    """The contract's reputation scale, as a subquery of the statement that reads stored
    reputations (so that both come from one snapshot)."""
    return (
        select(ContractRow.reputation_scale).where(ContractRow.id == contract_id).scalar_subquery()
    )


def age_days(created_at: datetime | np.ndarray, now: datetime) -> np.ndarray:
    """How many days old, as a float (the decay keeps the whole days)."""
    if isinstance(created_at, datetime):
        return np.asarray((now - created_at).total_seconds() / SECONDS_PER_DAY)
    return (now.timestamp() - created_at) / SECONDS_PER_DAY


def value_key(value: float) -> str:
    """An evaluation value as it appears in JSON keys: ``"1"``, ``"0"``, ``"0.5"``."""
    return f"{value:g}"


def contribution_stats(
    rules: ContractRules,
    contribution: Contribution,
    voted: dict[float, float],
    total_reputation: float,
    now: datetime,
) -> dict:
    """The ``stats`` object of a contribution, normalised by the total reputation."""
    contribution_type = rules.contribution_type(contribution.type)
    up, down = voted.get(1.0, 0.0), voted.get(0.0, 0.0)
    score = rules.scores(
        np.array([up]),
        np.array([down]),
        total_reputation,
        np.atleast_1d(age_days(contribution.created_at, now)),
    )[0]
    quality = contribution_quality(np.array([up]), np.array([down]), total_reputation)[0]
    return {
        "evaluations": {
            value_key(x): {"reputation": float(normalised(voted.get(x, 0.0), total_reputation))}
            for x in contribution_type.evaluation_set
        },
        "engaged_reputation": float(normalised(sum(voted.values()), total_reputation)),
        "quality": float(quality),
        "score": float(score),
    }
