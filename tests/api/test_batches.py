"""``POST /{contract}/evaluations/batch``: many votes in one transaction, all or none."""

from __future__ import annotations

import pytest
from webtest import TestApp

from backfeed_api.models import Evaluation

from ..conftest import TEST_CONTRACTS, bearer, count, issue_token
from .conftest import Api, assert_error, keeps_database

BATCH = "/example/evaluations/batch"


def vote(evaluator: int, contribution: int, value=1) -> dict:
    return {"evaluator_id": evaluator, "contribution_id": contribution, "value": value}


@pytest.fixture
def community(api: Api) -> tuple[list[int], list[int]]:
    """Ten voters and ten contributions by one author: (voter ids, contribution ids)."""
    author = api.user(tokens=100)["id"]
    voters = [api.user()["id"] for _ in range(10)]
    return voters, [api.contribution(author)["id"] for _ in range(10)]


def refused(app: TestApp, items: list[dict], status: int = 400, **headers) -> dict:
    """Post a batch that must be refused whole, leaving the database as it was."""
    with keeps_database(app.app.registry["db_engine"]):
        response = app.post_json(BATCH, {"evaluations": items}, status=status, headers=headers)
    body = response.json
    assert body["status"] == "error"
    assert {e["name"] for e in body["errors"]} >= {"evaluations"}
    return body


def test_a_batch_is_applied_in_order(app: TestApp, api: Api, community) -> None:
    voters, made = community
    items = [vote(voters[0], made[0]), vote(voters[1], made[0], 0), vote(voters[0], made[1])]
    response = app.post_json(BATCH, {"evaluations": items}, status=201)
    answered = response.json["evaluations"]
    assert [(e["evaluator"]["id"], e["contribution"]["id"], e["value"]) for e in answered] == [
        (voters[0], made[0], 1),
        (voters[1], made[0], 0),
        (voters[0], made[1], 1),
    ]
    assert "Location" not in response.headers
    assert api.ids("/example/evaluations") == [e["id"] for e in answered]
    # each answer is the vote as it stood when applied, as single votes are answered
    single = api.get(f"/example/evaluations/{answered[2]['id']}")
    assert single["evaluator"] == answered[2]["evaluator"]


def test_the_same_as_one_vote_at_a_time(make_app) -> None:
    """A batch leaves every balance as the same votes sent one by one do (in a twin
    contract of the same kind)."""
    contracts = TEST_CONTRACTS["backfeed.contracts"] + " twin:example"
    app = make_app(**{"backfeed.contracts": contracts})
    api = Api(app)
    items = {}
    for contract in ("example", "twin"):
        author = api.user(contract, tokens=100)["id"]
        voters = [api.user(contract)["id"] for _ in range(10)]
        made = [api.contribution(author, contract)["id"] for _ in range(3)]
        items[contract] = [vote(voters[i], made[i % 3], i % 2) for i in range(10)]
    app.post_json(BATCH, {"evaluations": items["example"]}, status=201)
    for item in items["twin"]:
        api.vote(item["evaluator_id"], item["contribution_id"], item["value"], "twin")

    def balances(contract: str) -> list[tuple]:
        users = api.items(f"/{contract}/users", limit=100)
        return [(u["reputation"], u["tokens"], u["reputation_normalized"]) for u in users]

    assert balances("example") == balances("twin")


def test_repeated_votes_inside_a_batch(app: TestApp, community) -> None:
    voters, made = community
    items = [vote(voters[0], made[0]), vote(voters[0], made[0]), vote(voters[0], made[0], 0)]
    answered = app.post_json(BATCH, {"evaluations": items}, status=201).json["evaluations"]
    assert answered[0]["id"] == answered[1]["id"]
    assert answered[2]["id"] != answered[0]["id"]
    db = app.app.registry["db_engine"]
    assert count(db, Evaluation) == 2
    again = app.post_json(BATCH, {"evaluations": items[2:]}, status=200).json
    assert again["evaluations"][0]["id"] == answered[2]["id"]


