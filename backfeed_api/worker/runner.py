"""The worker's loop: a short list of jobs, each run again and again while it finds work.

A job is built once per worker thread from the :class:`WorkerContext` and then called with
no argument; a call does one piece of work and says whether it found any. A thread runs its
jobs in turn; when none found work it sleeps until an event is committed (PostgreSQL's
notification, :mod:`backfeed_api.models.notifications`) or :data:`IDLE_SECONDS` pass, which
bounds how late a retry that comes due is made. Of the idle threads started together, one
at a time waits for that notification, the others for their turn: a commit wakes one thread
to look for the work it brings, not all of them. A job that fails is logged and tried
again after a pause: a database that is away for a while stops no worker.

``backfeed worker INI`` delivers webhooks on ``backfeed.worker.threads`` threads and runs
replays on ``backfeed.worker.replay_threads`` others (:func:`start_worker`); with
``backfeed.worker.in_process`` the web process runs each on one thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from ..clock import Clock
from ..models.notifications import EventSignal
from ..settings import EventSettings

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
FAILURE_PAUSE_SECONDS = 2.0


@dataclass
class WorkerContext:
    """What the jobs work with: plain sessions (committed by the jobs themselves), the
    service's clock, the event settings, the ini file's settings and the event signal."""

    session_factory: sessionmaker[Session]
    clock: Clock
    events: EventSettings
    settings: dict
    signal: EventSignal
    stopping: threading.Event = field(default_factory=threading.Event)


class Job(Protocol):
    """One kind of background work, for one thread."""

    def __call__(self) -> bool:
        """Do one piece of work; whether there was any."""

    def close(self) -> None:
        """Let go of what the job holds (connections)."""


JobFactory = Callable[[WorkerContext], Job]


class Turn:
    """The turn of the idle threads started together to wait for the next event: one
    thread at a time waits, and the count of notifications it woke at is handed on, so that
    the next one waits for a later event (the ones up to it are the woken thread's to look
    for: it reads after it woke)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen = 0

    def wait(self, signal: EventSignal, since: int) -> None:
        """Wait, for at most :data:`IDLE_SECONDS` in all, for a notification after
        ``since`` (and after the one the last waiter woke at), or for the turn to wait."""
        deadline = time.monotonic() + IDLE_SECONDS
        if not self.lock.acquire(timeout=IDLE_SECONDS):
            return
        try:
            if signal.wait(max(since, self.seen), max(0.0, deadline - time.monotonic())):
                self.seen = signal.mark()
        finally:
            self.lock.release()


def run_thread(context: WorkerContext, factories: Sequence[JobFactory], turn: Turn) -> None:
    """Run the jobs in turn until ``context.stopping`` is set; when idle, wait for the
    next event in ``turn``."""
    built = [factory(context) for factory in factories]
    try:
        while not context.stopping.is_set():
            since = context.signal.mark()
            try:
                busy = [job() for job in built]
            except Exception:
                log.exception("a worker job failed; trying again shortly")
                context.stopping.wait(FAILURE_PAUSE_SECONDS)
                continue
            if not any(busy):
                turn.wait(context.signal, since)
    finally:
        for job in built:
            job.close()


def start(
    context: WorkerContext, threads: int, factories: Sequence[JobFactory], name: str = "worker"
) -> list[threading.Thread]:
    """Start ``threads`` daemon threads (``<name>-<n>``) running the jobs of ``factories``,
    idle ones taking turns to wait for the next event."""
    turn = Turn()
    started = []
    for number in range(threads):
        thread = threading.Thread(
            target=run_thread,
            args=(context, factories, turn),
            name=f"{name}-{number}",
            daemon=True,
        )
        thread.start()
        started.append(thread)
    return started


def start_worker(
    context: WorkerContext, webhook_threads: int, replay_threads: int
) -> list[threading.Thread]:
    """Start the worker's threads: ``webhook_threads`` delivering webhooks and
    ``replay_threads`` running replay jobs, apart, since a thread inside a long replay
    delivers nothing: however many replays run, the deliveries keep their threads."""
    from .replays import ReplayRunner
    from .webhooks import WebhookRunner

    return start(context, webhook_threads, (WebhookRunner,), "webhooks") + start(
        context, replay_threads, (ReplayRunner,), "replays"
    )
