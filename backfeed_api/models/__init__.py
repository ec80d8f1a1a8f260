"""Persistence: SQLAlchemy models and the per-request session joined to ``pyramid_tm``."""

from .meta import Base
from .session import get_engine, get_session_factory, get_tm_session, includeme
from .tables import Contract, Contribution, Evaluation, IdempotencyKey, LedgerEntry, User

__all__ = [
    "Base",
    "Contract",
    "Contribution",
    "Evaluation",
    "IdempotencyKey",
    "LedgerEntry",
    "User",
    "get_engine",
    "get_session_factory",
    "get_tm_session",
    "includeme",
]
