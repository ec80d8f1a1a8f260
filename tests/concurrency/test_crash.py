"""``kill -9`` of the server in the middle of a write load, again and again.

A few clients write (users, contributions, votes and re-votes), each request with an
``Idempotency-Key``; when the connection breaks they send the same request with the same key
again until it is answered, which is what a client should do. Meanwhile the server process
is killed with SIGKILL at least five times and started again on the same port. Afterwards
every request that was answered 2xx is in the database with the values it was answered with,
no request took effect twice, nothing is half-applied (``backfeed check`` passes).
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from backfeed_api.models import IdempotencyKey
from backfeed_api.pipeline.idempotency import digest

from .clients import (
    Books,
    assert_books_match,
    assert_ledger_chains,
    assert_one_active_vote,
    check_books,
)
from .servers import admin_session

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

CONTRACT = "example"
CLIENTS = 4
KILLS = 6
MAX_REQUESTS = 400
"""Logical requests per client at most (the kills usually end the load before that)."""
LOAD_BETWEEN_KILLS = (0.4, 1.2)
"""Seconds of load after a restart before the next kill."""
GIVE_UP = 60.0
MAX_ATTEMPTS = 1000
"""Seconds and attempts one request may take, across its retries, before the test fails."""
DEADLINE = 120.0
TIMEOUT = (2.0, 20.0)
MAX_VOTE_CHANGES = 5
"""The shipped limit on a vote's changes, which the clients keep to (a refusal is a 409,
which they would take for a request still running)."""


def test_kill_nine_under_load(servers, database) -> None:
    (server,) = servers(1, contracts=CONTRACT)
    books = Books()
    errors: list[str] = []
    keys: list[str] = []
    retried = {"connection": 0, "conflict": 0, "replayed": 0}
    in_flight = [0]
    hit: list[int] = []  # requests in flight at each kill
    counters_lock = threading.Lock()
    stop = threading.Event()
    contributions: dict[int, int] = {}  # id: contributor
    shared = threading.Lock()
    deadline = time.monotonic() + DEADLINE

    def send(session: requests.Session, kind: str, body: dict) -> requests.Response | None:
        """POST until answered (connection errors and 409s are retried with the same key)."""
        key = str(uuid.uuid4())
        with counters_lock:
            keys.append(key)
        give_up = time.monotonic() + GIVE_UP
        for _ in range(MAX_ATTEMPTS):
            if time.monotonic() > give_up or (stop.is_set() and not server.running):
                break  # (the server stays down only when the test has failed already)
            with counters_lock:
                in_flight[0] += 1
            try:
                response = session.post(
                    f"{server.url}/{CONTRACT}/{kind}",
                    json=body,
                    headers={"Idempotency-Key": key},
                    timeout=TIMEOUT,
                )
            except requests.RequestException:
                with counters_lock:
                    retried["connection"] += 1
                time.sleep(0.1)
                continue
            finally:
                with counters_lock:
                    in_flight[0] -= 1
            if response.status_code == 409:  # the first attempt is still running
                with counters_lock:
                    retried["conflict"] += 1
                time.sleep(0.05)
                continue
            if response.headers.get("Idempotent-Replayed") == "true":
                with counters_lock:
                    retried["replayed"] += 1
            return response
        errors.append(f"POST /{CONTRACT}/{kind} {body} key {key}: no answer in time")
        return None

    def client(number: int) -> None:
        rng = random.Random(number)
        mine: list[int] = []
        votes: dict[tuple[int, int], int] = {}
        changes: dict[tuple[int, int], int] = {}
        with admin_session() as session:
            for _ in range(MAX_REQUESTS):
                if stop.is_set() or errors or time.monotonic() > deadline:
                    return
                choice = rng.random()
                expected = 201
                if len(mine) < 3 or choice < 0.15:
                    kind, body = "users", {}
                elif len(contributions) < 3 or choice < 0.3:
                    kind, body = "contributions", {"contributor_id": rng.choice(mine)}
                else:  # on another's contribution, changing no vote beyond the limit
                    with shared:
                        contribution, author = rng.choice(sorted(contributions.items()))
                    evaluator = rng.choice([user for user in mine if user != author])
                    previous = votes.get((evaluator, contribution))
                    value = rng.choice((0, 1))
                    if changes.get((evaluator, contribution), 0) == MAX_VOTE_CHANGES:
                        value = previous
                    body = {
                        "evaluator_id": evaluator,
                        "contribution_id": contribution,
                        "value": value,
                    }
                    kind, expected = "evaluations", 200 if previous == value else 201
                response = send(session, kind, body)
                if response is None:
                    return
                if response.status_code != expected:
                    errors.append(
                        f"POST /{CONTRACT}/{kind} {body}: expected {expected}, got "
                        f"{response.status_code} {response.text}"
                    )
                    return
                created = response.json()
                books.record(CONTRACT, kind, response.status_code, created)
                if kind == "users":
                    mine.append(created["id"])
                elif kind == "contributions":
                    with shared:
                        contributions[created["id"]] = created["contributor"]["id"]
                else:
                    if previous is not None and previous != value:
                        changes[(evaluator, contribution)] = (
                            changes.get((evaluator, contribution), 0) + 1
                        )
                    votes[(evaluator, contribution)] = value

    threads = [
        threading.Thread(target=client, args=(n,), name=f"client{n}") for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    rng = random.Random(2026)
    kills = 0
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(*LOAD_BETWEEN_KILLS))
            if errors or time.monotonic() > deadline:
                break
            with counters_lock:
                hit.append(in_flight[0])
            server.kill()
            kills += 1
            assert server.process.returncode == -signal.SIGKILL
            server.start()
        time.sleep(LOAD_BETWEEN_KILLS[1])  # the clients finish their retries on the last run
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=GIVE_UP + 10)
    assert not any(thread.is_alive() for thread in threads), "clients still running"
    assert not errors, errors[:10]
    assert kills == KILLS, f"only {kills} kills before the deadline"
    assert server.starts == KILLS + 1
    print(
        f"\n{len(keys)} requests, {kills} kills (requests in flight: {hit}); "
        f"retries {retried}; answers {dict(books.statuses)}"
    )
    assert sum(1 for count in hit if count) >= KILLS // 2, f"kills mostly while idle: {hit}"
    assert set(books.statuses) <= {200, 201}, books.statuses

    # Every 2xx is stored with the values answered, and nothing else is stored.
    assert_books_match(database, books, [CONTRACT])
    assert_ledger_chains(database)
    assert_one_active_vote(database)
    # Each key was answered, and stored its answer, once.
    with database.connect() as connection:
        stored = connection.scalars(sa.select(IdempotencyKey.key)).all()
    assert sorted(stored) == sorted(map(digest, keys))

    server.stop()
    check_books(server.ini)
