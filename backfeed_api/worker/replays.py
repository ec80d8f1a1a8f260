"""The worker's second job: run the what-if replays asked over HTTP.

Each call first deletes the jobs that have expired, then claims one job
(:func:`backfeed_api.domain.replay_jobs.claim`) and runs it: the history is read from one
consistent snapshot (REPEATABLE READ on PostgreSQL) and replayed in memory, with no lock of
the contract held, so the service goes on serving it. As the replay goes on the job's
progress is written, at most every :data:`~..domain.replay_jobs.PROGRESS_SECONDS`, and
each write renews the lease; a worker that lost its lease (it was too slow, and another
took the job over) stops. A replay that fails is recorded as failed with a message;
what went wrong is logged, not shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from ..domain import replay_jobs
from ..domain.replay_jobs import Claim, ContractGone, NotFinite
from ..models import dialect_of, get_session_factory
from ..settings import replay_settings
from .runner import WorkerContext

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker holds the job now: this one must stop working on it."""


class ReplayRunner:
    """Runs replay jobs for one worker thread."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.options = replay_settings(context.settings)
        engine = context.session_factory.kw["bind"]
        self.snapshot = get_session_factory(dialect_of(engine).snapshot(engine))

    def __call__(self) -> bool:
        """Delete the expired jobs and run one job; whether there was anything to do."""
        context = self.context
        with context.session_factory() as session, session.begin():
            deleted = replay_jobs.delete_expired(session, context.clock())
            held = replay_jobs.claim(session, context.clock(), self.options.lease_seconds)
        if held is not None:
            self._run(held)
        return bool(deleted) or held is not None

    def _run(self, held: Claim) -> None:
        context, options = self.context, self.options
        written = [time.monotonic()]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - written[0] < replay_jobs.PROGRESS_SECONDS:
                return
            share = done / max(total, 1)
            now = context.clock()
            if not self._write(
                lambda session: replay_jobs.heartbeat(
                    session, held, share, now, options.lease_seconds
                )
            ):
                raise LeaseLost()
            written[0] = time.monotonic()

        try:
            rules = replay_jobs.served_rules(context.settings, held.contract)
            outcome = replay_jobs.run_replay(self.snapshot, held, rules, progress)
        except LeaseLost:
            log.warning("replay job %s was taken over by another worker", held.job_id)
            return
        except (ContractGone, NotFinite) as error:
            self._end(held, str(error))
            return
        except Exception:
            log.exception("replay job %s failed", held.job_id)
            self._end(held, "the replay failed unexpectedly; the worker's log says why")
            return
        if not self._write(
            lambda session: replay_jobs.finish(
                session, held, context.clock(), options.keep_hours, outcome
            )
        ):
            log.warning("replay job %s ended after its lease ran out", held.job_id)

    def _end(self, held: Claim, message: str) -> None:
        """Record the job as failed with ``message``."""
        clock, keep = self.context.clock, self.options.keep_hours
        self._write(lambda session: replay_jobs.fail(session, held, clock(), keep, message))

    def _write(self, change: Callable[[Session], bool]) -> bool:
        """Run ``change`` in a transaction of its own; whether the job was still held."""
        with self.context.session_factory() as session, session.begin():
            return change(session)

    def close(self) -> None:
        """Nothing is held between calls."""
