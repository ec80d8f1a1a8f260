"""gunicorn's settings and hooks for the service: ``config = python:backfeed_api.gunicorn_conf``
in the ``[server:main]`` section of ``production.ini``, which says ``use = egg:gunicorn#main``.

gunicorn's master process loads the application once, binds the listening sockets and forks
the workers (``workers`` in ``[server:main]``); each serves with its own threads
(``threads``, the ``gthread`` worker) and its own pool of database connections, and the
kernel hands each new connection to one of them. The master replaces a worker that dies
and stops them all on SIGTERM; a worker whose master is gone exits. Everything the workers
must agree on lives in the database: locks, counters, login throttling, idempotency keys.

gunicorn reads the names below that are its settings; the ini's ``[server:main]`` may
override any of them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from pyramid.config import global_registries

from .models import dialect_of

worker_class = "gthread"
preload_app = True
"""Load the application in the master, before forking: the workers share its pages (the
more so once :func:`when_ready` has frozen them), and a bad setting stops the master at
start-up instead of each worker in turn."""

control_socket_disable = True
"""No ``gunicornc`` control socket: its default path is one per user, which every server of
that user would share; the master takes the usual signals (SIGTERM, SIGHUP, TTIN, TTOU)."""

YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations (net of deallocations) between two collections of the youngest generation;
Python's default is 700."""


def engines() -> Iterator[sa.Engine]:
    """The database engines of the Pyramid applications loaded in this process."""
    for registry in global_registries:
        engine = registry.get("db_engine")
        if engine is not None:
            yield engine


def on_starting(server: Any) -> None:
    """Refuse a database the workers cannot share (a RuntimeError, which gunicorn reports
    and exits with status 1): an in-memory SQLite database would be a separate, empty one
    in each worker, since each opens its own connections."""
    for engine in engines():
        url = engine.url
        if not dialect_of(engine).shared_by_processes(url):
            raise RuntimeError(
                "gunicorn's workers need a database they share: use PostgreSQL or an "
                f"SQLite file, not an in-memory SQLite database ({url})"
            )


def when_ready(server: Any) -> None:
    """Before the first fork: close the master's database connections, and tune Python's
    garbage collector for the workers, which inherit both."""
    for engine in engines():
        engine.dispose()  # the master serves no request: its connections would sit idle
    tune_garbage_collector()


def tune_garbage_collector() -> None:
    """Keep Python's cycle collector off the loaded application, and run it less often.

    The objects that exist once the application is loaded (configuration, routes, schemas,
    SQLAlchemy's metadata and compiled statements) live as long as the process: frozen,
    they are never scanned again, and the workers share their pages instead of copying
    them as the collector touches them. A vote that reads many earlier voters allocates
    many short-lived objects, and with Python's default threshold every few hundred of them
    started a collection, a large share of such a vote's CPU.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def post_fork(server: Any, worker: Any) -> None:
    """In a new worker, drop the connection pool inherited from the master without closing
    its connections (they are the master's): two processes on one connection would mix
    their conversations with the database. The worker opens its own as it needs them."""
    for engine in engines():
        engine.dispose(close=False)
