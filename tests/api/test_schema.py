"""The Alembic migrations build exactly the schema the models describe, on both databases,
and carry older data forward."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session

from backfeed_api.migrations import alembic_config, upgrade_database
from backfeed_api.models import ApiToken, Base

from ..concurrency.servers import scratch_database
from ..conftest import POSTGRESQL_URL, require_postgresql

NOT_VALID_REFLECTED = "Can't validate argument 'dialect_options'"
"""What SQLAlchemy's reflection warns of each ``NOT VALID`` check constraint of migration
0009 (PostgreSQL): the inspector passes the constraint's ``dialect_options``
(``{"not_valid": True}``) to ``CheckConstraint`` as a keyword, which it cannot read. Alembic
compares no check constraints, so the comparison loses nothing by it."""


def test_migrations_match_the_models(database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            warnings.filterwarnings("error", category=sa.exc.SAWarning)
            warnings.filterwarnings(
                "ignore", message=NOT_VALID_REFLECTED, category=sa.exc.SAWarning
            )
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, Base.metadata)
            assert context.get_current_revision() == head
    finally:
        engine.dispose()
    assert differences == []


def test_credential_tables_exist(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"api_tokens", "user_logins", "login_failures"} <= tables


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a database of its own with no schema at all."""
    if request.param == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
        yield engine
        engine.dispose()
        return
    require_postgresql()
    with scratch_database(POSTGRESQL_URL, f"backfeed_migration_{os.getpid()}") as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        yield engine
        engine.dispose()


def test_login_tokens_issued_before_expiry_existed_expire_after_thirty_days(
    empty_database: sa.Engine,
) -> None:
    upgrade_database(empty_database, "0005")
    created = datetime(2026, 1, 1, 12, 30)
    with empty_database.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO contracts (id, name, kind, total_reputation, total_tokens,"
                " user_count, contribution_count, evaluation_count, action_count, created_at)"
                " VALUES (1, 'example', 'example', 0, 0, 0, 0, 0, 0, :created)"
            ),
            {"created": created},
        )
        for number, origin in enumerate(("login", "cli")):
            connection.execute(
                sa.text(
                    "INSERT INTO api_tokens (contract_id, role, token_hash, origin, created_at)"
                    " VALUES (1, 'admin', :hash, :origin, :created)"
                ),
                {"hash": f"{number:064}", "origin": origin, "created": created},
            )
    upgrade_database(empty_database)
    with Session(empty_database) as session:
        expiries = dict(session.execute(sa.select(ApiToken.origin, ApiToken.expires_at)).all())
    assert expiries == {"login": datetime(2026, 1, 31, 12, 30, tzinfo=UTC), "cli": None}
    with empty_database.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")


EVENTS_COMPRESSION = sa.text(
    "SELECT attcompression FROM pg_attribute"
    " WHERE attrelid = 'events'::regclass AND attname = 'data'"
)


def test_event_documents_are_compressed_with_lz4_on_postgresql() -> None:
    """lz4 compresses an event's document in about half pglz's time, inside every vote."""
    require_postgresql()
    with scratch_database(POSTGRESQL_URL, f"backfeed_lz4_{os.getpid()}") as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            upgrade_database(engine, "0014")
            with engine.connect() as connection:
                assert connection.scalar(EVENTS_COMPRESSION) == ""  # the server's default
            upgrade_database(engine)
            with engine.connect() as connection:
                assert connection.scalar(EVENTS_COMPRESSION) == "l"
            with engine.begin() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.downgrade(config, "0014")
            with engine.connect() as connection:
                assert connection.scalar(EVENTS_COMPRESSION) == "p"
        finally:
            engine.dispose()
