"""The database's own guard of the balance limit, behind the engine's.

The engine refuses any action that would carry a contract's totals, and so a balance, beyond
:data:`protocol.MAX_BALANCE` (``protocol.bounds``), from the totals the contract row holds.
The database holds the same limit on every stored balance, fund and total (migration
``0009``: check constraints on PostgreSQL, triggers on SQLite), for a row the
engine does not see whole, such as a referrer paid a bonus, or totals that drifted from
their rows. :func:`within_bounds` turns such a refusal into the engine's own, a 409; the
request's transaction is then aborted, so nothing it wrote is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protocol import MAX_BALANCE, BalanceLimitExceeded

BOUND_CONSTRAINTS = (
    "ck_users_balances_bounded",
    "ck_contributions_token_fund_bounded",
    "ck_contracts_totals_bounded",
)
"""The names of the database's limits (and of the error each raises on SQLite)."""

Result = TypeVar("Result")


class StoredBalanceRefused(BalanceLimitExceeded):
    """The database refused a write for the balance limit: the engine's refusal, raised
    after the action began writing, in a transaction that can take no further statement
    (PostgreSQL aborts it) and is to be rolled back."""


def within_bounds(action: Callable[..., Result]) -> Callable[..., Result]:
    """Decorate a domain action taking the session first: its writes are flushed before it
    returns, and a write the database refuses for the balance limit is the engine's refusal
    (:class:`protocol.BalanceLimitExceeded`) rather than an unexpected error."""

    @functools.wraps(action)
    def guarded(session: Session, *args, **kwargs) -> Result:
        try:
            result = action(session, *args, **kwargs)
            session.flush()
        except IntegrityError as error:
            if not any(name in str(error.orig) for name in BOUND_CONSTRAINTS):
                raise
            raise StoredBalanceRefused(
                f"this action would bring a balance, a fund or a total above "
                f"{MAX_BALANCE:g}, the most any may hold, so nothing was changed",
                "",
            ) from None
        return result

    return guarded
