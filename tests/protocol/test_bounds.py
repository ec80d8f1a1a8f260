"""Nothing bounded balances: rewards compounded until a total was the largest double and the
next answer a 500. Now no action may leave a balance, a fund or a contract total NaN,
infinite or above ``protocol.MAX_BALANCE`` (10^15); such an action is refused and changes
nothing."""

from __future__ import annotations

import dataclasses
import math

import pytest

import protocol
from protocol import (
    MAX_BALANCE,
    BalanceLimitExceeded,
    InvalidInput,
    InvalidParameter,
    Simulation,
    check_bounded,
)

from .conftest import SimulationFactory
from .strategies import assert_unchanged, snapshot


def test_the_limit_is_ten_to_the_fifteenth() -> None:
    assert MAX_BALANCE == 10.0**15


@pytest.mark.parametrize(
    ("value", "shown"),
    [(MAX_BALANCE * 1.5, "1.5e+15"), (math.inf, "not finite"), (-math.inf, "not finite")],
)
def test_check_bounded_names_the_amount_at_fault(value: float, shown: str) -> None:
    with pytest.raises(BalanceLimitExceeded) as refused:
        check_bounded("this test", fine=1.0, wrong=value, later=math.nan)
    assert refused.value.field == "wrong"
    assert shown in refused.value.message
    assert "1e+15" in refused.value.message


def test_check_bounded_refuses_nan_and_passes_the_limit_itself() -> None:
    check_bounded("this test", at_the_limit=MAX_BALANCE, nothing=0.0)
    with pytest.raises(BalanceLimitExceeded, match="not finite"):
        check_bounded("this test", total=math.nan)


@pytest.mark.parametrize("field", ["reputation", "tokens"])
def test_a_starting_balance_above_the_limit_is_invalid(example: Simulation, field: str) -> None:
    """As the API's schema says: a starting balance is at most 10^15 (a 400)."""
    example.create_user(**{field: MAX_BALANCE})
    with pytest.raises(InvalidInput, match=r"at most 1e\+15"):
        example.create_user(**{field: MAX_BALANCE * (1 + 1e-15)})


@pytest.mark.parametrize("field", ["reputation", "tokens"])
def test_a_user_who_would_pass_the_total_is_refused(example: Simulation, field: str) -> None:
    example.create_user(**{field: 6e14})
    before = snapshot(example)

    with pytest.raises(BalanceLimitExceeded) as refused:
        example.create_user(**{field: 6e14})

    assert refused.value.field == f"total_{field}"
    assert_unchanged(before, snapshot(example))
    assert example.users.size == 1


@pytest.mark.parametrize(
    "override",
    [
        "user_initial_reputation",
        "user_initial_tokens",
        "article.token_fund_for_evaluators",
    ],
)
def test_no_default_balance_or_fund_may_pass_the_limit(override: str) -> None:
    protocol.create_contract("example", {override: MAX_BALANCE})
    with pytest.raises(InvalidParameter, match=r"at most 1e\+15"):
        protocol.create_contract("example", {override: MAX_BALANCE * 2})


def test_a_contributor_reward_that_would_pass_the_total_is_refused(
    make_simulation: SimulationFactory,
) -> None:
    """A voter holding nearly all of 10^15 lifts an article over its threshold: the reward
    (5 reputation, 50 tokens) would carry the total reputation past the limit."""
    simulation = make_simulation("example")
    author = simulation.create_user(reputation=0.0)
    whale = simulation.create_user(reputation=MAX_BALANCE - 1)
    article = simulation.create_contribution(author, "article")
    before = snapshot(simulation)

    with pytest.raises(BalanceLimitExceeded) as refused:
        simulation.evaluate(whale, article, 1)

    assert refused.value.field == "total_reputation"
    assert_unchanged(before, snapshot(simulation))


def test_a_token_reward_that_would_pass_the_total_is_refused(
    make_simulation: SimulationFactory,
) -> None:
    """The contract's tokens are bounded as its reputation is."""
    simulation = make_simulation("example")
    author = simulation.create_user(reputation=0.0, tokens=MAX_BALANCE - 10)
    voter = simulation.create_user(reputation=20, tokens=0.0)
    article = simulation.create_contribution(author, "article")
    before = snapshot(simulation)

    with pytest.raises(BalanceLimitExceeded) as refused:
        simulation.evaluate(voter, article, 1)  # score 1: 50 tokens for the author

    assert refused.value.field == "total_tokens"
    assert_unchanged(before, snapshot(simulation))
    assert simulation.total_tokens == MAX_BALANCE - 10 - 1  # the article's fee


def test_minting_stops_at_the_limit(make_simulation: SimulationFactory) -> None:
    """Self-votes and re-votes allowed without limit: a community that mints on every vote
    reaches the limit and stays under it; the votes past it are refused."""
    simulation = make_simulation(
        "example", {"allow_self_evaluation": True, "max_vote_changes": 10**6}
    )
    whale = simulation.create_user(reputation=MAX_BALANCE - 100, tokens=1e6)
    refused = 0
    for _ in range(40):
        article = simulation.create_contribution(whale, "article")
        try:
            simulation.evaluate(whale, article, 1)  # a new high each time: 5 reputation
        except BalanceLimitExceeded:
            refused += 1
        assert simulation.total_reputation <= MAX_BALANCE
        assert float(simulation.users.reputation.max()) <= MAX_BALANCE
    assert 0 < refused < 40


def test_a_repeated_vote_is_no_refusal_even_past_the_limit() -> None:
    """Repeating one's standing vote changes nothing, so it is answered as such even in a
    contract whose totals are already past the limit (rows written before it was kept)."""
    contract = protocol.create_contract("example")
    state = protocol.EvaluationState(
        contribution_type=contract.contribution_type("article"),
        max_score=0.0,
        token_fund=10.0,
        evaluator=protocol.Party(id=1, reputation=2e15),
        contributor=protocol.Party(id=2, reputation=0.0),
        value=1,
        previous_value=1.0,
        voters=protocol.Voters.empty(),
        total_reputation=2e15,
        now=0.0,
    )

    assert not contract.vote(state).recorded
    with pytest.raises(BalanceLimitExceeded):
        contract.vote(dataclasses.replace(state, previous_value=0.0))