def test_a_failure_in_the_last_of_100_changes_nothing(app: TestApp, community) -> None:
    voters, made = community
    items = [vote(voters[i % 10], made[i // 10], (i // 7) % 2) for i in range(99)]
    items.append(vote(voters[0], 999))
    body = refused(app, items)
    assert body["failed"] == [
        {
            "index": 99,
            "errors": [
                {
                    "location": "body",
                    "name": "contribution_id",
                    "description": body["failed"][0]["errors"][0]["description"],
                    "code": "unknown_contribution",
                }
            ],
        }
    ]
    assert "999" in body["failed"][0]["errors"][0]["description"]
    assert "1 of the 100" in body["errors"][0]["description"]


def test_every_refused_item_is_listed(app: TestApp, community, api: Api) -> None:
    voters, made = community
    author = api.get(f"/example/contributions/{made[0]}")["contributor"]["id"]
    items = [
        vote(voters[0], made[0]),
        vote(author, made[0]),  # a vote on one's own contribution: 403 alone
        vote(voters[1], made[1], 7),  # not in the evaluation set
        vote(voters[2], made[2]),
        vote(12345, made[2]),  # no such user
    ]
    body = refused(app, items)
    assert [(f["index"], [e["name"] for e in f["errors"]]) for f in body["failed"]] == [
        (1, ["evaluator_id"]),
        (2, ["value"]),
        (4, ["evaluator_id"]),
    ]


def test_refusals_that_depend_on_earlier_items(make_app) -> None:
    """An item is judged on the contract as the items before it left it: here the vote
    changes allowed (max_vote_changes = 1)."""
    app = make_app(**{"backfeed.contract.example.max_vote_changes": "1"})
    api = Api(app)
    author, voter = api.user(tokens=10)["id"], api.user()["id"]
    made = api.contribution(author)["id"]
    items = [vote(voter, made, 1), vote(voter, made, 0), vote(voter, made, 1)]
    body = refused(app, items)
    assert [f["index"] for f in body["failed"]] == [2]
    assert body["failed"][0]["errors"][0]["name"] == "value"


@pytest.mark.parametrize(
    ("items", "index", "name"),
    [
        ([vote(1, 1), {"evaluator_id": 1, "contribution_id": 1}], 1, "value"),
        ([vote(1, 1), vote(1, 1, "1")], 1, "value"),
        ([{**vote(1, 1), "extra": 1}], 0, "extra"),
        ([vote(1, 1), vote(1, -1)], 1, "contribution_id"),
        ([vote(1, 1), 5], 1, ""),
    ],
)
def test_malformed_items_are_listed(app: TestApp, community, items, index, name) -> None:
    body = refused(app, items)
    assert [f["index"] for f in body["failed"]] == [index]
    assert name in [e["name"] for e in body["failed"][0]["errors"]]


@pytest.mark.parametrize(
    "evaluations",
    [[], [vote(1, 1)] * 101, {"0": vote(1, 1)}, vote(1, 1), None, "x"],
    ids=["empty", "101", "object", "one-object", "null", "string"],
)
def test_the_list_itself_must_be_1_to_100_votes(app: TestApp, community, evaluations) -> None:
    with keeps_database(app.app.registry["db_engine"]):
        response = app.post_json(BATCH, {"evaluations": evaluations}, status=400)
    errors = assert_error(response, 400, location="body", name="evaluations")
    assert errors


def test_a_batch_needs_a_body_and_json(app: TestApp, community) -> None:
    assert_error(app.post_json(BATCH, {}, status=400), 400, name="evaluations")
    response = app.post(BATCH, "evaluations=1", status=415)
    assert response.status_int == 415


def test_a_user_token_batches_only_its_own_votes(app: TestApp, community, db) -> None:
    voters, made = community
    token = issue_token(db, "example", "user", voters[0])
    mine = [vote(voters[0], made[0]), vote(voters[0], made[1])]
    app.post_json(BATCH, {"evaluations": mine}, headers=bearer(token), status=201)
    other = [vote(voters[0], made[2]), vote(voters[1], made[2])]
    with keeps_database(db):
        response = app.post_json(BATCH, {"evaluations": other}, headers=bearer(token), status=403)
    assert response.json["failed"][0]["index"] == 1
    assert response.json["failed"][0]["errors"][0]["name"] == "evaluator_id"
    anonymous = TestApp(app.app)
    anonymous.post_json(BATCH, {"evaluations": mine}, status=401)


def test_an_idempotency_key_replays_a_batch(app: TestApp, community, db) -> None:
    voters, made = community
    items = {"evaluations": [vote(voters[0], made[0]), vote(voters[1], made[0])]}
    key = {"Idempotency-Key": "batch-1"}
    first = app.post_json(BATCH, items, headers=key, status=201)
    with keeps_database(db):
        again = app.post_json(BATCH, items, headers=key, status=201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    app.post_json(BATCH, {"evaluations": items["evaluations"][:1]}, headers=key, status=422)


def test_allowances_count_inside_a_batch(make_app) -> None:
    app = make_app(**{"backfeed.contract.example.evaluations_per_day": "2"})
    api = Api(app)
    author, voter = api.user(tokens=10)["id"], api.user()["id"]
    made = [api.contribution(author)["id"] for _ in range(3)]
    body = refused(app, [vote(voter, c) for c in made])
    assert body["failed"][0]["index"] == 2
    assert body["failed"][0]["errors"][0]["name"] == "evaluations_per_day"
    assert body["failed"][0]["errors"][0]["code"] == "allowance_exceeded"
    app.post_json(BATCH, {"evaluations": [vote(voter, c) for c in made[:2]]}, status=201)


def test_the_answer_of_a_refused_batch_has_the_error_shape(app: TestApp, community) -> None:
    voters, _ = community
    body = refused(app, [vote(voters[0], 999)])
    assert set(body) == {"status", "errors", "failed"}
    assert body["errors"][0]["code"] == "batch_refused"
    for failure in body["failed"]:
        assert set(failure) == {"index", "errors"}
        for error in failure["errors"]:
            assert set(error) == {"location", "name", "description", "code"}


def test_get_is_not_a_route_of_the_batch(app: TestApp) -> None:
    response = app.get(BATCH, expect_errors=True)
    assert response.status_int in (404, 405)


EXPLAINED = ("user_id", "rule", "inputs", "formula", "config_version")
CHANGES_OF_MIND = ((1, 1), (2, 0), (3, 1), (1, 0))
"""(voter, value): the first voter changes its mind last."""


@pytest.mark.parametrize(
    ("single", "kind"), [("rewarded", "example"), ("whitepaper1", "whitepaper1")]
)
def test_a_batch_s_votes_are_explained_as_single_votes(make_app, single, kind) -> None:
    """Every entry a batch writes explains itself as the same votes sent one by one do (in
    a twin contract), the collective losses of ``whitepaper1`` included."""
    twin = f"batched{kind}"
    contracts = TEST_CONTRACTS["backfeed.contracts"] + f" {twin}:{kind}"
    rewards = "true" if single == "rewarded" else "false"
    app = make_app(
        **{
            "backfeed.contracts": contracts,
            f"backfeed.contract.{twin}.reward_tokens_to_evaluators": rewards,
        }
    )
    api = Api(app)
    users, items = {}, {}
    for contract in (single, twin):
        users[contract] = [
            api.user(contract, reputation=20 + i, tokens=50)["id"] for i in range(5)
        ]
        made = api.contribution(users[contract][0], contract)["id"]
        items[contract] = [vote(users[contract][i], made, v) for i, v in CHANGES_OF_MIND]
    app.post_json(f"/{twin}/evaluations/batch", {"evaluations": items[twin]}, status=201)
    for item in items[single]:
        api.vote(item["evaluator_id"], item["contribution_id"], item["value"], single)

    def explained(contract: str) -> list[list[tuple]]:
        histories = []
        for user in users[contract]:
            entries = api.items(f"/{contract}/users/{user}/history", limit=100)
            assert all(e["rule"] != "unexplained" for e in entries)
            ledger = [api.get(f"/{contract}/ledger/{e['id']}") for e in entries]
            histories.append(
                [
                    (
                        *(repr(e[name]) for name in EXPLAINED[1:]),
                        e["user_id"] is None,
                        round(e["reputation_delta"], 9),
                        round(e["tokens_delta"], 9),
                    )
                    for e in entries + ledger
                ]
            )
        return histories

    assert explained(twin) == explained(single)
