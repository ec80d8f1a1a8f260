"""The engine's maths is vectorised: no Python loop runs once per user or per voter.

The check reads the source of the functions on the evaluation path with :mod:`ast` and
refuses any ``for``/``while`` statement or comprehension; it also checks that the base kinds
only ever see the contribution's voters, and how :class:`protocol.BalanceChanges` merges
per-user deltas.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import protocol
from protocol import (
    BalanceChanges,
    EvaluationEffects,
    EvaluationState,
    Simulation,
    check_bounded,
)
from protocol.contracts.base import Contract
from protocol.contracts.base_rules import BaseRulesContract
from protocol.contracts.whitepaper1 import Whitepaper1Contract
from protocol.stats import contribution_scores, quality, time_decay

LOOPS = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
"""Statements and expressions that run Python code once per element."""

EVALUATION_PATH: list[Callable[..., Any]] = [
    BaseRulesContract.evaluate,
    BaseRulesContract.amounts,
    BaseRulesContract._reward_contributor,
    BaseRulesContract._reward_agreement,
    BaseRulesContract.referral_active,
    Whitepaper1Contract.evaluate,
    Contract.vote,
    Contract.check_evaluator,
    Contract.check_vote_changes,
    Contract.repeats_active_vote,
    Contract.held_before,
    check_bounded,
    Contract.unchanged,
    BalanceChanges.combine,
    EvaluationEffects.__post_init__,
    Simulation.evaluate,
    Simulation.apply_vote,
    Simulation.scores,
    contribution_scores,
    quality,
    time_decay,
]
"""Every function an evaluation (or scoring every contribution) runs through.

``Contract.check_value`` is left out: it loops over the type's evaluation set (two or three
values), and only to word the error message of a refused vote.
"""


def loops_in(function: Callable[..., Any]) -> list[str]:
    """The loops in ``function``'s source, as ``"line N: For"`` strings."""
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    return [
        f"line {node.lineno}: {type(node).__name__}"
        for node in ast.walk(tree)
        if isinstance(node, LOOPS)
    ]


@pytest.mark.parametrize("function", EVALUATION_PATH, ids=lambda f: f.__qualname__)
def test_no_python_loop_on_the_evaluation_path(function: Callable[..., Any]) -> None:
    """No ``for``, ``while`` or comprehension: the work is done by numpy."""
    assert loops_in(function) == []


def test_the_loop_detector_finds_loops() -> None:
    """The check above would notice a loop (so its silence means something)."""

    def looping(values: list[float]) -> float:
        total = 0.0
        for value in values:
            total += value
        return total + sum(v for v in values)

    assert len(loops_in(looping)) == 2


@pytest.mark.parametrize("kind", ["example", "dmag"])
def test_base_kinds_see_only_the_voters(kind: str) -> None:
    """An example/dmag evaluation gets arrays as long as the voters, not as the community."""
    seen: list[EvaluationState] = []
    contract = protocol.create_contract(kind)
    evaluate = contract.evaluate

    def spy(state: EvaluationState) -> EvaluationEffects:
        seen.append(state)
        return evaluate(state)

    contract.evaluate = spy  # type: ignore[method-assign]
    simulation = Simulation(contract, clock=lambda: 0.0)
    for _ in range(500):
        simulation.create_user(reputation=1.0)
    article = simulation.create_contribution(1)
    for voter in (2, 3, 4):
        simulation.evaluate(voter, article, 1)

    assert not contract.needs_non_voter_reputation
    assert [len(state.voters.ids) for state in seen] == [0, 1, 2]
    assert all(state.non_voter_reputation == 0 for state in seen)


# -- BalanceChanges ----------------------------------------------------------------------------


def test_combine_sums_duplicate_ids() -> None:
    """Deltas of the same user add up; ids come out unique and sorted."""
    changes = BalanceChanges.combine(
        [5, 2, 5, 9, 2], [1.0, 0.5, 2.0, -1.0, 0.25], [0.0, 3.0, 1.0, 0.0, 0.0]
    )
    assert changes.user_ids.tolist() == [2, 5, 9]
    assert changes.reputation.tolist() == [0.75, 3.0, -1.0]
    assert changes.tokens.tolist() == [3.0, 1.0, 0.0]
    assert len(changes) == 3
    assert changes.user_ids.dtype == np.int64
    assert changes.reputation.dtype == np.float64


def test_combine_drops_what_changes_nothing() -> None:
    """Entries that cancel out or are zero are dropped; a token-only change is kept."""
    changes = BalanceChanges.combine([1, 1, 2, 3], [1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0])
    assert changes.user_ids.tolist() == [3]
    assert changes.tokens.tolist() == [2.0]


def test_combine_of_nothing() -> None:
    """No entries at all, and :meth:`BalanceChanges.none`, are empty changes."""
    for changes in (BalanceChanges.combine([], [], []), BalanceChanges.none()):
        assert len(changes) == 0
        assert changes.user_ids.dtype == np.int64


def test_effects_total_the_reputation_moved() -> None:
    """``reputation_delta`` adds the per-user changes and the non-voters' share."""
    effects = EvaluationEffects(
        recorded=True,
        changes=BalanceChanges.combine([1, 2], [0.5, 1.5], [0.0, 0.0]),
        max_score=0.0,
        token_fund=0.0,
        non_voter_factor=0.9,
        non_voter_delta=-2.0,
    )
    assert effects.reputation_delta == 0.0
