"""Shared fixtures: the application against SQLite and PostgreSQL, a clock, HTTP clients.

Every API test runs on both databases (the ``backend`` parameter). PostgreSQL is the server
on 127.0.0.1:5432 (``BACKFEED_TEST_DATABASE_URL`` to change it): with ``CI=true`` it must be
there and its tests fail otherwise; elsewhere they are skipped with the reason shown. The
same goes for Redis on 127.0.0.1:6379 (``BACKFEED_TEST_REDIS_URL``), for the rate limits.

Under pytest-xdist each worker has a database of its own, named after the configured one
and the worker (``test_gw0``, ``test_gw1``, …), created on the same server when missing:
the tests empty their database whenever they like.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api import main
from backfeed_api.migrations import upgrade_database
from backfeed_api.models import Base

CONFIGURED_URL = os.environ.get(
    "BACKFEED_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BACKFEED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MAINTENANCE_DATABASE = "postgres"
"""The database every PostgreSQL server has, to connect to while creating another."""


def worker_database_url(url: str, worker: str | None) -> str:
    """The database of the xdist worker ``worker`` (``gw0``…): ``url``'s, suffixed with it;
    ``url`` itself outside xdist."""
    if not worker:
        return url
    parsed = sa.make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


POSTGRESQL_URL = worker_database_url(CONFIGURED_URL, os.environ.get("PYTEST_XDIST_WORKER"))
IN_CI = os.environ.get("CI", "").lower() == "true"
START = datetime(2026, 1, 1, tzinfo=UTC)

# Contracts every test app serves: the shipped kinds, plus the instances the reference
# scenarios need (scenario 2 rewards evaluators with tokens; 4 burns, and its user 2 votes
# on its own article, which only a contract allowing self-evaluation accepts).
TEST_CONTRACTS = {
    "backfeed.contracts": "example dmag whitepaper1 rewarded:example burning:example",
    "backfeed.contract.rewarded.reward_tokens_to_evaluators": "true",
    "backfeed.contract.burning.alpha": "0.7",
    "backfeed.contract.burning.allow_self_evaluation": "true",
}
ADMIN_TOKEN = "test-admin-token"
"""The development token of every test application: admin of every contract."""
# Rate limits are off in the test applications, whose requests all come from one client:
# tests/api/test_rate_limits.py turns them on.
TEST_SETTINGS = {
    **TEST_CONTRACTS,
    "backfeed.dev_admin_token": ADMIN_TOKEN,
    "backfeed.rate_limits": "false",
}
AS_ADMIN = {"HTTP_AUTHORIZATION": f"Bearer {ADMIN_TOKEN}"}
"""The WSGI environment of a request carrying the admin token."""


def issue_token(engine: sa.Engine, contract: str, role: str, user_id: int | None = None) -> str:
    """Store a new bearer token of ``role`` in the contract called ``contract``; the token."""
    from sqlalchemy.orm import Session

    from backfeed_api.auth.credentials import issue_token as issue
    from backfeed_api.models import ContractRow

    with Session(engine) as session, session.begin():
        query = sa.select(ContractRow.id).where(ContractRow.name == contract)
        contract_id = session.scalars(query).one()
        _, token = issue(session, contract_id, role, START, user_id=user_id)
    return token


def count(engine: sa.Engine, table) -> int:
    """How many rows ``table`` (a model or a table) holds."""
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(table))


def bearer(token: str) -> dict[str, str]:
    """The headers of a request carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def admin_client(wsgi) -> TestApp:
    """A test client that sends the admin token with every request (a test that wants
    another credential passes its own ``Authorization`` header, or builds its own client)."""
    return TestApp(wsgi, extra_environ=AS_ADMIN)


class Clock:
    """A settable clock for the application: time moves only when a test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move time forward, e.g. ``advance(days=31)``."""
        self.now += timedelta(**delta)


def create_database(url: str) -> None:
    """Create the database of ``url`` on its server unless it exists."""
    name = sa.make_url(url).database
    maintenance = sa.make_url(url).set(database=MAINTENANCE_DATABASE)
    engine = sa.create_engine(maintenance, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            if connection.scalar(query, {"name": name}) is None:
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()


@functools.cache
def postgresql_available(url: str = POSTGRESQL_URL) -> str | None:
    """None when the server answers and the database is there (created if it was missing),
    else why not. Asked once per URL and session."""
    try:
        create_database(url)
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means "not available"
        return f"{type(error).__name__}: {error}".splitlines()[0]
    return None


def reset_database(engine: sa.Engine) -> None:
    """Empty every table, restart ids, and reset the contract rows' totals and scales."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != "contracts"]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(sa.text(f"DELETE FROM {table}"))
        connection.execute(
            sa.text(
                "UPDATE contracts SET total_reputation = 0, total_tokens = 0, user_count = 0,"
                " contribution_count = 0, evaluation_count = 0, action_count = 0,"
                " reputation_scale = 1, scale_exponent = 0"
            )
        )


def require_postgresql() -> None:
    """Skip without a PostgreSQL server, or fail under ``CI=true``."""
    reason = postgresql_available()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
        pytest.skip(f"PostgreSQL not available ({reason}); run with CI=true to require it")


def require_redis() -> None:
    """Skip without a Redis server at :data:`REDIS_URL`, or fail under ``CI=true``."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if IN_CI:
            pytest.fail(f"Redis is required under CI=true: {error}")
        pytest.skip(f"Redis not available ({error}); run with CI=true to require it")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis URL of the tests (``BACKFEED_TEST_REDIS_URL`` to change it); skips (or fails
    in CI) without a server. Tests keep apart by key prefixes of their own."""
    require_redis()
    return REDIS_URL


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    """The PostgreSQL URL, with a fresh schema; skips (or fails in CI) without a server."""
    require_postgresql()
    engine = sa.create_engine(POSTGRESQL_URL)
    with engine.begin() as connection:  # whatever an earlier version of the schema left
        for table in sa.inspect(connection).get_table_names():
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    upgrade_database(engine)
    engine.dispose()
    return POSTGRESQL_URL


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with the schema."""
    path: Path = tmp_path_factory.mktemp("db") / "test.sqlite"
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    upgrade_database(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each API test runs once per database."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def clock() -> Clock:
    """The application's clock, starting on 2026-01-01."""
    return Clock()


@pytest.fixture
def make_app(
    database_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestApp]]:
    """Build a test client of the application with extra settings, on an empty database.

    The client sends the admin token (:data:`ADMIN_TOKEN`) with every request.
    """
    monkeypatch.delenv("BACKFEED_DATABASE_URL", raising=False)
    engines = []

    def build(**settings: str) -> TestApp:
        merged = {"sqlalchemy.url": database_url, **TEST_SETTINGS, **settings}
        app = main({}, **merged)
        app.registry["clock"] = clock
        engines.append(app.registry["db_engine"])
        return admin_client(app)

    reset_engine = sa.create_engine(database_url)
    reset_database(reset_engine)
    reset_engine.dispose()
    yield build
    for engine in engines:
        engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., TestApp]) -> TestApp:
    """A test client of the application with the test contracts, as an admin."""
    return make_app()


@pytest.fixture
def db(app: TestApp) -> sa.Engine:
    """The application's engine, to look at the database directly."""
    return app.app.registry["db_engine"]
