"""The ``quadratic`` kind: square-root rewards, so influence grows slower than reputation.

For a vote ``v`` in {0, 1} by a user with reputation ``r`` on a contribution, with ``T`` the
total reputation, ``E`` the reputation that has voted on the contribution, ``U`` the
reputation that has voted 1 (both counting this vote, from the balances before it):

1. **Fee.** The evaluator pays ``stake * r * (1 - (E / T) ** beta)`` reputation: voting on
   what few have looked at costs more.
2. **Agreement reward.** A pot of ``distribution_stake * r`` new reputation goes to the
   earlier voters who voted the same ``v``, shared in proportion to the *square root* of
   their reputation: a voter with four times the reputation gets twice the share. It is
   paid once: a vote back to a value the evaluator already held there shares nothing.
3. **Contributor reward** (for ``v = 1``). The score is ``sqrt(U / T)``. When it reaches a
   new high, the contributor earns ``token_reward_factor`` tokens and
   ``reputation_reward_factor`` reputation per unit of score gained, counting from 0 the
   first time the score passes ``reward_threshold``. Because the score is a square root,
   a contributor needs four times the approving reputation to earn twice the reward.

A repeated identical vote changes nothing. There are no referral bonuses and no token fund
for evaluators. With ``T == 0`` every amount is 0.
"""

from __future__ import annotations

import numpy as np

from protocol import (
    BalanceChanges,
    Contract,
    ContractParameters,
    ContributionType,
    EvaluationEffects,
    EvaluationState,
)


class QuadraticContract(Contract):
    """Base-rules economics with square-root weights for sharing and for scoring."""

    kind = "quadratic"
    defaults = ContractParameters(
        user_initial_tokens=50,
        user_initial_reputation=20,
        beta=1.0,
        types={
            "article": ContributionType(
                name="article",
                fee=1,
                stake=0.02,
                distribution_stake=0.08,
                reputation_reward_factor=5,
                token_reward_factor=50,
                reward_threshold=0.5,
                evaluation_set=(0, 1),
            ),
        },
    )

    def evaluate(self, state: EvaluationState) -> EvaluationEffects:
        """Charge the fee, share the pot among agreeing voters, reward the contributor."""
        kind = state.contribution_type
        value = self.check_value(kind, state.value)
        if self.repeats_active_vote(state):
            return self.unchanged(state, recorded=False)
        total = state.total_reputation
        if total <= 0:
            return self.unchanged(state, recorded=True)

        voters = state.voters
        evaluator = state.evaluator
        r = evaluator.reputation
        engaged = float(voters.reputations.sum()) + r
        up = float(voters.reputations[voters.values == 1].sum()) + (r if value == 1 else 0.0)

        fee = kind.stake * r * (1.0 - (engaged / total) ** self.params.beta)
        agreeing = voters.values == value
        pot = 0.0 if self.held_before(state) else kind.distribution_stake * r
        shares = self.agreement_shares(voters.reputations[agreeing], pot)

        max_score = state.max_score
        reward = 0.0
        if value == 1:
            score = float(np.sqrt(up / total))
            reward = self.contributor_reward(score, max_score, kind.reward_threshold)
            max_score = max(max_score, score)

        changes = BalanceChanges.combine(
            np.concatenate(([evaluator.id, state.contributor.id], voters.ids[agreeing])),
            np.concatenate(([-fee, kind.reputation_reward_factor * reward], shares)),
            np.concatenate(([0.0, kind.token_reward_factor * reward], np.zeros_like(shares))),
        )
        return EvaluationEffects(
            recorded=True, changes=changes, max_score=max_score, token_fund=state.token_fund
        )

    @staticmethod
    def agreement_shares(reputations: np.ndarray, pot: float) -> np.ndarray:
        """Split ``pot`` among voters in proportion to the square root of their reputation."""
        weights = np.sqrt(reputations)
        total = weights.sum()
        if total <= 0:
            return np.zeros_like(weights)
        return pot * weights / total

    @staticmethod
    def contributor_reward(score: float, max_score: float, threshold: float) -> float:
        """Units of score the contributor is paid for when the score becomes ``score``."""
        if score <= max_score:
            return 0.0
        if max_score >= threshold:
            return score - max_score
        return score if score > threshold else 0.0
