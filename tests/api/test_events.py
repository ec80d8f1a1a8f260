"""The outbox and the feed: one event per committed action, in commit order, with the answer
and the balances it moved; none for a refused action or a repeated vote; long-polls."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import Event

from ..conftest import count
from .conftest import Api, assert_error


def events(api: Api, **params) -> list[dict]:
    """The items of ``GET /example/events``."""
    return api.items("/example/events", **params)


def test_each_action_writes_one_event_with_its_answer_and_changes(api: Api) -> None:
    ann = api.user(reputation=10, tokens=10)
    bob = api.user(reputation=100, tokens=99)
    work = api.contribution(ann["id"])
    vote = api.vote(bob["id"], work["id"], 1)
    feed = events(api)
    assert [e["type"] for e in feed] == [
        "user.created",
        "user.created",
        "contribution.created",
        "evaluation.created",
    ]
    ids = [e["id"] for e in feed]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    for item, answer in zip(feed, (ann, bob, work, vote), strict=True):
        data = dict(item["data"])
        changes = data.pop("changes")
        assert data == answer
        assert item["created_at"] == answer["created_at"]
        assert changes == sorted(changes, key=lambda change: change["user_id"])
    assert feed[0]["data"]["changes"] == [
        {
            "user_id": ann["id"],
            "reputation_delta": 10.0,
            "tokens_delta": 10.0,
            "reputation": 10.0,
            "tokens": 10.0,
        }
    ]
    fee = feed[2]["data"]["changes"]
    assert [(c["user_id"], c["tokens_delta"], c["tokens"]) for c in fee] == [
        (ann["id"], -1.0, work["contributor"]["tokens"])
    ]
    moved = {c["user_id"]: c for c in feed[3]["data"]["changes"]}
    assert moved[bob["id"]]["reputation"] == pytest.approx(vote["evaluator"]["reputation"])
    assert moved[ann["id"]]["tokens"] == pytest.approx(
        vote["contribution"]["contributor"]["tokens"]
    )


def test_the_changes_of_a_vote_match_the_ledger(api: Api) -> None:
    voters = [api.user(reputation=10 + n, tokens=50)["id"] for n in range(4)]
    work = api.contribution(voters[0])
    for voter in voters[1:]:
        api.vote(voter, work["id"], 1)
    last = events(api, types="evaluation.created")[-1]
    for change in last["data"]["changes"]:
        history = api.items(f"/example/users/{change['user_id']}/history")
        newest = history[0]
        assert newest["cause"] == {"type": "evaluation", "id": last["data"]["id"]}
        assert newest["reputation_delta"] == pytest.approx(change["reputation_delta"])
        assert newest["tokens_delta"] == pytest.approx(change["tokens_delta"])
        assert newest["reputation"] == pytest.approx(change["reputation"])
        assert newest["tokens"] == pytest.approx(change["tokens"])
    assert len(last["data"]["changes"]) >= 2


def test_refused_actions_and_repeated_votes_write_no_event(api: Api, db: sa.Engine) -> None:
    ann = api.user(reputation=10, tokens=0)
    bob = api.user(reputation=10, tokens=10)
    work = api.contribution(bob["id"])
    api.vote(ann["id"], work["id"], 1)
    before = count(db, Event)
    api.vote(ann["id"], work["id"], 1, status=200)  # the same vote again
    api.contribution(ann["id"], status=400)  # no tokens for the fee
    api.vote(999, work["id"], 1, status=400)
    api.user(referrer_id=999, status=400)
    api.vote(ann["id"], work["id"], 7, status=400)
    assert count(db, Event) == before


def test_a_dry_run_writes_no_event(api: Api, db: sa.Engine) -> None:
    ann = api.user(reputation=10, tokens=10)
    bob = api.user(reputation=10, tokens=10)
    work = api.contribution(bob["id"])
    before = count(db, Event)
    for path, body in (
        ("/example/users", {"reputation": 5, "tokens": 5}),
        ("/example/contributions", {"contributor_id": ann["id"]}),
        (
            "/example/evaluations",
            {"evaluator_id": ann["id"], "contribution_id": work["id"], "value": 1},
        ),
    ):
        assert api.app.post_json(f"{path}?dry_run=true", body, status=200).json["dry_run"]
    assert count(db, Event) == before


def test_a_batch_writes_one_event_per_recorded_vote(api: Api, db: sa.Engine) -> None:
    ann = api.user(reputation=10, tokens=10)
    bob = api.user(reputation=20, tokens=10)
    work = api.contribution(ann["id"])
    api.vote(bob["id"], work["id"], 1)
    before = count(db, Event)
    items = [
        {"evaluator_id": bob["id"], "contribution_id": work["id"], "value": 1},  # a repeat
        {"evaluator_id": bob["id"], "contribution_id": work["id"], "value": 0},
    ]
    answered = api.app.post_json(
        "/example/evaluations/batch", {"evaluations": items}, status=201
    ).json["evaluations"]
    assert count(db, Event) == before + 1
    last = events(api, types="evaluation.created")[-1]
    data = dict(last["data"])
    data.pop("changes")
    assert data == answered[1]
    refused = [{"evaluator_id": bob["id"], "contribution_id": work["id"], "value": 7}]
    api.app.post_json("/example/evaluations/batch", {"evaluations": refused}, status=400)
    assert count(db, Event) == before + 1


def test_the_feed_pages_by_id_and_filters_by_type(api: Api) -> None:
    users = [api.user()["id"] for _ in range(5)]
    api.contribution(users[0])
    all_ids = [e["id"] for e in events(api)]
    page = api.get("/example/events", after=all_ids[1], limit=2)
    assert [e["id"] for e in page["items"]] == all_ids[2:4]
    assert page["_meta"] == {
        "total": 4,
        "limit": 2,
        "start": 0,
        "after": all_ids[1],
        "next_after": all_ids[3],
    }
    assert page["count"] == 2
    only = events(api, types="contribution.created")
    assert [e["type"] for e in only] == ["contribution.created"]
    both = events(api, types="contribution.created,user.created")
    assert len(both) == 6
    assert events(api, after=all_ids[-1]) == []
    assert api.get("/example/events", after=all_ids[-1])["_meta"]["next_after"] == all_ids[-1]


def test_the_feed_of_a_contract_holds_only_its_events(api: Api) -> None:
    api.user()
    api.user("dmag")
    assert [e["type"] for e in events(api)] == ["user.created"]
    assert len(api.items("/dmag/events")) == 1


@pytest.mark.parametrize(
    "query",
    [
        {"wait": "31"},
        {"wait": "-1"},
        {"wait": "x"},
        {"types": "user.deleted"},
        {"types": ","},
        {"after": "-1"},
        {"limit": "1001"},
        {"start": "0"},
    ],
)
def test_bad_feed_queries_are_400(app: TestApp, query: dict) -> None:
    response = app.get("/example/events", params=query, status=400)
    assert_error(response, 400, location="querystring")


def test_a_wait_with_events_already_there_answers_at_once(api: Api) -> None:
    api.user()
    started = time.monotonic()
    assert len(events(api, wait=30)) == 1
    assert time.monotonic() - started < 5


def test_a_wait_with_nothing_new_answers_empty_when_it_runs_out(api: Api) -> None:
    api.user()
    last = events(api)[-1]["id"]
    started = time.monotonic()
    page = api.get("/example/events", after=last, wait=1)
    assert time.monotonic() - started >= 1
    assert page["items"] == []
    assert page["_meta"]["next_after"] == last


def test_a_waiting_request_gets_the_event_committed_while_it_waits(api: Api) -> None:
    """The waiter is answered with the event, and only after it was committed."""
    api.user()
    last = events(api)[-1]["id"]
    answers: list[tuple[float, dict]] = []

    def wait() -> None:
        page = api.get("/example/events", after=last, wait=20)
        answers.append((time.monotonic(), page))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)  # the waiter is waiting by now
    assert not answers
    new = api.user()
    committed = time.monotonic()
    waiter.join(timeout=20)
    ((answered, page),) = answers
    assert answered >= committed
    assert [e["data"]["id"] for e in page["items"]] == [new["id"]]


def wait_in_thread(app: TestApp, path: str, **environ: str) -> threading.Thread:
    """Send ``GET path`` on a thread of its own, and return once the request waits."""
    slots_before = waiting(app)
    thread = threading.Thread(target=lambda: app.get(path, extra_environ=environ))
    thread.start()
    deadline = time.monotonic() + 5
    while waiting(app) == slots_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting(app) > slots_before, "the request never started waiting"
    return thread


def waiting(app: TestApp) -> int:
    """How many requests of the application wait for events now."""
    slots = app.app.registry.get("event_waiting_slots")
    return slots.held.total() if slots is not None else 0


def test_waiting_requests_beyond_the_limit_are_503(make_app) -> None:
    app = make_app(**{"backfeed.events.max_waiters": "1"})
    app.post_json("/example/users", {}, status=201)
    slots = wait_in_thread(app, "/example/events?after=1&wait=3")
    response = app.get("/example/events?after=1&wait=3", extra_environ=ANONYMOUS_THERE, status=503)
    assert_error(response, 503)
    assert response.headers["Retry-After"] == "1"
    app.get("/example/events?after=1", status=200)  # not waiting: served
    slots.join(timeout=10)
    app.get("/example/events?after=1&wait=1", status=200)  # the permit is back


ANONYMOUS_HERE = {"HTTP_AUTHORIZATION": "", "REMOTE_ADDR": "192.0.2.1"}
ANONYMOUS_THERE = {"HTTP_AUTHORIZATION": "", "REMOTE_ADDR": "198.51.100.7"}


def test_one_client_filling_its_share_cannot_deny_another(make_app) -> None:
    """An anonymous client that asks for every permit gets its share only: the next
    client, anonymous from another address, still waits."""
    app = make_app(
        **{"backfeed.events.max_waiters": "2", "backfeed.events.max_waiters_per_client": "1"}
    )
    app.post_json("/example/users", {}, status=201)
    path = "/example/events?after=1&wait=2"
    held = wait_in_thread(app, path, **ANONYMOUS_HERE)
    beyond = app.get(path, extra_environ=ANONYMOUS_HERE, status=429)
    assert_error(beyond, 429)
    assert {e["code"] for e in beyond.json["errors"]} == {"too_many_waiting_per_client"}
    assert beyond.headers["Retry-After"] == "1"
    started = time.monotonic()
    assert app.get(path, extra_environ=ANONYMOUS_THERE, status=200).json["items"] == []
    assert time.monotonic() - started >= 2  # it did wait
    held.join(timeout=10)
    assert waiting(app) == 0


def test_a_token_is_one_client_wherever_it_comes_from(make_app) -> None:
    """The share is the token's, not its address's: another address does not widen it, and
    an anonymous reader at the token's address keeps its own."""
    app = make_app(
        **{"backfeed.events.max_waiters": "3", "backfeed.events.max_waiters_per_client": "1"}
    )
    app.post_json("/example/users", {}, status=201)
    path = "/example/events?after=1&wait=2"
    held = wait_in_thread(app, path, REMOTE_ADDR="192.0.2.1")  # the admin token
    refused = app.get(path, extra_environ={"REMOTE_ADDR": "198.51.100.7"}, status=429)
    assert_error(refused, 429)
    other = wait_in_thread(app, path, **ANONYMOUS_HERE)
    assert waiting(app) == 2
    held.join(timeout=10)
    other.join(timeout=10)


def test_a_collective_loss_is_one_change_without_a_user(api: Api) -> None:
    """A ``whitepaper1`` vote takes from every non-voter: one item, as in the ledger."""
    ids = [api.user("whitepaper1")["id"] for _ in range(6)]
    work = api.contribution(ids[0], "whitepaper1")["id"]
    for voter in ids[1:4]:
        api.vote(voter, work, 1, "whitepaper1")
    last = api.items("/whitepaper1/events", types="evaluation.created")[-1]
    *personal, collective = last["data"]["changes"]
    assert collective["user_id"] is None
    assert collective["reputation_delta"] < 0
    silent = api.items(f"/whitepaper1/users/{ids[5]}/history")[0]
    assert silent["cause"] == {"type": "evaluation", "id": last["data"]["id"]}
    assert all(change["user_id"] in ids for change in personal)
    for change in personal:
        assert api.items(f"/whitepaper1/users/{change['user_id']}/history")[0]["reputation"] == (
            pytest.approx(change["reputation"])
        )
