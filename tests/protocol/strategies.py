"""Hypothesis strategies and helpers shared by the engine's property tests.

An *action* is a plain tuple that can be applied to a :class:`protocol.Simulation` and to the
scalar :class:`~tests.protocol.oracle.Oracle` alike:

* ``("user", reputation, tokens, referrer_id)``
* ``("contribute", contributor_id, type_name)``
* ``("evaluate", evaluator_id, contribution_id, value)``
* ``("wait", seconds)``: the clock moves on (so referrals expire).

An id is either a literal (often a bad one: 0, -1, ``True``, ``"1"``…) or a :class:`Pick`,
turned into an existing id when the action is applied, so most ids stay valid however many
earlier actions were refused. Balances, type names and values are mostly valid too, with a
few percent the protocol must refuse (NaN, negative balances, values outside the set…).

Sequences are decoded from hypothesis-drawn bytes (see :func:`scenarios`); the deterministic
:data:`ENGINE_SETTINGS` make every CI run test the same examples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import protocol
from protocol import NO_USER, ProtocolError, Simulation

from .oracle import Oracle

START = 1_000_000.0
"""The clock's reading when a community starts (seconds since the epoch)."""

DAY = 86400.0

ENGINE_SETTINGS = settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Deterministic settings for CI: the same examples on every run, no example database."""

PROPERTY_SETTINGS = settings(ENGINE_SETTINGS, max_examples=200)
"""The same, with fewer examples, for the properties that replay many sequences each."""

CONFIGURATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "example": ("example", {}),
    "dmag": ("dmag", {}),
    "whitepaper1": ("whitepaper1", {}),
    "example-overridden": (
        "example",
        {
            "reward_tokens_to_evaluators": True,
            "alpha": 0.7,
            "beta": 0.25,
            "referral_timeframe_days": 2,
            "referral_reward_fraction": 0.5,
            "comment.evaluation_set": (0, 1, 2),
            "allow_self_evaluation": True,
            "max_vote_changes": 2,
        },
    ),
    "whitepaper1-overridden": (
        "whitepaper1",
        {"contribution.evaluation_set": (0, 1, 2), "contribution.reputation_reward_factor": 0.01},
    ),
}
"""The contract kinds, some with overrides, that the property tests run under."""

INVALID_AMOUNTS = (
    math.nan,
    math.inf,
    -math.inf,
    -1.0,
    -0.01,
    "5",
    True,
    10**400,
)
"""Balances that creating a user must refuse with :class:`protocol.InvalidInput`."""


@dataclass
class Clock:
    """A clock the tests move by hand; both the simulation and the oracle read it."""

    now: float = START

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Pick:
    """An existing user or contribution, chosen when the action is replayed.

    Its id is ``index`` modulo the number of rows at that moment, plus 1 (and 1, which does
    not exist yet, while there are none). This keeps most generated ids valid however many
    earlier actions were refused.
    """

    index: int

    def resolve(self, count: int) -> int:
        """The id this pick stands for when there are ``count`` rows."""
        return self.index % count + 1 if count else 1


class ByteReader:
    """Reads a hypothesis-drawn byte string one byte at a time; 0 once it runs out."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.position = 0

    def byte(self) -> int:
        """The next byte, 0 to 255."""
        value = self.blob[self.position] if self.position < len(self.blob) else 0
        self.position += 1
        return value

    def left(self) -> bool:
        """Whether any byte is still unread."""
        return self.position < len(self.blob)

    def choose(self, valid: Sequence[Any], invalid: Sequence[Any] = ()) -> Any:
        """One of ``valid``, or about 5% of the time (13 bytes in 256) one of ``invalid``."""
        value = self.byte()
        if invalid and value >= 243:
            return invalid[value % len(invalid)]
        return valid[value % len(valid)]

    def amount(self, *, invalid: bool) -> Any:
        """A balance argument: 40% None (the default), 10% special, 3% bad, else random.

        Random amounts are whole cents from 0.01 to 1,000, spread evenly over the orders of
        magnitude; bad ones (only with ``invalid``) come from :data:`INVALID_AMOUNTS`.
        """
        share, high, low = self.byte(), self.byte(), self.byte()
        if invalid and share >= 248:
            return INVALID_AMOUNTS[high % len(INVALID_AMOUNTS)]
        if share < 102:
            return None
        if share < 128:
            return SPECIAL_AMOUNTS[high % len(SPECIAL_AMOUNTS)]
        return round(10 ** ((high * 256 + low) / 65535 * 5 - 2), 2)


