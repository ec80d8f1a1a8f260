"""The ``whitepaper1`` kind: reputation moves from the silent to those who agree.

There is no evaluation fee and no contributor reward. An evaluation takes reputation from the
users who have not evaluated the contribution, in proportion to their reputation, and gives it
to the earlier evaluators who voted the same value, in proportion to theirs; the total is
conserved. Only the first vote of each value by an evaluator on a contribution moves anything.
"""

from ..parameters import ContractParameters, ContributionType
from ..state import BalanceChanges, EvaluationEffects, EvaluationState
from .base import ContractRules


class Whitepaper1Contract(ContractRules):
    """The rule of the first Backfeed white paper."""

    kind = "whitepaper1"
    needs_non_voter_reputation = True
    defaults = ContractParameters(
        user_initial_tokens=50,
        user_initial_reputation=20,
        types={
            "contribution": ContributionType(
                name="contribution",
                fee=1,
                reputation_reward_factor=0.001,
                evaluation_set=(1, 0),
            ),
        },
    )

    def evaluate(self, state: EvaluationState) -> EvaluationEffects:
        """Move ``D = r * factor * N`` from the non-voters to the agreeing earlier voters.

        ``D`` is capped at ``N`` so that no non-voter's reputation can go below zero.
        """
        kind = state.contribution_type
        value = self.check_value(kind, state.value)
        if self.repeats_active_vote(state):
            return self.unchanged(state, recorded=False)
        if self.held_before(state):  # agreement is paid once: a return moves nothing
            return self.unchanged(state, recorded=True)

        voters = state.voters
        same = voters.values == value
        agreeing_others = float(voters.reputations[same].sum())
        non_voters = state.non_voter_reputation
        moved = state.evaluator.reputation * kind.reputation_reward_factor * non_voters
        if agreeing_others == 0 or moved == 0:
            return self.unchanged(state, recorded=True)
        moved = min(moved, non_voters)
        gains = voters.reputations[same] / agreeing_others * moved
        return EvaluationEffects(
            recorded=True,
            changes=BalanceChanges.combine(voters.ids[same], gains, 0.0 * gains),
            max_score=state.max_score,
            token_fund=state.token_fund,
            non_voter_factor=1.0 - moved / non_voters,
            non_voter_delta=-moved,
        )
