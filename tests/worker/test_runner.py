"""The worker's loop: idle threads take turns to wait for the next event, and a replay
thread that events keep waking looks for replay jobs only now and then."""

from __future__ import annotations

import threading
import time

import pytest
from webtest import TestApp

from backfeed_api.domain import replay_jobs
from backfeed_api.worker import context_for, runner
from backfeed_api.worker.replays import ReplayRunner
from backfeed_api.worker.runner import WorkerContext, start

from ..polling import eventually


class Signal:
    """A stand-in for the event signal: :meth:`fire` is one event committed."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def mark(self, contract_id: int = 0) -> int:
        with self.changed:
            return self.count

    def wait(self, since: int, timeout: float, contract_id: int = 0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count > since, timeout=timeout)

    def fire(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()


class Looks:
    """A job that never finds work, counting how often it looks."""

    calls = 0
    lock = threading.Lock()

    def __init__(self, _context: WorkerContext) -> None:
        pass

    def __call__(self) -> bool:
        with Looks.lock:
            Looks.calls += 1
        return False

    def close(self) -> None:
        pass


def test_an_event_wakes_one_idle_thread_not_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "IDLE_SECONDS", 30.0)  # no thread looks again by the clock
    signal = Signal()
    context = WorkerContext(None, None, None, {}, signal)  # type: ignore[arg-type]
    Looks.calls = 0
    threads = start(context, 4, (Looks,))
    try:
        assert eventually(lambda: Looks.calls == 4)  # each thread looked once, then idled
        time.sleep(0.2)
        for fired in range(1, 4):
            signal.fire()
            assert eventually(lambda fired=fired: Looks.calls >= 4 + fired)
            time.sleep(0.2)
            assert Looks.calls == 4 + fired  # one thread woke for the event
    finally:
        context.stopping.set()
        signal.fire()
        for thread in threads:
            thread.join(timeout=40)


def test_replay_jobs_are_looked_for_once_a_second_at_most(
    app: TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = app.app.registry
    job = ReplayRunner(context_for(registry, registry.settings))
    looked: list[bool] = []
    has_work = replay_jobs.has_work

    def counted(*args) -> bool:
        looked.append(has_work(*args))
        return looked[-1]

    monkeypatch.setattr(replay_jobs, "has_work", counted)
    assert not job()
    assert not job()
    assert looked == [False]
    job.quiet_until = time.monotonic()  # a second later
    assert not job()
    assert looked == [False, False]
