"""The contract kinds that ship with backfeed-api, and the interface plugins implement."""

from .base import Contract, ContractRules
from .base_rules import BaseRulesContract
from .dmag import DMagContract
from .example import ExampleContract
from .whitepaper1 import Whitepaper1Contract

__all__ = [
    "BaseRulesContract",
    "Contract",
    "ContractRules",
    "DMagContract",
    "ExampleContract",
    "Whitepaper1Contract",
]
