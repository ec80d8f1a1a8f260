"""The contract interface that every kind, shipped or third-party, implements."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..bounds import MAX_BALANCE, check_bounded
from ..errors import (
    AllowanceExceeded,
    InsufficientTokens,
    InvalidEvaluationValue,
    InvalidInput,
    SelfEvaluationRefused,
    TooManyVoteChanges,
    UnknownContributionType,
)
from ..explanations import Explanation
from ..parameters import ContractParameters, ContributionType
from ..state import SECONDS_PER_DAY, BalanceChanges, EvaluationEffects, EvaluationState
from ..stats import contribution_scores


def checked_amount(field: str, value: Any, *, default: float) -> float:
    """Return a balance given by a client as a float: finite, from 0 to
    :data:`~protocol.bounds.MAX_BALANCE`, or the default."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a number", field)
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput(f"{field} is too large", field) from None
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be a finite number", field)
    if number < 0:
        raise InvalidInput(f"{field} may not be negative", field)
    if number > MAX_BALANCE:
        raise InvalidInput(f"{field} may be at most {MAX_BALANCE:.0e}", field)
    return number


class ContractRules(ABC):
    """A contract kind: its default parameters and how an evaluation changes balances.

    Subclasses set ``kind`` and ``defaults`` and implement :meth:`evaluate`, whose effects
    give the terms that explain their changes (:mod:`protocol.explanations`). An instance
    is the kind with optional parameter overrides, validated here.
    """

    kind: ClassVar[str]
    defaults: ClassVar[ContractParameters]
    needs_non_voter_reputation: ClassVar[bool] = False
    """Whether :meth:`evaluate` reads ``EvaluationState.non_voter_reputation``."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, *, name: str | None = None):
        self.params: ContractParameters = self.defaults.with_overrides(overrides or {})
        self.overrides: dict[str, Any] = dict(overrides or {})
        self.name: str = name or self.kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} kind={self.kind!r}>"

    def new_user_balances(
        self, reputation: float | None = None, tokens: float | None = None
    ) -> tuple[float, float]:
        """The starting (reputation, tokens) of a new user, defaults filled in and checked."""
        return (
            checked_amount("reputation", reputation, default=self.params.user_initial_reputation),
            checked_amount("tokens", tokens, default=self.params.user_initial_tokens),
        )

    @staticmethod
    def opening_explanation(reputation: float, tokens: float) -> Explanation:
        """Why a new user holds its first balances (those of :meth:`new_user_balances`)."""
        return Explanation(
            "initial_balance",
            {"reputation_delta": "initial_reputation", "tokens_delta": "initial_tokens"},
            {"initial_reputation": reputation, "initial_tokens": tokens},
        )

    @staticmethod
    def fee_explanation(contribution_type: ContributionType) -> Explanation:
        """Why a contributor pays in tokens for a contribution of ``contribution_type``."""
        return Explanation(
            "contribution_fee", {"tokens_delta": "-fee"}, {"fee": contribution_type.fee}
        )

    def contribution_type(self, name: str | None = None) -> ContributionType:
        """The contribution type called ``name``, or the default type when ``name`` is None."""
        if name is None:
            name = self.params.default_type
        try:
            return self.params.types[name]
        except (KeyError, TypeError):
            known = ", ".join(self.params.types)
            raise UnknownContributionType(
                f"unknown contribution type {name!r}; this contract has: {known}", "type"
            ) from None

    def contribution_fee(
        self, contribution_type: ContributionType, contributor_tokens: float
    ) -> float:
        """The tokens a contributor holding ``contributor_tokens`` pays to open a contribution
        of ``contribution_type``; raises :class:`~protocol.errors.InsufficientTokens` when
        they cannot pay it. The service and the simulator both charge through it."""
        fee = contribution_type.fee
        if contributor_tokens < fee:
            raise InsufficientTokens(
                f"the contributor has {contributor_tokens:g} tokens and a "
                f"{contribution_type.name} costs {fee:g}",
                "contributor_id",
            )
        return fee

    def check_value(self, contribution_type: ContributionType, value: Any) -> float:
        """Return the vote as a float if the type accepts it, else raise."""
        if not isinstance(value, bool | int | float):
            raise InvalidEvaluationValue("value must be a number", "value")
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float: not a usable number either
            number = math.inf
        if not math.isfinite(number):
            raise InvalidEvaluationValue("value must be a number", "value")
        if not contribution_type.accepts(number):
            allowed = ", ".join(f"{v:g}" for v in contribution_type.evaluation_set)
            raise InvalidEvaluationValue(
                f"value {value!r} is not allowed for {contribution_type.name}; use one of: "
                f"{allowed}",
                "value",
            )
        return float(value)

    def vote(self, state: EvaluationState) -> EvaluationEffects:
        """What the vote described by ``state`` changes: the rules every kind shares, then the
        kind's own (:meth:`evaluate`), whose effects may not pass the bounds of
        :mod:`protocol.bounds`.

        The service and the simulator call this rather than :meth:`evaluate`, so that no
        kind, a plugin's included, lets a vote past the contract's limits. Raises an
        :class:`~protocol.errors.ActionError` for a refused vote; never mutates.
        """
        self.check_value(state.contribution_type, state.value)
        self.check_evaluator(state)
        if not self.repeats_active_vote(state):
            self.check_vote_changes(state)
            self.check_allowances(state)
        effects = self.evaluate(state)
        if effects.recorded:
            check_bounded(
                "this vote",
                total_reputation=state.total_reputation + effects.reputation_delta,
                total_tokens=state.total_tokens + effects.tokens_delta,
                token_fund=effects.token_fund,
                max_score=effects.max_score,
            )
        return effects

    def check_evaluator(self, state: EvaluationState) -> None:
        """Refuse a vote by the contributor unless the contract's ``allow_self_evaluation``:
        a contributor voting for its own work collects the reward of a score it made."""
        if state.evaluator.id == state.contributor.id and not self.params.allow_self_evaluation:
            raise SelfEvaluationRefused(
                f"evaluator_id {state.evaluator.id} is the contributor of this contribution, "
                "and this contract does not allow self-evaluation "
                "(allow_self_evaluation = false)",
                "evaluator_id",
            )

    def check_vote_changes(self, state: EvaluationState) -> None:
        """Refuse a change of value beyond the contract's ``max_vote_changes``: a value that
        could change without end would let a vote be bought and sold again and again."""
        limit = self.params.max_vote_changes
        if state.previous_value is not None and state.vote_changes >= limit:
            raise TooManyVoteChanges(
                f"evaluator_id {state.evaluator.id} has changed its vote on this contribution "
                f"{state.vote_changes} times, the most this contract allows "
                f"(max_vote_changes = {limit}); its vote stays {state.previous_value:g}",
                "value",
            )

    def check_allowances(self, state: EvaluationState) -> None:
        """Refuse an evaluation beyond the contract's daily allowances (UTC days), per
        evaluator and per evaluator and contributor: the cheapest bound on vote farming, by
        one account or by a ring of accounts upvoting each other."""
        params = self.params
        if (
            params.evaluations_per_day is None
            and params.evaluations_per_contributor_per_day is None
        ):
            return  # no allowance set, the common case: nothing to count against
        counts = (
            ("evaluations_per_day", state.evaluations_today, "evaluations today"),
            (
                "evaluations_per_contributor_per_day",
                state.evaluations_today_on_contributor,
                f"evaluations today on the contributions of user {state.contributor.id}",
            ),
        )
        for name, count, what in counts:
            allowance = getattr(params, name)
            if allowance is not None and count >= allowance:
                retry_after = math.ceil(SECONDS_PER_DAY - state.now % SECONDS_PER_DAY)
                raise AllowanceExceeded(
                    f"evaluator_id {state.evaluator.id} has cast {count} {what}, the most "
                    f"this contract allows ({name} = {allowance}); try again in "
                    f"{retry_after} s, when the UTC day ends",
                    name,
                    retry_after,
                )

    @abstractmethod
    def evaluate(self, state: EvaluationState) -> EvaluationEffects:
        """Compute what the evaluation described by ``state`` changes.

        Raises an :class:`~protocol.errors.ActionError` for a refused vote; never mutates.
        """

    def scores(
        self,
        up: np.ndarray,
        down: np.ndarray,
        total_reputation: float,
        age_days: np.ndarray,
    ) -> np.ndarray:
        """Score many contributions at once from their voted reputation for 1 and for 0."""
        return contribution_scores(up, down, total_reputation, age_days)

    @staticmethod
    def repeats_active_vote(state: EvaluationState) -> bool:
        """Whether the vote equals the evaluator's active one, which makes it a no-op."""
        return state.previous_value is not None and state.previous_value == state.value

    @staticmethod
    def held_before(state: EvaluationState) -> bool:
        """Whether the evaluator's vote on the contribution has had this value before.

        Agreement is paid once: a vote back to a value it already held may not pay (or move)
        again what its first vote with that value did.
        """
        return float(state.value) in state.superseded_values

    @staticmethod
    def unchanged(state: EvaluationState, *, recorded: bool) -> EvaluationEffects:
        """Effects of an evaluation that moves no balance."""
        return EvaluationEffects(
            recorded=recorded,
            changes=BalanceChanges.none(),
            max_score=state.max_score,
            token_fund=state.token_fund,
        )


Contract = ContractRules
"""The class's earlier name, kept for the plugins that subclass ``protocol.Contract``."""
