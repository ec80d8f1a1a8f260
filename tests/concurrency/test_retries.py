"""``Idempotency-Key``: a retried POST takes effect at most once.

On a real server: 200 keys, each sent five times at the same moment (one of the five with a
changed body for a tenth of the keys). Exactly one send per key is applied (201); the others
get the stored answer replayed (201 with ``Idempotent-Replayed: true``) or, while the first
still runs, 409; a changed body gets 422 once the first is stored (409 while it runs).

On the WSGI application (SQLite and PostgreSQL, no server): replay, 422, a failed request
does not claim its key, malformed keys are 400, keys expire after 24 hours and are pruned.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.auth.credentials import token_digest
from backfeed_api.models import ApiToken, Contribution, Evaluation, IdempotencyKey, User
from backfeed_api.pipeline.idempotency import PRUNE_EVERY, digest
from tests.conftest import ADMIN_TOKEN, bearer, count, issue_token

from .clients import assert_clean_log, check_books
from .servers import admin_session, initdb, start_servers, write_ini

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"

KEYS = 200
SENDS = 5
KEYS_PER_ROUND = 4
CHANGED_EVERY = 10
"""One key in ten has one send with another body."""
MAX_DELAY = 0.2
CONTRIBUTORS = 10
EVALUATORS = 20
TIMEOUT = (5.0, 60.0)


@dataclass(frozen=True)
class Send:
    """One of the five sends of a key, its delay after the round starts, and its answer."""

    body: dict
    changed: bool
    delay: float = 0.0
    status: int = 0
    replayed: bool = False
    answer: bytes = b""


@pytest.mark.postgresql
@pytest.mark.slow
def test_five_concurrent_sends_per_key(servers, database) -> None:
    (server,) = servers(1, contracts="example")
    base = f"{server.url}/example"
    with admin_session() as session:

        def create(kind: str, body: dict) -> int:
            response = session.post(f"{base}/{kind}", json=body, timeout=TIMEOUT)
            assert response.status_code == 201, response.text
            return response.json()["id"]

        contributors = [create("users", {}) for _ in range(CONTRIBUTORS)]
        evaluators = [create("users", {}) for _ in range(EVALUATORS)]
        contributions = [create("contributions", {"contributor_id": c}) for c in contributors]

    # One key per (evaluator, contribution): each key's vote is a new one, a 201.
    rng = random.Random(7)
    pairs = [(e, c) for e in evaluators for c in contributions]
    assert len(pairs) == KEYS
    plan: list[tuple[str, list[Send]]] = []
    for number, (evaluator, contribution) in enumerate(pairs):
        value = rng.choice((0, 1))
        body = {"evaluator_id": evaluator, "contribution_id": contribution, "value": value}
        # Two sends leave at once, the others up to 0.2 s later: some arrive while the
        # first runs (409), some once it is stored (replayed, or 422 for a changed body).
        delays = [0.0, 0.0, *(rng.uniform(0.0, MAX_DELAY) for _ in range(SENDS - 2))]
        rng.shuffle(delays)
        sends = [Send(body, False, delay) for delay in delays]
        if number % CHANGED_EVERY == 0:
            slot = rng.randrange(SENDS)
            sends[slot] = Send({**body, "value": 1 - value}, True, delays[slot])
        plan.append((str(uuid.uuid4()), sends))

    # Rounds of 4 keys x 5 sends, all 20 released together by a barrier.
    workers = KEYS_PER_ROUND * SENDS
    barrier = threading.Barrier(workers, timeout=60)
    answers: dict[tuple[int, int], Send] = {}
    failures: list[str] = []

    def worker(slot: int) -> None:
        key_slot, send_slot = divmod(slot, SENDS)
        with admin_session() as session:
            for first in range(0, KEYS, KEYS_PER_ROUND):
                number = first + key_slot
                key, sends = plan[number]
                send = sends[send_slot]
                try:
                    barrier.wait()
                    time.sleep(send.delay)
                    response = session.post(
                        f"{base}/evaluations",
                        json=send.body,
                        headers={HEADER: key},
                        timeout=TIMEOUT,
                    )
                except (requests.RequestException, threading.BrokenBarrierError) as error:
                    failures.append(f"key {number}, send {send_slot}: {error!r}")
                    barrier.abort()
                    return
                answers[(number, send_slot)] = Send(
                    send.body,
                    send.changed,
                    send.delay,
                    response.status_code,
                    response.headers.get(REPLAYED) == "true",
                    response.content,
                )

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures[:5]
    elapsed = time.monotonic() - started

    outcomes: Counter = Counter()
    with database.connect() as connection:
        votes = Counter(
            (row.evaluator_id, row.contribution_id, row.value)
            for row in connection.execute(
                sa.select(Evaluation.evaluator_id, Evaluation.contribution_id, Evaluation.value)
            )
        )
        claims = Counter(connection.scalars(sa.select(IdempotencyKey.key)))
    for number, (key, _) in enumerate(plan):
        sends = [answers[(number, slot)] for slot in range(SENDS)]
        winners = [s for s in sends if s.status == 201 and not s.replayed]
        assert len(winners) == 1, (number, sends)
        (winner,) = winners
        for send in sends:
            if send is winner:
                situation = "first"
            elif send.body == winner.body:
                situation = "same body"
                assert (send.status, send.replayed) in {(201, True), (409, False)}, send
                if send.status == 201:
                    assert send.answer == winner.answer, (send, winner)
            else:
                situation = "changed body"
                assert (send.status, send.replayed) in {(422, False), (409, False)}, send
            outcomes[(situation, send.status, send.replayed)] += 1
        # Exactly one effect: the winner's vote, and one stored claim.
        evaluator, contribution = winner.body["evaluator_id"], winner.body["contribution_id"]
        assert votes[(evaluator, contribution, winner.body["value"])] == 1, (number, votes)
        assert votes[(evaluator, contribution, 1 - winner.body["value"])] == 0, (number, votes)
        assert claims[digest(key)] == 1
    assert sum(votes.values()) == KEYS
    assert len(claims) == KEYS
    print(f"\n{KEYS * SENDS} sends in {elapsed:.1f} s: {dict(sorted(outcomes.items()))}")
    # Both kinds of retry happened: while the first ran, and after it was stored.
    assert outcomes[("same body", 409, False)] > 0, outcomes
    assert outcomes[("same body", 201, True)] > 0, outcomes
    server.stop()
    assert_clean_log(server)
    check_books(server.ini)


# The WSGI application, on SQLite and PostgreSQL (the ``app`` fixture of tests/conftest.py).


def post(
    app: TestApp,
    path: str,
    body: dict,
    key: str | None,
    status: int,
    headers: dict[str, str] | None = None,
    **extra,
):
    headers = {**(headers or {}), **({HEADER: key} if key is not None else {})}
    return app.post_json(path, body, headers=headers, status=status, **extra)


def assert_key_error(response, status: int) -> None:
    """The JSON error document, blaming the ``Idempotency-Key`` header."""
    assert response.status_int == status, response.text
    assert response.json["status"] == "error"
    assert {"location": "header", "name": HEADER} in [
        {"location": e["location"], "name": e["name"]} for e in response.json["errors"]
    ]


@pytest.fixture
def voters(app: TestApp) -> tuple[int, int]:
    """An evaluator and a contribution of ``example`` to vote on."""
    contributor = post(app, "/example/users", {}, None, 201).json["id"]
    evaluator = post(app, "/example/users", {}, None, 201).json["id"]
    contribution = post(
        app, "/example/contributions", {"contributor_id": contributor}, None, 201
    ).json["id"]
    return evaluator, contribution


def test_same_key_same_body_is_replayed(app: TestApp, db: sa.Engine) -> None:
    first = post(app, "/example/users", {"tokens": 7}, "user-1", 201)
    assert REPLAYED not in first.headers
    again = post(app, "/example/users", {"tokens": 7}, "user-1", 201)
    assert again.headers[REPLAYED] == "true"
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    assert count(db, User) == 1
    assert app.get("/example").json["totals"]["users"] == 1


def test_json_bodies_compare_by_content(app: TestApp, db: sa.Engine, voters) -> None:
    evaluator, contribution = voters
    spaced = f'{{ "value": 1, "contribution_id": {contribution}, "evaluator_id": {evaluator} }}'
    compact = f'{{"evaluator_id":{evaluator},"contribution_id":{contribution},"value":1}}'
    for body, status in ((spaced, 201), (compact, 201)):
        app.post(
            "/example/evaluations",
            body,
            headers={HEADER: "vote", "Content-Type": "application/json"},
            status=status,
        )
    assert count(db, Evaluation) == 1


def test_same_key_other_body_is_422(app: TestApp, db: sa.Engine, voters) -> None:
    evaluator, contribution = voters
    vote = {"evaluator_id": evaluator, "contribution_id": contribution, "value": 1}
    post(app, "/example/evaluations", vote, "vote-1", 201)
    refused = post(app, "/example/evaluations", {**vote, "value": 0}, "vote-1", 422)
    assert_key_error(refused, 422)
    assert count(db, Evaluation) == 1
    # The original is still replayed afterwards.
    again = post(app, "/example/evaluations", vote, "vote-1", 201)
    assert again.headers[REPLAYED] == "true"


def test_failed_request_does_not_claim_the_key(app: TestApp, db: sa.Engine, voters) -> None:
    evaluator, contribution = voters
    vote = {"evaluator_id": evaluator, "contribution_id": contribution, "value": 0.5}
    post(app, "/example/evaluations", vote, "vote-2", 400)
    post(app, "/example/evaluations", {**vote, "value": 1, "evaluator_id": 999}, "vote-2", 400)
    assert count(db, IdempotencyKey) == 0
    corrected = post(app, "/example/evaluations", {**vote, "value": 1}, "vote-2", 201)
    assert REPLAYED not in corrected.headers
    assert count(db, Evaluation) == 1
    assert count(db, IdempotencyKey) == 1


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "", "with space", "tab\there", "bell\x07", "delete\x7f", "caf\xe9"],
    ids=["256-chars", "empty", "space", "tab", "control", "delete", "latin-1"],
)
def test_malformed_keys_are_400(app: TestApp, db: sa.Engine, key: str) -> None:
    assert_key_error(post(app, "/example/users", {}, key, 400), 400)
    assert count(db, User) == 0
    assert count(db, IdempotencyKey) == 0


def test_longest_key_is_accepted(app: TestApp) -> None:
    key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3  # every visible character
    key = key[:255]
    post(app, "/example/users", {}, key, 201)
    assert post(app, "/example/users", {}, key, 201).headers[REPLAYED] == "true"


def test_keys_belong_to_a_credential_and_a_route(app: TestApp, db: sa.Engine) -> None:
    """The same key from another token, or on another route, is another key."""
    here = bearer(issue_token(db, "example", "admin"))
    there = bearer(issue_token(db, "example", "admin"))
    user_id = post(app, "/example/users", {}, "mine", 201, headers=here).json["id"]
    other = post(app, "/example/users", {}, "mine", 201, headers=there)
    assert REPLAYED not in other.headers
    body = {"contributor_id": user_id}  # the same token and key on another route
    elsewhere = post(app, "/example/contributions", body, "mine", 201, headers=here)
    assert REPLAYED not in elsewhere.headers
    assert count(db, User) == 2
    again = post(app, "/example/users", {}, "mine", 201, headers=here)
    assert again.headers[REPLAYED] == "true"


ANONYMOUS = {"Authorization": ""}
LONG_PATH = "/" + "p" * 300


@pytest.mark.parametrize("headers", [ANONYMOUS, {}], ids=["anonymous", "admin"])
@pytest.mark.parametrize(
    "path", [LONG_PATH, "/nope/users", "/example/users/1"], ids=["long", "contract", "method"]
)
def test_a_route_that_does_not_take_the_post_claims_nothing(
    app: TestApp, db: sa.Engine, path: str, headers: dict[str, str]
) -> None:
    """The key changes nothing: the same JSON error as without it, and no claim."""
    without = app.post_json(path, {}, headers=headers, expect_errors=True)
    assert without.status_int in (404, 405), without.text
    keyed = post(app, path, {}, "k", without.status_int, headers=headers)
    assert keyed.json == without.json
    assert count(db, IdempotencyKey) == 0


def test_claims_store_nothing_as_the_client_sent_it(app: TestApp, db: sa.Engine) -> None:
    """A Host of 2,100 characters and the longest key: the claim holds digests and the
    Location relative to the service, and the replay builds it again in full."""
    host = "h" * 2100
    key = "k" * 255
    first = post(app, "/example/users", {}, key, 201, headers={"Host": host})
    assert first.headers["Location"].startswith(f"http://{host}/example/users/")
    again = post(app, "/example/users", {}, key, 201, headers={"Host": host})
    assert again.headers[REPLAYED] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    with db.connect() as connection:
        claim = connection.execute(sa.select(IdempotencyKey)).one()
    assert (len(claim.scope), len(claim.route), len(claim.key)) == (64, 64, 64)
    assert claim.location == f"/example/users/{first.json['id']}"


@pytest.mark.parametrize("kind", ["stored", "development"])
def test_a_key_belongs_to_the_token_however_the_header_spells_it(
    app: TestApp, db: sa.Engine, kind: str
) -> None:
    """One token, one key: one contribution and one fee, whatever the header's spelling."""
    token = issue_token(db, "example", "admin") if kind == "stored" else ADMIN_TOKEN
    ann, bob = (post(app, "/example/users", {}, None, 201).json["id"] for _ in range(2))
    spellings = [f"Bearer {token}", f"bearer {token}", f"Bearer  {token}", f"BEARER {token} "]
    replayed = [
        REPLAYED
        in post(
            app,
            "/example/contributions",
            {"contributor_id": ann},
            "one",
            201,
            headers={"Authorization": spelling},
        ).headers
        for spelling in spellings
    ]
    assert replayed == [False, True, True, True]
    assert count(db, Contribution) == 1
    post(app, "/example/contributions", {"contributor_id": bob}, None, 201)
    balances = [app.get(f"/example/users/{user}").json["tokens"] for user in (ann, bob)]
    assert balances[0] == balances[1]  # one fee each


