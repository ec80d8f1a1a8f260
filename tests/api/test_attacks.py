"""The attacks of users on their own economy, replayed over HTTP on both databases.

Each test sends the requests of an attack that paid before the rules of "Attacks and why they
fail" (docs/protocol.rst) were adopted, and checks through the API that it no longer does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from webtest import TestApp

from backfeed_api.models import Evaluation, User
from protocol import MAX_BALANCE, ConfigurationError

from ..conftest import TEST_CONTRACTS, bearer, count, issue_token
from .conftest import Api, assert_error

FICKLE = {
    "backfeed.contracts": TEST_CONTRACTS["backfeed.contracts"]
    + " fickle:example fickle_dmag:dmag fickle_wp:whitepaper1",
    **{
        f"backfeed.contract.{name}.max_vote_changes": "1000000"
        for name in ("fickle", "fickle_dmag", "fickle_wp")
    },
}
"""Contracts of each kind whose votes may change (almost) without limit: what a change
pays."""


@pytest.fixture
def fickle(make_app: Callable[..., TestApp]) -> Api:
    """The API of an application that also serves the :data:`FICKLE` contracts."""
    return Api(make_app(**FICKLE))


def balances(api: Api, contract: str) -> dict[int, tuple[float, float]]:
    """Every user's (reputation, tokens) in ``contract``, by id."""
    users = api.items(f"/{contract}/users", limit=1000)
    return {user["id"]: (user["reputation"], user["tokens"]) for user in users}


def total_reputation(api: Api, contract: str) -> float:
    """The contract's total reputation, as ``GET /{contract}`` shows it."""
    return api.get(f"/{contract}")["totals"]["reputation"]


