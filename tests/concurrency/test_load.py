"""Real servers on one database under 16 concurrent writers: nothing lost, nothing counted
twice. Two servers of one worker process each, and one server of two worker processes
(gunicorn, as ``production.ini`` serves).

16 client threads each send 200 mixed writes, alternating between the two servers, on two
contracts: users (some referred), contributions, votes spread out and votes piled on a few
"hot" contributions, and re-votes (the same value: 200, another: 201 and the old vote is
superseded; the random votes include some on one's own contribution, refused with a 403, and
changes beyond the limit, refused with a 409). Afterwards the database must hold exactly what
the clients were answered, each
user's ledger must be an unbroken chain ending at the user's balances (no lost update), the
contract totals must count it all, and ``backfeed check`` must pass.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
import requests

from .clients import (
    CONTRACTS,
    Books,
    assert_books_match,
    assert_clean_log,
    assert_ledger_chains,
    assert_one_active_vote,
    check_books,
    refused_by_the_rules,
)
from .servers import admin_session

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

THREADS = 16
WRITES_PER_THREAD = 200
HOT_CONTRIBUTIONS = 3
SEED_USERS = 12
SEED_CONTRIBUTIONS = 6
DEADLINE = 150.0
"""Seconds the load may take at most before the test gives up (it takes far less)."""
TIMEOUT = (5.0, 60.0)


class Pool:
    """The ids a client may pick from: what some client was answered so far, per contract."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: dict[str, list[int]] = {}
        self.contributions: dict[str, list[int]] = {}

    def add(self, contract: str, kind: str, item_id: int) -> None:
        with self.lock:
            getattr(self, kind).setdefault(contract, []).append(item_id)

    def pick(self, rng: random.Random, contract: str, kind: str, first: int = 0) -> int:
        with self.lock:
            items = getattr(self, kind)[contract]
            return rng.choice(items[:first] if first else items)


@pytest.mark.parametrize(
    ("count", "workers"), [(2, 1), (1, 2)], ids=["two-servers", "one-server-two-workers"]
)
def test_sixteen_writers(servers, database, count: int, workers: int) -> None:
    cluster = servers(count, workers=workers)
    contracts = CONTRACTS.split()
    books = Books()
    pool = Pool()
    errors: list[str] = []

    def post(session, server, contract: str, kind: str, body: dict) -> dict | None:
        # Each write carries an Idempotency-Key and is sent once more when the connection
        # breaks before an answer, as a careful client does: a server closes a kept-alive
        # connection that idled past its keep-alive time (2 s in gunicorn), and a client
        # alternating between servers can send on one just as it closes.
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        url = f"{server.url}/{contract}/{kind}"
        try:
            try:
                response = session.post(url, json=body, headers=headers, timeout=TIMEOUT)
            except requests.ConnectionError:
                response = session.post(url, json=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as error:
            errors.append(f"POST /{contract}/{kind} {body} on {server.url}: {error!r}")
            return None
        if kind == "evaluations" and refused_by_the_rules(response):
            books.count(response.status_code)  # a vote on one's own, or one change too many
            return None
        if response.status_code not in (200, 201):
            books.count(response.status_code)
            errors.append(
                f"POST /{contract}/{kind} {body}: {response.status_code} {response.text}"
            )
            return None
        created = response.json()
        books.record(contract, kind, response.status_code, created)
        if response.status_code == 201 and kind != "evaluations":
            pool.add(contract, kind, created["id"])
        return created

    # The seed: some users and the hot contributions, through both servers.
    with admin_session() as session:
        for contract in contracts:
            for number in range(SEED_USERS):
                post(session, cluster[number % count], contract, "users", {})
            for number in range(SEED_CONTRIBUTIONS):
                contributor = pool.users[contract][number]
                post(
                    session,
                    cluster[number % count],
                    contract,
                    "contributions",
                    {"contributor_id": contributor},
                )
    assert not errors, errors

    deadline = time.monotonic() + DEADLINE
    done = [0] * THREADS

    def client(number: int) -> None:
        rng = random.Random(number)
        own_votes: dict[tuple[str, int, int], int] = {}
        with admin_session() as session:
            for step in range(WRITES_PER_THREAD):
                if time.monotonic() > deadline or len(errors) > 20:
                    return
                server = cluster[(number + step) % count]
                contract = rng.choice(contracts)
                choice = rng.random()
                if choice < 0.10:
                    body: dict = {}
                    if rng.random() < 0.3:
                        body["referrer_id"] = pool.pick(rng, contract, "users")
                    post(session, server, contract, "users", body)
                elif choice < 0.20:
                    body = {"contributor_id": pool.pick(rng, contract, "users")}
                    if rng.random() < 0.3:
                        body["type"] = "comment"
                    post(session, server, contract, "contributions", body)
                elif choice < 0.85 or not own_votes:
                    hot = HOT_CONTRIBUTIONS if choice < 0.55 else 0
                    evaluator = pool.pick(rng, contract, "users")
                    contribution = pool.pick(rng, contract, "contributions", hot)
                    value = rng.choice((0, 1))
                    body = {
                        "evaluator_id": evaluator,
                        "contribution_id": contribution,
                        "value": value,
                    }
                    if post(session, server, contract, "evaluations", body) is not None:
                        own_votes[(contract, evaluator, contribution)] = value
                else:  # a re-vote: the same value (200) or the other one (201)
                    key = rng.choice(sorted(own_votes))
                    contract, evaluator, contribution = key
                    value = own_votes[key] if rng.random() < 0.5 else 1 - own_votes[key]
                    body = {
                        "evaluator_id": evaluator,
                        "contribution_id": contribution,
                        "value": value,
                    }
                    if post(session, server, contract, "evaluations", body) is not None:
                        own_votes[key] = value
                done[number] += 1

    started = time.monotonic()
    threads = [
        threading.Thread(target=client, args=(n,), name=f"client{n}") for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline + 10 - time.monotonic()))
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "clients still running"
    assert not errors, errors[:10]
    assert sum(done) == THREADS * WRITES_PER_THREAD, f"only {sum(done)} writes in {elapsed:.0f} s"
    assert set(books.statuses) <= {200, 201, 403, 409}, books.statuses
    print(
        f"\n{sum(done)} writes in {elapsed:.1f} s ({sum(done) / elapsed:.0f}/s): "
        f"{dict(books.statuses)}"
    )

    # Nothing lost, nothing counted twice: the rows are exactly what the clients were told.
    assert_books_match(database, books, contracts)
    assert_ledger_chains(database)
    assert_one_active_vote(database)

    # The contract totals count it all, as both servers see it.
    for contract in contracts:
        voted = {
            (evaluator, contribution)
            for evaluator, contribution, _ in books.evaluations.get(contract, {}).values()
        }
        expected = {
            "users": len(books.users[contract]),
            "contributions": len(books.contributions[contract]),
            "evaluations": len(voted),
        }
        for server in cluster:
            totals = requests.get(f"{server.url}/{contract}", timeout=TIMEOUT).json()["totals"]
            assert {key: totals[key] for key in expected} == expected, (contract, totals)

    for server in cluster:
        server.stop()
        assert_clean_log(server)
    check_books(cluster[0].ini)
