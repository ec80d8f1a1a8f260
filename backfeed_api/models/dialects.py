"""What differs between the two databases the service runs on, asked of one object.

:func:`dialect_of` chooses the object from the engine's SQLAlchemy dialect, once for the
engine when :func:`~.session.get_engine` configures it, and again for whoever holds a
session or a connection: the domain, the security policy and the command line ask it how
to lock and which statements the database can run instead of comparing dialect names.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event, false, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from .arrays import register_arrays
from .tables import ContractRow


class Dialect:
    """One database's ways. Each flag names what the database can do, so that a caller
    reads as the reason for its choice."""

    name: ClassVar[str]
    rebuilds_tables_to_alter: ClassVar[bool]
    """Whether Alembic must copy a table to alter it (``render_as_batch``)."""
    lateral_joins: ClassVar[bool]
    """Whether the voters of a contribution can be read one by one (``LATERAL``)."""
    writes_in_one_statement: ClassVar[bool]
    """Whether balance changes with their ledger entries, and a whole vote, can be written in
    one statement (data-modifying CTEs over binary array parameters, :mod:`.arrays`)."""
    aggregates_arrays: ClassVar[bool]
    """Whether a column comes back as one array in one row (``array_agg``)."""
    writes_after_reads: ClassVar[bool]
    """Whether a transaction that has read may still write after another writer committed
    (false on SQLite: such a transaction must take the write lock before it reads)."""

    def configure(self, engine: Engine) -> None:
        """Set up every connection the engine opens."""

    def in_transaction(self, dbapi_connection: Any) -> bool:
        """Whether a driver connection still has a transaction open."""
        raise NotImplementedError

    def take_write_lock(self, session: Session) -> None:
        """Hold the database's write lock until the transaction ends, where writers take
        one lock for the whole database; nothing where rows are locked one by one."""

    def lock_key(self, session: Session, key: int) -> None:
        """Wait for and hold a lock on the 64-bit ``key`` until the transaction ends."""
        raise NotImplementedError

    def try_lock_key(self, session: Session, key: int) -> bool:
        """Take a lock on ``key`` until the transaction ends if no one holds it; say whether
        it was taken."""
        raise NotImplementedError

    def snapshot(self, engine: Engine) -> Engine:
        """The engine, made to read one consistent snapshot while writers run."""
        return engine

    def shared_by_processes(self, url: URL) -> bool:
        """Whether processes that each open their own connections to ``url`` see one
        database."""
        return True


class SQLiteDialect(Dialect):
    """SQLite: one writer at a time, holding the whole database's write lock."""

    name = "sqlite"
    rebuilds_tables_to_alter = True
    lateral_joins = False
    writes_in_one_statement = False
    aggregates_arrays = False
    writes_after_reads = False

    def configure(self, engine: Engine) -> None:
        """Make SQLite enforce foreign keys and wait for the write lock instead of failing."""

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:
            connection.exec_driver_sql("BEGIN")

    def in_transaction(self, dbapi_connection: Any) -> bool:
        """Whether a driver connection still has a transaction open."""
        return dbapi_connection.in_transaction

    def take_write_lock(self, session: Session) -> None:
        """Take the write lock now with an ``UPDATE`` of no row: a write statement takes it
        whatever it matches, the same effect as ``BEGIN IMMEDIATE``."""
        session.execute(_no_op_update())

    def lock_key(self, session: Session, key: int) -> None:
        """SQLite has no finer lock than the write lock: take it."""
        self.take_write_lock(session)

    def try_lock_key(self, session: Session, key: int) -> bool:
        """Wait for the write lock (held by one writer at a time, it is never refused)."""
        self.take_write_lock(session)
        return True

    def shared_by_processes(self, url: URL) -> bool:
        """A file is; an in-memory database is a separate, empty one in each process."""
        return url.database not in (None, "", ":memory:") and "mode=memory" not in str(url)


class PostgreSQLDialect(Dialect):
    """PostgreSQL: row locks and advisory locks, so that writers of different contracts and
    logins of different usernames proceed in parallel."""

    name = "postgresql"
    rebuilds_tables_to_alter = False
    lateral_joins = True
    writes_in_one_statement = True
    aggregates_arrays = True
    writes_after_reads = True

    def configure(self, engine: Engine) -> None:
        """Let every connection send numpy arrays as binary PostgreSQL arrays."""
        event.listen(engine, "connect", _register_arrays)

    def in_transaction(self, dbapi_connection: Any) -> bool:
        """Whether a driver connection still has a transaction open."""
        return dbapi_connection.info.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
        )

    def lock_key(self, session: Session, key: int) -> None:
        """A transaction-scoped advisory lock."""
        session.execute(select(func.pg_advisory_xact_lock(key)))

    def try_lock_key(self, session: Session, key: int) -> bool:
        """A transaction-scoped advisory lock, if free."""
        return bool(session.scalar(select(func.pg_try_advisory_xact_lock(key))))

    def snapshot(self, engine: Engine) -> Engine:
        """The engine at ``REPEATABLE READ``."""
        return engine.execution_options(isolation_level="REPEATABLE READ")


DIALECTS: dict[str, Dialect] = {
    dialect.name: dialect for dialect in (SQLiteDialect(), PostgreSQLDialect())
}
"""The supported databases, by SQLAlchemy dialect name."""


def dialect_of(bind: Session | Connection | Engine) -> Dialect:
    """The database behind an engine, a connection or a session's engine."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    try:
        return DIALECTS[engine.dialect.name]
    except KeyError:
        supported = ", ".join(DIALECTS)
        raise ValueError(
            f"unsupported database {engine.dialect.name!r}; use one of: {supported}"
        ) from None


def _register_arrays(dbapi_connection, _record) -> None:
    """Let the connection send numpy arrays as binary PostgreSQL arrays."""
    register_arrays(dbapi_connection.adapters)


@cache
def _no_op_update():
    """The statement of :meth:`SQLiteDialect.take_write_lock`, built once."""
    contracts = ContractRow.__table__
    return update(contracts).where(false()).values(kind=contracts.c.kind)
