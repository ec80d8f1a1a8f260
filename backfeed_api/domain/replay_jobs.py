"""What-if replays asked over HTTP: a queue of jobs per contract, run by the worker.

``POST /{contract}/replays`` checks the parameters as ``backfeed replay --override`` does
and queues a job (:func:`create_job`), at most ``backfeed.replays.max_queued`` waiting or
running per contract. A worker claims the oldest job of a contract that has none running
(:func:`claim`: a lease, taken with ``FOR UPDATE SKIP LOCKED`` so that workers do not wait
on each other), replays the contract's history from one consistent snapshot, outside any
lock of the contract (:func:`run_replay`), renews its lease as it goes
(:func:`heartbeat`, with the progress) and stores the report, the CSV and the plot
(:func:`finish`). A worker killed mid-way stops renewing; once its lease runs out another
claims the job and starts it over, up to :data:`MAX_ATTEMPTS` times. A job that has ended
is deleted once it expires, ``keep_hours`` after it ended (:func:`delete_expired`); one
waiting or running never expires (their number is bounded by ``max_queued``).

The outputs are kept in the database: the web process and the workers share it (not a
disk), and they go with the row when it expires.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from protocol import ConfigurationError
from protocol import Contract as Rules

from ..errors import ClientError
from ..models import ContractRow, ReplayJob, dialect_of
from ..settings import ReplaySettings, contract_specs
from .catalog import ServedContract
from .contracts import named_in_parameters
from .locking import lock_key
from .replay import compare, load_history, what_if_rules
from .replay_report import draw_what_if, what_if_title, write_users_csv
from .versions import build_rules, version_overrides

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
MAX_ATTEMPTS = 3
"""Claims of one job before it is given up: a job whose replay kills its worker (out of
memory, say) must not take every worker down in turn for ever."""
PROGRESS_EVERY = 500
"""Actions between two calls of a running replay's progress callback."""
BEATS_PER_LEASE = 3
"""How many times a lease a running job's progress is written and its lease renewed (its
heartbeat): two beats may fail (the database away for a moment) and the lease still hold,
and a long replay costs one write every third of a lease, not more."""


class ReplayQueueFull(ClientError):
    """As many replays of the contract are waiting or running as the deployment allows."""

    status = 409
    code = "replay_queue_full"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} replays of this contract are already queued or running; ask again "
            "once one has ended",
            "parameters",
        )


def check_parameters(rules: Rules, parameters: Mapping[str, Any]) -> None:
    """Refuse parameters the contract's rules would not take, as ``--override`` does and
    with ``PATCH /{contract}``'s refusal (:func:`.contracts.named_in_parameters`)."""
    try:
        what_if_rules(rules, parameters)
    except ConfigurationError as error:
        raise named_in_parameters(error) from None


def _live(now: datetime):
    """The jobs that have not expired: those waiting or running (whose ``expires_at`` is
    null: a job expires ``keep_hours`` after it ends, never before) and those ended since."""
    return or_(ReplayJob.expires_at.is_(None), ReplayJob.expires_at > now)


def create_job(
    session: Session,
    contract: ServedContract,
    now: datetime,
    parameters: Mapping[str, Any],
    options: ReplaySettings,
) -> ReplayJob:
    """Queue a replay of ``contract`` under ``parameters``; refuse bad parameters and a
    full queue, queueing nothing. The admissions of one contract are taken one at a time,
    so that concurrent requests cannot pass the bound together."""
    check_parameters(contract.rules, parameters)
    dialect_of(session).lock_key(session, lock_key("replay-queue", contract.row_id))
    waiting = session.scalar(
        select(func.count())
        .select_from(ReplayJob)
        .where(
            ReplayJob.contract_id == contract.row_id,
            ReplayJob.status.in_((QUEUED, RUNNING)),
            _live(now),
        )
    )
    if waiting >= options.max_queued:
        raise ReplayQueueFull(options.max_queued)
    job = ReplayJob(
        contract_id=contract.row_id,
        status=QUEUED,
        parameters=dict(parameters),
        progress=0.0,
        attempts=0,
        created_at=now,
        expires_at=None,
    )
    session.add(job)
    session.flush()
    return job


def find_job(
    session: Session, contract: ServedContract, job_id: int, now: datetime
) -> ReplayJob | None:
    """The unexpired job ``job_id`` of this contract, or None."""
    return session.scalars(
        select(ReplayJob).where(
            ReplayJob.id == job_id, ReplayJob.contract_id == contract.row_id, _live(now)
        )
    ).one_or_none()


@dataclass(frozen=True)
class Page:
    """Some jobs and how many there are in all."""

    items: list[ReplayJob]
    total: int


