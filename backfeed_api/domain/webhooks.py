"""Webhook subscriptions of a contract, and the bookkeeping of their deliveries.

A subscription receives the contract's events committed after it was made, in order, at
least once each (:mod:`backfeed_api.worker.webhooks` sends them). A worker first claims
due subscriptions (:func:`claim`: a lease, taken with ``FOR UPDATE SKIP LOCKED`` so that
several workers share them without waiting on each other), then sends their next events
outside any transaction, then records what happened (:func:`finish`) if its lease still
holds. A worker killed mid-way loses its lease when it runs out, and the events it did not
record are sent again: a receiver may see an event twice, never out of order.

The signing secret is never stored: a subscription keeps a random salt, and the secret is
the HMAC of that salt under ``backfeed.webhooks.signing_key``, so that the database alone
cannot sign a delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Text, bindparam, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..errors import ClientError
from ..models import Event, Webhook, WebhookDelivery
from .catalog import ServedContract
from .events import EVENT_TYPES, latest_event_id
from .webhook_targets import check_target, parse_target

WEBHOOKS = Webhook.__table__

RETRY_SCHEDULE = (5, 30, 120, 600, 3600, 21600)
"""Seconds from a failed attempt to the next one, by the number of failures so far: 5 s,
30 s, 2 min, 10 min, 1 h, 6 h. After one more failure the subscription stops (failing)."""
JITTER = 0.1
"""Each wait of :data:`RETRY_SCHEDULE` is drawn within this share of its length, so that
subscriptions that failed together do not all come back at the same moment."""
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class WebhookOptions:
    """The deployment's webhook settings the subscriptions depend on."""

    allow_private_targets: bool
    signing_key: bytes


def signing_secret(signing_key: bytes, salt: str) -> bytes:
    """The secret a subscription's deliveries are signed with."""
    return hmac.new(signing_key, salt.encode(), hashlib.sha256).digest()


def secret_text(secret: bytes) -> str:
    """A secret as the receiver is given it, Standard Webhooks' ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secret).decode()


def _check_url(url: str, options: WebhookOptions) -> str:
    """A URL a subscription may have (:mod:`.webhook_targets`); resolved unless private
    targets are allowed, when there is nothing to refuse it for."""
    if options.allow_private_targets:
        return parse_target(url, True).url
    return check_target(url, False).url


def _check_types(types: Sequence[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise ClientError(
            f"types: {', '.join(unknown)} is not an event type ({', '.join(EVENT_TYPES)})",
            "types",
        )
    return sorted(set(types))


def create_webhook(
    session: Session,
    contract: ServedContract,
    now: datetime,
    options: WebhookOptions,
    url: str,
    types: Sequence[str] = (),
    description: str = "",
) -> tuple[Webhook, str]:
    """Subscribe ``url`` to the events committed from now on (of ``types``, every type when
    empty). The new subscription and its signing secret, which is shown this once."""
    salt = secrets.token_hex(24)
    webhook = Webhook(
        contract_id=contract.row_id,
        url=_check_url(url, options),
        types=_check_types(types),
        description=description,
        secret_salt=salt,
        enabled=True,
        failing=False,
        last_event_id=latest_event_id(session, contract.row_id),
        failures=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(webhook)
    session.flush()
    return webhook, secret_text(signing_secret(options.signing_key, salt))


def find_webhook(session: Session, contract: ServedContract, webhook_id: int) -> Webhook | None:
    """The subscription ``webhook_id`` of this contract, or None."""
    return session.scalars(
        select(Webhook).where(Webhook.id == webhook_id, Webhook.contract_id == contract.row_id)
    ).one_or_none()


@dataclass(frozen=True)
class Page:
    """Some rows of a list and how many there are in all."""

    items: list
    total: int


def list_webhooks(session: Session, contract: ServedContract, start: int, limit: int) -> Page:
    """The contract's subscriptions, oldest first."""
    where = Webhook.contract_id == contract.row_id
    items = session.scalars(
        select(Webhook).where(where).order_by(Webhook.id).offset(start).limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(Webhook).where(where))
    return Page(list(items), total)


