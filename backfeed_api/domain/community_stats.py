"""The health of a contract's economy over a period: its pulse, its most active users, how
concentrated reputation is, how often evaluators agree, and what was issued.

Every figure comes from this process's in-memory indexes of the contract (:mod:`.activity`,
:mod:`.ledger_index`, :mod:`.ranking`), each brought up to date with the rows added since
its last use, so that a request costs array arithmetic over the contract rather than a read
of every row.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from .activity import CONTRIBUTION, EVALUATION, KIND_NAMES, USER
from .catalog import ServedContract
from .ledger_index import Issued
from .periods import Period, iso_millis, period_ending
from .ranking import ActiveVotes, user_reputations

MOST_ACTIVE = 10
LORENZ_POINTS = 100
"""The Lorenz curve is given at most at this many population shares (and at 0)."""


def contract_period(session: Session, contract: ServedContract, name: str, now: datetime):
    """The period called ``name`` ending now, and the contract's actions."""
    actions = contract.activity.actions(session)
    first = int(actions.time.min()) if actions.time.size else None
    return period_ending(name, now, first), actions


def community_stats(
    session: Session, contract: ServedContract, period_name: str, buckets: int, now: datetime
) -> dict:
    """The ``stats`` document of the contract over the period called ``period_name``."""
    period, actions = contract_period(session, contract, period_name, now)
    within = period.contains(actions.time)
    votes = contract.votes.active_votes(session)
    ids, balances = user_reputations(session, contract.row_id)
    by_id = np.zeros(max(int(ids.max()) if ids.size else 0, votes.voter.max(initial=0)) + 1)
    by_id[ids] = balances
    return {
        "period": period.as_dict(),
        "pulse": pulse(period, buckets, actions.time[within], actions.kind[within]),
        "most_active": most_active(actions.actor[within], actions.kind[within]),
        "reputation": reputation_concentration(balances),
        "agreement_rate": agreement_rate(votes, by_id, vote_values(contract), period),
        "issued": issued_document(contract.ledger.issued(session, period)),
    }


def pulse(period: Period, buckets: int, times: np.ndarray, kinds: np.ndarray) -> list[dict]:
    """The period's actions counted in equal buckets, by kind, with each bucket's share of
    the busiest one's."""
    cells = period.bucket_of(times, buckets) * len(KIND_NAMES) + kinds
    table = np.bincount(cells, minlength=buckets * len(KIND_NAMES)).reshape(buckets, -1)
    counts = {kind: table[:, kind] for kind in KIND_NAMES}
    total = counts[USER] + counts[CONTRIBUTION] + counts[EVALUATION]
    busiest = int(total.max()) if total.size else 0
    return [
        {
            "time": iso_millis(start),
            "rate": float(total[i] / busiest) if busiest else 0.0,
            **{name: int(counts[kind][i]) for kind, name in KIND_NAMES.items()},
        }
        for i, start in enumerate(period.boundaries(buckets).tolist())
    ]


def most_active(actors: np.ndarray, kinds: np.ndarray) -> list[dict]:
    """The users with the most contributions and evaluations among the given actions,
    most first, ties by user id."""
    acting = actors[kinds != USER]
    if not acting.size:
        return []
    counts = np.bincount(acting)
    users = np.flatnonzero(counts)
    if users.size > MOST_ACTIVE:  # those with at least the tenth highest count
        tenth = np.partition(counts[users], users.size - MOST_ACTIVE)[users.size - MOST_ACTIVE]
        users = users[counts[users] >= tenth]
    order = np.lexsort((users, -counts[users]))[:MOST_ACTIVE]
    return [{"user_id": int(users[i]), "actions": int(counts[users[i]])} for i in order]


def reputation_concentration(balances: np.ndarray) -> dict:
    """Gini coefficient, top decile's share and Lorenz curve of ``balances`` (one per
    user); an empty or reputationless population is perfectly equal."""
    values = np.sort(balances)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    count, total = values.size, float(cumulative[-1])  # so the curve ends at exactly 1
    if not count or total <= 0:
        return {"gini": 0.0, "top_10_percent_share": 0.0, "lorenz": [[0.0, 0.0], [1.0, 1.0]]}
    ranks = np.arange(1, count + 1)
    gini = float(2 * np.sum(ranks * values) / (count * total) - (count + 1) / count)
    top = -(-count // 10)
    points = np.unique(np.arange(LORENZ_POINTS + 1) * count // LORENZ_POINTS)
    shares = np.clip(cumulative[points] / total, 0.0, 1.0)
    return {
        "gini": min(1.0, max(0.0, gini)),
        "top_10_percent_share": min(1.0, float(values[count - top :].sum() / total)),
        "lorenz": [[float(k / count), float(s)] for k, s in zip(points, shares, strict=True)],
    }


def vote_values(contract: ServedContract) -> np.ndarray:
    """Every value a vote of the contract may have, in order."""
    types = contract.rules.params.types.values()
    return np.unique(np.array([x for kind in types for x in kind.evaluation_set], np.float64))


def agreement_rate(
    votes: ActiveVotes, reputation: np.ndarray, values: np.ndarray, period: Period
) -> float | None:
    """Among the active votes of the period on contributions with at least two active
    votes, the share whose value (one of ``values``) is the one with strictly the most
    reputation (indexed by user id) behind it now; None when there is no such vote."""
    slot, slots = votes.slot, votes.slots
    voters = np.bincount(slot, minlength=slots)
    weight = reputation[votes.voter]
    value_slot = np.minimum(np.searchsorted(values, votes.value), max(values.size - 1, 0))
    if values.size == 0 or not np.array_equal(values[value_slot], votes.value):
        values, value_slot = np.unique(votes.value, return_inverse=True)  # values of old rules
    cells = slot * values.size + value_slot
    behind = np.bincount(cells, weights=weight, minlength=slots * values.size)
    behind = behind.reshape(slots, values.size)
    best = behind.max(axis=1, initial=0.0)
    leaders = (behind == best[:, None]).sum(axis=1)
    counted = period.contains(votes.created) & (voters[slot] >= 2)
    if not counted.any():
        return None
    agrees = (behind[slot, value_slot] == best[slot]) & (leaders[slot] == 1)
    return float(agrees[counted].sum() / counted.sum())


def issued_document(issued: Issued) -> dict:
    """``issued`` as the stats document shows it."""
    return {
        "reputation": {
            "created": issued.reputation_created,
            "destroyed": issued.reputation_destroyed,
        },
        "tokens": {"created": issued.tokens_created, "destroyed": issued.tokens_destroyed},
    }
