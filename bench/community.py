"""``python -m bench.community``: statistics and leaderboards of a large contract.

Seeds a ``whitepaper1`` contract of 100,000 users, 50,000 contributions and 1,000,000
evaluations spread over a year (10,000 users and 100,000 evaluations with ``--quick``) with
set-based SQL in PostgreSQL: its users, contributions and votes, a ledger entry for every
user's opening balances, every contribution's fee, every vote's fee and reward, and
collective losses with the exemptions of their voters (the seeded balances are for timing,
not the rules' outcome). It serves the contract as the suite does (gunicorn, one worker
process here; the application reads the contract's indexes at start-up, and the time the
server took to answer is reported) and times ``GET /stats`` and ``GET /leaderboard`` of
every period over HTTP: the first request and then the median and the slowest of the next
ones. The target is a median under :data:`TARGET_MS`. Progress goes to stderr, the report
to stdout.

Seeding the full size takes minutes: ``--keep NAME`` seeds the database ``NAME`` once, when
it does not hold the contract yet, and leaves it in place for the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

warnings.filterwarnings("ignore", "pkg_resources is deprecated")

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from backfeed_api.migrations import upgrade_database  # noqa: E402
from tests.concurrency.servers import (  # noqa: E402
    Server,
    database_url,
    free_port,
    scratch_database,
    write_ini,
)

from .report import render  # noqa: E402
from .run import DATABASE_URL, describe_machine, progress  # noqa: E402

TARGET_MS = 500.0
START_TIMEOUT = 600.0
"""Seconds the server may take to start: it reads the contract's indexes first."""
CONTRACT = "big"
KIND = "whitepaper1"
PERIODS = ("day", "week", "month", "year", "all")
METRICS = ("reputation", "tokens", "reputation_gain", "tokens_gain")
DAYS = 365

SEED = [
    """INSERT INTO contracts (name, kind, total_reputation, total_tokens, user_count,
           contribution_count, evaluation_count, action_count, reputation_scale,
           scale_exponent, created_at)
       VALUES (:name, :kind, 0, 0, :users, :contributions, :evaluations,
           :users + :contributions + :evaluations, 1, 0, :start)""",
    # users: one every DAYS * 86400 / users seconds
    """INSERT INTO users (id, contract_id, reputation, tokens, seq, created_at)
       SELECT g, :contract, 1 + (g * 7919 % 1000) / 10.0, 10 + g % 50, g,
           :start + (g - 1) * :span / :users * interval '1 second'
       FROM generate_series(1::bigint, :users) g""",
    """INSERT INTO contributions (id, contract_id, contributor_id, type, max_score,
           token_fund, seq, created_at)
       SELECT g, :contract, 1 + (g * 104729 % :users), 'contribution', 0, 0, :users + g,
           :start + (g - 1) * :span / :contributions * interval '1 second'
       FROM generate_series(1::bigint, :contributions) g""",
    # each user votes on evaluations / users distinct contributions
    """INSERT INTO evaluations (id, contract_id, contribution_id, evaluator_id, value,
           active, seq, created_at)
       SELECT g, :contract, 1 + ((g / :users) * 5003 + g) % :contributions, 1 + g % :users,
           (g % 3 <> 0)::int, true, :users + :contributions + g + 1,
           :start + g * :span / :evaluations * interval '1 second'
       FROM generate_series(0::bigint, :evaluations - 1) g""",
    # the ledger in time order: opening balances, fees, a vote's fee and reward, and a
    # collective loss at every 1000th vote
    """INSERT INTO ledger (contract_id, user_id, cause_type, cause_id, reputation_delta,
           tokens_delta, reputation, tokens, created_at, factor, contribution_id, scale,
           scale_exponent)
       SELECT :contract, user_id, cause_type, cause_id, d_rep, d_tok, rep, tok, created_at,
           factor, contribution_id, scale, 0
       FROM (
           SELECT id AS user_id, 'user' AS cause_type, id AS cause_id, reputation AS d_rep,
               tokens AS d_tok, reputation AS rep, tokens AS tok, created_at, 0 AS part,
               NULL::float8 AS factor, NULL::bigint AS contribution_id, NULL::float8 AS scale
           FROM users WHERE contract_id = :contract
           UNION ALL
           SELECT contributor_id, 'contribution', id, 0, -1, 50, 9, created_at, 0, NULL,
               NULL, NULL
           FROM contributions WHERE contract_id = :contract
           UNION ALL
           SELECT CASE WHEN s = 0 THEN e.evaluator_id ELSE c.contributor_id END,
               'evaluation', e.id, CASE WHEN s = 0 THEN -0.01 ELSE 0.2 END, 0,
               50 + (e.id % 97) / 10.0, 9, e.created_at, s, NULL, NULL, NULL
           FROM evaluations e JOIN contributions c ON c.id = e.contribution_id
           CROSS JOIN generate_series(0, 1) s
           WHERE e.contract_id = :contract
           UNION ALL
           SELECT NULL, 'evaluation', e.id, -1, 0, 1000, 0, e.created_at, 2, 0.9999,
               e.contribution_id, power(0.9999, e.id / 1000 + 1)
           FROM evaluations e WHERE e.contract_id = :contract AND e.id % 1000 = 999
       ) entries
       ORDER BY created_at, cause_type, cause_id, part""",
    """INSERT INTO ledger_exemptions (user_id, ledger_id, reputation, tokens)
       SELECT DISTINCT ON (u, l.id) u, l.id, 50, 9
       FROM ledger l CROSS JOIN generate_series(0, 10) k
       CROSS JOIN LATERAL (SELECT 1 + (l.cause_id + k * 7) % :users AS u) picked
       WHERE l.contract_id = :contract AND l.user_id IS NULL""",
    """UPDATE contracts SET
           total_reputation = (SELECT sum(reputation) FROM users WHERE contract_id = :contract),
           total_tokens = (SELECT sum(tokens) FROM users WHERE contract_id = :contract)
       WHERE id = :contract""",
]


