"""Usernames and passwords of users, logging in, and slowing down password guessing.

Refused logins are counted in the database (``login_failures``), not in process memory:
production runs several processes behind one proxy, and a guesser spreading attempts over
them must meet one counter. Within the window, an attempt is answered 429 with
``Retry-After``, without checking its password and without being counted itself, when one
of these counts has reached its limit (:class:`~backfeed_api.settings.LoginLimits`):

- the refusals of this username of the contract from this client address (the strict
  limit: whoever guesses from one address waits, the owner logging in elsewhere does not);
- the refusals of this username from any address (a much higher limit, against guessing
  spread over many addresses);
- the refusals from this address, for any username of any contract.

A request without a readable client address (see :mod:`~backfeed_api.pipeline.addresses`) counts as
one unknown address. A successful login clears the refusals of its username from its
address only, so the owner's success gives a guesser elsewhere no fresh start.

A login holds its username's lock (:func:`~.locking.lock_username`) from before it counts
until its transaction ends, which the login view commits despite a 401: concurrent attempts
on one username are counted one after another, so no more than the limit ever reach the
password check. The count per address alone is read without that lock, so concurrent
attempts on many usernames from one address may pass it by the number running at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..auth.credentials import dummy_password_hash, verify_password
from ..errors import ClientError
from ..models import LoginFailure, User, UserLogin
from ..settings import LoginLimits
from .catalog import ServedContract
from .locking import lock_username


class UsernameTaken(ClientError):
    """The username is already someone's in this contract."""

    code = "username_taken"


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt came to: the user's id, or a refusal, or a wait."""

    user_id: int | None = None
    retry_after: int | None = None
    """Seconds to wait before trying again, when the attempt was throttled."""


def check_username_free(session: Session, contract_id: int, username: str) -> None:
    """Refuse a username another user of the contract has."""
    taken = session.scalar(
        select(UserLogin.user_id).where(
            UserLogin.contract_id == contract_id, UserLogin.username == username
        )
    )
    if taken is not None:
        raise UsernameTaken(f"username {username!r} is taken in this contract", name="username")


def set_login(
    session: Session, user: User, username: str, password_hash: str, now: datetime
) -> UserLogin:
    """Give ``user`` a username, unique in its contract, and a password (its hash, from
    :func:`~..auth.credentials.hash_password`).

    Call it under the contract lock (as :func:`~.users.create_user` holds it), which makes
    the uniqueness check and the insert atomic.
    """
    check_username_free(session, user.contract_id, username)
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


def _forget_old_failures(session: Session, now: datetime, limits: LoginLimits) -> None:
    """Delete the refusals that have left the window, skipping rows another login is
    deleting at the same moment (PostgreSQL) rather than waiting for it."""
    stale = (
        select(LoginFailure.id)
        .where(LoginFailure.failed_at <= now - timedelta(seconds=limits.window_seconds))
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(stale.scalar_subquery())))


def _retry_after(
    session: Session,
    contract: ServedContract,
    username: str,
    address: str | None,
    now: datetime,
    limits: LoginLimits,
) -> int | None:
    """Seconds until an attempt is allowed again, or None when it is allowed now."""
    window = timedelta(seconds=limits.window_seconds)
    of_username = (LoginFailure.contract_id == contract.row_id) & (
        LoginFailure.username == username
    )
    from_address = LoginFailure.address == address  # IS NULL for no address
    waits = []
    for condition, limit in (
        (of_username & from_address, limits.per_username_address),
        (of_username, limits.per_username),
        (from_address, limits.per_address),
    ):
        # The limit-th newest refusal in the window: when it leaves the window, fewer than
        # ``limit`` remain, so that is when attempts are allowed again.
        blocking = session.scalar(
            select(LoginFailure.failed_at)
            .where(condition, LoginFailure.failed_at > now - window)
            .order_by(LoginFailure.failed_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if blocking is not None:
            waits.append(max(1, math.ceil((blocking + window - now).total_seconds())))
    return max(waits) if waits else None


def log_in(
    session: Session,
    contract: ServedContract,
    now: datetime,
    username: str,
    password: str,
    address: str | None,
    limits: LoginLimits,
) -> LoginResult:
    """Check a username and password of the contract, from the client ``address`` (None
    when unknown).

    An unknown username costs the same scrypt computation as a wrong password, and both
    are one outcome for the caller. A refusal is recorded; see the module for the limits.
    """
    lock_username(session, contract.row_id, username)
    _forget_old_failures(session, now, limits)
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
                LoginFailure.contract_id == contract.row_id,
                LoginFailure.username == username,
                LoginFailure.address == address,
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
