"""Load benchmark of the HTTP API: votes per second and latency of a real waitress server.

Creates a scratch PostgreSQL database, starts ``pserve`` on 127.0.0.1 with four contracts of
kind ``example``, seeds users and contributions through the API, then for 1, 4 and 16 client
threads sends votes (``POST /{contract}/evaluations``) for ``--duration`` seconds per cell,
all on one contract (every write waits for that contract's lock) or spread over four, and
prints one table. The server and the database are removed afterwards.

    .venv/bin/python bench/load.py --duration 5
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.concurrency.servers import (  # noqa: E402  (the repository root, just above)
    Server,
    admin_session,
    free_port,
    initdb,
    scratch_database,
    write_ini,
)

CONTRACTS = ["example", "c2", "c3", "c4"]
SETTING = "example c2:example c3:example c4:example"
DEFAULT_ADMIN_URL = os.environ.get(
    "BACKFEED_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MAX_REQUESTS_PER_THREAD = 100_000
TIMEOUT = (5.0, 30.0)


@dataclass
class Cell:
    """What one measurement saw: latencies of the answered votes, and the failures."""

    contracts: int
    clients: int
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def percentile(self, fraction: float) -> float:
        """The latency (ms) below which ``fraction`` of the answered votes fall."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index] * 1000

    def row(self) -> str:
        rate = len(self.latencies) / self.elapsed if self.elapsed else 0.0
        return (
            f"{self.contracts:>9} {self.clients:>7} {rate:>8.1f} {self.percentile(0.5):>8.1f}"
            f" {self.percentile(0.99):>8.1f} {len(self.latencies):>7} {self.errors:>6}"
        )


HEADER = (
    f"{'contracts':>9} {'clients':>7} {'evals/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    f" {'votes':>7} {'errors':>6}"
)


def seed(url: str, contract: str, users: int, contributions: int) -> tuple[list, list]:
    """Create users and contributions through the API; their ids."""
    with admin_session() as session:

        def create(kind: str, body: dict) -> int:
            response = session.post(f"{url}/{contract}/{kind}", json=body, timeout=TIMEOUT)
            response.raise_for_status()
            return response.json()["id"]

        user_ids = [create("users", {}) for _ in range(users)]
        contribution_ids = [
            create("contributions", {"contributor_id": user_ids[n % users]})
            for n in range(contributions)
        ]
    return user_ids, contribution_ids


def measure(
    url: str, population: dict[str, tuple[list, list]], contracts: int, clients: int, duration
) -> Cell:
    """``clients`` threads voting for ``duration`` seconds, client n on contract n mod k."""
    cell = Cell(contracts, clients)
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1, timeout=30)
    stop = threading.Event()

    def client(number: int) -> None:
        contract = CONTRACTS[number % contracts]
        users, contributions = population[contract]
        rng = random.Random(number)
        latencies, errors = [], 0
        with admin_session() as session:
            barrier.wait()
            for _ in range(MAX_REQUESTS_PER_THREAD):
                if stop.is_set():
                    break
                body = {
                    "evaluator_id": rng.choice(users),
                    "contribution_id": rng.choice(contributions),
                    "value": rng.choice((0, 1)),
                }
                started = time.perf_counter()
                try:
                    response = session.post(
                        f"{url}/{contract}/evaluations", json=body, timeout=TIMEOUT
                    )
                    ok = response.status_code in (200, 201)
                except requests.RequestException:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
        with lock:
            cell.latencies += latencies
            cell.errors += errors

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT[1] + 5)
    cell.elapsed = time.perf_counter() - started
    return cell


def run(args: argparse.Namespace) -> int:
    layouts = [1, len(CONTRACTS)]
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-bench-") as directory,
        scratch_database(args.database_url, f"backfeed_bench_{os.getpid()}") as database,
    ):
        port = free_port()
        ini = write_ini(
            Path(directory) / "bench.ini", database, port, SETTING, threads=args.server_threads
        )
        initdb(ini)
        with Server(ini, port, Path(directory) / "server.log").start() as server:
            population = {
                contract: seed(server.url, contract, args.users, args.contributions)
                for contract in CONTRACTS
            }
            measure(server.url, population, len(CONTRACTS), len(CONTRACTS), 1.0)  # warm-up
            print(
                f"waitress threads={args.server_threads}, {args.users} users and "
                f"{args.contributions} contributions per contract, {args.duration:g} s per cell"
            )
            print(HEADER, flush=True)
            for contracts in layouts:
                for clients in args.threads:
                    cell = measure(server.url, population, contracts, clients, args.duration)
                    print(cell.row(), flush=True)
    return 0


def thread_counts(text: str) -> list[int]:
    """``1,4,16`` → [1, 4, 16]."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        message = f"not a comma-separated list of numbers: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration",
        type=float,
        default=3.0,
        help="seconds per cell (default 3, at most 60)",
    )
    parser.add_argument(
        "--threads",
        type=thread_counts,
        default=[1, 4, 16],
        help="client thread counts, comma-separated (default 1,4,16)",
    )
    parser.add_argument("--users", type=int, default=40, help="users per contract")
    parser.add_argument("--contributions", type=int, default=10, help="contributions per contract")
    parser.add_argument("--server-threads", type=int, default=8, help="waitress threads")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_ADMIN_URL,
        help="a PostgreSQL database whose user may create the scratch database",
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 60:
        parser.error("--duration must be more than 0 and at most 60")
    if not all(0 < n <= 64 for n in args.threads):
        parser.error("--threads must be between 1 and 64")
    if args.users < 2 or args.contributions < 1:
        parser.error("need at least 2 users and 1 contribution per contract")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
