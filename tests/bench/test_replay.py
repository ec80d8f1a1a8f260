"""``python -m bench.replay`` works: a quick run seeds, replays and prints every figure (no
timing is asserted here). Needs PostgreSQL, and uses a scratch database of its own."""

from __future__ import annotations

import pytest

from tests.conftest import POSTGRESQL_URL, require_postgresql

from . import run_bench

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


def test_a_quick_run_prints_every_figure() -> None:
    require_postgresql()
    out = run_bench("bench.replay", "--quick", "--database-url", POSTGRESQL_URL)

    assert out.startswith("backfeed replay benchmark, quick run"), out
    for figure in ("20,000 actions", "CPU time", "peak memory", "reading", "per action"):
        assert figure in out, out
