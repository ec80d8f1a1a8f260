"""The tables: contracts, users, contributions, evaluations, the ledger, credentials, events
and their webhooks, and the replay jobs.

Balances are float64 (``double precision``) like the engine. The contract row keeps running
totals updated in the same transaction as every change, so reads never sum a whole contract.
A user's reputation is stored in units of its contract's ``reputation_scale``: the balance is
the product of the two (:class:`ContractRow`).

The database holds every token balance, fund and total within ``protocol.MAX_BALANCE`` as
the engine does, and a stored reputation finite: every reputation is part of its contract's
total, which the limit holds (see ``domain/bounds.py``; migration ``0009`` adds those
limits, which the models do not declare because SQLite keeps them as triggers).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from .meta import Base, UTCDateTime

Id = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: 64-bit on PostgreSQL; SQLite needs INTEGER for its rowid alias."""


class ContractRow(Base):
    """A served contract: its kind and live totals, and the row writers lock."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(100))
    total_reputation: Mapped[float] = mapped_column(Double, default=0.0)
    total_tokens: Mapped[float] = mapped_column(Double, default=0.0)
    user_count: Mapped[int] = mapped_column(BigInteger, default=0)
    contribution_count: Mapped[int] = mapped_column(BigInteger, default=0)
    evaluation_count: Mapped[int] = mapped_column(BigInteger, default=0)
    action_count: Mapped[int] = mapped_column(BigInteger, default=0)
    """Actions applied so far; each action row keeps its number as ``seq`` (commit order)."""
    reputation_scale: Mapped[float] = mapped_column(Double, default=1.0, server_default="1")
    """What every user's stored reputation is multiplied by to give its balance. A loss of
    all the non-voters of a contribution (``whitepaper1``) multiplies it by the loss's factor
    and divides the voters' stored reputation by it; it stays within
    :data:`~backfeed_api.domain.scale.SMALLEST_SCALE` and 1."""
    scale_exponent: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """How many times the scale was multiplied by 2 to stay above its lower bound (every
    user's stored reputation divided by 2 as many times): the product of every loss factor
    so far is ``reputation_scale * 2 ** -scale_exponent``."""
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    """The version of the contract's configuration in force, which each action's
    :class:`Explanation` records: the newest of its :class:`ContractVersion` rows."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContractVersion(Base):
    """One configuration a contract has had: its overrides of the kind's defaults, the full
    parameters they make, and the action number ``seq`` after which it applies (the actions
    numbered up to ``seq`` ran under earlier versions). ``origin`` is ``ini`` (the settings,
    at start-up) or ``http`` (``PUT`` or ``PATCH /{contract}``, by the token ``token_id``;
    None for the development token)."""

    __tablename__ = "contract_versions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    version: Mapped[int] = mapped_column(BigInteger)
    overrides: Mapped[dict] = mapped_column(JSON)
    parameters: Mapped[dict] = mapped_column(JSON)
    ini_overrides: Mapped[dict | None] = mapped_column(JSON, default=None)
    """What the settings said, of a version they made: the next start-up compares with it."""
    seq: Mapped[int] = mapped_column(BigInteger)
    origin: Mapped[str] = mapped_column(String(10))
    token_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_contract_versions_version", "contract_id", "version", unique=True),
    )


USERS_FILLFACTOR = 80
"""Percent of each page of ``users`` filled by inserts (see :class:`User`)."""


