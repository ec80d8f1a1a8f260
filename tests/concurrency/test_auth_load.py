"""Stored tokens and logins under concurrent load, on real servers.

SQLite lets a transaction write only if it has not read before another writer committed.
The token of each request is therefore looked up outside the request's transaction, and a
login or logout writes first: clients that each hold a stored token, write, log in (right
and wrong) and log out all at once must get their expected answers, never a 500.

Guesses racing each other for one username are counted one after another (an advisory lock
on PostgreSQL, the write lock on SQLite): no more than the limit reach the password check.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from backfeed_api.models import ApiToken, LoginFailure

from .clients import assert_clean_log
from .servers import Server, admin_session, backfeed, initdb, start_servers, write_ini

pytestmark = pytest.mark.slow

CLIENTS = 4
ROUNDS = 10
TIMEOUT = 60
PASSWORD = "correct horse battery"
GUESSES = 40
LIMIT = 5
"""The default of ``backfeed.login_max_failures``, which the servers keep."""


def create_token(ini: Path, *options: str) -> str:
    """``backfeed token create``: the token it printed."""
    done = backfeed("token", "create", ini, *options)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_stored_tokens_and_logins_under_load_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'development.sqlite'}"
    ini = write_ini(tmp_path / "initdb.ini", url, 1, "example")
    initdb(ini)
    (server,) = start_servers(tmp_path, url, 1, "example", threads=CLIENTS)
    base = f"{server.url}/example"
    users = []
    with admin_session() as session:
        for number in range(CLIENTS):
            body = {"tokens": 1000, "username": f"user{number}", "password": PASSWORD}
            response = session.post(f"{base}/users", json=body, timeout=TIMEOUT)
            assert response.status_code == 201, response.text
            users.append(response.json()["id"])
    tokens = [
        create_token(ini, "--contract", "example", "--role", "user", "--user", str(user))
        for user in users
    ]
    barrier = threading.Barrier(CLIENTS, timeout=TIMEOUT)
    answers: Counter = Counter()
    lock = threading.Lock()

    def client(number: int) -> None:
        mine = {"Authorization": f"Bearer {tokens[number]}"}
        login = {"username": f"user{number}", "password": PASSWORD}
        with requests.Session() as session:
            for _ in range(ROUNDS):
                barrier.wait()
                results = []
                contribution = {"contributor_id": users[number]}
                done = session.post(f"{base}/contributions", json=contribution, headers=mine)
                results.append(("contribute", done.status_code))
                wrong = {**login, "password": "wrong"}
                done = session.post(f"{base}/auth", json=wrong, timeout=TIMEOUT)
                results.append(("wrong login", done.status_code))
                done = session.post(f"{base}/auth", json=login, timeout=TIMEOUT)
                results.append(("login", done.status_code))
                if done.status_code == 201:
                    fresh = {"Authorization": f"Bearer {done.json()['token']}"}
                    done = session.delete(f"{base}/auth", headers=fresh, timeout=TIMEOUT)
                    results.append(("logout", done.status_code))
                with lock:
                    answers.update(results)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=4 * TIMEOUT)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        server.stop()
    total = CLIENTS * ROUNDS
    assert answers == {
        ("contribute", 201): total,
        ("wrong login", 401): total,
        ("login", 201): total,
        ("logout", 204): total,
    }, (answers, server.log_tail())
    assert_clean_log(server)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            revoked = connection.scalar(
                sa.select(sa.func.count()).where(ApiToken.revoked_at.is_not(None))
            )
            failures = connection.scalar(sa.select(sa.func.count()).select_from(LoginFailure))
    finally:
        engine.dispose()
    assert revoked == total
    assert failures == 0  # each right login cleared its username's failures


def guess_at_once(server: Server) -> Counter:
    """:data:`GUESSES` wrong passwords for ``ann`` sent at the same moment; their statuses."""
    with admin_session() as session:
        body = {"username": "ann", "password": PASSWORD}
        response = session.post(f"{server.url}/example/users", json=body, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
    barrier = threading.Barrier(GUESSES, timeout=TIMEOUT)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def guess() -> None:
        barrier.wait()
        wrong = {"username": "ann", "password": "a wrong guess"}
        done = requests.post(f"{server.url}/example/auth", json=wrong, timeout=TIMEOUT)
        with lock:
            statuses[done.status_code] += 1

    threads = [threading.Thread(target=guess) for _ in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=4 * TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return statuses


def stored_failures(url: str) -> int:
    """How many refused logins the database holds."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.select(sa.func.count()).select_from(LoginFailure))
    finally:
        engine.dispose()


def test_racing_guesses_meet_the_limit_on_postgresql(servers, concurrency_database: str) -> None:
    (server,) = servers(1, threads=16)
    statuses = guess_at_once(server)
    assert statuses == {401: LIMIT, 429: GUESSES - LIMIT}, (statuses, server.log_tail())
    assert stored_failures(concurrency_database) == LIMIT
    assert_clean_log(server)


def test_racing_guesses_meet_the_limit_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'development.sqlite'}"
    initdb(write_ini(tmp_path / "initdb.ini", url, 1, "example"))
    (server,) = start_servers(tmp_path, url, 1, "example", threads=16)
    try:
        statuses = guess_at_once(server)
    finally:
        server.stop()
    assert statuses == {401: LIMIT, 429: GUESSES - LIMIT}, (statuses, server.log_tail())
    assert stored_failures(url) == LIMIT
    assert_clean_log(server)
