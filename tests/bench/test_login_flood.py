"""The login flood bench works: a short run prints its table, and with the limits on, the two
worker processes of its server let no more logins through than the limit, counted together
in Redis (no timing is asserted here)."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import POSTGRESQL_URL, require_postgresql

from . import run_bench

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

ROW = re.compile(r"^(off|on) +(quiet|flood) +(\d+) +([\d.]+) +([\d.]+) *(.*)$", re.MULTILINE)


def test_a_short_run_prints_both_configurations(redis_url: str) -> None:
    require_postgresql()
    environment = {
        **os.environ,
        "BACKFEED_TEST_DATABASE_URL": POSTGRESQL_URL,
        "BACKFEED_BENCH_REDIS_URL": redis_url,
    }
    out = run_bench("bench.login_flood", "--seconds", "3", env=environment)
    rows = {(m[1], m[2]): m for m in ROW.finditer(out)}
    assert set(rows) == {(a, b) for a in ("off", "on") for b in ("quiet", "flood")}, out
    assert all(int(row[3]) > 0 for row in rows.values()), out
    answers = {
        limits: dict(
            (int(status), int(n))
            for n, status in re.findall(r"(\d+) x (\d+)", rows[limits, "flood"][6])
        )
        for limits in ("off", "on")
    }
    assert answers["off"].get(201, 0) > 0, out
    assert 429 not in answers["off"], out
    assert 0 < answers["on"].get(201, 0) <= 20, out  # the default 20/minute
    assert answers["on"].get(429, 0) > 0, out
    assert re.search(r"rate limits on: [\d.]+x$", out, re.MULTILINE), out
