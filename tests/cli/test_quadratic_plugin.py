"""The example plugin in examples/backfeed-contract-quadratic: discovery and arithmetic.

It must be installed (``make install`` does it) for these tests to find it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import protocol
from protocol import EvaluationState, Party, Voters
from protocol.registry import ENTRY_POINT_GROUP, refresh

from .conftest import Runner, final_balances


@pytest.fixture(scope="module")
def quadratic() -> protocol.Contract:
    """The plugin's contract with its defaults, loaded through the registry."""
    refresh()
    return protocol.create_contract("quadratic")


def test_the_plugin_declares_its_entry_point() -> None:
    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}

    assert declared["quadratic"] == "backfeed_quadratic:QuadraticContract"


def test_the_registry_finds_the_plugin() -> None:
    refresh()

    assert "quadratic" in protocol.installed_kinds()
    kind = protocol.load_kind("quadratic")
    assert kind.__module__.startswith("backfeed_quadratic")
    assert issubclass(kind, protocol.Contract)


def test_a_plugin_of_the_earlier_base_name_is_a_contract_rules() -> None:
    """The example subclasses ``protocol.Contract``, the base class's earlier name."""
    assert protocol.Contract is protocol.ContractRules
    assert issubclass(protocol.load_kind("quadratic"), protocol.ContractRules)


def vote(
    contract: protocol.Contract,
    value: float,
    *,
    voters: dict[int, tuple[float, float]],
    reputation: float = 11.0,
    total: float = 100.0,
    previous_value: float | None = None,
    superseded_values: frozenset[float] = frozenset(),
) -> protocol.EvaluationEffects:
    """User 1 with ``reputation`` votes ``value`` on user 9's article.

    ``voters`` maps the other voters' ids to (reputation, value).
    """
    ids = list(voters)
    return contract.evaluate(
        EvaluationState(
            contribution_type=contract.contribution_type("article"),
            max_score=0.0,
            token_fund=0.0,
            evaluator=Party(id=1, reputation=reputation),
            contributor=Party(id=9, reputation=0.0),
            value=value,
            previous_value=previous_value,
            voters=Voters.of(
                ids=ids,
                reputations=[voters[i][0] for i in ids],
                values=[voters[i][1] for i in ids],
            ),
            total_reputation=total,
            now=0.0,
            superseded_values=superseded_values,
            vote_changes=len(superseded_values),
        )
    )


def changes_by_user(effects: protocol.EvaluationEffects) -> dict[int, tuple[float, float]]:
    changes = effects.changes
    return {
        int(user): (float(rep), float(tok))
        for user, rep, tok in zip(
            changes.user_ids, changes.reputation, changes.tokens, strict=True
        )
    }


def test_worked_example_from_the_readme(quadratic: protocol.Contract) -> None:
    # T = 100. Users 2 and 3 (9 and 16 reputation) voted 1, user 4 (25) voted 0; user 1
    # (11) votes 1. E = 11 + 9 + 16 + 25 = 61 and U = 11 + 9 + 16 = 36.
    effects = vote(quadratic, 1, voters={2: (9, 1), 3: (16, 1), 4: (25, 0)})

    changes = changes_by_user(effects)
    # Fee: 0.02 * 11 * (1 - 61/100) = 0.0858.
    assert changes[1] == pytest.approx((-0.0858, 0.0))
    # Pot 0.08 * 11 = 0.88, shared by sqrt(9) : sqrt(16) = 3 : 4.
    assert changes[2] == pytest.approx((0.88 * 3 / 7, 0.0))
    assert changes[3] == pytest.approx((0.88 * 4 / 7, 0.0))
    assert 4 not in changes
    # Score sqrt(36/100) = 0.6 passes the 0.5 threshold: 5 * 0.6 and 50 * 0.6.
    assert changes[9] == pytest.approx((3.0, 30.0))
    assert effects.max_score == pytest.approx(0.6)
    assert effects.reputation_delta == pytest.approx(-0.0858 + 0.88 + 3.0)


def test_a_vote_of_0_rewards_its_side_but_not_the_contributor(
    quadratic: protocol.Contract,
) -> None:
    effects = vote(quadratic, 0, voters={2: (9, 1), 4: (25, 0)})

    changes = changes_by_user(effects)
    assert changes[4] == pytest.approx((0.88, 0.0))  # the only agreeing voter takes the pot
    assert changes[1] == pytest.approx((-0.02 * 11 * (1 - 45 / 100), 0.0))
    assert set(changes) == {1, 4}
    assert effects.max_score == 0.0


def test_a_score_below_the_threshold_pays_nothing_yet(quadratic: protocol.Contract) -> None:
    # sqrt(0.16) = 0.4 < 0.5: a new high, but no reward.
    effects = vote(quadratic, 1, voters={}, reputation=16.0)

    assert 9 not in changes_by_user(effects)
    assert effects.max_score == pytest.approx(0.4)


def test_repeating_a_vote_changes_nothing(quadratic: protocol.Contract) -> None:
    effects = vote(quadratic, 1, voters={2: (9, 1)}, previous_value=1)

    assert not effects.recorded
    assert len(effects.changes) == 0


def test_a_return_shares_no_pot(quadratic: protocol.Contract) -> None:
    # User 1 voted 1 before, then 0, and now 1 again: the fee only, no share for user 2.
    effects = vote(
        quadratic, 1, voters={2: (9, 1)}, previous_value=0, superseded_values=frozenset({1.0})
    )

    changes = changes_by_user(effects)
    assert set(changes) == {1}
    assert changes[1] == pytest.approx((-0.02 * 11 * (1 - 20 / 100), 0.0))


def test_no_reputation_no_change(quadratic: protocol.Contract) -> None:
    effects = vote(quadratic, 1, voters={2: (0, 1)}, reputation=0.0, total=0.0)

    assert effects.recorded
    assert len(effects.changes) == 0


def test_simulate_runs_the_plugin_from_a_scenario(
    backfeed: Runner, write_file: Callable[[str, str], Path]
) -> None:
    scenario = {
        "contract": "quadratic",
        "users": [
            {"name": "ann", "reputation": 0, "tokens": 10},
            {"name": "bonnie", "reputation": 64},
            {"name": "carl", "reputation": 16},
            {"name": "dan", "reputation": 20},
        ],
        "contributions": [{"name": "c1", "contributor": "ann"}],
        "steps": [{"evaluate": {"evaluator": "bonnie", "contribution": "c1", "value": 1}}],
    }

    outcome = backfeed("simulate", write_file("quadratic.json", json.dumps(scenario)))

    assert outcome.code == 0, outcome.err
    balances = final_balances(outcome.out)
    # Fee 0.02 * 64 * (1 - 0.64) = 0.4608; score sqrt(0.64) = 0.8 pays 4 and 40.
    assert balances["bonnie"] == pytest.approx((64 - 0.4608, 50.0))
    assert balances["ann"] == pytest.approx((4.0, 9 + 40.0))
    assert balances["carl"] == (16.0, 50.0)
    assert balances["dan"] == (20.0, 50.0)


def test_simulate_generates_a_quadratic_community(backfeed: Runner) -> None:
    outcome = backfeed("simulate", "--kind", "quadratic", "--users", "5", "--evaluations", "40")

    assert outcome.code == 0, outcome.err
    assert len(final_balances(outcome.out)) == 5
