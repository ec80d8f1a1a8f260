"""``kill -9`` of the webhook worker and of the server in the middle of a burst of actions:
afterwards every committed action's event reaches the receiver, in order (a redelivery
repeats events, it never skips one or goes back past one delivered after it)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from ..worker.receiver import Receiver, start_receiver
from .servers import BACKFEED, Server, admin_session, child_environment

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

ACTIONS = 500
CLIENTS = 4
DEADLINE = 120.0
"""Seconds the whole test may take, burst and catching up included."""
SETTINGS = {
    "backfeed.webhooks.allow_private_targets": "true",
    # A short timeout, so that the lease of a killed worker (three timeouts) runs out soon.
    "backfeed.webhooks.timeout_seconds": "1",
}


COUNTING = threading.Lock()


class Worker:
    """A ``backfeed worker`` process, killed and started again by the test."""

    def __init__(self, ini: Path, log: Path) -> None:
        self.ini, self.log = ini, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BACKFEED), "worker", str(self.ini)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(),
                start_new_session=True,
            )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def burst(server: Server, sent: list[int], stop_at: float) -> None:
    """Create users until :data:`ACTIONS` were tried; a broken connection is counted as
    tried (the action may or may not have committed) and the next one is sent."""
    session = admin_session()
    while time.monotonic() < stop_at:
        with COUNTING:
            if sent[0] >= ACTIONS:
                return
            sent[0] += 1
        try:
            session.post(f"{server.url}/example/users", json={}, timeout=(1, 5))
        except requests.RequestException:
            time.sleep(0.05)


def delivered_ids(receiver: Receiver) -> list[int]:
    """The event ids the receiver got, in the order it got them (repeats included)."""
    return [int(r.headers["webhook-id"]) for r in receiver.at("/hook")]


def test_kill_nine_of_worker_and_server_loses_no_event(
    servers, database: sa.Engine, tmp_path: Path
) -> None:
    started = time.monotonic()
    stop_at = started + DEADLINE
    (server,) = servers(1, contracts="example", settings=SETTINGS)
    receiver = start_receiver()
    worker = Worker(server.ini, tmp_path / "worker.log")
    try:
        admin_session().post(
            f"{server.url}/example/webhooks", json={"url": receiver.url()}, timeout=5
        ).raise_for_status()
        worker.start()
        sent = [0]
        clients = [
            threading.Thread(target=burst, args=(server, sent, stop_at)) for _ in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        wait_until(lambda: len(delivered_ids(receiver)) >= 50, stop_at)
        worker.kill()  # mid-delivery: its lease is left to run out
        wait_until(lambda: sent[0] >= ACTIONS // 2, stop_at)
        server.kill()  # mid-burst: requests in flight fail, committed ones stay
        worker.start()
        server.start()
        for client in clients:
            client.join(timeout=max(1.0, stop_at - time.monotonic()))
        assert sent[0] >= ACTIONS, "the burst did not finish in time"
        with database.connect() as connection:
            events = connection.scalars(sa.text("SELECT id FROM events ORDER BY id")).all()
            users = connection.scalar(sa.text("SELECT count(*) FROM users"))
        assert len(events) == users  # one event per committed action, no more
        wait_until(lambda: set(events) <= set(delivered_ids(receiver)), stop_at)
    finally:
        worker.stop()
        receiver.server.shutdown()
    got = delivered_ids(receiver)
    assert set(got) == set(events)
    position = {event_id: index for index, event_id in enumerate(events)}
    assert position[got[0]] == 0
    for before, after in itertools.pairwise(got):  # the next one, or a repeat
        assert position[after] <= position[before] + 1, (before, after)


def wait_until(condition, stop_at: float) -> None:
    """Poll ``condition`` until it holds; fail at ``stop_at``."""
    while not condition():
        assert time.monotonic() < stop_at, "timed out"
        time.sleep(0.1)
