"""A slow, scalar re-implementation of the protocol (``docs/protocol.rst``), used to check
the vectorised engine.

Everything here is written straight from the page, one user at a time, with plain Python
loops, lists and dicts and no numpy, so that it can be read side by side with the spec. It
shares nothing with :mod:`protocol` except the exception classes (so the tests can compare
which error each side raises); the default parameters are copied from the tables of the spec,
not read from the contract classes.

Where the spec leaves a float detail open, the oracle does what the engine documents:

* ``T`` is always the sum of every user's reputation, summed afresh for each evaluation.
* ``whitepaper1``: ``N`` (the reputation of the users with no active evaluation of the
  contribution) is summed directly over those users rather than computed as ``T - Q - O``,
  ``Q - r`` is the directly summed reputation of the *other* users who voted ``v``, and the
  moved amount ``D`` is capped at ``N`` so that no non-voter can go below zero. Apart from
  the cap these are the spec's formulas, only rounded differently. When the cap applies,
  every non-voter ends at exactly 0 (``w.reputation / N * N`` would leave a rounding residue
  of ~1e-17, and the spec's ``Q - r == 0`` test is discontinuous at such a residue).
* The bound: a vote is computed, then undone and refused if a total, a fund or a score went
  past the limit; the engine checks its running totals, the oracle sums afresh.
* Errors are checked in this order, like the engine: create user → reputation, tokens,
  referrer; create contribution → contributor, type, tokens; evaluate → evaluator,
  contribution, value, self-evaluation, then (unless the vote repeats the active one) the
  number of changes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.errors import (
    BalanceLimitExceeded,
    InsufficientTokens,
    InvalidEvaluationValue,
    InvalidInput,
    SelfEvaluationRefused,
    TooManyVoteChanges,
    UnknownContribution,
    UnknownContributionType,
    UnknownUser,
)

SECONDS_PER_DAY = 86400.0
LIMIT = 1e15
"""The spec's bound on every balance, contribution fund and contract total."""

TYPE_FIELDS = (
    "fee",
    "stake",
    "distribution_stake",
    "reputation_reward_factor",
    "token_reward_factor",
    "reward_threshold",
    "evaluation_set",
    "token_fund_for_evaluators",
)


def _type(*values: Any) -> dict[str, Any]:
    """One row of the spec's contribution type table, as a dict keyed by column name."""
    return dict(zip(TYPE_FIELDS, values, strict=True))


SPEC_PARAMETERS: dict[str, dict[str, Any]] = {
    "example": {
        "rules": "base",
        "user_initial_tokens": 50.0,
        "user_initial_reputation": 20.0,
        "beta": 0.5,
        "alpha": 0.0,
        "referral_reward_fraction": 0.2,
        "referral_timeframe_days": 30.0,
        "reward_tokens_to_evaluators": False,
        "allow_self_evaluation": False,
        "max_vote_changes": 5,
        "types": {
            "article": _type(1, 0.02, 0.08, 5, 50, 0.5, (0, 1), 10),
            "comment": _type(0.1, 0.005, 0.02, 1, 10, 0.5, (0, 1), 2),
        },
    },
    "dmag": {
        "rules": "base",
        "user_initial_tokens": 50.0,
        "user_initial_reputation": 0.0,
        "beta": 0.6,
        "alpha": 0.0,
        "referral_reward_fraction": 0.2,
        "referral_timeframe_days": 30.0,
        "reward_tokens_to_evaluators": True,
        "allow_self_evaluation": False,
        "max_vote_changes": 5,
        "types": {
            "article": _type(1, 0.02, 0.06, 50, 20, 0.3, (0, 1), 10),
            "comment": _type(0.2, 0.003, 0.01, 5, 5, 0.2, (0, 1), 2),
        },
    },
    "whitepaper1": {
        "rules": "whitepaper1",
        "user_initial_tokens": 50.0,
        "user_initial_reputation": 20.0,
        "beta": 0.0,
        "alpha": 0.0,
        "referral_reward_fraction": 0.2,
        "referral_timeframe_days": 30.0,
        "reward_tokens_to_evaluators": False,
        "allow_self_evaluation": False,
        "max_vote_changes": 5,
        "types": {
            "contribution": _type(1, 0, 0, 0.001, 0, 0, (True, False), 0),
        },
    },
}
"""The parameter tables of the protocol; ``rules`` says which evaluation section applies."""


