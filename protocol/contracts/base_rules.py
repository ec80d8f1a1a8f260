"""The "base" evaluation rules shared by the ``example`` and ``dmag`` kinds.

Evaluators pay a reputation fee that shrinks as the contribution's engaged reputation grows,
earlier evaluators who voted the same way are rewarded in proportion to their reputation, and
the contributor is rewarded when the contribution's score reaches a new high above the type's
threshold. Agreement is paid once: a vote back to a value the evaluator already held on the
contribution pays its fee and, on a new high, the contributor, but no earlier evaluator again.
Every amount is computed from one snapshot taken before any reputation changes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..explanations import ZERO, Terms
from ..parameters import ContributionType
from ..state import NO_USER, SECONDS_PER_DAY, EvaluationEffects, EvaluationState
from .base import ContractRules

# The formulas of the rules (protocol/explanations.py), over the names of their inputs.
TOKEN_REWARD = "token_fund * evaluator_reputation / unvoted_reputation"
EVALUATION_FEE = (
    "-(stake * evaluator_reputation * (1 - (engaged_reputation / total_reputation) ** beta))"
)
AGREEMENT_FACTOR = (
    "(distribution_stake * (evaluator_reputation / agreeing_reputation) "
    "* (agreeing_reputation / total_reputation) ** alpha)"
)
GAIN_ABOVE_HIGH = "approving_reputation / total_reputation - max_score"
GAIN_FROM_ZERO = "approving_reputation / total_reputation"


class VoteAmounts(NamedTuple):
    """What one vote moves under the base rules, each amount from the snapshot before it
    (:meth:`BaseRulesContract.amounts`)."""

    same: np.ndarray
    """Which of the other voters voted the vote's value."""
    reputations: np.ndarray
    """Their reputations: each agreeing voter gains its own times ``factor``."""
    engaged: float
    agreeing: float
    up: float
    """The reputation engaged, agreeing and approving (voting 1), the evaluator's included."""
    unvoted: float | None
    """The reputation that has not voted, when the evaluator earns ``token_reward``."""
    token_reward: float
    fee: float | None
    """The evaluator's reputation fee; None when it pays none."""
    factor: float | None
    """The agreement factor; None when agreement pays nothing."""
    base: float
    """The score gained that pays the contributor (0: no reward), by the formula ``gain``."""
    gain: str
    max_score: float
    token_fund: float
    """The contribution's highest score and evaluators' token fund after the vote."""


