"""Daily evaluation allowances: ``evaluations_per_day`` and
``evaluations_per_contributor_per_day``, off unless a contract sets them."""

from __future__ import annotations

import pytest
from webtest import TestApp

from ..conftest import TEST_CONTRACTS
from .conftest import Api, assert_error, keeps_database

LIMITED = {
    "backfeed.contracts": TEST_CONTRACTS["backfeed.contracts"] + " limited:example",
    "backfeed.contract.limited.evaluations_per_day": "3",
    "backfeed.contract.limited.evaluations_per_contributor_per_day": "2",
}


@pytest.fixture
def limited(make_app) -> TestApp:
    return make_app(**LIMITED)


def community(api: Api, contract: str, contributors: int = 2, per_contributor: int = 3):
    """A voter and contributions of ``contributors`` users: (voter id, [[contribution ids]])."""
    voter = api.user(contract, tokens=10)["id"]
    made = []
    for _ in range(contributors):
        author = api.user(contract, tokens=10)["id"]
        made.append([api.contribution(author, contract)["id"] for _ in range(per_contributor)])
    return voter, made


def test_off_by_default_and_shown(limited: TestApp) -> None:
    api = Api(limited)
    parameters = api.get("/example")["parameters"]
    assert parameters["evaluations_per_day"] is None
    assert parameters["evaluations_per_contributor_per_day"] is None
    shown = api.get("/limited")["parameters"]
    assert shown["evaluations_per_day"] == 3
    assert shown["evaluations_per_contributor_per_day"] == 2
    voter, made = community(api, "example", 3, 3)
    for contribution in [c for row in made for c in row]:
        api.vote(voter, contribution, 1, "example")


def test_per_contributor_allowance(limited: TestApp, clock) -> None:
    api = Api(limited)
    voter, (first, second) = community(api, "limited")
    api.vote(voter, first[0], 1, "limited")
    api.vote(voter, first[1], 1, "limited")
    db = limited.app.registry["db_engine"]
    with keeps_database(db):
        response = limited.post_json(
            "/limited/evaluations",
            {"evaluator_id": voter, "contribution_id": first[2], "value": 1},
            status=429,
        )
    assert_error(response, 429, name="evaluations_per_contributor_per_day")
    # 2026-01-01 00:00 UTC: the whole day is left
    assert response.headers["Retry-After"] == "86400"
    api.vote(voter, second[0], 1, "limited")  # another contributor: still allowed


def test_per_day_allowance_counts_changes_not_repeats(limited: TestApp, clock) -> None:
    api = Api(limited)
    voter, (first, second) = community(api, "limited")
    clock.advance(hours=20)
    api.vote(voter, first[0], 1, "limited")
    api.vote(voter, first[0], 1, "limited", status=200)  # a repeat is not an evaluation
    api.vote(voter, first[0], 0, "limited")  # a change is
    api.vote(voter, second[0], 1, "limited")
    db = limited.app.registry["db_engine"]
    with keeps_database(db):
        response = limited.post_json(
            "/limited/evaluations",
            {"evaluator_id": voter, "contribution_id": second[1], "value": 1},
            status=429,
        )
    assert_error(response, 429, name="evaluations_per_day")
    assert response.json["errors"][0]["code"] == "allowance_exceeded"
    assert response.headers["Retry-After"] == str(4 * 3600)
    # at its limit, repeating the active vote still answers it, changing nothing
    api.vote(voter, second[0], 1, "limited", status=200)
    clock.advance(hours=4)
    api.vote(voter, second[1], 1, "limited")


def test_other_evaluators_are_not_counted(limited: TestApp) -> None:
    api = Api(limited)
    voter, (first, _) = community(api, "limited")
    other = api.user("limited", tokens=10)["id"]
    api.vote(voter, first[0], 1, "limited")
    api.vote(voter, first[1], 1, "limited")
    api.vote(other, first[0], 1, "limited")
    api.vote(other, first[1], 1, "limited")
    api.vote(other, first[2], 1, "limited", status=429)