@dataclass
class User:
    """A user as the spec describes one."""

    reputation: float
    tokens: float
    referrer: int | None
    created_at: float


@dataclass
class Contribution:
    """A contribution, with the name of its type and its two running figures."""

    contributor: int
    type: str
    max_score: float
    token_fund: float
    created_at: float


@dataclass
class Evaluation:
    """One vote; ``active`` is false once a later vote of the same user superseded it."""

    user: int
    contribution: int
    value: float
    active: bool


def _balance(name: str, value: Any, default: float) -> float:
    """A starting balance: the default when absent, else a finite, non-negative number."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput(f"{name} is too large") from None
    if math.isnan(number) or math.isinf(number):
        raise InvalidInput(f"{name} is not finite")
    if number < 0:
        raise InvalidInput(f"{name} is negative")
    if number > LIMIT:
        raise InvalidInput(f"{name} is above the limit")
    return number


def _within_limit(*amounts: float) -> bool:
    """Whether every amount is a finite number no greater than :data:`LIMIT`."""
    return all(math.isfinite(amount) and amount <= LIMIT for amount in amounts)


def _is_id(value: Any, count: int) -> bool:
    """Whether ``value`` is the id of one of ``count`` rows numbered from 1."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= count


class Oracle:
    """One contract's community, following the protocol literally. Ids start at 1."""

    def __init__(
        self,
        kind: str,
        overrides: Mapping[str, Any] | None = None,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        spec = SPEC_PARAMETERS[kind]
        self.params: dict[str, Any] = {k: v for k, v in spec.items() if k != "types"}
        self.types: dict[str, dict[str, Any]] = {
            name: dict(values) for name, values in spec["types"].items()
        }
        for key, value in (overrides or {}).items():
            if "." in key:
                type_name, field = key.split(".")
                self.types[type_name][field] = value
            else:
                self.params[key] = value
        self.clock = clock
        self.users: list[User] = []
        self.contributions: list[Contribution] = []
        self.evaluations: list[Evaluation] = []

    # -- figures the spec defines ------------------------------------------------------------

    def total_reputation(self) -> float:
        """``T``: the sum of every user's reputation."""
        total = 0.0
        for user in self.users:
            total += user.reputation
        return total

    def total_tokens(self) -> float:
        """The sum of every user's tokens."""
        total = 0.0
        for user in self.users:
            total += user.tokens
        return total

    def active_evaluations(self, contribution: int) -> list[Evaluation]:
        """The active evaluations of a contribution, at most one per user."""
        return [e for e in self.evaluations if e.contribution == contribution and e.active]

    def voted_reputation(self, contribution: int, value: float | None = None) -> float:
        """``V(c, x)``, or ``V(c)`` when ``value`` is None, from the users' current reputation."""
        total = 0.0
        for evaluation in self.active_evaluations(contribution):
            if value is None or evaluation.value == value:
                total += self.users[evaluation.user - 1].reputation
        return total

    def referral_lasts(self, user_id: int) -> bool:
        """Whether ``user_id`` is still young enough to earn its referrer a bonus."""
        age_days = (self.clock() - self.users[user_id - 1].created_at) / SECONDS_PER_DAY
        return age_days < self.params["referral_timeframe_days"]

    # -- actions -----------------------------------------------------------------------------

    def create_user(
        self,
        reputation: Any = None,
        tokens: Any = None,
        referrer_id: Any = None,
    ) -> int:
        """ "Creating a user": defaults, checks, and the referrer must already exist."""
        reputation = _balance("reputation", reputation, self.params["user_initial_reputation"])
        tokens = _balance("tokens", tokens, self.params["user_initial_tokens"])
        if referrer_id is not None and not _is_id(referrer_id, len(self.users)):
            raise UnknownUser("no such referrer")
        if not _within_limit(self.total_reputation() + reputation, self.total_tokens() + tokens):
            raise BalanceLimitExceeded("the contract's totals would pass the limit")
        self.users.append(User(reputation, tokens, referrer_id, self.clock()))
        return len(self.users)

    def create_contribution(self, contributor_id: Any, type: Any = None) -> int:
        """ "Creating a contribution": steps 1 to 4."""
        if not _is_id(contributor_id, len(self.users)):
            raise UnknownUser("no such contributor")
        if type is None:
            type = sorted(self.types)[0]
        if not isinstance(type, str) or type not in self.types:
            raise UnknownContributionType("no such contribution type")
        fee = self.types[type]["fee"]
        contributor = self.users[contributor_id - 1]
        if contributor.tokens < fee:
            raise InsufficientTokens("the contributor cannot pay the fee")
        contributor.tokens -= fee
        fund = self.types[type]["token_fund_for_evaluators"] or 0.0
        self.contributions.append(Contribution(contributor_id, type, 0.0, fund, self.clock()))
        return len(self.contributions)

    def evaluate(self, user_id: Any, contribution_id: Any, value: Any) -> tuple[int, bool]:
        """A vote; returns (id of the evaluation that stands, whether a new one was made).

        A vote that would leave a total, a fund or a score past the limit is undone and
        refused.
        """
        before = copy.deepcopy((self.users, self.contributions, self.evaluations))
        result = self._evaluate(user_id, contribution_id, value)
        if not _within_limit(
            self.total_reputation(),
            self.total_tokens(),
            *(c.token_fund for c in self.contributions),
            *(c.max_score for c in self.contributions),
        ):
            self.users, self.contributions, self.evaluations = before
            raise BalanceLimitExceeded("the vote would pass the limit")
        return result

    def _evaluate(self, user_id: Any, contribution_id: Any, value: Any) -> tuple[int, bool]:
        """The vote itself, checks and changes."""
        if not _is_id(user_id, len(self.users)):
            raise UnknownUser("no such evaluator")
        if not _is_id(contribution_id, len(self.contributions)):
            raise UnknownContribution("no such contribution")
        contribution = self.contributions[contribution_id - 1]
        kind = self.types[contribution.type]
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        if not isinstance(value, int | float):
            raise InvalidEvaluationValue("the value is not a number")
        allowed = [float(x) for x in kind["evaluation_set"]]
        if value not in allowed:  # NaN and infinities are in no evaluation set
            raise InvalidEvaluationValue("the value is not in the evaluation set")
        value = float(value)
        if user_id == contribution.contributor and not self.params["allow_self_evaluation"]:
            raise SelfEvaluationRefused("a contributor may not evaluate its own contribution")

        # Step 2: a repeat of the active vote does nothing; another value supersedes it.
        previous = None
        for index, evaluation in enumerate(self.evaluations):
            if (evaluation.user, evaluation.contribution) == (user_id, contribution_id) and (
                evaluation.active
            ):
                previous = index
        if previous is not None and self.evaluations[previous].value == value:
            return previous + 1, False
        # A change of value is refused once the user has changed it max_vote_changes times.
        if previous is not None:
            changes = 0
            for evaluation in self.evaluations:
                if (evaluation.user, evaluation.contribution) == (user_id, contribution_id) and (
                    not evaluation.active
                ):
                    changes += 1
            if changes >= self.params["max_vote_changes"]:
                raise TooManyVoteChanges("the evaluator may not change its vote again")
        # Agreement is paid once: has this user's vote on this contribution been ``value``
        # before (an evaluation of it that is no longer active)?
        returning = False
        for evaluation in self.evaluations:
            if (
                evaluation.user == user_id
                and evaluation.contribution == contribution_id
                and not evaluation.active
                and evaluation.value == value
            ):
                returning = True
        if previous is not None:
            self.evaluations[previous].active = False
        # Step 3: the new evaluation is active, so every sum below includes the evaluator.
        self.evaluations.append(Evaluation(user_id, contribution_id, value, True))

        if self.params["rules"] == "base":
            self._base_rules(
                user_id,
                contribution_id,
                kind,
                value,
                revote=previous is not None,
                returning=returning,
            )
        elif not returning:  # whitepaper1: a return to a value held before moves nothing
            self._whitepaper1(user_id, contribution_id, kind, value)
        return len(self.evaluations), True

    # -- the two evaluation sections ---------------------------------------------------------

    def _base_rules(
        self,
        user_id: int,
        c: int,
        kind: dict[str, Any],
        v: float,
        *,
        revote: bool,
        returning: bool,
    ) -> None:
        """Steps 4 to 8 of "Creating an evaluation (kinds example and dmag)"; a vote
        ``returning`` to a value the user held before pays no earlier evaluator (step 7)."""
        contribution = self.contributions[c - 1]
        params = self.params
        u = self.users[user_id - 1]
        T = self.total_reputation()

        # Step 4: tokens from the contribution's fund (no reputation moves here).
        if params["reward_tokens_to_evaluators"] and not revote:
            r = u.reputation
            unvoted = T - (self.voted_reputation(c) - r)
            if unvoted > 0:
                reward = contribution.token_fund * r / unvoted
                u.tokens += reward
                contribution.token_fund -= reward

        # Step 5: the snapshot.
        r = u.reputation
        E = self.voted_reputation(c)
        Q = self.voted_reputation(c, v)
        U = self.voted_reputation(c, 1.0)
        gains: dict[int, float] = {}  # user id -> reputation to add, applied at the end

        def add(user: int, amount: float) -> None:
            gains[user] = gains.get(user, 0.0) + amount

        # Step 6: the evaluator's fee.
        if r > 0:
            add(user_id, -(kind["stake"] * r * (1 - (E / T) ** params["beta"])))

        # Step 7: earlier evaluators who voted the same, and their referrers (once).
        if Q > 0 and not returning:
            burn = (Q / T) ** params["alpha"]  # 1 when alpha is 0
            for evaluation in self.active_evaluations(c):
                w = evaluation.user
                if w == user_id or evaluation.value != v:
                    continue
                voter = self.users[w - 1]
                gain = voter.reputation * kind["distribution_stake"] * (r / Q) * burn
                add(w, gain)
                if voter.referrer is not None and self.referral_lasts(w):
                    add(voter.referrer, params["referral_reward_fraction"] * gain)

        # Step 8: the contributor, on a new high score.
        token_gains: dict[int, float] = {}
        if v != 0:
            score = U / T if T != 0 else 0.0
            if score > contribution.max_score:
                if contribution.max_score >= kind["reward_threshold"]:
                    base = score - contribution.max_score
                elif score > kind["reward_threshold"]:
                    base = score
                else:
                    base = 0.0
                contribution.max_score = score
                if base > 0:
                    reputation = kind["reputation_reward_factor"] * base
                    tokens = kind["token_reward_factor"] * base
                    add(contribution.contributor, reputation)
                    token_gains[contribution.contributor] = tokens
                    contributor = self.users[contribution.contributor - 1]
                    if contributor.referrer is not None and self.referral_lasts(
                        contribution.contributor
                    ):
                        fraction = params["referral_reward_fraction"]
                        add(contributor.referrer, fraction * reputation)
                        token_gains[contributor.referrer] = (
                            token_gains.get(contributor.referrer, 0.0) + fraction * tokens
                        )

        for user, amount in gains.items():
            self.users[user - 1].reputation += amount
        for user, amount in token_gains.items():
            self.users[user - 1].tokens += amount

    def _whitepaper1(self, user_id: int, c: int, kind: dict[str, Any], v: float) -> None:
        """ "Creating an evaluation (kind whitepaper1)", with ``D`` capped at ``N``."""
        r = self.users[user_id - 1].reputation
        voted: set[int] = set()
        agreeing_others = 0.0  # Q - r
        for evaluation in self.active_evaluations(c):
            voted.add(evaluation.user)
            if evaluation.user != user_id and evaluation.value == v:
                agreeing_others += self.users[evaluation.user - 1].reputation
        N = 0.0
        for index, user in enumerate(self.users):
            if index + 1 not in voted:
                N += user.reputation
        D = r * kind["reputation_reward_factor"] * N
        if agreeing_others == 0 or D == 0:
            return
        D = min(D, N)
        new_reputation: dict[int, float] = {}
        for evaluation in self.active_evaluations(c):
            w = evaluation.user
            if w != user_id and evaluation.value == v:
                reputation = self.users[w - 1].reputation
                new_reputation[w] = reputation + reputation / agreeing_others * D
        for index, user in enumerate(self.users):
            if index + 1 not in voted:
                if D == N:  # capped: each loses all it has, exactly (no rounding residue)
                    new_reputation[index + 1] = 0.0
                else:
                    new_reputation[index + 1] = user.reputation - user.reputation / N * D
        for w, reputation in new_reputation.items():
            self.users[w - 1].reputation = reputation
