"""The benchmark suite works: a quick run prints the whole table, and what it seeds is a
state the service could have produced (no timing is asserted here).

Both need PostgreSQL, like the concurrency tests: skipped without it, failing under
``CI=true``. Each uses a scratch database of its own next to ``BACKFEED_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from backfeed_api.clock import utc_now
from backfeed_api.domain.audit import audit
from backfeed_api.domain.catalog import load_catalog
from backfeed_api.models import get_session_factory
from bench.plan import QUICK, contract_plans
from bench.seed import seed
from tests.concurrency.servers import scratch_database
from tests.conftest import POSTGRESQL_URL, require_postgresql

from . import run_bench

pytestmark = pytest.mark.postgresql

COLUMNS = re.compile(r"\s{2,}")


def table_rows(output: str) -> tuple[list[list[str]], list[list[str]]]:
    """The rows of the printed table split into their columns: the measured cells, and the
    figures derived from them (indented)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("measurement")) + 2
    lines = lines[start : lines.index("", start)]
    cells = [COLUMNS.split(line) for line in lines if not line.startswith(" ")]
    figures = [COLUMNS.split(line.strip()) for line in lines if line.startswith(" ")]
    return cells, figures


@pytest.mark.slow
def test_quick_run_prints_every_row() -> None:
    require_postgresql()
    out = run_bench("bench", "--quick", "--database-url", POSTGRESQL_URL)
    assert out.startswith("backfeed-api benchmark, quick run"), out
    cells, figures = table_rows(out)
    assert Counter(row[0].split(",")[0] for row in cells) == {
        "evaluation": len(QUICK.eval_users) * len(QUICK.voter_counts),
        "top 20 by score": len(QUICK.listings),
        "top 20 users by reputation": len(QUICK.eval_users),
        "evaluations/s": 2 * len(QUICK.clients),
        "floor requests/s": len(QUICK.clients),
    }, cells
    for row in cells:
        if row[1] == "n/a":  # k voters and the timed ones need more users than the contract
            small, k = QUICK.eval_users[0], QUICK.voter_counts[-1]
            assert row[0] == f"evaluation, {small:,} users, k={k:,}", row
        else:
            answered, errors = int(row[1].replace(",", "")), int(row[2])
            assert answered > 0, row
            assert errors == 0, row
    # ratio and slope of latency over k, community drift, share of the floor, four contracts
    assert len(figures) == 5, figures
    assert all(len(row) == 4 and row[-1] == "-" for row in figures), figures  # not judged
    assert re.search(r"^total \d+ s$", out, re.MULTILINE), out


def test_seeded_state_balances(tmp_path: Path) -> None:
    """Checks (a), (b) and (d) of ``backfeed check`` hold on every seeded contract; (c), the
    replay, cannot: seeded votes moved no balance (see bench/seed.py)."""
    require_postgresql()
    plans = contract_plans(QUICK)
    with scratch_database(POSTGRESQL_URL, f"bench_test_{os.getpid()}") as url:
        seeding = seed(url, plans)
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        settings = {"backfeed.contracts": " ".join(f"{plan.name}:example" for plan in plans)}
        try:
            with get_session_factory(engine)() as session:
                for contract in load_catalog(session, settings, utc_now()):
                    plan = seeding.contracts[contract.name].plan
                    checks = {finding.check for finding in audit(session, contract)}
                    assert checks <= ({"c"} if plan.evaluations else set()), contract.name
                    row = session.execute(
                        sa.text(
                            "SELECT user_count, contribution_count, evaluation_count,"
                            " action_count,"
                            " (SELECT count(*) FROM users WHERE contract_id = :id),"
                            " (SELECT count(*) FROM contributions WHERE contract_id = :id),"
                            " (SELECT count(*) FROM evaluations"
                            "  WHERE contract_id = :id AND active)"
                            " FROM contracts WHERE id = :id"
                        ),
                        {"id": contract.row_id},
                    ).one()
                    counters, rows = tuple(row[:3]), tuple(row[4:])
                    assert counters == rows  # the counters count the rows really stored
                    assert rows == (plan.users, plan.contributions, plan.evaluations)
                    assert row[3] == sum(rows)  # one action per row
        finally:
            engine.dispose()
