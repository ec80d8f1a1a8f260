"""The vectorised engine against the scalar oracle, on random sequences of actions.

Every action (valid or not) is applied to a :class:`protocol.Simulation` and to the
:class:`~tests.protocol.oracle.Oracle`; both must accept or refuse it alike, return the same
ids, and then hold the same balances, contributions and evaluations to 1e-9.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol
from protocol import Simulation

from .oracle import SPEC_PARAMETERS, Oracle
from .strategies import (
    CONFIGURATIONS,
    ENGINE_SETTINGS,
    Clock,
    assert_same_state,
    outcome,
    scenarios,
)

STEPS = {
    name: scenarios(protocol.create_contract(kind, overrides))
    for name, (kind, overrides) in CONFIGURATIONS.items()
}
"""One strategy per configuration, built once (building one per example is slow)."""


def replay(kind: str, overrides: dict[str, Any], steps: list[tuple]) -> None:
    """Apply ``steps`` to a simulation and an oracle side by side, comparing after each."""
    clock = Clock()
    simulation = Simulation(protocol.create_contract(kind, overrides), clock=clock)
    oracle = Oracle(kind, overrides, clock=clock)
    for number, action in enumerate(steps):
        before = clock.now
        got = outcome(simulation, clock, action)
        clock.now = before  # a "wait" must move the clock once, not twice
        expected = outcome(oracle, clock, action)
        assert got == expected, f"step {number} {action!r}: engine {got}, oracle {expected}"
        try:
            assert_same_state(simulation, oracle)
        except AssertionError as error:
            raise AssertionError(f"after step {number} {action!r}: {error}") from None


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@ENGINE_SETTINGS
@given(data=st.data())
def test_engine_agrees_with_oracle(name: str, data: st.DataObject) -> None:
    """Random users, contributions, votes, re-votes, waits and bad calls: same results."""
    kind, overrides = CONFIGURATIONS[name]
    steps = data.draw(STEPS[name], label="steps")
    replay(kind, overrides, steps)


@pytest.mark.parametrize("kind", sorted(SPEC_PARAMETERS))
def test_spec_tables_match_the_shipped_defaults(kind: str) -> None:
    """The oracle's parameters (copied from the spec) are the contract's defaults."""
    spec = SPEC_PARAMETERS[kind]
    params = protocol.create_contract(kind).params
    for name in (
        "user_initial_tokens",
        "user_initial_reputation",
        "alpha",
        "referral_reward_fraction",
        "referral_timeframe_days",
        "reward_tokens_to_evaluators",
        "allow_self_evaluation",
        "max_vote_changes",
    ):
        assert getattr(params, name) == spec[name], name
    if spec["rules"] == "base":
        assert params.beta == spec["beta"]
    assert sorted(params.types) == sorted(spec["types"])
    for type_name, values in spec["types"].items():
        kind_params = params.types[type_name]
        for field, value in values.items():
            if field == "evaluation_set":
                assert kind_params.evaluation_set == tuple(float(x) for x in value)
            elif spec["rules"] == "base" or field in ("fee", "reputation_reward_factor"):
                assert getattr(kind_params, field) == value, (type_name, field)


def test_referral_window_boundary() -> None:
    """A referral pays up to, but not at, exactly 30 days; both sides agree on the edge."""
    steps: list[tuple] = [
        ("user", 10.0, 10.0, None),  # 1: the referrer
        ("user", 10.0, 10.0, 1),  # 2: referred by 1, the contributor
        ("user", 200.0, 10.0, None),  # 3: the voter who lifts the score over 0.5
        ("contribute", 2, "article"),
        ("contribute", 2, "article"),
        ("wait", 30 * 86400.0 - 1),
        ("evaluate", 3, 1, 1),  # 29.99 days: the referrer earns a share
        ("wait", 1.0),
        ("evaluate", 3, 2, 1),  # exactly 30 days: no more
    ]
    replay("example", {}, steps)

    clock = Clock()
    simulation = Simulation(protocol.create_contract("example"), clock=clock)
    for action in steps:
        outcome(simulation, clock, action)
    # The referrer gained a fifth of the contributor's first reward, nothing of the second.
    first_reward = 5 * 200 / 220
    assert simulation.users.reputation[0] == pytest.approx(10 + 0.2 * first_reward)


def test_oracle_reproduces_scenario_1() -> None:
    """The oracle itself gets the spec's first reference scenario right."""
    oracle = Oracle("example")
    ann = oracle.create_user(10, 10)
    bonnie = oracle.create_user(100, 99)
    oracle.evaluate(bonnie, oracle.create_contribution(ann, "article"), 1)
    assert oracle.users[bonnie - 1].reputation == pytest.approx(99.90692517849118, abs=1e-9)
    assert oracle.users[ann - 1].tokens == pytest.approx(54.45454545454545, abs=1e-9)
    assert oracle.users[ann - 1].reputation == pytest.approx(14.545454545454545, abs=1e-9)


def test_whitepaper1_cap_moves_all_non_voter_reputation() -> None:
    """With ``r * factor >= 1`` the moved amount is capped at N: the non-voters reach 0."""
    steps: list[tuple] = [
        ("user", 10.0, 10.0, None),  # 1: contributor, never votes
        ("user", 30.0, 10.0, None),  # 2: first voter
        ("user", 2000.0, 10.0, None),  # 3: r * 0.001 = 2 > 1
        ("contribute", 1, None),
        ("evaluate", 2, 1, True),
        ("evaluate", 3, 1, True),
    ]
    replay("whitepaper1", {}, steps)

    clock = Clock()
    simulation = Simulation(protocol.create_contract("whitepaper1"), clock=clock)
    for action in steps:
        outcome(simulation, clock, action)
    assert list(simulation.users.reputation) == pytest.approx([0.0, 40.0, 2000.0])