def seed(url: str, users: int, contributions: int, evaluations: int) -> None:
    """The contract, in one transaction per statement."""
    engine = sa.create_engine(url)
    upgrade_database(engine)
    values = {
        "name": CONTRACT,
        "kind": KIND,
        "users": users,
        "contributions": contributions,
        "evaluations": evaluations,
        "span": DAYS * 86400,
        "start": sa.func.now(),
    }
    with engine.begin() as connection:
        start = connection.scalar(sa.text(f"SELECT now() - interval '{DAYS} days'"))
    values["start"] = start
    try:
        for number, statement in enumerate(SEED):
            begun = time.perf_counter()
            with engine.begin() as connection:
                if number == 1:
                    values["contract"] = connection.scalar(
                        sa.text("SELECT id FROM contracts WHERE name = :name"), values
                    )
                connection.execute(sa.text(statement), values)
            progress(f"seed step {number + 1}/{len(SEED)}: {time.perf_counter() - begun:.1f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
            rows = connection.scalar(sa.text("SELECT count(*) FROM ledger"))
        progress(f"seeded: {rows} ledger entries")
    finally:
        engine.dispose()


@contextlib.contextmanager
def kept_database(admin_url: str, name: str) -> Iterator[tuple[str, bool]]:
    """The database ``name``, created when missing and never dropped, and whether it
    already holds the seeded contract."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = database_url(admin_url, name)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            seeded = bool(
                connection.scalar(
                    sa.text(
                        "SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'contracts'"
                    )
                )
                and connection.scalar(
                    sa.text("SELECT count(*) FROM contracts WHERE name = :name"),
                    {"name": CONTRACT},
                )
            )
    finally:
        engine.dispose()
    yield url, seeded


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[tuple[str, bool]]:
    """A scratch database ``name``, dropped afterwards, not seeded yet."""
    with scratch_database(admin_url, name) as url:
        yield url, False


def timed(session: requests.Session, url: str, params: dict) -> float:
    """One GET, in milliseconds; it must succeed."""
    begun = time.perf_counter()
    response = session.get(url, params=params, timeout=120)
    elapsed = (time.perf_counter() - begun) * 1000
    response.raise_for_status()
    return elapsed


def measure(base: str, samples: int) -> list[list[str]]:
    """Rows of the report: per route and period, the first request, the median and the
    slowest of ``samples`` more."""
    session = requests.Session()
    cases = [("stats", {"period": p}) for p in PERIODS] + [
        ("leaderboard", {"metric": m, "period": p, "user_id": 7})
        for m in METRICS
        for p in (PERIODS if m.endswith("_gain") else ("all",))
    ]
    rows = []
    for route, params in cases:
        url = f"{base}/{CONTRACT}/{route}"
        first = timed(session, url, params)
        times = [timed(session, url, params) for _ in range(samples)]
        median = statistics.median(times)
        label = " ".join(f"{k}={v}" for k, v in params.items() if k != "user_id")
        rows.append(
            [
                f"{route} {label}",
                f"{first:.0f}",
                f"{median:.0f}",
                f"{max(times):.0f}",
                "yes" if median < TARGET_MS else "NO",
            ]
        )
        progress(f"{route} {label}: first {first:.0f} ms, p50 {median:.0f} ms")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, measure, print."""
    parser = argparse.ArgumentParser(prog="python -m bench.community", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--samples", type=int, default=15, help="timed requests per row")
    parser.add_argument(
        "--keep", metavar="NAME", help="seed the database NAME once and keep it for later runs"
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (a free one)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    users, contributions, evaluations = 100_000 // scale, 50_000 // scale, 1_000_000 // scale
    with (
        tempfile.TemporaryDirectory() as directory,
        (
            kept_database(DATABASE_URL, args.keep)
            if args.keep
            else fresh_database(DATABASE_URL, "backfeed_bench_community")
        ) as (url, seeded),
    ):
        if seeded:
            progress(f"reusing the contract seeded in {args.keep}, its schema upgraded")
            upgraded = sa.create_engine(url, poolclass=sa.NullPool)
            upgrade_database(upgraded)  # a database kept from an older version
            upgraded.dispose()
        else:
            seed(url, users, contributions, evaluations)
        port = args.port or free_port()
        ini = write_ini(Path(directory) / "bench.ini", url, port, f"{CONTRACT}:{KIND}")
        begun = time.perf_counter()
        with Server(ini, port, Path(directory) / "server.log").start(START_TIMEOUT):
            started = time.perf_counter() - begun
            progress(f"server answering after {started:.1f} s")
            rows = measure(f"http://127.0.0.1:{port}", args.samples)
    print(describe_machine(DATABASE_URL))
    print(
        f"A {KIND} contract of {users:,} users, {contributions:,} contributions and "
        f"{evaluations:,} evaluations over {DAYS} days; one gunicorn worker; "
        f"{args.samples} requests per row after the first; the server answered "
        f"{started:.1f} s after its start (it reads the indexes before it listens)."
    )
    print(render(["request", "first ms", "p50 ms", "max ms", f"p50 < {TARGET_MS:.0f}"], rows))
    return 0 if all(row[-1] == "yes" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
