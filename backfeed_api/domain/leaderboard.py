"""Leaderboards of a contract's users: by balance now, or by what they gained over a period.

Users with equal values share a rank, the number of users with strictly more plus one
("1, 2, 2, 4"), and are listed by id. Every user of the contract is ranked, those who
gained nothing included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from .activity import USER
from .catalog import ServedContract
from .community_stats import contract_period
from .ranking import user_balances, user_reputations

METRICS = ("reputation", "tokens", "reputation_gain", "tokens_gain")


@dataclass(frozen=True)
class Standing:
    """A user's place on a leaderboard."""

    rank: int
    user_id: int
    value: float


@dataclass(frozen=True)
class Leaderboard:
    """A page of a leaderboard, how many users it ranks, and one user's own standing."""

    items: list[Standing]
    total: int
    own: Standing | None


def leaderboard(
    session: Session,
    contract: ServedContract,
    metric: str,
    period_name: str,
    now: datetime,
    *,
    start: int,
    limit: int,
    user_id: int | None = None,
) -> Leaderboard:
    """The page ``start:start+limit`` of the users by ``metric`` (a gain over the period
    called ``period_name``), most first, with the standing of ``user_id`` when given (who
    must be a user of the contract)."""
    ids, values = _values(session, contract, metric, period_name, now)
    order = np.lexsort((ids, -values))
    descending = -values[order]
    ranks = np.searchsorted(descending, descending, side="left") + 1
    items = [
        Standing(int(ranks[i]), int(ids[order[i]]), float(values[order[i]]))
        for i in range(start, min(start + limit, ids.size))
    ]
    own = None
    if user_id is not None:
        where = np.flatnonzero(ids[order] == user_id)
        own = Standing(int(ranks[where[0]]), user_id, float(values[order[where[0]]]))
    return Leaderboard(items, int(ids.size), own)


def _values(
    session: Session, contract: ServedContract, metric: str, period_name: str, now: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """The contract's user ids and each one's value of ``metric``."""
    if metric == "reputation":
        return user_reputations(session, contract.row_id)
    if metric == "tokens":
        ids, _, tokens = user_balances(session, contract.row_id)
        return ids, tokens
    period, actions = contract_period(session, contract, period_name, now)
    ids = np.sort(actions.actor[actions.kind == USER])
    gains = contract.ledger.gains(session, period)
    by_id = gains.reputation if metric == "reputation_gain" else gains.tokens
    padded = np.zeros(max(by_id.size, int(ids.max()) + 1 if ids.size else 0))
    padded[: by_id.size] = by_id
    return ids, padded[ids]
