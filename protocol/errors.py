"""The exceptions of the scoring engine.

Every rejection of an action is a :class:`ProtocolError`. Its message is written for the
person at the other end of the API, and ``field`` names the input at fault, so the web layer
can turn it into a validation error without knowing the subclasses.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """An action or a configuration that the protocol refuses; the state is left untouched."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigurationError(ProtocolError):
    """A contract kind, parameter or override that cannot be used."""


class UnknownContractKind(ConfigurationError):
    """No installed plugin provides the requested contract kind."""


class ContractLoadError(ConfigurationError):
    """A plugin is declared but could not be imported or is not a contract."""


class InvalidParameter(ConfigurationError):
    """A contract parameter or override is unknown or out of range."""


class ActionError(ProtocolError):
    """A user action (create user, contribute, evaluate) that is refused."""


class InvalidInput(ActionError):
    """A number that is NaN, infinite or out of its allowed range."""


class UnknownContributionType(ActionError):
    """The contribution type is not one of the contract's types."""


class InvalidEvaluationValue(ActionError):
    """The vote is not in the contribution type's evaluation set."""


class InsufficientTokens(ActionError):
    """The contributor cannot pay the contribution fee."""


class UnknownUser(ActionError):
    """A referrer, contributor or evaluator that is not a user of this contract."""


class UnknownContribution(ActionError):
    """A contribution that does not exist in this contract."""


class TooManyVoteChanges(ActionError):
    """The evaluator has changed its value on this contribution as often as the contract's
    ``max_vote_changes`` allows."""


class SelfEvaluationRefused(ActionError):
    """A vote by the contribution's contributor, in a contract that does not allow it."""


class BalanceLimitExceeded(ActionError):
    """The action would leave a balance, a fund or a contract total NaN, infinite or above
    :data:`protocol.bounds.MAX_BALANCE`."""


class AllowanceExceeded(ActionError):
    """The evaluator has cast as many evaluations today (UTC) as one of the contract's
    allowances permits: ``field`` names the allowance, ``retry_after`` the seconds until
    the day ends and counting starts again."""

    def __init__(self, message: str, field: str, retry_after: int) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after
