"""The tokens users get by logging in: issued with an expiry, bounded in number per user,
listed and revoked by their own user.

A login token is a ``user`` token of origin ``login`` (see :class:`~backfeed_api.models.ApiToken`).
It is *live* while it is neither revoked nor expired; only live tokens count, are listed and
can be revoked here. Tokens made with ``backfeed token create`` are none of this module's
business: they do not expire and only the CLI revokes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from ..auth.credentials import USER, issue_token
from ..models import ApiToken
from ..settings import LoginLimits
from .listing import EVERY_ID, IdWindow, Page

LOGIN = "login"
"""The ``origin`` of a login token."""


def _live(contract_id: int, user_id: int, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions a live login token of the user meets."""
    return (
        ApiToken.contract_id == contract_id,
        ApiToken.user_id == user_id,
        ApiToken.origin == LOGIN,
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > now,
    )


def open_session(
    session: Session, contract_id: int, user_id: int, now: datetime, limits: LoginLimits
) -> tuple[ApiToken, str]:
    """Issue a login token for the user, valid for ``limits.token_days``; its row and the
    token itself. The user's oldest live login tokens are revoked so that, with this one,
    it holds at most ``limits.tokens_per_user``.

    Call it under the username's lock that logging in holds
    (:func:`~.locking.lock_username`), so that concurrent logins cannot both keep the oldest.
    """
    kept = limits.tokens_per_user - 1
    oldest = (
        select(ApiToken.id)
        .where(*_live(contract_id, user_id, now))
        .order_by(ApiToken.id.desc())
        .offset(kept)
    )
    session.execute(
        update(ApiToken).where(ApiToken.id.in_(oldest.scalar_subquery())).values(revoked_at=now)
    )
    return issue_token(
        session,
        contract_id,
        USER,
        now,
        user_id=user_id,
        origin=LOGIN,
        expires_at=now + timedelta(days=limits.token_days),
    )


def list_sessions(
    session: Session,
    contract_id: int,
    user_id: int,
    now: datetime,
    start: int,
    limit: int,
    window: IdWindow = EVERY_ID,
) -> Page:
    """The user's live login tokens, oldest first."""
    live = (*_live(contract_id, user_id, now), *window.conditions(ApiToken.id))
    rows = session.scalars(
        select(ApiToken).where(*live).order_by(ApiToken.id).offset(start).limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(ApiToken).where(*live))
    return Page(list(rows), total)


def close_session(
    session: Session, contract_id: int, user_id: int, token_id: int, now: datetime
) -> bool:
    """Revoke the live login token ``token_id`` of the user; False when the user has no
    such token (another user's, a token from the CLI, a revoked or expired one)."""
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, *_live(contract_id, user_id, now))
        .values(revoked_at=now)
    )
    return revoked.rowcount == 1
