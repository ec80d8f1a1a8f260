"""Persistence: SQLAlchemy models and the per-request session joined to ``pyramid_tm``."""

from .meta import Base
from .session import get_engine, get_session_factory, get_tm_session_factory, includeme
from .tables import (
    ApiToken,
    Contract,
    Contribution,
    Evaluation,
    Explanation,
    IdempotencyKey,
    LedgerEntry,
    LedgerExemption,
    LoginFailure,
    User,
    UserLogin,
)

__all__ = [
    "ApiToken",
    "Base",
    "Contract",
    "Contribution",
    "Evaluation",
    "Explanation",
    "IdempotencyKey",
    "LedgerEntry",
    "LedgerExemption",
    "LoginFailure",
    "User",
    "UserLogin",
    "get_engine",
    "get_session_factory",
    "get_tm_session_factory",
    "includeme",
]
