"""``python -m bench.webhooks``: what the events outbox adds to a vote, and how soon a
webhook receiver hears of a vote, in one run.

It serves a scratch PostgreSQL database (next to ``BACKFEED_BENCH_DATABASE_URL``, else
``BACKFEED_TEST_DATABASE_URL``) with gunicorn in ``production.ini``'s workers and threads.

1. The outbox's cost: two servers on the same database, one of them without the outbox
   (``bench.without_outbox``); one client votes on each in turn, one vote at a time after a
   warm-up, and the vote's median and 90th percentile latency are printed for both.
2. Delivery latency: ``backfeed worker`` processes (``--workers``, one by default) and a
   receiver on 127.0.0.1; clients vote at ``--rate`` votes per second for ``--seconds``,
   with 1 then 10 webhooks subscribed; the latency of a delivery is from the vote's answer
   (its commit is before it) to the delivery's arrival, p50 and p99. The receiver is
   gunicorn in a process of its own (``bench.receiver``), as a receiver is another service;
   ``--receiver thread`` runs it in this process instead, an ``http.server`` sharing this
   process's interpreter lock with the clients.

Every loop is bounded in count and time; the servers listen on 127.0.0.1 and are stopped
by their PID.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

warnings.filterwarnings("ignore", "pkg_resources is deprecated")

from tests.concurrency.servers import (  # noqa: E402  (after the filter: Pyramid)
    ADMIN_TOKEN,
    BACKFEED,
    HOST,
    Server,
    child_environment,
    free_port,
    initdb,
    scratch_database,
    write_ini,
)

from .run import DATABASE_URL  # noqa: E402
from .server import ROOT, production_server  # noqa: E402

USERS = 120
CONTRIBUTIONS = 60
CLIENTS = 8
WARM_UP = 50
"""Votes on each server before the outbox's cost is timed: connections, caches, the JIT of
the database's plans."""
TIMEOUT = 30.0
CATCH_UP = 30.0
"""Seconds the deliveries may take to catch up after the load stops."""
SETTINGS = {"backfeed.webhooks.allow_private_targets": "true"}
ADDED_TARGET = 0.10
"""The most the outbox may add to a vote's median latency."""
P99_TARGET_MS = 1000.0
"""The slowest a delivery at the 99th percentile may arrive, every one arriving."""


class Client:
    """One keep-alive connection to a server, sending JSON as the admin."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"}
        payload = None if body is None else json.dumps(body).encode()
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")


class Ballots:
    """The (evaluator, contribution) pairs not voted yet, handed out once each."""

    def __init__(self, users: list[int], contributions: dict[int, int]) -> None:
        self.pairs = [(u, c) for c, author in contributions.items() for u in users if u != author]
        self.lock = threading.Lock()

    def take(self) -> tuple[int, int]:
        with self.lock:
            if not self.pairs:
                raise RuntimeError("out of ballots: raise USERS or CONTRIBUTIONS")
            return self.pairs.pop()


def vote(client: Client, ballots: Ballots) -> tuple[float, float, int]:
    """One vote; (sent, answered) monotonic times and the evaluation's id."""
    evaluator, contribution = ballots.take()
    body = {"evaluator_id": evaluator, "contribution_id": contribution, "value": 1}
    sent = time.monotonic()
    status, answer = client.send("POST", "/example/evaluations", body)
    answered = time.monotonic()
    if status != 201:
        raise RuntimeError(f"a vote answered {status}: {answer}")
    return sent, answered, answer["id"]


def seed(port: int) -> Ballots:
    """The users and contributions the votes go to."""
    client = Client(port)
    users = [
        client.send("POST", "/example/users", {"reputation": 10, "tokens": 1000})[1]["id"]
        for _ in range(USERS)
    ]
    contributions = {
        client.send("POST", "/example/contributions", {"contributor_id": users[n]})[1][
            "id"
        ]: users[n]
        for n in range(CONTRIBUTIONS)
    }
    return Ballots(users, contributions)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def outbox_cost(ports: dict[str, int], ballots: Ballots, votes: int) -> dict[str, list[float]]:
    """Vote latencies in ms on each server: after :data:`WARM_UP` votes on each, one vote on
    each in turn, the first of a turn alternating, so that both vote in the same community
    as it grows (a vote moves more balances the more votes its contribution has)."""
    clients = list({name: Client(port) for name, port in ports.items()}.items())
    for _name, client in clients:
        for _ in range(WARM_UP):
            vote(client, ballots)
    latencies: dict[str, list[float]] = {name: [] for name in ports}
    for turn in range(votes):
        for name, client in clients if turn % 2 else reversed(clients):
            sent, answered, _id = vote(client, ballots)
            latencies[name].append((answered - sent) * 1000)
    return latencies


