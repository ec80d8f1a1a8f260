"""``python -m bench.batches``: votes per second sent one at a time and in batches.

It serves a scratch PostgreSQL database (next to ``BACKFEED_BENCH_DATABASE_URL``, else
``BACKFEED_TEST_DATABASE_URL``) with a server of ``production.ini``'s workers and threads,
seeds one ``example`` contract (:data:`VOTERS` voters, :data:`CONTRIBUTIONS`
contributions), then, for each batch size of ``--sizes`` (1, 10 and 100 by default),
:data:`CLIENTS` client processes send ``POST /{contract}/evaluations/batch`` for
``--seconds``, each batch of new votes (every voter votes once on each contribution, so no
vote is a repeat and no change is refused). It prints, per size, the batches and votes
applied, votes per second and the median and 90th percentile latency of a batch. Every loop
is bounded in count and time; the server listens on 127.0.0.1 only and is stopped by its
PID.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tests.concurrency.servers import ADMIN_TOKEN, HOST, initdb, scratch_database, write_ini

from .login_flood import percentile, serve
from .run import DATABASE_URL

CLIENTS = 16
VOTERS = 200
CONTRIBUTIONS = 250
TIMEOUT = 600.0
"""Seconds a client waits for an answer: 16 batches of 100 votes queue for one contract
lock, and a busy machine can take minutes to serve them all."""
MAX_BATCHES = 100_000
"""The most batches one client sends in a phase, whatever its duration."""


def post(connection: http.client.HTTPConnection, path: str, body: dict) -> tuple[int, dict]:
    """A POST with the admin token; its status and JSON body."""
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
    connection.request("POST", path, body=payload, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def seed(port: int) -> tuple[list[int], list[int]]:
    """The voters and contributions of the contract: (voter ids, contribution ids)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    users = [post(connection, "/example/users", {"tokens": 1e6})[1]["id"] for _ in range(20)]
    voters = [post(connection, "/example/users", {})[1]["id"] for _ in range(VOTERS)]
    made = [
        post(connection, "/example/contributions", {"contributor_id": users[i % 20]})[1]["id"]
        for i in range(CONTRIBUTIONS)
    ]
    connection.close()
    return voters, made


def client(port: int, votes: list[tuple[int, int]], size: int, stop_at: float) -> list[float]:
    """Send batches of ``size`` of ``votes`` in order until ``stop_at`` or the votes run
    out; the latency of each applied batch, in ms."""
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    latencies = []
    for start in range(0, min(len(votes), MAX_BATCHES * size), size):
        if time.time() >= stop_at:
            break
        items = [
            {"evaluator_id": voter, "contribution_id": contribution, "value": 1}
            for voter, contribution in votes[start : start + size]
        ]
        began = time.monotonic()
        status, body = post(connection, "/example/evaluations/batch", {"evaluations": items})
        if status != 201:
            raise RuntimeError(f"a batch answered {status}: {body}")
        latencies.append((time.monotonic() - began) * 1000)
    connection.close()
    return latencies


def measure(port: int, votes: list[tuple[int, int]], size: int, seconds: float) -> dict:
    """:data:`CLIENTS` clients sending batches of ``size`` for ``seconds``, each its own
    share of ``votes``; batches, votes and latencies."""
    shares = [votes[n::CLIENTS] for n in range(CLIENTS)]
    began = time.monotonic()
    stop_at = time.time() + seconds
    with ProcessPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, port, share, size, stop_at) for share in shares]
        latencies = [latency for future in futures for latency in future.result()]
    elapsed = time.monotonic() - began
    return {
        "batches": len(latencies),
        "votes": len(latencies) * size,
        "seconds": elapsed,
        "latencies": latencies,
    }


def report(results: dict[int, dict]) -> str:
    """The table of the run."""
    lines = [
        f"{'batch size':>10} {'batches':>8} {'votes':>7} {'votes/s':>8} {'p50 ms':>8} "
        f"{'p90 ms':>8}",
        "",
    ]
    for size, result in results.items():
        latencies = result["latencies"]
        lines.append(
            f"{size:>10} {result['batches']:>8} {result['votes']:>7} "
            f"{result['votes'] / result['seconds']:>8.0f} {statistics.median(latencies):>8.1f} "
            f"{percentile(latencies, 0.9):>8.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Seed, run every batch size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--sizes", default="1,10,100", help="batch sizes, comma-separated")
    options = parser.parse_args(argv)
    if not 1 <= options.seconds <= 120:
        parser.error("--seconds must be between 1 and 120")
    sizes = [int(size) for size in options.sizes.split(",")]
    if not all(1 <= size <= 100 for size in sizes):
        parser.error("--sizes must be from 1 to 100")
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-batches-") as folder,
        scratch_database(DATABASE_URL, f"backfeed_batches_{os.getpid()}") as url,
    ):
        directory = Path(folder)
        initdb(write_ini(directory / "initdb.ini", url, 1, "example"))
        with serve(directory, url, {}) as server:
            voters, made = seed(server.port)
            # voter after voter, each over every contribution: voters pile up evenly
            pairs = [(voter, contribution) for voter in voters for contribution in made]
            results = {}
            for number, size in enumerate(sizes):
                # each phase votes on contributions of its own: every vote is a new one
                phase = pairs[number :: len(sizes)]
                results[size] = measure(server.port, phase, size, options.seconds)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
