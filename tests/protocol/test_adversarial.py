"""Coalitions against their own economy: stateful property tests of the rules of "Attacks and
why they fail" (docs/protocol.rst).

A community of honest users, each with a contribution, is joined by a coalition of 1 to 4
users (some referred by another member, some holding balances close to the limit) who make
contributions and vote, flip their votes, go back to values they held, and vote on their own
work, in any order, in all three kinds: with the shipped parameters, and with
self-evaluation allowed and many changes so that the other rules are tried on their own.
Whatever they do:

- a vote that returns an evaluator to a value it already held on the contribution changes
  no balance but its own fee and, when the score passes its highest so far, the
  contributor's reward (with its referrer's share); in ``whitepaper1`` it changes nothing;
- no balance, fund or total is ever negative, NaN, infinite or above the limit;
- a refused action changes nothing at all;
- ``whitepaper1`` conserves the total reputation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import protocol
from protocol import MAX_BALANCE, ProtocolError, Simulation

from .strategies import DAY, Clock, assert_unchanged, snapshot

HONEST_REPUTATION = (0.0, 5.0, 20.0, 100.0)
COALITION_REPUTATION = (0.0, 1.0, 20.0, 1000.0, 1e14, 4e14, MAX_BALANCE - 100.0)
COALITION_TOKENS = (0.5, 50.0, 1e6, MAX_BALANCE - 1000.0)
"""Balances of the coalition's members: ordinary ones, and some near the limit."""
LENIENT = {"allow_self_evaluation": True, "max_vote_changes": 100}
"""Self-votes and many changes allowed: what a change pays is then tried at length."""
MACHINE_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
"""Deterministic, like the other property tests: the same runs in every CI build."""