def test_a_revoked_token_gets_no_replay(app: TestApp, db: sa.Engine) -> None:
    token = issue_token(db, "example", "admin")
    post(app, "/example/users", {}, "once", 201, headers=bearer(token))
    with db.begin() as connection:
        connection.execute(
            sa.update(ApiToken)
            .where(ApiToken.token_hash == token_digest(token))
            .values(revoked_at=sa.func.current_timestamp())
        )
    refused = post(app, "/example/users", {}, "once", 401, headers=bearer(token))
    assert REPLAYED not in refused.headers
    assert count(db, User) == 1


def test_a_login_is_never_kept_for_replay(app: TestApp, db: sa.Engine) -> None:
    """The token of a login is shown once: a retry logs in again, and no key stores it."""
    post(app, "/example/users", {"username": "ann", "password": "correct horse"}, None, 201)
    login = {"username": "ann", "password": "correct horse"}
    first = post(app, "/example/auth", login, "login", 201)
    second = post(app, "/example/auth", login, "login", 201)
    assert REPLAYED not in second.headers
    assert first.json["token"] != second.json["token"]
    assert count(db, IdempotencyKey) == 0


def test_keys_expire_after_24_hours(app: TestApp, db: sa.Engine, clock, voters) -> None:
    evaluator, contribution = voters
    vote = {"evaluator_id": evaluator, "contribution_id": contribution, "value": 1}
    post(app, "/example/evaluations", vote, "daily", 201)
    clock.advance(hours=23)
    assert post(app, "/example/evaluations", vote, "daily", 201).headers[REPLAYED] == "true"
    post(app, "/example/evaluations", {**vote, "value": 0}, "daily", 422)
    clock.advance(hours=2)  # 25 hours after the first: the key is free again
    revote = post(app, "/example/evaluations", {**vote, "value": 0}, "daily", 201)
    assert REPLAYED not in revote.headers
    assert count(db, Evaluation) == 2
    assert count(db, IdempotencyKey) == 1


