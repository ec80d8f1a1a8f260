"""The measurements of the suite, one method per kind of cell, against a seeded server.

- evaluation latency: one client votes on contributions with ``k`` earlier voters, each vote
  by a user who had not voted on it yet, and each a 1 like every earlier vote, so that every
  earlier voter is rewarded: the most work a vote can cause at that ``k``;
- listing latency: one client asks for the top 20 contributions by score;
- leaderboard latency: one client asks for the top 20 users by reputation (no index
  covers the balances: each asks PostgreSQL to sort the contract's users);
- evaluation throughput: ``n`` clients cast first votes (random users, contributions and
  values, each pair once) for a fixed time, on one contract or spread over several;
- the floor: ``n`` clients call the floor endpoint for the same time.

Latency cells send their requests one after the other (evaluation latency on a new connection
for each turn of :data:`INTERLEAVE` votes, opened before the first is timed) and stop after
their time budget, once they have at least :data:`MINIMUM_SAMPLES` answers.

Every request carries a stored admin token of its contract (the floor's, any of them), which
the server looks up as it looks up every token in production.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .client import Call, Clients, Tally, drive, per_client
from .floor import PATH as FLOOR_PATH
from .plan import Sizes, eval_contract, listing_contract, rate_contract, samples_per_contribution
from .seed import SeededContract

MINIMUM_SAMPLES = 5
INTERLEAVE = 10
"""Votes a community's latency cell sends before the other community's takes its turn."""
RATE_LIMIT = 5_000.0
"""Requests a second that the prepared workload of a throughput cell lasts for: far above
what the server does, so no client runs out (a cell whose client ran out says so)."""
LISTING = "contributions?order_by=-score&limit=20"
LEADERBOARD = "users?order_by=-reputation&limit=20"


@dataclass(frozen=True)
class Cell:
    """One measurement: what the clients saw, and for how long they ran (s)."""

    tally: Tally
    seconds: float

    def percentile(self, fraction: float) -> float:
        """The latency (ms) that ``fraction`` of the answered requests did not exceed
        (nearest rank), NaN without answers."""
        ordered = sorted(self.tally.latencies)
        if not ordered:
            return float("nan")
        rank = min(len(ordered), max(1, int(np.ceil(fraction * len(ordered)))))
        return ordered[rank - 1] * 1000

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return len(self.tally.latencies) / self.seconds if self.seconds else float("nan")


class FreshVotes:
    """The first votes still to cast in a contract without seeded votes: every (user,
    contribution) pair but the contributors' own once, in a random order, with a random
    value."""

    def __init__(self, contract: SeededContract, rng: np.random.Generator) -> None:
        plan = contract.plan
        self.contract = contract
        self.path = f"/{plan.name}/evaluations"
        pairs = rng.permutation(plan.users * plan.contributions)
        users, contributions = np.divmod(pairs, plan.contributions)
        # The contract's n-th contribution is its n-th user's (modulo the users), who may not
        # vote on it.
        self.pairs = pairs[users != contributions % plan.users]
        self.values = rng.integers(0, 2, size=len(self.pairs))
        self.taken = 0

    def take(self) -> Call:
        """The next vote; an error once every pair has been voted."""
        if self.taken == len(self.pairs):
            raise RuntimeError(f"{self.path}: every user has voted on every contribution")
        user, contribution = divmod(int(self.pairs[self.taken]), self.contract.plan.contributions)
        value = int(self.values[self.taken])
        self.taken += 1
        return Call.post(
            self.path,
            self.contract.token,
            {
                "evaluator_id": self.contract.user_id(user),
                "contribution_id": self.contract.contribution_id(contribution),
                "value": value,
            },
        )


class Bench:
    """The cells of one run, measured against the server at ``address``."""

    def __init__(
        self,
        address: tuple[str, int],
        sent_headers: dict[str, str],
        clients: Clients,
        seeded: dict[str, SeededContract],
        sizes: Sizes,
    ) -> None:
        self.address = address
        self.headers = sent_headers
        self.clients = clients
        self.seeded = seeded
        self.sizes = sizes
        rng = np.random.default_rng(2016)
        self.fresh = [
            FreshVotes(seeded[rate_contract(number)], rng)
            for number in range(sizes.rate_contracts)
        ]

    def _one_client(self, calls: list[Call]) -> Cell:
        """Send ``calls`` one after the other within the cell's time budget."""
        started = time.monotonic()
        tally = drive(
            self.address,
            calls,
            self.headers,
            stop_at=started + self.sizes.cell_seconds,
            minimum=MINIMUM_SAMPLES,
        )
        tally.exhausted = False  # running out of calls is the normal end of a latency cell
        return Cell(tally, time.monotonic() - started)

    def evaluation_latencies(self, voters: int) -> dict[int, Cell | None]:
        """For each community (``Sizes.eval_users``): votes on contributions with ``voters``
        earlier voters; None where the contract is too small for that many voters.

        The communities take turns, :data:`INTERLEAVE` votes at a time, so that they are
        compared at the same moments: the speed of a shared machine drifts from one minute
        to the next by more than the difference the comparison looks for.
        """
        pending = {users: self._latency_calls(users, voters) for users in self.sizes.eval_users}
        tallies = {users: Tally() for users, calls in pending.items() if calls is not None}
        seconds = dict.fromkeys(tallies, 0.0)
        while True:
            turns = [
                users
                for users in tallies
                if pending[users]
                and (
                    seconds[users] < self.sizes.cell_seconds
                    or tallies[users].done < MINIMUM_SAMPLES
                )
            ]
            if not turns:
                break
            for users in turns:
                batch, pending[users] = pending[users][:INTERLEAVE], pending[users][INTERLEAVE:]
                started = time.monotonic()
                tallies[users].add(drive(self.address, batch, self.headers))
                seconds[users] += time.monotonic() - started
        for tally in tallies.values():
            tally.exhausted = False  # running out of calls is the normal end of a latency cell
        return {
            users: Cell(tallies[users], seconds[users]) if users in tallies else None
            for users in self.sizes.eval_users
        }

    def _latency_calls(self, users: int, voters: int) -> list[Call] | None:
        """The timed votes of a latency cell, or None when the contract of ``users`` users is
        too small for ``voters`` earlier voters."""
        contract = self.seeded[eval_contract(users)]
        groups = [group.voters for group in contract.plan.groups]
        if voters not in groups:
            return None
        group = groups.index(voters)
        first = contract.group_start(group)
        per_contribution = samples_per_contribution(voters)
        path = f"/{contract.plan.name}/evaluations"
        calls = [
            Call.post(
                path,
                contract.token,
                {
                    "evaluator_id": voter,
                    "contribution_id": contract.contribution_id(index),
                    "value": 1,
                },
            )
            for index in range(first, first + contract.plan.groups[group].contributions)
            for voter in contract.newcomers(index, voters, per_contribution)
        ]
        return calls[: self.sizes.latency_samples]

    def listing_latency(self, contributions: int, evaluations: int) -> Cell:
        """The top 20 by score of the contract of that many contributions and evaluations."""
        contract = self.seeded[listing_contract(contributions, evaluations)]
        call = Call("GET", f"/{contract.plan.name}/{LISTING}", contract.token)
        return self._one_client([call] * self.sizes.listing_samples)

    def leaderboard_latency(self, users: int) -> Cell:
        """The top 20 users by reputation of the latency contract of ``users`` users."""
        contract = self.seeded[eval_contract(users)]
        call = Call("GET", f"/{contract.plan.name}/{LEADERBOARD}", contract.token)
        return self._one_client([call] * self.sizes.listing_samples)

    def _many_clients(self, workloads: list[list[Call]], seconds: float) -> Cell:
        tally, measured = self.clients.run(self.address, workloads, self.headers, seconds)
        return Cell(tally, measured)

    def evaluation_rate(self, contracts: int, clients: int, seconds: float | None = None) -> Cell:
        """``clients`` clients voting for the cell's duration; client ``n``'s ``i``-th vote
        goes to contract ``(n + i) mod contracts``."""
        seconds = seconds or self.sizes.seconds_per_rate
        count = per_client(RATE_LIMIT, seconds, clients)
        workloads = [
            [self.fresh[(number + i) % contracts].take() for i in range(count)]
            for number in range(clients)
        ]
        return self._many_clients(workloads, seconds)

    def floor_rate(self, clients: int) -> Cell:
        """``clients`` clients calling the floor endpoint for the cell's duration."""
        seconds = self.sizes.seconds_per_rate
        # Any stored admin token: the floor, like a vote, pays for looking its token up.
        call = Call.post(FLOOR_PATH, self.fresh[0].contract.token, {})
        count = per_client(RATE_LIMIT, seconds, clients)
        return self._many_clients([[call] * count for _ in range(clients)], seconds)

    def warm_up(self) -> None:
        """Votes from every client on every throughput contract for half a cell's time: the
        server's threads, its connection pool and the clients are up before any measurement."""
        seconds = self.sizes.seconds_per_rate / 2
        self.evaluation_rate(self.sizes.rate_contracts, max(self.sizes.clients), seconds)