class User(Base):
    """A member of one contract, with its balances (``reputation`` in units of the contract's
    ``reputation_scale``)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    reputation: Mapped[float] = mapped_column(Double)
    tokens: Mapped[float] = mapped_column(Double)
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reputation_scale: Mapped[float] = column_property(
        select(ContractRow.reputation_scale).where(ContractRow.id == contract_id).scalar_subquery()
    )
    """The contract's scale, read in the same statement as the user: a vote that changes the
    scale changes the stored reputation of some users with it, and a balance is the product
    of the two as one snapshot has them."""

    @property
    def balance(self) -> float:
        """The user's reputation: the stored one times its contract's scale."""
        return self.reputation * self.reputation_scale

    __table_args__ = (
        Index("ix_users_contract_id", "contract_id", "id"),
        # No index covers the balances: a vote rewards thousands of users, and PostgreSQL
        # then rewrites each row in place on its page (a "HOT" update) without touching any
        # index, which it cannot do when an indexed column changes. The free fifth of each
        # page is the room those new row versions take. Leaderboards sort the contract's
        # users instead (docs/performance.rst).
        {"postgresql_with": {"fillfactor": USERS_FILLFACTOR}},
    )


class Contribution(Base):
    """Something a user made and paid a fee for, which others evaluate."""

    __tablename__ = "contributions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    contributor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(100))
    max_score: Mapped[float] = mapped_column(Double, default=0.0)
    token_fund: Mapped[float] = mapped_column(Double, default=0.0)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_contributions_contract_id", "contract_id", "id"),
        Index("ix_contributions_contract_contributor", "contract_id", "contributor_id", "id"),
        Index("ix_contributions_contract_type", "contract_id", "type", "id"),
    )


class Evaluation(Base):
    """A vote. A re-vote supersedes the previous one, which stays with ``active`` false."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"))
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    value: Mapped[float] = mapped_column(Double)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (
        # At most one active vote per user and contribution, enforced by the database.
        Index(
            "uq_evaluations_active_vote",
            "contribution_id",
            "evaluator_id",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
        Index("ix_evaluations_contribution_active", "contribution_id", "active", "id"),
        # A vote reads the evaluator's earlier values on the contribution (agreement is paid
        # once, value changes are limited) through this, however many others voted there.
        Index(
            "ix_evaluations_contribution_evaluator", "contribution_id", "evaluator_id", "active"
        ),
        # Lists of a contract's votes are in ``seq`` order (the contract's commit order, which
        # is also id order) rather than by id: no index but these gives that order, so the
        # planner cannot walk the primary key through the other contracts' votes instead.
        Index("ix_evaluations_contract_seq", "contract_id", "seq"),
        Index("ix_evaluations_contract_evaluator", "contract_id", "evaluator_id", "seq"),
        Index("ix_evaluations_contract_value", "contract_id", "value", "seq"),
    )


class LedgerEntry(Base):
    """One change of one user's balances, with its cause and the balances after it; or,
    without a user, a collective loss: every user of the contract with no active vote on
    ``contribution_id`` lost the share ``1 - factor`` of its reputation.

    A collective entry stands for the entries of all those users, which the history of
    each derives from it (``domain/history.py``): its ``reputation_delta`` is their summed
    loss and its ``reputation`` what they hold after it; ``scale`` and ``scale_exponent`` are
    the contract's ``reputation_scale`` and ``scale_exponent`` after it. The users it did
    not apply to are its :class:`LedgerExemption` rows.

    The ledger is append-only and written only by the statements that change balances,
    from the very user rows they update (``UPDATE … RETURNING``), in the same transaction:
    its ``user_id`` and ``contract_id`` cannot name a missing row. They carry no foreign key,
    whose check would run once per entry: with thousands of entries per vote it was a large
    share of the cost of rewarding the earlier voters. ``backfeed check`` audits the ledger.
    """

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(Id)
    user_id: Mapped[int | None] = mapped_column(Id)
    cause_type: Mapped[str] = mapped_column(String(20))
    cause_id: Mapped[int] = mapped_column(BigInteger)
    reputation_delta: Mapped[float] = mapped_column(Double)
    tokens_delta: Mapped[float] = mapped_column(Double)
    reputation: Mapped[float] = mapped_column(Double)
    tokens: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    factor: Mapped[float | None] = mapped_column(Double, default=None)
    contribution_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    scale: Mapped[float | None] = mapped_column(Double, default=None)
    scale_exponent: Mapped[int | None] = mapped_column(BigInteger, default=None)
    terms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """Which terms of its cause's :class:`Explanation` made the entry, as a bit mask over
    their positions; None for an entry written before explanations, ``unexplained``."""
    inputs: Mapped[str | None] = mapped_column(Text, default=None)
    """The entry's own inputs as a JSON object (those its terms do not share), or None."""

    __table_args__ = (
        Index("ix_ledger_user", "user_id", "id"),
        Index(
            "ix_ledger_collective",
            "contract_id",
            "id",
            postgresql_where=text("user_id IS NULL"),
            sqlite_where=text("user_id IS NULL"),
        ),
    )


class Explanation(Base):
    """Why an action's ledger entries are what they are: the terms of the rules that made
    them, as a JSON list of ``{"rule", "formula", "inputs"}`` (the inputs they share), and
    the configuration version the action ran under (``protocol.explanations``)."""

    __tablename__ = "explanations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(Id)
    cause_type: Mapped[str] = mapped_column(String(20))
    cause_id: Mapped[int] = mapped_column(BigInteger)
    config_version: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("uq_explanations_cause", "contract_id", "cause_type", "cause_id", unique=True),
    )


class LedgerExemption(Base):
    """A user whom a collective loss (``ledger_id``) did not apply to, having an active vote
    on its contribution, and the user's balances after the vote that caused it."""

    __tablename__ = "ledger_exemptions"

    user_id: Mapped[int] = mapped_column(Id, primary_key=True)
    ledger_id: Mapped[int] = mapped_column(Id, primary_key=True)
    reputation: Mapped[float] = mapped_column(Double)
    tokens: Mapped[float] = mapped_column(Double)


class IdempotencyKey(Base):
    """A claimed ``Idempotency-Key`` and the response it got, for replaying retries.

    Nothing the client sent is stored as it was: ``scope`` (whose key), ``route`` (the path)
    and ``key`` are SHA-256 digests in hexadecimal, ``location`` is the ``Location`` of the
    response relative to the application's URL (see :mod:`backfeed_api.pipeline.idempotency`).
    """

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str | None] = mapped_column(String(2000), default=None)
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("uq_idempotency_keys_claim", "scope", "route", "key", unique=True),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


