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
    Contract,
    ContractParameters,
    ContributionType,
    EvaluationEffects,
    EvaluationState,
)
from protocol.explanations import Terms

# The formulas of the rules above, over the names of their inputs (protocol.explanations).
FEE = "-(stake * evaluator_reputation * (1 - (engaged_reputation / total_reputation) ** beta))"
SHARE = "distribution_stake * evaluator_reputation * reputation ** 0.5 / agreeing_root_reputation"
GAIN_FROM_ZERO = "(approving_reputation / total_reputation) ** 0.5"
GAIN_ABOVE_HIGH = "(approving_reputation / total_reputation) ** 0.5 - max_score"


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
        terms = Terms()
        terms.add(
            "quadratic_evaluation_fee",
            evaluator.id,
            reputation=-fee,
            formula={"reputation_delta": FEE},
            inputs={
                "stake": kind.stake,
                "evaluator_reputation": r,
                "engaged_reputation": engaged,
                "total_reputation": total,
                "beta": self.params.beta,
            },
        )
        agreeing = voters.values == value
        if not self.held_before(state):
            self.share_pot(state, voters.reputations[agreeing], voters.ids[agreeing], terms)

        max_score = state.max_score
        if value == 1:
            score = float(np.sqrt(up / total))
            reward = self.contributor_reward(score, max_score, kind.reward_threshold)
            if reward > 0:
                gain = GAIN_FROM_ZERO if max_score < kind.reward_threshold else GAIN_ABOVE_HIGH
                terms.add(
                    "quadratic_contributor_reward",
                    state.contributor.id,
                    reputation=kind.reputation_reward_factor * reward,
                    tokens=kind.token_reward_factor * reward,
                    formula={
                        "reputation_delta": f"reputation_reward_factor * ({gain})",
                        "tokens_delta": f"token_reward_factor * ({gain})",
                    },
                    inputs={
                        "approving_reputation": up,
                        "total_reputation": total,
                        "max_score": max_score,
                        "reward_threshold": kind.reward_threshold,
                        "reputation_reward_factor": kind.reputation_reward_factor,
                        "token_reward_factor": kind.token_reward_factor,
                    },
                )
            max_score = max(max_score, score)

        return EvaluationEffects(
            recorded=True,
            changes=terms.changes(),
            max_score=max_score,
            token_fund=state.token_fund,
            terms=terms.freeze(),
        )

    def share_pot(
        self, state: EvaluationState, reputations: np.ndarray, ids: np.ndarray, terms: Terms
    ) -> None:
        """Share the pot of ``distribution_stake * r`` among the agreeing earlier voters."""
        kind = state.contribution_type
        roots = float(np.sqrt(reputations).sum())
        if roots <= 0:
            return
        pot = kind.distribution_stake * state.evaluator.reputation
        shares = self.agreement_shares(reputations, pot)
        terms.add(
            "quadratic_agreement_share",
            ids,
            reputation=shares,
            formula={"reputation_delta": SHARE},
            inputs={
                "distribution_stake": kind.distribution_stake,
                "evaluator_reputation": state.evaluator.reputation,
                "agreeing_root_reputation": roots,
            },
            own={"reputation": reputations},
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