@pytest.mark.parametrize("contract", ["fickle", "fickle_dmag"])
def test_alternating_votes_pay_only_their_own_fee(fickle: Api, contract: str) -> None:
    """A and B vote 1 on C's article, change once each, then take turns voting 0 and 1.

    After their first change each, a vote changes nobody's balance but the evaluator's, whose
    reputation only falls (the fee), and the contract's total never rises.
    """
    users = [fickle.user(contract, reputation=20, tokens=50)["id"] for _ in range(10)]
    a, b, c = users[:3]
    article = fickle.contribution(c, contract, type="article")["id"]
    for voter, value in ((a, 1), (b, 1), (a, 0), (b, 0)):
        fickle.vote(voter, article, value, contract)

    for number in range(40):
        voter, value = (a, b)[number % 2], 1 - (number // 2) % 2
        before, total = balances(fickle, contract), total_reputation(fickle, contract)

        fickle.vote(voter, article, value, contract)

        after = balances(fickle, contract)
        assert {k: v for k, v in after.items() if k != voter} == {
            k: v for k, v in before.items() if k != voter
        }
        assert after[voter][0] <= before[voter][0]
        assert after[voter][1] == before[voter][1]
        assert total_reputation(fickle, contract) <= total


def test_whitepaper1_toggles_take_nothing_from_non_voters(fickle: Api) -> None:
    """B toggles 1 and 0 on X's contribution, where A voted 1: 200 votes in all. Only B's
    first vote of each value moves reputation; after them, nobody's balance changes."""
    users = [fickle.user("fickle_wp", reputation=20)["id"] for _ in range(10)]
    x, a, b = users[:3]
    contribution = fickle.contribution(x, "fickle_wp")["id"]
    fickle.vote(a, contribution, True, "fickle_wp")
    fickle.vote(b, contribution, True, "fickle_wp")
    fickle.vote(b, contribution, False, "fickle_wp")
    before = balances(fickle, "fickle_wp")

    for number in range(198):
        fickle.vote(b, contribution, number % 2 == 0, "fickle_wp")

    assert balances(fickle, "fickle_wp") == before
    assert total_reputation(fickle, "fickle_wp") == pytest.approx(200.0, rel=1e-12)


def vote_body(evaluator: int, contribution: int, value: object) -> dict:
    """The body of ``POST /{contract}/evaluations``."""
    return {"evaluator_id": evaluator, "contribution_id": contribution, "value": value}


@pytest.mark.parametrize("contract", ["example", "dmag", "whitepaper1"])
def test_a_sixth_change_is_a_409_that_changes_nothing(api: Api, unchanged, contract) -> None:
    """Five changes of value are accepted; the sixth answers 409 naming the limit, and the
    database is left exactly as it was. The standing vote can still be repeated (200)."""
    author, voter = (api.user(contract, reputation=20)["id"] for _ in range(2))
    contribution = api.contribution(author, contract)["id"]
    for value in (1, 0, 1, 0, 1, 0):
        api.vote(voter, contribution, value, contract)

    with unchanged():
        response = api.app.post_json(
            f"/{contract}/evaluations", vote_body(voter, contribution, 1), status=409
        )
    [error] = assert_error(response, 409, location="body", name="value")
    assert "max_vote_changes = 5" in error["description"]
    assert "5 times" in error["description"]
    assert api.vote(voter, contribution, 0, contract, status=200)["active"]


def test_max_vote_changes_is_shown_and_overridden(make_app: Callable[..., TestApp]) -> None:
    """``GET /{contract}`` shows the limit; ``backfeed.contract.<name>.max_vote_changes``
    changes it, as any parameter."""
    api = Api(make_app(**{"backfeed.contract.example.max_vote_changes": "1"}))
    assert api.get("/example")["parameters"]["max_vote_changes"] == 1
    assert api.get("/dmag")["parameters"]["max_vote_changes"] == 5
    author, voter = api.user()["id"], api.user()["id"]
    article = api.contribution(author)["id"]
    api.vote(voter, article, 1)
    api.vote(voter, article, 0)

    response = api.app.post_json("/example/evaluations", vote_body(voter, article, 1), status=409)

    assert_error(response, 409, name="value")


@pytest.mark.parametrize("value", ["-1", "2.5", "many", "true"])
def test_a_bad_max_vote_changes_stops_the_service(
    make_app: Callable[..., TestApp], value: str
) -> None:
    with pytest.raises(ConfigurationError, match="max_vote_changes"):
        make_app(**{"backfeed.contract.example.max_vote_changes": value})


# 10,000 requests through WebTest take over a minute on SQLite and three on a busy
# PostgreSQL: this test runs on SQLite only. The rules it checks are the engine's, and what
# the database adds (the evaluator's earlier votes read under the lock, a refusal that
# writes nothing) the tests above check on both databases.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ten_thousand_alternating_votes_leave_the_total_as_it_was(api: Api) -> None:
    """Two users of a 200-user ``example`` community vote 1 on a third one's article, then
    take turns voting 0 and 1: 10,000 votes in all. After their first change each, the
    contract's total reputation moves by less than 0.1 % (only their own fees, for the 8
    changes they have left); past the limit, a vote for the standing value is a repeat
    (200) and one for the other value a 409."""
    users = [api.user()["id"] for _ in range(200)]
    a, b, c = users[:3]
    article = api.contribution(c)["id"]
    for voter, value in ((a, 1), (b, 1), (a, 0), (b, 0)):
        api.vote(voter, article, value)
    total = total_reputation(api, "example")

    statuses: Counter[int] = Counter()
    for number in range(10_000 - 4):
        voter, value = (a, b)[number % 2], 1 - (number // 2) % 2
        response = api.app.post_json(
            "/example/evaluations", vote_body(voter, article, value), expect_errors=True
        )
        statuses[response.status_int] += 1

    assert statuses == {201: 8, 200: (10_000 - 12) // 2, 409: (10_000 - 12) // 2}
    assert total_reputation(api, "example") <= total
    assert total_reputation(api, "example") > total * (1 - 1e-3)


@pytest.mark.parametrize("contract", ["example", "dmag", "whitepaper1"])
def test_a_self_vote_is_a_403_naming_the_evaluator(api: Api, db, unchanged, contract) -> None:
    """A contributor holding most of the reputation voted 1 on its own articles and took
    their reward alone (on ``example``, 61 to 84 reputation and 50 to 311 tokens from 10
    articles). Now its vote is refused, with its own token as with an admin's, and nothing
    changes."""
    author = api.user(contract, reputation=61)["id"]
    for _ in range(2):
        api.user(contract, reputation=20)
    contribution = api.contribution(author, contract)["id"]
    token = issue_token(db, contract, "user", author)
    evaluations = count(db, Evaluation)

    for headers in ({}, bearer(token)):
        with unchanged():
            response = api.app.post_json(
                f"/{contract}/evaluations",
                vote_body(author, contribution, 1),
                headers=headers,
                status=403,
            )
        [error] = assert_error(response, 403, location="body", name="evaluator_id")
        assert "allow_self_evaluation" in error["description"]
    assert count(db, Evaluation) == evaluations
    assert api.get(f"/{contract}/users/{author}")["reputation"] == 61


def test_self_evaluation_is_shown_and_may_be_allowed(make_app: Callable[..., TestApp]) -> None:
    """``GET /{contract}`` shows ``allow_self_evaluation``; a deployment that turns it on
    (``backfeed.contract.<name>.allow_self_evaluation``) accepts its contributors' votes."""
    api = Api(make_app(**{"backfeed.contract.example.allow_self_evaluation": "true"}))
    assert api.get("/example")["parameters"]["allow_self_evaluation"] is True
    assert api.get("/dmag")["parameters"]["allow_self_evaluation"] is False
    author = api.user()["id"]
    article = api.contribution(author)["id"]

    vote = api.vote(author, article, 1)

    assert vote["evaluator"]["id"] == author
    assert vote["contribution"]["contributor"]["id"] == author


def test_a_user_who_would_pass_the_limit_is_a_409(api: Api, unchanged) -> None:
    """Starting balances are at most 10^15 each, and so are the contract's totals: the user
    who would carry one beyond is refused, naming it, and nothing is written."""
    api.user(reputation=6e14, tokens=6e14)

    with unchanged():
        response = api.app.post_json("/example/users", {"reputation": 6e14}, status=409)

    [error] = assert_error(response, 409, location="body", name="total_reputation")
    assert "1e+15" in error["description"]
    assert_error(api.app.post_json("/example/users", {"tokens": 6e14}, status=409), 409)
    assert api.get("/example")["totals"]["users"] == 1


def test_a_vote_that_would_pass_the_limit_is_a_409(api: Api, unchanged) -> None:
    """A voter holding nearly 10^15 lifts an article over its threshold: the contributor's
    reward would carry the total past the limit. Refused, nothing written, never a 500."""
    author = api.user(reputation=0)["id"]
    whale = api.user(reputation=1e15 - 1)["id"]
    article = api.contribution(author)["id"]

    with unchanged():
        response = api.app.post_json(
            "/example/evaluations", vote_body(whale, article, 1), status=409
        )

    assert_error(response, 409, location="body", name="total_reputation")


def drift(db, user_id: int, tokens: float) -> None:
    """Give ``user_id`` ``tokens`` behind the engine's back: the contract's running total no
    longer covers them, as after a bug or a hand-made repair."""
    with db.begin() as connection:
        connection.execute(sa.update(User).where(User.id == user_id).values(tokens=tokens))


@pytest.mark.parametrize("key", [None, "bounded-vote"])
def test_the_database_refuses_what_the_engine_cannot_see(api: Api, db, unchanged, key) -> None:
    """A referrer whose tokens the contract's total does not cover (drifted to 10^15) is
    paid a bonus when the user it referred is rewarded as a contributor: the engine, which
    checks the totals, lets the vote through, and the database's own limit refuses it. The
    answer is the engine's 409, nothing is written, and an ``Idempotency-Key`` is not kept
    (its retry is refused again, not replayed). (A stored reputation is in units of the
    contract's scale, so the database bounds it only to be finite; its balance is part of
    the total, which the engine bounds.)"""
    referrer = api.user()["id"]
    author = api.user(referrer_id=referrer)["id"]
    voter = api.user(reputation=100)["id"]
    article = api.contribution(author)["id"]
    drift(db, referrer, MAX_BALANCE)
    headers = {} if key is None else {"Idempotency-Key": key}

    for _attempt in range(2):
        with unchanged():
            response = api.app.post_json(
                "/example/evaluations", vote_body(voter, article, 1), headers=headers, status=409
            )
        [error] = assert_error(response, 409, location="body", name="")  # not the engine's
        assert "1e+15" in error["description"]
        assert "Idempotent-Replayed" not in response.headers
