"""``kill -9`` of the worker in the middle of a replay job: once its lease has run out, a new
``backfeed worker`` takes the job up again and finishes it.

The contract is seeded in bulk (:mod:`bench.seed`) into a database of its own, large enough
that a replay runs for a few seconds; the job is asked and polled over HTTP from a real
server, and the workers are real processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.plan import ContractPlan, Group
from bench.seed import contract_setting, seed
from tests.conftest import POSTGRESQL_URL

from .servers import Server, admin_session, free_port, scratch_database, write_ini
from .test_webhook_crash import Worker, wait_until

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

PLAN = ContractPlan("replayed", users=1_000, groups=(Group(1_000, 60),), up_share=0.7)
"""62,000 actions: a replay of a few seconds, beside which the heartbeat is frequent."""
LEASE_SECONDS = 1.5
"""The heartbeat, which writes the progress, beats three times a lease: every 0.5 s."""
DEADLINE = 120.0


def test_a_replay_whose_worker_is_killed_is_finished_by_another(
    concurrency_database: str, tmp_path: Path
) -> None:
    stop_at = time.monotonic() + DEADLINE
    with scratch_database(POSTGRESQL_URL, f"backfeed_replay_crash_{os.getpid()}") as url:
        seed(url, [PLAN])
        settings = {
            "backfeed.replays.lease_seconds": str(LEASE_SECONDS),
            "backfeed.worker.threads": "2",
        }
        port = free_port()
        ini = write_ini(
            tmp_path / "server.ini", url, port, contract_setting([PLAN]), settings=settings
        )
        server = Server(ini, port, tmp_path / "server.log")
        first = Worker(ini, tmp_path / "worker1.log")
        second = Worker(ini, tmp_path / "worker2.log")
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            server.start()
            http = admin_session()
            asked = http.post(
                f"{server.url}/replayed/replays",
                json={"parameters": {"article.stake": 0.05}},
                timeout=10,
            )
            assert asked.status_code == 202, asked.text
            job_url = asked.json()["url"]

            def job() -> dict:
                return http.get(job_url, timeout=10).json()

            first.start()
            wait_until(lambda: job()["progress"] > 0, stop_at)  # mid-replay
            first.kill()
            halted = job()
            assert halted["status"] == "running"
            assert halted["progress"] < 1
            second.start()
            wait_until(lambda: job()["status"] in ("done", "failed"), stop_at)
            done = job()
            assert done["status"] == "done", done["error"]
            assert done["result"]["actions"] == PLAN.users + PLAN.contributions + PLAN.evaluations
            assert http.get(done["result"]["links"]["plot"], timeout=10).content.startswith(
                b"\x89PNG"
            )
            with engine.connect() as connection:
                attempts = connection.scalar(sa.text("SELECT attempts FROM replay_jobs"))
            assert attempts == 2
        finally:
            first.stop()
            second.stop()
            server.stop()
            engine.dispose()
