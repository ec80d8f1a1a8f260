"""``python -m bench.login_flood``: what a flood of logins does to everyone else's requests,
with the rate limits off and on, in one run.

It serves a scratch PostgreSQL database (next to ``BACKFEED_BENCH_DATABASE_URL``, else
``BACKFEED_TEST_DATABASE_URL``) with the service's own server runner, in
``production.ini``'s workers and threads, twice: with
``backfeed.rate_limits = false``, then with the default limits counted in Redis
(``BACKFEED_BENCH_REDIS_URL``, ``redis://127.0.0.1:6379/0`` by default, under a key prefix
of this run). Against each, a probe reads ``GET /example`` with the admin token every
:data:`PROBE_INTERVAL` seconds, first alone, then while :data:`FLOODERS` client processes
log in as fast as they can with a right password (an scrypt hash and a stored token each,
when not refused). It prints the probe's median and 90th percentile latency in both phases,
and what the flood got. Every phase lasts ``--seconds`` and every loop is bounded in count;
the servers listen on 127.0.0.1 only and are stopped by their PID.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

warnings.filterwarnings("ignore", "pkg_resources is deprecated")

from tests.concurrency.servers import (  # noqa: E402  (after the filter: Pyramid)
    ADMIN_TOKEN,
    HOST,
    Server,
    free_port,
    initdb,
    scratch_database,
    write_ini,
)

from .run import DATABASE_URL  # noqa: E402
from .server import production_server  # noqa: E402

FLOODERS = 16
PROBE_INTERVAL = 0.05
MAX_REQUESTS = 100_000
"""The most requests one client sends in a phase, whatever its duration."""
TIMEOUT = 60.0
USERNAME, PASSWORD = "flood", "a long passphrase nobody guesses"


def request(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
) -> int:
    """Send one request on a keep-alive connection and read its answer; its status."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    payload = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def flood(port: int, stop_at: float) -> Counter:
    """One flooding client: logins one after the other until ``stop_at``; their statuses."""
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    statuses: Counter = Counter()
    login = {"username": USERNAME, "password": PASSWORD}
    for _ in range(MAX_REQUESTS):
        if time.time() >= stop_at:
            break
        statuses[request(connection, "POST", "/example/auth", login)] += 1
    connection.close()
    return statuses


def probe(port: int, seconds: float) -> list[float]:
    """Read the contract every :data:`PROBE_INTERVAL` s for ``seconds``; latencies in ms."""
    connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    latencies = []
    stop_at = time.monotonic() + seconds
    for _ in range(MAX_REQUESTS):
        started = time.monotonic()
        if started >= stop_at:
            break
        status = request(connection, "GET", "/example", token=ADMIN_TOKEN)
        if status != 200:
            raise RuntimeError(f"the probe got {status}")
        latencies.append((time.monotonic() - started) * 1000)
        time.sleep(max(0.0, PROBE_INTERVAL - (time.monotonic() - started)))
    connection.close()
    return latencies


def measure(port: int, seconds: float, pool: ProcessPoolExecutor) -> dict:
    """The probe alone, then under the flood; the latencies and the flood's statuses."""
    quiet = probe(port, seconds)
    stop_at = time.time() + seconds + 1.0
    floods = [pool.submit(flood, port, stop_at) for _ in range(FLOODERS)]
    time.sleep(1.0)  # the flood under way
    loaded = probe(port, seconds)
    statuses: Counter = sum((future.result() for future in floods), Counter())
    return {"quiet": quiet, "flood": loaded, "statuses": statuses}


def serve(directory: Path, url: str, settings: dict[str, str]) -> Server:
    """A server of ``production.ini``'s shape on the scratch database, started."""
    port = free_port()
    ini = write_ini(
        directory / f"server-{port}.ini",
        url,
        port,
        "example",
        threads=production_server("threads"),
        workers=production_server("workers"),
        settings=settings,
    )
    return Server(ini, port, directory / f"server-{port}.log").start()


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def report(results: dict[str, dict]) -> str:
    """The table of the run."""
    lines = [
        f"{'rate limits':<12} {'phase':<7} {'probes':>6} {'p50 ms':>8} {'p90 ms':>8}"
        f"  flood answers in {FLOODERS} clients",
        "",
    ]
    for name, result in results.items():
        for phase in ("quiet", "flood"):
            latencies = result[phase]
            answers = (
                ", ".join(f"{n} x {status}" for status, n in sorted(result["statuses"].items()))
                if phase == "flood"
                else ""
            )
            lines.append(
                f"{name:<12} {phase:<7} {len(latencies):>6} "
                f"{statistics.median(latencies):>8.1f} {percentile(latencies, 0.9):>8.1f}"
                f"  {answers}"
            )
    lines.append("")
    for name, result in results.items():
        slowdown = statistics.median(result["flood"]) / statistics.median(result["quiet"])
        lines.append(f"p50 under the flood / p50 alone, rate limits {name}: {slowdown:.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the two configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    options = parser.parse_args(argv)
    if not 1 <= options.seconds <= 120:
        parser.error("--seconds must be between 1 and 120")
    configurations = {
        "off": {},
        "on": {
            "backfeed.rate_limits": "true",
            "backfeed.rate_limit_storage_url": os.environ.get(
                "BACKFEED_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"
            ),
            "backfeed.rate_limit_key_prefix": f"bench-{uuid.uuid4().hex}",
        },
    }
    name = f"backfeed_login_flood_{os.getpid()}"
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-flood-") as folder,
        scratch_database(DATABASE_URL, name) as url,
        ProcessPoolExecutor(FLOODERS) as pool,
    ):
        directory = Path(folder)
        initdb(write_ini(directory / "initdb.ini", url, 1, "example"))
        results = {}
        for label, settings in configurations.items():
            with serve(directory, url, settings) as server:
                if not results:  # the flood's user, made once for both servers
                    connection = http.client.HTTPConnection(HOST, server.port, timeout=TIMEOUT)
                    body = {"username": USERNAME, "password": PASSWORD}
                    status = request(connection, "POST", "/example/users", body, ADMIN_TOKEN)
                    if status != 201:
                        raise RuntimeError(f"creating the flood's user answered {status}")
                results[label] = measure(server.port, options.seconds, pool)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
