"""The PostgreSQL databases of the test session: one per pytest-xdist worker, named after the
configured one, created when missing."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests.conftest import CONFIGURED_URL, create_database, worker_database_url


def test_a_worker_database_is_the_configured_one_suffixed_with_the_worker() -> None:
    url = "postgresql+psycopg://backfeed:secret@db.internal:5433/test_ci"
    assert worker_database_url(url, "gw3") == (
        "postgresql+psycopg://backfeed:secret@db.internal:5433/test_ci_gw3"
    )
    assert worker_database_url(url, None) == url
    assert worker_database_url(url, "") == url


@pytest.mark.postgresql
def test_this_worker_tests_on_a_database_of_its_own(postgresql_url: str) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    configured = sa.make_url(CONFIGURED_URL).database
    expected = f"{configured}_{worker}" if worker else configured
    assert sa.make_url(postgresql_url).database == expected


@pytest.mark.postgresql
def test_a_missing_database_is_created_and_an_existing_one_kept(postgresql_url: str) -> None:
    name = f"test_created_{os.getpid()}"
    url = sa.make_url(postgresql_url).set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(postgresql_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    query = sa.text("SELECT count(*) FROM pg_database WHERE datname = :name")
    try:
        create_database(url)
        create_database(url)  # there already: nothing to do
        with admin.connect() as connection:
            assert connection.scalar(query, {"name": name}) == 1
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
