"""What the engine reads and what it returns.

The engine never touches storage. A caller (the in-memory simulator, or the database layer of
the web service) gathers the few arrays an evaluation needs into an :class:`EvaluationState`,
and applies the :class:`EvaluationEffects` it gets back, writing one ledger entry per changed
user with the evaluation as cause.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .parameters import ContributionType

if TYPE_CHECKING:
    from .explanations import Explanation, Term

NO_USER = -1
"""The id used in referrer arrays for "no referrer"."""

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Party:
    """A single user taking part in an action: the evaluator or the contributor."""

    id: int
    reputation: float
    tokens: float = 0.0
    referrer_id: int = NO_USER
    created_at: float = 0.0  # seconds since the epoch


@dataclass(frozen=True)
class Voters:
    """The *other* users with an active evaluation of the contribution, one entry each."""

    ids: np.ndarray
    reputations: np.ndarray
    values: np.ndarray
    referrer_ids: np.ndarray
    created_at: np.ndarray

    @classmethod
    def empty(cls) -> Voters:
        """No other voter."""
        return cls.of(ids=[], reputations=[], values=[], referrer_ids=[], created_at=[])

    @classmethod
    def of(cls, *, ids, reputations, values, referrer_ids=None, created_at=None) -> Voters:
        """Build from sequences, with the right dtypes; referrers and dates are optional."""
        ids = np.asarray(ids, dtype=np.int64)
        size = ids.shape[0]
        return cls(
            ids=ids,
            reputations=np.asarray(reputations, dtype=np.float64),
            values=np.asarray(values, dtype=np.float64),
            referrer_ids=(
                np.full(size, NO_USER, dtype=np.int64)
                if referrer_ids is None
                else np.asarray(referrer_ids, dtype=np.int64)
            ),
            created_at=(
                np.zeros(size, dtype=np.float64)
                if created_at is None
                else np.asarray(created_at, dtype=np.float64)
            ),
        )


@dataclass(frozen=True)
class EvaluationState:
    """Everything an evaluation of one contribution depends on, read before it applies.

    ``voters`` excludes the evaluator, whose previous active value (if any) is
    ``previous_value``. ``superseded_values`` are the values of the evaluator's superseded
    evaluations of the contribution (the values its vote there has held before) and
    ``vote_changes`` their number: how many times it has changed its value there.
    ``non_voter_reputation`` is the reputation of the users with no active evaluation of the
    contribution, not counting the evaluator; only kinds whose ``needs_non_voter_reputation``
    is true read it. ``total_tokens``, the contract's tokens, bounds what a vote may pay.
    ``evaluations_today`` is how many evaluations the evaluator has cast since the UTC day
    began, ``evaluations_today_on_contributor`` how many of those were on the contributor's
    contributions: read only where the contract sets an allowance, 0 otherwise.
    """

    contribution_type: ContributionType
    max_score: float
    token_fund: float
    evaluator: Party
    contributor: Party
    value: float
    previous_value: float | None
    voters: Voters
    total_reputation: float
    now: float  # seconds since the epoch
    non_voter_reputation: float = 0.0
    superseded_values: frozenset[float] = frozenset()
    vote_changes: int = 0
    total_tokens: float = 0.0
    evaluations_today: int = 0
    evaluations_today_on_contributor: int = 0
    explain: bool = True


@dataclass(frozen=True)
class BalanceChanges:
    """Per-user deltas, one entry per user (ids unique), to add to the stored balances."""

    user_ids: np.ndarray
    reputation: np.ndarray
    tokens: np.ndarray

    @classmethod
    def none(cls) -> BalanceChanges:
        """No change at all."""
        return cls.combine([], [], [])

    @classmethod
    def combine(cls, user_ids, reputation, tokens) -> BalanceChanges:
        """Sum the deltas of repeated ids and drop the entries that change nothing."""
        ids = np.asarray(user_ids, dtype=np.int64)
        reputation = np.asarray(reputation, dtype=np.float64)
        tokens = np.asarray(tokens, dtype=np.float64)
        order = ids.argsort(kind="stable")
        ordered = ids[order]
        if not (ordered[1:] == ordered[:-1]).any():
            # Every id once (most votes): nothing to sum; adding 0.0 gives what the sums
            # below would (-0.0 becomes 0.0).
            rep, tok = reputation[order] + 0.0, tokens[order] + 0.0
            keep = (rep != 0.0) | (tok != 0.0)
            if keep.all():  # every user changed (most votes): nothing to drop
                return cls(user_ids=ordered, reputation=rep, tokens=tok)
            return cls(user_ids=ordered[keep], reputation=rep[keep], tokens=tok[keep])
        unique, position = np.unique(ids, return_inverse=True)
        rep = np.bincount(position, weights=reputation, minlength=unique.shape[0])
        tok = np.bincount(position, weights=tokens, minlength=unique.shape[0])
        keep = (rep != 0.0) | (tok != 0.0)
        return cls(
            user_ids=unique[keep],
            reputation=rep[keep].astype(np.float64),
            tokens=tok[keep].astype(np.float64),
        )

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])


@dataclass(frozen=True)
class EvaluationEffects:
    """What an evaluation changes.

    ``recorded`` is false for a vote that repeats the evaluator's active vote: nothing is
    stored and nothing changes. ``non_voter_factor``, when not None, multiplies the reputation
    of every user with no active evaluation of the contribution other than the evaluator
    (``whitepaper1``); ``non_voter_delta`` is the total reputation that moves that way.

    ``terms`` explain ``changes``, whose sum they are (:mod:`protocol.explanations`), and
    ``loss`` the non-voters' loss; a plugin kind that gives none leaves its changes
    unexplained.
    """

    recorded: bool
    changes: BalanceChanges
    max_score: float
    token_fund: float
    non_voter_factor: float | None = None
    non_voter_delta: float = 0.0
    terms: tuple[Term, ...] = ()
    loss: Explanation | None = None
    reputation_delta: float = field(init=False)
    tokens_delta: float = field(init=False)
    """The totals the vote moves, the non-voters' loss counted in ``reputation_delta``;
    each the correctly rounded sum of its deltas (:func:`math.fsum`), which no order of
    the users changes."""

    def __post_init__(self) -> None:
        total = math.fsum(self.changes.reputation.tolist()) + self.non_voter_delta
        object.__setattr__(self, "reputation_delta", total)
        object.__setattr__(self, "tokens_delta", math.fsum(self.changes.tokens.tolist()))
