"""``python -m bench``: seed a scratch database, serve it, measure every cell, print the table.

The database is created next to the one ``--database-url`` names (whose user must be allowed
to create databases), called ``bench_<pid>``, and dropped at the end; so is the server.
Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from tests.concurrency.servers import scratch_database

from .cells import Bench, Cell
from .client import MODES, Clients, headers
from .plan import FULL, QUICK, Sizes, contract_plans
from .report import Results, table
from .seed import Seeding, seed
from .server import production_server, serving

DATABASE_URL = (
    os.environ.get("BACKFEED_BENCH_DATABASE_URL")
    or os.environ.get("BACKFEED_TEST_DATABASE_URL")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def progress(message: str) -> None:
    """Say on stderr what the run is doing."""
    print(f"  {message}", file=sys.stderr, flush=True)


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def postgresql_version(url: str) -> str:
    """The version of the PostgreSQL server at ``url``, and whether commits wait for the
    disk (which sets the floor of every write)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            version = connection.scalar(sa.text("SHOW server_version"))
            durability = connection.scalar(sa.text("SHOW synchronous_commit"))
    finally:
        engine.dispose()
    return f"{version}, synchronous_commit {durability}"


def command(options: argparse.Namespace) -> str:
    """The command line of this run."""
    words = ["python", "-m", "bench"] + ["--quick"] * options.quick
    if options.clients != "processes":
        words += ["--clients", options.clients]
    return shlex.join(words)


def describe_machine(url: str) -> str:
    """The line saying what the run ran on: CPUs, PostgreSQL at ``url``, Python."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: {cpus} CPUs ({cpu_model()}), PostgreSQL {postgresql_version(url)}, "
        f"Python {platform.python_version()}"
    )


def describe(options: argparse.Namespace, url: str, seeding: Seeding) -> str:
    """The lines above the table: the command, the machine, the software and the seeding."""
    evaluations = sum(c.plan.evaluations for c in seeding.contracts.values())
    largest = max(seeding.contracts.values(), key=lambda c: (c.plan.evaluations, c.seconds))
    return "\n".join(
        [
            f"backfeed-api benchmark, {'quick' if options.quick else 'full'} run, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"command: {command(options)}",
            describe_machine(url),
            f"server: gunicorn, {production_server('workers')} workers of "
            f"{production_server('threads')} threads (production.ini); "
            f"clients: {options.clients}",
            f"seeded {len(seeding.contracts)} contracts, {evaluations:,} evaluations in "
            f"{seeding.seconds:.1f} s: {largest.plan.name} (its "
            f"{largest.plan.evaluations:,} evaluations and all its other rows) in "
            f"{largest.seconds:.1f} s, then every index built in {seeding.index_seconds:.1f} s",
        ]
    )


def measure(bench: Bench, sizes: Sizes) -> Results:
    """Every cell, in the order of the table."""

    def done(label: str, cell: Cell | None) -> Cell | None:
        progress(f"{label}: " + ("n/a" if cell is None else f"{cell.tally.done} requests"))
        return cell

    bench.warm_up()
    results = Results({}, {}, {}, {}, {})
    for k in sizes.voter_counts:
        for users, cell in bench.evaluation_latencies(k).items():
            results.evaluations[users, k] = done(
                f"evaluation latency, {users:,} users, k={k:,}", cell
            )
    for contributions, evaluations in sizes.listings:
        results.listings[contributions, evaluations] = done(
            f"top 20 of {contributions:,} contributions, {evaluations:,} evaluations",
            bench.listing_latency(contributions, evaluations),
        )
    for users in sizes.eval_users:
        results.leaderboards[users] = done(
            f"top 20 users by reputation, {users:,} users", bench.leaderboard_latency(users)
        )
    for contracts in (1, sizes.rate_contracts):
        for clients in sizes.clients:
            results.rates[contracts, clients] = done(
                f"evaluations/s, clients: {clients}, contracts: {contracts}",
                bench.evaluation_rate(contracts, clients),
            )
    for clients in sizes.clients:
        results.floors[clients] = done(f"floor, clients: {clients}", bench.floor_rate(clients))
    return results


def run(options: argparse.Namespace) -> int:
    """Seed, serve, measure and print; the exit status is 0 unless a request failed."""
    sizes = QUICK if options.quick else FULL
    plans = contract_plans(sizes)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-bench-") as directory,
        scratch_database(options.database_url, f"bench_{os.getpid()}") as url,
    ):
        progress(f"seeding {len(plans)} contracts")
        seeding = seed(url, plans)
        progress(f"seeded in {seeding.seconds:.1f} s; starting the server")
        with (
            serving(url, plans, Path(directory)) as server,
            Clients(options.clients, max(sizes.clients)) as clients,
        ):
            address = ("127.0.0.1", server.port)
            bench = Bench(address, headers(), clients, seeding.contracts, sizes)
            results = measure(bench, sizes)
        print(describe(options, url, seeding))
    print()
    print(table(results, sizes))
    print()
    print(f"total {time.perf_counter() - started:.0f} s")
    cells = [*results.evaluations.values(), *results.listings.values()]
    cells += [*results.leaderboards.values(), *results.rates.values(), *results.floors.values()]
    failed = [cell.tally.first_error for cell in cells if cell is not None and cell.tally.errors]
    for error in failed:
        print(f"failed: {error}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the suite."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run of a few seconds")
    parser.add_argument(
        "--clients",
        choices=MODES,
        default="processes",
        help="run the concurrent clients in processes (default) or in threads of one process",
    )
    parser.add_argument(
        "--database-url",
        default=DATABASE_URL,
        help="a PostgreSQL database on the server to use, whose user may create databases "
        "(default: $BACKFEED_BENCH_DATABASE_URL, else $BACKFEED_TEST_DATABASE_URL, else the "
        "postgres database on 127.0.0.1)",
    )
    options = parser.parse_args(argv)
    return run(options)
