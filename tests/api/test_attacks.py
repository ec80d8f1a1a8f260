"""The attacks of users on their own economy, replayed over HTTP on both databases.

Each test sends the requests of an attack that paid before the rules of "Attacks and why they
fail" (docs/protocol.rst) were adopted, and checks through the API that it no longer does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from webtest import TestApp

from ..conftest import TEST_CONTRACTS
from .conftest import Api

FICKLE = {
    "backfeed.contracts": TEST_CONTRACTS["backfeed.contracts"]
    + " fickle:example fickle_dmag:dmag fickle_wp:whitepaper1",
}
"""Contracts of each kind whose votes may change without limit: what a change pays."""


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
