"""The ``example`` kind: the reference community with articles and comments."""

from ..parameters import ContractParameters, ContributionType
from .base_rules import BaseRulesContract


class ExampleContract(BaseRulesContract):
    """Base rules; users start with 50 tokens and 20 reputation."""

    kind = "example"
    defaults = ContractParameters(
        user_initial_tokens=50,
        user_initial_reputation=20,
        beta=0.5,
        reward_tokens_to_evaluators=False,
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
                token_fund_for_evaluators=10,
            ),
            "comment": ContributionType(
                name="comment",
                fee=0.1,
                stake=0.005,
                distribution_stake=0.02,
                reputation_reward_factor=1,
                token_reward_factor=10,
                reward_threshold=0.5,
                evaluation_set=(0, 1),
                token_fund_for_evaluators=2,
            ),
        },
    )
