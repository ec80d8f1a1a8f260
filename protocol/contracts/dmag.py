"""The ``dmag`` kind: a magazine whose users start without reputation."""

from ..parameters import ContractParameters, ContributionType
from .base_rules import BaseRulesContract


class DMagContract(BaseRulesContract):
    """Base rules; evaluators also earn tokens from the contribution's fund."""

    kind = "dmag"
    defaults = ContractParameters(
        user_initial_tokens=50,
        user_initial_reputation=0,
        beta=0.6,
        reward_tokens_to_evaluators=True,
        types={
            "article": ContributionType(
                name="article",
                fee=1,
                stake=0.02,
                distribution_stake=0.06,
                reputation_reward_factor=50,
                token_reward_factor=20,
                reward_threshold=0.3,
                evaluation_set=(0, 1),
                token_fund_for_evaluators=10,
            ),
            "comment": ContributionType(
                name="comment",
                fee=0.2,
                stake=0.003,
                distribution_stake=0.01,
                reputation_reward_factor=5,
                token_reward_factor=5,
                reward_threshold=0.2,
                evaluation_set=(0, 1),
                token_fund_for_evaluators=2,
            ),
        },
    )