class BaseRulesContract(ContractRules):
    """A contract evaluated with the base rules; kinds differ only in their parameters."""

    def referral_active(self, created_at: np.ndarray | float, now: float) -> np.ndarray:
        """Whether users created at ``created_at`` still pass referral bonuses on at ``now``."""
        age_days = (now - np.asarray(created_at, dtype=np.float64)) / SECONDS_PER_DAY
        return age_days < self.params.referral_timeframe_days

    def amounts(
        self,
        kind: ContributionType,
        value: float,
        evaluator_reputation: float,
        voters: tuple[np.ndarray, np.ndarray],
        total_reputation: float,
        token_fund: float,
        max_score: float,
        *,
        first_vote: bool,
        held_before: bool,
    ) -> VoteAmounts:
        """Steps 1 to 8 of the base rules as numbers: what a vote of ``value`` on a
        contribution of ``kind`` moves, given the other voters' (reputations, values).

        :meth:`evaluate` explains them term by term, and
        :meth:`protocol.Simulation.apply_vote` applies them as they are, so the two cannot
        differ by a bit. ``first_vote``: the evaluator has no vote on the contribution yet;
        ``held_before``: its vote there has held ``value`` before (agreement is paid once).
        """
        params = self.params
        reputations, values = voters
        r, total = evaluator_reputation, total_reputation
        same = values == value
        agreeing_reputations = reputations[same]
        # np.add.reduce is what ndarray.sum calls, without its Python wrapper.
        engaged = float(np.add.reduce(reputations)) + r
        agreeing = float(np.add.reduce(agreeing_reputations)) + r
        # Most votes are 1, and then the approving voters are the agreeing ones.
        up = agreeing if value == 1 else float(np.add.reduce(reputations[values == 1]))

        unvoted = None
        token_reward = 0.0
        fund_after = token_fund
        if params.reward_tokens_to_evaluators and first_vote:
            unvoted = total - (engaged - r)
            if unvoted > 0:
                token_reward = token_fund * r / unvoted
                fund_after = token_fund - token_reward
            else:
                unvoted = None

        fee = None
        if r > 0 and total > 0:
            fee = kind.stake * r * (1.0 - (engaged / total) ** params.beta)

        factor = None
        if agreeing > 0 and total > 0 and not held_before:
            factor = kind.distribution_stake * (r / agreeing) * (agreeing / total) ** params.alpha

        score_after, base, gain = max_score, 0.0, ZERO
        if value != 0:
            score = up / total if total > 0 else 0.0
            if score > max_score:
                if max_score >= kind.reward_threshold:
                    base, gain = score - max_score, GAIN_ABOVE_HIGH
                elif score > kind.reward_threshold:
                    base, gain = score, GAIN_FROM_ZERO
                score_after = score
        return VoteAmounts(
            same=same,
            reputations=agreeing_reputations,
            engaged=engaged,
            agreeing=agreeing,
            up=up,
            unvoted=unvoted,
            token_reward=token_reward,
            fee=fee,
            factor=factor,
            base=base,
            gain=gain,
            max_score=score_after,
            token_fund=fund_after,
        )

    def evaluate(self, state: EvaluationState) -> EvaluationEffects:
        """Apply steps 1 to 8 of the base rules to ``state`` (:meth:`amounts`) and return
        the changes, each rule's a term."""
        kind = state.contribution_type
        value = self.check_value(kind, state.value)
        if self.repeats_active_vote(state):
            return self.unchanged(state, recorded=False)

        params = self.params
        voters = state.voters
        evaluator = state.evaluator
        r = evaluator.reputation
        total = state.total_reputation
        amounts = self.amounts(
            kind,
            value,
            r,
            (voters.reputations, voters.values),
            total,
            state.token_fund,
            state.max_score,
            first_vote=state.previous_value is None,
            held_before=self.held_before(state),
        )

        terms = Terms(explain=state.explain)
        if amounts.unvoted is not None:
            terms.add(
                "evaluator_token_reward",
                evaluator.id,
                tokens=amounts.token_reward,
                formula={"tokens_delta": TOKEN_REWARD},
                inputs={
                    "token_fund": state.token_fund,
                    "evaluator_reputation": r,
                    "unvoted_reputation": amounts.unvoted,
                },
            )

        if amounts.fee is not None:
            terms.add(
                "evaluation_fee",
                evaluator.id,
                reputation=-amounts.fee,
                formula={"reputation_delta": EVALUATION_FEE},
                inputs={
                    "stake": kind.stake,
                    "evaluator_reputation": r,
                    "engaged_reputation": amounts.engaged,
                    "total_reputation": total,
                    "beta": params.beta,
                },
            )

        if amounts.factor is not None:
            self._reward_agreement(state, amounts, terms)

        if amounts.base > 0:
            inputs = {
                "approving_reputation": amounts.up,
                "total_reputation": total,
                "max_score": state.max_score,
                "reward_threshold": kind.reward_threshold,
            }
            self._reward_contributor(state, amounts.base, amounts.gain, inputs, terms)

        return EvaluationEffects(
            recorded=True,
            changes=terms.changes(),
            max_score=amounts.max_score,
            token_fund=amounts.token_fund,
            terms=terms.freeze(),
        )

    def _reward_agreement(
        self, state: EvaluationState, amounts: VoteAmounts, terms: Terms
    ) -> None:
        """Reward the earlier voters who voted the same value, and their referrers while
        the referral lasts."""
        params, kind, voters = self.params, state.contribution_type, state.voters
        r, total = state.evaluator.reputation, state.total_reputation
        same, reputations, factor = amounts.same, amounts.reputations, amounts.factor
        inputs = {
            "distribution_stake": kind.distribution_stake,
            "evaluator_reputation": r,
            "agreeing_reputation": amounts.agreeing,
            "total_reputation": total,
            "alpha": params.alpha,
        }
        gains = reputations * factor
        terms.add(
            "agreeing_evaluator_reward",
            voters.ids[same],
            reputation=gains,
            formula={"reputation_delta": f"reputation * {AGREEMENT_FACTOR}"},
            inputs=inputs,
            own={"reputation": reputations},
        )
        referrers = voters.referrer_ids[same]
        bonus = referrers != NO_USER
        if not bonus.any():  # no referred voter: no referral is active either
            return
        bonus &= self.referral_active(voters.created_at[same], state.now)
        if not bonus.any():
            return
        referrer_ids, position = np.unique(referrers[bonus], return_inverse=True)
        fraction = params.referral_reward_fraction
        terms.add(
            "referral_reward",
            referrer_ids,
            reputation=np.bincount(position, weights=fraction * gains[bonus]),
            formula={
                "reputation_delta": "referral_reward_fraction * referred_reputation * "
                f"{AGREEMENT_FACTOR}"
            },
            inputs={**inputs, "referral_reward_fraction": fraction},
            own={"referred_reputation": np.bincount(position, weights=reputations[bonus])},
        )

    def _reward_contributor(
        self,
        state: EvaluationState,
        base: float,
        gain: str,
        inputs: dict[str, float],
        terms: Terms,
    ) -> None:
        """Pay the contributor, and its referrer while the referral lasts, for a new high
        of the score; ``base`` is the score gained that is paid for, ``gain`` its formula."""
        kind = state.contribution_type
        contributor = state.contributor
        reputation = kind.reputation_reward_factor * base
        tokens = kind.token_reward_factor * base
        inputs = {
            **inputs,
            "reputation_reward_factor": kind.reputation_reward_factor,
            "token_reward_factor": kind.token_reward_factor,
        }
        reputation_formula = f"reputation_reward_factor * ({gain})"
        tokens_formula = f"token_reward_factor * ({gain})"
        terms.add(
            "contributor_reward",
            contributor.id,
            reputation=reputation,
            tokens=tokens,
            formula={"reputation_delta": reputation_formula, "tokens_delta": tokens_formula},
            inputs=inputs,
        )
        if contributor.referrer_id != NO_USER and self.referral_active(
            contributor.created_at, state.now
        ):
            fraction = self.params.referral_reward_fraction
            terms.add(
                "contributor_referral_reward",
                contributor.referrer_id,
                reputation=fraction * reputation,
                tokens=fraction * tokens,
                formula={
                    "reputation_delta": f"referral_reward_fraction * ({reputation_formula})",
                    "tokens_delta": f"referral_reward_fraction * ({tokens_formula})",
                },
                inputs={**inputs, "referral_reward_fraction": fraction},
            )
