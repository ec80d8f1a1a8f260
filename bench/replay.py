"""Benchmark of ``backfeed replay``: a what-if replay of a contract of 1,000,000 actions.

Seeds a scratch PostgreSQL database in bulk (:mod:`bench.seed`, not through the API) with
one ``example`` contract of 10,000 users, 10,000 contributions and 980,000 votes, then runs
``backfeed replay`` on it in a child process, as an operator would, with an override and
its CSV, and prints the wall time, CPU time and peak memory against the target: under
60 s. It also times the two halves in this process: reading the history from one snapshot,
and replaying it through the engine.

Run ``python -m bench.replay --database-url URL`` (``make bench-replay``); ``--quick`` seeds
20,000 actions and its figures are not judged.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

# Pyramid imports pkg_resources, which warns on every start; the report has no use for it.
warnings.filterwarnings("ignore", "pkg_resources is deprecated")

import sqlalchemy as sa  # noqa: E402

from tests.concurrency.servers import scratch_database  # noqa: E402

from .plan import ContractPlan, Group  # noqa: E402
from .report import render  # noqa: E402
from .run import DATABASE_URL, describe_machine, progress  # noqa: E402
from .seed import contract_setting, seed  # noqa: E402

SECONDS_TARGET = 60.0
FULL = ContractPlan("replayed", users=10_000, groups=(Group(10_000, 98),), up_share=0.7)
QUICK = ContractPlan("replayed", users=1_000, groups=(Group(1_000, 18),), up_share=0.7)


def actions(plan: ContractPlan) -> int:
    """How many actions the plan's contract holds."""
    return plan.users + plan.contributions + plan.evaluations


def in_process(url: str, plan: ContractPlan) -> tuple[float, float]:
    """Seconds to read the contract's history from one snapshot, and to replay it."""
    from backfeed_api.domain.catalog import load_catalog
    from backfeed_api.domain.replay import load_history, replay, what_if_rules
    from backfeed_api.models import dialect_of, get_session_factory

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    snapshot = dialect_of(engine).snapshot(engine)
    try:
        settings = {"backfeed.contracts": contract_setting([plan])}
        with get_session_factory(snapshot)() as session, session.begin():
            contract = load_catalog(session, settings, datetime.now(UTC)).get(plan.name)
            started = time.perf_counter()
            history = load_history(session, contract.row_id)
            read = time.perf_counter() - started
        rules = what_if_rules(contract.rules, {"article.stake": 0.05})
        started = time.perf_counter()
        replay(history, rules)
        return read, time.perf_counter() - started
    finally:
        engine.dispose()


def command(url: str, plan: ContractPlan, directory: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak bytes of ``backfeed replay`` in a child process."""
    ini = directory / "replay.ini"
    ini.write_text(
        f"[app:main]\nuse = egg:backfeed-api\nsqlalchemy.url = {url}\n"
        f"backfeed.contracts = {contract_setting([plan])}\n",
        encoding="utf-8",
    )
    arguments = [sys.executable, "-m", "backfeed_api.cli", "replay", str(ini)]
    arguments += ["--contract", plan.name, "--override", "article.stake=0.05"]
    arguments += ["--csv", str(directory / "users.csv")]
    started = time.perf_counter()
    child = subprocess.Popen(arguments, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit("backfeed replay failed")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    """Seed, replay, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="20,000 actions, not judged")
    parser.add_argument(
        "--database-url",
        default=DATABASE_URL,
        help="a PostgreSQL database whose user may create databases (as for python -m bench)",
    )
    options = parser.parse_args(argv)
    plan = QUICK if options.quick else FULL
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-bench-") as directory,
        scratch_database(options.database_url, f"bench_replay_{os.getpid()}") as url,
    ):
        progress(f"seeding {actions(plan):,} actions")
        seeding = seed(url, [plan])
        progress(f"seeded in {seeding.seconds:.1f} s; replaying")
        read, replayed = in_process(url, plan)
        seconds, cpu, peak = command(url, plan, Path(directory))
        print(f"backfeed replay benchmark, {'quick' if options.quick else 'full'} run")
        print(describe_machine(url))
    judged = not options.quick
    met = ("yes" if seconds < SECONDS_TARGET else "NO") if judged else ""
    rows = [
        [
            f"backfeed replay, {actions(plan):,} actions, with its CSV",
            f"{seconds:.1f} s",
            f"< {SECONDS_TARGET:.0f} s",
            met,
        ],
        ["  its CPU time", f"{cpu:.1f} s", "", ""],
        ["  its peak memory", f"{peak / 1024**2:,.0f} MB", "", ""],
        ["reading the history (one snapshot)", f"{read:.1f} s", "", ""],
        ["replaying it through the engine", f"{replayed:.1f} s", "", ""],
        ["  per action", f"{1e6 * replayed / actions(plan):.0f} µs", "", ""],
    ]
    print()
    print(render(["measurement", "figure", "target", "met"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
