"""Database faults against real servers: a commit that fails.

A failed request gets one answer in the JSON error shape and the server goes on serving,
with no restart and no manual step: the requests after it on the same thread too.
``backfeed check`` passes afterwards: nothing was half-applied. (The same faults on the WSGI
application: ``tests/api/test_faults.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from .clients import check_books
from .servers import admin_session

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

CONTRACT = "example"
TIMEOUT = (5.0, 30.0)
REFUSED_REPUTATION = 4242.0
"""A new user with this reputation fails at COMMIT (a deferred constraint trigger)."""


@pytest.fixture
def refused_at_commit(database: sa.Engine) -> Iterator[None]:
    """A deferred constraint on ``users`` that refuses, at COMMIT only, a user created with
    :data:`REFUSED_REPUTATION`."""
    with database.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
            )
        )
        connection.execute(
            sa.text(
                "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON users "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                f"WHEN (NEW.reputation = {REFUSED_REPUTATION}) "
                "EXECUTE FUNCTION refuse_at_commit()"
            )
        )
    yield
    with database.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER refuse_at_commit ON users"))
        connection.execute(sa.text("DROP FUNCTION refuse_at_commit()"))


def assert_json_error(response: requests.Response, status: int) -> None:
    """The answer is the JSON error document with ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    assert response.json()["status"] == "error"


def test_a_failed_commit_leaves_its_thread_serving(servers, database, refused_at_commit) -> None:
    """One thread serves every request: after each commit that fails, the next request is
    served as if nothing had happened."""
    (server,) = servers(1, contracts=CONTRACT, threads=1)
    users = f"{server.url}/{CONTRACT}/users"
    with admin_session() as session:
        for _ in range(5):
            refused = session.post(users, json={"reputation": REFUSED_REPUTATION}, timeout=TIMEOUT)
            assert_json_error(refused, 500)
            assert session.get(f"{server.url}/", timeout=TIMEOUT).status_code == 200
            created = session.post(users, json={}, timeout=TIMEOUT)
            assert created.status_code == 201, created.text
    with database.connect() as connection:
        reputations = connection.scalars(sa.text("SELECT reputation FROM users")).all()
    assert len(reputations) == 5
    assert REFUSED_REPUTATION not in reputations
    assert "AlreadyInTransaction" not in server.log_text()
    server.stop()
    check_books(server.ini)
