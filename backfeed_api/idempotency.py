"""``Idempotency-Key``: a retried POST is applied at most once.

A POST that carries the header claims the key in the same transaction as its effect, and
stores its response there too: if the request fails, the claim disappears with everything
else, and the client may try again. Keys are scoped to the credential (the Authorization
header) or, without one, the client address, and to the method and path (so the contract
and the route). Then:

- the same key with the same body: the stored status and body are sent again, with
  ``Idempotent-Replayed: true``, and nothing changes;
- the same key with another body: 422;
- the same key while the first request is still running: 409 (PostgreSQL; SQLite runs
  writes one at a time, so the retry waits and then gets the replay).

Keys are kept for ``backfeed.idempotency_hours`` (24 by default), then pruned. A request
whose bearer token is not (or no longer) valid is never replayed anything, and a response
marked ``Cache-Control: no-store`` (the new token of a login) is never kept: the database
holds no token.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Callable
from datetime import datetime, timedelta

from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import delete, false, func, select, update
from sqlalchemy.orm import Session

from .models import IdempotencyKey
from .views.errors import error_response

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
PRUNE_EVERY = 100


def request_fingerprint(request) -> str:
    """A hash of what the request asks for; JSON bodies compare by content, not spacing."""
    raw = request.body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to compare
        canonical = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path_qs.encode(), canonical):
        digest.update(struct.pack(">Q", len(part)) + part)
    return digest.hexdigest()


def client_scope(request) -> str:
    """Whose key this is: the credential when there is one, else the client address."""
    credential = request.headers.get("Authorization")
    owner = f"credential:{credential}" if credential else f"client:{request.client_addr}"
    return hashlib.sha256(owner.encode()).hexdigest()


def _try_lock(session: Session, scope: str, route: str, key: str) -> bool:
    """On PostgreSQL, take a transaction lock on this key, or say it is taken.

    On SQLite, take the database write lock (waiting for it) before the claim is read: a
    transaction that reads first cannot write after another writer committed ("database is
    locked"), and its read could miss a claim committed meanwhile.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(update(IdempotencyKey).where(false()).values(key=IdempotencyKey.key))
    if dialect != "postgresql":
        return True
    digest = hashlib.sha256(f"{scope}\0{route}\0{key}".encode()).digest()
    lock_id = struct.unpack(">q", digest[:8])[0]
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(lock_id))))


def _replay(claim: IdempotencyKey) -> Response:
    response = Response(status=claim.status, content_type="application/json", body=claim.body)
    if claim.location:
        response.location = claim.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotency_tween_factory(handler: Callable, registry) -> Callable:
    """A tween, inside the transaction, that claims keys, replays and stores responses."""
    retention = timedelta(hours=float(registry.settings.get("backfeed.idempotency_hours", 24)))
    claims = 0

    def tween(request):
        nonlocal claims
        key = request.headers.get(HEADER)
        # A token no longer (or never) valid gets its 401 from the views, never the replay of
        # what the token got while it was valid.
        if request.method != "POST" or key is None or request.credential.refused:
            return handler(request)
        if not KEY_PATTERN.fullmatch(key):
            return error_response(
                400, "header", HEADER, "must be 1 to 255 visible ASCII characters"
            )
        session: Session = request.dbsession
        now: datetime = request.now
        scope, route = client_scope(request), request.path
        if not _try_lock(session, scope, route, key):
            return error_response(
                409, "header", HEADER, "a request with this key is still running"
            )
        fingerprint = request_fingerprint(request)
        claim = session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.route == route,
                IdempotencyKey.key == key,
            )
        ).one_or_none()
        if claim is not None and claim.created_at < now - retention:
            session.delete(claim)
            session.flush()
            claim = None
        if claim is not None:
            if claim.request_hash != fingerprint:
                return error_response(
                    422, "header", HEADER, "this key was used for a different request"
                )
            return _replay(claim)

        claim = IdempotencyKey(
            scope=scope, route=route, key=key, request_hash=fingerprint, created_at=now
        )
        session.add(claim)
        session.flush()
        claims += 1
        if claims % PRUNE_EVERY == 0:
            session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < now - retention)
            )
        response = handler(request)
        if 200 <= response.status_code < 300 and not response.cache_control.no_store:
            claim.status = response.status_code
            claim.body = response.body
            claim.location = response.location
        elif response.status_code < 400 or getattr(request, "keep_writes", False):
            # Nothing to replay, and the writes are kept: the key stays free.
            session.delete(claim)
            session.flush()
        # Any other answer aborts the transaction (``commit_veto``), the claim with it; the
        # session is left alone, as a write the database refused leaves it unusable.
        return response

    return tween


def includeme(config: Configurator) -> None:
    """Install the tween between ``pyramid_tm`` and the exception views."""
    config.add_tween(
        "backfeed_api.idempotency.idempotency_tween_factory",
        under="pyramid_tm.tm_tween_factory",
        over="pyramid.tweens.excview_tween_factory",
    )