def list_jobs(
    session: Session, contract: ServedContract, now: datetime, start: int, limit: int
) -> Page:
    """The contract's unexpired jobs, newest first, without their CSV and plot."""
    where = and_(ReplayJob.contract_id == contract.row_id, _live(now))
    items = session.scalars(
        select(ReplayJob).where(where).order_by(ReplayJob.id.desc()).offset(start).limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(ReplayJob).where(where))
    return Page(list(items), total)


# -- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A job a worker holds until ``leased_until`` (renewed by :func:`heartbeat`)."""

    job_id: int
    contract_id: int
    contract: str
    parameters: dict
    lease_id: str
    leased_until: datetime
    started_at: datetime


def _claimable(now: datetime):
    """The oldest unexpired job waiting, or left by a worker whose lease ran out, of a
    contract that has no other job running."""
    other = aliased(ReplayJob)
    running = (
        select(other.id)
        .where(
            other.contract_id == ReplayJob.contract_id,
            other.id != ReplayJob.id,
            other.status == RUNNING,
            other.leased_until > now,
        )
        .exists()
    )
    return (
        select(ReplayJob)
        .where(
            _live(now),
            or_(
                ReplayJob.status == QUEUED,
                and_(ReplayJob.status == RUNNING, ReplayJob.leased_until <= now),
            ),
            ~running,
        )
        .order_by(ReplayJob.id)
        .limit(1)
    )


def claim(session: Session, now: datetime, options: ReplaySettings) -> Claim | None:
    """Lease the next job to run to this worker for ``options.lease_seconds``, or None.

    On PostgreSQL a job another worker is claiming is skipped rather than waited for, and a
    transaction-scoped lock on the contract keeps two workers from starting two jobs of one
    contract at the same moment; SQLite runs one claim at a time under its write lock. A
    job claimed :data:`MAX_ATTEMPTS` times already is failed instead, ended as any job ends
    (:func:`_close`).
    """
    dialect = dialect_of(session)
    dialect.take_write_lock(session)
    job = session.scalars(
        _claimable(now).with_for_update(skip_locked=True, of=ReplayJob)
    ).one_or_none()
    if job is None:
        return None
    if not dialect.try_lock_key(session, lock_key("replay-claim", job.contract_id)):
        return None
    # Read again under the lock: another worker may have started one of its jobs since.
    if session.scalars(_claimable(now).where(ReplayJob.id == job.id)).one_or_none() is None:
        return None
    if job.attempts >= MAX_ATTEMPTS:
        error = f"the replay stopped its worker {job.attempts} times; it was given up"
        values = {"status": FAILED, "error": error}
        _close(session, ReplayJob.id == job.id, job.contract_id, values, now, options)
        return None
    lease_id, until = secrets.token_hex(16), now + timedelta(seconds=options.lease_seconds)
    job.status, job.lease_id, job.leased_until = RUNNING, lease_id, until
    job.attempts += 1
    job.started_at, job.progress = now, 0.0
    name = session.scalar(select(ContractRow.name).where(ContractRow.id == job.contract_id))
    return Claim(job.id, job.contract_id, name, dict(job.parameters), lease_id, until, now)


def _held(held: Claim):
    """The job's row, if this worker still holds it."""
    return and_(ReplayJob.id == held.job_id, ReplayJob.lease_id == held.lease_id)


def heartbeat(
    session: Session, held: Claim, progress: float, now: datetime, options: ReplaySettings
) -> bool:
    """Record the job's progress and renew its lease; False when the job is no longer this
    worker's to run: its lease lost (taken by another worker, or run out: then another may
    take it at any moment, so this worker must stop, not renew a lease it no longer holds),
    or its time up. A job that has run ``max_run_seconds`` is failed here, saying so: a
    replay that hangs while its heartbeat goes on must not block its contract's queue."""
    if now >= held.started_at + timedelta(seconds=options.max_run_seconds):
        message = (
            f"the replay ran longer than {options.max_run_seconds:g} s "
            "(backfeed.replays.max_run_seconds); it was stopped"
        )
        fail(session, held, now, options, message)
        return False
    until = now + timedelta(seconds=options.lease_seconds)
    return bool(
        session.execute(
            update(ReplayJob)
            .where(_held(held), ReplayJob.leased_until > now)
            .values(progress=progress, leased_until=until)
        ).rowcount
    )


@dataclass(frozen=True)
class Outcome:
    """What a replay job stores: the report, every user's balances as CSV, the plot."""

    report: dict
    users_csv: bytes
    plot_png: bytes