def test_old_keys_are_pruned(app: TestApp, db: sa.Engine, clock) -> None:
    post(app, "/example/users", {}, "old", 201)
    clock.advance(hours=25)
    for number in range(PRUNE_EVERY - 2):
        post(app, "/example/users", {}, f"new-{number}", 201)
    with db.connect() as connection:
        assert digest("old") in connection.scalars(sa.select(IdempotencyKey.key)).all()
    post(app, "/example/users", {}, "the-hundredth", 201)  # every 100th claim prunes
    with db.connect() as connection:
        kept = connection.scalars(sa.select(IdempotencyKey.key)).all()
    assert digest("old") not in kept
    assert len(kept) == PRUNE_EVERY - 1


# The development setting: SQLite behind waitress (development.ini), no PostgreSQL needed.

SQLITE_CLIENTS = 4
SQLITE_ROUNDS = 15


def test_concurrent_keys_on_sqlite(tmp_path: Path) -> None:
    """SQLite runs one writer at a time: keyed POSTs sent together all succeed, and a key
    sent by every client at once is applied once, the others waiting and getting the replay
    (no 409 on SQLite, and never a 500)."""
    url = f"sqlite:///{tmp_path / 'development.sqlite'}"
    initdb(write_ini(tmp_path / "initdb.ini", url, 1, "example"))
    (server,) = start_servers(tmp_path, url, 1, "example", threads=SQLITE_CLIENTS)
    barrier = threading.Barrier(SQLITE_CLIENTS, timeout=60)
    answers: list[tuple[str, int, bool]] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        with admin_session() as session:
            for round_ in range(SQLITE_ROUNDS):
                for key in (f"shared-{round_}", f"own-{number}-{round_}"):
                    barrier.wait()
                    response = session.post(
                        f"{server.url}/example/users", json={}, headers={HEADER: key}, timeout=60
                    )
                    replayed = response.headers.get(REPLAYED) == "true"
                    with lock:
                        answers.append((key, response.status_code, replayed))

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(SQLITE_CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        server.stop()
    statuses = Counter(status for _, status, _ in answers)
    assert statuses == {201: 2 * SQLITE_CLIENTS * SQLITE_ROUNDS}, (statuses, server.log_tail())
    applied = Counter(key for key, _, replayed in answers if not replayed)
    assert set(applied.values()) == {1}
    assert len(applied) == SQLITE_ROUNDS * (1 + SQLITE_CLIENTS)
    engine = sa.create_engine(url)
    try:
        assert count(engine, User) == len(applied)
    finally:
        engine.dispose()
    assert_clean_log(server)
