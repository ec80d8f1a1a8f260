"""Creating and reading users."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol import BalanceChanges, ContractRules, UnknownUser, check_totals

from ..auth.credentials import hash_password
from ..models import ContractRow, User
from .bounds import within_bounds
from .catalog import ServedContract
from .events import Change
from .explanations import record
from .ledger import Cause, Entries, write_balances
from .locking import lock_contract, next_action
from .logins import check_username_free, set_login
from .previews import Preview, planned_entries


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


@dataclass(frozen=True)
class _NewUser:
    """A user to create, checked under the contract lock: its balances, its referrer, the
    contract row and the rules of the version in force."""

    reputation: float
    tokens: float
    referrer_id: int | None
    row: ContractRow
    rules: ContractRules


def _plan_user(
    session: Session,
    contract: ServedContract,
    reputation: float | None,
    tokens: float | None,
    referrer_id: int | None,
) -> _NewUser:
    """Lock the contract and check a new user as :func:`create_user` and
    :func:`preview_user` both need it."""
    row = lock_contract(session, contract.row_id)
    rules = contract.rules_at(session, row.version)
    reputation, tokens = rules.new_user_balances(reputation, tokens)
    return _NewUser(reputation, tokens, referrer_id, row, rules)


def _check_user(session: Session, contract: ServedContract, new: _NewUser) -> None:
    """Refuse a referrer the contract does not have, or balances past the limit."""
    if new.referrer_id is not None:
        require_user(session, contract, new.referrer_id, "referrer_id")
    row = new.row
    check_totals("this user", row.total_reputation + new.reputation, row.total_tokens + new.tokens)


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
) -> tuple[User, list[Change]]:
    """Add a user with the given or default balances; its opening balances are a ledger entry.
    The user, and the balances its creation moved (its opening balances, if any).

    With a ``username`` and ``password`` the user can log in (``POST /{contract}/auth``);
    the password is hashed before the contract is locked, so the slow hash holds no one up.
    """
    password_hash = hash_password(password) if password is not None else None
    new = _plan_user(session, contract, reputation, tokens, referrer_id)
    _check_user(session, contract, new)
    row, reputation, tokens = new.row, new.reputation, new.tokens
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
        record(session, row.id, cause, [_opening(new)], row.version)
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
        return user, [Change(user.id, reputation, tokens, reputation, tokens)]
    return user, []


def _opening(new: _NewUser):
    """The explanation of the new user's first balances."""
    return new.rules.opening_explanation(new.reputation, new.tokens)


def preview_user(
    session: Session,
    contract: ServedContract,
    now: datetime,
    reputation: float | None = None,
    tokens: float | None = None,
    referrer_id: int | None = None,
    username: str | None = None,
) -> tuple[Preview, float]:
    """What :func:`create_user` would do, writing nothing: the user without an id, its
    opening entry, and the contract's total reputation with it."""
    new = _plan_user(session, contract, reputation, tokens, referrer_id)
    _check_user(session, contract, new)
    if username is not None:
        check_username_free(session, contract.row_id, username)
    user = User(
        id=None,
        contract_id=contract.row_id,
        reputation=new.reputation,
        reputation_scale=1.0,
        tokens=new.tokens,
        referrer_id=referrer_id,
        created_at=now,
    )
    entries = []
    if new.reputation or new.tokens:
        opening = BalanceChanges(np.array([0]), np.array([new.reputation]), np.array([new.tokens]))
        entries = planned_entries(
            "user", Entries.by_one(opening, 0), [_opening(new)], new.row.version
        )
        entries = [replace(entry, user_id=None) for entry in entries]
    return Preview(user, entries), new.row.total_reputation + new.reputation
