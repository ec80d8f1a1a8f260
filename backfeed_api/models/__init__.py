"""Persistence: SQLAlchemy models and the per-request session joined to ``pyramid_tm``."""

from .dialects import Dialect, dialect_of
from .meta import Base
from .session import get_engine, get_session_factory, get_tm_session_factory, includeme
from .tables import (
    ApiToken,
    ContractRow,
    ContractVersion,
    Contribution,
    Evaluation,
    Event,
    Explanation,
    IdempotencyKey,
    LedgerEntry,
    LedgerExemption,
    LoginFailure,
    ReplayJob,
    User,
    UserLogin,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "ApiToken",
    "Base",
    "ContractRow",
    "ContractVersion",
    "Contribution",
    "Dialect",
    "Evaluation",
    "Event",
    "Explanation",
    "IdempotencyKey",
    "LedgerEntry",
    "LedgerExemption",
    "LoginFailure",
    "ReplayJob",
    "User",
    "UserLogin",
    "Webhook",
    "WebhookDelivery",
    "dialect_of",
    "get_engine",
    "get_session_factory",
    "get_tm_session_factory",
    "includeme",
]
