"""Database faults against real servers: a commit that fails, and PostgreSQL terminating every
connection of the service again and again under load.

A failed request gets one answer in the JSON error shape (a 500, or a 503 with
``Retry-After`` when the database dropped or refused the connection) and the server goes on
serving, with no restart and no manual step: the requests after it on the same thread, and
every request once the database is back. ``backfeed check`` passes afterwards: nothing was
half-applied. (The same faults on the WSGI application: ``tests/api/test_faults.py``.)
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
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


CLIENTS = 16
TERMINATIONS = 15
BETWEEN_TERMINATIONS = (0.2, 0.6)
"""Seconds of load between two terminations."""
MAX_REQUESTS = 2000
"""Requests per client at most during the faults (the terminations end the load first)."""
DEADLINE = 90.0
AFTERWARDS = 200


def terminate_service_connections(database: sa.Engine) -> int:
    """Terminate every other connection to the service's database; how many there were."""
    with database.connect() as connection:
        return connection.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


def test_every_connection_terminated_under_load(servers, database) -> None:
    (server,) = servers(1, contracts=CONTRACT)
    statuses: Counter = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + DEADLINE

    def record(method: str, path: str, response: requests.Response) -> None:
        with lock:
            statuses[response.status_code] += 1
        if response.status_code in (200, 201):
            return
        if response.status_code != 503 or "Retry-After" not in response.headers:
            problems.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        elif not response.headers["Content-Type"].startswith("application/json"):
            problems.append(f"{method} {path}: a 503 in {response.headers['Content-Type']}")

    def client(number: int) -> None:
        rng = random.Random(number)
        mine: list[int] = []
        with admin_session() as session:
            for _ in range(MAX_REQUESTS):
                if stop.is_set() or time.monotonic() > deadline or problems:
                    return
                if len(mine) < 2 or rng.random() < 0.3:
                    method, path, body = "POST", "users", {}
                elif rng.random() < 0.5:
                    method, path = "POST", "contributions"
                    body = {"contributor_id": rng.choice(mine)}
                else:
                    method, path, body = "GET", "users", None
                try:
                    response = session.request(
                        method, f"{server.url}/{CONTRACT}/{path}", json=body, timeout=TIMEOUT
                    )
                except requests.RequestException as error:
                    problems.append(f"{method} {path}: {error!r}")
                    return
                record(method, path, response)
                if method == "POST" and path == "users" and response.status_code == 201:
                    mine.append(response.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    rng = random.Random(15)
    terminated = []
    try:
        for _ in range(TERMINATIONS):
            time.sleep(rng.uniform(*BETWEEN_TERMINATIONS))
            if problems or time.monotonic() > deadline:
                break
            terminated.append(terminate_service_connections(database))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "clients still running"
    assert not problems, problems[:10]
    assert len(terminated) == TERMINATIONS, "the load ended before the terminations"
    assert all(terminated), f"terminations that found no connection: {terminated}"
    print(f"\nterminated {terminated} connections; answers under the faults {dict(statuses)}")

    # The database is back: every request succeeds, with no restart and no manual step.
    failed = []
    with admin_session() as session:
        for number in range(AFTERWARDS):
            if number % 2:
                response = session.get(f"{server.url}/{CONTRACT}/users", timeout=TIMEOUT)
            else:
                response = session.post(f"{server.url}/{CONTRACT}/users", json={}, timeout=TIMEOUT)
            if response.status_code not in (200, 201):
                failed.append((number, response.status_code, response.text[:200]))
    assert not failed, failed[:10]
    log = server.log_text()
    assert "AlreadyInTransaction" not in log, server.log_tail()
    assert "Exception while serving" not in log, server.log_tail()  # waitress's own 500s
    assert server.running
    server.stop()
    check_books(server.ini)
