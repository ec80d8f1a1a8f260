"""The in-memory indexes of the statistics are read at start-up, by whole columns.

A process that starts on a contract with history reads its actions, votes and ledger
before it serves (``load_indexes``), so that no request pays for the first read; the
columns come from :func:`backfeed_api.models.columns.read_columns`, which must give
exactly what the rows hold on both databases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from backfeed_api.domain.periods import micros
from backfeed_api.models import Evaluation, LedgerEntry
from backfeed_api.models.columns import MOMENT, read_columns
from tests.conftest import Clock

from .conftest import Api
from .test_community_stats import community


def count(db: sa.Engine, statement) -> int:
    """One count from the database."""
    with db.connect() as connection:
        return connection.scalar(statement)


def test_a_new_process_reads_the_indexes_before_its_first_request(
    app, db, clock: Clock, make_app: Callable, caplog
):
    api = Api(app)
    community(api, clock, "whitepaper1", seed=3, days=6)
    before = api.get("/whitepaper1/stats", period="week")
    board = api.get("/whitepaper1/leaderboard", metric="reputation_gain", period="week")
    tables = ("users", "contributions", "evaluations")  # of this contract only
    actions = sum(count(db, sa.text(f"SELECT count(*) FROM {table}")) for table in tables)
    votes = count(db, sa.select(sa.func.count()).select_from(Evaluation).where(Evaluation.active))
    entries = count(db, sa.select(sa.func.count()).select_from(LedgerEntry))
    with caplog.at_level(logging.INFO, logger="backfeed_api.domain.catalog"):
        second = make_app()
    contract = second.app.registry["contracts"].get("whitepaper1")
    assert contract.ledger.entries == entries > 0
    assert (
        f"contract whitepaper1: read {actions} actions, {votes} active votes and {entries} "
        "ledger entries in"
    ) in caplog.text
    again = Api(second)
    assert again.get("/whitepaper1/stats", period="week") == before
    assert again.get("/whitepaper1/leaderboard", metric="reputation_gain", period="week") == board


def test_columns_are_the_rows_values_in_the_order_of_the_first(app, db, clock: Clock):
    api = Api(app)
    community(api, clock, "whitepaper1", seed=5, days=4)
    with Session(db, expire_on_commit=False) as session, session.begin():
        rows = session.execute(sa.select(LedgerEntry).order_by(LedgerEntry.id)).scalars().all()
        ids, moments, users, deltas, scales = read_columns(
            session,
            [
                (LedgerEntry.id, np.int64),
                (LedgerEntry.created_at, MOMENT),
                (sa.func.coalesce(LedgerEntry.user_id, -1), np.int64),
                (LedgerEntry.reputation_delta, np.float64),
                (sa.func.coalesce(LedgerEntry.scale, 1.0), np.float64),
            ],
            lambda statement: statement.order_by(LedgerEntry.id.desc()),
        )
        none = read_columns(
            session, [(LedgerEntry.id, np.int64)], lambda s: s.where(LedgerEntry.id < 0)
        )
    assert any(row.user_id is None for row in rows)
    assert ids.dtype == users.dtype == moments.dtype == np.int64
    assert ids.tolist() == [row.id for row in rows]  # sorted again by the first column
    assert moments.tolist() == [micros(row.created_at) for row in rows]
    assert users.tolist() == [-1 if row.user_id is None else row.user_id for row in rows]
    assert deltas.tolist() == [row.reputation_delta for row in rows]
    assert scales.tolist() == [1.0 if row.scale is None else row.scale for row in rows]
    assert none[0].dtype == np.int64
    assert none[0].size == 0
