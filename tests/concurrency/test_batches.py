"""Concurrent batches on one contract, on a real server and PostgreSQL: each batch applied
whole or not at all, none interleaved with another.

8 client threads, each voting as users of its own, send 10 batches of 20 votes each on a
shared set of contributions; every
third batch ends with a vote on a contribution that does not exist, so it must be refused
whole. Afterwards the database holds exactly the votes of the accepted batches, no
evaluation of a refused one, the votes of each accepted batch hold consecutive positions in
the contract's commit order (no other write came in between), every ledger is an unbroken
chain, and ``backfeed check`` passes.
"""

from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa

from backfeed_api.models import Evaluation

from .clients import assert_clean_log, assert_ledger_chains, assert_one_active_vote, check_books
from .servers import admin_session

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

THREADS = 8
BATCHES_PER_THREAD = 10
BATCH_SIZE = 20
TIMEOUT = (5.0, 60.0)


def test_concurrent_batches_are_all_or_nothing(servers, database) -> None:
    [server] = servers(1)
    session = admin_session()

    def post(path: str, body: dict) -> dict:
        response = session.post(f"{server.url}/example/{path}", json=body, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
        return response.json()

    authors = [post("users", {"tokens": 1000})["id"] for _ in range(4)]
    voters = [post("users", {"reputation": 10})["id"] for _ in range(THREADS * 3)]
    made = [post("contributions", {"contributor_id": a})["id"] for a in authors for _ in "ab"]
    accepted: list[list[int]] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(number)
        own = admin_session()
        mine = voters[number * 3 : number * 3 + 3]  # so that a repeat is of this client's
        seen: set[int] = set()
        for batch in range(BATCHES_PER_THREAD):
            items = [
                {
                    "evaluator_id": rng.choice(mine),
                    "contribution_id": rng.choice(made),
                    "value": rng.choice([0, 1]),
                }
                for _ in range(BATCH_SIZE)
            ]
            doomed = batch % 3 == 2
            if doomed:
                items[-1]["contribution_id"] = 10**9
            response = own.post(
                f"{server.url}/example/evaluations/batch",
                json={"evaluations": items},
                timeout=TIMEOUT,
            )
            body = response.json()
            if doomed:
                expected = [BATCH_SIZE - 1]
                if response.status_code != 400 or expected[0] not in [
                    f["index"] for f in body["failed"]
                ]:
                    problems.append(f"doomed batch answered {response.status_code}: {body}")
                continue
            if response.status_code == 400 and all(
                e["name"] in ("evaluator_id", "value") for f in body["failed"] for e in f["errors"]
            ):
                continue  # a self-vote or a change beyond the limit, refused whole as well
            if response.status_code not in (200, 201):
                problems.append(f"batch answered {response.status_code}: {body}")
                continue
            ids = [e["id"] for e in body["evaluations"]]
            with lock:
                accepted.append([i for i in dict.fromkeys(ids) if i not in seen])
            seen.update(ids)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert not problems, problems[:5]
    assert accepted, "no batch was accepted"

    with database.connect() as connection:
        stored = dict(connection.execute(sa.select(Evaluation.id, Evaluation.seq)).all())
    answered = {evaluation_id for ids in accepted for evaluation_id in ids}
    assert set(stored) == answered  # nothing of a refused batch, nothing lost
    for ids in filter(None, accepted):  # the votes each batch recorded, one after the other
        positions = sorted(stored[i] for i in ids)
        assert positions == list(range(positions[0], positions[0] + len(positions))), ids
    assert_ledger_chains(database)
    assert_one_active_vote(database)
    check_books(server.ini)
    assert_clean_log(server)
