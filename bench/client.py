"""HTTP clients of the suite: keep-alive connections that time every request.

:func:`drive` is one client: one ``http.client`` connection, requests sent one after the
other. :class:`Clients` runs several of them side by side, in threads of this process or in
processes of their own (``spawn``ed once and reused). With threads, every client shares one
interpreter lock, so at 16 clients the clients' own Python work queues up behind it; with
processes, each client runs on its own and only the machine's cores are shared.

Every request carries the headers of :func:`headers`, and the bearer token of its call.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

TIMEOUT = 120.0
"""Seconds a request may take before it counts as failed."""
START_DELAY = 0.5
"""Seconds between handing the clients their work and the start of the measurement."""
MODES = ("processes", "threads")


@dataclass(frozen=True)
class Call:
    """One request: method, path (with its query), JSON body and the bearer token sent."""

    method: str
    path: str
    token: str
    body: bytes | None = None

    @classmethod
    def post(cls, path: str, token: str, document: dict[str, Any]) -> Call:
        """A POST of ``document`` as JSON."""
        return cls("POST", path, token, json.dumps(document).encode())


@dataclass
class Tally:
    """What some clients saw: the latency of every answered request (s), and the failures."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    exhausted: bool = False
    """A client ran out of requests before the end of the measurement."""

    @property
    def done(self) -> int:
        """How many requests were answered or failed."""
        return len(self.latencies) + self.errors

    def add(self, other: Tally) -> None:
        """Merge another client's tally into this one."""
        self.latencies += other.latencies
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.exhausted = self.exhausted or other.exhausted


def headers() -> dict[str, str]:
    """The headers every bench request carries besides its token: JSON."""
    return {"Content-Type": "application/json", "Accept": "application/json"}


def drive(
    address: tuple[str, int],
    calls: Sequence[Call],
    sent_headers: dict[str, str],
    start_at: float | None = None,
    stop_at: float | None = None,
    minimum: int = 0,
) -> Tally:
    """Send ``calls`` in turn on one keep-alive connection and time each answer.

    Starts at ``start_at`` (``time.monotonic()``, the same clock in every process) and stops
    at ``stop_at``, or after every call; a request answered after ``stop_at`` is not counted,
    unless fewer than ``minimum`` were answered so far. A 200 or 201 is an answer, anything
    else a failure.
    """
    tally = Tally()
    connection = http.client.HTTPConnection(*address, timeout=TIMEOUT)
    connection.connect()
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.monotonic()))
    try:
        for call in calls:
            if stop_at is not None and time.monotonic() >= stop_at and tally.done >= minimum:
                return tally
            started = time.perf_counter()
            try:
                sent = {**sent_headers, "Authorization": f"Bearer {call.token}"}
                connection.request(call.method, call.path, call.body, sent)
                response = connection.getresponse()
                body = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                connection.close()  # reconnects on the next request
                body, status = repr(error).encode(), 0
            elapsed = time.perf_counter() - started
            late = stop_at is not None and time.monotonic() > stop_at
            if late and tally.done >= minimum:
                return tally
            if status in (200, 201):
                tally.latencies.append(elapsed)
            else:
                tally.errors += 1
                tally.first_error = tally.first_error or (
                    f"{call.method} {call.path}: {status} {body[:300].decode(errors='replace')}"
                )
        tally.exhausted = stop_at is not None
        return tally
    finally:
        connection.close()


def _ready() -> None:
    """A job that keeps a worker busy for a moment: one per worker starts them all."""
    time.sleep(0.2)


class Clients:
    """Up to ``size`` clients that :func:`drive` side by side, in threads or processes."""

    def __init__(self, mode: str, size: int) -> None:
        if mode not in MODES:
            raise ValueError(f"clients run in one of {MODES}, not {mode!r}")
        self.mode = mode
        self.size = size
        self.executor: Executor | None = None

    def __enter__(self) -> Clients:
        if self.mode == "threads":
            self.executor = ThreadPoolExecutor(self.size, thread_name_prefix="client")
        else:
            context = multiprocessing.get_context("spawn")
            self.executor = ProcessPoolExecutor(self.size, mp_context=context)
            for job in [self.executor.submit(_ready) for _ in range(self.size)]:
                job.result()  # every worker process is up before the first measurement
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)

    def run(
        self,
        address: tuple[str, int],
        workloads: Sequence[Sequence[Call]],
        sent_headers: dict[str, str],
        seconds: float,
    ) -> tuple[Tally, float]:
        """One client per workload, all for ``seconds``; their merged tally and the time
        measured (from the common start to the common stop)."""
        if self.executor is None or len(workloads) > self.size:
            raise RuntimeError(f"need an entered Clients of at least {len(workloads)}")
        start_at = time.monotonic() + START_DELAY
        stop_at = start_at + seconds
        jobs = [
            self.executor.submit(drive, address, calls, sent_headers, start_at, stop_at)
            for calls in workloads
        ]
        tally = Tally()
        for job in jobs:
            tally.add(job.result(timeout=seconds + START_DELAY + TIMEOUT + 10))
        return tally, stop_at - start_at


def per_client(rate_limit: float, seconds: float, clients: int) -> int:
    """How many requests to prepare for each of ``clients`` so that none runs out within
    ``seconds`` below ``rate_limit`` requests a second in all."""
    return math.ceil(rate_limit * seconds / clients) + 50
