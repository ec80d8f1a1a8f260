"""The worker's second job: run the what-if replays asked over HTTP.

Each call first deletes the jobs that have expired, then claims one job
(:func:`backfeed_api.domain.replay_jobs.claim`) and runs it: the history is read from one
consistent snapshot (REPEATABLE READ on PostgreSQL) and replayed in memory, with no lock of
the contract held, so the service goes on serving it. While it runs, a heartbeat thread
writes the job's progress and renews its lease every third of the lease
(:data:`~..domain.replay_jobs.BEATS_PER_LEASE`), from the start: reading a long history
counts too. A process that is killed stops beating, and
its lease runs out; a worker that finds its lease lost (run out, or another took the job
over) stops, and so does one whose replay has run ``backfeed.replays.max_run_seconds``
(the heartbeat fails the job, so that its contract's next job runs even if the replay
hangs).
A replay that fails is recorded as failed with a message; what went wrong is logged, not
shown.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from protocol import ConfigurationError

from ..domain import replay_jobs
from ..domain.replay_jobs import Claim, ContractGone, NotFinite
from ..models import dialect_of, get_session_factory
from ..settings import replay_settings
from .runner import IDLE_SECONDS, WorkerContext

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The job is no longer this worker's to run (its lease ran out, another worker holds
    it, or its time is up): this one must stop."""


class Heartbeat:
    """Renews a held job's lease and writes its progress, on a thread of its own, until
    stopped; ``lost`` is set once the job is found no longer this worker's
    (:func:`~..domain.replay_jobs.heartbeat`)."""

    def __init__(self, runner: ReplayRunner, held: Claim) -> None:
        self.runner, self.held = runner, held
        self.progress = 0.0
        self.lost = threading.Event()
        self.stopped = threading.Event()
        self.interval = runner.options.lease_seconds / replay_jobs.BEATS_PER_LEASE
        self.thread = threading.Thread(target=self._beat, name="replay-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        runner, held = self.runner, self.held
        while not self.stopped.wait(self.interval):
            progress, now = self.progress, runner.context.clock()
            try:
                kept = runner.write(replay_jobs.heartbeat, held, progress, now, runner.options)
            except Exception:  # the database away for a moment: the lease may yet hold
                log.exception("could not renew the lease of replay job %s", held.job_id)
                continue
            if not kept:
                self.lost.set()
                return

    def report(self, done: int, total: int) -> None:
        """The replay's progress callback: note it for the next beat; stop the replay if
        the job is no longer this worker's."""
        if self.lost.is_set():
            raise LeaseLost()
        self.progress = done / max(total, 1)


class ReplayRunner:
    """Runs replay jobs for one worker thread."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.options = replay_settings(context.settings)
        engine = context.session_factory.kw["bind"]
        self.snapshot = get_session_factory(dialect_of(engine).snapshot(engine))
        self.quiet_until = -math.inf

    def __call__(self) -> bool:
        """Delete the expired jobs and run one job; whether there was anything to do. After
        finding nothing, it looks again only :data:`~.runner.IDLE_SECONDS` later: every
        committed event wakes its thread, and the look is a query, where jobs are found by
        looking, not by a notification."""
        context = self.context
        if time.monotonic() < self.quiet_until:
            return False
        with context.session_factory() as session, session.begin():
            if not replay_jobs.has_work(session, context.clock()):
                self.quiet_until = time.monotonic() + IDLE_SECONDS
                return False
        with context.session_factory() as session, session.begin():
            deleted = replay_jobs.delete_expired(session, context.clock())
            held = replay_jobs.claim(session, context.clock(), self.options)
        if held is not None:
            self._run(held)
        return bool(deleted) or held is not None

    def _run(self, held: Claim) -> None:
        context, options = self.context, self.options
        try:
            with Heartbeat(self, held) as beat:
                outcome = replay_jobs.run_replay(
                    self.snapshot, held, context.settings, beat.report
                )
            if beat.lost.is_set():
                raise LeaseLost()
        except LeaseLost:
            log.warning("replay job %s is no longer this worker's: stopped", held.job_id)
            return
        except (ContractGone, NotFinite) as error:
            self._end(held, str(error))
            return
        except ConfigurationError as error:  # the parameters do not fit an older version
            self._end(held, error.message)
            return
        except Exception:
            log.exception("replay job %s failed", held.job_id)
            self._end(held, "the replay failed unexpectedly; the worker's log says why")
            return
        if not self.write(replay_jobs.finish, held, context.clock(), options, outcome):
            log.warning("replay job %s ended after its lease ran out", held.job_id)

    def _end(self, held: Claim, message: str) -> None:
        """Record the job as failed with ``message``."""
        self.write(replay_jobs.fail, held, self.context.clock(), self.options, message)

    def write(self, change: Callable[..., bool], *arguments: Any) -> bool:
        """Run ``change(session, *arguments)`` in a transaction of its own; whether the job
        was still held."""
        with self.context.session_factory() as session, session.begin():
            return change(session, *arguments)

    def close(self) -> None:
        """Nothing is held between calls."""