SPECIAL_AMOUNTS = (0.0, 0.05, 0.1, 0.2, 1.0, 20.0, 999.99, 1000.0, 1500.0)
"""Balances around the fees (0.1, 0.2, 1) and the whitepaper1 cap (r * 0.001 = 1)."""

PICKS = tuple(Pick(index) for index in range(256))
BAD_USER_IDS = (0, -1, 10_000, True, "1", 1.0)
BAD_CONTRIBUTION_IDS = (0, -1, 10_000, False, None, 2.0)
BAD_REFERRERS = (0, 10_000, True)
BAD_VALUES = (0.5, -1, 2, 3.0, math.nan, math.inf, "1", None, 10**400)
BAD_TYPES = ("bogus", "", 123)
WAITS = (0.0, 1.0, 3600.0, DAY, 2 * DAY, 10 * DAY, 29 * DAY, 30 * DAY)
"""Clock moves, some landing exactly on the end of the 30-day referral window."""


def contract_values(contract: protocol.Contract) -> list[Any]:
    """Every value some type of ``contract`` accepts, and 0 and 1 once more as bools."""
    allowed = sorted({x for kind in contract.params.types.values() for x in kind.evaluation_set})
    return [*allowed, *(value == 1 for value in allowed if value in (0, 1))]


def decode_setup(contract: protocol.Contract, blob: bytes) -> list[tuple]:
    """A valid opening: 2 to 8 users (the later ones maybe referred), 1 to 3 contributions.

    A contribution can still be refused when its contributor was given too few tokens.
    """
    read = ByteReader(blob)
    types = (None, *sorted(contract.params.types))
    steps: list[tuple] = []
    for index in range(2 + read.byte() % 7):
        reputation, tokens = read.amount(invalid=False), read.amount(invalid=False)
        referrer = read.choose((None, *PICKS[:index])) if index else None
        steps.append(("user", reputation, tokens, referrer))
    for _ in range(1 + read.byte() % 3):
        steps.append(("contribute", read.choose(PICKS), read.choose(types)))
    return steps


def decode_actions(contract: protocol.Contract, blob: bytes) -> list[tuple]:
    """Random actions until the bytes run out: 65% votes, 15% users, 10% contributions,
    10% waits; about 5% of the ids, values and type names and 3% of the balances are bad."""
    read = ByteReader(blob)
    values = contract_values(contract)
    types = (None, *sorted(contract.params.types))
    steps: list[tuple] = []
    while read.left():
        sort = read.byte()
        if sort < 166:
            steps.append(
                (
                    "evaluate",
                    read.choose(PICKS, BAD_USER_IDS),
                    read.choose(PICKS, BAD_CONTRIBUTION_IDS),
                    read.choose(values, BAD_VALUES),
                )
            )
        elif sort < 204:
            reputation, tokens = read.amount(invalid=True), read.amount(invalid=True)
            referrer = read.choose((None, *PICKS[:32]), BAD_REFERRERS)
            steps.append(("user", reputation, tokens, referrer))
        elif sort < 230:
            steps.append(
                ("contribute", read.choose(PICKS, BAD_USER_IDS), read.choose(types, BAD_TYPES))
            )
        else:
            steps.append(("wait", read.choose(WAITS)))
    return steps


def scenarios(contract: protocol.Contract, size: int = 80) -> st.SearchStrategy[list[tuple]]:
    """A valid opening followed by roughly 20 to ``size`` random actions.

    Both are decoded from drawn bytes: drawing one byte string is far cheaper than drawing
    dozens of small values, and hypothesis still shrinks a failure by shortening and
    zeroing the bytes (a zero byte decodes to the simplest choice).
    """
    return st.builds(
        lambda opening, rest: decode_setup(contract, opening) + decode_actions(contract, rest),
        st.binary(min_size=64, max_size=64),
        st.binary(min_size=20 * 5, max_size=size * 5),
    )


def resolve(action: tuple, users: int, contributions: int) -> tuple:
    """The action with its :class:`Pick` ids replaced by real ids for these row counts."""
    match action:
        case ("user", reputation, tokens, Pick() as referrer):
            return ("user", reputation, tokens, referrer.resolve(users))
        case ("contribute", Pick() as contributor, type_name):
            return ("contribute", contributor.resolve(users), type_name)
        case ("evaluate", evaluator, contribution, value):
            if isinstance(evaluator, Pick):
                evaluator = evaluator.resolve(users)
            if isinstance(contribution, Pick):
                contribution = contribution.resolve(contributions)
            return ("evaluate", evaluator, contribution, value)
    return action


