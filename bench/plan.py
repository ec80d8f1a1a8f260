"""What the suite measures, at full and at quick size, and the contracts that needs.

Every contract of the suite is of kind ``example`` (:data:`KIND`); other benchmarks seed
other kinds with the same plans. A contract's seeded contributions come in groups; the
contributions of a group each carry the same number of earlier voters (``k``), so that an
evaluation latency cell can vote on contributions with exactly the ``k`` it measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KIND = "example"
UP_SHARE_LISTED = 0.7
"""Share of the seeded votes with value 1 in the listing contracts (the rest are 0)."""


@dataclass(frozen=True)
class Group:
    """``contributions`` contributions, each with ``voters`` distinct earlier voters."""

    contributions: int
    voters: int


@dataclass(frozen=True)
class ContractPlan:
    """One contract to seed: its users, its contributions (in groups) and their votes."""

    name: str
    users: int
    groups: tuple[Group, ...]
    up_share: float = 1.0
    """Share of the seeded votes with value 1; votes of the latency contracts are all 1."""
    kind: str = KIND
    """The contract kind."""

    @property
    def contributions(self) -> int:
        """How many contributions the contract holds."""
        return sum(group.contributions for group in self.groups)

    @property
    def evaluations(self) -> int:
        """How many (active) evaluations the contract holds."""
        return sum(group.contributions * group.voters for group in self.groups)


@dataclass(frozen=True)
class Sizes:
    """The sizes of one run of the suite."""

    eval_users: tuple[int, ...]
    """The communities in which evaluation latency is measured."""
    voter_counts: tuple[int, ...]
    """The ``k`` (earlier voters on the contribution) of the latency cells."""
    latency_samples: int
    """Evaluations timed per latency cell, at most."""
    listings: tuple[tuple[int, int], ...]
    """(contributions, evaluations) of each top-20 listing cell."""
    listing_users: int
    listing_samples: int
    """Requests timed per listing cell, at most."""
    cell_seconds: float
    """Time budget of one latency or listing cell: it stops early, after 5 requests at least."""
    clients: tuple[int, ...]
    """Client counts of the throughput cells."""
    rate_contracts: int
    rate_users: int
    rate_contributions: int
    seconds_per_rate: float
    """Duration of one throughput cell."""
    quick: bool = False


FULL = Sizes(
    eval_users=(1_000, 100_000),
    voter_counts=(1, 100, 1_000, 10_000),
    latency_samples=100,
    listings=((5_000, 10_000), (5_000, 1_000_000), (100_000, 1_000_000)),
    listing_users=10_000,
    listing_samples=50,
    cell_seconds=20.0,
    clients=(1, 4, 16),
    rate_contracts=4,
    rate_users=1_000,
    rate_contributions=1_000,
    seconds_per_rate=4.0,
)
QUICK = Sizes(
    eval_users=(100, 1_000),
    voter_counts=(1, 10, 100),
    latency_samples=10,
    listings=((200, 400), (200, 2_000), (1_000, 2_000)),
    listing_users=200,
    listing_samples=5,
    cell_seconds=3.0,
    clients=(1, 4, 16),
    rate_contracts=4,
    rate_users=200,
    rate_contributions=100,
    seconds_per_rate=0.5,
    quick=True,
)


def samples_per_contribution(voters: int) -> int:
    """How many timed votes one contribution with ``voters`` earlier voters takes.

    Each timed vote adds a voter, so a contribution takes at most ``voters / 20`` of them:
    every vote of a cell sees between ``k`` and ``1.05 k`` earlier voters (exactly ``k`` for
    small ``k``), and a cell needs few contributions (and few seeded votes) even at large ``k``.
    """
    return max(1, voters // 20)


def latency_groups(users: int, sizes: Sizes) -> tuple[Group, ...]:
    """The contributions of an evaluation latency contract: one group per feasible ``k``.

    A ``k`` is feasible when ``k`` voters plus the timed voters fit among the users other
    than the contributor; the others are reported as not applicable.
    """
    groups = []
    for k in sizes.voter_counts:
        per_contribution = samples_per_contribution(k)
        if k + per_contribution < users:
            groups.append(Group(math.ceil(sizes.latency_samples / per_contribution), k))
    return tuple(groups)


def eval_contract(users: int) -> str:
    """The name of the evaluation latency contract of ``users`` users."""
    return f"eval_{users}u"


def listing_contract(contributions: int, evaluations: int) -> str:
    """The name of the listing contract of that many contributions and evaluations."""
    return f"list_{contributions}c_{evaluations}e"


def rate_contract(number: int) -> str:
    """The name of the ``number``-th throughput contract (from 0)."""
    return f"rate_{number + 1}"


def contract_plans(sizes: Sizes) -> list[ContractPlan]:
    """Every contract a run seeds."""
    plans = [
        ContractPlan(eval_contract(users), users, latency_groups(users, sizes))
        for users in sizes.eval_users
    ]
    for contributions, evaluations in sizes.listings:
        voters, extra = divmod(evaluations, contributions)
        groups = (Group(extra, voters + 1), Group(contributions - extra, voters))
        plans.append(
            ContractPlan(
                listing_contract(contributions, evaluations),
                sizes.listing_users,
                tuple(group for group in groups if group.contributions),
                UP_SHARE_LISTED,
            )
        )
    plans += [
        ContractPlan(
            rate_contract(number), sizes.rate_users, (Group(sizes.rate_contributions, 0),)
        )
        for number in range(sizes.rate_contracts)
    ]
    return plans
