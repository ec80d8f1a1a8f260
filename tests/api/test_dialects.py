"""The dialect object: chosen from the engine, the one place that names the databases, and
what it promises of each."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from backfeed_api.models import dialect_of, get_engine
from backfeed_api.models.dialects import PostgreSQLDialect, SQLiteDialect

ROOT = Path(__file__).resolve().parents[2] / "backfeed_api"
CHOOSER = ROOT / "models" / "dialects.py"
MIGRATION_SCRIPTS = ROOT / "migrations" / "alembic" / "versions"


def test_only_the_dialect_module_compares_dialect_names():
    """Migration scripts are history and keep their own tests of the database: a later change
    of the dialect object must not change what an old migration did."""
    comparing = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in ROOT.rglob("*.py")
        if path != CHOOSER and MIGRATION_SCRIPTS not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"dialect\.name\b", line)
    ]
    assert comparing == []


def test_the_engine_chooses_its_dialect(sqlite_url):
    engine = get_engine({"sqlalchemy.url": sqlite_url})
    try:
        assert isinstance(dialect_of(engine), SQLiteDialect)
        with engine.connect() as connection:
            assert dialect_of(connection) is dialect_of(engine)
        with Session(engine) as session:
            assert dialect_of(session) is dialect_of(engine)
    finally:
        engine.dispose()
    postgresql = sa.create_engine("postgresql+psycopg://x@y/z")
    assert isinstance(dialect_of(postgresql), PostgreSQLDialect)


def test_an_unsupported_database_is_refused_by_name():
    with pytest.raises(ValueError, match="unsupported database 'mysql'; use one of: sqlite"):
        dialect_of(sa.create_engine("mysql://x@y/z", module=sqlite3))


def test_the_sqlite_write_lock_is_held_until_the_transaction_ends(sqlite_url):
    engine = get_engine({"sqlalchemy.url": sqlite_url})
    other = sqlite3.connect(sa.make_url(sqlite_url).database, timeout=0, isolation_level=None)
    try:
        with Session(engine) as session, session.begin():
            dialect_of(session).take_write_lock(session)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


@pytest.mark.parametrize(
    ("database", "shared"),
    [
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("sqlite:///file:db?mode=memory&uri=true", False),
        ("sqlite:///served.sqlite", True),
    ],
)
def test_an_in_memory_sqlite_database_is_not_shared_by_processes(database, shared):
    assert SQLiteDialect().shared_by_processes(sa.make_url(database)) is shared
    assert PostgreSQLDialect().shared_by_processes(sa.make_url("postgresql://x@y/z"))
