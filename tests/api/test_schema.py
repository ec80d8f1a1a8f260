"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from backfeed_api.migrations import alembic_config
from backfeed_api.models import Base


def test_migrations_match_the_models(database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
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