class Coalition(RuleBasedStateMachine):
    """One community under attack; subclasses say which contract (kind and overrides)."""

    kind: str = "example"
    overrides: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        contract = protocol.create_contract(self.kind, self.overrides)
        self.simulation = Simulation(contract, clock=self.clock)
        self.values = sorted({x for t in contract.params.types.values() for x in t.evaluation_set})
        self.types = sorted(contract.params.types)
        self.members: list[int] = []
        self.held: dict[tuple[int, int], list[float]] = {}  # the values of a pair's votes
        self.joined = 0.0  # the reputation users brought in

    # -- acting --------------------------------------------------------------------------------

    def attempt(self, action: Callable[[], Any]) -> Any:
        """Run ``action``; if the engine refuses it, check that nothing at all changed."""
        before = snapshot(self.simulation)
        try:
            return action()
        except ProtocolError:
            assert_unchanged(before, snapshot(self.simulation))
            return None

    def join(self, reputation: float, tokens: float, referrer: int | None) -> int | None:
        """A new user, unless the limit refuses it; returns its id."""
        user = self.attempt(lambda: self.simulation.create_user(reputation, tokens, referrer))
        if user is not None:
            self.joined += reputation
        return user

    def member(self, index: int) -> int:
        return self.members[index % len(self.members)]

    def contribution(self, index: int) -> int:
        return index % self.simulation.contributions.size + 1

    def cast(self, evaluator: int, contribution: int, value: float) -> None:
        """A vote, with what a return may change checked after it."""
        pair = (evaluator, contribution)
        held = self.held.get(pair, [])
        returning = bool(held) and value != held[-1] and value in held[:-1]
        sim = self.simulation
        reputation, tokens = sim.users.reputation.copy(), sim.users.tokens.copy()
        max_score = float(sim.contributions.max_score[contribution - 1])
        outcome = self.attempt(lambda: sim.evaluate(evaluator, contribution, value))
        if outcome is None or not outcome.created:
            return
        self.held[pair] = [*held, value]
        if returning:
            self.check_return(evaluator, contribution, max_score, reputation, tokens)

    def check_return(
        self,
        evaluator: int,
        contribution: int,
        max_score: float,
        reputation: np.ndarray,
        tokens: np.ndarray,
    ) -> None:
        """A return pays its own fee and, on a new high, the contributor: nothing else."""
        sim = self.simulation
        changed = set(
            (
                np.flatnonzero((sim.users.reputation != reputation) | (sim.users.tokens != tokens))
                + 1
            ).tolist()
        )
        if self.kind == "whitepaper1":
            assert changed == set(), changed
            return
        allowed = {evaluator}
        if sim.contributions.max_score[contribution - 1] > max_score:  # a new high
            contributor = int(sim.contributions.contributor[contribution - 1])
            referrer = int(sim.users.referrer[contributor - 1])
            allowed |= {contributor, referrer}
            rewarded = [user - 1 for user in (contributor, referrer) if user in changed]
            assert (sim.users.reputation[rewarded] >= reputation[rewarded]).all()
            assert (sim.users.tokens[rewarded] >= tokens[rewarded]).all()
        assert changed <= allowed, (changed, allowed)
        if evaluator not in allowed - {evaluator}:  # only its fee: less reputation, same tokens
            assert sim.users.reputation[evaluator - 1] <= reputation[evaluator - 1]
            assert sim.users.tokens[evaluator - 1] == tokens[evaluator - 1]

    # -- the community and the coalition -----------------------------------------------------

    @initialize(
        honest=st.lists(st.sampled_from(HONEST_REPUTATION), min_size=2, max_size=5),
        coalition=st.lists(
            st.tuples(
                st.sampled_from(COALITION_REPUTATION),
                st.sampled_from(COALITION_TOKENS),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        ),
    )
    def gather(self, honest: list[float], coalition: list[tuple[float, float, bool]]) -> None:
        for reputation in honest:
            user = self.join(reputation, 50.0, None)
            assert user is not None
            self.simulation.create_contribution(user)
        for reputation, tokens, referred in coalition:
            referrer = self.members[-1] if referred and self.members else None
            member = self.join(reputation, tokens, referrer)
            if member is not None:
                self.members.append(member)
        if not self.members:  # the limit refused them all: one ordinary member
            self.members.append(self.join(20.0, 50.0, None))

    # -- what the coalition does -----------------------------------------------------------

    @rule(member=st.integers(0, 3), type_index=st.integers(0, 1))
    def contribute(self, member: int, type_index: int) -> None:
        type_name = self.types[type_index % len(self.types)]
        self.attempt(lambda: self.simulation.create_contribution(self.member(member), type_name))

    @rule(member=st.integers(0, 3), contribution=st.integers(0, 20), choice=st.integers(0, 1))
    def vote(self, member: int, contribution: int, choice: int) -> None:
        self.cast(self.member(member), self.contribution(contribution), self.values[choice])

    @rule(member=st.integers(0, 3), contribution=st.integers(0, 20))
    def flip(self, member: int, contribution: int) -> None:
        """Vote the other value than the standing one (or 1 first)."""
        evaluator, target = self.member(member), self.contribution(contribution)
        held = self.held.get((evaluator, target))
        value = self.values[-1] if not held else next(x for x in self.values if x != held[-1])
        self.cast(evaluator, target, value)

    @rule(member=st.integers(0, 3), contribution=st.integers(0, 20))
    def go_back(self, member: int, contribution: int) -> None:
        """Vote again a value held before on this contribution, if there is one."""
        evaluator, target = self.member(member), self.contribution(contribution)
        held = self.held.get((evaluator, target), [])
        earlier = [value for value in held[:-1] if value != held[-1]]
        if earlier:
            self.cast(evaluator, target, earlier[0])

    @rule(member=st.integers(0, 3), contribution=st.integers(0, 20))
    def self_vote(self, member: int, contribution: int) -> None:
        """Vote 1 on one of one's own contributions, if there is one."""
        evaluator = self.member(member)
        own = np.flatnonzero(self.simulation.contributions.contributor == evaluator) + 1
        if own.size:
            self.cast(evaluator, int(own[contribution % own.size]), self.values[-1])

    @rule(
        reputation=st.sampled_from(COALITION_REPUTATION),
        tokens=st.sampled_from(COALITION_TOKENS),
        member=st.integers(0, 3),
    )
    def recruit(self, reputation: float, tokens: float, member: int) -> None:
        """A member brings in a new member it refers."""
        recruit = self.join(reputation, tokens, self.member(member))
        if recruit is not None and len(self.members) < 4:
            self.members.append(recruit)

    @rule(days=st.sampled_from((0.5, 10.0, 31.0)))
    def wait(self, days: float) -> None:
        self.clock.now += days * DAY

    # -- what must hold after every step --------------------------------------------------------

    @invariant()
    def bounded(self) -> None:
        sim = self.simulation
        for name, values in (
            ("reputation", sim.users.reputation),
            ("tokens", sim.users.tokens),
            ("token_fund", sim.contributions.token_fund),
        ):
            assert np.isfinite(values).all(), name
            assert (values >= -1e-9).all(), name
            assert (values <= MAX_BALANCE).all(), name
        for total in (sim.total_reputation, sim.total_tokens):
            assert math.isfinite(total)
            assert 0 <= total <= MAX_BALANCE
        assert math.isclose(
            sim.total_reputation, math.fsum(sim.users.reputation.tolist()), rel_tol=1e-9
        )

    @invariant()
    def conserved(self) -> None:
        if self.kind == "whitepaper1":
            assert math.isclose(self.simulation.total_reputation, self.joined, rel_tol=1e-9)


def machine(kind: str, overrides: dict[str, Any]) -> type:
    """The test case of :class:`Coalition` on ``kind`` with ``overrides``."""
    cls = type(f"Coalition_{kind}", (Coalition,), {"kind": kind, "overrides": overrides})
    case = cls.TestCase
    case.settings = MACHINE_SETTINGS
    return case


TestExample = machine("example", {})
TestExampleLenient = machine("example", LENIENT)
TestDmag = machine("dmag", {})
TestDmagLenient = machine("dmag", LENIENT)
TestWhitepaper1 = machine("whitepaper1", {})
TestWhitepaper1Lenient = machine("whitepaper1", LENIENT)