def update_webhook(
    session: Session,
    webhook: Webhook,
    now: datetime,
    options: WebhookOptions,
    changes: dict,
) -> Webhook:
    """Change a subscription's ``url``, ``types``, ``description`` or ``enabled``. Enabling
    one again (also one stopped as failing) starts its deliveries over from the event it
    stopped at, at once."""
    if "url" in changes:
        webhook.url = _check_url(changes["url"], options)
    if "types" in changes:
        webhook.types = _check_types(changes["types"])
    if "description" in changes:
        webhook.description = changes["description"]
    if changes.get("enabled") is True:
        webhook.enabled, webhook.failing, webhook.failures = True, False, 0
        webhook.next_attempt_at = now
    elif changes.get("enabled") is False:
        webhook.enabled = False
    session.flush()
    return webhook


def delete_webhook(session: Session, webhook: Webhook) -> None:
    """Remove a subscription and the record of its deliveries."""
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    session.delete(webhook)
    session.flush()


def list_deliveries(session: Session, webhook: Webhook, start: int, limit: int) -> Page:
    """A subscription's delivery attempts, newest first."""
    where = WebhookDelivery.webhook_id == webhook.id
    items = session.scalars(
        select(WebhookDelivery)
        .where(where)
        .order_by(WebhookDelivery.id.desc())
        .offset(start)
        .limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(where))
    return Page(list(items), total)


