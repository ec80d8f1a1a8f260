"""The Backfeed scoring engine: what every action costs and earns under a contract.

Pure Python and numpy; it knows nothing of HTTP or databases. See ``PROTOCOL`` in the docs.
"""

from .bounds import MAX_BALANCE, check_bounded, check_totals
from .contracts import Contract, ContractRules
from .errors import (
    ActionError,
    BalanceLimitExceeded,
    ConfigurationError,
    ContractLoadError,
    InsufficientTokens,
    InvalidEvaluationValue,
    InvalidInput,
    InvalidParameter,
    ProtocolError,
    SelfEvaluationRefused,
    TooManyVoteChanges,
    UnknownContractKind,
    UnknownContribution,
    UnknownContributionType,
    UnknownUser,
)
from .parameters import ContractParameters, ContributionType
from .registry import create_contract, installed_kinds, load_kind
from .simulator import Simulation
from .state import (
    NO_USER,
    BalanceChanges,
    EvaluationEffects,
    EvaluationState,
    Party,
    Voters,
)

__all__ = [
    "MAX_BALANCE",
    "NO_USER",
    "ActionError",
    "BalanceChanges",
    "BalanceLimitExceeded",
    "ConfigurationError",
    "Contract",
    "ContractLoadError",
    "ContractParameters",
    "ContractRules",
    "ContributionType",
    "EvaluationEffects",
    "EvaluationState",
    "InsufficientTokens",
    "InvalidEvaluationValue",
    "InvalidInput",
    "InvalidParameter",
    "Party",
    "ProtocolError",
    "SelfEvaluationRefused",
    "Simulation",
    "TooManyVoteChanges",
    "UnknownContractKind",
    "UnknownContribution",
    "UnknownContributionType",
    "UnknownUser",
    "Voters",
    "check_bounded",
    "check_totals",
    "create_contract",
    "installed_kinds",
    "load_kind",
]
