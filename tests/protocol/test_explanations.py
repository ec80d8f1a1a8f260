"""Every change the engine makes explains itself, and the explanation is the math.

On random sequences of actions in every configuration, each vote's terms (and each changed
user's combined explanation) have formulas that, evaluated over their inputs by the tests'
own evaluator (:mod:`.formulas`), give their deltas to 1e-9 relative; and every input is
the value the scalar oracle holds before the vote.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from protocol import Simulation
from protocol.explanations import DELTAS, Explanation, combine, entry_terms, select_terms
from protocol.simulator import EvaluationOutcome

from .formulas import agrees, evaluate
from .oracle import Oracle
from .strategies import CONFIGURATIONS, PROPERTY_SETTINGS, Clock, outcome, resolve, scenarios

STEPS = {
    name: scenarios(protocol.create_contract(kind, overrides), size=50)
    for name, (kind, overrides) in CONFIGURATIONS.items()
}
QUADRATIC = scenarios(protocol.create_contract("quadratic"), size=50)
SETTINGS = settings(PROPERTY_SETTINGS, max_examples=60)
"""Fewer examples than the oracle's own test: each one checks every term of every vote."""

PARAMETERS = ("beta", "alpha", "referral_reward_fraction")
TYPE_FIELDS = (
    "stake",
    "distribution_stake",
    "reward_threshold",
    "reputation_reward_factor",
    "token_reward_factor",
)


def before_vote(oracle: Oracle, evaluator: int, contribution: int, value: float) -> dict:
    """The figures a vote's inputs name, summed by the oracle from its state before it."""
    c = oracle.contributions[contribution - 1]
    kind = oracle.types[c.type]
    others = [e for e in oracle.active_evaluations(contribution) if e.user != evaluator]
    reputation = {index + 1: user.reputation for index, user in enumerate(oracle.users)}
    r = reputation[evaluator]

    def voted(*, only: float | None = None) -> float:
        return math.fsum(reputation[e.user] for e in others if only is None or e.value == only)

    voters = {e.user for e in others} | {evaluator}
    total = oracle.total_reputation()
    return {
        "total_reputation": total,
        "evaluator_reputation": r,
        "engaged_reputation": voted() + r,
        "agreeing_reputation": voted(only=value) + r,
        "earlier_agreeing_reputation": voted(only=value),
        "approving_reputation": voted(only=1.0) + (r if value == 1 else 0.0),
        "unvoted_reputation": total - voted(),
        "non_voter_reputation": math.fsum(reputation[u] for u in reputation if u not in voters),
        "token_fund": c.token_fund,
        "max_score": c.max_score,
        **{name: float(oracle.params[name]) for name in PARAMETERS},
        **{name: float(kind[name]) for name in TYPE_FIELDS},
    }


