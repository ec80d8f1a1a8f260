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

from ..state import (
    NO_USER,
    SECONDS_PER_DAY,
    BalanceChanges,
    EvaluationEffects,
    EvaluationState,
)
from .base import ContractRules


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

        ids: list[np.ndarray] = []
        rep: list[np.ndarray] = []
        tok: list[np.ndarray] = []

        def credit(user_ids, reputation=0.0, tokens=0.0) -> None:
            user_ids = np.atleast_1d(np.asarray(user_ids, dtype=np.int64))
            ids.append(user_ids)
            rep.append(np.broadcast_to(np.asarray(reputation, dtype=np.float64), user_ids.shape))
            tok.append(np.broadcast_to(np.asarray(tokens, dtype=np.float64), user_ids.shape))

        token_fund = state.token_fund
        if params.reward_tokens_to_evaluators and state.previous_value is None:
            unvoted = total - (engaged - r)
            if unvoted > 0:
                reward = token_fund * r / unvoted
                token_fund -= reward
                credit(evaluator.id, tokens=reward)

        if r > 0 and total > 0:
            fee = kind.stake * r * (1.0 - (engaged / total) ** params.beta)
            credit(evaluator.id, reputation=-fee)

        if agreeing > 0 and total > 0 and not self.held_before(state):
            factor = kind.distribution_stake * (r / agreeing) * (agreeing / total) ** params.alpha
            gains = voters.reputations[same] * factor
            credit(voters.ids[same], reputation=gains)
            referrers = voters.referrer_ids[same]
            bonus = (referrers != NO_USER) & self.referral_active(
                voters.created_at[same], state.now
            )
            credit(referrers[bonus], reputation=params.referral_reward_fraction * gains[bonus])

        max_score = state.max_score
        if value != 0:
            score = up / total if total > 0 else 0.0
            if score > max_score:
                if max_score >= kind.reward_threshold:
                    base = score - max_score
                elif score > kind.reward_threshold:
                    base = score
                else:
                    base = 0.0
                max_score = score
                if base > 0:
                    self._reward_contributor(state, base, credit)

        return EvaluationEffects(
            recorded=True,
            changes=BalanceChanges.combine(
                np.concatenate(ids) if ids else [],
                np.concatenate(rep) if rep else [],
                np.concatenate(tok) if tok else [],
            ),
            max_score=max_score,
            token_fund=token_fund,
        )

    def _reward_contributor(self, state: EvaluationState, base: float, credit) -> None:
        """Pay the contributor, and its referrer while the referral lasts, for a new high."""
        kind = state.contribution_type
        contributor = state.contributor
        reputation = kind.reputation_reward_factor * base
        tokens = kind.token_reward_factor * base
        credit(contributor.id, reputation=reputation, tokens=tokens)
        if contributor.referrer_id != NO_USER and self.referral_active(
            contributor.created_at, state.now
        ):
            fraction = self.params.referral_reward_fraction
            credit(
                contributor.referrer_id, reputation=fraction * reputation, tokens=fraction * tokens
            )
