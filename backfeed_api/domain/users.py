"""Creating and reading users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import UnknownUser, check_totals

from ..auth.credentials import hash_password
from ..models import User
from .bounds import within_bounds
from .catalog import ServedContract
from .explanations import record
from .ledger import Cause, write_balances
from .locking import lock_contract, next_action
from .logins import set_login


def find_user(session: Session, contract: ServedContract, user_id: int) -> User | None:
    """The user ``user_id`` of this contract, or None (also for another contract's user)."""
    return session.scalars(
        select(User).where(User.id == user_id, User.contract_id == contract.row_id)
    ).one_or_none()


def require_user(session: Session, contract: ServedContract, user_id: int, field: str) -> User:
    """The user named by the client in ``field``; a validation error when there is none."""
    user = find_user(session, contract, user_id)
    if user is None:
        raise UnknownUser(f"{field} {user_id} is not a user of this contract", field)
    return user


@within_bounds
def create_user(
    session: Session,
    contract: ServedContract,
    now: datetime,
    reputation: float | None = None,
    tokens: float | None = None,
    referrer_id: int | None = None,
    username: str | None = None,
    password: str | None = None,
) -> User:
    """Add a user with the given or default balances; its opening balances are a ledger entry.

    With a ``username`` and ``password`` the user can log in (``POST /{contract}/auth``);
    the password is hashed before the contract is locked, so the slow hash holds no one up.
    """
    reputation, tokens = contract.rules.new_user_balances(reputation, tokens)
    password_hash = hash_password(password) if password is not None else None
    row = lock_contract(session, contract.row_id)
    if referrer_id is not None:
        require_user(session, contract, referrer_id, "referrer_id")
    check_totals("this user", row.total_reputation + reputation, row.total_tokens + tokens)
    user = User(
        contract_id=contract.row_id,
        reputation=reputation / row.reputation_scale,
        tokens=tokens,
        referrer_id=referrer_id,
        seq=next_action(row),
        created_at=now,
    )
    session.add(user)
    session.flush()
    if username is not None and password_hash is not None:
        set_login(session, user, username, password_hash, now)
    row.user_count += 1
    row.total_reputation += reputation
    row.total_tokens += tokens
    if reputation or tokens:
        cause = Cause("user", user.id)
        opening = contract.rules.opening_explanation(reputation, tokens)
        record(session, row.id, cause, [opening], row.version)
        write_balances(
            session,
            row.id,
            cause,
            [
                {
                    "user_id": user.id,
                    "d_rep": reputation,
                    "d_tok": tokens,
                    "rep_after": user.reputation,
                    "tok_after": tokens,
                    "terms": 1,
                    "inputs": None,
                }
            ],
            now,
            scale=row.reputation_scale,
        )
    return user
