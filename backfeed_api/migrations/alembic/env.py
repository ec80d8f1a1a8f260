"""Alembic environment: migrations run on a connection handed over by ``upgrade_database``."""

from alembic import context

from backfeed_api.models import Base, dialect_of

config = context.config


def run_migrations() -> None:
    """Run the migrations online, on the caller's connection or engine."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = config.attributes["engine"]
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=dialect_of(connection).rebuilds_tables_to_alter,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
