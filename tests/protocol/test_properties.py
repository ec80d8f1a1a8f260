"""Properties of the engine that hold whatever the users do.

whitepaper1 conserves the total reputation; no kind ever makes a reputation negative or NaN;
a refused action changes nothing at all; a re-vote supersedes the previous vote; and a
community whose total reputation is 0 never fails to evaluate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocol
from protocol import (
    InsufficientTokens,
    InvalidEvaluationValue,
    InvalidInput,
    ProtocolError,
    Simulation,
    UnknownContribution,
    UnknownContributionType,
    UnknownUser,
)

from .strategies import (
    CONFIGURATIONS,
    INVALID_AMOUNTS,
    PROPERTY_SETTINGS,
    Clock,
    apply,
    assert_unchanged,
    outcome,
    scenarios,
    snapshot,
)

STEPS = {
    name: scenarios(protocol.create_contract(kind, overrides), size=50)
    for name, (kind, overrides) in CONFIGURATIONS.items()
}
"""One strategy of action sequences per configuration, built once."""

HISTORIES = {
    name: scenarios(protocol.create_contract(kind, overrides), size=30)
    for name, (kind, overrides) in CONFIGURATIONS.items()
}
"""Shorter sequences: the state in which an action is refused."""


def simulation_for(name: str) -> tuple[Simulation, Clock]:
    """A fresh community of the configuration ``name``, with its own hand-moved clock."""
    kind, overrides = CONFIGURATIONS[name]
    clock = Clock()
    return Simulation(protocol.create_contract(kind, overrides), clock=clock), clock


def balances(simulation: Simulation) -> tuple:
    """Every balance and running figure of a community, as plain lists, to compare cheaply."""
    return (
        simulation.users.reputation.tolist(),
        simulation.users.tokens.tolist(),
        simulation.contributions.max_score.tolist(),
        simulation.contributions.token_fund.tolist(),
        simulation.evaluations.active.tolist(),
        simulation.total_reputation,
    )


def sum_of_reputations(simulation: Simulation) -> float:
    """``T`` summed afresh with :func:`math.fsum`, to compare with the running total."""
    return math.fsum(simulation.users.reputation.tolist())


@pytest.mark.parametrize("name", ["whitepaper1", "whitepaper1-overridden"])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_whitepaper1_conserves_total_reputation(name: str, data: st.DataObject) -> None:
    """An evaluation moves reputation between users; T changes only when users join."""
    simulation, clock = simulation_for(name)
    expected_total = 0.0
    for action in data.draw(STEPS[name], label="steps"):
        users_before = simulation.users.size
        _, error = outcome(simulation, clock, action)
        if action[0] == "user" and error is None:
            expected_total += float(simulation.users.reputation[users_before])
        total = sum_of_reputations(simulation)
        assert math.isclose(total, expected_total, rel_tol=1e-9, abs_tol=1e-9), action
        assert math.isclose(simulation.total_reputation, total, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_balances_stay_finite_and_reputation_non_negative(name: str, data: st.DataObject) -> None:
    """No action of any kind makes a reputation negative, or any balance NaN or infinite."""
    simulation, clock = simulation_for(name)
    for action in data.draw(STEPS[name], label="steps"):
        outcome(simulation, clock, action)
        reputation = simulation.users.reputation.tolist()
        assert all(math.isfinite(x) and x >= 0 for x in reputation), (action, reputation)
        assert all(math.isfinite(x) for x in simulation.users.tokens.tolist())
        assert math.isfinite(simulation.total_reputation)
        assert math.isclose(
            simulation.total_reputation,
            sum_of_reputations(simulation),
            rel_tol=1e-9,
            abs_tol=1e-9,
        )
        assert all(x >= -1e-9 for x in simulation.contributions.token_fund.tolist())


# -- refused actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """An id filled in just before a refused action: ``poor`` or a missing user/contribution."""

    what: str

    def fill(self, simulation: Simulation, poor: int) -> int:
        """The id this placeholder stands for in ``simulation``."""
        if self.what == "poor":
            return poor
        if self.what == "missing user":
            return simulation.users.size + 1
        return simulation.contributions.size + 1


POOR = Placeholder("poor")
MISSING_USER = Placeholder("missing user")
MISSING_CONTRIBUTION = Placeholder("missing contribution")


def refusals() -> list[tuple[tuple, type[ProtocolError]]]:
    """Actions the protocol must refuse, each with the error it must raise.

    User 1 and contribution 1 exist; ``POOR`` holds fewer tokens than any fee.
    """
    refused: list[tuple[tuple, type[ProtocolError]]] = [
        (("contribute", 1, "no-such-type"), UnknownContributionType),
        (("contribute", 1, 7), UnknownContributionType),
        (("contribute", POOR, None), InsufficientTokens),
        (("contribute", MISSING_USER, None), UnknownUser),
        (("contribute", 0, None), UnknownUser),
        (("contribute", True, None), UnknownUser),
        (("user", None, None, MISSING_USER), UnknownUser),
        (("user", None, None, -1), UnknownUser),
        (("user", None, None, "1"), UnknownUser),
        (("evaluate", MISSING_USER, 1, 1), UnknownUser),
        (("evaluate", 0, 1, 1), UnknownUser),
        (("evaluate", 1.0, 1, 1), UnknownUser),
        (("evaluate", 1, MISSING_CONTRIBUTION, 1), UnknownContribution),
        (("evaluate", 1, -1, 1), UnknownContribution),
        (("evaluate", 1, None, 1), UnknownContribution),
        (("evaluate", 1, 10**6, 1), UnknownContribution),
    ]
    for value in (0.5, -1, 7, math.nan, math.inf, -math.inf, "1", None, [1], 10**400):
        refused.append((("evaluate", 1, 1, value), InvalidEvaluationValue))
    for amount in INVALID_AMOUNTS:
        refused.append((("user", amount, None, None), InvalidInput))
        refused.append((("user", None, amount, None), InvalidInput))
    return refused


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@PROPERTY_SETTINGS
@given(data=st.data(), refusal=st.sampled_from(refusals()))
def test_refused_action_changes_nothing(
    name: str, data: st.DataObject, refusal: tuple[tuple, type[ProtocolError]]
) -> None:
    """A refused action raises the right error and leaves every array exactly as it was."""
    simulation, clock = simulation_for(name)
    simulation.create_user(reputation=10, tokens=100)
    simulation.create_contribution(1)
    for action in data.draw(HISTORIES[name], label="steps"):
        outcome(simulation, clock, action)
    poor = simulation.create_user(reputation=5, tokens=0.01)
    template, error = refusal
    action = tuple(
        part.fill(simulation, poor) if isinstance(part, Placeholder) else part for part in template
    )
    before = snapshot(simulation)

    with pytest.raises(error) as raised:
        apply(simulation, clock, action)

    assert raised.value.message
    assert_unchanged(before, snapshot(simulation))


# -- re-votes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@PROPERTY_SETTINGS
@given(data=st.data())
def test_revote_supersedes(name: str, data: st.DataObject) -> None:
    """One active evaluation per (user, contribution): the latest; earlier ones are kept."""
    simulation, clock = simulation_for(name)
    latest: dict[tuple[int, int], int] = {}
    made = 0
    for action in data.draw(STEPS[name], label="steps"):
        before = balances(simulation)
        result, error = outcome(simulation, clock, action)
        if action[0] != "evaluate" or error is not None:
            continue
        evaluation_id, created = result
        evaluator = int(simulation.evaluations.evaluator[evaluation_id - 1])
        contribution = int(simulation.evaluations.contribution[evaluation_id - 1])
        if created:
            made += 1
            assert evaluation_id == made
            latest[(evaluator, contribution)] = evaluation_id
        else:
            # The same value again: the standing evaluation is returned, nothing changes.
            assert latest[(evaluator, contribution)] == evaluation_id
            assert balances(simulation) == before

    evaluations = simulation.evaluations
    assert evaluations.size == made
    active: dict[tuple[int, int], list[int]] = {}
    for index, (user, contribution, is_active) in enumerate(
        zip(
            evaluations.evaluator.tolist(),
            evaluations.contribution.tolist(),
            evaluations.active.tolist(),
            strict=True,
        )
    ):
        if is_active:
            active.setdefault((user, contribution), []).append(index + 1)
    assert active == {pair: [evaluation_id] for pair, evaluation_id in latest.items()}


def test_revote_by_hand(example: Simulation) -> None:
    """1, then 1 again (no-op), then 0: two evaluations, the first kept but inactive."""
    author = example.create_user()
    voter = example.create_user()
    article = example.create_contribution(author)
    first = example.evaluate(voter, article, 1)
    before = snapshot(example)

    again = example.evaluate(voter, article, True)

    assert (again.evaluation_id, again.created) == (first.evaluation_id, False)
    assert not again.effects.recorded
    assert len(again.effects.changes) == 0
    assert_unchanged(before, snapshot(example))

    changed = example.evaluate(voter, article, 0)

    assert changed.created
    assert changed.evaluation_id == first.evaluation_id + 1
    assert example.evaluations.active.tolist() == [False, True]
    assert example.evaluations.value.tolist() == [1.0, 0.0]
    assert example.voted_reputation(article) == {0.0: example.users.reputation[voter - 1], 1.0: 0}


# -- T == 0 ------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    votes=st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 3), st.sampled_from([0, 1, True, False])),
        min_size=1,
        max_size=40,
    ),
    types=st.lists(st.sampled_from([None, "article", "comment"]), min_size=3, max_size=3),
)
def test_zero_total_reputation_never_raises(
    votes: list[tuple[int, int, Any]], types: list[str | None]
) -> None:
    """``dmag`` users start at 0 reputation: every vote succeeds and nothing moves (votes on
    one's own contributions, and any number of changes, allowed here)."""
    lenient = {"allow_self_evaluation": True, "max_vote_changes": 40}
    simulation = Simulation(protocol.create_contract("dmag", lenient), clock=Clock())
    for _ in range(6):
        simulation.create_user()
    for author, type_name in enumerate(types, start=1):
        simulation.create_contribution(author, type_name)
    tokens = simulation.users.tokens.copy()
    funds = simulation.contributions.token_fund.copy()

    for user, contribution, value in votes:
        simulation.evaluate(user, contribution, value)

    assert simulation.total_reputation == 0
    assert simulation.users.reputation.tolist() == [0.0] * 6
    assert simulation.users.tokens.tolist() == tokens.tolist()  # no fund is paid out at T = 0
    assert simulation.contributions.token_fund.tolist() == funds.tolist()
    assert simulation.contributions.max_score.tolist() == [0.0] * 3
    assert simulation.scores().tolist() == [0.0] * 3
