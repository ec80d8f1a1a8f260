"""``python -m bench.non_voters`` works: a quick run prints both communities at every ``k``
and the ratio of their medians (no timing is asserted here). Needs PostgreSQL, like the
suite's test, and uses a scratch database of its own next to ``BACKFEED_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import re

import pytest

from bench.non_voters import KIND, QUICK
from tests.conftest import POSTGRESQL_URL, require_postgresql

from . import run_bench

pytestmark = pytest.mark.postgresql


@pytest.mark.slow
def test_quick_run_prints_both_communities_and_their_ratio() -> None:
    require_postgresql()
    out = run_bench("bench.non_voters", "--quick", "--database-url", POSTGRESQL_URL)
    assert out.startswith(f"backfeed-api {KIND} community benchmark, quick run"), out
    small, large = QUICK.users
    for k in QUICK.voter_counts:
        for users in QUICK.users:
            row = re.search(
                rf"^{KIND} vote, {users:,} users, k={k:,}\s+(\d+)\s+(\d+)\s+[\d.,]+\s+[\d.,]+"
                rf"\s+([\d.,]+)$",
                out,
                re.MULTILINE,
            )
            assert row is not None, out
            answered, errors, rows = int(row[1]), int(row[2]), float(row[3].replace(",", ""))
            assert answered >= 5, row[0]
            assert errors == 0, row[0]
            assert rows > 0, row[0]  # every timed vote moves reputation: it writes the ledger
        ratio = rf"^p50 {large:,} users / {small:,} users, k={k:,}: [\d.]+x \(target ≤ 2x: "
        assert re.search(ratio, out, re.MULTILINE), out
    assert re.search(r"^total \d+ s$", out, re.MULTILINE), out