class ApiToken(Base):
    """A bearer token of one contract and one role; only the SHA-256 of the token is kept.
    Without a contract (``contract_id`` None) it is a service-wide ``admin`` token, which
    may create contracts and is admin of every one.

    ``role`` is ``admin``, ``user`` (acting as ``user_id``) or ``read``. ``origin`` says
    where it came from: ``cli`` (``backfeed token create``) or ``login`` (``POST
    /{contract}/auth``). A revoked token keeps its row, with ``revoked_at`` set. A login
    token is valid until ``expires_at``; a token from the CLI has none and lasts until it is
    revoked.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    role: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    token_hash: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    __table_args__ = (
        Index("uq_api_tokens_token_hash", "token_hash", unique=True),
        Index("ix_api_tokens_contract_id", "contract_id", "id"),
        Index("ix_api_tokens_user_id", "user_id", "id"),
    )


class UserLogin(Base):
    """The username and scrypt password hash a user logs in with (``POST /{contract}/auth``).

    Kept apart from ``users`` so that no query of the published API ever reads the hash.
    """

    __tablename__ = "user_logins"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("uq_user_logins_username", "contract_id", "username", unique=True),)


class LoginFailure(Base):
    """One refused login, counted to slow down password guessing; pruned after the window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    username: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(100), default=None)
    """The client's IP address, canonical (:mod:`~backfeed_api.pipeline.addresses`); None when the
    request had no readable one."""
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_login_failures_username", "contract_id", "username", "failed_at"),
        Index("ix_login_failures_address", "address", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )


class Event(Base):
    """One committed action of a contract, as its apps are told about it (the outbox).

    Written in the action's own transaction, under the contract lock, so the events of a
    contract have increasing ids in commit order; ``data`` is the action's answer with the
    balances it moved. Webhook deliveries and the feed read from here.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_events_contract_id", "contract_id", "id"),)


class Webhook(Base):
    """A subscription of a URL to the events of one contract, and where its delivery stands.

    Events are delivered in order: ``last_event_id`` is the last one done (delivered, or
    skipped as not of ``types``); the next attempt is due at ``next_attempt_at`` after
    ``failures`` failed attempts in a row at the next event. A worker holds the subscription
    while it delivers (``lease_id`` until ``leased_until``), so no two workers deliver to it
    at once. Only ``secret_salt`` is kept of the signing secret: the secret is derived from
    it with the deployment's signing key (:mod:`backfeed_api.domain.webhooks`).
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    url: Mapped[str] = mapped_column(String(2000))
    types: Mapped[list] = mapped_column(JSON)
    """The event types delivered; empty for every type."""
    description: Mapped[str] = mapped_column(String(500), default="")
    secret_salt: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    """Stopped after too many failed attempts; ``enabled`` again starts it over."""
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_id: Mapped[str | None] = mapped_column(String(32), default=None)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_webhooks_contract_id", "contract_id", "id"),
        Index("ix_webhooks_due", "next_attempt_at"),
    )


class WebhookDelivery(Base):
    """One attempt to deliver one event to one subscription: the HTTP status it got, or the
    error that kept it from getting one, and how long it took."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_ms: Mapped[float] = mapped_column(Double)
    delivered: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),)


class ReplayJob(Base):
    """A what-if replay of one contract asked over HTTP, and where it stands.

    It is ``queued`` until a worker claims it (``lease_id`` until ``leased_until``, renewed
    as the replay goes on), ``running`` while that worker holds it, then ``done`` with its
    report, CSV and plot, or ``failed`` with a message. A running job whose lease ran out
    (its worker died) is claimed again; ``attempts`` counts the claims, so that a job that
    keeps killing its workers is given up. Once it has ended, the row and its outputs are
    deleted when ``expires_at`` has passed.
    """

    __tablename__ = "replay_jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    status: Mapped[str] = mapped_column(String(10))
    parameters: Mapped[dict] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Double, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    result: Mapped[dict | None] = mapped_column(JSON, default=None)
    """The report (:meth:`~backfeed_api.domain.replay.WhatIf.summary`) once done."""
    users_csv: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    plot_png: Mapped[bytes | None] = mapped_column(LargeBinary, default=None, deferred=True)
    """The outputs, read only when asked for (``deferred``): they can be large."""
    lease_id: Mapped[str | None] = mapped_column(String(32), default=None)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """``keep_hours`` after the job ended; null while it waits or runs (it never expires)."""

    __table_args__ = (
        Index("ix_replay_jobs_contract_id", "contract_id", "id"),
        Index("ix_replay_jobs_status", "status", "id"),
        Index("ix_replay_jobs_expires_at", "expires_at"),
    )