def own_before(oracle: Oracle, evaluator: int, contribution: int, value: float) -> dict:
    """By user, the per-user inputs the oracle expects: its reputation, and the reputation
    of the agreeing earlier voters it referred while the referral lasts."""
    own: dict[int, dict[str, float]] = {}
    for index, user in enumerate(oracle.users):
        own[index + 1] = {"reputation": user.reputation, "referred_reputation": 0.0}
    for e in oracle.active_evaluations(contribution):
        voter = oracle.users[e.user - 1]
        agreeing = e.user != evaluator and e.value == value
        if agreeing and voter.referrer is not None and oracle.referral_lasts(e.user):
            own[voter.referrer]["referred_reputation"] += voter.reputation
    return own


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_effects(effects, expected: dict | None, own: dict | None) -> None:
    """The terms' formulas give their deltas; each changed user's combined explanation
    gives its change; with the oracle's figures, every input is what it held."""
    terms = effects.terms
    changes = effects.changes
    for term in terms:
        explanation = term.explanation
        for i, user_id in enumerate(term.user_ids.tolist()):
            inputs = {**explanation.inputs, **term.own(i)}
            for name, deltas in zip(DELTAS, (term.reputation, term.tokens), strict=True):
                formula = explanation.formula[name]
                assert agrees(formula, inputs, float(deltas[i])), (
                    f"{explanation.rule} {name} of user {user_id}: {formula} over {inputs} "
                    f"is {evaluate(formula, inputs)!r}, not {float(deltas[i])!r}"
                )
            if expected is not None:
                for name, value in explanation.inputs.items():
                    assert close(value, expected[name]), (explanation.rule, name)
                for name, value in term.own(i).items():
                    assert close(value, own[user_id][name]), (explanation.rule, user_id, name)
    found = entry_terms(terms, changes.user_ids)
    assert (found.masks != 0).all() or not terms, "a change that no term explains"
    for i in range(len(changes)):
        own_inputs = {
            name: float(values[i])
            for name, values in found.own_inputs.items()
            if not np.isnan(values[i])
        }
        entry = combine(
            select_terms([t.explanation for t in terms], int(found.masks[i])), own_inputs
        )
        inputs = dict(entry.inputs)
        for name, delta in zip(DELTAS, (changes.reputation, changes.tokens), strict=True):
            assert agrees(entry.formula[name], inputs, float(delta[i])), (entry.rule, name)
    if effects.loss is not None:
        loss: Explanation = effects.loss
        assert agrees(loss.formula["reputation_delta"], loss.inputs, effects.non_voter_delta)
        if expected is not None:
            for name, value in loss.inputs.items():
                assert close(value, expected[name]), ("loss", name)


def replay(kind: str, overrides: dict[str, Any], steps: list[tuple], *, oracle: bool) -> int:
    """Apply ``steps``, checking every vote's explanations; return how many terms were
    checked."""
    clock = Clock()
    simulation = Simulation(protocol.create_contract(kind, overrides), clock=clock)
    scalar = Oracle(kind, overrides, clock=clock) if oracle else None
    checked = 0
    for action in steps:
        resolved = resolve(action, simulation.users.size, simulation.contributions.size)
        expected = own = None
        if scalar is not None and resolved[0] == "evaluate":
            _, evaluator, contribution, value = resolved
            if _is_valid_vote(scalar, evaluator, contribution, value):
                expected = before_vote(scalar, evaluator, contribution, float(value))
                own = own_before(scalar, evaluator, contribution, float(value))
        time = clock.now
        if resolved[0] == "evaluate":
            _, evaluator, contribution, value = resolved
            try:
                result = simulation.evaluate(evaluator, contribution, value)
            except protocol.ProtocolError:
                result = None
            if result is not None and result.created:
                check_effects(result.effects, expected, own)
                checked += len(result.effects.terms)
        else:
            outcome(simulation, clock, action)
        if scalar is not None:
            clock.now = time
            outcome(scalar, clock, action)
    return checked


def _is_valid_vote(oracle: Oracle, evaluator: Any, contribution: Any, value: Any) -> bool:
    """Whether the ids name a user and a contribution and the value is allowed there (the
    figures can then be summed)."""
    return (
        isinstance(evaluator, int)
        and not isinstance(evaluator, bool)
        and 1 <= evaluator <= len(oracle.users)
        and isinstance(contribution, int)
        and not isinstance(contribution, bool)
        and 1 <= contribution <= len(oracle.contributions)
        and not isinstance(value, str)
        and value in oracle.types[oracle.contributions[contribution - 1].type]["evaluation_set"]
    )


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@SETTINGS
@given(data=st.data())
def test_formulas_give_the_deltas_from_the_state_before(name: str, data) -> None:
    """Every term's and entry's formula gives its deltas; its inputs are the oracle's."""
    kind, overrides = CONFIGURATIONS[name]
    replay(kind, overrides, data.draw(STEPS[name], label="steps"), oracle=True)


@SETTINGS
@given(data=st.data())
def test_plugin_formulas_give_the_deltas(data) -> None:
    """The example plugin explains its changes as well."""
    replay("quadratic", {}, data.draw(QUADRATIC, label="steps"), oracle=False)


