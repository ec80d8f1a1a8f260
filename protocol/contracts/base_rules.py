"""The "base" evaluation rules shared by the ``example`` and ``dmag`` kinds.

Evaluators pay a reputation fee that shrinks as the contribution's engaged reputation grows,
earlier evaluators who voted the same way are rewarded in proportion to their reputation, and
the contributor is rewarded when the contribution's score reaches a new high above the type's
threshold. Agreement is paid once: a vote back to a value the evaluator already held on the
contribution pays its fee and, on a new high, the contributor, but no earlier evaluator again.
Every amount is computed from one snapshot taken before any reputation changes.
"""

from __future__ import annotations

import numpy as np

from ..explanations import ZERO, Terms
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


class BaseRulesContract(ContractRules):
    """A contract evaluated with the base rules; kinds differ only in their parameters."""

    def referral_active(self, created_at: np.ndarray | float, now: float) -> np.ndarray:
        """Whether users created at ``created_at`` still pass referral bonuses on at ``now``."""
        age_days = (now - np.asarray(created_at, dtype=np.float64)) / SECONDS_PER_DAY
        return age_days < self.params.referral_timeframe_days

    def evaluate(self, state: EvaluationState) -> EvaluationEffects:
        """Apply steps 1 to 8 of the base rules to ``state`` and return the changes."""
        kind = state.contribution_type
        value = self.check_value(kind, state.value)
        if self.repeats_active_vote(state):
            return self.unchanged(state, recorded=False)

        params = self.params
        voters = state.voters
        evaluator = state.evaluator
        r = evaluator.reputation
        total = state.total_reputation
        same = voters.values == value
        engaged = float(voters.reputations.sum()) + r
        agreeing = float(voters.reputations[same].sum()) + r
        up = float(voters.reputations[voters.values == 1].sum()) + (r if value == 1 else 0.0)

        terms = Terms(explain=state.explain)
        token_fund = state.token_fund
        if params.reward_tokens_to_evaluators and state.previous_value is None:
            unvoted = total - (engaged - r)
            if unvoted > 0:
                reward = token_fund * r / unvoted
                token_fund -= reward
                terms.add(
                    "evaluator_token_reward",
                    evaluator.id,
                    tokens=reward,
                    formula={"tokens_delta": TOKEN_REWARD},
                    inputs={
                        "token_fund": state.token_fund,
                        "evaluator_reputation": r,
                        "unvoted_reputation": unvoted,
                    },
                )

        if r > 0 and total > 0:
            fee = kind.stake * r * (1.0 - (engaged / total) ** params.beta)
            terms.add(
                "evaluation_fee",
                evaluator.id,
                reputation=-fee,
                formula={"reputation_delta": EVALUATION_FEE},
                inputs={
                    "stake": kind.stake,
                    "evaluator_reputation": r,
                    "engaged_reputation": engaged,
                    "total_reputation": total,
                    "beta": params.beta,
                },
            )

        if agreeing > 0 and total > 0 and not self.held_before(state):
            self._reward_agreement(state, agreeing, same, terms)

        max_score = state.max_score
        if value != 0:
            score = up / total if total > 0 else 0.0
            if score > max_score:
                if max_score >= kind.reward_threshold:
                    base, gain = score - max_score, GAIN_ABOVE_HIGH
                elif score > kind.reward_threshold:
                    base, gain = score, GAIN_FROM_ZERO
                else:
                    base, gain = 0.0, ZERO
                if base > 0:
                    inputs = {
                        "approving_reputation": up,
                        "total_reputation": total,
                        "max_score": max_score,
                        "reward_threshold": kind.reward_threshold,
                    }
                    self._reward_contributor(state, base, gain, inputs, terms)
                max_score = score

        return EvaluationEffects(
            recorded=True,
            changes=terms.changes(),
            max_score=max_score,
            token_fund=token_fund,
            terms=terms.freeze(),
        )

    def _reward_agreement(
        self, state: EvaluationState, agreeing: float, same: np.ndarray, terms: Terms
    ) -> None:
        """Reward the earlier voters who voted the same value, and their referrers while
        the referral lasts."""
        params, kind, voters = self.params, state.contribution_type, state.voters
        r, total = state.evaluator.reputation, state.total_reputation
        factor = kind.distribution_stake * (r / agreeing) * (agreeing / total) ** params.alpha
        inputs = {
            "distribution_stake": kind.distribution_stake,
            "evaluator_reputation": r,
            "agreeing_reputation": agreeing,
            "total_reputation": total,
            "alpha": params.alpha,
        }
        reputations = voters.reputations[same]
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
        bonus = (referrers != NO_USER) & self.referral_active(voters.created_at[same], state.now)
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
