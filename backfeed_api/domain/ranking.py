"""Ranking contributions by score at any size, from an in-process index of the votes.

A score depends on the *current* reputation of every voter, which moves with each fee and
reward anywhere in the contract, so no score or voted sum can be stored. What does not move
is who voted what on which contribution: each process keeps, per contract, the active votes
(contribution, voter, value) and the contributions (id, creation time, contributor, type) as
numpy arrays, brought up to date at each use by reading only the rows added since (ids grow
in commit order, because every write of a contract holds its lock). A new vote of a user on
a contribution replaces the previous one, which is dropped from the index then.

A ranking then costs one read of the voters' reputations, a ``bincount`` per evaluation
value, the scores of every contribution (vectorised) and a partial sort for the page. The
voted sums of the page's contributions come from the same arithmetic, so the scores shown
are exactly the ones the order was computed from.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from protocol import ContractRules

from ..models import ContractRow, Contribution, Evaluation, User
from ..models.columns import MOMENT, read_columns
from .stats import age_days, contract_scale

NO_ID = -1
PAIRS_PER_QUERY = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankedPage:
    """One page of contribution ids in score order, how many matched in all, and the voted
    reputation per value of each contribution on the page."""

    ids: list[int]
    total: int
    voted: dict[int, dict[float, float]]
    total_reputation: float


@dataclass(frozen=True)
class ActiveVotes:
    """A snapshot of the active votes: the slot of each one's contribution (one of
    ``slots``), its voter, value and moment (microseconds since the epoch)."""

    slot: np.ndarray
    slots: int
    voter: np.ndarray
    value: np.ndarray
    created: np.ndarray


@dataclass
class _Votes:
    """The active votes, in evaluation id order; a replaced vote keeps its slot, inactive."""

    ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    slot: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    voter: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    value: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    active: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    created: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    """When each vote was made, in microseconds since the epoch."""
    last_seq: int = NO_ID

    def add(
        self, fresh: tuple[np.ndarray, ...], replaced: np.ndarray, contribution_ids: np.ndarray
    ) -> None:
        """Append new votes (the columns seq, id, contribution, voter, value, created) and
        retire the replaced ids.

        A vote keeps the slot of its contribution in ``contribution_ids``, which only grows.
        """
        if replaced.size and self.ids.size:
            position = np.minimum(np.searchsorted(self.ids, replaced), self.ids.size - 1)
            self.active[position[self.ids[position] == replaced]] = False
        seq, ids, contribution, voter, value, created = fresh
        if ids.size:
            self.last_seq = int(seq[-1])
            self.ids = np.concatenate([self.ids, ids])
            slot = np.searchsorted(contribution_ids, contribution)
            self.slot = np.concatenate([self.slot, slot])
            self.voter = np.concatenate([self.voter, voter])
            self.value = np.concatenate([self.value, value])
            self.active = np.concatenate([self.active, np.ones(ids.size, bool)])
            self.created = np.concatenate([self.created, created])
        if self.active.size > 1024 and self.active.sum() < self.active.size // 2:
            self._compact()

    def _compact(self) -> None:
        keep = self.active
        self.ids, self.slot = self.ids[keep], self.slot[keep]
        self.voter, self.value = self.voter[keep], self.value[keep]
        self.active, self.created = self.active[keep], self.created[keep]

    @property
    def last_id(self) -> int:
        return int(self.ids[-1]) if self.ids.size else NO_ID

    @property
    def count(self) -> int:
        return int(self.active.sum())


@dataclass
class _Contributions:
    """Every contribution of the contract, in id order, with what filters and scores need."""

    ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    created: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    contributor: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    type: np.ndarray = field(default_factory=lambda: np.empty(0, object))

    def add(self, rows: list) -> None:
        """Append new contributions (id, created_at, contributor, type)."""
        if not rows:
            return
        ids, created, contributor, kind = zip(*rows, strict=True)
        self.ids = np.concatenate([self.ids, np.array(ids, np.int64)])
        stamps = np.array([moment.timestamp() for moment in created], np.float64)
        self.created = np.concatenate([self.created, stamps])
        self.contributor = np.concatenate([self.contributor, np.array(contributor, np.int64)])
        self.type = np.concatenate([self.type, np.array(kind, object)])

    @property
    def last_id(self) -> int:
        return int(self.ids[-1]) if self.ids.size else NO_ID


class VoteIndex:
    """One contract's votes and contributions, cached in this process for ranking."""

    def __init__(self, contract_id: int) -> None:
        self.contract_id = contract_id
        self._lock = threading.Lock()
        self._votes = _Votes()
        self._contributions = _Contributions()
        self._active: tuple[tuple, ActiveVotes] | None = None

    def rank(
        self,
        session: Session,
        rules: ContractRules,
        now: datetime,
        *,
        descending: bool,
        start: int,
        limit: int,
        contributor_id: int | None = None,
        type_name: str | None = None,
        window: tuple[int | None, int | None] = (None, None),
    ) -> RankedPage:
        """A page of the contract's contributions by score, ties broken by id (the same
        direction as the score), with the page's voted reputation; ``window`` the exclusive
        bounds on their ids (since, max), either None."""
        with self._lock:  # the arrays change in place when votes are replaced
            total_reputation = self._refresh(session)
            reputation = reputations_by_id(session, self.contract_id)
            return self._rank(
                rules,
                now,
                total_reputation,
                reputation,
                descending=descending,
                start=start,
                limit=limit,
                contributor_id=contributor_id,
                type_name=type_name,
                window=window,
            )

    def active_votes(self, session: Session) -> ActiveVotes:
        """The contract's active votes now (the same snapshot until a vote is added)."""
        with self._lock:
            self._refresh(session)
            votes, active = self._votes, self._votes.active
            key = (votes.last_id, votes.count, int(self._contributions.ids.size))
            if self._active is None or self._active[0] != key:
                snapshot = ActiveVotes(
                    votes.slot[active],
                    int(self._contributions.ids.size),
                    votes.voter[active],
                    votes.value[active],
                    votes.created[active],
                )
                self._active = (key, snapshot)
            return self._active[1]

    def _rank(
        self,
        rules: ContractRules,
        now: datetime,
        total_reputation: float,
        reputation: np.ndarray,
        *,
        descending: bool,
        start: int,
        limit: int,
        contributor_id: int | None,
        type_name: str | None,
        window: tuple[int | None, int | None],
    ) -> RankedPage:
        votes, contributions = self._votes, self._contributions
        selected = np.ones(contributions.ids.size, bool)
        if contributor_id is not None:
            selected &= contributions.contributor == contributor_id
        if type_name is not None:
            selected &= contributions.type == type_name
        since_id, max_id = window
        if since_id is not None:
            selected &= contributions.ids > since_id
        if max_id is not None:
            selected &= contributions.ids < max_id
        candidates = np.flatnonzero(selected)
        if not candidates.size:
            return RankedPage([], 0, {}, total_reputation)
        slot = votes.slot
        weight = np.where(votes.active, reputation[votes.voter], 0.0)
        up = _sum_where(slot, weight, votes.value == 1.0, contributions.ids.size)
        down = _sum_where(slot, weight, votes.value == 0.0, contributions.ids.size)
        scores = rules.scores(
            up[candidates],
            down[candidates],
            total_reputation,
            age_days(contributions.created[candidates], now),
        )
        chosen = candidates[_page(contributions.ids[candidates], scores, descending, start, limit)]
        return RankedPage(
            contributions.ids[chosen].tolist(),
            int(candidates.size),
            _voted(votes, slot, weight, chosen, contributions.ids),
            total_reputation,
        )

    def _refresh(self, session: Session) -> float:
        """Read what was added since the last use; rebuild when the counts disagree. Returns
        the contract's total reputation, read with its count of votes."""
        for _ in range(2):
            self._read_new(session)
            stored, total_reputation = session.execute(
                select(ContractRow.evaluation_count, ContractRow.total_reputation).where(
                    ContractRow.id == self.contract_id
                )
            ).one()
            if stored == self._votes.count:
                return total_reputation
        log.warning(
            "vote index of contract %s disagrees with the database (%s votes, %s stored): "
            "rebuilding it",
            self.contract_id,
            self._votes.count,
            stored,
        )
        self._votes, self._contributions = _Votes(), _Contributions()
        self._active = None
        self._read_new(session)
        return total_reputation

    def decay_epoch(self, session: Session, now: datetime) -> int:
        """A number that changes exactly when the whole-day age of a contribution, and so
        its time decay, does: the sum of the ages in whole days of every contribution."""
        with self._lock:
            self._read_new_contributions(session)
            ages = np.floor(age_days(self._contributions.created, now))
            return int(ages.sum())

    def _read_new_contributions(self, session: Session) -> None:
        contributions = session.execute(
            select(
                Contribution.id,
                Contribution.created_at,
                Contribution.contributor_id,
                Contribution.type,
            )
            .where(
                Contribution.contract_id == self.contract_id,
                Contribution.id > self._contributions.last_id,
            )
            .order_by(Contribution.id)
        ).all()
        self._contributions.add(contributions)

    def _read_new(self, session: Session) -> None:
        self._read_new_contributions(session)
        last = self._votes.last_seq
        fresh = read_columns(
            session,
            [
                (Evaluation.seq, np.int64),
                (Evaluation.id, np.int64),
                (Evaluation.contribution_id, np.int64),
                (Evaluation.evaluator_id, np.int64),
                (Evaluation.value, np.float64),
                (Evaluation.created_at, MOMENT),
            ],
            lambda statement: statement.where(
                Evaluation.contract_id == self.contract_id,
                Evaluation.active,
                Evaluation.seq > last,
            ).order_by(Evaluation.seq),  # the (contract_id, seq) index's order
        )
        replaced = np.empty(0, np.int64)
        if fresh[0].size and last != NO_ID:
            replaced = _replaced(session, self.contract_id, self._votes.last_id, fresh)
        self._votes.add(fresh, replaced, self._contributions.ids)