@pytest.mark.parametrize("kind", ["example", "dmag", "whitepaper1", "quadratic"])
def test_a_vote_is_explained(kind: str) -> None:
    """A plain community: its votes do have terms (the property is not vacuous)."""
    clock = Clock()
    simulation = Simulation(protocol.create_contract(kind), clock=clock)
    for _ in range(4):
        simulation.create_user(reputation=20.0)
    contribution = simulation.create_contribution(1)
    terms = 0
    for evaluator in (2, 3, 4):
        effects = simulation.evaluate(evaluator, contribution, 1).effects
        check_effects(effects, None, None)
        terms += len(effects.terms)
    assert terms >= 2


def test_an_entry_of_several_rules_sums_their_formulas() -> None:
    """The evaluator of a dmag contract pays its fee and earns tokens: one entry, both
    rules, each delta's formula theirs."""
    simulation = Simulation(protocol.create_contract("dmag"), clock=Clock())
    for _ in range(3):
        simulation.create_user(reputation=10.0)
    contribution = simulation.create_contribution(1)
    effects = simulation.evaluate(2, contribution, 1).effects
    found = entry_terms(effects.terms, effects.changes.user_ids)
    evaluator = int(np.flatnonzero(found.user_ids == 2)[0])
    explanations = [t.explanation for t in effects.terms]
    entry = combine(select_terms(explanations, int(found.masks[evaluator])))
    assert entry.rule == "evaluator_token_reward + evaluation_fee"
    assert entry.formula["tokens_delta"].startswith("token_fund * ")
    assert entry.formula["reputation_delta"].startswith("-(stake * ")


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
@SETTINGS
@given(data=st.data())
def test_unexplained_votes_change_the_same(name: str, data) -> None:
    """A simulation that does not explain (a replay's) keeps no terms, and its votes
    change every balance exactly as the explained ones do, bit for bit."""
    kind, overrides = CONFIGURATIONS[name]
    steps = data.draw(STEPS[name], label="steps")
    clock = Clock()
    runs = [
        Simulation(protocol.create_contract(kind, overrides), clock=clock, explain=explain)
        for explain in (True, False)
    ]
    for action in steps:
        time = clock.now
        results = []
        for simulation in runs:
            clock.now = time
            if action[0] != "evaluate":
                results.append(outcome(simulation, clock, action))
                continue
            _, evaluator, contribution, value = resolve(
                action, simulation.users.size, simulation.contributions.size
            )
            try:
                results.append(simulation.evaluate(evaluator, contribution, value))
            except protocol.ProtocolError as error:
                results.append(type(error))
        explained, unexplained = results
        if isinstance(unexplained, EvaluationOutcome):
            assert unexplained.effects.terms == ()
            assert unexplained.moved.tolist() == explained.moved.tolist()
        else:
            assert unexplained == explained
    for column in ("reputation", "tokens"):
        assert getattr(runs[0].users, column).tobytes() == getattr(runs[1].users, column).tobytes()
    assert runs[0].total_reputation == runs[1].total_reputation


def test_combining_deltas_sums_repeated_users() -> None:
    """Deltas of one user in several terms are summed; a user changed by nothing, or by
    -0.0, has no entry; the others keep theirs, in id order."""
    changes = protocol.BalanceChanges.combine([5, 2, 5, 9], [1.0, -0.0, 2.0, 0.0], [0, 0, 0, 3])
    assert changes.user_ids.tolist() == [5, 9]
    assert changes.reputation.tolist() == [3.0, 0.0]
    assert changes.tokens.tolist() == [0.0, 3.0]
    unique = protocol.BalanceChanges.combine([7, 3, 4], [-0.0, 1.5, 0.0], [2.0, 0.0, 0.0])
    assert unique.user_ids.tolist() == [3, 7]
    assert unique.reputation.tolist() == [1.5, 0.0]
    assert str(unique.reputation[1]) == "0.0"  # as summing would give, not -0.0
