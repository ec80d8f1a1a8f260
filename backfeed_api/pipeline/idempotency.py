"""``Idempotency-Key``: a retried POST is applied at most once.

A POST that carries the header claims the key in the same transaction as its effect, and
stores its response there too: if the request fails, the claim disappears with everything
else, and the client may try again. Then:

- the same key with the same body: the stored status and body are sent again, with
  ``Idempotent-Replayed: true``, and nothing changes;
- the same key with another body: 422;
- the same key while the first request is still running: 409 (PostgreSQL; SQLite runs
  writes one at a time, so the retry waits and then gets the replay).

Keys are claimed by the views that take POSTs, after routing and the permission check (a
view deriver): a request for a route that does not exist, or that is refused, claims
nothing and gets the answer it would get without the header. A claim is scoped to the
identity of the bearer token (not to the text of the Authorization header: ``Bearer T``
and ``bearer  T`` are one token) or, without one, the client address, and to the path (so
the contract and the route). It is stored bounded, whatever the client sent: digests of
the scope, the path and the key, and the ``Location`` relative to the application's URL,
which the replay puts back before it.

Keys are kept for ``backfeed.idempotency_hours`` (24 by default), then pruned. A request
whose bearer token is not (or no longer) valid is never replayed anything, and a response
marked ``Cache-Control: no-store`` (the new token of a login) is never kept: the database
holds no token.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import struct
from collections.abc import Callable
from datetime import datetime, timedelta

from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import error_response
from ..models import IdempotencyKey, dialect_of
from ..settings import IDEMPOTENCY_RETENTION

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
PRUNE_EVERY = 100
LOCATION_LENGTH = IdempotencyKey.__table__.c.location.type.length


def digest(text: str) -> str:
    """The SHA-256 of ``text``, in hexadecimal: what a claim stores of a client's text."""
    return hashlib.sha256(text.encode()).hexdigest()


def request_fingerprint(request) -> str:
    """A hash of what the request asks for; JSON bodies compare by content, not spacing."""
    raw = request.body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to compare
        canonical = raw
    hashed = hashlib.sha256()
    for part in (request.method.encode(), request.path_qs.encode(), canonical):
        hashed.update(struct.pack(">Q", len(part)) + part)
    return hashed.hexdigest()


def client_scope(request) -> str:
    """Whose key this is: the identity of the bearer token (a stored token by its id, the
    development token as one identity), however its header is written; without a token, the
    client address."""
    identity = request.authenticated_userid
    return digest(identity if identity is not None else f"client:{request.client_address}")


def _try_lock(session: Session, scope: str, route: str, key: str) -> bool:
    """Take a transaction lock on this key, or say it is taken
    (:meth:`~backfeed_api.models.Dialect.try_lock_key`).

    On SQLite that is the database write lock (waited for) taken before the claim is read: a
    transaction that reads first cannot write after another writer committed ("database is
    locked"), and its read could miss a claim committed meanwhile.
    """
    lock_id = struct.unpack(">q", bytes.fromhex(digest(f"{scope}\0{route}\0{key}"))[:8])[0]
    return dialect_of(session).try_lock_key(session, lock_id)


def _relative_location(request, location: str) -> str | None:
    """The part of ``location`` after the application's URL, to keep for replays; None when
    it cannot be kept (not under that URL, or too long for its column)."""
    base = request.application_url
    if not location.startswith(base + "/") or len(location) - len(base) > LOCATION_LENGTH:
        return None
    return location[len(base) :]


def _replay(request, claim: IdempotencyKey) -> Response:
    response = Response(status=claim.status, content_type="application/json", body=claim.body)
    if claim.location:
        response.location = request.application_url + claim.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


DRY_RUN_TRUE = ("true", "1")
"""The values of ``dry_run`` that make a creating POST a dry run (``api.schemas.DryRun``),
which writes nothing and so claims no key."""


class Claims:
    """What every view that claims keys shares: how long keys are kept, and a count of the
    claims made, to prune the expired ones every :data:`PRUNE_EVERY` claims."""

    def __init__(self, retention: timedelta) -> None:
        self.retention = retention
        self.counter = itertools.count(1)

    def handle(self, view: Callable, context, request) -> Response:
        """Answer ``request`` through ``view``, or from the claim of its key."""
        key = request.headers.get(HEADER)
        # A token no longer (or never) valid gets its 401 from the view, never the replay of
        # what the token got while it was valid.
        if request.method != "POST" or key is None or request.credential.refused:
            return view(context, request)
        if request.GET.get("dry_run") in DRY_RUN_TRUE:
            return view(context, request)
        if not KEY_PATTERN.fullmatch(key):
            return error_response(
                400, "invalid", "header", HEADER, "must be 1 to 255 visible ASCII characters"
            )
        session: Session = request.dbsession
        now: datetime = request.now
        scope, route, key_digest = client_scope(request), digest(request.path), digest(key)
        if not _try_lock(session, scope, route, key_digest):
            return error_response(
                409,
                "idempotency_key_in_use",
                "header",
                HEADER,
                "a request with this key is still running",
            )
        fingerprint = request_fingerprint(request)
        claim = session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.route == route,
                IdempotencyKey.key == key_digest,
            )
        ).one_or_none()
        if claim is not None and claim.created_at < now - self.retention:
            session.delete(claim)
            session.flush()
            claim = None
        if claim is not None:
            if claim.request_hash != fingerprint:
                return error_response(
                    422,
                    "idempotency_key_reused",
                    "header",
                    HEADER,
                    "this key was used for a different request",
                )
            return _replay(request, claim)

        claim = IdempotencyKey(
            scope=scope, route=route, key=key_digest, request_hash=fingerprint, created_at=now
        )
        session.add(claim)
        session.flush()
        if next(self.counter) % PRUNE_EVERY == 0:
            session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.created_at < now - self.retention)
            )
        # An exception aborts the whole transaction, the claim with it (models.session).
        response = view(context, request)
        location = response.location
        relative = None if location is None else _relative_location(request, location)
        if (
            200 <= response.status_code < 300
            and not response.cache_control.no_store
            and (location is None or relative is not None)
        ):
            claim.status = response.status_code
            claim.body = response.body
            claim.location = relative
        elif response.status_code < 400 or getattr(request, "keep_writes", False):
            # Nothing to replay, and the writes are kept: the key stays free.
            session.delete(claim)
            session.flush()
        # Any other answer aborts the transaction (``commit_veto``), the claim with it; the
        # session is left alone, as a write the database refused leaves it unusable.
        return response


def idempotent_view(view: Callable, info) -> Callable:
    """The view deriver: views that take POSTs claim keys, replay and store responses."""
    if info.exception_only or "POST" not in _methods(info.options.get("request_method")):
        return view
    claims: Claims = info.registry["idempotency_claims"]

    def wrapped(context, request):
        return claims.handle(view, context, request)

    return wrapped


def _methods(request_method) -> tuple[str, ...]:
    if request_method is None:
        return ()
    return (request_method,) if isinstance(request_method, str) else tuple(request_method)


def includeme(config: Configurator) -> None:
    """Claim keys in every view that takes POSTs, after the permission check and inside the
    request's transaction."""
    retention = IDEMPOTENCY_RETENTION.read(config.get_settings())
    config.registry["idempotency_claims"] = Claims(retention)
    config.add_view_deriver(idempotent_view)
