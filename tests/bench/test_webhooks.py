"""The webhook bench works: a short run prints both tables, with every delivery made (no
timing is asserted here)."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import POSTGRESQL_URL, require_postgresql

from . import run_bench

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

COST = re.compile(r"^(off|on) +(\d+) +([\d.]+) +([\d.]+)$", re.MULTILINE)
DELIVERY = re.compile(
    r"^ +(1|10) +(\d+) +(\d+) +([\d.]+) +([\d.]+) +(\d+) +(yes|no)$", re.MULTILINE
)


@pytest.mark.parametrize("receiver", ["process", "thread"])
def test_a_short_run_prints_both_tables(receiver: str) -> None:
    """The receiver in a gunicorn process of its own (the default) or in the bench's."""
    require_postgresql()
    environment = {**os.environ, "BACKFEED_TEST_DATABASE_URL": POSTGRESQL_URL}
    out = run_bench(
        *("bench.webhooks", "--seconds", "1", "--rate", "10", "--votes", "20"),
        *("--receiver", receiver),
        env=environment,
    )
    assert f"receiver: {receiver}; backfeed worker processes: 1" in out
    costs = {m[1]: int(m[2]) for m in COST.finditer(out)}
    assert costs == {"off": 20, "on": 20}, out
    deliveries = {m[1]: (int(m[3]), int(m[6])) for m in DELIVERY.finditer(out)}
    assert deliveries == {"1": (10, 0), "10": (100, 0)}, out
    assert re.search(r"outbox added to a vote's p50: [-+][\d.]+ % \(target: under 10 %, ", out)