def _replaced(
    session: Session, contract_id: int, last: int, fresh: tuple[np.ndarray, ...]
) -> np.ndarray:
    """The ids, up to ``last``, of the earlier votes of the same users on the same
    contributions as the ``fresh`` ones (columns as :meth:`_Votes.add` takes them): the
    votes these replaced."""
    pairs = sorted(set(zip(fresh[2].tolist(), fresh[3].tolist(), strict=True)))
    found: list[int] = []
    for start in range(0, len(pairs), PAIRS_PER_QUERY):
        found += session.scalars(
            select(Evaluation.id).where(
                Evaluation.contract_id == contract_id,
                Evaluation.id <= last,
                tuple_(Evaluation.contribution_id, Evaluation.evaluator_id).in_(
                    pairs[start : start + PAIRS_PER_QUERY]
                ),
            )
        ).all()
    return np.unique(np.array(found, np.int64))


def user_reputations(session: Session, contract_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The ids of the contract's users and their reputations (stored, times the contract's
    scale read by the same statement)."""
    ids, (reputations,), factor = _user_columns(session, contract_id, User.reputation)
    return ids, reputations * factor


def user_balances(session: Session, contract_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ids of the contract's users, their reputations and their tokens."""
    ids, (reputations, tokens), factor = _user_columns(
        session, contract_id, User.reputation, User.tokens
    )
    return ids, reputations * factor, tokens


