"""A random community: users who contribute and vote, drawn from a seeded numpy generator.

Every random choice is drawn up front, in a fixed order, from ``numpy.random.default_rng(seed)``
so that a seed always gives the same scenario. The actions are then produced lazily, one per
step, from those arrays; a run of millions of steps never holds millions of action objects.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protocol import create_contract

from .scenario import Action, Contribute, Evaluate, Join, Scenario, ScenarioError


@dataclass(frozen=True)
class Community:
    """The knobs of a generated community; see :func:`generate_scenario`."""

    kind: str = "example"
    users: int = 20
    contributions: int = 10
    evaluations: int = 200
    vote_probability: float = 0.7
    seed: int = 0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    initial_reputation: float | None = None
    """Every user's starting reputation; None leaves the kind's ``user_initial_reputation``."""

    def starting_reputation(self) -> float:
        """The reputation each user starts with: ``initial_reputation`` or the kind's default.

        When it is 0 no vote can move anything: fees, rewards and scores are all shares of
        reputation, so a warning is due.
        """
        if self.initial_reputation is not None:
            return float(self.initial_reputation)
        return create_contract(self.kind, self.overrides).params.user_initial_reputation


def generate_scenario(community: Community) -> Scenario:
    """A scenario where ``users`` users act at random, starting with the kind's default
    balances (or ``initial_reputation``).

    The first step is a contribution; the other contributions and the evaluations are
    shuffled together. Contributors take turns in a freshly shuffled order each round, so no
    one contributes more than ``ceil(contributions / users)`` times (a contributor who cannot
    pay the fee makes the engine refuse that step). Each evaluation is on a contribution
    drawn uniformly among those made so far, by a user drawn uniformly among all but its
    contributor (so a run works whether the contract allows self-evaluation or not), with
    value 1 with probability ``vote_probability`` and 0 otherwise; but a user who has
    changed its value on a contribution as often as the contract allows
    (``max_vote_changes``) keeps it, its later draws there repeating it. Raises
    :class:`ScenarioError` for impossible knobs, and the engine's error for an unknown kind
    or a bad override.
    """
    _check(community)
    limit = create_contract(community.kind, community.overrides).params.max_vote_changes
    rng = np.random.default_rng(community.seed)
    names = [f"u{number}" for number in range(1, community.users + 1)]
    setup = [Join(name, reputation=community.initial_reputation) for name in names]
    steps = _RandomSteps(community, rng, names, limit)
    return Scenario(
        contract=community.kind, overrides=dict(community.overrides), setup=setup, steps=steps
    )


def _check(community: Community) -> None:
    """Refuse knobs that cannot make a community, before anything is drawn."""
    if community.users < 1:
        raise ScenarioError("a community needs at least one user")
    if community.contributions < 0 or community.evaluations < 0:
        raise ScenarioError("the numbers of contributions and evaluations may not be negative")
    if community.evaluations and not community.contributions:
        raise ScenarioError("evaluations need at least one contribution to evaluate")
    if community.evaluations and community.users < 2:
        raise ScenarioError("evaluations need at least two users: nobody evaluates their own")
    if not 0.0 <= community.vote_probability <= 1.0:
        raise ScenarioError("the vote probability must be between 0 and 1")
    if community.initial_reputation is not None and not (
        math.isfinite(community.initial_reputation) and community.initial_reputation >= 0
    ):
        raise ScenarioError("the initial reputation must be a number, at least 0")


class _RandomSteps(Collection[Action]):
    """The steps of a generated community, built on demand from pre-drawn arrays."""

    def __init__(
        self, community: Community, rng: np.random.Generator, names: list[str], limit: int
    ) -> None:
        contributions, evaluations = community.contributions, community.evaluations
        total = contributions + evaluations
        self._names = names
        # Which steps are contributions: the first one, and contributions - 1 others at random.
        is_contribution = np.zeros(total, dtype=bool)
        if contributions:
            is_contribution[0] = True
            later = rng.choice(total - 1, size=contributions - 1, replace=False)
            is_contribution[later + 1] = True
        self._is_contribution = is_contribution
        # For every step, how many contributions exist once it is done.
        self._made = np.cumsum(is_contribution, dtype=np.int64)
        rounds = math.ceil(contributions / community.users)
        self._contributors = np.concatenate(
            [rng.permutation(community.users) for _ in range(rounds)] or [np.empty(0, np.int64)]
        )[:contributions]
        # An evaluator is drawn among the users other than the target's contributor.
        others = rng.integers(max(community.users - 1, 1), size=total)
        self._targets = np.floor(rng.random(total) * self._made).astype(np.int64)
        owners = self._contributors[np.minimum(self._targets, contributions - 1)]
        self._evaluators = others + (others >= owners)
        drawn = rng.random(total) < community.vote_probability
        self._values = _held_after(limit, self._evaluators, self._targets, drawn, ~is_contribution)

    def __len__(self) -> int:
        return int(self._is_contribution.shape[0])

    def __iter__(self) -> Iterator[Action]:
        return (self._action(index) for index in range(len(self)))

    def __contains__(self, item: object) -> bool:
        return any(action == item for action in self)

    def _action(self, index: int) -> Action:
        """The action of step ``index + 1``."""
        made = int(self._made[index])
        if self._is_contribution[index]:
            contributor = self._names[self._contributors[made - 1]]
            return Contribute(name=f"c{made}", contributor=contributor)
        return Evaluate(
            evaluator=self._names[self._evaluators[index]],
            contribution=f"c{int(self._targets[index]) + 1}",
            value=int(self._values[index]),
        )


def _held_after(
    limit: int,
    evaluators: np.ndarray,
    targets: np.ndarray,
    values: np.ndarray,
    is_vote: np.ndarray,
) -> np.ndarray:
    """The drawn ``values`` of the vote steps (``is_vote``), except that once a user has
    changed its value on a contribution ``limit`` times, its later votes there repeat it."""
    votes = np.flatnonzero(is_vote)
    if not votes.size:
        return values
    pairs = evaluators[votes] * (int(targets.max()) + 1) + targets[votes]
    order = np.argsort(pairs, kind="stable")  # each pair's votes together, in time order
    steps, pairs = votes[order], pairs[order]
    held = values[steps]
    first = np.r_[True, pairs[1:] != pairs[:-1]]  # a pair's first vote
    changes = np.cumsum(np.r_[False, held[1:] != held[:-1]] & ~first)
    changes -= np.maximum.accumulate(np.where(first, changes, 0))  # counted within the pair
    kept = changes <= limit  # a pair's first vote always is
    last_kept = np.maximum.accumulate(np.where(kept, np.arange(held.size), 0))
    result = values.copy()
    result[steps] = held[last_kept]
    return result
