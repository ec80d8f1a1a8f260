"""A replay's votes (``Simulation.apply_vote``) change what the engine's do, bit for bit.

Most votes of a history are applied straight from the base rules' amounts, without the
engine's state, terms and effects; the rest go through ``Simulation.evaluate``. Either way
every balance, total, score and fund ends as ``evaluate`` leaves it, and every refusal is
the same.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from protocol import Simulation
from protocol.contracts.example import ExampleContract

from .strategies import CONFIGURATIONS, PROPERTY_SETTINGS, Clock, outcome, resolve, scenarios

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    **CONFIGURATIONS,
    "example-allowances": (
        "example",
        {"evaluations_per_day": 3, "evaluations_per_contributor_per_day": 2},
    ),
}
STEPS = {
    name: scenarios(protocol.create_contract(kind, overrides), size=60)
    for name, (kind, overrides) in KINDS.items()
}
SETTINGS = settings(PROPERTY_SETTINGS, max_examples=80)


def state_of(simulation: Simulation) -> list[bytes | float]:
    """Every number a simulation holds, exactly."""
    columns = [
        simulation.users.reputation,
        simulation.users.tokens,
        simulation.contributions.max_score,
        simulation.contributions.token_fund,
        simulation.evaluations.value,
        simulation.evaluations.active,
    ]
    return [column.tobytes() for column in columns] + [
        simulation.total_reputation,
        simulation.total_tokens,
    ]


@pytest.mark.parametrize("name", sorted(KINDS))
@SETTINGS
@given(data=st.data())
def test_applied_votes_change_what_evaluated_ones_do(name: str, data) -> None:
    """The same actions, votes evaluated in one simulation and applied in the other, leave
    both holding the same numbers to the bit, and refuse the same actions."""
    kind, overrides = KINDS[name]
    steps = data.draw(STEPS[name], label="steps")
    clock = Clock()
    evaluated, applied = (
        Simulation(protocol.create_contract(kind, overrides), clock=clock, explain=False)
        for _ in range(2)
    )
    for action in steps:
        time = clock.now
        clock.now = time
        expected = outcome(evaluated, clock, action)
        clock.now = time
        if action[0] == "evaluate":
            _, evaluator, contribution, value = resolve(
                action, applied.users.size, applied.contributions.size
            )
            try:
                applied.apply_vote(evaluator, contribution, value)
                got = None
            except protocol.ProtocolError as error:
                got = type(error)
            assert got == expected[1]
        else:
            assert outcome(applied, clock, action)[1] == expected[1]
        assert state_of(applied) == state_of(evaluated)


def test_a_first_vote_is_applied_from_the_amounts(monkeypatch) -> None:
    """A plain first vote under the base rules does not go through ``evaluate``: it is
    applied from the rules' amounts, and changes what ``evaluate`` would."""
    simulations = [
        Simulation(protocol.create_contract("example"), clock=lambda: 0.0) for _ in "ab"
    ]
    for simulation in simulations:
        for _ in range(3):
            simulation.create_user()
        simulation.create_contribution(1)
        simulation.evaluate(2, 1, 1)
    reference, applied = simulations
    reference.evaluate(3, 1, 1)
    calls = []
    monkeypatch.setattr(applied, "evaluate", lambda *args: calls.append(args))
    applied.apply_vote(3, 1, 1)
    assert calls == []
    assert state_of(applied) == state_of(reference)
    applied.apply_vote(3, 1, 0)  # a change of vote: through evaluate
    assert calls == [(3, 1, 0)]


class ChangedRules(ExampleContract):
    """A plugin's kind that changes how the base rules pay agreement."""

    kind = "changed-example"

    def evaluate(self, state):
        """The base rules, then nothing else: a vote that moves only what they move."""
        return super().evaluate(state)


def test_a_kind_with_its_own_evaluate_goes_through_the_engine(monkeypatch) -> None:
    """A kind overriding any part of the base rules' vote is applied through
    ``evaluate``: its own code decides."""
    simulation = Simulation(ChangedRules(), clock=lambda: 0.0)
    for _ in range(2):
        simulation.create_user()
    simulation.create_contribution(1)
    calls = []
    monkeypatch.setattr(simulation, "evaluate", lambda *args: calls.append(args))
    simulation.apply_vote(2, 1, 1)
    assert calls == [(2, 1, 1)]
