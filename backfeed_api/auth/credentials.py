"""Bearer tokens and password hashes: making them, storing them safely, checking them.

A token is 32 random bytes (``secrets.token_urlsafe``), shown once to whoever asked for it;
the database keeps only its SHA-256, which is enough for a secret of that entropy (no salt
or slow hash is needed: nobody can guess 256 random bits) and lets a request find its token
by an index lookup, so no comparison of secrets happens in Python at all.

A password, chosen by a person, is hashed with scrypt (memory-hard: 16 MiB, and slow, a
try with the parameters below) and a random salt, stored as one self-describing string
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` so that the parameters can be raised later without
invalidating the hashes already stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from ..models import ApiToken

ADMIN, USER, READER = "admin", "user", "read"
ROLES = (ADMIN, USER, READER)
TOKEN_BYTES = 32
TOKEN_TEXT = re.compile(r"[A-Za-z0-9\-._~+/]{1,200}=*")
"""RFC 6750's ``b64token``, bounded in length: anything else is not a bearer token."""

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_LENGTH = 32
SALT_BYTES = 16
SCRYPT_MAX_MEMORY = 64 * 1024 * 1024
MAX_SCRYPT_N = 2**20
"""The largest cost accepted from a stored hash, so a bad row cannot exhaust the machine."""


@dataclass(frozen=True)
class Identity:
    """Who a request's bearer token speaks for.

    ``contract_id`` None means every contract (a service-wide token: one made with
    ``backfeed token create --service``, or the development token of the settings);
    ``token_id`` None means the token is not stored, so it cannot be revoked.
    """

    role: str
    contract_id: int | None
    user_id: int | None = None
    token_id: int | None = None

    def covers(self, contract_id: int) -> bool:
        """Whether this identity is valid in the contract whose row id is ``contract_id``."""
        return self.contract_id is None or self.contract_id == contract_id


def new_token() -> str:
    """A fresh random token: 32 bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The SHA-256 of a token, in hex: what the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    contract_id: int | None,
    role: str,
    now: datetime,
    *,
    user_id: int | None = None,
    origin: str = "cli",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token of ``role`` in the contract; return its row and the token itself.
    Without a contract (``contract_id`` None) it is a service-wide admin token.

    The token is in no row: the caller shows it once and forgets it. Without ``expires_at``
    it is valid until revoked.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if contract_id is None and role != ADMIN:
        raise ValueError("a token without a contract is an admin token")
    if (role == USER) != (user_id is not None):
        raise ValueError("a user token, and only a user token, is bound to a user")
    token = new_token()
    row = ApiToken(
        contract_id=contract_id,
        role=role,
        user_id=user_id,
        token_hash=token_digest(token),
        origin=origin,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, token


def find_identity(session: Session, token: str, now: datetime) -> Identity | None:
    """The identity of a stored token, unrevoked and not expired at ``now``, or None.

    Every authenticated request asks this, so it reads plain columns rather than loading
    an object into the session.
    """
    row = session.execute(
        _identity_statement(), {"digest": token_digest(token), "now": now}
    ).one_or_none()
    if row is None:
        return None
    return Identity(
        role=row.role, contract_id=row.contract_id, user_id=row.user_id, token_id=row.id
    )


@cache
def _identity_statement():
    """The query of :func:`find_identity`, built once (SQLAlchemy reuses its compiled form)."""
    tokens = ApiToken.__table__
    return select(tokens.c.id, tokens.c.role, tokens.c.contract_id, tokens.c.user_id).where(
        tokens.c.token_hash == bindparam("digest"),
        tokens.c.revoked_at.is_(None),
        or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > bindparam("now")),
    )


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken | None:
    """Mark the token revoked (once: a second revocation keeps the first time); its row, or
    None when there is no such token.

    It writes before it reads, which on SQLite takes the write lock first (see
    :func:`~..domain.locking.lock_contract`).
    """
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return session.get(ApiToken, token_id, populate_existing=True)


def same_secret(given: str, expected: str) -> bool:
    """Compare two secrets in time independent of where they differ."""
    return hmac.compare_digest(given.encode(), expected.encode())


# -- passwords --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAX_MEMORY, dklen=length
    )


def hash_password(password: str) -> str:
    """The self-describing scrypt hash of ``password`` with a new random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LENGTH)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash; False for a hash we cannot read."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        n_, r_, p_ = int(n), int(r), int(p)
        expected = _unb64(digest)
        if scheme != "scrypt" or not 1 < n_ <= MAX_SCRYPT_N or not expected:
            return False
        actual = _scrypt(password, _unb64(salt), n_, r_, p_, len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@cache
def dummy_password_hash() -> str:
    """A hash no password is checked against for real: checking an unknown username against
    it costs the same time as checking a known one, so the time does not tell them apart."""
    return hash_password(secrets.token_urlsafe(16))