def _user_columns(session: Session, contract_id: int, *columns) -> tuple:
    """The ids of the contract's users, the arrays of ``columns`` and the contract's scale,
    read by one statement, whole columns at a time (:func:`.columns.read_columns`)."""
    *found, scales = read_columns(
        session,
        [
            (User.id, np.int64),
            *((column, np.float64) for column in columns),
            (contract_scale(contract_id), np.float64),
        ],
        lambda statement: statement.where(User.contract_id == contract_id),
    )
    return found[0], found[1:], float(scales[0]) if scales.size else 1.0


def reputations_by_id(session: Session, contract_id: int) -> np.ndarray:
    """Every user's reputation (:func:`user_reputations`), indexed by user id."""
    ids, reputations = user_reputations(session, contract_id)
    if not ids.size:
        return np.zeros(1)
    by_id = np.zeros(int(ids.max()) + 1)
    by_id[ids] = reputations
    return by_id


def _sum_where(slot: np.ndarray, weight: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Per contribution slot, the sum of ``weight`` over the votes selected by ``mask``, added
    in vote order (so any other sum over the same votes in that order agrees exactly)."""
    return np.bincount(slot[mask], weights=weight[mask], minlength=size)


def _page(ids: np.ndarray, scores: np.ndarray, descending: bool, start: int, limit: int):
    """Positions of the page ``start:start+limit`` by score, ties by ascending id, found with
    a partial sort; every contribution tied with the page's last score is ordered exactly."""
    key = -scores if descending else scores
    end = min(start + limit, key.size)
    if end <= 0 or start >= key.size:
        return np.empty(0, np.int64)
    boundary = np.partition(key, end - 1)[end - 1]
    candidates = np.flatnonzero(key <= boundary)
    order = candidates[np.lexsort((ids[candidates], key[candidates]))]
    return order[start:end]


def _voted(
    votes: _Votes, slot: np.ndarray, weight: np.ndarray, chosen: np.ndarray, ids: np.ndarray
) -> dict[int, dict[float, float]]:
    """The voted reputation per value of the ``chosen`` contribution slots, summed like the
    ranking's sums."""
    result: dict[int, dict[float, float]] = {int(ids[position]): {} for position in chosen}
    on_page = np.isin(slot, chosen) & votes.active
    for value in np.unique(votes.value[on_page]).tolist():
        mask = on_page & (votes.value == value)
        sums = np.bincount(slot[mask], weights=weight[mask], minlength=ids.size)
        for position in chosen.tolist():
            result[int(ids[position])][value] = float(sums[position])
    return result