class Receiver:
    """Receives deliveries in this process and notes when each evaluation's first delivery
    per path came."""

    def __init__(self) -> None:
        self.noted: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(204)
                self.end_headers()
                if body["type"] == "evaluation.created":
                    key = (self.path, body["data"]["id"])
                    with receiver.lock:
                        receiver.noted.setdefault(key, time.monotonic())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}{path}"

    def arrivals(self) -> dict[tuple[str, int], float]:
        """When each (path, evaluation id) first arrived."""
        with self.lock:
            return dict(self.noted)

    def stop(self) -> None:
        self.server.shutdown()


class ProcessReceiver:
    """The receiver of :mod:`bench.receiver`, served by gunicorn in a process of its own."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.noted: dict[tuple[str, int], float] = {}
        self.read = 0
        command = [
            *(str(BACKFEED.parent / "gunicorn"), "-k", "gthread", "--threads", "16"),
            *("--workers", "1", "--bind", f"{HOST}:{self.port}", "bench.receiver:app"),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env=child_environment(),
            start_new_session=True,
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.arrivals()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the receiver did not start; see {log}") from None
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def arrivals(self) -> dict[tuple[str, int], float]:
        """When each (path, evaluation id) first arrived, asked of the receiver."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=TIMEOUT)
        try:
            connection.request("GET", f"/arrivals?from={self.read}")
            listed = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        self.read += len(listed)
        for path, evaluation, when in listed:
            self.noted.setdefault((path, evaluation), when)
        return dict(self.noted)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=TIMEOUT)


def steady_load(port: int, ballots: Ballots, rate: float, seconds: float) -> list[tuple]:
    """Votes at ``rate`` per second in all from :data:`CLIENTS` threads for ``seconds``;
    the (answered time, evaluation id) of each."""
    done: list[tuple[float, int]] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    count = int(rate * seconds)

    def client_loop(number: int) -> None:
        client = Client(port)
        for index in range(number, count, CLIENTS):
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
            _sent, answered, evaluation = vote(client, ballots)
            with lock:
                done.append((answered, evaluation))

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + TIMEOUT)
    return done


def delivery_latency(
    receiver: Receiver | ProcessReceiver, paths: list[str], votes: list[tuple]
) -> tuple[list[float], int]:
    """Wait for the deliveries of ``votes`` to every path; their latencies in ms and how
    many never came."""
    wanted = [(path, evaluation) for _answered, evaluation in votes for path in paths]
    deadline = time.monotonic() + CATCH_UP
    arrivals = receiver.arrivals()
    while time.monotonic() < deadline and not all(key in arrivals for key in wanted):
        time.sleep(0.1)
        arrivals = receiver.arrivals()
    answered = {evaluation: when for when, evaluation in votes}
    latencies = [(arrivals[key] - answered[key[1]]) * 1000 for key in wanted if key in arrivals]
    return latencies, len(wanted) - len(latencies)


def serve(directory: Path, url: str, name: str, settings: dict[str, str]) -> Server:
    port = free_port()
    ini = write_ini(
        directory / f"{name}.ini",
        url,
        port,
        "example",
        threads=production_server("threads"),
        workers=production_server("workers"),
        settings={**SETTINGS, **settings},
    )
    return Server(ini, port, directory / f"{name}.log").start()


