"""The batch bench works: a short run prints a row per batch size (no timing is asserted)."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import POSTGRESQL_URL, require_postgresql

from . import run_bench

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

ROW = re.compile(r"^ +(\d+) +(\d+) +(\d+) +(\d+) +([\d.]+) +([\d.]+)$", re.MULTILINE)


def test_a_short_run_prints_every_size() -> None:
    require_postgresql()
    environment = {**os.environ, "BACKFEED_TEST_DATABASE_URL": POSTGRESQL_URL}
    out = run_bench("bench.batches", "--seconds", "1", "--sizes", "1,10", env=environment)
    rows = {int(m[1]): m for m in ROW.finditer(out)}
    assert set(rows) == {1, 10}, out
    for size, row in rows.items():
        assert int(row[3]) == int(row[2]) * size > 0, out
