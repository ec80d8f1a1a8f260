"""The daily evaluation allowances in the engine and the simulator."""

from __future__ import annotations

import pytest

import protocol
from protocol import AllowanceExceeded, InvalidParameter, Simulation
from protocol.parameters import parse_override

from .strategies import assert_unchanged, snapshot

DAY = 86400.0


class Clock:
    """A clock the test moves: seconds since the epoch."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def simulation(clock: Clock, **overrides: int) -> Simulation:
    return Simulation(protocol.create_contract("example", overrides), clock=clock)


def test_off_by_default() -> None:
    params = protocol.create_contract("example").params
    assert params.evaluations_per_day is None
    assert params.evaluations_per_contributor_per_day is None
    assert params.as_dict()["evaluations_per_day"] is None


@pytest.mark.parametrize("name", ["evaluations_per_day", "evaluations_per_contributor_per_day"])
@pytest.mark.parametrize("bad", [-1, 2.5, True, "3", 10**10])
def test_bad_allowances_are_refused(name: str, bad) -> None:
    with pytest.raises(InvalidParameter) as refused:
        protocol.create_contract("example", {name: bad})
    assert refused.value.field == name


def test_an_allowance_takes_a_settings_override() -> None:
    contract = protocol.create_contract("example", {"evaluations_per_day": parse_override("7")})
    assert contract.params.evaluations_per_day == 7


def test_per_day_allowance_refuses_until_midnight_utc() -> None:
    clock = Clock(100 * DAY + 3600)
    sim = simulation(clock, evaluations_per_day=2)
    voter = sim.create_user()
    authors = [sim.create_user() for _ in range(3)]
    made = [sim.create_contribution(author) for author in authors]
    sim.evaluate(voter, made[0], 1)
    assert not sim.evaluate(voter, made[0], 1).created  # a repeat is not counted
    sim.evaluate(voter, made[1], 1)
    before = snapshot(sim)
    with pytest.raises(AllowanceExceeded) as refused:
        sim.evaluate(voter, made[2], 1)
    assert refused.value.field == "evaluations_per_day"
    assert refused.value.retry_after == 23 * 3600
    assert "evaluations_per_day = 2" in refused.value.message
    assert_unchanged(before, snapshot(sim))
    assert not sim.evaluate(voter, made[1], 1).created  # the standing vote, still answered
    sim.evaluate(authors[0], made[2], 1)  # another evaluator has its own allowance
    clock.now = 101 * DAY
    assert sim.evaluate(voter, made[2], 1).created


def test_per_contributor_allowance() -> None:
    clock = Clock(5 * DAY)
    sim = simulation(clock, evaluations_per_contributor_per_day=1)
    voter, author, other = sim.create_user(), sim.create_user(), sim.create_user()
    first, second = sim.create_contribution(author), sim.create_contribution(author)
    third = sim.create_contribution(other)
    sim.evaluate(voter, first, 1)
    with pytest.raises(AllowanceExceeded) as refused:
        sim.evaluate(voter, second, 1)
    assert refused.value.field == "evaluations_per_contributor_per_day"
    assert refused.value.retry_after == DAY
    with pytest.raises(AllowanceExceeded):
        sim.evaluate(voter, first, 0)  # a change of value is an evaluation too
    sim.evaluate(voter, third, 1)


def test_an_allowance_set_by_a_later_version_counts_the_day_s_earlier_votes() -> None:
    # A replay switches the simulation's rules at each configuration version: votes made
    # the same day under a version without an allowance still count against a later one.
    clock = Clock(7 * DAY)
    sim = simulation(clock)
    voter = sim.create_user()
    made = [sim.create_contribution(sim.create_user()) for _ in range(3)]
    sim.evaluate(voter, made[0], 1)
    sim.evaluate(voter, made[1], 1)
    sim.contract = protocol.create_contract("example", {"evaluations_per_day": 2})
    with pytest.raises(AllowanceExceeded):
        sim.evaluate(voter, made[2], 1)
