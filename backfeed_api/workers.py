"""Serving with several waitress processes on one listening socket (``workers`` in the
``[server:main]`` section, ``use = egg:backfeed-api``).

One Python process runs Python code on one core at a time, and a vote holds its contract's
lock while its thread computes, so the threads of a single waitress process queue for both.
With ``workers = N`` the parent process binds the listening sockets, then forks N workers
that each serve them with waitress (its own threads, its own connection pool) from the
application already loaded; the kernel hands each new connection to one of them. The parent
only supervises: it replaces a worker that dies, and stops them all on SIGTERM or SIGINT.
A worker whose parent is gone (even killed with SIGKILL) exits at once. Everything that
must be shared lives in the database: locks, counters, login throttling, idempotency keys.

Before serving, with one worker or many, the garbage collector is tuned
(:func:`tune_garbage_collector`).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import waitress
from waitress.adjustments import Adjustments

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0
"""Seconds the workers get to exit on SIGTERM before they are killed."""
RESPAWN_INTERVAL = 1.0
"""A worker is not replaced sooner than this many seconds after the previous replacement,
so that one crashing at once cannot make the parent fork without pause."""
POLL_INTERVAL = 0.2
YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations (net of deallocations) between two collections of the youngest generation;
Python's default is 700."""
ADDRESS_SETTINGS = ("listen", "host", "port", "unix_socket")


def serve(app: Callable, global_conf: Mapping[str, Any], **settings: Any) -> None:
    """The ``paste.server_runner`` ``egg:backfeed-api#main``: waitress with the section's
    settings, in ``workers`` processes (default 1, a single waitress process)."""
    count = worker_count(settings.pop("workers", "1"))
    tune_garbage_collector()
    if count == 1:
        waitress.serve(app, **settings)
        return
    refuse_private_database(app)
    sockets = bind(settings)
    for listener in sockets:
        host, port = listener.getsockname()[:2]
        log.info("listening on http://%s:%d", host, port)
    served = {key: value for key, value in settings.items() if key not in ADDRESS_SETTINGS}
    engine = _engine(app)

    def work() -> None:
        if engine is not None:  # the parent's connections stay the parent's
            engine.dispose(close=False)
        waitress.serve(app, sockets=sockets, **served)

    sys.exit(Supervisor(work, count).run())


def _engine(app: Callable):
    """The database engine of our application (None for another WSGI application)."""
    registry = getattr(app, "registry", None)
    return registry.get("db_engine") if registry is not None else None


def tune_garbage_collector() -> None:
    """Keep Python's cycle collector off the loaded application, and run it less often.

    The objects that exist once the application is loaded (configuration, routes, schemas,
    SQLAlchemy's metadata and compiled statements) live as long as the process: frozen,
    they are never scanned again, and forked workers share their pages instead of copying
    them as the collector touches them. A vote that reads 10,000 earlier voters allocates
    tens of thousands of short-lived objects, each batch of 700 of which started a
    collection: measured in process, this cut such a vote's CPU from about 40 to 20 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def refuse_private_database(app: Callable) -> None:
    """Several workers must share their database: an in-memory SQLite database would be a
    separate one in each worker, each answering with its own data. Refuse it (ValueError)."""
    engine = _engine(app)
    if engine is None or engine.dialect.name != "sqlite":
        return
    database = engine.url.database or ""
    if database in ("", ":memory:") or "mode=memory" in str(engine.url):
        raise ValueError(
            "workers > 1 need a database they share: use PostgreSQL or an SQLite file, "
            f"not an in-memory SQLite database ({engine.url})"
        )


def worker_count(value: Any) -> int:
    """The ``workers`` setting as a positive integer, or a ValueError saying what is wrong."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"workers must be a whole number, not {value!r}") from None
    if count < 1:
        raise ValueError(f"workers must be at least 1, not {count}")
    return count


def bind(settings: Mapping[str, Any]) -> list[socket.socket]:
    """Listening TCP sockets for the addresses the settings name (``listen``, or ``host``
    and ``port``), bound the way waitress binds its own."""
    adjustments = Adjustments(**settings)
    if adjustments.unix_socket:
        raise ValueError("workers > 1 serve TCP addresses only, not unix_socket")
    sockets = []
    try:
        for family, kind, protocol, address in adjustments.listen:
            listener = socket.socket(family, kind, protocol)
            sockets.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind(address)
            listener.listen(adjustments.backlog)
    except OSError:
        for listener in sockets:
            listener.close()
        raise
    return sockets


class Supervisor:
    """Forks ``count`` workers running ``work`` and keeps that many alive until stopped."""

    def __init__(self, work: Callable[[], None], count: int) -> None:
        self.work = work
        self.count = count
        self.workers: set[int] = set()
        self.stopping = False
        self.last_respawn = 0.0
        # Each worker holds the reading end; it reads end-of-file once the parent is gone.
        self.lifeline_read, self.lifeline_write = os.pipe()

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; the exit status for the parent process."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.count):
            self._spawn()
        log.info("serving with %d workers: PIDs %s", self.count, sorted(self.workers))
        while not self.stopping:
            self._reap()
            if len(self.workers) < self.count and not self.stopping:
                self._respawn()
            time.sleep(POLL_INTERVAL)
        return self._stop_workers()

    def _stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _spawn(self) -> None:
        pid = os.fork()
        if pid:
            self.workers.add(pid)
            return
        status = 0
        try:  # the worker: never returns into the parent's code
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.close(self.lifeline_write)
            threading.Thread(target=self._exit_with_parent, daemon=True).start()
            self.work()
        except KeyboardInterrupt:
            pass
        except BaseException:
            log.exception("worker %d failed", os.getpid())
            status = 1
        finally:
            logging.shutdown()
            os._exit(status)

    def _exit_with_parent(self) -> None:
        """In a worker: wait for the parent's end of the lifeline to close, then exit."""
        while os.read(self.lifeline_read, 1):
            pass
        os._exit(0)

    def _reap(self) -> None:
        """Forget the workers that have exited, saying why."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if not pid:
                return
            self.workers.discard(pid)
            if not self.stopping:
                log.warning("worker %d exited (%s); replacing it", pid, _describe(status))

    def _respawn(self) -> None:
        now = time.monotonic()
        if now - self.last_respawn >= RESPAWN_INTERVAL:
            self.last_respawn = now
            self._spawn()

    def _stop_workers(self) -> int:
        """SIGTERM every worker, SIGKILL those still there after :data:`STOP_TIMEOUT`."""
        self._signal_workers(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.workers and time.monotonic() < deadline:
            self._reap()
            time.sleep(POLL_INTERVAL / 4)
        if self.workers:
            self._signal_workers(signal.SIGKILL)
            for pid in list(self.workers):
                os.waitpid(pid, 0)
        return 0

    def _signal_workers(self, signum: int) -> None:
        for pid in list(self.workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                self.workers.discard(pid)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
