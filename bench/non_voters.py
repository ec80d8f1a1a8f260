"""``python -m bench.non_voters``: what a ``whitepaper1`` vote costs as its community grows.

A ``whitepaper1`` vote takes reputation from every user who has not voted on the
contribution, so its cost could follow the size of the community rather than the number of
its earlier voters. This seeds two ``whitepaper1`` contracts alike but for their number of
users (1,000 and 100,000; 100 and 1,000 with ``--quick``), each with contributions of ``k``
earlier voters (:mod:`bench.seed`, every seeded vote a 1), serves them as the suite does
(:mod:`bench.server`) and times first votes of 1 on those contributions over HTTP, the two
communities taking turns (:meth:`bench.cells.Bench.evaluation_latencies`). It prints, per
community and ``k``, the votes' median and 99th percentile latency and the rows they wrote
per vote (to the ledger and its exemptions), then the ratio of the two communities'
medians, whose target is :data:`RATIO_TARGET`. Progress goes to stderr, the report to
stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

# Pyramid imports pkg_resources, which warns on every start; the report has no use for it.
warnings.filterwarnings("ignore", "pkg_resources is deprecated")

import sqlalchemy as sa  # noqa: E402

from tests.concurrency.servers import scratch_database  # noqa: E402

from .cells import Bench, Cell  # noqa: E402
from .client import Clients, headers  # noqa: E402
from .plan import ContractPlan, Sizes, eval_contract, latency_groups  # noqa: E402
from .report import render  # noqa: E402
from .run import DATABASE_URL, describe_machine, progress  # noqa: E402
from .seed import SeededContract, seed  # noqa: E402
from .server import serving  # noqa: E402

KIND = "whitepaper1"
RATIO_TARGET = 2.0
"""The largest ratio of the median vote latency in the large community to the small one."""
WARM_UP_K = 1
"""The earlier voters of the contributions voted on, untimed, before the measurement."""


@dataclass(frozen=True)
class Run:
    """The sizes of one run: the two communities, the ``k`` measured, the samples."""

    users: tuple[int, int]
    voter_counts: tuple[int, ...]
    samples: int
    cell_seconds: float

    def sizes(self) -> Sizes:
        """The run as the suite's sizes, with no listing or throughput cell."""
        return Sizes(
            eval_users=self.users,
            voter_counts=(WARM_UP_K, *self.voter_counts),
            latency_samples=self.samples,
            listings=(),
            listing_users=0,
            listing_samples=0,
            cell_seconds=self.cell_seconds,
            clients=(1,),
            rate_contracts=0,
            rate_users=0,
            rate_contributions=0,
            seconds_per_rate=0.0,
        )

    def plans(self) -> list[ContractPlan]:
        """One ``whitepaper1`` contract per community."""
        sizes = self.sizes()
        return [
            ContractPlan(eval_contract(users), users, latency_groups(users, sizes), kind=KIND)
            for users in self.users
        ]


FULL = Run(users=(1_000, 100_000), voter_counts=(10, 100), samples=100, cell_seconds=20.0)
QUICK = Run(users=(100, 1_000), voter_counts=(10,), samples=10, cell_seconds=2.0)


ROWS = sa.text(
    """
    SELECT (SELECT count(*) FROM ledger WHERE contract_id = :id)
         + (SELECT count(*) FROM ledger_exemptions AS e JOIN ledger AS l ON l.id = e.ledger_id
            WHERE l.contract_id = :id)
    """
)


def ledger_rows(url: str, contracts: list[SeededContract]) -> dict[int, int]:
    """How many rows of the ledger and of its exemptions each contract (by row id) holds."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return {
                contract.row_id: connection.scalar(ROWS, {"id": contract.row_id})
                for contract in contracts
            }
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Measured:
    """One community at one ``k``: its votes' latencies and the rows they wrote to the
    ledger and its exemptions."""

    cell: Cell
    rows: int

    @property
    def rows_per_vote(self) -> float:
        """Rows written per answered vote."""
        answered = len(self.cell.tally.latencies)
        return self.rows / answered if answered else float("nan")


def measure(
    bench: Bench, url: str, seeded: dict[str, SeededContract], run: Run
) -> dict[tuple[int, int], Measured]:
    """Every (users, k) of the run, after an untimed warm-up."""
    contracts = [seeded[eval_contract(users)] for users in run.users]
    bench.evaluation_latencies(WARM_UP_K)
    results = {}
    for k in run.voter_counts:
        before = ledger_rows(url, contracts)
        cells = bench.evaluation_latencies(k)
        after = ledger_rows(url, contracts)
        for users in run.users:
            cell = cells[users]
            if cell is None:
                raise RuntimeError(f"{users:,} users are too few for k={k:,}")
            row_id = seeded[eval_contract(users)].row_id
            results[users, k] = Measured(cell, after[row_id] - before[row_id])
            progress(f"{users:,} users, k={k:,}: {cell.tally.done} votes")
    return results


def report(results: dict[tuple[int, int], Measured], run: Run) -> str:
    """The table: one row per community and ``k``, then the ratio of the medians per ``k``."""
    small, large = run.users
    rows = []
    for k in run.voter_counts:
        for users in run.users:
            measured = results[users, k]
            tally = measured.cell.tally
            rows.append(
                [
                    f"{KIND} vote, {users:,} users, k={k:,}",
                    f"{len(tally.latencies):,}",
                    f"{tally.errors:,}",
                    f"{measured.cell.percentile(0.5):,.1f}",
                    f"{measured.cell.percentile(0.99):,.1f}",
                    f"{measured.rows_per_vote:,.1f}",
                ]
            )
    lines = [
        render(["measurement", "n", "errors", "p50 ms", "p99 ms", "rows/vote"], rows),
        "",
    ]
    for k in run.voter_counts:
        ratio = results[large, k].cell.percentile(0.5) / results[small, k].cell.percentile(0.5)
        verdict = "yes" if ratio <= RATIO_TARGET else "NO"
        lines.append(
            f"p50 {large:,} users / {small:,} users, k={k:,}: {ratio:.2f}x "
            f"(target ≤ {RATIO_TARGET:g}x: {verdict})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, measure and print; the exit status is 0 unless a vote failed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.non_voters", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small communities, a few seconds")
    parser.add_argument(
        "--database-url",
        default=DATABASE_URL,
        help="a PostgreSQL database whose user may create databases (as for python -m bench)",
    )
    options = parser.parse_args(argv)
    run = QUICK if options.quick else FULL
    plans = run.plans()
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-bench-") as directory,
        scratch_database(options.database_url, f"bench_{os.getpid()}") as url,
    ):
        progress(f"seeding {len(plans)} {KIND} contracts")
        seeding = seed(url, plans)
        progress(f"seeded in {seeding.seconds:.1f} s; starting the server")
        with serving(url, plans, Path(directory)) as server:
            clients = Clients("threads", 1)  # latency cells use one client of their own
            bench = Bench(
                ("127.0.0.1", server.port), headers(), clients, seeding.contracts, run.sizes()
            )
            results = measure(bench, url, seeding.contracts, run)
        print(
            f"backfeed-api {KIND} community benchmark, {'quick' if options.quick else 'full'} run"
        )
        print(describe_machine(url))
    print()
    print(report(results, run))
    print()
    print(f"total {time.perf_counter() - started:.0f} s")
    failed = [m.cell.tally.first_error for m in results.values() if m.cell.tally.errors]
    for error in failed:
        print(f"failed: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
