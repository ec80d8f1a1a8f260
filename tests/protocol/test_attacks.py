"""The attacks of users on their own economy, replayed through the engine, and the rules that
stop them (see "Attacks and why they fail" in docs/protocol.rst).

Each test plays an attack that paid before the rules were adopted and checks that it no longer
does: alternating re-votes that minted reputation (``example``, ``dmag``) or drained the
users who had not voted (``whitepaper1``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocol import Simulation, TooManyVoteChanges

from .conftest import SimulationFactory
from .strategies import assert_unchanged, snapshot

# Votes may change without limit here: these tests are about what a change pays.
UNLIMITED = {"max_vote_changes": 100_000}


def others_of(simulation: Simulation, *users: int) -> np.ndarray:
    """A mask of every user but ``users``."""
    mask = np.ones(simulation.users.size, dtype=bool)
    mask[[user - 1 for user in users]] = False
    return mask


@pytest.mark.parametrize("kind", ["example", "dmag"])
def test_alternating_revotes_mint_nothing(make_simulation: SimulationFactory, kind: str) -> None:
    """A and B vote 1 on C's article, then take turns voting 0 and 1 for 100 cycles.

    Before "agreement is paid once", each return to a value paid the partner standing there
    again, while the fee fell as the pair's share grew: the pair went from 40 to about 116
    reputation in 100 cycles. Now, once each has changed once, a vote moves only the
    evaluator's own fee: nobody else's balance, and the total never rises.
    """
    simulation = make_simulation(kind, UNLIMITED)
    for _ in range(10):
        simulation.create_user(reputation=20, tokens=50)
    a, b, c = 1, 2, 3
    article = simulation.create_contribution(c, "article")
    simulation.evaluate(a, article, 1)
    simulation.evaluate(b, article, 1)
    simulation.evaluate(a, article, 0)  # the first change of each still pays the agreement
    simulation.evaluate(b, article, 0)
    pair_before = simulation.users.reputation[[a - 1, b - 1]].sum()

    for cycle in range(100):
        for voter in (a, b):
            reputation = simulation.users.reputation.copy()
            tokens = simulation.users.tokens.copy()
            total = simulation.total_reputation

            outcome = simulation.evaluate(voter, article, 1 - cycle % 2)

            assert outcome.created
            others = others_of(simulation, voter)
            np.testing.assert_array_equal(simulation.users.reputation[others], reputation[others])
            np.testing.assert_array_equal(simulation.users.tokens, tokens)
            assert simulation.users.reputation[voter - 1] <= reputation[voter - 1]
            assert simulation.total_reputation <= total

    assert simulation.users.reputation[[a - 1, b - 1]].sum() <= pair_before


def test_whitepaper1_toggles_take_nothing_from_non_voters(
    make_simulation: SimulationFactory,
) -> None:
    """B toggles 1 and 0 on X's contribution, where A voted 1: 200 votes.

    Before, every return of B to 1 moved ``r * 0.001 * N`` from the eight non-voters to A:
    87 % of their reputation in 200 votes. Now only B's first vote of each value moves
    anything; the total is conserved throughout.
    """
    simulation = make_simulation("whitepaper1", UNLIMITED)
    for _ in range(10):
        simulation.create_user(reputation=20)
    x, a, b = 1, 2, 3
    contribution = simulation.create_contribution(x)
    simulation.evaluate(a, contribution, True)
    simulation.evaluate(b, contribution, True)  # the first 1: non-voters pay A, once
    simulation.evaluate(b, contribution, False)  # the first 0: nobody else voted 0
    reputation = simulation.users.reputation.copy()

    for vote in range(198):
        outcome = simulation.evaluate(b, contribution, vote % 2 == 0)
        assert outcome.created

    np.testing.assert_array_equal(simulation.users.reputation, reputation)
    assert math.isclose(simulation.total_reputation, 200.0, rel_tol=1e-12)


def test_a_return_pays_its_fee_and_a_new_high_only(make_simulation: SimulationFactory) -> None:
    """A vote back to a value held before pays the fee of the base rules and, when the score
    passes its highest so far, the contributor; the earlier evaluators who voted the same
    value get nothing, nor do their referrers."""
    simulation = make_simulation("example", UNLIMITED)
    author = simulation.create_user(reputation=10)
    referrer = simulation.create_user(reputation=10)
    a = simulation.create_user(reputation=30)
    b = simulation.create_user(reputation=30, referrer_id=referrer)
    d = simulation.create_user(reputation=40)
    article = simulation.create_contribution(author, "article")
    simulation.evaluate(a, article, 1)
    simulation.evaluate(b, article, 1)  # score 60/120 = 0.5: not above the threshold yet
    simulation.evaluate(a, article, 0)
    simulation.evaluate(d, article, 1)  # b and d at 1: a new high above 0.5, paid
    max_score = float(simulation.contributions.max_score[article - 1])
    reputation = simulation.users.reputation.copy()
    tokens = simulation.users.tokens.copy()
    r = reputation[a - 1]
    engaged = reputation[[a - 1, b - 1, d - 1]].sum()
    up = engaged  # a's return makes every voter a 1
    total = simulation.total_reputation

    outcome = simulation.evaluate(a, article, 1)

    fee = 0.02 * r * (1 - math.sqrt(engaged / total))
    score = up / total
    assert score > max_score  # the return lifts the score to a new high
    reward = score - max_score
    expected = reputation.copy()
    expected[a - 1] -= fee
    expected[author - 1] += 5 * reward
    np.testing.assert_allclose(simulation.users.reputation, expected, rtol=1e-12)
    expected_tokens = tokens.copy()
    expected_tokens[author - 1] += 50 * reward
    np.testing.assert_allclose(simulation.users.tokens, expected_tokens, rtol=1e-12)
    assert simulation.contributions.max_score[article - 1] == pytest.approx(score, rel=1e-12)
    assert set(outcome.effects.changes.user_ids.tolist()) == {a, author}


def test_the_first_vote_of_a_value_after_a_change_still_pays(
    make_simulation: SimulationFactory,
) -> None:
    """Only a return is unpaid: changing to a value never held before pays as usual."""
    simulation = make_simulation("example")
    author, a, b = (simulation.create_user() for _ in range(3))
    article = simulation.create_contribution(author, "article")
    simulation.evaluate(a, article, 0)
    simulation.evaluate(b, article, 1)
    before = float(simulation.users.reputation[a - 1])

    simulation.evaluate(b, article, 0)  # b never voted 0 here: a, who did, is paid

    assert simulation.users.reputation[a - 1] > before


@pytest.mark.parametrize("kind", ["example", "dmag", "whitepaper1"])
def test_an_evaluator_changes_its_vote_5_times_at_most(
    make_simulation: SimulationFactory, kind: str
) -> None:
    """By default a vote may change 5 times; the 6th change is refused and changes nothing,
    while repeating the standing vote, and other evaluators, are unaffected."""
    simulation = make_simulation(kind)
    author, voter, other = (simulation.create_user(reputation=20) for _ in range(3))
    contribution = simulation.create_contribution(author)
    simulation.evaluate(voter, contribution, 1)
    for change in range(5):
        assert simulation.evaluate(voter, contribution, change % 2 == 1).created  # 0, 1, 0, 1, 0
    before = snapshot(simulation)

    with pytest.raises(TooManyVoteChanges) as refused:
        simulation.evaluate(voter, contribution, 1)

    assert refused.value.field == "value"
    assert "5 times" in refused.value.message
    assert "max_vote_changes = 5" in refused.value.message
    assert_unchanged(before, snapshot(simulation))
    assert not simulation.evaluate(voter, contribution, 0).created  # the standing vote
    assert simulation.evaluate(other, contribution, 0).created
    assert simulation.evaluate(other, contribution, 1).created


def test_max_vote_changes_0_makes_the_first_vote_final(make_simulation: SimulationFactory) -> None:
    """With the override ``max_vote_changes = 0`` a vote can never change."""
    simulation = make_simulation("example", {"max_vote_changes": 0})
    author, voter = simulation.create_user(), simulation.create_user()
    article = simulation.create_contribution(author)
    simulation.evaluate(voter, article, 0)

    with pytest.raises(TooManyVoteChanges):
        simulation.evaluate(voter, article, 1)
    assert simulation.evaluations.size == 1
