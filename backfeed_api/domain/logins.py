"""Usernames and passwords of users, logging in, and slowing down password guessing.

Refused logins are counted in the database (``login_failures``), not in process memory:
production runs several processes behind one proxy, and a guesser spreading attempts over
them must meet one counter. After ``per_username`` refusals for one username of a contract,
or ``per_address`` refusals from one client address (over every contract), within the
window, further attempts are answered 429 with ``Retry-After`` until the oldest refusal
leaves the window; a throttled attempt checks no password and is not counted itself. A
successful login clears its username's count (not its address's). Counting happens in the
request's transaction, which the login view keeps despite its 401; requests racing each
other may each see the count before the others' refusals, so the limit is approximate under
concurrency, which is enough to make guessing slow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from protocol.errors import ActionError

from ..catalog import ServedContract
from ..models import LoginFailure, User, UserLogin
from ..settings import LoginLimits
from .credentials import dummy_password_hash, verify_password


class UsernameTaken(ActionError):
    """The username is already someone's in this contract."""


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt came to: the user's id, or a refusal, or a wait."""

    user_id: int | None = None
    retry_after: int | None = None
    """Seconds to wait before trying again, when the attempt was throttled."""


def set_login(
    session: Session, user: User, username: str, password_hash: str, now: datetime
) -> UserLogin:
    """Give ``user`` a username, unique in its contract, and a password (its hash, from
    :func:`~.credentials.hash_password`).

    Call it under the contract lock (as :func:`~.users.create_user` holds it), which makes
    the uniqueness check and the insert atomic.
    """
    taken = session.scalar(
        select(UserLogin.user_id).where(
            UserLogin.contract_id == user.contract_id, UserLogin.username == username
        )
    )
    if taken is not None:
        raise UsernameTaken(f"username {username!r} is taken in this contract", "username")
    login = UserLogin(
        user_id=user.id,
        contract_id=user.contract_id,
        username=username,
        password_hash=password_hash,
        created_at=now,
    )
    session.add(login)
    session.flush()
    return login


def _retry_after(
    session: Session,
    contract: ServedContract,
    username: str,
    address: str,
    now: datetime,
    limits: LoginLimits,
) -> int | None:
    """Seconds until an attempt is allowed again, or None when it is allowed now."""
    window = timedelta(seconds=limits.window_seconds)
    since = now - window
    waits = []
    for condition, limit in (
        (
            (LoginFailure.contract_id == contract.row_id) & (LoginFailure.username == username),
            limits.per_username,
        ),
        (LoginFailure.address == address, limits.per_address),
    ):
        recent = session.execute(
            select(func.count(), func.min(LoginFailure.failed_at)).where(
                condition, LoginFailure.failed_at > since
            )
        ).one()
        if recent[0] >= limit:
            # The count drops below the limit when the oldest of these leaves the window
            # (an approximation when more than ``limit`` are in it: then later ones follow).
            waits.append(max(1, math.ceil((recent[1] + window - now).total_seconds())))
    return max(waits) if waits else None


def log_in(
    session: Session,
    contract: ServedContract,
    now: datetime,
    username: str,
    password: str,
    address: str,
    limits: LoginLimits,
) -> LoginResult:
    """Check a username and password of the contract.

    An unknown username costs the same scrypt computation as a wrong password, and both
    are one outcome for the caller. A refusal is recorded; see the module for the limits.
    """
    # Forget the failures that left the window. Being a write, this also takes SQLite's
    # write lock before anything is read (see lock_contract): the attempt writes later.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.failed_at <= now - timedelta(seconds=limits.window_seconds)
        )
    )
    wait = _retry_after(session, contract, username, address, now, limits)
    if wait is not None:
        return LoginResult(retry_after=wait)
    login = session.scalars(
        select(UserLogin).where(
            UserLogin.contract_id == contract.row_id, UserLogin.username == username
        )
    ).one_or_none()
    stored = login.password_hash if login is not None else dummy_password_hash()
    if verify_password(password, stored) and login is not None:
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.contract_id == contract.row_id, LoginFailure.username == username
            )
        )
        return LoginResult(user_id=login.user_id)
    session.add(
        LoginFailure(
            contract_id=contract.row_id, username=username, address=address, failed_at=now
        )
    )
    session.flush()
    return LoginResult()