def apply(target: Simulation | Oracle, clock: Clock, action: tuple) -> Any:
    """Apply ``action`` to a simulation or an oracle; return what the action returns."""
    if isinstance(target, Simulation):
        action = resolve(action, target.users.size, target.contributions.size)
    else:
        action = resolve(action, len(target.users), len(target.contributions))
    match action:
        case ("user", reputation, tokens, referrer_id):
            return target.create_user(reputation, tokens, referrer_id)
        case ("contribute", contributor_id, type_name):
            return target.create_contribution(contributor_id, type_name)
        case ("evaluate", evaluator_id, contribution_id, value):
            outcome = target.evaluate(evaluator_id, contribution_id, value)
            if isinstance(outcome, tuple):
                return outcome
            return outcome.evaluation_id, outcome.created
        case ("wait", seconds):
            clock.now += seconds
            return None
    raise AssertionError(f"not an action: {action!r}")


def outcome(target: Simulation | Oracle, clock: Clock, action: tuple) -> tuple[Any, type | None]:
    """``(result, None)`` for an accepted action, ``(None, error class)`` for a refused one."""
    try:
        return apply(target, clock, action), None
    except ProtocolError as error:
        return None, type(error)


def close(a: float, b: float) -> bool:
    """The comparison used throughout: 1e-9 relative, or 1e-9 absolute near zero."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_close_lists(label: str, got: Sequence[float], expected: Sequence[float]) -> None:
    """Two equally long lists of numbers agree entry by entry, as :func:`close` says."""
    assert len(got) == len(expected), label
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert close(a, b), f"{label} of #{index + 1}: engine {a!r}, oracle {b!r}"


def assert_same_state(simulation: Simulation, oracle: Oracle) -> None:
    """Every balance, contribution and evaluation of the simulation matches the oracle."""
    users = simulation.users
    assert_close_lists(
        "reputation", users.reputation.tolist(), [u.reputation for u in oracle.users]
    )
    assert_close_lists("tokens", users.tokens.tolist(), [u.tokens for u in oracle.users])
    assert users.referrer.tolist() == [
        NO_USER if u.referrer is None else u.referrer for u in oracle.users
    ]
    assert users.created_at.tolist() == [u.created_at for u in oracle.users]
    assert close(simulation.total_reputation, oracle.total_reputation()), (
        simulation.total_reputation,
        oracle.total_reputation(),
    )

    contributions = simulation.contributions
    assert simulation.contribution_types == [c.type for c in oracle.contributions]
    assert contributions.contributor.tolist() == [c.contributor for c in oracle.contributions]
    assert_close_lists(
        "max_score", contributions.max_score.tolist(), [c.max_score for c in oracle.contributions]
    )
    assert_close_lists(
        "token_fund",
        contributions.token_fund.tolist(),
        [c.token_fund for c in oracle.contributions],
    )

    evaluations = simulation.evaluations
    assert list(
        zip(
            evaluations.evaluator.tolist(),
            evaluations.contribution.tolist(),
            evaluations.value.tolist(),
            evaluations.active.tolist(),
            strict=True,
        )
    ) == [(e.user, e.contribution, e.value, e.active) for e in oracle.evaluations]


def snapshot(simulation: Simulation) -> dict[str, Any]:
    """Copies of everything a simulation stores, to check later that nothing moved."""
    return {
        "users": {
            name: getattr(simulation.users, name).copy()
            for name in ("reputation", "tokens", "referrer", "created_at")
        },
        "contributions": {
            name: getattr(simulation.contributions, name).copy()
            for name in ("contributor", "max_score", "token_fund", "created_at")
        },
        "evaluations": {
            name: getattr(simulation.evaluations, name).copy()
            for name in ("contribution", "evaluator", "value", "active")
        },
        "ballots": [
            (
                ballot.slots.user.copy(),
                ballot.slots.value.copy(),
                ballot.slots.evaluation.copy(),
                dict(ballot.slot_of),
            )
            for ballot in simulation._ballots
        ],
        "contribution_types": list(simulation.contribution_types),
        "total_reputation": simulation.total_reputation,
    }


def assert_unchanged(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """Two snapshots are identical, array for array and bit for bit."""
    assert before.keys() == after.keys()
    for group in ("users", "contributions", "evaluations"):
        for name, array in before[group].items():
            np.testing.assert_array_equal(after[group][name], array, err_msg=f"{group}.{name}")
    assert len(before["ballots"]) == len(after["ballots"])
    for old, new in zip(before["ballots"], after["ballots"], strict=True):
        for old_part, new_part in zip(old[:3], new[:3], strict=True):
            np.testing.assert_array_equal(new_part, old_part)
        assert old[3] == new[3]
    assert before["contribution_types"] == after["contribution_types"]
    assert before["total_reputation"] == after["total_reputation"]
