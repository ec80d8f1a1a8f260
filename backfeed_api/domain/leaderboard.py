"""Leaderboards of a contract's users: by balance now, or by what they gained over a period.

Users with equal values share a rank, the number of users with strictly more plus one
("1, 2, 2, 4"), and are listed by id. Every user of the contract is ranked, those who
gained nothing included.

Equal means equal up to rounding: balances and gains are sums of floating-point products,
and two that are mathematically equal may differ in their last bits (``0.1 + 0.2`` and
``0.3``). In the users sorted by value, one shares the rank of the one before it when
they differ by at most :data:`RELATIVE_TIE` of the larger magnitude, or by at most
:data:`ABSOLUTE_TIE` (a gain that should be 0 ties with 0). Ties chain: a run of such
neighbours shares one rank. Each user's own value is shown, as computed.
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
RELATIVE_TIE = 1e-9
"""Neighbours whose values differ by at most this share of the larger one share a rank."""
ABSOLUTE_TIE = 1e-12
"""Neighbours whose values differ by at most this much share a rank."""


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
    order, ranks = ranked(ids, values)
    items = [
        Standing(int(ranks[i]), int(ids[order[i]]), float(values[order[i]]))
        for i in range(start, min(start + limit, ids.size))
    ]
    own = None
    if user_id is not None:
        where = np.flatnonzero(ids[order] == user_id)
        own = Standing(int(ranks[where[0]]), user_id, float(values[order[where[0]]]))
    return Leaderboard(items, int(ids.size), own)


def ranked(ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions of ``ids`` most first, those tied by id, and the rank at each place
    (ties as the module says)."""
    by_value = np.argsort(-values, kind="stable")
    sorted_values = values[by_value]
    above, below = sorted_values[:-1], sorted_values[1:]
    tolerance = np.maximum(RELATIVE_TIE * np.maximum(np.abs(above), np.abs(below)), ABSOLUTE_TIE)
    starts = np.ones(values.size, bool)
    starts[1:] = above - below > tolerance
    group = np.cumsum(starts) - 1
    within = np.lexsort((ids[by_value], group))
    return by_value[within], np.flatnonzero(starts)[group[within]] + 1


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
