"""Fixtures of the concurrency tests: a PostgreSQL database of their own, real servers.

The other test packages share the ``test`` database; the servers here run on a separate one,
``backfeed_concurrency_<pid>``, created once per session (through the ``test`` database's
connection) and dropped at the end; the ``app`` fixture's PostgreSQL runs use it too. Without
PostgreSQL the tests are skipped, and with ``CI=true`` they fail, like every PostgreSQL test
of ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRESQL_URL, require_postgresql, reset_database

from .clients import CONTRACTS
from .servers import Server, initdb, scratch_database, start_servers, write_ini


@pytest.fixture(scope="session")
def concurrency_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a fresh database with the schema and the contract rows (``initdb``)."""
    require_postgresql()
    with scratch_database(POSTGRESQL_URL, f"backfeed_concurrency_{os.getpid()}") as url:
        ini = write_ini(tmp_path_factory.mktemp("initdb") / "initdb.ini", url, 1, CONTRACTS)
        initdb(ini)
        yield url


@pytest.fixture(scope="session")
def postgresql_url(concurrency_database: str) -> str:
    """The ``app`` fixture of tests/conftest.py, here on our own database too: other test
    sessions empty the shared ``test`` database whenever they like."""
    return concurrency_database


@pytest.fixture
def database(concurrency_database: str) -> Iterator[sa.Engine]:
    """An engine on the concurrency database, emptied for this test."""
    engine = sa.create_engine(concurrency_database, poolclass=sa.NullPool)
    reset_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def servers(
    database: sa.Engine, concurrency_database: str, tmp_path: Path
) -> Iterator[Callable[..., list[Server]]]:
    """``servers(count)`` starts that many servers on the emptied database; all are stopped
    (by PID) when the test ends, also when it fails."""
    started: list[Server] = []

    def start(count: int = 1, **options) -> list[Server]:
        directory = tmp_path / f"run{len(started)}"
        directory.mkdir()
        options.setdefault("contracts", CONTRACTS)
        new = start_servers(directory, concurrency_database, count, **options)
        started.extend(new)
        return new

    yield start
    for server in started:
        server.stop()