def report(costs: dict[str, list[float]], deliveries: dict[int, tuple]) -> str:
    """The two tables of the run."""
    lines = [f"{'outbox':<8} {'votes':>6} {'p50 ms':>8} {'p90 ms':>8}"]
    for name, values in costs.items():
        lines.append(
            f"{name:<8} {len(values):>6} {statistics.median(values):>8.1f} "
            f"{percentile(values, 0.9):>8.1f}"
        )
    added = statistics.median(costs["on"]) / statistics.median(costs["off"]) - 1
    verdict = "met" if added < ADDED_TARGET else "not met"
    lines += [
        f"outbox added to a vote's p50: {added * 100:+.1f} % "
        f"(target: under {ADDED_TARGET * 100:.0f} %, {verdict})",
        "",
        f"{'webhooks':>8} {'votes/s':>8} {'deliveries':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'missing':>8} {'p99 < 1 s':>9}",
    ]
    for subscriptions, (rate, latencies, missing) in deliveries.items():
        p50 = statistics.median(latencies) if latencies else float("nan")
        p99 = percentile(latencies, 0.99) if latencies else float("nan")
        met = "yes" if p99 < P99_TARGET_MS and not missing else "no"
        lines.append(
            f"{subscriptions:>8} {rate:>8.0f} {len(latencies):>10} {p50:>8.1f} {p99:>8.1f} "
            f"{missing:>8} {met:>9}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load")
    parser.add_argument("--rate", type=float, default=100.0, help="votes per second")
    parser.add_argument("--votes", type=int, default=1000, help="votes per outbox setting")
    parser.add_argument(
        "--receiver",
        choices=("process", "thread"),
        default="process",
        help="the receiver: gunicorn in a process of its own, or a thread of this one",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="backfeed worker processes (1 to 4)"
    )
    options = parser.parse_args(argv)
    if not 1 <= options.seconds <= 120 or not 1 <= options.rate <= 500:
        parser.error("--seconds must be 1 to 120 and --rate 1 to 500")
    if not 1 <= options.workers <= 4:
        parser.error("--workers must be 1 to 4")
    name = f"backfeed_webhooks_{os.getpid()}"
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([saved] if saved else [])])
    with (
        tempfile.TemporaryDirectory(prefix="backfeed-webhooks-") as folder,
        scratch_database(DATABASE_URL, name) as url,
    ):
        directory = Path(folder)
        initdb(write_ini(directory / "initdb.ini", url, 1, "example"))
        without = {"pyramid.includes": "bench.without_outbox"}
        with serve(directory, url, "on", {}) as on, serve(directory, url, "off", without) as off:
            ballots = seed(on.port)
            costs = outbox_cost({"off": off.port, "on": on.port}, ballots, options.votes)
            deliveries = measure_deliveries(on, directory, ballots, options)
    print(f"receiver: {options.receiver}; backfeed worker processes: {options.workers}")
    print(report(costs, deliveries))
    return 0


def measure_deliveries(
    server: Server, directory: Path, ballots: Ballots, options: argparse.Namespace
) -> dict[int, tuple]:
    """Delivery latency with 1 then 10 webhooks, under the steady vote load."""
    if options.receiver == "process":
        receiver: Receiver | ProcessReceiver = ProcessReceiver(directory / "receiver.log")
    else:
        receiver = Receiver()
    workers = [
        subprocess.Popen(
            [str(BACKFEED), "worker", str(server.ini)],
            stdin=subprocess.DEVNULL,
            stdout=(directory / "worker.log").open("ab"),
            stderr=subprocess.STDOUT,
            env=child_environment(),
            start_new_session=True,
        )
        for _ in range(options.workers)
    ]
    results: dict[int, tuple] = {}
    paths: list[str] = []
    try:
        for subscriptions in (1, 10):
            for number in range(len(paths), subscriptions):
                paths.append(f"/hook{number}")
                status, _ = Client(server.port).send(
                    "POST", "/example/webhooks", {"url": receiver.url(paths[-1])}
                )
                if status != 201:
                    raise RuntimeError(f"subscribing answered {status}")
            warm_up = steady_load(server.port, ballots, 10, 1)  # the worker is up and ready
            delivery_latency(receiver, paths, warm_up)
            votes = steady_load(server.port, ballots, options.rate, options.seconds)
            latencies, missing = delivery_latency(receiver, paths, votes)
            results[subscriptions] = (options.rate, latencies, missing)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=TIMEOUT)
        receiver.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())