def _close(
    session: Session,
    where,
    contract_id: int,
    values: dict,
    now: datetime,
    options: ReplaySettings,
) -> bool:
    """End the job that ``where`` selects with ``values``, kept ``keep_hours`` from now,
    and delete the oldest ended jobs of its contract beyond ``max_kept``: every ending
    (done, failed, given up) ends so. False, and nothing changed, when ``where`` selects
    no job."""
    values = {
        **values,
        "finished_at": now,
        "expires_at": now + timedelta(hours=options.keep_hours),
        "lease_id": None,
        "leased_until": None,
    }
    if not session.execute(update(ReplayJob).where(where).values(values)).rowcount:
        return False
    ended = and_(ReplayJob.contract_id == contract_id, ReplayJob.status.in_((DONE, FAILED)))
    kept = select(ReplayJob.id).where(ended).order_by(ReplayJob.id.desc()).limit(options.max_kept)
    session.execute(delete(ReplayJob).where(ended, ReplayJob.id.not_in(kept)))
    return True


def _end(
    session: Session, held: Claim, values: dict, now: datetime, options: ReplaySettings
) -> bool:
    """End a held job with ``values`` (:func:`_close`); False, and nothing changed, when
    the lease was lost (another worker runs it again)."""
    return _close(session, _held(held), held.contract_id, values, now, options)


def finish(
    session: Session, held: Claim, now: datetime, options: ReplaySettings, outcome: Outcome
) -> bool:
    """Store the outcome of a held job (:func:`_end`)."""
    values = {
        "status": DONE,
        "progress": 1.0,
        "result": outcome.report,
        "users_csv": outcome.users_csv,
        "plot_png": outcome.plot_png,
    }
    return _end(session, held, values, now, options)


def fail(
    session: Session, held: Claim, now: datetime, options: ReplaySettings, message: str
) -> bool:
    """Mark a held job failed with ``message`` (:func:`_end`)."""
    return _end(session, held, {"status": FAILED, "error": message[:500]}, now, options)


def has_work(session: Session, now: datetime) -> bool:
    """Whether a job is there to claim or to delete: a read, so that an idle worker never
    takes SQLite's write lock, which the requests would then wait for."""
    expired = select(ReplayJob.id).where(ReplayJob.expires_at <= now).exists()
    claimable = _claimable(now).with_only_columns(ReplayJob.id).exists()
    return bool(session.scalar(select(or_(expired, claimable))))


def delete_expired(session: Session, now: datetime) -> int:
    """Delete the ended jobs that have expired, with their outputs; how many (a job waiting
    or running has no ``expires_at``, so it is never deleted)."""
    return session.execute(delete(ReplayJob).where(ReplayJob.expires_at <= now)).rowcount


class NotFinite(Exception):
    """The outcome of a replay holds a number that is not finite, which no JSON answer can
    carry."""


class ContractGone(Exception):
    """The job's contract is no longer served by the deployment's settings."""


def stored_rules(session: Session, settings: Mapping[str, Any], held: Claim) -> Rules:
    """The rules of the held job's contract as stored: those of its version in force, or,
    for a contract of the settings that has no stored version yet, the settings' own."""
    row = session.get(ContractRow, held.contract_id)
    overrides = version_overrides(session, row.id, row.version)
    if overrides is not None:
        return build_rules(row.kind, overrides, row.name)
    for spec in contract_specs(settings):
        if spec.name == held.contract:
            return spec.build()
    raise ContractGone(f"the contract {held.contract!r} is no longer served")


def run_replay(
    snapshot: sessionmaker[Session],
    held: Claim,
    settings: Mapping[str, Any],
    on_progress: Callable[[int, int], None],
) -> Outcome:
    """Replay the held job's contract under its parameters: its history and rules are read
    in one transaction of ``snapshot`` (one consistent view while writers go on, and no
    lock of the contract), then replayed in memory. Raises :class:`NotFinite` when the
    outcome holds a number that is not finite, and the engine's
    :class:`~protocol.ConfigurationError` when the parameters do not fit one of the
    contract's versions."""
    with snapshot() as session, session.begin():
        rules = stored_rules(session, settings, held)
        history = load_history(session, held.contract_id)
    result = compare(history, rules, held.parameters, on_progress, PROGRESS_EVERY)
    report = result.summary()
    try:
        json.dumps(report, allow_nan=False)
    except ValueError:
        raise NotFinite("the replay gave a balance that is not a finite number") from None
    text = io.StringIO()
    write_users_csv(text, result)
    image = io.BytesIO()
    draw_what_if(result, image, title=what_if_title(held.contract, held.parameters))
    return Outcome(report, text.getvalue().encode(), image.getvalue())
