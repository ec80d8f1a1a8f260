"""The Backfeed scoring engine: what every action costs and earns under a contract.

Pure Python and numpy; it knows nothing of HTTP or databases. See ``PROTOCOL`` in the docs.
"""

from .contracts import Contract
from .errors import (
    ActionError,
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
    "NO_USER",
    "ActionError",
    "BalanceChanges",
    "ConfigurationError",
    "Contract",
    "ContractLoadError",
    "ContractParameters",
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
    "create_contract",
    "installed_kinds",
    "load_kind",
]
