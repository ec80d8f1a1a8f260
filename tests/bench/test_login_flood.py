"""The login flood bench works: a short run prints its table, and with the limits on, the two
worker processes of its server let no more logins through than the limit, counted together
in Redis (no timing is asserted here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRESQL_URL, require_postgresql

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^(off|on) +(quiet|flood) +(\d+) +([\d.]+) +([\d.]+) *(.*)$", re.MULTILINE)


def test_a_short_run_prints_both_configurations(redis_url: str) -> None:
    require_postgresql()
    environment = {
        **os.environ,
        "BACKFEED_TEST_DATABASE_URL": POSTGRESQL_URL,
        "BACKFEED_BENCH_REDIS_URL": redis_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.login_flood", "--seconds", "3"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"the run failed:\n{done.stdout}\n{done.stderr}"
    rows = {(m[1], m[2]): m for m in ROW.finditer(done.stdout)}
    assert set(rows) == {(a, b) for a in ("off", "on") for b in ("quiet", "flood")}, done.stdout
    assert all(int(row[3]) > 0 for row in rows.values()), done.stdout
    answers = {
        limits: dict(
            (int(status), int(n))
            for n, status in re.findall(r"(\d+) x (\d+)", rows[limits, "flood"][6])
        )
        for limits in ("off", "on")
    }
    assert answers["off"].get(201, 0) > 0, done.stdout
    assert 429 not in answers["off"], done.stdout
    assert 0 < answers["on"].get(201, 0) <= 20, done.stdout  # the default 20/minute
    assert answers["on"].get(429, 0) > 0, done.stdout
    assert re.search(r"rate limits on: [\d.]+x$", done.stdout, re.MULTILINE), done.stdout