# -- delivering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A subscription a worker holds until ``leased_until``, as it stood when claimed."""

    webhook_id: int
    contract_id: int
    url: str
    types: tuple[str, ...]
    secret_salt: str
    last_event_id: int
    failures: int
    lease_id: str
    leased_until: datetime


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of one event: the HTTP status or the error, how long it took."""

    event_id: int
    status: int | None
    error: str | None
    duration_ms: float
    delivered: bool
    attempted_at: datetime


COLUMNS = WEBHOOKS.c
EVENT_COLUMNS = Event.__table__.c


def _claim_statement():
    """The statement of :func:`claim`, made once: the due subscriptions (enabled, not
    failing, their next attempt due, held by no worker, with an event after the last one
    done), leased in the same statement. The one whose oldest event not done is the oldest
    comes first (event ids grow as events are written): a worker with fewer threads than busy
    subscriptions serves them in turn, the longest waiting first, instead of taking the
    same ones again as soon as it has let them go."""
    now = bindparam("now")
    newer = (
        select(EVENT_COLUMNS.id)
        .where(
            EVENT_COLUMNS.contract_id == COLUMNS.contract_id,
            EVENT_COLUMNS.id > COLUMNS.last_event_id,
        )
        .exists()
    )
    due = (
        select(COLUMNS.id)
        .where(
            COLUMNS.enabled,
            COLUMNS.failing.is_(False),
            COLUMNS.next_attempt_at <= now,
            or_(COLUMNS.leased_until.is_(None), COLUMNS.leased_until <= now),
            newer,
        )
        .order_by(COLUMNS.last_event_id, COLUMNS.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    return (
        update(WEBHOOKS)
        .where(COLUMNS.id.in_(due.scalar_subquery()))
        .values(lease_id=bindparam("new_lease_id"), leased_until=bindparam("until"))
        .returning(
            COLUMNS.id,
            COLUMNS.contract_id,
            COLUMNS.url,
            COLUMNS.types,
            COLUMNS.secret_salt,
            COLUMNS.last_event_id,
            COLUMNS.failures,
        )
    )


CLAIM = _claim_statement()


def claim(
    session: Session | Connection, now: datetime, lease_seconds: float, limit: int
) -> list[Claim]:
    """Lease up to ``limit`` due subscriptions to this worker for ``lease_seconds``, in one
    statement (one round trip to the database).

    On PostgreSQL the rows another worker is claiming at the same moment are skipped rather
    than waited for; SQLite runs one claim at a time anyway.
    """
    lease_id, until = secrets.token_hex(16), now + timedelta(seconds=lease_seconds)
    parameters = {"now": now, "limit": limit, "new_lease_id": lease_id, "until": until}
    rows = session.execute(CLAIM, parameters).all()
    return [
        Claim(
            webhook_id=row.id,
            contract_id=row.contract_id,
            url=row.url,
            types=tuple(row.types),
            secret_salt=row.secret_salt,
            last_event_id=row.last_event_id,
            failures=row.failures,
            lease_id=lease_id,
            leased_until=until,
        )
        for row in sorted(rows, key=lambda row: row.id)
    ]


@dataclass(frozen=True)
class PendingEvent:
    """An event to deliver, its data as the JSON text stored: a delivery embeds that text as
    it is, never parsing it and writing it out again (most of a delivery's cost, else)."""

    id: int
    type: str
    created_at: datetime
    data_json: str


PENDING = (
    select(
        EVENT_COLUMNS.id,
        EVENT_COLUMNS.type,
        EVENT_COLUMNS.created_at,
        cast(EVENT_COLUMNS.data, Text),
    )
    .where(
        EVENT_COLUMNS.contract_id == bindparam("contract_id"),
        EVENT_COLUMNS.id > bindparam("after"),
    )
    .order_by(EVENT_COLUMNS.id)
    .limit(bindparam("limit"))
)
"""The statement of :func:`pending_events`."""


def pending_events(session: Session | Connection, held: Claim, limit: int) -> list[PendingEvent]:
    """The next events of a claimed subscription, oldest first."""
    parameters = {"contract_id": held.contract_id, "after": held.last_event_id, "limit": limit}
    return [PendingEvent(*row) for row in session.execute(PENDING, parameters)]


def retry_delay(failures: int, rng: random.Random) -> float | None:
    """Seconds to wait after the ``failures``-th failed attempt in a row, None when the
    subscription is to stop (:data:`RETRY_SCHEDULE`, with :data:`JITTER`)."""
    if failures > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[failures - 1] * rng.uniform(1 - JITTER, 1 + JITTER)


def finish(
    session: Session | Connection,
    held: Claim,
    attempts: Sequence[Attempt],
    done_through: int,
    now: datetime,
    rng: random.Random,
) -> bool:
    """Record a claim's attempts and release it: the events up to ``done_through`` are done
    (delivered, or not of its types); a last attempt that failed schedules the next one, or
    stops the subscription after too many. False, and nothing recorded, when the lease was
    lost (run out and taken by another worker): the other worker delivers again."""
    values: dict = {"lease_id": None, "leased_until": None, "last_event_id": done_through}
    failed = bool(attempts) and not attempts[-1].delivered
    if failed:
        failures = held.failures + 1
        delay = retry_delay(failures, rng)
        values["failures"] = failures
        if delay is None:
            values["failing"] = True
        else:
            values["next_attempt_at"] = now + timedelta(seconds=delay)
    elif attempts:
        values["failures"] = 0
    kept = session.execute(
        update(WEBHOOKS)
        .where(COLUMNS.id == held.webhook_id, COLUMNS.lease_id == held.lease_id)
        .values(values)
    ).rowcount
    if not kept:
        return False
    failures_before = held.failures
    rows = []
    for attempt in attempts:
        rows.append(
            {
                "webhook_id": held.webhook_id,
                "event_id": attempt.event_id,
                "attempt": failures_before + 1,
                "status": attempt.status,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
                "delivered": attempt.delivered,
                "attempted_at": attempt.attempted_at,
            }
        )
        failures_before = 0
    if rows:
        session.execute(WebhookDelivery.__table__.insert(), rows)
    return True
