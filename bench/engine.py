"""Benchmark of the scoring engine, through the in-memory :class:`protocol.Simulation`.

Two measurements, printed as tables:

1. Evaluations per second on one contribution as its active evaluators grow (k earlier
   voters), in a community of 1,000 and of 100,000 users. The measured votes are re-votes
   that flip an existing voter's value, so k stays fixed while timing. For ``example`` and
   ``dmag`` the cost should follow k and not the size of the community; ``whitepaper1``
   reads every non-voter's reputation, so its cost follows the community.
2. The wall time to replay random evaluations (100,000 over 10,000 users and 1,000
   contributions) for each kind, from a seeded numpy generator.

Run ``python -m bench.engine`` (``make bench-engine``; a few minutes at most) or add
``--quick`` for a smaller run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

import protocol
from protocol import Simulation
from protocol.parameters import MAX_VOTE_CHANGES

from .report import render

KINDS = ("example", "dmag", "whitepaper1")
START = 1_000_000.0


@dataclass(frozen=True)
class Plan:
    """The sizes of one benchmark run."""

    communities: tuple[int, ...]
    voter_counts: tuple[int, ...]
    seconds_per_rate: float
    replay_evaluations: int
    replay_users: int
    replay_contributions: int


FULL = Plan(
    communities=(1_000, 100_000),
    voter_counts=(1, 100, 1_000, 10_000),
    seconds_per_rate=0.4,
    replay_evaluations=100_000,
    replay_users=10_000,
    replay_contributions=1_000,
)
QUICK = Plan(
    communities=(1_000, 10_000),
    voter_counts=(1, 100, 1_000),
    seconds_per_rate=0.15,
    replay_evaluations=10_000,
    replay_users=1_000,
    replay_contributions=100,
)


OVERRIDES = {"max_vote_changes": MAX_VOTE_CHANGES, "allow_self_evaluation": True}
"""The rules as shipped, but votes may change without (practical) limit and contributors may
vote on their own: the re-votes that keep k fixed while timing, and the replay's random
votes, would otherwise be refused."""


def community(kind: str, users: int, rng: np.random.Generator) -> Simulation:
    """A simulation of ``kind`` with ``users`` users of random reputation (1 to 100).

    Reputation is given explicitly so that ``dmag``, whose users start at 0, does real work.
    """
    simulation = Simulation(protocol.create_contract(kind, OVERRIDES), clock=lambda: START)
    for reputation in rng.uniform(1.0, 100.0, size=users).tolist():
        simulation.create_user(reputation=reputation, tokens=50.0)
    return simulation


def evaluations_per_second(
    simulation: Simulation,
    contribution: int,
    voters: list[int],
    values: dict[int, int],
    seconds: float,
) -> float:
    """Time re-votes by ``voters`` in turn, each flipping its value, for about ``seconds``."""
    batch = 50
    done = 0
    turn = 0
    started = time.perf_counter()
    while True:
        for _ in range(batch):
            voter = voters[turn % len(voters)]
            turn += 1
            values[voter] = 1 - values[voter]
            simulation.evaluate(voter, contribution, values[voter])
        done += batch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def growth_table(plan: Plan, rng: np.random.Generator) -> list[list[str]]:
    """Rows of (community, kind, evaluations/s for each k)."""
    rows = []
    for users in plan.communities:
        for kind in KINDS:
            simulation = community(kind, users, rng)
            contribution = simulation.create_contribution(1)
            values: dict[int, int] = {}
            voters: list[int] = []
            row = [f"{users:,}", kind]
            for k in plan.voter_counts:
                if k >= users:
                    row.append("n/a")  # k voters need more than k users
                    continue
                while len(voters) < k:
                    voter = len(voters) + 2  # user 1 is the contributor
                    values[voter] = int(rng.integers(0, 2))
                    simulation.evaluate(voter, contribution, values[voter])
                    voters.append(voter)
                rate = evaluations_per_second(
                    simulation, contribution, voters, values, plan.seconds_per_rate
                )
                row.append(f"{rate:,.0f}")
            rows.append(row)
            print(f"  measured {kind} in a community of {users:,}", file=sys.stderr)
    return rows


def replay_table(plan: Plan, rng: np.random.Generator) -> list[list[str]]:
    """Rows of (kind, wall time, evaluations/s, recorded, no-ops) for the random replay."""
    rows = []
    for kind in KINDS:
        simulation = community(kind, plan.replay_users, rng)
        types = sorted(simulation.contract.params.types)
        authors = rng.integers(1, plan.replay_users + 1, size=plan.replay_contributions)
        kinds = rng.integers(0, len(types), size=plan.replay_contributions)
        for author, type_index in zip(authors.tolist(), kinds.tolist(), strict=True):
            simulation.create_contribution(author, types[type_index])
        evaluators = rng.integers(1, plan.replay_users + 1, size=plan.replay_evaluations)
        targets = rng.integers(1, plan.replay_contributions + 1, size=plan.replay_evaluations)
        votes = rng.integers(0, 2, size=plan.replay_evaluations)

        started = time.perf_counter()
        recorded = 0
        for evaluator, target, vote in zip(
            evaluators.tolist(), targets.tolist(), votes.tolist(), strict=True
        ):
            recorded += simulation.evaluate(evaluator, target, vote).created
        elapsed = time.perf_counter() - started

        rows.append(
            [
                kind,
                f"{elapsed:.2f} s",
                f"{plan.replay_evaluations / elapsed:,.0f}",
                f"{recorded:,}",
                f"{plan.replay_evaluations - recorded:,}",
            ]
        )
        print(f"  replayed {kind}", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run both measurements, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument("--seed", type=int, default=2016, help="seed of the random generator")
    options = parser.parse_args(argv)
    plan = QUICK if options.quick else FULL
    rng = np.random.default_rng(options.seed)
    started = time.perf_counter()

    print(
        f"backfeed scoring engine benchmark ({'quick' if options.quick else 'full'} run, "
        f"seed {options.seed}): Python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    print()
    print("Evaluations per second on one contribution with k active evaluators (re-votes)")
    headers = ["community", "kind"] + [f"k={k:,}" for k in plan.voter_counts]
    print(render(headers, growth_table(plan, rng), left=2))
    print()
    print(
        f"Replay of {plan.replay_evaluations:,} random evaluations over "
        f"{plan.replay_users:,} users and {plan.replay_contributions:,} contributions"
    )
    headers = ["kind", "wall time", "evaluations/s", "recorded", "no-ops"]
    print(render(headers, replay_table(plan, rng)))
    print()
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
