"""Many runs of a community (``protocol.scenarios.batch``) and what each step moved."""

from __future__ import annotations

import numpy as np
import pytest

from protocol import Simulation, create_contract
from protocol.scenarios import (
    Community,
    Contribute,
    Evaluate,
    Join,
    Scenario,
    ScenarioRun,
    batch_specs,
    run_batch,
    run_seeds,
)
from protocol.scenarios.batch import top_share


def test_seeds_are_derived_and_one_run_keeps_its_seed() -> None:
    assert run_seeds(7, 1) == [7]
    seeds = run_seeds(7, 5)
    assert seeds == run_seeds(7, 5)
    assert len(set(seeds)) == 5
    assert run_seeds(8, 5) != seeds


def test_parallel_results_are_the_serial_ones() -> None:
    community = Community(users=20, contributions=5, evaluations=100)
    specs = batch_specs([("alpha", [0.3, 0.6])], run_seeds(3, 3), community=community)

    serial = run_batch(specs, jobs=1)
    parallel = run_batch(specs, jobs=2)

    assert [result.spec for result in parallel] == specs
    for one, other in zip(serial, parallel, strict=True):
        assert one.gini == other.gini
        assert one.tokens_issued == other.tokens_issued
        np.testing.assert_array_equal(one.gini_series, other.gini_series)
        np.testing.assert_array_equal(one.reputation_series, other.reputation_series)
    assert serial[0].steps[0] == 0
    assert serial[0].steps[-1] == 105


def test_the_top_share_is_that_of_the_richest_tenth() -> None:
    assert top_share(np.array([1.0] * 10)) == pytest.approx(0.1)
    assert top_share(np.array([0.0] * 19 + [5.0])) == 1.0
    assert top_share(np.array([1.0, 3.0])) == 0.75  # at least one user
    assert top_share(np.zeros(4)) == 0.0


def test_a_refused_step_is_reported_and_its_dependents_too() -> None:
    scenario = Scenario(
        contract="example",
        setup=[Join("ann", tokens=0.5), Join("bob")],
        steps=[
            Contribute("c1", "ann"),  # ann cannot pay the fee
            Evaluate("bob", "c1", 1),
            Contribute("c2", "bob"),
            Evaluate("ann", "c2", 1),
        ],
    )
    refused: list[tuple[int, str]] = []

    ScenarioRun(scenario).run(
        on_refused=lambda step, action, error: refused.append((step, str(error)))
    )

    assert [step for step, _ in refused] == [1, 2]
    assert "tokens" in refused[0][1]
    assert "contribution 'c1' was refused" in refused[1][1]


def test_a_collective_loss_moves_every_non_voter_with_reputation() -> None:
    simulation = Simulation(create_contract("whitepaper1"), clock=lambda: 0.0)
    for reputation in (20.0, 20.0, 0.0, 20.0):
        simulation.create_user(reputation=reputation)
    contribution = simulation.create_contribution(1)
    simulation.evaluate(4, contribution, 1)
    before = simulation.users.reputation.copy(), simulation.users.tokens.copy()

    outcome = simulation.evaluate(2, contribution, 1)

    changed = (simulation.users.reputation != before[0]) | (simulation.users.tokens != before[1])
    assert outcome.effects.non_voter_factor is not None
    assert outcome.moved.tolist() == (np.flatnonzero(changed) + 1).tolist()
    assert 1 in outcome.moved  # the contributor, a non-voter, lost some
    assert 3 not in outcome.moved  # user 3 has nothing to lose
