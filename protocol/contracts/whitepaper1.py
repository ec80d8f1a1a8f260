"""The ``whitepaper1`` kind: reputation moves from the silent to those who agree.

There is no evaluation fee and no contributor reward. An evaluation takes reputation from the
users who have not evaluated the contribution, in proportion to their reputation, and gives it
to the earlier evaluators who voted the same value, in proportion to theirs; the total is
conserved. Only the first vote of each value by an evaluator on a contribution moves anything.
"""

from ..explanations import LOSS_RULE, Explanation, Terms
from ..parameters import ContractParameters, ContributionType
from ..state import EvaluationEffects, EvaluationState
from .base import ContractRules

MOVED = (
    "min(evaluator_reputation * reputation_reward_factor * non_voter_reputation, "
    "non_voter_reputation)"
)
"""The formula of ``D``, the reputation a vote moves from the non-voters."""


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
        reputations = voters.reputations[same]
        inputs = {
            "evaluator_reputation": state.evaluator.reputation,
            "reputation_reward_factor": kind.reputation_reward_factor,
            "non_voter_reputation": non_voters,
        }
        terms = Terms(explain=state.explain)
        terms.add(
            "agreement_gain",
            voters.ids[same],
            reputation=reputations / agreeing_others * moved,
            formula={"reputation_delta": f"reputation / earlier_agreeing_reputation * {MOVED}"},
            inputs={**inputs, "earlier_agreeing_reputation": agreeing_others},
            own={"reputation": reputations},
        )
        return EvaluationEffects(
            recorded=True,
            changes=terms.changes(),
            max_score=state.max_score,
            token_fund=state.token_fund,
            non_voter_factor=1.0 - moved / non_voters,
            non_voter_delta=-moved,
            terms=terms.freeze(),
            loss=Explanation(LOSS_RULE, {"reputation_delta": f"-{MOVED}"}, inputs),
        )
